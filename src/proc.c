/*
 * The process: libevent owns the loop; libcoap and libcurl run as events
 * on it. Signal callbacks only schedule work (style.md).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "coap_front.h"
#include "config.h"
#include "estcoapd.h"
#include "log.h"
#include "proc.h"
#include "upstream.h"

static struct event_base *proc_base;

/* Stop the loop; cleanup happens in proc_run. */
void
proc_stop(void)
{
	if (proc_base != NULL)
		event_base_loopbreak(proc_base);
}

/* SIGTERM / SIGINT. */
static void
proc_sigstop_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	(void)arg;
	log_info("signal %d: stopping (%u requests pending)", (int)sig,
	    front_pending());
	proc_stop();
}

/* SIGHUP: a full reload arrives with the operations work; say so. */
static void
proc_sighup_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	log_warnx("SIGHUP: reload is not supported yet; restart to apply "
	    "a new configuration");
}

/* Once a second: block expiry, cache refresh, libcoap housekeeping. */
static void
proc_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	front_tick();
}

/* See proc.h. */
int
proc_run(struct config *cf, int ready_fd)
{
	struct upstream		*up = NULL;
	struct event		*ev_term = NULL, *ev_int = NULL, *ev_hup = NULL;
	struct event		*ev_tick = NULL;
	struct timeval		 one = { 1, 0 };
	int			 rc = EXIT_RUNTIME;

	signal(SIGPIPE, SIG_IGN);
	if ((proc_base = event_base_new()) == NULL) {
		log_warnx("cannot create the event loop");
		return EXIT_RUNTIME;
	}
	if ((up = upstream_new(proc_base, cf)) == NULL) {
		log_warnx("cannot set up the upstream client");
		goto out;
	}
	if (front_init(proc_base, cf, up) == -1)
		goto out;
	ev_term = evsignal_new(proc_base, SIGTERM, proc_sigstop_cb, NULL);
	ev_int = evsignal_new(proc_base, SIGINT, proc_sigstop_cb, NULL);
	ev_hup = evsignal_new(proc_base, SIGHUP, proc_sighup_cb, NULL);
	ev_tick = event_new(proc_base, -1, EV_PERSIST, proc_tick_cb, NULL);
	if (ev_term == NULL || ev_int == NULL || ev_hup == NULL ||
	    ev_tick == NULL || evsignal_add(ev_term, NULL) == -1 ||
	    evsignal_add(ev_int, NULL) == -1 ||
	    evsignal_add(ev_hup, NULL) == -1 ||
	    event_add(ev_tick, &one) == -1) {
		log_warnx("cannot set up signals and timers");
		goto out;
	}
	log_info("estcoapd %s ready: upstream %s, %zu listen address(es)",
	    ESTCOAPD_VERSION, cf->up_url, cf->nlisten);
	if (ready_fd != -1) {
		/* the parent of a daemon exits 0 only now */
		if (write(ready_fd, "", 1) != 1)
			log_warn("cannot tell the parent we are ready");
		close(ready_fd);
	}
	event_base_dispatch(proc_base);
	log_info("stopped");
	rc = EXIT_OK;
out:
	front_shutdown();
	upstream_free(up);
	if (ev_term != NULL)
		event_free(ev_term);
	if (ev_int != NULL)
		event_free(ev_int);
	if (ev_hup != NULL)
		event_free(ev_hup);
	if (ev_tick != NULL)
		event_free(ev_tick);
	event_base_free(proc_base);
	proc_base = NULL;
	return rc;
}
