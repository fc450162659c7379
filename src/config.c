/*
 * Configuration: read the JSON file, walk the schema table, check each
 * value and then the relations between values. Errors are collected, not
 * stopped at the first, so one run of -t shows everything that is wrong.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "est_map.h"
#include "log.h"
#include "util.h"

/* A config file is small; anything bigger is a mistake. */
#define CONFIG_MAX_FILE	(1024 * 1024)

/* The default DTLS listen address and the coaps and coap ports. */
#define LISTEN_ANY	"::"
#define PORT_COAPS	5684
#define PORT_COAP	5683

enum ck_type {
	CK_STRING,		/* any string */
	CK_FILE,		/* path of a readable file */
	CK_UINT,		/* integer in [min, max] */
	CK_BOOL,
	CK_ENUM,		/* one of a fixed list of strings */
	CK_OBJECT,		/* a section: only its known keys allowed */
	CK_LISTEN,		/* the listen array */
	CK_LABELS,		/* est.labels: array of label strings */
	CK_SERVERS,		/* upstream.servers: array of base URLs */
	CK_OPS,			/* operations: array of operation names */
	CK_ROUTES,		/* labels: object of per-label objects */
	CK_DLISTEN,		/* discovery.listen: like listen, default none */
	CK_MCAST,		/* discovery.multicast: group addresses */
	CK_AUTH,		/* auth: a route's device policy (authz.c) */
	CK_AUTHKEY,		/* a key of auth: authz_parse() reads it */
};

/*
 * What a SIGHUP reload does with a key. config_static_diff() compares the
 * CK_RESTART rows (and every row of a CK_RESTART section) and refuses a
 * reload that changes one; the man page's "Reload:" lines come from here.
 */
enum ck_reload {
	CK_RELOAD = 0,		/* the new value is used after a reload */
	CK_RESTART,		/* only a restart can change it */
};

/* One row of the schema: where a key lives, what it may hold. */
struct config_key {
	const char	*path;		/* "upstream.timeout_ms" */
	enum ck_type	 type;
	size_t		 off;		/* offsetof(struct config, field) */
	bool		 required;
	uint32_t	 def_u;
	const char	*def_s;		/* default for strings, NULL = none */
	uint32_t	 min, max;
	const char	*const *choices;	/* CK_ENUM, NULL-terminated */
	const char	*help;
	bool		 secret;	/* CK_FILE: a private key, not world-readable */
	/* route_keys[] only: */
	const char	*top;		/* the default route's path; NULL: none */
	bool		 label;		/* allowed under labels.<label> */
	bool		 noinherit;	/* a label gets the default, not top's */
	const char	*xtype;		/* CK_AUTHKEY: the type -h -h shows */
	enum ck_reload	 reload;
};

#define OFF(f)	offsetof(struct config, f)
#define OFFR(f)	offsetof(struct config_route, f)

static const char *const log_levels[] = { "error", "warning", "info",
    "debug", NULL };
static const char *const att_204[] = { "empty", "not-found", NULL };
static const char *const resumption[] = { "cache", "tickets", "off", NULL };
static const char *const large_sep[] = { "retry", "block2", NULL };

