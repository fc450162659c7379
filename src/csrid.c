/*
 * The CSR identity policy (csrid.h). The names a CSR asks for are compared
 * with the device certificate's by the rules of RFC 5280: distinguished
 * names RDN by RDN in order, strings after the LDAP StringPrep case and
 * space folding of RFC 5280 7.1 (OpenSSL's canonical X509_NAME_cmp); DNS
 * names case-insensitively (7.2), the host part of an email address
 * case-insensitively and its local part exactly (7.5), IP addresses,
 * URIs and otherNames octet for octet. A wildcard is an ordinary name
 * here: a CSR may ask for "*.x" only when the device certificate has
 * exactly "*.x".
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "csr.h"
#include "csrid.h"
#include "util.h"

#define CSRID_MAX_ATTRS	8	/* entries of csr_identity_attributes */
#define CSRID_MAX_TPL	16	/* entries of csr_identity_template.san */
#define CSRID_MAX_LEN	256	/* bytes of one template or expanded name */

/* id-cmc-changeSubjectName, RFC 6402 2.8 */
#define CSRID_OID_CSN	"1.3.6.1.5.5.7.7.36"

enum csrid_mode { CSRID_SUBJECT, CSRID_ATTRIBUTE, CSRID_TEMPLATE, CSRID_ANY };
enum csrid_san { CSRID_SAN_SUBSET, CSRID_SAN_NONE, CSRID_SAN_ANY };

static const char *const csrid_modes[] = { "subject", "attribute",
    "template", "any" };
static const char *const csrid_sans[] = { "subset", "none", "any" };

struct csrid {
	enum csrid_mode	 mode;
	enum csrid_san	 san;
	int		 attrs[CSRID_MAX_ATTRS];	/* NIDs */
	size_t		 nattrs;
	char		*tpl_subject;	/* NULL: the device's own Subject */
	char		*tpl_san[CSRID_MAX_TPL];
	size_t		 ntpl_san;
};

/* A string member that must be one of names; def when absent. */
static int
csrid_enum(const cJSON *obj, const char *key, const char *const *names,
    int n, int def, const char *path, const char *file, struct errlist *errs)
{
	const cJSON	*v = cJSON_GetObjectItemCaseSensitive(obj, key);
	char		 list[96] = "";
	size_t		 o = 0;

	if (v == NULL)
		return def;
	for (int i = 0; i < n; i++) {
		if (cJSON_IsString(v) && strcmp(v->valuestring, names[i]) == 0)
			return i;
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s\"%s\"",
		    i == 0 ? "" : i == n - 1 ? " or " : ", ", names[i]);
		if (o >= sizeof(list))
			o = sizeof(list) - 1;
	}
	errlist_add(errs, "%s: %s.%s: must be %s", file, path, key, list);
	return def;
}

/*
 * Is every "${...}" of s a "${subject.NAME}" with a known attribute NAME?
 * 0, or -1 with the problem in err.
 */
static int
csrid_vars_ok(const char *s, char *err, size_t errsz)
{
	const char	*p = s, *end;
	char		 name[64];

	while ((p = strstr(p, "${")) != NULL) {
		if ((end = strchr(p, '}')) == NULL) {
			snprintf(err, errsz, "unterminated \"${\"");
			return -1;
		}
		if (strncmp(p + 2, "subject.", 8) != 0 ||
		    (size_t)(end - p - 10) >= sizeof(name) || end - p <= 10) {
			snprintf(err, errsz, "a variable must be "
			    "${subject.ATTRIBUTE}");
			return -1;
		}
		memcpy(name, p + 10, (size_t)(end - p - 10));
		name[end - p - 10] = '\0';
		if (OBJ_txt2nid(name) == NID_undef) {
			snprintf(err, errsz, "unknown attribute \"%s\"", name);
			return -1;
		}
		p = end + 1;
	}
	return 0;
}

