/* Snapshot round trips in the device harness: a device's transport and
 * device state saved (virtio_dev_save + ops->save) with requests waiting on
 * the avail ring, a fresh device of the same configuration restored from it
 * (ops->restore + virtio_dev_restore) on the same guest memory, and the
 * waiting requests complete as if the device had never stopped; later
 * traffic goes on (blk reads, net frames both ways on the stream backend,
 * rng fills; the balloon keeps target, actual and its queues; vsock, as a
 * load does it: the transport-reset event lands in an event buffer posted
 * before the save, then a new connection works). A state that does not fit
 * the device is refused and leaves it reset. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/socket.h>
#include <time.h>

#include <linux/virtio_blk.h>

#include "balloon_fix.h"
#include "blkfix.h"
#include "ember/virtio.h"
#include "ember/virtio_rng.h"
#include "net_fix.h"
#include "vsock_fix.h"

/* Save a, restore into b, and point the driver's bus at b. */
static void round_trip(struct vdriver *d, struct virtio_dev *a, struct virtio_dev *b)
{
	struct virtio_dev_state st;
	uint8_t blob[4096];
	size_t len = 0;

	pthread_mutex_lock(&a->lock);
	virtio_dev_save(a, &st);
	if (a->ops->save) {
		len = sizeof(blob);
		assert_int_equal(a->ops->save(a, blob, &len), 0);
	}
	pthread_mutex_unlock(&a->lock);
	bus_init(&d->bus);
	assert_int_equal(vdrv_attach(d, b), 0);
	pthread_mutex_lock(&b->lock);
	if (b->ops->restore)
		assert_int_equal(b->ops->restore(b, blob, len), 0);
	assert_int_equal(virtio_dev_restore(b, &st), 0);
	pthread_mutex_unlock(&b->lock);
}

static struct virtio_blk *blk_again(struct blkfix *f)
{
	struct drive_cfg cfg = {0};
	struct virtio_blk *b;

	snprintf(cfg.id, sizeof(cfg.id), "%s", "rootfs");
	cfg.path = f->path;
	cfg.cache_writeback = true; /* as blkfix: the same features as the saved one */
	assert_int_equal(virtio_blk_create(&cfg, &f->d.gm, &f->d.el, &b), 0);
	return b;
}

static void test_blk_mid_traffic(void **state)
{
	enum { N = 3, LEN = 8192 };
	struct blkfix f;
	struct virtio_blk *b2;
	uint64_t buf[N], hs[N];
	uint8_t *want = malloc(LEN);

	(void)state;
	assert_int_equal(blkfix_init(&f, 1 << 20, 8 << 20, false, NULL), 0);
	assert_int_equal(blkfix_read_check(&f, 0, 4096), 0);
	/* N reads waiting on the avail ring, no kick: the VM is paused there */
	for (int i = 0; i < N; i++) {
		struct vd_buf db;

		buf[i] = vdrv_alloc(&f.d, LEN, 4096);
		hs[i] = vdrv_alloc(&f.d, 32, 16);
		memset(vdrv_ptr(&f.d, hs[i] + 16, 1), 0xff, 1);
		db = (struct vd_buf){buf[i], LEN, true};
		assert_true(vdrv_blk_submit(&f.d, 0, VIRTIO_BLK_T_IN, (uint64_t)i * 16, &db, 1,
					    i == 1, hs[i]) >= 0);
	}
	b2 = blk_again(&f);
	round_trip(&f.d, &f.blk->vdev, &b2->vdev);
	virtio_blk_destroy(f.blk);
	f.blk = b2;
	/* the restored device finds them and completes them */
	for (int i = 0; i < N; i++) {
		uint32_t id, len;

		assert_int_equal(vdrv_wait_used(&f.d, 0, VDRV_WAIT_MS, &id, &len), 0);
		vdrv_free_chain(&f.d, 0, (uint16_t)id);
	}
	for (int i = 0; i < N; i++) {
		assert_int_equal(*(uint8_t *)vdrv_ptr(&f.d, hs[i] + 16, 1), VIRTIO_BLK_S_OK);
		vdrv_pattern(want, (uint64_t)i * 16 * 512, LEN, f.seed);
		assert_memory_equal(vdrv_ptr(&f.d, buf[i], LEN), want, LEN);
	}
	/* and traffic goes on through the restored device */
	assert_int_equal(blkfix_read_check(&f, 100, 4096), 0);
	assert_false(vdrv_needs_reset(&f.d));
	free(want);
	blkfix_fini(&f);
}

