/* TAP backend for virtio-net (see net_tap.h). */
#include "ember/net_tap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "ember/error.h"

/* Largest subset of TAP_OFFLOADS_ALL the kernel accepts, tried from the
 * richest down (old kernels refuse TUN_F_UFO, odd ones everything). */
static unsigned probe_offloads(int fd)
{
	static const unsigned tries[] = {
	    TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_UFO,
	    TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6,
	    TUN_F_CSUM,
	};

	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++)
		if (ioctl(fd, TUNSETOFFLOAD, tries[i]) == 0)
			return tries[i];
	return 0;
}

int tap_open(struct tap *t, const char *name)
{
	struct ifreq ifr;
	int hdr = TAP_VNET_HDR_LEN, e;

	t->fd = -1;
	t->offloads = t->offloads_ok = 0;
	if (!name || !*name || strlen(name) >= IFNAMSIZ)
		return err_set(EINVAL, "tap '%s': name must be 1..%d characters", name ? name : "",
			       IFNAMSIZ - 1);
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (t->fd < 0)
		return err_set(errno, "tap %s: /dev/net/tun: %s", name, strerror(errno));
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(t->fd, TUNSETIFF, &ifr) < 0) {
		e = errno;
		tap_close(t);
		return err_set(e, "tap %s: TUNSETIFF: %s", name, strerror(e));
	}
	if (ioctl(t->fd, TUNSETVNETHDRSZ, &hdr) < 0) {
		e = errno;
		tap_close(t);
		return err_set(e, "tap %s: TUNSETVNETHDRSZ: %s", name, strerror(e));
	}
	t->offloads_ok = probe_offloads(t->fd);
	if (ioctl(t->fd, TUNSETOFFLOAD, 0u) < 0) {
		e = errno;
		tap_close(t);
		return err_set(e, "tap %s: TUNSETOFFLOAD: %s", name, strerror(e));
	}
	return 0;
}

void tap_close(struct tap *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
}

int tap_set_offloads(struct tap *t, unsigned flags)
{
	flags &= t->offloads_ok;
	if (ioctl(t->fd, TUNSETOFFLOAD, flags) < 0)
		return err_set(errno, "tap %s: TUNSETOFFLOAD %#x: %s", t->name, flags,
			       strerror(errno));
	t->offloads = flags;
	return 0;
}
