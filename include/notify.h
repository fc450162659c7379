/*
 * systemd notifications (sd_notify(3) protocol) without libsystemd:
 * datagrams to $NOTIFY_SOCKET, path or abstract ("@name").
 */
#ifndef ESTCOAPD_NOTIFY_H
#define ESTCOAPD_NOTIFY_H

#include <stdint.h>

/*
 * Read NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID once and unset them
 * so children do not inherit them. Returns 1 if notifications will be
 * sent, 0 if not (no socket: every notify_send is a no-op).
 */
int		 notify_init(void);

/*
 * Send one datagram built from fmt, e.g. "READY=1\nSTATUS=%s". 0 on
 * success or when there is no socket; -1 if sending failed (logged).
 */
int		 notify_send(const char *fmt, ...)
		    __attribute__((format(printf, 1, 2)));

/* The watchdog interval in microseconds for this process, 0 if none. */
uint64_t	 notify_watchdog_usec(void);

void		 notify_shutdown(void);

#endif
