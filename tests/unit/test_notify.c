/*
 * Unit tests for notify: real AF_UNIX datagram sockets, one bound at a path
 * in a temp dir and one in the abstract namespace, stand in for systemd.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "notify.h"

struct listener {
	char	 dir[64];		/* temp dir, "" for abstract */
	char	 env[128];		/* the NOTIFY_SOCKET value */
	int	 fd;
};

/* The tests' listener: teardown closes it even after a failed assert. */
static struct listener	 lsn = { .fd = -1 };

/* Bind a datagram socket at a file in a fresh temp dir. */
static void
listener_path(struct listener *l)
{
	struct sockaddr_un	 sa;

	memset(l, 0, sizeof(*l));
	snprintf(l->dir, sizeof(l->dir), "%s", "/tmp/test_notify.XXXXXX");
	assert_non_null(mkdtemp(l->dir));
	snprintf(l->env, sizeof(l->env), "%s/notify.sock", l->dir);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	assert_true(snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", l->env) <
	    (int)sizeof(sa.sun_path));
	l->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(l->fd >= 0);
	assert_int_equal(bind(l->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
}

/*
 * Bind a datagram socket in the abstract namespace, with the address length
 * systemd uses: no NUL after the name.
 */
static void
listener_abstract(struct listener *l)
{
	struct sockaddr_un	 sa;
	size_t			 n;

	memset(l, 0, sizeof(*l));
	snprintf(l->env, sizeof(l->env), "@estcoapd/test_notify/%ld/%d",
	    (long)getpid(), rand());
	n = strlen(l->env);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path + 1, l->env + 1, n - 1);
	l->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(l->fd >= 0);
	assert_int_equal(bind(l->fd, (struct sockaddr *)&sa,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)), 0);
}

/* Close the listener and remove its file and dir, if any. */
static void
listener_free(struct listener *l)
{
	char	 path[128];

	if (l->fd != -1)
		close(l->fd);
	l->fd = -1;
	if (l->dir[0] != '\0') {
		snprintf(path, sizeof(path), "%s/notify.sock", l->dir);
		(void)unlink(path);
		(void)rmdir(l->dir);
		l->dir[0] = '\0';
	}
}

/* Receive one datagram without waiting and compare it byte for byte. */
static void
expect_datagram(int fd, const char *want)
{
	char	 buf[8192];
	ssize_t	 n;

	n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);
	assert_true(n >= 0);
	assert_int_equal((size_t)n, strlen(want));
	assert_memory_equal(buf, want, (size_t)n);
}

/* No datagram is waiting. */
static void
expect_nothing(int fd)
{
	char	 buf[16];

	assert_int_equal(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);
}

