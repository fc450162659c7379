/*
 * estcoap-csrcost: the CSR and audit work of one enrollment in a loop, for
 * callgrind (its instruction counts are exact and repeatable; CPU times on
 * a shared machine are not). Each iteration does what the request path
 * does for a sen: decode the CSR once (csr.h), check its form and
 * signature, the route's CSR policy with the default "auth" (key, CSR
 * identity against the device certificate, PoP), the held-answer key of
 * its public key (exchange.h), the audit's CSR subject;
 * then, for the issued PKCS#7, the certificate serial of the leader's
 * followers and of the exchange memory and the "issued" audit record.
 *
 * usage: estcoap-csrcost csr.der device.pem issued.p7 iterations audit.log
 *
 * Per-iteration figure: run with 1 and 21 iterations under
 *   valgrind --tool=callgrind
 * and divide the difference of the totals by 20 (scripts/csrcost.sh).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "audit.h"
#include "authz.h"
#include "csr.h"
#include "est_map.h"
#include "exchange.h"
#include "peer.h"
#include "transcode.h"

#define CC_MAX_FILE	(64 * 1024)

/* The contents of a small file, or exit. */
static uint8_t *
cc_slurp(const char *path, size_t *len)
{
	FILE	*f = fopen(path, "rb");
	uint8_t	*b = malloc(CC_MAX_FILE);

	if (f == NULL || b == NULL) {
		fprintf(stderr, "csrcost: %s: cannot read\n", path);
		exit(2);
	}
	*len = fread(b, 1, CC_MAX_FILE, f);
	fclose(f);
	return b;
}

/* One enrollment's CSR and audit work; 0, or -1 if a check refuses. */
static int
cc_once(const struct authz *az, X509 *dev, const uint8_t *csrder,
    size_t csrlen, const uint8_t *p7, size_t p7len, unsigned long i)
{
	static const uint8_t	 tlsu[12];
	struct pki_peer		 id = { "/CN=dev", "/CN=ca", "01", { 0 } };
	struct est_csr		*csr;
	EVP_PKEY		*key = NULL;
	char			 subj[256], serial[80], why[200];
	uint8_t			 ikey[XCH_KEY_LEN];
	const char		*w, *idr;
	int			 rc = -1;

	if ((csr = csr_parse(csrder, csrlen, &w)) == NULL ||
	    tc_csr_check(csr, 1, &key, &w) == -1)
		fprintf(stderr, "csrcost: %s\n", w);
	else if (authz_check_csr_peer(az, dev, tlsu, sizeof(tlsu), 1,
	    EST_OP_SEN, csr, &idr, why, sizeof(why)) != 0)
		fprintf(stderr, "csrcost: %s\n", why);
	else {
		xch_key_pub(ikey, id.fp, sizeof(id.fp), "sen", "", 281, key);
		audit_csr_subject(csr, subj, sizeof(subj));
		csr_free(csr);
		csr = NULL;
		audit_cert_serial(p7, p7len, key, serial, sizeof(serial));
		audit_cert_serial(p7, p7len, key, serial, sizeof(serial));
		audit_issued(i, 0, "[::1]:1", &id, "sen", "", subj, p7, p7len,
		    key, "upstream");
		rc = serial[0] != '\0' ? 0 : -1;
	}
	csr_free(csr);
	EVP_PKEY_free(key);
	return rc;
}

int
main(int argc, char **argv)
{
	size_t		 csrlen, p7len;
	uint8_t		*csrder, *p7;
	FILE		*f;
	X509		*dev;
	struct authz	*az;
	unsigned long	 n, i;

	if (argc != 6) {
		fprintf(stderr, "usage: estcoap-csrcost csr.der device.pem "
		    "issued.p7 iterations audit.log\n");
		return 2;
	}
	csrder = cc_slurp(argv[1], &csrlen);
	p7 = cc_slurp(argv[3], &p7len);
	n = strtoul(argv[4], NULL, 10);
	if ((f = fopen(argv[2], "r")) == NULL ||
	    (dev = PEM_read_X509(f, NULL, NULL, NULL)) == NULL ||
	    (az = authz_parse(NULL, "auth", "csrcost", NULL)) == NULL ||
	    audit_open(argv[5]) == -1) {
		fprintf(stderr, "csrcost: set-up failed\n");
		return 2;
	}
	fclose(f);
	for (i = 0; i < n; i++)
		if (cc_once(az, dev, csrder, csrlen, p7, p7len, i) == -1)
			return 1;
	audit_close();
	authz_free(az);
	X509_free(dev);
	free(csrder);
	free(p7);
	return 0;
}
