#!/usr/bin/env bash
# No include circle among the daemon's modules: a module is src/NAME.c
# with include/NAME.h (a header without a .c is a module of its own); it
# depends on every module whose header its .c or .h includes with
# #include "...". tsort(1) finds any loop in that graph. Prints the
# loops and fails, or prints nothing. Run by make check before the build.
set -euo pipefail
cd "$(dirname "$0")/.."
edges() {
	local f mod inc
	for f in src/*.c include/*.h; do
		mod=$(basename "$f"); mod=${mod%.*}
		echo "$mod $mod"
		sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)\.h".*/\1/p' \
		    "$f" | while read -r inc; do
			[ -f "include/$inc.h" ] && [ "$inc" != "$mod" ] &&
			    echo "$mod $inc"
		done
	done
}
if ! out=$(edges | tsort 2>&1 >/dev/null); then
	echo "includes: modules of src/ that include each other in a circle:"
	echo "$out" | sed -n 's/^tsort: //p' | awk '
	    /input contains a loop/ { if (l != "") print "    " l; l = ""; next }
	    { l = l (l == "" ? "" : " -> ") $0 }
	    END { if (l != "") print "    " l }' | sort -u
	exit 1
fi
