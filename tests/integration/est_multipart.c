/*
 * The serverkeygen answers of libest and of globalsign/est
 * (prof_multipart() in est_profile.h).
 */

#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "est_profile.h"

#define CT_PKCS7_CO	"application/pkcs7-mime; smime-type=certs-only"

/*
 * libest est_handle_server_keygen(): boundary "est-server-boundary",
 * Content-Type before Content-Transfer-Encoding, each part's base64 as
 * BIO_f_base64 writes it, "--B--" and an empty line to close.
 * Go mime/multipart Writer: sorted part headers (Content-Transfer-Encoding
 * first), "--B--" and one line end to close.
 */
int
prof_multipart(const struct prof *pf, struct evbuffer *out,
    const char *keyct, const unsigned char *key, size_t keylen,
    const unsigned char *p7, size_t p7len, char *ctype, size_t ctsz)
{
	const char *bnd = pf->skg == SKG_GO ? "estServerKeyGenBoundary" :
	    "est-server-boundary";
	const struct {
		const char		*ct;
		const unsigned char	*der;
		size_t			 len;
	} part[2] = { { keyct, key, keylen }, { CT_PKCS7_CO, p7, p7len } };
	int rc = 0;

	for (size_t i = 0; i < 2; i++) {
		rc |= evbuffer_add_printf(out, "%s--%s\r\n", i > 0 ? "\r\n" :
		    "", bnd) < 0;
		if (pf->skg == SKG_GO)
			rc |= evbuffer_add_printf(out, "Content-Transfer-"
			    "Encoding: base64\r\nContent-Type: %s\r\n\r\n",
			    part[i].ct) < 0;
		else
			rc |= evbuffer_add_printf(out, "Content-Type: %s\r\n"
			    "Content-Transfer-Encoding: base64\r\n\r\n",
			    part[i].ct) < 0;
		rc |= b64_append(out, part[i].der, part[i].len, &pf->b64);
	}
	rc |= evbuffer_add_printf(out, "\r\n--%s--\r\n%s", bnd,
	    pf->skg == SKG_GO ? "" : "\r\n") < 0;
	snprintf(ctype, ctsz, "multipart/mixed; boundary=%s", bnd);
	return rc == 0 ? 0 : -1;
}
