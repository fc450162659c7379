#!/usr/bin/env bash
# systemd integration. `make install` stages the binary, man pages, sample
# config, units and sysusers file, never touching an existing config; the
# installed units pass `systemd-analyze verify` and the offline security
# review. Then the sd_notify protocol for real: build/notify-listen plays
# PID 1 and the daemon must say READY=1 with a STATUS=, ping WATCHDOG=1
# every WATCHDOG_USEC/2, wrap a SIGHUP reload in RELOADING=1 ... READY=1,
# and end with STOPPING=1 on SIGTERM.
# run.sh: alone (needs the whole machine; run after the others)
. "$(dirname "$0")/../lib.sh"

B=$(cd "$BUILD" && pwd)
[ -x "$B/estcoapd" ] || fail "no daemon at $B/estcoapd"
[ -x "$TOOLS/notify-listen" ] || fail "no $TOOLS/notify-listen (make all)"

# mk DESTDIR PREFIX TARGET: run an install target of the top Makefile on
# the daemon already built in $B; -o keeps make from rebuilding anything.
mk() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$TOP" \
	    -o "$B/estcoapd" BUILD="$B" DESTDIR="$1" PREFIX="$2" "$3" \
	    >>"$T/install.log" 2>&1 || fail "make $3 DESTDIR=$1 PREFIX=$2 \
failed: $(tail -n 5 "$T/install.log")"
}

# --- make install -----------------------------------------------------

R=$T/root
mk "$R" /usr install
[ -x "$R/usr/sbin/estcoapd" ] || fail "install: no $R/usr/sbin/estcoapd"
[ "$(stat -c %a "$R/usr/sbin/estcoapd")" = 755 ] ||
    fail "install: daemon mode is $(stat -c %a "$R/usr/sbin/estcoapd")"
for f in usr/share/man/man8/estcoapd.8 usr/share/man/man5/estcoapd.json.5 \
    etc/estcoapd/estcoapd.json.sample; do
	[ -f "$R/$f" ] || fail "install: no $f"
done
UNIT=$(find "$R" -name estcoapd.service -path '*/system/*' | head -n1)
[ -n "$UNIT" ] || fail "install: no estcoapd.service under $R"
UNITDIR=$(dirname "$UNIT")
[ -f "$UNITDIR/estcoapd@.service" ] || fail "install: no estcoapd@.service"
find "$R" -path '*/sysusers.d/estcoapd.conf' | grep -q . ||
    fail "install: no sysusers.d/estcoapd.conf"
[ ! -e "$R/etc/estcoapd/estcoapd.json" ] ||
    fail "install: created estcoapd.json itself"
ok "make install stages daemon, man pages, sample, units, sysusers"

grep -q '^ExecStart=/usr/sbin/estcoapd -f ' "$UNIT" ||
    fail "PREFIX=/usr: ExecStart is $(grep '^ExecStart=' "$UNIT")"
mk "$T/opt" /opt/estcoapd install
grep -q '^ExecStart=/opt/estcoapd/sbin/estcoapd -f ' \
    "$T/opt${UNITDIR#"$R"}/estcoapd.service" ||
    fail "PREFIX=/opt/estcoapd: ExecStart does not name its SBINDIR"
[ -x "$T/opt/opt/estcoapd/sbin/estcoapd" ] ||
    fail "PREFIX=/opt/estcoapd: daemon not in its SBINDIR"
ok "units name the daemon at the installed SBINDIR"

echo '{ "mine": true }' >"$R/etc/estcoapd/estcoapd.json"
mk "$R" /usr install
grep -q '"mine"' "$R/etc/estcoapd/estcoapd.json" ||
    fail "a second install overwrote the operator's estcoapd.json"
ok "install never overwrites an existing estcoapd.json"