static const struct config_key config_keys[] = {
	{ .path = "listen", .type = CK_LISTEN, .reload = CK_RESTART,
	  .help = "array of {address, port}: where DTLS is served" },
	{ .path = "dtls", .type = CK_OBJECT, .required = true,
	  .help = "the DTLS front towards devices" },
	{ .path = "dtls.cert", .type = CK_FILE, .off = OFF(dtls_cert),
	  .required = true, .help = "PEM certificate of the registrar" },
	{ .path = "dtls.key", .type = CK_FILE, .off = OFF(dtls_key),
	  .secret = true,
	  .required = true, .help = "PEM private key of dtls.cert" },
	{ .path = "dtls.chain", .type = CK_FILE, .off = OFF(dtls_chain),
	  .help = "PEM intermediates sent after dtls.cert" },
	{ .path = "dtls.client_ca", .type = CK_FILE,
	  .off = OFF(dtls_client_ca),
	  .help = "PEM trust anchors (and intermediates) for device certs; "
	  "the default of auth.trust (one of the two is required)" },
	{ .path = "dtls.verify_depth", .type = CK_UINT,
	  .off = OFF(dtls_verify_depth), .def_u = 4, .min = 1, .max = 10,
	  .help = "longest device certificate chain accepted" },
	{ .path = "dtls.mtu", .type = CK_UINT, .off = OFF(dtls_mtu),
	  .def_u = 1152, .min = 256, .max = 1500,
	  .help = "path MTU towards devices (bytes); bounds the block size" },
	{ .path = "dtls.idle_timeout_s", .type = CK_UINT,
	  .off = OFF(dtls_idle_timeout_s), .def_u = 60, .min = 5,
	  .max = 86400, .help = "idle DTLS sessions are closed after this" },
	{ .path = "dtls.max_handshakes", .type = CK_UINT,
	  .off = OFF(dtls_max_handshakes), .def_u = 1000, .min = 1,
	  .max = 1000000, .help = "sessions in handshake at once" },
	{ .path = "dtls.max_idle_sessions", .type = CK_UINT,
	  .off = OFF(dtls_max_idle_sessions), .def_u = 10000, .min = 0,
	  .max = 10000000,
	  .help = "idle sessions kept; the oldest is closed past it "
	  "(0 = unlimited)" },
	{ .path = "dtls.receive_buffer", .type = CK_UINT,
	  .off = OFF(dtls_receive_buffer), .def_u = 4194304, .min = 0,
	  .max = 268435456, .reload = CK_RESTART,
	  .help = "bytes of kernel receive buffer for each DTLS socket, so a "
	  "burst of requests is not dropped (0 = system default)" },
	{ .path = "dtls.max_sessions", .type = CK_UINT,
	  .off = OFF(dtls_max_sessions), .def_u = 10000, .min = 1,
	  .max = 10000000,
	  .help = "DTLS sessions at once (in handshake or up); past it new "
	  "handshakes are refused (each costs about 60-80 KB)" },
	{ .path = "dtls.handshake_timeout_s", .type = CK_UINT,
	  .off = OFF(dtls_handshake_timeout_s), .def_u = 30, .min = 1,
	  .max = 600,
	  .help = "a handshake not finished this long after the device's "
	  "ClientHello is dropped" },
	{ .path = "dtls.handshake_evict_s", .type = CK_UINT,
	  .off = OFF(dtls_handshake_evict_s), .def_u = 10, .min = 0,
	  .max = 600,
	  .help = "near dtls.max_handshakes, handshakes older than this are "
	  "dropped, oldest first, to keep room for new devices (0 = never)" },
	{ .path = "dtls.handshake_stall_ms", .type = CK_UINT,
	  .off = OFF(dtls_handshake_stall_ms), .def_u = 1500, .min = 0,
	  .max = 60000,
	  .help = "a half-open handshake whose peer has not answered our "
	  "flight this long may give way: at dtls.max_handshakes to a device "
	  "that resends a refused ClientHello (to any new one after twice "
	  "this), and near it to keep an eighth free (0 = never)" },
	{ .path = "dtls.handshakes_per_address", .type = CK_UINT,
	  .off = OFF(dtls_handshakes_per_address), .def_u = 128, .min = 0,
	  .max = 1000000,
	  .help = "half-open handshakes of one address past which, with "
	  "fewer than an eighth of dtls.max_handshakes free, it gets no new "
	  "one, and at the limit a device of another address takes the place "
	  "of its oldest one not answered for a quarter of "
	  "dtls.handshake_stall_ms (0 = off)" },
	{ .path = "dtls.ack_timeout_ms", .type = CK_UINT,
	  .off = OFF(dtls_ack_timeout_ms), .def_u = 2000, .min = 1000,
	  .max = 60000,
	  .help = "CoAP ACK_TIMEOUT of our confirmable separate answers "
	  "(RFC 7252 4.8: 2000); retransmitted 4 times with doubling "
	  "waits, then given up (libcoap allows no less than 1000)" },
	{ .path = "dtls.session_resumption", .type = CK_ENUM,
	  .off = OFF(dtls_session_resumption), .def_s = "cache",
	  .choices = resumption,
	  .help = "how a device may resume its DTLS session after closing "
	  "it: \"cache\" (we keep each device's last session, up to "
	  "dtls.max_sessions sessions, for an hour), \"tickets\" (RFC 5077) "
	  "or \"off\"" },
	{ .path = "coap", .type = CK_OBJECT,
	  .help = "CoAP messages of requests that go upstream" },
	{ .path = "coap.ack_hold_ms", .type = CK_UINT, .off = OFF(ack_hold_ms),
	  .def_u = 1000, .min = 0, .max = 60000,
	  .help = "how long a request that goes upstream waits for the "
	  "answer before its empty ACK: an answer within it is piggybacked "
	  "(RFC 7252 5.2.1), which every client can take in blocks; after it "
	  "the empty ACK, then a separate answer (0 = empty ACK at once). "
	  "Below ACK_TIMEOUT (2000) the device does not retransmit; longer "
	  "holds are answered piggybacked to its retransmissions, never a "
	  "second upstream call" },
	{ .path = "coap.ack_hold_max_pending", .type = CK_UINT,
	  .off = OFF(ack_hold_max_pending), .def_u = 8, .min = 0,
	  .max = 1000000,
	  .help = "upstream-bound requests pending at once from which on a "
	  "new one gets its empty ACK at once, before its CSR is checked; a "
	  "refusal then comes in the separate response (under load the "
	  "upstream is slow anyway, and an early ACK stops the "
	  "retransmissions; 0: always)" },
	{ .path = "coap.large_separate", .type = CK_ENUM,
	  .off = OFF(large_separate), .def_s = "retry", .choices = large_sep,
	  .help = "a separate answer larger than one block to a CON request "
	  "without Block1, which libcoap 4.3.4 and older clients cannot "
	  "fetch: \"retry\" (5.03 + Max-Age 1; the answer is held, and the "
	  "device's repeat gets it piggybacked) or \"block2\" (send block 0 "
	  "and serve the rest, RFC 7959 2.2)" },
	{ .path = "limits", .type = CK_OBJECT,
	  .help = "bounds on what peers can make us hold" },
	{ .path = "limits.max_request_body", .type = CK_UINT,
	  .off = OFF(max_request_body), .def_u = 16384, .min = 1024,
	  .max = 1048576, .help = "bytes of one CSR; past it 4.13" },
	{ .path = "limits.max_response_body", .type = CK_UINT,
	  .off = OFF(max_response_body), .def_u = 65536, .min = 4096,
	  .max = 16777216, .help = "bytes of one upstream body; past it 5.02" },
	{ .path = "limits.max_pending", .type = CK_UINT,
	  .off = OFF(max_pending), .def_u = 1024, .min = 1, .max = 1000000,
	  .help = "upstream-bound requests at once; past it 5.03" },
	{ .path = "limits.max_pending_per_session", .type = CK_UINT,
	  .off = OFF(max_pending_per_session), .def_u = 4, .min = 1,
	  .max = 1024, .help = "the same, per DTLS session" },
	{ .path = "limits.max_pending_per_device", .type = CK_UINT,
	  .off = OFF(max_pending_per_device), .def_u = 4, .min = 1,
	  .max = 1024, .help = "the same, per device certificate, over all "
	  "its sessions (a device may open several)" },
	{ .path = "limits.block1_budget", .type = CK_UINT,
	  .off = OFF(block1_budget), .def_u = 4194304, .min = 16384,
	  .max = 1073741824,
	  .help = "bytes all unfinished Block1 uploads may hold together; "
	  "when used up, the device holding the most (most uploads open, "
	  "then most bytes) loses one if it holds more than the asker "
	  "would" },
	{ .path = "limits.block1_device_bytes", .type = CK_UINT,
	  .off = OFF(block1_device_bytes), .def_u = 65536, .min = 1024,
	  .max = 1073741824,
	  .help = "bytes the unfinished Block1 uploads of one device "
	  "certificate (all its sessions) may hold; past it its least "
	  "recently used upload is dropped; at least "
	  "limits.max_request_body" },
	{ .path = "limits.block1_device_uploads", .type = CK_UINT,
	  .off = OFF(block1_device_uploads), .def_u = 4, .min = 1,
	  .max = 1024,
	  .help = "unfinished Block1 uploads of one device certificate at "
	  "once; a new one past it drops that device's least recently used" },
	{ .path = "limits.block1_source_bytes", .type = CK_UINT,
	  .off = OFF(block1_source_bytes), .def_u = 1048576, .min = 1024,
	  .max = 1073741824,
	  .help = "the same as block1_device_bytes, per source address (all "
	  "devices behind it); at least limits.max_request_body" },
	{ .path = "limits.block1_source_uploads", .type = CK_UINT,
	  .off = OFF(block1_source_uploads), .def_u = 64, .min = 1,
	  .max = 1000000,
	  .help = "the same as block1_device_uploads, per source address" },
	{ .path = "limits.block1_lifetime_s", .type = CK_UINT,
	  .off = OFF(block1_lifetime_s), .def_u = 247, .min = 1, .max = 3600,
	  .help = "an unfinished Block1 upload idle this long is dropped; "
	  "its next block gets 4.08 (RFC 7959 2.5: EXCHANGE_LIFETIME, "
	  "247)" },
	{ .path = "limits.busy_max_age_s", .type = CK_UINT,
	  .off = OFF(busy_max_age_s), .def_u = 10, .min = 1, .max = 3600,
	  .help = "Max-Age sent with 5.03 when a limit is reached" },
	{ .path = "limits.backlog_shed", .type = CK_BOOL,
	  .off = OFF(backlog_shed), .def_u = 1,
	  .help = "answer 5.03 + Max-Age at once when the expected wait for "
	  "an upstream connection would pass upstream.timeout_ms" },
	{ .path = "limits.exchange_entries", .type = CK_UINT,
	  .off = OFF(exchange_entries), .def_u = 10000, .min = 0,
	  .max = 10000000,
	  .help = "finished enrollments remembered for 247 s, so that a "
	  "repeated request is answered without a new upstream call "
	  "(0 = off)" },
	{ .path = "limits.exchange_bytes", .type = CK_UINT,
	  .off = OFF(exchange_bytes), .def_u = 16777216, .min = 0,
	  .max = 1073741824,
	  .help = "payload bytes those remembered answers may hold" },
	{ .path = "limits.rate_per_source", .type = CK_UINT,
	  .off = OFF(rate_per_source), .def_u = 100, .min = 0,
	  .max = 1000000,
	  .help = "requests per second one source address may make on "
	  "average; past it 5.03 (0 = no limit)" },
	{ .path = "limits.rate_burst", .type = CK_UINT,
	  .off = OFF(rate_burst), .def_u = 500, .min = 1, .max = 1000000,
	  .help = "requests one source address may make at once before "
	  "limits.rate_per_source applies" },
	{ .path = "limits.rate_sources", .type = CK_UINT,
	  .off = OFF(rate_sources), .def_u = 16384, .min = 16,
	  .max = 1048576,
	  .help = "source addresses the rate limit remembers (about 80 "
	  "bytes each); the least recently seen is forgotten past it" },
	{ .path = "est", .type = CK_OBJECT,
	  .help = "EST behaviour" },
	{ .path = "est.cache_ttl_s", .type = CK_UINT, .off = OFF(cache_ttl_s),
	  .def_u = 300, .min = 0, .max = 86400,
	  .help = "crts and att answers are cached this long (0 = off)" },
	{ .path = "est.cache_max_stale_s", .type = CK_UINT,
	  .off = OFF(cache_max_stale_s), .def_u = 3600, .min = 0,
	  .max = 604800,
	  .help = "how long past its TTL a cached crts/att answer is still "
	  "served while the upstream is failing (0 = never)" },
	{ .path = "est.retry_max_age_s", .type = CK_UINT,
	  .off = OFF(retry_max_age_s), .def_u = 60, .min = 1,
	  .max = 86400,
	  .help = "Max-Age for an upstream 202/423/429/503 without "
	  "Retry-After" },
	{ .path = "est.att_on_204", .type = CK_ENUM, .off = OFF(att_on_204),
	  .def_s = "not-found", .choices = att_204,
	  .help = "csrattrs 204: \"not-found\" (4.04, RFC 9148 4.5) or "
	  "\"empty\" (2.05 + 30 00)" },
	{ .path = "est.labels", .type = CK_LABELS, .reload = CK_RESTART,
	  .help = "CA labels served as /.well-known/est/<label>/<op> and "
	  "forwarded to /.well-known/est/<label>/<operation> upstream "
	  "(RFC 7030 3.2.2), with every setting of the default route" },
	{ .path = "est.server_keygen", .type = CK_BOOL,
	  .off = OFF(server_keygen), .def_u = 0, .reload = CK_RESTART,
	  .help = "serve skg and skc (upstream /serverkeygen)" },
	{ .path = "labels", .type = CK_ROUTES, .reload = CK_RESTART,
	  .help = "CA labels with their own settings: {\"<label>\": "
	  "{\"upstream\": {...}, \"operations\": [...]}}; served like "
	  "est.labels; a reload may change their upstream settings, not "
	  "the set of labels" },
	{ .path = "discovery", .type = CK_OBJECT, .reload = CK_RESTART,
	  .help = "plain-CoAP (UDP) listener that answers only "
	  "/.well-known/core (RFC 9148 4.1, 5)" },
	{ .path = "discovery.listen", .type = CK_DLISTEN,
	  .help = "array of {address, port}: plain UDP CoAP endpoints "
	  "(5683 is the coap port)" },
	{ .path = "discovery.multicast", .type = CK_MCAST,
	  .help = "multicast groups joined on the discovery endpoints, "
	  "e.g. \"ff02::fd\", \"224.0.1.187\" (All-CoAP-Nodes)" },
	{ .path = "discovery.interface", .type = CK_STRING,
	  .off = OFF(disc_interface),
	  .help = "network interface for the multicast joins (default: "
	  "the one the system picks)" },
	{ .path = "discovery.advertise", .type = CK_STRING,
	  .off = OFF(disc_advertise),
	  .help = "host:port put into the absolute coaps:// links the "
	  "plain listener returns (default: our address towards the "
	  "asking device and the first listen port)" },
	{ .path = "service", .type = CK_OBJECT,
	  .help = "running as a service: metrics, audit log, drain" },
	{ .path = "service.metrics_address", .type = CK_STRING,
	  .off = OFF(metrics_addr), .def_s = "127.0.0.1", .reload = CK_RESTART,
	  .help = "numeric address of the HTTP listener for /metrics, "
	  "/healthz, /readyz" },
	{ .path = "service.metrics_port", .type = CK_UINT,
	  .off = OFF(metrics_port), .def_u = 0, .min = 0, .max = 65535,
	  .reload = CK_RESTART, .help = "its TCP port; 0 = no listener" },
	{ .path = "service.audit_file", .type = CK_STRING,
	  .off = OFF(audit_file),
	  .help = "append one JSON line per issued certificate, per "
	  "certificate handed out again from memory and per denied request; "
	  "reopened on SIGHUP; never followed as a symbolic link" },
	{ .path = "service.audit_fail_closed", .type = CK_BOOL,
	  .off = OFF(audit_fail_closed), .def_u = 1,
	  .help = "while service.audit_file cannot be written, answer "
	  "enrollments (sen, sren, skg, skc) 5.03 + Max-Age instead of "
	  "issuing certificates nobody audits" },
	{ .path = "service.drain_timeout_s", .type = CK_UINT,
	  .off = OFF(drain_timeout_s), .def_u = 30, .min = 0, .max = 3600,
	  .help = "on SIGTERM, how long pending enrollments may finish" },
	{ .path = "service.workers", .type = CK_UINT, .off = OFF(workers),
	  .def_u = 1, .min = 1, .max = CONFIG_MAX_WORKERS,
	  .reload = CK_RESTART,
	  .help = "worker processes; worker i (0-based) serves every listen "
	  "port + i and metrics_port + i; spread devices over them with the "
	  "nftables rule of estcoapd -W" },
	{ .path = "service.user", .type = CK_STRING,
	  .off = OFF(service_user), .reload = CK_RESTART,
	  .help = "started as root, run as this user once the sockets are "
	  "bound; every file named here must stay readable by it for "
	  "SIGHUP" },
	{ .path = "service.group", .type = CK_STRING,
	  .off = OFF(service_group), .reload = CK_RESTART,
	  .help = "and as this group (default: the user's own group; needs "
	  "service.user)" },
	{ .path = "log", .type = CK_OBJECT, .help = "logging" },
	{ .path = "log.level", .type = CK_ENUM, .off = OFF(log_level),
	  .def_s = "info", .choices = log_levels,
	  .help = "error, warning, info or debug" },
};

