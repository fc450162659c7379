#!/usr/bin/env bash
# The Debian package: `make deb` (scripts/deb.sh) builds
# estcoapd_<version>_amd64.deb, lintian-clean, with the version of
# include/estcoapd.h; it holds the daemon, the man pages, both units, the
# sysusers file, the sample as the conffile /etc/estcoapd/estcoapd.json
# and the examples. Installed with dpkg -i: the daemon reports that
# version, passes -t on the installed sample (its file names moved to the
# test PKI), the units pass systemd-analyze verify, the estcoapd user
# exists and no service was started. dpkg --purge then removes every file
# it installed; the user stays (Debian policy), and the case removes it
# when the case made it. Nothing is left on the machine.
#
# Needs root, debhelper, lintian and systemd-sysusers (the package depends
# on it); skipped otherwise, and when an estcoapd package is installed
# here already. Not repeated in the ASan run: the package is built from
# the source, not from $BUILD.
# run.sh: alone (needs the whole machine; run after the others)
. "$(dirname "$0")/../lib.sh"

case $BUILD in
*/asan*) skip "the package is built from the source; the plain run tests it" ;;
esac
[ "$(id -u)" -eq 0 ] || skip "dpkg -i needs root"
for c in dpkg-buildpackage dh lintian; do
	command -v "$c" >/dev/null 2>&1 ||
	    skip "$c not installed (apt-get install debhelper lintian)"
done
command -v systemd-sysusers >/dev/null 2>&1 ||
    skip "systemd-sysusers not installed: the package depends on it"
[ ! -e /var/log/estcoapd ] ||
    skip "/var/log/estcoapd exists on this machine; not touching it"

VERSION=$(sed -n 's/^#define ESTCOAPD_VERSION[^"]*"\([^"]*\)".*/\1/p' \
    "$TOP/include/estcoapd.h")
ARCH=$(dpkg-architecture -qDEB_HOST_ARCH)
DEB=$T/out/estcoapd_${VERSION}_$ARCH.deb
# one package test at a time on this machine, whichever tree it runs from
# (flock on the dpkg directory itself: no lock file is left behind)
exec 8</var/lib/dpkg
flock -w 600 8 || skip "another package test held the lock for 10 minutes"
if dpkg-query -W -f='${Status}' estcoapd 2>/dev/null | grep -q installed; then
	skip "an estcoapd package is installed on this machine; not touching it"
fi
USER_BEFORE=$(getent passwd estcoapd || true)
GROUP_BEFORE=$(getent group estcoapd || true)
INSTALLED=""
LOGDIR=""

# Whatever happens, leave the machine as it was: no package, no user we
# made, then the usual cleanup.
deb_cleanup() {
	rc=$?
	if [ -n "$INSTALLED" ]; then
		dpkg --purge estcoapd >/dev/null 2>&1 || rc=1
	fi
	[ -z "$LOGDIR" ] || rm -rf /var/log/estcoapd
	if [ -z "$USER_BEFORE" ] && getent passwd estcoapd >/dev/null; then
		userdel estcoapd >/dev/null 2>&1 || true
	fi
	if [ -z "$GROUP_BEFORE" ] && getent group estcoapd >/dev/null; then
		groupdel estcoapd >/dev/null 2>&1 || true
	fi
	(exit "$rc")
	cleanup
}
trap deb_cleanup EXIT

# what lives where this package installs, enables and logs (names only;
# the rest of the machine is other processes' business)
snapshot() {
	find /etc/estcoapd /etc/systemd /lib/systemd/system /usr/sbin \
	    /usr/lib/sysusers.d /usr/share/man/man5 /usr/share/man/man8 \
	    /usr/share/doc/estcoapd /var/lib/systemd/deb-systemd-helper-enabled \
	    /var/lib/systemd/deb-systemd-helper-masked /var/log/estcoapd \
	    /var/lib/dpkg/info -xdev 2>/dev/null | grep -v '^/var/lib/dpkg/info/' |
	    sort
	ls /var/lib/dpkg/info/estcoapd.* 2>/dev/null || true
}

# --- build ---------------------------------------------------------------
DEB_OUT=$T/out "$TOP/scripts/deb.sh" >"$T/extra-deb.log" 2>&1 ||
    fail "make deb failed: $(tail -n 30 "$T/extra-deb.log")"
[ -f "$DEB" ] || fail "no $(basename "$DEB"): $(ls "$T/out")"
grep -q "lintian: no errors, no warnings" "$T/extra-deb.log" ||
    fail "lintian: $(cat "$T/extra-deb.log")"
ok "make deb: $(basename "$DEB"), lintian reports no errors or warnings"

dpkg-deb -c "$DEB" | awk '{ print $6 }' | sed 's|^\./|/|' >"$T/contents"
for f in /usr/sbin/estcoapd /usr/share/man/man8/estcoapd.8.gz \
    /usr/share/man/man5/estcoapd.json.5.gz \
    /lib/systemd/system/estcoapd.service \
    /lib/systemd/system/estcoapd@.service \
    /usr/lib/sysusers.d/estcoapd.conf /etc/estcoapd/estcoapd.json \
    /usr/share/doc/estcoapd/examples/nginx-estcoapd.conf \
    /usr/share/doc/estcoapd/examples/estcoapd-workers.nft \
    /usr/share/doc/estcoapd/examples/estcoapd-defaults.json \
    /usr/share/doc/estcoapd/copyright; do
	grep -qx "$f" "$T/contents" || fail "the package lacks $f"