if command -v systemd-sysusers >/dev/null 2>&1; then
	systemd-sysusers --root="$R" --dry-run >"$T/sysusers.out" 2>&1 ||
	    fail "systemd-sysusers: $(cat "$T/sysusers.out")"
	grep -q "user 'estcoapd'" "$T/sysusers.out" ||
	    fail "sysusers file creates no estcoapd user: \
$(cat "$T/sysusers.out")"
	ok "sysusers file parses and creates the estcoapd user"
fi

# --- systemd-analyze --------------------------------------------------

# verify wants ExecStart= to exist on this host and the man pages named in
# Documentation= to be found by man(1). Check a copy of each installed
# unit whose paths point into the staged tree, with MANPATH on the staged
# man pages. verify exits 0 on a parse warning ("Unknown key ...,
# ignoring"), so any output counts as a failure. A template is checked
# through an instance name, as systemd would load it.
if command -v systemd-analyze >/dev/null 2>&1; then
	V=$T/verify
	mkdir -p "$V"
	for u in estcoapd.service estcoapd@.service; do
		sed "s|/usr/sbin/estcoapd|$R/usr/sbin/estcoapd|g" \
		    "$UNITDIR/$u" >"$V/$u"
	done
	ln -s estcoapd@.service "$V/estcoapd@site1.service"
	for u in estcoapd.service estcoapd@site1.service; do
		set +e
		MANPATH=$R/usr/share/man systemd-analyze verify "$V/$u" \
		    >"$T/verify.out" 2>&1
		rc=$?
		set -e
		if [ "$rc" -ne 0 ] || [ -s "$T/verify.out" ]; then
			fail "systemd-analyze verify $u (rc=$rc): \
$(cat "$T/verify.out")"
		fi
		ok "systemd-analyze verify $u: clean"
	done
	# The design's bar is an exposure level "OK"; 2.0 leaves a margin.
	set +e
	MANPATH=$R/usr/share/man systemd-analyze security --offline=true \
	    --threshold=20 "$V/estcoapd.service" >"$T/security.out" 2>&1
	rc=$?
	set -e
	[ "$rc" -eq 0 ] || fail "security exposure above 2.0: \
$(grep 'Overall exposure' "$T/security.out")"
	ok "offline security review: $(grep -o 'level for [^:]*: .*' \
	    "$T/security.out" | sed 's/.*: //')"
else
	ok "systemd-analyze not installed, verify skipped"
fi

mk "$R" /usr uninstall
for f in usr/sbin/estcoapd usr/share/man/man8/estcoapd.8 \
    etc/estcoapd/estcoapd.json.sample; do
	[ ! -e "$R/$f" ] || fail "uninstall left $f"
done
[ ! -e "$UNIT" ] || fail "uninstall left $UNIT"
grep -q '"mine"' "$R/etc/estcoapd/estcoapd.json" ||
    fail "uninstall removed the operator's estcoapd.json"
ok "make uninstall removes what it installed and keeps the config"

# --- sd_notify with a listening socket ---------------------------------

NLOG=$T/notify.log
LINE=0

# start_listener LOG: notify-listen on $T/notify.sock writing to LOG;
# cleanup() stops it together with the upstreams.
start_listener() {
	"$TOOLS/notify-listen" "$T/notify.sock" "$1" 120 \
	    2>>"$T/notify.stderr" &
	LISTEN_PID=$!
	UPSTREAM_PIDS="$UPSTREAM_PIDS $LISTEN_PID"
	for _ in $(seq 1 50); do
		[ -S "$T/notify.sock" ] && return 0
		sleep 0.1
	done
	fail "notify-listen did not bind $T/notify.sock"
}

# stop_listener: SIGTERM; it writes out what is still queued, then exits.
stop_listener() {
	kill -TERM "$LISTEN_PID" 2>/dev/null || true
	wait "$LISTEN_PID" || fail "notify-listen failed: \
$(cat "$T/notify.stderr")"
	UPSTREAM_PIDS=${UPSTREAM_PIDS/ $LISTEN_PID/}
}

