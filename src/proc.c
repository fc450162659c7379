/*
 * The process: libevent owns the loop; libcoap and libcurl run as events
 * on it. Signal callbacks only call proc_reload(), proc_drain() or
 * proc_stop(). systemd hears about every state change.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "audit.h"
#include "coap_front.h"
#include "config.h"
#include "estcoapd.h"
#include "est_map.h"
#include "gen.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "pki.h"
#include "priv.h"
#include "proc.h"
#include "pubkey.h"
#include "upstream.h"
#include "util.h"

/* After the drain cut-off, how long unacknowledged answers may take. */
#define DRAIN_GRACE_MS		5000
/* How often STATUS= may be refreshed. */
#define STATUS_EVERY_MS		5000

static struct proc {
	struct event_base	*base;
	struct config		*cf;		/* the generation in use (ref) */
	struct upstream		*up;
	struct event		*ev_drain;	/* 100 ms while draining */
	struct event		*ev_wd;		/* systemd watchdog */
	struct event		*ev_sig[3];	/* proc_sigs */
	struct event		*ev_tick;	/* once a second */
	int			 draining;
	int			 cut;		/* drain timeout passed */
	uint64_t		 drain_until;	/* mono_ms */
	uint64_t		 grace_until;
	uint64_t		 status_at;
	char			 status[160];	/* last STATUS= sent */
} pr;

/* Set before proc_run when this process is one worker of a master. */
static struct proc_worker {
	int			 is_worker;
	unsigned		 index;		/* 0-based */
	int			 report_fd;	/* pipe to the master, -1 */
} pw = { 0, 0, -1 };

/* See proc.h. */
void
proc_set_worker(unsigned index, int report_fd)
{
	pw.is_worker = 1;
	pw.index = index;
	pw.report_fd = report_fd;
}

/*
 * Tell the master one event as a line ("ready 1"). The pipe does not
 * block: a master that does not read loses heartbeats, never our loop.
 */
static void
proc_report(const char *what, unsigned gen)
{
	char	buf[64];
	int	n;

	if (pw.report_fd == -1)
		return;
	n = snprintf(buf, sizeof(buf), "%s %u\n", what, gen);
	if (write(pw.report_fd, buf, (size_t)n) != n && errno != EAGAIN)
		log_debug("report to the master: %s", strerror(errno));
}

/* Stop the loop now; pending requests are cancelled (and logged). */
void
proc_stop(void)
{
	if (pr.base != NULL)
		event_base_loopbreak(pr.base);
}

/* Tell systemd how we are, if that changed (or if forced). */
static void
proc_status(int force)
{
	char buf[sizeof(pr.status)];

	front_status(buf, sizeof(buf));
	if (!force && strcmp(buf, pr.status) == 0)
		return;
	memcpy(pr.status, buf, sizeof(buf));
	notify_send("STATUS=%s", buf);
}

/* The readiness /readyz reports. */
static const char *
proc_ready_cb(void *arg)
{
	(void)arg;
	return front_ready_reason();
}

/* A route's servers, comma-separated, into buf. */
static const char *
proc_servers(const struct config_route *rt, char *buf, size_t bufsz)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < rt->up.nservers && n < bufsz; i++)
		n += (size_t)snprintf(buf + n, bufsz - n, "%s%s",
		    i > 0 ? "," : "", rt->up.servers[i]);
	return buf;
}

/* The enabled operations of a route, comma-separated, into buf. */
static const char *
proc_ops(const struct config_route *rt, char *buf, size_t bufsz)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int i = 0; i < EST_OP_COUNT && n < bufsz; i++)
		if (rt->ops & (1u << i))
			n += (size_t)snprintf(buf + n, bufsz - n, "%s%s",
			    n > 0 ? "," : "", estmap_op_by_id(i)->name);
	return buf;
}

