/*
 * estcoap-hostile: a misbehaving peer for the estcoapd hostile-input tests.
 * It speaks DTLS 1.2 through OpenSSL directly (not libcoap) so that it can
 * send what no CoAP stack would: raw datagrams, half handshakes, and
 * hand-made CoAP bytes inside a real, authenticated DTLS session.
 *
 *   garbage N          N datagrams of random bytes, then N records with a
 *                      DTLS header and a cut-off or lying body
 *   flood N            N ClientHellos, each from its own source port
 *   slowloris N SECS   N handshakes that pass the cookie exchange and then
 *                      stop; holds them for SECS seconds ("held=N" first)
 *   raw HEX...         handshake as a device, send each HEX as one CoAP
 *                      datagram ("crts": a fresh GET crts), print
 *                      "reply=C.DD [maxage=N]", "reply=rst" or "reply=none"
 *   block1 N           handshake, then a sen upload of N 16-byte Block1
 *                      blocks, one at a time; prints a count per code
 *   reneg              handshake, ask for a renegotiation, then GET crts
 *
 * -s binds every socket to a source address of its own (any 127.0.0.0/8
 * address on Linux), so that a new peer never lands on the port of an
 * earlier one whose session the daemon still holds.
 *
 * Every mode ends, when it had a session, with a GET crts on it and prints
 * "final=C.DD" (or "final=none"), so a test sees whether the session
 * survived. Output is key=value lines. Everything is bounded: counts are
 * capped and every wait has a deadline.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#define HOSTILE_MAX_COUNT	2000000	/* any N */
#define HOSTILE_MAX_HOLD	600	/* slowloris SECS */
#define HOSTILE_MAX_SOCKS	1000	/* slowloris N: one fd each */
#define HOSTILE_REPLY_MS	2000	/* wait for one CoAP answer */
#define HOSTILE_HVR_MS		2000	/* wait for a HelloVerifyRequest */
#define HOSTILE_MTU		1400
#define HOSTILE_PDU_MAX		1500
#define HOSTILE_DEADLINE_S	600	/* the whole run */

static const char	*h_addr = "127.0.0.1";
static const char	*h_src;		/* -s: bind to this source address */
static int		 h_port;
static const char	*h_cert, *h_key, *h_ca;
static uint16_t		 h_mid;

/* Give up loudly. */
static void
die(const char *what)
{
	fprintf(stderr, "estcoap-hostile: %s: %s\n", what,
	    errno != 0 ? strerror(errno) : "failed");
	ERR_print_errors_fp(stderr);
	exit(1);
}

/* A UDP socket connected to the daemon, from a fresh ephemeral port. */
static int
h_socket(void)
{
	struct sockaddr_in	sin;
	int			fd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)h_port);
	if (inet_pton(AF_INET, h_addr, &sin.sin_addr) != 1)
		die("address");
	if ((fd = socket(AF_INET, SOCK_DGRAM, 0)) == -1)
		die("socket");
	if (h_src != NULL) {
		/* its own source address: no port shared with other peers */
		struct sockaddr_in src;

		memset(&src, 0, sizeof(src));
		src.sin_family = AF_INET;
		if (inet_pton(AF_INET, h_src, &src.sin_addr) != 1 ||
		    bind(fd, (struct sockaddr *)&src, sizeof(src)) == -1)
			die("source address");
	}
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		die("connect");
	return fd;
}

/* A DTLS client context; with_cert: present the device certificate. */
static SSL_CTX *
h_ctx(int with_cert)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(DTLS_client_method())) == NULL)
		die("SSL_CTX_new");
	SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION);
	if (with_cert) {
		if (SSL_CTX_use_certificate_chain_file(ctx, h_cert) != 1 ||
		    SSL_CTX_use_PrivateKey_file(ctx, h_key,
		    SSL_FILETYPE_PEM) != 1)
			die("device certificate or key");
		if (h_ca != NULL && SSL_CTX_load_verify_locations(ctx, h_ca,
		    NULL) != 1)
			die("CA file");
		SSL_CTX_set_verify(ctx, h_ca != NULL ? SSL_VERIFY_PEER :
		    SSL_VERIFY_NONE, NULL);
	}
	return ctx;
}

