/*
 * Unit test for upstream.c's socket watch: when
 * libevent cannot make the event for a curl socket, the daemon must not
 * crash later (event_free(NULL) on CURL_POLL_REMOVE) nor give up every
 * other transfer; the one exchange fails at its deadline. event_new is
 * interposed here and fails for sockets on demand.
 */
#include <sys/socket.h>

#include <netinet/in.h>

#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "config.h"
#include "gen.h"
#include "pki.h"
#include "upstream.h"

static int		 fail_sockets;	/* event_new for fd >= 0: NULL */
static int		 failed;	/* how often it did */
static struct event_base *base;

/* libevent's event_new, failing for sockets while fail_sockets is set. */
struct event *
event_new(struct event_base *b, evutil_socket_t fd, short what,
    event_callback_fn cb, void *arg)
{
	static struct event *(*real)(struct event_base *, evutil_socket_t,
	    short, event_callback_fn, void *);

	if (fail_sockets && fd >= 0) {
		failed++;
		return NULL;
	}
	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "event_new");
	return real(b, fd, what, cb, arg);
}

/* A TCP listener on loopback that never accepts: connects succeed. */
static int
listener(uint16_t *port)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);
	int			fd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

/* A generation with one route to port; the TLS blobs are never used. */
static struct config *
fake_config(uint16_t port)
{
	struct config		*cf;
	struct config_upstream	*u;

	assert_non_null(cf = calloc(1, sizeof(*cf)));
	assert_non_null(cf->file = strdup("test"));
	assert_non_null(cf->pki = calloc(1, sizeof(*cf->pki)));
	cf->refs = 1;
	cf->gen = 1;
	cf->nroutes = 1;
	u = &cf->routes[0].up;
	snprintf(u->servers[0], sizeof(u->servers[0]), "https://127.0.0.1:%u",
	    (unsigned)port);
	u->nservers = 1;
	u->connect_timeout_ms = 800;
	u->timeout_ms = 800;
	u->max_connections = 4;
	u->down_time_s = 1;
	assert_non_null(cf->pki->up[0].cert_pem = strdup("x"));
	cf->pki->up[0].cert_len = 2;
	assert_non_null(cf->pki->up[0].key_pem = strdup("x"));
	cf->pki->up[0].key_len = 2;
	assert_non_null(cf->pki->up[0].ca_pem = strdup("x"));
	cf->pki->up[0].ca_len = 2;
	return cf;
}

static void
done_cb(void *arg, const struct upstream_result *r)
{
	int *ndone = arg;

	(void)r;
	(*ndone)++;
	event_base_loopbreak(base);
}

/* No socket event can be made: the job fails, nothing crashes. */
static void
test_event_new_fails(void **state)
{
	struct upstream		*up;
	struct config		*cf;
	struct timeval		 tv = { 5, 0 };
	uint16_t		 port;
	int			 lfd, ndone = 0;

	(void)state;
	lfd = listener(&port);
	cf = fake_config(port);
	assert_non_null(base = event_base_new());
	assert_non_null(up = upstream_new(base, cf));
	fail_sockets = 1;
	assert_non_null(upstream_submit_hdrs(up, 0, "/.well-known/est/cacerts",
	    NULL, 0, NULL, NULL, done_cb, &ndone));
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
	assert_true(failed > 0);
	assert_int_equal(ndone, 1);
	/* the next exchange is watched again: it ends too (no TLS here) */
	fail_sockets = 0;
	assert_non_null(upstream_submit_hdrs(up, 0, "/.well-known/est/cacerts",
	    NULL, 0, NULL, NULL, done_cb, &ndone));
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
	assert_int_equal(ndone, 2);
	/* and one still failing when the upstream goes away */
	fail_sockets = 1;
	assert_non_null(upstream_submit_hdrs(up, 0, "/.well-known/est/cacerts",
	    NULL, 0, NULL, NULL, done_cb, &ndone));
	tv.tv_sec = 0;
	tv.tv_usec = 100000;
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
	upstream_free(up);
	gen_unref(cf);
	event_base_free(base);
	close(lfd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_event_new_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
