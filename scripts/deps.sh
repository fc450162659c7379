#!/bin/sh
# The one list of Debian 12 packages estcoapd builds, tests and demos with.
# Run as root it installs what is missing; otherwise it prints the command.
set -eu

PKGS="build-essential pkg-config make libcoap3-dev libcoap3-bin libssl-dev
openssl libcurl4-openssl-dev curl iproute2 libevent-dev libcjson-dev libcmocka-dev
mandoc jq clang libclang-rt-14-dev valgrind"

# Optional: the nftables spreader test of service.workers and the nginx
# UDP load-balancer test. Their cases skip without them; a failed install
# only warns.
OPT_PKGS="nftables nginx-light libnginx-mod-stream"

# install_optional: best effort, and without starting nginx on port 80:
# a policy-rc.d of our own (only if there is none) keeps the postinst
# from starting the default site.
install_optional() {
	want="" ours=""
	for p in $OPT_PKGS; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		    grep -q "install ok installed" || want="$want $p"
	done
	[ -n "$want" ] || return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps: optional, for the workers and nginx tests:" >&2
		echo "  apt-get install -y$want" >&2
		return 0
	fi
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\n# deps.sh: no service starts during install\nexit 101\n' \
		    >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		ours=1
	fi
	echo "deps: installing (optional):$want"
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $want \
	    >/dev/null 2>&1 || echo "deps: optional packages not installed;" \
	    "the workers-nft and nginx cases will skip" >&2
	[ -z "$ours" ] || rm -f /usr/sbin/policy-rc.d
	# a machine that boots with systemd must not serve port 80 either
	if [ -d /run/systemd/system ] && dpkg-query -W nginx-light >/dev/null 2>&1
	then
		systemctl disable --now nginx >/dev/null 2>&1 || true
	fi
	return 0
}

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
if [ -z "$missing" ]; then
	install_optional
	exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
	echo "deps: installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq $missing >/dev/null
	install_optional
else
	echo "deps: missing packages; run as root:" >&2
	echo "  apt-get install -y$missing" >&2
	exit 1
fi
