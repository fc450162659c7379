/*
 * The master of service.workers > 1. It forks the workers after the
 * configuration and the PKI are loaded and before any event base, libcoap
 * context or curl handle exists (those must not cross a fork), restarts a
 * dead worker with back-off, checks a new configuration before passing
 * SIGHUP on, passes SIGTERM and SIGINT on and leaves when every worker
 * has. It has no libevent loop of its own: poll(2) over a signalfd and
 * one report pipe per worker, on which a worker writes short lines
 * (proc.h). Only the master talks to systemd (NotifyAccess=main).
 */
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "config.h"
#include "estcoapd.h"
#include "gen.h"
#include "log.h"
#include "notify.h"
#include "pki.h"
#include "proc.h"
#include "util.h"
#include "workers.h"

/* Back-off before forking a dead worker again: 100 ms doubling to 30 s. */
#define RESTART_MIN_MS		100
#define RESTART_MAX_MS		30000
/* A worker that served this long before dying restarts at once again. */
#define RESTART_RESET_MS	60000
/* A ready worker silent this long (or WatchdogSec, if more) is killed. */
#define STALL_MS		60000
#define STALL_MIN_MS		5000
/* How long the workers may take to answer a forwarded SIGHUP. */
#define RELOAD_WAIT_MS		30000
/* After the drain timeout, proc's 5 s grace and this margin: SIGKILL. */
#define STOP_MARGIN_MS		5000
/* SIGINT stops a worker at once; wait at most this long for it. */
#define STOP_NOW_MS		10000
/* The longest sleep of the master's loop. */
#define POLL_MAX_MS		1000

enum worker_state {
	WK_DOWN,		/* not running; restart_at says when */
	WK_STARTING,		/* forked, not yet "ready" */
	WK_READY,		/* serving */
};

/* One worker slot: the process in it comes and goes. */
struct worker {
	unsigned		 index;		/* 0-based; port offset */
	enum worker_state	 state;
	pid_t			 pid;		/* 0 while down */
	int			 fd;		/* read end of its pipe, -1 */
	uint64_t		 started;	/* mono_ms of the fork */
	uint64_t		 ready_at;	/* mono_ms of "ready" */
	uint64_t		 seen;		/* mono_ms of its last line */
	uint64_t		 restart_at;	/* mono_ms to fork again */
	unsigned		 fails;		/* deaths in a row (back-off) */
	unsigned		 restarts;	/* forks after the first */
	unsigned		 gen;		/* generation it last reported */
	int			 killed;	/* we sent SIGKILL (stall, stop) */
	int			 reload_wait;	/* SIGHUP sent, no answer yet */
	char			 buf[256];	/* partial line from the pipe */
	size_t			 len;
};

static struct master {
	struct config		*cf;		/* the generation workers get */
	struct worker		 w[CONFIG_MAX_WORKERS];
	unsigned		 n;
	pid_t			 pid;		/* getpid() of the master */
	int			 sfd;		/* signalfd */
	sigset_t		 oldmask;	/* restored in each worker */
	int			 ready_fd;	/* daemonize() parent, -1 */
	int			 ready_sent;	/* every worker was ready once */
	int			 stopping;	/* 0, SIGTERM or SIGINT */
	uint64_t		 stop_until;	/* then SIGKILL what is left */
	int			 failed;	/* a worker's last exit was bad */
	int			 start_rc;	/* a worker failed to start */
	int			 reloading;	/* answers still expected */
	uint64_t		 reload_until;
	unsigned		 reload_ok, reload_bad;
	uint64_t		 wd_ms;		/* WATCHDOG_USEC / 1000, 0 */
	uint64_t		 wd_next;
	uint64_t		 stall_ms;
} ms;

/* How many workers have a process now. */
static unsigned
master_running(void)
{
	unsigned n = 0;

	for (unsigned i = 0; i < ms.n; i++)
		if (ms.w[i].pid != 0)
			n++;
	return n;
}

/* How many workers are serving now. */
static unsigned
master_ready_count(void)
{
	unsigned n = 0;

	for (unsigned i = 0; i < ms.n; i++)
		if (ms.w[i].state == WK_READY)
			n++;
	return n;
}

/* STATUS= for systemctl status: how many serve, how many restarts. */
static void
master_status(const char *what)
{
	unsigned r = 0;

	for (unsigned i = 0; i < ms.n; i++)
		r += ms.w[i].restarts;
	notify_send("STATUS=%s; %u of %u workers serving, %u restarts, "
	    "generation %u", what, master_ready_count(), ms.n, r, ms.cf->gen);
}

