/* i8042 keyboard controller: enough for reset (0xFE to port 0x64) and
 * Ctrl-Alt-Del injection. */
#ifndef EMBER_I8042_H
#define EMBER_I8042_H

#include <pthread.h>
#include <stdint.h>

#include "ember/bus.h"
#include "ember/metrics.h"

struct i8042 {
	pthread_mutex_t lock;
	uint8_t status, cmd, ctrl_byte, outport;
	uint8_t buf[16];
	unsigned head, count;
	void (*reset)(void *opaque); /* guest asked for a CPU reset */
	void *reset_opaque;
	void (*irq)(void *opaque, int level); /* IRQ 1 */
	void *irq_opaque;
	struct metrics_i8042 counters, published; /* Firecracker's "i8042" group */
};

extern const struct bus_ops i8042_bus_ops;

void i8042_init(struct i8042 *k, void (*reset)(void *), void *reset_opaque,
		void (*irq)(void *, int), void *irq_opaque);
/* Queue the scancodes of Ctrl-Alt-Del and raise IRQ 1. */
int i8042_send_ctrl_alt_del(struct i8042 *k);
/* Add what the counters gained since the previous call to metrics.i8042. */
void i8042_publish_metrics(struct i8042 *k);

/* Snapshots: registers and the output buffer. */
struct i8042_state {
	uint8_t status, cmd, ctrl_byte, outport;
	uint32_t head, count;
	uint8_t buf[16];
};
void i8042_save(struct i8042 *k, struct i8042_state *st);
int i8042_restore(struct i8042 *k, const struct i8042_state *st);

#endif
