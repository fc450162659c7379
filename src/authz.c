/*
 * Device authorization per route (RFC 9148 §3, §9.2; RFC 7030 §3.3.2,
 * §3.5, §4.2.2; RFC 9440; doc/design.md, "DTLS, the PKI and
 * authorization"). The DTLS handshake trusts the union of every
 * route's anchors; here a request is checked again against the anchors,
 * CRLs, expiry rule and allow-list of the route it addressed, and its CSR
 * against the route's CSR policy. Nothing here blocks or does I/O after
 * authz_load().
 */
#include <sys/stat.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "authz.h"
#include "config.h"
#include "csr.h"
#include "csrid.h"
#include "estcoapd.h"
#include "est_map.h"
#include "fileperm.h"
#include "log.h"
#include "util.h"

#define AZ_MAX_FILE	(4 * 1024 * 1024)	/* one PEM or CRL file */
#define AZ_MAX_DIRFILES	1024		/* files read from one directory */
#define AZ_MAX_LIST	64		/* entries of trust, crl, rules */
#define AZ_MAX_PATTERN	512		/* bytes of one pattern */
#define AZ_MAX_FINISHED	64		/* a Finished is 12 bytes in TLS 1.2 */

/* id-cmc-changeSubjectName, RFC 6402 2.8 */
#define AZ_OID_CSN	"1.3.6.1.5.5.7.7.36"

/* CSR key kinds a route may accept (auth.csr_key_types). */
enum {
	AZ_KEY_P256	= 1 << 0,
	AZ_KEY_P384	= 1 << 1,
	AZ_KEY_P521	= 1 << 2,
	AZ_KEY_RSA	= 1 << 3,
	AZ_KEY_ED25519	= 1 << 4,
	AZ_KEY_ED448	= 1 << 5,
};

static const struct {
	const char	*name;
	unsigned	 bit;
} az_key_names[] = {
	{ "P-256", AZ_KEY_P256 }, { "P-384", AZ_KEY_P384 },
	{ "P-521", AZ_KEY_P521 }, { "RSA", AZ_KEY_RSA },
	{ "Ed25519", AZ_KEY_ED25519 }, { "Ed448", AZ_KEY_ED448 },
};

/* One allow-list entry: all present patterns must match. */
struct authz_rule {
	char		*issuer;	/* fnmatch on the one-line issuer DN */
	char		*subject;	/* ... on the one-line subject DN */
	char		*san;		/* ... on any "DNS:x", "IP:a", ... */
	unsigned	 ops;		/* bit (1 << est_op_id) per operation */
};

struct authz {
	char		*path;		/* "auth", "labels.x.auth" */
	char		**trust;	/* files or directories */
	size_t		 ntrust;
	char		**crl;		/* CRL files, PEM or DER */
	size_t		 ncrl;
	bool		 allow_expired;	/* expired device certs accepted */
	bool		 forward_cert;	/* RFC 9440 headers upstream */
	bool		 allow_csn;	/* sren may carry ChangeSubjectName */
	enum authz_pop	 pop;
	unsigned	 key_types;	/* AZ_KEY_* */
	uint32_t	 rsa_min_bits;
	uint32_t	 rsa_max_bits;
	struct authz_rule *rules;
	size_t		 nrules;
	struct csrid	*id;		/* CSR identity policy: sen, skg, skc */
	X509_STORE	*store;		/* this route's anchors and CRLs */
};

static int az_ctx_idx = -1;		/* X509_STORE_CTX ex_data: the policy */

/* A string array of min..AZ_MAX_LIST non-empty strings. */
static char **
az_strings(const cJSON *v, const char *path, const char *key, int min,
    const char *file, size_t *n, struct errlist *errs)
{
	const cJSON	*it;
	char		**out;
	size_t		 i = 0;

	*n = 0;
	if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) < min ||
	    cJSON_GetArraySize(v) > AZ_MAX_LIST) {
		errlist_add(errs, "%s: %s.%s: must be an array of %d..%d "
		    "strings", file, path, key, min, AZ_MAX_LIST);
		return NULL;
	}
	if (cJSON_GetArraySize(v) == 0)
		return NULL;
	if ((out = calloc((size_t)cJSON_GetArraySize(v), sizeof(*out))) ==
	    NULL) {
		errlist_add(errs, "%s: out of memory", file);
		return NULL;
	}
	cJSON_ArrayForEach(it, v) {
		if (!cJSON_IsString(it) || *it->valuestring == '\0') {
			errlist_add(errs, "%s: %s.%s[%zu]: must be a non-empty "
			    "string", file, path, key, i);
			continue;
		}
		if ((out[i++] = strdup(it->valuestring)) == NULL)
			errlist_add(errs, "%s: out of memory", file);
	}
	*n = i;
	return out;
}

/* A pattern member of a rule; NULL when absent. */
static char *
az_pattern(const cJSON *rule, const char *member, const char *where,
    const char *file, struct errlist *errs)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(rule, member);

	if (v == NULL)
		return NULL;
	if (!cJSON_IsString(v) || *v->valuestring == '\0' ||
	    strlen(v->valuestring) > AZ_MAX_PATTERN) {
		errlist_add(errs, "%s: %s.%s: must be a pattern of 1..%d "
		    "characters", file, where, member, AZ_MAX_PATTERN);
		return NULL;
	}
	return strdup(v->valuestring);
}