/* An SSL on the connected UDP socket fd. */
static SSL *
h_ssl(SSL_CTX *ctx, int fd)
{
	SSL			*ssl;
	BIO			*bio;
	struct sockaddr_storage	 peer;
	socklen_t		 plen = sizeof(peer);

	if ((ssl = SSL_new(ctx)) == NULL ||
	    (bio = BIO_new_dgram(fd, BIO_NOCLOSE)) == NULL)
		die("SSL_new");
	if (getpeername(fd, (struct sockaddr *)&peer, &plen) == -1)
		die("getpeername");
	/* the BIO sends with send(), not sendto() of an unset peer */
	BIO_ctrl(bio, BIO_CTRL_DGRAM_SET_CONNECTED, 0, &peer);
	SSL_set_bio(ssl, bio, bio);
	SSL_set_options(ssl, SSL_OP_NO_QUERY_MTU);
	DTLS_set_link_mtu(ssl, HOSTILE_MTU);
	return ssl;
}

/* Wait until fd is readable; 1 if it is, 0 after ms. */
static int
h_readable(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, ms) == 1;
}

/* Bounded random bytes. */
static void
h_random(uint8_t *p, size_t n)
{
	if (RAND_bytes(p, (int)n) != 1)
		die("RAND_bytes");
}

/* garbage N: random datagrams, then DTLS-looking records that lie. */
static void
h_garbage(long n)
{
	uint8_t	buf[HOSTILE_PDU_MAX];
	int	fd = h_socket();
	long	sent = 0;

	for (long i = 0; i < n; i++) {
		uint16_t len;

		h_random((uint8_t *)&len, sizeof(len));
		len = (uint16_t)(1 + len % sizeof(buf));
		h_random(buf, len);
		if (send(fd, buf, len, 0) > 0)
			sent++;
	}
	for (long i = 0; i < n; i++) {
		/* content type 20..25, DTLS 1.2, epoch 0/1, lying length */
		size_t len = 13 + (size_t)(i % 64);

		h_random(buf, len);
		buf[0] = (uint8_t)(20 + i % 6);
		buf[1] = 0xfe;
		buf[2] = 0xfd;
		buf[3] = 0;
		buf[4] = (uint8_t)(i & 1);
		buf[11] = (uint8_t)(i % 3 == 0 ? 0x40 : 0);	/* length */
		buf[12] = (uint8_t)(len - 13 + (i % 2) * 100);
		if (buf[0] == 22 && len > 13)
			buf[13] = 1;	/* claims to be a ClientHello */
		if (send(fd, buf, len, 0) > 0)
			sent++;
	}
	close(fd);
	printf("sent=%ld\n", sent);
}

/*
 * The bytes of one ClientHello (the first flight, no cookie), made once
 * through memory BIOs so that no peer of the flood ever goes further.
 */
static size_t
h_client_hello(uint8_t *out, size_t max)
{
	SSL_CTX	*ctx = h_ctx(0);
	SSL	*ssl;
	BIO	*rb, *wb;
	int	 n;

	if ((ssl = SSL_new(ctx)) == NULL || (rb = BIO_new(BIO_s_mem())) ==
	    NULL || (wb = BIO_new(BIO_s_mem())) == NULL)
		die("SSL_new");
	BIO_set_mem_eof_return(rb, -1);
	SSL_set_bio(ssl, rb, wb);
	SSL_set_options(ssl, SSL_OP_NO_QUERY_MTU);
	DTLS_set_link_mtu(ssl, HOSTILE_MTU);
	(void)SSL_connect(ssl);
	if ((n = BIO_read(wb, out, (int)max)) <= 0)
		die("no ClientHello");
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	return (size_t)n;
}

