/*
 * Enrollments a CA has not approved yet, as the test upstream keeps them
 * for its 202 (RFC 7030 4.2.3) answers: libest's example server with -m
 * answers 202 to the first request for a public key and issues on the
 * repeat; OpenXPKI keeps a workflow per CSR that an operator approves and
 * that a repeat of the same CSR picks up, before and after issuance.
 */
#ifndef EST_PENDING_H
#define EST_PENDING_H

#include <stddef.h>

#include <openssl/x509.h>

#define PEND_MAX	128		/* entries; the oldest goes first */
#define PEND_ID_LEN	32

enum pend_state {
	PEND_FREE,
	PEND_WAITING,			/* seen, not issued yet */
	PEND_ISSUED,			/* issued; cert holds the answer */
};

struct pend_entry {
	enum pend_state	 state;
	unsigned char	 id[PEND_ID_LEN];
	unsigned char	*cert;		/* PKCS#7 DER of the issued answer */
	size_t		 certlen;
};

struct pend_table {
	struct pend_entry	e[PEND_MAX];
	unsigned		next;		/* slot the next add takes */
};

/* The entry with this id, or NULL. */
struct pend_entry	*pend_find(struct pend_table *t,
			    const unsigned char id[PEND_ID_LEN]);
/* A new waiting entry for id (replacing the oldest when full). */
struct pend_entry	*pend_add(struct pend_table *t,
			    const unsigned char id[PEND_ID_LEN]);
/* Keep a copy of an issued answer in e; -1 if out of memory. */
int			 pend_issue(struct pend_entry *e,
			    const unsigned char *der, size_t len);
/* Forget one entry, or all of them. */
void			 pend_drop(struct pend_entry *e);
void			 pend_free(struct pend_table *t);

/* The id of a CSR's public key (SubjectPublicKeyInfo); -1 on error. */
int	pend_id_pubkey(X509_REQ *csr, unsigned char id[PEND_ID_LEN]);
/*
 * The id of the whole CSR and its SHA-1 in hex (tid, 41 bytes), which is
 * what OpenXPKI calls the transaction id; -1 on error.
 */
int	pend_id_csr(X509_REQ *csr, unsigned char id[PEND_ID_LEN],
	    char tid[41]);

#endif