static void
env_clear(void)
{
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

/* Every test starts and ends without notify state or systemd variables. */
static int
setup(void **state)
{
	(void)state;
	notify_shutdown();
	env_clear();
	memset(&lsn, 0, sizeof(lsn));
	lsn.fd = -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	notify_shutdown();
	env_clear();
	listener_free(&lsn);
	return 0;
}

/* A path socket gets exactly the bytes formatted, with no NUL added. */
static void
test_notify_path(void **state)
{

	(void)state;
	listener_path(&lsn);
	setenv("NOTIFY_SOCKET", lsn.env, 1);
	assert_int_equal(notify_init(), 1);
	assert_int_equal(notify_send("READY=1\nSTATUS=%s", "listening on x"),
	    0);
	expect_datagram(lsn.fd, "READY=1\nSTATUS=listening on x");
	assert_int_equal(notify_send("WATCHDOG=1"), 0);
	assert_int_equal(notify_send("STOPPING=1"), 0);
	expect_datagram(lsn.fd, "WATCHDOG=1");
	expect_datagram(lsn.fd, "STOPPING=1");
	expect_nothing(lsn.fd);
	notify_shutdown();
	assert_int_equal(notify_send("READY=1"), 0);
	expect_nothing(lsn.fd);
}

/*
 * An abstract socket is reached only with the exact address length: a NUL
 * counted after the name would name another socket and the send would fail.
 */
static void
test_notify_abstract(void **state)
{

	(void)state;
	listener_abstract(&lsn);
	setenv("NOTIFY_SOCKET", lsn.env, 1);
	assert_int_equal(notify_init(), 1);
	assert_int_equal(notify_send("STATUS=%d sessions", 3), 0);
	expect_datagram(lsn.fd, "STATUS=3 sessions");
	assert_int_equal(notify_send("RELOADING=1"), 0);
	expect_datagram(lsn.fd, "RELOADING=1");
}

/* Which watchdog interval init reports for each WATCHDOG_* combination. */
static void
test_notify_watchdog(void **state)
{
	static char	 self_pid[32], other_pid[32];
	const struct {
		const char	*usec;
		const char	*pid;		/* NULL: unset */
		uint64_t	 want;
	} cases[] = {
		{ "2000000", NULL, 2000000 },
		{ "2000000", self_pid, 2000000 },
		{ "30000000", self_pid, 30000000 },
		{ "2000000", other_pid, 0 },	/* meant for another process */
		{ "2000000", "1", 0 },
		{ "2000000", "", 0 },
		{ "2000000", "12x", 0 },
		{ "2000000", "-5", 0 },
		{ NULL, self_pid, 0 },
		{ "", NULL, 0 },
		{ "0", NULL, 0 },
		{ "abc", NULL, 0 },
		{ "-1", NULL, 0 },
		{ " 5", NULL, 0 },
		{ "5s", NULL, 0 },
		{ "99999999999999999999999", NULL, 0 },
		{ "18446744073709551615", NULL, UINT64_MAX },
	};
	size_t		 i;

	(void)state;
	snprintf(self_pid, sizeof(self_pid), "%ld", (long)getpid());
	snprintf(other_pid, sizeof(other_pid), "%ld", (long)getpid() + 1);
	listener_path(&lsn);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		setenv("NOTIFY_SOCKET", lsn.env, 1);
		if (cases[i].usec != NULL)
			setenv("WATCHDOG_USEC", cases[i].usec, 1);
		if (cases[i].pid != NULL)
			setenv("WATCHDOG_PID", cases[i].pid, 1);
		assert_int_equal(notify_init(), 1);
		if (notify_watchdog_usec() != cases[i].want)
			fail_msg("case %zu: usec=%s pid=%s: got %llu, "
			    "want %llu",
			    i, cases[i].usec ? cases[i].usec : "(unset)",
			    cases[i].pid ? cases[i].pid : "(unset)",
			    (unsigned long long)notify_watchdog_usec(),
			    (unsigned long long)cases[i].want);
		notify_shutdown();
		assert_int_equal(notify_watchdog_usec(), 0);
		env_clear();
	}
}

/* Without NOTIFY_SOCKET every call is a silent no-op. */
static void
test_notify_no_socket(void **state)
{
	(void)state;
	setenv("WATCHDOG_USEC", "2000000", 1);
	assert_int_equal(notify_init(), 0);
	assert_int_equal(notify_send("READY=1"), 0);
	assert_int_equal(notify_send("WATCHDOG=1"), 0);
	assert_int_equal(notify_watchdog_usec(), 0);
	assert_null(getenv("WATCHDOG_USEC"));
	notify_shutdown();
}

/* init unsets all three variables whether or not they were usable. */
static void
test_notify_env_unset(void **state)
{
	static const char *const socks[] = {
		NULL,			/* the listener's own path */
		"relative/notify.sock",
		"",
		"@",
		"vsock:2:1234",		/* systemd 253+, not ours to speak */
	};
	size_t		 i;
	int		 want;

	(void)state;
	listener_path(&lsn);
	for (i = 0; i < sizeof(socks) / sizeof(socks[0]); i++) {
		setenv("NOTIFY_SOCKET", socks[i] != NULL ? socks[i] : lsn.env,
		    1);
		setenv("WATCHDOG_USEC", "1000000", 1);
		setenv("WATCHDOG_PID", "1", 1);
		want = socks[i] == NULL;
		assert_int_equal(notify_init(), want);
		assert_null(getenv("NOTIFY_SOCKET"));
		assert_null(getenv("WATCHDOG_USEC"));
		assert_null(getenv("WATCHDOG_PID"));
		assert_int_equal(notify_send("READY=1"), 0);
		if (want)
			expect_datagram(lsn.fd, "READY=1");
		notify_shutdown();
	}
}