/* Parse auth.rules into az->rules. */
static void
az_rules(struct authz *az, const cJSON *v, const char *file,
    struct errlist *errs)
{
	const cJSON	*r, *m, *o;
	size_t		 i = 0;
	char		 where[160];

	if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > AZ_MAX_LIST) {
		errlist_add(errs, "%s: %s.rules: must be an array of 0..%d "
		    "objects", file, az->path, AZ_MAX_LIST);
		return;
	}
	if (cJSON_GetArraySize(v) == 0)
		return;		/* no allow-list: every trusted device */
	if ((az->rules = calloc((size_t)cJSON_GetArraySize(v),
	    sizeof(*az->rules))) == NULL) {
		errlist_add(errs, "%s: out of memory", file);
		return;
	}
	cJSON_ArrayForEach(r, v) {
		struct authz_rule *ru = &az->rules[i];

		snprintf(where, sizeof(where), "%s.rules[%zu]", az->path, i);
		az->nrules = ++i;
		if (!cJSON_IsObject(r)) {
			errlist_add(errs, "%s: %s: must be an object", file,
			    where);
			continue;
		}
		cJSON_ArrayForEach(m, r) {
			if (strcmp(m->string, "issuer") != 0 &&
			    strcmp(m->string, "subject") != 0 &&
			    strcmp(m->string, "san") != 0 &&
			    strcmp(m->string, "operations") != 0)
				errlist_add(errs, "%s: %s.%s: unknown key", file,
				    where, m->string);
		}
		ru->issuer = az_pattern(r, "issuer", where, file, errs);
		ru->subject = az_pattern(r, "subject", where, file, errs);
		ru->san = az_pattern(r, "san", where, file, errs);
		m = cJSON_GetObjectItemCaseSensitive(r, "operations");
		if (m == NULL) {
			ru->ops = (1u << EST_OP_COUNT) - 1;
			continue;
		}
		if (!cJSON_IsArray(m)) {
			errlist_add(errs, "%s: %s.operations: must be an array "
			    "of operation names", file, where);
			continue;
		}
		cJSON_ArrayForEach(o, m) {
			const struct est_op *op = cJSON_IsString(o) ?
			    estmap_op_by_name(o->valuestring) : NULL;

			if (op == NULL)
				errlist_add(errs, "%s: %s.operations: \"%s\" is "
				    "not one of crts, sen, sren, att, skg, skc",
				    file, where, cJSON_IsString(o) ?
				    o->valuestring : "?");
			else
				ru->ops |= 1u << op->id;
		}
	}
}

/* A boolean member; the schema's default (config.c) when absent. */
static bool
az_bool(const cJSON *obj, const char *key, const char *path,
    const char *file, struct errlist *errs)
{
	const cJSON		*v = cJSON_GetObjectItemCaseSensitive(obj, key);
	struct config_authkey	 ak = { 0 };
	bool			 def;

	(void)config_auth_key(key, &ak);
	def = ak.def != 0;
	if (v == NULL)
		return def;
	if (!cJSON_IsBool(v)) {
		errlist_add(errs, "%s: %s.%s: must be true or false", file, path,
		    key);
		return def;
	}
	return cJSON_IsTrue(v);
}

/* An integer member in the schema's range; its default when absent. */
static uint32_t
az_uint(const cJSON *obj, const char *key, const char *path,
    const char *file, struct errlist *errs)
{
	const cJSON		*v = cJSON_GetObjectItemCaseSensitive(obj, key);
	struct config_authkey	 ak = { 0 };

	(void)config_auth_key(key, &ak);
	if (v == NULL)
		return ak.def;
	/* the range first: a double outside it does not convert */
	if (!cJSON_IsNumber(v) || !(v->valuedouble >= ak.min &&
	    v->valuedouble <= ak.max) ||
	    v->valuedouble != (double)(uint32_t)v->valuedouble) {
		errlist_add(errs, "%s: %s.%s: must be an integer %u..%u", file,
		    path, key, ak.min, ak.max);
		return ak.def;
	}
	return (uint32_t)v->valuedouble;
}

/* Every key of obj is an auth.* row of the schema (config.c), once. */
static void
az_check_keys(const cJSON *obj, const char *path, const char *file,
    struct errlist *errs)
{
	const cJSON	*m;

	cJSON_ArrayForEach(m, obj) {
		if (!config_auth_key(m->string, NULL))
			errlist_add(errs, "%s: %s.%s: unknown key", file, path,
			    m->string);
		for (const cJSON *p = obj->child; p != m; p = p->next)
			if (strcmp(p->string, m->string) == 0) {
				errlist_add(errs, "%s: %s.%s: duplicate key",
				    file, path, m->string);
				break;
			}
	}
}

/* auth.pop: "off", "if-present" or "required". */
static void
az_parse_pop(struct authz *az, const cJSON *v, const char *path, const char *file,
    struct errlist *errs)
{
	if (cJSON_IsString(v) && strcmp(v->valuestring, "off") == 0)
		az->pop = AUTHZ_POP_OFF;
	else if (cJSON_IsString(v) &&
	    strcmp(v->valuestring, "if-present") == 0)
		az->pop = AUTHZ_POP_IF_PRESENT;
	else if (cJSON_IsString(v) && strcmp(v->valuestring, "required") == 0)
		az->pop = AUTHZ_POP_REQUIRED;
	else
		errlist_add(errs, "%s: %s.pop: must be \"off\", "
		    "\"if-present\" or \"required\"", file, path);
}

