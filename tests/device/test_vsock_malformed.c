/* virtio-vsock against hostile input: malformed headers and lengths, bad
 * chains on every queue, protocol violations, a flood of REQUESTs beyond the
 * connection limit, the RST queue filling up (tx back-pressure), host
 * clients sending garbage instead of CONNECT, the handshake limit and
 * timeout, the kill queue overflowing, and random packets. Nothing may
 * crash, and the device must keep working afterwards. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <endian.h>
#include <errno.h>
#include <signal.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vsock_fix.h"

static int fds_before; /* leak check: every test closes what it opened */

#define WAIT VDRV_WAIT_MS
#define HOST VMADDR_CID_HOST
#define CID VSOCK_FIX_CID

static int setup(void **state)
{
	struct vsock_fix *f = calloc(1, sizeof(*f));

	fds_before = vsock_fix_count_fds();
	assert_non_null(f);
	assert_int_equal(vsock_fix_init(f, VSOCK_FIX_ALL_FEATURES, VSOCK_FIX_RX_DEFAULT, 64, false),
			 0);
	*state = f;
	return 0;
}

static int setup_norx(void **state)
{
	struct vsock_fix *f = calloc(1, sizeof(*f));

	fds_before = vsock_fix_count_fds();
	assert_non_null(f);
	assert_int_equal(vsock_fix_init(f, VSOCK_FIX_ALL_FEATURES, VSOCK_FIX_RX_DEFAULT, 0, false),
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

static void expect_nothing(struct vsock_fix *f)
{
	struct virtio_vsock_hdr h;

	assert_int_equal(vsock_fix_try_recv(f, &h, NULL, 0, NULL), -EAGAIN);
}

/* Next packet: op to guest port gport. */
static void expect_pkt(struct vsock_fix *f, uint16_t op, uint32_t gport)
{
	struct virtio_vsock_hdr h;

	assert_int_equal(vsock_fix_recv(f, &h, NULL, 0, NULL, WAIT), 0);
	assert_int_equal(le16toh(h.op), op);
	assert_int_equal(le32toh(h.dst_port), gport);
	assert_int_equal(le64toh(h.src_cid), HOST);
	assert_int_equal(le64toh(h.dst_cid), CID);
}

/* Nobody connected to the listener. */
static bool no_pending_conn(int lfd)
{
	struct pollfd p = {.fd = lfd, .events = POLLIN};

	return poll(&p, 1, 0) == 0;
}

static void send_hdr(struct vsock_fix *f, uint64_t src, uint64_t dst, uint32_t sport,
		     uint32_t dport, uint16_t op, uint16_t type, uint32_t len, const void *data,
		     uint32_t dlen)
{
	struct virtio_vsock_hdr h;

	vsock_fix_hdr(&h, src, dst, sport, dport, op, len, 0, 65536, 0);
	h.type = htole16(type);
	assert_int_equal(vsock_fix_send(f, &h, data, dlen, false), 0);
}

/* The device still serves a normal connection. */
static void still_works(struct vsock_fix *f)
{
	struct vsock_gconn gc;
	char buf[4];
	int fd = vsock_fix_open_from_host(f, 4242, 65536, &gc);

	assert_true(fd >= 0);
	assert_int_equal(vsock_fix_gsend(f, &gc, VIRTIO_VSOCK_OP_RW, 0, "fine", 4), 0);
	assert_int_equal(vsock_fix_host_read(f, fd, buf, 4, WAIT), 0);
	assert_memory_equal(buf, "fine", 4);
	assert_int_equal(vsock_fix_gsend(f, &gc, VIRTIO_VSOCK_OP_RST, 0, NULL, 0), 0);
	close(fd);
	assert_false(vdrv_needs_reset(&f->d));
}

/* ---- headers ---- */

static void test_short_header(void **state)
{
	struct vsock_fix *f = *state;
	uint64_t mark = vdrv_mark(&f->d), gpa = vdrv_alloc(&f->d, 64, 8);
	struct vd_buf b = {gpa, 20, false};

	assert_int_equal(vsock_fix_send_raw(f, &b, 1), 0);
	b.len = 0; /* zero-length descriptor */
	assert_int_equal(vsock_fix_send_raw(f, &b, 1), 0);
	b = (struct vd_buf){gpa, 64, true}; /* device-writable only */
	assert_int_equal(vsock_fix_send_raw(f, &b, 1), 0);
	vdrv_release(&f->d, mark);
	expect_nothing(f);
	assert_int_equal(vsock_fix_counters(f).tx_malformed, 3);
	still_works(f);
}

static void test_wrong_cids(void **state)
{
	struct vsock_fix *f = *state;
	int lfd = vsock_fix_listen(f, 52, 8);

	assert_true(lfd >= 0);
	send_hdr(f, 4, HOST, 1000, 52, VIRTIO_VSOCK_OP_REQUEST, 1, 0, NULL, 0);	 /* spoofed src */
	send_hdr(f, CID, CID, 1000, 52, VIRTIO_VSOCK_OP_REQUEST, 1, 0, NULL, 0); /* to itself */
	send_hdr(f, CID, 1, 1000, 52, VIRTIO_VSOCK_OP_REQUEST, 1, 0, NULL, 0);
	send_hdr(f, CID, 0x100000002ULL, 1000, 52, VIRTIO_VSOCK_OP_REQUEST, 1, 0, NULL, 0);
	send_hdr(f, (uint64_t)CID << 32 | CID, HOST, 1000, 52, VIRTIO_VSOCK_OP_RW, 1, 0, NULL, 0);
	expect_nothing(f);
	assert_true(no_pending_conn(lfd));
	assert_int_equal(vsock_fix_counters(f).tx_malformed, 5);
	assert_int_equal(vsock_fix_counters(f).tx_packets_count, 0);
	close(lfd);
	still_works(f);
}

static void test_bad_type_and_op(void **state)
{
	struct vsock_fix *f = *state;
	struct vsock_gconn gc;
	int lfd = vsock_fix_listen(f, 53, 8), fd;

	assert_true(lfd >= 0);
	/* SEQPACKET is not offered: RST, no connect */
	send_hdr(f, CID, HOST, 1001, 53, VIRTIO_VSOCK_OP_REQUEST, VIRTIO_VSOCK_TYPE_SEQPACKET, 0,
		 NULL, 0);
	expect_pkt(f, VIRTIO_VSOCK_OP_RST, 1001);
	send_hdr(f, CID, HOST, 1002, 53, VIRTIO_VSOCK_OP_REQUEST, 0, 0, NULL, 0);
	expect_pkt(f, VIRTIO_VSOCK_OP_RST, 1002);
	assert_true(no_pending_conn(lfd));
	/* unknown ops */
	send_hdr(f, CID, HOST, 1003, 53, 0, 1, 0, NULL, 0);
	expect_pkt(f, VIRTIO_VSOCK_OP_RST, 1003);
	send_hdr(f, CID, HOST, 1004, 53, 99, 1, 0, NULL, 0);
	expect_pkt(f, VIRTIO_VSOCK_OP_RST, 1004);
	send_hdr(f, CID, HOST, 1005, 53, 0xffff, 1, 0, NULL, 0);
	expect_pkt(f, VIRTIO_VSOCK_OP_RST, 1005);
	close(lfd);
	/* an unknown op on a live connection resets it */
	fd = vsock_fix_open_from_guest(f, 1006, 54, 65536, &gc, &lfd);
	assert_true(fd >= 0);
	send_hdr(f, CID, HOST, 1006, 54, 8, 1, 0, NULL, 0);
	expect_pkt(f, VIRTIO_VSOCK_OP_RST, 1006);
	assert_int_equal(vsock_fix_host_wait_eof(f, fd, WAIT), 0);
	close(fd);
	close(lfd);
	assert_int_equal(vsock_fix_counters(f).tx_malformed, 6);
	expect_nothing(f);
	still_works(f);
}

static void test_bad_lengths(void **state)
{
	struct vsock_fix *f = *state;
	static uint8_t big[VSOCK_MAX_PKT_BUF + 1];
	struct vsock_gconn gc;
	int lfd, fd;

	/* hdr.len beyond the largest packet, payload all there */
	fd = vsock_fix_open_from_guest(f, 2001, 60, 65536, &gc, &lfd);
	assert_true(fd >= 0);
	send_hdr(f, CID, HOST, 2001, 60, VIRTIO_VSOCK_OP_RW, 1, sizeof(big), big, sizeof(big));
	expect_pkt(f, VIRTIO_VSOCK_OP_RST, 2001);
	assert_int_equal(vsock_fix_host_wait_eof(f, fd, WAIT), 0); /* nothing written */
	close(fd);
	close(lfd);
	/* hdr.len larger than the descriptors */
	fd = vsock_fix_open_from_guest(f, 2002, 61, 65536, &gc, &lfd);
	assert_true(fd >= 0);
	send_hdr(f, CID, HOST, 2002, 61, VIRTIO_VSOCK_OP_RW, 1, 100, "0123456789", 10);
	expect_pkt(f, VIRTIO_VSOCK_OP_RST, 2002);
	assert_int_equal(vsock_fix_host_wait_eof(f, fd, WAIT), 0);
	close(fd);
	close(lfd);
	/* ... and UINT32_MAX, without a connection */
	send_hdr(f, CID, HOST, 2003, 62, VIRTIO_VSOCK_OP_RW, 1, UINT32_MAX, "x", 1);
	expect_pkt(f, VIRTIO_VSOCK_OP_RST, 2003);
	/* a REQUEST carrying payload: the payload is ignored */
	fd = vsock_fix_listen(f, 63, 4);
	send_hdr(f, CID, HOST, 2004, 63, VIRTIO_VSOCK_OP_REQUEST, 1, 5, "junk!", 5);
	expect_pkt(f, VIRTIO_VSOCK_OP_RESPONSE, 2004);
	send_hdr(f, CID, HOST, 2004, 63, VIRTIO_VSOCK_OP_RST, 1, 0, NULL, 0);
	close(fd);
	assert_int_equal(vsock_fix_counters(f).tx_malformed, 3);
	assert_int_equal(vsock_fix_counters(f).tx_bytes_count, 0);
	still_works(f);
}

/* The header may be split anywhere; payload may share a descriptor with
 * the header's tail; indirect chains work. */
static void test_split_headers(void **state)
{
	struct vsock_fix *f = *state;
	uint64_t mark = vdrv_mark(&f->d), gpa = vdrv_alloc(&f->d, 256, 8);
	struct virtio_vsock_hdr h;
	struct vsock_gconn gc;
	char buf[10];
	int lfd = vsock_fix_listen(f, 64, 4), fd;

	assert_true(lfd >= 0);
	vsock_fix_hdr(&h, CID, HOST, 3001, 64, VIRTIO_VSOCK_OP_REQUEST, 0, 0, 65536, 0);
	gm_write(&f->d.gm, gpa, &h, sizeof(h));
	struct vd_buf b3[3] = {{gpa, 14, false}, {gpa + 14, 16, false}, {gpa + 30, 14, false}};
	assert_int_equal(vsock_fix_send_raw(f, b3, 3), 0);
	expect_pkt(f, VIRTIO_VSOCK_OP_RESPONSE, 3001);
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(fd >= 0);
	/* RW: [hdr 0..40) [hdr 40..44 + "abcdef"] ["ghij"] */
	vsock_fix_hdr(&h, CID, HOST, 3001, 64, VIRTIO_VSOCK_OP_RW, 10, 0, 65536, 0);
	gm_write(&f->d.gm, gpa + 64, &h, sizeof(h));
	gm_write(&f->d.gm, gpa + 64 + sizeof(h), "abcdef", 6);
	gm_write(&f->d.gm, gpa + 160, "ghij", 4);
	struct vd_buf rw[3] = {
	    {gpa + 64, 40, false}, {gpa + 104, 10, false}, {gpa + 160, 4, false}};
	assert_int_equal(vsock_fix_send_raw(f, rw, 3), 0);
	assert_int_equal(vsock_fix_host_read(f, fd, buf, 10, WAIT), 0);
	assert_memory_equal(buf, "abcdefghij", 10);
	/* the same through an indirect table */
	uint16_t old = f->d.q[VIRTIO_VSOCK_TXQ].avail_idx;
	uint32_t id;
	int head = vdrv_add_chain(&f->d, VIRTIO_VSOCK_TXQ, rw, 3, true);
	assert_true(head >= 0);
	(void)old;
	vdrv_kick(&f->d, VIRTIO_VSOCK_TXQ);
	assert_int_equal(vdrv_wait_used(&f->d, VIRTIO_VSOCK_TXQ, WAIT, &id, NULL), 0);
	vdrv_free_chain(&f->d, VIRTIO_VSOCK_TXQ, (uint16_t)id);
	assert_int_equal(vsock_fix_host_read(f, fd, buf, 10, WAIT), 0);
	assert_memory_equal(buf, "abcdefghij", 10);
	vdrv_release(&f->d, mark);
	vsock_gconn_init(&gc, 3001, 64, 65536);
	assert_int_equal(vsock_fix_gsend(f, &gc, VIRTIO_VSOCK_OP_RST, 0, NULL, 0), 0);
	close(fd);
	close(lfd);
	assert_int_equal(vsock_fix_counters(f).tx_malformed, 0);
}

/* ---- chains ---- */

static void test_bad_tx_chains(void **state)
{
	struct vsock_fix *f = *state;
	struct vd_buf b = {VSOCK_FIX_RAM - 16, 64, false}; /* runs off the end of RAM */

	assert_int_equal(vsock_fix_send_raw(f, &b, 1), 0);
	b.gpa = ~0ULL - 8;
	assert_int_equal(vsock_fix_send_raw(f, &b, 1), 0);
	assert_int_equal(vsock_fix_counters(f).tx_queue_event_fails, 2);
	assert_false(vdrv_needs_reset(&f->d));
	expect_nothing(f);
	still_works(f);
}

static void test_bad_rx_buffers(void **state)
{
	struct vsock_fix *f = *state;
	struct virtio_vsock_hdr h;
	uint32_t sizes[3] = {20, VSOCK_HDR_SIZE, 64};

	for (int i = 0; i < 3; i++) {
		uint64_t gpa = vdrv_alloc(&f->d, f->rx_len + 64, 64);
		/* too small, header only, device-readable */
		struct vd_buf b = {gpa, sizes[i], i != 2};
		int head = vdrv_add_chain(&f->d, VIRTIO_VSOCK_RXQ, &b, 1, false);

		assert_true(head >= 0);
		f->rx_gpa[head] = gpa;
	}
	assert_int_equal(vsock_fix_post_rx(f, 4), 0);
	send_hdr(f, CID, HOST, 4001, 9999, VIRTIO_VSOCK_OP_RW, 1, 0, NULL, 0); /* -> RST */
	for (int i = 0; i < 3; i++)
		assert_int_equal(vsock_fix_recv(f, &h, NULL, 0, NULL, WAIT), -EBADMSG);
	expect_pkt(f, VIRTIO_VSOCK_OP_RST, 4001);
	assert_int_equal(vsock_fix_counters(f).rx_queue_event_fails, 3);
	expect_nothing(f);
	still_works(f);
}

/* An unusable rx chain between good ones while one host read fills
 * several buffers: it comes back empty, the data flows around it intact. */
static void test_bad_rx_buffer_mid_batch(void **state)
{
	struct vsock_fix *f = *state;
	static uint8_t data[65536], buf[4096];
	struct virtio_vsock_hdr h;
	struct vsock_gconn gc;
	uint32_t len, got = 0;
	unsigned bad = 0;
	int fd;

	assert_int_equal(vsock_fix_post_rx(f, 8), 0);
	fd = vsock_fix_open_from_host(f, 5200, 1u << 20, &gc);
	assert_true(fd >= 0);
	uint64_t gpa = vdrv_alloc(&f->d, f->rx_len + 64, 64);
	struct vd_buf b = {gpa, 16, true};
	int head = vdrv_add_chain(&f->d, VIRTIO_VSOCK_RXQ, &b, 1, false);
	assert_true(head >= 0);
	f->rx_gpa[head] = gpa;
	assert_int_equal(vsock_fix_post_rx(f, 3), 0);
	vdrv_pattern(data, 0, sizeof(data), 5);
	assert_int_equal(write(fd, data, sizeof(data)), (ssize_t)sizeof(data));
	while (got < sizeof(data)) {
		int r = vsock_fix_recv(f, &h, buf, sizeof(buf), &len, WAIT);

		if (r == -EBADMSG) {
			bad++;
			continue;
		}
		assert_int_equal(r, 0);
		assert_int_equal(le16toh(h.op), VIRTIO_VSOCK_OP_RW);
		assert_memory_equal(buf, data + got, len);
		got += len;
	}
	assert_int_equal(bad, 1);
	assert_int_equal(vsock_fix_counters(f).rx_queue_event_fails, 1);
	assert_int_equal(vsock_fix_gsend(f, &gc, VIRTIO_VSOCK_OP_RST, 0, NULL, 0), 0);
	close(fd);
}

static void test_bad_event_buffer(void **state)
{
	struct vsock_fix *f = calloc(1, sizeof(*f));
	uint64_t gpa;
	uint32_t id, len;

	(void)state;
	assert_non_null(f);
	assert_int_equal(vsock_fix_init(f, 0, VSOCK_FIX_RX_DEFAULT, 0, false), 0);
	assert_int_equal(vdrv_setup(&f->d, VSOCK_FIX_ALL_FEATURES, VIRTIO_VSOCK_NUM_QUEUES,
				    VIRTIO_VSOCK_QUEUE_SIZE),
			 0);
	gpa = vdrv_alloc(&f->d, 16, 8);
	struct vd_buf small = {gpa, 2, true}, good = {gpa + 8, 4, true};
	assert_true(vdrv_add_chain(&f->d, VIRTIO_VSOCK_EVQ, &small, 1, false) >= 0);
	assert_true(vdrv_add_chain(&f->d, VIRTIO_VSOCK_EVQ, &good, 1, false) >= 0);
	vdrv_kick(&f->d, VIRTIO_VSOCK_EVQ);
	virtio_vsock_transport_reset(f->vs);
	assert_int_equal(vdrv_wait_used(&f->d, VIRTIO_VSOCK_EVQ, WAIT, &id, &len), 0);
	assert_int_equal(len, 0);
	assert_int_equal(vdrv_wait_used(&f->d, VIRTIO_VSOCK_EVQ, WAIT, &id, &len), 0);
	assert_int_equal(len, 4);
	struct vsock_counters c = vsock_fix_counters(f);
	assert_int_equal(c.ev_queue_event_fails, 1);
	assert_int_equal(c.ev_queue_events, 1);
	vsock_fix_fini(f);
	free(f);
}

/* ---- protocol violations ---- */

static void test_protocol_violations(void **state)
{
	struct vsock_fix *f = *state;
	struct virtio_vsock_hdr h;
	struct vsock_gconn gc;
	int lfd, fd;

	/* data before RESPONSE on a host-initiated connection */
	fd = vsock_fix_host_connect_port(f, 5100);
	assert_true(fd >= 0);
	assert_int_equal(vsock_fix_recv(f, &h, NULL, 0, NULL, WAIT), 0);
	assert_int_equal(le16toh(h.op), VIRTIO_VSOCK_OP_REQUEST);
	vsock_gconn_init(&gc, 5100, le32toh(h.src_port), 65536);
	assert_int_equal(vsock_fix_gsend(f, &gc, VIRTIO_VSOCK_OP_RW, 0, "early", 5), 0);
	expect_pkt(f, VIRTIO_VSOCK_OP_RST, 5100);
	assert_int_equal(vsock_fix_host_wait_eof(f, fd, WAIT), 0); /* no "OK", no data */
	close(fd);
	/* RESPONSE on a guest-initiated connection */
	fd = vsock_fix_open_from_guest(f, 5101, 70, 65536, &gc, &lfd);
	assert_true(fd >= 0);
	assert_int_equal(vsock_fix_gsend(f, &gc, VIRTIO_VSOCK_OP_RESPONSE, 0, NULL, 0), 0);
	expect_pkt(f, VIRTIO_VSOCK_OP_RST, 5101);
	assert_int_equal(vsock_fix_host_wait_eof(f, fd, WAIT), 0);
	close(fd);
	close(lfd);
	/* a second REQUEST on a live connection */
	fd = vsock_fix_open_from_guest(f, 5102, 71, 65536, &gc, &lfd);
	assert_true(fd >= 0);
	assert_int_equal(vsock_fix_gsend(f, &gc, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0), 0);
	expect_pkt(f, VIRTIO_VSOCK_OP_RST, 5102);
	assert_int_equal(vsock_fix_host_wait_eof(f, fd, WAIT), 0);
	close(fd);
	close(lfd);
	assert_int_equal(vsock_fix_counters(f).conns_killed, 3);
	assert_int_equal(vsock_uds_conn_count(&f->vs->uds), 0);
	expect_nothing(f);
	still_works(f);
}

/* ---- limits ---- */

/* 1100 REQUESTs: 1024 connections, the rest RST; a host client finds the
 * table full; everything goes away on the guest's RSTs. */
static void test_request_flood(void **state)
{
	struct vsock_fix *f = *state;
	const unsigned n = VSOCK_UDS_MAX_CONNS + 76;
	unsigned responses = 0, rsts = 0;
	struct virtio_vsock_hdr h;
	int lfd = vsock_fix_listen(f, 80, 4096), fd;

	assert_true(lfd >= 0);
	for (unsigned i = 0; i < n; i++)
		send_hdr(f, CID, HOST, 10000 + i, 80, VIRTIO_VSOCK_OP_REQUEST, 1, 0, NULL, 0);
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(vsock_fix_recv(f, &h, NULL, 0, NULL, WAIT), 0);
		uint32_t port = le32toh(h.dst_port);
		if (le16toh(h.op) == VIRTIO_VSOCK_OP_RESPONSE) {
			assert_true(port < 10000 + VSOCK_UDS_MAX_CONNS);
			responses++;
		} else {
			assert_int_equal(le16toh(h.op), VIRTIO_VSOCK_OP_RST);
			assert_true(port >= 10000 + VSOCK_UDS_MAX_CONNS);
			rsts++;
		}
	}
	assert_int_equal(responses, VSOCK_UDS_MAX_CONNS);
	assert_int_equal(rsts, 76);
	assert_int_equal(vsock_uds_conn_count(&f->vs->uds), VSOCK_UDS_MAX_CONNS);
	assert_int_equal(vsock_fix_counters(f).conns_refused, 76);
	/* full for host clients too */
	fd = vsock_fix_host_connect_port(f, 5000);
	assert_true(fd >= 0);
	assert_int_equal(vsock_fix_host_wait_eof(f, fd, WAIT), 0);
	close(fd);
	assert_int_equal(vsock_fix_counters(f).host_connect_fails, 1);
	expect_nothing(f);
	for (unsigned i = 0; i < VSOCK_UDS_MAX_CONNS; i++)
		send_hdr(f, CID, HOST, 10000 + i, 80, VIRTIO_VSOCK_OP_RST, 1, 0, NULL, 0);
	assert_int_equal(vsock_uds_conn_count(&f->vs->uds), 0);
	expect_nothing(f);
	close(lfd);
	still_works(f);
}

/* RSTs pile up while the guest gives no rx buffers: ember stops taking tx
 * packets once its RST queue is full, and resumes when rx drains it. */
static void test_rst_backpressure(void **state)
{
	struct vsock_fix *f = *state;
	const unsigned n = 200, rx = 64;
	uint64_t mark = vdrv_mark(&f->d);
	unsigned done;

	for (unsigned i = 0; i < n; i++) {
		struct virtio_vsock_hdr h;

		vsock_fix_hdr(&h, CID, HOST, 20000 + i, 9998, VIRTIO_VSOCK_OP_REQUEST, 0, 0, 65536,
			      0);
		assert_true(vsock_fix_post_tx(f, &h) >= 0);
	}
	done = vsock_fix_reap_tx(f);
	assert_int_equal(done, rx + VSOCK_UDS_RSTQ_SIZE);
	assert_true(vsock_uds_tx_blocked(&f->vs->uds));
	assert_int_equal(vsock_fix_reap_tx(f), 0); /* stays put */
	for (unsigned i = 0; i < n; i++) {
		expect_pkt(f, VIRTIO_VSOCK_OP_RST, 20000 + i);
		done += vsock_fix_reap_tx(f);
	}
	assert_int_equal(done, n);
	vdrv_release(&f->d, mark);
	assert_int_equal(vsock_fix_counters(f).conns_refused, n);
	expect_nothing(f);
	still_works(f);
}

/* ---- host clients misbehaving ---- */

static void test_host_garbage(void **state)
{
	struct vsock_fix *f = *state;
	static const char *const bad[] = {
	    "HELLO\n",
	    "CONNECT\n",
	    "CONNECT \n",
	    "CONNECT abc\n",
	    "CONNECT -1\n",
	    "CONNECT 4294967296\n",
	    "connect 5\n",
	    "CONNECT 5 \n",
	    "CONNECT  5\n",
	    "CONNECT 5\r\n",
	    "CONNECT 0x10\n",
	    "\n",
	    "CONNECT 99999999999999\n",
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	};
	struct virtio_vsock_hdr h;
	struct vsock_gconn gc;
	char line[32], buf[8];
	uint32_t len;
	int fd;

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fd = vsock_fix_host_connect(f);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, bad[i], strlen(bad[i])), (ssize_t)strlen(bad[i]));
		assert_int_equal(vsock_fix_host_wait_eof(f, fd, WAIT), 0);
		close(fd);
	}
	assert_int_equal(vsock_fix_counters(f).host_connect_fails, sizeof(bad) / sizeof(bad[0]));
	/* leaving before a line is not a failure */
	fd = vsock_fix_host_connect(f);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "CONN", 4), 4);
	vdrv_poll(&f->d);
	close(fd);
	vdrv_poll(&f->d);
	expect_nothing(f);
	assert_int_equal(vsock_uds_conn_count(&f->vs->uds), 0);
	/* a line in pieces, data right behind it */
	fd = vsock_fix_host_connect(f);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "CONN", 4), 4);
	vdrv_poll(&f->d);
	assert_int_equal(write(fd, "ECT 77\nearly", 12), 12);
	assert_int_equal(vsock_fix_recv(f, &h, NULL, 0, NULL, WAIT), 0);
	assert_int_equal(le16toh(h.op), VIRTIO_VSOCK_OP_REQUEST);
	assert_int_equal(le32toh(h.dst_port), 77);
	vsock_gconn_init(&gc, 77, le32toh(h.src_port), 65536);
	assert_int_equal(vsock_fix_gsend(f, &gc, VIRTIO_VSOCK_OP_RESPONSE, 0, NULL, 0), 0);
	assert_true(vsock_fix_host_line(f, fd, line, sizeof(line), WAIT) > 0);
	assert_int_equal(strncmp(line, "OK ", 3), 0);
	assert_int_equal(vsock_fix_recv(f, &h, buf, sizeof(buf), &len, WAIT), 0);
	assert_int_equal(le16toh(h.op), VIRTIO_VSOCK_OP_RW);
	assert_int_equal(len, 5);
	assert_memory_equal(buf, "early", 5);
	assert_int_equal(vsock_fix_gsend(f, &gc, VIRTIO_VSOCK_OP_RST, 0, NULL, 0), 0);
	assert_int_equal(vsock_fix_host_wait_eof(f, fd, WAIT), 0);
	close(fd);
	still_works(f);
}

