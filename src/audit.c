/*
 * Audit log lines, built with cJSON; audit_file.c appends each in a
 * single write(2).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "audit.h"
#include "audit_file.h"
#include "csr.h"
#include "est_map.h"
#include "estcoapd.h"
#include "log.h"
#include "metrics.h"
#include "peer.h"
#include "transcode.h"

/*
 * The last certificate picked: the followers, the exchange memory and the
 * audit record of one answer all ask for the same one, and decoding a
 * PKCS#7 costs about a million instructions a certificate (OpenSSL 3
 * decodes each key through its provider decoders). Keyed by the DER and
 * the key object, of which it holds a reference so that the pointer is
 * not reused while it is kept.
 */
static struct {
	uint8_t		*p7;		/* a copy of the DER */
	size_t		 len;
	EVP_PKEY	*key;		/* a reference; NULL: none given */
	X509		*x;		/* NULL: nothing could be picked */
} audit_last;

/* Forget the last pick. */
static void
audit_last_clear(void)
{
	free(audit_last.p7);
	EVP_PKEY_free(audit_last.key);
	X509_free(audit_last.x);
	memset(&audit_last, 0, sizeof(audit_last));
}

/* See audit.h. */
int
audit_open(const char *path)
{
	return auditf_open(path, 0);
}

/* See audit.h. */
int
audit_reopen(const char *path)
{
	return auditf_open(path, 1);
}

/* See audit.h. */
int
audit_chown(uid_t uid, gid_t gid)
{
	return auditf_chown(uid, gid);
}

void
audit_close(void)
{
	auditf_close();
	audit_last_clear();
}

/* See audit.h. */
int
audit_writable(void)
{
	return auditf_writable();
}

/* See audit.h. */
void
audit_tick(uint64_t now_ms)
{
	auditf_tick(now_ms);
}

/* See audit.h. */
uint64_t
audit_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A wall-clock time in ms as "2026-01-01T12:00:00.000Z". */
static void
audit_time(char *t, size_t tsz, uint64_t ms)
{
	time_t		s = (time_t)(ms / 1000);
	struct tm	tm;

	gmtime_r(&s, &tm);
	snprintf(t, tsz, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (unsigned)(ms % 1000));
}

/* A new object with the fields every line has. */
static cJSON *
audit_start(const char *event, const char *peer, const struct pki_peer *dev,
    const char *op, const char *label)
{
	cJSON		*o, *d;
	char		 t[96];

	audit_time(t, sizeof(t), audit_now_ms());
	if ((o = cJSON_CreateObject()) == NULL)
		return NULL;
	cJSON_AddStringToObject(o, "time", t);
	cJSON_AddStringToObject(o, "event", event);
	cJSON_AddStringToObject(o, "op", op != NULL ? op : "-");
	cJSON_AddStringToObject(o, "label", label != NULL ? label : "");
	cJSON_AddStringToObject(o, "peer", peer != NULL ? peer : "-");
	if ((d = cJSON_AddObjectToObject(o, "device")) != NULL) {
		cJSON_AddStringToObject(d, "subject",
		    dev != NULL ? dev->subject : "-");
		cJSON_AddStringToObject(d, "issuer",
		    dev != NULL ? dev->issuer : "-");
		cJSON_AddStringToObject(d, "serial",
		    dev != NULL ? dev->serial : "-");
	}
	return o;
}

/* The record o is of time_ms (0: now, as audit_start set it). */
static cJSON *
audit_at(cJSON *o, uint64_t time_ms)
{
	char t[96];

	if (o != NULL && time_ms != 0) {
		audit_time(t, sizeof(t), time_ms);
		cJSON_ReplaceItemInObjectCaseSensitive(o, "time",
		    cJSON_CreateString(t));
	}
	return o;
}

