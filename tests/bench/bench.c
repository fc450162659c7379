/*
 * estcoap-bench: a load generator for estcoapd in one process and one
 * event loop.  It simulates many devices, each with its own certificate,
 * key, CSR and UDP socket (so its own source port and MID space), and
 * runs a scenario of EST-coaps steps (crts, sen, sren, skg, or a GET of
 * any path) on a new DTLS session per iteration or on one kept session
 * per device, in a closed loop (concurrency C) or an open loop (rate R).
 *
 * Modes: coaps (libcoap client API, Block1/Block2 by hand so the libcoap
 * 4.3.1 client traps with separate responses do not apply), https (the
 * same enrollments straight to an RFC 7030 server over libcurl multi, one
 * fresh mutual-TLS connection per iteration) and flood (DTLS ClientHellos
 * from new source ports that never finish their handshake).
 *
 * Every run is bounded by -t seconds and/or -N iterations, and each
 * exchange by -T ms.  Progress goes to stderr once a second; the result is
 * one JSON object on stdout (or -o file): counts, latency percentiles per
 * step from a log-bucket histogram, answers by code, errors by cause,
 * CoAP retransmissions, and the CPU and RSS of -W processes read from
 * /proc at the start and end of the timed phase.
 */

#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <coap3/coap.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#define BENCH_MAX_DEVICES	100000	/* -d */
#define BENCH_MAX_IDS		100000	/* identities loaded from -D */
#define BENCH_MAX_STEPS		8
#define BENCH_MAX_WATCH		4	/* -W pids */
#define BENCH_MAX_SECONDS	3600	/* -t, -H */
#define BENCH_MAX_FILE		(64 * 1024)
#define BENCH_MAX_BODY		(256 * 1024)	/* reassembled Block2 body */
#define BENCH_TOKEN_LEN		8
#define BENCH_NBUCKETS		512	/* histogram: 5 % wide log buckets */
#define BENCH_BUCKET_BASE	1.05
#define BENCH_NCODES		64
#define BENCH_STEP_MS		100	/* longest single wait of the loop */
#define BENCH_MTU		1472
#define BENCH_MAX_TIMELINE	3600	/* one sample a second */
#define BENCH_MAX_CTX		256	/* -k: libcoap contexts */
#define BENCH_CTX_SESSIONS	128	/* sessions per context by default */
#define CF_PKCS10		286
#define EMPTY_COAP_LEN		4	/* header only: empty ACK or RST */

/* What one step of the scenario asks. */
enum step_kind {
	STEP_CRTS,
	STEP_SEN,
	STEP_SREN,
	STEP_SKG,
	STEP_GET,		/* GET of -u path (a baseline's resource) */
};

struct step_def {
	enum step_kind	 kind;
	const char	*name;
	int		 post;		/* POST with the device's CSR */
	const char	*coap_path;	/* under /.well-known/est */
	const char	*http_path;
};

static const struct step_def step_defs[] = {
	{ STEP_CRTS, "crts", 0, "crts", "cacerts" },
	{ STEP_SEN, "sen", 1, "sen", "simpleenroll" },
	{ STEP_SREN, "sren", 1, "sren", "simplereenroll" },
	{ STEP_SKG, "skg", 1, "skg", "serverkeygen" },
	{ STEP_GET, "get", 0, NULL, NULL },
};

/* A log-bucket latency histogram in microseconds; max is exact. */
struct hist {
	uint64_t	 n;
	uint64_t	 b[BENCH_NBUCKETS];
	double		 sum_us;
	double		 max_us;
};

/* Answers seen, by code ("2.04", "5.03", HTTP "200"), and their counts. */
struct codes {
	size_t		 n;
	char		 name[BENCH_NCODES][32];
	uint64_t	 count[BENCH_NCODES];
};

/* Statistics of one step of the scenario. */
struct step_stats {
	struct hist	 lat;		/* request to final answer, all blocks */
	struct hist	 ack;		/* request to empty ACK (separate) */
	struct hist	 first;		/* request to its first reply of any kind */
	struct codes	 codes;
	struct codes	 maxage;	/* Max-Age of 5.03 answers, seconds */
	uint64_t	 blocks;	/* PDUs sent for this step */
	uint64_t	 separate;	/* answered after an empty ACK */
};

/* One device identity: certificate, key and CSR files and bytes. */
struct ident {
	char		*cert;		/* path */
	char		*key;		/* path */
	uint8_t		*csr;		/* DER */
	size_t		 csr_len;
};

enum dev_phase {
	DEV_IDLE,		/* no iteration, no session (or a kept one) */
	DEV_CONNECTING,		/* handshake running */
	DEV_RUNNING,		/* a step's exchange is outstanding */
	DEV_READY,		/* kept session up, between iterations */
};

/* Work the main loop must do for a device outside libcoap's callbacks. */
enum dev_todo {
	TODO_NONE,
	TODO_SEND,		/* send the current step or its next block */
	TODO_DONE_OK,		/* the iteration ended well */
	TODO_DONE_FAIL,		/* the iteration failed (err says why) */
};

#define DEV_MAGIC	0x62656e63u	/* "benc" */

/* One simulated device. */
struct dev {
	uint32_t	 magic;
	unsigned	 idx;
	const struct ident *id;
	const uint8_t	*csr;		/* this device's CSR */
	size_t		 csr_len;
	unsigned	 ctx;		/* index of its libcoap context */
	coap_session_t	*sess;		/* NULL when none */
	SSL		*ssl;		/* of sess, for the record callback */
	SSL_SESSION	*resume;	/* -S resume: from its last handshake */
	int		 overhead;	/* record bytes beyond the plaintext */
	enum dev_phase	 phase;
	enum dev_todo	 todo;
	int		 queued;	/* on the todo list */
	const char	*err;		/* cause of a failure */
	int		 prepare;	/* connecting for -P, not an iteration */
	int		 in_iter;	/* an iteration is running */
	size_t		 step;		/* index into the scenario */
	int64_t		 t_iter;	/* us, iteration start */
	int64_t		 t_step;	/* us, first PDU of the step */
	int64_t		 t_pdu;		/* us, last PDU sent */
	int64_t		 deadline;	/* us */
	uint8_t		 token[BENCH_TOKEN_LEN];
	coap_mid_t	 mid;
	int		 empty_ack;	/* seen for the outstanding PDU */
	int		 got_ack_step;	/* an empty ACK came in this step */
	unsigned	 b1_num;	/* next Block1 block to send */
	unsigned	 b2_num;	/* next Block2 block to ask for */
	int		 b2_szx;	/* of the answer's Block2, -1: none */
	size_t		 b2_len;	/* body bytes received so far */
	CURL		*easy;		/* https mode */
	struct curl_slist *hdrs;
	size_t		 http_len;
};

/* Sampled from /proc for one watched process. */
struct proc_sample {
	double		 cpu_s;		/* utime + stime */
	long		 rss_kb;
};

/* One second of the timed phase: progress and the watched processes. */
struct tick {
	double		 t;		/* s since the timed phase began */
	uint64_t	 ok, failed, inflight;
	double		 cpu_s[BENCH_MAX_WATCH];	/* cumulative, since start */
	long		 rss_kb[BENCH_MAX_WATCH];
	double		 gen_cpu_s;	/* the generator's own, since start */
};

/* The whole run: options, identities, devices, statistics. */
struct bench {
	/* options */
	const char	*mode;		/* coaps, https, flood */
	const char	*addr;
	const char	*bind_addr;	/* -B: flood's source address */
	const char	*port;
	const char	*url;		/* https base URL */
	const char	*devdir;
	const char	*cafile;
	const char	*get_path;
	const char	*outfile;
	const char	*readyfile;
	const char	*label;		/* free text copied to the JSON */
	const char	*keygen;	/* -g: make CSRs in process */
	unsigned	 nids;		/* -n, 0: all found */
	unsigned	 ndev;		/* -d */
	unsigned	 conc;		/* -c */
	unsigned	 hs_conc;	/* -C: handshakes at once during -P */
	unsigned	 nctx;		/* -k, 0: one per BENCH_CTX_SESSIONS */
	double		 rate;		/* -r, 0: closed loop */
	int		 reuse;		/* -S reuse */
	int		 resume;	/* -S resume: new sessions, resumed */
	int		 nocookie;	/* -S nocookie: flood never answers */
	const char	*gofile;	/* -G: wait for it before the timed phase */
	int		 prepare;	/* -P */
	double		 duration;	/* -t, 0: none */
	uint64_t	 count;		/* -N, 0: none */
	int		 szx;		/* -b, -1: no Block1/Block2 hints */
	int		 timeout_ms;	/* -T */
	double		 hold_s;	/* -H */
	int		 noclose;	/* -Q: leave without closing sessions */
	int		 quiet;
	pid_t		 watch[BENCH_MAX_WATCH];
	size_t		 nwatch;
	struct step_def	 steps[BENCH_MAX_STEPS];
	size_t		 nsteps;

	/* state */
	struct ident	*ids;
	struct dev	*devs;
	unsigned	*todo;		/* device indices */
	size_t		 ntodo;
	unsigned	*freelist;	/* idle device indices (stack) */
	size_t		 nfree;
	coap_context_t	*ctx[BENCH_MAX_CTX];
	uint8_t		 dirty[BENCH_MAX_CTX];	/* to process: new work */
	int		 epfd;		/* readiness of every context's fd */
	coap_address_t	 dst;
	coap_dtls_pki_t	 pki;
	CURLM		*multi;
	uint64_t	 started, ok, failed, inflight, skipped, connecting;
	uint64_t	 prepared, prepare_failed;
	uint64_t	 resumed;	/* handshakes that resumed a session */
	struct dev	*connecting_dev;	/* in coap_new_client_session */
	uint64_t	 sends, data_writes, empty_rx;
	uint64_t	 next_dev;	/* round robin in new-session mode */
	int64_t		 t0, t_end;	/* us, timed phase */
	int64_t		 t_last_progress;
	struct hist	 iter;		/* whole iteration */
	struct hist	 hs;		/* handshake */
	struct step_stats st[BENCH_MAX_STEPS];
	struct codes	 errors;
	struct proc_sample w0[BENCH_MAX_WATCH], w1[BENCH_MAX_WATCH];
	long		 w_hold_rss[BENCH_MAX_WATCH];
	long		 w_max_rss[BENCH_MAX_WATCH];
	struct tick	*ticks;
	size_t		 nticks;
	struct rusage	 ru0, ru1;
	double		 wall_s;
};