/* flood N: the same ClientHello from each of N source ports. */
static void
h_flood(long n)
{
	uint8_t	ch[HOSTILE_PDU_MAX];
	size_t	len = h_client_hello(ch, sizeof(ch));
	long	sent = 0, hvr = 0;

	for (long i = 0; i < n; i++) {
		int fd = h_socket();

		if (send(fd, ch, len, 0) == (ssize_t)len)
			sent++;
		/* look at the first few answers only: no need to wait */
		if (i < 3 && h_readable(fd, HOSTILE_HVR_MS))
			hvr++;
		close(fd);
	}
	printf("sent=%ld\nanswered=%ld\n", sent, hvr);
}

/*
 * Move what ssl wrote into its memory BIO to the socket, one datagram
 * per BIO_read (the DTLS layer writes whole records); the bytes sent.
 */
static size_t
h_flush(SSL *ssl, int fd)
{
	uint8_t	buf[HOSTILE_PDU_MAX * 4];
	size_t	total = 0;
	int	n;

	while ((n = BIO_read(SSL_get_wbio(ssl), buf, sizeof(buf))) > 0)
		if (send(fd, buf, (size_t)n, 0) == n)
			total += (size_t)n;
	return total;
}

/*
 * One half handshake on fd: ClientHello, the HelloVerifyRequest fed
 * back, the ClientHello with the cookie sent, and nothing more ever read.
 * The SSL works on memory BIOs, so it cannot run ahead. 1 when the cookie
 * went out.
 */
static int
h_half(SSL_CTX *ctx, int fd, SSL **out)
{
	uint8_t	 buf[HOSTILE_PDU_MAX];
	SSL	*ssl;
	BIO	*rb, *wb;
	ssize_t	 n;

	if ((ssl = SSL_new(ctx)) == NULL || (rb = BIO_new(BIO_s_mem())) ==
	    NULL || (wb = BIO_new(BIO_s_mem())) == NULL)
		die("SSL_new");
	BIO_set_mem_eof_return(rb, -1);
	SSL_set_bio(ssl, rb, wb);
	SSL_set_options(ssl, SSL_OP_NO_QUERY_MTU);
	DTLS_set_link_mtu(ssl, HOSTILE_MTU);
	*out = ssl;
	(void)SSL_connect(ssl);
	for (int try = 0; try < 3; try++) {
		if (h_flush(ssl, fd) == 0)
			return 0;
		if (h_readable(fd, HOSTILE_HVR_MS))
			break;
		(void)DTLSv1_handle_timeout(ssl);	/* resend */
	}
	if ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) <= 0 ||
	    BIO_write(rb, buf, (int)n) != n)
		return 0;
	(void)SSL_connect(ssl);		/* the HelloVerifyRequest */
	return h_flush(ssl, fd) > 0;
}

/* slowloris N SECS: half handshakes, past the cookie, then silence. */
static void
h_slowloris(long n, long secs)
{
	SSL_CTX	*ctx = h_ctx(1);
	SSL	*ssl[HOSTILE_MAX_SOCKS];
	int	 fd[HOSTILE_MAX_SOCKS];
	long	 held = 0;

	for (long i = 0; i < n; i++) {
		fd[i] = h_socket();
		if (h_half(ctx, fd[i], &ssl[i]))
			held++;
		ERR_clear_error();
	}
	printf("held=%ld\n", held);
	fflush(stdout);
	sleep((unsigned)secs);
	for (long i = 0; i < n; i++) {
		SSL_free(ssl[i]);
		close(fd[i]);
	}
	SSL_CTX_free(ctx);
}

/* A full handshake as the device; NULL (and "handshake=failed"). */
static SSL *
h_connect(SSL_CTX *ctx, int fd)
{
	SSL		*ssl = h_ssl(ctx, fd);
	struct timeval	 tv = { .tv_sec = HOSTILE_REPLY_MS / 1000 };

	if (SSL_connect(ssl) != 1) {
		printf("handshake=failed\n");
		ERR_print_errors_fp(stderr);
		SSL_free(ssl);
		return NULL;
	}
	BIO_ctrl(SSL_get_rbio(ssl), BIO_CTRL_DGRAM_SET_RECV_TIMEOUT, 0, &tv);
	printf("handshake=ok\n");
	return ssl;
}

