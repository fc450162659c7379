#!/bin/sh
# make deb: build/estcoapd_<version>_amd64.deb with the Debian tools
# (dpkg-buildpackage, debhelper: debian/), then lintian on it, which must
# report no error and no warning.
#
# The build runs on a copy of the source tree under build/deb/ (the Debian
# tools write next to the tree they build), where debian/changelog is
# written from the one version of the source: ESTCOAPD_VERSION in
# include/estcoapd.h, which estcoapd -V prints too.
# DEB_OUT: where the .deb goes (default build/). NO_LINTIAN=1 skips lintian.
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
out=${DEB_OUT:-$top/build}

need=""
command -v dpkg-buildpackage >/dev/null 2>&1 || need="$need dpkg-dev"
command -v dh >/dev/null 2>&1 || need="$need debhelper"
[ -n "${NO_LINTIAN:-}" ] || command -v lintian >/dev/null 2>&1 ||
    need="$need lintian"
if [ -n "$need" ]; then
	echo "deb: missing:$need (apt-get install$need)" >&2
	exit 3
fi

version=$(sed -n 's/^#define ESTCOAPD_VERSION[^"]*"\([^"]*\)".*/\1/p' \
    include/estcoapd.h)
[ -n "$version" ] || { echo "deb: no ESTCOAPD_VERSION" >&2; exit 1; }
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
work=$top/build/deb
src=$work/estcoapd-$version

rm -rf "$work"
mkdir -p "$src" "$out"
# the files of the source tree (tracked, or new and not ignored)
git ls-files -co --exclude-standard -- Makefile mk src include man conf \
    systemd debian README.md | tar -cf - -T - | tar -xf - -C "$src"

# the changelog: this version, dated by the last commit
date=$(git log -1 --format=%cD 2>/dev/null || date -R)
cat >"$src/debian/changelog" <<CL
estcoapd ($version) unstable; urgency=medium

  * Built from the source tree by make deb.

 -- estcoapd developers <estcoapd@example.org>  $date
CL

echo "deb: building estcoapd $version ($arch) in $src"
(cd "$src" && DEB_BUILD_OPTIONS="noddebs parallel=2 ${DEB_BUILD_OPTIONS:-}" \
    dpkg-buildpackage -b -us -uc >"$work/build.log" 2>&1) || {
	tail -n 40 "$work/build.log" >&2
	echo "deb: dpkg-buildpackage failed; see $work/build.log" >&2
	exit 1
}
deb=estcoapd_${version}_$arch.deb
cp "$work/$deb" "$out/$deb"
echo "deb: $out/$deb"

if [ -z "${NO_LINTIAN:-}" ]; then
	# overrides, each with its reason, are in debian/estcoapd.lintian-overrides
	lintian --fail-on error,warning --info "$work/$deb" \
	    >"$work/lintian.log" 2>&1 || {
		cat "$work/lintian.log" >&2
		echo "deb: lintian reports errors or warnings" >&2
		exit 1
	}
	echo "deb: lintian: no errors, no warnings" \
	    "($(grep -c . "$work/lintian.log" || true) notes)"
fi
