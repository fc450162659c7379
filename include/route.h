/*
 * One served path: an EST operation under the default root or under a
 * CA label (RFC 7030 3.2.2, RFC 9148 3). The front makes one per
 * (label, operation) at start-up; labels are restart-only, so a route
 * and its index into the config's routes stay put across reloads.
 */
#ifndef ESTCOAPD_ROUTE_H
#define ESTCOAPD_ROUTE_H

#include <stddef.h>

#include "config.h"
#include "est_map.h"

struct est_op;
struct est_cache;

/* Most CA labels one registrar serves (est.labels). */
#define ROUTE_MAX_LABELS	CONFIG_MAX_LABELS

/* Every (label, op) pair served: (1 + labels) x EST_OP_COUNT. */
#define ROUTE_MAX		((1 + ROUTE_MAX_LABELS) * EST_OP_COUNT)

struct route {
	const struct est_op	*op;
	size_t			 cfroute;	/* index of cf->routes */
	char			 label[CONFIG_LABEL_MAX + 1];	/* "": default */
	struct est_cache	*cache;		/* GET ops: its cache, or NULL */
};

#endif
