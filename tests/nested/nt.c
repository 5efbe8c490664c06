/*
 * nt: the nested test layer's multi-call helper, linked statically so the
 * same binary runs in L1 (next to ember) and in L2 (busybox initramfs).
 * busybox has no vsock client, no HTTP-over-Unix-socket client and no way to
 * wait on a file's contents without polling; this fills those gaps.
 *
 *   nt gen SEED SIZE                 SIZE deterministic bytes on stdout
 *   nt vsock-serve PORT N SIZE       (L2) accept N AF_VSOCK connections, echo-check each
 *   nt vsock-connect CID PORT N SIZE [close-mid]
 *                                    (L2) N concurrent connections to the host
 *   nt uds-serve PATH N SIZE         (L1) the host side of guest-initiated connections
 *                                    (ember connects to PATH_PORT)
 *   nt uds-connect PATH PORT N SIZE  (L1) N concurrent host-initiated connections through
 *                                    ember's Unix socket ("CONNECT PORT\n" -> "OK ...\n")
 *   nt http SOCK METHOD PATH [BODY [HEADER...]]
 *                                    one HTTP/1.1 request over a Unix socket (or TCP when
 *                                    SOCK is tcp:IPV4:PORT, e.g. the MMDS), extra header
 *                                    lines as given; body on stdout; exit 0 for 2xx, else
 *                                    1 (status on stderr)
 *   nt wait FILE STRING SECONDS [OFFSET]
 *                                    until FILE contains STRING after byte OFFSET (inotify);
 *                                    prints the line; exit 1 on timeout
 *   nt hog MIB                       allocate and touch MIB MiB, then free it
 *   nt vsock-hold CID PORT           (L2) keep one connection to the host open; when it
 *                                    breaks (a snapshot load resets the transport),
 *                                    connect again; a line per connection up and lost
 *   nt uds-hold PATH                 (L1) accept guest-initiated connections on PATH
 *                                    and keep them; prints the first line of each
 *   nt sched-batch TID               (L1) put thread TID under SCHED_BATCH (no wakeup
 *                                    preemption; busybox has no chrt): an experiment knob
 *
 * Stream protocol of one connection (both transports): the connector sends a
 * 16-byte header {seed, size} and `size` bytes of gen(seed), then shuts down
 * its write side; the acceptor checks every byte against gen(seed) and sends
 * back gen(~seed) of the same size; the connector checks that. Each side
 * prints one line per connection with an FNV-1a checksum of what it received.
 * Every command has a deadline (NT_TIMEOUT seconds, default 120).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

struct gen {
	uint64_t s;
};

static uint64_t gen_next(struct gen *g)
{
	/* xorshift64*, seeded away from zero */
	uint64_t x = g->s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	g->s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static void gen_init(struct gen *g, uint64_t seed)
{
	g->s = seed * 0x9E3779B97F4A7C15ULL + 0x1234567ULL;
	if (!g->s)
		g->s = 1;
}

static void gen_fill(struct gen *g, unsigned char *buf, size_t n)
{
	/* n is a multiple of 8 except for the last chunk of a stream */
	size_t i = 0;
	while (i < n) {
		uint64_t v = gen_next(g);
		size_t k = n - i < 8 ? n - i : 8;
		memcpy(buf + i, &v, k);
		i += k;
	}
}

static uint64_t fnv(uint64_t h, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}
#define FNV0 0xcbf29ce484222325ULL