/*
 * In the child after fork: drop what belongs to the master, restore the
 * signal mask and make sure the worker ends if the master does.
 */
static void
master_child_setup(struct worker *w, int wfd)
{
	sigset_t	mask;

	for (unsigned i = 0; i < ms.n; i++)
		if (ms.w[i].fd != -1)
			close(ms.w[i].fd);
	close(ms.sfd);
	if (ms.ready_fd != -1)
		close(ms.ready_fd);
	/* a master gone for good (SIGKILL) makes its workers drain */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1 || getppid() != ms.pid)
		_exit(EXIT_RUNTIME);
	signal(SIGCHLD, SIG_DFL);
	/*
	 * TERM, INT and HUP stay blocked until proc_run has its handlers:
	 * one sent now waits instead of killing a worker that is starting.
	 */
	mask = ms.oldmask;
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_SETMASK, &mask, NULL);
	if (fcntl(wfd, F_SETFL, O_NONBLOCK) == -1)
		log_warn("worker %u: report pipe", w->index);
}

/*
 * Fork the worker of slot w. Returns 1 in the child (with *wfd its end of
 * the report pipe), 0 in the master, also when the fork failed (the slot
 * then tries again after its back-off).
 */
static int
master_spawn(struct worker *w, int *wfd)
{
	int	p[2];
	pid_t	pid;

	if (pipe2(p, O_CLOEXEC) == -1) {
		log_warn("worker %u: pipe", w->index);
		w->restart_at = mono_ms() + RESTART_MAX_MS;
		return 0;
	}
	if ((pid = fork()) == -1) {
		log_warn("worker %u: fork", w->index);
		close(p[0]);
		close(p[1]);
		w->restart_at = mono_ms() + RESTART_MAX_MS;
		return 0;
	}
	if (pid == 0) {
		close(p[0]);
		master_child_setup(w, p[1]);
		*wfd = p[1];
		return 1;
	}
	close(p[1]);
	if (fcntl(p[0], F_SETFL, O_NONBLOCK) == -1)
		log_warn("worker %u: report pipe", w->index);
	w->pid = pid;
	w->fd = p[0];
	w->state = WK_STARTING;
	w->started = w->seen = mono_ms();
	w->killed = 0;
	w->reload_wait = 0;
	w->len = 0;
	log_info("worker %u (pid %ld) started%s", w->index, (long)pid,
	    w->restarts > 0 ? " again" : "");
	return 0;
}

/* Every worker is serving for the first time: tell systemd and the shell. */
static void
master_ready(void)
{
	ms.ready_sent = 1;
	log_info("estcoapd %s ready: %u workers serving, master pid %ld",
	    ESTCOAPD_VERSION, ms.n, (long)ms.pid);
	notify_send("READY=1\nSTATUS=serving; %u of %u workers serving, "
	    "0 restarts, generation %u", ms.n, ms.n, ms.cf->gen);
	if (ms.ready_fd != -1) {
		if (write(ms.ready_fd, "", 1) != 1)
			log_warn("cannot tell the parent we are ready");
		close(ms.ready_fd);
		ms.ready_fd = -1;
	}
}

/* The forwarded SIGHUP has been answered by all (or timed out). */
static void
master_reload_done(uint64_t now)
{
	unsigned silent = 0;

	for (unsigned i = 0; i < ms.n; i++)
		if (ms.w[i].reload_wait) {
			ms.w[i].reload_wait = 0;
			silent++;
		}
	ms.reloading = 0;
	(void)now;
	if (ms.reload_bad == 0 && silent == 0) {
		log_info("reload: generation %u in use on %u worker(s)",
		    ms.cf->gen, ms.reload_ok);
		notify_send("READY=1");
		master_status("reloaded");
	} else {
		log_warnx("reload: generation %u on %u worker(s), refused by "
		    "%u, no answer from %u", ms.cf->gen, ms.reload_ok,
		    ms.reload_bad, silent);
		notify_send("READY=1");
		master_status("reload incomplete");
	}
}

/* Is any forwarded SIGHUP still unanswered? */
static void
master_reload_check(uint64_t now)
{
	if (!ms.reloading)
		return;
	for (unsigned i = 0; i < ms.n; i++)
		if (ms.w[i].reload_wait && now < ms.reload_until)
			return;
	master_reload_done(now);
}

