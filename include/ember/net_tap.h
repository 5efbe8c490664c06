/* Host backend of virtio-net: an existing TAP interface opened through
 * /dev/net/tun with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, a 12-byte vnet
 * header (struct virtio_net_hdr_v1) on every frame, non-blocking.
 *
 * Offloads (TUNSETOFFLOAD) describe what the *reader* (ember, on behalf of
 * the guest) accepts from the kernel: TUN_F_CSUM partially checksummed
 * frames, TUN_F_TSO4/6 TCP GSO frames, TUN_F_UFO UDP GSO frames. The
 * kernel's set is probed once at open; the device then offers only the
 * matching guest features. Writes (guest tx) take any valid vnet header. */
#ifndef EMBER_NET_TAP_H
#define EMBER_NET_TAP_H

#include <net/if.h>
#include <stdint.h>

#include <linux/if_tun.h>

#define TAP_VNET_HDR_LEN 12 /* sizeof(struct virtio_net_hdr_v1) */
#define TAP_OFFLOADS_ALL (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_UFO)

struct tap {
	int fd;
	char name[IFNAMSIZ];
	unsigned offloads_ok; /* TUN_F_* bits TUNSETOFFLOAD accepted */
	unsigned offloads;    /* currently set */
};

/* Attach to the TAP called name (at most IFNAMSIZ-1 chars): O_NONBLOCK,
 * vnet header of TAP_VNET_HDR_LEN, offloads probed and left at 0. Like
 * Firecracker, TUNSETIFF creates the interface if it does not exist
 * (needs CAP_NET_ADMIN). err_set context on failure. */
int tap_open(struct tap *t, const char *name);
void tap_close(struct tap *t);
/* TUNSETOFFLOAD with flags & offloads_ok. */
int tap_set_offloads(struct tap *t, unsigned flags);

#endif
