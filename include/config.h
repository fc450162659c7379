/*
 * The configuration: one JSON file read with cJSON and walked with a schema
 * table (config_keys[] in src/config.c). A struct config is one immutable generation.
 */
#ifndef ESTCOAPD_CONFIG_H
#define ESTCOAPD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_MAX_LISTEN	8
#define CONFIG_MAX_LABELS	16
#define CONFIG_LABEL_MAX	32	/* characters of one CA label */
#define CONFIG_MAX_ROUTES	(1 + CONFIG_MAX_LABELS)	/* default + labels */
#define CONFIG_MAX_SERVERS	8	/* upstream servers of one route */
#define CONFIG_URL_MAX		256	/* bytes of one base URL, with NUL */
#define CONFIG_MAX_WORKERS	64	/* service.workers */
#define CONFIG_MAX_MCAST	8	/* discovery.multicast groups */
#define CONFIG_MCAST_MAX	46	/* INET6_ADDRSTRLEN */

struct errlist;		/* util.h */

struct config_listen {
	char		 addr[64];	/* numeric IPv4 or IPv6 address */
	uint16_t	 port;
};

struct pki_set;
struct authz;
struct cJSON;

/*
 * The upstream of one route: the top-level "upstream" section for the
 * default route, labels.<label>.upstream for a CA label (missing keys
 * there inherit the top-level value).
 */
struct config_upstream {
	char		*url;		/* upstream.url as written, or NULL */
	char		 servers[CONFIG_MAX_SERVERS][CONFIG_URL_MAX];
	size_t		 nservers;	/* url or upstream.servers, in order */
	char		*client_cert;	/* PEM client certificate (mTLS) */
	char		*client_key;
	char		*ca;		/* PEM trust anchors for the servers */
	uint32_t	 connect_timeout_ms;	/* TCP + TLS, per attempt */
	uint32_t	 timeout_ms;	/* whole exchange, failover included */
	uint32_t	 max_connections;	/* top level only: one pool */
	bool		 send_cte;	/* add Content-Transfer-Encoding: base64 */
	uint32_t	 b64_line_length;	/* request base64 line; 0: one */
	bool		 renew_as_enroll;	/* sren goes up as simpleenroll */
	uint32_t	 down_time_s;	/* a failed server is skipped this long */
	uint32_t	 health_interval_s;	/* probe down servers; 0 = off */
};

/*
 * One route: the default one (label "", routes[0]) or one CA label. Its
 * keys are the rows of route_keys[] in src/config.c, which the top level
 * (default route) and every labels.<label> object share.
 *
 * To add a per-route section (say "auth"): add its fields here, add rows
 * to route_keys[] with .off = OFFR(field) (the generic types CK_STRING,
 * CK_FILE, CK_UINT, CK_BOOL, CK_ENUM, CK_OBJECT need no other code), set
 * .top to where the default route reads it ("auth", or NULL for a
 * label-only key) and .label = true to allow it under labels.<label>;
 * missing label values inherit the default route's unless .noinherit.
 * Strings are freed by config_free(); check relations in
 * config_route_check(); set .reload = CK_RESTART if a reload cannot
 * change it (config_static_diff() then compares it); document it in
 * man/estcoapd.json.5 and the sample.
 */
struct config_route {
	char			 label[CONFIG_LABEL_MAX + 1];	/* "": default */
	struct config_upstream	 up;
	uint32_t		 ops;	/* bit 1u << EST_OP_x per enabled op */
	struct cJSON		*auth_json;	/* its "auth" as written, or NULL */
	struct authz		*auth;	/* device policy, made by gen.c */
	bool			 auth_owned;	/* false: the default route's */
};

struct config {
	char		*file;		/* path it was read from */
	int		 refs;		/* held by gen_ref() (gen.h) */
	unsigned	 gen;		/* generation: 1 at start, +1 per reload */

	struct config_listen listen[CONFIG_MAX_LISTEN];
	size_t		 nlisten;

	/* DTLS front */
	char		*dtls_cert;	/* PEM: our DTLS server certificate */
	char		*dtls_key;	/* PEM: its private key */
	char		*dtls_chain;	/* PEM: intermediates to send, optional */
	char		*dtls_client_ca;/* PEM: device trust anchors, or NULL */
	uint32_t	 dtls_verify_depth;
	uint32_t	 dtls_mtu;	/* bytes; bounds our Block2 size */
	uint32_t	 dtls_idle_timeout_s;
	uint32_t	 dtls_max_handshakes;
	uint32_t	 dtls_max_idle_sessions;
	uint32_t	 dtls_receive_buffer;	/* SO_RCVBUF bytes, 0: default */
	uint32_t	 dtls_max_sessions;	/* past the cookie, at once */
	uint32_t	 dtls_handshake_timeout_s;
	uint32_t	 dtls_handshake_evict_s;
	uint32_t	 dtls_handshake_stall_ms;
	uint32_t	 dtls_handshakes_per_address;
	uint32_t	 dtls_ack_timeout_ms;	/* CoAP ACK_TIMEOUT, our CONs */
	char		*dtls_session_resumption; /* "cache", "tickets", "off" */

	/* CoAP messages of upstream-bound requests */
	uint32_t	 ack_hold_ms;		/* wait to piggyback, 0: no */
	uint32_t	 ack_hold_max_pending;	/* past it no wait (ACK first) */
	char		*large_separate;	/* "retry" or "block2" */

	/* routes[0]: the default route (top-level "upstream"); then labels */
	struct config_route routes[CONFIG_MAX_ROUTES];
	size_t		 nroutes;	/* 1 + CA labels */

