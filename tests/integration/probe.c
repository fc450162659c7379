/*
 * estcoap-probe: one scripted CoAP request over DTLS 1.2 with a client
 * certificate, for the estcoapd integration tests.  It does what
 * coap-client(1) cannot: exact options, hand-made Block1 uploads (with a
 * gap on request), early Block2 negotiation, byte-identical duplicates of
 * a pending request, and leaving before the answer.
 *
 * stdout carries one key=value per line, in this order, each only when it
 * applies: "block1 num=N code=C.DD" per non-final Block1 block, departed,
 * empty_ack, separate, type, code, cf (or "none"), maxage, size1, size2,
 * block1=N/M/SZX, block2=N/M/SZX, etag (hex), "block2 blocks=K szx=S",
 * etag_mismatch, block2_incomplete, block2_error, len, payload_text (4.xx
 * and 5.xx), dup_sent, responses, and with -n or -K: copies (separate
 * answers received in all), gaps_ms (between them).  Without a final
 * answer: handshake=failed, timeout=1, nack=REASON or closed=1.  Exit
 * codes are PROBE_EXIT_* below.  After the handshake: version, cipher,
 * resumed (with -r: the second session resumed the first), tls_unique.
 *
 * -n never acknowledges the separate answer (after the empty ACK nothing
 * we send reaches the server) and -K resets it (RST); both then listen
 * until -w runs out and count the retransmissions (RFC 7252 4.2); -q
 * does the same after acknowledging it as usual.  -R
 * N:FILE restarts a Block1 upload at NUM 0 with FILE's body after block
 * N; -S N:MS pauses MS milliseconds after block N.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <coap3/coap.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "csrgen.h"

/* Exit codes; shell tests branch on them. */
#define PROBE_EXIT_OK		0	/* a final answer came, or -X left */
#define PROBE_EXIT_LOCAL	1	/* usage, file or set-up error */
#define PROBE_EXIT_HANDSHAKE	3	/* no DTLS session */
#define PROBE_EXIT_TIMEOUT	4	/* no final answer within -w */
#define PROBE_EXIT_NOANSWER	5	/* RST, retries spent, session lost */

#define PROBE_MAX_OPTS		64	/* -t, -A, -O and Uri-* together */
#define PROBE_MAX_FILE		(4u << 20)	/* -f body, bytes */
#define PROBE_MAX_ANSWER	(4u << 20)	/* reassembled Block2 body */
#define PROBE_MAX_DUPS		100	/* -D */
#define PROBE_MAX_WAIT		3600	/* -w, seconds */
#define PROBE_BLOCK_NUM_MAX	((1u << 20) - 1)	/* RFC 7959 2.2 */
/* Ethernet payload less IPv4 and UDP headers; libcoap subtracts DTLS. */
#define PROBE_MTU		1472
#define PROBE_DUP_MS		500	/* spacing of -D copies */
#define PROBE_DEPART_MS		300	/* -X: wait this long for the ACK */
#define PROBE_STEP_MS		1000	/* longest single coap_io_process() */
#define PROBE_TEXT_MAX		1024	/* payload_text: input bytes shown */
#define PROBE_TOKEN_LEN		8
#define PROBE_ETAG_MAX		8	/* RFC 7252 5.10.6 */
#define PROBE_SZX_MAX		6	/* 1024-byte blocks; 7 is BERT */
#define PROBE_MAX_COPIES	16	/* -n/-K: arrival times kept */

/* How one exchange (request to answer) ended. */
enum probe_result {
	PROBE_ANSWER,		/* p->rep holds the answer */
	PROBE_DEPARTED,		/* -X: left before the answer */
	PROBE_TIMEOUT,
	PROBE_NACK,		/* libcoap gave up on the request, or RST */
	PROBE_CLOSED,		/* the DTLS session went away */
	PROBE_FAILED,		/* local error, already reported */
};

/* One option the user asked for, repeated in every request of the run. */
struct probe_opt {
	uint16_t	 num;
	size_t		 len;
	uint8_t		*val;		/* owned, may be NULL when len is 0 */
};

/* A growable byte buffer that refuses to grow past cap. */
struct probe_buf {
	uint8_t		*data;
	size_t		 len;
	size_t		 size;		/* allocated */
	size_t		 cap;
};

/* The parts of an answer we report, copied before libcoap frees the PDU. */
struct probe_reply {
	int		 have;
	coap_pdu_type_t	 type;
	coap_pdu_code_t	 code;
	coap_mid_t	 mid;
	int64_t		 cf;		/* -1: no Content-Format */
	int64_t		 maxage;	/* -1: absent; seconds */
	int64_t		 size1;		/* -1: absent; bytes */
	int64_t		 size2;		/* -1: absent; bytes */
	int64_t		 block1;	/* -1: absent; raw option value */
	int64_t		 block2;	/* -1: absent; raw option value */
	int		 has_etag;
	size_t		 etag_len;
	uint8_t		 etag[PROBE_ETAG_MAX];
	struct probe_buf body;		/* this PDU's payload only */
};

/* Everything one run needs: the command line, then the libcoap state. */
struct probe {
	/* command line */
	const char	*addr;
	const char	*port;
	const char	*cert;
	const char	*key;
	const char	*cafile;
	const char	*bodyfile;
	const char	*outfile;
	const char	*path;
	const char	*pre_path;	/* -g: a GET first, same session */
	int		 pause_ms;	/* -P: wait after the -g GET */
	coap_pdu_code_t	 method;
	struct probe_opt opts[PROBE_MAX_OPTS];
	size_t		 nopts;
	int		 b1_szx;	/* -b, -1 for one PDU */
	long		 skip;		/* -G block number, -1 for none */
	int		 b2_szx;	/* -2, -1 for none */
	int		 dups;		/* -D */
	int		 depart;	/* -X */
	int		 depart_ms;	/* -x: depart this long after sending */
	int		 non;		/* -N */
	int		 noack;		/* -n: never ACK the separate answer */
	int		 reset;		/* -K: RST the separate answer */
	int		 listen;	/* -q: ACK it, then count copies */
	long		 restart_after;	/* -R block number, -1 for none */
	const char	*restart_file;	/* -R: the new body */
	long		 pause_after;	/* -S block number, -1 for none */
	int		 pause_blk_ms;	/* -S: how long */
	int		 wait_s;	/* -w */
	int		 verbose;	/* -v */
	const char	*csr_key;	/* -Y: build the CSR after the handshake */
	const char	*csr_subject;	/* -s: its subject */
	const char	*link;		/* -L tls-unique|wrong: challengePassword */
	const char	*ciphers;	/* -Z: the only cipher suites offered */
	int		 resume;	/* -r: reconnect, resuming the session */
	SSL_SESSION	*saved;		/* -r: the first session */

	/* run state */
	struct probe_buf body;		/* request payload from -f */
	struct probe_buf wire;		/* the last request as sent */
	coap_context_t	*ctx;
	coap_session_t	*sess;
	int		 connected;	/* DTLS_CONNECTED seen */
	int		 dtls_down;	/* DTLS_CLOSED or DTLS_ERROR seen */
	int64_t		 deadline;	/* monotonic ms, from -w */
	uint8_t		 token[PROBE_TOKEN_LEN];

	/* the exchange in progress */
	coap_mid_t	 mid;		/* of the request we sent */
	int		 con;		/* it was confirmable */
	int		 nack;		/* -1, or a coap_nack_reason_t */
	int		 empty_ack;	/* left libcoap's retransmit queue */
	unsigned	 responses;	/* answers matching this exchange */
	struct probe_reply rep;		/* the first of them */

	/* -D bookkeeping, reported with the answer */
	int		 dup_sent;
	unsigned	 dup_responses;

	/* -n / -K: the separate answer's copies */
	int		 muted;		/* our writes go nowhere now */
	unsigned	 copies;
	int64_t		 copy_ms[PROBE_MAX_COPIES];
};

static struct probe *probe_g;		/* for libcoap's callbacks */

static void		usage(void) __attribute__((noreturn));
static void		probe_errx(const char *, ...)
			    __attribute__((noreturn, format(printf, 1, 2)));