/* 64 clients that never send CONNECT fill the handshake table: the 65th is
 * closed at once; after VSOCK_UDS_HANDSHAKE_TIMEOUT_MS all are closed. */
static void test_handshake_limit_and_timeout(void **state)
{
	struct vsock_fix *f = *state;
	int fds[VSOCK_UDS_MAX_HANDSHAKES], fd;

	for (int i = 0; i < VSOCK_UDS_MAX_HANDSHAKES; i++) {
		fds[i] = vsock_fix_host_connect(f);
		assert_true(fds[i] >= 0);
	}
	vdrv_poll(&f->d);
	fd = vsock_fix_host_connect(f);
	assert_true(fd >= 0);
	assert_int_equal(vsock_fix_host_wait_eof(f, fd, WAIT), 0);
	close(fd);
	assert_int_equal(vsock_fix_counters(f).host_connect_fails, 1);
	for (int i = 0; i < VSOCK_UDS_MAX_HANDSHAKES; i++) {
		assert_int_equal(
		    vsock_fix_host_wait_eof(f, fds[i], VSOCK_UDS_HANDSHAKE_TIMEOUT_MS + WAIT), 0);
		close(fds[i]);
	}
	assert_int_equal(vsock_fix_counters(f).host_connect_fails, 1 + VSOCK_UDS_MAX_HANDSHAKES);
	still_works(f);
}

