/*
 * Unit tests for iobatch: the fdinfo parser, counting queued datagrams
 * without taking them, the expansion of epoll events, and a real libcoap
 * context that gets a burst of requests handled in one pass with no
 * failed read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <cmocka.h>

#include "iobatch.h"

/* Two files with tags, a timer with tag 0, and lines to skip. */
static void
test_iob_parse_fdinfo(void **state)
{
	const char	*text =
	    "pos:\t0\nflags:\t02\nmnt_id:\t17\nino:\t1044\n"
	    "tfd:        4 events:       19 data:     55d0c0a5b2a0  pos:0 "
	    "ino:26e65 sdev:9\n"
	    "tfd:        5 events:       19 data:                0  pos:0 "
	    "ino:26e66 sdev:9\n"
	    "tfd:       12 events:        1 data:               7f  pos:0\n"
	    "garbage\n";
	struct iob_sock	 s[4];

	(void)state;
	assert_int_equal(iob_parse_fdinfo(text, s, 4), 3);
	assert_int_equal(s[0].fd, 4);
	assert_true(s[0].tag == 0x55d0c0a5b2a0ULL);
	assert_int_equal(s[1].fd, 5);
	assert_true(s[1].tag == 0);
	assert_int_equal(s[2].fd, 12);
	assert_true(s[2].tag == 0x7f);
	/* bounded by max */
	assert_int_equal(iob_parse_fdinfo(text, s, 1), 1);
	assert_int_equal(iob_parse_fdinfo("", s, 4), 0);
}

/* A bound loopback UDP socket and its address. */
static int
udp_bound(struct sockaddr_in *a)
{
	socklen_t	al = sizeof(*a);
	int		fd = socket(AF_INET, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)a, sizeof(*a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)a, &al), 0);
	return fd;
}

/* Counting takes nothing: every datagram is read afterwards, in order. */
static void
test_iob_count(void **state)
{
	struct sockaddr_in	a;
	char			buf[2000];
	int			r, s, off = 0;
	socklen_t		ol = sizeof(off);

	(void)state;
	r = udp_bound(&a);
	s = socket(AF_INET, SOCK_DGRAM, 0);
	assert_int_equal(iob_count(r, 64), 0);
	memset(buf, 'x', sizeof(buf));
	for (int i = 0; i < 5; i++)
		assert_int_equal(sendto(s, buf, 100 + (size_t)i * 300, 0,
		    (struct sockaddr *)&a, sizeof(a)), 100 + i * 300);
	assert_int_equal(iob_count(r, 64), 5);
	assert_int_equal(iob_count(r, 3), 3);
	assert_int_equal(iob_count(r, 64), 5);
	/* the peek offset is off again for the reader */
	assert_int_equal(getsockopt(r, SOL_SOCKET, SO_PEEK_OFF, &off, &ol), 0);
	assert_int_equal(off, -1);
	for (int i = 0; i < 5; i++)
		assert_int_equal(recv(r, buf, sizeof(buf), MSG_DONTWAIT),
		    100 + i * 300);
	assert_int_equal(recv(r, buf, sizeof(buf), MSG_DONTWAIT), -1);
	assert_int_equal(iob_count(r, 64), 0);
	/* an empty datagram counts too */
	assert_int_equal(sendto(s, buf, 0, 0, (struct sockaddr *)&a,
	    sizeof(a)), 0);
	assert_int_equal(iob_count(r, 64), 1);
	close(s);
	close(r);
}

/* A fake count: fd 7 holds 3 datagrams, fd 8 none, fd 9 cannot tell. */
static int
fake_count(int fd, unsigned max)
{
	int	n = fd == 7 ? 3 : fd == 8 ? 0 : -1;

	return n > (int)max ? (int)max : n;
}

