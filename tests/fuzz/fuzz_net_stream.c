/* libFuzzer: virtio-net on the stream backend (passt's length-prefixed
 * frames) through the MMIO transport and its queues (fuzz_virtio.h), with
 * a hostile peer on the other end of a socketpair. The host op writes raw
 * bytes (any length prefix, partial frames), whole well-formed frames, reads
 * what the guest sent (and traps if the device ever breaks the framing: a
 * prefix outside 14..VIRTIO_NET_MAX_FRAME), or closes the peer (mid-frame or
 * not). Needs no privileges. */
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ember/config.h"
#include "ember/log.h"
#include "ember/virtio_net.h"
#include "fuzz_virtio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

struct peer {
	int fd;
	/* what the device sent: the parser's state */
	uint8_t pfx[4];
	size_t pfx_have;
	size_t frame_left;
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOG_ERROR);
	return 0;
}

/* Check the device's output: length prefixes of real frames only. */
static void peer_drain(struct peer *p)
{
	uint8_t buf[8192];
	ssize_t r;

	while ((r = recv(p->fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		for (size_t i = 0; i < (size_t)r;) {
			if (p->frame_left) {
				size_t take = MIN(p->frame_left, (size_t)r - i);

				p->frame_left -= take;
				i += take;
				continue;
			}
			p->pfx[p->pfx_have++] = buf[i++];
			if (p->pfx_have == 4) {
				uint32_t be, len;

				memcpy(&be, p->pfx, 4);
				len = be32toh(be);
				if (len < 14 || len > VIRTIO_NET_MAX_FRAME)
					__builtin_trap();
				p->frame_left = len;
				p->pfx_have = 0;
			}
		}
	}
}

static void host_op(void *opaque, struct fz_in *in)
{
	struct peer *p = opaque;
	uint8_t buf[4 + 4096];
	size_t len;
	uint32_t be;

	if (p->fd < 0)
		return;
	switch (fz_u8(in) % 4) {
	case 0: /* raw bytes: any prefix, any split */
		len = fz_u16(in) % 4096;
		fz_bytes(in, buf, len);
		if (send(p->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
			/* full or gone */
		}
		break;
	case 1: /* a well-formed frame */
		len = 14 + fz_u16(in) % (4096 - 14);
		be = htobe32((uint32_t)len);
		memcpy(buf, &be, 4);
		fz_bytes(in, buf + 4, len);
		if (send(p->fd, buf, 4 + len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
			/* full or gone */
		}
		break;
	case 2:
		peer_drain(p);
		break;
	default: /* the peer dies */
		close(p->fd);
		p->fd = -1;
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct net_cfg cfg = {.id = "fz"};
	struct peer p = {.fd = -1};
	struct virtio_net *net;
	struct vdriver d;
	struct fz_dev dev = {.d = &d, .nqueues = 2, .host_op = host_op, .opaque = &p};
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		__builtin_trap();
	p.fd = sv[1];
	if (size && (data[0] & 0x80))
		cfg.mtu = 1280 + (data[0] & 0x70) * 8;
	if (vdrv_init(&d, FZ_RAM) < 0)
		__builtin_trap();
	if (virtio_net_create_stream(&cfg, sv[0], &d.gm, &d.el, &net) < 0 ||
	    vdrv_attach(&d, &net->vdev) < 0)
		__builtin_trap();
	fz_run(&dev, data, size);
	if (p.fd >= 0)
		peer_drain(&p);
	virtio_net_destroy(net);
	vdrv_destroy(&d);
	if (p.fd >= 0)
		close(p.fd);
	return 0;
}
