/* virtio-vsock throughput (MB/s, 64 KiB writes) through the guest-less
 * harness and a real Unix socket, next to a plain Unix socketpair in the
 * same run.
 *
 *  - host -> guest (rx): a host thread write()s 64 KiB chunks into a client
 *    connected through uds_path ("CONNECT"/"OK"); the device, woken by
 *    EPOLLIN, readv()s straight into guest rx buffers (64 KiB, or Linux's
 *    4 KiB) within the guest's credit; the driver reaps each buffer, posts it
 *    again and returns credit (CREDIT_UPDATE every half window).
 *  - guest -> host (tx): the driver posts RW packets of 64 KiB (up to
 *    TX_DEPTH in flight, within ember's credit) and kicks when asked; the
 *    device sendmsg()s them to a connection it opened to "<uds_path>_<port>"
 *    and a host thread read()s 64 KiB at a time.
 *  - baseline: the same writer/reader pair on a socketpair(AF_UNIX).
 * The driver and the device share the main thread (as a vCPU and the VMM
 * thread would share two cores); the host peer runs on its own thread.
 *
 * Usage: vsock_bench [-m MiB] — MiB per round (default 256), best of ROUNDS. */
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "device/vsock_fix.h"
#include "ember/log.h"

#define CHUNK 65536u
#define ROUNDS 5
#define WINDOW (1u << 20) /* the guest's receive buffer */
#define TX_DEPTH 16

