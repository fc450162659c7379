/*
 * The CSR identity policy of a route (auth.csr_identity): which names a
 * device may ask for in sen, skg and skc, judged against the certificate
 * it presented in the DTLS handshake. Without it any trusted device could
 * have any identity certified. Parsed with the route's "auth" section,
 * then read-only; the check takes parsed objects and does no I/O.
 */
#ifndef ESTCOAPD_CSRID_H
#define ESTCOAPD_CSRID_H

#include <stddef.h>

#include <openssl/x509.h>

struct cJSON;
struct errlist;
struct csrid;
struct est_csr;

/*
 * Read the csr_identity* members of one "auth" object (obj NULL: the
 * defaults, mode "subject"). Errors go to errs as "file: path.key: text".
 * NULL only when out of memory.
 */
struct csrid	*csrid_parse(const struct cJSON *obj, const char *path,
		    const char *file, struct errlist *errs);
void		 csrid_free(struct csrid *);

/*
 * May the device whose certificate is dev ask for the names of csr
 * (csr.h)? 0 if so; else -1 with *reason a short token for the metric
 * label ("subject", "attribute", "san", "wildcard", "template",
 * "change-subject", "no-certificate", "bad-csr") and why a sentence for
 * the log, the audit record and the device.
 */
int		 csrid_check(const struct csrid *, const struct est_csr *csr,
		    X509 *dev, const char **reason, char *why, size_t whysz);

#endif
