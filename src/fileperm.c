/*
 * Checks of the files the daemon reads: see fileperm.h. Each refusal
 * names the file, what is wrong and the chmod or chown that fixes it.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileperm.h"

static uid_t	fileperm_uid = (uid_t)-1;

/* See fileperm.h. */
void
fileperm_allow_uid(uid_t uid)
{
	fileperm_uid = uid;
}

/* May uid own what we read? root, we, or our service user. */
static int
fileperm_owner_ok(uid_t uid)
{
	return uid == 0 || uid == geteuid() ||
	    (fileperm_uid != (uid_t)-1 && uid == fileperm_uid);
}

/* "uid 1000 (alice)" into buf. */
static const char *
fileperm_user(uid_t uid, char *buf, size_t bufsz)
{
	struct passwd *pw = getpwuid(uid);

	if (pw != NULL)
		snprintf(buf, bufsz, "uid %u (%s)", (unsigned)uid, pw->pw_name);
	else
		snprintf(buf, bufsz, "uid %u", (unsigned)uid);
	return buf;
}

/* Owner and write bits of one file or directory; 0, or -1 with why. */
static int
fileperm_mode(const char *path, const struct stat *st, const char *what,
    char *why, size_t whysz)
{
	char	user[64];

	if ((st->st_mode & (S_IWGRP | S_IWOTH)) != 0 &&
	    !(S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX))) {
		snprintf(why, whysz, "%s is writable by %s (mode %04o); run "
		    "\"chmod go-w %s\"", what, (st->st_mode & S_IWOTH) ?
		    "every user" : "its group", (unsigned)(st->st_mode & 07777),
		    path);
		return -1;
	}
	if (!fileperm_owner_ok(st->st_uid)) {
		snprintf(why, whysz, "%s is owned by %s, neither root nor the "
		    "daemon's user; run \"chown root %s\"", what,
		    fileperm_user(st->st_uid, user, sizeof(user)), path);
		return -1;
	}
	return 0;
}

/* See fileperm.h. */
int
fileperm_check_dir(const char *path, const struct stat *st, char *why,
    size_t whysz)
{
	return fileperm_mode(path, st, "the directory", why, whysz);
}

/*
 * The directory holding path: whoever may write it can replace the file.
 * A sticky directory (/tmp) only lets them replace their own files.
 */
static int
fileperm_parent(const char *path, char *why, size_t whysz)
{
	char		*dir, *slash;
	struct stat	 st;
	int		 rc = 0;

	if ((dir = strdup(path)) == NULL)
		return 0;
	if ((slash = strrchr(dir, '/')) == NULL)
		snprintf(dir, strlen(dir) + 1, ".");
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode) &&
	    (st.st_mode & (S_IWGRP | S_IWOTH)) != 0 &&
	    !(st.st_mode & S_ISVTX)) {
		snprintf(why, whysz, "its directory %s is writable by %s (mode "
		    "%04o), who could replace it; run \"chmod go-w %s\"", dir,
		    (st.st_mode & S_IWOTH) ? "every user" : "its group",
		    (unsigned)(st.st_mode & 07777), dir);
		rc = -1;
	}
	free(dir);
	return rc;
}

/* See fileperm.h. */
int
fileperm_check(const char *path, const struct stat *st, int secret,
    char *why, size_t whysz)
{
	if (secret && (st->st_mode & S_IROTH)) {
		snprintf(why, whysz, "private key is readable by every user "
		    "(mode %04o); run \"chmod o-rwx %s\" (and keep it readable "
		    "by the daemon's user)", (unsigned)(st->st_mode & 07777),
		    path);
		return -1;
	}
	if (fileperm_mode(path, st, "it", why, whysz) == -1)
		return -1;
	return fileperm_parent(path, why, whysz);
}