/* Print o as one line and append it with a single write. */
static void
audit_emit(cJSON *o)
{
	char	*s;
	size_t	 n;

	if (o == NULL)
		return;
	if ((s = cJSON_PrintUnformatted(o)) != NULL) {
		n = strlen(s);
		s[n] = '\n';		/* replaces the NUL; length is n + 1 */
		(void)auditf_write(s, n + 1);
		cJSON_free(s);
	}
	cJSON_Delete(o);
}

/* Name, serial and dates of the issued certificate into o. */
static void
audit_cert(cJSON *o, X509 *x)
{
	char		 buf[256];
	struct tm	 tm;

	X509_NAME_oneline(X509_get_subject_name(x), buf, sizeof(buf));
	cJSON_AddStringToObject(o, "subject", buf);
	X509_NAME_oneline(X509_get_issuer_name(x), buf, sizeof(buf));
	cJSON_AddStringToObject(o, "issuer", buf);
	if (peer_serial_hex(x, buf, sizeof(buf)) == 0)
		cJSON_AddStringToObject(o, "serial", buf);
	if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1) {
		snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02dZ",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec);
		cJSON_AddStringToObject(o, "not_after", buf);
	}
}

/* Keep x (may be NULL) as what csr_key picks out of p7. */
static void
audit_last_keep(const uint8_t *p7, size_t p7len, EVP_PKEY *csr_key, X509 *x)
{
	audit_last_clear();
	if ((audit_last.p7 = malloc(p7len > 0 ? p7len : 1)) == NULL)
		return;
	memcpy(audit_last.p7, p7, p7len);
	audit_last.len = p7len;
	if (csr_key != NULL && EVP_PKEY_up_ref(csr_key) == 1)
		audit_last.key = csr_key;
	if (x != NULL && X509_up_ref(x) == 1)
		audit_last.x = x;
	if (audit_last.key != csr_key || audit_last.x != x)
		audit_last_clear();
}

/*
 * The certificate csr_key picks out of the DER PKCS#7 p7, or NULL. A
 * reference: X509_free it.
 */
static X509 *
audit_pick(const uint8_t *p7, size_t p7len, EVP_PKEY *csr_key)
{
	const char	*err;
	X509		*x;

	if (p7 == NULL)
		return NULL;
	if (audit_last.p7 != NULL && audit_last.len == p7len &&
	    audit_last.key == csr_key && memcmp(audit_last.p7, p7, p7len) ==
	    0) {
		x = audit_last.x;
		return x != NULL && X509_up_ref(x) == 1 ? x : NULL;
	}
	x = tc_pkcs7_pick_x509(p7, p7len, csr_key, &err);
	audit_last_keep(p7, p7len, csr_key, x);
	return x;
}

/* See audit.h. */
void
audit_cert_serial(const uint8_t *p7, size_t p7len, EVP_PKEY *csr_key,
    char *buf, size_t bufsz)
{
	X509	*x;

	snprintf(buf, bufsz, "%s", "");
	/* only audit records name the serial: no decode without a file */
	if (!auditf_enabled() || (x = audit_pick(p7, p7len, csr_key)) == NULL)
		return;
	(void)peer_serial_hex(x, buf, bufsz);
	X509_free(x);
}

/*
 * Finish and write a certificate record o: the request number, the CSR
 * subject, why (may be NULL), the upstream and the issued certificate
 * picked out of p7.
 */
static void
audit_cert_record(cJSON *o, uint64_t req, const char *csr_subject,
    const uint8_t *p7, size_t p7len, EVP_PKEY *csr_key, const char *upstream,
    const char *why)
{
	cJSON		*c;
	X509		*x;

	cJSON_AddNumberToObject(o, "req", (double)req);
	cJSON_AddStringToObject(o, "csr_subject",
	    csr_subject != NULL ? csr_subject : "-");
	if (why != NULL)
		cJSON_AddStringToObject(o, "reason", why);
	cJSON_AddStringToObject(o, "upstream", upstream != NULL ? upstream :
	    "-");
	x = audit_pick(p7, p7len, csr_key);
	if (x != NULL && (c = cJSON_AddObjectToObject(o, "cert")) != NULL)
		audit_cert(c, x);
	X509_free(x);
	audit_emit(o);
}

