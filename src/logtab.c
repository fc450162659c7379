/*
 * The reason= words of the request line and the audit events (logtab.h).
 * Add a row here when the code gets a new one: the unit test test_logtab
 * fails until the two agree, and make docs lists the row in estcoapd(8).
 */
#include <stddef.h>

#include "logtab.h"

#define NWORDS(a)	(sizeof(a) / sizeof((a)[0]))

static const struct logtab_word logtab_reason[] = {
	{ "ok", "answered from the upstream's answer" },
	{ "cached", "answered from the crts/att cache" },
	{ "valid", "the request named the cached answer's ETag: 2.03 without "
	    "a payload" },
	{ "stale", "answered from an expired cache entry while refreshing it "
	    "from the upstream keeps failing" },
	{ "repeat", "the same enrollment finished less than 247 s ago and is "
	    "answered again from memory" },
	{ "discovery", "/.well-known/core answered over DTLS" },
	{ "discovery-plain", "/.well-known/core answered on the plain-CoAP "
	    "listener" },
	{ "block2-out-of-range", "a Block2 request on the plain-CoAP listener "
	    "for a block past the end of the discovery answer: 4.02" },
	{ "discovery-multicast-empty", "a multicast discovery request matched "
	    "nothing: no answer sent" },
	{ "plain-coap", "an EST operation over plain CoAP: 4.01" },
	{ "plain-coap-multicast", "an EST operation sent to a multicast group: "
	    "no answer sent" },
	{ "unknown-path", "no resource at that path (an unknown path, label "
	    "or operation, or one the route does not serve): 4.04" },
	{ "draining", "refused while draining after SIGTERM: 5.03" },
	{ "drain-timeout", "still waiting for the upstream when the drain "
	    "timeout passed: 5.03" },
	{ "rate", "the source address is past limits.rate_per_source: 5.03" },
	{ "bad-request", "the method, Accept or Content-Format check failed: "
	    "4.05, 4.02, 4.06 or 4.15" },
	{ "bad-block", "block size exponent 7 or an inconsistent block size: "
	    "4.00" },
	{ "block1-gap", "a Block1 block is missing or out of order: 4.08" },
	{ "too-large", "the request body is larger than "
	    "limits.max_request_body: 4.13" },
	{ "bad-csr", "the body is not one valid DER PKCS#10 request: 4.00" },
	{ "forbidden", "refused by the route's auth policy (device chain, "
	    "allow-list, or an sren CSR whose Subject or subjectAltName "
	    "differs from the device certificate): 4.03" },
	{ "csr-policy", "the CSR key is not allowed by auth.csr_key_types or "
	    "the RSA size bounds: 4.00" },
	{ "csr-identity", "the CSR asks for a name the device certificate does "
	    "not allow (auth.csr_identity): 4.03" },
	{ "pop-failed", "proof-of-possession linking failed (auth.pop): 4.01" },
	{ "busy", "a limit on pending requests or uploads was reached: 5.03 "
	    "with Max-Age" },
	{ "audit", "an enrollment while the audit log cannot be written "
	    "(service.audit_fail_closed): 5.03 with Max-Age" },
	{ "backlog", "the expected wait for an upstream connection would pass "
	    "the deadline (limits.backlog_shed): 5.03 with Max-Age" },
	{ "deadline", "the upstream did not finish in time: 5.04" },
	{ "held", "answered from an answer held for this device (it left "
	    "before the answer, or was told to repeat its request): the same "
	    "certificate, no new upstream call" },
	{ "held-large", "a separate answer larger than one block to a "
	    "request without Block1 (coap.large_separate retry): 5.03 with "
	    "Max-Age 1; the answer is held for the device's repeat" },
	{ "undelivered", "the device's DTLS session closed before the answer; "
	    "a certificate is held for its next try" },
	{ "cancelled-dtls-closed", "a GET cancelled because the device's DTLS "
	    "session closed; no answer sent (code -)" },
	{ "cancelled-shutdown", "cancelled by SIGINT or at exit; no answer "
	    "sent (code -)" },
	{ "upstream-submit", "the upstream exchange could not be started: "
	    "5.02" },
	{ "upstream-status", "the upstream answered with an error status, "
	    "mapped as the HTTP status table says" },
	{ "upstream-timeout", "the upstream exchange timed out: 5.04" },
	{ "upstream-failed", "connection, TLS or protocol failure, or an "
	    "upstream body that is too large: 5.02" },
	{ "upstream-bad-type", "a 2xx answer with the wrong Content-Type: "
	    "5.02" },
	{ "upstream-bad-base64", "a 2xx body that is not valid base64: 5.02" },
	{ "upstream-bad-der", "a 2xx body that is not the expected DER: 5.02" },
	{ "upstream-bad-multipart", "a serverkeygen answer that is not a "
	    "valid multipart body: 5.02" },
	{ "no-matching-cert", "Accept 287, but no certificate of the answer "
	    "holds the CSR's key: 5.02" },
	{ "accept-287-several-certs", "Accept 287 on crts, but the CA bundle "
	    "holds several certificates: 4.06" },
	{ "no-csrattrs", "the upstream has no CSR attributes (204) and "
	    "est.att_on_204 is not-found: 4.04" },
	{ "internal", "an internal error: 5.00" },
	{ "nomem", "out of memory: 5.03" },
};

static const struct logtab_word logtab_audit[] = {
	{ "issued", "a certificate went to a device: the operation, the "
	    "device's address and certificate (subject, issuer, serial), the "
	    "request number (req), the CSR subject, the issued certificate "
	    "(subject, issuer, serial, not_after) and the upstream server" },
	{ "issued-undelivered", "the CA issued a certificate the device has "
	    "not got yet (it left before the answer, or must repeat its "
	    "request to fetch an answer larger than one block): the fields of "
	    "issued and a reason; the answer is held 247 s for its next try" },
	{ "repeated", "an enrollment answer (a certificate; for skg and skc a "
	    "key too) went to a device again from memory, without an upstream "
	    "call: the request number (req), how (repeat: the same request "
	    "within 247 s; held: an answer held for the device; identical: an "
	    "identical request pending at the same time), the exchange it "
	    "repeats (repeats: the req and time of its issued or "
	    "issued-undelivered record), the certificate's serial and whether "
	    "it holds a key" },
	{ "denied", "a request was refused by the upstream (4.01, 4.03), at "
	    "the DTLS handshake or by the route's auth policy: the operation, "
	    "the device, the CoAP code and the reason" },
	{ "opened", "the first record of every newly opened audit file: why "
	    "it was opened (start, reload, retry), the daemon's process ID and "
	    "how many records went to the daemon's log instead before it" },
};

/* See logtab.h. */
const struct logtab_word *
logtab_reasons(size_t *n)
{
	*n = NWORDS(logtab_reason);
	return logtab_reason;
}

/* See logtab.h. */
const struct logtab_word *
logtab_audit_events(size_t *n)
{
	*n = NWORDS(logtab_audit);
	return logtab_audit;
}
