/*
 * libFuzzer target: the CSR authorization checks, authz_check_csr_peer()
 * as authz_check_csr() calls it for a DTLS session: the key policy, the
 * sren identity rule (RFC 7030 4.2.2), the CSR identity policy of sen,
 * skg and skc (Subject, attributes, template; SANs of every type and
 * wildcards) and the PoP challengePassword. The peer is faked: one of a
 * few device certificates made here, and a fixed tls-unique.
 *
 * Input: 3 header bytes, then the CSR DER.
 *   0     the device certificate (fz_devs, mod FZ_NDEV; the last: none)
 *   1     the route policy (fz_policies, mod FZ_NPOL)
 *   2     bits 0-2 the operation (mod EST_OP_COUNT), 3 keycheck,
 *         4-5 the tls-unique: 0 none, 1 fz_tlsu, 2 another, 3 36 bytes,
 *         6 the rest is not DER but names the CSR is made of (fz_build),
 *         so that mutations reach the name comparisons, not the DER parser
 *
 * Besides "no crash, no leak, errors drained", what passes is checked
 * with rules of our own: no device, no identity; a sen/skg/skc name is
 * one the device has (as each policy says); sren keeps Subject and SANs;
 * PoP passes only with the session's tls-unique.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "authz.h"
#include "config.h"
#include "csr.h"
#include "util.h"
#include "estcoapd.h"
#include "est_map.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* The devices: the test PKI's names, with and without SANs. */
static const struct {
	const char	*subj;		/* "/A=b/C=d" */
	const char	*san;		/* openssl syntax; NULL: none */
} fz_devs[] = {
	/* an IDevID with SANs of every type, a wildcard among them */
	{ "/O=Example Manufacturer/serialNumber=SN-0001/CN=device-0001",
	  "DNS:device-0001.devices.example, DNS:*.wild.example, "
	  "IP:192.0.2.7, IP:2001:db8::7, URI:urn:dev:sn:SN-0001, "
	  "email:Dev@Devices.Example, "
	  "otherName:1.3.6.1.5.5.7.8.4;UTF8:hwsn-0001" },
	/* the test PKI's IDevID: no SAN */
	{ "/O=Example Manufacturer/serialNumber=SN-0001/CN=device-0001",
	  NULL },
	/* an LDevID (RFC 7030 renewal) with one DNS name */
	{ "/O=estcoapd test/CN=ldev-0001", "DNS:ldev-0001.devices.example" },
	/* a subject with a multi-valued RDN and odd spacing, an IP only */
	{ "/O=Example  Manufacturer/CN=device-0002+serialNumber=SN-0002",
	  "IP:198.51.100.2" },
};
#define FZ_NDEV	(NELEM(fz_devs) + 1)	/* the last: no certificate */

/* What a route policy asks, for the checks of this file. */
enum fz_id { FZ_SUBJECT, FZ_ATTR, FZ_TPL, FZ_TPL_OWN, FZ_ANY };
enum fz_san { FZ_SUBSET, FZ_NONE, FZ_SAN_ANY };
enum fz_pop { FZ_POP_OFF, FZ_POP_IFP, FZ_POP_REQ };