/* Endpoint events repeat by count; others pass once; the bound holds. */
static void
test_iob_expand(void **state)
{
	struct iob_sock		socks[3] = { { 0xa, 7 }, { 0xb, 8 }, { 0xc, 9 } };
	struct epoll_event	in[4], out[16];
	size_t			n;

	(void)state;
	memset(in, 0, sizeof(in));
	in[0].events = EPOLLIN;
	in[0].data.u64 = 0;		/* the timer */
	in[1].events = EPOLLIN;
	in[1].data.u64 = 0xa;
	in[2].events = EPOLLIN;
	in[2].data.u64 = 0xb;
	in[3].events = EPOLLIN;
	in[3].data.u64 = 0xc;
	n = iob_expand(in, 4, socks, 3, fake_count, 64, out, 16);
	assert_int_equal(n, 1 + 3 + 0 + 1);
	assert_true(out[0].data.u64 == 0);
	assert_true(out[1].data.u64 == 0xa && out[3].data.u64 == 0xa);
	assert_true(out[4].data.u64 == 0xc);
	/* at most 2 datagrams: the rest waits for the next wake-up */
	n = iob_expand(in, 4, socks, 3, fake_count, 2, out, 16);
	assert_int_equal(n, 1 + 2);
	/* and never past the output array */
	n = iob_expand(in, 4, socks, 3, fake_count, 64, out, 2);
	assert_int_equal(n, 2);
}

static unsigned	handled;
static int	read_failed;

/* Count the requests the resource sees. */
static void
hnd_get(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req,
    const coap_string_t *q, coap_pdu_t *resp)
{
	(void)r;
	(void)s;
	(void)req;
	(void)q;
	handled++;
	coap_pdu_set_code(resp, COAP_RESPONSE_CODE(205));
}

/* Note libcoap's failed reads (what an over-long batch would log). */
static void
log_cb(coap_log_t level, const char *msg)
{
	(void)level;
	if (strstr(msg, "read failed") != NULL ||
	    strstr(msg, "coap_network_read") != NULL)
		read_failed++;
}

/* A real context: 20 queued requests are handled in one pass. */
static void
test_iob_libcoap(void **state)
{
	struct sockaddr_in	a;
	coap_address_t		addr;
	coap_context_t		*ctx;
	coap_resource_t		*r;
	struct iob		*b;
	uint8_t			 pdu[16];
	int			 fd, s;

	(void)state;
	coap_startup();
	coap_set_log_handler(log_cb);
	coap_set_log_level(LOG_WARNING);
	fd = udp_bound(&a);
	close(fd);
	coap_address_init(&addr);
	addr.size = sizeof(a);
	memcpy(&addr.addr.sin, &a, sizeof(a));
	assert_non_null(ctx = coap_new_context(NULL));
	assert_non_null(coap_new_endpoint(ctx, &addr, COAP_PROTO_UDP));
	r = coap_resource_init(coap_make_str_const("x"), 0);
	coap_register_handler(r, COAP_REQUEST_GET, hnd_get);
	coap_add_resource(ctx, r);
	assert_non_null(b = iob_new(ctx, 64));
	s = socket(AF_INET, SOCK_DGRAM, 0);
	for (int i = 0; i < 20; i++) {
		/* NON GET /x, mid i, no token */
		pdu[0] = 0x50;
		pdu[1] = 0x01;
		pdu[2] = 0;
		pdu[3] = (uint8_t)i;
		pdu[4] = 0xb1;
		pdu[5] = 'x';
		assert_int_equal(sendto(s, pdu, 6, 0, (struct sockaddr *)&a,
		    sizeof(a)), 6);
	}
	usleep(10000);
	iob_run(b);
	assert_int_equal(handled, 20);
	iob_run(b);		/* nothing queued: nothing read */
	assert_int_equal(handled, 20);
	assert_int_equal(read_failed, 0);
	close(s);
	iob_free(b);
	coap_free_context(ctx);
	coap_cleanup();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_iob_parse_fdinfo),
		cmocka_unit_test(test_iob_count),
		cmocka_unit_test(test_iob_expand),
		cmocka_unit_test(test_iob_libcoap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