/* auth.csr_key_types: a non-empty array of az_key_names. */
static void
az_parse_key_types(struct authz *az, const cJSON *v, const char *path,
    const char *file, struct errlist *errs)
{
	const size_t	 nk = sizeof(az_key_names) / sizeof(az_key_names[0]);
	const cJSON	*it;
	size_t		 k;

	az->key_types = 0;
	if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0)
		errlist_add(errs, "%s: %s.csr_key_types: must be a "
		    "non-empty array", file, path);
	cJSON_ArrayForEach(it, v) {
		for (k = 0; k < nk; k++)
			if (cJSON_IsString(it) && strcmp(it->valuestring,
			    az_key_names[k].name) == 0)
				break;
		if (k == nk)
			errlist_add(errs, "%s: %s.csr_key_types: \"%s\" "
			    "is not one of P-256, P-384, P-521, RSA, "
			    "Ed25519, Ed448", file, path,
			    cJSON_IsString(it) ? it->valuestring : "?");
		else
			az->key_types |= az_key_names[k].bit;
	}
}

/* The keys of an auth object, after az_check_keys. */
static void
az_parse_keys(struct authz *az, const cJSON *obj, const char *path,
    const char *file, struct errlist *errs)
{
	const cJSON	*v;

	if ((v = cJSON_GetObjectItemCaseSensitive(obj, "trust")) != NULL)
		az->trust = az_strings(v, path, "trust", 1, file, &az->ntrust,
		    errs);
	if ((v = cJSON_GetObjectItemCaseSensitive(obj, "crl")) != NULL)
		az->crl = az_strings(v, path, "crl", 0, file, &az->ncrl,
		    errs);
	if ((v = cJSON_GetObjectItemCaseSensitive(obj, "rules")) != NULL)
		az_rules(az, v, file, errs);
	az->allow_expired = az_bool(obj, "allow_expired", path, file, errs);
	az->forward_cert = az_bool(obj, "forward_client_cert", path, file,
	    errs);
	az->allow_csn = az_bool(obj, "sren_allow_change_subject", path, file,
	    errs);
	if ((v = cJSON_GetObjectItemCaseSensitive(obj, "pop")) != NULL)
		az_parse_pop(az, v, path, file, errs);
	if ((v = cJSON_GetObjectItemCaseSensitive(obj, "csr_key_types")) !=
	    NULL)
		az_parse_key_types(az, v, path, file, errs);
	az->rsa_min_bits = az_uint(obj, "csr_rsa_min_bits", path, file, errs);
	az->rsa_max_bits = az_uint(obj, "csr_rsa_max_bits", path, file, errs);
	if (az->rsa_min_bits > az->rsa_max_bits)
		errlist_add(errs, "%s: %s.csr_rsa_min_bits: must not exceed "
		    "csr_rsa_max_bits", file, path);
}

/* See authz.h. */
struct authz *
authz_parse(const cJSON *obj, const char *path, const char *file,
    struct errlist *errs)
{
	struct authz	*az;

	if ((az = calloc(1, sizeof(*az))) == NULL ||
	    (az->path = strdup(path)) == NULL) {
		free(az);
		errlist_add(errs, "%s: out of memory", file);
		return NULL;
	}
	az->key_types = AZ_KEY_P256 | AZ_KEY_P384 | AZ_KEY_RSA;
	az->rsa_min_bits = az_uint(NULL, "csr_rsa_min_bits", path, file, errs);
	az->rsa_max_bits = az_uint(NULL, "csr_rsa_max_bits", path, file, errs);
	if ((az->id = csrid_parse(cJSON_IsObject(obj) ? obj : NULL, path,
	    file, errs)) == NULL)
		errlist_add(errs, "%s: out of memory", file);
	if (obj == NULL)
		return az;
	if (!cJSON_IsObject(obj)) {
		errlist_add(errs, "%s: %s: must be an object", file, path);
		return az;
	}
	az_check_keys(obj, path, file, errs);
	az_parse_keys(az, obj, path, file, errs);
	return az;
}

/* See authz.h. */
void
authz_free(struct authz *az)
{
	if (az == NULL)
		return;
	for (size_t i = 0; i < az->ntrust; i++)
		free(az->trust[i]);
	free(az->trust);
	for (size_t i = 0; i < az->ncrl; i++)
		free(az->crl[i]);
	free(az->crl);
	for (size_t i = 0; i < az->nrules; i++) {
		free(az->rules[i].issuer);
		free(az->rules[i].subject);
		free(az->rules[i].san);
	}
	free(az->rules);
	csrid_free(az->id);
	X509_STORE_free(az->store);
	free(az->path);
	free(az);
}

/*
 * May fpath be trusted (fileperm.h)? Whoever can write an anchor or a CRL
 * decides which devices get in. 0, or -1 with the error added.
 */
