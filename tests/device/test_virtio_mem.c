/* virtio-mem driven by the harness driver over guest memory with a hotplug
 * area: config space, the feature the device insists on, plug/unplug/state
 * requests and their answers (ACK, NACK past requested_size, ERROR for
 * hostile ranges), slots mapped for the guest and for ember only while they
 * hold plugged blocks, unplugged blocks' host pages released (the memfd's
 * allocated blocks fall), UNPLUG_ALL, buffers inside plugged memory, and the
 * state surviving a reset. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <linux/virtio_mem.h>

#include "ember/event_loop.h"
#include "ember/metrics.h"
#include "ember/virtio_mem.h"
#include "vdriver.h"

#define MEM (4 * 1024 * 1024)
#define QSIZE 16
#define MiB (1ULL << 20)
#define HP_GPA (4ULL << 30)
#define HP_SIZE (256 * MiB)
#define SLOT (128 * MiB)
#define BLOCK (2 * MiB)
#define FEATURES                                                                                   \
	(VIRTIO_FEATURE(VIRTIO_F_VERSION_1) | VIRTIO_FEATURE(VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE))

struct fix {
	struct vdriver d;
	struct virtio_mem *m;
	int maps, unmaps; /* host callbacks seen */
	bool slot_kvm[2]; /* what the "VMM" gave KVM */
	bool fail_map;	  /* the next map fails */
};

static int fake_map(void *opaque, unsigned slot, bool map)
{
	struct fix *f = opaque;

	assert_true(slot < 2);
	if (map && f->fail_map) {
		f->fail_map = false;
		return -ENOMEM;
	}
	assert_true(f->slot_kvm[slot] != map); /* never twice the same way */
	f->slot_kvm[slot] = map;
	if (map)
		f->maps++;
	else
		f->unmaps++;
	return 0;
}

static struct fix *fix_new(void)
{
	struct fix *f = calloc(1, sizeof(*f));
	struct memhp_cfg cfg = {.present = true,
				.total_size_mib = HP_SIZE / MiB,
				.block_size_mib = BLOCK / MiB,
				.slot_size_mib = SLOT / MiB};
	struct virtio_mem_host host = {.map_slot = fake_map, .opaque = f};

	assert_non_null(f);
	assert_int_equal(vdrv_init(&f->d, MEM), 0);
	assert_int_equal(gm_hotplug_init(&f->d.gm, HP_GPA, HP_SIZE, SLOT), 0);
	assert_int_equal(virtio_mem_create(&cfg, &f->d.gm, &host, &f->d.el, &f->m), 0);
	assert_int_equal(vdrv_attach(&f->d, &f->m->vdev), 0);
	assert_int_equal(vdrv_setup(&f->d, FEATURES, 1, QSIZE), 0);
	return f;
}

static void fix_free(struct fix *f)
{
	virtio_mem_destroy(f->m);
	vdrv_destroy(&f->d);
	free(f);
}

static struct virtio_mem_counters counters(struct fix *f)
{
	struct virtio_mem_counters c;

	virtio_mem_get_counters(f->m, &c);
	return c;
}

/* Submit a request; returns the response type (0xffff: nothing written)
 * and the used length in *used. */
static uint16_t req_at(struct fix *f, uint64_t rq, uint64_t rs, uint16_t type, uint64_t addr,
		       uint16_t nb, uint16_t *state, uint32_t *used)
{
	struct virtio_mem_req *r = vdrv_ptr(&f->d, rq, sizeof(*r));
	struct virtio_mem_resp *p = vdrv_ptr(&f->d, rs, sizeof(*p));
	struct vd_buf b[2] = {{rq, sizeof(*r), false}, {rs, sizeof(*p), true}};
	uint32_t id, len;
	int head;

	memset(r, 0, sizeof(*r));
	r->type = type;
	r->u.plug.addr = addr;
	r->u.plug.nb_blocks = nb;
	memset(p, 0xff, sizeof(*p));
	head = vdrv_add_chain(&f->d, 0, b, 2, false);
	assert_true(head >= 0);
	vdrv_kick(&f->d, 0);
	assert_int_equal(vdrv_wait_used(&f->d, 0, VDRV_WAIT_MS, &id, &len), 0);
	assert_int_equal(id, (uint32_t)head);
	vdrv_free_chain(&f->d, 0, (uint16_t)id);
	if (used)
		*used = len;
	if (state)
		*state = p->u.state.state;
	return p->type;
}

