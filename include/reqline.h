/*
 * The request line: the one log line every request to the registrar ends
 * with, in a fixed format a log shipper can parse. reqline_fields() is
 * the documented format (make docs writes it into estcoapd(8); the README
 * repeats it), reqline_format() writes a line in it, and a unit test holds
 * the two together.
 */
#ifndef ESTCOAPD_REQLINE_H
#define ESTCOAPD_REQLINE_H

#include <stddef.h>
#include <stdint.h>

/* One key=value field of the line, in the order of the line. */
struct reqline_field {
	const char	*key;		/* "req" */
	const char	*value;		/* its syntax: "N", "N|-", "\"SUBJECT\"" */
	const char	*text;		/* one sentence, no markup */
};

/* The fields in line order; *n gets their number. */
const struct reqline_field	*reqline_fields(size_t *n);

/* The placeholders of the value syntaxes, each with one sentence. */
const struct reqline_field	*reqline_values(size_t *n);

/* What one request line says. */
struct reqline {
	uint64_t	 id;
	const char	*peer;		/* "addr:port", "[v6]:port"; NULL: - */
	const char	*dev;		/* device certificate Subject; NULL: - */
	const char	*op;		/* "sen", "core", or the unknown path */
	const char	*label;		/* "" or NULL: none */
	int		 method;	/* CoAP method code */
	int		 cf;		/* request Content-Format; -1 none */
	size_t		 in;		/* request body bytes */
	long		 up;		/* upstream HTTP status; <= 0 none */
	int		 up_asked;	/* up_ms is set */
	uint64_t	 up_ms;
	unsigned	 coap;		/* CoAP code sent; 0 none */
	size_t		 out;		/* payload bytes sent */
	uint64_t	 ms;		/* arrival to answer */
	const char	*reason;	/* a word of logtab_reasons(); NULL: - */
};

/*
 * Write the line (no newline) into buf; a Subject too long for buf is cut
 * inside its quotes, never the fields after it. Returns the length.
 */
size_t	reqline_format(char *buf, size_t len, const struct reqline *);

/*
 * The end of a request: count it in requests_total (op "unknown" for a
 * path we do not serve, one starting with '/') and log its line.
 */
void	reqline_emit(const struct reqline *);

/* The next request number (the line's req=), one sequence per process. */
uint64_t reqline_next_id(void);

/* Room for any line: a 256-byte Subject fully escaped, and the rest. */
#define REQLINE_MAX	1024

#endif