/* Append one option (RFC 7252 3.1) after the previous number *last. */
static size_t
h_opt(uint8_t *p, unsigned *last, unsigned num, const uint8_t *val,
    size_t len)
{
	unsigned	d = num - *last;
	size_t		n = 1;

	*last = num;
	p[0] = 0;
	if (d < 13)
		p[0] |= (uint8_t)(d << 4);
	else {
		p[0] |= 13 << 4;
		p[n++] = (uint8_t)(d - 13);
	}
	if (len < 13)
		p[0] |= (uint8_t)len;
	else {
		p[0] |= 13;
		p[n++] = (uint8_t)(len - 13);
	}
	memcpy(p + n, val, len);
	return n + len;
}

/* A CON request for /.well-known/est/<op>, optional CF and Block1. */
static size_t
h_request(uint8_t *p, int code, const char *op, int cf, long block1,
    const uint8_t *payload, size_t plen)
{
	unsigned	last = 0;
	size_t		n = 0;
	uint8_t		v[3];

	h_mid++;
	p[n++] = 0x40 | 2;	/* ver 1, CON, token length 2 */
	p[n++] = (uint8_t)code;
	p[n++] = (uint8_t)(h_mid >> 8);
	p[n++] = (uint8_t)h_mid;
	p[n++] = (uint8_t)(h_mid >> 8);
	p[n++] = (uint8_t)h_mid;
	n += h_opt(p + n, &last, 11, (const uint8_t *)".well-known", 11);
	n += h_opt(p + n, &last, 11, (const uint8_t *)"est", 3);
	n += h_opt(p + n, &last, 11, (const uint8_t *)op, strlen(op));
	if (cf >= 0) {
		v[0] = (uint8_t)(cf >> 8);
		v[1] = (uint8_t)cf;
		n += h_opt(p + n, &last, 12, v, 2);
	}
	if (block1 >= 0) {
		v[0] = (uint8_t)(block1 >> 16);
		v[1] = (uint8_t)(block1 >> 8);
		v[2] = (uint8_t)block1;
		n += h_opt(p + n, &last, 27, v, 3);
	}
	if (plen > 0) {
		p[n++] = 0xff;
		memcpy(p + n, payload, plen);
		n += plen;
	}
	return n;
}

/* The Max-Age option (14) of a CoAP message, or -1 when absent. */
static long
h_maxage(const uint8_t *m, size_t len)
{
	size_t		i = 4 + (m[0] & 15);
	unsigned	num = 0;

	while (i < len && m[i] != 0xff) {
		unsigned d = m[i] >> 4, l = m[i] & 15;

		i++;
		for (int k = 0; k < 2; k++) {
			unsigned *v = k == 0 ? &d : &l;

			if (*v == 13 && i < len)
				*v = 13u + m[i++];
			else if (*v == 14 && i + 1 < len) {
				*v = 269u + (unsigned)(m[i] << 8 | m[i + 1]);
				i += 2;
			} else if (*v >= 13)
				return -1;
		}
		num += d;
		if (i + l > len)
			return -1;
		if (num == 14) {
			long v = 0;

			for (unsigned k = 0; k < l; k++)
				v = v << 8 | m[i + k];
			return v;
		}
		i += l;
	}
	return -1;
}

/*
 * Send one datagram and wait for the answer to it (an ACK or RST with
 * its message ID, or a response echoing its token); the code as "C.DD",
 * "rst", or "none".
 */
