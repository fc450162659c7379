/*
 * Test-only CSR builder (see csrgen.h). Plain OpenSSL 3.0 calls; every
 * failure is reported and returns -1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "csrgen.h"

#define CSRGEN_OID_CSN	"1.3.6.1.5.5.7.7.36"	/* id-cmc-changeSubjectName */
#define CSRGEN_MAX_NAME	1024

/* "/O=x/CN=y" into a new X509_NAME, or NULL. */
static X509_NAME *
csrgen_name(const char *s)
{
	X509_NAME	*n;
	char		 buf[CSRGEN_MAX_NAME], *p, *next, *eq;

	if (strlen(s) >= sizeof(buf) || s[0] != '/' ||
	    (n = X509_NAME_new()) == NULL)
		return NULL;
	snprintf(buf, sizeof(buf), "%s", s + 1);
	for (p = buf; p != NULL && *p != '\0'; p = next) {
		if ((next = strchr(p, '/')) != NULL)
			*next++ = '\0';
		if ((eq = strchr(p, '=')) == NULL) {
			X509_NAME_free(n);
			return NULL;
		}
		*eq = '\0';
		if (X509_NAME_add_entry_by_txt(n, p, MBSTRING_UTF8,
		    (const unsigned char *)eq + 1, -1, -1, 0) != 1) {
			X509_NAME_free(n);
			return NULL;
		}
	}
	return n;
}

/* ChangeSubjectName ::= SEQUENCE { subject Name OPTIONAL, ... } */
static int
csrgen_add_csn(X509_REQ *req, const char *subject)
{
	X509_NAME	*n = csrgen_name(subject);
	unsigned char	*nd = NULL, *seq;
	ASN1_OBJECT	*obj = OBJ_txt2obj(CSRGEN_OID_CSN, 1);
	int		 nlen, slen, hl, rc = -1;

	if (n == NULL || obj == NULL || (nlen = i2d_X509_NAME(n, &nd)) <= 0)
		goto done;
	/* the SEQUENCE head around the Name, DER length form */
	slen = nlen < 128 ? 2 : nlen < 256 ? 3 : 4;
	if ((seq = malloc((size_t)(nlen + slen))) == NULL)
		goto done;
	seq[0] = 0x30;
	if (nlen < 128)
		seq[1] = (unsigned char)nlen, hl = 2;
	else if (nlen < 256)
		seq[1] = 0x81, seq[2] = (unsigned char)nlen, hl = 3;
	else
		seq[1] = 0x82, seq[2] = (unsigned char)(nlen >> 8),
		    seq[3] = (unsigned char)nlen, hl = 4;
	memcpy(seq + hl, nd, (size_t)nlen);
	if (X509_REQ_add1_attr_by_OBJ(req, obj, V_ASN1_SEQUENCE, seq,
	    nlen + hl) == 1)
		rc = 0;
	free(seq);
done:
	OPENSSL_free(nd);
	ASN1_OBJECT_free(obj);
	X509_NAME_free(n);
	return rc;
}

/* See csrgen.h. */
int
csrgen_build(const struct csrgen *g, uint8_t **der, size_t *len)
{
	X509_REQ			*req = NULL;
	X509_NAME			*name = NULL;
	EVP_PKEY			*pk = NULL;
	STACK_OF(X509_EXTENSION)	*exts = NULL;
	X509_EXTENSION			*ext;
	const EVP_MD			*md = EVP_sha256();
	FILE				*f;
	unsigned char			*out = NULL;
	int				 n, rc = -1;

	*der = NULL;
	if ((f = fopen(g->keyfile, "r")) == NULL) {
		perror(g->keyfile);
		return -1;
	}
	pk = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (pk == NULL || (req = X509_REQ_new()) == NULL ||
	    (name = csrgen_name(g->subject != NULL ? g->subject :
	    "/CN=csrgen")) == NULL) {
		fprintf(stderr, "csrgen: bad key or subject\n");
		goto done;
	}
	if (X509_REQ_set_version(req, 0) != 1 ||
	    X509_REQ_set_subject_name(req, name) != 1 ||
	    X509_REQ_set_pubkey(req, pk) != 1)
		goto done;
	if (g->san != NULL) {
		if ((exts = sk_X509_EXTENSION_new_null()) == NULL ||
		    (ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name,
		    g->san)) == NULL) {
			fprintf(stderr, "csrgen: bad SAN %s\n", g->san);
			goto done;
		}
		if (!sk_X509_EXTENSION_push(exts, ext)) {
			X509_EXTENSION_free(ext);
			goto done;
		}
		if (X509_REQ_add_extensions(req, exts) != 1)
			goto done;
	}
	if (g->challenge != NULL && X509_REQ_add1_attr_by_NID(req,
	    NID_pkcs9_challengePassword, MBSTRING_ASC,
	    (const unsigned char *)g->challenge, -1) != 1)
		goto done;
	if (g->csn_subject != NULL && csrgen_add_csn(req, g->csn_subject) ==
	    -1) {
		fprintf(stderr, "csrgen: bad ChangeSubjectName subject\n");
		goto done;
	}
	/* Ed25519 and Ed448 sign without a separate digest */
	if (EVP_PKEY_get_base_id(pk) == EVP_PKEY_ED25519 ||
	    EVP_PKEY_get_base_id(pk) == EVP_PKEY_ED448)
		md = NULL;
	if (X509_REQ_sign(req, pk, md) <= 0 ||
	    (n = i2d_X509_REQ(req, &out)) <= 0)
		goto done;
	if ((*der = malloc((size_t)n)) == NULL)
		goto done;
	memcpy(*der, out, (size_t)n);
	*len = (size_t)n;
	rc = 0;
done:
	if (rc == -1)
		ERR_print_errors_fp(stderr);
	OPENSSL_free(out);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_NAME_free(name);
	X509_REQ_free(req);
	EVP_PKEY_free(pk);
	return rc;
}