static int
az_file_ok(struct authz *az, const char *fpath, const char *key,
    const char *file, struct errlist *errs)
{
	struct stat	st;
	char		why[256];

	if (stat(fpath, &st) == -1)
		return 0;	/* reading it says what is wrong */
	if ((S_ISDIR(st.st_mode) ? fileperm_check_dir(fpath, &st, why,
	    sizeof(why)) : fileperm_check(fpath, &st, 0, why, sizeof(why))) ==
	    0)
		return 0;
	errlist_add(errs, "%s: %s.%s: %s: %s", file, az->path, key, fpath, why);
	return -1;
}

/* Add every certificate of one PEM file to both stores; the count or -1. */
static int
az_load_certs(struct authz *az, X509_STORE *hs, const char *fpath,
    const char *file, struct errlist *errs)
{
	char	*data;
	size_t	 n;
	BIO	*bio;
	X509	*x;
	int	 count = 0;

	if (az_file_ok(az, fpath, "trust", file, errs) == -1)
		return -1;
	if ((data = file_read(fpath, AZ_MAX_FILE, &n)) == NULL) {
		errlist_add(errs, "%s: %s.trust: %s: %s", file, az->path, fpath,
		    errno == EFBIG ? "larger than 4 MiB" : strerror(errno));
		return -1;
	}
	if ((bio = BIO_new_mem_buf(data, (int)n)) == NULL) {
		free(data);
		return -1;
	}
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		X509_STORE_add_cert(az->store, x);
		X509_STORE_add_cert(hs, x);
		X509_free(x);
		count++;
	}
	ERR_clear_error();
	BIO_free(bio);
	free(data);
	if (count == 0)
		errlist_add(errs, "%s: %s.trust: %s: no PEM certificate", file,
		    az->path, fpath);
	return count;
}

/* Load a directory: every regular *.pem, *.crt or *.cer in it. */
static void
az_load_dir(struct authz *az, X509_STORE *hs, const char *dpath,
    const char *file, struct errlist *errs)
{
	DIR		*d;
	struct dirent	*de;
	char		 fpath[4096];
	struct stat	 st;
	int		 nfiles = 0, total = 0;

	if (az_file_ok(az, dpath, "trust", file, errs) == -1)
		return;
	if ((d = opendir(dpath)) == NULL) {
		errlist_add(errs, "%s: %s.trust: %s: %s", file, az->path, dpath,
		    strerror(errno));
		return;
	}
	while ((de = readdir(d)) != NULL && nfiles < AZ_MAX_DIRFILES) {
		size_t l = strlen(de->d_name);

		if (de->d_name[0] == '.' || l < 5 ||
		    (strcmp(de->d_name + l - 4, ".pem") != 0 &&
		    strcmp(de->d_name + l - 4, ".crt") != 0 &&
		    strcmp(de->d_name + l - 4, ".cer") != 0))
			continue;
		if ((size_t)snprintf(fpath, sizeof(fpath), "%s/%s", dpath,
		    de->d_name) >= sizeof(fpath) || stat(fpath, &st) == -1 ||
		    !S_ISREG(st.st_mode))
			continue;
		nfiles++;
		if (az_load_certs(az, hs, fpath, file, errs) > 0)
			total++;
	}
	closedir(d);
	if (total == 0 && nfiles == 0)
		errlist_add(errs, "%s: %s.trust: %s: no *.pem, *.crt or *.cer "
		    "file in the directory", file, az->path, dpath);
}

/* Is crl signed by one of the route's anchors? */
static int
az_crl_signed(struct authz *az, X509_CRL *crl)
{
	STACK_OF(X509_OBJECT)	*objs = X509_STORE_get0_objects(az->store);
	int			 ok = 0;

	for (int i = 0; i < sk_X509_OBJECT_num(objs) && !ok; i++) {
		X509 *ca = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));

		if (ca != NULL && X509_NAME_cmp(X509_get_subject_name(ca),
		    X509_CRL_get_issuer(crl)) == 0 &&
		    X509_CRL_verify(crl, X509_get0_pubkey(ca)) == 1)
			ok = 1;
	}
	ERR_clear_error();
	return ok;
}

/* Load one CRL file (PEM, several allowed, or one DER) into both stores. */
static void
az_load_crl(struct authz *az, X509_STORE *hs, const char *fpath,
    const char *file, struct errlist *errs)
{
	char			*data;
	size_t			 n;
	BIO			*bio;
	X509_CRL		*crl;
	const unsigned char	*p;
	int			 count = 0;

	if (az_file_ok(az, fpath, "crl", file, errs) == -1)
		return;
	if ((data = file_read(fpath, AZ_MAX_FILE, &n)) == NULL) {
		errlist_add(errs, "%s: %s.crl: %s: %s", file, az->path, fpath,
		    errno == EFBIG ? "larger than 4 MiB" : strerror(errno));
		return;
	}
	bio = BIO_new_mem_buf(data, (int)n);
	for (;;) {
		crl = bio != NULL ? PEM_read_bio_X509_CRL(bio, NULL, NULL,
		    NULL) : NULL;
		if (crl == NULL && count == 0) {
			/* not PEM: one DER CRL filling the file */
			p = (const unsigned char *)data;
			if ((crl = d2i_X509_CRL(NULL, &p, (long)n)) != NULL &&
			    p != (const unsigned char *)data + n) {
				X509_CRL_free(crl);
				crl = NULL;
			}
			if (crl == NULL)
				break;
			BIO_free(bio);
			bio = NULL;
		}
		if (crl == NULL)
			break;
		if (!az_crl_signed(az, crl))
			errlist_add(errs, "%s: %s.crl: %s: not signed by a "
			    "trust anchor of this route", file, az->path, fpath);
		else if (X509_CRL_get0_nextUpdate(crl) != NULL &&
		    X509_cmp_current_time(X509_CRL_get0_nextUpdate(crl)) < 0)
			log_warnx("%s: %s.crl: %s: past its nextUpdate; devices "
			    "of that CA are refused until it is renewed", file,
			    az->path, fpath);
		X509_STORE_add_crl(az->store, crl);
		X509_STORE_add_crl(hs, crl);
		X509_CRL_free(crl);
		count++;
	}
	ERR_clear_error();
	BIO_free(bio);
	free(data);
	if (count == 0)
		errlist_add(errs, "%s: %s.crl: %s: no CRL (PEM or DER)", file,
		    az->path, fpath);
}

