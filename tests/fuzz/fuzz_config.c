/*
 * libFuzzer target: the configuration parser. Each input is written to a
 * file in a private temporary directory and read by config_load(), as
 * estcoapd -t would; a config that loads must free cleanly. Seeds name
 * /etc/hostname for certificates and FZ_KEY for keys (key files must not
 * be world-readable), so that loads can get past the file checks.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* A private file (mode 0600) that the seeds use as every key file. */
#define FZ_KEY	"/tmp/estcoapd-fuzz.key"

static char	fz_path[64];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct errlist	 errs = { 0 };
	struct config	*cf;
	FILE		*f;

	if (fz_path[0] == '\0') {
		char	dir[] = "/tmp/fuzz-config.XXXXXX";
		int	fd;

		if (mkdtemp(dir) == NULL)
			abort();
		snprintf(fz_path, sizeof(fz_path), "%s/c.json", dir);
		/* the seeds name this private file for every key */
		if ((fd = open(FZ_KEY, O_WRONLY | O_CREAT, 0600)) == -1 ||
		    fchmod(fd, 0600) == -1)
			abort();
		close(fd);
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