#define NKEYS	(sizeof(config_keys) / sizeof(config_keys[0]))

/*
 * The keys of one route (struct config_route): .top is where the default
 * route reads a key, .path where a labels.<label> object holds it. See
 * struct config_route in config.h for how to add a section.
 */
static const struct config_key route_keys[] = {
	{ .path = "upstream", .type = CK_OBJECT, .top = "upstream",
	  .label = true, .required = true,
	  .help = "the RFC 7030 EST server(s) of the route; under a label, "
	  "any key of the top-level section but max_connections, missing "
	  "keys inheriting the top-level value" },
	{ .path = "upstream.url", .type = CK_STRING, .off = OFFR(up.url),
	  .top = "upstream.url", .label = true, .noinherit = true,
	  .help = "base URL, https://host[:port] (no path); exactly one of "
	  "url and servers" },
	{ .path = "upstream.servers", .type = CK_SERVERS,
	  .top = "upstream.servers", .label = true, .noinherit = true,
	  .help = "ordered array of base URLs: the first one up is used, a "
	  "failing one is skipped for down_time_s" },
	{ .path = "upstream.client_cert", .type = CK_FILE,
	  .off = OFFR(up.client_cert), .required = true,
	  .top = "upstream.client_cert", .label = true,
	  .help = "PEM client certificate for mutual TLS (should carry "
	  "id-kp-cmcRA)" },
	{ .path = "upstream.client_key", .type = CK_FILE, .secret = true,
	  .off = OFFR(up.client_key), .required = true,
	  .top = "upstream.client_key", .label = true,
	  .help = "PEM private key of upstream.client_cert" },
	{ .path = "upstream.ca", .type = CK_FILE, .off = OFFR(up.ca),
	  .required = true, .top = "upstream.ca", .label = true,
	  .help = "PEM trust anchors for the upstream server certificate" },
	{ .path = "upstream.connect_timeout_ms", .type = CK_UINT,
	  .off = OFFR(up.connect_timeout_ms), .def_u = 5000, .min = 100,
	  .max = 60000, .top = "upstream.connect_timeout_ms", .label = true,
	  .help = "TCP + TLS connect deadline of one server" },
	{ .path = "upstream.timeout_ms", .type = CK_UINT,
	  .off = OFFR(up.timeout_ms), .def_u = 30000, .min = 200,
	  .max = 60000, .top = "upstream.timeout_ms", .label = true,
	  .help = "deadline of one whole upstream exchange, failover to "
	  "the next server included; then 5.04" },
	{ .path = "upstream.max_connections", .type = CK_UINT,
	  .off = OFFR(up.max_connections), .def_u = 32, .min = 1,
	  .max = 4096, .top = "upstream.max_connections",
	  .help = "connections to one upstream server at once (one pool "
	  "for every route)" },
	{ .path = "upstream.send_cte", .type = CK_BOOL,
	  .off = OFFR(up.send_cte), .def_u = 1, .top = "upstream.send_cte",
	  .label = true,
	  .help = "send Content-Transfer-Encoding: base64 with every POST "
	  "(RFC 7030 4.2.1; servers of RFC 8951 ignore it, some older ones "
	  "refuse requests without it); set false only for a server that "
	  "refuses the header" },
	{ .path = "upstream.base64_line_length", .type = CK_UINT,
	  .off = OFFR(up.b64_line_length), .def_u = 64, .min = 0, .max = 76,
	  .top = "upstream.base64_line_length", .label = true,
	  .help = "characters per line of the base64 CSR sent upstream, "
	  "every line ending in LF (RFC 2045 allows at most 76; servers "
	  "decoding with OpenSSL's BIO need line breaks); 0 = one line "
	  "without a line break, for servers that refuse them" },
	{ .path = "upstream.renew_as_enroll", .type = CK_BOOL,
	  .off = OFFR(up.renew_as_enroll), .def_u = 0,
	  .top = "upstream.renew_as_enroll", .label = true,
	  .help = "forward sren to /simpleenroll instead of /simplereenroll, "
	  "after estcoapd has checked the renewal rules itself (Subject "
	  "and SAN equal the device certificate's, PoP where configured); "
	  "for a CA that compares a renewal CSR with the TLS client "
	  "certificate, which behind a registrar is the RA's" },
	{ .path = "upstream.down_time_s", .type = CK_UINT,
	  .off = OFFR(up.down_time_s), .def_u = 30, .min = 1, .max = 86400,
	  .top = "upstream.down_time_s", .label = true,
	  .help = "a server that failed to connect or timed out is skipped "
	  "this long" },
	{ .path = "upstream.health_interval_s", .type = CK_UINT,
	  .off = OFFR(up.health_interval_s), .def_u = 10, .min = 0,
	  .max = 86400, .top = "upstream.health_interval_s", .label = true,
	  .help = "how often a down server is probed with GET cacerts; a "
	  "good answer brings it back (0 = off)" },
	{ .path = "operations", .type = CK_OPS, .top = "est.operations",
	  .label = true, .noinherit = true, .reload = CK_RESTART,
	  .help = "operations served: crts, sen, sren, att, skg, skc "
	  "(skg and skc need est.server_keygen and are then served by "
	  "default too); others are 4.04" },
	{ .path = "auth", .type = CK_AUTH, .top = "auth", .label = true,
	  .help = "who may enroll: device trust, allow-list, CSR policy "
	  "(see Authorization in estcoapd.json(5)); a label without its "
	  "own auth section uses the top-level one" },
	{ .path = "auth.trust", .type = CK_AUTHKEY, .xtype = "array",
	  .top = "auth.trust", .def_s = "[dtls.client_ca]",
	  .help = "PEM files or directories (*.pem, *.crt, *.cer) of trust "
	  "anchors for device certificates; every certificate listed, "
	  "intermediates too, is an anchor" },
	{ .path = "auth.crl", .type = CK_AUTHKEY, .xtype = "array",
	  .top = "auth.crl", .def_s = "[]",
	  .help = "CRL files (PEM or DER), each signed by an anchor; a "
	  "revoked device fails the handshake" },
	{ .path = "auth.allow_expired", .type = CK_AUTHKEY,
	  .xtype = "boolean",
	  .top = "auth.allow_expired", .def_u = 0,
	  .help = "accept expired device certificates (IDevIDs, RFC 9148 3)" },
	{ .path = "auth.rules", .type = CK_AUTHKEY, .xtype = "array",
	  .top = "auth.rules", .def_s = "[] (every trusted device, every "
	  "operation)",
	  .help = "allow-list of {issuer, subject, san, operations}; the "
	  "first rule whose patterns match the device decides" },
	{ .path = "auth.pop", .type = CK_AUTHKEY, .xtype = "string",
	  .top = "auth.pop", .def_s = "\"off\"",
	  .help = "proof-of-possession linking: \"off\", \"if-present\" "
	  "or \"required\" (challengePassword = base64(tls-unique))" },
	{ .path = "auth.forward_client_cert", .type = CK_AUTHKEY,
	  .xtype = "boolean", .top = "auth.forward_client_cert", .def_u = 0,
	  .help = "send the device certificate upstream in RFC 9440 "
	  "Client-Cert and Client-Cert-Chain header fields" },
	{ .path = "auth.sren_allow_change_subject", .type = CK_AUTHKEY,
	  .xtype = "boolean", .top = "auth.sren_allow_change_subject",
	  .def_u = 0,
	  .help = "let sren CSRs carry a ChangeSubjectName attribute" },
	{ .path = "auth.csr_key_types", .type = CK_AUTHKEY, .xtype = "array",
	  .top = "auth.csr_key_types",
	  .def_s = "[\"P-256\", \"P-384\", \"RSA\"]",
	  .help = "CSR key types accepted for sen and sren: P-256, P-384, "
	  "P-521, RSA, Ed25519, Ed448" },
	{ .path = "auth.csr_rsa_min_bits", .type = CK_AUTHKEY,
	  .xtype = "integer",
	  .top = "auth.csr_rsa_min_bits", .def_u = 2048, .min = 1024,
	  .max = 16384, .help = "smallest RSA CSR key accepted" },
	{ .path = "auth.csr_rsa_max_bits", .type = CK_AUTHKEY,
	  .xtype = "integer",
	  .top = "auth.csr_rsa_max_bits", .def_u = 8192, .min = 1024,
	  .max = 16384, .help = "largest RSA CSR key accepted" },
	{ .path = "auth.csr_identity", .type = CK_AUTHKEY, .xtype = "string",
	  .top = "auth.csr_identity", .def_s = "\"subject\"",
	  .help = "names a sen/skg/skc CSR may ask for: \"subject\" (the "
	  "device certificate's Subject), \"attribute\" (only "
	  "csr_identity_attributes must match), \"template\" "
	  "(csr_identity_template) or \"any\" (the CA enforces identity); "
	  "refusals are 4.03" },
	{ .path = "auth.csr_identity_attributes", .type = CK_AUTHKEY,
	  .xtype = "array", .top = "auth.csr_identity_attributes",
	  .def_s = "[\"serialNumber\"]",
	  .help = "with csr_identity \"attribute\": Subject attributes the "
	  "CSR must carry with the device certificate's values (1..8)" },
	{ .path = "auth.csr_identity_san", .type = CK_AUTHKEY,
	  .xtype = "string",
	  .top = "auth.csr_identity_san", .def_s = "\"subset\"",
	  .help = "with \"subject\" or \"attribute\": CSR subjectAltNames "
	  "must be among the device certificate's (\"subset\"), absent "
	  "(\"none\") or are not checked (\"any\")" },
	{ .path = "auth.csr_identity_template", .type = CK_AUTHKEY,
	  .xtype = "object", .top = "auth.csr_identity_template",
	  .def_s = "none",
	  .help = "with csr_identity \"template\": {\"subject\": "
	  "\"/O=x/CN=${subject.CN}\", \"san\": [\"DNS:${subject.CN}.x\"]}, "
	  "built from the device certificate's Subject" },
};