/* More unanswered REQUESTs than kill-queue slots: the overflow is found by
 * a resync and every one is reset on time. */
static void test_killq_overflow(void **state)
{
	struct vsock_fix *f = *state;
	const unsigned n = VSOCK_UDS_KILLQ_SIZE + 10;
	int fds[VSOCK_UDS_KILLQ_SIZE + 10];
	struct virtio_vsock_hdr h;
	unsigned rsts = 0;

	for (unsigned i = 0; i < n; i++) {
		fds[i] = vsock_fix_host_connect_port(f, 7000 + i);
		assert_true(fds[i] >= 0);
	}
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(vsock_fix_recv(f, &h, NULL, 0, NULL, WAIT), 0);
		assert_int_equal(le16toh(h.op), VIRTIO_VSOCK_OP_REQUEST);
	}
	while (rsts < n) {
		assert_int_equal(vsock_fix_recv(f, &h, NULL, 0, NULL, WAIT), 0);
		assert_int_equal(le16toh(h.op), VIRTIO_VSOCK_OP_RST);
		rsts++;
	}
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(vsock_fix_host_wait_eof(f, fds[i], WAIT), 0);
		close(fds[i]);
	}
	struct vsock_counters c = vsock_fix_counters(f);
	assert_true(c.killq_resync >= 1);
	assert_int_equal(c.conns_killed, n);
	assert_int_equal(vsock_uds_conn_count(&f->vs->uds), 0);
}

