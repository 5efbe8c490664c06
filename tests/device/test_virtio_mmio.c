/* virtio-mmio transport: registers, handshake, feature negotiation, reset,
 * protocol violations, config generation, interrupt and notification
 * suppression — with a tiny echo device so nothing here is blk-specific. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ember/log.h"
#include "vdriver.h"

#define ECHO_FEATURE_X 3 /* a device-specific feature bit */
#define ECHO_QUEUES 2
#define ECHO_QMAX 64

struct echo {
	struct virtio_dev vdev;
	uint8_t config[12];
	int resets, activates, notifies, config_writes;
	bool refuse_activate;
	struct vq_chain chain;
};

static struct echo *to_echo(struct virtio_dev *vd)
{
	return container_of(vd, struct echo, vdev);
}

static void echo_config_read(struct virtio_dev *vd, uint32_t off, void *data, uint32_t len)
{
	memcpy(data, to_echo(vd)->config + off, len);
}

static void echo_config_write(struct virtio_dev *vd, uint32_t off, const void *data, uint32_t len)
{
	memcpy(to_echo(vd)->config + off, data, len);
	to_echo(vd)->config_writes++;
}

static int echo_activate(struct virtio_dev *vd)
{
	to_echo(vd)->activates++;
	return to_echo(vd)->refuse_activate ? -EINVAL : 0;
}

/* Copies the readable bytes into the writable part. */
static void echo_notify(struct virtio_dev *vd, unsigned q)
{
	struct echo *e = to_echo(vd);
	struct virtqueue *vq = virtio_dev_queue(vd, q);
	uint8_t buf[4096];
	int r;

	e->notifies++;
	do {
		vq_disable_notification(vq);
		while ((r = vq_pop(vq, &e->chain)) != 0) {
			size_t n;

			if (r == -EIO) {
				virtio_dev_set_needs_reset(vd);
				return;
			}
			if (r < 0) {
				vq_push(vq, e->chain.head, 0);
				continue;
			}
			n = vq_chain_read(&e->chain, 0, buf, sizeof(buf));
			n = vq_chain_write(&e->chain, 0, buf, n);
			vq_push(vq, e->chain.head, (uint32_t)n);
		}
	} while (vq_enable_notification(vq));
	virtio_dev_notify(vd, q);
}

static void echo_reset(struct virtio_dev *vd)
{
	to_echo(vd)->resets++;
}

static const struct virtio_dev_ops echo_ops = {
    .name = "echo",
    .device_id = 42,
    .num_queues = ECHO_QUEUES,
    .queue_max = ECHO_QMAX,
    .features = VIRTIO_FEATURE(ECHO_FEATURE_X),
    .config_size = sizeof(((struct echo *)0)->config),
    .config_read = echo_config_read,
    .config_write = echo_config_write,
    .activate = echo_activate,
    .queue_notify = echo_notify,
    .reset = echo_reset,
};

#define ALL_FEATURES (~0ULL)

struct ctx {
	struct vdriver d;
	struct echo e;
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	assert_int_equal(vdrv_init(&c->d, 16 << 20), 0);
	assert_int_equal(virtio_dev_init(&c->e.vdev, &echo_ops, &c->d.gm, &c->d.el, 0), 0);
	memcpy(c->e.config, "hello-config", 12);
	assert_int_equal(vdrv_attach(&c->d, &c->e.vdev), 0);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	virtio_dev_destroy(&c->e.vdev);
	vdrv_destroy(&c->d);
	free(c);
	return 0;
}

/* Post "ping" on queue q, expect it echoed back. */
static void echo_roundtrip_ind(struct vdriver *d, unsigned q, bool indirect)
{
	uint64_t mark = vdrv_mark(d);
	uint64_t in = vdrv_alloc(d, 4, 1), out = vdrv_alloc(d, 16, 1);
	struct vd_buf b[2] = {{in, 4, false}, {out, 16, true}};
	uint32_t id, len;
	int head;

	memcpy(vdrv_ptr(d, in, 4), "ping", 4);
	head = vdrv_add_chain(d, q, b, 2, indirect);
	assert_true(head >= 0);
	vdrv_kick(d, q);
	assert_int_equal(vdrv_wait_used(d, q, VDRV_WAIT_MS, &id, &len), 0);
	assert_int_equal(id, head);
	assert_int_equal(len, 4);
	assert_memory_equal(vdrv_ptr(d, out, 4), "ping", 4);
	vdrv_free_chain(d, q, (uint16_t)id);
	vdrv_release(d, mark);
}