#define NRKEYS	(sizeof(route_keys) / sizeof(route_keys[0]))

/* Operations served when a route does not list its own. */
#define OPS_DEFAULT	((1u << EST_OP_CRTS) | (1u << EST_OP_SEN) | \
			(1u << EST_OP_SREN) | (1u << EST_OP_ATT))
#define OPS_KEYGEN	((1u << EST_OP_SKG) | (1u << EST_OP_SKC))

/* An integer or boolean key of auth, whose row holds default and range. */
static bool
config_auth_uint(const struct config_key *k)
{
	return k->type == CK_AUTHKEY && strcmp(k->xtype, "integer") == 0;
}

static bool
config_auth_bool(const struct config_key *k)
{
	return k->type == CK_AUTHKEY && strcmp(k->xtype, "boolean") == 0;
}

/* See config.h. */
bool
config_auth_key(const char *name, struct config_authkey *ak)
{
	for (size_t i = 0; i < NRKEYS; i++) {
		const struct config_key *k = &route_keys[i];

		if (k->type != CK_AUTHKEY || strncmp(k->path, "auth.", 5) != 0 ||
		    strcmp(k->path + 5, name) != 0)
			continue;
		if (ak != NULL) {
			ak->type = k->xtype;
			ak->def = k->def_u;
			ak->min = k->min;
			ak->max = k->max;
		}
		return true;
	}
	return false;
}

/*
 * Find the schema row of a dotted path: a top-level key (config_keys[] or
 * the default route's .top of route_keys[]), or with label set a key of a
 * labels.<label> object.
 */
static const struct config_key *
config_key_find(const char *path, bool label)
{
	for (size_t i = 0; i < NRKEYS; i++) {
		const struct config_key *k = &route_keys[i];

		if (label ? k->label && strcmp(k->path, path) == 0 :
		    k->top != NULL && strcmp(k->top, path) == 0)
			return k;
	}
	if (label)
		return NULL;
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(config_keys[i].path, path) == 0)
			return &config_keys[i];
	return NULL;
}

/* Look up a dotted path in the parsed document. */
static cJSON *
config_json_get(cJSON *root, const char *path)
{
	char	 buf[128];
	char	*seg, *save;
	cJSON	*node = root;

	snprintf(buf, sizeof(buf), "%s", path);
	for (seg = strtok_r(buf, ".", &save); seg != NULL && node != NULL;
	    seg = strtok_r(NULL, ".", &save))
		node = cJSON_GetObjectItemCaseSensitive(node, seg);
	return node;
}

/*
 * Every member of every object must be a key of the schema. prefix is the
 * path shown in errors, rel the path looked up (they differ under
 * labels.<label>, whose keys are route keys).
 */
static void
config_check_unknown(cJSON *obj, const char *prefix, const char *rel,
    bool label, const char *file, struct errlist *errs)
{
	cJSON	*it;
	char	 path[192], rpath[128];

	cJSON_ArrayForEach(it, obj) {
		const struct config_key *k;

		snprintf(path, sizeof(path), "%s%s%s", prefix,
		    *prefix != '\0' ? "." : "", it->string);
		snprintf(rpath, sizeof(rpath), "%s%s%s", rel,
		    *rel != '\0' ? "." : "", it->string);
		if ((k = config_key_find(rpath, label)) == NULL) {
			if (label && config_key_find(rpath, false) != NULL)
				errlist_add(errs, "%s: %s: only allowed at the "
				    "top level", file, path);
			else
				errlist_add(errs, "%s: %s: unknown key", file,
				    path);
			continue;
		}
		/* cJSON keeps both; we would silently use the first */
		for (cJSON *prev = obj->child; prev != it; prev = prev->next)
			if (strcmp(prev->string, it->string) == 0) {
				errlist_add(errs, "%s: %s: duplicate key", file,
				    path);
				break;
			}
		if (k->type == CK_OBJECT) {
			if (!cJSON_IsObject(it))
				errlist_add(errs, "%s: %s: must be an object",
				    file, path);
			else
				config_check_unknown(it, path, rpath, label,
				    file, errs);
		} else if (k->type == CK_ROUTES) {
			cJSON *l;

			if (!cJSON_IsObject(it)) {
				errlist_add(errs, "%s: %s: must be an object "
				    "of label objects", file, path);
				continue;
			}
			cJSON_ArrayForEach(l, it) {
				char lp[192];

				snprintf(lp, sizeof(lp), "labels.%s",
				    l->string);
				if (!cJSON_IsObject(l))
					errlist_add(errs, "%s: %s: must be an "
					    "object", file, lp);
				else
					config_check_unknown(l, lp, "", true,
					    file, errs);
			}
		}
	}
}

/*
 * Parse an array of {address, port} (key: its path) into out[]. The DTLS
 * listen array defaults to [::]:5684 and may not be empty; the discovery
 * one (dport 5683) defaults to none.
 */
static void
config_listen_arr(struct config *cf, cJSON *arr, const char *key,
    struct config_listen *out, size_t *nout, uint16_t dport,
    struct errlist *errs)
{
	cJSON	*it;
	size_t	 i = 0;
	int	 dtls = dport == PORT_COAPS;

	if (arr == NULL) {
		if (dtls) {
			snprintf(out[0].addr, sizeof(out[0].addr), LISTEN_ANY);
			out[0].port = dport;
			*nout = 1;
		}
		return;
	}
	if (!cJSON_IsArray(arr) || (dtls && cJSON_GetArraySize(arr) == 0)) {
		errlist_add(errs, "%s: %s: must be a %sarray of "
		    "{\"address\", \"port\"}", cf->file, key,
		    dtls ? "non-empty " : "");
		return;
	}
	cJSON_ArrayForEach(it, arr) {
		cJSON			*a, *p, *m;
		struct sockaddr_storage	 ss;

		if (i == CONFIG_MAX_LISTEN) {
			errlist_add(errs, "%s: %s: at most %d entries",
			    cf->file, key, CONFIG_MAX_LISTEN);
			return;
		}
		if (!cJSON_IsObject(it)) {
			errlist_add(errs, "%s: %s[%zu]: must be an object",
			    cf->file, key, i);
			i++;
			continue;
		}
		cJSON_ArrayForEach(m, it) {
			if (strcmp(m->string, "address") != 0 &&
			    strcmp(m->string, "port") != 0)
				errlist_add(errs, "%s: %s[%zu].%s: unknown "
				    "key", cf->file, key, i, m->string);
		}
		a = cJSON_GetObjectItemCaseSensitive(it, "address");
		p = cJSON_GetObjectItemCaseSensitive(it, "port");
		if (!cJSON_IsString(a) || addr_parse(a->valuestring, 0, &ss,
		    NULL) == -1)
			errlist_add(errs, "%s: %s[%zu].address: must be a "
			    "numeric IPv4 or IPv6 address", cf->file, key, i);
		else
			snprintf(out[i].addr, sizeof(out[i].addr),
			    "%s", a->valuestring);
		if (p == NULL)
			out[i].port = dport;
		else if (!cJSON_IsNumber(p) || p->valuedouble < 1 ||
		    p->valuedouble > 65535 ||
		    p->valuedouble != (double)p->valueint)
			errlist_add(errs, "%s: %s[%zu].port: must be an "
			    "integer 1..65535", cf->file, key, i);
		else
			out[i].port = (uint16_t)p->valueint;
		i++;
	}
	*nout = i;
}

/* Parse discovery.multicast: numeric IPv4 or IPv6 multicast groups. */
static void
config_mcast(struct config *cf, cJSON *arr, struct errlist *errs)
{
	cJSON	*it;
	size_t	 i = 0;

	if (arr == NULL)
		return;
	if (!cJSON_IsArray(arr)) {
		errlist_add(errs, "%s: discovery.multicast: must be an array of "
		    "group addresses", cf->file);
		return;
	}
	cJSON_ArrayForEach(it, arr) {
		const char		*g = cJSON_IsString(it) ?
				    it->valuestring : NULL;
		struct sockaddr_storage	 ss;

		if (i == CONFIG_MAX_MCAST) {
			errlist_add(errs, "%s: discovery.multicast: at most %d "
			    "groups", cf->file, CONFIG_MAX_MCAST);
			return;
		}
		if (g == NULL || strlen(g) >= CONFIG_MCAST_MAX ||
		    addr_parse(g, 0, &ss, NULL) == -1 ||
		    !addr_is_multicast(&ss)) {
			errlist_add(errs, "%s: discovery.multicast[%zu]: must be "
			    "a numeric IPv4 or IPv6 multicast address", cf->file,
			    i);
			i++;
			continue;
		}
		snprintf(cf->disc_mcast[i], sizeof(cf->disc_mcast[i]), "%s", g);
		i++;
	}
	cf->ndisc_mcast = i;
}

