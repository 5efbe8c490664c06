/* virtio-vsock (tg.vsock=N devices expected): the first device runs a small
 * polled echo server for tests/e2e/test_virtio_vsock.sh.
 *   1. handshake, config guest_cid (must equal tg.vsock_cid if given), rx
 *      buffers (header + 4 KiB, one descriptor each, like Linux) and event
 *      buffers posted;
 *   2. "ok vsock0.listen" on the console: the host may connect now;
 *   3. echo on port tg.vsock_port (default 5000): REQUEST -> RESPONSE, every
 *      RW byte goes back, within ember's credit; the guest's own window is
 *      its echo buffer (ECHO_BUF), so ember must never send more than fits
 *      (a violation is a FAIL). REQUESTs for other ports, or while busy, get
 *      RST. When the host has sent SHUTDOWN and all is echoed, the guest
 *      sends SHUTDOWN(both) and waits for ember's RST. tg.vsock_conns
 *      connections (default 1) are served, each within VSOCK_IDLE_S seconds
 *      of silence (CMOS RTC);
 *   4. with tg.vsock_hostport=H: a guest-initiated connection to host port H
 *      (ember connects to <uds_path>_H) sending "ember-tg-vsock-hello\n",
 *      closed with SHUTDOWN(both) -> RST; and one to H+1, where nobody
 *      listens: RST.
 *   With tg.vsock_stdin=P instead of 2-4: a one-shot run's stdin as its
 *   init reads it (oneshot_abi.h): connect to host port P, read until the
 *   host's SHUTDOWN(SEND), handing credit back as it reads; "vsock0.stdin"
 *   gives the byte count and their FNV-1a, then the guest writes 0 to the
 *   one-shot exit register (ember exits 0).
 * Results: vsock0.init, vsock0.listen, vsock0.echo, vsock0.connect,
 * vsock0.refused, vsock0.stdin, vsock0.status, vsock.count. */
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_vsock.h>

#include "tg.h"
#include "virtio.h"
#include "x86.h"

#define HDR ((uint32_t)sizeof(struct virtio_vsock_hdr))
#define RX_BUFS 8
#define RX_DATA 4096
#define RX_BUF_LEN (HDR + RX_DATA)
#define ECHO_BUF 65536u /* also the window the guest advertises */
#define VSOCK_IDLE_S 30
#define REPLY_WAIT_S 5
#define HOST_CID 2
#define GUEST_PORT 1234 /* source port of guest-initiated connections */
#define ONESHOT_EXIT_GPA 0xcffff000UL

static uint8_t vq_mem[3][4096] __attribute__((aligned(4096), section(".noinit")));
static uint8_t rx_bufs[RX_BUFS][RX_BUF_LEN] __attribute__((aligned(64), section(".noinit")));
static uint8_t tx_buf[HDR + RX_DATA] __attribute__((aligned(64), section(".noinit")));
static uint8_t echo_buf[ECHO_BUF] __attribute__((aligned(64), section(".noinit")));
static uint32_t ev_bufs[4];

struct vconn {
	bool open, closing, peer_shut_send, peer_shut_rcv;
	uint32_t local_port, peer_port;
	uint32_t fwd_cnt; /* bytes that left echo_buf (what the guest consumed) */
	uint32_t rx_cnt;  /* bytes received */
	uint32_t tx_cnt;  /* bytes sent */
	uint32_t peer_buf_alloc, peer_fwd_cnt;
	uint32_t head, len; /* echo_buf ring */
	bool credit_requested;
};

struct vs {
	struct tg_vdev d;
	struct tg_vq rx, tx, ev;
	uint64_t cid;
	struct vconn c;
	bool violation;
	unsigned bad_pkts;
};

static void barrier(void)
{
	__asm__ volatile("" ::: "memory");
}

static uint8_t rtc_seconds(void)
{
	outb(0x70, 0x00);
	return inb(0x71);
}

static void ack_irq(struct vs *v)
{
	uint32_t isr = tg_vio_read(&v->d, VIRTIO_MMIO_INTERRUPT_STATUS);

	if (isr)
		tg_vio_write(&v->d, VIRTIO_MMIO_INTERRUPT_ACK, isr);
}

/* ---- queues ---- */