static uint16_t req(struct fix *f, uint16_t type, uint64_t addr, uint16_t nb, uint16_t *state)
{
	uint64_t rq = vdrv_alloc(&f->d, sizeof(struct virtio_mem_req), 8);
	uint64_t rs = vdrv_alloc(&f->d, sizeof(struct virtio_mem_resp), 8);
	uint32_t used;
	uint16_t t = req_at(f, rq, rs, type, addr, nb, state, &used);

	assert_int_equal(used, t == 0xffff ? 0 : sizeof(struct virtio_mem_resp));
	return t;
}

static struct virtio_mem_config config(struct fix *f)
{
	struct virtio_mem_config c;

	vdrv_config_read(&f->d, 0, &c, sizeof(c));
	return c;
}

/* Host memory the hotplug memfd holds, in bytes. */
static uint64_t hp_resident(struct fix *f)
{
	struct stat st;

	assert_int_equal(fstat(f->d.gm.hotplug.fd, &st), 0);
	return (uint64_t)st.st_blocks * 512;
}

static void test_config_features(void **state)
{
	struct fix *f = fix_new();
	struct virtio_mem_config c = config(f);

	(void)state;
	assert_int_equal(vdrv_read32(&f->d, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_MEM);
	assert_int_equal(c.block_size, BLOCK);
	assert_int_equal(c.addr, HP_GPA);
	assert_int_equal(c.region_size, HP_SIZE);
	assert_int_equal(c.usable_region_size, HP_SIZE);
	assert_int_equal(c.plugged_size, 0);
	assert_int_equal(c.requested_size, 0);
	/* Nothing is reachable before a plug. */
	assert_null(gm_slice(&f->d.gm, HP_GPA, 4096));
	/* A driver that does not accept UNPLUGGED_INACCESSIBLE is refused. */
	vdrv_write32(&f->d, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(vdrv_negotiate(&f->d, VIRTIO_FEATURE(VIRTIO_F_VERSION_1)), -EPROTO);
	assert_int_equal(vdrv_setup(&f->d, FEATURES, 1, QSIZE), 0);
	fix_free(f);
}

static void test_plug_unplug(void **state)
{
	struct fix *f = fix_new();
	uint32_t gen = vdrv_read32(&f->d, VIRTIO_MMIO_CONFIG_GENERATION);
	uint16_t st;
	uint8_t *p;

	(void)state;
	/* Nothing requested: a plug is NACKed. */
	assert_int_equal(req(f, VIRTIO_MEM_REQ_PLUG, HP_GPA, 1, NULL), VIRTIO_MEM_RESP_NACK);
	vdrv_irqs(&f->d);
	vdrv_ack_irq(&f->d);
	assert_int_equal(virtio_mem_set_requested(f->m, 8 * MiB), 0);
	assert_true(vdrv_ack_irq(&f->d) & VIRTIO_MMIO_INT_CONFIG);
	assert_int_not_equal(vdrv_read32(&f->d, VIRTIO_MMIO_CONFIG_GENERATION), gen);
	assert_int_equal(config(f).requested_size, 8 * MiB);

	assert_int_equal(req(f, VIRTIO_MEM_REQ_PLUG, HP_GPA, 2, NULL), VIRTIO_MEM_RESP_ACK);
	assert_true(f->slot_kvm[0]);
	assert_false(f->slot_kvm[1]);
	assert_int_equal(config(f).plugged_size, 4 * MiB);
	/* The guest's memory works, for ember too. */
	p = gm_slice(&f->d.gm, HP_GPA, 4 * MiB);
	assert_non_null(p);
	memset(p, 0xab, 4 * MiB);
	assert_true(hp_resident(f) >= 4 * MiB);
	/* More than requested: NACK; plugged again: ERROR. */
	assert_int_equal(req(f, VIRTIO_MEM_REQ_PLUG, HP_GPA + 4 * MiB, 3, NULL),
			 VIRTIO_MEM_RESP_NACK);
	assert_int_equal(req(f, VIRTIO_MEM_REQ_PLUG, HP_GPA + 2 * MiB, 2, NULL),
			 VIRTIO_MEM_RESP_ERROR);
	assert_int_equal(config(f).plugged_size, 4 * MiB);
	/* Into the second slot. */
	assert_int_equal(req(f, VIRTIO_MEM_REQ_PLUG, HP_GPA + SLOT, 2, NULL), VIRTIO_MEM_RESP_ACK);
	assert_true(f->slot_kvm[1]);
	/* State. */
	assert_int_equal(req(f, VIRTIO_MEM_REQ_STATE, HP_GPA, 2, &st), VIRTIO_MEM_RESP_ACK);
	assert_int_equal(st, VIRTIO_MEM_STATE_PLUGGED);
	assert_int_equal(req(f, VIRTIO_MEM_REQ_STATE, HP_GPA, 3, &st), VIRTIO_MEM_RESP_ACK);
	assert_int_equal(st, VIRTIO_MEM_STATE_MIXED);
	assert_int_equal(req(f, VIRTIO_MEM_REQ_STATE, HP_GPA + 8 * MiB, 4, &st),
			 VIRTIO_MEM_RESP_ACK);
	assert_int_equal(st, VIRTIO_MEM_STATE_UNPLUGGED);

	/* Unplug the first slot's blocks: slot gone for KVM and ember, pages
	 * back to the host. */
	assert_int_equal(req(f, VIRTIO_MEM_REQ_UNPLUG, HP_GPA, 2, NULL), VIRTIO_MEM_RESP_ACK);
	assert_false(f->slot_kvm[0]);
	assert_true(f->slot_kvm[1]);
	assert_null(gm_slice(&f->d.gm, HP_GPA, 4096));
	assert_int_equal(hp_resident(f), 0); /* the second slot's blocks were never touched */
	assert_int_equal(config(f).plugged_size, 4 * MiB);
	/* Unplugging what is not plugged: ERROR. */
	assert_int_equal(req(f, VIRTIO_MEM_REQ_UNPLUG, HP_GPA, 1, NULL), VIRTIO_MEM_RESP_ERROR);
	/* Plugging again gives zeroed memory. */
	assert_int_equal(req(f, VIRTIO_MEM_REQ_PLUG, HP_GPA, 1, NULL), VIRTIO_MEM_RESP_ACK);
	p = gm_slice(&f->d.gm, HP_GPA, 4096);
	assert_non_null(p);
	assert_int_equal(p[0], 0);
	assert_int_equal(counters(f).plug_count, 3);
	assert_int_equal(counters(f).unplug_count, 1);
	/* Firecracker's "memory_hotplug" group gets the deltas, and each
	 * request's time (the ERROR and NACK ones too). */
	memset(&metrics.memory_hotplug, 0, sizeof(metrics.memory_hotplug));
	f->m->vdev.ops->publish_metrics(&f->m->vdev);
	assert_int_equal(metrics.memory_hotplug.plug_count, 3);
	assert_int_equal(metrics.memory_hotplug.plug_bytes, 10 * MiB);
	assert_int_equal(metrics.memory_hotplug.plug_fails, 3);
	assert_int_equal(metrics.memory_hotplug.unplug_count, 1);
	assert_int_equal(metrics.memory_hotplug.unplug_bytes, 4 * MiB);
	assert_int_equal(metrics.memory_hotplug.unplug_fails, 1);
	assert_int_equal(metrics.memory_hotplug.state_count, 3);
	assert_int_equal(metrics.memory_hotplug.unplug_discard_fails, 0);
	assert_true(metrics.memory_hotplug.queue_event_count >= 10);
	assert_true(metrics.memory_hotplug.plug_agg.max_us >=
		    metrics.memory_hotplug.plug_agg.min_us);
	assert_true(metrics.memory_hotplug.unplug_agg.sum_us >=
		    metrics.memory_hotplug.unplug_agg.max_us);
	/* published once: a second publish adds nothing */
	f->m->vdev.ops->publish_metrics(&f->m->vdev);
	assert_int_equal(metrics.memory_hotplug.plug_count, 3);
	fix_free(f);
}

static void test_hostile(void **state)
{
	struct fix *f = fix_new();
	uint64_t rq = vdrv_alloc(&f->d, 64, 8), rs = vdrv_alloc(&f->d, 16, 8);
	struct vd_buf short_req[2] = {{rq, 8, false}, {rs, 10, true}};
	struct vd_buf short_resp[2] = {{rq, 24, false}, {rs, 4, true}};
	struct vd_buf ro_resp[2] = {{rq, 24, false}, {rs, 10, false}};
	struct vd_buf in_unplugged[2] = {{rq, 24, false}, {HP_GPA + SLOT, 10, true}};
	uint32_t id, len;
	uint16_t st;

	(void)state;
	assert_int_equal(virtio_mem_set_requested(f->m, HP_SIZE), 0);
	/* Bad ranges: misaligned, empty, before, past the end, overflowing. */
	assert_int_equal(req(f, VIRTIO_MEM_REQ_PLUG, HP_GPA + 4096, 1, NULL),
			 VIRTIO_MEM_RESP_ERROR);
	assert_int_equal(req(f, VIRTIO_MEM_REQ_PLUG, HP_GPA, 0, NULL), VIRTIO_MEM_RESP_ERROR);
	assert_int_equal(req(f, VIRTIO_MEM_REQ_PLUG, HP_GPA - BLOCK, 1, NULL),
			 VIRTIO_MEM_RESP_ERROR);
	assert_int_equal(req(f, VIRTIO_MEM_REQ_PLUG, HP_GPA + HP_SIZE, 1, NULL),
			 VIRTIO_MEM_RESP_ERROR);
	assert_int_equal(req(f, VIRTIO_MEM_REQ_PLUG, HP_GPA + HP_SIZE - BLOCK, 2, NULL),
			 VIRTIO_MEM_RESP_ERROR);
	assert_int_equal(req(f, VIRTIO_MEM_REQ_PLUG, HP_GPA, 0xffff, NULL), VIRTIO_MEM_RESP_ERROR);
	assert_int_equal(req(f, VIRTIO_MEM_REQ_PLUG, UINT64_MAX - BLOCK + 1, 2, NULL),
			 VIRTIO_MEM_RESP_ERROR);
	assert_int_equal(req(f, VIRTIO_MEM_REQ_UNPLUG, HP_GPA + HP_SIZE, 1, NULL),
			 VIRTIO_MEM_RESP_ERROR);
	assert_int_equal(req(f, VIRTIO_MEM_REQ_STATE, HP_GPA + 1, 1, &st), VIRTIO_MEM_RESP_ERROR);
	assert_int_equal(req(f, 77, HP_GPA, 1, NULL), VIRTIO_MEM_RESP_ERROR);
	assert_int_equal(f->maps, 0);
	assert_int_equal(config(f).plugged_size, 0);
	/* Malformed chains: answered empty, nothing else. */
	for (int i = 0; i < 4; i++) {
		const struct vd_buf *b = i == 0	  ? short_req
					 : i == 1 ? short_resp
					 : i == 2 ? ro_resp
						  : in_unplugged;
		int head = vdrv_add_chain(&f->d, 0, b, 2, false);

		assert_true(head >= 0);
		vdrv_kick(&f->d, 0);
		assert_int_equal(vdrv_wait_used(&f->d, 0, VDRV_WAIT_MS, &id, &len), 0);
		assert_int_equal(len, 0);
		vdrv_free_chain(&f->d, 0, (uint16_t)id);
	}
	assert_int_equal(counters(f).event_fails, 5); /* 4 chains + the unknown type */
	/* A slot the VMM cannot map: the plug is answered BUSY, nothing changes. */
	f->fail_map = true;
	assert_int_equal(req(f, VIRTIO_MEM_REQ_PLUG, HP_GPA, 1, NULL), VIRTIO_MEM_RESP_BUSY);
	assert_null(gm_slice(&f->d.gm, HP_GPA, 4096));
	assert_int_equal(config(f).plugged_size, 0);
	/* A bad requested size is refused. */
	assert_true(virtio_mem_set_requested(f->m, HP_SIZE + BLOCK) < 0);
	assert_true(virtio_mem_set_requested(f->m, MiB) < 0);
	assert_false(vdrv_needs_reset(&f->d));
	assert_int_equal(req(f, VIRTIO_MEM_REQ_PLUG, HP_GPA, 1, NULL), VIRTIO_MEM_RESP_ACK);
	fix_free(f);
}

static void test_unplug_all_and_buffers(void **state)
{
	struct fix *f = fix_new();
	uint64_t rq = HP_GPA + SLOT, rs = HP_GPA + SLOT + 64;
	uint32_t used;
	struct virtio_mem_status s;

	(void)state;
	assert_int_equal(virtio_mem_set_requested(f->m, 16 * MiB), 0);
	assert_int_equal(req(f, VIRTIO_MEM_REQ_PLUG, HP_GPA + 4 * MiB, 2, NULL),
			 VIRTIO_MEM_RESP_ACK);
	assert_int_equal(req(f, VIRTIO_MEM_REQ_PLUG, HP_GPA + SLOT, 2, NULL), VIRTIO_MEM_RESP_ACK);
	/* Requests placed in plugged hotplug memory are served as any buffer. */
	assert_int_equal(req_at(f, rq, rs, VIRTIO_MEM_REQ_PLUG, HP_GPA + 8 * MiB, 1, NULL, &used),
			 VIRTIO_MEM_RESP_ACK);
	assert_int_equal(used, sizeof(struct virtio_mem_resp));
	memset(gm_slice(&f->d.gm, HP_GPA + 4 * MiB, 4 * MiB), 1, 4 * MiB);
	virtio_mem_get_status(f->m, &s);
	assert_int_equal(s.plugged_size, 10 * MiB);
	assert_int_equal(s.requested_size, 16 * MiB);
	assert_int_equal(s.total_size, HP_SIZE);
	assert_int_equal(s.slot_size, SLOT);
	assert_int_equal(s.block_size, BLOCK);
	/* A reset keeps the blocks' state. */
	vdrv_write32(&f->d, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(vdrv_setup(&f->d, FEATURES, 1, QSIZE), 0);
	assert_int_equal(config(f).plugged_size, 10 * MiB);
	assert_int_equal(req(f, VIRTIO_MEM_REQ_UNPLUG_ALL, 0, 0, NULL), VIRTIO_MEM_RESP_ACK);
	assert_int_equal(config(f).plugged_size, 0);
	assert_false(f->slot_kvm[0]);
	assert_false(f->slot_kvm[1]);
	assert_int_equal(f->maps, f->unmaps);
	assert_int_equal(hp_resident(f), 0);
	assert_null(gm_slice(&f->d.gm, HP_GPA + SLOT, 4096));
	fix_free(f);
}

static void test_bad_config(void **state)
{
	struct memhp_cfg c = {
	    .present = true, .total_size_mib = 256, .block_size_mib = 2, .slot_size_mib = 128};

	(void)state;
	assert_int_equal(virtio_mem_check_cfg(&c), 0);
	c.block_size_mib = 3;
	assert_true(virtio_mem_check_cfg(&c) < 0);
	c.block_size_mib = 1;
	assert_true(virtio_mem_check_cfg(&c) < 0);
	c.block_size_mib = 256; /* larger than the slot */
	assert_true(virtio_mem_check_cfg(&c) < 0);
	c.block_size_mib = 2;
	c.slot_size_mib = 64;
	assert_true(virtio_mem_check_cfg(&c) < 0);
	c.slot_size_mib = 128;
	c.total_size_mib = 200;
	assert_true(virtio_mem_check_cfg(&c) < 0);
	c.total_size_mib = 0;
	assert_true(virtio_mem_check_cfg(&c) < 0);
	/* ember run's requested= : block multiples up to the total */
	c.total_size_mib = 256;
	c.requested_size_mib = 256;
	assert_int_equal(virtio_mem_check_cfg(&c), 0);
	c.requested_size_mib = 3;
	assert_true(virtio_mem_check_cfg(&c) < 0);
	c.requested_size_mib = 258;
	assert_true(virtio_mem_check_cfg(&c) < 0);
}

/* A requested size from the start (ember run --mem-hotplug ...,requested=):
 * the driver reads it at once and may plug that much, no more. */
static void test_requested_at_boot(void **state)
{
	struct vdriver d;
	struct virtio_mem *m;
	struct virtio_mem_config c;
	struct memhp_cfg cfg = {.present = true,
				.total_size_mib = HP_SIZE / MiB,
				.block_size_mib = BLOCK / MiB,
				.slot_size_mib = SLOT / MiB,
				.requested_size_mib = 6};

	(void)state;
	assert_int_equal(vdrv_init(&d, MEM), 0);
	assert_int_equal(gm_hotplug_init(&d.gm, HP_GPA, HP_SIZE, SLOT), 0);
	assert_int_equal(virtio_mem_create(&cfg, &d.gm, NULL, &d.el, &m), 0);
	assert_int_equal(vdrv_attach(&d, &m->vdev), 0);
	assert_int_equal(vdrv_setup(&d, FEATURES, 1, QSIZE), 0);
	vdrv_config_read(&d, 0, &c, sizeof(c));
	assert_int_equal(c.requested_size, 6 * MiB);
	assert_int_equal(c.plugged_size, 0);
	virtio_mem_destroy(m);
	vdrv_destroy(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_config_features), cmocka_unit_test(test_plug_unplug),
	    cmocka_unit_test(test_hostile),	    cmocka_unit_test(test_unplug_all_and_buffers),
	    cmocka_unit_test(test_bad_config),	    cmocka_unit_test(test_requested_at_boot),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
