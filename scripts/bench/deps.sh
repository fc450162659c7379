#!/bin/sh
# The extra Debian 12 packages `make bench` needs beyond scripts/deps.sh:
# gnuplot for the PNG plots, python3 for the report, taskset for pinning.
# make check does not need them.  As root it installs what is missing.
set -eu
PKGS="gnuplot-nox python3 util-linux jq"
missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
	echo "bench deps: installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq $missing >/dev/null
else
	echo "bench deps: missing packages; run as root:" >&2
	echo "  apt-get install -y$missing" >&2
	exit 1
fi