static void test_refused_state_leaves_reset(void **state)
{
	struct virtio_dev_state st;
	struct blkfix f;
	struct virtio_blk *b2;

	(void)state;
	assert_int_equal(blkfix_init(&f, 1 << 20, 8 << 20, false, NULL), 0);
	pthread_mutex_lock(&f.blk->vdev.lock);
	virtio_dev_save(&f.blk->vdev, &st);
	pthread_mutex_unlock(&f.blk->vdev.lock);
	b2 = blk_again(&f);
	struct virtio_dev_state bad = st;
	bad.queues[0].size = 3; /* not a power of two */
	pthread_mutex_lock(&b2->vdev.lock);
	assert_int_equal(virtio_dev_restore(&b2->vdev, &bad), -EINVAL);
	bad = st;
	bad.device_id = VIRTIO_ID_NET;
	assert_int_equal(virtio_dev_restore(&b2->vdev, &bad), -EINVAL);
	bad = st;
	bad.queues[0].desc_gpa = 1ull << 40; /* outside guest RAM */
	assert_int_equal(virtio_dev_restore(&b2->vdev, &bad), -EINVAL);
	assert_int_equal(b2->vdev.status, 0);
	assert_int_equal(b2->vdev.ops->restore(&b2->vdev, "x", 1), -EINVAL);
	pthread_mutex_unlock(&b2->vdev.lock);
	virtio_blk_destroy(b2);
	blkfix_fini(&f);
}

static void test_balloon_state(void **state)
{
	struct balloon_cfg cfg = {.present = true, .amount_mib = 2, .stats_polling_interval_s = 0};
	struct balloon_fix f;
	struct virtio_balloon *b2;
	uint32_t pfns[4] = {600, 601, 602, 603};
	uint32_t actual = 4;

	(void)state;
	assert_int_equal(balloon_fix_init(&f, &cfg, 16 << 20, 0, 0, BALLOON_FIX_ALL_FEATURES), 0);
	assert_int_equal(balloon_fix_pfns(&f, 0, pfns, 4, 1), 0);
	balloon_fix_cfg_write(&f, 4, &actual, 4);
	assert_int_equal(virtio_balloon_create(&cfg, &f.d.gm, &f.d.el, &b2), 0);
	round_trip(&f.d, &f.b->vdev, &b2->vdev);
	virtio_balloon_destroy(f.b);
	f.b = b2;
	assert_int_equal(balloon_fix_cfg_read32(&f, 0), 2 * 256); /* num_pages */
	assert_int_equal(balloon_fix_cfg_read32(&f, 4), 4);	  /* actual */
	/* inflation goes on through the restored queues */
	pfns[0] = 700;
	assert_int_equal(balloon_fix_pfns(&f, 0, pfns, 1, 1), 0);
	assert_false(vdrv_needs_reset(&f.d));
	balloon_fix_fini(&f);
}

/* virtio-net (stream backend, passt's framing): two tx frames and four rx
 * buffers posted, nothing kicked; the restored device on a new peer (the
 * load's own backend) sends both frames in order, byte for byte, and a frame
 * from the new peer lands in a buffer posted before the snapshot. */
