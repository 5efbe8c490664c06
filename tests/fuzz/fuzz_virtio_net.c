/* libFuzzer: virtio-net through the MMIO transport and its rx/tx queues
 * (fuzz_virtio.h), on a real TAP in a private network namespace (needs
 * root; tests/device/net_fix.c makes it). The host op sends a frame into
 * the TAP towards the guest (rx path); what the guest transmits is read
 * back and dropped. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>

#include "ember/config.h"
#include "ember/virtio_net.h"
#include "fuzz_virtio.h"
#include "net_fix.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static int pkt = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL)};

	(void)argc;
	(void)argv;
	if (netfix_netns_tap() < 0) {
		fprintf(stderr, "fuzz_virtio_net: needs root (a TAP in a private netns)\n");
		return -1;
	}
	pkt = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
	sll.sll_ifindex = (int)if_nametoindex(NETFIX_TAP);
	if (pkt < 0 || bind(pkt, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		perror("fuzz_virtio_net: packet socket");
		return -1;
	}
	return 0;
}

static void drain(void)
{
	char buf[2048];

	while (recv(pkt, buf, sizeof(buf), MSG_DONTWAIT) > 0) {
	}
}

static void host_op(void *opaque, struct fz_in *in)
{
	uint8_t frame[1600];
	size_t len = 14 + fz_u16(in) % (sizeof(frame) - 14);

	(void)opaque;
	fz_bytes(in, frame, len);
	if (send(pkt, frame, len, MSG_DONTWAIT) < 0) {
		/* full, or a frame the kernel refuses */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct net_cfg cfg = {.id = "fz", .host_dev_name = (char *)NETFIX_TAP};
	struct virtio_net *net;
	struct vdriver d;
	struct fz_dev dev = {.d = &d, .nqueues = 2, .host_op = host_op};

	if (pkt < 0)
		__builtin_trap();
	if (size && (data[0] & 0x80))
		cfg.mtu = 1280 + (data[0] & 0x70) * 8;
	if (vdrv_init(&d, FZ_RAM) < 0)
		__builtin_trap();
	if (virtio_net_create(&cfg, &d.gm, &d.el, &net) < 0 || vdrv_attach(&d, &net->vdev) < 0)
		__builtin_trap();
	fz_run(&dev, data, size);
	virtio_net_destroy(net);
	vdrv_destroy(&d);
	drain();
	return 0;
}
