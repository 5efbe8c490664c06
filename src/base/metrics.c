/* Metrics counters and their JSON-lines flush (Firecracker's shape).
 * Flushing never blocks: the destination is opened O_NONBLOCK (it is
 * ember's own description), a line that does not fit is dropped and counted
 * in logger.missed_metrics_count, and a line that went out in part has its
 * rest sent before anything else, so a FIFO reader never sees a cut line
 * (until that rest is out, flushes make no new line: the counters keep
 * adding up, and each such flush counts as missed). */
#include "ember/metrics.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "ember/event_loop.h"
#include "ember/log.h"
#include "ember/util.h"

struct ember_metrics metrics;

struct dev_slot {
	char id[CFG_ID_MAX + 1];
	bool used;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct dev_slot block_ids[METRICS_MAX_DEVS];
static struct metrics_block block_devs[METRICS_MAX_DEVS];
static struct dev_slot net_ids[METRICS_MAX_DEVS];
static struct metrics_net net_devs[METRICS_MAX_DEVS];
static struct dev_slot pmem_ids[METRICS_MAX_DEVS];
static struct metrics_pmem pmem_devs[METRICS_MAX_DEVS];
static int metrics_fd = -1;
static int timer_fd = -1;
static char *tail; /* the unwritten rest of a line that went out in part */
static size_t tail_len, tail_off;
static char *instance_id;
static bool emit_id;
static char *properties;
static void (*collector)(void *opaque);
static void *collector_opaque;

void metrics_set_collector(void (*fn)(void *opaque), void *opaque)
{
	pthread_mutex_lock(&lock);
	collector = fn;
	collector_opaque = opaque;
	pthread_mutex_unlock(&lock);
}

static int slot_get(struct dev_slot *ids, const char *id)
{
	int free_slot = -1;

	if (!id || !*id || strlen(id) > CFG_ID_MAX)
		return -1;
	for (int i = 0; i < METRICS_MAX_DEVS; i++) {
		if (ids[i].used && strcmp(ids[i].id, id) == 0)
			return i;
		if (!ids[i].used && free_slot < 0)
			free_slot = i;
	}
	if (free_slot >= 0) {
		ids[free_slot].used = true;
		snprintf(ids[free_slot].id, sizeof(ids[free_slot].id), "%s", id);
	}
	return free_slot;
}

struct metrics_block *metrics_block_get(const char *drive_id)
{
	int i;

	pthread_mutex_lock(&lock);
	i = slot_get(block_ids, drive_id);
	pthread_mutex_unlock(&lock);
	return i < 0 ? NULL : &block_devs[i];
}

struct metrics_net *metrics_net_get(const char *iface_id)
{
	int i;

	pthread_mutex_lock(&lock);
	i = slot_get(net_ids, iface_id);
	pthread_mutex_unlock(&lock);
	return i < 0 ? NULL : &net_devs[i];
}

struct metrics_pmem *metrics_pmem_get(const char *pmem_id)
{
	int i;

