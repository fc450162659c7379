#!/bin/sh
# The one list of Debian 12 packages estcoapd builds, tests and demos with.
# Run as root it installs what is missing; otherwise it prints the command.
#
# It changes nothing else on the machine: no package it installs may start
# a service (a /usr/sbin/policy-rc.d of our own, made only where there is
# none and removed on every way out, even Ctrl-C; one that was there, such
# as Docker's, is used as it is and never touched), and a service a package
# of ours enables for the next boot (nginx) is disabled again, but only when
# this run installed it.
set -eu

PKGS="build-essential pkg-config make libcoap3-dev libcoap3-bin libssl-dev
openssl libcurl4-openssl-dev curl iproute2 libevent-dev libcjson-dev libcmocka-dev
mandoc jq clang libclang-rt-14-dev valgrind"

# Optional: the nftables spreader test of service.workers, the nginx UDP
# load-balancer test, and the Debian package (make deb, its lintian check
# and its install test). Their cases skip without them; a failed install
# only warns.
OPT_PKGS="nftables nginx-light libnginx-mod-stream debhelper lintian"

# (POLICY_RC: another path, for tests/integration/cases/78-deps.sh only)
RC=${POLICY_RC:-/usr/sbin/policy-rc.d}
RC_MARK="# estcoapd scripts/deps.sh: no service starts during install"
rc_ours=""

# no_start_begin: a policy-rc.d that refuses every start, if there is none.
no_start_begin() {
	if [ ! -e "$RC" ] && [ ! -L "$RC" ]; then
		rc_ours=1
		printf '#!/bin/sh\n%s\nexit 101\n' "$RC_MARK" >"$RC"
		chmod 755 "$RC"
	fi
}

# no_start_end: remove it again, and only if it is still ours.
no_start_end() {
	if [ -n "$rc_ours" ] && [ -f "$RC" ] &&
	    [ "$(sed -n 2p "$RC")" = "$RC_MARK" ]; then
		rm -f "$RC"
	fi
	rc_ours=""
}
trap no_start_end EXIT
trap 'no_start_end; exit 130' INT TERM HUP

installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null |
	    grep -q "install ok installed"
}

# apt_install PKG...: with no service starting, and nginx disabled for the
# next boot when it is one of the packages this run installs.
apt_install() {
	no_start_begin
	rc=0
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" \
	    >/dev/null 2>&1 || rc=$?
	no_start_end
	for p in "$@"; do
		case $p in
		nginx-*)
			installed "$p" || continue
			if [ -d /run/systemd/system ]; then
				systemctl disable --now nginx >/dev/null 2>&1 ||
				    true
			fi
			;;
		esac
	done
	return "$rc"
}

# install_optional: best effort.
install_optional() {
	want=""
	for p in $OPT_PKGS; do
		installed "$p" || want="$want $p"
	done
	[ -n "$want" ] || return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps: optional, for the workers, nginx and package tests:" >&2
		echo "  apt-get install -y$want" >&2
		return 0
	fi
	echo "deps: installing (optional):$want"
	# shellcheck disable=SC2086
	apt_install $want || echo "deps: optional packages not installed;" \
	    "the workers-nft, nginx and package cases will skip" >&2
	return 0
}

missing=""
for p in $PKGS; do
	installed "$p" || missing="$missing $p"
done
if [ -z "$missing" ]; then
	install_optional
	exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
	echo "deps: installing:$missing"
	apt-get update -qq
	# shellcheck disable=SC2086
	apt_install $missing || { echo "deps: apt-get install failed" >&2; exit 1; }
	install_optional
else
	echo "deps: missing packages; run as root:" >&2
	echo "  apt-get install -y$missing" >&2
	exit 1
fi
