/*
 * libFuzzer target: the base64 decoder (RFC 8951 3.1, with what servers
 * send) and the encoder and line wrapper, which must round-trip whatever
 * the decoder accepted.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "transcode.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t		*out = NULL, *back = NULL;
	size_t		 outlen = 0, elen = 0, backlen = 0;
	const char	*why = NULL;
	char		*enc, *wrapped;
	size_t		 wlen = 0;

	if (tc_b64_decode((const char *)data, size, 65536, &out, &outlen,
	    &why) == -1) {
		if (why == NULL)
			abort();
		return 0;
	}
	if (outlen > 65536)
		abort();
	if ((enc = tc_b64_encode(out, outlen, &elen)) == NULL) {
		free(out);
		return 0;
	}
	if (tc_b64_decode(enc, elen, 65536, &back, &backlen, &why) == -1 ||
	    backlen != outlen || (outlen > 0 && memcmp(back, out, outlen) != 0))
		abort();	/* what we encode we must read back */
	free(back);
	back = NULL;
	/* wrapped for the upstream, in lines of 0..76, it reads back too */
	if ((wrapped = tc_b64_wrap(enc, elen, size > 0 ? data[0] % 77 : 64,
	    &wlen)) != NULL) {
		if (tc_b64_decode(wrapped, wlen, 65536, &back, &backlen,
		    &why) == -1 || backlen != outlen ||
		    (outlen > 0 && memcmp(back, out, outlen) != 0))
			abort();
		free(back);
		free(wrapped);
	}
	free(enc);
	free(out);
	return 0;
}