/* One line from a worker: "ready G", "alive G", "reloaded G", ... */
static void
master_line(struct worker *w, const char *line, uint64_t now)
{
	char		 what[32];
	unsigned	 gen;

	if (sscanf(line, "%31s %u", what, &gen) != 2) {
		log_warnx("worker %u: unreadable report \"%.40s\"", w->index,
		    line);
		return;
	}
	w->seen = now;
	w->gen = gen;
	if (strcmp(what, "ready") == 0 && w->state == WK_STARTING) {
		w->state = WK_READY;
		w->ready_at = now;
		log_info("worker %u (pid %ld) ready, generation %u", w->index,
		    (long)w->pid, gen);
		if (!ms.ready_sent && master_ready_count() == ms.n &&
		    !ms.stopping)
			master_ready();
		else if (ms.ready_sent)
			master_status("serving");
	} else if (strcmp(what, "reloaded") == 0 ||
	    strcmp(what, "reload-failed") == 0) {
		if (!w->reload_wait)
			return;
		w->reload_wait = 0;
		if (what[6] == '-')
			ms.reload_bad++;
		else
			ms.reload_ok++;
		master_reload_check(now);
	}
}

/* Read what a worker wrote; split it into lines. */
static void
master_read(struct worker *w, uint64_t now)
{
	ssize_t	 n;
	char	*nl;

	for (;;) {
		n = read(w->fd, w->buf + w->len, sizeof(w->buf) - 1 - w->len);
		if (n <= 0)
			break;
		w->len += (size_t)n;
		w->buf[w->len] = '\0';
		while ((nl = strchr(w->buf, '\n')) != NULL) {
			*nl = '\0';
			master_line(w, w->buf, now);
			w->len -= (size_t)(nl + 1 - w->buf);
			memmove(w->buf, nl + 1, w->len + 1);
		}
		if (w->len == sizeof(w->buf) - 1)
			w->len = 0;	/* no line is this long: drop it */
	}
}

/* A worker process ended: log why, then restart it or count it. */
static void
master_reaped(struct worker *w, int status, uint64_t now)
{
	char		 why[64];
	int		 bad, rc;
	uint64_t	 delay;

	if (w->fd != -1) {
		master_read(w, now);
		close(w->fd);
		w->fd = -1;
	}
	if (WIFEXITED(status)) {
		rc = WEXITSTATUS(status);
		snprintf(why, sizeof(why), "exited with status %d", rc);
	} else {
		rc = EXIT_RUNTIME;
		snprintf(why, sizeof(why), "killed by signal %d%s",
		    WIFSIGNALED(status) ? WTERMSIG(status) : 0,
		    WIFSIGNALED(status) && WCOREDUMP(status) ? " (core)" : "");
	}
	bad = !WIFEXITED(status) || rc != EXIT_OK;
	if (ms.stopping) {
		if (bad)
			ms.failed = 1;
		log_info("worker %u (pid %ld) %s", w->index, (long)w->pid, why);
	} else if (!ms.ready_sent && w->state == WK_STARTING) {
		/* at start-up a worker that cannot start fails the service */
		log_warnx("worker %u (pid %ld) %s before it was ready: "
		    "stopping", w->index, (long)w->pid, why);
		ms.start_rc = bad ? rc : EXIT_RUNTIME;
	} else {
		if (w->state == WK_READY && now - w->ready_at >=
		    RESTART_RESET_MS)
			w->fails = 0;
		delay = (uint64_t)RESTART_MIN_MS << (w->fails < 10 ?
		    w->fails : 10);
		if (delay > RESTART_MAX_MS)
			delay = RESTART_MAX_MS;
		w->fails++;
		w->restart_at = now + delay;
		log_warnx("worker %u (pid %ld) %s after %llu ms; restarting "
		    "it in %llu ms (restart %u)", w->index, (long)w->pid, why,
		    (unsigned long long)(now - w->started),
		    (unsigned long long)delay, w->restarts + 1);
	}
	w->pid = 0;
	w->state = WK_DOWN;
	if (w->reload_wait) {
		w->reload_wait = 0;
		ms.reload_bad++;
		master_reload_check(now);
	}
	if (ms.ready_sent && !ms.stopping)
		master_status("serving");
}