	pthread_mutex_lock(&lock);
	i = slot_get(pmem_ids, pmem_id);
	pthread_mutex_unlock(&lock);
	return i < 0 ? NULL : &pmem_devs[i];
}

void metrics_latency_add(struct metrics_latency_agg *agg, uint64_t us)
{
	uint64_t cur;

	METRIC_ADD(agg->sum_us, us);
	cur = __atomic_load_n(&agg->min_us, __ATOMIC_RELAXED);
	while ((cur == 0 || us < cur) &&
	       !__atomic_compare_exchange_n(&agg->min_us, &cur, us, false, __ATOMIC_RELAXED,
					    __ATOMIC_RELAXED))
		;
	cur = __atomic_load_n(&agg->max_us, __ATOMIC_RELAXED);
	while (us > cur && !__atomic_compare_exchange_n(&agg->max_us, &cur, us, false,
							__ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

int metrics_open(const char *path)
{
	int fd;

	pthread_mutex_lock(&lock);
	if (metrics_fd >= 0) {
		pthread_mutex_unlock(&lock);
		return -EALREADY;
	}
	/* O_RDWR: a FIFO without a reader yet opens fine. */
	fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0640);
	if (fd >= 0)
		metrics_fd = fd;
	pthread_mutex_unlock(&lock);
	return fd < 0 ? -errno : 0;
}

bool metrics_is_open(void)
{
	return metrics_fd >= 0;
}

int metrics_set_options(const char *id, bool emit, const char *props)
{
	char *i = id ? strdup(id) : NULL, *p = props ? strdup(props) : NULL;

	if ((id && !i) || (props && !p)) {
		free(i);
		free(p);
		return -ENOMEM;
	}
	pthread_mutex_lock(&lock);
	free(instance_id);
	free(properties);
	instance_id = i;
	properties = p;
	emit_id = emit;
	pthread_mutex_unlock(&lock);
	return 0;
}

static uint64_t take(uint64_t *c)
{
	return __atomic_exchange_n(c, 0, __ATOMIC_RELAXED);
}

static uint64_t peek(uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

#define ADD_TAKE(name) cJSON_AddNumberToObject(o, #name, (double)take(&g->name));
#define ADD_PEEK(name) cJSON_AddNumberToObject(o, #name, (double)peek(&g->name));
#define GROUP(root, key, type, ptr, LIST, ADD)                                                     \
	do {                                                                                       \
		type *g = (ptr);                                                                   \
		cJSON *o = cJSON_AddObjectToObject(root, key);                                     \
		if (o) {                                                                           \
			LIST(ADD)                                                                  \
		}                                                                                  \
	} while (0)

/* add_NAME_devices(root): a "NAME_<id>" group per device (its counters
 * taken) and the "NAME" group with their sums, as Firecracker writes them. */
#define SNAP(name) snap.name = take(&devs[i].name), sum.name += snap.name;
#define PER_DEVICE_WRITER(NAME, LIST)                                                              \
	static void add_##NAME##_devices(cJSON *root)                                              \
	{                                                                                          \
		struct metrics_##NAME *devs = NAME##_devs, sum = {0};                              \
                                                                                                   \
		for (int i = 0; i < METRICS_MAX_DEVS; i++) {                                       \
			struct metrics_##NAME snap;                                                \
			char key[CFG_ID_MAX + 8];                                                  \
                                                                                                   \
			if (!NAME##_ids[i].used)                                                   \
				continue;                                                          \
			LIST(SNAP)                                                                 \
			snprintf(key, sizeof(key), #NAME "_%.64s", NAME##_ids[i].id);              \
			GROUP(root, key, struct metrics_##NAME, &snap, LIST, ADD_PEEK);            \
		}                                                                                  \
		GROUP(root, #NAME, struct metrics_##NAME, &sum, LIST, ADD_PEEK);                   \
	}
PER_DEVICE_WRITER(block, METRICS_BLOCK)
PER_DEVICE_WRITER(net, METRICS_NET)
PER_DEVICE_WRITER(pmem, METRICS_PMEM)
#undef SNAP

static void add_memory_hotplug(cJSON *root)
{
	struct metrics_memory_hotplug *g = &metrics.memory_hotplug;
	cJSON *o = cJSON_AddObjectToObject(root, "memory_hotplug"), *a;

	if (!o)
		return;
	METRICS_MEMORY_HOTPLUG(ADD_TAKE)
#define AGG(name)                                                                                  \
	if ((a = cJSON_AddObjectToObject(o, #name))) {                                             \
		cJSON_AddNumberToObject(a, "min_us", (double)peek(&g->name.min_us));               \
		cJSON_AddNumberToObject(a, "max_us", (double)peek(&g->name.max_us));               \
		cJSON_AddNumberToObject(a, "sum_us", (double)take(&g->name.sum_us));               \
	}
	METRICS_MEMORY_HOTPLUG_LATENCY(AGG)
#undef AGG
}

char *metrics_serialize(void)
{
	struct timespec ts;
	cJSON *root = cJSON_CreateObject();
	char *s, *line;
	size_t n;

	if (!root)
		return NULL;
	if (collector)
		collector(collector_opaque);
	clock_gettime(CLOCK_REALTIME, &ts);
	cJSON_AddNumberToObject(root, "utc_timestamp_ms",
				(double)ts.tv_sec * 1000 + (double)(ts.tv_nsec / 1000000));
	pthread_mutex_lock(&lock);
	if (emit_id && instance_id)
		cJSON_AddStringToObject(root, "id", instance_id);
	if (properties)
		cJSON_AddItemToObject(root, "properties", cJSON_Parse(properties));
	GROUP(root, "api_server", struct metrics_api_server, &metrics.api_server,
	      METRICS_API_SERVER, ADD_PEEK);
	GROUP(root, "balloon", struct metrics_balloon, &metrics.balloon, METRICS_BALLOON, ADD_TAKE);
	add_block_devices(root);
	GROUP(root, "deprecated_api", struct metrics_deprecated, &metrics.deprecated_api,
	      METRICS_DEPRECATED, ADD_TAKE);
	GROUP(root, "entropy", struct metrics_entropy, &metrics.entropy, METRICS_ENTROPY, ADD_TAKE);
	GROUP(root, "get_api_requests", struct metrics_get_api, &metrics.get_api_requests,
	      METRICS_GET_API, ADD_TAKE);
	GROUP(root, "i8042", struct metrics_i8042, &metrics.i8042, METRICS_I8042, ADD_TAKE);
	GROUP(root, "latencies_us", struct metrics_latencies, &metrics.latencies_us,
	      METRICS_LATENCIES, ADD_PEEK);
	add_memory_hotplug(root);
	METRIC_ADD(metrics.logger.missed_log_count, log_take_missed());
	METRIC_ADD(metrics.logger.log_fails, log_take_failed());
	GROUP(root, "logger", struct metrics_logger, &metrics.logger, METRICS_LOGGER, ADD_TAKE);
	GROUP(root, "mmds", struct metrics_mmds, &metrics.mmds, METRICS_MMDS, ADD_TAKE);
	add_net_devices(root);
	GROUP(root, "patch_api_requests", struct metrics_patch_api, &metrics.patch_api_requests,
	      METRICS_PATCH_API, ADD_TAKE);
	add_pmem_devices(root);
	GROUP(root, "put_api_requests", struct metrics_put_api, &metrics.put_api_requests,
	      METRICS_PUT_API, ADD_TAKE);
	GROUP(root, "rtc", struct metrics_rtc, &metrics.rtc, METRICS_RTC, ADD_TAKE);
	GROUP(root, "seccomp", struct metrics_seccomp, &metrics.seccomp, METRICS_SECCOMP, ADD_TAKE);
	GROUP(root, "signals", struct metrics_signals, &metrics.signals, METRICS_SIGNALS, ADD_TAKE);
	GROUP(root, "uart", struct metrics_uart, &metrics.uart, METRICS_UART, ADD_TAKE);
	GROUP(root, "vcpu", struct metrics_vcpu, &metrics.vcpu, METRICS_VCPU, ADD_TAKE);
	GROUP(root, "vmm", struct metrics_vmm, &metrics.vmm, METRICS_VMM, ADD_TAKE);
	GROUP(root, "vsock", struct metrics_vsock, &metrics.vsock, METRICS_VSOCK, ADD_TAKE);
	pthread_mutex_unlock(&lock);
	s = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	if (!s)
		return NULL;
	n = strlen(s);
	line = realloc(s, n + 2);
	if (!line) {
		free(s);
		return NULL;
	}
	line[n] = '\n';
	line[n + 1] = '\0';
	return line;
}

/* Write what fits of tail; 0 when it is all out, -EAGAIN if not, -errno. */
static int write_tail(void)
{
	while (tail_off < tail_len) {
		ssize_t w = write(metrics_fd, tail + tail_off, tail_len - tail_off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
		if (w == 0)
			return -EAGAIN;
		tail_off += (size_t)w;
	}
	free(tail);
	tail = NULL;
	tail_len = tail_off = 0;
	return 0;
}

int metrics_flush(void)
{
	uint64_t carried;
	char *line;
	int r;

	if (metrics_fd < 0)
		return 0;
	/* The rest of a cut line first. While it is stuck, no new line is made:
	 * the counters go on adding up for the next one. */
	if (tail && (r = write_tail()) < 0) {
		METRIC_INC(metrics.logger.missed_metrics_count);
		if (r != -EAGAIN)
			METRIC_INC(metrics.logger.metrics_fails);
		return r;
	}
	/* A line that cannot go out at all is lost (its counters restarted)
	 * and counted in the next one, with the misses it carried. */
	carried = peek(&metrics.logger.missed_metrics_count);
	line = metrics_serialize();
	if (!line) {
		METRIC_INC(metrics.logger.metrics_fails);
		return -ENOMEM;
	}
	tail = line;
	tail_len = strlen(line);
	tail_off = 0;
	r = write_tail();
	if (r < 0 && tail_off == 0) {
		/* nothing of it went out: drop it whole */
		free(tail);
		tail = NULL;
		tail_len = 0;
		METRIC_ADD(metrics.logger.missed_metrics_count, carried + 1);
		if (r != -EAGAIN)
			METRIC_INC(metrics.logger.metrics_fails);
		return r;
	}
	return 0; /* all out, or the rest goes first next time */
}

static void timer_event(void *opaque, int fd, uint32_t events)
{
	uint64_t ticks;

	(void)opaque;
	(void)events;
	if (read(fd, &ticks, sizeof(ticks)) != sizeof(ticks))
		return;
	if (metrics_flush() < 0)
		log_warn("metrics: flush failed");
}

int metrics_start_timer(struct event_loop *el, unsigned interval_ms)
{
	struct itimerspec its = {
	    .it_interval = {interval_ms / 1000, (long)(interval_ms % 1000) * 1000000},
	    .it_value = {interval_ms / 1000, (long)(interval_ms % 1000) * 1000000},
	};
	int r;

	if (timer_fd >= 0)
		return -EALREADY;
	timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (timer_fd < 0)
		return -errno;
	r = timerfd_settime(timer_fd, 0, &its, NULL) < 0 ? -errno : 0;
	if (r == 0)
		r = el_add(el, timer_fd, EPOLLIN, timer_event, NULL);
	if (r < 0) {
		close(timer_fd);
		timer_fd = -1;
	}
	return r;
}

void metrics_stop_timer(struct event_loop *el)
{
	if (timer_fd < 0)
		return;
	el_remove(el, timer_fd);
	close(timer_fd);
	timer_fd = -1;
}