static void test_net_mid_traffic(void **state)
{
	static const struct virtio_net_hdr_v1 no_hdr;
	enum { LEN = 300 };
	struct netfix f;
	struct net_cfg cfg = {0};
	struct virtio_net *n2;
	uint8_t frame[2][LEN], got[LEN], *data;
	uint32_t be, len;
	uint16_t head;
	int sv[2];

	(void)state;
	assert_int_equal(netfix_init_stream(&f, NULL, NETFIX_ALL_FEATURES, 256), 0);
	/* traffic before: the saved indices are past it */
	netfix_frame(frame[0], LEN, f.mac, 1);
	assert_int_equal(netfix_tx(&f, &no_hdr, frame[0], LEN, NULL), 0);
	assert_int_equal(netfix_peer_read(&f, &be, sizeof(be), VDRV_WAIT_MS), 0);
	assert_int_equal(netfix_peer_read(&f, got, LEN, VDRV_WAIT_MS), 0);
	assert_int_equal(netfix_post_rx(&f, 1, 2048, false), 0);
	be = htobe32(LEN);
	assert_int_equal(write(f.peer, &be, sizeof(be)), (ssize_t)sizeof(be));
	assert_int_equal(write(f.peer, frame[0], LEN), LEN);
	assert_int_equal(netfix_rx_wait(&f, VDRV_WAIT_MS, &head, &len, &data), 0);
	/* then, the VM paused: */
	assert_int_equal(netfix_add_rx(&f, 4, 2048, false), 0);
	for (int i = 0; i < 2; i++) {
		netfix_frame(frame[i], LEN, f.mac, 77 + (uint32_t)i);
		assert_true(netfix_tx_post(&f, &no_hdr, frame[i], LEN, i, false) >= 0);
	}
	snprintf(cfg.id, sizeof(cfg.id), "%s", "net0");
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(virtio_net_create_stream(&cfg, sv[0], &f.d.gm, &f.d.el, &n2), 0);
	round_trip(&f.d, &f.net->vdev, &n2->vdev);
	virtio_net_destroy(f.net);
	close(f.peer);
	f.net = n2;
	f.peer = sv[1];
	for (int i = 0; i < 2; i++) {
		assert_int_equal(netfix_peer_read(&f, &be, sizeof(be), VDRV_WAIT_MS), 0);
		assert_int_equal(be32toh(be), LEN);
		assert_int_equal(netfix_peer_read(&f, got, LEN, VDRV_WAIT_MS), 0);
		assert_memory_equal(got, frame[i], LEN);
	}
	for (int i = 0; i < 2; i++) {
		uint32_t id, l;

		assert_int_equal(vdrv_wait_used(&f.d, VIRTIO_NET_TXQ, VDRV_WAIT_MS, &id, &l), 0);
		vdrv_free_chain(&f.d, VIRTIO_NET_TXQ, (uint16_t)id);
	}
	netfix_frame(frame[0], LEN, (const uint8_t[6]){2, 0, 0, 0, 0, 9}, 99);
	be = htobe32(LEN);
	assert_int_equal(write(f.peer, &be, sizeof(be)), (ssize_t)sizeof(be));
	assert_int_equal(write(f.peer, frame[0], LEN), LEN);
	assert_int_equal(netfix_rx_wait(&f, VDRV_WAIT_MS, &head, &len, &data), 0);
	assert_true(head < 5); /* one of the buffers posted before the save */
	assert_int_equal(len, VIRTIO_NET_HDR_LEN + LEN);
	assert_memory_equal(data + VIRTIO_NET_HDR_LEN, frame[0], LEN);
	assert_false(vdrv_needs_reset(&f.d));
	netfix_fini(&f);
}

/* virtio-rng: two requests posted, not kicked; the restored device fills
 * both, and a later request too. */
static void test_rng_mid_traffic(void **state)
{
	struct rng_cfg cfg = {.present = true};
	struct vdriver d;
	struct virtio_rng *a, *b;
	uint64_t buf[3];
	uint32_t id, len;

	(void)state;
	assert_int_equal(vdrv_init(&d, 4 << 20), 0);
	assert_int_equal(virtio_rng_create(&cfg, &d.gm, &d.el, &a), 0);
	assert_int_equal(vdrv_attach(&d, &a->vdev), 0);
	assert_int_equal(vdrv_setup(&d, VIRTIO_FEATURE(VIRTIO_F_VERSION_1), 1, 64), 0);
	/* one request before: the saved indices are past it */
	assert_true(vdrv_add_chain(&d, 0, &(struct vd_buf){vdrv_alloc(&d, 64, 64), 64, true}, 1,
				   false) >= 0);
	vdrv_kick(&d, 0);
	assert_int_equal(vdrv_wait_used(&d, 0, VDRV_WAIT_MS, &id, &len), 0);
	vdrv_free_chain(&d, 0, (uint16_t)id);
	for (int i = 0; i < 3; i++) {
		buf[i] = vdrv_alloc(&d, 64, 64);
		if (i < 2)
			assert_true(vdrv_add_chain(&d, 0, &(struct vd_buf){buf[i], 64, true}, 1,
						   false) >= 0);
	}
	assert_int_equal(virtio_rng_create(&cfg, &d.gm, &d.el, &b), 0);
	round_trip(&d, &a->vdev, &b->vdev);
	virtio_rng_destroy(a);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(vdrv_wait_used(&d, 0, VDRV_WAIT_MS, &id, &len), 0);
		assert_int_equal(len, 64);
		vdrv_free_chain(&d, 0, (uint16_t)id);
	}
	assert_true(vdrv_add_chain(&d, 0, &(struct vd_buf){buf[2], 64, true}, 1, false) >= 0);
	vdrv_kick(&d, 0);
	assert_int_equal(vdrv_wait_used(&d, 0, VDRV_WAIT_MS, &id, &len), 0);
	assert_int_equal(len, 64);
	for (int i = 0; i < 3; i++) {
		static const uint8_t zero[64];

		assert_memory_not_equal(vdrv_ptr(&d, buf[i], 64), zero, 64);
	}
	assert_false(vdrv_needs_reset(&d));
	virtio_rng_destroy(b);
	vdrv_destroy(&d);
}

/* virtio-vsock as a load restores it: the device state into a fresh device
 * on its own socket path (a clone's vsock_override), then the transport
 * reset (snapshot.c): the event lands in a buffer the driver posted before
 * the save, and a host connection opened afterwards reaches the guest
 * through rx buffers posted before the save too. */
