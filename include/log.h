/*
 * Logging: stderr in the foreground, syslog otherwise. log_warn appends
 * strerror(errno); log_warnx does not. fatal* exits and is for start-up and
 * broken invariants only.
 */
#ifndef ESTCOAPD_LOG_H
#define ESTCOAPD_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LVL_ERR,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG,
};

void	log_init(int foreground, enum log_level level);
void	log_set_level(enum log_level);
enum log_level log_get_level(void);
int	log_level_parse(const char *, enum log_level *);	/* 0 or -1 */
/* Start every line with prefix ("worker 1: "); NULL or "" for none. */
void	log_set_prefix(const char *prefix);

void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_emit(enum log_level, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif
