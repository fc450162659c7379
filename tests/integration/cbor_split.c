/*
 * cbor-split: a test tool. Reads a CBOR multipart-core payload (RFC 8710)
 * with the registrar's own strict decoder and writes each representation
 * to PREFIX.N.bin, printing "N cf len" per item. Exit 1 on a bad payload.
 */
#include <stdio.h>
#include <stdlib.h>

#include "multipart.h"

int
main(int argc, char *argv[])
{
	static uint8_t	 buf[1 << 20];
	struct mp_item	 items[8];
	size_t		 len, n;
	const char	*why = NULL;
	FILE		*fp;
	char		 path[4096];

	if (argc != 3) {
		fprintf(stderr, "usage: cbor-split FILE PREFIX\n");
		return 2;
	}
	if ((fp = fopen(argv[1], "rb")) == NULL) {
		perror(argv[1]);
		return 2;
	}
	len = fread(buf, 1, sizeof(buf), fp);
	fclose(fp);
	if (mp_cbor_decode(buf, len, items, 4, &n, &why) == -1) {
		fprintf(stderr, "cbor-split: %s\n", why != NULL ? why : "bad");
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s.%zu.bin", argv[2], i);
		if ((fp = fopen(path, "wb")) == NULL) {
			perror(path);
			return 2;
		}
		if (items[i].len > 0)
			fwrite(items[i].data, 1, items[i].len, fp);
		fclose(fp);
		printf("%zu %u %zu\n", i, items[i].cf, items[i].len);
	}
	return 0;
}
