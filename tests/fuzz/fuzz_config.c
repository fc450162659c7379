/*
 * libFuzzer target: the configuration parser. Each input is written to a
 * file in a private temporary directory and read by config_load(), as
 * estcoapd -t would; a config that loads must free cleanly.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char	fz_path[64];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct errlist	 errs = { 0 };
	struct config	*cf;
	FILE		*f;

	if (fz_path[0] == '\0') {
		char dir[] = "/tmp/fuzz-config.XXXXXX";

		if (mkdtemp(dir) == NULL)
			abort();
		snprintf(fz_path, sizeof(fz_path), "%s/c.json", dir);
	}
	if ((f = fopen(fz_path, "w")) == NULL)
		abort();
	if (size > 0 && fwrite(data, 1, size, f) != size)
		abort();
	fclose(f);
	cf = config_load(fz_path, &errs);
	if (cf == NULL && errs.count == 0)
		abort();	/* a refusal always says why */
	config_free(cf);
	errlist_free(&errs);
	return 0;
}