/* Store the default of schema row k (or say a required key is missing). */
static void
config_default(struct config *cf, char *base, const char *path,
    const struct config_key *k, struct errlist *errs)
{
	if (k->required) {
		errlist_add(errs, "%s: %s: required key is missing", cf->file,
		    path);
		return;
	}
	switch (k->type) {
	case CK_UINT:
		*(uint32_t *)(base + k->off) = k->def_u;
		break;
	case CK_BOOL:
		*(bool *)(base + k->off) = k->def_u != 0;
		break;
	case CK_STRING:
	case CK_FILE:
	case CK_ENUM:
		if (k->def_s != NULL &&
		    (*(char **)(base + k->off) = strdup(k->def_s)) == NULL)
			errlist_add(errs, "%s: out of memory", cf->file);
		break;
	default:
		break;
	}
}

/* An integer value of row k within its range. */
static void
config_uint(struct config *cf, char *base, const char *path,
    const struct config_key *k, cJSON *v, struct errlist *errs)
{
	/*
	 * The range first: converting a double outside int64_t (or a NaN)
	 * is undefined behaviour (found by fuzz_config).
	 */
	if (!cJSON_IsNumber(v) || !(v->valuedouble >= k->min &&
	    v->valuedouble <= k->max) ||
	    v->valuedouble != (double)(uint32_t)v->valuedouble) {
		errlist_add(errs, "%s: %s: must be an integer %u..%u",
		    cf->file, path, k->min, k->max);
		return;
	}
	*(uint32_t *)(base + k->off) = (uint32_t)v->valuedouble;
}

/* 1 when s is one of the choices of enum row k. */
static int
config_is_choice(const struct config_key *k, const char *s)
{
	for (size_t i = 0; k->choices[i] != NULL; i++)
		if (strcmp(k->choices[i], s) == 0)
			return 1;
	return 0;
}

/* A string, file or enum value of row k: non-empty, one of the choices. */
static void
config_string(struct config *cf, char *base, const char *path,
    const struct config_key *k, cJSON *v, struct errlist *errs)
{
	const char	*s;

	if (!cJSON_IsString(v) || *v->valuestring == '\0') {
		errlist_add(errs, "%s: %s: must be a non-empty string",
		    cf->file, path);
		return;
	}
	s = v->valuestring;
	if (k->type == CK_ENUM && !config_is_choice(k, s)) {
		errlist_add(errs, "%s: %s: \"%s\" is not one of the allowed "
		    "values (see estcoapd.json(5))", cf->file, path, s);
		return;
	}
	if ((*(char **)(base + k->off) = strdup(s)) == NULL)
		errlist_add(errs, "%s: out of memory", cf->file);
}

/*
 * Store one scalar value (or its default) for schema row k into the
 * struct at base (struct config or struct config_route); path is the key
 * as errors name it.
 */
static void
config_value(struct config *cf, void *basep, const char *path,
    const struct config_key *k, cJSON *v, struct errlist *errs)
{
	char	*base = basep;

	if (v == NULL) {
		config_default(cf, base, path, k, errs);
		return;
	}
	switch (k->type) {
	case CK_UINT:
		config_uint(cf, base, path, k, v, errs);
		return;
	case CK_BOOL:
		if (!cJSON_IsBool(v)) {
			errlist_add(errs, "%s: %s: must be true or false",
			    cf->file, path);
			return;
		}
		*(bool *)(base + k->off) = cJSON_IsTrue(v);
		return;
	case CK_STRING:
	case CK_FILE:
	case CK_ENUM:
		config_string(cf, base, path, k, v, errs);
		return;
	default:
		return;
	}
}

/* Parse an operations array into a bit set of EST_OP_* (path for errors). */
static void
config_ops(struct config *cf, struct config_route *rt, const char *path,
    cJSON *arr, struct errlist *errs)
{
	cJSON	*it;
	size_t	 i = 0;

	if (arr == NULL) {
		rt->ops = OPS_DEFAULT | (cf->server_keygen ? OPS_KEYGEN : 0);
		return;
	}
	rt->ops = 0;
	if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) == 0) {
		errlist_add(errs, "%s: %s: must be a non-empty array of "
		    "operation names", cf->file, path);
		return;
	}
	cJSON_ArrayForEach(it, arr) {
		const struct est_op *op = cJSON_IsString(it) ?
		    estmap_op_by_name(it->valuestring) : NULL;

		if (op == NULL)
			errlist_add(errs, "%s: %s[%zu]: must be one of crts, "
			    "sen, sren, att, skg, skc", cf->file, path, i);
		else if ((1u << op->id) & OPS_KEYGEN && !cf->server_keygen)
			errlist_add(errs, "%s: %s[%zu]: %s needs "
			    "est.server_keygen", cf->file, path, i, op->name);
		else if (rt->ops & (1u << op->id))
			errlist_add(errs, "%s: %s[%zu]: %s listed twice",
			    cf->file, path, i, op->name);
		else
			rt->ops |= 1u << op->id;
		i++;
	}
}

/* Check one base URL: https://host[:port], nothing more. */
static void
config_url_check(struct config *cf, const char *path, const char *u,
    struct errlist *errs)
{
	if (strncmp(u, "https://", 8) != 0 || u[8] == '\0' || u[8] == '/')
		errlist_add(errs, "%s: %s: must be https://host[:port]",
		    cf->file, path);
	else if (strchr(u + 8, '/') != NULL &&
	    strcmp(strchr(u + 8, '/'), "/") != 0)
		errlist_add(errs, "%s: %s: must not carry a path (the RFC 7030 "
		    "path /.well-known/est is added)", cf->file, path);
	else if (strpbrk(u + 8, " \t\r\n?#@") != NULL)
		errlist_add(errs, "%s: %s: must not hold spaces, a query, a "
		    "fragment or user info", cf->file, path);
	else if (strlen(u) >= CONFIG_URL_MAX)
		errlist_add(errs, "%s: %s: longer than %d bytes", cf->file,
		    path, CONFIG_URL_MAX - 1);
}

/* Parse upstream.servers into rt->up.servers (path for errors). */
static void
config_servers(struct config *cf, struct config_route *rt, const char *path,
    cJSON *arr, struct errlist *errs)
{
	cJSON	*it;
	size_t	 i = 0;
	char	 p[224];

	if (arr == NULL)
		return;
	if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) == 0) {
		errlist_add(errs, "%s: %s: must be a non-empty array of base "
		    "URLs", cf->file, path);
		return;
	}
	cJSON_ArrayForEach(it, arr) {
		if (i == CONFIG_MAX_SERVERS) {
			errlist_add(errs, "%s: %s: at most %d servers",
			    cf->file, path, CONFIG_MAX_SERVERS);
			return;
		}
		snprintf(p, sizeof(p), "%s[%zu]", path, i);
		if (!cJSON_IsString(it)) {
			errlist_add(errs, "%s: %s: must be a string", cf->file,
			    p);
			i++;
			continue;
		}
		config_url_check(cf, p, it->valuestring, errs);
		snprintf(rt->up.servers[i], sizeof(rt->up.servers[i]), "%s",
		    it->valuestring);
		for (size_t k = 0; k < i; k++)
			if (strcmp(rt->up.servers[k], rt->up.servers[i]) == 0)
				errlist_add(errs, "%s: %s: duplicate of "
				    "%s[%zu]", cf->file, p, path, k);
		i++;
	}
	rt->up.nservers = i;
}

/* Copy the value of row k from the default route (inheritance). */
static void
config_inherit(struct config *cf, struct config_route *rt,
    const struct config_key *k, struct errlist *errs)
{
	const char	*from = (const char *)&cf->routes[0];
	char		*to = (char *)rt;

	switch (k->type) {
	case CK_UINT:
		memcpy(to + k->off, from + k->off, sizeof(uint32_t));
		break;
	case CK_BOOL:
		memcpy(to + k->off, from + k->off, sizeof(bool));
		break;
	case CK_STRING:
	case CK_FILE:
	case CK_ENUM:
		if (*(char *const *)(from + k->off) != NULL &&
		    (*(char **)(to + k->off) =
		    strdup(*(char *const *)(from + k->off))) == NULL)
			errlist_add(errs, "%s: out of memory", cf->file);
		break;
	default:
		break;
	}
}

/* Store one route key k of route rt, read as v (NULL: absent) at path. */
static void
config_route_key(struct config *cf, struct config_route *rt,
    const struct config_key *k, cJSON *v, const char *path, bool top,
    struct errlist *errs)
{
	struct config_key	 d;

	switch (k->type) {
	case CK_OBJECT:
		if (top && v == NULL && k->required)
			errlist_add(errs, "%s: %s: required section is "
			    "missing", cf->file, path);
		break;
	case CK_SERVERS:
		config_servers(cf, rt, path, v, errs);
		break;
	case CK_OPS:
		config_ops(cf, rt, path, v, errs);
		break;
	case CK_AUTH:
		/*
		 * gen.c makes the policy of it (authz_parse); a label
		 * without its own auth uses the default route's
		 */
		if (top || v != NULL) {
			rt->auth_owned = true;
			if (v != NULL && (rt->auth_json =
			    cJSON_Duplicate(v, 1)) == NULL)
				errlist_add(errs, "%s: out of memory",
				    cf->file);
		}
		break;
	case CK_AUTHKEY:
		break;
	default:
		if (top || v != NULL)
			config_value(cf, rt, path, k, v, errs);
		else if (k->noinherit) {
			d = *k;
			d.required = false;
			config_value(cf, rt, path, &d, NULL, errs);
		} else
			config_inherit(cf, rt, k, errs);
		break;
	}
}

