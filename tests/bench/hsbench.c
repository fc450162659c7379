/*
 * estcoap-hsbench: the in-process DTLS 1.2 handshake micro-benchmark of
 * `make bench` (B0 in doc/bench/results.md).  A client and a server SSL object
 * talk over memory BIOs in one thread, with mutual certificate
 * authentication, no session cache and no tickets, MTU 1400.  Each
 * SSL_do_handshake() call is timed with CLOCK_THREAD_CPUTIME_ID and
 * charged to its side, so the server's CPU per full handshake is
 * measured without sockets, kernel or libcoap.
 *
 * usage: estcoap-hsbench -c srvcert -k srvkey -C clientca
 *            -d devcert -K devkey -R servertrust [-n iterations] [-w warmup]
 *
 * Prints one JSON object: iterations, server_us and client_us per
 * handshake (mean), and the rate one core could sustain on the server.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#define HS_MAX_ITER	1000000
#define HS_MAX_ROUNDS	64	/* flights of one handshake, with margin */
#define HS_MTU		1400

/* Leave with the OpenSSL error queue on stderr. */
static void
hs_fail(const char *what)
{
	fprintf(stderr, "estcoap-hsbench: %s\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

/* Thread CPU time in ns. */
static int64_t
hs_cpu_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Cookie callbacks: a fixed cookie, as the exchange is in memory. */
static int
hs_cookie_gen(SSL *ssl, unsigned char *cookie, unsigned int *len)
{
	(void)ssl;
	memcpy(cookie, "estcoap-hsbench!", 16);
	*len = 16;
	return 1;
}

/* Accept the cookie hs_cookie_gen made. */
static int
hs_cookie_verify(SSL *ssl, const unsigned char *cookie, unsigned int len)
{
	(void)ssl;
	return len == 16 && memcmp(cookie, "estcoap-hsbench!", 16) == 0;
}

/* A DTLS context with a certificate, key and trust store. */
static SSL_CTX *
hs_ctx(int server, const char *cert, const char *key, const char *ca)
{
	SSL_CTX	*c;

	c = SSL_CTX_new(server ? DTLS_server_method() : DTLS_client_method());
	if (c == NULL)
		hs_fail("SSL_CTX_new");
	SSL_CTX_set_min_proto_version(c, DTLS1_2_VERSION);
	if (SSL_CTX_use_certificate_chain_file(c, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(c, key, SSL_FILETYPE_PEM) != 1)
		hs_fail("certificate or key");
	if (SSL_CTX_load_verify_locations(c, ca, NULL) != 1)
		hs_fail("trust store");
	SSL_CTX_set_verify(c, SSL_VERIFY_PEER |
	    (server ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0), NULL);
	SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(c, SSL_OP_NO_TICKET | SSL_OP_NO_QUERY_MTU);
	SSL_CTX_set_cookie_generate_cb(c, hs_cookie_gen);
	SSL_CTX_set_cookie_verify_cb(c, hs_cookie_verify);
	return c;
}

/* One memory BIO that says "retry" when empty, not EOF. */
static BIO *
hs_bio(void)
{
	BIO	*b = BIO_new(BIO_s_mem());

	if (b == NULL)
		hs_fail("BIO_new");
	BIO_set_mem_eof_return(b, -1);
	return b;
}

/* Run one full handshake; adds each side's CPU ns. 0 or -1. */
static int
hs_once(SSL_CTX *sc, SSL_CTX *cc, int64_t *srv_ns, int64_t *cli_ns)
{
	SSL	*s, *c;
	BIO	*c2s = hs_bio(), *s2c = hs_bio();
	int64_t	 t;
	int	 i, rs = 0, rc = 0, done_s = 0, done_c = 0;

	s = SSL_new(sc);
	c = SSL_new(cc);
	if (s == NULL || c == NULL)
		hs_fail("SSL_new");
	BIO_up_ref(c2s);
	BIO_up_ref(s2c);
	SSL_set_bio(s, c2s, s2c);	/* server reads c2s, writes s2c */
	SSL_set_bio(c, s2c, c2s);
	SSL_set_accept_state(s);
	SSL_set_connect_state(c);
	SSL_set_mtu(s, HS_MTU);
	SSL_set_mtu(c, HS_MTU);
	DTLS_set_link_mtu(s, HS_MTU);
	DTLS_set_link_mtu(c, HS_MTU);
	for (i = 0; i < HS_MAX_ROUNDS && !(done_s && done_c); i++) {
		if (!done_c) {
			t = hs_cpu_ns();
			rc = SSL_do_handshake(c);
			*cli_ns += hs_cpu_ns() - t;
			if (rc == 1)
				done_c = 1;
			else if (SSL_get_error(c, rc) != SSL_ERROR_WANT_READ)
				break;
		}
		if (!done_s) {
			t = hs_cpu_ns();
			rs = SSL_do_handshake(s);
			*srv_ns += hs_cpu_ns() - t;
			if (rs == 1)
				done_s = 1;
			else if (SSL_get_error(s, rs) != SSL_ERROR_WANT_READ)
				break;
		}
	}
	SSL_free(s);
	SSL_free(c);
	return done_s && done_c ? 0 : -1;
}

/* Parse, warm up, run, print the JSON line. */
int
main(int argc, char *argv[])
{
	const char	*cert = NULL, *key = NULL, *ca = NULL;
	const char	*dcert = NULL, *dkey = NULL, *trust = NULL;
	SSL_CTX		*sc, *cc;
	int64_t		 s_ns = 0, c_ns = 0, junk_s = 0, junk_c = 0;
	long		 n = 2000, warm = 100, i;
	int		 ch;

	while ((ch = getopt(argc, argv, "c:k:C:d:K:R:n:w:")) != -1) {
		switch (ch) {
		case 'c': cert = optarg; break;
		case 'k': key = optarg; break;
		case 'C': ca = optarg; break;
		case 'd': dcert = optarg; break;
		case 'K': dkey = optarg; break;
		case 'R': trust = optarg; break;
		case 'n': n = strtol(optarg, NULL, 10); break;
		case 'w': warm = strtol(optarg, NULL, 10); break;
		default: goto usage;
		}
	}
	if (cert == NULL || key == NULL || ca == NULL || dcert == NULL ||
	    dkey == NULL || trust == NULL || n < 1 || n > HS_MAX_ITER ||
	    warm < 0 || warm > HS_MAX_ITER)
		goto usage;
	sc = hs_ctx(1, cert, key, ca);
	cc = hs_ctx(0, dcert, dkey, trust);
	for (i = 0; i < warm; i++)
		if (hs_once(sc, cc, &junk_s, &junk_c) == -1)
			hs_fail("handshake failed (warm-up)");
	for (i = 0; i < n; i++)
		if (hs_once(sc, cc, &s_ns, &c_ns) == -1)
			hs_fail("handshake failed");
	printf("{\"iterations\":%ld,\"server_us\":%.1f,\"client_us\":%.1f,"
	    "\"server_per_s\":%.0f}\n", n, (double)s_ns / 1e3 / (double)n,
	    (double)c_ns / 1e3 / (double)n,
	    s_ns > 0 ? 1e9 * (double)n / (double)s_ns : 0);
	SSL_CTX_free(sc);
	SSL_CTX_free(cc);
	return 0;

usage:
	fprintf(stderr, "usage: estcoap-hsbench -c srvcert -k srvkey -C "
	    "clientca -d devcert -K devkey -R servertrust [-n iter] "
	    "[-w warmup]\n");
	return 2;
}