static void rx_post(struct vs *v, uint16_t id)
{
	struct tg_vq *q = &v->rx;
	uint16_t idx = q->avail->idx;

	q->desc[id].addr = (uint64_t)rx_bufs[id];
	q->desc[id].len = RX_BUF_LEN;
	q->desc[id].flags = VRING_DESC_F_WRITE;
	q->desc[id].next = 0;
	q->avail->ring[idx % q->size] = id;
	barrier();
	q->avail->idx = (uint16_t)(idx + 1);
	barrier();
}

static void setup_buffers(struct vs *v)
{
	for (uint16_t i = 0; i < RX_BUFS; i++)
		rx_post(v, i);
	tg_vio_write(&v->d, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	for (uint16_t i = 0; i < 4; i++) {
		v->ev.desc[i].addr = (uint64_t)&ev_bufs[i];
		v->ev.desc[i].len = sizeof(ev_bufs[i]);
		v->ev.desc[i].flags = VRING_DESC_F_WRITE;
		v->ev.desc[i].next = 0;
		v->ev.avail->ring[i] = i;
	}
	barrier();
	v->ev.avail->idx = 4;
	barrier();
	tg_vio_write(&v->d, VIRTIO_MMIO_QUEUE_NOTIFY, 2);
}

/* Next rx packet within wait_s seconds: the buffer id (repost it with
 * rx_post + kick when done), or -1. */
static int rx_next(struct vs *v, struct virtio_vsock_hdr *h, uint32_t *plen, unsigned wait_s)
{
	struct tg_vq *q = &v->rx;
	uint8_t last = rtc_seconds();
	unsigned ticks = 0;

	for (unsigned long i = 0;; i++) {
		if (*(volatile uint16_t *)&q->used->idx != q->last_used) {
			barrier();
			struct vring_used_elem e = q->used->ring[q->last_used % q->size];
			q->last_used++;
			ack_irq(v);
			if (e.id >= RX_BUFS || e.len < HDR || e.len > RX_BUF_LEN) {
				v->bad_pkts++;
				rx_post(v, (uint16_t)(e.id < RX_BUFS ? e.id : 0));
				continue;
			}
			memcpy(h, rx_bufs[e.id], HDR);
			*plen = e.len - HDR;
			if (*plen != h->len || h->src_cid != HOST_CID || h->dst_cid != v->cid ||
			    h->type != VIRTIO_VSOCK_TYPE_STREAM) {
				v->bad_pkts++;
				rx_post(v, (uint16_t)e.id);
				continue;
			}
			return (int)e.id;
		}
		cpu_pause();
		if (i % 1024 == 0) {
			uint8_t s = rtc_seconds();
			if (s != last) {
				last = s;
				if (++ticks > wait_s)
					return -1;
			}
		}
	}
}

static void rx_done(struct vs *v, int id)
{
	rx_post(v, (uint16_t)id);
	tg_vio_write(&v->d, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
}

static bool send_pkt(struct vs *v, const struct vconn *c, uint32_t src, uint32_t dst, uint16_t op,
		     uint32_t flags, const void *data, uint32_t len)
{
	struct virtio_vsock_hdr *h = (void *)tx_buf;
	struct tg_vbuf b = {tx_buf, HDR + len, false};
	uint32_t wr;

	memset(h, 0, HDR);
	h->src_cid = v->cid;
	h->dst_cid = HOST_CID;
	h->src_port = src;
	h->dst_port = dst;
	h->len = len;
	h->type = VIRTIO_VSOCK_TYPE_STREAM;
	h->op = op;
	h->flags = flags;
	h->buf_alloc = ECHO_BUF;
	h->fwd_cnt = c ? c->fwd_cnt : 0;
	if (len)
		memcpy(tx_buf + HDR, data, len);
	return tg_vq_run(&v->d, &v->tx, &b, 1, false, &wr);
}

static bool csend(struct vs *v, struct vconn *c, uint16_t op, uint32_t flags, const void *data,
		  uint32_t len)
{
	return send_pkt(v, c, c->local_port, c->peer_port, op, flags, data, len);
}

/* ---- echo server ---- */

static uint32_t peer_credit(const struct vconn *c)
{
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;

	return in_flight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

/* Send back what the credit allows. */
static void flush_echo(struct vs *v, struct vconn *c)
{
	static uint8_t chunk[RX_DATA];

	while (c->len) {
		uint32_t n = c->len < RX_DATA ? c->len : RX_DATA, credit = peer_credit(c);

		if (n > credit)
			n = credit;
		if (n == 0) {
			if (!c->credit_requested)
				csend(v, c, VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0, NULL, 0);
			c->credit_requested = true;
			return;
		}
		for (uint32_t i = 0; i < n; i++)
			chunk[i] = echo_buf[(c->head + i) % ECHO_BUF];
		c->head = (c->head + n) % ECHO_BUF;
		c->len -= n;
		c->fwd_cnt += n;
		c->tx_cnt += n;
		if (!csend(v, c, VIRTIO_VSOCK_OP_RW, 0, chunk, n))
			return;
	}
}

/* Serve one connection to port; returns bytes echoed, or -1 on idle timeout
 * before a connection came. *refused counts RSTs for other REQUESTs. */
static long serve_one(struct vs *v, uint32_t port, unsigned *refused)
{
	struct vconn *c = &v->c;
	struct virtio_vsock_hdr h;
	uint32_t plen;
	long echoed = 0;

	memset(c, 0, sizeof(*c));
	for (;;) {
		int id = rx_next(v, &h, &plen, VSOCK_IDLE_S);
		if (id < 0)
			return c->open ? echoed : -1;
		const uint8_t *payload = rx_bufs[id] + HDR;
		bool ours = c->open && h.dst_port == c->local_port && h.src_port == c->peer_port;

		if (h.op == VIRTIO_VSOCK_OP_REQUEST && !ours) {
			if (h.dst_port == port && !c->open) {
				c->open = true;
				c->local_port = port;
				c->peer_port = h.src_port;
				c->peer_buf_alloc = h.buf_alloc;
				c->peer_fwd_cnt = h.fwd_cnt;
				csend(v, c, VIRTIO_VSOCK_OP_RESPONSE, 0, NULL, 0);
			} else {
				(*refused)++;
				send_pkt(v, NULL, h.dst_port, h.src_port, VIRTIO_VSOCK_OP_RST, 0,
					 NULL, 0);
			}
			rx_done(v, id);
			continue;
		}
		if (!ours) { /* stale packets of an old connection */
			if (h.op != VIRTIO_VSOCK_OP_RST)
				send_pkt(v, NULL, h.dst_port, h.src_port, VIRTIO_VSOCK_OP_RST, 0,
					 NULL, 0);
			rx_done(v, id);
			continue;
		}
		c->peer_buf_alloc = h.buf_alloc;
		c->peer_fwd_cnt = h.fwd_cnt;
		if (peer_credit(c))
			c->credit_requested = false;
		switch (h.op) {
		case VIRTIO_VSOCK_OP_RW:
			if (plen > ECHO_BUF - c->len) {
				v->violation = true; /* ember sent beyond our window */
				plen = ECHO_BUF - c->len;
			}
			for (uint32_t i = 0; i < plen; i++)
				echo_buf[(c->head + c->len + i) % ECHO_BUF] = payload[i];
			c->len += plen;
			c->rx_cnt += plen;
			echoed += plen;
			break;
		case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
			csend(v, c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
			break;
		case VIRTIO_VSOCK_OP_SHUTDOWN:
			c->peer_shut_send |= !!(h.flags & VIRTIO_VSOCK_SHUTDOWN_SEND);
			c->peer_shut_rcv |= !!(h.flags & VIRTIO_VSOCK_SHUTDOWN_RCV);
			break;
		case VIRTIO_VSOCK_OP_RST:
			rx_done(v, id);
			return echoed;
		default:
			break;
		}
		rx_done(v, id);
		if (c->peer_shut_rcv)
			c->len = 0; /* nobody reads the echo any more */
		flush_echo(v, c);
		if ((c->peer_shut_send || c->peer_shut_rcv) && c->len == 0 && !c->closing) {
			c->closing = true;
			csend(v, c, VIRTIO_VSOCK_OP_SHUTDOWN,
			      VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND, NULL, 0);
		}
	}
}

/* Wait for a reply on (local, peer) ports: its op, or -1. */
static int wait_reply(struct vs *v, uint32_t local, uint32_t peer)
{
	struct virtio_vsock_hdr h;
	uint32_t plen;

	for (;;) {
		int id = rx_next(v, &h, &plen, REPLY_WAIT_S);
		if (id < 0)
			return -1;
		rx_done(v, id);
		if (h.dst_port == local && h.src_port == peer &&
		    h.op != VIRTIO_VSOCK_OP_CREDIT_UPDATE)
			return h.op;
	}
}

static void guest_connect(struct vs *v, uint32_t hport)
{
	static const char hello[] = "ember-tg-vsock-hello\n";
	struct vconn *c = &v->c;
	int op, op2 = -1, op3;

	memset(c, 0, sizeof(*c));
	c->local_port = GUEST_PORT;
	c->peer_port = hport;
	csend(v, c, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0);
	op = wait_reply(v, GUEST_PORT, hport);
	if (op == VIRTIO_VSOCK_OP_RESPONSE) {
		csend(v, c, VIRTIO_VSOCK_OP_RW, 0, hello, sizeof(hello) - 1);
		csend(v, c, VIRTIO_VSOCK_OP_SHUTDOWN,
		      VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND, NULL, 0);
		op2 = wait_reply(v, GUEST_PORT, hport);
	}
	tg_expect(op == VIRTIO_VSOCK_OP_RESPONSE && op2 == VIRTIO_VSOCK_OP_RST, "vsock0.connect",
		  "guest port %u -> host port %u: reply op %d, sent %u bytes, close -> op %d",
		  GUEST_PORT, hport, op, (unsigned)sizeof(hello) - 1, op2);

	c->local_port = GUEST_PORT + 1;
	c->peer_port = hport + 1;
	csend(v, c, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0);
	op3 = wait_reply(v, GUEST_PORT + 1, hport + 1);
	tg_expect(op3 == VIRTIO_VSOCK_OP_RST, "vsock0.refused",
		  "guest port %u -> host port %u (no listener): reply op %d (RST=3)",
		  GUEST_PORT + 1, hport + 1, op3);
}

/* A one-shot run's stdin: everything the host sends on a connection to
 * host port hport, up to its SHUTDOWN(SEND). */
static void stdin_read(struct vs *v, uint32_t hport)
{
	struct vconn *c = &v->c;
	struct virtio_vsock_hdr h;
	uint32_t plen, fnv = 2166136261u, credited = 0;
	int op, id = -1;
	bool eof = false;

	memset(c, 0, sizeof(*c));
	c->local_port = GUEST_PORT;
	c->peer_port = hport;
	csend(v, c, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0);
	op = wait_reply(v, GUEST_PORT, hport);
	while (op == VIRTIO_VSOCK_OP_RESPONSE && !eof) {
		id = rx_next(v, &h, &plen, VSOCK_IDLE_S);
		if (id < 0)
			break;
		if (h.dst_port != GUEST_PORT || h.src_port != hport) {
			rx_done(v, id);
			continue;
		}
		if (h.op == VIRTIO_VSOCK_OP_RW) {
			const uint8_t *p = rx_bufs[id] + HDR;

			if (plen > ECHO_BUF - (c->rx_cnt - c->fwd_cnt))
				v->violation = true; /* beyond the window we gave */
			for (uint32_t i = 0; i < plen; i++)
				fnv = (fnv ^ p[i]) * 16777619u;
			c->rx_cnt += plen;
			c->fwd_cnt += plen; /* read at once: the room is back */
		} else if (h.op == VIRTIO_VSOCK_OP_SHUTDOWN) {
			eof = !!(h.flags & VIRTIO_VSOCK_SHUTDOWN_SEND);
		} else if (h.op == VIRTIO_VSOCK_OP_RST) {
			rx_done(v, id);
			break;
		}
		rx_done(v, id);
		if (h.op == VIRTIO_VSOCK_OP_CREDIT_REQUEST ||
		    c->fwd_cnt - credited >= ECHO_BUF / 4) {
			csend(v, c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
			credited = c->fwd_cnt;
		}
	}
	tg_expect(op == VIRTIO_VSOCK_OP_RESPONSE && eof && !v->violation, "vsock0.stdin",
		  "host port %u: reply op %d, bytes=%u fnv=%08x, end %s, window respected: %s",
		  hport, op, c->rx_cnt, fnv, eof ? "seen" : "NOT seen",
		  v->violation ? "NO" : "yes");
	if (eof)
		csend(v, c, VIRTIO_VSOCK_OP_SHUTDOWN,
		      VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND, NULL, 0);
	/* the one-shot exit register (LAYOUT_ONESHOT_EXIT, include/ember/layout.h):
	 * ember ends the run with status 0 */
	*(volatile uint8_t *)ONESHOT_EXIT_GPA = 0;
}

static uint64_t param(const char *key, uint64_t dflt, bool *given)
{
	size_t len;
	uint64_t val;
	const char *s = tg_cmdline_get(key, &len);

	if (given)
		*given = s != NULL;
	if (!s)
		return dflt;
	if (!tg_parse_u64(s, len, &val)) {
		tg_fail("vsock.params", "malformed %s", key);
		return dflt;
	}
	return val;
}

static void test_vsock(struct tg_vdev *d)
{
	static struct vs v; /* big enough to keep off the stack */
	const char *why = "";
	bool cid_given, hp_given, stdin_given;
	uint64_t want_cid = param("tg.vsock_cid", 0, &cid_given);
	uint32_t port = (uint32_t)param("tg.vsock_port", 5000, NULL);
	uint64_t nconns = param("tg.vsock_conns", 1, NULL);
	uint32_t hport = (uint32_t)param("tg.vsock_hostport", 0, &hp_given);
	uint32_t sport = (uint32_t)param("tg.vsock_stdin", 0, &stdin_given);
	unsigned refused = 0, served = 0;
	long total = 0;

	memset(&v, 0, sizeof(v));
	v.d = *d;
	bool ok = tg_virtio_negotiate(&v.d, 0, &why) &&
		  tg_vq_init(&v.d, &v.rx, 0, vq_mem[0], &why) &&
		  tg_vq_init(&v.d, &v.tx, 1, vq_mem[1], &why) &&
		  tg_vq_init(&v.d, &v.ev, 2, vq_mem[2], &why);
	if (ok)
		tg_virtio_driver_ok(&v.d);
	v.cid = tg_vio_read(&v.d, 0x100) | (uint64_t)tg_vio_read(&v.d, 0x104) << 32;
	ok = ok && v.rx.size >= RX_BUFS && v.ev.size >= 4 && v.cid >= 3 &&
	     (!cid_given || v.cid == want_cid) &&
	     !(tg_virtio_status(&v.d) & VIRTIO_CONFIG_S_NEEDS_RESET);
	if (!tg_expect(ok, "vsock0.init",
		       "features offered=%#lx negotiated=%#lx guest_cid=%lu (tg.vsock_cid=%lu) "
		       "queues=%u/%u/%u %s",
		       v.d.dev_features, v.d.features, v.cid, want_cid, v.rx.size, v.tx.size,
		       v.ev.size, why))
		return;
	setup_buffers(&v);
	if (stdin_given) {
		stdin_read(&v, sport);
		return;
	}
	tg_ok("vsock0.listen", "echo on port %u, cid %lu, %lu connection(s)", port, v.cid, nconns);
	while (served < nconns) {
		long n = serve_one(&v, port, &refused);
		if (n < 0)
			break;
		total += n;
		served++;
	}
	tg_expect(served == nconns && total > 0 && !v.violation && v.bad_pkts == 0, "vsock0.echo",
		  "%u of %lu connection(s) on port %u, %ld bytes echoed, %u other REQUEST(s) "
		  "refused, window respected: %s, bad packets %u",
		  served, nconns, port, total, refused, v.violation ? "NO" : "yes", v.bad_pkts);
	if (hp_given)
		guest_connect(&v, hport);
	uint32_t s = tg_virtio_status(&v.d);
	tg_expect(s == 0xf, "vsock0.status",
		  "device status=%#x (ACK|DRIVER|FEATURES_OK|DRIVER_OK), events %u", s,
		  v.ev.used->idx);
	tg_virtio_reset(&v.d);
}

static void check_virtio_vsock(void)
{
	struct tg_vslot slots[TG_VIRTIO_MAX];
	int n = tg_virtio_slots(slots, TG_VIRTIO_MAX), nvs = 0;
	bool given;
	uint64_t want = param("tg.vsock", 0, &given);

	for (int i = 0; i < n && i < TG_VIRTIO_MAX; i++) {
		struct tg_vdev d;
		if (tg_virtio_identify(&d, &slots[i]) && d.device_id == 19) {
			if (nvs == 0 && given && want)
				test_vsock(&d);
			nvs++;
		}
	}
	if (given || nvs)
		tg_expect((uint64_t)nvs == want, "vsock.count",
			  "%d virtio-vsock devices, tg.vsock=%lu", nvs, want);
}
TG_CHECK(730, check_virtio_vsock);
