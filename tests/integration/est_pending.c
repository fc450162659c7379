/*
 * The test upstream's table of enrollments waiting for approval
 * (est_pending.h).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "est_pending.h"

/* See est_pending.h. */
struct pend_entry *
pend_find(struct pend_table *t, const unsigned char id[PEND_ID_LEN])
{
	for (size_t i = 0; i < PEND_MAX; i++)
		if (t->e[i].state != PEND_FREE &&
		    memcmp(t->e[i].id, id, PEND_ID_LEN) == 0)
			return &t->e[i];
	return NULL;
}

/* See est_pending.h. */
struct pend_entry *
pend_add(struct pend_table *t, const unsigned char id[PEND_ID_LEN])
{
	struct pend_entry *e = &t->e[t->next];

	t->next = (t->next + 1) % PEND_MAX;
	pend_drop(e);
	e->state = PEND_WAITING;
	memcpy(e->id, id, PEND_ID_LEN);
	return e;
}

/* See est_pending.h. */
int
pend_issue(struct pend_entry *e, const unsigned char *der, size_t len)
{
	unsigned char *copy;

	if ((copy = malloc(len)) == NULL)
		return -1;
	memcpy(copy, der, len);
	free(e->cert);
	e->cert = copy;
	e->certlen = len;
	e->state = PEND_ISSUED;
	return 0;
}

/* See est_pending.h. */
void
pend_drop(struct pend_entry *e)
{
	free(e->cert);
	memset(e, 0, sizeof(*e));
}

/* See est_pending.h. */
void
pend_free(struct pend_table *t)
{
	for (size_t i = 0; i < PEND_MAX; i++)
		pend_drop(&t->e[i]);
}

/* See est_pending.h. */
int
pend_id_pubkey(X509_REQ *csr, unsigned char id[PEND_ID_LEN])
{
	unsigned char *der = NULL;
	int n;

	if ((n = i2d_X509_PUBKEY(X509_REQ_get_X509_PUBKEY(csr), &der)) <= 0)
		return -1;
	SHA256(der, (size_t)n, id);
	OPENSSL_free(der);
	return 0;
}

/* See est_pending.h. */
int
pend_id_csr(X509_REQ *csr, unsigned char id[PEND_ID_LEN], char tid[41])
{
	unsigned char *der = NULL, sha1[SHA_DIGEST_LENGTH];
	int n;

	if ((n = i2d_X509_REQ(csr, &der)) <= 0)
		return -1;
	SHA256(der, (size_t)n, id);
	SHA1(der, (size_t)n, sha1);
	OPENSSL_free(der);
	for (size_t i = 0; i < sizeof(sha1); i++)
		snprintf(tid + 2 * i, 3, "%02x", sha1[i]);
	return 0;
}
