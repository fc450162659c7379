/*
 * Test-only CSR builder shared by estcoap-mkcsr and estcoap-probe: what
 * openssl req(1) cannot make (a ChangeSubjectName attribute, RFC 6402
 * 2.8) or can only make before the DTLS session exists (a challenge-
 * Password carrying the session's tls-unique, RFC 7030 3.5).
 */
#ifndef ESTCOAPD_CSRGEN_H
#define ESTCOAPD_CSRGEN_H

#include <stddef.h>
#include <stdint.h>

/* What goes into one CSR; NULL members are left out. */
struct csrgen {
	const char	*keyfile;	/* PEM private key, signs the CSR */
	const char	*subject;	/* "/O=x/CN=y" */
	const char	*san;		/* "DNS:a,DNS:b" (openssl syntax) */
	const char	*challenge;	/* challengePassword value */
	const char	*csn_subject;	/* ChangeSubjectName subject */
};

/*
 * Build and sign the CSR. Returns 0 with *der (malloc'd) and *len, or -1
 * with a message on stderr.
 */
int	csrgen_build(const struct csrgen *, uint8_t **der, size_t *len);

#endif
