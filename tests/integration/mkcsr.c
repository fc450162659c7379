/*
 * estcoap-mkcsr: write one DER CSR for the integration tests, with what
 * openssl req(1) cannot add (a ChangeSubjectName attribute).
 *
 * usage: estcoap-mkcsr -k key -s subject [-a san] [-p challenge]
 *            [-n new-subject] -o out.der
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "csrgen.h"

/* Print the synopsis and leave. */
static void
usage(void)
{
	fprintf(stderr, "usage: estcoap-mkcsr -k key -s subject [-a san] "
	    "[-p challenge] [-n new-subject] -o out.der\n");
	exit(1);
}

/* Parse the options, build the CSR, write it. */
int
main(int argc, char *argv[])
{
	struct csrgen	 g = { 0 };
	const char	*out = NULL;
	uint8_t		*der;
	size_t		 len;
	FILE		*f;
	int		 ch;

	while ((ch = getopt(argc, argv, "a:k:n:o:p:s:")) != -1) {
		switch (ch) {
		case 'a':
			g.san = optarg;
			break;
		case 'k':
			g.keyfile = optarg;
			break;
		case 'n':
			g.csn_subject = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'p':
			g.challenge = optarg;
			break;
		case 's':
			g.subject = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || g.keyfile == NULL || g.subject == NULL ||
	    out == NULL)
		usage();
	if (csrgen_build(&g, &der, &len) == -1)
		return 1;
	if ((f = fopen(out, "wb")) == NULL || fwrite(der, 1, len, f) != len ||
	    fclose(f) == EOF) {
		perror(out);
		free(der);
		return 1;
	}
	free(der);
	return 0;
}
