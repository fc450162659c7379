#!/bin/sh
#
# promcheck.sh FILE: check that FILE ("-" for standard input) is valid
# Prometheus text exposition format 0.0.4. Exit 0 if it is; 1 with a
# message naming the first bad line if it is not; 2 on bad usage.
#
# Checked: the file is UTF-8 with no NUL and ends in a newline; metric and
# label names; label value escapes (\\ \" \n only); values (a decimal
# float, +Inf, -Inf or NaN) and optional integer timestamps; one HELP and
# one TYPE per family, both before its samples; TYPE is counter, gauge,
# histogram, summary or untyped; the lines of a family form one group; no
# series appears twice; counters are not negative; histograms have
# _bucket series with le ascending, cumulative counts and a last +Inf
# bucket equal to _count, plus _sum and _count; summary samples carry a
# quantile. Stricter than Prometheus where our output never goes: no
# blanks inside braces, no trailing comma in a label set, only the three
# spellings above for non-finite values. Leading and trailing blanks and
# empty lines are ignored, as the format says.
#
# POSIX sh and awk only.

set -eu

prog=promcheck

usage() {
	echo "usage: $prog FILE" >&2
	exit 2
}

[ $# -eq 1 ] || usage
file=$1
tmp=
trap '[ -z "$tmp" ] || rm -f "$tmp"' EXIT
trap 'exit 2' HUP INT TERM

if [ "$file" = - ]; then
	tmp=$(mktemp "${TMPDIR:-/tmp}/promcheck.XXXXXX")
	cat >"$tmp"
	file=$tmp
	name="(stdin)"
else
	name=$file
fi
if [ ! -f "$file" ] || [ ! -r "$file" ]; then
	echo "$prog: $name: cannot read" >&2
	exit 2
fi

if [ -s "$file" ] && [ "$(tail -c 1 "$file" | od -An -c | tr -d ' ')" != '\n' ]
then
	echo "$prog: $name: last line does not end in a newline" >&2
	exit 1
fi
if ! tr -d '\000' <"$file" | cmp -s - "$file"; then
	echo "$prog: $name: contains a NUL byte" >&2
	exit 1
fi
if command -v iconv >/dev/null 2>&1 &&
    ! iconv -f UTF-8 -t UTF-8 <"$file" >/dev/null 2>&1; then
	echo "$prog: $name: not valid UTF-8" >&2
	exit 1
fi

# The name goes through the environment: awk -v would expand backslashes.
PROMCHECK_NAME=$name LC_ALL=C awk '
function fail(msg) {
	printf "promcheck: %s:%d: %s: %s\n", name, NR, msg, $0
	failed = 1
	exit 1
}

function isfloat(v) {
	return v ~ /^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$/
}

function isvalue(v) {
	return isfloat(v) || v == "+Inf" || v == "-Inf" || v == "NaN"
}

# The family a line about metric m belongs to; closes the previous group.
function enter(fam) {
	if (fam == cur)
		return
	if (fam in closed)
		fail("lines of family " fam " are not in one group")
	if (cur != "")
		closed[cur] = 1
	cur = fam
}

# Family of a sample name, given the TYPE lines seen so far.
function family(m,    b) {
	if (m ~ /_bucket$/) {
		b = substr(m, 1, length(m) - 7)
		if ((b in type) && type[b] == "histogram")
			return b
	}
	if (m ~ /_sum$/ || m ~ /_count$/) {
		b = m
		sub(/_(sum|count)$/, "", b)
		if ((b in type) &&
		    (type[b] == "histogram" || type[b] == "summary"))
			return b
	}
	return m
}

# Parse the label set at the start of s (just after "{") into nl, ln[],
# lv[]; return the rest of the line after "}".
function labels(s,    l, v, c, i) {
	nl = 0
	split("", has)
	if (substr(s, 1, 1) == "}")
		return substr(s, 2)
	for (;;) {
		if (!match(s, /^[a-zA-Z_][a-zA-Z0-9_]*/))
			fail("bad label name")
		l = substr(s, 1, RLENGTH)
		s = substr(s, RLENGTH + 1)
		if (l ~ /^__/)
			fail("label name " l " is reserved")
		if (l in has)
			fail("label " l " given twice")
		has[l] = 1
		if (substr(s, 1, 2) != "=\"")
			fail("expected =\" after label " l)
		s = substr(s, 3)
		v = ""
		for (;;) {
			match(s, /^[^"\\]*/)
			v = v substr(s, 1, RLENGTH)
			s = substr(s, RLENGTH + 1)
			c = substr(s, 1, 1)
			if (c == "")
				fail("unterminated value of label " l)
			if (c == "\"") {
				s = substr(s, 2)
				break
			}
			c = substr(s, 2, 1)
			if (c != "\\" && c != "\"" && c != "n")
				fail("bad escape in value of label " l)
			v = v substr(s, 1, 2)
			s = substr(s, 3)
		}
		nl++
		ln[nl] = l
		lv[nl] = v
		c = substr(s, 1, 1)
		s = substr(s, 2)
		if (c == "}")
			return s
		if (c != ",")
			fail("expected , or } after value of label " l)
	}
}

# The label set as text in label name order, leaving out label skip.
function lkey(skip,    i, j, t, k, o) {
	for (i = 1; i <= nl; i++)
		o[i] = i
	for (i = 2; i <= nl; i++)
		for (j = i; j > 1 && ln[o[j - 1]] > ln[o[j]]; j--) {
			t = o[j]
			o[j] = o[j - 1]
			o[j - 1] = t
		}
	k = ""
	for (i = 1; i <= nl; i++)
		if (ln[o[i]] != skip)
			k = k "," ln[o[i]] "=\"" lv[o[i]] "\""
	return k
}

function lval(l,    i) {
	for (i = 1; i <= nl; i++)
		if (ln[i] == l)
			return lv[i]
	return ""
}

function haslabel(l,    i) {
	for (i = 1; i <= nl; i++)
		if (ln[i] == l)
			return 1
	return 0
}

# Buckets of one histogram series: le ascending, counts cumulative.
function bucket(fam, m, v,    le, k, lenum) {
	if (!haslabel("le"))
		fail("histogram bucket without an le label")
	if (!isfloat(v) || v ~ /^-/)
		fail("bucket count is not a finite non-negative number")
	le = lval("le")
	k = fam SUBSEP lkey("le")
	hseries[k] = 1
	if (!(k in hfirst))
		hfirst[k] = NR
	if (k in hinf)
		fail("bucket after the +Inf bucket")
	if (le == "+Inf") {
		hinf[k] = v
		hinfline[k] = NR
	} else if (isfloat(le)) {
		lenum = le + 0
		if ((k in hle) && lenum <= hle[k])
			fail("le not ascending")
		hle[k] = lenum
	} else
		fail("le is not a number or +Inf")
	if ((k in hcum) && v + 0 < hcum[k])
		fail("bucket counts are not cumulative")
	hcum[k] = v + 0
	hline[k] = NR
}

BEGIN {
	split("counter gauge histogram summary untyped", t, " ")
	for (i in t)
		types[t[i]] = 1
	cur = ""
	failed = 0
	name = ENVIRON["PROMCHECK_NAME"]
}

{
	sub(/^[ \t]+/, "")
	sub(/[ \t]+$/, "")
}

/^$/ {
	next
}

/^#/ {
	if ($0 ~ /^#[ \t]+HELP([ \t]|$)/) {
		s = $0
		sub(/^#[ \t]+HELP[ \t]+/, "", s)
		if (!match(s, /^[a-zA-Z_:][a-zA-Z0-9_:]*/))
			fail("bad metric name in HELP")
		m = substr(s, 1, RLENGTH)
		d = substr(s, RLENGTH + 1)
		if (d != "" && d !~ /^[ \t]/)
			fail("bad metric name in HELP")
		gsub(/\\\\/, "", d)
		if (d ~ /\\[^n]/ || d ~ /\\$/)
			fail("bad escape in HELP text")
		enter(m)
		if (m in help)
			fail("second HELP for " m)
		if (m in sampled)
			fail("HELP for " m " after its samples")
		help[m] = 1
	} else if ($0 ~ /^#[ \t]+TYPE([ \t]|$)/) {
		if (NF != 4)
			fail("TYPE wants a metric name and a type")
		m = $3
		if (m !~ /^[a-zA-Z_:][a-zA-Z0-9_:]*$/)
			fail("bad metric name in TYPE")
		if (!($4 in types))
			fail("unknown type " $4)
		enter(m)
		if (m in type)
			fail("second TYPE for " m)
		if (m in sampled)
			fail("TYPE for " m " after its samples")
		type[m] = $4
	}
	next
}

{
	if (!match($0, /^[a-zA-Z_:][a-zA-Z0-9_:]*/))
		fail("bad metric name")
	m = substr($0, 1, RLENGTH)
	s = substr($0, RLENGTH + 1)
	nl = 0
	if (substr(s, 1, 1) == "{")
		s = labels(substr(s, 2))
	if (!match(s, /^[ \t]+/))
		fail("expected a blank before the value")
	s = substr(s, RLENGTH + 1)
	n = split(s, f, /[ \t]+/)
	if (n < 1 || n > 2)
		fail("expected a value and an optional timestamp")
	v = f[1]
	if (!isvalue(v))
		fail("bad value " v)
	if (n == 2 && f[2] !~ /^-?[0-9]+$/)
		fail("bad timestamp " f[2])

	fam = family(m)
	enter(fam)
	sampled[fam] = 1
	k = m "{" lkey("") "}"
	if (k in series)
		fail("series repeated from line " series[k])
	series[k] = NR

	ty = (fam in type) ? type[fam] : "untyped"
	if (ty == "counter" && v ~ /^-/)
		fail("negative counter")
	if (ty == "histogram") {
		if (m == fam)
			fail("histogram sample without _bucket, _sum or _count")
		if (m != fam "_bucket" && haslabel("le"))
			fail("le label outside _bucket")
		if (m == fam "_bucket")
			bucket(fam, m, v)
		else if (m == fam "_count") {
			if (!isfloat(v) || v ~ /^-/)
				fail("_count is not finite and non-negative")
			k = fam SUBSEP lkey("")
			hseries[k] = 1
			if (!(k in hfirst))
				hfirst[k] = NR
			hcount[k] = v + 0
			hcountline[k] = NR
		} else {
			k = fam SUBSEP lkey("")
			hseries[k] = 1
			if (!(k in hfirst))
				hfirst[k] = NR
			hsum[k] = 1
		}
	}
	if (ty == "summary") {
		if (m == fam && !haslabel("quantile"))
			fail("summary sample without a quantile label")
		if (m != fam && haslabel("quantile"))
			fail("quantile label on " m)
		if (m == fam && !isvalue(lval("quantile")))
			fail("quantile is not a number")
	}
}

END {
	if (failed)
		exit 1
	for (k in hseries) {
		i = index(k, SUBSEP)
		what = "histogram " substr(k, 1, i - 1) "{" \
		    substr(k, i + 2) "}"
		NR = hfirst[k]
		$0 = what
		if (!(k in hinf))
			fail("no +Inf bucket")
		if (!(k in hcount))
			fail("no _count")
		if (!(k in hsum))
			fail("no _sum")
		NR = hcountline[k]
		if (hinf[k] + 0 != hcount[k])
			fail("_count differs from the +Inf bucket on line " \
			    hinfline[k])
	}
}
' "$file" >&2