static struct bench	*bench_g;	/* for libcoap's and OpenSSL's callbacks */
static void	maybe_tick(struct bench *);
static volatile sig_atomic_t bench_stop;

static void	usage(void) __attribute__((noreturn));
static void	bench_errx(const char *, ...)
		    __attribute__((noreturn, format(printf, 1, 2)));

/* Print the synopsis and leave. */
static void
usage(void)
{
	fprintf(stderr,
	    "usage: estcoap-bench [-m coaps|https|flood] [-a addr] [-B srcaddr] [-p port]"
	    " [-U url]\n"
	    "           -D devdir [-n ids] [-d devices] [-g p256|rsa2048|"
	    "rsa3072] -R cafile\n"
	    "           [-s crts,sen,sren,skg,get] [-u getpath]"
	    " [-S new|reuse|resume|stall|nocookie]\n"
	    "           [-P [-C hsconc]] [-c conc] [-k contexts] [-r rate]"
	    " [-t secs] [-N count]\n"
	    "           [-b szx] [-T ms] [-H secs] [-Q] [-W pid]..."
	    " [-F readyfile [-G gofile]]\n"
	    "           [-L label] [-o out.json] [-q]\n");
	exit(2);
}

/* Report a local error and leave with 1. */
static void
bench_errx(const char *fmt, ...)
{
	va_list	ap;

	fputs("estcoap-bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* Microseconds on the monotonic clock. */
static int64_t
now_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* malloc that exits when out of memory. */
static void *
xcalloc(size_t n, size_t sz)
{
	void	*p;

	if ((p = calloc(n, sz)) == NULL)
		bench_errx("out of memory");
	return p;
}

/* strdup of a formatted string; exits when out of memory. */
static char *
xasprintf(const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		bench_errx("out of memory");
	va_end(ap);
	return s;
}

/* Add one sample to a histogram. */
static void
hist_add(struct hist *h, double us)
{
	int	i;

	if (us < 1)
		us = 1;
	i = (int)(log(us) / log(BENCH_BUCKET_BASE));
	if (i >= BENCH_NBUCKETS)
		i = BENCH_NBUCKETS - 1;
	h->b[i]++;
	h->n++;
	h->sum_us += us;
	if (us > h->max_us)
		h->max_us = us;
}

/* The q-quantile in ms: the upper edge of its bucket, capped at max. */
static double
hist_q(const struct hist *h, double q)
{
	uint64_t	want, seen = 0;
	double		edge;
	int		i;

	if (h->n == 0)
		return 0;
	want = (uint64_t)ceil(q * (double)h->n);
	if (want == 0)
		want = 1;
	for (i = 0; i < BENCH_NBUCKETS; i++) {
		seen += h->b[i];
		if (seen >= want) {
			edge = pow(BENCH_BUCKET_BASE, i + 1);
			return (edge < h->max_us ? edge : h->max_us) / 1000.0;
		}
	}
	return h->max_us / 1000.0;
}

/* Count one occurrence of a code or cause name. */
static void
codes_add(struct codes *c, const char *name)
{
	size_t	i;

	for (i = 0; i < c->n; i++)
		if (strcmp(c->name[i], name) == 0) {
			c->count[i]++;
			return;
		}
	if (c->n == BENCH_NCODES)
		return;
	snprintf(c->name[c->n], sizeof(c->name[0]), "%s", name);
	c->count[c->n++] = 1;
}

/* Read a whole small file; exits on error. */
static uint8_t *
read_file(const char *path, size_t *len)
{
	FILE	*f;
	uint8_t	*buf;
	size_t	 n;

	if ((f = fopen(path, "rb")) == NULL)
		bench_errx("%s: %s", path, strerror(errno));
	buf = xcalloc(1, BENCH_MAX_FILE + 1);
	n = fread(buf, 1, BENCH_MAX_FILE + 1, f);
	if (ferror(f) || n > BENCH_MAX_FILE)
		bench_errx("%s: read error or larger than %d bytes", path,
		    BENCH_MAX_FILE);
	fclose(f);
	*len = n;
	return buf;
}

/* Sample utime+stime and VmRSS of a process from /proc; -1 if gone. */
static int
proc_sample(pid_t pid, struct proc_sample *s)
{
	char		 path[64], buf[4096], *p;
	FILE		*f;
	unsigned long	 ut, st;
	size_t		 n;
	int		 i;

	s->cpu_s = -1;
	s->rss_kb = -1;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* fields after the ")" of comm: state is field 3, utime 14 */
	if ((p = strrchr(buf, ')')) == NULL)
		return -1;
	p++;
	for (i = 3; i < 14 && p != NULL; i++)
		p = strchr(p + 1, ' ');
	if (p == NULL || sscanf(p, " %lu %lu", &ut, &st) != 2)
		return -1;
	s->cpu_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(buf, sizeof(buf), f) != NULL)
		if (sscanf(buf, "VmRSS: %ld kB", &s->rss_kb) == 1)
			break;
	fclose(f);
	return 0;
}

/* Sample every watched process into out. */
static void
watch_sample(struct bench *b, struct proc_sample *out)
{
	size_t	i;

	for (i = 0; i < b->nwatch; i++)
		proc_sample(b->watch[i], &out[i]);
}

/* Parse -s into the scenario steps. */
static void
parse_steps(struct bench *b, const char *arg)
{
	char	*copy, *tok, *save = NULL;
	size_t	 i;

	copy = strdup(arg);
	if (copy == NULL)
		bench_errx("out of memory");
	b->nsteps = 0;
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < sizeof(step_defs) / sizeof(step_defs[0]); i++)
			if (strcmp(tok, step_defs[i].name) == 0)
				break;
		if (i == sizeof(step_defs) / sizeof(step_defs[0]))
			bench_errx("-s: unknown step %s", tok);
		if (b->nsteps == BENCH_MAX_STEPS)
			bench_errx("-s: more than %d steps", BENCH_MAX_STEPS);
		b->steps[b->nsteps++] = step_defs[i];
	}
	free(copy);
	if (b->nsteps == 0)
		bench_errx("-s: no steps");
}

/* A number option in [min, max]; exits with a message naming the flag. */
static double
arg_num(int flag, const char *s, double min, double max)
{
	char	*end;
	double	 v;

	errno = 0;
	v = strtod(s, &end);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < min || v > max)
		bench_errx("-%c %s: expected a number from %g to %g", flag, s,
		    min, max);
	return v;
}