static void test_vsock_load(void **state)
{
	struct vsock_fix f;
	struct vsock_cfg cfg = {.present = true, .guest_cid = VSOCK_FIX_CID};
	struct virtio_vsock *b;
	struct vsock_gconn gc;
	char path[sizeof(f.uds)];
	uint32_t id, len, ev;
	int fd;

	(void)state;
	assert_int_equal(vsock_fix_init(&f, VSOCK_FIX_ALL_FEATURES, VSOCK_FIX_RX_DEFAULT, 8, false),
			 0);
	snprintf(path, sizeof(path), "%s/w.sock", f.dir);
	cfg.uds_path = path;
	assert_int_equal(virtio_vsock_create(&cfg, &f.d.gm, &f.d.el, &b), 0);
	round_trip(&f.d, &f.vs->vdev, &b->vdev);
	virtio_vsock_destroy(f.vs);
	f.vs = b;
	memcpy(f.uds, path, sizeof(path));
	virtio_vsock_transport_reset(f.vs);
	assert_int_equal(vdrv_wait_used(&f.d, VIRTIO_VSOCK_EVQ, VDRV_WAIT_MS, &id, &len), 0);
	assert_true(id < 4);
	assert_int_equal(len, 4);
	gm_read(&f.d.gm, f.ev_gpa + 8ULL * id, &ev, 4);
	assert_int_equal(le32toh(ev), VIRTIO_VSOCK_EVENT_TRANSPORT_RESET);
	fd = vsock_fix_open_from_host(&f, 5006, 65536, &gc);
	assert_true(fd >= 0);
	assert_false(vdrv_needs_reset(&f.d));
	close(fd);
	vsock_fix_fini(&f);
}

/* Diff snapshots take the pages ember writes itself (track_dirty_pages):
 * a virtio-blk read marks its buffer's pages (and the status byte's) in
 * guest memory's dirty bitmap, a write request's data page stays clean (the
 * device only reads it); the used ring is added at snapshot time
 * (snapshot.c), KVM's log has the guest's own writes. */
static bool page_dirty(const struct guest_mem *gm, uint64_t gpa)
{
	uint64_t p = gpa / 4096;

	return gm->dirty[p / 64] & (1ull << (p % 64));
}

static void test_blk_dirty_pages(void **state)
{
	struct blkfix f;
	uint64_t rbuf, wbuf, rhs, whs;
	uint32_t id, len;

	(void)state;
	assert_int_equal(blkfix_init(&f, 1 << 20, 8 << 20, false, NULL), 0);
	assert_int_equal(gm_track_dirty(&f.d.gm), 0);
	rbuf = vdrv_alloc(&f.d, 8192, 4096);
	wbuf = vdrv_alloc(&f.d, 4096, 4096);
	rhs = vdrv_alloc(&f.d, 4096, 4096);
	whs = vdrv_alloc(&f.d, 4096, 4096);
	memset(vdrv_ptr(&f.d, wbuf, 4096), 0x5a, 4096);
	assert_true(vdrv_blk_submit(&f.d, 0, VIRTIO_BLK_T_IN, 8, &(struct vd_buf){rbuf, 8192, true},
				    1, false, rhs) >= 0);
	assert_true(vdrv_blk_submit(&f.d, 0, VIRTIO_BLK_T_OUT, 64,
				    &(struct vd_buf){wbuf, 4096, false}, 1, false, whs) >= 0);
	vdrv_kick(&f.d, 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(vdrv_wait_used(&f.d, 0, VDRV_WAIT_MS, &id, &len), 0);
		vdrv_free_chain(&f.d, 0, (uint16_t)id);
	}
	assert_int_equal(*(uint8_t *)vdrv_ptr(&f.d, rhs + 16, 1), VIRTIO_BLK_S_OK);
	assert_int_equal(*(uint8_t *)vdrv_ptr(&f.d, whs + 16, 1), VIRTIO_BLK_S_OK);
	assert_true(page_dirty(&f.d.gm, rbuf));
	assert_true(page_dirty(&f.d.gm, rbuf + 4096));
	assert_true(page_dirty(&f.d.gm, rhs + 16));
	assert_true(page_dirty(&f.d.gm, whs + 16));
	assert_false(page_dirty(&f.d.gm, wbuf));
	blkfix_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_blk_mid_traffic),
	    cmocka_unit_test(test_net_mid_traffic),
	    cmocka_unit_test(test_rng_mid_traffic),
	    cmocka_unit_test(test_vsock_load),
	    cmocka_unit_test(test_blk_dirty_pages),
	    cmocka_unit_test(test_refused_state_leaves_reset),
	    cmocka_unit_test(test_balloon_state),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
