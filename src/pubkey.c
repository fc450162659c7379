/*
 * A request's public key without the provider decoders (pubkey.h).
 */
#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/pkcs7.h>
#include <openssl/provider.h>
#include <openssl/x509.h>

#include "pubkey.h"

/*
 * A library context with only the "null" provider, which offers no
 * algorithm: while it is the thread's default, the decode of a request or
 * certificate finds no decoder for its key and leaves it undecoded (OpenSSL
 * tries that decode only opportunistically and drops its errors). Made
 * on first use, once per process; the daemon decodes in one thread.
 */
static OSSL_LIB_CTX	*pk_nullctx;
static OSSL_PROVIDER	*pk_nullprov;
static int		 pk_tried;

/* Make pk_nullctx; on failure requests decode their key as usual. */
static void
pk_open(void)
{
	pk_tried = 1;
	/* a provider loaded explicitly: no fall back to the default one */
	if ((pk_nullctx = OSSL_LIB_CTX_new()) != NULL &&
	    (pk_nullprov = OSSL_PROVIDER_load(pk_nullctx, "null")) == NULL) {
		OSSL_LIB_CTX_free(pk_nullctx);
		pk_nullctx = NULL;
	}
	ERR_clear_error();
}

/*
 * Make pk_nullctx the thread's default; the default before, to give back
 * to pk_restore, or NULL when nothing was changed.
 */
static OSSL_LIB_CTX *
pk_quiet(void)
{
	if (!pk_tried)
		pk_open();
	return pk_nullctx != NULL ? OSSL_LIB_CTX_set0_default(pk_nullctx) :
	    NULL;
}

/* The thread's default of before pk_quiet back. */
static void
pk_restore(OSSL_LIB_CTX *prev)
{
	if (prev != NULL)
		OSSL_LIB_CTX_set0_default(prev);
}

/* See pubkey.h. */
X509_REQ *
pubkey_d2i_req(const unsigned char **der, long len)
{
	OSSL_LIB_CTX	*prev = pk_quiet();
	X509_REQ	*req = d2i_X509_REQ(NULL, der, len);

	pk_restore(prev);
	return req;
}

/* See pubkey.h. */
PKCS7 *
pubkey_d2i_pkcs7(const unsigned char **der, long len)
{
	OSSL_LIB_CTX	*prev = pk_quiet();
	PKCS7		*p7 = d2i_PKCS7(NULL, der, len);

	pk_restore(prev);
	return p7;
}

/* A key of type from params (default library context), or NULL. */
static EVP_PKEY *
pk_fromdata(const char *type, int selection, OSSL_PARAM *params)
{
	EVP_PKEY_CTX	*ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY	*k = NULL;

	if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &k, selection, params) != 1) {
		EVP_PKEY_free(k);
		k = NULL;
	}
	EVP_PKEY_CTX_free(ctx);
	return k;
}

/* The named curves of the fast path: those a route's key policy names. */
static const int	 pk_nids[] = { NID_X9_62_prime256v1, NID_secp384r1,
			    NID_secp521r1 };
#define PK_NCURVES	(sizeof(pk_nids) / sizeof(pk_nids[0]))
static EVP_PKEY		*pk_curve[PK_NCURVES];	/* their parameters */

/* A key with the domain parameters of curve i and no point, or NULL. */
static EVP_PKEY *
pk_curve_key(size_t i)
{
	OSSL_PARAM	 p[2];

	if (pk_curve[i] == NULL) {
		p[0] = OSSL_PARAM_construct_utf8_string(
		    OSSL_PKEY_PARAM_GROUP_NAME, (char *)OBJ_nid2sn(pk_nids[i]),
		    0);
		p[1] = OSSL_PARAM_construct_end();
		pk_curve[i] = pk_fromdata("EC", EVP_PKEY_KEY_PARAMETERS, p);
	}
	return pk_curve[i];
}

/*
 * id-ecPublicKey on a named curve (RFC 5480 2.1.1) of pk_nids. A copy of
 * the curve's parameters (a quarter of the cost of making the curve
 * anew) gets the point, an ECPoint (SEC 1 2.3.3) as the bits carry it;
 * OpenSSL reads it as the full decode does: it must lie on the curve,
 * and the key keeps the form (compressed or not) it came in. Other
 * curves (SM2's decodes to a key type of its own) and explicit
 * parameters: NULL, the full decode.
 */