done
dpkg-deb -f "$DEB" Version | grep -qx "$VERSION" ||
    fail "package version $(dpkg-deb -f "$DEB" Version), source $VERSION"
mkdir -p "$T/ctl"
dpkg-deb -e "$DEB" "$T/ctl"
grep -qx /etc/estcoapd/estcoapd.json "$T/ctl/conffiles" ||
    fail "/etc/estcoapd/estcoapd.json is not a conffile"
ok "daemon, man pages, both units, sysusers, conffile, examples; version $VERSION"

# --- install -------------------------------------------------------------
snapshot >"$T/before"
INSTALLED=1
dpkg -i "$DEB" >"$T/extra-dpkg.log" 2>&1 ||
    fail "dpkg -i: $(cat "$T/extra-dpkg.log")"
/usr/sbin/estcoapd -V | grep -q "^estcoapd $VERSION" ||
    fail "installed estcoapd -V: $(/usr/sbin/estcoapd -V)"
ok "dpkg -i installed estcoapd $VERSION"

# the installed sample, with the files it names taken from the test PKI
mkdir -p "$T/etc" "$T/log"
for f in dtls.crt dtls.key dtls-chain.pem ra.crt ra.key; do
	cp "$PKI/$f" "$T/etc/$f"
done
cp "$PKI/device-ca.crt" "$T/etc/device-ca.pem"
cp "$PKI/root-ca.crt" "$T/etc/upstream-ca.pem"
sed -e "s|/etc/estcoapd/|$T/etc/|g" -e "s|/var/log/estcoapd/|$T/log/|g" \
    /etc/estcoapd/estcoapd.json >"$T/installed.json"
out=$(/usr/sbin/estcoapd -t -c "$T/installed.json" 2>&1) ||
    fail "estcoapd -t on the installed sample: $out"
ok "estcoapd -t passes on the installed /etc/estcoapd/estcoapd.json"

if command -v systemd-analyze >/dev/null 2>&1; then
	ln -s /lib/systemd/system/estcoapd@.service "$T/estcoapd@site1.service"
	for u in /lib/systemd/system/estcoapd.service \
	    "$T/estcoapd@site1.service"; do
		set +e
		systemd-analyze verify "$u" >"$T/verify.out" 2>&1
		rc=$?
		set -e
		[ "$rc" -eq 0 ] && [ ! -s "$T/verify.out" ] ||
		    fail "systemd-analyze verify $u: $(cat "$T/verify.out")"
	done
	ok "systemd-analyze verify: both installed units clean"
else
	ok "systemd-analyze not installed: unit verification skipped"
fi

pw=$(getent passwd estcoapd) || fail "the package made no estcoapd user"
case $pw in
*:/nonexistent:/usr/sbin/nologin|*:/nonexistent:/sbin/nologin) ;;
*) fail "estcoapd user is not a system user without login: $pw" ;;
esac
[ "$(echo "$pw" | cut -d: -f3)" -lt 1000 ] || fail "estcoapd uid: $pw"
ok "system user estcoapd: $pw"

pgrep -f '^/usr/sbin/estcoapd' >/dev/null && fail "the install started estcoapd"
if [ -d /run/systemd/system ]; then
	systemctl is-enabled estcoapd.service >/dev/null 2>&1 &&
	    fail "the install enabled estcoapd.service"
fi
ok "nothing started or enabled"

# --- purge ---------------------------------------------------------------
# as if the service had run: systemd made its LogsDirectory=
LOGDIR=1
mkdir -m 0750 /var/log/estcoapd
echo '{"event":"issued"}' >/var/log/estcoapd/audit.log
dpkg --purge estcoapd >"$T/extra-purge.log" 2>&1 ||
    fail "dpkg --purge: $(cat "$T/extra-purge.log")"
INSTALLED=""
dpkg-query -W -f='${Status}' estcoapd 2>/dev/null | grep -q installed &&
    fail "estcoapd still installed after the purge"
while read -r f; do
	[ -d "$f" ] || [ ! -e "$f" ] || fail "the purge left $f"
done <"$T/contents"
[ ! -e /etc/estcoapd ] || fail "the purge left /etc/estcoapd: $(ls -A /etc/estcoapd)"
getent passwd estcoapd >/dev/null ||
    fail "the purge removed the estcoapd user (Debian policy keeps it)"
snapshot >"$T/after"
diff "$T/before" "$T/after" >"$T/extra-leftover.log" ||
    fail "the machine differs after the purge: $(cat "$T/extra-leftover.log")"
[ ! -e /var/log/estcoapd ] || fail "the purge left /var/log/estcoapd"
ok "dpkg --purge removed every file and the log directory; the user stays"
done_case
