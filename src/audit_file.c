/*
 * The audit log file. Started as root with service.user, the daemon opens
 * it before dropping root, in a directory that service.user may own: so
 * the last path component is never followed as a symbolic link, the file
 * must be a regular file (or a character device) with one link, and only a
 * file this process created is handed to service.user. A reload opens the
 * new file before closing the old one; a failed open or write is retried
 * with backoff, and the state change (not every retry) is logged.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit_file.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

static struct auditf {
	int		 fd;		/* -1: none */
	char		*path;		/* configured; NULL: off */
	int		 created;	/* fd's file was made by us */
	int		 broken;	/* the last open or write failed */
	int		 reopen;	/* path still has to be (re)opened */
	uint64_t	 lost;		/* records not written since broken */
	uint64_t	 retry_at;	/* mono_ms of the next retry */
	uint32_t	 backoff_ms;
	char		 why[160];	/* the failure logged last */
} af = { .fd = -1 };

/* See audit_file.h. */
int
auditf_open_path(const char *path, int *created, char *why, size_t whysz)
{
	const int	 flags = O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW |
			    O_NONBLOCK;
	struct stat	 st;
	mode_t		 old;
	int		 fd, e;

	*created = 0;
	old = umask(077);
	fd = open(path, flags | O_CREAT | O_EXCL, 0600);
	umask(old);
	if (fd != -1)
		*created = 1;
	else if (errno == EEXIST)
		fd = open(path, flags);
	if (fd == -1) {
		e = errno;
		if (e == ELOOP)
			snprintf(why, whysz, "is a symbolic link; give the "
			    "real path of the file");
		else
			snprintf(why, whysz, "%s", strerror(e));
		errno = e;
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		e = errno;
		snprintf(why, whysz, "%s", strerror(e));
		close(fd);
		errno = e;
		return -1;
	}
	if ((!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode)) ||
	    st.st_nlink != 1) {
		snprintf(why, whysz, "%s", S_ISREG(st.st_mode) || S_ISCHR(
		    st.st_mode) ? "has more than one hard link" : "is not a "
		    "regular file");
		close(fd);
		errno = EPERM;
		return -1;
	}
	/* O_NONBLOCK was for the open only (a FIFO, had it been one) */
	if (fcntl(fd, F_SETFL, O_WRONLY | O_APPEND) == -1) {
		e = errno;
		snprintf(why, whysz, "%s", strerror(e));
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* The time of a record, ISO 8601 UTC with milliseconds, into buf. */
static void
auditf_time(char *buf, size_t bufsz)
{
	struct timespec	 ts;
	struct tm	 tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(buf, bufsz, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

/* Schedule the next retry, doubling the wait. */
static void
auditf_backoff(void)
{
	uint64_t now = mono_ms();

	af.backoff_ms = af.backoff_ms == 0 ? AUDITF_RETRY_MIN_MS :
	    af.backoff_ms >= AUDITF_RETRY_MAX_MS / 2 ? AUDITF_RETRY_MAX_MS :
	    af.backoff_ms * 2;
	af.retry_at = now + af.backoff_ms;
}

/* The file cannot be used: log it once per state change, count it. */
static void
auditf_fail(const char *what, const char *why)
{
	metrics_inc(METRICS_C_AUDIT_FAILURES);
	metrics_gauge_set(METRICS_G_AUDIT_WRITABLE, 0);
	if (!af.broken || strcmp(af.why, why) != 0)
		log_warnx("audit: cannot %s %s: %s; retrying every %u s at "
		    "most", what, af.path, why, AUDITF_RETRY_MAX_MS / 1000);
	else
		log_debug("audit: cannot %s %s: %s (retry)", what, af.path,
		    why);
	snprintf(af.why, sizeof(af.why), "%s", why);
	af.broken = 1;
	auditf_backoff();
}

/* One write of the whole line to fd; 0, or -1 with a reason in why. */
static int
auditf_put(int fd, const char *line, size_t len, char *why, size_t whysz)
{
	ssize_t n;

	do
		n = write(fd, line, len);
	while (n == -1 && errno == EINTR);
	if (n == (ssize_t)len)
		return 0;
	snprintf(why, whysz, "%s", n == -1 ? strerror(errno) : "short write");
	return -1;
}

/*
 * The first record in a newly opened file: who opened it and how many
 * records were lost before (written to the daemon log instead).
 */
static int
auditf_opened(int fd, const char *reason, char *why, size_t whysz)
{
	char	t[96], line[320];
	int	n;

	auditf_time(t, sizeof(t));
	n = snprintf(line, sizeof(line), "{\"time\":\"%s\","
	    "\"event\":\"opened\",\"reason\":\"%s\",\"pid\":%ld,"
	    "\"lost\":%llu}\n", t, reason, (long)getpid(),
	    (unsigned long long)af.lost);
	return auditf_put(fd, line, (size_t)n, why, whysz);
}

/* The file works (again): log the change once, reset the retry state. */
static void
auditf_ok(void)
{
	if (af.broken)
		log_info("audit: writing to %s again; %llu record(s) went to "
		    "this log instead", af.path, (unsigned long long)af.lost);
	else if (af.reopen)
		log_info("audit: %s opened", af.path);
	af.broken = 0;
	af.reopen = 0;
	af.lost = 0;
	af.backoff_ms = 0;
	af.why[0] = '\0';
	metrics_gauge_set(METRICS_G_AUDIT_WRITABLE, 1);
}

/*
 * A reopen failed while the file opened before still takes records: they
 * keep going there; log the first failure (and a new reason), retry.
 */
static void
auditf_keep_old(const char *why)
{
	metrics_inc(METRICS_C_AUDIT_FAILURES);
	if (!af.reopen || strcmp(af.why, why) != 0)
		log_warnx("audit: cannot open %s: %s; still writing to the "
		    "file opened before, retrying", af.path, why);
	snprintf(af.why, sizeof(af.why), "%s", why);
	af.reopen = 1;
	auditf_backoff();
}

/*
 * Open af.path and switch to it, the old file closed only then. 0; -1
 * when it cannot be opened, -2 when it cannot be written: the old file
 * (if any and writable) stays in use and a retry is scheduled.
 */
static int
auditf_switch(const char *reason)
{
	char	why[160];
	int	fd, created;

	if ((fd = auditf_open_path(af.path, &created, why, sizeof(why))) ==
	    -1) {
		if (af.fd != -1 && !af.broken)
			auditf_keep_old(why);
		else {
			af.reopen = 1;
			auditf_fail("open", why);
		}
		return -1;
	}
	if (auditf_opened(fd, reason, why, sizeof(why)) == -1) {
		/* a file that takes no record is no better than the old */
		if (af.fd != -1)
			close(af.fd);
		af.fd = fd;
		af.created = created;
		af.reopen = 1;
		auditf_fail("write", why);
		return -2;
	}
	if (af.fd != -1)
		close(af.fd);
	af.fd = fd;
	af.created = created;
	auditf_ok();
	return 0;
}

/*
 * The first open, at start: a file that cannot be opened stops the
 * daemon; one that cannot be written (a full disk) is retried.
 */
static int
auditf_first(void)
{
	char	why[160];
	int	created;

	if ((af.fd = auditf_open_path(af.path, &created, why, sizeof(why))) ==
	    -1) {
		log_warnx("audit: cannot open %s: %s", af.path, why);
		auditf_close();
		return -1;
	}
	af.created = created;
	if (auditf_opened(af.fd, "start", why, sizeof(why)) == -1) {
		af.reopen = 1;
		auditf_fail("write", why);
	} else
		metrics_gauge_set(METRICS_G_AUDIT_WRITABLE, 1);
	return 0;
}

/* See audit_file.h. */
int
auditf_open(const char *path, int reload)
{
	char	*p;

	if (path == NULL) {
		auditf_close();
		return 0;
	}
	if ((p = strdup(path)) == NULL) {
		log_warnx("audit: out of memory");
		return -1;
	}
	free(af.path);
	af.path = p;
	af.backoff_ms = 0;
	if (!reload)
		return auditf_first();
	/* -1 with the old file still taking records is no failure */
	if (auditf_switch("reload") == 0 || (af.fd != -1 && !af.broken))
		return 0;
	return -1;
}

/* See audit_file.h. */
void
auditf_close(void)
{
	if (af.fd != -1)
		close(af.fd);
	free(af.path);
	memset(&af, 0, sizeof(af));
	af.fd = -1;
	metrics_gauge_set(METRICS_G_AUDIT_WRITABLE, 1);
}

/* See audit_file.h. */
int
auditf_chown(uid_t uid, gid_t gid)
{
	struct stat st;

	if (af.fd == -1)
		return 0;
	if (!af.created) {
		/* never hand over a file someone else put there */
		if (fstat(af.fd, &st) == 0 && S_ISREG(st.st_mode) &&
		    st.st_uid != uid)
			log_warnx("audit: %s is owned by uid %u, not by the "
			    "service user (uid %u); a reopen on SIGHUP will "
			    "fail unless that user may write it", af.path,
			    (unsigned)st.st_uid, (unsigned)uid);
		return 0;
	}
	if (fchown(af.fd, uid, gid) == -1) {
		log_warn("audit: chown %s", af.path);
		return -1;
	}
	return 0;
}

/* See audit_file.h. */
int
auditf_write(const char *line, size_t len)
{
	char why[160];

	if (af.path == NULL)
		return 0;
	if (af.fd != -1 && !af.broken &&
	    auditf_put(af.fd, line, len, why, sizeof(why)) == 0)
		return 0;
	if (af.fd == -1 || af.broken)
		snprintf(why, sizeof(why), "%s", af.why[0] != '\0' ? af.why :
		    "not open");
	af.lost++;
	log_warnx("audit: record not written to %s, here instead: %.*s",
	    af.path, (int)(len > 0 && line[len - 1] == '\n' ? len - 1 : len),
	    line);
	if (!af.broken)
		auditf_fail("write", why);
	else
		metrics_inc(METRICS_C_AUDIT_FAILURES);
	return -1;
}

/* See audit_file.h. */
int
auditf_enabled(void)
{
	return af.path != NULL;
}

/* See audit_file.h. */
int
auditf_writable(void)
{
	return af.path == NULL || (af.fd != -1 && !af.broken);
}

/* See audit_file.h. */
void
auditf_tick(uint64_t now_ms)
{
	if (af.path == NULL || (!af.broken && !af.reopen) ||
	    now_ms < af.retry_at)
		return;
	(void)auditf_switch("retry");
}