static EVP_PKEY *
pk_ec(const X509_ALGOR *alg, const unsigned char *pt, int ptlen)
{
	const ASN1_OBJECT	*oid;
	const void		*param;
	int			 ptype, nid;
	size_t			 i;
	EVP_PKEY		*k;

	X509_ALGOR_get0(&oid, &ptype, &param, alg);
	if (ptype != V_ASN1_OBJECT || ptlen < 1)
		return NULL;
	nid = OBJ_obj2nid(param);
	for (i = 0; i < PK_NCURVES && pk_nids[i] != nid; i++)
		;
	if (i == PK_NCURVES ||
	    pk_curve_key(i) == NULL || (k = EVP_PKEY_dup(pk_curve[i])) == NULL)
		return NULL;
	if (EVP_PKEY_set1_encoded_public_key(k, pt, (size_t)ptlen) != 1) {
		EVP_PKEY_free(k);
		return NULL;
	}
	return k;
}

/* A positive DER INTEGER at *p (before end) as a new BIGNUM, or NULL. */
static BIGNUM *
pk_uint(const unsigned char **p, const unsigned char *end)
{
	ASN1_INTEGER	*i = d2i_ASN1_INTEGER(NULL, p, end - *p);
	BIGNUM		*bn = NULL;

	if (i != NULL && ASN1_STRING_type(i) == V_ASN1_INTEGER &&
	    ASN1_STRING_length(i) > 0)
		bn = ASN1_INTEGER_to_BN(i, NULL);
	ASN1_INTEGER_free(i);
	return bn;
}

/*
 * rsaEncryption (RFC 8017 A.1.1, RFC 3279 2.3.1): parameters NULL or
 * absent, the bits an RSAPublicKey SEQUENCE { modulus, publicExponent },
 * both positive, nothing after. Anything else: NULL, the full decode.
 */
static EVP_PKEY *
pk_rsa(const X509_ALGOR *alg, const unsigned char *der, int len)
{
	const ASN1_OBJECT	*oid;
	const void		*param;
	const unsigned char	*p = der, *end;
	long			 slen;
	int			 ptype, tag, cls;
	BIGNUM			*n = NULL, *e = NULL;
	OSSL_PARAM_BLD		*bld = NULL;
	OSSL_PARAM		*params = NULL;
	EVP_PKEY		*k = NULL;

	X509_ALGOR_get0(&oid, &ptype, &param, alg);
	if ((ptype != V_ASN1_NULL && ptype != V_ASN1_UNDEF) ||
	    ASN1_get_object(&p, &slen, &tag, &cls, len) != V_ASN1_CONSTRUCTED ||
	    tag != V_ASN1_SEQUENCE || cls != V_ASN1_UNIVERSAL ||
	    slen != der + len - p)
		return NULL;
	end = p + slen;
	if ((n = pk_uint(&p, end)) != NULL && (e = pk_uint(&p, end)) != NULL &&
	    p == end && (bld = OSSL_PARAM_BLD_new()) != NULL &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) &&
	    (params = OSSL_PARAM_BLD_to_param(bld)) != NULL)
		k = pk_fromdata("RSA", EVP_PKEY_PUBLIC_KEY, params);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	return k;
}

/* The full decode: the SubjectPublicKeyInfo through d2i_PUBKEY. */
static EVP_PKEY *
pk_full(const X509_PUBKEY *spki)
{
	unsigned char		*der = NULL;
	const unsigned char	*p;
	EVP_PKEY		*k = NULL;
	int			 n;

	if ((n = i2d_X509_PUBKEY(spki, &der)) > 0) {
		p = der;
		k = d2i_PUBKEY(NULL, &p, n);
	}
	OPENSSL_free(der);
	return k;
}

/* See pubkey.h. */
EVP_PKEY *
pubkey_get(const X509_PUBKEY *spki)
{
	ASN1_OBJECT		*oid;
	const unsigned char	*bits;
	int			 len;
	X509_ALGOR		*alg;
	EVP_PKEY		*k = NULL;

	if (spki == NULL)
		return NULL;
	if (X509_PUBKEY_get0_param(&oid, &bits, &len, &alg, spki) == 1) {
		switch (OBJ_obj2nid(oid)) {
		case NID_X9_62_id_ecPublicKey:
			k = pk_ec(alg, bits, len);
			break;
		case NID_rsaEncryption:
			k = pk_rsa(alg, bits, len);
			break;
		default:
			break;
		}
	}
	if (k == NULL)
		k = pk_full(spki);
	ERR_clear_error();
	return k;
}

/* See pubkey.h. */
void
pubkey_shutdown(void)
{
	if (pk_nullprov != NULL)
		OSSL_PROVIDER_unload(pk_nullprov);
	OSSL_LIB_CTX_free(pk_nullctx);
	pk_nullprov = NULL;
	pk_nullctx = NULL;
	pk_tried = 0;
	for (size_t i = 0; i < PK_NCURVES; i++) {
		EVP_PKEY_free(pk_curve[i]);
		pk_curve[i] = NULL;
	}
}