static const struct {
	const char	*name;
	coap_pdu_code_t	 code;
} probe_methods[] = {
	{ "get",	COAP_REQUEST_CODE_GET },
	{ "post",	COAP_REQUEST_CODE_POST },
	{ "put",	COAP_REQUEST_CODE_PUT },
	{ "delete",	COAP_REQUEST_CODE_DELETE },
	{ "fetch",	COAP_REQUEST_CODE_FETCH },
	{ "patch",	COAP_REQUEST_CODE_PATCH },
	{ "ipatch",	COAP_REQUEST_CODE_IPATCH },
};

/* Print the synopsis and leave with the usage exit code. */
static void
usage(void)
{
	fprintf(stderr,
	    "usage: estcoap-probe [-a addr] [-p port] -c cert -k key -C cafile"
	    " [-m method]\n"
	    "           -u path [-t cf] [-A accept]... [-O num,hex]..."
	    " [-f bodyfile] [-g path [-P ms]]\n"
	    "           [-b szx] [-G num] [-2 szx] [-D n] [-X | -x ms] [-N]"
	    " [-w seconds]\n"
	    "           [-n | -K | -q] [-R num:file] [-S num:ms]\n"
	    "           [-o outfile] [-v] [-Y key -s subject [-L tls-unique|wrong]]"
	    "\n           [-Z ciphers] [-r]\n");
	exit(PROBE_EXIT_LOCAL);
}

