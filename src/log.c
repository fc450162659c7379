/*
 * Log sinks: stderr (foreground, with a timestamp) or syslog (daemon).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "estcoapd.h"
#include "log.h"

static int		log_fg = 1;
static enum log_level	log_lvl = LOG_LVL_INFO;
static char		log_prefix[32];		/* "worker 1: " or "" */

static const char *const log_names[] = {
	[LOG_LVL_ERR] = "error",
	[LOG_LVL_WARN] = "warning",
	[LOG_LVL_INFO] = "info",
	[LOG_LVL_DEBUG] = "debug",
};

static const int log_prio[] = {
	[LOG_LVL_ERR] = LOG_ERR,
	[LOG_LVL_WARN] = LOG_WARNING,
	[LOG_LVL_INFO] = LOG_INFO,
	[LOG_LVL_DEBUG] = LOG_DEBUG,
};

/* Choose the sink and the level; opens syslog when not in the foreground. */
void
log_init(int foreground, enum log_level level)
{
	log_fg = foreground;
	log_lvl = level;
	if (!foreground)
		openlog(ESTCOAPD_NAME, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

/* Which process of several wrote a line: set once in each worker. */
void
log_set_prefix(const char *prefix)
{
	snprintf(log_prefix, sizeof(log_prefix), "%s",
	    prefix != NULL ? prefix : "");
}

void
log_set_level(enum log_level level)
{
	log_lvl = level;
}

enum log_level
log_get_level(void)
{
	return log_lvl;
}

/* Parse "error", "warning", "info" or "debug". */
int
log_level_parse(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++) {
		if (strcmp(s, log_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

/* Write one formatted line at level, with an optional errno suffix. */
static void
log_vemit(enum log_level level, int errnum, const char *fmt, va_list ap)
{
	char		 msg[2048];
	struct timespec	 ts;
	struct tm	 tm;
	char		 tbuf[32];
	size_t		 n;

	if (level > log_lvl)
		return;
	n = strlen(log_prefix);
	memcpy(msg, log_prefix, n + 1);
	vsnprintf(msg + n, sizeof(msg) - n, fmt, ap);
	if (errnum != 0) {
		n = strlen(msg);
		snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(errnum));
	}
	if (!log_fg) {
		syslog(log_prio[level], "%s", msg);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ %s %s: %s\n", tbuf, ts.tv_nsec / 1000000,
	    ESTCOAPD_NAME, log_names[level], msg);
	fflush(stderr);
}

void
log_emit(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(level, 0, fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list	ap;
	int	e = errno;

	va_start(ap, fmt);
	log_vemit(LOG_LVL_WARN, e, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_LVL_WARN, 0, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_LVL_INFO, 0, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_LVL_DEBUG, 0, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	ap;
	int	e = errno;

	va_start(ap, fmt);
	log_vemit(LOG_LVL_ERR, e, fmt, ap);
	va_end(ap);
	exit(EXIT_RUNTIME);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_LVL_ERR, 0, fmt, ap);
	va_end(ap);
	exit(EXIT_RUNTIME);
}