/* The route policies ("auth" objects). */
static const struct {
	const char	*json;
	enum fz_id	 id;	/* csr_identity (FZ_TPL_OWN: no subject) */
	enum fz_san	 san;	/* csr_identity_san; template: as given */
	enum fz_pop	 pop;
} fz_policies[] = {
	{ "{}", FZ_SUBJECT, FZ_SUBSET, FZ_POP_OFF },
	{ "{\"csr_identity_san\": \"none\"}", FZ_SUBJECT, FZ_NONE,
	  FZ_POP_OFF },
	{ "{\"csr_identity_san\": \"any\"}", FZ_SUBJECT, FZ_SAN_ANY,
	  FZ_POP_OFF },
	{ "{\"csr_identity\": \"attribute\"}", FZ_ATTR, FZ_SUBSET,
	  FZ_POP_OFF },
	{ "{\"csr_identity\": \"attribute\", \"csr_identity_attributes\": "
	  "[\"CN\", \"O\"], \"csr_identity_san\": \"any\"}", FZ_ATTR,
	  FZ_SAN_ANY, FZ_POP_OFF },
	{ "{\"csr_identity\": \"template\", \"csr_identity_template\": "
	  "{\"subject\": \"/O=estcoapd test/CN=${subject.CN}\", \"san\": "
	  "[\"DNS:${subject.CN}.devices.example\", \"IP:192.0.2.7\", "
	  "\"URI:urn:dev:sn:${subject.serialNumber}\", "
	  "\"email:${subject.CN}@devices.example\"]}}", FZ_TPL, FZ_SUBSET,
	  FZ_POP_OFF },
	{ "{\"csr_identity\": \"template\", \"csr_identity_template\": "
	  "{\"san\": []}}", FZ_TPL_OWN, FZ_NONE, FZ_POP_OFF },
	{ "{\"csr_identity\": \"any\"}", FZ_ANY, FZ_SAN_ANY, FZ_POP_OFF },
	{ "{\"pop\": \"required\"}", FZ_SUBJECT, FZ_SUBSET, FZ_POP_REQ },
	{ "{\"pop\": \"if-present\", \"sren_allow_change_subject\": true}",
	  FZ_SUBJECT, FZ_SUBSET, FZ_POP_IFP },
	{ "{\"csr_key_types\": [\"P-521\", \"Ed25519\", \"Ed448\", "
	  "\"RSA\"], \"csr_rsa_min_bits\": 1024, \"csr_rsa_max_bits\": 3072}",
	  FZ_SUBJECT, FZ_SUBSET, FZ_POP_OFF },
};
#define FZ_NPOL	NELEM(fz_policies)

/* The session's tls-unique: base64 "ZXN0Y29hcGQtZnoh" in the seeds. */
static const uint8_t	fz_tlsu[12] = "estcoapd-fz!";
static const uint8_t	fz_other[36] = "another session, another finished..";

static X509		*fz_dev[NELEM(fz_devs)];
static EVP_PKEY		*fz_key;	/* signs the CSRs fz_build makes */
static struct authz	*fz_az[FZ_NPOL];

/* A name from "/A=b/C=d" ("+" joins a multi-valued RDN). */
static X509_NAME *
fz_name(const char *s)
{
	X509_NAME	*n = X509_NAME_new();
	char		*copy = strdup(s), *c, *save = NULL;

	if (n == NULL || copy == NULL)
		abort();
	for (c = strtok_r(copy, "/", &save); c != NULL;
	    c = strtok_r(NULL, "/", &save)) {
		char	*plus, *part = c;
		int	 set = 0;

		do {
			char *eq;

			if ((plus = strchr(part, '+')) != NULL)
				*plus = '\0';
			if ((eq = strchr(part, '=')) == NULL)
				abort();
			*eq = '\0';
			if (!X509_NAME_add_entry_by_txt(n, part, MBSTRING_UTF8,
			    (unsigned char *)eq + 1, -1, -1, set))
				abort();
			set = -1;	/* the next one joins this RDN */
			if (plus != NULL)
				part = plus + 1;
		} while (plus != NULL);
	}
	free(copy);
	return n;
}

/* A device certificate (self-signed: only its names matter). */
static X509 *
fz_device(EVP_PKEY *key, const char *subj, const char *san)
{
	X509		*x = X509_new();
	X509_NAME	*n = fz_name(subj);

	if (x == NULL || !X509_set_version(x, 2) ||
	    !ASN1_INTEGER_set(X509_get_serialNumber(x), 1) ||
	    !X509_set_subject_name(x, n) || !X509_set_issuer_name(x, n) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), 0) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), 3600) ||
	    !X509_set_pubkey(x, key))
		abort();
	if (san != NULL) {
		X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, NULL,
		    NID_subject_alt_name, san);

		if (e == NULL || !X509_add_ext(x, e, -1))
			abort();
		X509_EXTENSION_free(e);
	}
	if (X509_sign(x, key, EVP_sha256()) <= 0)
		abort();
	X509_NAME_free(n);
	return x;
}

static void
fz_init(void)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");

	if (key == NULL)
		abort();
	for (size_t i = 0; i < NELEM(fz_devs); i++)
		fz_dev[i] = fz_device(key, fz_devs[i].subj, fz_devs[i].san);
	fz_key = key;
	for (size_t i = 0; i < FZ_NPOL; i++) {
		struct errlist	 e = { 0 };
		cJSON		*o = cJSON_Parse(fz_policies[i].json);

		if (o == NULL)
			abort();
		fz_az[i] = authz_parse(o, "auth", "fuzz.json", &e);
		if (fz_az[i] == NULL || e.count != 0)
			abort();
		cJSON_Delete(o);
		errlist_free(&e);
	}
	ERR_clear_error();
}

