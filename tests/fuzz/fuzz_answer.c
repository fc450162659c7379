/*
 * libFuzzer target: the upstream answer path, answer_upstream(), as
 * the front calls it when the EST server has answered: status mapping,
 * Content-Type check, base64, DER checks, the single-certificate form
 * and, for skg/skc, multipart/mixed with the key made PKCS#8.
 *
 * Input: 5 header bytes, then the Content-Type up to the first LF (an
 * empty line: no Content-Type), then the body.
 *   0     operation (mod EST_OP_COUNT)
 *   1     Accept: 0 none (the default format), else one of the op's
 *   2     bits 0-1 how the exchange ended (1 timeout, 2 failed, else an
 *         HTTP answer), 2 att_204_empty, 3 the CSR key below is given,
 *         4 a Retry-After, 5 no *der wanted, 6 a small max_body
 *   3-4   HTTP status (big endian, mod 1000); byte 3 also the Retry-After
 *
 * Whatever comes out must be a well-formed answer: a known code class, a
 * printable diagnostic, and a 2.xx payload in the Content-Format it says
 * (checked again with OpenSSL and our own CBOR decoder).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "estcoapd.h"
#include "est_map.h"
#include "answer.h"
#include "log.h"
#include "multipart.h"
#include "transcode.h"
#include "upstream.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/*
 * The public key of the CSR (a P-256 key made for the seeds only, which
 * hold certificates for it): with CF 287 the issued certificate is the
 * one with this key.
 */
static const char fz_csr_pub[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEJvVb9Xj0n5PkNna9BLmZtpWK7FVK\n"
    "MK5K0fNfaXcoDkWKoNubVkcz/YntN3h67R/5FFwTYXCQGMLEZP5TKGEwTA==\n"
    "-----END PUBLIC KEY-----\n";

static EVP_PKEY	*fz_key;

static void
fz_init(void)
{
	BIO *b = BIO_new_mem_buf(fz_csr_pub, -1);

	log_init(1, LOG_LVL_ERR);	/* refusals are expected, quietly */
	if (b == NULL || (fz_key = PEM_read_bio_PUBKEY(b, NULL, NULL,
	    NULL)) == NULL)
		abort();
	BIO_free(b);
}

/* One complete DER certificate. */
static int
fz_is_cert(const uint8_t *der, size_t len)
{
	const unsigned char	*p = der;
	X509			*x = d2i_X509(NULL, &p, (long)len);
	int			 ok = x != NULL && p == der + len;

	X509_free(x);
	return ok;
}

/* One complete PKCS#8 PrivateKeyInfo that OpenSSL loads. */
static int
fz_is_pkcs8(const uint8_t *der, size_t len)
{
	const unsigned char	*p = der;
	PKCS8_PRIV_KEY_INFO	*p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p,
				    (long)len);
	EVP_PKEY		*pk = NULL;
	int			 ok = p8 != NULL && p == der + len &&
				    (pk = EVP_PKCS82PKEY(p8)) != NULL;

	EVP_PKEY_free(pk);
	PKCS8_PRIV_KEY_INFO_free(p8);
	return ok;
}

/* skg/skc: [key CF, key, cert CF, cert] with each part as it says. */
static void
fz_check_keygen(const struct est_op *op, const struct est_answer *a)
{
	struct mp_item	 it[2];
	size_t		 n = 0;
	const char	*why;
	int		 ncerts;

	if (a->cf != CF_MULTIPART_CORE || mp_cbor_decode(a->payload, a->len,
	    it, 2, &n, &why) == -1 || n != 2 || it[0].len == 0)
		abort();
	if (it[0].cf == CF_PKCS8) {
		if (!fz_is_pkcs8(it[0].data, it[0].len))
			abort();
	} else if (it[0].cf != CF_PKCS7_SGK)
		abort();
	if (op->id == EST_OP_SKC) {
		if (it[1].cf != CF_PKIX_CERT ||
		    !fz_is_cert(it[1].data, it[1].len))
			abort();
	} else if (it[1].cf != CF_PKCS7_CERTS || tc_pkcs7_certs_check(
	    it[1].data, it[1].len, &ncerts, &why) == -1)
		abort();
}

