/*
 * Unit tests for audit_file: what the audit log may be (no symbolic link,
 * no second hard link, no directory), that only a file we created counts
 * as ours, that a reopen keeps the old file until the new one works, and
 * that a file that cannot be written makes the log not writable until a
 * retry succeeds.
 */
#include <sys/stat.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "audit_file.h"

static char	tdir[64];

static int
setup(void **state)
{
	(void)state;
	snprintf(tdir, sizeof(tdir), "/tmp/estcoapd-ut.XXXXXX");
	return mkdtemp(tdir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	auditf_close();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* tdir/name into buf. */
static const char *
tpath(char *buf, size_t bufsz, const char *name)
{
	snprintf(buf, bufsz, "%s/%s", tdir, name);
	return buf;
}

/* The lines of a file that contain needle. */
static int
count_lines(const char *path, const char *needle)
{
	FILE	*fp;
	char	 line[1024];
	int	 n = 0;

	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp) != NULL)
		n += strstr(line, needle) != NULL;
	fclose(fp);
	return n;
}

/* A symbolic link, a hard link and a directory are refused. */
static void
test_open_path_refusals(void **state)
{
	char		 p[128], target[128], why[160];
	struct stat	 st;
	int		 fd, created;

	(void)state;
	tpath(target, sizeof(target), "target");
	fd = auditf_open_path(target, &created, why, sizeof(why));
	assert_true(fd >= 0);
	assert_int_equal(created, 1);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	close(fd);
	/* the second time it exists: opened, not created */
	fd = auditf_open_path(target, &created, why, sizeof(why));
	assert_true(fd >= 0);
	assert_int_equal(created, 0);
	close(fd);

	assert_int_equal(symlink(target, tpath(p, sizeof(p), "link")), 0);
	assert_int_equal(auditf_open_path(p, &created, why, sizeof(why)), -1);
	assert_int_equal(errno, ELOOP);
	assert_non_null(strstr(why, "symbolic link"));
	/* a dangling one is not created through either */
	assert_int_equal(symlink(tpath(target, sizeof(target), "nothing"),
	    tpath(p, sizeof(p), "dangling")), 0);
	assert_int_equal(auditf_open_path(p, &created, why, sizeof(why)), -1);
	assert_int_equal(access(target, F_OK), -1);

	tpath(target, sizeof(target), "target");
	assert_int_equal(link(target, tpath(p, sizeof(p), "hard")), 0);
	assert_int_equal(auditf_open_path(p, &created, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "hard link"));

	assert_int_equal(mkdir(tpath(p, sizeof(p), "dir"), 0700), 0);
	assert_int_equal(auditf_open_path(p, &created, why, sizeof(why)), -1);

	assert_int_equal(mkfifo(tpath(p, sizeof(p), "fifo"), 0600), 0);
	assert_int_equal(auditf_open_path(p, &created, why, sizeof(why)), -1);

	/* a character device such as /dev/null is fine */
	fd = auditf_open_path("/dev/null", &created, why, sizeof(why));
	assert_true(fd >= 0);
	assert_int_equal(created, 0);
	close(fd);
}

/* At start a symbolic link stops the daemon; a full device does not. */
static void
test_open_start(void **state)
{
	char p[128];

	(void)state;
	assert_int_equal(symlink("/dev/null", tpath(p, sizeof(p), "slink")),
	    0);
	assert_int_equal(auditf_open(p, 0), -1);
	assert_false(auditf_enabled());
	assert_true(auditf_writable());

	/* /dev/full: opened, every write fails, so not writable */
	assert_int_equal(auditf_open("/dev/full", 0), 0);
	assert_true(auditf_enabled());
	assert_false(auditf_writable());
	assert_int_equal(auditf_write("{}\n", 3), -1);
	auditf_tick(UINT64_MAX);
	assert_false(auditf_writable());
	/* a reload to a good file brings it back */
	assert_int_equal(auditf_open(tpath(p, sizeof(p), "good.log"), 1), 0);
	assert_true(auditf_writable());
	assert_int_equal(count_lines(p, "\"event\":\"opened\""), 1);
	assert_int_equal(count_lines(p, "\"lost\":1"), 1);
	auditf_close();
}

/*
 * A reload whose path cannot be opened keeps the old file; the retry
 * switches once the path works again.
 */
static void
test_reopen_keeps_old(void **state)
{
	char	p[128], rot[128];

	(void)state;
	tpath(p, sizeof(p), "audit.log");
	tpath(rot, sizeof(rot), "audit.log.1");
	assert_int_equal(auditf_open(p, 0), 0);
	assert_int_equal(auditf_write("{\"a\":1}\n", 8), 0);
	/* rotated away, a directory in its place */
	assert_int_equal(rename(p, rot), 0);
	assert_int_equal(mkdir(p, 0700), 0);
	assert_int_equal(auditf_open(p, 1), 0);
	assert_true(auditf_writable());
	assert_int_equal(auditf_write("{\"a\":2}\n", 8), 0);
	assert_int_equal(count_lines(rot, "\"a\":"), 2);
	auditf_tick(UINT64_MAX);
	assert_int_equal(auditf_write("{\"a\":3}\n", 8), 0);
	assert_int_equal(count_lines(rot, "\"a\":"), 3);
	/* fixed: the next retry opens the path, records go there */
	assert_int_equal(rmdir(p), 0);
	auditf_tick(UINT64_MAX);
	assert_int_equal(auditf_write("{\"a\":4}\n", 8), 0);
	assert_int_equal(count_lines(p, "\"a\":4"), 1);
	assert_int_equal(count_lines(rot, "\"a\":"), 3);
	auditf_close();
}

/*
 * A write that fails makes the log not writable; records are not lost
 * silently, and a retry with a working path writes "opened" with the
 * count of records lost.
 */
static void
test_write_failure_and_retry(void **state)
{
	char	p[128];

	(void)state;
	tpath(p, sizeof(p), "w.log");
	assert_int_equal(auditf_open(p, 0), 0);
	assert_true(auditf_writable());
	/* the path becomes a directory and the reload finds no old file */
	auditf_close();
	assert_int_equal(unlink(p), 0);
	assert_int_equal(mkdir(p, 0700), 0);
	assert_int_equal(auditf_open(p, 0), -1);
	/* a reload that enables the log on a bad path: retried */
	assert_int_equal(auditf_open(p, 1), -1);
	assert_true(auditf_enabled());
	assert_false(auditf_writable());
	assert_int_equal(auditf_write("{\"b\":1}\n", 8), -1);
	assert_int_equal(auditf_write("{\"b\":2}\n", 8), -1);
	auditf_tick(0);		/* backoff not over: nothing happens */
	assert_false(auditf_writable());
	assert_int_equal(rmdir(p), 0);
	auditf_tick(UINT64_MAX);
	assert_true(auditf_writable());
	assert_int_equal(count_lines(p, "\"lost\":2"), 1);
	auditf_close();
	assert_true(auditf_writable());
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_path_refusals),
		cmocka_unit_test(test_open_start),
		cmocka_unit_test(test_reopen_keeps_old),
		cmocka_unit_test(test_write_failure_and_retry),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