/* ---- random packets ---- */

static uint64_t rnd_state = 0x9e3779b97f4a7c15ULL;

static uint32_t rnd(uint32_t n)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return (uint32_t)(rnd_state % n);
}

static void test_random_packets(void **state)
{
	struct vsock_fix *f = *state;
	static uint8_t data[VSOCK_MAX_PKT_BUF + 100];
	static const uint64_t srcs[] = {CID, CID, CID, CID, 4, HOST};
	static const uint64_t dsts[] = {HOST, HOST, HOST, HOST, CID, 1};
	int lfd = vsock_fix_listen(f, 90, 1024), hfd[4];
	struct virtio_vsock_hdr h;

	assert_true(lfd >= 0);
	for (int i = 0; i < 4; i++) /* host clients for guest ports 1..4 */
		hfd[i] = vsock_fix_host_connect_port(f, 1 + (uint32_t)i);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)rnd(256);
	for (int i = 0; i < 3000; i++) {
		uint32_t dlen = rnd(4) ? rnd(2000) : rnd(sizeof(data));
		uint32_t len = rnd(3) ? dlen : (rnd(2) ? rnd(70000) : UINT32_MAX - rnd(10));

		vsock_fix_hdr(&h, srcs[rnd(6)], dsts[rnd(6)], 1 + rnd(4),
			      rnd(2) ? 90 : VSOCK_UDS_LOCAL_PORT_BASE + rnd(4), (uint16_t)rnd(9),
			      len, rnd(4), rnd(2) ? 65536 : rnd(1u << 20), rnd(1u << 20));
		h.type = htole16(rnd(8) ? 1 : (uint16_t)rnd(4));
		assert_int_equal(vsock_fix_send(f, &h, data, dlen, rnd(2)), 0);
		while (vsock_fix_try_recv(f, &h, NULL, 0, NULL) != -EAGAIN)
			;
		if (rnd(50) == 0) {
			if (!no_pending_conn(lfd))
				close(accept4(lfd, NULL, NULL, SOCK_CLOEXEC));
		}
	}
	assert_false(vdrv_needs_reset(&f->d));
	for (int i = 0; i < 4; i++)
		if (hfd[i] >= 0)
			close(hfd[i]);
	close(lfd);
	vdrv_poll(&f->d);
	while (vsock_fix_try_recv(f, &h, NULL, 0, NULL) != -EAGAIN)
		;
	still_works(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_short_header, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wrong_cids, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_type_and_op, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_lengths, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_split_headers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_tx_chains, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_rx_buffers, setup_norx, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_rx_buffer_mid_batch, setup_norx, teardown),
	    cmocka_unit_test(test_bad_event_buffer),
	    cmocka_unit_test_setup_teardown(test_protocol_violations, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_request_flood, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rst_backpressure, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_host_garbage, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_handshake_limit_and_timeout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_killq_overflow, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_random_packets, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN); /* a failed test may leave a host thread writing */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
