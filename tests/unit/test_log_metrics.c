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

static double num(cJSON *o, const char *group, const char *field)
{
	cJSON *g = cJSON_GetObjectItem(o, group), *f;

	assert_non_null(g);
	f = cJSON_GetObjectItem(g, field);
	assert_true(f && cJSON_IsNumber(f));
	return f->valuedouble;
}

/* pmem: "pmem_<id>" per device and their sum "pmem" (Firecracker's four
 * fields first); "memory_hotplug" with the latency objects, whose min/max
 * stay and whose sum_us restarts at each flush like the counters. */
static void test_metrics_pmem_memory_hotplug(void **state)
{
	struct metrics_pmem *a = metrics_pmem_get("pm0"), *b = metrics_pmem_get("pm1");
	struct metrics_memory_hotplug *h = &metrics.memory_hotplug;
	cJSON *o, *agg;
	char *line;

	(void)state;
	assert_non_null(a);
	assert_ptr_equal(a, metrics_pmem_get("pm0"));
	assert_true(a != b);
	free(metrics_serialize()); /* start from zero */
	METRIC_ADD(a->queue_event_count, 3);
	METRIC_ADD(b->queue_event_count, 4);
	METRIC_INC(b->flush_count);
	METRIC_INC(a->cfg_fails);
	METRIC_INC(h->plug_count);
	METRIC_ADD(h->plug_bytes, 2 << 20);
	METRIC_INC(h->queue_event_fails);
	metrics_latency_add(&h->plug_agg, 30);
	metrics_latency_add(&h->plug_agg, 10);
	metrics_latency_add(&h->plug_agg, 20);
	line = metrics_serialize();
	assert_non_null(line);
	o = cJSON_Parse(line);
	assert_non_null(o);
	assert_int_equal(num(o, "pmem_pm0", "queue_event_count"), 3);
	assert_int_equal(num(o, "pmem_pm0", "cfg_fails"), 1);
	assert_int_equal(num(o, "pmem_pm1", "queue_event_count"), 4);
	assert_int_equal(num(o, "pmem", "queue_event_count"), 7);
	assert_int_equal(num(o, "pmem", "flush_count"), 1);
	assert_int_equal(num(o, "pmem", "activate_fails"), 0);
	assert_int_equal(num(o, "pmem", "event_fails"), 0);
	assert_int_equal(num(o, "memory_hotplug", "plug_count"), 1);
	assert_int_equal(num(o, "memory_hotplug", "plug_bytes"), 2 << 20);
	assert_int_equal(num(o, "memory_hotplug", "queue_event_fails"), 1);
	assert_int_equal(num(o, "memory_hotplug", "unplug_discard_fails"), 0);
	agg = cJSON_GetObjectItem(cJSON_GetObjectItem(o, "memory_hotplug"), "plug_agg");
	assert_non_null(agg);
	assert_int_equal(cJSON_GetObjectItem(agg, "min_us")->valuedouble, 10);
	assert_int_equal(cJSON_GetObjectItem(agg, "max_us")->valuedouble, 30);
	assert_int_equal(cJSON_GetObjectItem(agg, "sum_us")->valuedouble, 60);
	assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "memory_hotplug"), "state_agg"));
	cJSON_Delete(o);
	free(line);
	/* the next line: counters restarted, min/max kept */
	line = metrics_serialize();
	o = cJSON_Parse(line);
	assert_non_null(o);
	assert_int_equal(num(o, "pmem", "queue_event_count"), 0);
	assert_int_equal(num(o, "memory_hotplug", "plug_count"), 0);
	agg = cJSON_GetObjectItem(cJSON_GetObjectItem(o, "memory_hotplug"), "plug_agg");
	assert_int_equal(cJSON_GetObjectItem(agg, "sum_us")->valuedouble, 0);
	assert_int_equal(cJSON_GetObjectItem(agg, "min_us")->valuedouble, 10);
	assert_int_equal(cJSON_GetObjectItem(agg, "max_us")->valuedouble, 30);
	cJSON_Delete(o);
	free(line);
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
	    cmocka_unit_test(test_metrics_pmem_memory_hotplug),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