/* A GENERAL_NAME of type with the string v (any bytes) as its value. */
static GENERAL_NAME *
fz_gen(int type, const uint8_t *v, size_t len)
{
	GENERAL_NAME	*g = GENERAL_NAME_new();
	ASN1_STRING	*str = ASN1_STRING_type_new(type == GEN_IPADD ?
			    V_ASN1_OCTET_STRING : V_ASN1_IA5STRING);
	ASN1_OBJECT	*oid = NULL;
	ASN1_TYPE	*val = NULL;

	if (g == NULL || str == NULL || !ASN1_STRING_set(str, v, (int)len))
		goto fail;
	if (type == GEN_OTHERNAME) {
		/* a hardwareModuleName-like otherName with a UTF8String */
		ASN1_STRING	*u = ASN1_UTF8STRING_new();

		if (u == NULL || !ASN1_STRING_set(u, v, (int)len) ||
		    (oid = OBJ_txt2obj("1.3.6.1.5.5.7.8.4", 1)) == NULL ||
		    (val = ASN1_TYPE_new()) == NULL) {
			ASN1_STRING_free(u);
			goto fail;
		}
		ASN1_TYPE_set(val, V_ASN1_UTF8STRING, u);
		if (!GENERAL_NAME_set0_othername(g, oid, val))
			goto fail;
		ASN1_STRING_free(str);
		return g;
	}
	GENERAL_NAME_set0_value(g, type, str);
	return g;
fail:
	ASN1_OBJECT_free(oid);
	ASN1_TYPE_free(val);
	ASN1_STRING_free(str);
	GENERAL_NAME_free(g);
	return NULL;
}

/* Add one SAN extension of names to exts; names is freed. */
static void
fz_add_sans(STACK_OF(X509_EXTENSION) *exts, GENERAL_NAMES *names)
{
	X509_EXTENSION *e;

	if (names == NULL)
		return;
	if ((e = X509V3_EXT_i2d(NID_subject_alt_name, 0, names)) != NULL &&
	    !sk_X509_EXTENSION_push(exts, e))
		X509_EXTENSION_free(e);
	GENERAL_NAMES_free(names);
}

/*
 * Make a signed CSR from lines "<kind><value>": S attr=value (a new RDN),
 * M attr=value (joins the last RDN), D dNSName, E rfc822Name, U URI, I
 * iPAddress (raw bytes, any length), O otherName, X starts a second SAN
 * extension, P challengePassword, C ChangeSubjectName. Values are bytes
 * as they come (NULs, '*', any case). 0 and *der (OPENSSL_free), or -1.
 */
