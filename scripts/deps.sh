#!/bin/sh
# The one list of Debian 12 packages estcoapd builds, tests and demos with.
# Run as root it installs what is missing; otherwise it prints the command.
set -eu

PKGS="build-essential pkg-config make libcoap3-dev libcoap3-bin libssl-dev
openssl libcurl4-openssl-dev curl iproute2 libevent-dev libcjson-dev libcmocka-dev
mandoc jq"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
	echo "deps: installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq $missing >/dev/null
else
	echo "deps: missing packages; run as root:" >&2
	echo "  apt-get install -y$missing" >&2
	exit 1
fi