/* Lines an operator reads at start and after a reload: no secrets. */
static void
proc_log_summary(const struct config *cf)
{
	const struct config_upstream *u = &cf->routes[0].up;
	char	 lst[256] = "", srv[CONFIG_MAX_SERVERS * 64], ops[64];
	size_t	 n = 0;

	for (size_t i = 0; i < cf->nlisten && n < sizeof(lst); i++)
		n += (size_t)snprintf(lst + n, sizeof(lst) - n, "%s%s%s%s:%u",
		    i > 0 ? "," : "", strchr(cf->listen[i].addr, ':') ? "[" :
		    "", cf->listen[i].addr, strchr(cf->listen[i].addr, ':') ?
		    "]" : "", cf->listen[i].port);
	log_info("config %s generation %u: listen=%s upstream=%s "
	    "connect_timeout_ms=%u timeout_ms=%u max_connections=%u "
	    "max_request_body=%u max_pending=%u/%u cache_ttl_s=%u "
	    "idle_timeout_s=%u max_handshakes=%u metrics=%s:%u audit=%s "
	    "drain_timeout_s=%u ops=%s labels=%zu", cf->file, cf->gen, lst,
	    proc_servers(&cf->routes[0], srv, sizeof(srv)),
	    u->connect_timeout_ms, u->timeout_ms,
	    u->max_connections, cf->max_request_body, cf->max_pending,
	    cf->max_pending_per_session, cf->cache_ttl_s,
	    cf->dtls_idle_timeout_s, cf->dtls_max_handshakes,
	    cf->metrics_port != 0 ? cf->metrics_addr : "off",
	    cf->metrics_port, cf->audit_file != NULL ? cf->audit_file : "off",
	    cf->drain_timeout_s, proc_ops(&cf->routes[0], ops, sizeof(ops)),
	    cf->nroutes - 1);
	for (size_t i = 1; i < cf->nroutes; i++) {
		const struct config_route *rt = &cf->routes[i];

		log_info("config: label %s: upstream=%s client_cert=%s "
		    "connect_timeout_ms=%u timeout_ms=%u ops=%s", rt->label,
		    proc_servers(rt, srv, sizeof(srv)), rt->up.client_cert,
		    rt->up.connect_timeout_ms, rt->up.timeout_ms,
		    proc_ops(rt, ops, sizeof(ops)));
	}
}

/*
 * The generation a reload would switch to: old's file read and checked
 * again (keys and certificates), with a worker's ports when worker >= 0,
 * refused when it changes what only a restart can. NULL after logging
 * every reason; the new generation is old's + 1.
 */
struct config *
proc_load_next(const struct config *old, int worker)
{
	struct errlist	 errs = { 0 };
	struct config	*cf;
	const char	*key, *line, *nl;

	if ((cf = gen_load(old->file, 0, &errs)) == NULL) {
		for (line = errs.text; line != NULL && *line != '\0';
		    line = nl + 1) {
			if ((nl = strchr(line, '\n')) == NULL)
				break;
			log_warnx("reload: %.*s", (int)(nl - line), line);
		}
		errlist_free(&errs);
		gen_unref(cf);
		return NULL;
	}
	if (worker >= 0)
		config_worker_ports(cf, (unsigned)worker);
	if ((key = config_static_diff(old, cf)) != NULL) {
		log_warnx("reload: %s: %s: cannot change while running; "
		    "restart to apply it", cf->file, key);
		gen_unref(cf);
		return NULL;
	}
	cf->gen = old->gen + 1;
	return cf;
}

/* See proc.h. */
int
proc_reload(void)
{
	struct config	*cf;
	uint64_t	 t0 = mono_ms();
	enum log_level	 lvl;

	notify_send("RELOADING=1\nSTATUS=reloading %s", pr.cf->file);
	log_info("reload: reading %s", pr.cf->file);
	if ((cf = proc_load_next(pr.cf, pw.is_worker ? (int)pw.index : -1)) ==
	    NULL)
		goto fail;
	if (front_reconfigure(cf) == -1) {
		gen_unref(cf);
		goto fail;
	}
	upstream_set_config(pr.up, cf);
	if (audit_reopen(cf->audit_file) == -1)
		log_warnx("reload: audit log %s not open yet (retrying)",
		    cf->audit_file);
	if (log_level_parse(cf->log_level, &lvl) == 0 &&
	    log_get_level() != LOG_LVL_DEBUG)
		log_set_level(lvl);
	gen_unref(pr.cf);
	pr.cf = cf;
	metrics_inc(METRICS_C_RELOADS);
	metrics_gauge_set(METRICS_G_CONFIG_GENERATION, cf->gen);
	log_info("reload: generation %u in use (%llu ms)", cf->gen,
	    (unsigned long long)(mono_ms() - t0));
	proc_log_summary(cf);
	notify_send("READY=1\nSTATUS=reloaded, generation %u", cf->gen);
	proc_report("reloaded", cf->gen);
	return 0;
fail:
	metrics_inc(METRICS_C_RELOAD_FAILURES);
	log_warnx("reload failed: generation %u stays in use", pr.cf->gen);
	notify_send("READY=1\nSTATUS=reload failed, generation %u stays",
	    pr.cf->gen);
	proc_report("reload-failed", pr.cf->gen);
	return -1;
}