static int
fz_build(const uint8_t *in, size_t len, uint8_t **der, int *dlen)
{
	static const char	 kinds[] = "DEUIO";
	static const int	 types[] = { GEN_DNS, GEN_EMAIL, GEN_URI,
				    GEN_IPADD, GEN_OTHERNAME };
	X509_REQ		*r = X509_REQ_new();
	X509_NAME		*n = X509_NAME_new();
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	GENERAL_NAMES		*names = NULL;
	ASN1_OBJECT		*csn = OBJ_txt2obj("1.3.6.1.5.5.7.7.36", 1);
	const uint8_t		*end = in + len, *nl, *v;
	int			 rc = -1;

	*der = NULL;
	if (r == NULL || n == NULL || exts == NULL || csn == NULL)
		goto out;
	for (; in < end; in = nl < end ? nl + 1 : end) {
		size_t	 vl;
		char	 attr[32];

		if ((nl = memchr(in, '\n', (size_t)(end - in))) == NULL)
			nl = end;
		if (nl == in)
			continue;		/* an empty line */
		v = in + 1;
		vl = (size_t)(nl - v);
		if (in[0] == 'S' || in[0] == 'M') {
			const uint8_t *eq = memchr(v, '=', vl);

			if (eq == NULL || (size_t)(eq - v) >= sizeof(attr))
				continue;
			memcpy(attr, v, (size_t)(eq - v));
			attr[eq - v] = '\0';
			/* an unknown name or bad UTF-8: not added */
			X509_NAME_add_entry_by_txt(n, attr, MBSTRING_UTF8,
			    eq + 1, (int)(vl - (size_t)(eq + 1 - v)), -1,
			    in[0] == 'M' && X509_NAME_entry_count(n) > 0 ?
			    -1 : 0);
		} else if (in[0] == 'X') {
			fz_add_sans(exts, names);
			names = NULL;
		} else if (in[0] == 'P' || in[0] == 'C')
			X509_REQ_add1_attr_by_OBJ(r, in[0] == 'P' ?
			    OBJ_nid2obj(NID_pkcs9_challengePassword) : csn,
			    V_ASN1_UTF8STRING, v, (int)vl);
		else if (in[0] != '\0' && strchr(kinds, in[0]) != NULL) {
			GENERAL_NAME *g = fz_gen(types[strchr(kinds, in[0]) -
			    kinds], v, vl);

			if (g == NULL)
				continue;
			if ((names == NULL && (names =
			    sk_GENERAL_NAME_new_null()) == NULL) ||
			    !sk_GENERAL_NAME_push(names, g))
				GENERAL_NAME_free(g);
		}
	}
	fz_add_sans(exts, names);
	if (!X509_REQ_set_subject_name(r, n) || !X509_REQ_set_pubkey(r,
	    fz_key) || (sk_X509_EXTENSION_num(exts) > 0 &&
	    !X509_REQ_add_extensions(r, exts)) ||
	    X509_REQ_sign(r, fz_key, EVP_sha256()) <= 0 ||
	    (*dlen = i2d_X509_REQ(r, der)) <= 0)
		goto out;
	rc = 0;
out:
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_NAME_free(n);
	X509_REQ_free(r);
	ASN1_OBJECT_free(csn);
	ERR_clear_error();
	return rc;
}

/* The SAN entries of a CSR; NULL for none (or an undecodable one). */
static GENERAL_NAMES *
fz_req_sans(X509_REQ *req)
{
	STACK_OF(X509_EXTENSION)	*exts = X509_REQ_get_extensions(req);
	GENERAL_NAMES			*g;

	g = X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return g;
}

/* Our own reading of "the same name": DNS without case, else as coded. */
static int
fz_same(GENERAL_NAME *a, GENERAL_NAME *b)
{
	if (a->type == GEN_DNS && b->type == GEN_DNS)
		return ASN1_STRING_length(a->d.dNSName) ==
		    ASN1_STRING_length(b->d.dNSName) && strncasecmp(
		    (const char *)ASN1_STRING_get0_data(a->d.dNSName),
		    (const char *)ASN1_STRING_get0_data(b->d.dNSName),
		    (size_t)ASN1_STRING_length(a->d.dNSName)) == 0 &&
		    memchr(ASN1_STRING_get0_data(a->d.dNSName), '\0',
		    (size_t)ASN1_STRING_length(a->d.dNSName)) == NULL;
	/* an email address: at least equal without case (RFC 5280 7.5) */
	if (a->type == GEN_EMAIL && b->type == GEN_EMAIL)
		return ASN1_STRING_length(a->d.rfc822Name) ==
		    ASN1_STRING_length(b->d.rfc822Name) && strncasecmp(
		    (const char *)ASN1_STRING_get0_data(a->d.rfc822Name),
		    (const char *)ASN1_STRING_get0_data(b->d.rfc822Name),
		    (size_t)ASN1_STRING_length(a->d.rfc822Name)) == 0 &&
		    memchr(ASN1_STRING_get0_data(a->d.rfc822Name), '\0',
		    (size_t)ASN1_STRING_length(a->d.rfc822Name)) == NULL;
	return GENERAL_NAME_cmp(a, b) == 0;
}

/* Is every SAN of the CSR one of the device's? */
static int
fz_subset(GENERAL_NAMES *rg, X509 *dev)
{
	GENERAL_NAMES	*dg = X509_get_ext_d2i(dev, NID_subject_alt_name,
			    NULL, NULL);
	int		 ok = 1;

	for (int i = 0; i < sk_GENERAL_NAME_num(rg) && ok; i++) {
		int hit = 0;

		for (int j = 0; j < sk_GENERAL_NAME_num(dg) && !hit; j++)
			hit = fz_same(sk_GENERAL_NAME_value(rg, i),
			    sk_GENERAL_NAME_value(dg, j));
		ok = hit;
	}
	GENERAL_NAMES_free(dg);
	return ok;
}