static unsigned long long parse_size(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 0);
	switch (*end) {
	case 'K':
		v <<= 10;
		break;
	case 'M':
		v <<= 20;
		break;
	case 'G':
		v <<= 30;
		break;
	default:
		break;
	}
	return v;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (n) {
		ssize_t r = write(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Reads exactly n bytes; returns bytes read (short on EOF) or -1. */
static ssize_t read_full(int fd, void *buf, size_t n)
{
	char *p = buf;
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, p + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

#define CHUNK 65536

/* Sends size bytes of gen(seed). */
static int send_stream(int fd, uint64_t seed, uint64_t size)
{
	static unsigned char buf[CHUNK];
	struct gen g;
	gen_init(&g, seed);
	while (size) {
		size_t n = size < CHUNK ? size : CHUNK;
		gen_fill(&g, buf, n);
		if (write_all(fd, buf, n))
			return -1;
		size -= n;
	}
	return 0;
}

/* Receives until EOF; checks it is exactly size bytes of gen(seed). */
static int recv_stream(int fd, uint64_t seed, uint64_t size, uint64_t *sum, uint64_t *got)
{
	static unsigned char buf[CHUNK], want[CHUNK];
	struct gen g;
	uint64_t h = FNV0, n = 0;
	int bad = 0;
	gen_init(&g, seed);
	for (;;) {
		ssize_t r = read_full(fd, buf, CHUNK);
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		if (n + (uint64_t)r > size) {
			bad = 1;
		} else {
			gen_fill(&g, want, (size_t)r);
			if (memcmp(buf, want, (size_t)r))
				bad = 1;
		}
		h = fnv(h, buf, (size_t)r);
		n += (uint64_t)r;
		if (r < CHUNK)
			break; /* EOF reached inside read_full */
	}
	*sum = h;
	*got = n;
	return bad || n != size ? 1 : 0;
}

/* One accepted connection: returns 0 when the peer's stream and our reply went through. */
static int serve_conn(int fd, const char *who, uint64_t size_limit)
{
	uint64_t hdr[2], sum, got;
	if (read_full(fd, hdr, sizeof(hdr)) != sizeof(hdr)) {
		printf("%s: FAIL no header\n", who);
		return 1;
	}
	if (hdr[1] > size_limit) {
		printf("%s: FAIL size %" PRIu64 " above %" PRIu64 "\n", who, hdr[1], size_limit);
		return 1;
	}
	int r = recv_stream(fd, hdr[0], hdr[1], &sum, &got);
	if (r) {
		printf("%s: FAIL seed %" PRIu64 ": received %" PRIu64 " of %" PRIu64
		       " bytes, %s (fnv %016" PRIx64 ")\n",
		       who, hdr[0], got, hdr[1], r < 0 ? "read error" : "mismatch", sum);
		return 1;
	}
	if (send_stream(fd, ~hdr[0], hdr[1])) {
		printf("%s: FAIL seed %" PRIu64 ": reply write: %s\n", who, hdr[0],
		       strerror(errno));
		return 1;
	}
	printf("%s: ok seed %" PRIu64 " %" PRIu64 " bytes fnv %016" PRIx64 "\n", who, hdr[0], got,
	       sum);
	return 0;
}

/* Connector's half over an established fd. close_mid: send half and close. */
static int client_conn(int fd, const char *who, uint64_t seed, uint64_t size, int close_mid)
{
	uint64_t hdr[2] = {seed, size}, sum, got;
	double t0 = now_s();
	if (write_all(fd, hdr, sizeof(hdr)) || send_stream(fd, seed, close_mid ? size / 2 : size)) {
		printf("%s: FAIL seed %" PRIu64 ": write: %s\n", who, seed, strerror(errno));
		return 1;
	}
	if (close_mid) {
		close(fd);
		printf("%s: ok seed %" PRIu64 " closed after %" PRIu64 " bytes\n", who, seed,
		       size / 2);
		return 0;
	}
	shutdown(fd, SHUT_WR);
	int r = recv_stream(fd, ~seed, size, &sum, &got);
	if (r) {
		printf("%s: FAIL seed %" PRIu64 ": reply %" PRIu64 " of %" PRIu64 " bytes, %s\n",
		       who, seed, got, size, r < 0 ? "read error" : "mismatch");
		return 1;
	}
	double dt = now_s() - t0;
	printf("%s: ok seed %" PRIu64 " %" PRIu64 " bytes each way fnv %016" PRIx64
	       " %.2f s (%.1f MB/s)\n",
	       who, seed, size, sum, dt, dt > 0 ? 2.0 * size / dt / 1e6 : 0.0);
	return 0;
}

/* Runs fn(i) in n children concurrently; returns the number that failed. */
static int fan_out(int n, int (*fn)(int i, void *arg), void *arg)
{
	int failed = 0;
	fflush(stdout);
	for (int i = 0; i < n; i++) {
		pid_t p = fork();
		if (p < 0) {
			perror("fork");
			failed++;
			continue;
		}
		if (p == 0) {
			int r = fn(i, arg);
			fflush(stdout);
			_exit(r ? 1 : 0);
		}
	}
	int st;
	while (wait(&st) > 0)
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			failed++;
	return failed;
}

/* Accept loop shared by both servers: n connections, each in its own child. */
static int accept_n(int lfd, int n, const char *who, uint64_t size)
{
	int failed = 0, children = 0;
	fflush(stdout);
	for (int i = 0; i < n; i++) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR) {
				i--;
				continue;
			}
			perror("accept");
			return 1;
		}
		pid_t p = fork();
		if (p == 0) {
			close(lfd);
			int r = serve_conn(fd, who, size);
			fflush(stdout);
			_exit(r);
		}
		close(fd);
		if (p < 0)
			failed++;
		else
			children++;
	}
	int st;
	while (children-- > 0 && wait(&st) > 0)
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			failed++;
	printf("%s: %d of %d connections ok\n", who, n - failed, n);
	return failed ? 1 : 0;
}

