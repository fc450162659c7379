/*
 * The reason= words and audit events of src/logtab.c are the ones the
 * code uses. A request's reason is a string literal passed to a function
 * with a parameter "const char *reason" (answer_error, dtls_deny and
 * any wrapper written like them; the functions in not_reasons[] take other
 * kinds of reason) or assigned to a .reason or ->reason; an audit event is
 * audit_start's first argument or an "event" written as JSON text. Every such word needs a row, and every row
 * must be used. Reads the .c files of src/, so it runs from the top of the
 * source tree, as make check and land.sh run it.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "logtab.h"

#define MAXWORDS	256
#define MAXSINKS	32

/* Functions with a "reason" parameter that is not a request's reason. */
static const char *const not_reasons[] = {
	"audit_denied",		/* free text of the audit record */
	"auditf_opened",	/* why an audit file was opened, and */
	"auditf_switch",	/* the same passed on */
	"metrics_handshake",	/* a DTLS handshake failure label */
	"metrics_reply_text",	/* an HTTP reason phrase */
};

/* A function that takes a request's reason, and which argument it is. */
struct sink {
	char	 name[64];
	int	 arg;
};

struct sinks {
	struct sink	 s[MAXSINKS];
	size_t		 n;
};

/* Words found in the sources, with the first file that used each. */
struct found {
	char	 word[MAXWORDS][48];
	char	 where[MAXWORDS][64];
	size_t	 n;
};

static void
found_add(struct found *f, const char *w, size_t len, const char *file)
{
	for (size_t i = 0; i < f->n; i++)
		if (strlen(f->word[i]) == len && memcmp(f->word[i], w, len) == 0)
			return;
	assert_true(f->n < MAXWORDS && len < sizeof(f->word[0]));
	memcpy(f->word[f->n], w, len);
	f->word[f->n][len] = '\0';
	snprintf(f->where[f->n], sizeof(f->where[0]), "%s", file);
	f->n++;
}

/* Blank out comments (strings and characters stay) so that they never match. */
static void
strip_comments(char *s)
{
	char q = 0;

	for (char *p = s; *p != '\0'; p++) {
		if (q != 0) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			else if (*p == q)
				q = 0;
		} else if (*p == '"' || *p == '\'')
			q = *p;
		else if (p[0] == '/' && p[1] == '*') {
			char *e = strstr(p + 2, "*/");

			e = e != NULL ? e + 2 : p + strlen(p);
			memset(p, ' ', (size_t)(e - p));
			p = e - 1;
		} else if (p[0] == '/' && p[1] == '/') {
			while (*p != '\0' && *p != '\n')
				*p++ = ' ';
			p--;
		}
	}
}

/* The string literals in [p, end), each added to f. */
static void
literals(const char *p, const char *end, struct found *f, const char *file)
{
	while (p < end) {
		if (*p == '\'') {
			p += p[1] == '\\' ? 4 : 3;
			continue;
		}
		if (*p++ != '"')
			continue;
		const char *s = p;

		while (p < end && *p != '"')
			p += *p == '\\' ? 2 : 1;
		found_add(f, s, (size_t)(p - s), file);
		p++;
	}
}

/*
 * After the '(' at p: the extent of argument number arg (from 0) of the
 * call, in [*b, *e). 0, or -1 when the call has fewer arguments.
 */
static int
call_arg(const char *p, int arg, const char **b, const char **e)
{
	int	 depth = 1, n = 0;
	char	 q = 0;

	*b = p;
	for (; *p != '\0'; p++) {
		if (q != 0) {
			if (*p == '\\')
				p++;
			else if (*p == q)
				q = 0;
			continue;
		}
		if (*p == '"' || *p == '\'')
			q = *p;
		else if (*p == '(')
			depth++;
		else if ((*p == ')' && --depth == 0) || (*p == ',' &&
		    depth == 1)) {
			if (n == arg) {
				*e = p;
				return 0;
			}
			if (*p == ')')
				return -1;
			n++;
			*b = p + 1;
		}
	}
	return -1;
}

