/*
 * Process hardening after start-up. A daemon started as root (not by
 * systemd, whose unit already names a user) binds its sockets, then takes
 * the user and group of service.user / service.group for good: all
 * supplementary groups dropped, real, effective and saved IDs changed,
 * no_new_privs set, and a check that root cannot be taken back.
 */
#include <sys/prctl.h>
#include <sys/types.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "config.h"
#include "log.h"
#include "priv.h"

/* See priv.h. */
int
priv_lookup(const char *user, const char *group, uid_t *uid, gid_t *gid,
    const char **why)
{
	static char	 msg[160];
	struct passwd	*pw;
	struct group	*gr;

	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		snprintf(msg, sizeof(msg), "user: no such user \"%s\"", user);
		*why = msg;
		return -1;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	if (group == NULL)
		return 0;
	if ((gr = getgrnam(group)) == NULL) {
		snprintf(msg, sizeof(msg), "group: no such group \"%s\"", group);
		*why = msg;
		return -1;
	}
	*gid = gr->gr_gid;
	return 0;
}

/* See priv.h. */
int
priv_drop(const struct config *cf)
{
	const char	*why;
	uid_t		 uid;
	gid_t		 gid;

	if (cf->service_user == NULL)
		return 0;
	if (priv_lookup(cf->service_user, cf->service_group, &uid, &gid,
	    &why) == -1) {
		log_warnx("service.%s", why);
		return -1;
	}
	if (geteuid() != 0) {
		/* e.g. systemd's User= already did it */
		if (geteuid() == uid && getegid() == gid)
			return 0;
		log_warnx("service.user %s: cannot change user: not started "
		    "as root", cf->service_user);
		return -1;
	}
	/*
	 * the audit log was opened as root: SIGHUP reopens it as uid, so a
	 * file we created is handed over (never one we found there)
	 */
	if (audit_chown(uid, gid) == -1)
		return -1;
	if (setgroups(1, &gid) == -1 || setresgid(gid, gid, gid) == -1 ||
	    setresuid(uid, uid, uid) == -1) {
		log_warn("cannot become user %s (uid %u, gid %u)",
		    cf->service_user, (unsigned)uid, (unsigned)gid);
		return -1;
	}
	if (uid != 0 && (setuid(0) != -1 || seteuid(0) != -1))
		fatalx("took root back after dropping it");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		log_warn("prctl(PR_SET_NO_NEW_PRIVS)");
	log_info("running as user %s (uid %u), gid %u", cf->service_user,
	    (unsigned)uid, (unsigned)gid);
	return 0;
}