static void
h_exchange(SSL *ssl, const uint8_t *pdu, size_t len, char code[8],
    long *maxage)
{
	uint8_t		 buf[HOSTILE_PDU_MAX];
	struct timespec	 t0, t;
	int		 n;

	snprintf(code, 8, "none");
	if (maxage != NULL)
		*maxage = -1;
	if (SSL_write(ssl, pdu, (int)len) <= 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 +
		    (t.tv_nsec - t0.tv_nsec) / 1000000 > HOSTILE_REPLY_MS)
			return;
		if ((n = SSL_read(ssl, buf, sizeof(buf))) <= 0) {
			if (SSL_get_error(ssl, n) == SSL_ERROR_WANT_READ)
				continue;
			return;
		}
		if (n < 4 || len < 4)
			continue;
		if ((buf[0] >> 4 & 3) == 3 && memcmp(buf + 2, pdu + 2, 2) == 0) {
			snprintf(code, 8, "rst");
			return;
		}
		if (memcmp(buf + 2, pdu + 2, 2) != 0)
			continue;	/* an answer to something earlier */
		if (buf[1] == 0)
			continue;	/* empty ACK: a separate answer follows */
		snprintf(code, 8, "%u.%02u", buf[1] >> 5, buf[1] & 31);
		if (maxage != NULL)
			*maxage = h_maxage(buf, (size_t)n);
		return;
	}
}

/* GET crts on the session: is it still served? */
static void
h_final(SSL *ssl)
{
	uint8_t	pdu[HOSTILE_PDU_MAX];
	char	code[8];
	size_t	n = h_request(pdu, 1, "crts", -1, -1, NULL, 0);

	h_exchange(ssl, pdu, n, code, NULL);
	printf("final=%s\n", code);
}

/* One hex string into bytes; -1 when it is not hex. */
static long
h_unhex(const char *s, uint8_t *out, size_t max)
{
	size_t n = 0;

	while (s[0] != '\0' && s[1] != '\0' && n < max) {
		unsigned v;

		if (sscanf(s, "%2x", &v) != 1)
			return -1;
		out[n++] = (uint8_t)v;
		s += 2;
	}
	return s[0] == '\0' ? (long)n : -1;
}

/* raw HEX...: hand-made CoAP datagrams on a real session. */
static void
h_raw(int argc, char **argv)
{
	SSL_CTX	*ctx = h_ctx(1);
	int	 fd = h_socket();
	SSL	*ssl = h_connect(ctx, fd);
	uint8_t	 pdu[HOSTILE_PDU_MAX];
	char	 code[8];
	long	 age;

	if (ssl == NULL)
		exit(3);
	for (int i = 0; i < argc; i++) {
		long n = strcmp(argv[i], "crts") == 0 ? (long)h_request(pdu,
		    1, "crts", -1, -1, NULL, 0) : h_unhex(argv[i], pdu,
		    sizeof(pdu));

		if (n < 0) {
			fprintf(stderr, "estcoap-hostile: %s: not hex\n",
			    argv[i]);
			exit(1);
		}
		h_exchange(ssl, pdu, (size_t)n, code, &age);
		if (age >= 0)
			printf("reply=%s maxage=%ld\n", code, age);
		else
			printf("reply=%s\n", code);
	}
	h_final(ssl);
	SSL_shutdown(ssl);
	SSL_free(ssl);
	close(fd);
	SSL_CTX_free(ctx);
}

