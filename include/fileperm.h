/*
 * Whether a file the daemon reads (its configuration, keys, certificates,
 * trust anchors, CRLs) is safe to trust: nobody but root and the daemon's
 * own user can have changed it. Whoever can write a trust anchor or a CRL
 * decides which devices get in.
 */
#ifndef ESTCOAPD_FILEPERM_H
#define ESTCOAPD_FILEPERM_H

#include <sys/stat.h>
#include <sys/types.h>

#include <stddef.h>

/*
 * The user the daemon runs as after start-up (service.user), who may own
 * these files besides root and the user running it now; -1: none.
 */
void	fileperm_allow_uid(uid_t uid);

/*
 * The file at path, st its stat(2): refused when group or other users may
 * write it, when its owner is neither root, nor our user, nor the one of
 * fileperm_allow_uid, when its directory may be written by group or other
 * users (without the sticky bit), and, for a secret (a private key), when
 * every user may read it. 0, or -1 with the reason and the command that
 * fixes it in why.
 */
int	fileperm_check(const char *path, const struct stat *st, int secret,
	    char *why, size_t whysz);

/* The same for a directory the daemon reads files from (auth.trust). */
int	fileperm_check_dir(const char *path, const struct stat *st,
	    char *why, size_t whysz);

#endif