/* Every call of fn in text: the literals of its argument arg. */
static void
scan_calls(const char *text, const char *fn, int arg, struct found *f,
    const char *file)
{
	size_t		 len = strlen(fn);
	const char	*b, *e;

	for (const char *p = text; (p = strstr(p, fn)) != NULL; p += len) {
		const char *q = p + len;

		if (p > text && (p[-1] == '_' || (p[-1] >= 'a' &&
		    p[-1] <= 'z')))
			continue;
		while (*q == ' ' || *q == '\t' || *q == '\n')
			q++;
		if (*q == '(' && call_arg(q + 1, arg, &b, &e) == 0)
			literals(b, e, f, file);
	}
}

/*
 * Every function definition (its name at the start of a line, as the
 * style of the sources has it) with a parameter ending in "*reason".
 */
static void
scan_defs(const char *text, struct sinks *out)
{
	for (const char *p = text; p != NULL && *p != '\0';
	    p = strchr(p, '\n'), p = p != NULL ? p + 1 : NULL) {
		size_t		 n = strspn(p, "abcdefghijklmnopqrstuvwxyz"
				    "0123456789_");
		const char	*b, *e;
		bool		 skip = false;

		if (n == 0 || n >= sizeof(out->s[0].name) || p[n] != '(')
			continue;
		for (size_t i = 0; i < sizeof(not_reasons) /
		    sizeof(not_reasons[0]); i++)
			skip |= strlen(not_reasons[i]) == n &&
			    strncmp(not_reasons[i], p, n) == 0;
		for (int a = 0; !skip && call_arg(p + n + 1, a, &b, &e) == 0;
		    a++) {
			while (e > b && (e[-1] == ' ' || e[-1] == '\n'))
				e--;
			if (e - b < 7 || strncmp(e - 6, "reason", 6) != 0 ||
			    (e[-7] != '*' && e[-7] != ' '))
				continue;
			assert_true(out->n < MAXSINKS);
			memcpy(out->s[out->n].name, p, n);
			out->s[out->n].name[n] = '\0';
			out->s[out->n].arg = a;
			out->n++;
			break;
		}
	}
}

/*
 * An audit record written as JSON text: every "event":"x" inside a string
 * literal, where the C source has it escaped as \"event\":\"x\".
 */
static void
scan_json_events(const char *text, struct found *f, const char *file)
{
	const char *key = "\\\"event\\\":\\\"";

	for (const char *p = text; (p = strstr(p, key)) != NULL; ) {
		const char *e;

		p += strlen(key);
		if ((e = strstr(p, "\\\"")) != NULL)
			found_add(f, p, (size_t)(e - p), file);
	}
}

/* Every "reason = <expression>;": the literals of the expression. */
static void
scan_assign(const char *text, struct found *f, const char *file)
{
	for (const char *p = text; (p = strstr(p, "reason")) != NULL; p += 6) {
		const char *q = p + 6, *e;

		if (p == text || (p[-1] != '.' && p[-1] != '>'))
			continue;
		while (*q == ' ' || *q == '\t')
			q++;
		if (q[0] != '=' || q[1] == '=')
			continue;
		if ((e = strchr(q, ';')) != NULL)
			literals(q, e, f, file);
	}
}

/* The text of every .c file of src/ but the table itself, comments blank. */
static size_t
read_sources(char *text[], char name[][300], size_t max)
{
	DIR		*d;
	struct dirent	*de;
	FILE		*fp;
	long		 size;
	size_t		 n = 0;

	if ((d = opendir("src")) == NULL)
		fail_msg("cannot open src/: run from the top of the source "
		    "tree");
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);

		if (l < 3 || strcmp(de->d_name + l - 2, ".c") != 0 ||
		    strcmp(de->d_name, "logtab.c") == 0)
			continue;
		assert_true(n < max);
		snprintf(name[n], sizeof(name[0]), "src/%s", de->d_name);
		assert_non_null(fp = fopen(name[n], "r"));
		assert_int_equal(fseek(fp, 0, SEEK_END), 0);
		size = ftell(fp);
		rewind(fp);
		assert_non_null(text[n] = calloc(1, (size_t)size + 1));
		assert_int_equal(fread(text[n], 1, (size_t)size, fp),
		    (size_t)size);
		fclose(fp);
		strip_comments(text[n]);
		n++;
	}
	closedir(d);
	return n;
}

