/*
 * estcoapd-docgen: the generated parts of the documentation, written
 * from the daemon's own tables (make docs; make check compares).
 *
 *   estcoapd-docgen splice IN OUT	copy the man page IN to OUT with every
 *					block between
 *					.\" BEGIN GENERATED name
 *					.\" END GENERATED name
 *					written anew by the generator name
 *   estcoapd-docgen defaults OUT	conf/estcoapd-defaults.json
 *
 * Generators: keys (the schema table of src/config.c), resources (the
 * operation table of src/est_map.c), reasons and audit-events
 * (src/logtab.c), metrics (src/metrics.c), request-line (the format of
 * the request line, src/reqline.c).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "est_map.h"
#include "logtab.h"
#include "metrics.h"
#include "reqline.h"

#define MARK_BEGIN	".\\\" BEGIN GENERATED "
#define MARK_END	".\\\" END GENERATED "

static void
die(const char *fmt, ...)
{
	va_list ap;

	fputs("estcoapd-docgen: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/*
 * Text as roff text lines of at most about 72 characters: a new line for
 * every sentence, backslashes escaped, no line starting with a control
 * character. Ends with a newline.
 */
static void
roff_text(FILE *fp, const char *s)
{
	size_t col = 0;

	while (*s != '\0') {
		size_t	 w = strcspn(s, " ");
		bool	 stop = w > 1 && s[w - 1] == '.' && s[w] == ' ' &&
			    s[w + 1] >= 'A' && s[w + 1] <= 'Z';

		if (col > 0 && col + 1 + w > 72) {
			fputc('\n', fp);
			col = 0;
		} else if (col > 0) {
			fputc(' ', fp);
			col++;
		}
		if (col == 0 && (*s == '.' || *s == '\''))
			fputs("\\&", fp);
		for (size_t i = 0; i < w; i++)
			fputs(s[i] == '\\' ? "\\e" : (char[2]){ s[i], 0 }, fp);
		col += w;
		s += w;
		s += strspn(s, " ");
		if (stop) {
			fputc('\n', fp);
			col = 0;
		}
	}
	if (col > 0)
		fputc('\n', fp);
}

/* One macro argument: quoted when it has blanks, " as \(dq. */
static void
roff_arg(FILE *fp, const char *s)
{
	bool q = strpbrk(s, " \t") != NULL || *s == '\0';

	if (q)
		fputc('"', fp);
	for (; *s != '\0'; s++) {
		if (*s == '"')
			fputs("\\(dq", fp);
		else if (*s == '\\')
			fputs("\\e", fp);
		else
			fputc(*s, fp);
	}
	if (q)
		fputc('"', fp);
}

/*
 * A help text as one sentence: the first letter up unless it starts with
 * a name ("crts and att ...", "dtls.cert"), and one full stop.
 */
static void
roff_sentence(FILE *fp, const char *help)
{
	char	 buf[1024], first[16] = "";
	size_t	 n, w = strcspn(help, " ;,:");

	snprintf(buf, sizeof(buf), "%s", help);
	if (w < sizeof(first))
		memcpy(first, help, w);
	if (buf[0] >= 'a' && buf[0] <= 'z' && estmap_op_by_name(first) ==
	    NULL && strpbrk(first, "./_<") == NULL)
		buf[0] = (char)(buf[0] - 'a' + 'A');
	n = strlen(buf);
	if (n > 0 && buf[n - 1] != '.')
		snprintf(buf + n, sizeof(buf) - n, ".");
	roff_text(fp, buf);
}

/* keys: the reference of estcoapd.json(5), one entry per schema row. */
static void
gen_keys(FILE *fp)
{
	struct config_keydoc d;

	fputs(".Bl -tag -width Ds\n", fp);
	for (size_t i = 0; config_keydoc(i, &d); i++) {
		fputs(".It Cm ", fp);
		roff_arg(fp, d.path);
		fputs(" Pq ", fp);
		fputs(d.type, fp);
		if (d.range[0] != '\0') {
			fputc(' ', fp);
			roff_arg(fp, d.range);
		}
		if (d.required)
			fputs(" , required", fp);
		else if (d.def_note != NULL && d.def[0] == '\0') {
			fputs(" , default ", fp);
			fputs(d.def_note, fp);
		} else if (d.def[0] != '\0' && (strspn(d.def, "0123456789") ==
		    strlen(d.def) || strcmp(d.def, "true") == 0 ||
		    strcmp(d.def, "false") == 0)) {
			fputs(" , default ", fp);
			fputs(d.def, fp);
		} else if (d.def[0] != '\0') {
			fputs(" , default Ql ", fp);
			roff_arg(fp, d.def);
		} else if (!d.section)
			fputs(" , no default", fp);
		fputc('\n', fp);
		if (d.section)
			fputs(d.reload ? "" :
			    "Reload: no, restart to change any of its keys.\n",
			    fp);
		else
			fputs(d.reload ? "Reload: yes.\n" :
			    "Reload: no, restart to change.\n", fp);
		roff_sentence(fp, d.help);
	}
	fputs(".El\n", fp);
}