/*
 * A route's server list: url or servers, not both; a label naming none
 * uses the default route's; a url is the list of one.
 */
static void
config_route_servers(struct config *cf, struct config_route *rt, bool top,
    struct errlist *errs)
{
	struct config_upstream	*d = &cf->routes[0].up;

	if (rt->up.url != NULL && rt->up.nservers > 0) {
		errlist_add(errs, "%s: %s%s%supstream: give url or servers, "
		    "not both", cf->file, top ? "" : "labels.", rt->label,
		    top ? "" : ".");
		rt->up.nservers = 0;
	}
	if (!top && rt->up.url == NULL && rt->up.nservers == 0) {
		/* no server named here: the default route's */
		if (d->url != NULL && (rt->up.url = strdup(d->url)) == NULL)
			errlist_add(errs, "%s: out of memory", cf->file);
		memcpy(rt->up.servers, d->servers, sizeof(d->servers));
		rt->up.nservers = d->nservers;
	} else if (rt->up.url != NULL && rt->up.nservers == 0) {
		snprintf(rt->up.servers[0], sizeof(rt->up.servers[0]), "%s",
		    rt->up.url);
		rt->up.nservers = 1;
	}
}

/*
 * Read every route key of one route: the default route from the top
 * level (lobj NULL, label ""), a CA label from its labels.<label> object
 * (lobj, or NULL for an est.labels name: everything inherited).
 */
static void
config_route_values(struct config *cf, struct config_route *rt,
    cJSON *root, cJSON *lobj, struct errlist *errs)
{
	bool	top = rt == &cf->routes[0];
	char	path[192];

	for (size_t i = 0; i < NRKEYS; i++) {
		const struct config_key	*k = &route_keys[i];
		cJSON			*v;

		if (top ? k->top == NULL : !k->label)
			continue;
		if (top) {
			v = config_json_get(root, k->top);
			snprintf(path, sizeof(path), "%s", k->top);
		} else {
			v = lobj != NULL ? config_json_get(lobj, k->path) : NULL;
			snprintf(path, sizeof(path), "labels.%s.%s", rt->label,
			    k->path);
		}
		config_route_key(cf, rt, k, v, path, top, errs);
	}
	config_route_servers(cf, rt, top, errs);
}

/*
 * A new CA label route named name (where: its path for errors): a short
 * path-safe name that is not an operation name and not served yet. NULL
 * after an error.
 */
static struct config_route *
config_route_new(struct config *cf, const char *name, const char *where,
    struct errlist *errs)
{
	static const char *const ops[] = { "crts", "sen", "sren", "att",
	    "skg", "skc", "fullcmc", "cacerts", "simpleenroll",
	    "simplereenroll", "csrattrs", "serverkeygen", NULL };
	size_t			 n = name != NULL ? strlen(name) : 0;
	struct config_route	*rt;

	if (n == 0 || n > CONFIG_LABEL_MAX || strspn(name,
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789-_.") != n || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0) {
		errlist_add(errs, "%s: %s: must be 1..%d letters, digits, '-', "
		    "'_' or '.'", cf->file, where, CONFIG_LABEL_MAX);
		return NULL;
	}
	/* RFC 7030 3.2.2: a label may not look like an operation */
	for (size_t k = 0; ops[k] != NULL; k++)
		if (strcmp(name, ops[k]) == 0) {
			errlist_add(errs, "%s: %s: \"%s\" is an operation name",
			    cf->file, where, name);
			return NULL;
		}
	for (size_t k = 1; k < cf->nroutes; k++)
		if (strcmp(cf->routes[k].label, name) == 0) {
			errlist_add(errs, "%s: %s: label \"%s\" is given twice "
			    "(est.labels and labels may not both name it)",
			    cf->file, where, name);
			return NULL;
		}
	if (cf->nroutes == CONFIG_MAX_ROUTES) {
		errlist_add(errs, "%s: %s: at most %d labels", cf->file, where,
		    CONFIG_MAX_LABELS);
		return NULL;
	}
	rt = &cf->routes[cf->nroutes++];
	memcpy(rt->label, name, n + 1);
	return rt;
}

/* Parse est.labels: labels that inherit every setting. */
static void
config_labels(struct config *cf, cJSON *root, cJSON *arr,
    struct errlist *errs)
{
	cJSON	*it;
	size_t	 i = 0;
	char	 where[64];

	if (arr == NULL)
		return;
	if (!cJSON_IsArray(arr)) {
		errlist_add(errs, "%s: est.labels: must be an array of strings",
		    cf->file);
		return;
	}
	cJSON_ArrayForEach(it, arr) {
		struct config_route *rt;

		snprintf(where, sizeof(where), "est.labels[%zu]", i++);
		if ((rt = config_route_new(cf, cJSON_IsString(it) ?
		    it->valuestring : NULL, where, errs)) != NULL)
			config_route_values(cf, rt, root, NULL, errs);
	}
}

/* Parse the labels object: one route per member. */
static void
config_routes(struct config *cf, cJSON *root, cJSON *obj,
    struct errlist *errs)
{
	cJSON	*it;
	char	 where[192];

	if (!cJSON_IsObject(obj))
		return;			/* config_check_unknown said so */
	cJSON_ArrayForEach(it, obj) {
		struct config_route *rt;

		snprintf(where, sizeof(where), "labels.%s", it->string);
		if (cJSON_IsObject(it) &&
		    (rt = config_route_new(cf, it->string, where, errs)) != NULL)
			config_route_values(cf, rt, root, it, errs);
	}
}

/* Relations between the keys of one route. */
static void
config_route_check(struct config *cf, const struct config_route *rt,
    struct errlist *errs)
{
	char	pre[64];