static void echo_roundtrip(struct vdriver *d, unsigned q)
{
	echo_roundtrip_ind(d, q, false);
}

static void test_identity(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(vdrv_read32(&c->d, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	assert_int_equal(vdrv_read32(&c->d, VIRTIO_MMIO_VERSION), 2);
	assert_int_equal(vdrv_read32(&c->d, VIRTIO_MMIO_DEVICE_ID), 42);
	assert_int_equal(vdrv_read32(&c->d, VIRTIO_MMIO_VENDOR_ID), VIRTIO_VENDOR_ID);
	assert_int_equal(vdrv_status(&c->d), 0);
	/* No shared memory regions. */
	assert_int_equal(vdrv_read32(&c->d, VIRTIO_MMIO_SHM_LEN_LOW), 0xffffffff);
}

static void test_features_offered(void **state)
{
	struct ctx *c = *state;
	uint32_t lo, hi;

	vdrv_write32(&c->d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	lo = vdrv_read32(&c->d, VIRTIO_MMIO_DEVICE_FEATURES);
	vdrv_write32(&c->d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	hi = vdrv_read32(&c->d, VIRTIO_MMIO_DEVICE_FEATURES);
	assert_true(lo & (1u << ECHO_FEATURE_X));
	assert_true(lo & (1u << VIRTIO_RING_F_EVENT_IDX));
	assert_true(lo & (1u << VIRTIO_RING_F_INDIRECT_DESC));
	assert_true(hi & (1u << (VIRTIO_F_VERSION_1 - 32)));
	vdrv_write32(&c->d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
	assert_int_equal(vdrv_read32(&c->d, VIRTIO_MMIO_DEVICE_FEATURES), 0);
}

static void test_handshake_and_io(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(vdrv_setup(&c->d, ALL_FEATURES, ECHO_QUEUES, 16), 0);
	assert_int_equal(c->e.activates, 1);
	assert_true(virtio_dev_has_feature(&c->e.vdev, ECHO_FEATURE_X));
	assert_true(virtio_dev_has_feature(&c->e.vdev, VIRTIO_F_VERSION_1));
	echo_roundtrip(&c->d, 0);
	assert_true(vdrv_irqs(&c->d) >= 1);
	assert_int_equal(vdrv_ack_irq(&c->d), VIRTIO_MMIO_INT_VRING);
	assert_int_equal(vdrv_read32(&c->d, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	echo_roundtrip(&c->d, 1);
	echo_roundtrip(&c->d, 1);
	assert_false(vdrv_needs_reset(&c->d));
}

static void test_features_need_version_1(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(vdrv_negotiate(&c->d, VIRTIO_FEATURE(ECHO_FEATURE_X)), -EPROTO);
	assert_false(vdrv_status(&c->d) & VIRTIO_CONFIG_S_FEATURES_OK);
	/* A driver that goes on anyway gets NEEDS_RESET at DRIVER_OK. */
	assert_int_equal(vdrv_setup_queue(&c->d, 0, 16), 0);
	vdrv_queue_ready(&c->d, 0);
	assert_int_not_equal(vdrv_driver_ok(&c->d), 0);
	assert_true(vdrv_needs_reset(&c->d));
	assert_int_equal(c->e.activates, 0);
}

static void test_features_not_offered(void **state)
{
	struct ctx *c = *state;

	vdrv_write32(&c->d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	vdrv_write32(&c->d, VIRTIO_MMIO_STATUS,
		     VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	vdrv_write32(&c->d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	vdrv_write32(&c->d, VIRTIO_MMIO_DRIVER_FEATURES, 1); /* VERSION_1 */
	vdrv_write32(&c->d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	vdrv_write32(&c->d, VIRTIO_MMIO_DRIVER_FEATURES, 1u << 7); /* not offered */
	vdrv_write32(&c->d, VIRTIO_MMIO_STATUS, 0xb);
	assert_false(vdrv_status(&c->d) & VIRTIO_CONFIG_S_FEATURES_OK);
	/* Retry with an acceptable set. */
	vdrv_write32(&c->d, VIRTIO_MMIO_DRIVER_FEATURES, 1u << ECHO_FEATURE_X);
	vdrv_write32(&c->d, VIRTIO_MMIO_STATUS, 0xb);
	assert_true(vdrv_status(&c->d) & VIRTIO_CONFIG_S_FEATURES_OK);
	assert_false(vdrv_needs_reset(&c->d));
}

static void test_features_high_word(void **state)
{
	struct ctx *c = *state;

	vdrv_write32(&c->d, VIRTIO_MMIO_STATUS, 3);
	vdrv_write32(&c->d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	vdrv_write32(&c->d, VIRTIO_MMIO_DRIVER_FEATURES, 1);
	vdrv_write32(&c->d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 2);
	vdrv_write32(&c->d, VIRTIO_MMIO_DRIVER_FEATURES, 1);
	vdrv_write32(&c->d, VIRTIO_MMIO_STATUS, 0xb);
	assert_false(vdrv_status(&c->d) & VIRTIO_CONFIG_S_FEATURES_OK);
}

static void test_features_write_after_features_ok(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(vdrv_negotiate(&c->d, ALL_FEATURES), 0);
	vdrv_write32(&c->d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	vdrv_write32(&c->d, VIRTIO_MMIO_DRIVER_FEATURES, 0);
	assert_true(vdrv_needs_reset(&c->d));
}

static void test_features_ok_before_driver(void **state)
{
	struct ctx *c = *state;

	vdrv_write32(&c->d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_FEATURES_OK);
	assert_true(vdrv_needs_reset(&c->d));
}

static void test_driver_ok_without_features_ok(void **state)
{
	struct ctx *c = *state;

	vdrv_write32(&c->d, VIRTIO_MMIO_STATUS, 3);
	vdrv_write32(&c->d, VIRTIO_MMIO_STATUS, 3 | VIRTIO_CONFIG_S_DRIVER_OK);
	assert_true(vdrv_needs_reset(&c->d));
	assert_false(vdrv_status(&c->d) & VIRTIO_CONFIG_S_DRIVER_OK);
	assert_int_equal(c->e.activates, 0);
}

static void test_status_bits_cannot_be_cleared(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(vdrv_setup(&c->d, ALL_FEATURES, 1, 16), 0);
	vdrv_write32(&c->d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	assert_true(vdrv_needs_reset(&c->d));
	/* The driver sees a config interrupt telling it so. */
	assert_true(vdrv_irqs(&c->d) >= 1);
	assert_true(vdrv_read32(&c->d, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
}

static void test_reset(void **state)
{
	struct ctx *c = *state;

	int resets;

	assert_int_equal(vdrv_setup(&c->d, ALL_FEATURES, ECHO_QUEUES, 16), 0);
	echo_roundtrip(&c->d, 0);
	resets = c->e.resets;
	vdrv_write32(&c->d, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(c->e.resets, resets + 1);
	assert_int_equal(vdrv_status(&c->d), 0);
	assert_int_equal(vdrv_read32(&c->d, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	for (unsigned q = 0; q < ECHO_QUEUES; q++) {
		vdrv_write32(&c->d, VIRTIO_MMIO_QUEUE_SEL, q);
		assert_int_equal(vdrv_read32(&c->d, VIRTIO_MMIO_QUEUE_READY), 0);
		assert_int_equal(vdrv_read32(&c->d, VIRTIO_MMIO_QUEUE_NUM), ECHO_QMAX);
		assert_int_equal(vdrv_read32(&c->d, VIRTIO_MMIO_QUEUE_DESC_LOW), 0);
		assert_int_equal(vdrv_read32(&c->d, VIRTIO_MMIO_QUEUE_USED_LOW), 0);
		assert_false(c->e.vdev.queues[q].active);
	}
	/* Kicks that were in flight are dropped; a new handshake works. */
	vdrv_poll(&c->d);
	assert_int_equal(vdrv_setup(&c->d, ALL_FEATURES, ECHO_QUEUES, 32), 0);
	echo_roundtrip(&c->d, 0);
	echo_roundtrip(&c->d, 1);
}

static void test_reset_clears_needs_reset(void **state)
{
	struct ctx *c = *state;

	vdrv_write32(&c->d, VIRTIO_MMIO_QUEUE_SEL, 7);
	vdrv_write32(&c->d, VIRTIO_MMIO_QUEUE_NUM, 16);
	assert_true(vdrv_needs_reset(&c->d));
	/* Everything but a reset is ignored now. */
	vdrv_write32(&c->d, VIRTIO_MMIO_STATUS, 3);
	assert_true(vdrv_needs_reset(&c->d));
	assert_false(vdrv_status(&c->d) & VIRTIO_CONFIG_S_DRIVER);
	assert_int_equal(vdrv_setup(&c->d, ALL_FEATURES, 1, 16), 0);
	echo_roundtrip(&c->d, 0);
}

static void test_queue_sel_out_of_range_reads(void **state)
{
	struct ctx *c = *state;

	vdrv_write32(&c->d, VIRTIO_MMIO_QUEUE_SEL, 0);
	assert_int_equal(vdrv_read32(&c->d, VIRTIO_MMIO_QUEUE_NUM_MAX), ECHO_QMAX);
	/* How Linux finds the number of queues: NumMax 0 = no such queue. */
	vdrv_write32(&c->d, VIRTIO_MMIO_QUEUE_SEL, ECHO_QUEUES);
	assert_int_equal(vdrv_read32(&c->d, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	assert_int_equal(vdrv_read32(&c->d, VIRTIO_MMIO_QUEUE_READY), 0);
	vdrv_write32(&c->d, VIRTIO_MMIO_QUEUE_SEL, 0xffffffff);
	assert_int_equal(vdrv_read32(&c->d, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	assert_false(vdrv_needs_reset(&c->d));
}

static void test_queue_sel_out_of_range_write(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(vdrv_negotiate(&c->d, ALL_FEATURES), 0);
	vdrv_write32(&c->d, VIRTIO_MMIO_QUEUE_SEL, ECHO_QUEUES);
	vdrv_write32(&c->d, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1000);
	assert_true(vdrv_needs_reset(&c->d));
}

static void test_bad_queue_sizes(void **state)
{
	struct ctx *c = *state;
	const uint32_t bad[] = {0, 3, 48, ECHO_QMAX * 2, 0x10000, 0xffffffff};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(vdrv_negotiate(&c->d, ALL_FEATURES), 0);
		vdrv_write32(&c->d, VIRTIO_MMIO_QUEUE_SEL, 0);
		vdrv_write32(&c->d, VIRTIO_MMIO_QUEUE_NUM, bad[i]);
		assert_true(vdrv_needs_reset(&c->d));
	}
	/* Good sizes are fine, up to the max. */
	assert_int_equal(vdrv_setup(&c->d, ALL_FEATURES, 1, ECHO_QMAX), 0);
	echo_roundtrip(&c->d, 0);
	assert_int_equal(vdrv_setup(&c->d, ALL_FEATURES, 1, 2), 0);
	echo_roundtrip_ind(&c->d, 0, true);
	echo_roundtrip_ind(&c->d, 0, false);
	echo_roundtrip_ind(&c->d, 0, true);
}

static void test_queue_setup_after_driver_ok(void **state)
{
	struct ctx *c = *state;
	const uint32_t regs[] = {VIRTIO_MMIO_QUEUE_NUM, VIRTIO_MMIO_QUEUE_DESC_LOW,
				 VIRTIO_MMIO_QUEUE_AVAIL_HIGH, VIRTIO_MMIO_QUEUE_USED_LOW,
				 VIRTIO_MMIO_QUEUE_READY};

	for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++) {
		assert_int_equal(vdrv_setup(&c->d, ALL_FEATURES, 1, 16), 0);
		vdrv_irqs(&c->d);
		vdrv_write32(&c->d, VIRTIO_MMIO_QUEUE_SEL, 0);
		vdrv_write32(&c->d, regs[i], 16);
		assert_true(vdrv_needs_reset(&c->d));
		assert_true(vdrv_irqs(&c->d) >= 1);
		/* The rings did not move. */
		assert_int_equal(c->e.vdev.queues[0].size, 16);
		assert_int_equal(c->e.vdev.queues[0].desc_gpa, c->d.q[0].desc);
	}
}

static void test_queue_setup_while_ready(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(vdrv_negotiate(&c->d, ALL_FEATURES), 0);
	assert_int_equal(vdrv_setup_queue(&c->d, 0, 16), 0);
	vdrv_queue_ready(&c->d, 0);
	vdrv_write32(&c->d, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x2000);
	assert_true(vdrv_needs_reset(&c->d));
}

static void test_notify_before_driver_ok(void **state)
{
	struct ctx *c = *state;
	uint64_t in, out;

	assert_int_equal(vdrv_negotiate(&c->d, ALL_FEATURES), 0);
	assert_int_equal(vdrv_setup_queue(&c->d, 0, 16), 0);
	vdrv_queue_ready(&c->d, 0);
	in = vdrv_alloc(&c->d, 4, 1);
	out = vdrv_alloc(&c->d, 4, 1);
	struct vd_buf b[2] = {{in, 4, false}, {out, 4, true}};
	assert_true(vdrv_add_chain(&c->d, 0, b, 2, false) >= 0);
	vdrv_kick(&c->d, 0);
	vdrv_poll(&c->d);
	/* tolerated and dropped (Linux's balloon kicks during probe) ... */
	assert_false(vdrv_needs_reset(&c->d));
	assert_int_equal(c->e.notifies, 0);
	assert_int_equal(vdrv_used_idx(&c->d, 0), 0);
	/* ... and the pending chain is processed at DRIVER_OK */
	assert_int_equal(vdrv_driver_ok(&c->d), 0);
	vdrv_poll(&c->d);
	assert_int_equal(vdrv_used_idx(&c->d, 0), 1);
}

static void test_notify_bad_queue(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(vdrv_setup(&c->d, ALL_FEATURES, 1, 16), 0);
	vdrv_kick(&c->d, 1); /* exists, but was never made ready */
	assert_true(vdrv_needs_reset(&c->d));
	assert_int_equal(vdrv_setup(&c->d, ALL_FEATURES, 1, 16), 0);
	vdrv_kick(&c->d, 1000);
	assert_true(vdrv_needs_reset(&c->d));
	vdrv_poll(&c->d);
	assert_int_equal(c->e.notifies, 0);
}

static void test_buffers_before_driver_ok(void **state)
{
	struct ctx *c = *state;
	uint32_t id, len;
	uint64_t in, out;

	/* Posted (not kicked) before DRIVER_OK: processed once live. */
	assert_int_equal(vdrv_negotiate(&c->d, ALL_FEATURES), 0);
	assert_int_equal(vdrv_setup_queue(&c->d, 0, 16), 0);
	vdrv_queue_ready(&c->d, 0);
	in = vdrv_alloc(&c->d, 4, 1);
	out = vdrv_alloc(&c->d, 4, 1);
	memcpy(vdrv_ptr(&c->d, in, 4), "abcd", 4);
	struct vd_buf b[2] = {{in, 4, false}, {out, 4, true}};
	assert_true(vdrv_add_chain(&c->d, 0, b, 2, false) >= 0);
	assert_int_equal(vdrv_driver_ok(&c->d), 0);
	assert_int_equal(vdrv_wait_used(&c->d, 0, VDRV_WAIT_MS, &id, &len), 0);
	assert_int_equal(len, 4);
	assert_memory_equal(vdrv_ptr(&c->d, out, 4), "abcd", 4);
}

static void test_ioeventfd_path(void **state)
{
	struct ctx *c = *state;
	uint64_t one = 1, in, out;
	uint32_t id, len;

	assert_int_equal(vdrv_setup(&c->d, ALL_FEATURES, ECHO_QUEUES, 16), 0);
	in = vdrv_alloc(&c->d, 4, 1);
	out = vdrv_alloc(&c->d, 4, 1);
	struct vd_buf b[2] = {{in, 4, false}, {out, 4, true}};
	assert_true(vdrv_add_chain(&c->d, 1, b, 2, false) >= 0);
	assert_int_equal(virtio_mmio_queue_eventfd(&c->e.vdev, 2), -1);
	/* What KVM does for a matching QueueNotify write. */
	assert_int_equal(write(virtio_mmio_queue_eventfd(&c->e.vdev, 1), &one, 8), 8);
	assert_int_equal(vdrv_wait_used(&c->d, 1, VDRV_WAIT_MS, &id, &len), 0);
	assert_int_equal(len, 4);
}

static void test_rings_outside_ram(void **state)
{
	struct ctx *c = *state;
	const uint32_t regs[] = {VIRTIO_MMIO_QUEUE_DESC_LOW, VIRTIO_MMIO_QUEUE_AVAIL_LOW,
				 VIRTIO_MMIO_QUEUE_USED_LOW};

	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(vdrv_negotiate(&c->d, ALL_FEATURES), 0);
		assert_int_equal(vdrv_setup_queue(&c->d, 0, 16), 0);
		vdrv_write32(&c->d, regs[i], (16 << 20) - 16); /* runs past the end */
		vdrv_queue_ready(&c->d, 0);
		assert_int_not_equal(vdrv_driver_ok(&c->d), 0);
		assert_true(vdrv_needs_reset(&c->d));
		assert_int_equal(c->e.activates, 0);
	}
	/* High address word. */
	assert_int_equal(vdrv_negotiate(&c->d, ALL_FEATURES), 0);
	assert_int_equal(vdrv_setup_queue(&c->d, 0, 16), 0);
	vdrv_write32(&c->d, VIRTIO_MMIO_QUEUE_USED_HIGH, 1);
	vdrv_queue_ready(&c->d, 0);
	assert_int_not_equal(vdrv_driver_ok(&c->d), 0);
}

static void test_rings_misaligned(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(vdrv_negotiate(&c->d, ALL_FEATURES), 0);
	assert_int_equal(vdrv_setup_queue(&c->d, 0, 16), 0);
	vdrv_write32(&c->d, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)c->d.q[0].desc + 8);
	vdrv_queue_ready(&c->d, 0);
	assert_int_not_equal(vdrv_driver_ok(&c->d), 0);
	assert_int_equal(vdrv_negotiate(&c->d, ALL_FEATURES), 0);
	assert_int_equal(vdrv_setup_queue(&c->d, 0, 16), 0);
	vdrv_write32(&c->d, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)c->d.q[0].used + 2);
	vdrv_queue_ready(&c->d, 0);
	assert_int_not_equal(vdrv_driver_ok(&c->d), 0);
}

static void test_activate_refused(void **state)
{
	struct ctx *c = *state;

	c->e.refuse_activate = true;
	assert_int_not_equal(vdrv_setup(&c->d, ALL_FEATURES, 1, 16), 0);
	assert_true(vdrv_needs_reset(&c->d));
	c->e.refuse_activate = false;
	assert_int_equal(vdrv_setup(&c->d, ALL_FEATURES, 1, 16), 0);
	echo_roundtrip(&c->d, 0);
}

static void test_register_access_width(void **state)
{
	struct ctx *c = *state;
	uint16_t v16 = 0x1234;
	uint64_t v64 = 0;
	uint8_t b;

	/* Non-32-bit control register accesses are ignored / read 0. */
	bus_access(&c->d.bus, VDRV_MMIO_BASE + VIRTIO_MMIO_STATUS, &v16, 2, true);
	assert_int_equal(vdrv_status(&c->d), 0);
	bus_access(&c->d.bus, VDRV_MMIO_BASE + VIRTIO_MMIO_MAGIC_VALUE, &v64, 8, false);
	assert_int_equal(v64, 0);
	bus_access(&c->d.bus, VDRV_MMIO_BASE + VIRTIO_MMIO_MAGIC_VALUE + 1, &b, 1, false);
	assert_int_equal(b, 0);
	/* Legacy registers do nothing. */
	vdrv_write32(&c->d, VIRTIO_MMIO_GUEST_PAGE_SIZE, 4096);
	vdrv_write32(&c->d, VIRTIO_MMIO_QUEUE_PFN, 1);
	assert_int_equal(vdrv_read32(&c->d, VIRTIO_MMIO_QUEUE_PFN), 0);
	assert_false(vdrv_needs_reset(&c->d));
}

static void test_config_space(void **state)
{
	struct ctx *c = *state;
	uint8_t buf[12];
	uint64_t v64 = 0;
	uint32_t v32 = 0xffffffff;

	vdrv_config_read(&c->d, 0, buf, 12);
	assert_memory_equal(buf, "hello-config", 12);
	bus_access(&c->d.bus, VDRV_MMIO_BASE + VIRTIO_MMIO_CONFIG, &v64, 8, false);
	assert_memory_equal(&v64, "hello-co", 8);
	bus_access(&c->d.bus, VDRV_MMIO_BASE + VIRTIO_MMIO_CONFIG + 11, buf, 1, false);
	assert_int_equal(buf[0], 'g');
	/* Beyond config_size: zeros, no call into the device. */
	bus_access(&c->d.bus, VDRV_MMIO_BASE + VIRTIO_MMIO_CONFIG + 10, &v32, 4, false);
	assert_int_equal(v32, 0);
	bus_access(&c->d.bus, VDRV_MMIO_BASE + 0xffc, &v32, 4, false);
	assert_int_equal(v32, 0);
	v32 = 0x21212121;
	bus_access(&c->d.bus, VDRV_MMIO_BASE + VIRTIO_MMIO_CONFIG + 9, &v32, 4, true);
	assert_int_equal(c->e.config_writes, 0);
	bus_access(&c->d.bus, VDRV_MMIO_BASE + VIRTIO_MMIO_CONFIG + 8, &v32, 4, true);
	assert_int_equal(c->e.config_writes, 1);
	assert_memory_equal(c->e.config + 8, "!!!!", 4);
}

static void test_config_generation(void **state)
{
	struct ctx *c = *state;
	uint32_t g0;

	assert_int_equal(vdrv_setup(&c->d, ALL_FEATURES, 1, 16), 0);
	vdrv_irqs(&c->d);
	g0 = vdrv_read32(&c->d, VIRTIO_MMIO_CONFIG_GENERATION);
	assert_int_equal(vdrv_read32(&c->d, VIRTIO_MMIO_CONFIG_GENERATION), g0);
	pthread_mutex_lock(virtio_dev_lock(&c->e.vdev));
	virtio_dev_config_changed(&c->e.vdev);
	pthread_mutex_unlock(virtio_dev_lock(&c->e.vdev));
	assert_int_equal(vdrv_read32(&c->d, VIRTIO_MMIO_CONFIG_GENERATION), g0 + 1);
	assert_int_equal(vdrv_irqs(&c->d), 1);
	assert_int_equal(vdrv_ack_irq(&c->d), VIRTIO_MMIO_INT_CONFIG);
	assert_false(vdrv_needs_reset(&c->d));
	echo_roundtrip(&c->d, 0);
}

static void test_event_idx_interrupts(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(vdrv_setup(&c->d, ALL_FEATURES, 1, 16), 0);
	assert_true(c->e.vdev.queues[0].event_idx);
	c->d.manual_used_event = true;
	echo_roundtrip(&c->d, 0); /* used idx 1 */
	assert_int_equal(vdrv_irqs(&c->d), 1);
	/* Driver asks to be interrupted only when used idx passes 5. */
	vdrv_set_used_event(&c->d, 0, 5);
	for (int i = 0; i < 4; i++)
		echo_roundtrip(&c->d, 0); /* used idx 2..5 */
	assert_int_equal(vdrv_irqs(&c->d), 0);
	echo_roundtrip(&c->d, 0); /* used idx 6: crosses 5 */
	assert_int_equal(vdrv_irqs(&c->d), 1);
	/* Notification suppression: avail_event follows what was consumed. */
	assert_int_equal(vdrv_avail_event(&c->d, 0), 6);
}

static void test_no_interrupt_flag(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(
	    vdrv_setup(&c->d, ALL_FEATURES & ~VIRTIO_FEATURE(VIRTIO_RING_F_EVENT_IDX), 1, 16), 0);
	assert_false(c->e.vdev.queues[0].event_idx);
	vdrv_set_avail_flags(&c->d, 0, VRING_AVAIL_F_NO_INTERRUPT);
	echo_roundtrip(&c->d, 0);
	assert_int_equal(vdrv_irqs(&c->d), 0);
	vdrv_set_avail_flags(&c->d, 0, 0);
	echo_roundtrip(&c->d, 0);
	assert_int_equal(vdrv_irqs(&c->d), 1);
	/* The device re-enabled kicks after draining. */
	assert_int_equal(vdrv_used_flags(&c->d, 0) & VRING_USED_F_NO_NOTIFY, 0);
}

static void test_batch_one_interrupt(void **state)
{
	struct ctx *c = *state;
	uint64_t in, out;

	assert_int_equal(vdrv_setup(&c->d, ALL_FEATURES, 1, 16), 0);
	in = vdrv_alloc(&c->d, 4, 1);
	out = vdrv_alloc(&c->d, 64, 1);
	for (int i = 0; i < 8; i++) {
		struct vd_buf b[2] = {{in, 4, false}, {out + 8 * i, 8, true}};
		assert_true(vdrv_add_chain(&c->d, 0, b, 2, false) >= 0);
	}
	vdrv_kick(&c->d, 0);
	for (int i = 0; i < 8; i++) {
		uint32_t id, len;
		assert_int_equal(vdrv_wait_used(&c->d, 0, VDRV_WAIT_MS, &id, &len), 0);
		vdrv_free_chain(&c->d, 0, (uint16_t)id);
	}
	assert_int_equal(vdrv_irqs(&c->d), 1);
	assert_int_equal(c->e.notifies, 1);
}

static void test_save_restore(void **state)
{
	struct ctx *c = *state;
	struct virtio_dev_state st, bad;
	struct echo *e2 = calloc(1, sizeof(*e2));
	uint64_t in, out;
	uint32_t id, len;

	assert_non_null(e2);
	assert_int_equal(vdrv_setup(&c->d, ALL_FEATURES, ECHO_QUEUES, 16), 0);
	echo_roundtrip(&c->d, 0);
	echo_roundtrip(&c->d, 1);
	/* Two requests posted but not yet kicked when the snapshot is taken. */
	in = vdrv_alloc(&c->d, 4, 1);
	out = vdrv_alloc(&c->d, 8, 1);
	memcpy(vdrv_ptr(&c->d, in, 4), "snap", 4);
	struct vd_buf b0[2] = {{in, 4, false}, {out, 4, true}};
	struct vd_buf b1[2] = {{in, 2, false}, {out + 4, 4, true}};
	assert_true(vdrv_add_chain(&c->d, 0, b0, 2, false) >= 0);
	assert_true(vdrv_add_chain(&c->d, 0, b1, 2, true) >= 0);
	pthread_mutex_lock(virtio_dev_lock(&c->e.vdev));
	virtio_dev_save(&c->e.vdev, &st);
	pthread_mutex_unlock(virtio_dev_lock(&c->e.vdev));
	assert_int_equal(st.queues[0].used_idx, 1);
	assert_int_equal(st.queues[0].last_avail, 1);
	/* The old device goes away; a new one takes its place on the bus. */
	virtio_dev_destroy(&c->e.vdev);
	assert_int_equal(virtio_dev_init(&e2->vdev, &echo_ops, &c->d.gm, &c->d.el, 0), 0);
	/* Untrusted blob: checked before use. */
	bad = st;
	bad.device_id = 1;
	assert_int_not_equal(virtio_dev_restore(&e2->vdev, &bad), 0);
	bad = st;
	bad.queues[1].size = 5;
	assert_int_not_equal(virtio_dev_restore(&e2->vdev, &bad), 0);
	bad = st;
	bad.driver_features |= 1ULL << 60;
	assert_int_not_equal(virtio_dev_restore(&e2->vdev, &bad), 0);
	bad = st;
	bad.queues[0].used_gpa = 1ULL << 40;
	assert_int_not_equal(virtio_dev_restore(&e2->vdev, &bad), 0);
	assert_int_equal(e2->vdev.status, 0);
	assert_int_equal(virtio_dev_init(&c->e.vdev, &echo_ops, &c->d.gm, NULL, 0), 0);
	assert_int_equal(virtio_dev_restore(&e2->vdev, &st), 0);
	bus_init(&c->d.bus);
	assert_int_equal(vdrv_attach(&c->d, &e2->vdev), 0);
	assert_int_equal(vdrv_status(&c->d), 0xf);
	assert_int_equal(e2->activates, 1);
	/* The pending requests are processed without a new kick. */
	assert_int_equal(vdrv_wait_used(&c->d, 0, VDRV_WAIT_MS, &id, &len), 0);
	assert_int_equal(len, 4);
	assert_int_equal(vdrv_wait_used(&c->d, 0, VDRV_WAIT_MS, &id, &len), 0);
	assert_int_equal(len, 2);
	assert_memory_equal(vdrv_ptr(&c->d, out, 6), "snapsn", 6);
	assert_int_equal(vdrv_used_idx(&c->d, 0), 3);
	echo_roundtrip(&c->d, 1);
	assert_false(vdrv_needs_reset(&c->d));
	virtio_dev_destroy(&e2->vdev);
	free(e2);
}

int main(void)
{
	log_set_level(LOG_ERROR);
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	    T(test_identity),
	    T(test_features_offered),
	    T(test_handshake_and_io),
	    T(test_features_need_version_1),
	    T(test_features_not_offered),
	    T(test_features_high_word),
	    T(test_features_write_after_features_ok),
	    T(test_features_ok_before_driver),
	    T(test_driver_ok_without_features_ok),
	    T(test_status_bits_cannot_be_cleared),
	    T(test_reset),
	    T(test_reset_clears_needs_reset),
	    T(test_queue_sel_out_of_range_reads),
	    T(test_queue_sel_out_of_range_write),
	    T(test_bad_queue_sizes),
	    T(test_queue_setup_after_driver_ok),
	    T(test_queue_setup_while_ready),
	    T(test_notify_before_driver_ok),
	    T(test_notify_bad_queue),
	    T(test_buffers_before_driver_ok),
	    T(test_ioeventfd_path),
	    T(test_rings_outside_ram),
	    T(test_rings_misaligned),
	    T(test_activate_refused),
	    T(test_register_access_width),
	    T(test_config_space),
	    T(test_config_generation),
	    T(test_event_idx_interrupts),
	    T(test_no_interrupt_flag),
	    T(test_batch_one_interrupt),
	    T(test_save_restore),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