static int cmd_gen(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	return send_stream(1, strtoull(argv[0], NULL, 0), parse_size(argv[1])) ? 1 : 0;
}

static int cmd_vsock_serve(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	struct sockaddr_vm a = {
	    .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = (unsigned)atoi(argv[0])};
	int fd = socket(AF_VSOCK, SOCK_STREAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 64)) {
		perror("vsock listen");
		return 1;
	}
	printf("vsock-serve: listening on port %s\n", argv[0]);
	return accept_n(fd, atoi(argv[1]), "vsock-serve", parse_size(argv[2]));
}

struct conn_args {
	const char *path;
	unsigned cid, port;
	uint64_t size;
	int close_mid;
	double deadline;
};

static int vsock_one(int i, void *arg)
{
	struct conn_args *c = arg;
	struct sockaddr_vm a = {.svm_family = AF_VSOCK, .svm_cid = c->cid, .svm_port = c->port};
	int fd;
	/* Until the host side listens, ember resets the connection: bounded retry.
	 * Each attempt may wait until the deadline for ember's answer: Linux's
	 * default (2 s) is too short for 32 concurrent connects under a loaded
	 * emulated L1 (seen: ETIMEDOUT with one L1 vCPU at host load 15). */
	for (;;) {
		double left = c->deadline - now_s();
		struct timeval tv = {.tv_sec = left > 1 ? (time_t)left : 1};

		fd = socket(AF_VSOCK, SOCK_STREAM, 0);
		if (fd >= 0)
			setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &tv, sizeof(tv));
		if (fd >= 0 && !connect(fd, (struct sockaddr *)&a, sizeof(a)))
			break;
		int e = errno;
		if (fd >= 0)
			close(fd);
		if ((e != ECONNRESET && e != ECONNREFUSED) || now_s() > c->deadline) {
			printf("vsock-connect: FAIL connect %u:%u: %s\n", c->cid, c->port,
			       strerror(e));
			return 1;
		}
		poll(NULL, 0, 50);
	}
	return client_conn(fd, "vsock-connect", 1000 + (uint64_t)i, c->size,
			   c->close_mid && i == 0);
}

static int cmd_vsock_connect(int argc, char **argv)
{
	if (argc < 4)
		return 2;
	struct conn_args c = {.cid = (unsigned)atoi(argv[0]),
			      .port = (unsigned)atoi(argv[1]),
			      .size = parse_size(argv[3]),
			      .close_mid = argc > 4 && !strcmp(argv[4], "close-mid"),
			      .deadline = now_s() + 60};
	int n = atoi(argv[2]), f = fan_out(n, vsock_one, &c);
	printf("vsock-connect: %d of %d connections ok\n", n - f, n);
	return f ? 1 : 0;
}