/* Collect every worker that has ended. */
static void
master_reap(uint64_t now)
{
	pid_t	pid;
	int	status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		for (unsigned i = 0; i < ms.n; i++)
			if (ms.w[i].pid == pid) {
				master_reaped(&ms.w[i], status, now);
				break;
			}
}

/* SIGTERM drains every worker, SIGINT stops them; a second one repeats. */
static void
master_stop(int sig, uint64_t now)
{
	uint64_t wait_ms;

	if (!ms.stopping) {
		wait_ms = sig == SIGTERM ? ms.cf->drain_timeout_s * 1000ULL +
		    5000 + STOP_MARGIN_MS : STOP_NOW_MS;
		ms.stopping = sig;
		ms.stop_until = now + wait_ms;
		log_info("%s: %s %u worker(s); leaving within %llu s",
		    sig == SIGTERM ? "SIGTERM" : "SIGINT",
		    sig == SIGTERM ? "draining" : "stopping", master_running(),
		    (unsigned long long)(wait_ms / 1000));
		notify_send("STOPPING=1\nSTATUS=%s %u workers",
		    sig == SIGTERM ? "draining" : "stopping", master_running());
	} else
		log_info("%s again: passed on to %u worker(s)",
		    sig == SIGTERM ? "SIGTERM" : "SIGINT", master_running());
	for (unsigned i = 0; i < ms.n; i++)
		if (ms.w[i].pid != 0 && kill(ms.w[i].pid, sig) == -1)
			log_warn("worker %u: kill", i);
}

/*
 * SIGHUP: check the file with the code -t uses; only a configuration
 * that loads, and changes nothing that needs a restart, goes on to the
 * workers, each of which reads and checks it again.
 */
static void
master_reload(uint64_t now)
{
	struct config	*cf;

	if (ms.stopping)
		return;
	notify_send("RELOADING=1\nSTATUS=reloading %s", ms.cf->file);
	log_info("reload: checking %s before passing SIGHUP on",
	    ms.cf->file);
	if ((cf = proc_load_next(ms.cf, -1)) == NULL)
		goto fail;
	gen_unref(ms.cf);
	ms.cf = cf;	/* what restarted workers start with */
	ms.reloading = 1;
	ms.reload_until = now + RELOAD_WAIT_MS;
	ms.reload_ok = ms.reload_bad = 0;
	for (unsigned i = 0; i < ms.n; i++) {
		ms.w[i].reload_wait = 0;
		if (ms.w[i].pid == 0)
			continue;
		if (kill(ms.w[i].pid, SIGHUP) == -1)
			log_warn("worker %u: kill", i);
		else
			ms.w[i].reload_wait = 1;
	}
	log_info("reload: generation %u passed on to %u worker(s)", cf->gen,
	    master_running());
	master_reload_check(now);
	return;
fail:
	log_warnx("reload failed: generation %u stays in use, the workers "
	    "were not signalled", ms.cf->gen);
	notify_send("READY=1");
	master_status("reload failed");
}

/* The signals the master waits for arrive on the signalfd. */
static void
master_signal(uint64_t now)
{
	struct signalfd_siginfo	si;

	while (read(ms.sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			master_reap(now);
			break;
		case SIGTERM:
		case SIGINT:
			master_stop((int)si.ssi_signo, now);
			break;
		case SIGHUP:
			master_reload(now);
			break;
		default:
			break;
		}
	}
}

/*
 * What is due: forks after back-off, stalled workers, the reload and stop
 * deadlines, the watchdog. Returns how long poll may sleep (ms).
 */
