/*
 * A configuration generation (gen.h): config.c parses and validates the
 * file; here what it names is checked on this machine, the device
 * policies are made (authz.c) and the PKI is loaded (pki.c), and one
 * reference count frees all of it.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz.h"
#include "config.h"
#include "fileperm.h"
#include "gen.h"
#include "pki.h"
#include "priv.h"
#include "util.h"

/* One file a key names: a regular file nobody else could have written. */
static void
gen_file(void *arg, const char *key, const char *file, bool secret)
{
	struct config	*cf = ((void **)arg)[0];
	struct errlist	*errs = ((void **)arg)[1];
	struct stat	 st;
	char		 why[256];

	if (stat(file, &st) == -1)
		errlist_add(errs, "%s: %s: %s: %s", cf->file, key, file,
		    strerror(errno));
	else if (!S_ISREG(st.st_mode))
		errlist_add(errs, "%s: %s: %s: not a regular file", cf->file,
		    key, file);
	else if (fileperm_check(file, &st, secret, why, sizeof(why)) == -1)
		errlist_add(errs, "%s: %s: %s: %s", cf->file, key, file, why);
}

/* service.user may own the files too; the configuration file itself. */
static void
gen_owner(struct config *cf, struct errlist *errs)
{
	const char	*why;
	char		 msg[256];
	struct stat	 st;
	uid_t		 uid;
	gid_t		 gid;

	fileperm_allow_uid((uid_t)-1);
	if (cf->service_user != NULL && priv_lookup(cf->service_user,
	    cf->service_group, &uid, &gid, &why) == 0)
		fileperm_allow_uid(uid);
	if (stat(cf->file, &st) == 0 &&
	    fileperm_check(cf->file, &st, 0, msg, sizeof(msg)) == -1)
		errlist_add(errs, "%s: %s", cf->file, msg);
}

/* service.user and service.group exist; the audit file's directory. */
static void
gen_service(struct config *cf, struct errlist *errs)
{
	const char	*why;
	uid_t		 uid;
	gid_t		 gid;
	char		*dir, *slash;
	struct stat	 st;

	if (cf->service_user != NULL && priv_lookup(cf->service_user,
	    cf->service_group, &uid, &gid, &why) == -1)
		errlist_add(errs, "%s: service.%s", cf->file, why);
	if (cf->audit_file == NULL || (dir = strdup(cf->audit_file)) == NULL)
		return;
	if ((slash = strrchr(dir, '/')) != NULL) {
		*slash = '\0';
		if (*dir != '\0' && (stat(dir, &st) == -1 ||
		    !S_ISDIR(st.st_mode)))
			errlist_add(errs, "%s: service.audit_file: directory %s "
			    "does not exist", cf->file, dir);
	}
	free(dir);
}

/* See gen.h. */
int
gen_check(struct config *cf, struct errlist *errs)
{
	int	 before = errs->count;
	void	*arg[2] = { cf, errs };

	gen_owner(cf, errs);
	config_each_file(cf, gen_file, arg);
	gen_service(cf, errs);
	return errs->count == before ? 0 : -1;
}

/*
 * What is at service.audit_file now (start and -t; a reload must not fail
 * on it, a new CRL matters more, and the audit log retries on its own):
 * no symbolic link, a regular file (or a character device) with one link.
 */
static void
gen_audit_check(const struct config *cf, struct errlist *errs)
{
	struct stat st;

	if (cf->audit_file == NULL || lstat(cf->audit_file, &st) == -1)
		return;		/* made at start */
	if (S_ISLNK(st.st_mode))
		errlist_add(errs, "%s: service.audit_file: %s is a symbolic "
		    "link, which the daemon does not follow; name the file "
		    "itself", cf->file, cf->audit_file);
	else if (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode))
		errlist_add(errs, "%s: service.audit_file: %s is not a regular "
		    "file", cf->file, cf->audit_file);
	else if (st.st_nlink != 1)
		errlist_add(errs, "%s: service.audit_file: %s has %lu hard "
		    "links; the audit log must have one", cf->file,
		    cf->audit_file, (unsigned long)st.st_nlink);
}

/* Each route's device policy; a label without its own uses the default. */
static void
gen_auth(struct config *cf, struct errlist *errs)
{
	char path[64];

	for (size_t i = 0; i < cf->nroutes; i++) {
		struct config_route *rt = &cf->routes[i];

		if (!rt->auth_owned) {
			rt->auth = cf->routes[0].auth;
			continue;
		}
		if (i == 0)
			snprintf(path, sizeof(path), "auth");
		else
			snprintf(path, sizeof(path), "labels.%s.auth",
			    rt->label);
		rt->auth = authz_parse(rt->auth_json, path, cf->file, errs);
	}
}

/* See gen.h. */
struct config *
gen_load(const char *path, unsigned flags, struct errlist *errs)
{
	struct config	*cf;
	int		 before = errs->count;

	if ((cf = config_read(path, errs)) == NULL)
		return NULL;
	(void)gen_check(cf, errs);
	gen_auth(cf, errs);
	if (errs->count == before) {
		/* both, so that -t names every problem at once */
		if (flags & GEN_START)
			gen_audit_check(cf, errs);
		(void)pki_load(cf, errs);
	}
	if (errs->count != before) {
		gen_unref(cf);
		return NULL;
	}
	return cf;
}

/* See gen.h. */
struct config *
gen_ref(struct config *cf)
{
	cf->refs++;
	return cf;
}

/* See gen.h. The last reference frees the PKI, the policies, the config. */
void
gen_unref(struct config *cf)
{
	if (cf == NULL || --cf->refs > 0)
		return;
	pki_free(cf->pki);
	for (size_t i = 0; i < CONFIG_MAX_ROUTES; i++)
		if (cf->routes[i].auth_owned)
			authz_free(cf->routes[i].auth);
	config_free(cf);
}