static const char *
method_name(int m)
{
	return m == EST_M_GET ? "GET" : m == EST_M_POST ? "POST" : "?";
}

/* resources: the operation table of estcoapd(8). */
static void
gen_resources(FILE *fp)
{
	uint32_t def = config_ops_default();

	fputs(".Bl -column \"Path\" \"Method\" \"Request\" \"281, 287\" "
	    "\"POST simplereenroll\" \"with est.server_keygen\" -offset indent\n"
	    ".It Sy Path Ta Sy Method Ta Sy Request Ta Sy Accept Ta "
	    "Sy Upstream Ta Sy Served\n", fp);
	for (int i = 0; i < EST_OP_COUNT; i++) {
		const struct est_op *op = estmap_op_by_id((enum est_op_id)i);

		fprintf(fp, ".It %s Ta %s Ta ", op->name,
		    method_name(op->method));
		if (op->req_cf < 0)
			fputs("none", fp);
		else
			fprintf(fp, "%d", op->req_cf);
		fputs(" Ta ", fp);
		for (const int *a = op->accepts; *a != -1; a++)
			fprintf(fp, "%s%d", a == op->accepts ? "" : ", ", *a);
		fprintf(fp, " Ta %s %s Ta %s\n", method_name(op->method),
		    op->up_path, def & (1u << op->id) ? "by default" :
		    "with est.server_keygen");
	}
	fputs(".El\n", fp);
}

/* A tag list of words with one sentence each. */
static void
gen_words(FILE *fp, const struct logtab_word *w, size_t n)
{
	size_t width = 0;

	for (size_t i = 0; i < n; i++)
		if (strlen(w[i].word) > strlen(w[width].word))
			width = i;
	fputs(".Bl -tag -width ", fp);
	roff_arg(fp, w[width].word);
	fputs(" -compact\n", fp);
	for (size_t i = 0; i < n; i++) {
		fputs(".It ", fp);
		roff_arg(fp, w[i].word);
		fputc('\n', fp);
		roff_text(fp, w[i].text);
	}
	fputs(".El\n", fp);
}

static void
gen_reasons(FILE *fp)
{
	size_t n;
	const struct logtab_word *w = logtab_reasons(&n);

	gen_words(fp, w, n);
}

static void
gen_audit(FILE *fp)
{
	size_t n;
	const struct logtab_word *w = logtab_audit_events(&n);

	gen_words(fp, w, n);
}

/* One metric family as a tag list item. */
static void
metric_item(void *arg, const char *name, const char *type,
    const char *labels, const char *help)
{
	FILE	*fp = arg;
	char	 head[160];

	snprintf(head, sizeof(head), "%s%s%s%s", name, *labels ? "{" : "",
	    labels, *labels ? "}" : "");
	fputs(".It Li ", fp);
	roff_arg(fp, head);
	fprintf(fp, " Pq %s\n", type);
	roff_sentence(fp, help);
}

static void
gen_metrics(FILE *fp)
{
	fputs(".Bl -tag -width Ds\n", fp);
	metrics_describe(metric_item, fp);
	fputs(".El\n", fp);
}

/*
 * request-line: the format of the request line as one literal line, then
 * its fields in order and the syntax of their values.
 */
static void
gen_reqline(FILE *fp)
{
	size_t				 n, nv;
	const struct reqline_field	*f = reqline_fields(&n);
	const struct reqline_field	*v = reqline_values(&nv);

	fputs(".Bd -literal -offset indent\n", fp);
	for (size_t i = 0; i < n; i++)
		fprintf(fp, "%s%s=%s", i ? " " : "", f[i].key, f[i].value);
	fputs("\n.Ed\n.Bl -tag -width up_ms\n", fp);
	for (size_t i = 0; i < n; i++) {
		fprintf(fp, ".It Cm %s\n", f[i].key);
		roff_sentence(fp, f[i].text);
	}
	fputs(".El\n.Pp\nThe values:\n.Bl -tag -width SUBJECT\n", fp);
	for (size_t i = 0; i < nv; i++) {
		fprintf(fp, ".It Ar %s\n", v[i].key);
		roff_sentence(fp, v[i].text);
	}
	fputs(".El\n", fp);
}