static int
master_timers(uint64_t now)
{
	uint64_t	 next = now + POLL_MAX_MS;
	struct worker	*w;

	for (unsigned i = 0; i < ms.n; i++) {
		w = &ms.w[i];
		if (w->state == WK_DOWN && !ms.stopping && ms.start_rc == 0) {
			if (now >= w->restart_at)
				continue;	/* forked by the caller */
			if (w->restart_at < next)
				next = w->restart_at;
		}
		if (w->state == WK_READY && !w->killed && !ms.stopping &&
		    now - w->seen > ms.stall_ms) {
			log_warnx("worker %u (pid %ld) silent for %llu ms: "
			    "killing it", i, (long)w->pid,
			    (unsigned long long)(now - w->seen));
			w->killed = 1;
			if (kill(w->pid, SIGKILL) == -1)
				log_warn("worker %u: kill", i);
		}
	}
	if (ms.reloading) {
		if (now >= ms.reload_until)
			master_reload_done(now);
		else if (ms.reload_until < next)
			next = ms.reload_until;
	}
	if (ms.stopping && now >= ms.stop_until) {
		for (unsigned i = 0; i < ms.n; i++) {
			w = &ms.w[i];
			if (w->pid == 0 || w->killed)
				continue;
			log_warnx("worker %u (pid %ld) still running at the stop "
			    "deadline: killing it", i, (long)w->pid);
			w->killed = 1;
			if (kill(w->pid, SIGKILL) == -1)
				log_warn("worker %u: kill", i);
		}
	}
	if (ms.wd_ms > 0) {
		if (now >= ms.wd_next) {
			notify_send("WATCHDOG=1");
			ms.wd_next = now + ms.wd_ms / 2;
		}
		if (ms.wd_next < next)
			next = ms.wd_next;
	}
	return next > now ? (int)(next - now) : 0;
}

/* A worker's life inside the forked child: its own loop on its ports. */
static int
master_worker_main(unsigned index, int wfd)
{
	struct config	*cf = ms.cf;
	char		 prefix[32];
	int		 rc;

	memset(&ms, 0, sizeof(ms));
	snprintf(prefix, sizeof(prefix), "worker %u: ", index);
	log_set_prefix(prefix);
	config_worker_ports(cf, index);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_warnx("curl_global_init failed");
		gen_unref(cf);
		close(wfd);
		return EXIT_RUNTIME;
	}
	proc_set_worker(index, wfd);
	rc = proc_run(cf, -1);	/* takes over cf */
	curl_global_cleanup();
	close(wfd);
	return rc;
}

/* The master's record, its signals as a signalfd, the watchdog. */
static int
master_init(struct config *cf, int ready_fd)
{
	sigset_t	 set;

	memset(&ms, 0, sizeof(ms));
	ms.cf = cf;
	ms.n = cf->workers;
	ms.pid = getpid();
	ms.ready_fd = ready_fd;
	for (unsigned i = 0; i < ms.n; i++) {
		ms.w[i].index = i;
		ms.w[i].fd = -1;
	}
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, &ms.oldmask) == -1 ||
	    (ms.sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) == -1) {
		log_warn("master: signals");
		return -1;
	}
	notify_init();
	ms.wd_ms = notify_watchdog_usec() / 1000;
	ms.stall_ms = ms.wd_ms > STALL_MIN_MS ? ms.wd_ms : STALL_MS;
	ms.wd_next = mono_ms();
	return 0;
}

/*
 * (Re)start every worker that is down and due. 1 in a new worker's
 * process (*index, *wfd: its index and its end of the pipe), else 0.
 */
static int
master_spawn_due(uint64_t now, unsigned *index, int *wfd)
{
	for (unsigned i = 0; i < ms.n; i++) {
		struct worker *w = &ms.w[i];

		if (w->state != WK_DOWN || ms.stopping || ms.start_rc != 0 ||
		    now < w->restart_at)
			continue;
		if (w->started != 0)
			w->restarts++;
		if (master_spawn(w, wfd) == 1) {
			*index = w->index;
			return 1;
		}
	}
	return 0;
}

/* Wait for the signalfd, a worker's pipe or the next timer; handle them. */
static void
master_poll(int timeout)
{
	struct pollfd	 pfd[1 + CONFIG_MAX_WORKERS];
	struct worker	*map[1 + CONFIG_MAX_WORKERS];
	unsigned	 np = 0;
	uint64_t	 now;

	pfd[np].fd = ms.sfd;
	pfd[np].events = POLLIN;
	map[np++] = NULL;
	for (unsigned i = 0; i < ms.n; i++)
		if (ms.w[i].fd != -1) {
			pfd[np].fd = ms.w[i].fd;
			pfd[np].events = POLLIN;
			map[np++] = &ms.w[i];
		}
	if (poll(pfd, np, timeout) == -1 && errno != EINTR) {
		log_warn("master: poll");
		master_stop(SIGTERM, mono_ms());
		return;
	}
	now = mono_ms();
	for (unsigned i = 1; i < np; i++)
		if (pfd[i].revents != 0 && map[i]->fd != -1)
			master_read(map[i], now);
	if (pfd[0].revents != 0)
		master_signal(now);
	/* a worker might have ended between two signalfd reads */
	master_reap(now);
}