/* See authz.h. */
int
authz_load(struct authz *az, STACK_OF(X509) *deflt, X509_STORE *hs,
    const char *file, struct errlist *errs)
{
	int		before = errs->count;
	struct stat	st;
	unsigned long	flags = X509_V_FLAG_PARTIAL_CHAIN;

	if ((az->store = X509_STORE_new()) == NULL) {
		errlist_add(errs, "%s: out of memory", file);
		return -1;
	}
	if (az->ntrust == 0 && deflt == NULL)
		errlist_add(errs, "%s: %s: no trust anchors: set %s.trust or "
		    "dtls.client_ca", file, az->path, az->path);
	if (az->ntrust == 0 && deflt != NULL)
		for (int i = 0; i < sk_X509_num(deflt); i++) {
			X509_STORE_add_cert(az->store, sk_X509_value(deflt, i));
			X509_STORE_add_cert(hs, sk_X509_value(deflt, i));
		}
	for (size_t i = 0; i < az->ntrust; i++) {
		if (stat(az->trust[i], &st) == -1)
			errlist_add(errs, "%s: %s.trust: %s: %s", file, az->path,
			    az->trust[i], strerror(errno));
		else if (S_ISDIR(st.st_mode))
			az_load_dir(az, hs, az->trust[i], file, errs);
		else
			az_load_certs(az, hs, az->trust[i], file, errs);
	}
	for (size_t i = 0; i < az->ncrl; i++)
		az_load_crl(az, hs, az->crl[i], file, errs);
	/* every listed certificate is an anchor, intermediates too */
	if (az->ncrl > 0)
		flags |= X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL;
	X509_STORE_set_flags(az->store, flags);
	ERR_clear_error();
	return errs->count == before ? 0 : -1;
}

bool
authz_allows_expired(const struct authz *az)
{
	return az->allow_expired;
}

bool
authz_has_trust(const struct authz *az)
{
	return az->ntrust > 0;
}

bool
authz_has_crl(const struct authz *az)
{
	return az->ncrl > 0;
}

bool
authz_forwards_cert(const struct authz *az)
{
	return az->forward_cert;
}

/* Verify callback of the per-request check: the route's expiry rule. */
static int
az_verify_cb(int ok, X509_STORE_CTX *ctx)
{
	const struct authz *az = X509_STORE_CTX_get_ex_data(ctx, az_ctx_idx);

	if (ok)
		return 1;
	switch (X509_STORE_CTX_get_error(ctx)) {
	case X509_V_ERR_UNABLE_TO_GET_CRL:
		return 1;	/* no CRL configured for that CA */
	case X509_V_ERR_CERT_HAS_EXPIRED:
		return az != NULL && az->allow_expired &&
		    X509_STORE_CTX_get_error_depth(ctx) == 0;
	default:
		return 0;
	}
}

/*
 * Verify the session's device chain against the route's store; with chain
 * set, also hand back the verified chain (leaf first). 0 or -1.
 */