/* A path as long as sun_path holds still works; one byte more is refused. */
static void
test_notify_long_names(void **state)
{
	struct sockaddr_un	 sa;
	char			 name[sizeof(sa.sun_path) + 2];
	size_t			 max = sizeof(sa.sun_path);

	(void)state;
	/* "@" plus 107 bytes: the longest abstract name there is. */
	memset(name, 'a', sizeof(name));
	name[0] = '@';
	name[max] = '\0';
	setenv("NOTIFY_SOCKET", name, 1);
	assert_int_equal(notify_init(), 1);
	notify_shutdown();
	name[max] = 'a';
	name[max + 1] = '\0';
	setenv("NOTIFY_SOCKET", name, 1);
	assert_int_equal(notify_init(), 0);

	/* A path keeps room for its NUL: 107 bytes at most. */
	memset(name, 'p', sizeof(name));
	name[0] = '/';
	name[max - 1] = '\0';
	setenv("NOTIFY_SOCKET", name, 1);
	assert_int_equal(notify_init(), 1);
	notify_shutdown();
	name[max - 1] = 'p';
	name[max] = '\0';
	setenv("NOTIFY_SOCKET", name, 1);
	assert_int_equal(notify_init(), 0);
}

/* A message that does not fit the buffer is refused, not cut short. */
static void
test_notify_too_long(void **state)
{
	static char	 big[5000];

	(void)state;
	listener_path(&lsn);
	setenv("NOTIFY_SOCKET", lsn.env, 1);
	assert_int_equal(notify_init(), 1);
	memset(big, 'x', sizeof(big) - 1);
	big[4095 - strlen("STATUS=")] = '\0';
	assert_int_equal(notify_send("STATUS=%s", big), 0);
	assert_int_equal(recv(lsn.fd, big, sizeof(big), MSG_DONTWAIT), 4095);
	memset(big, 'x', sizeof(big) - 1);
	big[4096 - strlen("STATUS=")] = '\0';
	assert_int_equal(notify_send("STATUS=%s", big), -1);
	expect_nothing(lsn.fd);
}

/*
 * A receiver that never reads fills up; the send then fails at once with
 * EAGAIN instead of blocking the event loop.
 */
static void
test_notify_never_blocks(void **state)
{
	int		 i, rc = 0;

	(void)state;
	listener_path(&lsn);
	setenv("NOTIFY_SOCKET", lsn.env, 1);
	assert_int_equal(notify_init(), 1);
	for (i = 0; i < 100000 && rc == 0; i++)
		rc = notify_send("WATCHDOG=1");
	assert_int_equal(rc, -1);
	assert_int_equal(errno, EAGAIN);
}

/* Run fn with stderr going to a temp file; return how many lines it got. */
static int
count_log_lines(void (*fn)(void))
{
	char	 path[] = "/tmp/test_notify.log.XXXXXX";
	char	 line[4096];
	FILE	*f;
	int	 fd, saved, n = 0;

	assert_true((fd = mkstemp(path)) >= 0);
	fflush(stderr);
	assert_true((saved = dup(STDERR_FILENO)) >= 0);
	assert_true(dup2(fd, STDERR_FILENO) >= 0);
	log_set_level(LOG_LVL_WARN);
	fn();
	log_set_level(LOG_LVL_ERR);
	fflush(stderr);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	assert_non_null(f = fdopen(fd, "r"));
	rewind(f);
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, "notify: send to") != NULL)
			n++;
	fclose(f);
	unlink(path);
	return n;
}

static void
send_three(void)
{
	int	 i;

	for (i = 0; i < 3; i++)
		assert_int_equal(notify_send("WATCHDOG=1"), -1);
}

/*
 * With the listener gone every send fails, but the log gets one line per
 * change of errno, not one per watchdog tick.
 */
static void
test_notify_gone(void **state)
{
	char		 path[128];

	(void)state;
	listener_path(&lsn);
	setenv("NOTIFY_SOCKET", lsn.env, 1);
	assert_int_equal(notify_init(), 1);
	snprintf(path, sizeof(path), "%s", lsn.env);
	close(lsn.fd);
	lsn.fd = -1;
	assert_int_equal(count_log_lines(send_three), 1);
	(void)unlink(path);
	assert_int_equal(count_log_lines(send_three), 1);	/* ENOENT now */
	assert_int_equal(count_log_lines(send_three), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_notify_path, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_notify_abstract, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_notify_watchdog, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_notify_no_socket, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_notify_env_unset, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_notify_long_names, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_notify_too_long, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_notify_never_blocks,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_notify_gone, setup,
		    teardown),
	};

	/* Quiet: the cases provoke warnings; count_log_lines looks at them. */
	log_init(1, LOG_LVL_ERR);
	srand((unsigned int)getpid());
	return cmocka_run_group_tests(tests, NULL, NULL);
}