/* Collect the reasons and audit events the sources use. */
static void
scan_sources(struct found *reasons, struct found *events)
{
	static char	 name[64][300];
	char		*text[64];
	struct sinks	 sinks = { 0 };
	size_t		 n = read_sources(text, name, 64);

	for (size_t i = 0; i < n; i++)
		scan_defs(text[i], &sinks);
	/* the scanner found the two known ones */
	assert_true(sinks.n >= 2);
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < sinks.n; j++)
			scan_calls(text[i], sinks.s[j].name, sinks.s[j].arg,
			    reasons, name[i]);
		scan_assign(text[i], reasons, name[i]);
		scan_calls(text[i], "audit_start", 0, events, name[i]);
		scan_json_events(text[i], events, name[i]);
		free(text[i]);
	}
}

/* Both ways: every word used has a row, every row is used. */
static void
compare(const char *what, const struct found *f,
    const struct logtab_word *tab, size_t n)
{
	int bad = 0;

	for (size_t i = 0; i < f->n; i++) {
		size_t j;

		for (j = 0; j < n && strcmp(tab[j].word, f->word[i]) != 0; j++)
			;
		if (j == n) {
			print_error("%s: %s \"%s\" has no row in src/logtab.c\n",
			    f->where[i], what, f->word[i]);
			bad = 1;
		}
	}
	for (size_t j = 0; j < n; j++) {
		size_t i;

		for (i = 0; i < f->n && strcmp(tab[j].word, f->word[i]) != 0;
		    i++)
			;
		if (i == f->n) {
			print_error("src/logtab.c: %s \"%s\" is used nowhere\n",
			    what, tab[j].word);
			bad = 1;
		}
		for (i = j + 1; i < n; i++)
			if (strcmp(tab[i].word, tab[j].word) == 0) {
				print_error("src/logtab.c: %s \"%s\" twice\n",
				    what, tab[j].word);
				bad = 1;
			}
		assert_true(tab[j].text != NULL && tab[j].text[0] != '\0');
	}
	if (bad)
		fail_msg("src/logtab.c and the code disagree on %ss", what);
}

static void
test_logtab_matches_code(void **state)
{
	static struct found	 reasons, events;
	const struct logtab_word *t;
	size_t			 n;

	(void)state;
	scan_sources(&reasons, &events);
	/* the scanner itself works: words every build has */
	assert_true(reasons.n >= 20);
	assert_true(events.n >= 2);
	t = logtab_reasons(&n);
	compare("reason", &reasons, t, n);
	t = logtab_audit_events(&n);
	compare("audit event", &events, t, n);
}

/* The scanner: comments never count, both arms of a ?: do. */
static void
test_logtab_scanner(void **state)
{
	static struct found	 f;
	char			 text[] =
	    "/* answer_error(a, c, \"no\", d) */\n"
	    "static void\nanswer_error(struct est_answer *a, unsigned "
	    "code,\n    const char *reason, const char *diag)\n{\n}\n"
	    "audit_denied(const char *peer, const char *reason)\n"
	    "audit_denied_not(int x, const char *reason)\n"
	    "front_x(const char *reasons)\n"
	    "answer_error(a, f(x, y), \"one\", \"diag\");\n"
	    "// a->reason = \"no\";\n"
	    "a.reason = s ? \"two\" : \"three\"; seasons = \"no\";\n"
	    "front_deny(fs, rt, code, c ? \"four\" : \"five\", why, a);\n";

	struct sinks		 sk = { 0 };

	(void)state;
	strip_comments(text);
	scan_defs(text, &sk);
	assert_int_equal(sk.n, 2);
	assert_string_equal(sk.s[0].name, "answer_error");
	assert_int_equal(sk.s[0].arg, 2);
	assert_string_equal(sk.s[1].name, "audit_denied_not");
	assert_int_equal(sk.s[1].arg, 1);
	scan_calls(text, "answer_error", 2, &f, "t");
	scan_calls(text, "front_deny", 3, &f, "t");
	scan_assign(text, &f, "t");
	assert_int_equal(f.n, 5);
	assert_string_equal(f.word[0], "one");
	assert_string_equal(f.word[1], "four");
	assert_string_equal(f.word[2], "five");
	assert_string_equal(f.word[3], "two");
	assert_string_equal(f.word[4], "three");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_logtab_scanner),
		cmocka_unit_test(test_logtab_matches_code),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