static const struct gen {
	const char	*name;
	void		(*fn)(FILE *);
} gens[] = {
	{ "keys", gen_keys },
	{ "resources", gen_resources },
	{ "reasons", gen_reasons },
	{ "audit-events", gen_audit },
	{ "metrics", gen_metrics },
	{ "request-line", gen_reqline },
};

static const struct gen *
gen_find(const char *line)
{
	size_t n = strcspn(line, " \n");

	for (size_t i = 0; i < sizeof(gens) / sizeof(gens[0]); i++)
		if (strlen(gens[i].name) == n &&
		    strncmp(gens[i].name, line, n) == 0)
			return &gens[i];
	return NULL;
}

/* A documented key of that name ("dtls.mtu", "labels.<label>.ca"). */
static bool
key_known(const char *name, size_t len)
{
	struct config_keydoc d;

	if (len == strlen("labels.<label>") &&
	    strncmp(name, "labels.<label>", len) == 0)
		return true;	/* the object of one label */
	for (size_t i = 0; config_keydoc(i, &d); i++)
		if (strlen(d.path) == len && strncmp(d.path, name, len) == 0)
			return true;
	return false;
}

/*
 * Every key path a hand-written macro line names after Cm (a word with a
 * dot inside, as "Cm upstream.url") must be one the daemon has: a key
 * that was renamed or removed fails here.
 */
static void
check_keys(const char *in, unsigned lno, const char *line)
{
	const char *p = line;

	if (*line != '.')
		return;
	while ((p = strstr(p, "Cm ")) != NULL) {
		size_t n;

		p += 3;
		n = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789_.<>");
		if (n > 2 && memchr(p, '.', n) != NULL && p[n - 1] != '.' &&
		    *p != '.' && !key_known(p, n))
			die("%s:%u: %.*s is not a key of the schema", in, lno,
			    (int)n, p);
	}
}

/* Copy in to out, writing every generated block anew. */
static void
splice(const char *in, const char *out)
{
	FILE			*fi, *fo;
	char			 line[4096];
	const struct gen	*g = NULL;
	unsigned		 lno = 0, blocks = 0;

	if ((fi = fopen(in, "r")) == NULL)
		die("%s: cannot read", in);
	if ((fo = fopen(out, "w")) == NULL)
		die("%s: cannot write", out);
	while (fgets(line, sizeof(line), fi) != NULL) {
		lno++;
		if (strncmp(line, MARK_BEGIN, strlen(MARK_BEGIN)) == 0) {
			if (g != NULL)
				die("%s:%u: BEGIN inside a generated block",
				    in, lno);
			if ((g = gen_find(line + strlen(MARK_BEGIN))) == NULL)
				die("%s:%u: no generator named so", in, lno);
			fputs(line, fo);
			g->fn(fo);
			blocks++;
			continue;
		}
		if (strncmp(line, MARK_END, strlen(MARK_END)) == 0) {
			if (g == NULL || gen_find(line + strlen(MARK_END)) != g)
				die("%s:%u: END without its BEGIN", in, lno);
			g = NULL;
		}
		if (g == NULL) {
			check_keys(in, lno, line);
			fputs(line, fo);
		}
	}
	if (g != NULL)
		die("%s: block %s has no END", in, g->name);
	if (blocks == 0)
		die("%s: no generated block", in);
	fclose(fi);
	if (fclose(fo) != 0)
		die("%s: write failed", out);
}

/* Example values for keys that have no default but must be set. */
static const struct example {
	const char	*path;
	const char	*json;
} examples[] = {
	{ "dtls.cert", "\"/etc/estcoapd/dtls.crt\"" },
	{ "dtls.key", "\"/etc/estcoapd/dtls.key\"" },
	{ "dtls.client_ca", "\"/etc/estcoapd/device-ca.pem\"" },
	{ "upstream.url", "\"https://est.example.net\"" },
	{ "upstream.client_cert", "\"/etc/estcoapd/ra.crt\"" },
	{ "upstream.client_key", "\"/etc/estcoapd/ra.key\"" },
	{ "upstream.ca", "\"/etc/estcoapd/upstream-ca.pem\"" },
	/* its default is dtls.client_ca */
	{ "auth.trust", "[\"/etc/estcoapd/device-ca.pem\"]" },
};

