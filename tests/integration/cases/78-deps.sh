#!/usr/bin/env bash
# scripts/deps.sh changes nothing on the machine beyond installing its
# packages. Run against stand-ins for dpkg-query, apt-get, id and
# systemctl (PATH) and a policy-rc.d path of the test's own (POLICY_RC):
# while a package installs, a policy-rc.d refuses every service start;
# afterwards none is left, also when the install fails or the script is
# interrupted; one that was there before (Docker has one) is used as it is
# and left unchanged; nginx is disabled for the next boot only when this
# run installed it.
. "$(dirname "$0")/../lib.sh"

FAKE=$T/bin
RC=$T/policy-rc.d
mkdir -p "$FAKE"
# every package is installed but those listed in $T/missing
cat >"$FAKE/dpkg-query" <<'SH'
#!/bin/sh
p=$(eval echo "\${$#}")
grep -qx "$p" "$T/missing" 2>/dev/null && exit 1
echo "install ok installed"
SH
# apt-get: record what policy-rc.d said; APT_MODE=fail|hang
cat >"$FAKE/apt-get" <<'SH'
#!/bin/sh
[ "$1" = update ] && exit 0
if [ -x "$POLICY_RC" ]; then
	"$POLICY_RC" nginx start; echo "rc=$?" >>"$T/apt.log"
else
	echo "rc=none" >>"$T/apt.log"
fi
for a; do case $a in -*|install) ;; *) sed -i "/^$a\$/d" "$T/missing" ;; esac; done
case ${APT_MODE:-} in
fail) exit 100 ;;
hang) touch "$T/hanging"; sleep 60 ;;
esac
exit 0
SH
printf '#!/bin/sh\necho 0\n' >"$FAKE/id"
printf '#!/bin/sh\necho "$*" >>"$T/systemctl.log"\n' >"$FAKE/systemctl"
chmod 755 "$FAKE"/*
export T POLICY_RC=$RC

deps() {
	: >"$T/apt.log"
	PATH=$FAKE:$PATH "$TOP/scripts/deps.sh" >"$T/deps.out" 2>&1
}

# 1. nothing there: ours during the install, gone afterwards
printf 'jq\nnginx-light\n' >"$T/missing"
deps || fail "deps.sh failed: $(cat "$T/deps.out")"
grep -q "^rc=101$" "$T/apt.log" ||
    fail "no policy-rc.d refused starts during the install: $(cat "$T/apt.log")"
[ ! -e "$RC" ] || fail "deps.sh left its policy-rc.d behind"
ok "policy-rc.d of our own during the install, none left"

# 2. a failed install leaves none either
printf 'jq\n' >"$T/missing"
APT_MODE=fail deps || true
grep -q "^rc=101$" "$T/apt.log" || fail "no policy-rc.d in a failed install"
[ ! -e "$RC" ] || fail "a failed install left policy-rc.d behind"
ok "a failed install leaves no policy-rc.d"

# 3. interrupted in the middle of an install (a signal to the group; an
# asynchronous job of a script ignores SIGINT, so SIGTERM stands in)
printf 'jq\n' >"$T/missing"
rm -f "$T/hanging"
: >"$T/apt.log"
APT_MODE=hang PATH=$FAKE:$PATH setsid "$TOP/scripts/deps.sh" \
    >"$T/deps.out" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
	[ -e "$T/hanging" ] && break
	sleep 0.1
done
[ -e "$T/hanging" ] || fail "the stand-in apt-get never ran"
[ -e "$RC" ] || fail "no policy-rc.d while installing"
kill -TERM -- -"$pid"
wait "$pid" 2>/dev/null || true
[ ! -e "$RC" ] || fail "an interrupted deps.sh left policy-rc.d behind"
ok "an interrupted install leaves no policy-rc.d"

# 4. one that was there (Docker's) is used and left exactly as it was
printf '#!/bin/sh\n# Docker: no services in image builds\nexit 101\n' >"$RC"
chmod 755 "$RC"
cp "$RC" "$T/rc.before"
printf 'jq\n' >"$T/missing"
deps || fail "deps.sh failed: $(cat "$T/deps.out")"
cmp -s "$RC" "$T/rc.before" || fail "deps.sh changed an existing policy-rc.d"
grep -q "^rc=101$" "$T/apt.log" || fail "the existing policy-rc.d was not in force"
# and an existing dangling link is not written through either
rm -f "$RC"
ln -s "$T/nowhere" "$RC"
deps || true
[ -L "$RC" ] && [ ! -e "$T/nowhere" ] ||
    fail "deps.sh wrote through a policy-rc.d symlink"
rm -f "$RC"
ok "an existing policy-rc.d is used and never changed or removed"

# 5. nginx: disabled only when this run installed it (systemd machines)
if [ -d /run/systemd/system ]; then
	: >"$T/systemctl.log"
	printf 'nginx-light\n' >"$T/missing"
	deps || true
	grep -q "disable --now nginx" "$T/systemctl.log" ||
	    fail "a freshly installed nginx was not disabled"
	: >"$T/systemctl.log"
	: >"$T/missing"
	deps || true
	[ ! -s "$T/systemctl.log" ] ||
	    fail "deps.sh touched an nginx it did not install"
	ok "nginx disabled only when this run installed it"
else
	ok "not booted with systemd: nothing is enabled for a boot"
fi
done_case
