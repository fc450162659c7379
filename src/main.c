/*
 * estcoapd: EST-over-CoAPS registrar (RFC 9148). Options, start-up order
 * and exit codes; everything else lives in proc and below.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <openssl/crypto.h>

#include "coap_front.h"
#include "config.h"
#include "estcoapd.h"
#include "gen.h"
#include "log.h"
#include "pki.h"
#include "proc.h"
#include "util.h"
#include "workers.h"

static void __attribute__((noreturn))
usage(int rc)
{
	fprintf(rc == 0 ? stdout : stderr,
	    "usage: estcoapd [-dfhtVW] [-c file]\n"
	    "  -c file  configuration (default %s)\n"
	    "  -t       check the configuration and its files, then exit\n"
	    "  -W       print the nftables rules that spread devices over "
	    "service.workers\n"
	    "  -f       stay in the foreground and log to stderr\n"
	    "  -d       debug logging\n"
	    "  -V       print the version and library versions\n"
	    "  -h       this help; -h -h also lists every config key\n"
	    "exit status: 0 ok, 1 configuration or usage error, "
	    "2 start-up failure\n", ESTCOAPD_CONF_DEFAULT);
	exit(rc);
}

/* -V: our version and the versions of the libraries we run with. */
static void
print_versions(void)
{
	curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);

	printf("estcoapd %s\n", ESTCOAPD_VERSION);
	printf("%s\n", front_libcoap_version());	/* "libcoap 4.3.1" */
	printf("OpenSSL %s\n", OpenSSL_version(OPENSSL_VERSION_STRING));
	printf("libcurl %s\n", cv->version);
	printf("libevent %s\n", event_get_version());
}

/*
 * Go to the background, but let the parent exit only when the child is
 * listening (0) or has failed (its exit code), so that a start script
 * sees a bind failure. Returns the child's end of the pipe, or -1.
 */
static int
daemonize(void)
{
	int	p[2], status, fd;
	pid_t	pid;
	char	c;

	if (pipe(p) == -1) {
		log_warn("pipe");
		return -1;
	}
	if ((pid = fork()) == -1) {
		log_warn("fork");
		return -1;
	}
	if (pid > 0) {
		close(p[1]);
		if (read(p[0], &c, 1) == 1)
			_exit(EXIT_OK);
		if (waitpid(pid, &status, 0) == pid && WIFEXITED(status))
			_exit(WEXITSTATUS(status));
		_exit(EXIT_RUNTIME);
	}
	close(p[0]);
	if (setsid() == -1 || chdir("/") == -1)
		log_warn("setsid/chdir");
	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	return p[1];
}

/* The command line. */
struct main_opts {
	const char	*file;		/* -c */
	int		 check;		/* -t */
	int		 fg;		/* -f */
	int		 debug;		/* -d */
	int		 nft;		/* -W */
};

/* Parse the options; -V, -h, -hh and errors end the process here. */
static void
main_opts(int argc, char *argv[], struct main_opts *o)
{
	int	 ch, help = 0;

	memset(o, 0, sizeof(*o));
	o->file = ESTCOAPD_CONF_DEFAULT;
	while ((ch = getopt(argc, argv, "c:dfhtVW")) != -1) {
		switch (ch) {
		case 'c':
			o->file = optarg;
			break;
		case 'd':
			o->debug = 1;
			break;
		case 'f':
			o->fg = 1;
			break;
		case 'h':
			help++;
			break;
		case 't':
			o->check = 1;
			break;
		case 'V':
			print_versions();
			exit(EXIT_OK);
		case 'W':
			o->nft = 1;
			break;
		default:
			usage(EXIT_CONFIG);
		}
	}
	if (optind != argc)
		usage(EXIT_CONFIG);
	if (help > 1) {
		config_dump_keys();
		exit(EXIT_OK);
	}
	if (help)
		usage(EXIT_OK);
}

/* The configuration's first generation; NULL after printing the errors. */
static struct config *
main_load(const char *file)
{
	struct errlist	 errs = { 0 };
	struct config	*cf;

	if ((cf = gen_load(file, GEN_START, &errs)) == NULL) {
		fprintf(stderr, "%s", errs.text != NULL ? errs.text :
		    "configuration error\n");
		fprintf(stderr, "estcoapd: %d error(s) in %s\n", errs.count,
		    file);
		errlist_free(&errs);
	}
	return cf;
}

/* Run as one process, or as a master of cf->workers; takes over cf. */
static int
main_serve(struct config *cf, const char *file, int ready_fd)
{
	int	 rc;

	if (cf->workers > 1) {
		/* fork before any loop, context or curl state exists */
		log_info("estcoapd %s starting %u workers (%s, %s, libcurl "
		    "%s, libevent %s), config %s", ESTCOAPD_VERSION,
		    cf->workers, front_libcoap_version(),
		    OpenSSL_version(OPENSSL_VERSION),
		    curl_version_info(CURLVERSION_NOW)->version,
		    event_get_version(), file);
		return workers_run(cf, ready_fd);	/* takes over cf */
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_warnx("curl_global_init failed");
		gen_unref(cf);
		return EXIT_RUNTIME;
	}
	log_info("estcoapd %s starting (%s, %s, libcurl %s, "
	    "libevent %s), config %s", ESTCOAPD_VERSION,
	    front_libcoap_version(), OpenSSL_version(OPENSSL_VERSION),
	    curl_version_info(CURLVERSION_NOW)->version, event_get_version(),
	    file);
	rc = proc_run(cf, ready_fd);	/* takes over cf */
	curl_global_cleanup();
	return rc;
}

int
main(int argc, char *argv[])
{
	struct main_opts o;
	struct config	*cf;
	enum log_level	 lvl;
	int		 ready_fd = -1;

	main_opts(argc, argv, &o);
	/* whatever we write (audit log) is ours alone */
	umask(077);
	log_init(1, LOG_LVL_INFO);
	if ((cf = main_load(o.file)) == NULL)
		return EXIT_CONFIG;
	if (o.check || o.nft) {
		if (o.check)
			printf("%s: configuration OK\n", o.file);
		else
			workers_nft(cf, stdout);
		gen_unref(cf);
		return EXIT_OK;
	}
	if (log_level_parse(cf->log_level, &lvl) == -1)
		lvl = LOG_LVL_INFO;
	if (o.debug)
		lvl = LOG_LVL_DEBUG;
	if (!o.fg && (ready_fd = daemonize()) == -1) {
		gen_unref(cf);
		return EXIT_RUNTIME;
	}
	log_init(o.fg, lvl);
	return main_serve(cf, o.file, ready_fd);
}