	if (rt->label[0] != '\0')
		snprintf(pre, sizeof(pre), "labels.%s.", rt->label);
	else
		pre[0] = '\0';
	if (rt->up.nservers == 0)
		errlist_add(errs, "%s: %supstream.url: required key is missing "
		    "(or upstream.servers)", cf->file, pre);
	else if (rt->up.url != NULL && (rt == &cf->routes[0] ||
	    cf->routes[0].up.url == NULL ||
	    strcmp(rt->up.url, cf->routes[0].up.url) != 0)) {
		char p[96];

		snprintf(p, sizeof(p), "%supstream.url", pre);
		config_url_check(cf, p, rt->up.url, errs);
	}
	if (rt->up.connect_timeout_ms > rt->up.timeout_ms)
		errlist_add(errs, "%s: %supstream.connect_timeout_ms: must not "
		    "exceed upstream.timeout_ms", cf->file, pre);
}

/* The discovery listener: its own entries and against the DTLS ones. */
static void
config_disc_check(struct config *cf, struct errlist *errs)
{
	for (size_t i = 0; i < cf->ndisc_listen; i++) {
		for (size_t j = 0; j < cf->nlisten; j++)
			if (cf->disc_listen[i].port == cf->listen[j].port &&
			    strcmp(cf->disc_listen[i].addr, cf->listen[j].addr)
			    == 0)
				errlist_add(errs, "%s: discovery.listen[%zu]: "
				    "same address and port as listen[%zu]",
				    cf->file, i, j);
		for (size_t j = i + 1; j < cf->ndisc_listen; j++)
			if (cf->disc_listen[i].port == cf->disc_listen[j].port &&
			    strcmp(cf->disc_listen[i].addr,
			    cf->disc_listen[j].addr) == 0)
				errlist_add(errs, "%s: discovery.listen[%zu]: "
				    "duplicate of discovery.listen[%zu]",
				    cf->file, j, i);
	}
	if (cf->ndisc_mcast > 0 && cf->ndisc_listen == 0)
		errlist_add(errs, "%s: discovery.multicast: needs a "
		    "discovery.listen endpoint to join the groups on", cf->file);
	if (cf->disc_interface != NULL && strlen(cf->disc_interface) >= 16)
		errlist_add(errs, "%s: discovery.interface: longer than an "
		    "interface name (15)", cf->file);
	if (cf->disc_advertise != NULL && (strlen(cf->disc_advertise) > 96 ||
	    strpbrk(cf->disc_advertise, " \t\r\n/?#@<>\",;") != NULL))
		errlist_add(errs, "%s: discovery.advertise: must be host:port "
		    "(no scheme, path or spaces)", cf->file);
}

/* Relations between keys that no single row can check. */
static void
config_cross_check(struct config *cf, struct errlist *errs)
{
	struct sockaddr_storage ss;

	for (size_t i = 0; i < cf->nroutes; i++)
		config_route_check(cf, &cf->routes[i], errs);
	if (cf->dtls_client_ca == NULL &&
	    cJSON_GetObjectItemCaseSensitive(cf->routes[0].auth_json,
	    "trust") == NULL)
		errlist_add(errs, "%s: dtls.client_ca: required key is missing "
		    "(or set auth.trust)", cf->file);
	if (cf->max_pending_per_session > cf->max_pending)
		errlist_add(errs, "%s: limits.max_pending_per_session: must not "
		    "exceed limits.max_pending", cf->file);
	if (cf->metrics_addr != NULL && addr_parse(cf->metrics_addr, 0, &ss,
	    NULL) == -1)
		errlist_add(errs, "%s: service.metrics_address: must be a "
		    "numeric IPv4 or IPv6 address", cf->file);
	if (cf->service_group != NULL && cf->service_user == NULL)
		errlist_add(errs, "%s: service.group: needs service.user",
		    cf->file);
	if (cf->max_request_body > cf->block1_budget)
		errlist_add(errs, "%s: limits.max_request_body: must not exceed "
		    "limits.block1_budget", cf->file);
	if (cf->max_request_body > cf->block1_device_bytes)
		errlist_add(errs, "%s: limits.block1_device_bytes: must be at "
		    "least limits.max_request_body (%u)", cf->file,
		    cf->max_request_body);
	if (cf->max_request_body > cf->block1_source_bytes)
		errlist_add(errs, "%s: limits.block1_source_bytes: must be at "
		    "least limits.max_request_body (%u)", cf->file,
		    cf->max_request_body);
	config_disc_check(cf, errs);
	for (size_t i = 0; i < cf->nlisten; i++)
		if (cf->listen[i].port + (cf->workers > 0 ? cf->workers - 1 :
		    0) > 65535)
			errlist_add(errs, "%s: listen[%zu].port: with %u workers "
			    "the last one would need port %u", cf->file, i,
			    cf->workers, cf->listen[i].port + cf->workers - 1);
	if (cf->metrics_port != 0 && cf->workers > 1 &&
	    cf->metrics_port + cf->workers - 1 > 65535)
		errlist_add(errs, "%s: service.metrics_port: with %u workers "
		    "the last one would need port %u", cf->file, cf->workers,
		    cf->metrics_port + cf->workers - 1);
	for (size_t i = 0; i < cf->nlisten; i++)
		for (size_t j = i + 1; j < cf->nlisten; j++)
			if (cf->listen[i].port == cf->listen[j].port &&
			    strcmp(cf->listen[i].addr, cf->listen[j].addr) == 0)
				errlist_add(errs, "%s: listen[%zu]: duplicate of "
				    "listen[%zu]", cf->file, j, i);
			else if (cf->workers > 1 && strcmp(cf->listen[i].addr,
			    cf->listen[j].addr) == 0 && (unsigned)abs(
			    (int)cf->listen[i].port - (int)cf->listen[j].port) <
			    cf->workers)
				errlist_add(errs, "%s: listen[%zu]: its worker "
				    "ports overlap those of listen[%zu] (%u "
				    "workers)", cf->file, j, i, cf->workers);
}

/* Turn a cJSON error pointer into line and column (1-based). */
static void
config_position(const char *text, const char *at, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (const char *p = text; p < at && *p != '\0'; p++) {
		if (*p == '\n') {
			(*line)++;
			*col = 1;
		} else
			(*col)++;
	}
}

/* The JSON of the file at path, an object; NULL with the error said. */
static cJSON *
config_parse_file(const char *path, struct errlist *errs)
{
	char		*text;
	size_t		 len;
	cJSON		*root;
	const char	*end = NULL;
	int		 line, col;

	if ((text = file_read(path, CONFIG_MAX_FILE, &len)) == NULL) {
		errlist_add(errs, "%s: %s", path, strerror(errno));
		return NULL;
	}
	json_blank_comments(text, len);
	root = cJSON_ParseWithLengthOpts(text, len + 1, &end, 1);
	if (root == NULL) {
		config_position(text, end != NULL ? end : text + len, &line,
		    &col);
		errlist_add(errs, "%s:%d:%d: JSON syntax error", path, line,
		    col);
		free(text);
		return NULL;
	}
	free(text);
	if (!cJSON_IsObject(root)) {
		errlist_add(errs, "%s: the top level must be an object", path);
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

/* The keys of the schema table outside the routes. */
static void
config_top_values(struct config *cf, cJSON *root, struct errlist *errs)
{
	for (size_t i = 0; i < NKEYS; i++) {
		const struct config_key	*k = &config_keys[i];
		cJSON			*v = config_json_get(root, k->path);

		if (k->type == CK_LISTEN)
			config_listen_arr(cf, v, "listen", cf->listen,
			    &cf->nlisten, PORT_COAPS, errs);
		else if (k->type == CK_DLISTEN)
			config_listen_arr(cf, v, "discovery.listen",
			    cf->disc_listen, &cf->ndisc_listen, PORT_COAP, errs);
		else if (k->type == CK_MCAST)
			config_mcast(cf, v, errs);
		else if (k->type == CK_LABELS || k->type == CK_ROUTES)
			continue;	/* after the default route */
		else if (k->type == CK_OBJECT) {
			if (v == NULL && k->required)
				errlist_add(errs, "%s: %s: required section is "
				    "missing", cf->file, k->path);
		} else {
			/* a key of a section that is not an object is absent */
			config_value(cf, cf, k->path, k, v, errs);
		}
	}
}

/* See config.h. */
struct config *
config_read(const char *path, struct errlist *errs)
{
	struct config	*cf;
	cJSON		*root;
	int		 before = errs->count;

	if ((cf = calloc(1, sizeof(*cf))) == NULL ||
	    (cf->file = strdup(path)) == NULL) {
		free(cf);
		errlist_add(errs, "%s: out of memory", path);
		return NULL;
	}
	if ((root = config_parse_file(path, errs)) == NULL) {
		config_free(cf);
		return NULL;
	}
	config_check_unknown(root, "", "", false, path, errs);
	config_top_values(cf, root, errs);
	/* the default route, then the labels that inherit from it */
	cf->nroutes = 1;
	config_route_values(cf, &cf->routes[0], root, NULL, errs);
	config_labels(cf, root, config_json_get(root, "est.labels"), errs);
	config_routes(cf, root, config_json_get(root, "labels"), errs);
	if (errs->count == before)
		config_cross_check(cf, errs);
	cJSON_Delete(root);
	cf->refs = 1;
	cf->gen = 1;
	return cf;
}

/* See config.h. */
struct config *
config_load(const char *path, struct errlist *errs)
{
	int		 before = errs->count;
	struct config	*cf = config_read(path, errs);

	if (cf != NULL && errs->count != before) {
		config_free(cf);
		return NULL;
	}
	return cf;
}

/* Free a generation and every string and key it owns. */
void
config_free(struct config *cf)
{
	if (cf == NULL)
		return;
	for (size_t i = 0; i < NKEYS; i++) {
		const struct config_key *k = &config_keys[i];

		if (k->type == CK_STRING || k->type == CK_FILE ||
		    k->type == CK_ENUM)
			free(*(char **)((char *)cf + k->off));
	}
	for (size_t r = 0; r < CONFIG_MAX_ROUTES; r++) {
		cJSON_Delete(cf->routes[r].auth_json);
		for (size_t i = 0; i < NRKEYS; i++) {
			const struct config_key *k = &route_keys[i];

			if (k->type == CK_STRING || k->type == CK_FILE ||
			    k->type == CK_ENUM)
				free(*(char **)((char *)&cf->routes[r] +
				    k->off));
		}
	}
	free(cf->file);
	free(cf);
}

/* Two optional strings are equal (both NULL counts). */
static int
str_eq_null(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* The set of CA labels, in order, is the same. */
static bool
config_same_labels(const struct config *a, const struct config *b)
{
	if (a->nroutes != b->nroutes)
		return false;
	for (size_t i = 0; i < a->nroutes; i++)
		if (strcmp(a->routes[i].label, b->routes[i].label) != 0)
			return false;
	return true;
}

/*
 * Whether the value of row k (at base a and b: a struct config, or a
 * struct config_route for route_keys[]) is the same in two generations.
 * Types without a comparison here (auth) always reload.
 */
static bool
config_key_same(const struct config_key *k, const struct config *a,
    const struct config *b, const void *ba, const void *bb)
{
	const char *pa = (const char *)ba + k->off;
	const char *pb = (const char *)bb + k->off;

	switch (k->type) {
	case CK_UINT:
		return *(const uint32_t *)pa == *(const uint32_t *)pb;
	case CK_BOOL:
		return *(const bool *)pa == *(const bool *)pb;
	case CK_STRING:
	case CK_FILE:
	case CK_ENUM:
		return str_eq_null(*(char *const *)pa, *(char *const *)pb);
	case CK_LISTEN:
		return a->nlisten == b->nlisten && memcmp(a->listen, b->listen,
		    sizeof(a->listen)) == 0;
	case CK_DLISTEN:
		return a->ndisc_listen == b->ndisc_listen &&
		    memcmp(a->disc_listen, b->disc_listen,
		    sizeof(a->disc_listen)) == 0;
	case CK_MCAST:
		return a->ndisc_mcast == b->ndisc_mcast &&
		    memcmp(a->disc_mcast, b->disc_mcast,
		    sizeof(a->disc_mcast)) == 0;
	case CK_LABELS:
	case CK_ROUTES:
		return config_same_labels(a, b);
	case CK_OPS:
		return ((const struct config_route *)ba)->ops ==
		    ((const struct config_route *)bb)->ops;
	case CK_SERVERS:
		return ((const struct config_route *)ba)->up.nservers ==
		    ((const struct config_route *)bb)->up.nservers &&
		    memcmp(((const struct config_route *)ba)->up.servers,
		    ((const struct config_route *)bb)->up.servers,
		    sizeof(((const struct config_route *)ba)->up.servers)) == 0;
	default:
		return true;
	}
}

/* Every top-level row under section sec ("discovery") is the same. */
static bool
config_section_same(const char *sec, const struct config *a,
    const struct config *b)
{
	size_t n = strlen(sec);

	for (size_t i = 0; i < NKEYS; i++) {
		const struct config_key *k = &config_keys[i];

		if (strncmp(k->path, sec, n) == 0 && k->path[n] == '.' &&
		    !config_key_same(k, a, b, a, b))
			return false;
	}
	return true;
}

/*
 * See config.h. The CK_RESTART rows of config_keys[] in table order (a
 * section compares all its keys and is named as a whole), then those of
 * route_keys[] for every route.
 */
const char *
config_static_diff(const struct config *old, const struct config *new)
{
	static char	 key[64];	/* the route key named in the answer */

	for (size_t i = 0; i < NKEYS; i++) {
		const struct config_key *k = &config_keys[i];

		if (k->reload != CK_RESTART)
			continue;
		if (k->type == CK_OBJECT ? !config_section_same(k->path, old,
		    new) : !config_key_same(k, old, new, old, new))
			return k->type == CK_LABELS || k->type == CK_ROUTES ?
			    "labels (the set of CA labels)" : k->path;
	}
	if (!config_same_labels(old, new))
		return "labels (the set of CA labels)";
	for (size_t i = 0; i < NRKEYS; i++) {
		const struct config_key *k = &route_keys[i];

		if (k->reload != CK_RESTART)
			continue;
		for (size_t r = 0; r < old->nroutes; r++) {
			if (config_key_same(k, old, new, &old->routes[r],
			    &new->routes[r]))
				continue;
			if (r == 0 && k->top != NULL)
				return k->top;
			snprintf(key, sizeof(key), "labels.%s.%s",
			    old->routes[r].label, k->path);
			return key;
		}
	}
	return NULL;
}

/* See config.h. */
void
config_worker_ports(struct config *cf, unsigned index)
{
	for (size_t i = 0; i < cf->nlisten; i++)
		cf->listen[i].port = (uint16_t)(cf->listen[i].port + index);
	if (cf->metrics_port != 0)
		cf->metrics_port += index;
	cf->worker = index;
}

/*
 * Whether a reload may change row k: its own column, or that of the
 * section it is in (top-level rows only).
 */
static bool
config_key_reloads(const struct config_key *k, bool route)
{
	const char *dot;

	if (k->reload == CK_RESTART)
		return false;
	if (route || (dot = strchr(k->path, '.')) == NULL)
		return true;
	for (size_t i = 0; i < NKEYS; i++)
		if (config_keys[i].type == CK_OBJECT &&
		    strncmp(config_keys[i].path, k->path,
		    (size_t)(dot - k->path)) == 0 &&
		    config_keys[i].path[dot - k->path] == '\0')
			return config_keys[i].reload != CK_RESTART;
	return true;
}

/* The type of a row as the documentation names it. */
static const char *
config_type_name(const struct config_key *k)
{
	static const char *const tn[] = {
		[CK_STRING] = "string", [CK_FILE] = "file",
		[CK_UINT] = "integer", [CK_BOOL] = "boolean",
		[CK_ENUM] = "string", [CK_OBJECT] = "object",
		[CK_LISTEN] = "array", [CK_LABELS] = "array",
		[CK_SERVERS] = "array", [CK_OPS] = "array",
		[CK_ROUTES] = "object",
		[CK_DLISTEN] = "array", [CK_MCAST] = "array",
		[CK_AUTH] = "object", [CK_AUTHKEY] = "?",
	};

	return k->type == CK_AUTHKEY ? k->xtype : tn[k->type];
}

/*
 * The i-th row in the order of the documentation: config_keys[], the
 * default route's rows of route_keys[] (by .top), then the labels.<label>
 * ones. NULL past the last; *path gets the name it is documented under.
 */
static const struct config_key *
config_doc_row(size_t i, char *path, size_t pathsz, bool *label,
    bool *route)
{
	*label = *route = false;
	if (i < NKEYS) {
		snprintf(path, pathsz, "%s", config_keys[i].path);
		return &config_keys[i];
	}
	i -= NKEYS;
	*route = true;
	for (size_t r = 0; r < NRKEYS; r++)
		if (route_keys[r].top != NULL && i-- == 0) {
			snprintf(path, pathsz, "%s", route_keys[r].top);
			return &route_keys[r];
		}
	*label = true;
	for (size_t r = 0; r < NRKEYS; r++)
		if (route_keys[r].label && i-- == 0) {
			snprintf(path, pathsz, "labels.<label>.%s",
			    route_keys[r].path);
			return &route_keys[r];
		}
	return NULL;
}

/* The default of a row without one of its own: none, or a fixed value. */
static void
config_doc_fixed(const struct config_key *k, struct config_keydoc *d)
{
	size_t n = 0;

	switch (k->type) {
	case CK_LISTEN:
		snprintf(d->def, sizeof(d->def), "[{\"address\": \"%s\", "
		    "\"port\": %d}]", LISTEN_ANY, PORT_COAPS);
		break;
	case CK_DLISTEN:
	case CK_MCAST:
	case CK_LABELS:
		snprintf(d->def, sizeof(d->def), "[]");
		break;
	case CK_ROUTES:
		snprintf(d->def, sizeof(d->def), "{}");
		break;
	case CK_OPS:
		n = (size_t)snprintf(d->def, sizeof(d->def), "[");
		for (int op = 0; op < EST_OP_COUNT; op++)
			if (OPS_DEFAULT & (1u << op))
				n += (size_t)snprintf(d->def + n,
				    sizeof(d->def) - n, "%s\"%s\"",
				    n > 1 ? ", " : "",
				    estmap_op_by_id((enum est_op_id)op)->name);
		snprintf(d->def + n, sizeof(d->def) - n, "]");
		break;
	case CK_AUTHKEY: {
		/* "[]", or "[] (every ...)": JSON, then words */
		const char	*end = NULL;
		cJSON		*v;

		if (k->def_s == NULL)
			break;
		v = cJSON_ParseWithOpts(k->def_s, &end, 0);
		if (v == NULL) {
			d->def_note = k->def_s;
			break;
		}
		cJSON_Delete(v);
		snprintf(d->def, sizeof(d->def), "%.*s",
		    (int)(end - k->def_s), k->def_s);
		while (*end == ' ')
			end++;
		d->def_note = *end != '\0' ? end : NULL;
		break;
	}
	default:
		break;
	}
}

/* See config.h. */
bool
config_keydoc(size_t i, struct config_keydoc *d)
{
	const struct config_key	*k;
	bool			 label, route;

	memset(d, 0, sizeof(*d));
	if ((k = config_doc_row(i, d->path, sizeof(d->path), &label,
	    &route)) == NULL)
		return false;
	d->type = config_type_name(k);
	d->help = k->help;
	d->label = label;
	d->reload = config_key_reloads(k, route);
	d->section = k->type == CK_OBJECT || k->type == CK_AUTH ||
	    k->type == CK_ROUTES;
	d->required = k->required && !label;
	if (k->type == CK_UINT || config_auth_uint(k))
		snprintf(d->range, sizeof(d->range), "%u..%u", k->min, k->max);
	for (size_t c = 0; k->type == CK_ENUM && k->choices[c] != NULL; c++)
		snprintf(d->range + strlen(d->range), sizeof(d->range) -
		    strlen(d->range), "%s%s", c > 0 ? ", " : "one of ",
		    k->choices[c]);
	if (label && k->type == CK_AUTH)
		d->def_note = "the top-level section";
	else if (label && k->noinherit && (k->type == CK_STRING ||
	    k->type == CK_SERVERS))
		d->def_note = "the top-level servers";
	else if (label && !k->noinherit && k->type != CK_OBJECT)
		d->def_note = "the top-level value";
	else if (k->type == CK_UINT || config_auth_uint(k))
		snprintf(d->def, sizeof(d->def), "%u", k->def_u);
	else if (k->type == CK_BOOL || config_auth_bool(k))
		snprintf(d->def, sizeof(d->def), "%s", k->def_u ? "true" :
		    "false");
	else if (k->def_s != NULL && k->type != CK_AUTHKEY)
		snprintf(d->def, sizeof(d->def), "\"%s\"", k->def_s);
	else
		config_doc_fixed(k, d);
	return true;
}

/* See config.h. */
uint32_t
config_ops_default(void)
{
	return OPS_DEFAULT;
}

/* Print every key with its type, default and help text (-h -h). */
void
config_dump_keys(void)
{
	struct config_keydoc d;

	for (size_t i = 0; config_keydoc(i, &d); i++) {
		printf("%-30s %-8s", d.path, d.type);
		if (d.range[0] != '\0')
			printf(" %s", d.range);
		if (d.required)
			printf(" required");
		if (d.def[0] != '\0')
			printf(" default %s", d.def);
		if (d.def_note != NULL)
			printf(" %s%s", d.def[0] != '\0' ? "" : "default: ",
			    d.def_note);
		if (!d.reload)
			printf(" (restart to change)");
		printf("\n    %s\n", d.help);
	}
}

/* See config.h. */
const struct config_route *
config_route_find(const struct config *cf, const char *label)
{
	for (size_t i = 0; i < cf->nroutes; i++)
		if (strcmp(cf->routes[i].label, label) == 0)
			return &cf->routes[i];
	return NULL;
}

/* See config.h. */
void
config_each_file(const struct config *cf, config_file_fn *fn, void *arg)
{
	char path[192];

	for (size_t i = 0; i < NKEYS; i++) {
		const struct config_key *k = &config_keys[i];
		const char		*f;

		if (k->type == CK_FILE &&
		    (f = *(char *const *)((const char *)cf + k->off)) != NULL)
			fn(arg, k->path, f, k->secret);
	}
	for (size_t r = 0; r < cf->nroutes; r++)
		for (size_t i = 0; i < NRKEYS; i++) {
			const struct config_key *k = &route_keys[i];
			const char		*f, *d;

			if (k->type != CK_FILE)
				continue;
			f = *(char *const *)((const char *)&cf->routes[r] +
			    k->off);
			d = *(char *const *)((const char *)&cf->routes[0] +
			    k->off);
			/* a value a label inherits was checked as the top's */
			if (f == NULL || (r > 0 && d != NULL &&
			    strcmp(f, d) == 0))
				continue;
			if (r == 0)
				snprintf(path, sizeof(path), "%s", k->top);
			else
				snprintf(path, sizeof(path), "labels.%s.%s",
				    cf->routes[r].label, k->path);
			fn(arg, path, f, k->secret);
		}
}
