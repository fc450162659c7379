/*
 * The words of the log and of the audit log that an operator filters on:
 * the reason= of every request line and the "event" of every audit
 * record, each with one sentence. estcoapd(8) lists them from here (make
 * docs), and tests/unit/test_logtab.c checks that the code uses exactly
 * these words.
 */
#ifndef ESTCOAPD_LOGTAB_H
#define ESTCOAPD_LOGTAB_H

#include <stddef.h>

struct logtab_word {
	const char	*word;		/* "unknown-path" */
	const char	*text;		/* one sentence, no markup */
};

/* The reason= values of the request line; *n gets their number. */
const struct logtab_word	*logtab_reasons(size_t *n);

/* The "event" values of the audit log; *n gets their number. */
const struct logtab_word	*logtab_audit_events(size_t *n);

#endif
