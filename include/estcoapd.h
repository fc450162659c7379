/*
 * estcoapd: shared vocabulary of the EST-coaps registrar.
 */
#ifndef ESTCOAPD_ESTCOAPD_H
#define ESTCOAPD_ESTCOAPD_H

#define ESTCOAPD_VERSION	"0.1.0"
#define ESTCOAPD_NAME		"estcoapd"
#define ESTCOAPD_CONF_DEFAULT	"/etc/estcoapd/estcoapd.json"

/*
 * Priorities of the one event loop (libevent runs the lower numbers
 * first): datagrams from devices, then timers, curl and the rest (the
 * default with three), then the CSR checks of requests acknowledged
 * under load, so that their empty ACKs go out before that work.
 */
#define EVPRIO_DATAGRAMS	0
#define EVPRIO_DEFAULT		1
#define EVPRIO_CHECKS		2
#define EVPRIO_COUNT		3

/* A CoAP response code as on the wire: class in the top 3 bits (RFC 7252 3). */
#define EST_CODE(c, dd)		((unsigned)(((c) << 5) | (dd)))
#define EST_CODE_CLASS(code)	((unsigned)(code) >> 5)
#define EST_CODE_DETAIL(code)	((unsigned)(code) & 0x1f)

/* CoAP Content-Format numbers used by EST-coaps (RFC 9148 8.1). */
#define CF_TEXT_PLAIN		0
#define CF_LINK_FORMAT		40
#define CF_MULTIPART_CORE	62
#define CF_PKCS7_SGK		280	/* smime-type=server-generated-key */
#define CF_PKCS7_CERTS		281	/* smime-type=certs-only */
#define CF_PKCS8		284
#define CF_CSRATTRS		285
#define CF_PKCS10		286
#define CF_PKIX_CERT		287

/* Exit codes of estcoapd(8). */
#define EXIT_OK			0
#define EXIT_CONFIG		1	/* bad config, -t failed, bad usage */
#define EXIT_RUNTIME		2	/* could not start: bind, library init */

#endif