/* Report a local error on stderr and leave with PROBE_EXIT_LOCAL. */
static void
probe_errx(const char *fmt, ...)
{
	va_list	ap;

	fputs("estcoap-probe: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(PROBE_EXIT_LOCAL);
}

/* Milliseconds on the monotonic clock. */
static int64_t
probe_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Append n bytes to a buffer; -1 past its cap or out of memory. */
static int
probe_buf_append(struct probe_buf *b, const void *p, size_t n)
{
	uint8_t	*nd;
	size_t	 nsize;

	if (n == 0)
		return 0;
	if (n > b->cap || b->len > b->cap - n)
		return -1;
	if (b->len + n > b->size) {
		nsize = b->size ? b->size : 256;
		while (nsize < b->len + n)
			nsize = nsize > b->cap / 2 ? b->cap : nsize * 2;
		if ((nd = realloc(b->data, nsize)) == NULL)
			return -1;
		b->data = nd;
		b->size = nsize;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

/* Release a buffer's storage and make it empty. */
static void
probe_buf_free(struct probe_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->size = 0;
}

/* Parse a decimal number within [min, max]; -1 if it is not one. */
static int
probe_number(const char *s, long long min, long long max, long long *out)
{
	char		*end;
	long long	 v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Parse a number option argument or exit with a message naming the flag. */
static long long
probe_arg_number(int flag, const char *s, long long min, long long max)
{
	long long	v;

	if (probe_number(s, min, max, &v) == -1)
		probe_errx("-%c %s: expected a number from %lld to %lld",
		    flag, s, min, max);
	return v;
}

/* Store one option for every request; the value is copied. */
static void
probe_opt_add(struct probe *p, uint16_t num, const uint8_t *val, size_t len)
{
	struct probe_opt	*o;

	if (p->nopts == PROBE_MAX_OPTS)
		probe_errx("more than %d options", PROBE_MAX_OPTS);
	o = &p->opts[p->nopts++];
	o->num = num;
	o->len = len;
	o->val = NULL;
	if (len > 0) {
		if ((o->val = malloc(len)) == NULL)
			probe_errx("out of memory");
		memcpy(o->val, val, len);
	}
}

/* Store a uint option (Content-Format, Accept) in minimal encoding. */
static void
probe_opt_add_uint(struct probe *p, uint16_t num, unsigned int v)
{
	uint8_t		buf[4];
	unsigned int	len;

	len = coap_encode_var_safe(buf, sizeof(buf), v);
	probe_opt_add(p, num, buf, len);
}

/* Value of one hex digit, or -1. */
static int
probe_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Parse -O NUM,HEX (HEX may be empty) into a stored option. */
static void
probe_opt_add_raw(struct probe *p, const char *arg)
{
	const char	*comma, *h;
	char		 numstr[8];
	uint8_t		*val = NULL;
	size_t		 n, hexlen, i;
	long long	 num;
	int		 hi, lo;

	if ((comma = strchr(arg, ',')) == NULL ||
	    (n = (size_t)(comma - arg)) == 0 || n >= sizeof(numstr))
		probe_errx("-O %s: expected NUM,HEX", arg);
	memcpy(numstr, arg, n);
	numstr[n] = '\0';
	if (probe_number(numstr, 0, 65535, &num) == -1)
		probe_errx("-O %s: option number must be 0..65535", arg);
	h = comma + 1;
	hexlen = strlen(h);
	if (hexlen % 2 != 0)
		probe_errx("-O %s: odd number of hex digits", arg);
	if (hexlen > 0 && (val = malloc(hexlen / 2)) == NULL)
		probe_errx("out of memory");
	for (i = 0; i < hexlen / 2; i++) {
		if ((hi = probe_hexval(h[2 * i])) == -1 ||
		    (lo = probe_hexval(h[2 * i + 1])) == -1)
			probe_errx("-O %s: bad hex digit", arg);
		val[i] = (uint8_t)(hi << 4 | lo);
	}
	probe_opt_add(p, (uint16_t)num, val, hexlen / 2);
	free(val);
}

/* Split "/a/b?x=1&y" into Uri-Path and Uri-Query options. */
static void
probe_opt_add_uri(struct probe *p, const char *uri)
{
	const char	*s, *end, *q;
	uint16_t	 num = COAP_OPTION_URI_PATH;
	char		 sep = '/';

	q = strchr(uri, '?');
	for (s = uri; *s != '\0'; s = end) {
		if (num == COAP_OPTION_URI_PATH && q != NULL && s == q) {
			num = COAP_OPTION_URI_QUERY;
			sep = '&';
			s++;
		}
		if (*s == sep) {
			end = s + 1;
			continue;
		}
		end = s;
		while (*end != '\0' && *end != sep &&
		    !(num == COAP_OPTION_URI_PATH && end == q))
			end++;
		if (end > s)
			probe_opt_add(p, num, (const uint8_t *)s,
			    (size_t)(end - s));
	}
}

/* Read the whole request body file into p->body. */
static void
probe_read_body(struct probe *p)
{
	FILE	*f;
	uint8_t	 chunk[4096];
	size_t	 n;

	p->body.cap = PROBE_MAX_FILE;
	if ((f = fopen(p->bodyfile, "rb")) == NULL)
		probe_errx("%s: %s", p->bodyfile, strerror(errno));
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (probe_buf_append(&p->body, chunk, n) == -1)
			probe_errx("%s: larger than %u bytes", p->bodyfile,
			    PROBE_MAX_FILE);
	}
	if (ferror(f))
		probe_errx("%s: read error", p->bodyfile);
	fclose(f);
}

/* Map a method name (any case) to its request code; exits if unknown. */
static coap_pdu_code_t
probe_method(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof(probe_methods) / sizeof(probe_methods[0]); i++)
		if (strcasecmp(name, probe_methods[i].name) == 0)
			return probe_methods[i].code;
	probe_errx("-m %s: unknown method", name);
}

/* Parse the command line into p; exits on any error. */
static void
probe_parse_args(struct probe *p, int argc, char *argv[])
{
	int	ch;

	p->addr = "127.0.0.1";
	p->port = "5684";
	p->method = COAP_REQUEST_CODE_GET;
	p->b1_szx = p->b2_szx = -1;
	p->skip = -1;
	p->restart_after = p->pause_after = -1;
	p->wait_s = 15;

	while ((ch = getopt(argc, argv,
	    "2:a:A:b:c:C:D:f:g:G:k:KL:m:nNo:O:p:P:qrR:s:S:t:u:vw:Xx:Y:Z:")) != -1) {
		switch (ch) {
		case '2':
			/* 7 is allowed here, to provoke the 4.00 for BERT. */
			p->b2_szx = (int)probe_arg_number(ch, optarg, 0, 7);
			break;
		case 'a':
			p->addr = optarg;
			break;
		case 'A':
			probe_opt_add_uint(p, COAP_OPTION_ACCEPT,
			    (unsigned int)probe_arg_number(ch, optarg, 0,
			    65535));
			break;
		case 'b':
			p->b1_szx = (int)probe_arg_number(ch, optarg, 0,
			    PROBE_SZX_MAX);
			break;
		case 'c':
			p->cert = optarg;
			break;
		case 'C':
			p->cafile = optarg;
			break;
		case 'D':
			p->dups = (int)probe_arg_number(ch, optarg, 0,
			    PROBE_MAX_DUPS);
			break;
		case 'f':
			p->bodyfile = optarg;
			break;
		case 'G':
			p->skip = (long)probe_arg_number(ch, optarg, 0,
			    PROBE_BLOCK_NUM_MAX);
			break;
		case 'k':
			p->key = optarg;
			break;
		case 'm':
			p->method = probe_method(optarg);
			break;
		case 'N':
			p->non = 1;
			break;
		case 'n':
			p->noack = 1;
			break;
		case 'K':
			p->reset = 1;
			break;
		case 'q':
			p->listen = 1;
			break;
		case 'R':
		case 'S': {
			char		*colon = strchr(optarg, ':');
			long long	 v;

			if (colon == NULL)
				probe_errx("-%c %s: expected NUM:%s", ch, optarg,
				    ch == 'R' ? "FILE" : "MS");
			*colon = '\0';
			v = probe_arg_number(ch, optarg, 0, PROBE_BLOCK_NUM_MAX);
			if (ch == 'R') {
				p->restart_after = (long)v;
				p->restart_file = colon + 1;
			} else {
				p->pause_after = (long)v;
				p->pause_blk_ms = (int)probe_arg_number(ch,
				    colon + 1, 1, 600000);
			}
			break;
		}
		case 'o':
			p->outfile = optarg;
			break;
		case 'O':
			probe_opt_add_raw(p, optarg);
			break;
		case 'p':
			(void)probe_arg_number(ch, optarg, 1, 65535);
			p->port = optarg;
			break;
		case 't':
			probe_opt_add_uint(p, COAP_OPTION_CONTENT_FORMAT,
			    (unsigned int)probe_arg_number(ch, optarg, 0,
			    65535));
			break;
		case 'u':
			p->path = optarg;
			break;
		case 'v':
			p->verbose = 1;
			break;
		case 'w':
			p->wait_s = (int)probe_arg_number(ch, optarg, 1,
			    PROBE_MAX_WAIT);
			break;
		case 'X':
			p->depart = 1;
			break;
		case 'x':
			p->depart = 1;
			p->depart_ms = (int)probe_arg_number(ch, optarg, 1,
			    600000);
			break;
		case 'g':
			p->pre_path = optarg;
			break;
		case 'Y':
			p->csr_key = optarg;
			break;
		case 's':
			p->csr_subject = optarg;
			break;
		case 'L':
			if (strcmp(optarg, "tls-unique") != 0 &&
			    strcmp(optarg, "wrong") != 0)
				probe_errx("-L: tls-unique or wrong");
			p->link = optarg;
			break;
		case 'Z':
			p->ciphers = optarg;
			break;
		case 'r':
			p->resume = 1;
			break;
		case 'P':
			p->pause_ms = (int)probe_arg_number(ch, optarg, 0,
			    600000);
			break;
		default:
			usage();
		}
	}
	if (optind != argc || p->cert == NULL || p->key == NULL ||
	    p->cafile == NULL || p->path == NULL)
		usage();
	if ((p->skip != -1 || p->restart_after != -1 ||
	    p->pause_after != -1) && p->b1_szx == -1)
		probe_errx("-G, -R and -S need -b");
	if (p->noack + p->reset + p->listen > 1)
		probe_errx("-n, -K and -q exclude each other");
	if (p->csr_key != NULL && p->bodyfile != NULL)
		probe_errx("-Y and -f exclude each other");
	if ((p->link != NULL || p->csr_subject != NULL) && p->csr_key == NULL)
		probe_errx("-L and -s need -Y");
	if (access(p->cert, R_OK) == -1)
		probe_errx("%s: %s", p->cert, strerror(errno));
	if (access(p->key, R_OK) == -1)
		probe_errx("%s: %s", p->key, strerror(errno));
	if (access(p->cafile, R_OK) == -1)
		probe_errx("%s: %s", p->cafile, strerror(errno));
	probe_opt_add_uri(p, p->path);
	if (p->bodyfile != NULL)
		probe_read_body(p);
}

/*
 * -n / -K: count a received CON answer with our token in libcoap's PDU
 * dump ("v:1 t:CON c:2.04 i:016d {token} ..."). libcoap passes a
 * retransmitted copy to no handler, so its debug dump is where each copy
 * shows.
 */
static void
probe_count_copy(struct probe *p, const char *message)
{
	char	tok[2 * PROBE_TOKEN_LEN + 3];
	size_t	i;

	if (strncmp(message, "v:1 t:CON c:", 12) != 0 ||
	    message[12] < '2' || message[12] > '5')
		return;
	tok[0] = '{';
	for (i = 0; i < PROBE_TOKEN_LEN; i++)
		snprintf(tok + 1 + 2 * i, 3, "%02x", p->token[i]);
	snprintf(tok + 1 + 2 * PROBE_TOKEN_LEN, 2, "}");
	if (strstr(message, tok) == NULL)
		return;
	if (p->copies < PROBE_MAX_COPIES)
		p->copy_ms[p->copies] = probe_now_ms();
	p->copies++;
}

/* Route libcoap's log lines to stderr, keeping stdout for results. */
static void
probe_log_cb(coap_log_t level, const char *message)
{
	struct probe	*p = probe_g;

	if (p != NULL && (p->noack || p->reset || p->listen)) {
		probe_count_copy(p, message);
		/* debug level only for counting: print what -v asked */
		if (!p->verbose && level > LOG_WARNING)
			return;
	}
	fprintf(stderr, "libcoap[%d]: %s", level, message);
	if (*message != '\0' && message[strlen(message) - 1] != '\n')
		fputc('\n', stderr);
}

/* Track the DTLS session: up, closed or failed. */
static int
probe_event_cb(coap_session_t *s, const coap_event_t ev)
{
	struct probe	*p = probe_g;

	if (p == NULL || (p->sess != NULL && s != p->sess))
		return 0;
	switch (ev) {
	case COAP_EVENT_DTLS_CONNECTED:
		p->connected = 1;
		break;
	case COAP_EVENT_DTLS_CLOSED:
	case COAP_EVENT_DTLS_ERROR:
		p->dtls_down = 1;
		break;
	default:
		break;
	}
	return 0;
}

/* Note that libcoap gave up on our request (retries, RST, TLS, ICMP). */
static void
probe_nack_cb(coap_session_t *s, const coap_pdu_t *sent,
    const coap_nack_reason_t reason, const coap_mid_t mid)
{
	struct probe	*p = probe_g;

	(void)sent;
	if (p == NULL || s != p->sess || mid != p->mid || p->rep.have)
		return;
	if (p->nack == -1)
		p->nack = (int)reason;
}

/* Decode a uint option into *out, or leave -1 when it is absent. */
static void
probe_get_uint(const coap_pdu_t *pdu, coap_option_num_t num, int64_t *out)
{
	coap_opt_iterator_t	 oi;
	coap_opt_t		*opt;

	*out = -1;
	if ((opt = coap_check_option(pdu, num, &oi)) != NULL)
		*out = coap_decode_var_bytes8(coap_opt_value(opt),
		    coap_opt_length(opt));
}

/* Copy what we report from an answer PDU into r; -1 if out of memory. */
static int
probe_reply_copy(struct probe_reply *r, const coap_pdu_t *pdu)
{
	coap_opt_iterator_t	 oi;
	coap_opt_t		*opt;
	const uint8_t		*data;
	size_t			 len;

	r->have = 1;
	r->type = coap_pdu_get_type(pdu);
	r->code = coap_pdu_get_code(pdu);
	r->mid = coap_pdu_get_mid(pdu);
	probe_get_uint(pdu, COAP_OPTION_CONTENT_FORMAT, &r->cf);
	probe_get_uint(pdu, COAP_OPTION_MAXAGE, &r->maxage);
	probe_get_uint(pdu, COAP_OPTION_SIZE1, &r->size1);
	probe_get_uint(pdu, COAP_OPTION_SIZE2, &r->size2);
	probe_get_uint(pdu, COAP_OPTION_BLOCK1, &r->block1);
	probe_get_uint(pdu, COAP_OPTION_BLOCK2, &r->block2);
	r->has_etag = 0;
	if ((opt = coap_check_option(pdu, COAP_OPTION_ETAG, &oi)) != NULL) {
		r->has_etag = 1;
		r->etag_len = coap_opt_length(opt);
		if (r->etag_len > sizeof(r->etag))
			r->etag_len = sizeof(r->etag);
		memcpy(r->etag, coap_opt_value(opt), r->etag_len);
	}
	r->body.len = 0;
	r->body.cap = PROBE_MAX_ANSWER;
	if (coap_get_data(pdu, &len, &data) && len > 0 &&
	    probe_buf_append(&r->body, data, len) == -1)
		return -1;
	return 0;
}

/*
 * Take the answer to the exchange in progress.  A piggybacked answer must
 * carry our MID; a separate one (CON or NON) is matched by token alone
 * (RFC 7252 5.3.2).  Only the first answer is kept; later ones (to -D
 * copies) are counted.
 */
static coap_response_t
probe_response_cb(coap_session_t *s, const coap_pdu_t *sent,
    const coap_pdu_t *rcvd, const coap_mid_t mid)
{
	struct probe		*p = probe_g;
	coap_bin_const_t	 tok;

	(void)sent;
	if (p == NULL || s != p->sess)
		return COAP_RESPONSE_OK;
	tok = coap_pdu_get_token(rcvd);
	if (tok.length != sizeof(p->token) ||
	    memcmp(tok.s, p->token, sizeof(p->token)) != 0)
		return COAP_RESPONSE_OK;
	if (coap_pdu_get_type(rcvd) == COAP_MESSAGE_ACK && mid != p->mid)
		return COAP_RESPONSE_OK;
	p->responses++;
	if (!p->rep.have && probe_reply_copy(&p->rep, rcvd) == -1)
		probe_errx("answer larger than %u bytes", PROBE_MAX_ANSWER);
	/* libcoap answers COAP_RESPONSE_FAIL to a CON with an RST */
	if (p->reset && coap_pdu_get_type(rcvd) == COAP_MESSAGE_CON)
		return COAP_RESPONSE_FAIL;
	return COAP_RESPONSE_OK;
}

/* Return the 4-bit field for a delta or length; its extension goes to ext. */
static unsigned int
probe_nibble(uint32_t v, uint8_t *ext, size_t *extlen)
{
	if (v < 13) {
		*extlen = 0;
		return v;
	}
	if (v < 269) {
		ext[0] = (uint8_t)(v - 13);
		*extlen = 1;
		return 13;
	}
	ext[0] = (uint8_t)((v - 269) >> 8);
	ext[1] = (uint8_t)(v - 269);
	*extlen = 2;
	return 14;
}

/* Append one option (RFC 7252 3.1) after the one numbered prev. */
static int
probe_wire_option(struct probe_buf *w, uint16_t prev,
    const struct probe_opt *o)
{
	uint8_t		hdr[5], dext[2], lext[2];
	size_t		dlen, llen;
	unsigned int	dnib, lnib;

	dnib = probe_nibble((uint32_t)(o->num - prev), dext, &dlen);
	lnib = probe_nibble((uint32_t)o->len, lext, &llen);
	hdr[0] = (uint8_t)(dnib << 4 | lnib);
	memcpy(hdr + 1, dext, dlen);
	memcpy(hdr + 1 + dlen, lext, llen);
	if (probe_buf_append(w, hdr, 1 + dlen + llen) == -1 ||
	    probe_buf_append(w, o->val, o->len) == -1)
		return -1;
	return 0;
}

/*
 * Build one request of the run as wire bytes, then let libcoap parse
 * them into a PDU.  We encode ourselves because coap_add_option() in
 * 4.3.1 drops a repeated non-repeatable option (two Accepts) with only
 * an info-level log line; coap_pdu_parse() keeps every option as given.
 * The options are the user's (stably sorted, so repeats keep their order)
 * plus Block1/Block2 (raw values, -1 for none).  The wire bytes stay in
 * w for -D copies; the caller owns the PDU until coap_send().
 */
static coap_pdu_t *
probe_pdu_new(struct probe *p, struct probe_buf *w, int64_t block1,
    int64_t block2, const uint8_t *data, size_t len)
{
	const struct probe_opt	*list[PROBE_MAX_OPTS + 2], *t;
	struct probe_opt	 b1, b2;
	coap_pdu_t		*pdu;
	uint8_t			 hdr[4], b1v[4], b2v[4];
	size_t			 n = 0, i, j, maxpdu;
	uint16_t		 prev = 0;
	coap_mid_t		 mid;

	for (i = 0; i < p->nopts; i++)
		list[n++] = &p->opts[i];
	if (block1 >= 0) {
		b1.num = COAP_OPTION_BLOCK1;
		b1.len = coap_encode_var_safe(b1v, sizeof(b1v),
		    (unsigned int)block1);
		b1.val = b1v;
		list[n++] = &b1;
	}
	if (block2 >= 0) {
		b2.num = COAP_OPTION_BLOCK2;
		b2.len = coap_encode_var_safe(b2v, sizeof(b2v),
		    (unsigned int)block2);
		b2.val = b2v;
		list[n++] = &b2;
	}
	for (i = 1; i < n; i++) {
		t = list[i];
		for (j = i; j > 0 && list[j - 1]->num > t->num; j--)
			list[j] = list[j - 1];
		list[j] = t;
	}

	/* libcoap counts the size after the 4-byte header. */
	maxpdu = coap_session_max_pdu_size(p->sess);
	w->len = 0;
	w->cap = maxpdu + sizeof(hdr);
	mid = coap_new_message_id(p->sess);
	hdr[0] = (uint8_t)(1 << 6 | (p->non ? COAP_MESSAGE_NON :
	    COAP_MESSAGE_CON) << 4 | sizeof(p->token));
	hdr[1] = (uint8_t)p->method;
	hdr[2] = (uint8_t)((unsigned int)mid >> 8);
	hdr[3] = (uint8_t)mid;
	if (probe_buf_append(w, hdr, sizeof(hdr)) == -1 ||
	    probe_buf_append(w, p->token, sizeof(p->token)) == -1)
		goto big;
	for (i = 0; i < n; i++) {
		if (probe_wire_option(w, prev, list[i]) == -1)
			goto big;
		prev = list[i]->num;
	}
	if (len > 0 && (probe_buf_append(w, "\xff", 1) == -1 ||
	    probe_buf_append(w, data, len) == -1))
		goto big;

	if ((pdu = coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET, 0,
	    maxpdu)) == NULL) {
		fprintf(stderr, "estcoap-probe: coap_pdu_init failed\n");
		return NULL;
	}
	if (!coap_pdu_parse(coap_session_get_proto(p->sess), w->data, w->len,
	    pdu)) {
		fprintf(stderr, "estcoap-probe: libcoap rejects the request "
		    "(see -v for why)\n");
		coap_delete_pdu(pdu);
		return NULL;
	}
	return pdu;

big:
	fprintf(stderr, "estcoap-probe: request with %zu payload bytes does "
	    "not fit one PDU of at most %zu bytes; use -b\n", len, maxpdu);
	return NULL;
}

/* Forget the previous exchange's answer before sending a new request. */
static void
probe_exchange_reset(struct probe *p)
{
	struct probe_buf	keep = p->rep.body;

	memset(&p->rep, 0, sizeof(p->rep));
	keep.len = 0;
	p->rep.body = keep;
	p->nack = -1;
	p->empty_ack = 0;
	p->responses = 0;
}

/* Send a -D copy: the request's exact bytes, straight into the DTLS session. */
static int
probe_send_copy(struct probe *p, const uint8_t *wire, size_t len)
{
	coap_tls_library_t	 lib;
	SSL			*ssl;

	ssl = coap_session_get_tls(p->sess, &lib);
	if (ssl == NULL || lib != COAP_TLS_LIBRARY_OPENSSL) {
		fprintf(stderr, "estcoap-probe: no OpenSSL session for -D\n");
		return -1;
	}
	if (SSL_write(ssl, wire, (int)len) != (int)len) {
		fprintf(stderr, "estcoap-probe: SSL_write of a copy failed\n");
		return -1;
	}
	if (p->verbose)
		fprintf(stderr, "estcoap-probe: copy of mid=0x%04x sent "
		    "(%zu bytes)\n", (unsigned)p->mid & 0xffff, len);
	return 0;
}

/*
 * -n: from now on nothing we send reaches the server, so the separate
 * answer is never acknowledged: the DTLS write side goes to a null BIO.
 */
static int
probe_mute(struct probe *p)
{
	coap_tls_library_t	 lib;
	SSL			*ssl;
	BIO			*null;

	ssl = coap_session_get_tls(p->sess, &lib);
	if (ssl == NULL || lib != COAP_TLS_LIBRARY_OPENSSL ||
	    (null = BIO_new(BIO_s_null())) == NULL) {
		fprintf(stderr, "estcoap-probe: cannot mute the session\n");
		return -1;
	}
	/* libcoap's BIO may also be the read side: keep a reference */
	BIO_up_ref(SSL_get_wbio(ssl));
	SSL_set0_wbio(ssl, null);
	p->muted = 1;
	return 0;
}

/* -n / -K: listen until -w runs out, counting the copies that arrive. */
static void
probe_listen_copies(struct probe *p)
{
	int64_t	now;

	while ((now = probe_now_ms()) < p->deadline && !p->dtls_down) {
		int64_t wait = p->deadline - now;

		if (wait > PROBE_STEP_MS)
			wait = PROBE_STEP_MS;
		if (coap_io_process(p->ctx, (uint32_t)wait) < 0)
			break;
	}
	printf("copies=%u\n", p->copies);
	fputs("gaps_ms=", stdout);
	for (unsigned i = 1; i < p->copies && i < PROBE_MAX_COPIES; i++)
		printf("%s%lld", i > 1 ? "," : "",
		    (long long)(p->copy_ms[i] - p->copy_ms[i - 1]));
	putchar('\n');
}

/* Milliseconds to the earlier of now..a and now..b (b ignored when <= 0). */
static int64_t
probe_until(int64_t now, int64_t a, int64_t b)
{
	int64_t	t = a;

	if (b > 0 && b < t)
		t = b;
	return t - now;
}

/*
 * Send one request and run libcoap until its answer arrives, libcoap gives
 * up, the session drops or the deadline passes.  With final set, -D and -X
 * apply.  Takes ownership of pdu.
 *
 * libcoap 4.3.1 offers no callback for an empty ACK.  A CON request sits
 * in the context's retransmit queue until its ACK arrives, so when
 * coap_can_exit() turns true with neither an answer nor a NACK recorded,
 * the ACK was empty.  Each coap_io_process() call reads one datagram per
 * ready socket, so the ACK and a separate answer are seen in turn.
 */
static enum probe_result
probe_exchange(struct probe *p, coap_pdu_t *pdu, const struct probe_buf *w,
    int final)
{
	const uint8_t	*wire = NULL;
	int64_t		 now, t0, next_dup = 0, last_dup = 0, wait, depart_at;
	int		 dups_left = 0;

	probe_exchange_reset(p);
	p->mid = coap_pdu_get_mid(pdu);
	p->con = coap_pdu_get_type(pdu) == COAP_MESSAGE_CON;
	if (final && p->dups > 0) {
		wire = w->data;
		dups_left = p->dups;
	}
	if (coap_send(p->sess, pdu) == COAP_INVALID_MID) {
		fprintf(stderr, "estcoap-probe: coap_send failed\n");
		return PROBE_FAILED;
	}
	t0 = probe_now_ms();
	if (dups_left > 0)
		next_dup = t0 + PROBE_DUP_MS;
	depart_at = final && p->depart ? t0 + (p->depart_ms > 0 ?
	    p->depart_ms : PROBE_DEPART_MS) : 0;

	for (;;) {
		now = probe_now_ms();
		/* With copies pending, keep going; answers to them count. */
		if (p->rep.have && dups_left == 0 &&
		    (wire == NULL || now >= last_dup + PROBE_DUP_MS))
			break;
		if ((!p->rep.have && p->nack != -1) || p->dtls_down)
			break;
		if (depart_at > 0 && !p->rep.have &&
		    ((p->depart_ms == 0 && p->empty_ack) || now >= depart_at))
			break;
		if (now >= p->deadline)
			break;
		if (dups_left > 0 && now >= next_dup) {
			if (probe_send_copy(p, wire, w->len) == -1)
				return PROBE_FAILED;
			p->dup_sent++;
			dups_left--;
			last_dup = now;
			next_dup = now + PROBE_DUP_MS;
			continue;
		}
		wait = probe_until(now, p->deadline,
		    dups_left > 0 ? next_dup : depart_at);
		if (wire != NULL && dups_left == 0 && p->rep.have)
			wait = probe_until(now, p->deadline,
			    last_dup + PROBE_DUP_MS);
		if (wait > PROBE_STEP_MS)
			wait = PROBE_STEP_MS;
		if (wait < 1)
			wait = 1;
		if (coap_io_process(p->ctx, (uint32_t)wait) < 0) {
			fprintf(stderr, "estcoap-probe: coap_io_process "
			    "failed\n");
			return PROBE_FAILED;
		}
		if (p->con && !p->rep.have && !p->empty_ack &&
		    p->nack == -1 && coap_can_exit(p->ctx))
			p->empty_ack = 1;
		if (final && p->noack && p->empty_ack && !p->muted &&
		    probe_mute(p) == -1)
			return PROBE_FAILED;
	}
	if (final)
		p->dup_responses = p->responses;
	if (p->rep.have)
		return PROBE_ANSWER;
	if (p->nack != -1)
		return PROBE_NACK;
	if (p->dtls_down)
		return PROBE_CLOSED;
	if (depart_at > 0 && now < p->deadline)
		return PROBE_DEPARTED;
	return PROBE_TIMEOUT;
}

/* Format a CoAP code as c.dd into buf. */
static const char *
probe_code_str(coap_pdu_code_t code, char *buf, size_t size)
{
	snprintf(buf, size, "%u.%02u", (unsigned)code >> 5 & 7,
	    (unsigned)code & 0x1f);
	return buf;
}

/*
 * Upload the body in Block1 blocks of our own making, one exchange each,
 * all with the run's token (RFC 7959 2.5 allows it).  Blocks before the
 * last must get 2.31; any other code ends the upload and is the answer.
 */
static enum probe_result
probe_upload(struct probe *p)
{
	coap_pdu_t		*pdu;
	enum probe_result	 r = PROBE_FAILED;
	size_t			 bsz, nblk, num, off, len;
	int64_t			 b1;
	int			 more, first = 1;
	char			 code[16], echo[40];

	bsz = (size_t)1 << (p->b1_szx + 4);
	nblk = p->body.len == 0 ? 1 : (p->body.len + bsz - 1) / bsz;
	if (nblk - 1 > PROBE_BLOCK_NUM_MAX) {
		fprintf(stderr, "estcoap-probe: body needs more than 2^20 "
		    "blocks\n");
		return PROBE_FAILED;
	}
	for (num = 0; num < nblk; num++) {
		if (p->skip >= 0 && num == (size_t)p->skip)
			continue;
		off = num * bsz;
		len = p->body.len - off < bsz ? p->body.len - off : bsz;
		more = num + 1 < nblk;
		b1 = (int64_t)(num << 4 | (size_t)more << 3 |
		    (size_t)p->b1_szx);
		if ((pdu = probe_pdu_new(p, &p->wire, b1, first ? p->b2_szx :
		    -1, p->body.data + off, len)) == NULL)
			return PROBE_FAILED;
		first = 0;
		r = probe_exchange(p, pdu, &p->wire, !more);
		if (r != PROBE_ANSWER)
			return r;
		if (more) {
			if (p->rep.block1 >= 0)
				snprintf(echo, sizeof(echo), "%lld/%d/%d",
				    (long long)(p->rep.block1 >> 4),
				    (int)(p->rep.block1 >> 3 & 1),
				    (int)(p->rep.block1 & 7));
			else
				snprintf(echo, sizeof(echo), "none");
			printf("block1 num=%zu code=%s echo=%s\n", num,
			    probe_code_str(p->rep.code, code, sizeof(code)),
			    echo);
			fflush(stdout);
			if (p->rep.code != COAP_RESPONSE_CODE(231))
				return PROBE_ANSWER;
		}
		if (p->pause_after >= 0 && num == (size_t)p->pause_after) {
			/* -S: idle here, the session kept serviced */
			int64_t until = probe_now_ms() + p->pause_blk_ms;

			while (probe_now_ms() < until)
				coap_io_process(p->ctx,
				    (uint32_t)(until - probe_now_ms()));
			printf("paused_ms=%d\n", p->pause_blk_ms);
		}
		if (p->restart_after >= 0 && num == (size_t)p->restart_after) {
			/* -R: a new sequence at NUM 0 with another body */
			probe_buf_free(&p->body);
			p->bodyfile = p->restart_file;
			probe_read_body(p);
			p->restart_after = -1;
			nblk = p->body.len == 0 ? 1 :
			    (p->body.len + bsz - 1) / bsz;
			printf("restarted after=%zu\n", num);
			num = (size_t)-1;	/* the loop makes it 0 */
			first = 1;
		}
	}
	return r;
}

/*
 * Fetch Block2 blocks 1.. of an answer whose block 0 is in p->rep,
 * repeating the request with Block2(n/0/szx), no payload and no Block1
 * (RFC 7959 2.4, 3.3).  The body accumulates in out; the answer that
 * ends the walk is left in p->rep.  Sets *blocks, and *incomplete or
 * *etag_mismatch when the walk stops early or the ETag changes.
 */
static enum probe_result
probe_fetch_rest(struct probe *p, struct probe_buf *out, unsigned *blocks,
    int *incomplete, int *etag_mismatch)
{
	coap_pdu_t		*pdu;
	enum probe_result	 r;
	uint8_t			 etag[PROBE_ETAG_MAX];
	size_t			 etag_len;
	int64_t			 v;
	uint32_t		 num, szx;
	int			 has_etag, more;

	v = p->rep.block2;
	num = (uint32_t)(v >> 4);
	more = (int)(v >> 3 & 1);
	szx = (uint32_t)(v & 7);
	has_etag = p->rep.has_etag;
	etag_len = p->rep.etag_len;
	memcpy(etag, p->rep.etag, etag_len);
	*blocks = 1;
	if (szx > PROBE_SZX_MAX ||
	    (uint64_t)num << (szx + 4) != out->len) {
		*incomplete = 1;
		return PROBE_ANSWER;
	}
	if (probe_buf_append(out, p->rep.body.data, p->rep.body.len) == -1)
		goto big;
	while (more) {
		if (num == PROBE_BLOCK_NUM_MAX) {
			*incomplete = 1;
			return PROBE_ANSWER;
		}
		num++;
		if ((pdu = probe_pdu_new(p, &p->wire, -1,
		    (int64_t)(num << 4 | szx), NULL, 0)) == NULL)
			return PROBE_FAILED;
		if ((r = probe_exchange(p, pdu, &p->wire, 0)) != PROBE_ANSWER)
			return r;
		v = p->rep.block2;
		if (COAP_RESPONSE_CLASS(p->rep.code) != 2 || v < 0 ||
		    (uint32_t)(v >> 4) != num || (uint32_t)(v & 7) != szx) {
			*incomplete = 1;
			return PROBE_ANSWER;
		}
		if (p->rep.has_etag != has_etag || (has_etag &&
		    (p->rep.etag_len != etag_len ||
		    memcmp(p->rep.etag, etag, etag_len) != 0)))
			*etag_mismatch = 1;
		if (probe_buf_append(out, p->rep.body.data,
		    p->rep.body.len) == -1)
			goto big;
		(*blocks)++;
		more = (int)(v >> 3 & 1);
	}
	return PROBE_ANSWER;

big:
	fprintf(stderr, "estcoap-probe: answer larger than %u bytes\n",
	    PROBE_MAX_ANSWER);
	return PROBE_FAILED;
}

/* Print a payload as one line: printable ASCII as is, the rest as \xNN. */
static void
probe_print_text(const uint8_t *d, size_t len)
{
	size_t	i, n = len < PROBE_TEXT_MAX ? len : PROBE_TEXT_MAX;

	fputs("payload_text=", stdout);
	for (i = 0; i < n; i++) {
		if (d[i] == '\\')
			fputs("\\\\", stdout);
		else if (d[i] >= 0x20 && d[i] < 0x7f)
			putchar(d[i]);
		else
			printf("\\x%02x", d[i]);
	}
	if (n < len)
		fputs("...", stdout);
	putchar('\n');
}

/* Print the option lines of an answer (everything but the body). */
static void
probe_print_reply(const struct probe_reply *r, int con_request)
{
	static const char *const types[] = { "CON", "NON", "ACK", "RST" };
	char	code[16];
	size_t	i;

	if (con_request && r->type != COAP_MESSAGE_ACK)
		printf("separate=1\n");
	printf("type=%s\n", types[r->type & 3]);
	printf("code=%s\n", probe_code_str(r->code, code, sizeof(code)));
	if (r->cf >= 0)
		printf("cf=%lld\n", (long long)r->cf);
	else
		printf("cf=none\n");
	if (r->maxage >= 0)
		printf("maxage=%lld\n", (long long)r->maxage);
	if (r->size1 >= 0)
		printf("size1=%lld\n", (long long)r->size1);
	if (r->size2 >= 0)
		printf("size2=%lld\n", (long long)r->size2);
	if (r->block1 >= 0)
		printf("block1=%lld/%d/%d\n", (long long)(r->block1 >> 4),
		    (int)(r->block1 >> 3 & 1), (int)(r->block1 & 7));
	if (r->block2 >= 0)
		printf("block2=%lld/%d/%d\n", (long long)(r->block2 >> 4),
		    (int)(r->block2 >> 3 & 1), (int)(r->block2 & 7));
	if (r->has_etag) {
		fputs("etag=", stdout);
		for (i = 0; i < r->etag_len; i++)
			printf("%02x", r->etag[i]);
		putchar('\n');
	}
}

/* Write the answer body to -o's file. */
static int
probe_write_out(const char *path, const struct probe_buf *b)
{
	FILE	*f;

	if ((f = fopen(path, "wb")) == NULL) {
		fprintf(stderr, "estcoap-probe: %s: %s\n", path,
		    strerror(errno));
		return -1;
	}
	if ((b->len > 0 && fwrite(b->data, 1, b->len, f) != b->len) ||
	    fclose(f) == EOF) {
		fprintf(stderr, "estcoap-probe: %s: write error\n", path);
		return -1;
	}
	return 0;
}

/*
 * Set up one new client SSL: -Z restricts the suites (and the curve to
 * P-256), -r offers the saved session for resumption.
 */
static int
probe_tls_setup(SSL *ssl)
{
	struct probe	*p = probe_g;

	if (p->ciphers != NULL && (SSL_set_cipher_list(ssl, p->ciphers) != 1 ||
	    SSL_set1_groups_list(ssl, "P-256") != 1)) {
		fprintf(stderr, "estcoap-probe: -Z %s: not usable\n",
		    p->ciphers);
		return 0;
	}
	if (p->saved != NULL && SSL_set_session(ssl, p->saved) != 1) {
		fprintf(stderr, "estcoap-probe: cannot offer the session\n");
		return 0;
	}
	return 1;
}

/* libcoap's own info callback, which we chain to. */
static void	(*probe_prev_info)(const SSL *, int, int);

/*
 * libcoap 4.3.1 calls no set-up hook for client sessions, and sends the
 * ClientHello from coap_new_client_session_pki(). The info callback of
 * its SSL_CTX runs at the start of each handshake, before the ClientHello
 * is built: that is where -Z and -r take effect.
 */
static void
probe_info_cb(const SSL *cssl, int where, int ret)
{
	if (probe_prev_info != NULL)
		probe_prev_info(cssl, where, ret);
	if ((where & SSL_CB_HANDSHAKE_START) && !SSL_is_server(cssl))
		(void)probe_tls_setup((SSL *)cssl);
}

/* The OpenSSL object of the probe's session, or NULL. */
static SSL *
probe_ssl(struct probe *p)
{
	coap_tls_library_t	 lib;
	void			*tls;

	if (p->sess == NULL)
		return NULL;
	tls = coap_session_get_tls(p->sess, &lib);
	return lib == COAP_TLS_LIBRARY_OPENSSL ? tls : NULL;
}

/* Put probe_info_cb on the SSL_CTX behind the current session. */
static void
probe_hook(struct probe *p)
{
	SSL	*ssl = probe_ssl(p);
	SSL_CTX	*ctx = ssl != NULL ? SSL_get_SSL_CTX(ssl) : NULL;

	if (ctx == NULL || SSL_CTX_get_info_callback(ctx) == probe_info_cb)
		return;
	probe_prev_info = SSL_CTX_get_info_callback(ctx);
	SSL_CTX_set_info_callback(ctx, probe_info_cb);
}

/* One client session to dst, until its handshake ends or -w passes. */
static int
probe_connect_once(struct probe *p, const coap_address_t *dst,
    coap_dtls_pki_t *pki)
{
	int64_t now, wait;

	p->connected = p->dtls_down = 0;
	if ((p->sess = coap_new_client_session_pki(p->ctx, NULL, dst,
	    COAP_PROTO_DTLS, pki)) == NULL)
		return 0;
	coap_session_set_mtu(p->sess, PROBE_MTU);
	while (!p->connected && !p->dtls_down &&
	    coap_session_get_state(p->sess) != COAP_SESSION_STATE_NONE) {
		now = probe_now_ms();
		if (now >= p->deadline)
			break;
		wait = p->deadline - now;
		if (wait > PROBE_STEP_MS)
			wait = PROBE_STEP_MS;
		if (coap_io_process(p->ctx, (uint32_t)wait) < 0)
			break;
	}
	return p->connected && !p->dtls_down;
}

/*
 * What the session is: version, suite, resumption and tls-unique (RFC
 * 5929: the first Finished of the handshake, the client's own on a full
 * one, the server's on a resumed one). -Y then builds the CSR, with
 * challengePassword = base64(tls-unique) for -L tls-unique.
 */
static int
probe_session_info(struct probe *p)
{
	SSL		*ssl = probe_ssl(p);
	uint8_t		 fin[64], *der;
	char		 b64[4 * sizeof(fin) / 3 + 4];
	size_t		 flen, len;
	struct csrgen	 g = { 0 };

	if (ssl == NULL)
		return 0;
	flen = SSL_session_reused(ssl) ? SSL_get_peer_finished(ssl, fin,
	    sizeof(fin)) : SSL_get_finished(ssl, fin, sizeof(fin));
	if (flen > sizeof(fin))
		flen = 0;
	EVP_EncodeBlock((unsigned char *)b64, fin, (int)flen);
	printf("version=%s\ncipher=%s\nresumed=%d\ntls_unique=%s\n",
	    SSL_get_version(ssl), SSL_get_cipher_name(ssl),
	    SSL_session_reused(ssl), b64);
	if (p->csr_key == NULL)
		return 0;
	if (p->link != NULL && strcmp(p->link, "wrong") == 0)
		b64[0] = b64[0] == 'A' ? 'B' : 'A';
	g.keyfile = p->csr_key;
	g.subject = p->csr_subject != NULL ? p->csr_subject : "/CN=probe";
	g.challenge = p->link != NULL ? b64 : NULL;
	if (csrgen_build(&g, &der, &len) == -1)
		return -1;
	probe_buf_free(&p->body);
	p->body.cap = PROBE_MAX_FILE;
	if (probe_buf_append(&p->body, der, len) == -1) {
		free(der);
		return -1;
	}
	free(der);
	return 0;
}

/*
 * Open the DTLS session and wait for the handshake.  libcoap verifies the
 * server chain against -C (loaded as root CAs, so no check_common_ca,
 * which leaks in 4.3.1); self-signed and expired servers are refused.
 * With -r the first session is closed once up and a second one resumes it.
 */
static int
probe_connect(struct probe *p)
{
	static coap_dtls_pki_t	 pki;
	struct addrinfo		 hints, *res;
	coap_address_t		 dst;
	int			 rc;
	SSL			*ssl;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	if ((rc = getaddrinfo(p->addr, p->port, &hints, &res)) != 0) {
		fprintf(stderr, "estcoap-probe: %s: %s\n", p->addr,
		    gai_strerror(rc));
		return -1;
	}
	coap_address_init(&dst);
	dst.size = res->ai_addrlen;
	memcpy(&dst.addr.sa, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);

	if (!coap_context_set_pki_root_cas(p->ctx, p->cafile, NULL)) {
		fprintf(stderr, "estcoap-probe: %s: cannot load CAs\n",
		    p->cafile);
		return -1;
	}
	memset(&pki, 0, sizeof(pki));
	pki.version = COAP_DTLS_PKI_SETUP_VERSION;
	pki.verify_peer_cert = 1;
	pki.cert_chain_validation = 1;
	pki.cert_chain_verify_depth = 4;
	pki.pki_key.key_type = COAP_PKI_KEY_PEM;
	pki.pki_key.key.pem.public_cert = p->cert;
	pki.pki_key.key.pem.private_key = p->key;
	if (p->ciphers != NULL && !p->resume) {
		/* a first session makes libcoap's SSL_CTX; hook it, drop it */
		if (!probe_connect_once(p, &dst, &pki) && probe_ssl(p) == NULL)
			return 0;
		probe_hook(p);
		coap_session_release(p->sess);
		p->sess = NULL;
		coap_io_process(p->ctx, COAP_IO_NO_WAIT);
	}
	if (!probe_connect_once(p, &dst, &pki))
		return 0;
	if (p->resume) {
		probe_hook(p);
		if ((ssl = probe_ssl(p)) == NULL ||
		    (p->saved = SSL_get1_session(ssl)) == NULL) {
			fprintf(stderr, "estcoap-probe: no session to resume\n");
			return -1;
		}
		/* close_notify out, then a new session from a new port */
		coap_session_release(p->sess);
		p->sess = NULL;
		coap_io_process(p->ctx, COAP_IO_NO_WAIT);
		if (!probe_connect_once(p, &dst, &pki))
			return 0;
	}
	return probe_session_info(p) == -1 ? -1 : 1;
}

/* Free every resource the run holds; safe on a partly set-up probe. */
static void
probe_free(struct probe *p)
{
	size_t	i;

	if (p->sess != NULL)
		coap_session_release(p->sess);
	p->sess = NULL;
	if (p->ctx != NULL)
		coap_free_context(p->ctx);
	p->ctx = NULL;
	coap_cleanup();
	for (i = 0; i < p->nopts; i++)
		free(p->opts[i].val);
	probe_buf_free(&p->rep.body);
	probe_buf_free(&p->body);
	probe_buf_free(&p->wire);
	SSL_SESSION_free(p->saved);
	p->saved = NULL;
}

/* Report how a run without a final answer ended; returns the exit code. */
static int
probe_report_failure(struct probe *p, enum probe_result r, int empty_ack)
{
	static const char *const nacks[] = {
		[COAP_NACK_TOO_MANY_RETRIES] = "too_many_retries",
		[COAP_NACK_NOT_DELIVERABLE] = "not_deliverable",
		[COAP_NACK_RST] = "rst",
		[COAP_NACK_TLS_FAILED] = "tls_failed",
		[COAP_NACK_ICMP_ISSUE] = "icmp",
	};

	if (empty_ack)
		printf("empty_ack=1\n");
	switch (r) {
	case PROBE_DEPARTED:
		printf("departed=1\n");
		return PROBE_EXIT_OK;
	case PROBE_TIMEOUT:
		printf("timeout=1\n");
		return PROBE_EXIT_TIMEOUT;
	case PROBE_NACK:
		printf("nack=%s\n", p->nack >= 0 && (size_t)p->nack <
		    sizeof(nacks) / sizeof(nacks[0]) && nacks[p->nack] ?
		    nacks[p->nack] : "unknown");
		return PROBE_EXIT_NOANSWER;
	case PROBE_CLOSED:
		printf("closed=1\n");
		return PROBE_EXIT_NOANSWER;
	default:
		return PROBE_EXIT_LOCAL;
	}
}

/*
 * Run the request, fetch any remaining Block2 blocks and print the result.
 * What the first answer (block 0) says is what we report; later blocks
 * only add body.  Returns the exit code.
 */
static int
probe_run(struct probe *p)
{
	struct probe_buf	 out = { .cap = PROBE_MAX_ANSWER };
	coap_pdu_t		*pdu;
	enum probe_result	 res;
	coap_pdu_code_t		 code;
	unsigned		 blocks = 0;
	int			 incomplete = 0, etag_mismatch = 0, rc;
	int64_t			 b2;
	char			 cbuf[16];

	if (p->b1_szx >= 0)
		res = probe_upload(p);
	else if ((pdu = probe_pdu_new(p, &p->wire, -1, p->b2_szx,
	    p->body.data, p->body.len)) == NULL)
		res = PROBE_FAILED;
	else
		res = probe_exchange(p, pdu, &p->wire, 1);
	if (res != PROBE_ANSWER) {
		rc = probe_report_failure(p, res, p->empty_ack);
		goto done;
	}
	if (p->depart)
		printf("departed=0\n");
	if (p->empty_ack)
		printf("empty_ack=1\n");
	probe_print_reply(&p->rep, p->con);
	code = p->rep.code;
	b2 = p->rep.block2;
	/* Walk only from block 0; a -O 23 request for block N gets one block. */
	if (b2 < 0 || b2 >> 4 != 0 || COAP_RESPONSE_CLASS(code) != 2) {
		if (probe_buf_append(&out, p->rep.body.data,
		    p->rep.body.len) == -1) {
			fprintf(stderr, "estcoap-probe: out of memory\n");
			rc = PROBE_EXIT_LOCAL;
			goto done;
		}
	} else {
		res = probe_fetch_rest(p, &out, &blocks, &incomplete,
		    &etag_mismatch);
		if (res == PROBE_FAILED) {
			rc = PROBE_EXIT_LOCAL;
			goto done;
		}
		printf("block2 blocks=%u szx=%d\n", blocks, (int)(b2 & 7));
		if (res != PROBE_ANSWER) {
			rc = probe_report_failure(p, res, 0);
			goto done;
		}
		if (etag_mismatch)
			printf("etag_mismatch=1\n");
		/* out keeps the blocks that did arrive. */
		if (incomplete)
			printf("block2_incomplete=1\nblock2_error=%s\n",
			    probe_code_str(p->rep.code, cbuf, sizeof(cbuf)));
	}
	if (p->noack || p->reset || p->listen)
		probe_listen_copies(p);
	printf("len=%zu\n", out.len);
	if (COAP_RESPONSE_CLASS(code) >= 4)
		probe_print_text(out.data, out.len);
	if (p->dups > 0)
		printf("dup_sent=%d\nresponses=%u\n", p->dup_sent,
		    p->dup_responses);
	rc = PROBE_EXIT_OK;
	if (p->outfile != NULL && probe_write_out(p->outfile, &out) == -1)
		rc = PROBE_EXIT_LOCAL;

done:
	probe_buf_free(&out);
	return rc;
}

/*
 * -g: GET pre_path on the session the main request will use (crts then
 * sen on one DTLS session); prints pre_code and pre_len. 0 or -1.
 */
static int
probe_prelude(struct probe *p)
{
	struct probe_opt	 saved[PROBE_MAX_OPTS];
	size_t			 nsaved = p->nopts, i;
	coap_pdu_code_t		 method = p->method;
	coap_pdu_t		*pdu;
	enum probe_result	 res;
	char			 cbuf[16];
	int			 rc = -1;

	memcpy(saved, p->opts, sizeof(saved));
	p->nopts = 0;
	p->method = COAP_REQUEST_CODE_GET;
	probe_opt_add_uri(p, p->pre_path);
	if ((pdu = probe_pdu_new(p, &p->wire, -1, -1, NULL, 0)) != NULL) {
		res = probe_exchange(p, pdu, &p->wire, 0);
		if (res == PROBE_ANSWER) {
			printf("pre_code=%s\npre_len=%zu\n",
			    probe_code_str(p->rep.code, cbuf, sizeof(cbuf)),
			    p->rep.body.len);
			rc = 0;
		} else
			printf("pre_code=none\n");
	}
	for (i = 0; i < p->nopts; i++)
		free(p->opts[i].val);
	memcpy(p->opts, saved, sizeof(saved));
	p->nopts = nsaved;
	p->method = method;
	return rc;
}

/* Parse, connect, run one request and clean up; the exit code says how. */
int
main(int argc, char *argv[])
{
	struct probe	p;
	size_t		i;
	int		rc;

	memset(&p, 0, sizeof(p));
	probe_parse_args(&p, argc, argv);
	probe_g = &p;

	coap_startup();
	coap_set_log_handler(probe_log_cb);
	/* 4.3.1 prints PDU dumps to stdout by default; keep stdout ours. */
	coap_set_show_pdu_output(0);
	coap_set_log_level(p.verbose || p.noack || p.reset || p.listen ?
	    LOG_DEBUG : LOG_WARNING);
	coap_dtls_set_log_level(p.verbose ? LOG_DEBUG : LOG_WARNING);
	if (!coap_dtls_is_supported())
		probe_errx("libcoap has no DTLS support");
	if ((p.ctx = coap_new_context(NULL)) == NULL)
		probe_errx("coap_new_context failed");
	coap_register_event_handler(p.ctx, probe_event_cb);
	coap_register_nack_handler(p.ctx, probe_nack_cb);
	coap_register_response_handler(p.ctx, probe_response_cb);
	/*
	 * A server may echo an option it rejects (libcoap's 4.02 does).  The
	 * client drops answers with unknown critical options (RFC 7252
	 * 5.4.1), so declare every option we send as known.
	 */
	for (i = 0; i < p.nopts; i++)
		coap_register_option(p.ctx, p.opts[i].num);
	if (RAND_bytes(p.token, sizeof(p.token)) != 1)
		probe_errx("RAND_bytes failed");
	p.nack = -1;
	p.deadline = probe_now_ms() + (int64_t)p.wait_s * 1000;

	switch (probe_connect(&p)) {
	case -1:
		rc = PROBE_EXIT_LOCAL;
		break;
	case 0:
		printf("handshake=failed\n");
		rc = PROBE_EXIT_HANDSHAKE;
		break;
	default:
		if (p.pre_path != NULL && probe_prelude(&p) == -1) {
			rc = PROBE_EXIT_NOANSWER;
			break;
		}
		if (p.pause_ms > 0) {
			/* keep the session serviced while the test acts */
			int64_t until = probe_now_ms() + p.pause_ms;

			fflush(stdout);
			while (probe_now_ms() < until)
				coap_io_process(p.ctx,
				    (uint32_t)(until - probe_now_ms()));
		}
		rc = probe_run(&p);
		break;
	}
	fflush(stdout);
	probe_free(&p);
	return rc;
}