static int unix_listen(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	unlink(path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 64)) {
		fprintf(stderr, "listen %s: %s\n", path, strerror(errno));
		return -1;
	}
	return fd;
}

/* Connects to a Unix socket, retrying while nobody listens yet (until the deadline). */
static int unix_connect(const char *path, double deadline)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	for (;;) {
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd < 0)
			return -1;
		if (!connect(fd, (struct sockaddr *)&a, sizeof(a)))
			return fd;
		int e = errno;
		close(fd);
		if ((e != ENOENT && e != ECONNREFUSED) || now_s() > deadline) {
			errno = e;
			return -1;
		}
		poll(NULL, 0, 20); /* the listener is not up yet: bounded retry */
	}
}

static int cmd_uds_serve(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	int fd = unix_listen(argv[0]);
	if (fd < 0)
		return 1;
	printf("uds-serve: listening on %s\n", argv[0]);
	return accept_n(fd, atoi(argv[1]), "uds-serve", parse_size(argv[2]));
}

/* Reads one '\n'-terminated line byte by byte (the stream follows it). */
static int read_line(int fd, char *buf, size_t n)
{
	size_t i = 0;
	while (i + 1 < n) {
		ssize_t r = read(fd, buf + i, 1);
		if (r <= 0)
			return -1;
		if (buf[i] == '\n')
			break;
		i++;
	}
	buf[i] = 0;
	return 0;
}

static int uds_one(int i, void *arg)
{
	struct conn_args *c = arg;
	char line[128];
	/* The guest's listener may not be up yet: ember then closes the connection
	 * (or refuses it): retry the whole handshake until the deadline. */
	for (;;) {
		int fd = unix_connect(c->path, c->deadline);
		if (fd < 0) {
			printf("uds-connect: FAIL connect %s: %s\n", c->path, strerror(errno));
			return 1;
		}
		dprintf(fd, "CONNECT %u\n", c->port);
		if (!read_line(fd, line, sizeof(line)) && !strncmp(line, "OK ", 3))
			return client_conn(fd, "uds-connect", 2000 + (uint64_t)i, c->size, 0);
		close(fd);
		if (now_s() > c->deadline) {
			printf("uds-connect: FAIL no OK for CONNECT %u\n", c->port);
			return 1;
		}
		poll(NULL, 0, 50);
	}
}

static int cmd_uds_connect(int argc, char **argv)
{
	if (argc != 4)
		return 2;
	struct conn_args c = {.path = argv[0],
			      .port = (unsigned)atoi(argv[1]),
			      .size = parse_size(argv[3]),
			      .deadline = now_s() + 60};
	int n = atoi(argv[2]), f = fan_out(n, uds_one, &c);
	printf("uds-connect: %d of %d connections ok\n", n - f, n);
	return f ? 1 : 0;
}