/* A sen/skg/skc CSR that passed: its names are the device's. */
static void
fz_check_identity(size_t pol, X509_REQ *req, X509 *dev)
{
	GENERAL_NAMES	*rg;
	int		 nsan;

	if (fz_policies[pol].id == FZ_ANY)
		return;
	if (dev == NULL)
		abort();			/* no device, no identity */
	rg = fz_req_sans(req);
	nsan = sk_GENERAL_NAME_num(rg);
	/* subject mode (and the template without a subject) */
	if ((fz_policies[pol].id == FZ_SUBJECT ||
	    fz_policies[pol].id == FZ_TPL_OWN) && X509_NAME_cmp(
	    X509_REQ_get_subject_name(req), X509_get_subject_name(dev)) != 0)
		abort();
	if (fz_policies[pol].san == FZ_NONE && nsan > 0)
		abort();			/* no SAN allowed */
	/* a wildcard only when the device has exactly it; never templated */
	for (int i = 0; i < nsan && fz_policies[pol].san != FZ_SAN_ANY; i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(rg, i);

		if (g->type == GEN_DNS && memchr(ASN1_STRING_get0_data(
		    g->d.dNSName), '*', (size_t)ASN1_STRING_length(
		    g->d.dNSName)) != NULL) {
			GENERAL_NAMES *one = sk_GENERAL_NAME_new_null();

			if (fz_policies[pol].id == FZ_TPL || one == NULL ||
			    !sk_GENERAL_NAME_push(one, g) || !fz_subset(one, dev))
				abort();
			sk_GENERAL_NAME_free(one);
		}
	}
	if (fz_policies[pol].id != FZ_TPL &&
	    fz_policies[pol].san == FZ_SUBSET && !fz_subset(rg, dev))
		abort();			/* a name the device lacks */
	GENERAL_NAMES_free(rg);
}

/* A sren CSR that passed: the Subject and SANs of the device. */
static void
fz_check_sren(X509_REQ *req, X509 *dev)
{
	GENERAL_NAMES	*rg, *dg;

	if (dev == NULL || X509_NAME_cmp(X509_REQ_get_subject_name(req),
	    X509_get_subject_name(dev)) != 0)
		abort();
	rg = fz_req_sans(req);
	dg = X509_get_ext_d2i(dev, NID_subject_alt_name, NULL, NULL);
	if (sk_GENERAL_NAME_num(rg) != sk_GENERAL_NAME_num(dg))
		abort();
	for (int i = 0; i < sk_GENERAL_NAME_num(rg); i++) {
		int hit = 0;

		for (int j = 0; j < sk_GENERAL_NAME_num(dg) && !hit; j++)
			hit = GENERAL_NAME_cmp(sk_GENERAL_NAME_value(rg, i),
			    sk_GENERAL_NAME_value(dg, j)) == 0;
		if (!hit)
			abort();
	}
	GENERAL_NAMES_free(rg);
	GENERAL_NAMES_free(dg);
}

/* A CSR that passed PoP "required": its password is the tls-unique. */
static void
fz_check_pop(X509_REQ *req, const uint8_t *tlsu, size_t tlsulen)
{
	int		 idx = X509_REQ_get_attr_by_NID(req,
			    NID_pkcs9_challengePassword, -1);
	X509_ATTRIBUTE	*at = idx >= 0 ? X509_REQ_get_attr(req, idx) : NULL;
	ASN1_TYPE	*t = at != NULL ? X509_ATTRIBUTE_get0_type(at, 0) :
			    NULL;
	unsigned char	 want[64];
	int		 wlen;

	if (t == NULL || tlsulen == 0 || tlsulen > 48 ||
	    (t->type != V_ASN1_PRINTABLESTRING && t->type != V_ASN1_UTF8STRING &&
	    t->type != V_ASN1_IA5STRING))
		abort();
	wlen = EVP_EncodeBlock(want, tlsu, (int)tlsulen);
	if (ASN1_STRING_length(t->value.asn1_string) != wlen ||
	    memcmp(ASN1_STRING_get0_data(t->value.asn1_string), want,
	    (size_t)wlen) != 0)
		abort();
}