/* Is the answer one a device may be sent? abort() if not. */
static void
fz_check(const struct est_op *op, unsigned resp_cf, int keyed,
    const struct est_answer *a, const uint8_t *der, size_t derlen)
{
	unsigned	 cls = a->code >> 5;
	const char	*why;
	int		 ncerts;

	if (a->reason == NULL || (cls != 2 && cls != 4 && cls != 5) ||
	    memchr(a->diag, '\0', sizeof(a->diag)) == NULL)
		abort();
	for (const char *c = a->diag; *c != '\0'; c++)
		if (*c < 0x20 || *c > 0x7e)
			abort();	/* diagnostics are printable text */
	if (a->max_age < -1)
		abort();
	/*
	 * The DER handed back (cache, audit) was checked: the CA's PKCS#7
	 * or CsrAttrs. Besides a 2.xx only a 287 answer that could not be
	 * given (several or no matching certificates) hands it back.
	 */
	if (der != NULL && ((op->id == EST_OP_ATT ? tc_csrattrs_check(der,
	    derlen, &why) : tc_pkcs7_certs_check(der, derlen, &ncerts,
	    &why)) == -1 || (cls != 2 && resp_cf != CF_PKIX_CERT)))
		abort();
	if (cls != 2) {
		if (a->payload != NULL || a->len != 0)
			abort();
		return;
	}
	if (a->payload == NULL || a->len == 0 || a->diag[0] != '\0')
		abort();
	if (op->id == EST_OP_SKG || op->id == EST_OP_SKC) {
		fz_check_keygen(op, a);
		return;
	}
	if (a->cf != (int)resp_cf)
		abort();
	switch (resp_cf) {
	case CF_PKIX_CERT:
		if (!fz_is_cert(a->payload, a->len))
			abort();
		if (keyed && op->id != EST_OP_CRTS) {
			const unsigned char	*p = a->payload;
			X509			*x = d2i_X509(NULL, &p,
						    (long)a->len);

			if (EVP_PKEY_eq(X509_get0_pubkey(x), fz_key) != 1)
				abort();	/* not the CSR's */
			X509_free(x);
		}
		break;
	case CF_PKCS7_CERTS:
		if (tc_pkcs7_certs_check(a->payload, a->len, &ncerts,
		    &why) == -1)
			abort();
		break;
	case CF_CSRATTRS:
		if (tc_csrattrs_check(a->payload, a->len, &why) == -1)
			abort();
		break;
	default:
		abort();
	}
	/* the DER handed back for the cache is what was checked */
	if (der != NULL && resp_cf != CF_PKIX_CERT && (derlen != a->len ||
	    memcmp(der, a->payload, derlen) != 0))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct est_op	*op;
	struct upstream_result	 r;
	struct req_policy	 pol;
	struct est_answer	 a;
	const uint8_t		*nl;
	char			*ctype = NULL;
	uint8_t			*der = NULL, *body;
	size_t			 derlen = 0, nacc = 0, clen;
	unsigned		 resp_cf, flags;

	if (fz_key == NULL)
		fz_init();
	if (size < 5 || (nl = memchr(data + 5, '\n', size - 5)) == NULL)
		return 0;
	op = estmap_op_by_id((enum est_op_id)(data[0] % EST_OP_COUNT));
	while (op->accepts[nacc] != -1)
		nacc++;
	resp_cf = data[1] == 0 ? (unsigned)op->def_cf :
	    (unsigned)op->accepts[(data[1] - 1) % nacc];
	flags = data[2];

	memset(&r, 0, sizeof(r));
	r.end = (flags & 3) == 1 ? UPSTREAM_TIMEOUT : (flags & 3) == 2 ?
	    UPSTREAM_FAILED : UPSTREAM_OK;
	r.status = (long)(((unsigned)data[3] << 8 | data[4]) % 1000);
	r.retry_after = flags & 0x10 ? (long)data[3] * 97 : -1;
	r.server = "https://ca.example";
	clen = (size_t)(nl - (data + 5));
	if (clen > 0) {
		/* a C string, as curl hands it over */
		if ((ctype = malloc(clen + 1)) == NULL)
			return 0;
		memcpy(ctype, data + 5, clen);
		ctype[clen] = '\0';
		r.ctype = ctype;
	}
	/* the body in a buffer of its own size, so overreads are seen */
	r.body_len = size - (size_t)(nl + 1 - data);
	if ((body = malloc(r.body_len > 0 ? r.body_len : 1)) == NULL) {
		free(ctype);
		return 0;
	}
	memcpy(body, nl + 1, r.body_len);
	r.body = body;

	pol.retry_max_age = 60;
	pol.att_204_empty = (flags & 4) != 0;
	pol.max_body = flags & 0x40 ? 512 : 65536;

	memset(&a, 0, sizeof(a));
	answer_upstream(&a, op, resp_cf, flags & 8 ? fz_key : NULL, &r,
	    &pol, flags & 0x20 ? NULL : &der, &derlen);
	fz_check(op, resp_cf, (flags & 8) != 0, &a, der, derlen);
	if (ERR_peek_error() != 0)
		abort();	/* every OpenSSL error is drained */
	free(der);
	answer_clear(&a);
	free(body);
	free(ctype);
	return 0;
}
