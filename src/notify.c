/*
 * The sd_notify(3) protocol spoken by hand: one datagram per message to the
 * AF_UNIX socket named in $NOTIFY_SOCKET. No libsystemd.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"

/*
 * One message: ours are a few short KEY=value lines, and systemd 252 reads
 * no more than PIPE_BUF (4096) bytes of a notification datagram anyway.
 */
#define NOTIFY_MSG_MAX		4096

static int			 notify_fd = -1;
static struct sockaddr_un	 notify_sa;
static socklen_t		 notify_salen;	/* exact, no trailing NUL */
static char			 notify_name[sizeof(notify_sa.sun_path) + 1];
static uint64_t			 notify_wd_usec;	/* 0: no watchdog */
static int			 notify_last_errno;	/* last logged */

/*
 * Turn $NOTIFY_SOCKET into an address: "/path" is a file system socket,
 * "@name" an abstract one. 0 if usable, -1 if not.
 */
static int
notify_parse_addr(const char *s)
{
	size_t	 len = strlen(s);

	memset(&notify_sa, 0, sizeof(notify_sa));
	notify_sa.sun_family = AF_UNIX;
	if (s[0] == '/') {
		/* Leave room for a NUL so the path also prints as a string. */
		if (len >= sizeof(notify_sa.sun_path))
			return -1;
		memcpy(notify_sa.sun_path, s, len);
	} else if (s[0] == '@') {
		/*
		 * Linux abstract namespace: a leading NUL, then the name. The
		 * address length bounds the name; a NUL after it would be
		 * part of the name and miss the socket systemd bound.
		 */
		if (len < 2 || len > sizeof(notify_sa.sun_path))
			return -1;
		notify_sa.sun_path[0] = '\0';
		memcpy(notify_sa.sun_path + 1, s + 1, len - 1);
	} else
		return -1;
	notify_salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	    len);
	(void)snprintf(notify_name, sizeof(notify_name), "%s", s);
	return 0;
}

/*
 * The watchdog interval from $WATCHDOG_USEC, if $WATCHDOG_PID names this
 * process or is absent; 0 otherwise or if a value does not parse.
 */
static uint64_t
notify_parse_watchdog(const char *usec, const char *pid)
{
	unsigned long long	 v;
	long long		 p;
	char			*end;

	if (usec == NULL || *usec == '\0')
		return 0;
	if (pid != NULL) {
		errno = 0;
		p = strtoll(pid, &end, 10);
		if (errno != 0 || end == pid || *end != '\0' || p <= 0) {
			log_warnx("notify: WATCHDOG_PID=%s is not a pid", pid);
			return 0;
		}
		if (p != (long long)getpid())
			return 0;
	}
	if (*usec < '0' || *usec > '9') {
		log_warnx("notify: WATCHDOG_USEC=%s is not a number", usec);
		return 0;
	}
	errno = 0;
	v = strtoull(usec, &end, 10);
	if (errno != 0 || *end != '\0') {
		log_warnx("notify: WATCHDOG_USEC=%s is not a number", usec);
		return 0;
	}
	return (uint64_t)v;
}

/* Read and unset the systemd variables and open the socket to send on. */
int
notify_init(void)
{
	char	*sock = NULL, *usec = NULL, *pid = NULL;
	char	*s;
	int	 rc = 0;

	notify_shutdown();

	/* Copies: unsetenv may drop the strings getenv handed out. */
	if (((s = getenv("NOTIFY_SOCKET")) != NULL &&
	    (sock = strdup(s)) == NULL) ||
	    ((s = getenv("WATCHDOG_USEC")) != NULL &&
	    (usec = strdup(s)) == NULL) ||
	    ((s = getenv("WATCHDOG_PID")) != NULL &&
	    (pid = strdup(s)) == NULL)) {
		log_warn("notify: reading the environment");
		goto out;
	}

	if (sock == NULL)
		goto out;
	if (notify_parse_addr(sock) == -1) {
		log_warnx("notify: NOTIFY_SOCKET=%s: not an absolute path "
		    "or @name that fits a socket address", sock);
		goto out;
	}
	if ((notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1) {
		log_warn("notify: socket");
		goto out;
	}
	notify_wd_usec = notify_parse_watchdog(usec, pid);
	rc = 1;

out:
	(void)unsetenv("NOTIFY_SOCKET");
	(void)unsetenv("WATCHDOG_USEC");
	(void)unsetenv("WATCHDOG_PID");
	free(sock);
	free(usec);
	free(pid);
	return rc;
}

/* Send one formatted message without blocking; a no-op without a socket. */
int
notify_send(const char *fmt, ...)
{
	char	 msg[NOTIFY_MSG_MAX];
	va_list	 ap;
	ssize_t	 n;
	int	 len;

	if (notify_fd == -1)
		return 0;
	va_start(ap, fmt);
	len = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (len < 0 || (size_t)len >= sizeof(msg)) {
		log_warnx("notify: message longer than %d bytes not sent",
		    NOTIFY_MSG_MAX - 1);
		return -1;
	}

	/*
	 * MSG_DONTWAIT: a PID 1 that does not read must not stall our loop;
	 * a full queue is EAGAIN and the next tick tries again. The socket is
	 * not connected: sending by name each time still reaches the socket
	 * that PID 1 binds anew at the same path after a daemon-reexec.
	 */
	do {
		n = sendto(notify_fd, msg, (size_t)len,
		    MSG_NOSIGNAL | MSG_DONTWAIT,
		    (const struct sockaddr *)&notify_sa, notify_salen);
	} while (n == -1 && errno == EINTR);
	if (n == -1) {
		/* A watchdog tick fails the same way each time: log it once. */
		if (errno != notify_last_errno) {
			notify_last_errno = errno;
			log_warn("notify: send to %s", notify_name);
			errno = notify_last_errno;
		}
		return -1;
	}
	notify_last_errno = 0;
	return 0;
}

/* The interval the loop must send WATCHDOG=1 within (we send at half). */
uint64_t
notify_watchdog_usec(void)
{
	return notify_wd_usec;
}

/* Close the socket; later sends are no-ops until the next notify_init. */
void
notify_shutdown(void)
{
	if (notify_fd != -1)
		(void)close(notify_fd);
	notify_fd = -1;
	notify_salen = 0;
	notify_name[0] = '\0';
	notify_wd_usec = 0;
	notify_last_errno = 0;
}
