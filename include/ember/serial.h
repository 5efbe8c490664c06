/* 16550A UART (COM1). The host side is an output fd (stdout or a file) and
 * input pushed by the VMM thread; the IRQ line is raised via a callback. */
#ifndef EMBER_SERIAL_H
#define EMBER_SERIAL_H

#include <pthread.h>
#include <stdint.h>

#include "ember/bus.h"
#include "ember/metrics.h"
#include "ember/rate_limiter.h"

#define SERIAL_FIFO_LEN 64

struct serial {
	pthread_mutex_t lock;
	uint8_t ier, iir, lcr, mcr, lsr, msr, scr, dll, dlm;
	uint8_t rx[SERIAL_FIFO_LEN];
	unsigned rx_head, rx_count;
	int out_fd;        /* -1: output discarded */
	void (*irq)(void *opaque, int level);
	void *irq_opaque;
	int irq_level;
	int thre_pending; /* THR-empty interrupt pending */
	int fcr;
	void (*rx_drained)(void *opaque); /* FIFO emptied by the guest */
	void *rx_drained_opaque;
	uint64_t tx_bytes, missed_writes;
	struct token_bucket out_limit; /* PUT /serial rate_limiter (size 0: none) */
	struct metrics_uart counters, published; /* Firecracker's "uart" group */
};

extern const struct bus_ops serial_bus_ops;

void serial_init(struct serial *s, int out_fd, void (*irq)(void *, int), void *irq_opaque);
void serial_destroy(struct serial *s);
/* Output bandwidth limit (bytes): what the guest writes beyond it is
 * dropped and counted (uart.rate_limiter_dropped_bytes). NULL: none. */
void serial_set_out_limit(struct serial *s, const struct token_bucket_cfg *cfg);
/* Queue host input for the guest; returns bytes accepted (FIFO may be full). */
size_t serial_push_input(struct serial *s, const uint8_t *buf, size_t len);
/* Room in the receive FIFO. */
size_t serial_input_room(struct serial *s);
/* Add what the counters gained since the previous call to metrics.uart. */
void serial_publish_metrics(struct serial *s);

/* Snapshots: the guest-visible registers and the receive FIFO. */
struct serial_state {
	uint8_t ier, iir, lcr, mcr, lsr, msr, scr, dll, dlm, fcr, thre_pending, pad;
	uint32_t rx_head, rx_count;
	uint8_t rx[SERIAL_FIFO_LEN];
};
/* Lock held by the function itself. restore: -EINVAL on an impossible state. */
void serial_save(struct serial *s, struct serial_state *st);
int serial_restore(struct serial *s, const struct serial_state *st);

#endif
