#!/usr/bin/env bash
# The audit log as a security control (README, "Attacks and what stops them"):
# - with service.audit_fail_closed (the default) an audit log that cannot
#   be written (/dev/full) makes enrollments 5.03 + Max-Age, counted in
#   estcoapd_audit_failures_total; with it off they go on (2.04), counted;
# - a reload whose audit path cannot be opened (a directory) keeps the old
#   file, and once the path is fixed auditing resumes there by itself;
# - as root with service.user, a symbolic link planted as the audit log is
#   refused with a clear error and its target keeps its owner; a file the
#   daemon did not create is never handed to service.user.
. "$(dirname "$0")/../lib.sh"

start_upstream up
mk_csrs 3
MPORT=$(free_port tcp)
# audit_conf FILE [more service members, with a leading comma]
audit_conf() {
	write_config "https://127.0.0.1:$UP_PORT_up" ',
	"service": { "audit_file": "'"$1"'", "metrics_address": "127.0.0.1",
		"metrics_port": '"$MPORT"' '"${2:-}"' }'
}
sen() {
	probe -m post -u /.well-known/est/sen -t 286 -f "${1:-$PKI/csr-p256.der}"
}

# fail closed (the default): nothing is issued that nobody audits
audit_conf /dev/full
start_daemon
sen
expect_pcode 5.03 "sen with the audit log on /dev/full -> 5.03 (fail closed)"
[ "$(probe_field maxage)" = 10 ] ||
    fail "Max-Age '$(probe_field maxage)', want limits.busy_max_age_s (10)"
ok "5.03 carries Max-Age = limits.busy_max_age_s"
[ "$(upstream_count up simpleenroll)" -eq 0 ] || fail "an enrollment reached the CA"
ok "no enrollment reached the CA"
probe -m get -u /.well-known/est/crts
expect_pcode 2.05 "crts still served (nothing to audit)"
[ "$(metric estcoapd_audit_failures_total)" -ge 1 ] ||
    fail "estcoapd_audit_failures_total is $(metric estcoapd_audit_failures_total)"
[ "$(metric estcoapd_audit_writable)" = 0 ] || fail "estcoapd_audit_writable is not 0"
[ "$(metric 'estcoapd_limit_refusals_total{limit="audit"}')" -ge 1 ] ||
    fail "refusal not counted as limit=\"audit\""
ok "failures counted; estcoapd_audit_writable 0; refusal counted as limit=audit"
grep -q "audit: cannot write /dev/full: No space left on device" "$T/daemon.log" ||
    fail "the failure was not logged"
ok "the failure is logged with its reason"
stop_daemon

# fail open: enrollments go on, each lost record is counted and logged
audit_conf /dev/full ', "audit_fail_closed": false'
start_daemon
before=$(metric estcoapd_audit_failures_total)
sen
expect_pcode 2.04 "sen with the audit log on /dev/full, fail open -> 2.04"
wait_metric estcoapd_audit_failures_total -gt "$before" 5 ||
    fail "the lost issued record was not counted"
grep -q 'record not written to /dev/full, here instead: {.*"event":"issued"' \
    "$T/daemon.log" || fail "the issued record did not reach the daemon log"
ok "the lost record is counted and kept in the daemon log"
stop_daemon

# a reload to a path that cannot be opened keeps the old file; fixed, the
# retry opens it and auditing resumes there
audit_conf "$T/audit.log"
start_daemon
sen
expect_pcode 2.04 "sen audited in audit.log"
mv "$T/audit.log" "$T/audit.log.1"
mkdir "$T/audit.log"
kill -HUP "$DAEMON_PID"
wait_for "$T/daemon.log" 10 "reload: generation 2 in use" || fail "no reload"
grep -q "audit: cannot open $T/audit.log: Is a directory; still writing to the file opened before" \
    "$T/daemon.log" || fail "the failed reopen was not logged"
sen "$PKI/csr-p256-2.der"
expect_pcode 2.04 "sen while the audit path is a directory -> 2.04"
[ "$(grep -c '"event":"issued"' "$T/audit.log.1")" -eq 2 ] ||
    fail "the old file did not take the record"
ok "the old file still takes records"
rmdir "$T/audit.log"
wait_for "$T/daemon.log" 40 "audit: $T/audit.log opened" ||
    fail "the audit log was not reopened after the path was fixed"
