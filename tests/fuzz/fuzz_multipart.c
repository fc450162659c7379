/*
 * libFuzzer target: the multipart/mixed parser of serverkeygen answers.
 * The first line of the input is the Content-Type, the rest the body;
 * every part must lie inside the body.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "multipart.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mp_part	 parts[MP_MAX_PARTS];
	const uint8_t	*nl = memchr(data, '\n', size);
	char		 ctype[256];
	size_t		 clen, n = 0;
	const char	*why = NULL;

	if (nl == NULL)
		return 0;
	clen = (size_t)(nl - data);
	if (clen >= sizeof(ctype))
		return 0;
	memcpy(ctype, data, clen);
	ctype[clen] = '\0';
	data += clen + 1;
	size -= clen + 1;
	if (mp_parse(ctype, data, size, parts, &n, &why) == -1) {
		if (why == NULL)
			abort();
		return 0;
	}
	if (n > MP_MAX_PARTS)
		abort();
	for (size_t i = 0; i < n; i++)
		if (parts[i].len > size || parts[i].body < data ||
		    parts[i].body + parts[i].len > data + size ||
		    memchr(parts[i].ctype, '\0', sizeof(parts[i].ctype)) ==
		    NULL)
			abort();
	return 0;
}
