/*
 * Counters, gauges and a latency histogram, rendered in the Prometheus
 * text exposition format (version 0.0.4), and a small loopback HTTP
 * listener (libevent evhttp) serving /metrics, /healthz and /readyz.
 * Everything is bounded: label sets are few and fixed by the code.
 */
#ifndef ESTCOAPD_METRICS_H
#define ESTCOAPD_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct event_base;

/* Plain counters, declared once (name, help). */
#define METRICS_COUNTERS(X)						\
	X(CACHE_HITS, "estcoapd_cache_hits_total",			\
	    "crts/att answers served from the cache")			\
	X(CACHE_MISSES, "estcoapd_cache_misses_total",			\
	    "crts/att requests that had to go upstream")		\
	X(DEDUP_HITS, "estcoapd_dedup_hits_total",			\
	    "requests answered without an upstream call of their own: " \
	    "repeats, and identical requests while one is pending")	\
	X(CERTS_ISSUED, "estcoapd_certificates_issued_total",		\
	    "certificates handed to devices (sen, sren, skg, skc)")		\
	X(RELOADS, "estcoapd_reloads_total",				\
	    "successful configuration reloads")				\
	X(RELOAD_FAILURES, "estcoapd_reload_failures_total",		\
	    "reloads refused; the old configuration stayed")		\
	X(AUTHZ_DENIED, "estcoapd_authz_denied_total",			\
	    "requests refused by a route's device or CSR policy")	\
	X(AUDIT_FAILURES, "estcoapd_audit_failures_total",		\
	    "audit records not written and audit log opens that failed")

enum metrics_counter {
#define METRICS_ENUM(id, name, help)	METRICS_C_##id,
	METRICS_COUNTERS(METRICS_ENUM)
#undef METRICS_ENUM
	METRICS_C_COUNT
};

/* Gauges: set to the current value by their owner. */
#define METRICS_GAUGES(X)						\
	X(SESSIONS, "estcoapd_dtls_sessions",				\
	    "DTLS sessions with a device now")				\
	X(HANDSHAKES, "estcoapd_dtls_sessions_in_handshake",		\
	    "DTLS sessions in handshake now")				\
	X(PENDING, "estcoapd_pending_requests",				\
	    "requests waiting for the upstream")	\
	X(BLOCK1_BYTES, "estcoapd_block1_bytes",			\
	    "bytes held by unfinished Block1 uploads")			\
	X(CONFIG_GENERATION, "estcoapd_config_generation",		\
	    "configuration generation in use (1 at start)")		\
	X(UPSTREAMS_UP, "estcoapd_upstreams_up",			\
	    "upstream servers currently considered reachable")		\
	X(DRAINING, "estcoapd_draining",				\
	    "1 while draining after SIGTERM")				\
	X(UPSTREAM_RUNNING, "estcoapd_upstream_running",		\
	    "upstream exchanges holding a pooled connection now")	\
	X(UPSTREAM_QUEUED, "estcoapd_upstream_queued",			\
	    "upstream exchanges waiting for a pooled connection now")	\
	X(UPSTREAM_SERVICE_MS, "estcoapd_upstream_service_ms",		\
	    "expected running time of one upstream exchange, ms")	\
	X(AUDIT_WRITABLE, "estcoapd_audit_writable",			\
	    "1 while the audit log can be written or none is configured")

enum metrics_gauge {
#define METRICS_ENUM(id, name, help)	METRICS_G_##id,
	METRICS_GAUGES(METRICS_ENUM)
#undef METRICS_ENUM
	METRICS_G_COUNT
};

void	metrics_inc(enum metrics_counter);
void	metrics_gauge_set(enum metrics_gauge, int64_t);

/*
 * One finished device request: op ("crts", "sen", ... or "unknown"),
 * label ("" for none), CoAP code as on the wire (EST_CODE()).
 * estcoapd_requests_total{op,label,code="2.04"}.
 */
void	metrics_request(const char *op, const char *label, unsigned code);

/*
 * One finished upstream exchange: server (base URL), HTTP status (0 when
 * no answer: refused, TLS, timeout) and its duration.
 * estcoapd_upstream_requests_total{server,status} and the histogram
 * estcoapd_upstream_latency_seconds{server} (buckets 5ms .. 60s).
 */
void	metrics_upstream(const char *server, long status, uint64_t ms);

/*
 * Whether one upstream server (base URL) is up (1) or marked down (0):
 * the gauge estcoapd_upstream_server_up{server}.
 */
void	metrics_server_up(const char *server, int up);
void	metrics_servers_reset(void);	/* before setting the new set */

/*
 * One DTLS handshake outcome: ok, or failed with a short reason
 * ("unknown_ca", "no_certificate", "expired", "other", ...).
 * estcoapd_dtls_handshakes_total{result="ok"|"failed",reason}.
 */
void	metrics_handshake(int ok, const char *reason);

/* A request refused by a limit: estcoapd_limit_refusals_total{limit}. */
void	metrics_limit(const char *limit);

/*
 * A CSR refused by auth.csr_identity (csrid.h reasons):
 * estcoapd_csr_identity_denied_total{reason}.
 */
void	metrics_csr_identity_denied(const char *reason);

/*
 * Render everything (including estcoapd_build_info{version,...} 1) into a
 * malloc'd NUL-terminated buffer; NULL on ENOMEM.
 */
char	*metrics_render(size_t *len);

/*
 * Readiness as the front sees it: NULL when ready, else a short reason
 * ("draining", "starting", "no upstream reachable").
 */
typedef const char *(*metrics_ready_fn)(void *arg);

/*
 * Serve /metrics, /healthz (200 "ok" while the loop runs) and /readyz
 * (200 "ready", or 503 with the reason) on addr:port. 0, or -1 logged.
 */
int	metrics_listen(struct event_base *, const char *addr, uint16_t port,
	    metrics_ready_fn ready, void *arg);

/*
 * Every metric family, in the order /metrics shows them: its name, type
 * ("counter", "gauge", "histogram"), label names ("op,label,code" or "")
 * and help text (make docs lists them in estcoapd(8)).
 */
typedef void (*metrics_describe_fn)(void *arg, const char *name,
    const char *type, const char *labels, const char *help);
void	metrics_describe(metrics_describe_fn, void *arg);

/* Stop the listener and forget every value (tests, shutdown). */
void	metrics_shutdown(void);

#endif