/*
 * The checks as the request path runs them: the CSR decoded once
 * (csr_parse, which says why when it refuses), the object checked; a
 * request that does not decode is 4.00 "bad CSR".
 */
static unsigned
fz_check(const struct authz *az, X509 *dev, const uint8_t *tlsu,
    size_t tlsulen, int keycheck, int op, const uint8_t *der, size_t len,
    const char **idr, char *why, size_t whysz)
{
	const char	*err = NULL;
	struct est_csr	*csr = csr_parse(der, len, &err);
	unsigned	 code;

	if (csr == NULL && err == NULL)
		abort();
	code = authz_check_csr_peer(az, dev, tlsu, tlsulen, keycheck, op, csr,
	    idr, why, whysz);
	csr_free(csr);
	return code;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const reasons[] = { "subject", "attribute", "san",
	    "wildcard", "template", "change-subject", "no-certificate",
	    "bad-csr" };
	const uint8_t		*tlsu = NULL, *der;
	uint8_t			*built = NULL;
	int			 blen = 0;
	const unsigned char	*p;
	const char		*idr = (const char *)1;
	X509_REQ		*req;
	X509			*dev;
	size_t			 pol, tlsulen = 0, len, k;
	unsigned		 code;
	int			 op, keycheck;
	char			 why[200];

	if (fz_az[0] == NULL)
		fz_init();
	if (size < 3)
		return 0;
	dev = data[0] % FZ_NDEV < NELEM(fz_devs) ? fz_dev[data[0] % FZ_NDEV] :
	    NULL;
	pol = data[1] % FZ_NPOL;
	op = (data[2] & 7) % EST_OP_COUNT;
	keycheck = (data[2] >> 3) & 1;
	switch ((data[2] >> 4) & 3) {
	case 1:
		tlsu = fz_tlsu, tlsulen = sizeof(fz_tlsu);
		break;
	case 2:
		tlsu = fz_other, tlsulen = 12;
		break;
	case 3:
		tlsu = fz_other, tlsulen = sizeof(fz_other);
		break;
	default:
		break;
	}
	der = data + 3;
	len = size - 3;
	if (data[2] & 0x40) {
		if (fz_build(der, len, &built, &blen) == -1)
			return 0;
		der = built;
		len = (size_t)blen;
	}

	why[0] = '\0';
	code = fz_check(fz_az[pol], dev, tlsu, tlsulen, keycheck, op, der,
	    len, &idr, why, sizeof(why));
	if (ERR_peek_error() != 0)
		abort();			/* errors are drained */
	if (code != 0 && code != EST_CODE(4, 0) && code != EST_CODE(4, 1) &&
	    code != EST_CODE(4, 3))
		abort();
	if (code != 0 && (why[0] == '\0' || memchr(why, '\0',
	    sizeof(why)) == NULL))
		abort();			/* a refusal says why */
	if (idr != NULL) {
		/* only the identity policy gives a reason, always a known one */
		for (k = 0; k < NELEM(reasons) && strcmp(idr, reasons[k]) != 0;
		    k++)
			;
		if (k == NELEM(reasons) || code != EST_CODE(4, 3) ||
		    (op != EST_OP_SEN && op != EST_OP_SKG && op != EST_OP_SKC))
			abort();
	}
	if (code != 0) {
		OPENSSL_free(built);
		return 0;
	}
	/* it passed: was it allowed to? */
	p = der;
	if ((req = d2i_X509_REQ(NULL, &p, (long)len)) == NULL)
		abort();
	if (op == EST_OP_SEN || op == EST_OP_SKG || op == EST_OP_SKC)
		fz_check_identity(pol, req, dev);
	if (op == EST_OP_SREN)
		fz_check_sren(req, dev);
	/* "required", or "if-present" with a challengePassword */
	if (fz_policies[pol].pop == FZ_POP_REQ ||
	    (fz_policies[pol].pop == FZ_POP_IFP && X509_REQ_get_attr_by_NID(
	    req, NID_pkcs9_challengePassword, -1) >= 0))
		fz_check_pop(req, tlsu, tlsulen);
	X509_REQ_free(req);
	OPENSSL_free(built);
	ERR_clear_error();
	return 0;
}
