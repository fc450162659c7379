/*
 * Datagrams in batches: one coap_io_do_epoll() for every datagram queued
 * on libcoap's endpoint sockets at a wake-up (up to a bound), instead of
 * one coap_io_process() per datagram. libcoap 4.3.1 walks every session
 * (and pending async) twice per coap_io_process(), so a burst of N
 * datagrams with S open sessions cost N x S; batched it costs N / batch
 * x S. Each endpoint event is handed over as many times as its socket
 * holds datagrams, counted beforehand, so libcoap never reads an empty
 * socket (which it would log as a failed read).
 */
#ifndef ESTCOAPD_IOBATCH_H
#define ESTCOAPD_IOBATCH_H

#include <stddef.h>
#include <stdint.h>

#include <sys/epoll.h>

#include <coap3/coap.h>

#define IOB_MAX_SOCKETS	32	/* endpoint sockets followed */

/* An endpoint socket of libcoap's epoll set: its event tag and fd. */
struct iob_sock {
	uint64_t	tag;		/* epoll_data as libcoap registered it */
	int		fd;
};

struct iob;

/*
 * A batcher for ctx, at most max datagrams per wake-up. NULL when the
 * endpoint sockets cannot be found (no /proc) or the kernel cannot count
 * queued datagrams: then use coap_io_process() as before.
 */
struct iob	*iob_new(coap_context_t *ctx, unsigned max);
void		 iob_free(struct iob *);
/* One wake-up of libcoap's fd: read what is queued, then its timers. */
void		 iob_run(struct iob *);

/*
 * Pieces, exposed for the unit tests.
 *
 * The files of an epoll instance (descriptor and tag) from the text of
 * /proc/self/fdinfo/<epfd> ("tfd: FD events: E data: TAG ..."); returns
 * how many were stored, at most max.
 */
size_t		 iob_parse_fdinfo(const char *text, struct iob_sock *out,
		    size_t max);
/*
 * How many datagrams a UDP socket holds, at most max, without taking
 * them (MSG_PEEK with SO_PEEK_OFF); -1 when the kernel cannot tell.
 */
int		 iob_count(int fd, unsigned max);
/*
 * The events for coap_io_do_epoll(): every event of in[] whose tag is an
 * endpoint socket repeated count(fd) times (dropped at 0), others once;
 * at most outmax in all. Returns the number stored.
 */
size_t		 iob_expand(const struct epoll_event *in, size_t nin,
		    const struct iob_sock *socks, size_t nsocks,
		    int (*count)(int fd, unsigned max), unsigned max,
		    struct epoll_event *out, size_t outmax);

#endif
