/*
 * Datagrams in batches per wake-up of libcoap's epoll fd (see iobatch.h).
 *
 * libcoap 4.3.1 does not expose its endpoint sockets, and the tags of its
 * epoll events are pointers to its own socket records. The kernel lists
 * both for every file of an epoll instance in /proc/self/fdinfo/<epfd>
 * (proc(5)), which maps each tag to its descriptor. The datagrams queued
 * on a socket are counted with MSG_PEEK from a peek offset (SO_PEEK_OFF,
 * socket(7)): each peek moves past one datagram without taking it.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iobatch.h"
#include "log.h"
#include "util.h"

#define IOB_EVENTS	16		/* epoll events taken per wake-up */
#define IOB_FDINFO_MAX	(64 * 1024)

struct iob {
	coap_context_t		*ctx;
	int			 epfd;
	unsigned		 max;
	struct iob_sock		 socks[IOB_MAX_SOCKETS];
	size_t			 nsocks;
	struct epoll_event	*out;		/* max + IOB_EVENTS */
};

/* See iobatch.h. */
size_t
iob_parse_fdinfo(const char *text, struct iob_sock *out, size_t max)
{
	const char		*p = text;
	size_t			 n = 0;
	int			 fd;
	unsigned		 events;
	unsigned long long	 tag;

	while (p != NULL && *p != '\0' && n < max) {
		if (sscanf(p, "tfd: %d events: %x data: %llx", &fd, &events,
		    &tag) == 3 && fd >= 0) {
			out[n].fd = fd;
			out[n].tag = tag;
			n++;
		}
		if ((p = strchr(p, '\n')) != NULL)
			p++;
	}
	return n;
}

/* Peek offset of a socket back to "off" (-1); errors do not matter. */
static void
iob_peek_off(int fd, int off)
{
	(void)setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off));
}

/* See iobatch.h. */
int
iob_count(int fd, unsigned max)
{
	int		off = 0, end = -1, n = 0;
	long long	sum = 0;
	socklen_t	sl = sizeof(end);
	ssize_t		l;
	char		c;

	if (setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off)) == -1)
		return -1;
	while ((unsigned)n < max) {
		/* MSG_TRUNC: the datagram's length, nothing copied */
		l = recv(fd, &c, 0, MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC);
		if (l == -1 && errno == EINTR)
			continue;
		if (l == -1)
			break;	/* EAGAIN: all counted (or a socket error) */
		n++;
		sum += l;
	}
	/* a kernel whose peeks do not move on would count one forever */
	if (getsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &end, &sl) == -1 ||
	    end != sum)
		n = -1;
	iob_peek_off(fd, -1);
	return n;
}

/* The endpoint socket of a tag, or NULL. */
static const struct iob_sock *
iob_find(const struct iob_sock *socks, size_t nsocks, uint64_t tag)
{
	for (size_t i = 0; i < nsocks; i++)
		if (socks[i].tag == tag)
			return &socks[i];
	return NULL;
}

/* See iobatch.h. */
size_t
iob_expand(const struct epoll_event *in, size_t nin,
    const struct iob_sock *socks, size_t nsocks,
    int (*count)(int fd, unsigned max), unsigned max,
    struct epoll_event *out, size_t outmax)
{
	const struct iob_sock	*s;
	size_t			 n = 0, used = 0;
	int			 c;

	for (size_t i = 0; i < nin && n < outmax; i++) {
		s = iob_find(socks, nsocks, in[i].data.u64);
		if (s == NULL || !(in[i].events & EPOLLIN)) {
			out[n++] = in[i];	/* timer, or not a read */
			continue;
		}
		if (used >= max)
			continue;	/* the rest at the next wake-up */
		c = count(s->fd, max - (unsigned)used);
		if (c < 0)
			c = 1;	/* cannot tell: one read, as libcoap does */
		for (; c > 0 && n < outmax; c--, used++)
			out[n++] = in[i];
	}
	return n;
}

/* Read /proc/self/fdinfo/<epfd>; NULL if it cannot be read. */
static char *
iob_fdinfo(int epfd)
{
	char	path[64];
	size_t	len;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", epfd);
	return file_read(path, IOB_FDINFO_MAX, &len);
}

/* Keep only the UDP sockets of the list (libcoap's endpoints). */
static size_t
iob_udp_only(struct iob_sock *socks, size_t n)
{
	size_t		k = 0;
	int		type;
	socklen_t	tl;

	for (size_t i = 0; i < n; i++) {
		tl = sizeof(type);
		if (socks[i].tag == 0 || getsockopt(socks[i].fd, SOL_SOCKET,
		    SO_TYPE, &type, &tl) == -1 || type != SOCK_DGRAM)
			continue;
		socks[k++] = socks[i];
	}
	return k;
}

/* See iobatch.h. */
struct iob *
iob_new(coap_context_t *ctx, unsigned max)
{
	struct iob	*b;
	char		*text;

	if (max == 0 || (b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	b->ctx = ctx;
	b->max = max;
	b->epfd = coap_context_get_coap_fd(ctx);
	if (b->epfd == -1 || (text = iob_fdinfo(b->epfd)) == NULL) {
		log_info("coap: datagrams not batched: libcoap's sockets "
		    "cannot be listed");
		free(b);
		return NULL;
	}
	b->nsocks = iob_udp_only(b->socks,
	    iob_parse_fdinfo(text, b->socks, IOB_MAX_SOCKETS));
	free(text);
	if (b->nsocks == 0 || iob_count(b->socks[0].fd, 1) < 0 ||
	    (b->out = calloc(max + IOB_EVENTS, sizeof(*b->out))) == NULL) {
		log_info("coap: datagrams not batched: %s", b->nsocks == 0 ?
		    "no endpoint socket found" : "the kernel cannot count "
		    "queued datagrams");
		free(b);
		return NULL;
	}
	log_info("coap: up to %u datagrams per pass over %zu socket(s)", max,
	    b->nsocks);
	return b;
}

/* See iobatch.h. */
void
iob_free(struct iob *b)
{
	if (b == NULL)
		return;
	free(b->out);
	free(b);
}

/* See iobatch.h. */
void
iob_run(struct iob *b)
{
	struct epoll_event	in[IOB_EVENTS];
	size_t			n;
	int			nin;

	nin = epoll_wait(b->epfd, in, IOB_EVENTS, 0);
	if (nin <= 0)
		return;
	n = iob_expand(in, (size_t)nin, b->socks, b->nsocks, iob_count,
	    b->max, b->out, b->max + IOB_EVENTS);
	if (n == 0)
		return;		/* readiness without a datagram */
	/* reads, then one pass over timers and sessions for all of them */
	coap_io_do_epoll(b->ctx, b->out, n);
}
