/* virtio-vsock through the guest-less harness and real Unix sockets:
 * connections both ways, 1 MiB each way checksummed (several rx buffer
 * layouts), half-close in both directions, credit exhaustion and resume both
 * ways, peers closing mid-stream, the REQUEST timeout, device and transport
 * reset, counters. Malformed input: test_vsock_malformed.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <endian.h>
#include <errno.h>
#include <signal.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vsock_fix.h"

static int fds_before; /* leak check: every test closes what it opened */

#define MiB_ (1u << 20)
#define WAIT VDRV_WAIT_MS

static int setup_with(void **state, uint32_t rx_len, bool split)
{
	struct vsock_fix *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(vsock_fix_init(f, VSOCK_FIX_ALL_FEATURES, rx_len, 64, split), 0);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	fds_before = vsock_fix_count_fds();
	return setup_with(state, VSOCK_FIX_RX_DEFAULT, false);
}

static int setup_split(void **state)
{
	fds_before = vsock_fix_count_fds();
	return setup_with(state, VSOCK_FIX_RX_DEFAULT, true);
}

static int setup_big(void **state)
{
	fds_before = vsock_fix_count_fds();
	return setup_with(state, VSOCK_HDR_SIZE + VSOCK_MAX_PKT_BUF, false);
}

/* No EVENT_IDX, no indirect: the used-flags notification path. */
static int setup_plain(void **state)
{
	struct vsock_fix *f = calloc(1, sizeof(*f));

	fds_before = vsock_fix_count_fds();
	assert_non_null(f);
	assert_int_equal(
	    vsock_fix_init(f, VIRTIO_FEATURE(VIRTIO_F_VERSION_1), VSOCK_FIX_RX_DEFAULT, 64, false),
	    0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct vsock_fix *f = *state;

	vsock_fix_fini(f);
	free(f);
	assert_int_equal(vsock_fix_count_fds(), fds_before);
	return 0;
}

/* Next packet, which must belong to gc and carry op. */
static void expect_op(struct vsock_fix *f, struct vsock_gconn *gc, uint16_t op,
		      struct virtio_vsock_hdr *out)
{
	struct virtio_vsock_hdr h;
	uint32_t len;

	assert_int_equal(vsock_fix_recv(f, &h, NULL, 0, &len, WAIT), 0);
	assert_true(vsock_gconn_match(gc, &h));
	assert_int_equal(le16toh(h.op), op);
	vsock_gconn_seen(gc, &h);
	if (out)
		*out = h;
}

static void expect_nothing(struct vsock_fix *f)
{
	struct virtio_vsock_hdr h;

	assert_int_equal(vsock_fix_try_recv(f, &h, NULL, 0, NULL), -EAGAIN);
}

static void send_all(int fd, const void *p, size_t len)
{
	assert_int_equal(write(fd, p, len), (ssize_t)len);
}

/* ---- host threads for bulk transfers ---- */

struct host_io {
	int fd;
	size_t len;
	uint32_t seed;
	int how; /* after writing: 0 close, 1 shutdown(SHUT_WR), 2 nothing */
	size_t done;
	uint64_t sum;
	int err;
};

static void *host_writer(void *arg)
{
	struct host_io *io = arg;
	static __thread uint8_t buf[65536];

	while (io->done < io->len) {
		size_t n = io->len - io->done < sizeof(buf) ? io->len - io->done : sizeof(buf);
		ssize_t w;

		vdrv_pattern(buf, io->done, n, io->seed);
		w = write(io->fd, buf, n);
		if (w <= 0) {
			io->err = errno;
			break;
		}
		io->done += (size_t)w;
	}
	if (io->how == 0)
		close(io->fd);
	else if (io->how == 1)
		shutdown(io->fd, SHUT_WR);
	return NULL;
}

static void *host_reader(void *arg)
{
	struct host_io *io = arg;
	static __thread uint8_t buf[65536], want[65536];
	ssize_t n;

	io->sum = VSOCK_FIX_FNV_INIT;
	while ((n = read(io->fd, buf, sizeof(buf))) > 0) {
		vdrv_pattern(want, io->done, (size_t)n, io->seed);
		if (memcmp(buf, want, (size_t)n) && !io->err)
			io->err = EBADMSG;
		io->sum = vsock_fix_fnv(io->sum, buf, (size_t)n);
		io->done += (size_t)n;
	}
	if (n < 0)
		io->err = errno;
	return NULL;
}

/* ---- basics ---- */

static void test_config_and_queues(void **state)
{
	struct vsock_fix *f = *state;
	struct virtio_vsock_config cfg;
	uint64_t feat;
	uint32_t lo, hi;

	assert_int_equal(vdrv_read32(&f->d, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_VSOCK);
	vdrv_config_read(&f->d, 0, &cfg, sizeof(cfg));
	assert_int_equal(le64toh(cfg.guest_cid), VSOCK_FIX_CID);
	feat = vdrv_device_features(&f->d);
	lo = (uint32_t)feat;
	hi = (uint32_t)(feat >> 32);
	assert_false(lo & (1u << VIRTIO_VSOCK_F_SEQPACKET)); /* stream only */
	assert_true(hi & (1u << (VIRTIO_F_VERSION_1 - 32)));
	for (unsigned q = 0; q < 4; q++) {
		vdrv_write32(&f->d, VIRTIO_MMIO_QUEUE_SEL, q);
		assert_int_equal(vdrv_read32(&f->d, VIRTIO_MMIO_QUEUE_NUM_MAX),
				 q < 3 ? VIRTIO_VSOCK_QUEUE_SIZE : 0);
	}
	assert_int_equal(vdrv_status(&f->d) & VIRTIO_CONFIG_S_DRIVER_OK, VIRTIO_CONFIG_S_DRIVER_OK);
}

static void test_create_fails_on_existing_path(void **state)
{
	struct vsock_fix *f = *state;
	struct vsock_cfg cfg = {.present = true, .guest_cid = 5, .uds_path = f->uds};
	struct virtio_vsock *vs = (void *)1;

	/* f->uds is bound by the fixture's device. */
	assert_int_equal(virtio_vsock_create(&cfg, &f->d.gm, &f->d.el, &vs), -EADDRINUSE);
	assert_null(vs);
	cfg.guest_cid = 2;
	assert_int_equal(virtio_vsock_create(&cfg, &f->d.gm, &f->d.el, &vs), -EINVAL);
	assert_int_equal(access(f->uds, F_OK), 0); /* the failed create left it alone */
}

static void test_host_initiated(void **state)
{
	struct vsock_fix *f = *state;
	struct vsock_gconn gc;
	struct virtio_vsock_hdr h;
	char buf[64];
	uint32_t len;
	int fd = vsock_fix_open_from_host(f, 5000, 65536, &gc);

	assert_true(fd >= 0);
	assert_true(gc.hport >= VSOCK_UDS_LOCAL_PORT_BASE);
	assert_int_equal(gc.peer_buf_alloc, VSOCK_CONN_BUF_SIZE);
	/* host -> guest */
	send_all(fd, "ping", 4);
	assert_int_equal(vsock_fix_recv(f, &h, buf, sizeof(buf), &len, WAIT), 0);
	assert_int_equal(le16toh(h.op), VIRTIO_VSOCK_OP_RW);
	assert_true(vsock_gconn_match(&gc, &h));
	assert_int_equal(len, 4);
	assert_memory_equal(buf, "ping", 4);
	/* guest -> host */
	assert_int_equal(vsock_fix_gsend(f, &gc, VIRTIO_VSOCK_OP_RW, 0, "pong!", 5), 0);
	assert_int_equal(vsock_fix_host_read(f, fd, buf, 5, WAIT), 0);
	assert_memory_equal(buf, "pong!", 5);
	/* a second connection to the same guest port gets another host port */
	{
		struct vsock_gconn gc2;
		int fd2 = vsock_fix_open_from_host(f, 5000, 65536, &gc2);

		assert_true(fd2 >= 0);
		assert_int_not_equal(gc2.hport, gc.hport);
		assert_int_equal(vsock_uds_conn_count(&f->vs->uds), 2);
		assert_int_equal(vsock_fix_gsend(f, &gc2, VIRTIO_VSOCK_OP_RST, 0, NULL, 0), 0);
		assert_int_equal(vsock_fix_host_wait_eof(f, fd2, WAIT), 0);
		close(fd2);
	}
	/* guest RST: the host sees EOF, the connection is gone */
	assert_int_equal(vsock_fix_gsend(f, &gc, VIRTIO_VSOCK_OP_RST, 0, NULL, 0), 0);
	assert_int_equal(vsock_fix_host_wait_eof(f, fd, WAIT), 0);
	close(fd);
	assert_int_equal(vsock_uds_conn_count(&f->vs->uds), 0);
	struct vsock_counters c = vsock_fix_counters(f);
	assert_int_equal(c.conns_added, 2);
	assert_int_equal(c.conns_removed, 2);
	assert_int_equal(c.conns_killed, 0);
	assert_int_equal(c.rx_bytes_count, 4);
	assert_int_equal(c.tx_bytes_count, 5);
	expect_nothing(f);
}

static void test_guest_initiated(void **state)
{
	struct vsock_fix *f = *state;
	struct vsock_gconn gc;
	struct virtio_vsock_hdr h;
	char buf[64];
	uint32_t len;
	int lfd, fd = vsock_fix_open_from_guest(f, 40000, 52, 65536, &gc, &lfd);

	assert_true(fd >= 0);
	assert_int_equal(gc.peer_buf_alloc, VSOCK_CONN_BUF_SIZE);
	assert_int_equal(gc.peer_fwd_cnt, 0);
	assert_int_equal(vsock_fix_gsend(f, &gc, VIRTIO_VSOCK_OP_RW, 0, "hello host", 10), 0);
	assert_int_equal(vsock_fix_host_read(f, fd, buf, 10, WAIT), 0);
	assert_memory_equal(buf, "hello host", 10);
	send_all(fd, "hello guest", 11);
	assert_int_equal(vsock_fix_recv(f, &h, buf, sizeof(buf), &len, WAIT), 0);
	assert_true(vsock_gconn_match(&gc, &h));
	assert_int_equal(le16toh(h.op), VIRTIO_VSOCK_OP_RW);
	assert_int_equal(len, 11);
	assert_memory_equal(buf, "hello guest", 11);
	/* ember's fwd_cnt counts what the host socket took */
	assert_int_equal(le32toh(h.fwd_cnt), 10);
	/* the host closes: SHUTDOWN(both) once, the guest answers RST */
	close(fd);
	expect_op(f, &gc, VIRTIO_VSOCK_OP_SHUTDOWN, &h);
	if (le32toh(h.flags) != (VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND))
		expect_op(f, &gc, VIRTIO_VSOCK_OP_SHUTDOWN, &h);
	assert_int_equal(le32toh(h.flags), VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
	assert_int_equal(vsock_fix_gsend(f, &gc, VIRTIO_VSOCK_OP_RST, 0, NULL, 0), 0);
	vdrv_poll(&f->d);
	assert_int_equal(vsock_uds_conn_count(&f->vs->uds), 0);
	expect_nothing(f);
	close(lfd);
}

static void test_guest_connect_refused(void **state)
{
	struct vsock_fix *f = *state;
	struct vsock_gconn gc;

	vsock_gconn_init(&gc, 1234, 9999, 65536); /* nobody listens on _9999 */
	assert_int_equal(vsock_fix_gsend(f, &gc, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0), 0);
	expect_op(f, &gc, VIRTIO_VSOCK_OP_RST, NULL);
	assert_int_equal(vsock_fix_counters(f).conns_refused, 1);
	assert_int_equal(vsock_uds_conn_count(&f->vs->uds), 0);
	/* packets for no connection: RST, except RST itself */
	assert_int_equal(vsock_fix_gsend(f, &gc, VIRTIO_VSOCK_OP_RW, 0, "x", 1), 0);
	expect_op(f, &gc, VIRTIO_VSOCK_OP_RST, NULL);
	assert_int_equal(vsock_fix_gsend(f, &gc, VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0, NULL, 0), 0);
	expect_op(f, &gc, VIRTIO_VSOCK_OP_RST, NULL);
	assert_int_equal(vsock_fix_gsend(f, &gc, VIRTIO_VSOCK_OP_RST, 0, NULL, 0), 0);
	expect_nothing(f);
}

static void test_guest_rst_refuses_host(void **state)
{
	struct vsock_fix *f = *state;
	struct virtio_vsock_hdr h;
	struct vsock_gconn gc;
	int fd = vsock_fix_host_connect_port(f, 7777);

	assert_true(fd >= 0);
	assert_int_equal(vsock_fix_recv(f, &h, NULL, 0, NULL, WAIT), 0);
	assert_int_equal(le16toh(h.op), VIRTIO_VSOCK_OP_REQUEST);
	vsock_gconn_init(&gc, 7777, le32toh(h.src_port), 65536);
	/* nobody listens in the guest */
	assert_int_equal(vsock_fix_gsend(f, &gc, VIRTIO_VSOCK_OP_RST, 0, NULL, 0), 0);
	assert_int_equal(vsock_fix_host_wait_eof(f, fd, WAIT), 0); /* closed without "OK" */
	close(fd);
	assert_int_equal(vsock_uds_conn_count(&f->vs->uds), 0);
	expect_nothing(f);
}

static void test_host_leaves_before_response(void **state)
{
	struct vsock_fix *f = *state;
	struct virtio_vsock_hdr h;
	struct vsock_gconn gc;
	int fd = vsock_fix_host_connect_port(f, 7778);

	assert_true(fd >= 0);
	assert_int_equal(vsock_fix_recv(f, &h, NULL, 0, NULL, WAIT), 0);
	assert_int_equal(le16toh(h.op), VIRTIO_VSOCK_OP_REQUEST);
	vsock_gconn_init(&gc, 7778, le32toh(h.src_port), 65536);
	close(fd);
	expect_op(f, &gc, VIRTIO_VSOCK_OP_RST, NULL);
	/* the guest's late RESPONSE finds no connection: RST */
	assert_int_equal(vsock_fix_gsend(f, &gc, VIRTIO_VSOCK_OP_RESPONSE, 0, NULL, 0), 0);
	expect_op(f, &gc, VIRTIO_VSOCK_OP_RST, NULL);
	assert_int_equal(vsock_uds_conn_count(&f->vs->uds), 0);
}

/* The guest never answers the REQUEST: after VSOCK_REQUEST_TIMEOUT_MS the
 * kill queue resets it and the client is closed. */
static void test_request_timeout(void **state)
{
	struct vsock_fix *f = *state;
	struct virtio_vsock_hdr h;
	struct vsock_gconn gc;
	int fd = vsock_fix_host_connect_port(f, 6000);

	assert_true(fd >= 0);
	assert_int_equal(vsock_fix_recv(f, &h, NULL, 0, NULL, WAIT), 0);
	assert_int_equal(le16toh(h.op), VIRTIO_VSOCK_OP_REQUEST);
	vsock_gconn_init(&gc, 6000, le32toh(h.src_port), 65536);
	expect_op(f, &gc, VIRTIO_VSOCK_OP_RST, NULL);
	assert_int_equal(vsock_fix_host_wait_eof(f, fd, WAIT), 0);
	close(fd);
	assert_int_equal(vsock_fix_counters(f).conns_killed, 1);
	assert_int_equal(vsock_uds_conn_count(&f->vs->uds), 0);
}

/* ---- bulk data ---- */

/* 1 MiB host -> guest with a 64 KiB guest window: checked byte for byte,
 * ember never exceeds the credit; the host's close ends in SHUTDOWN(both). */
static void test_bulk_host_to_guest(void **state)
{
	struct vsock_fix *f = *state;
	static uint8_t buf[VSOCK_MAX_PKT_BUF], want[VSOCK_MAX_PKT_BUF];
	struct host_io io = {.len = MiB_, .seed = 0x1234, .how = 0};
	struct virtio_vsock_hdr h;
	struct vsock_gconn gc;
	pthread_t t;
	uint32_t len, window = 65536;
	size_t got = 0;
	unsigned updates = 0;

	io.fd = vsock_fix_open_from_host(f, 5001, window, &gc);
	assert_true(io.fd >= 0);
	assert_int_equal(pthread_create(&t, NULL, host_writer, &io), 0);
	for (;;) {
		assert_int_equal(vsock_fix_recv(f, &h, buf, sizeof(buf), &len, WAIT), 0);
		assert_true(vsock_gconn_match(&gc, &h));
		vsock_gconn_seen(&gc, &h);
		uint16_t op = le16toh(h.op);
		if (op == VIRTIO_VSOCK_OP_RW) {
			assert_true(len > 0 && got + len <= MiB_);
			vdrv_pattern(want, got, len, io.seed);
			assert_memory_equal(buf, want, len);
			got += len;
			/* never beyond the window the guest advertised */
			assert_true(gc.rx_cnt - gc.last_fwd_sent <= window);
			gc.fwd_cnt += len; /* the guest application reads it */
			if (gc.fwd_cnt - gc.last_fwd_sent >= window / 2) {
				assert_int_equal(vsock_fix_gsend(f, &gc,
								 VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0,
								 NULL, 0),
						 0);
				updates++;
			}
		} else if (op == VIRTIO_VSOCK_OP_CREDIT_REQUEST) {
			assert_int_equal(
			    vsock_fix_gsend(f, &gc, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0), 0);
		} else if (op == VIRTIO_VSOCK_OP_SHUTDOWN) {
			assert_int_equal(got, MiB_); /* all data before the SHUTDOWN */
			if (le32toh(h.flags) ==
			    (VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND))
				break;
		} else {
			fail_msg("unexpected op %u", op);
		}
	}
	pthread_join(t, NULL);
	assert_int_equal(io.err, 0);
	assert_true(updates >= MiB_ / window);
	assert_int_equal(vsock_fix_gsend(f, &gc, VIRTIO_VSOCK_OP_RST, 0, NULL, 0), 0);
	assert_int_equal(vsock_uds_conn_count(&f->vs->uds), 0);
	struct vsock_counters c = vsock_fix_counters(f);
	assert_int_equal(c.rx_bytes_count, MiB_);
	assert_int_equal(c.conns_killed, 0);
}

/* 1 MiB guest -> host in packets of varying size, respecting ember's
 * credit; SHUTDOWN(both) at the end: the host reads it all, then EOF, and
 * ember answers RST. */
static void test_bulk_guest_to_host(void **state)
{
	struct vsock_fix *f = *state;
	static uint8_t buf[VSOCK_MAX_PKT_BUF];
	struct host_io io = {.seed = 0x5678};
	struct virtio_vsock_hdr h;
	struct vsock_gconn gc;
	pthread_t t;
	size_t sent = 0;
	uint64_t sum = VSOCK_FIX_FNV_INIT;
	unsigned i = 0;
	int lfd;

	io.fd = vsock_fix_open_from_guest(f, 41000, 53, 65536, &gc, &lfd);
	assert_true(io.fd >= 0);
	assert_int_equal(pthread_create(&t, NULL, host_reader, &io), 0);
	while (sent < MiB_) {
		uint32_t credit = vsock_gconn_credit(&gc), n;

		while (vsock_fix_try_recv(f, &h, NULL, 0, NULL) == 0) {
			assert_true(vsock_gconn_match(&gc, &h));
			assert_int_equal(le16toh(h.op), VIRTIO_VSOCK_OP_CREDIT_UPDATE);
			vsock_gconn_seen(&gc, &h);
			credit = vsock_gconn_credit(&gc);
		}
		if (credit == 0) {
			expect_op(f, &gc, VIRTIO_VSOCK_OP_CREDIT_UPDATE, NULL);
			continue;
		}
		n = (uint32_t)((i++ * 7919u) % VSOCK_MAX_PKT_BUF) + 1;
		n = n < credit ? n : credit;
		if (n > MiB_ - sent)
			n = (uint32_t)(MiB_ - sent);
		vdrv_pattern(buf, sent, n, io.seed);
		sum = vsock_fix_fnv(sum, buf, n);
		assert_int_equal(vsock_fix_gsend(f, &gc, VIRTIO_VSOCK_OP_RW, 0, buf, n), 0);
		sent += n;
	}
	assert_int_equal(vsock_fix_gsend(f, &gc, VIRTIO_VSOCK_OP_SHUTDOWN,
					 VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND,
					 NULL, 0),
			 0);
	do {
		assert_int_equal(vsock_fix_recv(f, &h, NULL, 0, NULL, WAIT), 0);
		assert_true(vsock_gconn_match(&gc, &h));
	} while (le16toh(h.op) == VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	assert_int_equal(le16toh(h.op), VIRTIO_VSOCK_OP_RST);
	pthread_join(t, NULL);
	assert_int_equal(io.err, 0);
	assert_int_equal(io.done, MiB_);
	assert_true(io.sum == sum);
	assert_int_equal(vsock_uds_conn_count(&f->vs->uds), 0);
	struct vsock_counters c = vsock_fix_counters(f);
	assert_int_equal(c.tx_bytes_count, MiB_);
	assert_int_equal(c.conns_killed, 0);
	close(io.fd);
	close(lfd);
}

/* ---- half-close ---- */

static void test_half_close_from_guest(void **state)
{
	struct vsock_fix *f = *state;
	struct virtio_vsock_hdr h;
	struct vsock_gconn gc;
	char buf[16];
	uint32_t len;
	int fd = vsock_fix_open_from_host(f, 5002, 65536, &gc);

	assert_true(fd >= 0);
	assert_int_equal(vsock_fix_gsend(f, &gc, VIRTIO_VSOCK_OP_RW, 0, "last", 4), 0);
	assert_int_equal(
	    vsock_fix_gsend(f, &gc, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND, NULL, 0),
	    0);
	/* the host reads the data, then EOF ... */
	assert_int_equal(vsock_fix_host_read(f, fd, buf, 4, WAIT), 0);
	assert_memory_equal(buf, "last", 4);
	assert_int_equal(vsock_fix_host_wait_eof(f, fd, WAIT), 0);
	/* ... and can still talk to the guest */
	send_all(fd, "reply", 5);
	assert_int_equal(vsock_fix_recv(f, &h, buf, sizeof(buf), &len, WAIT), 0);
	assert_int_equal(le16toh(h.op), VIRTIO_VSOCK_OP_RW);
	assert_int_equal(len, 5);
	assert_memory_equal(buf, "reply", 5);
	/* data after SHUTDOWN(SEND) is a protocol violation: RST */
	assert_int_equal(vsock_fix_gsend(f, &gc, VIRTIO_VSOCK_OP_RW, 0, "more", 4), 0);
	expect_op(f, &gc, VIRTIO_VSOCK_OP_RST, NULL);
	close(fd);
	assert_int_equal(vsock_uds_conn_count(&f->vs->uds), 0);
}

static void test_half_close_from_host(void **state)
{
	struct vsock_fix *f = *state;
	struct virtio_vsock_hdr h;
	struct vsock_gconn gc;
	char buf[16];
	uint32_t len;
	int lfd, fd = vsock_fix_open_from_guest(f, 42000, 54, 65536, &gc, &lfd);

	assert_true(fd >= 0);
	send_all(fd, "bye", 3);
	shutdown(fd, SHUT_WR);
	assert_int_equal(vsock_fix_recv(f, &h, buf, sizeof(buf), &len, WAIT), 0);
	assert_int_equal(le16toh(h.op), VIRTIO_VSOCK_OP_RW);
	assert_memory_equal(buf, "bye", 3);
	/* SEND only: the host can still receive */
	expect_op(f, &gc, VIRTIO_VSOCK_OP_SHUTDOWN, &h);
	assert_int_equal(le32toh(h.flags), VIRTIO_VSOCK_SHUTDOWN_SEND);
	assert_int_equal(vsock_fix_gsend(f, &gc, VIRTIO_VSOCK_OP_RW, 0, "still here", 10), 0);
	assert_int_equal(vsock_fix_host_read(f, fd, buf, 10, WAIT), 0);
	assert_memory_equal(buf, "still here", 10);
	/* the guest closes its end: ember resets once the data is out */
	assert_int_equal(vsock_fix_gsend(f, &gc, VIRTIO_VSOCK_OP_SHUTDOWN,
					 VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND,
					 NULL, 0),
			 0);
	expect_op(f, &gc, VIRTIO_VSOCK_OP_RST, NULL);
	assert_int_equal(vsock_fix_host_wait_eof(f, fd, WAIT), 0);
	assert_int_equal(vsock_uds_conn_count(&f->vs->uds), 0);
	close(fd);
	close(lfd);
}

/* The guest stops receiving (SHUTDOWN RCV): host data is not read any more
 * and the host writer eventually sees EPIPE. */
static void test_guest_shutdown_rcv(void **state)
{
	struct vsock_fix *f = *state;
	struct vsock_gconn gc;
	int fd = vsock_fix_open_from_host(f, 5003, 65536, &gc);

	assert_true(fd >= 0);
	assert_int_equal(
	    vsock_fix_gsend(f, &gc, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_RCV, NULL, 0),
	    0);
	vdrv_poll(&f->d);
	assert_int_equal(send(fd, "x", 1, MSG_NOSIGNAL), -1);
	assert_int_equal(errno, EPIPE);
	expect_nothing(f);
	/* the other direction still works */
	assert_int_equal(vsock_fix_gsend(f, &gc, VIRTIO_VSOCK_OP_RW, 0, "ok", 2), 0);
	char buf[2];
	assert_int_equal(vsock_fix_host_read(f, fd, buf, 2, WAIT), 0);
	close(fd);
}

/* ---- credit ---- */

/* Guest window of 16 KiB: exactly 16 KiB arrive, then a CREDIT_REQUEST and
 * nothing more until the guest gives credit; then the rest. */
static void test_credit_exhaustion_rx(void **state)
{
	struct vsock_fix *f = *state;
	static uint8_t data[65536], buf[8192];
	const uint32_t window = 16384;
	struct virtio_vsock_hdr h;
	struct vsock_gconn gc;
	uint32_t len, got = 0;
	int fd = vsock_fix_open_from_host(f, 5004, window, &gc);

	assert_true(fd >= 0);
	vdrv_pattern(data, 0, sizeof(data), 99);
	send_all(fd, data, sizeof(data)); /* fits the socket buffer */
	for (int round = 0; got < sizeof(data); round++) {
		uint32_t round_got = 0;

		while (round_got < window) {
			assert_int_equal(vsock_fix_recv(f, &h, buf, sizeof(buf), &len, WAIT), 0);
			assert_true(vsock_gconn_match(&gc, &h));
			vsock_gconn_seen(&gc, &h);
			if (le16toh(h.op) == VIRTIO_VSOCK_OP_CREDIT_REQUEST)
				continue;
			assert_int_equal(le16toh(h.op), VIRTIO_VSOCK_OP_RW);
			assert_memory_equal(buf, data + got, len);
			got += len;
			round_got += len;
		}
		assert_int_equal(round_got, window);
		/* out of credit: at most a CREDIT_REQUEST, no data */
		if (vsock_fix_try_recv(f, &h, NULL, 0, &len) == 0) {
			assert_int_equal(le16toh(h.op), VIRTIO_VSOCK_OP_CREDIT_REQUEST);
			expect_nothing(f);
		}
		gc.fwd_cnt += window;
		assert_int_equal(vsock_fix_gsend(f, &gc, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0),
				 0);
	}
	assert_int_equal(got, sizeof(data));
	close(fd);
}

/* Fill ember's side: the host does not read, the guest sends until ember's
 * credit is 0 (asking with CREDIT_REQUEST). Ember buffered no more than it
 * advertised; then the host reads everything and ember's CREDIT_UPDATEs let
 * the guest finish. */
static void test_credit_exhaustion_tx(void **state)
{
	struct vsock_fix *f = *state;
	static uint8_t buf[VSOCK_MAX_PKT_BUF];
	const size_t total = 2 * MiB_;
	struct virtio_vsock_hdr h;
	struct vsock_gconn gc;
	size_t sent = 0;
	uint64_t sum = VSOCK_FIX_FNV_INIT;
	struct host_io io = {.seed = 77};
	pthread_t t;
	int lfd, fd = vsock_fix_open_from_guest(f, 43000, 55, 65536, &gc, &lfd);

	assert_true(fd >= 0);
	for (;;) {
		uint32_t credit, n;

		while (vsock_fix_try_recv(f, &h, NULL, 0, NULL) == 0) {
			assert_int_equal(le16toh(h.op), VIRTIO_VSOCK_OP_CREDIT_UPDATE);
			vsock_gconn_seen(&gc, &h);
		}
		credit = vsock_gconn_credit(&gc);
		if (credit == 0) {
			assert_int_equal(
			    vsock_fix_gsend(f, &gc, VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0, NULL, 0), 0);
			expect_op(f, &gc, VIRTIO_VSOCK_OP_CREDIT_UPDATE, NULL);
			while (vsock_fix_try_recv(f, &h, NULL, 0, NULL) == 0) {
				assert_int_equal(le16toh(h.op), VIRTIO_VSOCK_OP_CREDIT_UPDATE);
				vsock_gconn_seen(&gc, &h);
			}
			if (vsock_gconn_credit(&gc) == 0)
				break;
			continue;
		}
		n = credit < sizeof(buf) ? credit : (uint32_t)sizeof(buf);
		vdrv_pattern(buf, sent, n, io.seed);
		sum = vsock_fix_fnv(sum, buf, n);
		assert_int_equal(vsock_fix_gsend(f, &gc, VIRTIO_VSOCK_OP_RW, 0, buf, n), 0);
		sent += n;
		assert_true(sent < total);
	}
	/* Stalled: ember holds exactly its buffer's worth beyond what the
	 * host socket took. */
	struct vsock_conn *c = f->vs->uds.rxq_head;
	assert_null(c); /* nothing pending for the guest */
	assert_int_equal(gc.tx_cnt - gc.peer_fwd_cnt, VSOCK_CONN_BUF_SIZE);
	/* now the host drains it; the guest continues to `total` */
	io.fd = fd;
	assert_int_equal(pthread_create(&t, NULL, host_reader, &io), 0);
	while (sent < total) {
		uint32_t credit = vsock_gconn_credit(&gc), n;

		if (credit == 0) {
			expect_op(f, &gc, VIRTIO_VSOCK_OP_CREDIT_UPDATE, NULL);
			continue;
		}
		while (vsock_fix_try_recv(f, &h, NULL, 0, NULL) == 0) {
			assert_int_equal(le16toh(h.op), VIRTIO_VSOCK_OP_CREDIT_UPDATE);
			vsock_gconn_seen(&gc, &h);
		}
		n = credit < sizeof(buf) ? credit : (uint32_t)sizeof(buf);
		if (n > total - sent)
			n = (uint32_t)(total - sent);
		vdrv_pattern(buf, sent, n, io.seed);
		sum = vsock_fix_fnv(sum, buf, n);
		assert_int_equal(vsock_fix_gsend(f, &gc, VIRTIO_VSOCK_OP_RW, 0, buf, n), 0);
		sent += n;
	}
	assert_int_equal(vsock_fix_gsend(f, &gc, VIRTIO_VSOCK_OP_SHUTDOWN,
					 VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND,
					 NULL, 0),
			 0);
	for (;;) {
		assert_int_equal(vsock_fix_recv(f, &h, NULL, 0, NULL, WAIT), 0);
		if (le16toh(h.op) == VIRTIO_VSOCK_OP_RST)
			break;
		assert_int_equal(le16toh(h.op), VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	}
	pthread_join(t, NULL);
	assert_int_equal(io.err, 0);
	assert_int_equal(io.done, total);
	assert_true(io.sum == sum);
	assert_int_equal(vsock_fix_counters(f).tx_credit_violations, 0);
	close(fd);
	close(lfd);
}

/* A guest that sends beyond ember's credit is reset. */
static void test_credit_violation(void **state)
{
	struct vsock_fix *f = *state;
	static uint8_t buf[VSOCK_MAX_PKT_BUF];
	struct vsock_gconn gc;
	int lfd, fd = vsock_fix_open_from_guest(f, 44000, 56, 65536, &gc, &lfd);

	assert_true(fd >= 0);
	memset(buf, 'v', sizeof(buf));
	/* the host never reads: socket buffer, then ember's 256 KiB, then over */
	for (int i = 0; i < 64; i++) {
		assert_int_equal(vsock_fix_gsend(f, &gc, VIRTIO_VSOCK_OP_RW, 0, buf, sizeof(buf)),
				 0);
		if (vsock_fix_counters(f).tx_credit_violations)
			break;
	}
	assert_int_equal(vsock_fix_counters(f).tx_credit_violations, 1);
	struct virtio_vsock_hdr h;
	do
		assert_int_equal(vsock_fix_recv(f, &h, NULL, 0, NULL, WAIT), 0);
	while (le16toh(h.op) == VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	assert_int_equal(le16toh(h.op), VIRTIO_VSOCK_OP_RST);
	assert_int_equal(vsock_fix_counters(f).conns_killed, 1);
	assert_int_equal(vsock_uds_conn_count(&f->vs->uds), 0);
	close(fd);
	close(lfd);
}

/* ---- peers closing mid-stream ---- */

/* The host writes 300 KiB into a small guest window and closes: the guest
 * still gets all of it, then SHUTDOWN(both). */
static void test_host_close_mid_stream(void **state)
{
	struct vsock_fix *f = *state;
	static uint8_t buf[8192], want[8192];
	struct host_io io = {.len = 300 * 1024, .seed = 4242, .how = 0};
	struct virtio_vsock_hdr h;
	struct vsock_gconn gc;
	uint32_t len, window = 32768;
	size_t got = 0;
	pthread_t t;

	io.fd = vsock_fix_open_from_host(f, 5005, window, &gc);
	assert_true(io.fd >= 0);
	assert_int_equal(pthread_create(&t, NULL, host_writer, &io), 0);
	for (;;) {
		assert_int_equal(vsock_fix_recv(f, &h, buf, sizeof(buf), &len, WAIT), 0);
		vsock_gconn_seen(&gc, &h);
		if (le16toh(h.op) == VIRTIO_VSOCK_OP_RW) {
			vdrv_pattern(want, got, len, io.seed);
			assert_memory_equal(buf, want, len);
			got += len;
			gc.fwd_cnt += len;
			if (gc.fwd_cnt - gc.last_fwd_sent >= window / 2)
				assert_int_equal(vsock_fix_gsend(f, &gc,
								 VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0,
								 NULL, 0),
						 0);
		} else if (le16toh(h.op) == VIRTIO_VSOCK_OP_SHUTDOWN) {
			if (le32toh(h.flags) ==
			    (VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND))
				break;
		} else {
			assert_int_equal(le16toh(h.op), VIRTIO_VSOCK_OP_CREDIT_REQUEST);
			assert_int_equal(
			    vsock_fix_gsend(f, &gc, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0), 0);
		}
	}
	pthread_join(t, NULL);
	assert_int_equal(got, io.len);
	/* the guest never answers: the shutdown timeout resets it */
	expect_op(f, &gc, VIRTIO_VSOCK_OP_RST, NULL);
	assert_int_equal(vsock_uds_conn_count(&f->vs->uds), 0);
}

/* The guest resets mid-stream: the host reader sees what was sent, then
 * EOF. */
static void test_guest_rst_mid_stream(void **state)
{
	struct vsock_fix *f = *state;
	static uint8_t buf[32768];
	struct host_io io = {.seed = 31};
	struct vsock_gconn gc;
	pthread_t t;
	int lfd;

	io.fd = vsock_fix_open_from_guest(f, 45000, 57, 65536, &gc, &lfd);
	assert_true(io.fd >= 0);
	assert_int_equal(pthread_create(&t, NULL, host_reader, &io), 0);
	for (size_t sent = 0; sent < 4 * sizeof(buf); sent += sizeof(buf)) {
		vdrv_pattern(buf, sent, sizeof(buf), io.seed);
		assert_int_equal(vsock_fix_gsend(f, &gc, VIRTIO_VSOCK_OP_RW, 0, buf, sizeof(buf)),
				 0);
	}
	assert_int_equal(vsock_fix_gsend(f, &gc, VIRTIO_VSOCK_OP_RST, 0, NULL, 0), 0);
	pthread_join(t, NULL);
	assert_int_equal(io.err, 0);
	assert_true(io.done <= 4 * sizeof(buf));
	assert_int_equal(vsock_uds_conn_count(&f->vs->uds), 0);
	close(io.fd);
	close(lfd);
}

/* ---- resets ---- */

static void test_transport_reset(void **state)
{
	struct vsock_fix *f = *state;
	struct vsock_gconn gc1, gc2;
	uint32_t id, len, ev;
	int lfd, fd1 = vsock_fix_open_from_host(f, 5006, 65536, &gc1);
	int fd2 = vsock_fix_open_from_guest(f, 46000, 58, 65536, &gc2, &lfd);

	assert_true(fd1 >= 0 && fd2 >= 0);
	assert_int_equal(vsock_uds_conn_count(&f->vs->uds), 2);
	virtio_vsock_transport_reset(f->vs);
	assert_int_equal(vdrv_wait_used(&f->d, VIRTIO_VSOCK_EVQ, WAIT, &id, &len), 0);
	assert_int_equal(len, 4);
	gm_read(&f->d.gm, f->ev_gpa + 8ULL * id, &ev, 4);
	assert_int_equal(le32toh(ev), VIRTIO_VSOCK_EVENT_TRANSPORT_RESET);
	assert_int_equal(vsock_fix_host_wait_eof(f, fd1, WAIT), 0);
	assert_int_equal(vsock_fix_host_wait_eof(f, fd2, WAIT), 0);
	assert_int_equal(vsock_uds_conn_count(&f->vs->uds), 0);
	expect_nothing(f); /* no per-connection RSTs */
	assert_int_equal(vsock_fix_counters(f).ev_queue_events, 1);
	close(fd1);
	close(fd2);
	close(lfd);
	/* still works afterwards */
	fd1 = vsock_fix_open_from_host(f, 5006, 65536, &gc1);
	assert_true(fd1 >= 0);
	close(fd1);
}

static void test_device_reset(void **state)
{
	struct vsock_fix *f = *state;
	struct vsock_gconn gc;
	int fd = vsock_fix_open_from_host(f, 5007, 65536, &gc);

	assert_true(fd >= 0);
	vdrv_write32(&f->d, VIRTIO_MMIO_STATUS, 0); /* as a vCPU would */
	assert_int_equal(vsock_fix_host_wait_eof(f, fd, WAIT), 0);
	close(fd);
	assert_int_equal(vsock_uds_conn_count(&f->vs->uds), 0);
	/* a fresh driver works */
	vdrv_release(&f->d, 0x10000); /* reuse guest RAM from the start */
	assert_int_equal(vdrv_setup(&f->d, VSOCK_FIX_ALL_FEATURES, VIRTIO_VSOCK_NUM_QUEUES,
				    VIRTIO_VSOCK_QUEUE_SIZE),
			 0);
	f->tx_gpa = vdrv_alloc(&f->d, 64 + VSOCK_FIX_TX_MAX, 64);
	assert_int_equal(vsock_fix_post_rx(f, 16), 0);
	fd = vsock_fix_open_from_host(f, 5007, 65536, &gc);
	assert_true(fd >= 0);
	close(fd);
}

/* A host client that connects before the driver is up waits for it. */
static void test_connect_before_driver(void **state)
{
	struct vsock_fix *f = calloc(1, sizeof(*f));
	struct virtio_vsock_hdr h;
	char line[32];
	int fd;

	(void)state;
	assert_non_null(f);
	assert_int_equal(vsock_fix_init(f, 0, VSOCK_FIX_RX_DEFAULT, 0, false), 0);
	fd = vsock_fix_host_connect_port(f, 5008);
	assert_true(fd >= 0);
	vdrv_poll(&f->d);
	assert_int_equal(vsock_uds_conn_count(&f->vs->uds), 1);
	assert_int_equal(vdrv_setup(&f->d, VSOCK_FIX_ALL_FEATURES, VIRTIO_VSOCK_NUM_QUEUES,
				    VIRTIO_VSOCK_QUEUE_SIZE),
			 0);
	f->tx_gpa = vdrv_alloc(&f->d, 64 + VSOCK_FIX_TX_MAX, 64);
	assert_int_equal(vsock_fix_post_rx(f, 8), 0);
	assert_int_equal(vsock_fix_recv(f, &h, NULL, 0, NULL, WAIT), 0);
	assert_int_equal(le16toh(h.op), VIRTIO_VSOCK_OP_REQUEST);
	assert_int_equal(le32toh(h.dst_port), 5008);
	struct vsock_gconn gc;
	vsock_gconn_init(&gc, 5008, le32toh(h.src_port), 4096);
	assert_int_equal(vsock_fix_gsend(f, &gc, VIRTIO_VSOCK_OP_RESPONSE, 0, NULL, 0), 0);
	assert_true(vsock_fix_host_line(f, fd, line, sizeof(line), WAIT) > 0);
	assert_int_equal(strncmp(line, "OK ", 3), 0);
	close(fd);
	vsock_fix_fini(f);
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_config_and_queues, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_create_fails_on_existing_path, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_host_initiated, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_host_initiated, setup_plain, teardown),
	    cmocka_unit_test_setup_teardown(test_guest_initiated, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_guest_connect_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_guest_rst_refuses_host, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_host_leaves_before_response, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_request_timeout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bulk_host_to_guest, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bulk_host_to_guest, setup_split, teardown),
	    cmocka_unit_test_setup_teardown(test_bulk_host_to_guest, setup_big, teardown),
	    cmocka_unit_test_setup_teardown(test_bulk_host_to_guest, setup_plain, teardown),
	    cmocka_unit_test_setup_teardown(test_bulk_guest_to_host, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bulk_guest_to_host, setup_plain, teardown),
	    cmocka_unit_test_setup_teardown(test_half_close_from_guest, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_half_close_from_host, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_guest_shutdown_rcv, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_credit_exhaustion_rx, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_credit_exhaustion_tx, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_credit_violation, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_host_close_mid_stream, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_guest_rst_mid_stream, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_transport_reset, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_device_reset, setup, teardown),
	    cmocka_unit_test(test_connect_before_driver),
	};

	signal(SIGPIPE, SIG_IGN); /* a failed test may leave a host thread writing */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