/* See audit.h. */
void
audit_issued(uint64_t req, uint64_t time_ms, const char *peer,
    const struct pki_peer *dev, const char *op, const char *label,
    const char *csr_subject, const uint8_t *p7, size_t p7len,
    EVP_PKEY *csr_key, const char *upstream)
{
	cJSON *o;

	if (auditf_enabled() && (o = audit_at(audit_start("issued", peer, dev,
	    op, label), time_ms)) != NULL)
		audit_cert_record(o, req, csr_subject, p7, p7len, csr_key,
		    upstream, NULL);
}

/* See audit.h. */
void
audit_undelivered(uint64_t req, uint64_t time_ms, const char *peer,
    const struct pki_peer *dev, const char *op, const char *label,
    const char *csr_subject, const uint8_t *p7, size_t p7len,
    EVP_PKEY *csr_key, const char *upstream, const char *why)
{
	cJSON *o;

	if (auditf_enabled() && (o = audit_at(audit_start("issued-undelivered",
	    peer, dev, op, label), time_ms)) != NULL)
		audit_cert_record(o, req, csr_subject, p7, p7len, csr_key,
		    upstream, why);
}

/* See audit.h. */
void
audit_repeated(const char *peer, const struct pki_peer *dev, const char *op,
    const char *label, const struct audit_repeat *r)
{
	cJSON	*o, *c;
	char	 t[96];

	if (!auditf_enabled() ||
	    (o = audit_start("repeated", peer, dev, op, label)) == NULL)
		return;
	cJSON_AddNumberToObject(o, "req", (double)r->req);
	cJSON_AddStringToObject(o, "how", r->how);
	if ((c = cJSON_AddObjectToObject(o, "repeats")) != NULL) {
		audit_time(t, sizeof(t), r->orig_time_ms);
		cJSON_AddNumberToObject(c, "req", (double)r->orig_req);
		cJSON_AddStringToObject(c, "time", t);
	}
	if (r->serial != NULL && r->serial[0] != '\0' &&
	    (c = cJSON_AddObjectToObject(o, "cert")) != NULL)
		cJSON_AddStringToObject(c, "serial", r->serial);
	cJSON_AddBoolToObject(o, "key", r->key != 0);
	audit_emit(o);
}

/* See audit.h. */
void
audit_denied(const char *peer, const struct pki_peer *dev, const char *op,
    const char *label, const char *code, const char *reason)
{
	cJSON *o;

	if (!auditf_enabled() ||
	    (o = audit_start("denied", peer, dev, op, label)) == NULL)
		return;
	cJSON_AddStringToObject(o, "code", code != NULL ? code : "-");
	cJSON_AddStringToObject(o, "reason", reason != NULL ? reason : "-");
	audit_emit(o);
}

/* See audit.h. */
void
audit_deny(const char *peer, const struct pki_peer *dev, const char *op,
    const char *label, unsigned code, const char *why)
{
	char c[8];

	metrics_inc(METRICS_C_AUTHZ_DENIED);
	estmap_code_str(code, c);
	log_info("authz: denied peer=%s dev=\"%s\" issuer=\"%s\" serial=%s "
	    "op=%s label=%s code=%s: %s", peer != NULL ? peer : "-",
	    dev != NULL ? dev->subject : "-", dev != NULL ? dev->issuer : "-",
	    dev != NULL ? dev->serial : "-", op,
	    label != NULL && label[0] != '\0' ? label : "-", c, why);
	audit_denied(peer != NULL ? peer : "-", dev, op, label, c, why);
}

/* See audit.h. */
void
audit_csr_subject(const struct est_csr *csr, char *buf, size_t bufsz)
{
	snprintf(buf, bufsz, "-");
	if (csr != NULL)
		X509_NAME_oneline(X509_REQ_get_subject_name(csr_req(csr)), buf,
		    (int)bufsz);
}
