/*
 * Unit tests for fileperm: which files the daemon may trust (README,
 * "Who is trusted"). Modes and owners come from a made-up struct stat; the
 * directory check looks at real directories in a temp dir.
 */
#include <sys/stat.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fileperm.h"

static char	tdir[64];
static char	fpath[128];

static int
setup(void **state)
{
	(void)state;
	snprintf(tdir, sizeof(tdir), "/tmp/estcoapd-ut.XXXXXX");
	if (mkdtemp(tdir) == NULL)
		return -1;
	snprintf(fpath, sizeof(fpath), "%s/f.pem", tdir);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* A stat of a regular file with mode and owner. */
static struct stat
st_file(mode_t mode, uid_t uid)
{
	struct stat st;

	memset(&st, 0, sizeof(st));
	st.st_mode = S_IFREG | mode;
	st.st_uid = uid;
	return st;
}

/* fileperm_check of fpath with st; the reason into why. */
static int
check(struct stat st, int secret, char *why, size_t whysz)
{
	why[0] = '\0';
	return fileperm_check(fpath, &st, secret, why, whysz);
}

/* Modes: group- and world-writable refused, a readable key too. */
static void
test_modes(void **state)
{
	char	why[256], want[200];
	uid_t	me = geteuid();

	(void)state;
	fileperm_allow_uid((uid_t)-1);
	assert_int_equal(check(st_file(0644, me), 0, why, sizeof(why)), 0);
	assert_int_equal(check(st_file(0600, 0), 1, why, sizeof(why)), 0);
	assert_int_equal(check(st_file(0640, me), 1, why, sizeof(why)), 0);

	assert_int_equal(check(st_file(0666, me), 0, why, sizeof(why)), -1);
	snprintf(want, sizeof(want), "it is writable by every user (mode "
	    "0666); run \"chmod go-w %s\"", fpath);
	assert_string_equal(why, want);
	assert_int_equal(check(st_file(0664, me), 0, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "writable by its group (mode 0664)"));
	assert_int_equal(check(st_file(0620, me), 1, why, sizeof(why)), -1);

	assert_int_equal(check(st_file(0644, me), 1, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "private key is readable by every user "
	    "(mode 0644); run \"chmod o-rwx"));
}

/* Owners: root, we and the service user; nobody else. */
static void
test_owners(void **state)
{
	char	why[256];
	uid_t	other = geteuid() == 4242 ? 4243 : 4242;

	(void)state;
	fileperm_allow_uid((uid_t)-1);
	assert_int_equal(check(st_file(0644, 0), 0, why, sizeof(why)), 0);
	assert_int_equal(check(st_file(0644, geteuid()), 0, why, sizeof(why)),
	    0);
	assert_int_equal(check(st_file(0644, other), 0, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "is owned by uid "));
	assert_non_null(strstr(why, "neither root nor the daemon's user; run "
	    "\"chown root "));
	fileperm_allow_uid(other);
	assert_int_equal(check(st_file(0644, other), 0, why, sizeof(why)), 0);
	fileperm_allow_uid((uid_t)-1);
}

/* Directories: writable by others without the sticky bit refused. */
static void
test_dirs(void **state)
{
	char		why[256], sub[160];
	struct stat	st;

	(void)state;
	fileperm_allow_uid((uid_t)-1);
	assert_int_equal(chmod(tdir, 0755), 0);
	assert_int_equal(check(st_file(0644, 0), 0, why, sizeof(why)), 0);
	assert_int_equal(chmod(tdir, 0777), 0);
	assert_int_equal(check(st_file(0644, 0), 0, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "its directory"));
	assert_non_null(strstr(why, "chmod go-w"));
	/* sticky, like /tmp: others cannot replace our file */
	assert_int_equal(chmod(tdir, 01777), 0);
	assert_int_equal(check(st_file(0644, 0), 0, why, sizeof(why)), 0);
	assert_int_equal(chmod(tdir, 0700), 0);

	/* a directory of trust anchors */
	snprintf(sub, sizeof(sub), "%s/anchors", tdir);
	assert_int_equal(mkdir(sub, 0755), 0);
	assert_int_equal(stat(sub, &st), 0);
	assert_int_equal(fileperm_check_dir(sub, &st, why, sizeof(why)), 0);
	assert_int_equal(chmod(sub, 0775), 0);
	assert_int_equal(stat(sub, &st), 0);
	assert_int_equal(fileperm_check_dir(sub, &st, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "the directory is writable by its group"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_modes),
		cmocka_unit_test(test_owners),
		cmocka_unit_test(test_dirs),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
