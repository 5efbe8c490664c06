/* --boot-timer: the guest writes 123 to I/O port LAYOUT_BOOT_TIMER_PORT
 * when it has booted; ember logs the wall and CPU time since the process
 * started (Firecracker's boot timer, on an I/O port). */
#ifndef EMBER_BOOT_TIMER_H
#define EMBER_BOOT_TIMER_H

#include <stdbool.h>
#include <stdint.h>

#include "ember/bus.h"

#define BOOT_TIMER_MAGIC 123

struct boot_timer {
	bool fired;
	uint64_t start_ns; /* CLOCK_MONOTONIC at process start */
	uint64_t wall_us, cpu_us; /* measured at the magic write */
};

extern const struct bus_ops boot_timer_bus_ops;
void boot_timer_init(struct boot_timer *t);
/* Called first thing in main(): the boot timer counts from here (as
 * Firecracker does). Without it, the process start from /proc/self/stat
 * (10 ms resolution) is used. */
void boot_timer_mark_process_start(void);
/* CLOCK_MONOTONIC time of this process's start. */
uint64_t boot_timer_process_start_ns(void);

#endif
