/* The Uffd memory backend of a snapshot load, with Firecracker's handshake:
 * guest RAM is anonymous memory registered with a userfaultfd (missing
 * pages; remove events for the balloon); ember connects to the handler's
 * Unix socket and sends, in one message, the JSON list of regions
 * (base_host_virt_addr, size, offset, page_size, page_size_kib) with the
 * userfaultfd attached (SCM_RIGHTS). The handler then serves every fault
 * from the memory file; nothing else goes over the socket. */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "ember/error.h"
#include "ember/log.h"
#include "snapshot_priv.h"

static int open_uffd(void)
{
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0 && (errno == EPERM || errno == ENOSYS)) {
		/* 6.1+: /dev/userfaultfd, access by file permissions */
		int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
		if (dev >= 0) {
			fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
			close(dev);
		}
	}
	return fd;
}

static int send_handshake(const char *path, const struct guest_mem *gm, int uffd)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char json[1024], cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov;
	struct msghdr msg = {0};
	struct cmsghdr *cm;
	size_t n = 0;
	int s, r = 0;

	if (strlen(path) >= sizeof(sa.sun_path))
		return err_set(ENAMETOOLONG, "Uffd backend_path is too long");
	memcpy(sa.sun_path, path, strlen(path) + 1);
	n += (size_t)snprintf(json + n, sizeof(json) - n, "[");
	for (int i = 0; i < gm->nregions; i++)
		n += (size_t)snprintf(
		    json + n, sizeof(json) - n,
		    "%s{\"base_host_virt_addr\":%llu,\"size\":%llu,\"offset\":%llu,"
		    "\"page_size\":4096,\"page_size_kib\":4096}",
		    i ? "," : "", (unsigned long long)(uintptr_t)gm->regions[i].hva,
		    (unsigned long long)gm->regions[i].size,
		    (unsigned long long)gm->regions[i].file_offset);
	n += (size_t)snprintf(json + n, sizeof(json) - n, "]");
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0)
		return err_set(errno, "Uffd backend: socket: %s", strerror(errno));
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = err_set(errno, "Uffd backend: connecting to %s: %s", path, strerror(errno));
		goto out;
	}
	iov = (struct iovec){.iov_base = json, .iov_len = n};
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf;
	msg.msg_controllen = sizeof(cbuf);
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &uffd, sizeof(int));
	if (sendmsg(s, &msg, MSG_NOSIGNAL) != (ssize_t)n)
		r = err_set(errno ? errno : EIO, "Uffd backend: sending to %s: %s", path,
			    strerror(errno ? errno : EIO));
out:
	close(s);
	return r;
}

int snap_uffd_attach(struct guest_mem *gm, const char *path, int *uffd_out)
{
	struct uffdio_api api = {.api = UFFD_API, .features = UFFD_FEATURE_EVENT_REMOVE};
	int uffd = open_uffd(), r;

	*uffd_out = -1;
	if (uffd < 0)
		return err_set(errno, "Uffd backend: userfaultfd: %s", strerror(errno));
	if (ioctl(uffd, UFFDIO_API, &api) < 0) {
		r = err_set(errno, "Uffd backend: UFFDIO_API: %s", strerror(errno));
		goto fail;
	}
	for (int i = 0; i < gm->nregions; i++) {
		struct uffdio_register reg = {
		    .range = {.start = (uint64_t)(uintptr_t)gm->regions[i].hva,
			      .len = gm->regions[i].size},
		    .mode = UFFDIO_REGISTER_MODE_MISSING,
		};
		if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0) {
			r = err_set(errno, "Uffd backend: UFFDIO_REGISTER: %s", strerror(errno));
			goto fail;
		}
	}
	if ((r = send_handshake(path, gm, uffd)) < 0)
		goto fail;
	*uffd_out = uffd;
	return 0;
fail:
	close(uffd);
	return r;
}
