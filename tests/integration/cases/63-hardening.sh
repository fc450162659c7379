#!/usr/bin/env bash
# Process hardening (README, "The process"): world-readable private keys are
# refused with the chmod to run; started as root with service.user the
# daemon runs as that user once its sockets are bound and still reloads;
# the files it writes are private; no secret reaches the log or the audit
# log; and nothing in the daemon can start a shell.
. "$(dirname "$0")/../lib.sh"

start_upstream up
write_config "https://127.0.0.1:$UP_PORT_up"
good=$T/estcoapd.json

# a world-readable key is refused, naming the file and the fix
for k in dtls.key ra.key; do
	cp "$PKI/$k" "$T/open-$k"
	chmod 644 "$T/open-$k"
	sed "s|$PKI/$k|$T/open-$k|" "$good" >"$T/open.json"
	set +e
	"$BUILD/estcoapd" -t -c "$T/open.json" >"$T/t.out" 2>&1
	rc=$?
	set -e
	[ "$rc" -eq 1 ] || fail "world-readable $k: estcoapd -t exited $rc"
	grep -q "open-$k: private key is readable by every user (mode 0644); run \"chmod o-rwx $T/open-$k\"" \
	    "$T/t.out" || fail "world-readable $k: $(cat "$T/t.out")"
	ok "world-readable $k refused with the chmod to run"
	chmod 640 "$T/open-$k"
	"$BUILD/estcoapd" -t -c "$T/open.json" >"$T/t.out" 2>&1 ||
	    fail "a group-readable $k was refused: $(cat "$T/t.out")"
	ok "group-readable $k (0640) accepted"
done

# nothing in the daemon runs a program or a shell
calls=$(nm -D --undefined-only "$BUILD/estcoapd" | awk '{ print $NF }' |
    sed 's/@.*//' | grep -Ex 'system|popen|execl|execlp|execle|execv|execve|execvp|execvpe|fexecve|posix_spawn|posix_spawnp|wordexp' || true)
[ -z "$calls" ] || fail "estcoapd imports $(echo $calls)"
ok "estcoapd imports no system, popen, exec* or posix_spawn"
src=$(grep -nE '\b(system|popen|exec[lv]p?e?|posix_spawnp?)[[:space:]]*\(|/bin/sh' \
    "$TOP"/src/*.c "$TOP"/include/*.h || true)
[ -z "$src" ] || fail "the source starts programs: $src"
ok "no source line starts a program or names a shell"

# files the daemon writes are its own: the audit log is 0600
sed 's|^}$|, "service": { "audit_file": "'"$T"'/audit.log" },\n"est": { "server_keygen": true }, "limits": { "exchange_entries": 0 } }|' \
    "$good" >"$T/estcoapd.json.new"
# (the sample has no service/est sections yet: merge them in)
mv "$T/estcoapd.json.new" "$T/estcoapd.json"
start_daemon
probe -m post -u /.well-known/est/skg -t 286 -A 62 -f "$PKI/csr-p256.der"
expect_pcode 2.04 "skg"
[ "$(stat -c %a "$T/audit.log")" = 600 ] ||
    fail "audit log mode $(stat -c %a "$T/audit.log"), want 600"
ok "the audit log is created 0600"
# the key the upstream made for the device appears in no log
grep -v -- '-----' "$T/up.req.lastkey.pem" >"$T/keylines"
[ -s "$T/keylines" ] || fail "no server-generated key to look for"
if grep -F -q -f "$T/keylines" "$T/daemon.log" "$T/audit.log"; then
	fail "server-generated key material in the daemon's logs"
fi
b64key=$(openssl pkcs8 -topk8 -nocrypt -in "$T/up.req.lastkey.pem" \
    -outform DER 2>/dev/null | od -An -tx1 -v | tr -d ' \n' | cut -c1-40)
grep -qi "$b64key" "$T/daemon.log" "$T/audit.log" &&
    fail "server-generated key bytes (hex) in the daemon's logs"
ok "no server-generated key in the log or the audit log"
stop_daemon

# service.user: started as root, it runs as nobody once bound and reloads
need_nobody "user switch"
# the files must be readable by that user: a copy with group nogroup
mkdir -p "$T/pki"
for f in dtls.crt dtls.key dtls-chain.pem ra.crt ra.key root-ca.crt; do
	cp "$PKI/$f" "$T/pki/$f"
done
cp "$T/client-ca.pem" "$T/pki/client-ca.pem"
chgrp -R nogroup "$T/pki"
chmod 750 "$T/pki"
chmod 640 "$T/pki"/*
chmod 711 "$T"
mkdir -p "$T/log"
chown nobody:nogroup "$T/log"
sed -e "s#$PKI/\(dtls.crt\|dtls.key\|dtls-chain.pem\|ra.crt\|ra.key\|root-ca.crt\)#$T/pki/\1#g" \
    -e "s|$T/client-ca.pem|$T/pki/client-ca.pem|" \
    -e "s|$T/audit.log|$T/log/audit.log|" \
    -e 's|"audit_file"|"user": "nobody", "group": "nogroup", "audit_file"|' \
    "$good" >"$T/user.json"
cp "$T/user.json" "$T/estcoapd.json"
chgrp nogroup "$T/estcoapd.json"
chmod 640 "$T/estcoapd.json"
grep -q '"user": "nobody"' "$T/estcoapd.json" || fail "no service.user in the test config"
start_daemon
wait_for "$T/daemon.log" 5 "running as user nobody" || fail "no user switch logged"
uid=$(awk '/^Uid:/ { print $2 " " $3 " " $4 " " $5 }' "/proc/$DAEMON_PID/status")
[ "$uid" = "$(id -u nobody) $(id -u nobody) $(id -u nobody) $(id -u nobody)" ] ||
    fail "real/effective/saved/fs uid are '$uid'"
grep -q "^Groups:[[:space:]]*$(getent group nogroup | cut -d: -f3)[[:space:]]*$" \
    "/proc/$DAEMON_PID/status" || fail "supplementary groups kept: $(grep Groups "/proc/$DAEMON_PID/status")"
grep -q "^NoNewPrivs:[[:space:]]*1" "/proc/$DAEMON_PID/status" ||
    fail "no_new_privs not set"
ok "runs as nobody:nogroup (all uids, no other groups, no_new_privs)"
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256-2.der"
expect_pcode 2.04 "enrollment as nobody"
[ "$(stat -c %U "$T/log/audit.log")" = nobody ] ||
    fail "the audit log is owned by $(stat -c %U "$T/log/audit.log")"
ok "the audit log was handed to nobody"
# SIGHUP re-reads every file and reopens the audit log as nobody
mv "$T/log/audit.log" "$T/log/audit.log.1"
kill -HUP "$DAEMON_PID"
wait_for "$T/daemon.log" 10 "reload: generation 2 in use" ||
    fail "reload as nobody failed: $(grep -i reload "$T/daemon.log" | tail -3)"
ok "SIGHUP reload as nobody"
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der"
expect_pcode 2.04 "enrollment after the reload"
[ -s "$T/log/audit.log" ] || fail "the audit log was not reopened"
ok "the audit log reopened by nobody"
done_case