/* Check a subject template: "/ATTR=value/ATTR=value", values non-empty. */
static int
csrid_subject_tpl_ok(const char *t, char *err, size_t errsz)
{
	char	*copy, *comp, *save = NULL, *eq;
	int	 rc = 0;

	if (t[0] != '/' || strlen(t) > CSRID_MAX_LEN) {
		snprintf(err, errsz, "must be \"/ATTR=value/...\" of at most "
		    "%d characters", CSRID_MAX_LEN);
		return -1;
	}
	if ((copy = strdup(t)) == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	for (comp = strtok_r(copy, "/", &save); comp != NULL && rc == 0;
	    comp = strtok_r(NULL, "/", &save)) {
		if ((eq = strchr(comp, '=')) == NULL || eq == comp ||
		    eq[1] == '\0') {
			snprintf(err, errsz, "\"%s\" is not ATTR=value", comp);
			rc = -1;
			break;
		}
		*eq = '\0';
		if (OBJ_txt2nid(comp) == NID_undef) {
			snprintf(err, errsz, "unknown attribute \"%s\"", comp);
			rc = -1;
		} else
			rc = csrid_vars_ok(eq + 1, err, errsz);
	}
	free(copy);
	return rc;
}

/* Check one SAN template: "DNS:", "IP:", "URI:" or "email:" + value. */
static int
csrid_san_tpl_ok(const char *t, char *err, size_t errsz)
{
	const char		*v = strchr(t, ':');
	struct sockaddr_storage	 ss;

	if (v == NULL || v[1] == '\0' || strlen(t) > CSRID_MAX_LEN ||
	    (strncmp(t, "DNS:", 4) != 0 && strncmp(t, "IP:", 3) != 0 &&
	    strncmp(t, "URI:", 4) != 0 && strncmp(t, "email:", 6) != 0)) {
		snprintf(err, errsz, "\"%s\" must be DNS:, IP:, URI: or "
		    "email: and a value", t);
		return -1;
	}
	if (strncmp(t, "IP:", 3) == 0 && strstr(t, "${") == NULL &&
	    addr_parse(t + 3, 0, &ss, NULL) == -1) {
		snprintf(err, errsz, "\"%s\" is not an IP address", t);
		return -1;
	}
	return csrid_vars_ok(t, err, errsz);
}

/* csr_identity_attributes: 1..8 known attribute names. */
static void
csrid_parse_attrs(struct csrid *id, const cJSON *v, const char *path,
    const char *file, struct errlist *errs)
{
	const cJSON *it;

	if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) < 1 ||
	    cJSON_GetArraySize(v) > CSRID_MAX_ATTRS) {
		errlist_add(errs, "%s: %s.csr_identity_attributes: must be an "
		    "array of 1..%d attribute names", file, path,
		    CSRID_MAX_ATTRS);
		return;
	}
	id->nattrs = 0;
	cJSON_ArrayForEach(it, v) {
		int nid = cJSON_IsString(it) ? OBJ_txt2nid(it->valuestring) :
		    NID_undef;

		if (nid == NID_undef)
			errlist_add(errs, "%s: %s.csr_identity_attributes: "
			    "\"%s\" is not an attribute name (CN, "
			    "serialNumber, O, OU, ...)", file, path,
			    cJSON_IsString(it) ? it->valuestring : "?");
		else
			id->attrs[id->nattrs++] = nid;
	}
}