static int
az_verify(const struct authz *az, SSL *ssl, STACK_OF(X509) **chain,
    char *why, size_t whysz)
{
	X509		*leaf;
	X509_STORE_CTX	*ctx;
	int		 rc = -1;

	if (ssl == NULL || (leaf = SSL_get0_peer_certificate(ssl)) == NULL) {
		snprintf(why, whysz, "no client certificate");
		return -1;
	}
	if (az_ctx_idx < 0)
		az_ctx_idx = X509_STORE_CTX_get_ex_new_index(0, NULL, NULL,
		    NULL, NULL);
	if ((ctx = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(ctx, az->store, leaf,
	    SSL_get_peer_cert_chain(ssl)) != 1) {
		snprintf(why, whysz, "out of memory");
		goto done;
	}
	X509_STORE_CTX_set_ex_data(ctx, az_ctx_idx, (void *)az);
	X509_STORE_CTX_set_verify_cb(ctx, az_verify_cb);
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
	X509_STORE_CTX_set_depth(ctx, SSL_get_verify_depth(ssl));
	if (X509_verify_cert(ctx) == 1) {
		rc = 0;
		if (chain != NULL)
			*chain = X509_STORE_CTX_get1_chain(ctx);
	} else
		snprintf(why, whysz, "client certificate not accepted here: "
		    "%s", X509_verify_cert_error_string(
		    X509_STORE_CTX_get_error(ctx)));
done:
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

/* See authz.h. */
int
authz_verify_device(const struct authz *az, SSL *ssl, char *why,
    size_t whysz)
{
	return az_verify(az, ssl, NULL, why, whysz);
}

/* Does any SAN entry of x ("DNS:name", "IP:addr", ...) match pattern? */
static int
az_san_match(X509 *x, const char *pattern)
{
	GENERAL_NAMES	*gens;
	int		 hit = 0;
	char		 s[600], ip[INET6_ADDRSTRLEN];

	if ((gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL)) ==
	    NULL) {
		ERR_clear_error();
		return 0;
	}
	for (int i = 0; i < sk_GENERAL_NAME_num(gens) && !hit; i++) {
		const GENERAL_NAME	*g = sk_GENERAL_NAME_value(gens, i);
		const ASN1_STRING	*str = NULL;
		const char		*pfx = NULL;

		switch (g->type) {
		case GEN_DNS:
			pfx = "DNS", str = g->d.dNSName;
			break;
		case GEN_EMAIL:
			pfx = "email", str = g->d.rfc822Name;
			break;
		case GEN_URI:
			pfx = "URI", str = g->d.uniformResourceIdentifier;
			break;
		case GEN_IPADD:
			str = g->d.iPAddress;
			if ((ASN1_STRING_length(str) == 4 && inet_ntop(AF_INET,
			    ASN1_STRING_get0_data(str), ip, sizeof(ip))) ||
			    (ASN1_STRING_length(str) == 16 &&
			    inet_ntop(AF_INET6, ASN1_STRING_get0_data(str), ip,
			    sizeof(ip)))) {
				snprintf(s, sizeof(s), "IP:%s", ip);
				hit = fnmatch(pattern, s, 0) == 0;
			}
			continue;
		default:
			continue;
		}
		/* an embedded NUL would let "a.example\0.evil" pass as less */
		if (ASN1_STRING_length(str) <= 0 || ASN1_STRING_length(str) >
		    512 || memchr(ASN1_STRING_get0_data(str), '\0',
		    (size_t)ASN1_STRING_length(str)) != NULL)
			continue;
		snprintf(s, sizeof(s), "%s:%.*s", pfx, ASN1_STRING_length(str),
		    (const char *)ASN1_STRING_get0_data(str));
		hit = fnmatch(pattern, s, 0) == 0;
	}
	GENERAL_NAMES_free(gens);
	return hit;
}

/* See authz.h. */
int
authz_rules_allow(const struct authz *az, SSL *ssl, const char *opname,
    char *why, size_t whysz)
{
	const struct est_op	*op = estmap_op_by_name(opname);
	X509			*x;
	char			 subj[512], iss[512];

	if (az->nrules == 0)
		return 0;
	if (op == NULL || ssl == NULL ||
	    (x = SSL_get0_peer_certificate(ssl)) == NULL) {
		snprintf(why, whysz, "no client certificate");
		return -1;
	}
	X509_NAME_oneline(X509_get_subject_name(x), subj, sizeof(subj));
	X509_NAME_oneline(X509_get_issuer_name(x), iss, sizeof(iss));
	for (size_t i = 0; i < az->nrules; i++) {
		const struct authz_rule *r = &az->rules[i];

		if ((r->issuer != NULL && fnmatch(r->issuer, iss, 0) != 0) ||
		    (r->subject != NULL && fnmatch(r->subject, subj, 0) != 0) ||
		    (r->san != NULL && !az_san_match(x, r->san)))
			continue;
		/* the first rule that matches the device decides */
		if (r->ops & (1u << op->id))
			return 0;
		snprintf(why, whysz, "%s not allowed for this device (%s "
		    "rule %zu)", opname, az->path, i);
		return -1;
	}
	snprintf(why, whysz, "device not on the allow-list of %s", az->path);
	return -1;
}

/* Is pk one of the key kinds of the policy? 0, or -1 with why. */
static int
az_key_ok(const struct authz *az, EVP_PKEY *pk, char *why, size_t whysz)
{
	char	group[64];
	int	bits;
	size_t	glen = 0;

	if (pk == NULL) {
		snprintf(why, whysz, "CSR public key does not decode");
		return -1;
	}
	bits = EVP_PKEY_get_bits(pk);
	switch (EVP_PKEY_get_base_id(pk)) {
	case EVP_PKEY_RSA:
		if (!(az->key_types & AZ_KEY_RSA)) {
			snprintf(why, whysz, "RSA keys not allowed");
			return -1;
		}
		if (bits < (int)az->rsa_min_bits || bits >
		    (int)az->rsa_max_bits) {
			snprintf(why, whysz, "RSA key of %d bits outside "
			    "%u..%u", bits, az->rsa_min_bits, az->rsa_max_bits);
			return -1;
		}
		return 0;
	case EVP_PKEY_EC:
		if (EVP_PKEY_get_group_name(pk, group, sizeof(group), &glen) !=
		    1)
			group[0] = '\0';
		if ((strcmp(group, "prime256v1") == 0 &&
		    (az->key_types & AZ_KEY_P256)) ||
		    (strcmp(group, "secp384r1") == 0 &&
		    (az->key_types & AZ_KEY_P384)) ||
		    (strcmp(group, "secp521r1") == 0 &&
		    (az->key_types & AZ_KEY_P521)))
			return 0;
		snprintf(why, whysz, "EC key on curve %s not allowed",
		    group[0] != '\0' ? group : "(explicit parameters)");
		return -1;
	case EVP_PKEY_ED25519:
		if (az->key_types & AZ_KEY_ED25519)
			return 0;
		break;
	case EVP_PKEY_ED448:
		if (az->key_types & AZ_KEY_ED448)
			return 0;
		break;
	default:
		break;
	}
	snprintf(why, whysz, "key type %s not allowed",
	    OBJ_nid2sn(EVP_PKEY_get_base_id(pk)));
	return -1;
}

/* Are two SubjectAltName sets equal (as multisets, order ignored)? */
static int
az_gens_equal(GENERAL_NAMES *a, GENERAL_NAMES *b)
{
	int n = sk_GENERAL_NAME_num(a);

	if (a == NULL || b == NULL)
		return a == b;
	if (n != sk_GENERAL_NAME_num(b))
		return 0;
	for (int i = 0; i < n; i++) {
		int ca = 0, cb = 0;

		for (int j = 0; j < n; j++) {
			ca += GENERAL_NAME_cmp(sk_GENERAL_NAME_value(a, i),
			    sk_GENERAL_NAME_value(a, j)) == 0;
			cb += GENERAL_NAME_cmp(sk_GENERAL_NAME_value(a, i),
			    sk_GENERAL_NAME_value(b, j)) == 0;
		}
		if (ca != cb)
			return 0;
	}
	return 1;
}

/*
 * RFC 7030 4.2.2: the CSR of a re-enrollment carries the Subject and
 * SubjectAltName of the certificate being renewed. 0, or -1 with why.
 */
static int
az_same_names(const struct est_csr *csr, X509 *x, char *why, size_t whysz)
{
	GENERAL_NAMES	*rg, *xg;
	int		 eq;

	if (X509_NAME_cmp(X509_REQ_get_subject_name(csr_req(csr)),
	    X509_get_subject_name(x)) != 0) {
		snprintf(why, whysz, "CSR Subject differs from the client "
		    "certificate (RFC 7030 4.2.2)");
		return -1;
	}
	xg = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	/* more than one SAN extension: never equal */
	eq = csr_sans(csr, &rg) < 2 && az_gens_equal(rg, xg);
	GENERAL_NAMES_free(xg);
	ERR_clear_error();
	if (!eq) {
		snprintf(why, whysz, "CSR SubjectAltName differs from the "
		    "client certificate (RFC 7030 4.2.2)");
		return -1;
	}
	return 0;
}

/* See authz.h. */
int
authz_tls_unique(SSL *ssl, uint8_t *buf, size_t bufsz, size_t *len)
{
	/* RFC 5929 3.1: the first Finished of the latest handshake */
	if (SSL_session_reused(ssl))
		*len = SSL_get_finished(ssl, buf, bufsz);
	else
		*len = SSL_get_peer_finished(ssl, buf, bufsz);
	return *len > 0 && *len <= bufsz ? 0 : -1;
}

/*
 * RFC 7030 §3.5 linking: challengePassword = base64(tls-unique), the
 * tls-unique (RFC 5929) being fin (flen 0: the session has none). 0 or
 * 4.01.
 */
static unsigned
az_pop(const struct authz *az, X509_REQ *req, const uint8_t *fin,
    size_t flen, char *why, size_t whysz)
{
	X509_ATTRIBUTE	*attr;
	ASN1_TYPE	*t;
	char		 want[4 * ((AZ_MAX_FINISHED + 2) / 3) + 1];
	int		 idx, wlen;

	if (az->pop == AUTHZ_POP_OFF)
		return 0;
	idx = X509_REQ_get_attr_by_NID(req, NID_pkcs9_challengePassword, -1);
	if (idx < 0) {
		if (az->pop == AUTHZ_POP_IF_PRESENT)
			return 0;
		snprintf(why, whysz, "challengePassword with the DTLS "
		    "tls-unique required (RFC 7030 3.5)");
		return EST_CODE(4, 1);
	}
	if (flen == 0 || flen > AZ_MAX_FINISHED) {
		snprintf(why, whysz, "no tls-unique for this session");
		return EST_CODE(4, 1);
	}
	wlen = EVP_EncodeBlock((unsigned char *)want, fin, (int)flen);
	attr = X509_REQ_get_attr(req, idx);
	t = attr != NULL ? X509_ATTRIBUTE_get0_type(attr, 0) : NULL;
	if (t == NULL || (t->type != V_ASN1_PRINTABLESTRING &&
	    t->type != V_ASN1_UTF8STRING && t->type != V_ASN1_IA5STRING) ||
	    ASN1_STRING_length(t->value.asn1_string) != wlen ||
	    CRYPTO_memcmp(ASN1_STRING_get0_data(t->value.asn1_string), want,
	    (size_t)wlen) != 0) {
		snprintf(why, whysz, "challengePassword does not match the "
		    "DTLS tls-unique (RFC 7030 3.5)");
		return EST_CODE(4, 1);
	}
	return 0;
}

/*
 * RFC 7030 4.2.2 for sren: the Subject and SubjectAltName of the current
 * certificate, and ChangeSubjectName only where allowed. 0 or 4.03.
 */
static unsigned
az_sren(const struct authz *az, const struct est_csr *csr, X509 *x,
    char *why, size_t whysz)
{
	ASN1_OBJECT	*csn = OBJ_txt2obj(AZ_OID_CSN, 1);
	unsigned	 code = 0;

	if (csn != NULL &&
	    X509_REQ_get_attr_by_OBJ(csr_req(csr), csn, -1) >= 0 &&
	    !az->allow_csn) {
		snprintf(why, whysz, "ChangeSubjectName not allowed here");
		code = EST_CODE(4, 3);
	} else if (x == NULL) {
		snprintf(why, whysz, "no client certificate");
		code = EST_CODE(4, 3);
	} else if (az_same_names(csr, x, why, whysz) == -1)
		code = EST_CODE(4, 3);
	ASN1_OBJECT_free(csn);
	return code;
}

/* See authz.h. */
unsigned
authz_check_csr(const struct authz *az, SSL *ssl, int keycheck, int opid,
    const struct est_csr *csr, const char **idreason, char *why,
    size_t whysz)
{
	uint8_t	 fin[AZ_MAX_FINISHED];
	size_t	 flen = 0;

	if (ssl != NULL && authz_tls_unique(ssl, fin, sizeof(fin), &flen) ==
	    -1)
		flen = 0;
	return authz_check_csr_peer(az, ssl != NULL ?
	    SSL_get0_peer_certificate(ssl) : NULL, fin, flen, keycheck, opid,
	    csr, idreason, why, whysz);
}

/* See authz.h. */
unsigned
authz_check_csr_peer(const struct authz *az, X509 *x, const uint8_t *tlsu,
    size_t tlsulen, int keycheck, int opid, const struct est_csr *csr,
    const char **idreason, char *why, size_t whysz)
{
	unsigned	 code = 0;

	*idreason = NULL;
	if (csr == NULL) {
		snprintf(why, whysz, "bad CSR");
		return EST_CODE(4, 0);
	}
	if (keycheck && az_key_ok(az, csr_key(csr), why, whysz) == -1)
		code = EST_CODE(4, 0);
	else if (opid == EST_OP_SREN)
		code = az_sren(az, csr, x, why, whysz);
	else if ((opid == EST_OP_SEN || opid == EST_OP_SKG ||
	    opid == EST_OP_SKC) && csrid_check(az->id, csr, x, idreason, why,
	    whysz) == -1)
		code = EST_CODE(4, 3);
	if (code == 0)
		code = az_pop(az, csr_req(csr), tlsu, tlsulen, why, whysz);
	ERR_clear_error();
	return code;
}

/* ":<base64 DER>:" (RFC 8941 Byte Sequence) of x, appended to b. */
static int
az_sf_bytes(struct buf *b, X509 *x)
{
	unsigned char	*der = NULL;
	char		*b64;
	int		 n;

	if ((n = i2d_X509(x, &der)) <= 0)
		return -1;
	if ((b64 = malloc(4 * (((size_t)n + 2) / 3) + 1)) == NULL) {
		OPENSSL_free(der);
		return -1;
	}
	EVP_EncodeBlock((unsigned char *)b64, der, n);
	OPENSSL_free(der);
	n = buf_append(b, ":", 1) == -1 || buf_append(b, b64, strlen(b64)) ==
	    -1 || buf_append(b, ":", 1) == -1 ? -1 : 0;
	free(b64);
	return n;
}

/* A NUL-terminated copy of a buffer, which is then reset. */
static char *
az_buf_str(struct buf *b)
{
	char *s = NULL;

	if (buf_append(b, "", 1) == 0 && (s = malloc(b->len)) != NULL)
		memcpy(s, b->data, b->len);
	buf_reset(b);
	return s;
}

/* See authz.h. */
int
authz_client_cert_headers(const struct authz *az, SSL *ssl, char **cert,
    char **chain)
{
	STACK_OF(X509)	*sk = NULL;
	X509		*leaf;
	struct buf	 b;
	int		 n = 0;
	char		 why[8];
	const char	 p1[] = "Client-Cert: ", p2[] = "Client-Cert-Chain: ";

	*cert = *chain = NULL;
	if (ssl == NULL || (leaf = SSL_get0_peer_certificate(ssl)) == NULL)
		return -1;
	buf_init(&b, 256 * 1024);
	if (buf_append(&b, p1, sizeof(p1) - 1) == -1 ||
	    az_sf_bytes(&b, leaf) == -1 || (*cert = az_buf_str(&b)) == NULL) {
		buf_reset(&b);
		return -1;
	}
	/*
	 * 9440 2.3: the chain that validated it, without the end entity. A
	 * resumed session has no verified chain (and from a ticket no peer
	 * chain either), so it is built again from the route's anchors.
	 */
	if (az_verify(az, ssl, &sk, why, sizeof(why)) == -1)
		sk = NULL;
	buf_append(&b, p2, sizeof(p2) - 1);
	for (int i = 0; i < sk_X509_num(sk); i++) {
		X509 *x = sk_X509_value(sk, i);

		if (X509_cmp(x, leaf) == 0)
			continue;
		if ((n > 0 && buf_append(&b, ", ", 2) == -1) ||
		    az_sf_bytes(&b, x) == -1) {
			n = 0;		/* the chain is optional */
			break;
		}
		n++;
	}
	sk_X509_pop_free(sk, X509_free);
	if (n > 0)
		*chain = az_buf_str(&b);
	buf_reset(&b);
	ERR_clear_error();
	return 0;
}
