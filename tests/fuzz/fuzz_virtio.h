/* Shared libFuzzer harness for the virtio devices: the fuzz input is a
 * program for a hostile guest driver (tests/device/vdriver.h plays the
 * driver and the VMM thread's event loop). It writes MMIO registers and
 * config space, writes guest RAM, lays out raw descriptors or well-formed
 * chains, posts heads, sets avail idx / used_event / avail flags, kicks,
 * and lets the device's host side act (device-specific op). After every
 * event-loop run it checks what the device returned on the used rings.
 *
 * Input: byte 0 = set-up (bit 0: handshake + queues + DRIVER_OK, else the
 * device stays in reset for raw MMIO; bits 1-2: queue size 4/16/64/256),
 * bytes 1-8 = driver feature mask (little-endian), then operations
 * (fz_op in fuzz_virtio.c), each an opcode byte and its arguments; a short
 * input reads as zeros. */
#ifndef TESTS_FUZZ_FUZZ_VIRTIO_H
#define TESTS_FUZZ_FUZZ_VIRTIO_H

#include <stddef.h>
#include <stdint.h>

#include "vdriver.h"

#define FZ_RAM (8ULL << 20)

struct fz_in {
	const uint8_t *p;
	size_t n;
};

uint8_t fz_u8(struct fz_in *in);
uint16_t fz_u16(struct fz_in *in);
uint32_t fz_u32(struct fz_in *in);
uint64_t fz_u64(struct fz_in *in);
/* Copy up to len input bytes into dst (the rest zero); returns len. */
size_t fz_bytes(struct fz_in *in, void *dst, size_t len);

struct fz_dev {
	struct vdriver *d; /* vdrv_init + vdrv_attach done by the target */
	unsigned nqueues;
	/* device-specific host-side operation (may be NULL) */
	void (*host_op)(void *opaque, struct fz_in *in);
	void *opaque;
};

/* Runs the program in data on the device. Traps (__builtin_trap) when the
 * device breaks a promise: a used element naming a head outside the queue. */
void fz_run(struct fz_dev *dev, const uint8_t *data, size_t size);

/* A backing file (sparse, size bytes) in a private directory for this
 * process; path receives its name. */
int fz_temp_file(uint64_t size, char *path, size_t len);
/* The private directory (created on first use, removed at exit). */
const char *fz_temp_dir(void);

#endif
