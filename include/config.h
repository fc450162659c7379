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

/* Errors collected while reading or checking, one line each. */
struct errlist {
	char	*text;		/* "\n"-separated, NUL-terminated; malloc'd */
	size_t	 len;
	int	 count;
};

void	errlist_add(struct errlist *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	errlist_free(struct errlist *);

struct config_listen {
	char		 addr[64];	/* numeric IPv4 or IPv6 address */
	uint16_t	 port;
};

struct pki_set;

struct config {
	char		*file;		/* path it was read from */
	int		 refs;		/* the daemon + requests started on it */
	unsigned	 gen;		/* generation: 1 at start, +1 per reload */

	struct config_listen listen[CONFIG_MAX_LISTEN];
	size_t		 nlisten;

	/* DTLS front */
	char		*dtls_cert;	/* PEM: our DTLS server certificate */
	char		*dtls_key;	/* PEM: its private key */
	char		*dtls_chain;	/* PEM: intermediates to send, optional */
	char		*dtls_client_ca;/* PEM: trust anchors for device certs */
	uint32_t	 dtls_verify_depth;
	uint32_t	 dtls_mtu;	/* bytes; bounds our Block2 size */
	uint32_t	 dtls_idle_timeout_s;
	uint32_t	 dtls_max_handshakes;
	uint32_t	 dtls_max_idle_sessions;

	/* upstream EST server */
	char		*up_url;	/* https://host[:port], no path */
	char		*up_client_cert;
	char		*up_client_key;
	char		*up_ca;
	uint32_t	 up_connect_timeout_ms;
	uint32_t	 up_timeout_ms;	/* whole exchange */
	uint32_t	 up_max_connections;
	bool		 up_send_cte;	/* add Content-Transfer-Encoding: base64 */

	/* limits */
	uint32_t	 max_request_body;	/* bytes of one CSR */
	uint32_t	 max_response_body;	/* bytes of one upstream body */
	uint32_t	 max_pending;		/* upstream-bound requests at once */
	uint32_t	 max_pending_per_session;
	uint32_t	 block1_budget;		/* bytes of all Block1 buffers */
	uint32_t	 busy_max_age_s;	/* Max-Age with 5.03 when full */
	uint32_t	 exchange_entries;	/* completed answers kept */
	uint32_t	 exchange_bytes;	/* their payload bytes */

	/* EST behaviour */
	uint32_t	 cache_ttl_s;		/* crts / att answers */
	uint32_t	 cache_max_stale_s;	/* served stale while CA fails */
	uint32_t	 retry_max_age_s;	/* 202/503 without Retry-After */
	char		*att_on_204;		/* "empty" or "not-found" */
	bool		 server_keygen;		/* serve skg and skc */
	char		 labels[CONFIG_MAX_LABELS][CONFIG_LABEL_MAX + 1];
	size_t		 nlabels;		/* CA labels served */

	char		*log_level;

	/* operations */
	char		*metrics_addr;		/* numeric; "" = no listener */
	uint32_t	 metrics_port;
	char		*audit_file;		/* JSON lines; NULL = none */
	uint32_t	 drain_timeout_s;	/* SIGTERM: wait this long */

	struct pki_set	*pki;		/* loaded by pki_load() */
};

/*
 * Read and check path. Returns a config or NULL with every error in errs
 * (JSON syntax errors as file:line:col, others as file: key.path: text).
 */
struct config	*config_load(const char *path, struct errlist *errs);
void		 config_free(struct config *);

/* A generation lives while someone holds a reference (refs starts at 1). */
struct config	*config_ref(struct config *);
void		 config_unref(struct config *);

/*
 * Keys a reload cannot change (listen addresses). Returns the first such
 * key path that differs between old and new, or NULL.
 */
const char	*config_static_diff(const struct config *old,
		    const struct config *new);

/* Print the schema (key, type, default, help) for -h style listings. */
void		 config_dump_keys(void);

#endif
