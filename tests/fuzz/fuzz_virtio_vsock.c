/* libFuzzer: virtio-vsock through the MMIO transport and its rx/tx/event
 * queues (fuzz_virtio.h), with the Unix-socket backend live: the host op
 * connects clients to the device's socket ("CONNECT <port>\n" + bytes),
 * writes into or closes host connections, accepts the connections the
 * guest opens to the listener at "<uds>_1024", or asks for a transport
 * reset. Every host socket is closed at the end of each run. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ember/config.h"
#include "ember/virtio_vsock.h"
#include "fuzz_virtio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FDS 8
#define GUEST_PORT_LISTENER 1024

static char uds[108], listener_path[108];
static int listener = -1;

struct vs_ctx {
	struct virtio_vsock *vs;
	int fds[MAX_FDS];
	int nfds;
};

static int unix_socket(const char *path, bool listen_too)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (listen_too ? bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0
		       : connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

static void keep(struct vs_ctx *c, int fd)
{
	if (fd < 0)
		return;
	if (c->nfds == MAX_FDS) {
		close(fd);
		return;
	}
	c->fds[c->nfds++] = fd;
}

static void host_op(void *opaque, struct fz_in *in)
{
	struct vs_ctx *c = opaque;
	uint8_t op = fz_u8(in);
	char buf[256];
	int fd, n;

	switch (op % 5) {
	case 0: /* a host client: CONNECT line (maybe malformed), then bytes */
		fd = unix_socket(uds, false);
		if (fd < 0)
			break;
		if (op & 0x80)
			n = snprintf(buf, sizeof(buf), "CONNECT %u\n", fz_u16(in));
		else
			n = (int)fz_bytes(in, buf, fz_u8(in) % 64);
		if (send(fd, buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
			/* the device may have refused it */
		}
		keep(c, fd);
		break;
	case 1: /* bytes on an open host connection */
		if (c->nfds) {
			fd = c->fds[fz_u8(in) % c->nfds];
			n = (int)fz_bytes(in, buf, fz_u8(in));
			if (send(fd, buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
				/* full or reset */
			}
			while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0) {
			}
		}
		break;
	case 2: /* close or half-close a host connection */
		if (c->nfds) {
			int i = fz_u8(in) % c->nfds;

			if (op & 0x80) {
				shutdown(c->fds[i], SHUT_WR);
			} else {
				close(c->fds[i]);
				c->fds[i] = c->fds[--c->nfds];
			}
		}
		break;
	case 3: /* accept what the guest opened to port 1024 */
		while ((fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
			n = (int)fz_bytes(in, buf, fz_u8(in) % 128);
			if (send(fd, buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
				/* gone */
			}
			keep(c, fd);
		}
		break;
	default:
		virtio_vsock_transport_reset(c->vs);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vsock_cfg cfg = {.present = true, .guest_cid = 3};
	struct vs_ctx c = {0};
	struct vdriver d;
	struct fz_dev dev = {.d = &d, .nqueues = 3, .host_op = host_op, .opaque = &c};

	if (listener < 0) {
		snprintf(uds, sizeof(uds), "%s/v.sock", fz_temp_dir());
		snprintf(listener_path, sizeof(listener_path), "%s_%d", uds, GUEST_PORT_LISTENER);
		listener = unix_socket(listener_path, true);
		if (listener < 0)
			__builtin_trap();
	}
	cfg.uds_path = uds;
	if (vdrv_init(&d, FZ_RAM) < 0)
		__builtin_trap();
	if (virtio_vsock_create(&cfg, &d.gm, &d.el, &c.vs) < 0 || vdrv_attach(&d, &c.vs->vdev) < 0)
		__builtin_trap();
	fz_run(&dev, data, size);
	virtio_vsock_destroy(c.vs);
	for (int i = 0; i < c.nfds; i++)
		close(c.fds[i]);
	/* connections the guest opened and nobody accepted */
	for (int fd; (fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0;)
		close(fd);
	vdrv_destroy(&d);
	return 0;
}