/* Every worker has left: the master's exit status, its record freed. */
static int
master_finish(void)
{
	int	 rc;

	rc = ms.start_rc != 0 ? ms.start_rc : ms.failed ? EXIT_RUNTIME :
	    EXIT_OK;
	log_info("stopped: every worker has left (exit status %d)", rc);
	close(ms.sfd);
	if (ms.ready_fd != -1)
		close(ms.ready_fd);
	notify_shutdown();
	gen_unref(ms.cf);
	memset(&ms, 0, sizeof(ms));
	return rc;
}

/* See workers.h. */
int
workers_run(struct config *cf, int ready_fd)
{
	uint64_t	 now;
	unsigned	 index;
	int		 wfd;

	if (master_init(cf, ready_fd) == -1) {
		gen_unref(cf);
		return EXIT_RUNTIME;
	}
	log_info("master pid %ld: starting %u workers (ports +0..+%u)",
	    (long)ms.pid, ms.n, ms.n - 1);
	for (;;) {
		now = mono_ms();
		if (master_spawn_due(now, &index, &wfd) == 1)
			return master_worker_main(index, wfd);
		if (ms.start_rc != 0 && !ms.stopping)
			master_stop(SIGTERM, now);
		if (ms.stopping && master_running() == 0)
			break;
		master_poll(master_timers(now));
	}
	return master_finish();
}

/* One rule per address family for one listen entry. */
static void
workers_nft_rule(FILE *fp, const struct config_listen *l, unsigned n)
{
	int	v6 = strchr(l->addr, ':') != NULL;
	int	any = strcmp(l->addr, "0.0.0.0") == 0 || strcmp(l->addr,
	    "::") == 0;

	if (any) {
		/* a wildcard listener: any local address keeps its own;
		 * traffic this host only forwards is left alone */
		for (int fam = 0; fam < 2; fam++) {
			if (fam == 1 && !v6)
				break;
			fprintf(fp, "\t\tmeta nfproto %s fib daddr type local "
			    "udp dport %u redirect to :jhash %s saddr . udp sport "
			    "mod %u map { ", fam == 0 ? "ipv4" : "ipv6", l->port,
			    fam == 0 ? "ip" : "ip6", n);
			for (unsigned i = 0; i < n; i++)
				fprintf(fp, "%s%u : %u", i > 0 ? ", " : "", i,
				    l->port + i);
			fprintf(fp, " }\n");
		}
		return;
	}
	fprintf(fp, "\t\t%s daddr %s udp dport %u dnat %s to jhash %s saddr "
	    ". udp sport mod %u map { ", v6 ? "ip6" : "ip", l->addr, l->port,
	    v6 ? "ip6" : "ip", v6 ? "ip6" : "ip", n);
	for (unsigned i = 0; i < n; i++)
		fprintf(fp, "%s%u : %s%s%s . %u", i > 0 ? ", " : "", i,
		    v6 ? "[" : "", l->addr, v6 ? "]" : "", l->port + i);
	fprintf(fp, " }\n");
}

/* See workers.h. */
void
workers_nft(const struct config *cf, FILE *fp)
{
	static const char *const hooks[] = { "prerouting", "output" };
	/* "dstnat" is only a name for prerouting; output needs the number */
	static const char *const prio[] = { "dstnat", "-100" };

	fprintf(fp, "#!/usr/sbin/nft -f\n"
	    "# estcoapd -W: spread devices over the %u worker(s) of %s.\n"
	    "# Worker i listens on each port + i; jhash over the source "
	    "address and\n"
	    "# port keeps a device on one worker while service.workers stays "
	    "the same.\n"
	    "# prerouting: devices on the network; output: clients on this "
	    "host.\n"
	    "# Load with: nft -f FILE (again after changing the workers).\n",
	    cf->workers, cf->file);
	fprintf(fp, "table inet estcoapd {\n}\nflush table inet estcoapd\n"
	    "table inet estcoapd {\n");
	for (size_t h = 0; h < 2; h++) {
		fprintf(fp, "\tchain %s {\n\t\ttype nat hook %s priority "
		    "%s; policy accept;\n", hooks[h], hooks[h], prio[h]);
		for (size_t i = 0; i < cf->nlisten; i++)
			workers_nft_rule(fp, &cf->listen[i], cf->workers);
		fprintf(fp, "\t}\n");
	}
	fprintf(fp, "}\n");
}