/* csr_identity_template: {"subject": "/...", "san": ["DNS:...", ...]} */
static void
csrid_parse_tpl(struct csrid *id, const cJSON *v, const char *path,
    const char *file, struct errlist *errs)
{
	const cJSON	*m, *it;
	char		 err[160];

	if (!cJSON_IsObject(v)) {
		errlist_add(errs, "%s: %s.csr_identity_template: must be an "
		    "object with \"subject\" and \"san\"", file, path);
		return;
	}
	cJSON_ArrayForEach(m, v)
		if (strcmp(m->string, "subject") != 0 &&
		    strcmp(m->string, "san") != 0)
			errlist_add(errs, "%s: %s.csr_identity_template.%s: "
			    "unknown key", file, path, m->string);
	if ((m = cJSON_GetObjectItemCaseSensitive(v, "subject")) != NULL) {
		if (!cJSON_IsString(m) || csrid_subject_tpl_ok(m->valuestring,
		    err, sizeof(err)) == -1)
			errlist_add(errs, "%s: %s.csr_identity_template.subject:"
			    " %s", file, path, cJSON_IsString(m) ? err :
			    "must be a string");
		else if ((id->tpl_subject = strdup(m->valuestring)) == NULL)
			errlist_add(errs, "%s: out of memory", file);
	}
	if ((m = cJSON_GetObjectItemCaseSensitive(v, "san")) == NULL)
		return;
	if (!cJSON_IsArray(m) || cJSON_GetArraySize(m) > CSRID_MAX_TPL) {
		errlist_add(errs, "%s: %s.csr_identity_template.san: must be an "
		    "array of 0..%d strings", file, path, CSRID_MAX_TPL);
		return;
	}
	cJSON_ArrayForEach(it, m) {
		if (!cJSON_IsString(it) || csrid_san_tpl_ok(it->valuestring,
		    err, sizeof(err)) == -1)
			errlist_add(errs, "%s: %s.csr_identity_template.san: %s",
			    file, path, cJSON_IsString(it) ? err :
			    "must be strings");
		else if ((id->tpl_san[id->ntpl_san] = strdup(it->valuestring))
		    == NULL)
			errlist_add(errs, "%s: out of memory", file);
		else
			id->ntpl_san++;
	}
}

/* See csrid.h. */
struct csrid *
csrid_parse(const cJSON *obj, const char *path, const char *file,
    struct errlist *errs)
{
	struct csrid	*id;
	const cJSON	*v;

	if ((id = calloc(1, sizeof(*id))) == NULL)
		return NULL;
	id->attrs[0] = NID_serialNumber;
	id->nattrs = 1;
	if (obj == NULL || !cJSON_IsObject(obj))
		return id;
	id->mode = (enum csrid_mode)csrid_enum(obj, "csr_identity",
	    csrid_modes, 4, CSRID_SUBJECT, path, file, errs);
	id->san = (enum csrid_san)csrid_enum(obj, "csr_identity_san",
	    csrid_sans, 3, CSRID_SAN_SUBSET, path, file, errs);
	if ((v = cJSON_GetObjectItemCaseSensitive(obj,
	    "csr_identity_attributes")) != NULL) {
		if (id->mode != CSRID_ATTRIBUTE)
			errlist_add(errs, "%s: %s.csr_identity_attributes: only "
			    "with csr_identity \"attribute\"", file, path);
		csrid_parse_attrs(id, v, path, file, errs);
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(obj,
	    "csr_identity_template")) != NULL) {
		if (id->mode != CSRID_TEMPLATE)
			errlist_add(errs, "%s: %s.csr_identity_template: only "
			    "with csr_identity \"template\"", file, path);
		csrid_parse_tpl(id, v, path, file, errs);
	} else if (id->mode == CSRID_TEMPLATE)
		errlist_add(errs, "%s: %s.csr_identity: \"template\" needs "
		    "csr_identity_template", file, path);
	if (cJSON_GetObjectItemCaseSensitive(obj, "csr_identity_san") !=
	    NULL && (id->mode == CSRID_TEMPLATE || id->mode == CSRID_ANY))
		errlist_add(errs, "%s: %s.csr_identity_san: only with "
		    "csr_identity \"subject\" or \"attribute\"", file, path);
	return id;
}

/* See csrid.h. */
void
csrid_free(struct csrid *id)
{
	if (id == NULL)
		return;
	free(id->tpl_subject);
	for (size_t i = 0; i < id->ntpl_san; i++)
		free(id->tpl_san[i]);
	free(id);
}

