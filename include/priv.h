/*
 * Process hardening: the user and group of service.user / service.group,
 * taken once every socket is bound, and no way back.
 */
#ifndef ESTCOAPD_PRIV_H
#define ESTCOAPD_PRIV_H

#include <sys/types.h>

struct config;

/*
 * Resolve user (a name) and group (a name, or NULL for the user's own
 * group). 0, or -1 with *why "user: no such user \"x\"" or the like.
 */
int	priv_lookup(const char *user, const char *group, uid_t *uid,
	    gid_t *gid, const char **why);

/*
 * Become cf's service.user and service.group (nothing to do without
 * them, or when already them). Files opened before stay usable: the audit
 * log is handed to the new owner. 0, or -1 logged.
 */
int	priv_drop(const struct config *cf);

#endif