static int cmd_http(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	const char *body = argc > 3 ? argv[3] : "";
	int fd;
	if (!strncmp(argv[0], "tcp:", 4)) {
		struct sockaddr_in a = {.sin_family = AF_INET};
		char ip[32];
		int port = 0;
		if (sscanf(argv[0] + 4, "%31[0-9.]:%d", ip, &port) != 2 ||
		    inet_pton(AF_INET, ip, &a.sin_addr) != 1)
			return 2;
		a.sin_port = htons((uint16_t)port);
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
			close(fd);
			fd = -1;
		}
	} else {
		fd = unix_connect(argv[0], now_s() + 10);
	}
	if (fd < 0) {
		fprintf(stderr, "http: connect %s: %s\n", argv[0], strerror(errno));
		return 1;
	}
	dprintf(fd, "%s %s HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n",
		argv[1], argv[2]);
	for (int i = 4; i < argc; i++)
		dprintf(fd, "%s\r\n", argv[i]);
	dprintf(fd, "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
		strlen(body), body);
	/* Read the header, then Content-Length bytes of body. */
	static char buf[1 << 20];
	size_t n = 0;
	char *hend = NULL;
	while (!hend && n < sizeof(buf) - 1) {
		ssize_t r = read(fd, buf + n, sizeof(buf) - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		buf[n] = 0;
		hend = strstr(buf, "\r\n\r\n");
	}
	int code = 0;
	if (!hend || sscanf(buf, "HTTP/1.%*d %d", &code) != 1) {
		fprintf(stderr, "http: bad response: %.200s\n", buf);
		return 1;
	}
	size_t clen = 0;
	char *cl = strcasestr(buf, "\r\nContent-Length:");
	if (cl && cl < hend)
		clen = strtoul(cl + 17, NULL, 10);
	char *b = hend + 4;
	while ((size_t)(buf + n - b) < clen && n < sizeof(buf) - 1) {
		ssize_t r = read(fd, buf + n, sizeof(buf) - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	fwrite(b, 1, (size_t)(buf + n - b) < clen ? (size_t)(buf + n - b) : clen, stdout);
	if (clen)
		putchar('\n');
	if (code < 200 || code > 299) {
		fprintf(stderr, "http: %s %s -> %d\n", argv[1], argv[2], code);
		return 1;
	}
	return 0;
}

/* Looks for s in the file from offset *off on; prints the line holding it. */
static int scan_file(int fd, const char *s, off_t *off)
{
	static char buf[1 << 16];
	size_t slen = strlen(s);
	for (;;) {
		ssize_t r = pread(fd, buf, sizeof(buf) - 1, *off);
		if (r <= 0)
			return 0;
		buf[r] = 0;
		/* A NUL in console output must not hide what follows. */
		for (ssize_t i = 0; i < r; i++)
			if (!buf[i])
				buf[i] = ' ';
		char *m = strstr(buf, s);
		if (m) {
			char *b = m, *e = strchr(m, '\n');
			while (b > buf && b[-1] != '\n')
				b--;
			printf("%.*s\n", e ? (int)(e - b) : (int)strlen(b), b);
			return 1;
		}
		/* keep a tail that could hold the start of a match */
		char *nl = strrchr(buf, '\n');
		off_t adv =
		    nl ? (off_t)(nl + 1 - buf) : (r > (ssize_t)slen ? r - (ssize_t)slen : 0);
		if (adv == 0)
			return 0;
		*off += adv;
		if (r < (ssize_t)sizeof(buf) - 1 && !nl)
			return 0;
	}
}

static int cmd_wait(int argc, char **argv)
{
	if (argc != 3 && argc != 4)
		return 2;
	double deadline = now_s() + atof(argv[2]);
	int in = inotify_init1(IN_CLOEXEC);
	if (in < 0) {
		perror("inotify");
		return 1;
	}
	alarm((unsigned)atoi(argv[2]) + 10); /* the caller's deadline rules */
	off_t off = argc > 3 ? (off_t)strtoll(argv[3], NULL, 0) : 0;
	int fd = -1;
	for (;;) {
		if (fd < 0) {
			/* Watch the file once it exists (its directory until then). */
			fd = open(argv[0], O_RDONLY | O_CLOEXEC);
			if (fd >= 0) {
				inotify_add_watch(in, argv[0], IN_MODIFY | IN_CLOSE_WRITE);
			} else {
				char dir[4096];
				snprintf(dir, sizeof(dir), "%s", argv[0]);
				char *sl = strrchr(dir, '/');
				if (sl)
					*sl = 0;
				inotify_add_watch(in, sl ? (dir[0] ? dir : "/") : ".", IN_CREATE);
			}
		}
		if (fd >= 0 && scan_file(fd, argv[1], &off))
			return 0;
		double left = deadline - now_s();
		if (left <= 0) {
			fprintf(stderr, "wait: '%s' not in %s after %s s\n", argv[1], argv[0],
				argv[2]);
			return 1;
		}
		struct pollfd p = {.fd = in, .events = POLLIN};
		/* also rescan once a second, a safety net should the file be
		 * replaced under its watch */
		int r = poll(&p, 1, left > 1 ? 1000 : (int)(left * 1000) + 1);
		if (r > 0) {
			char ev[4096];
			if (read(in, ev, sizeof(ev)) < 0 && errno != EAGAIN)
				return 1;
		}
	}
}

static int cmd_vsock_hold(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	struct sockaddr_vm a = {.svm_family = AF_VSOCK,
				.svm_cid = (unsigned)atoi(argv[0]),
				.svm_port = (unsigned)atoi(argv[1])};
	for (int k = 1;; k++) {
		int fd;
		char buf[256];
		ssize_t r;
		/* until the host side listens, ember resets: retried until NT_TIMEOUT */
		for (;;) {
			fd = socket(AF_VSOCK, SOCK_STREAM, 0);
			if (fd >= 0 && !connect(fd, (struct sockaddr *)&a, sizeof(a)))
				break;
			if (fd >= 0)
				close(fd);
			poll(NULL, 0, 100);
		}
		snprintf(buf, sizeof(buf), "hold %d\n", k);
		if (write_all(fd, buf, strlen(buf)) == 0)
			printf("vsock-hold: connection %d up\n", k);
		fflush(stdout);
		while ((r = read(fd, buf, sizeof(buf))) > 0)
			;
		printf("vsock-hold: connection %d lost (%s)\n", k, r < 0 ? strerror(errno) : "EOF");
		fflush(stdout);
		close(fd);
	}
}

static int cmd_uds_hold(int argc, char **argv)
{
	if (argc != 1)
		return 2;
	int lfd = unix_listen(argv[0]);
	if (lfd < 0)
		return 1;
	printf("uds-hold: listening on %s\n", argv[0]);
	fflush(stdout);
	for (int k = 1;; k++) {
		char line[128];
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			return 1;
		/* kept open: the guest's connection stays up until its VM goes */
		if (read_line(fd, line, sizeof(line)) < 0)
			snprintf(line, sizeof(line), "(no line)");
		printf("uds-hold: %d: %s\n", k, line);
		fflush(stdout);
	}
}

static int cmd_hog(int argc, char **argv)
{
	if (argc != 1)
		return 2;
	size_t n = (size_t)parse_size(argv[0]) << 20;
	char *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	for (size_t i = 0; i < n; i += 4096)
		p[i] = 1;
	munmap(p, n);
	return 0;
}

static int cmd_sched_batch(int argc, char **argv)
{
	struct sched_param sp = {.sched_priority = 0};

	if (argc != 1)
		return 2;
	if (sched_setscheduler(atoi(argv[0]), SCHED_BATCH, &sp) < 0) {
		perror("nt sched-batch");
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {{"gen", cmd_gen},
		    {"vsock-serve", cmd_vsock_serve},
		    {"vsock-connect", cmd_vsock_connect},
		    {"uds-serve", cmd_uds_serve},
		    {"uds-connect", cmd_uds_connect},
		    {"http", cmd_http},
		    {"wait", cmd_wait},
		    {"hog", cmd_hog},
		    {"vsock-hold", cmd_vsock_hold},
		    {"uds-hold", cmd_uds_hold},
		    {"sched-batch", cmd_sched_batch}};
	signal(SIGPIPE, SIG_IGN);
	const char *t = getenv("NT_TIMEOUT");
	alarm(t ? (unsigned)atoi(t) : 120);
	if (argc >= 2)
		for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
			if (!strcmp(argv[1], cmds[i].name)) {
				int r = cmds[i].fn(argc - 2, argv + 2);
				if (r == 2)
					fprintf(stderr,
						"nt %s: wrong arguments (see tests/nested/nt.c)\n",
						argv[1]);
				fflush(stdout);
				return r;
			}
	fprintf(stderr,
		"usage: nt gen|vsock-serve|vsock-connect|uds-serve|uds-connect|http|wait|hog|"
		"vsock-hold|uds-hold|sched-batch "
		"... (see tests/nested/nt.c)\n");
	return 2;
}