/* While draining: leave once idle; cut off at the drain timeout. */
static void
proc_drain_cb(evutil_socket_t fd, short what, void *arg)
{
	uint64_t now = mono_ms();

	(void)fd;
	(void)what;
	(void)arg;
	if (front_idle()) {
		log_info("drain: nothing pending, exiting");
		proc_stop();
	} else if (!pr.cut && now >= pr.drain_until) {
		front_drain_cutoff();
		pr.cut = 1;
		pr.grace_until = now + DRAIN_GRACE_MS;
	} else if (pr.cut && now >= pr.grace_until) {
		log_warnx("drain: answers still unacknowledged after the grace "
		    "time, exiting");
		proc_stop();
	}
}

/* See proc.h. */
void
proc_drain(void)
{
	struct timeval tv = { 0, 100000 };

	if (pr.draining) {
		log_info("second stop signal: exiting now");
		proc_stop();
		return;
	}
	pr.draining = 1;
	pr.drain_until = mono_ms() + pr.cf->drain_timeout_s * 1000ULL;
	front_drain();
	log_info("draining: no new devices; %u pending requests may finish "
	    "within %u s", front_pending(), pr.cf->drain_timeout_s);
	notify_send("STOPPING=1\nSTATUS=draining, %u pending",
	    front_pending());
	if ((pr.ev_drain = event_new(pr.base, -1, EV_PERSIST, proc_drain_cb,
	    NULL)) == NULL || event_add(pr.ev_drain, &tv) == -1) {
		log_warnx("drain: no timer, exiting now");
		proc_stop();
		return;
	}
	proc_drain_cb(-1, 0, NULL);
}

/* SIGTERM drains; SIGINT (a person at a terminal) stops at once. */
static void
proc_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	(void)arg;
	switch (sig) {
	case SIGTERM:
		proc_drain();
		break;
	case SIGINT:
		log_info("SIGINT: stopping now (%u requests pending)",
		    front_pending());
		if (!pr.draining)
			notify_send("STOPPING=1");
		proc_stop();
		break;
	case SIGHUP:
		proc_reload();
		break;
	default:
		break;
	}
}

/*
 * Once a second: block expiry, cache refresh, libcoap housekeeping, audit
 * log retries.
 */
static void
proc_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	uint64_t now = mono_ms();

	(void)fd;
	(void)what;
	(void)arg;
	front_tick();
	audit_tick(now);
	proc_report("alive", pr.cf->gen);
	if (now >= pr.status_at) {
		proc_status(0);
		pr.status_at = now + STATUS_EVERY_MS;
	}
}

/* Proof for systemd that the loop turns (WatchdogSec=). */
static void
proc_watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	notify_send("WATCHDOG=1");
}

/* The signals the loop handles (proc_signal_cb). */
static const int proc_sigs[3] = { SIGTERM, SIGINT, SIGHUP };

/*
 * The loop and everything that binds or opens: audit log, upstream
 * client, CoAP front, metrics listener; then root is dropped.
 */
static int
proc_open(struct config *cf)
{
	/*
	 * Three priorities (estcoapd.h): incoming datagrams first, so that a
	 * burst gets its empty ACKs before any request's CSR is checked;
	 * everything else in between.
	 */
	if ((pr.base = event_base_new()) == NULL ||
	    event_base_priority_init(pr.base, EVPRIO_COUNT) == -1) {
		log_warnx("cannot create the event loop");
		return -1;
	}
	metrics_gauge_set(METRICS_G_CONFIG_GENERATION, cf->gen);
	if (audit_open(cf->audit_file) == -1)
		return -1;
	if ((pr.up = upstream_new(pr.base, cf)) == NULL) {
		log_warnx("cannot set up the upstream client");
		return -1;
	}
	if (front_init(pr.base, cf, pr.up) == -1)
		return -1;
	if (cf->metrics_port != 0 && metrics_listen(pr.base, cf->metrics_addr,
	    (uint16_t)cf->metrics_port, proc_ready_cb, NULL) == -1)
		return -1;
	/* every socket is bound: no more need for root (service.user) */
	return priv_drop(cf);
}