# next_msg SECS REGEX WHAT: wait for a message after line $LINE of the
# log that matches REGEX (ERE on the line, newlines shown as '|'); on
# success LINE is its line number.
next_msg() {
	local secs=$1 re=$2 what=$3 n
	for _ in $(seq 1 $((secs * 10))); do
		n=$(tail -n +$((LINE + 1)) "$NLOG" 2>/dev/null |
		    grep -n -m1 -E -- "$re" | cut -d: -f1) || true
		if [ -n "$n" ]; then
			LINE=$((LINE + n))
			return 0
		fi
		sleep 0.1
	done
	fail "$what: no message matching '$re' after line $LINE within \
${secs}s; got: $(tr '\n' ' ' <"$NLOG" | cut -c1-600)"
}

# msg N: line N of the log.
msg() {
	sed -n "$1p" "$NLOG"
}

# Every assignment of every message is KEY=value: no NUL, no empty field.
check_well_formed() {
	local bad
	bad=$(tr '|' '\n' <"$1" | grep -v -E '^[A-Z_]+=' | head -n 3) || true
	[ -z "$bad" ] || fail "malformed notification fields: $bad"
}

start_upstream up
write_config "https://localhost:$UP_PORT_up"
start_listener "$NLOG"

export NOTIFY_SOCKET=$T/notify.sock WATCHDOG_USEC=2000000
start_daemon
unset NOTIFY_SOCKET WATCHDOG_USEC

next_msg 5 '(^|\|)READY=1(\||$)' "start-up"
msg "$LINE" | grep -q -E '(^|\|)STATUS=.' ||
    fail "READY=1 came without a STATUS=: '$(msg "$LINE")'"
ok "READY=1 with STATUS= ($(msg "$LINE" | sed 's/.*STATUS=//'))"

# WATCHDOG_USEC/2 is 1 s: one ping within 3 s, and then another.
next_msg 3 '(^|\|)WATCHDOG=1(\||$)' "watchdog"
next_msg 3 '(^|\|)WATCHDOG=1(\||$)' "second watchdog ping"
ok "WATCHDOG=1 sent periodically after READY"

kill -HUP "$DAEMON_PID"
next_msg 10 '(^|\|)RELOADING=1(\||$)' "SIGHUP"
ok "RELOADING=1 on SIGHUP"
next_msg 20 '(^|\|)READY=1(\||$)' "reload"
msg "$LINE" | grep -q -E '(^|\|)STATUS=.' ||
    fail "READY=1 after the reload without a STATUS=: '$(msg "$LINE")'"
ok "READY=1 with STATUS= after the reload"
kill -0 "$DAEMON_PID" 2>/dev/null || fail "daemon died on SIGHUP"

stop_daemon || fail "daemon did not stop cleanly"
stop_listener
next_msg 1 '(^|\|)STOPPING=1(\||$)' "SIGTERM"
# After STOPPING=1 only status, watchdog and timeout extensions may follow.
late=$(tail -n +"$LINE" "$NLOG" |
    grep -E '(^|\|)(READY|RELOADING)=1(\||$)' | head -n1) || true
[ -z "$late" ] || fail "'$late' after STOPPING=1"
ok "STOPPING=1 on SIGTERM, last of the state changes"
check_well_formed "$NLOG"
ok "every notification is a list of KEY=value lines"

# WATCHDOG_PID names another process: READY=1 still, but no pings.
NLOG=$T/notify2.log
LINE=0
start_listener "$NLOG"
export NOTIFY_SOCKET=$T/notify.sock WATCHDOG_USEC=2000000 WATCHDOG_PID=1
start_daemon
unset NOTIFY_SOCKET WATCHDOG_USEC WATCHDOG_PID
next_msg 5 '(^|\|)READY=1(\||$)' "start-up with another WATCHDOG_PID"
sleep 3
! grep -q -E '(^|\|)WATCHDOG=1(\||$)' "$NLOG" ||
    fail "WATCHDOG=1 sent although WATCHDOG_PID names another process"
ok "no WATCHDOG=1 when WATCHDOG_PID is not ours"
stop_daemon || fail "daemon did not stop cleanly"
stop_listener
done_case
