/*
 * The audit log file (service.audit_file): opened so that nobody but root
 * can point it at another file, reopened on SIGHUP without a gap, and
 * retried with backoff while it cannot be written. audit.c builds the
 * lines; this module only stores them and tracks whether it can.
 */
#ifndef ESTCOAPD_AUDIT_FILE_H
#define ESTCOAPD_AUDIT_FILE_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

/* First retry of a failed open or write; it doubles up to the maximum. */
#define AUDITF_RETRY_MIN_MS	1000
#define AUDITF_RETRY_MAX_MS	30000

/*
 * Open path without following a symbolic link at its end, as a regular
 * file (or a character device such as /dev/null) with one link, created
 * 0600 when missing. *created: 1 when this call made the file. The fd,
 * or -1 with a reason in why (errno kept).
 */
int	auditf_open_path(const char *path, int *created, char *why,
	    size_t whysz);

/*
 * Use path from now on (NULL: no audit log). At start (reload 0) a file
 * that cannot be opened is an error. On a reload the new file is opened
 * before the old one is closed: when it cannot be, the old one stays in
 * use (if any) and the open is retried by auditf_tick. 0, or -1 logged
 * when no file takes records now.
 */
int	auditf_open(const char *path, int reload);
void	auditf_close(void);

/* Hand the file to uid:gid, only if this process created it. 0 or -1. */
int	auditf_chown(uid_t uid, gid_t gid);

/*
 * Append one line (with its newline) in a single write(2). On failure the
 * line goes to the daemon log instead, is counted in
 * estcoapd_audit_failures_total, and the file counts as not writable
 * until a retry succeeds. 0 or -1.
 */
int	auditf_write(const char *line, size_t len);

/* Is an audit file configured? */
int	auditf_enabled(void);

/* 1 when no audit log is configured or the last open and write worked. */
int	auditf_writable(void);

/* Once a second: retry a failed open or write when its backoff is over. */
void	auditf_tick(uint64_t now_ms);

#endif