/* Signal events, then the signals unblocked. */
static int
proc_arm_signals(void)
{
	sigset_t	 ss;

	for (size_t i = 0; i < 3; i++)
		if ((pr.ev_sig[i] = evsignal_new(pr.base, proc_sigs[i],
		    proc_signal_cb, NULL)) == NULL ||
		    evsignal_add(pr.ev_sig[i], NULL) == -1) {
			log_warnx("cannot set up signal %d", proc_sigs[i]);
			return -1;
		}
	/* a worker is forked with these blocked (workers.c): now they may come */
	sigemptyset(&ss);
	for (size_t i = 0; i < 3; i++)
		sigaddset(&ss, proc_sigs[i]);
	sigprocmask(SIG_UNBLOCK, &ss, NULL);
	return 0;
}

/* The second tick and, under systemd's WatchdogSec=, the watchdog. */
static int
proc_arm_timers(void)
{
	struct timeval	 one = { 1, 0 }, wd;
	uint64_t	 wd_usec;

	if ((pr.ev_tick = event_new(pr.base, -1, EV_PERSIST, proc_tick_cb,
	    NULL)) == NULL || event_add(pr.ev_tick, &one) == -1) {
		log_warnx("cannot set up the tick");
		return -1;
	}
	if ((wd_usec = notify_watchdog_usec()) > 0) {
		wd.tv_sec = (time_t)(wd_usec / 2 / 1000000);
		wd.tv_usec = (suseconds_t)(wd_usec / 2 % 1000000);
		if ((pr.ev_wd = event_new(pr.base, -1, EV_PERSIST,
		    proc_watchdog_cb, NULL)) == NULL ||
		    event_add(pr.ev_wd, &wd) == -1)
			log_warnx("cannot arm the watchdog timer");
	}
	return 0;
}

/* Say we are ready: the log, systemd, the daemon's parent, the master. */
static void
proc_announce(struct config *cf, int ready_fd)
{
	proc_log_summary(cf);
	log_info("estcoapd %s ready: upstream %s, %zu label(s), %zu listen "
	    "address(es)", ESTCOAPD_VERSION, cf->routes[0].up.servers[0],
	    cf->nroutes - 1, cf->nlisten);
	front_status(pr.status, sizeof(pr.status));
	notify_send("READY=1\nSTATUS=%s", pr.status);
	pr.status_at = mono_ms() + STATUS_EVERY_MS;
	if (ready_fd != -1) {
		/* the parent of a daemon exits 0 only now */
		if (write(ready_fd, "", 1) != 1)
			log_warn("cannot tell the parent we are ready");
		close(ready_fd);
	}
	proc_report("ready", cf->gen);
}

/* Undo proc_open and the arming, whatever part of them was done. */
static void
proc_close(void)
{
	for (size_t i = 0; i < 3; i++)
		if (pr.ev_sig[i] != NULL)
			event_free(pr.ev_sig[i]);
	/* we are leaving anyway: one more TERM must not kill the clean-up */
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	front_shutdown();
	upstream_free(pr.up);
	metrics_shutdown();
	if (pr.ev_tick != NULL)
		event_free(pr.ev_tick);
	if (pr.ev_wd != NULL)
		event_free(pr.ev_wd);
	if (pr.ev_drain != NULL)
		event_free(pr.ev_drain);
	if (pr.base != NULL)
		event_base_free(pr.base);
	audit_close();
	notify_shutdown();
	pubkey_shutdown();
	gen_unref(pr.cf);
	memset(&pr, 0, sizeof(pr));
}

/* See proc.h. */
int
proc_run(struct config *cf, int ready_fd)
{
	int	 rc = EXIT_RUNTIME;

	memset(&pr, 0, sizeof(pr));
	pr.cf = cf;
	signal(SIGPIPE, SIG_IGN);
	notify_init();
	if (proc_open(cf) == -1 || proc_arm_signals() == -1 ||
	    proc_arm_timers() == -1)
		goto out;
	proc_announce(cf, ready_fd);
	event_base_dispatch(pr.base);
	log_info("stopped");
	rc = EXIT_OK;
out:
	proc_close();
	return rc;
}
