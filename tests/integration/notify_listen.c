/*
 * notify-listen SOCKPATH OUTFILE [SECONDS]: play systemd's side of
 * sd_notify(3) for the integration tests. Binds a datagram socket at
 * SOCKPATH and appends each message to OUTFILE as one line, newlines shown
 * as '|'. Stops after SECONDS (default 60) or on SIGTERM/SIGINT, writing
 * out what is still queued, and removes SOCKPATH.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Larger than anything systemd 252 accepts (PIPE_BUF), to see oversizes. */
#define LISTEN_MSG_MAX	65536

static volatile sig_atomic_t	 listen_stop;

/* SIGTERM or SIGINT: leave the loop at the next turn. */
static void
listen_signal_cb(int sig)
{
	(void)sig;
	listen_stop = 1;
}

/* Print the synopsis and exit with status 2. */
static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: notify-listen SOCKPATH OUTFILE [SECONDS]\n");
	exit(2);
}

/* Milliseconds on the monotonic clock. */
static long long
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Write all of buf, retrying short writes; 0 or -1. */
static int
write_all(int fd, const char *buf, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		if ((n = write(fd, buf, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Turn one datagram into one line: '\n' becomes '|', NUL becomes "\0" so
 * grep still reads the file as text. out must hold 2 * len + 1 bytes.
 */
static size_t
to_line(const char *msg, size_t len, char *out)
{
	size_t	 i, o = 0;

	for (i = 0; i < len; i++) {
		if (msg[i] == '\n')
			out[o++] = '|';
		else if (msg[i] == '\0') {
			out[o++] = '\\';
			out[o++] = '0';
		} else
			out[o++] = msg[i];
	}
	out[o++] = '\n';
	return o;
}

int
main(int argc, char *argv[])
{
	static char		 msg[LISTEN_MSG_MAX];
	static char		 line[2 * LISTEN_MSG_MAX + 1];
	struct sockaddr_un	 sa;
	struct sigaction	 act;
	struct pollfd		 pfd;
	struct timespec		 ts;
	sigset_t		 block, empty;
	long long		 deadline, left;
	char			*end;
	long			 secs = 60;
	ssize_t			 n;
	size_t			 len;
	int			 s, out, rc = 0;

	if (argc < 3 || argc > 4)
		usage();
	if (argc == 4) {
		errno = 0;
		secs = strtol(argv[3], &end, 10);
		if (errno != 0 || end == argv[3] || *end != '\0' || secs <= 0)
			usage();
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "notify-listen: %s: path too long\n", argv[1]);
		return 2;
	}
	memcpy(sa.sun_path, argv[1], strlen(argv[1]));

	/*
	 * Block the signals and let ppoll open them: a SIGTERM between the
	 * flag check and the wait cannot be lost.
	 */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, NULL);
	sigemptyset(&empty);
	memset(&act, 0, sizeof(act));
	act.sa_handler = listen_signal_cb;
	sigemptyset(&act.sa_mask);
	sigaction(SIGTERM, &act, NULL);
	sigaction(SIGINT, &act, NULL);

	if ((out = open(argv[2], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
	    0644)) == -1) {
		fprintf(stderr, "notify-listen: %s: %s\n", argv[2],
		    strerror(errno));
		return 2;
	}
	if ((s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1) {
		fprintf(stderr, "notify-listen: socket: %s\n", strerror(errno));
		return 2;
	}
	(void)unlink(argv[1]);		/* a leftover from a killed run */
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		fprintf(stderr, "notify-listen: bind %s: %s\n", argv[1],
		    strerror(errno));
		return 2;
	}

	deadline = now_ms() + secs * 1000;
	pfd.fd = s;
	pfd.events = POLLIN;
	while (!listen_stop && (left = deadline - now_ms()) > 0) {
		ts.tv_sec = left / 1000;
		ts.tv_nsec = (left % 1000) * 1000000;
		if (ppoll(&pfd, 1, &ts, &empty) == -1) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "notify-listen: poll: %s\n",
			    strerror(errno));
			rc = 1;
			break;
		}
		if (!(pfd.revents & POLLIN))
			continue;
		if ((n = recv(s, msg, sizeof(msg), MSG_DONTWAIT)) == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			fprintf(stderr, "notify-listen: recv: %s\n",
			    strerror(errno));
			rc = 1;
			break;
		}
		len = to_line(msg, (size_t)n, line);
		if (write_all(out, line, len) == -1) {
			fprintf(stderr, "notify-listen: write %s: %s\n",
			    argv[2], strerror(errno));
			rc = 1;
			break;
		}
	}
	/* Keep what was already queued: a stopping daemon's last words. */
	while (rc == 0 && (n = recv(s, msg, sizeof(msg), MSG_DONTWAIT)) >= 0) {
		len = to_line(msg, (size_t)n, line);
		if (write_all(out, line, len) == -1)
			rc = 1;
	}
	(void)unlink(argv[1]);
	close(s);
	close(out);
	return rc;
}
