/* Reference page-fault handler for snapshot loads with the Uffd backend
 * (Firecracker's protocol, so handlers written for Firecracker work too):
 *
 *	uffd_handler SOCKET MEMORY_FILE
 *
 * Listens on SOCKET, accepts one VMM, receives the JSON list of guest
 * regions (base_host_virt_addr, size, offset, page_size) with the
 * userfaultfd attached, maps MEMORY_FILE privately and answers every
 * missing-page fault with UFFDIO_COPY of that page from the file (a page
 * the balloon removed comes back zeroed: UFFD_EVENT_REMOVE). Prints
 * "uffd_handler: ready" once listening and, when the VMM goes away,
 * "uffd_handler: N page(s) served, M zeroed". Not hardened: a test tool. */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_REGIONS 8
#define MAX_REMOVED 4096

struct region {
	uint64_t base, size, offset, page;
};

static struct region regions[MAX_REGIONS];
static int nregions;
static struct {
	uint64_t start, end;
} removed[MAX_REMOVED];
static int nremoved;

static int die(const char *what)
{
	fprintf(stderr, "uffd_handler: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Numbers of "key":N in each {...} of the list; no other JSON needed. */
static uint64_t field(const char *obj, const char *end, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(obj, pat);
	if (!p || p > end)
		return UINT64_MAX;
	return strtoull(p + strlen(pat), NULL, 10);
}

static void parse(const char *json)
{
	const char *p = json;

	while ((p = strchr(p, '{')) && nregions < MAX_REGIONS) {
		const char *e = strchr(p, '}');
		struct region *r = &regions[nregions++];

		if (!e)
			break;
		r->base = field(p, e, "base_host_virt_addr");
		r->size = field(p, e, "size");
		r->offset = field(p, e, "offset");
		r->page = field(p, e, "page_size");
		if (r->base == UINT64_MAX || r->size == UINT64_MAX || r->offset == UINT64_MAX ||
		    r->page == UINT64_MAX || r->page == 0) {
			fprintf(stderr, "uffd_handler: bad mapping list: %s\n", json);
			exit(1);
		}
		p = e;
	}
}

static int recv_handshake(int c, char *buf, size_t len)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {.iov_base = buf, .iov_len = len - 1};
	struct msghdr msg = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *cm;
	ssize_t n = recvmsg(c, &msg, 0);
	int fd;

	if (n <= 0)
		die("recvmsg");
	buf[n] = 0;
	cm = CMSG_FIRSTHDR(&msg);
	if (!cm || cm->cmsg_type != SCM_RIGHTS) {
		fprintf(stderr, "uffd_handler: no userfaultfd in the handshake\n");
		exit(1);
	}
	memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
	return fd;
}

static bool was_removed(uint64_t a)
{
	for (int i = 0; i < nremoved; i++)
		if (a >= removed[i].start && a < removed[i].end)
			return true;
	return false;
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	uint64_t served = 0, zeroed = 0;
	char json[4096];
	struct stat st;
	uint8_t *mem;
	struct ucred peer;
	socklen_t plen = sizeof(peer);
	int l, c, uffd, mfd;

	if (argc != 3) {
		fprintf(stderr, "usage: uffd_handler SOCKET MEMORY_FILE\n");
		return 2;
	}
	mfd = open(argv[2], O_RDONLY | O_CLOEXEC);
	if (mfd < 0 || fstat(mfd, &st) < 0)
		die(argv[2]);
	mem = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, mfd, 0);
	if (mem == MAP_FAILED)
		die("mmap");
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", argv[1]);
	l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l, 1) < 0)
		die(argv[1]);
	printf("uffd_handler: ready\n");
	fflush(stdout);
	c = accept(l, NULL, NULL);
	if (c < 0)
		die("accept");
	/* The VMM's pid: its exit ends the loop (the userfaultfd alone does not
	 * tell a reader that the faulting process went away). */
	if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &peer, &plen) < 0)
		die("SO_PEERCRED");
	uffd = recv_handshake(c, json, sizeof(json));
	parse(json);
	close(c);
	close(l);
	unlink(argv[1]);
	for (;;) {
		struct pollfd pfd = {.fd = uffd, .events = POLLIN};
		struct uffd_msg m;
		ssize_t n;

		int k = poll(&pfd, 1, 100);

		if (k < 0 && errno != EINTR)
			die("poll");
		if (k <= 0) {
			if (kill(peer.pid, 0) < 0 && errno == ESRCH)
				break;
			continue;
		}
		n = read(uffd, &m, sizeof(m));
		if (n < 0 && errno == EAGAIN)
			continue;
		if (n <= 0 || (pfd.revents & (POLLHUP | POLLERR)))
			break; /* the VMM is gone */
		if (m.event == UFFD_EVENT_REMOVE) {
			if (nremoved < MAX_REMOVED)
				removed[nremoved++] =
				    (typeof(removed[0])){m.arg.remove.start, m.arg.remove.end};
			continue;
		}
		if (m.event != UFFD_EVENT_PAGEFAULT)
			continue;
		uint64_t a = m.arg.pagefault.address;
		for (int i = 0; i < nregions; i++) {
			struct region *r = &regions[i];
			uint64_t page = a & ~(r->page - 1);

			if (a < r->base || a >= r->base + r->size)
				continue;
			if (was_removed(page) ||
			    r->offset + (page - r->base) + r->page > (uint64_t)st.st_size) {
				struct uffdio_zeropage z = {.range = {page, r->page}};
				if (ioctl(uffd, UFFDIO_ZEROPAGE, &z) < 0 && errno != EEXIST)
					die("UFFDIO_ZEROPAGE");
				zeroed++;
			} else {
				struct uffdio_copy cp = {
				    .dst = page,
				    .src =
					(uint64_t)(uintptr_t)(mem + r->offset + (page - r->base)),
				    .len = r->page,
				};
				if (ioctl(uffd, UFFDIO_COPY, &cp) < 0 && errno != EEXIST)
					die("UFFDIO_COPY");
				served++;
			}
			break;
		}
	}
	printf("uffd_handler: %llu page(s) served, %llu zeroed\n", (unsigned long long)served,
	       (unsigned long long)zeroed);
	return 0;
}