/* Parse the command line; exits on any error. */
static void
parse_args(struct bench *b, int argc, char *argv[])
{
	int	ch;

	b->mode = "coaps";
	b->addr = "127.0.0.1";
	b->port = "5684";
	b->get_path = "/";
	b->conc = 1;
	b->szx = -1;
	b->timeout_ms = 30000;
	parse_steps(b, "crts,sen");
	while ((ch = getopt(argc, argv,
	    "a:b:B:c:C:d:D:F:g:G:H:k:L:m:n:N:o:p:PqQr:R:s:S:t:T:u:U:W:")) != -1) {
		switch (ch) {
		case 'a': b->addr = optarg; break;
		case 'B': b->bind_addr = optarg; break;
		case 'b': b->szx = (int)arg_num(ch, optarg, 0, 6); break;
		case 'c': b->conc = (unsigned)arg_num(ch, optarg, 1,
		    BENCH_MAX_DEVICES); break;
		case 'C': b->hs_conc = (unsigned)arg_num(ch, optarg, 1,
		    BENCH_MAX_DEVICES); break;
		case 'd': b->ndev = (unsigned)arg_num(ch, optarg, 1,
		    BENCH_MAX_DEVICES); break;
		case 'D': b->devdir = optarg; break;
		case 'F': b->readyfile = optarg; break;
		case 'g': b->keygen = optarg; break;
		case 'G': b->gofile = optarg; break;
		case 'H': b->hold_s = arg_num(ch, optarg, 0,
		    BENCH_MAX_SECONDS); break;
		case 'k': b->nctx = (unsigned)arg_num(ch, optarg, 1,
		    BENCH_MAX_CTX); break;
		case 'L': b->label = optarg; break;
		case 'm': b->mode = optarg; break;
		case 'n': b->nids = (unsigned)arg_num(ch, optarg, 1,
		    BENCH_MAX_IDS); break;
		case 'N': b->count = (uint64_t)arg_num(ch, optarg, 1, 1e9);
		    break;
		case 'o': b->outfile = optarg; break;
		case 'p': (void)arg_num(ch, optarg, 1, 65535);
		    b->port = optarg; break;
		case 'P': b->prepare = 1; break;
		case 'q': b->quiet = 1; break;
		case 'Q': b->noclose = 1; break;
		case 'r': b->rate = arg_num(ch, optarg, 0.01, 1e6); break;
		case 'R': b->cafile = optarg; break;
		case 's': parse_steps(b, optarg); break;
		case 'S':
			b->reuse = b->resume = 0;
			if (strcmp(optarg, "reuse") == 0)
				b->reuse = 1;
			else if (strcmp(optarg, "resume") == 0)
				b->resume = 1;
			else if (strcmp(optarg, "nocookie") == 0)
				b->nocookie = 1;
			else if (strcmp(optarg, "new") != 0 &&
			    strcmp(optarg, "stall") != 0)
				bench_errx("-S: new, reuse, resume (coaps); "
				    "stall or nocookie (flood)");
			break;
		case 't': b->duration = arg_num(ch, optarg, 0.1,
		    BENCH_MAX_SECONDS); break;
		case 'T': b->timeout_ms = (int)arg_num(ch, optarg, 10,
		    600000); break;
		case 'u': b->get_path = optarg; break;
		case 'U': b->url = optarg; break;
		case 'W':
			if (b->nwatch == BENCH_MAX_WATCH)
				bench_errx("-W: at most %d", BENCH_MAX_WATCH);
			b->watch[b->nwatch++] = (pid_t)arg_num(ch, optarg, 1,
			    4194304);
			break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	if (strcmp(b->mode, "coaps") != 0 && strcmp(b->mode, "https") != 0 &&
	    strcmp(b->mode, "flood") != 0)
		bench_errx("-m: coaps, https or flood");
	if (b->duration == 0 && b->count == 0)
		bench_errx("give -t seconds or -N count (or both)");
	if (strcmp(b->mode, "flood") != 0 &&
	    (b->devdir == NULL || b->cafile == NULL))
		usage();
	if (strcmp(b->mode, "https") == 0 && b->url == NULL)
		bench_errx("-m https needs -U url");
	if (b->prepare && !b->reuse && !b->resume)
		bench_errx("-P needs -S reuse or resume");
	if ((b->reuse || b->resume) && strcmp(b->mode, "coaps") != 0)
		bench_errx("-S reuse and resume are for -m coaps");
	if ((b->nocookie || b->bind_addr != NULL) &&
	    strcmp(b->mode, "flood") != 0)
		bench_errx("-S nocookie and -B are for -m flood");
}

/*
 * Make one CSR in memory with a fresh key of the -g type and the Subject
 * of the device certificate in certfile (auth.csr_identity "subject").
 */
static uint8_t *
make_csr(const char *type, const char *certfile, size_t *len)
{
	EVP_PKEY	*k;
	X509_REQ	*req;
	X509		*x;
	BIO		*bio;
	uint8_t		*der = NULL;
	int		 l;

	if (strcmp(type, "p256") == 0)
		k = EVP_EC_gen("P-256");
	else if (strcmp(type, "rsa2048") == 0)
		k = EVP_RSA_gen(2048);
	else if (strcmp(type, "rsa3072") == 0)
		k = EVP_RSA_gen(3072);
	else
		bench_errx("-g: p256, rsa2048 or rsa3072");
	if ((bio = BIO_new_file(certfile, "r")) == NULL ||
	    (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL)
		bench_errx("%s: no certificate", certfile);
	BIO_free(bio);
	if (k == NULL || (req = X509_REQ_new()) == NULL)
		bench_errx("cannot make a key");
	if (!X509_REQ_set_subject_name(req, X509_get_subject_name(x)) ||
	    !X509_REQ_set_pubkey(req, k) ||
	    !X509_REQ_sign(req, k, EVP_sha256()) ||
	    (l = i2d_X509_REQ(req, &der)) <= 0)
		bench_errx("cannot make a CSR");
	X509_free(x);
	X509_REQ_free(req);
	EVP_PKEY_free(k);
	*len = (size_t)l;
	return der;
}

/*
 * Load the identities dev-NNNNN.{crt,key} and csr-NNNNN.der from -D
 * (NNNNN from 00000), as many as -n or as exist; give every device its
 * identity (round robin) and its CSR (made in process with -g).
 */
static void
load_devices(struct bench *b)
{
	unsigned	i;
	char		*p;

	if (b->devdir == NULL)
		return;
	b->ids = xcalloc(b->nids ? b->nids : BENCH_MAX_IDS,
	    sizeof(*b->ids));
	for (i = 0; b->nids == 0 ? i < BENCH_MAX_IDS : i < b->nids; i++) {
		p = xasprintf("%s/dev-%05u.crt", b->devdir, i);
		if (access(p, R_OK) == -1) {
			free(p);
			if (b->nids != 0)
				bench_errx("%s/dev-%05u.crt: %s", b->devdir, i,
				    strerror(errno));
			break;
		}
		b->ids[i].cert = p;
		b->ids[i].key = xasprintf("%s/dev-%05u.key", b->devdir, i);
		p = xasprintf("%s/csr-%05u.der", b->devdir, i);
		b->ids[i].csr = read_file(p, &b->ids[i].csr_len);
		free(p);
	}
	if (i == 0)
		bench_errx("%s: no dev-00000.crt", b->devdir);
	b->nids = i;
	if (b->ndev == 0)
		b->ndev = b->nids;
	b->devs = xcalloc(b->ndev, sizeof(*b->devs));
	b->todo = xcalloc(2 * (size_t)b->ndev + 2, sizeof(*b->todo));
	b->freelist = xcalloc(b->ndev, sizeof(*b->freelist));
	for (i = 0; i < b->ndev; i++) {
		struct dev *d = &b->devs[i];

		d->magic = DEV_MAGIC;
		d->idx = i;
		d->id = &b->ids[i % b->nids];
		d->csr = d->id->csr;
		d->csr_len = d->id->csr_len;
		if (b->keygen != NULL)
			d->csr = make_csr(b->keygen, d->id->cert, &d->csr_len);
		d->phase = DEV_IDLE;
		b->freelist[b->nfree++] = b->ndev - 1 - i;
	}
}

/* Queue a device for the main loop with the given work. */
static void
dev_queue(struct bench *b, struct dev *d, enum dev_todo t)
{
	d->todo = t;
	if (!d->queued) {
		d->queued = 1;
		b->todo[b->ntodo++] = d->idx;
	}
}

/* Fail the device's iteration (or preparation) with a cause. */
static void
dev_fail(struct bench *b, struct dev *d, const char *why)
{
	if (d->todo == TODO_DONE_FAIL || d->todo == TODO_DONE_OK)
		return;
	d->err = why;
	dev_queue(b, d, TODO_DONE_FAIL);
}

/* ---- coaps mode ---- */

/* The device behind a libcoap session, or NULL. */
static struct dev *
sess_dev(coap_session_t *s)
{
	struct dev	*d = coap_session_get_app_data(s);

	if (d == NULL || d->magic != DEV_MAGIC || d->sess != s)
		return NULL;
	return d;
}

/*
 * See every DTLS record: a written application record beyond the PDUs we
 * sent is a retransmission; a received one with a header-only plaintext
 * is an empty ACK (or RST) to the outstanding request.
 */
static void
record_cb(int write_p, int version, int content_type, const void *buf,
    size_t len, SSL *ssl, void *arg)
{
	const uint8_t	*h = buf;
	struct dev	*d = arg;
	struct bench	*b = bench_g;
	size_t		 rlen;

	(void)version;
	(void)ssl;
	if (content_type != SSL3_RT_HEADER || len < 13 || h[0] != 23 ||
	    d == NULL || d->magic != DEV_MAGIC)
		return;
	rlen = (size_t)h[11] << 8 | h[12];
	if (d->overhead <= 0)
		return;
	if (write_p) {
		if (rlen > (size_t)d->overhead + EMPTY_COAP_LEN)
			b->data_writes++;
		return;
	}
	if (rlen == (size_t)d->overhead + EMPTY_COAP_LEN) {
		b->empty_rx++;
		if (d->phase == DEV_RUNNING && !d->empty_ack) {
			d->empty_ack = 1;
			if (!d->got_ack_step) {
				double us = (double)(now_us() - d->t_pdu);

				d->got_ack_step = 1;
				hist_add(&b->st[d->step].ack, us);
				if (d->b1_num == 0 && d->b2_num == 0)
					hist_add(&b->st[d->step].first, us);
			}
		}
	}
}

/* Record bytes an AEAD suite adds to a DTLS 1.2 plaintext; -1: unknown. */
static int
cipher_overhead(SSL *ssl)
{
	const SSL_CIPHER	*c = SSL_get_current_cipher(ssl);
	const char		*n;

	if (c == NULL || (n = SSL_CIPHER_get_name(c)) == NULL)
		return -1;
	if (strstr(n, "CCM8") != NULL || strstr(n, "CHACHA") != NULL)
		return strstr(n, "CHACHA") != NULL ? 16 : 8 + 8;
	if (strstr(n, "GCM") != NULL || strstr(n, "CCM") != NULL)
		return 8 + 16;
	return -1;
}

/* Build and send the current step's next PDU; 0 or -1. */
static int
coaps_send(struct bench *b, struct dev *d)
{
	const struct step_def	*s = &b->steps[d->step];
	coap_pdu_t		*pdu;
	uint8_t			 v[4];
	const char		*seg, *end;
	size_t			 bsz = 0, off = 0, len = 0, nblk = 1;
	int			 more = 0, b1 = 0;
	char			 path[256];

	if ((pdu = coap_new_pdu(COAP_MESSAGE_CON, s->post ?
	    COAP_REQUEST_CODE_POST : COAP_REQUEST_CODE_GET, d->sess)) == NULL)
		return -1;
	if (!coap_add_token(pdu, sizeof(d->token), d->token))
		goto fail;
	if (s->coap_path != NULL)
		snprintf(path, sizeof(path), "/.well-known/est/%s",
		    s->coap_path);
	else
		snprintf(path, sizeof(path), "%s", b->get_path);
	for (seg = path; *seg != '\0'; seg = end) {
		if (*seg == '/') {
			end = seg + 1;
			continue;
		}
		for (end = seg; *end != '\0' && *end != '/'; end++)
			;
		if (!coap_add_option(pdu, COAP_OPTION_URI_PATH,
		    (size_t)(end - seg), (const uint8_t *)seg))
			goto fail;
	}
	if (s->post && d->b2_num == 0) {
		if (!coap_add_option(pdu, COAP_OPTION_CONTENT_FORMAT,
		    coap_encode_var_safe(v, sizeof(v), CF_PKCS10), v))
			goto fail;
		if (b->szx >= 0) {
			bsz = (size_t)1 << (b->szx + 4);
			nblk = (d->csr_len + bsz - 1) / bsz;
			b1 = nblk > 1;
		}
	}
	if (d->b2_num > 0 ? !coap_add_option(pdu, COAP_OPTION_BLOCK2,
	    coap_encode_var_safe(v, sizeof(v), d->b2_num << 4 |
	    (unsigned)d->b2_szx), v) : b->szx >= 0 && (!b1 ||
	    d->b1_num == 0) && !coap_add_option(pdu, COAP_OPTION_BLOCK2,
	    coap_encode_var_safe(v, sizeof(v), (unsigned)b->szx), v))
		goto fail;
	if (s->post && d->b2_num == 0) {
		if (b1) {
			off = d->b1_num * bsz;
			len = d->csr_len - off < bsz ? d->csr_len - off : bsz;
			more = d->b1_num + 1 < nblk;
			if (!coap_add_option(pdu, COAP_OPTION_BLOCK1,
			    coap_encode_var_safe(v, sizeof(v),
			    d->b1_num << 4 | (unsigned)more << 3 |
			    (unsigned)b->szx), v))
				goto fail;
			if (d->b1_num == 0 && !coap_add_option(pdu,
			    COAP_OPTION_SIZE1, coap_encode_var_safe(v,
			    sizeof(v), (unsigned)d->csr_len), v))
				goto fail;
		} else
			len = d->csr_len;
		if (!coap_add_data(pdu, len, d->csr + off))
			goto fail;
	}
	d->mid = coap_pdu_get_mid(pdu);
	d->empty_ack = 0;
	d->t_pdu = now_us();
	d->deadline = d->t_pdu + (int64_t)b->timeout_ms * 1000;
	b->dirty[d->ctx] = 1;
	if (coap_send(d->sess, pdu) == COAP_INVALID_MID)
		return -1;
	b->sends++;
	b->st[d->step].blocks++;
	d->phase = DEV_RUNNING;
	return 0;

fail:
	coap_delete_pdu(pdu);
	return -1;
}

/* Begin the current step: a fresh token, block counters at 0. */
static void
coaps_step_begin(struct bench *b, struct dev *d)
{
	(void)b;
	if (RAND_bytes(d->token, sizeof(d->token)) != 1)
		bench_errx("RAND_bytes failed");
	d->b1_num = d->b2_num = 0;
	d->b2_szx = -1;
	d->b2_len = 0;
	d->got_ack_step = 0;
	d->t_step = now_us();
	dev_queue(b, d, TODO_SEND);
}

/* Format a CoAP code as c.dd. */
static void
code_str(coap_pdu_code_t code, char *buf, size_t size)
{
	snprintf(buf, size, "%u.%02u", (unsigned)code >> 5 & 7,
	    (unsigned)code & 0x1f);
}

/* Take an answer for a device's outstanding exchange. */
static coap_response_t
coaps_response_cb(coap_session_t *s, const coap_pdu_t *sent,
    const coap_pdu_t *rcvd, const coap_mid_t mid)
{
	struct bench		*b = bench_g;
	struct dev		*d;
	coap_bin_const_t	 tok;
	coap_opt_iterator_t	 oi;
	coap_opt_t		*opt;
	coap_pdu_code_t		 code;
	const uint8_t		*data;
	size_t			 len, bsz;
	unsigned		 v;
	char			 cs[16];

	(void)sent;
	/* coap_io_process() may loop for long under load: keep the timeline */
	maybe_tick(b);
	if ((d = sess_dev(s)) == NULL || d->phase != DEV_RUNNING ||
	    d->todo != TODO_NONE)
		return COAP_RESPONSE_OK;
	tok = coap_pdu_get_token(rcvd);
	if (tok.length != sizeof(d->token) ||
	    memcmp(tok.s, d->token, sizeof(d->token)) != 0)
		return COAP_RESPONSE_OK;
	if (coap_pdu_get_type(rcvd) == COAP_MESSAGE_ACK && mid != d->mid)
		return COAP_RESPONSE_OK;
	code = coap_pdu_get_code(rcvd);
	/* Block1 continue: send the next block */
	if (code == COAP_RESPONSE_CODE(231) &&
	    (opt = coap_check_option(rcvd, COAP_OPTION_BLOCK1, &oi)) != NULL) {
		d->b1_num++;
		dev_queue(b, d, TODO_SEND);
		return COAP_RESPONSE_OK;
	}
	if (coap_get_data(rcvd, &len, &data))
		d->b2_len += len;
	if (COAP_RESPONSE_CLASS(code) == 2 &&
	    (opt = coap_check_option(rcvd, COAP_OPTION_BLOCK2, &oi)) != NULL) {
		v = coap_decode_var_bytes(coap_opt_value(opt),
		    coap_opt_length(opt));
		bsz = (size_t)1 << ((v & 7) + 4);
		if ((v & 8) && d->b2_len < BENCH_MAX_BODY &&
		    (v >> 4) == d->b2_num) {
			d->b2_szx = (int)(v & 7);
			d->b2_num = (v >> 4) + 1;
			(void)bsz;
			dev_queue(b, d, TODO_SEND);
			return COAP_RESPONSE_OK;
		}
	}
	/* the final answer of this step */
	hist_add(&b->st[d->step].lat, (double)(now_us() - d->t_step));
	if (!d->got_ack_step && d->b1_num == 0 && d->b2_num == 0)
		hist_add(&b->st[d->step].first, (double)(now_us() - d->t_pdu));
	if (d->got_ack_step)
		b->st[d->step].separate++;
	code_str(code, cs, sizeof(cs));
	codes_add(&b->st[d->step].codes, cs);
	if (code == COAP_RESPONSE_CODE(503)) {
		char ma[16] = "none";

		if ((opt = coap_check_option(rcvd, COAP_OPTION_MAXAGE,
		    &oi)) != NULL)
			snprintf(ma, sizeof(ma), "%u", coap_decode_var_bytes(
			    coap_opt_value(opt), coap_opt_length(opt)));
		codes_add(&b->st[d->step].maxage, ma);
	}
	if (COAP_RESPONSE_CLASS(code) != 2) {
		static char	errbuf[BENCH_NCODES][24];
		static size_t	nerr;
		size_t		i;
		char		name[24];

		/* the cause names must outlive the callback */
		snprintf(name, sizeof(name), "%s_%s",
		    b->steps[d->step].name, cs);
		for (i = 0; i < nerr; i++)
			if (strcmp(errbuf[i], name) == 0)
				break;
		if (i == nerr && nerr < BENCH_NCODES)
			snprintf(errbuf[nerr++], sizeof(errbuf[0]), "%s",
			    name);
		dev_fail(b, d, i < nerr ? errbuf[i] : "code");
		return COAP_RESPONSE_OK;
	}
	d->phase = DEV_READY;
	d->step++;
	if (d->step < b->nsteps)
		coaps_step_begin(b, d);
	else
		dev_queue(b, d, TODO_DONE_OK);
	return COAP_RESPONSE_OK;
}

/* libcoap gave up on a request (retries, RST, TLS, ICMP). */
static void
coaps_nack_cb(coap_session_t *s, const coap_pdu_t *sent,
    const coap_nack_reason_t reason, const coap_mid_t mid)
{
	struct bench	*b = bench_g;
	struct dev	*d;
	static const char *const why[] = {
		[COAP_NACK_TOO_MANY_RETRIES] = "nack_retries",
		[COAP_NACK_NOT_DELIVERABLE] = "nack_undeliverable",
		[COAP_NACK_RST] = "nack_rst",
		[COAP_NACK_TLS_FAILED] = "nack_tls",
		[COAP_NACK_ICMP_ISSUE] = "nack_icmp",
	};

	(void)sent;
	maybe_tick(b);
	if ((d = sess_dev(s)) == NULL)
		return;
	if (d->phase == DEV_RUNNING && mid != d->mid &&
	    reason != COAP_NACK_TLS_FAILED)
		return;
	dev_fail(b, d, (size_t)reason < sizeof(why) / sizeof(why[0]) &&
	    why[reason] != NULL ? why[reason] : "nack");
}

/* The DTLS session came up, closed or failed. */
static int
coaps_event_cb(coap_session_t *s, const coap_event_t ev)
{
	struct bench	*b = bench_g;
	struct dev	*d;

	if ((d = sess_dev(s)) == NULL)
		return 0;
	switch (ev) {
	case COAP_EVENT_DTLS_CONNECTED:
		if (d->phase != DEV_CONNECTING)
			break;
		b->connecting--;
		if (d->ssl != NULL)
			d->overhead = cipher_overhead(d->ssl);
		hist_add(&b->hs, (double)(now_us() - d->t_iter));
		d->phase = DEV_READY;
		if (b->resume && d->ssl != NULL) {
			b->resumed += SSL_session_reused(d->ssl) == 1;
			SSL_SESSION_free(d->resume);
			d->resume = SSL_get1_session(d->ssl);
		}
		if (d->prepare) {
			d->prepare = 0;
			b->prepared++;
			b->freelist[b->nfree++] = d->idx;
			break;
		}
		d->step = 0;
		coaps_step_begin(b, d);
		break;
	case COAP_EVENT_DTLS_CLOSED:
		dev_fail(b, d, d->phase == DEV_CONNECTING ? "handshake_closed"
		    : "dtls_closed");
		break;
	case COAP_EVENT_DTLS_ERROR:
		dev_fail(b, d, d->phase == DEV_CONNECTING ? "handshake_error"
		    : "dtls_error");
		break;
	default:
		break;
	}
	return 0;
}

/*
 * -S resume: offer the session of the device's last handshake. libcoap
 * 4.3.1 starts a client's handshake inside coap_new_client_session_pki()
 * and calls no set-up hook for clients, so the session is set when the
 * handshake starts, from an info callback on the context's SSL_CTX that
 * then hands on to libcoap's own.
 */
static void (*coaps_libcoap_info_cb)(const SSL *, int, int);

static void
coaps_info_cb(const SSL *ssl, int where, int ret)
{
	struct dev	*d = bench_g->connecting_dev;

	if ((where & SSL_CB_HANDSHAKE_START) && d != NULL &&
	    d->resume != NULL && SSL_get_app_data(ssl) != NULL)
		SSL_set_session((SSL *)ssl, d->resume);
	if (coaps_libcoap_info_cb != NULL)
		coaps_libcoap_info_cb(ssl, where, ret);
}

/* Put coaps_info_cb on the SSL_CTX of a client session, once per ctx. */
static void
coaps_hook_resume(struct bench *b, struct dev *d)
{
	SSL_CTX		*ctx;
	void		(*cb)(const SSL *, int, int);

	if (!b->resume || d->ssl == NULL ||
	    (ctx = SSL_get_SSL_CTX(d->ssl)) == NULL)
		return;
	cb = SSL_CTX_get_info_callback(ctx);
	if (cb == coaps_info_cb)
		return;
	coaps_libcoap_info_cb = cb;
	SSL_CTX_set_info_callback(ctx, coaps_info_cb);
}

/* Open a new DTLS session for a device; 0 or -1. */
static int
coaps_connect(struct bench *b, struct dev *d)
{
	coap_tls_library_t	lib;

	b->pki.pki_key.key.pem.public_cert = d->id->cert;
	b->pki.pki_key.key.pem.private_key = d->id->key;
	d->t_iter = now_us();
	d->deadline = d->t_iter + (int64_t)b->timeout_ms * 1000;
	d->phase = DEV_CONNECTING;
	d->overhead = -1;
	b->connecting++;
	b->dirty[d->ctx] = 1;
	b->connecting_dev = d;
	d->sess = coap_new_client_session_pki(b->ctx[d->ctx], NULL, &b->dst,
	    COAP_PROTO_DTLS, &b->pki);
	b->connecting_dev = NULL;
	if (d->sess == NULL) {
		dev_fail(b, d, "session_create");
		return -1;
	}
	coap_session_set_app_data(d->sess, d);
	coap_session_set_mtu(d->sess, BENCH_MTU);
	d->ssl = coap_session_get_tls(d->sess, &lib);
	if (d->ssl != NULL && lib == COAP_TLS_LIBRARY_OPENSSL) {
		SSL_set_msg_callback(d->ssl, record_cb);
		SSL_set_msg_callback_arg(d->ssl, d);
		coaps_hook_resume(b, d);
	} else
		d->ssl = NULL;
	return 0;
}

/* Drop a device's session (sends close_notify unless -Q at exit). */
static void
coaps_close(struct bench *b, struct dev *d)
{
	(void)b;
	if (d->sess == NULL)
		return;
	if (d->ssl != NULL)
		SSL_set_msg_callback(d->ssl, NULL);
	coap_session_set_app_data(d->sess, NULL);
	coap_session_release(d->sess);
	d->sess = NULL;
	d->ssl = NULL;
}

/* Start an iteration on a device; with a kept session go straight on. */
static void
coaps_start(struct bench *b, struct dev *d)
{
	d->in_iter = 1;
	d->err = NULL;
	d->step = 0;
	b->started++;
	b->inflight++;
	if (b->reuse && d->sess != NULL && d->phase == DEV_READY) {
		d->t_iter = now_us();
		coaps_step_begin(b, d);
		return;
	}
	coaps_close(b, d);
	coaps_connect(b, d);
}

/* Do the queued work of one device. */
static void
coaps_work(struct bench *b, struct dev *d)
{
	enum dev_todo	t = d->todo;

	d->queued = 0;
	d->todo = TODO_NONE;
	switch (t) {
	case TODO_SEND:
		if (coaps_send(b, d) == -1)
			dev_fail(b, d, "send");
		break;
	case TODO_DONE_OK:
	case TODO_DONE_FAIL:
		if (d->phase == DEV_CONNECTING)
			b->connecting--;
		if (d->prepare) {
			d->prepare = 0;
			b->prepare_failed++;
			codes_add(&b->errors, d->err ? d->err : "prepare");
			coaps_close(b, d);
			d->phase = DEV_IDLE;
			break;
		}
		if (!d->in_iter)
			break;
		d->in_iter = 0;
		b->inflight--;
		if (t == TODO_DONE_OK) {
			b->ok++;
			hist_add(&b->iter, (double)(now_us() - d->t_iter));
		} else {
			b->failed++;
			codes_add(&b->errors, d->err ? d->err : "unknown");
		}
		if (!b->reuse || t == TODO_DONE_FAIL) {
			coaps_close(b, d);
			d->phase = DEV_IDLE;
		} else
			d->phase = DEV_READY;
		b->freelist[b->nfree++] = d->idx;
		break;
	case TODO_NONE:
		break;
	}
}

/* Route libcoap's log lines to stderr, warnings and worse only. */
static void
coaps_log_cb(coap_log_t level, const char *message)
{
	(void)level;
	if (bench_g->quiet)
		return;
	fprintf(stderr, "libcoap: %s", message);
	if (*message != '\0' && message[strlen(message) - 1] != '\n')
		fputc('\n', stderr);
}

/*
 * One client context: our handlers and the server's trust.  libcoap 4.3.1
 * walks every session of a context on each coap_io_process(), so a
 * crowd of devices in one context costs the generator O(devices) per
 * datagram and it would measure itself; the devices are spread over
 * b->nctx contexts instead, each processed only when its fd is ready.
 */
static coap_context_t *
coaps_new_ctx(struct bench *b)
{
	coap_context_t	*ctx;

	if ((ctx = coap_new_context(NULL)) == NULL)
		bench_errx("coap_new_context failed");
	coap_register_event_handler(ctx, coaps_event_cb);
	coap_register_nack_handler(ctx, coaps_nack_cb);
	coap_register_response_handler(ctx, coaps_response_cb);
	/* as roots, not check_common_ca (it leaks in 4.3.1) */
	if (!coap_context_set_pki_root_cas(ctx, b->cafile, NULL))
		bench_errx("%s: cannot load CAs", b->cafile);
	return ctx;
}

/* Set up the client contexts, the server address and the PKI template. */
static void
coaps_init(struct bench *b)
{
	struct addrinfo		 hints, *res;
	struct epoll_event	 ev;
	unsigned		 i;
	int			 rc, fd;

	coap_startup();
	coap_set_log_handler(coaps_log_cb);
	coap_set_show_pdu_output(0);
	coap_set_log_level(LOG_ERR);
	coap_dtls_set_log_level(LOG_ERR);
	if (!coap_dtls_is_supported())
		bench_errx("libcoap has no DTLS support");
	if (b->nctx == 0)
		b->nctx = (b->ndev + BENCH_CTX_SESSIONS - 1) /
		    BENCH_CTX_SESSIONS;
	if (b->nctx > BENCH_MAX_CTX)
		b->nctx = BENCH_MAX_CTX;
	if (b->nctx > b->ndev)
		b->nctx = b->ndev;
	if ((b->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		bench_errx("epoll_create1: %s", strerror(errno));
	for (i = 0; i < b->nctx; i++) {
		b->ctx[i] = coaps_new_ctx(b);
		if ((fd = coap_context_get_coap_fd(b->ctx[i])) == -1)
			bench_errx("libcoap was built without epoll");
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN;
		ev.data.u32 = i;
		if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, fd, &ev) == -1)
			bench_errx("epoll_ctl: %s", strerror(errno));
	}
	for (i = 0; i < b->ndev; i++)
		b->devs[i].ctx = i % b->nctx;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	if ((rc = getaddrinfo(b->addr, b->port, &hints, &res)) != 0)
		bench_errx("%s: %s", b->addr, gai_strerror(rc));
	coap_address_init(&b->dst);
	b->dst.size = res->ai_addrlen;
	memcpy(&b->dst.addr.sa, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	memset(&b->pki, 0, sizeof(b->pki));
	b->pki.version = COAP_DTLS_PKI_SETUP_VERSION;
	b->pki.verify_peer_cert = 1;
	b->pki.cert_chain_validation = 1;
	b->pki.cert_chain_verify_depth = 4;
	b->pki.pki_key.key_type = COAP_PKI_KEY_PEM;
}

/* Process one context without waiting; exits if libcoap fails. */
static void
coaps_run_ctx(struct bench *b, unsigned i)
{
	b->dirty[i] = 0;
	if (coap_io_process(b->ctx[i], COAP_IO_NO_WAIT) < 0)
		bench_errx("coap_io_process failed");
}

/*
 * Run libcoap for at most ms milliseconds: first the contexts we gave
 * work (their timers are armed by the pass), then wait for any context's
 * fd (not at all when that pass queued work) and process only the ready
 * ones.
 */
static void
coaps_poll(struct bench *b, int ms)
{
	struct epoll_event	ev[BENCH_MAX_CTX];
	unsigned		i;
	int			n, k;

	for (i = 0; i < b->nctx; i++)
		if (b->dirty[i])
			coaps_run_ctx(b, i);
	/* answers taken just now queued work: do not sleep on it */
	n = epoll_wait(b->epfd, ev, (int)b->nctx, b->ntodo > 0 ? 0 :
	    ms < 1 ? 1 : ms);
	if (n == -1 && errno != EINTR)
		bench_errx("epoll_wait: %s", strerror(errno));
	for (k = 0; k < n; k++)
		coaps_run_ctx(b, ev[k].data.u32);
}

/* Fail every running exchange whose deadline has passed. */
static void
check_deadlines(struct bench *b, int64_t now)
{
	unsigned	i;
	struct dev	*d;

	for (i = 0; i < b->ndev; i++) {
		d = &b->devs[i];
		if ((d->phase == DEV_CONNECTING || d->phase == DEV_RUNNING) &&
		    d->todo == TODO_NONE && now > d->deadline)
			dev_fail(b, d, d->phase == DEV_CONNECTING ?
			    "handshake_timeout" : "timeout");
	}
}

/*
 * Work off the todo list.  Work may queue more (a device done and queued
 * again, a callback from inside libcoap), so entries past the end are
 * taken too; at most ndev are waiting at any time, and the array has room
 * for twice that, so the done part is cut off when the end is near.
 */
static void
coaps_drain(struct bench *b)
{
	size_t	i;

	for (i = 0; i < b->ntodo; i++) {
		if (b->ntodo + 1 >= 2 * (size_t)b->ndev) {
			memmove(b->todo, b->todo + i,
			    (b->ntodo - i) * sizeof(*b->todo));
			b->ntodo -= i;
			i = 0;
		}
		coaps_work(b, &b->devs[b->todo[i]]);
	}
	b->ntodo = 0;
}

/* -P: give every device its session before the timed phase. */
static void
coaps_prepare(struct bench *b)
{
	int64_t		 until, now, last = 0;
	unsigned	 next = 0;
	struct dev	*d;

	until = now_us() + (int64_t)(b->duration > 0 ? b->duration : 600) *
	    1000000 + (int64_t)b->timeout_ms * 1000;
	b->nfree = 0;
	while (!bench_stop && (now = now_us()) < until) {
		while (next < b->ndev && b->connecting < (b->hs_conc ?
		    b->hs_conc : b->conc)) {
			d = &b->devs[next++];
			d->prepare = 1;
			coaps_connect(b, d);
		}
		coaps_drain(b);
		if (next == b->ndev && b->connecting == 0)
			break;
		coaps_poll(b, BENCH_STEP_MS / 2);
		coaps_drain(b);
		check_deadlines(b, now_us());
		if (!b->quiet && now - last > 1000000) {
			last = now;
			fprintf(stderr, "prepare: %llu up, %llu failed, %llu "
			    "connecting\n", (unsigned long long)b->prepared,
			    (unsigned long long)b->prepare_failed,
			    (unsigned long long)b->connecting);
		}
	}
	if (!b->quiet)
		fprintf(stderr, "prepare: %llu sessions up, %llu failed\n",
		    (unsigned long long)b->prepared,
		    (unsigned long long)b->prepare_failed);
}

/* ---- https mode ---- */

/* Count the answer body; it is not kept. */
static size_t
https_body_cb(char *ptr, size_t size, size_t n, void *arg)
{
	struct dev	*d = arg;

	(void)ptr;
	d->http_len += size * n;
	return size * n;
}

/* Base64 of the device's CSR, as RFC 7030 wants the body. */
static char *
csr_base64(const uint8_t *der, size_t len)
{
	char	*out = xcalloc(1, 4 * ((len + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, der, (int)len);
	return out;
}

/* Start the current step of a device's iteration as one transfer. */
static void
https_send(struct bench *b, struct dev *d)
{
	const struct step_def	*s = &b->steps[d->step];
	char			*url, *body;

	if (d->easy == NULL) {
		if ((d->easy = curl_easy_init()) == NULL)
			bench_errx("curl_easy_init failed");
	} else
		curl_easy_reset(d->easy);
	curl_slist_free_all(d->hdrs);
	d->hdrs = NULL;
	if (s->http_path != NULL)
		url = xasprintf("%s/.well-known/est/%s", b->url, s->http_path);
	else
		url = xasprintf("%s%s", b->url, b->get_path);
	curl_easy_setopt(d->easy, CURLOPT_URL, url);
	free(url);
	curl_easy_setopt(d->easy, CURLOPT_PRIVATE, d);
	curl_easy_setopt(d->easy, CURLOPT_WRITEFUNCTION, https_body_cb);
	curl_easy_setopt(d->easy, CURLOPT_WRITEDATA, d);
	curl_easy_setopt(d->easy, CURLOPT_SSLCERT, d->id->cert);
	curl_easy_setopt(d->easy, CURLOPT_SSLKEY, d->id->key);
	curl_easy_setopt(d->easy, CURLOPT_CAINFO, b->cafile);
	curl_easy_setopt(d->easy, CURLOPT_SSL_SESSIONID_CACHE, 0L);
	curl_easy_setopt(d->easy, CURLOPT_TIMEOUT_MS, (long)b->timeout_ms);
	curl_easy_setopt(d->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(d->easy, CURLOPT_HTTP_VERSION,
	    CURL_HTTP_VERSION_1_1);
	/* one mutual-TLS handshake per simulated device and iteration */
	if (d->step == 0)
		curl_easy_setopt(d->easy, CURLOPT_FRESH_CONNECT, 1L);
	if (d->step + 1 == b->nsteps)
		curl_easy_setopt(d->easy, CURLOPT_FORBID_REUSE, 1L);
	if (s->post) {
		body = csr_base64(d->csr, d->csr_len);
		d->hdrs = curl_slist_append(d->hdrs,
		    "Content-Type: application/pkcs10");
		d->hdrs = curl_slist_append(d->hdrs,
		    "Content-Transfer-Encoding: base64");
		curl_easy_setopt(d->easy, CURLOPT_HTTPHEADER, d->hdrs);
		curl_easy_setopt(d->easy, CURLOPT_POSTFIELDSIZE,
		    (long)strlen(body));
		curl_easy_setopt(d->easy, CURLOPT_COPYPOSTFIELDS, body);
		free(body);
	}
	d->http_len = 0;
	d->t_step = now_us();
	d->phase = DEV_RUNNING;
	b->sends++;
	b->st[d->step].blocks++;
	if (curl_multi_add_handle(b->multi, d->easy) != CURLM_OK)
		bench_errx("curl_multi_add_handle failed");
}

/* Start an iteration in https mode. */
static void
https_start(struct bench *b, struct dev *d)
{
	d->in_iter = 1;
	d->err = NULL;
	d->step = 0;
	d->t_iter = now_us();
	b->started++;
	b->inflight++;
	https_send(b, d);
}

/* End a device's https iteration. */
static void
https_done(struct bench *b, struct dev *d, int ok, const char *why)
{
	d->in_iter = 0;
	d->phase = DEV_IDLE;
	b->inflight--;
	if (ok) {
		b->ok++;
		hist_add(&b->iter, (double)(now_us() - d->t_iter));
	} else {
		b->failed++;
		codes_add(&b->errors, why);
	}
	b->freelist[b->nfree++] = d->idx;
}

/* Run curl for at most ms and take the finished transfers. */
static void
https_poll(struct bench *b, int ms)
{
	struct CURLMsg	*m;
	struct dev	*d;
	int		 running, left;
	long		 status;
	char		 cs[16];
	static char	 why[BENCH_NCODES][32];
	static size_t	 nwhy;
	size_t		 i;

	curl_multi_perform(b->multi, &running);
	curl_multi_poll(b->multi, NULL, 0, ms < 1 ? 1 : ms, NULL);
	curl_multi_perform(b->multi, &running);
	while ((m = curl_multi_info_read(b->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &d);
		curl_multi_remove_handle(b->multi, m->easy_handle);
		status = 0;
		curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE,
		    &status);
		hist_add(&b->st[d->step].lat, (double)(now_us() - d->t_step));
		if (m->data.result != CURLE_OK)
			snprintf(cs, sizeof(cs), "curl%d",
			    (int)m->data.result);
		else
			snprintf(cs, sizeof(cs), "%ld", status);
		codes_add(&b->st[d->step].codes, cs);
		if (m->data.result != CURLE_OK || status / 100 != 2) {
			char name[32];

			snprintf(name, sizeof(name), "%s_%s",
			    b->steps[d->step].name, cs);
			for (i = 0; i < nwhy; i++)
				if (strcmp(why[i], name) == 0)
					break;
			if (i == nwhy && nwhy < BENCH_NCODES)
				snprintf(why[nwhy++], sizeof(why[0]), "%s",
				    name);
			https_done(b, d, 0, i < nwhy ? why[i] : "http");
			continue;
		}
		if (++d->step < b->nsteps)
			https_send(b, d);
		else
			https_done(b, d, 1, NULL);
	}
}

/* ---- flood mode ---- */

/*
 * One flood attempt: a UDP socket of its own (a new source port) that
 * sends a ClientHello, answers the HelloVerifyRequest with the cookie
 * and leaves once the server's flight starts, so the server keeps a
 * half-open handshake until it culls it (-S stall, the default). With
 * -S nocookie it never answers the HelloVerifyRequest, as a spoofed
 * source address could not: it leaves when that arrives.
 */
struct flooder {
	int		 fd;
	SSL		*ssl;
	int64_t		 t_start;
	int		 cookie_sent;	/* the HelloVerifyRequest was answered */
	int		 answered;	/* ServerHello (nocookie: HelloVerifyRequest) */
};

/* DTLS 1.2: record header, then the handshake message type (RFC 6347 4.1) */
#define DTLS_RECORD_HEADER	13

/*
 * Note the HelloVerifyRequest (OpenSSL answers it with the ClientHello
 * that carries the cookie) and a ServerHello: time to leave.
 */
static void
flood_msg_cb(int write_p, int version, int content_type, const void *buf,
    size_t len, SSL *ssl, void *arg)
{
	struct flooder	*f = arg;
	const uint8_t	*p = buf;

	(void)version;
	(void)ssl;
	if (write_p || content_type != SSL3_RT_HANDSHAKE || len == 0)
		return;
	if (p[0] == DTLS1_MT_HELLO_VERIFY_REQUEST)
		f->cookie_sent = 1;
	if (p[0] == SSL3_MT_SERVER_HELLO)
		f->answered = 1;
}

/*
 * A flood attempt's socket is readable. OpenSSL reads from a memory BIO
 * that gets the datagrams only until the cookie went out; after that a
 * datagram is looked at here and never given to OpenSSL, so the attempt
 * leaves at the server's first flight whatever the rest of the flight
 * does (with the socket as its BIO, OpenSSL answered a flight that had
 * arrived whole with an empty certificate, and the server failed that
 * handshake at once instead of holding it half-open).
 */
static void
flood_read(struct flooder *f, int nocookie)
{
	uint8_t	buf[2048];
	ssize_t	n;

	while ((n = recv(f->fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		if (nocookie) {
			if (n > DTLS_RECORD_HEADER && buf[0] ==
			    SSL3_RT_HANDSHAKE && buf[DTLS_RECORD_HEADER] ==
			    DTLS1_MT_HELLO_VERIFY_REQUEST)
				f->answered = 1;
			continue;
		}
		if (!f->cookie_sent) {
			BIO_write(SSL_get_rbio(f->ssl), buf, (int)n);
			SSL_connect(f->ssl);
			continue;
		}
		if (n > DTLS_RECORD_HEADER && buf[0] == SSL3_RT_HANDSHAKE &&
		    buf[DTLS_RECORD_HEADER] == SSL3_MT_SERVER_HELLO)
			f->answered = 1;
	}
}

/* Run the flood: -r attempts per second for -t seconds or -N attempts. */
static void
flood_run(struct bench *b)
{
	struct flooder	*fl;
	SSL_CTX		*sctx;
	struct addrinfo	 hints, *res, *src = NULL;
	struct pollfd	*pfd;
	size_t		 nfl = 0, cap, i, j;
	int64_t		 now, next;
	double		 interval;
	int		 rc, fd;
	BIO		*bio, *rbio;

	if (b->rate <= 0)
		bench_errx("-m flood needs -r rate");
	cap = b->conc > 1 ? b->conc : 1000;
	fl = xcalloc(cap, sizeof(*fl));
	pfd = xcalloc(cap, sizeof(*pfd));
	if ((sctx = SSL_CTX_new(DTLS_client_method())) == NULL)
		bench_errx("SSL_CTX_new failed");
	SSL_CTX_set_verify(sctx, SSL_VERIFY_NONE, NULL);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	if ((rc = getaddrinfo(b->addr, b->port, &hints, &res)) != 0)
		bench_errx("%s: %s", b->addr, gai_strerror(rc));
	/* -B: the attacker's own address, never a device's address and port */
	hints.ai_family = res->ai_family;
	if (b->bind_addr != NULL &&
	    (rc = getaddrinfo(b->bind_addr, "0", &hints, &src)) != 0)
		bench_errx("%s: %s", b->bind_addr, gai_strerror(rc));
	interval = 1e6 / b->rate;
	b->t0 = now_us();
	next = b->t0;
	while (!bench_stop) {
		now = now_us();
		if (b->duration > 0 && now >= b->t0 + (int64_t)(b->duration *
		    1e6))
			break;
		if (b->count > 0 && b->started >= b->count)
			break;
		while (now >= next) {
			next += (int64_t)interval;
			if (nfl == cap) {
				b->skipped++;
				continue;
			}
			fd = socket(res->ai_family, SOCK_DGRAM, 0);
			if (fd == -1 || (src != NULL && bind(fd, src->ai_addr,
			    src->ai_addrlen) == -1) || connect(fd, res->ai_addr,
			    res->ai_addrlen) == -1) {
				if (fd != -1)
					close(fd);
				codes_add(&b->errors, "socket");
				continue;
			}
			fcntl(fd, F_SETFL, O_NONBLOCK);
			fl[nfl].fd = fd;
			fl[nfl].ssl = SSL_new(sctx);
			fl[nfl].t_start = now;
			fl[nfl].answered = 0;
			fl[nfl].cookie_sent = 0;
			/* OpenSSL reads only what flood_read() hands it */
			bio = BIO_new_dgram(fd, BIO_NOCLOSE);
			BIO_ctrl(bio, BIO_CTRL_DGRAM_SET_CONNECTED, 0,
			    res->ai_addr);
			rbio = BIO_new(BIO_s_mem());
			BIO_set_mem_eof_return(rbio, -1);
			SSL_set_bio(fl[nfl].ssl, rbio, bio);
			SSL_set_msg_callback(fl[nfl].ssl, flood_msg_cb);
			SSL_set_msg_callback_arg(fl[nfl].ssl, &fl[nfl]);
			SSL_connect(fl[nfl].ssl);
			b->started++;
			nfl++;
		}
		for (i = 0; i < nfl; i++) {
			pfd[i].fd = fl[i].fd;
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
		}
		rc = (int)((next - now_us()) / 1000);
		poll(pfd, nfl, rc < 0 ? 0 : rc > 50 ? 50 : rc);
		now = now_us();
		for (i = j = 0; i < nfl; i++) {
			if (pfd[i].revents & POLLIN)
				flood_read(&fl[i], b->nocookie);
			if (fl[i].answered ||
			    now - fl[i].t_start > 2000000) {
				if (fl[i].answered)
					b->ok++;
				else
					b->failed++;
				SSL_free(fl[i].ssl);
				close(fl[i].fd);
				continue;
			}
			fl[j++] = fl[i];
			SSL_set_msg_callback_arg(fl[j - 1].ssl, &fl[j - 1]);
		}
		nfl = j;
	}
	for (i = 0; i < nfl; i++) {
		SSL_free(fl[i].ssl);
		close(fl[i].fd);
	}
	freeaddrinfo(res);
	if (src != NULL)
		freeaddrinfo(src);
	SSL_CTX_free(sctx);
	free(fl);
	free(pfd);
}

/* ---- the run ---- */

/* Start one iteration on a free device, if there is one; 0 or -1. */
static int
start_one(struct bench *b)
{
	struct dev	*d;

	if (b->nfree == 0 || b->inflight >= b->conc)
		return -1;
	d = &b->devs[b->freelist[--b->nfree]];
	if (strcmp(b->mode, "https") == 0)
		https_start(b, d);
	else
		coaps_start(b, d);
	return 0;
}

/* One progress line on stderr. */
static void
progress(struct bench *b, int64_t now)
{
	double	t = (double)(now - b->t0) / 1e6;

	if (b->quiet)
		return;
	fprintf(stderr, "t=%.0fs started=%llu ok=%llu failed=%llu "
	    "inflight=%llu rate=%.1f/s\n", t,
	    (unsigned long long)b->started, (unsigned long long)b->ok,
	    (unsigned long long)b->failed, (unsigned long long)b->inflight,
	    t > 0 ? (double)b->ok / t : 0);
}

/* Seconds of user+system CPU between two rusages. */
static double
ru_cpu(const struct rusage *a, const struct rusage *z)
{
	return (double)(z->ru_utime.tv_sec - a->ru_utime.tv_sec) +
	    (double)(z->ru_stime.tv_sec - a->ru_stime.tv_sec) +
	    (double)(z->ru_utime.tv_usec - a->ru_utime.tv_usec) / 1e6 +
	    (double)(z->ru_stime.tv_usec - a->ru_stime.tv_usec) / 1e6;
}

/* The generator's own CPU seconds since a getrusage() sample. */
static double
self_cpu_since(const struct rusage *r0)
{
	struct rusage	now;

	getrusage(RUSAGE_SELF, &now);
	return ru_cpu(r0, &now);
}

/* Once a second: sample the watched processes into the timeline. */
static void
tick(struct bench *b, int64_t now)
{
	struct proc_sample	 s;
	struct tick		*t;
	size_t			 i;

	if (b->nticks == BENCH_MAX_TIMELINE)
		return;
	if (b->ticks == NULL)
		b->ticks = xcalloc(BENCH_MAX_TIMELINE, sizeof(*b->ticks));
	t = &b->ticks[b->nticks++];
	t->t = (double)(now - b->t0) / 1e6;
	t->ok = b->ok;
	t->failed = b->failed;
	t->inflight = b->inflight;
	t->gen_cpu_s = self_cpu_since(&b->ru0);
	for (i = 0; i < b->nwatch; i++) {
		proc_sample(b->watch[i], &s);
		t->cpu_s[i] = s.cpu_s - b->w0[i].cpu_s;
		t->rss_kb[i] = s.rss_kb;
		if (s.rss_kb > b->w_max_rss[i])
			b->w_max_rss[i] = s.rss_kb;
	}
}

/* From a callback: the once-a-second work, during the timed phase. */
static void
maybe_tick(struct bench *b)
{
	int64_t	now;

	if (b->t0 == 0 || b->t_end != 0)
		return;
	now = now_us();
	if (now - b->t_last_progress >= 1000000) {
		b->t_last_progress = now;
		progress(b, now);
		tick(b, now);
	}
}

/* Write the ready file (for a harness that samples during -H). */
static void
write_ready(struct bench *b, const char *what)
{
	FILE	*f;

	if (b->readyfile == NULL)
		return;
	if ((f = fopen(b->readyfile, "a")) == NULL)
		return;
	fprintf(f, "%s %llu\n", what, (unsigned long long)b->ok);
	fclose(f);
}

/* -G: keep the sessions going until the go file exists (10 min at most). */
static void
wait_go(struct bench *b)
{
	int64_t	until = now_us() + 600 * 1000000LL;

	while (b->gofile != NULL && !bench_stop && now_us() < until &&
	    access(b->gofile, F_OK) == -1) {
		if (b->nctx > 0) {
			coaps_poll(b, BENCH_STEP_MS / 2);
			coaps_drain(b);
		} else
			usleep(50000);
	}
}

/* The timed phase: start iterations by the loop's rule until a bound. */
static void
run_timed(struct bench *b)
{
	int		 https = strcmp(b->mode, "https") == 0;
	int64_t		 now, next_start, end_by = 0, last_dl = 0;
	double		 interval = b->rate > 0 ? 1e6 / b->rate : 0;
	int		 wait;

	b->t0 = now_us();
	b->t_last_progress = b->t0;
	next_start = b->t0;
	if (b->duration > 0)
		end_by = b->t0 + (int64_t)(b->duration * 1e6);
	for (;;) {
		now = now_us();
		if (bench_stop)
			break;
		if (end_by > 0 && now >= end_by)
			break;
		if (b->count > 0 && b->started >= b->count &&
		    b->inflight == 0)
			break;
		/* no device left to start (all failed -P): nothing can happen */
		if (b->inflight == 0 && b->nfree == 0 && b->started > 0)
			break;
		if (b->inflight == 0 && b->nfree == 0 && b->prepare &&
		    b->prepared == 0)
			break;
		if (b->count == 0 || b->started < b->count) {
			if (interval > 0) {
				while (now >= next_start &&
				    (b->count == 0 || b->started < b->count)) {
					next_start += (int64_t)interval;
					if (start_one(b) == -1)
						b->skipped++;
				}
			} else {
				while ((b->count == 0 || b->started <
				    b->count) && start_one(b) == 0)
					;
			}
		}
		if (!https)
			coaps_drain(b);
		wait = BENCH_STEP_MS;
		if (interval > 0) {
			int64_t w = (next_start - now_us()) / 1000;

			wait = w < 0 ? 0 : w < wait ? (int)w : wait;
		}
		if (https)
			https_poll(b, wait);
		else {
			coaps_poll(b, wait);
			coaps_drain(b);
		}
		now = now_us();
		if (!https && now - last_dl > 100000) {
			check_deadlines(b, now);
			last_dl = now;
		}
		if (now - b->t_last_progress >= 1000000) {
			b->t_last_progress = now;
			progress(b, now);
			tick(b, now);
		}
	}
	b->t_end = now_us();
	b->wall_s = (double)(b->t_end - b->t0) / 1e6;
}

/* -H: keep the sessions up and idle; the watched RSS is sampled at the end. */
static void
hold(struct bench *b)
{
	struct proc_sample	s[BENCH_MAX_WATCH];
	int64_t			until = now_us() + (int64_t)(b->hold_s * 1e6);
	size_t			i;

	write_ready(b, "hold");
	while (!bench_stop && now_us() < until) {
		coaps_poll(b, BENCH_STEP_MS);
		coaps_drain(b);
	}
	watch_sample(b, s);
	for (i = 0; i < b->nwatch; i++)
		b->w_hold_rss[i] = s[i].rss_kb;
}

/* Print one histogram as JSON members. */
static void
json_hist(FILE *f, const char *name, const struct hist *h)
{
	fprintf(f, "\"%s\":{\"n\":%llu,\"mean_ms\":%.3f,\"p50_ms\":%.3f,"
	    "\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f}", name,
	    (unsigned long long)h->n, h->n ? h->sum_us / (double)h->n / 1000
	    : 0, hist_q(h, 0.50), hist_q(h, 0.90), hist_q(h, 0.99),
	    h->max_us / 1000);
}

/* Print a code table as a JSON object. */
static void
json_codes(FILE *f, const struct codes *c)
{
	size_t	i;

	fputc('{', f);
	for (i = 0; i < c->n; i++)
		fprintf(f, "%s\"%s\":%llu", i ? "," : "", c->name[i],
		    (unsigned long long)c->count[i]);
	fputc('}', f);
}

/* Write the result object. */
static void
report(struct bench *b)
{
	FILE		*f = stdout;
	double		 gcpu = ru_cpu(&b->ru0, &b->ru1);
	size_t		 i;
	unsigned	 k;

	if (b->outfile != NULL && (f = fopen(b->outfile, "w")) == NULL)
		bench_errx("%s: %s", b->outfile, strerror(errno));
	fprintf(f, "{\"label\":\"%s\",\"mode\":\"%s\",\"session\":\"%s\","
	    "\"steps\":\"", b->label ? b->label : "", b->mode,
	    b->reuse ? "reuse" : b->resume ? "resume" : "new");
	for (i = 0; i < b->nsteps; i++)
		fprintf(f, "%s%s", i ? "," : "", b->steps[i].name);
	fprintf(f, "\",\"devices\":%u,\"identities\":%u,\"concurrency\":%u,"
	    "\"rate\":%.2f,\"szx\":%d,\"contexts\":%u,", b->ndev, b->nids,
	    b->conc, b->rate, b->szx, b->nctx);
	fprintf(f, "\"resumed\":%llu,", (unsigned long long)b->resumed);
	fprintf(f, "\"prepared\":%llu,\"prepare_failed\":%llu,"
	    "\"started\":%llu,\"ok\":%llu,\"failed\":%llu,\"skipped\":%llu,"
	    "\"unfinished\":%llu,\"wall_s\":%.3f,\"ok_per_s\":%.2f,",
	    (unsigned long long)b->prepared,
	    (unsigned long long)b->prepare_failed,
	    (unsigned long long)b->started, (unsigned long long)b->ok,
	    (unsigned long long)b->failed, (unsigned long long)b->skipped,
	    (unsigned long long)b->inflight, b->wall_s,
	    b->wall_s > 0 ? (double)b->ok / b->wall_s : 0);
	/* a PDU that never left (its session went away) is no retransmit */
	fprintf(f, "\"gen_cpu_s\":%.3f,\"gen_cpu_pct\":%.1f,\"pdus_sent\":%llu,"
	    "\"retransmits\":%lld,\"empty_rx\":%llu,", gcpu,
	    b->wall_s > 0 ? 100 * gcpu / b->wall_s : 0,
	    (unsigned long long)b->sends, strcmp(b->mode, "coaps") == 0 &&
	    b->data_writes > b->sends ?
	    (long long)b->data_writes - (long long)b->sends : 0LL,
	    (unsigned long long)b->empty_rx);
	json_hist(f, "iteration", &b->iter);
	fputc(',', f);
	json_hist(f, "handshake", &b->hs);
	fprintf(f, ",\"errors\":");
	json_codes(f, &b->errors);
	fprintf(f, ",\"step\":{");
	for (i = 0; i < b->nsteps; i++) {
		fprintf(f, "%s\"%s\":{\"pdus\":%llu,\"separate\":%llu,",
		    i ? "," : "", b->steps[i].name,
		    (unsigned long long)b->st[i].blocks,
		    (unsigned long long)b->st[i].separate);
		json_hist(f, "latency", &b->st[i].lat);
		fputc(',', f);
		json_hist(f, "empty_ack", &b->st[i].ack);
		fputc(',', f);
		json_hist(f, "first_reply", &b->st[i].first);
		fprintf(f, ",\"codes\":");
		json_codes(f, &b->st[i].codes);
		fprintf(f, ",\"maxage_503\":");
		json_codes(f, &b->st[i].maxage);
		fputc('}', f);
	}
	fprintf(f, "},\"watch\":[");
	for (k = 0; k < b->nwatch; k++)
		fprintf(f, "%s{\"pid\":%d,\"cpu_s\":%.3f,\"rss0_kb\":%ld,"
		    "\"rss1_kb\":%ld,\"rss_max_kb\":%ld,\"rss_hold_kb\":%ld}",
		    k ? "," : "", (int)b->watch[k],
		    b->w1[k].cpu_s - b->w0[k].cpu_s, b->w0[k].rss_kb,
		    b->w1[k].rss_kb, b->w_max_rss[k] > b->w1[k].rss_kb ?
		    b->w_max_rss[k] : b->w1[k].rss_kb, b->w_hold_rss[k]);
	/* [t, ok, failed, inflight, cpu_s and rss_kb of each watched,
	 * the generator's cpu_s] */
	fprintf(f, "],\"timeline\":[");
	for (i = 0; i < b->nticks; i++) {
		const struct tick *t = &b->ticks[i];

		fprintf(f, "%s[%.2f,%llu,%llu,%llu", i ? "," : "", t->t,
		    (unsigned long long)t->ok, (unsigned long long)t->failed,
		    (unsigned long long)t->inflight);
		for (k = 0; k < b->nwatch; k++)
			fprintf(f, ",%.3f,%ld", t->cpu_s[k], t->rss_kb[k]);
		fprintf(f, ",%.3f]", t->gen_cpu_s);
	}
	fprintf(f, "]}\n");
	if (f != stdout)
		fclose(f);
}

/* Ask the loop to stop at the next turn. */
static void
on_signal(int sig)
{
	(void)sig;
	bench_stop = 1;
}

/* Parse, set up, prepare, run the timed phase, hold, report. */
int
main(int argc, char *argv[])
{
	struct bench	*b = xcalloc(1, sizeof(*b));
	struct rlimit	 rl = { 1024, 1024 };
	unsigned	 i;
	size_t		 k;

	bench_g = b;
	parse_args(b, argc, argv);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	/* one socket per device: lift the descriptor limit to the hard one */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rlim_t want = (rlim_t)b->ndev + 1024;

		/* root may lift the hard limit too (B6 holds 20k sessions) */
		if (want > rl.rlim_max && geteuid() == 0) {
			struct rlimit up = { want, want };

			if (setrlimit(RLIMIT_NOFILE, &up) == 0)
				rl = up;
		}
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (strcmp(b->mode, "flood") == 0) {
		write_ready(b, "start");
		wait_go(b);
		getrusage(RUSAGE_SELF, &b->ru0);
		watch_sample(b, b->w0);
		flood_run(b);
		b->t_end = now_us();
		b->wall_s = (double)(b->t_end - b->t0) / 1e6;
		getrusage(RUSAGE_SELF, &b->ru1);
		watch_sample(b, b->w1);
		report(b);
		return 0;
	}
	load_devices(b);
	if (b->ndev + 64 > rl.rlim_cur && strcmp(b->mode, "coaps") == 0)
		bench_errx("%u devices need more than %llu descriptors",
		    b->ndev, (unsigned long long)rl.rlim_cur);
	if (b->conc > b->ndev)
		b->conc = b->ndev;
	if (strcmp(b->mode, "https") == 0) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 ||
		    (b->multi = curl_multi_init()) == NULL)
			bench_errx("curl init failed");
		curl_multi_setopt(b->multi, CURLMOPT_MAXCONNECTS,
		    (long)b->conc);
	} else
		coaps_init(b);
	if (b->prepare)
		coaps_prepare(b);
	write_ready(b, "start");
	wait_go(b);
	getrusage(RUSAGE_SELF, &b->ru0);
	watch_sample(b, b->w0);
	run_timed(b);
	getrusage(RUSAGE_SELF, &b->ru1);
	watch_sample(b, b->w1);
	progress(b, b->t_end);
	if (b->hold_s > 0 && b->multi == NULL)
		hold(b);
	report(b);
	fflush(stdout);
	if (b->noclose)
		_exit(0);
	/* tidy up so a leak checker sees nothing of ours */
	for (i = 0; i < b->ndev; i++) {
		struct dev *d = &b->devs[i];

		if (b->multi != NULL && d->easy != NULL) {
			curl_multi_remove_handle(b->multi, d->easy);
			curl_easy_cleanup(d->easy);
			curl_slist_free_all(d->hdrs);
		}
		if (b->nctx > 0)
			coaps_close(b, d);
		if (b->keygen != NULL)
			OPENSSL_free((void *)d->csr);
		SSL_SESSION_free(d->resume);
	}
	if (b->nctx > 0) {
		/* let the close_notify alerts leave */
		for (i = 0; i < b->nctx; i++) {
			coap_io_process(b->ctx[i], COAP_IO_NO_WAIT);
			coap_free_context(b->ctx[i]);
		}
		close(b->epfd);
		coap_cleanup();
	}
	if (b->multi != NULL) {
		curl_multi_cleanup(b->multi);
		curl_global_cleanup();
	}
	for (k = 0; k < b->nids; k++) {
		free(b->ids[k].cert);
		free(b->ids[k].key);
		free(b->ids[k].csr);
	}
	free(b->ids);
	free(b->devs);
	free(b->todo);
	free(b->freelist);
	free(b->ticks);
	free(b);
	return 0;
}