/*
 * Keys left out of the defaults file although they have a default: the
 * daemon refuses them unless another key has a value that is not its
 * default, so they cannot be written at their default.
 */
static const char *const only_with_other[] = {
	"auth.csr_identity_attributes",	/* only with csr_identity "attribute" */
};

/* The object at a dotted path's parent, made on the way. */
static cJSON *
json_parent(cJSON *root, const char *path, const char **leaf)
{
	char	 seg[64];
	cJSON	*o = root, *c;

	while ((*leaf = strchr(path, '.')) != NULL) {
		snprintf(seg, sizeof(seg), "%.*s", (int)(*leaf - path), path);
		if ((c = cJSON_GetObjectItemCaseSensitive(o, seg)) == NULL)
			c = cJSON_AddObjectToObject(o, seg);
		o = c;
		path = *leaf + 1;
	}
	*leaf = path;
	return o;
}

/* Print v as estcoapd's samples are written: tabs, short arrays inline. */
static void
json_put(FILE *fp, const cJSON *v, int depth, bool inl)
{
	const cJSON *c;

	if (cJSON_IsObject(v) && v->child == NULL) {
		fputs("{}", fp);
	} else if (cJSON_IsObject(v)) {
		fputs(inl ? "{ " : "{\n", fp);
		for (c = v->child; c != NULL; c = c->next) {
			if (!inl)
				fprintf(fp, "%.*s", depth + 1,
				    "\t\t\t\t\t\t\t\t");
			/* keys are names of the schema: nothing to escape */
			fprintf(fp, "\"%s\": ", c->string);
			json_put(fp, c, depth + 1, inl);
			fputs(c->next != NULL ? (inl ? ", " : ",\n") :
			    (inl ? " " : "\n"), fp);
		}
		if (!inl)
			fprintf(fp, "%.*s", depth, "\t\t\t\t\t\t\t\t");
		fputc('}', fp);
	} else if (cJSON_IsArray(v) && v->child == NULL) {
		fputs("[]", fp);
	} else if (cJSON_IsArray(v)) {
		fputs("[ ", fp);
		for (c = v->child; c != NULL; c = c->next) {
			json_put(fp, c, depth + 1, true);
			fputs(c->next != NULL ? ", " : " ", fp);
		}
		fputc(']', fp);
	} else {
		char *s = cJSON_PrintUnformatted(v);

		fputs(s, fp);
		free(s);
	}
}

/* defaults: every top-level key at its default, required ones at an example. */
static void
defaults(const char *out)
{
	struct config_keydoc	 d;
	cJSON			*root = cJSON_CreateObject(), *v, *parent;
	FILE			*fp;

	for (size_t i = 0; config_keydoc(i, &d); i++) {
		const char *leaf = NULL, *json = d.def;

		if (d.label || (d.section && d.def[0] == '\0'))
			continue;
		for (size_t j = 0; j < sizeof(only_with_other) /
		    sizeof(only_with_other[0]); j++)
			if (strcmp(only_with_other[j], d.path) == 0)
				d.def[0] = '\0';	/* absent, as for no default */
		for (size_t j = 0; j < sizeof(examples) / sizeof(examples[0]);
		    j++)
			if (strcmp(examples[j].path, d.path) == 0)
				json = examples[j].json;
		if (json[0] == '\0') {
			if (d.required)
				die("%s is required and has no example value "
				    "in tools/docgen.c", d.path);
			continue;	/* no default: the key is absent */
		}
		if ((v = cJSON_Parse(json)) == NULL)
			die("%s: default %s is not JSON", d.path, json);
		parent = json_parent(root, d.path, &leaf);
		cJSON_AddItemToObject(parent, leaf, v);
	}
	if ((fp = fopen(out, "w")) == NULL)
		die("%s: cannot write", out);
	json_put(fp, root, 0, false);
	fputc('\n', fp);
	cJSON_Delete(root);
	if (fclose(fp) != 0)
		die("%s: write failed", out);
}

int
main(int argc, char *argv[])
{
	if (argc == 4 && strcmp(argv[1], "splice") == 0)
		splice(argv[2], argv[3]);
	else if (argc == 3 && strcmp(argv[1], "defaults") == 0)
		defaults(argv[2]);
	else {
		fprintf(stderr, "usage: estcoapd-docgen splice IN OUT\n"
		    "       estcoapd-docgen defaults OUT\n");
		return 2;
	}
	return 0;
}