/* block1 N: a sen upload in N 16-byte blocks, counting the answers. */
static void
h_block1(long n)
{
	SSL_CTX	*ctx = h_ctx(1);
	int	 fd = h_socket();
	SSL	*ssl = h_connect(ctx, fd);
	uint8_t	 pdu[HOSTILE_PDU_MAX], data[16];
	char	 code[8];
	long	 c231 = 0, c413 = 0, c408 = 0, c503 = 0, other = 0, none = 0;

	if (ssl == NULL)
		exit(3);
	memset(data, 0x30, sizeof(data));
	for (long i = 0; i < n; i++) {
		/* NUM i, M=1, SZX 0 (16 bytes); NUM is 20 bits */
		long	b = ((i & 0xfffff) << 4) | 8;
		size_t	len = h_request(pdu, 2, "sen", 286, b, data,
			    sizeof(data));

		h_exchange(ssl, pdu, len, code, NULL);
		if (strcmp(code, "2.31") == 0)
			c231++;
		else if (strcmp(code, "4.13") == 0)
			c413++;
		else if (strcmp(code, "4.08") == 0)
			c408++;
		else if (strcmp(code, "5.03") == 0)
			c503++;
		else if (strcmp(code, "none") == 0) {
			if (++none > 5)
				break;	/* the session is gone */
		} else
			other++;
	}
	printf("c231=%ld\nc413=%ld\nc408=%ld\nc503=%ld\nother=%ld\n"
	    "none=%ld\n", c231, c413, c408, c503, other, none);
	h_final(ssl);
	SSL_shutdown(ssl);
	SSL_free(ssl);
	close(fd);
	SSL_CTX_free(ctx);
}

/* reneg: ask the server for a renegotiation on an established session. */
static void
h_reneg(void)
{
	SSL_CTX	*ctx = h_ctx(1);
	int	 fd = h_socket();
	SSL	*ssl = h_connect(ctx, fd);
	int	 rc;

	if (ssl == NULL)
		exit(3);
	/* the client side must allow it for OpenSSL to send the hello */
	SSL_clear_options(ssl, SSL_OP_NO_RENEGOTIATION);
	if (SSL_renegotiate(ssl) != 1)
		printf("reneg=local-refusal\n");
	else {
		rc = SSL_do_handshake(ssl);
		printf("reneg=%s\n", rc == 1 && SSL_renegotiate_pending(ssl) == 0 ?
		    "done" : "refused");
		ERR_clear_error();
	}
	h_final(ssl);
	SSL_free(ssl);
	close(fd);
	SSL_CTX_free(ctx);
}

static void
usage(void)
{
	fprintf(stderr, "usage: estcoap-hostile [-a addr] [-s srcaddr] -p port [-c cert "
	    "-k key [-C ca]] garbage N | flood N | slowloris N SECS | "
	    "raw HEX... | block1 N | reneg\n");
	exit(1);
}

/* A count argument within bounds. */
static long
h_count(const char *s, long max)
{
	char	*end;
	long	 n = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || n < 1 || n > max)
		usage();
	return n;
}

int
main(int argc, char **argv)
{
	int ch;

	while ((ch = getopt(argc, argv, "a:p:c:k:C:s:")) != -1) {
		switch (ch) {
		case 'a': h_addr = optarg; break;
		case 'p': h_port = atoi(optarg); break;
		case 'c': h_cert = optarg; break;
		case 'k': h_key = optarg; break;
		case 'C': h_ca = optarg; break;
		case 's': h_src = optarg; break;
		default: usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 || h_port <= 0 || h_port > 65535)
		usage();
	signal(SIGPIPE, SIG_IGN);
	alarm(HOSTILE_DEADLINE_S);
	h_random((uint8_t *)&h_mid, sizeof(h_mid));
	if (strcmp(argv[0], "garbage") == 0 && argc == 2)
		h_garbage(h_count(argv[1], HOSTILE_MAX_COUNT));
	else if (strcmp(argv[0], "flood") == 0 && argc == 2)
		h_flood(h_count(argv[1], HOSTILE_MAX_COUNT));
	else if (strcmp(argv[0], "slowloris") == 0 && argc == 3)
		h_slowloris(h_count(argv[1], HOSTILE_MAX_SOCKS),
		    h_count(argv[2], HOSTILE_MAX_HOLD));
	else if (strcmp(argv[0], "raw") == 0 && h_cert != NULL)
		h_raw(argc - 1, argv + 1);
	else if (strcmp(argv[0], "block1") == 0 && argc == 2 && h_cert != NULL)
		h_block1(h_count(argv[1], HOSTILE_MAX_COUNT));
	else if (strcmp(argv[0], "reneg") == 0 && h_cert != NULL)
		h_reneg();
	else
		usage();
	return 0;
}