	/* limits */
	uint32_t	 max_request_body;	/* bytes of one CSR */
	uint32_t	 max_response_body;	/* bytes of one upstream body */
	uint32_t	 max_pending;		/* upstream-bound requests at once */
	uint32_t	 max_pending_per_session;
	uint32_t	 max_pending_per_device;	/* all its sessions */
	uint32_t	 block1_budget;		/* bytes of all Block1 buffers */
	uint32_t	 block1_device_bytes;	/* quotas of one device */
	uint32_t	 block1_device_uploads;
	uint32_t	 block1_source_bytes;	/* ... of one source address */
	uint32_t	 block1_source_uploads;
	uint32_t	 block1_lifetime_s;	/* unfinished upload kept */
	uint32_t	 busy_max_age_s;	/* Max-Age with 5.03 when full */
	bool		 backlog_shed;		/* 5.03 when the wait is too long */
	uint32_t	 exchange_entries;	/* completed answers kept */
	uint32_t	 exchange_bytes;	/* their payload bytes */
	uint32_t	 rate_per_source;	/* requests/s per address, 0 off */
	uint32_t	 rate_burst;		/* requests at once per address */
	uint32_t	 rate_sources;		/* addresses remembered */

	/* EST behaviour */
	uint32_t	 cache_ttl_s;		/* crts / att answers */
	uint32_t	 cache_max_stale_s;	/* served stale while CA fails */
	uint32_t	 retry_max_age_s;	/* 202/503 without Retry-After */
	char		*att_on_204;		/* "empty" or "not-found" */
	bool		 server_keygen;		/* serve skg and skc */

	/* plain-CoAP discovery listener (RFC 9148 4.1, 5; RFC 7252 8) */
	struct config_listen disc_listen[CONFIG_MAX_LISTEN];
	size_t		 ndisc_listen;		/* 0: none */
	char		 disc_mcast[CONFIG_MAX_MCAST][CONFIG_MCAST_MAX];
	size_t		 ndisc_mcast;		/* groups joined */
	char		*disc_interface;	/* for the joins; NULL: any */
	char		*disc_advertise;	/* coaps host:port in links */

	char		*log_level;

	/* operations */
	char		*metrics_addr;		/* numeric; "" = no listener */
	uint32_t	 metrics_port;
	char		*audit_file;		/* JSON lines; NULL = none */
	bool		 audit_fail_closed;	/* no audit, no enrollment */
	uint32_t	 drain_timeout_s;	/* SIGTERM: wait this long */
	uint32_t	 workers;		/* processes (1 = no master) */
	char		*service_user;		/* run as; NULL = as started */
	char		*service_group;		/* NULL = the user's group */
	unsigned	 worker;		/* which one this is (0-based) */

	struct pki_set	*pki;		/* loaded by gen_load() (gen.h) */
};

/*
 * Read path, check every value and the relations between them. Touches
 * no file but path: what the values name (files, users) is checked by
 * gen.c. Returns a config (refs 1) or NULL with every error in errs (JSON
 * syntax errors as file:line:col, others as file: key.path: text).
 */
struct config	*config_load(const char *path, struct errlist *errs);
void		 config_free(struct config *);

/*
 * The same, but what could be read is returned even after errors, so that
 * gen.c adds its own to them (every error of a file at once); NULL only
 * when the file holds no JSON object.
 */
struct config	*config_read(const char *path, struct errlist *errs);

/* The route of a label ("" = default), or NULL when it is not served. */
const struct config_route *config_route_find(const struct config *,
		    const char *label);

/*
 * Keys a reload cannot change: the rows of the schema table marked
 * CK_RESTART. Returns the first such key path that differs between old
 * and new, or NULL.
 */
const char	*config_static_diff(const struct config *old,
		    const struct config *new);

/*
 * Turn the configured ports into those of worker index: every listen
 * port and a non-zero metrics port move up by index (see workers.h).
 */
void		 config_worker_ports(struct config *cf, unsigned index);

/* Each file the configuration names: key path, file, a private key. */
typedef void	 config_file_fn(void *arg, const char *key, const char *file,
		    bool secret);
void		 config_each_file(const struct config *, config_file_fn *,
		    void *arg);

/*
 * The keys of an "auth" section are rows of the schema like every other
 * key; authz_parse() reads the section and asks here which keys there
 * are, and the default and range of an integer or boolean one. False
 * when name is no such key.
 */
struct config_authkey {
	const char	*type;		/* "boolean", "integer", "array", ... */
	uint32_t	 def, min, max;
};
bool		 config_auth_key(const char *name, struct config_authkey *);

/* Print the schema (key, type, default, help) for -h style listings. */
void		 config_dump_keys(void);

/* One key of the schema as -h -h and estcoapd.json(5) show it. */
struct config_keydoc {
	char		 path[96];	/* "dtls.mtu", "labels.<label>.operations" */
	const char	*type;		/* "integer", "string", "file", ... */
	char		 range[128];	/* "256..1500", "error, warning, ..." */
	char		 def[160];	/* the default as JSON text, or "" */
	const char	*def_note;	/* words for a default JSON cannot say */
	bool		 required;
	bool		 reload;	/* a SIGHUP reload applies a change */
	bool		 section;	/* an object that holds more keys */
	bool		 label;		/* a key under labels.<label> */
	const char	*help;		/* one line */
};

/*
 * The i-th key (from 0) in the order of -h -h: the top-level rows, the
 * default route's, then those of a labels.<label> object. False past the
 * last one.
 */
bool		 config_keydoc(size_t i, struct config_keydoc *);

/* The operations a route serves by default: bit 1u << EST_OP_x each. */
uint32_t	 config_ops_default(void);

#endif
