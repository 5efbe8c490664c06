/* Logging and metrics never block (log.c, metrics.c): to a FIFO nobody
 * drains, log lines that do not fit are dropped and counted, metrics lines
 * are dropped whole or finished later -- a reader never sees a cut line --
 * and the drops show up in logger.missed_log_count / missed_metrics_count. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ember/log.h"
#include "ember/metrics.h"

static char dir[64];

/* A FIFO at dir/name with a reader that never reads (until drained); the
 * pipe shrunk to one page so it fills fast. Returns the reader. */
static int fifo(const char *name, char *path, size_t cap)
{
	int r;

	snprintf(path, cap, "%s/%s", dir, name);
	assert_int_equal(mkfifo(path, 0600), 0);
	r = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	assert_true(r >= 0);
	assert_true(fcntl(r, F_SETPIPE_SZ, 4096) >= 0);
	return r;
}

static size_t drain(int fd, char *buf, size_t cap)
{
	size_t len = 0;
	ssize_t n;

	while (len < cap - 1 && (n = read(fd, buf + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	return len;
}

static void test_log_full_fifo(void **state)
{
	char path[128], *buf = malloc(1 << 16);
	int r = fifo("log", path, sizeof(path));
	uint64_t missed;

	(void)state;
	assert_non_null(buf);
	log_take_missed();
	assert_int_equal(log_open(path), 0);
	assert_true(log_nonblocking());
	/* ~100 bytes each, 40 KB into a 4 KB pipe: returns at once, drops */
	for (int i = 0; i < 400; i++)
		log_warn("line %d of a flood that nobody reads %060d", i, 0);
	missed = log_take_missed();
	assert_true(missed > 300);
	assert_int_equal(log_take_missed(), 0);
	drain(r, buf, 1 << 16);
	/* what went through is whole lines */
	assert_true(strlen(buf) > 0);
	assert_int_equal(buf[strlen(buf) - 1], '\n');
	log_warn("after the drain");
	assert_int_equal(log_take_missed(), 0);
	close(r);
	free(buf);
}

static void test_metrics_full_fifo(void **state)
{
	char path[128], *buf = calloc(1, 1 << 20), *props = malloc(8192);
	int r = fifo("metrics", path, sizeof(path));
	int misses = 0, lines = 0;
	uint64_t missed = 0;
	size_t len = 0;

	(void)state;
	assert_non_null(buf);
	assert_non_null(props);
	/* lines of ~9.5 KB: more than the pipe holds, so they go out in parts */
	snprintf(props, 8192, "{\"pad\": \"%06000d\"}", 0);
	assert_int_equal(metrics_set_options(NULL, false, props), 0);
	assert_int_equal(metrics_open(path), 0);
	for (int i = 0; i < 50; i++)
		if (metrics_flush() < 0)
			misses++;
	assert_true(misses > 0);
	/* a reader that comes back now and then */
	for (int i = 0; i < 20; i++) {
		len += drain(r, buf + len, (1 << 20) - len);
		if (metrics_flush() < 0)
			misses++;
	}
	len += drain(r, buf + len, (1 << 20) - len);
	/* the last line may still be on its way; every line before it is
	 * whole (a cut one would run into the next and not parse) */
	assert_true(len > 0 && buf[0] == '{');
	for (char *l = buf, *nl; (nl = strchr(l, '\n')); l = nl + 1) {
		cJSON *o, *lg;

		*nl = '\0';
		o = cJSON_Parse(l);
		assert_non_null(o);
		lg = cJSON_GetObjectItem(o, "logger");
		assert_non_null(lg);
		missed += (uint64_t)cJSON_GetObjectItem(lg, "missed_metrics_count")->valuedouble;
		cJSON_Delete(o);
		lines++;
	}
	assert_true(lines >= 2);
	/* every miss is reported, but for those after the last line made */
	assert_true(missed >= 49 && missed <= (uint64_t)misses);
	close(r);
	free(props);
	free(buf);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/ember-logm.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char p[128];

	(void)state;
	snprintf(p, sizeof(p), "%s/log", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/metrics", dir);
	unlink(p);
	rmdir(dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_log_full_fifo),
	    cmocka_unit_test(test_metrics_full_fifo),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