/* Refuse: set the reason and the sentence; always -1. */
static int
csrid_refuse(const char **reason, const char *r, char *why, size_t whysz,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int
csrid_refuse(const char **reason, const char *r, char *why, size_t whysz,
    const char *fmt, ...)
{
	va_list	ap;
	int	n;

	*reason = r;
	n = snprintf(why, whysz, "csr identity %s: ", r);
	if (n < 0 || (size_t)n >= whysz)
		return -1;
	va_start(ap, fmt);
	vsnprintf(why + n, whysz - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

/* Bytes of a device-supplied string, printable ASCII only, for a message. */
static void
csrid_printable(char *out, size_t outsz, const unsigned char *s, int len)
{
	size_t	o = 0;
	int	i;

	for (i = 0; i < len && o + 4 < outsz; i++)
		out[o++] = s[i] >= 0x20 && s[i] < 0x7f ? (char)s[i] : '?';
	if (i < len) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

/* "DNS:name", "IP:addr", ... of one name, for a message. */
static void
csrid_gen_str(const GENERAL_NAME *g, char *out, size_t outsz)
{
	char			 v[80], oid[64];
	const ASN1_STRING	*s = NULL;
	const char		*pfx = NULL;

	switch (g->type) {
	case GEN_DNS:
		pfx = "DNS", s = g->d.dNSName;
		break;
	case GEN_EMAIL:
		pfx = "email", s = g->d.rfc822Name;
		break;
	case GEN_URI:
		pfx = "URI", s = g->d.uniformResourceIdentifier;
		break;
	case GEN_IPADD:
		if ((ASN1_STRING_length(g->d.iPAddress) != 4 &&
		    ASN1_STRING_length(g->d.iPAddress) != 16) ||
		    inet_ntop(ASN1_STRING_length(g->d.iPAddress) == 16 ?
		    AF_INET6 : AF_INET, ASN1_STRING_get0_data(g->d.iPAddress),
		    v, sizeof(v)) == NULL)
			snprintf(v, sizeof(v), "?");
		snprintf(out, outsz, "IP:%s", v);
		return;
	case GEN_OTHERNAME:
		OBJ_obj2txt(oid, sizeof(oid), g->d.otherName->type_id, 1);
		snprintf(out, outsz, "otherName:%s", oid);
		return;
	case GEN_DIRNAME:
		snprintf(out, outsz, "dirName");
		return;
	default:
		snprintf(out, outsz, "name of type %d", g->type);
		return;
	}
	csrid_printable(v, sizeof(v), ASN1_STRING_get0_data(s),
	    ASN1_STRING_length(s));
	snprintf(out, outsz, "%s:%s", pfx, v);
}

/* Equal byte strings, ASCII letters compared without case. */
static int
csrid_caseeq(const unsigned char *a, size_t alen, const unsigned char *b,
    size_t blen)
{
	if (alen != blen)
		return 0;
	for (size_t i = 0; i < alen; i++) {
		unsigned char x = a[i], y = b[i];

		if (x >= 'A' && x <= 'Z')
			x = (unsigned char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (unsigned char)(y - 'A' + 'a');
		if (x != y)
			return 0;
	}
	return 1;
}

/* RFC 5280 7.5: local part exact, host part without case. */
static int
csrid_email_eq(const unsigned char *a, size_t alen, const unsigned char *b,
    size_t blen)
{
	const unsigned char	*ha = memrchr(a, '@', alen);
	const unsigned char	*hb = memrchr(b, '@', blen);

	if (ha == NULL || hb == NULL)
		return alen == blen && memcmp(a, b, alen) == 0;
	return ha - a == hb - b && memcmp(a, b, (size_t)(ha - a)) == 0 &&
	    csrid_caseeq(ha, alen - (size_t)(ha - a), hb,
	    blen - (size_t)(hb - b));
}

/* Two names equal under the RFC 5280 rules of the file comment. */
static int
csrid_gen_eq(GENERAL_NAME *a, GENERAL_NAME *b)
{
	const ASN1_STRING *x, *y;

	if (a->type != b->type)
		return 0;
	switch (a->type) {
	case GEN_DNS:
		x = a->d.dNSName, y = b->d.dNSName;
		return csrid_caseeq(ASN1_STRING_get0_data(x),
		    (size_t)ASN1_STRING_length(x), ASN1_STRING_get0_data(y),
		    (size_t)ASN1_STRING_length(y));
	case GEN_EMAIL:
		x = a->d.rfc822Name, y = b->d.rfc822Name;
		return csrid_email_eq(ASN1_STRING_get0_data(x),
		    (size_t)ASN1_STRING_length(x), ASN1_STRING_get0_data(y),
		    (size_t)ASN1_STRING_length(y));
	default:
		/* IP, URI, otherName, dirName, RID: as encoded */
		return GENERAL_NAME_cmp(a, b) == 0;
	}
}

/* A DNS name with a wildcard label (or any '*' at all). */
static int
csrid_is_wildcard(const GENERAL_NAME *g)
{
	return g->type == GEN_DNS && memchr(ASN1_STRING_get0_data(
	    g->d.dNSName), '*', (size_t)ASN1_STRING_length(g->d.dNSName)) !=
	    NULL;
}

/* Every CSR name is one of the device certificate's (csr_identity_san). */
static int
csrid_san_subset(const struct csrid *id, GENERAL_NAMES *rg, X509 *dev,
    const char **reason, char *why, size_t whysz)
{
	GENERAL_NAMES	*dg;
	char		 s[96];
	int		 rc = 0;

	if (id->san == CSRID_SAN_ANY || sk_GENERAL_NAME_num(rg) <= 0)
		return 0;
	if (id->san == CSRID_SAN_NONE) {
		csrid_gen_str(sk_GENERAL_NAME_value(rg, 0), s, sizeof(s));
		return csrid_refuse(reason, "san", why, whysz, "%s: no "
		    "subjectAltName allowed here (csr_identity_san none)", s);
	}
	dg = X509_get_ext_d2i(dev, NID_subject_alt_name, NULL, NULL);
	ERR_clear_error();
	for (int i = 0; i < sk_GENERAL_NAME_num(rg) && rc == 0; i++) {
		GENERAL_NAME	*g = sk_GENERAL_NAME_value(rg, i);
		int		 hit = 0;

		for (int j = 0; j < sk_GENERAL_NAME_num(dg) && !hit; j++)
			hit = csrid_gen_eq(g, sk_GENERAL_NAME_value(dg, j));
		if (hit)
			continue;
		csrid_gen_str(g, s, sizeof(s));
		rc = csrid_refuse(reason, csrid_is_wildcard(g) ? "wildcard" :
		    "san", why, whysz, "%s is not a subjectAltName of the "
		    "device certificate", s);
	}
	GENERAL_NAMES_free(dg);
	return rc;
}

/* The entries of one attribute type of a name, as a name of their own. */
static X509_NAME *
csrid_only(const X509_NAME *n, int nid)
{
	X509_NAME	*out = X509_NAME_new();
	int		 i = -1;

	while (out != NULL && (i = X509_NAME_get_index_by_NID(n, nid, i)) >=
	    0)
		if (!X509_NAME_add_entry(out, X509_NAME_get_entry(n, i), -1,
		    0)) {
			X509_NAME_free(out);
			out = NULL;
		}
	return out;
}

/* csr_identity "attribute": the named attributes equal the device's. */
static int
csrid_attrs(const struct csrid *id, X509_REQ *req, X509 *dev,
    const char **reason, char *why, size_t whysz)
{
	for (size_t k = 0; k < id->nattrs; k++) {
		X509_NAME	*a = csrid_only(X509_REQ_get_subject_name(req),
				    id->attrs[k]);
		X509_NAME	*b = csrid_only(X509_get_subject_name(dev),
				    id->attrs[k]);
		int		 eq = a != NULL && b != NULL &&
				    X509_NAME_entry_count(b) > 0 &&
				    X509_NAME_cmp(a, b) == 0;
		int		 none = b != NULL &&
				    X509_NAME_entry_count(b) == 0;

		X509_NAME_free(a);
		X509_NAME_free(b);
		if (none)
			return csrid_refuse(reason, "attribute", why, whysz,
			    "the device certificate has no %s",
			    OBJ_nid2sn(id->attrs[k]));
		if (!eq)
			return csrid_refuse(reason, "attribute", why, whysz,
			    "CSR %s differs from the device certificate's",
			    OBJ_nid2sn(id->attrs[k]));
	}
	return 0;
}

/*
 * The value of the device's only attribute NAME as UTF-8 into out; -1
 * when it has none, several, or one with a control character or '*'.
 */
static int
csrid_var(X509 *dev, const char *name, size_t nlen, char *out, size_t outsz)
{
	const X509_NAME	*n = X509_get_subject_name(dev);
	char		 nm[64];
	unsigned char	*u = NULL;
	int		 nid, i, len, rc = -1;

	if (nlen >= sizeof(nm))
		return -1;
	memcpy(nm, name, nlen);
	nm[nlen] = '\0';
	if ((nid = OBJ_txt2nid(nm)) == NID_undef ||
	    (i = X509_NAME_get_index_by_NID(n, nid, -1)) < 0 ||
	    X509_NAME_get_index_by_NID(n, nid, i) >= 0)
		return -1;
	len = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(
	    X509_NAME_get_entry(n, i)));
	if (len > 0 && (size_t)len < outsz) {
		rc = 0;
		for (int k = 0; k < len; k++)
			if (u[k] < 0x20 || u[k] == 0x7f || u[k] == '*')
				rc = -1;
		memcpy(out, u, (size_t)len);
		out[len] = '\0';
	}
	OPENSSL_free(u);
	ERR_clear_error();
	return rc;
}

/* Expand the ${subject.NAME} of tpl from dev into out. 0 or -1. */
static int
csrid_expand(const char *tpl, X509 *dev, char *out, size_t outsz)
{
	size_t	o = 0;
	char	v[CSRID_MAX_LEN];

	while (*tpl != '\0') {
		const char *end;

		if (strncmp(tpl, "${subject.", 10) == 0 &&
		    (end = strchr(tpl, '}')) != NULL) {
			if (csrid_var(dev, tpl + 10, (size_t)(end - tpl - 10), v,
			    sizeof(v)) == -1 || o + strlen(v) >= outsz)
				return -1;
			memcpy(out + o, v, strlen(v));
			o += strlen(v);
			tpl = end + 1;
			continue;
		}
		if (o + 1 >= outsz)
			return -1;
		out[o++] = *tpl++;
	}
	out[o] = '\0';
	return 0;
}

/* The Subject the template gives for dev; NULL when it cannot. */
static X509_NAME *
csrid_tpl_name(const char *tpl, X509 *dev)
{
	X509_NAME	*n = X509_NAME_new();
	char		*copy = strdup(tpl), *comp, *save = NULL, *eq;
	char		 v[CSRID_MAX_LEN];

	for (comp = copy != NULL ? strtok_r(copy, "/", &save) : NULL;
	    comp != NULL && n != NULL; comp = strtok_r(NULL, "/", &save)) {
		if ((eq = strchr(comp, '=')) == NULL)
			break;
		*eq = '\0';
		if (csrid_expand(eq + 1, dev, v, sizeof(v)) == -1 ||
		    !X509_NAME_add_entry_by_NID(n, OBJ_txt2nid(comp),
		    MBSTRING_UTF8, (const unsigned char *)v, -1, -1, 0)) {
			X509_NAME_free(n);
			n = NULL;
		}
	}
	if (copy == NULL) {
		X509_NAME_free(n);
		n = NULL;
	}
	free(copy);
	ERR_clear_error();
	return n;
}

/* One CSR name against one expanded template entry ("DNS:x", ...). */
static int
csrid_tpl_hit(const GENERAL_NAME *g, const char *t)
{
	const ASN1_STRING	*s;
	struct sockaddr_storage	 ss;
	const uint8_t		*ip;
	size_t			 tl;

	switch (g->type) {
	case GEN_DNS:
		s = g->d.dNSName;
		return strncmp(t, "DNS:", 4) == 0 && csrid_caseeq(
		    ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s),
		    (const unsigned char *)t + 4, strlen(t + 4));
	case GEN_EMAIL:
		s = g->d.rfc822Name;
		return strncmp(t, "email:", 6) == 0 && csrid_email_eq(
		    ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s),
		    (const unsigned char *)t + 6, strlen(t + 6));
	case GEN_URI:
		s = g->d.uniformResourceIdentifier;
		tl = strlen(t + 4);
		return strncmp(t, "URI:", 4) == 0 && (size_t)
		    ASN1_STRING_length(s) == tl && memcmp(
		    ASN1_STRING_get0_data(s), t + 4, tl) == 0;
	case GEN_IPADD:
		s = g->d.iPAddress;
		if (strncmp(t, "IP:", 3) != 0 ||
		    addr_parse(t + 3, 0, &ss, NULL) == -1)
			return 0;
		ip = addr_bytes(&ss, &tl);
		return (size_t)ASN1_STRING_length(s) == tl &&
		    memcmp(ASN1_STRING_get0_data(s), ip, tl) == 0;
	default:
		return 0;	/* otherName, dirName, RID: never templated */
	}
}

/* csr_identity "template": the Subject and each SAN come from it. */
static int
csrid_template(const struct csrid *id, X509_REQ *req, GENERAL_NAMES *rg,
    X509 *dev, const char **reason, char *why, size_t whysz)
{
	char	 t[CSRID_MAX_TPL][CSRID_MAX_LEN], s[96];
	int	 ok[CSRID_MAX_TPL];

	if (id->tpl_subject != NULL) {
		X509_NAME	*n = csrid_tpl_name(id->tpl_subject, dev);
		int		 eq = n != NULL && X509_NAME_cmp(n,
				    X509_REQ_get_subject_name(req)) == 0;

		X509_NAME_free(n);
		if (!eq)
			return csrid_refuse(reason, "template", why, whysz,
			    "CSR Subject is not the one the template gives "
			    "for this device");
	} else if (X509_NAME_cmp(X509_REQ_get_subject_name(req),
	    X509_get_subject_name(dev)) != 0)
		return csrid_refuse(reason, "subject", why, whysz, "CSR "
		    "Subject differs from the device certificate's");
	for (size_t k = 0; k < id->ntpl_san; k++)
		ok[k] = csrid_expand(id->tpl_san[k], dev, t[k],
		    sizeof(t[k])) == 0;
	for (int i = 0; i < sk_GENERAL_NAME_num(rg); i++) {
		const GENERAL_NAME	*g = sk_GENERAL_NAME_value(rg, i);
		size_t			 k;

		for (k = 0; k < id->ntpl_san; k++)
			if (ok[k] && csrid_tpl_hit(g, t[k]))
				break;
		if (k < id->ntpl_san)
			continue;
		csrid_gen_str(g, s, sizeof(s));
		return csrid_refuse(reason, csrid_is_wildcard(g) ? "wildcard" :
		    "template", why, whysz, "%s is not one the template gives "
		    "for this device", s);
	}
	return 0;
}

/* See csrid.h. */
int
csrid_check(const struct csrid *id, const struct est_csr *csr, X509 *dev,
    const char **reason, char *why, size_t whysz)
{
	X509_REQ	*req = csr_req(csr);
	GENERAL_NAMES	*rg;
	ASN1_OBJECT	*csn;
	int		 rc = 0, has_csn, nsans;

	*reason = NULL;
	if (id->mode == CSRID_ANY)
		return 0;
	if (dev == NULL)
		return csrid_refuse(reason, "no-certificate", why, whysz,
		    "no device certificate to compare with");
	csn = OBJ_txt2obj(CSRID_OID_CSN, 1);
	has_csn = csn == NULL || X509_REQ_get_attr_by_OBJ(req, csn, -1) >= 0;
	ASN1_OBJECT_free(csn);
	if (has_csn)
		return csrid_refuse(reason, "change-subject", why, whysz,
		    "a ChangeSubjectName attribute asks for another identity");
	/* more than one subjectAltName extension, or one undecodable */
	nsans = csr_sans(csr, &rg);
	if (nsans > 1 || (nsans == 1 && rg == NULL))
		return csrid_refuse(reason, "bad-csr", why, whysz, "more than "
		    "one or an undecodable subjectAltName extension");
	switch (id->mode) {
	case CSRID_SUBJECT:
		if (X509_NAME_cmp(X509_REQ_get_subject_name(req),
		    X509_get_subject_name(dev)) != 0)
			rc = csrid_refuse(reason, "subject", why, whysz, "CSR "
			    "Subject differs from the device certificate's");
		break;
	case CSRID_ATTRIBUTE:
		rc = csrid_attrs(id, req, dev, reason, why, whysz);
		break;
	default:
		rc = csrid_template(id, req, rg, dev, reason, why, whysz);
		break;
	}
	if (rc == 0 && id->mode != CSRID_TEMPLATE)
		rc = csrid_san_subset(id, rg, dev, reason, why, whysz);
	ERR_clear_error();
	return rc;
}