struct peer {
	int fd;
	size_t total, done;
	int err;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *writer(void *arg)
{
	static uint8_t buf[CHUNK];
	struct peer *p = arg;

	memset(buf, 0x5a, sizeof(buf));
	while (p->done < p->total) {
		size_t n = p->total - p->done < CHUNK ? p->total - p->done : CHUNK;
		ssize_t w = write(p->fd, buf, n);

		if (w <= 0) {
			p->err = errno ? errno : EPIPE;
			break;
		}
		p->done += (size_t)w;
	}
	return NULL;
}

static void *reader(void *arg)
{
	static uint8_t buf[CHUNK];
	struct peer *p = arg;

	while (p->done < p->total) {
		ssize_t r = read(p->fd, buf, sizeof(buf));

		if (r <= 0) {
			__atomic_store_n(&p->err, r < 0 ? errno : EPIPE, __ATOMIC_RELEASE);
			break;
		}
		__atomic_store_n(&p->done, p->done + (size_t)r, __ATOMIC_RELEASE);
	}
	return NULL;
}

/* MB/s of `total` bytes over a socketpair; rx: a thread writes and this
 * thread reads (like the rx case), else the other way round. */
static double baseline(size_t total, bool rx)
{
	struct peer p = {.total = total};
	struct peer me = {.total = total};
	pthread_t t;
	int sv[2];
	double t0, dt;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	p.fd = rx ? sv[0] : sv[1];
	me.fd = rx ? sv[1] : sv[0];
	t0 = now_s();
	pthread_create(&t, NULL, rx ? writer : reader, &p);
	if (rx)
		reader(&me);
	else
		writer(&me);
	pthread_join(t, NULL);
	dt = now_s() - t0;
	close(sv[0]);
	close(sv[1]);
	return p.err || me.err ? -1 : (double)total / dt / 1e6;
}

static int fix_up(struct vsock_fix *f, uint32_t rx_len)
{
	int r = vsock_fix_init(f, VSOCK_FIX_ALL_FEATURES, rx_len, 128, false);

	if (r < 0)
		fprintf(stderr, "vsock_bench: fixture: %s\n", strerror(-r));
	return r;
}

/* host -> guest through ember: MB/s or -1. */
static double ember_rx(size_t total, uint32_t rx_len)
{
	static struct vsock_fix f;
	struct peer p = {.total = total};
	struct vsock_gconn gc;
	struct virtio_vsock_hdr h;
	size_t got = 0;
	pthread_t t;
	double t0, dt = -1;
	uint32_t len;

	if (fix_up(&f, rx_len) < 0)
		return -1;
	p.fd = vsock_fix_open_from_host(&f, 5000, WINDOW, &gc);
	if (p.fd < 0)
		goto out;
	t0 = now_s();
	pthread_create(&t, NULL, writer, &p);
	while (got < total) {
		if (vsock_fix_recv(&f, &h, NULL, 0, &len, VDRV_WAIT_MS) < 0)
			break;
		vsock_gconn_seen(&gc, &h);
		switch (le16toh(h.op)) {
		case VIRTIO_VSOCK_OP_RW:
			got += len;
			gc.fwd_cnt += len; /* the guest application consumed it */
			if (gc.fwd_cnt - gc.last_fwd_sent < WINDOW / 2)
				break;
			/* fall through */
		case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
			vsock_fix_gsend(&f, &gc, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
			break;
		}
	}
	dt = now_s() - t0;
	pthread_join(t, NULL);
	if (got < total || p.err)
		dt = -1;
	close(p.fd);
out:
	vsock_fix_fini(&f);
	return dt > 0 ? (double)total / dt / 1e6 : -1;
}

/* guest -> host through ember: MB/s or -1. */
static double ember_tx(size_t total)
{
	static struct vsock_fix f;
	struct peer p = {.total = total};
	struct vsock_gconn gc;
	struct virtio_vsock_hdr h;
	uint64_t slot[TX_DEPTH];
	int slot_of_head[VQ_MAX_SIZE];
	unsigned free_slots[TX_DEPTH], nfree = TX_DEPTH, inflight = 0;
	size_t posted = 0;
	pthread_t t;
	double t0, dt = -1;
	int lfd = -1;

	if (fix_up(&f, VSOCK_FIX_RX_DEFAULT) < 0)
		return -1;
	for (unsigned i = 0; i < TX_DEPTH; i++) {
		slot[i] = vdrv_alloc(&f.d, VSOCK_HDR_SIZE + CHUNK, 64);
		memset(vdrv_ptr(&f.d, slot[i] + VSOCK_HDR_SIZE, CHUNK), 0x5a, CHUNK);
		free_slots[i] = i;
	}
	p.fd = vsock_fix_open_from_guest(&f, 40000, 5001, WINDOW, &gc, &lfd);
	if (p.fd < 0)
		goto out;
	t0 = now_s();
	pthread_create(&t, NULL, reader, &p);
	while (posted < total || inflight) {
		uint16_t old = f.d.q[VIRTIO_VSOCK_TXQ].avail_idx;
		uint32_t id, credit;
		bool any = false;

		while (vsock_fix_try_recv(&f, &h, NULL, 0, NULL) == 0)
			vsock_gconn_seen(&gc, &h);
		credit = vsock_gconn_credit(&gc);
		while (nfree && posted < total && credit) {
			uint32_t n = credit < CHUNK ? credit : CHUNK;
			unsigned s = free_slots[--nfree];
			struct vd_buf b;
			int head;

			if (n > total - posted)
				n = (uint32_t)(total - posted);
			vsock_fix_hdr(&h, VSOCK_FIX_CID, VMADDR_CID_HOST, gc.gport, gc.hport,
				      VIRTIO_VSOCK_OP_RW, n, 0, gc.buf_alloc, gc.fwd_cnt);
			gm_write(&f.d.gm, slot[s], &h, sizeof(h));
			b = (struct vd_buf){slot[s], VSOCK_HDR_SIZE + n, false};
			head = vdrv_add_chain(&f.d, VIRTIO_VSOCK_TXQ, &b, 1, false);
			if (head < 0)
				goto fail;
			slot_of_head[head] = (int)s;
			gc.tx_cnt += n;
			posted += n;
			credit -= n;
			inflight++;
			any = true;
		}
		if (any)
			vsock_fix_maybe_kick(&f, VIRTIO_VSOCK_TXQ, old);
		if (inflight) {
			if (vdrv_wait_used(&f.d, VIRTIO_VSOCK_TXQ, VDRV_WAIT_MS, &id, NULL) < 0)
				goto fail;
			do {
				vdrv_free_chain(&f.d, VIRTIO_VSOCK_TXQ, (uint16_t)id);
				free_slots[nfree++] = (unsigned)slot_of_head[id];
				inflight--;
			} while (vdrv_wait_used(&f.d, VIRTIO_VSOCK_TXQ, 0, &id, NULL) == 0);
		} else if (vsock_fix_recv(&f, &h, NULL, 0, NULL, VDRV_WAIT_MS) == 0) {
			vsock_gconn_seen(&gc, &h); /* out of credit: wait for an update */
		} else {
			goto fail;
		}
	}
	/* What the host socket did not take yet is flushed by the event loop. */
	while (__atomic_load_n(&p.done, __ATOMIC_ACQUIRE) < total &&
	       !__atomic_load_n(&p.err, __ATOMIC_ACQUIRE) && now_s() - t0 < 600)
		el_run_once(&f.d.el, 10);
	pthread_join(t, NULL);
	dt = p.err || p.done < total ? -1 : now_s() - t0;
	goto done;
fail:
	shutdown(p.fd, SHUT_RDWR);
	pthread_join(t, NULL);
done:
	close(p.fd);
	close(lfd);
out:
	vsock_fix_fini(&f);
	return dt > 0 ? (double)total / dt / 1e6 : -1;
}

static double best(double a, double b)
{
	return a > b ? a : b;
}

static void report(const char *what, double ember, double base)
{
	if (ember <= 0 || base <= 0) {
		printf("%-44s could not measure (ember %.0f, socketpair %.0f)\n", what, ember,
		       base);
		return;
	}
	printf("%-44s ember %7.0f MB/s   socketpair %7.0f MB/s   ratio %.2f\n", what, ember, base,
	       ember / base);
}

int main(int argc, char **argv)
{
	size_t mib = 256, total;
	double rx64 = -1, rx4 = -1, tx = -1, base_rx = -1, base_tx = -1;
	int opt;

	while ((opt = getopt(argc, argv, "m:")) != -1) {
		if (opt == 'm' && atoi(optarg) > 0) {
			mib = (size_t)atoi(optarg);
		} else {
			fprintf(stderr, "usage: vsock_bench [-m MiB]\n");
			return 2;
		}
	}
	total = mib << 20;
	log_set_level(LOG_ERROR);
	signal(SIGPIPE, SIG_IGN);
	for (int r = 0; r < ROUNDS; r++) {
		base_rx = best(base_rx, baseline(total, true));
		rx64 = best(rx64, ember_rx(total, VSOCK_HDR_SIZE + VSOCK_MAX_PKT_BUF));
		rx4 = best(rx4, ember_rx(total / 4, VSOCK_FIX_RX_DEFAULT));
		base_tx = best(base_tx, baseline(total, false));
		tx = best(tx, ember_tx(total));
	}
	printf("vsock throughput, %zu MiB per round, 64 KiB writes, best of %d rounds\n", mib,
	       ROUNDS);
	report("host->guest (rx), 64 KiB guest buffers", rx64, base_rx);
	report("host->guest (rx), 4 KiB guest buffers", rx4, base_rx);
	report("guest->host (tx), 64 KiB packets", tx, base_tx);
	return rx64 > 0 && rx4 > 0 && tx > 0 && base_rx > 0 && base_tx > 0 ? 0 : 1;
}