sen "$T/csr/1.der"
expect_pcode 2.04 "sen after the path was fixed"
grep -q '"event":"issued"' "$T/audit.log" || fail "nothing audited after the fix"
grep -q '"event":"opened","reason":"retry"' "$T/audit.log" ||
    fail "no opened record in the new file"
ok "auditing resumed in the new file by itself"
[ "$(grep -c '"event":"issued"' "$T/audit.log.1")" -eq 2 ] ||
    fail "records went to the old file after the switch"
stop_daemon

# service.user: a symbolic link planted as the audit log is refused
need_nobody "symbolic link attack"
chmod 711 "$T"
mkdir "$T/log"
chown nobody:nogroup "$T/log"
echo "root's secret" >"$T/victim"
chmod 600 "$T/victim"
su -s /bin/sh nobody -c "ln -s '$T/victim' '$T/log/audit.log'" ||
    fail "nobody cannot make the link"
audit_conf "$T/log/audit.log" ', "user": "nobody", "group": "nogroup"'
set +e
timeout 20 "$BUILD/estcoapd" -f -c "$T/estcoapd.json" >"$T/start.out" 2>&1
rc=$?
set -e
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "started with a symbolic link as the audit log (exit $rc)"
grep -q "service.audit_file: $T/log/audit.log is a symbolic link" "$T/start.out" ||
    fail "no clear error: $(cat "$T/start.out")"
ok "a symbolic link as the audit log is refused, naming it"
[ "$(stat -c %U:%a "$T/victim")" = root:600 ] ||
    fail "the link's target is now $(stat -c %U:%a "$T/victim")"
[ "$(cat "$T/victim")" = "root's secret" ] || fail "the link's target was written"
ok "the link's target keeps its owner, mode and contents"

# a hard link to a root file is refused too
rm "$T/log/audit.log"
ln "$T/victim" "$T/log/audit.log"
set +e
timeout 20 "$BUILD/estcoapd" -f -c "$T/estcoapd.json" >"$T/start.out" 2>&1
rc=$?
set -e
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "started with a hard link as the audit log"
grep -q "audit.log has 2 hard links" "$T/start.out" ||
    fail "no clear error: $(cat "$T/start.out")"
[ "$(stat -c %U "$T/victim")" = root ] || fail "the hard link's file changed owner"
ok "a second hard link is refused; the file keeps its owner"
rm "$T/log/audit.log"

# a file the daemon finds there is used but never handed over
: >"$T/log/audit.log"
chmod 600 "$T/log/audit.log"
for f in dtls.crt dtls.key dtls-chain.pem ra.crt ra.key root-ca.crt; do
	mkdir -p "$T/pki"
	cp "$PKI/$f" "$T/pki/$f"
done
cp "$T/client-ca.pem" "$T/pki/client-ca.pem"
chgrp -R nogroup "$T/pki"
chmod 750 "$T/pki"
chmod 640 "$T/pki"/*
sed -i -e "s#$PKI/\(dtls.crt\|dtls.key\|dtls-chain.pem\|ra.crt\|ra.key\|root-ca.crt\)#$T/pki/\1#g" \
    -e "s|$T/client-ca.pem|$T/pki/client-ca.pem|" "$T/estcoapd.json"
chgrp nogroup "$T/estcoapd.json"
chmod 640 "$T/estcoapd.json"
start_daemon
wait_for "$T/daemon.log" 5 "running as user nobody" || fail "no user switch"
grep -q "audit: $T/log/audit.log is owned by uid 0, not by the service user" \
    "$T/daemon.log" || fail "no warning about the file it did not create"
sen "$T/csr/2.der"
expect_pcode 2.04 "enrollment as nobody into a file root made"
[ "$(stat -c %U "$T/log/audit.log")" = root ] ||
    fail "a file the daemon did not create was handed to $(stat -c %U "$T/log/audit.log")"
grep -q '"event":"issued"' "$T/log/audit.log" || fail "not audited"
ok "a file the daemon found is used, not chowned"
stop_daemon
# one it creates is its user's
rm "$T/log/audit.log"
start_daemon
[ "$(stat -c %U:%a "$T/log/audit.log")" = nobody:600 ] ||
    fail "created audit log is $(stat -c %U:%a "$T/log/audit.log")"
ok "an audit log the daemon created is handed to nobody, 0600"
done_case
