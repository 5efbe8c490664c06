/* Boot timer pseudo-device: logs the time from process start to the guest's
 * "booted" write of 123 to its I/O port. */
#include "ember/boot_timer.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ember/log.h"

static uint64_t now_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t main_start_ns;

void boot_timer_mark_process_start(void)
{
	main_start_ns = now_ns(CLOCK_MONOTONIC);
}

uint64_t boot_timer_process_start_ns(void)
{
	if (main_start_ns)
		return main_start_ns;
	char buf[1024], *p;
	unsigned long long start_ticks = 0;
	FILE *f = fopen("/proc/self/stat", "re");
	size_t n;
	long hz = sysconf(_SC_CLK_TCK);

	if (!f)
		return now_ns(CLOCK_MONOTONIC);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* comm may contain spaces */
	/* fields after comm: state(3) ... starttime is field 22 */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d "
			       "%*d %*d %*d %llu",
			 &start_ticks) != 1 || hz <= 0)
		return now_ns(CLOCK_MONOTONIC);
	/* starttime counts from boot, like CLOCK_BOOTTIME; convert to MONOTONIC */
	return start_ticks * (1000000000ULL / (uint64_t)hz) - now_ns(CLOCK_BOOTTIME) +
	       now_ns(CLOCK_MONOTONIC);
}

static void bt_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct boot_timer *t = opaque;

	(void)off;
	(void)len;
	if (*(const uint8_t *)data != BOOT_TIMER_MAGIC || t->fired)
		return;
	t->fired = true;
	t->wall_us = (now_ns(CLOCK_MONOTONIC) - t->start_ns) / 1000;
	t->cpu_us = now_ns(CLOCK_PROCESS_CPUTIME_ID) / 1000;
	log_info("Guest-boot-time = %6llu us %4llu ms, %6llu CPU us %4llu CPU ms",
		 (unsigned long long)t->wall_us, (unsigned long long)t->wall_us / 1000,
		 (unsigned long long)t->cpu_us, (unsigned long long)t->cpu_us / 1000);
}

const struct bus_ops boot_timer_bus_ops = {.write = bt_write};

void boot_timer_init(struct boot_timer *t)
{
	memset(t, 0, sizeof(*t));
	t->start_ns = boot_timer_process_start_ns();
}
