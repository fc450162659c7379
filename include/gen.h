/*
 * One configuration generation: the configuration read by config.c, each
 * route's device policy (authz.h) and every certificate and key it names
 * (pki.h), made together and freed together under one reference count.
 * Made at start, by -t and on every reload. Here, not in config.c, are
 * the checks of what the configuration names on this machine: the files
 * (they exist, are regular and safe to trust, fileperm.h), service.user
 * and service.group (priv.h) and the audit file's directory.
 */
#ifndef ESTCOAPD_GEN_H
#define ESTCOAPD_GEN_H

struct config;
struct errlist;

/* gen_load() flags */
#define GEN_START	0x1	/* also the audit file as it is now (not on a reload) */

/*
 * Read path into a new generation (refs 1, gen 1): configuration, checks
 * of the machine, device policies, certificates and keys. NULL with
 * every error in errs.
 */
struct config	*gen_load(const char *path, unsigned flags,
		    struct errlist *errs);

/*
 * The checks of the machine alone on a configuration config_load() read:
 * the files it names, service.user and service.group, the audit file's
 * directory. 0, or -1 with errors added.
 */
int		 gen_check(struct config *cf, struct errlist *errs);

/* A generation lives while someone holds a reference. */
struct config	*gen_ref(struct config *);
void		 gen_unref(struct config *);

#endif
