/* `ember pool`: N microVMs restored from one snapshot, each its own ember
 * process with its own API socket, TAP and vsock path from templates (%d =
 * the clone's index). They share the memory file copy-on-write (its page
 * cache), and each copies only the pages its guest writes; the pool reports
 * both per clone (smaps_rollup). It waits until every clone has exited, or
 * stops them all on SIGTERM/SIGINT. No VM runs in this process. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ember/cli.h"
#include "ember/error.h"
#include <cjson/cJSON.h>

#define POOL_MAX 256

struct pool_opts {
	const char *snapshot, *mem_file, *sock_tmpl, *tap_tmpl, *iface, *vsock_tmpl, *out_tmpl;
	const char *working_set; /* prefetched by every clone (snapshot_ws.c) */
	int count;
	bool diff;
};

struct clone {
	pid_t pid;
	char sock[108];
	bool exited;
	int status;
};

static void pool_help(void)
{
	printf(
	    "usage: ember pool --snapshot STATE --mem-file MEM --count N\n"
	    "        --api-sock-template PATH%%d [--tap-template TAP%%d --iface ID]\n"
	    "        [--vsock-template PATH%%d] [--stdout-template FILE%%d] [--track-dirty-pages]\n"
	    "        [--working-set FILE]\n"
	    "N microVMs restored from one snapshot (File backend, resumed), one ember\n"
	    "process each; %%d in a template is the clone's index (0..N-1). Prints each\n"
	    "clone's private and shared memory, then waits until all have exited\n"
	    "(SIGTERM/SIGINT stop them). A clone's console (its stdout) goes to\n"
	    "--stdout-template, else to the pool's; its stdin is /dev/null.\n"
	    "--working-set: every clone prefetches the pages recorded there (a load\n"
	    "with working_set {\"path\": FILE, \"record\": true} wrote it) before it runs.\n");
}

/* one %d, nothing else: the result must fit */
static int expand(const char *tmpl, int i, char *out, size_t n, const char *what)
{
	const char *p = strstr(tmpl, "%d");
	int len;

	if (!p || strchr(p + 2, '%') || strchr(tmpl, '%') != p)
		return err_set(EINVAL, "%s: '%s' needs exactly one %%d", what, tmpl);
	len = snprintf(out, n, "%.*s%d%s", (int)(p - tmpl), tmpl, i, p + 2);
	if (len < 0 || (size_t)len >= n)
		return err_set(ENAMETOOLONG, "%s: '%s' is too long", what, tmpl);
	return 0;
}

static int parse(int argc, char **argv, struct pool_opts *o)
{
	enum {
		O_SNAP = 1,
		O_MEM,
		O_COUNT,
		O_SOCK,
		O_TAP,
		O_IFACE,
		O_VSOCK,
		O_OUT,
		O_DIRTY,
		O_WS,
		O_HELP
	};
	static const struct option opts[] = {
	    {"snapshot", required_argument, NULL, O_SNAP},
	    {"mem-file", required_argument, NULL, O_MEM},
	    {"count", required_argument, NULL, O_COUNT},
	    {"api-sock-template", required_argument, NULL, O_SOCK},
	    {"tap-template", required_argument, NULL, O_TAP},
	    {"iface", required_argument, NULL, O_IFACE},
	    {"vsock-template", required_argument, NULL, O_VSOCK},
	    {"stdout-template", required_argument, NULL, O_OUT},
	    {"track-dirty-pages", no_argument, NULL, O_DIRTY},
	    {"working-set", required_argument, NULL, O_WS},
	    {"help", no_argument, NULL, O_HELP},
	    {NULL, 0, NULL, 0},
	};
	int c;
	char *end, buf[108];

	memset(o, 0, sizeof(*o));
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case O_SNAP:
			o->snapshot = optarg;
			break;
		case O_MEM:
			o->mem_file = optarg;
			break;
		case O_COUNT:
			errno = 0;
			o->count = (int)strtol(optarg, &end, 10);
			if (errno || *end || o->count < 1 || o->count > POOL_MAX)
				return err_set(EINVAL, "--count: 1-%d", POOL_MAX);
			break;
		case O_SOCK:
			o->sock_tmpl = optarg;
			break;
		case O_TAP:
			o->tap_tmpl = optarg;
			break;
		case O_IFACE:
			o->iface = optarg;
			break;
		case O_VSOCK:
			o->vsock_tmpl = optarg;
			break;
		case O_OUT:
			o->out_tmpl = optarg;
			break;
		case O_DIRTY:
			o->diff = true;
			break;
		case O_WS:
			o->working_set = optarg;
			break;
		case O_HELP:
			pool_help();
			return 1;
		default:
			return err_set(EINVAL, "see 'ember pool --help'");
		}
	}
	if (optind != argc)
		return err_set(EINVAL, "unexpected argument '%s'", argv[optind]);
	if (!o->snapshot || !o->mem_file || !o->count || !o->sock_tmpl)
		return err_set(EINVAL, "--snapshot, --mem-file, --count and --api-sock-template "
				       "are required");
	if (!o->tap_tmpl != !o->iface)
		return err_set(EINVAL, "--tap-template and --iface go together");
	if (expand(o->sock_tmpl, 0, buf, sizeof(buf), "--api-sock-template") < 0 ||
	    (o->tap_tmpl && expand(o->tap_tmpl, 0, buf, 16, "--tap-template") < 0) ||
	    (o->vsock_tmpl && expand(o->vsock_tmpl, 0, buf, sizeof(buf), "--vsock-template") < 0) ||
	    (o->out_tmpl && expand(o->out_tmpl, 0, buf, sizeof(buf), "--stdout-template") < 0))
		return -EINVAL;
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One HTTP request over the clone's API socket (retried while the socket is
 * not there yet, at most 10 s). Returns the status code or -errno; the
 * response's first 200 bytes in resp. */
static int http_put(const char *sock, const char *path, const char *body, char *resp, size_t n)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	double deadline = now_s() + 10;
	char req[4096 + 256];
	size_t got = 0;
	int fd, len, code = 0;

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock);
	for (;;) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
			break;
		close(fd);
		if ((errno != ENOENT && errno != ECONNREFUSED) || now_s() > deadline)
			return -errno;
		poll(NULL, 0, 2); /* the clone is starting: bounded retry */
	}
	len = snprintf(req, sizeof(req),
		       "PUT %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
		       "Content-Length: %zu\r\n\r\n%s",
		       path, strlen(body), body);
	if (len < 0 || (size_t)len >= sizeof(req) || write(fd, req, (size_t)len) != len) {
		close(fd);
		return -EIO;
	}
	while (got + 1 < n) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t r;

		if (poll(&p, 1, 60000) <= 0)
			break;
		r = read(fd, resp + got, n - 1 - got);
		if (r <= 0)
			break;
		got += (size_t)r;
		resp[got] = 0;
		if (strstr(resp, "\r\n\r\n") && (strstr(resp, " 204 ") || strstr(resp, "}")))
			break;
	}
	resp[got] = 0;
	close(fd);
	if (sscanf(resp, "HTTP/1.%*d %d", &code) != 1)
		return -EPROTO;
	return code;
}

/* The PUT /snapshot/load body for clone i (cJSON: paths are escaped). */
static char *load_body(const struct pool_opts *o, int i)
{
	cJSON *j = cJSON_CreateObject(), *mb, *nets, *n, *v;
	char tap[16], vs[108], *out = NULL;

	if (!j)
		return NULL;
	cJSON_AddStringToObject(j, "snapshot_path", o->snapshot);
	mb = cJSON_AddObjectToObject(j, "mem_backend");
	if (mb) {
		cJSON_AddStringToObject(mb, "backend_type", "File");
		cJSON_AddStringToObject(mb, "backend_path", o->mem_file);
	}
	cJSON_AddBoolToObject(j, "resume_vm", 1);
	if (o->diff)
		cJSON_AddBoolToObject(j, "track_dirty_pages", 1);
	if (o->working_set && (v = cJSON_AddObjectToObject(j, "working_set")))
		cJSON_AddStringToObject(v, "path", o->working_set);
	if (o->tap_tmpl && expand(o->tap_tmpl, i, tap, sizeof(tap), "--tap-template") == 0 &&
	    (nets = cJSON_AddArrayToObject(j, "network_overrides")) && (n = cJSON_CreateObject())) {
		cJSON_AddStringToObject(n, "iface_id", o->iface);
		cJSON_AddStringToObject(n, "host_dev_name", tap);
		cJSON_AddItemToArray(nets, n);
	}
	if (o->vsock_tmpl && expand(o->vsock_tmpl, i, vs, sizeof(vs), "--vsock-template") == 0 &&
	    (v = cJSON_AddObjectToObject(j, "vsock_override")))
		cJSON_AddStringToObject(v, "uds_path", vs);
	out = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	return out;
}

/* Private and shared KiB of a process (smaps_rollup); 0 if it is gone. */
static void rollup(pid_t pid, long *priv, long *shared)
{
	char path[64], line[256];
	FILE *f;

	*priv = *shared = 0;
	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	if (!(f = fopen(path, "re")))
		return;
	while (fgets(line, sizeof(line), f)) {
		long v;

		if (sscanf(line, "Private_%*[a-zA-Z]: %ld kB", &v) == 1)
			*priv += v;
		else if (sscanf(line, "Shared_%*[a-zA-Z]: %ld kB", &v) == 1)
			*shared += v;
	}
	fclose(f);
}

static void stop_all(struct clone *c, int n, int sig)
{
	for (int i = 0; i < n; i++)
		if (c[i].pid > 0 && !c[i].exited)
			kill(c[i].pid, sig);
}

int pool_main(int argc, char **argv)
{
	struct pool_opts o;
	struct clone *c;
	sigset_t set;
	int r, sfd, failed = 0, left;
	long tp = 0, ts = 0;
	char self[PATH_MAX];
	ssize_t sl;

	r = parse(argc, argv, &o);
	if (r != 0) {
		if (r < 0)
			fprintf(stderr, "ember pool: %s\n", err_msg());
		return r < 0 ? 2 : 0;
	}
	sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (sl <= 0) {
		fprintf(stderr, "ember pool: /proc/self/exe: %s\n", strerror(errno));
		return 1;
	}
	self[sl] = 0;
	c = calloc((size_t)o.count, sizeof(*c));
	if (!c)
		return 1;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	for (int i = 0; i < o.count && !failed; i++) {
		char resp[512], *body;
		pid_t pid;

		expand(o.sock_tmpl, i, c[i].sock, sizeof(c[i].sock), "--api-sock-template");
		unlink(c[i].sock);
		pid = fork();
		if (pid == 0) {
			char out[108];
			int in = open("/dev/null", O_RDONLY), fd = -1;

			sigprocmask(SIG_UNBLOCK, &set, NULL);
			if (o.out_tmpl &&
			    expand(o.out_tmpl, i, out, sizeof(out), "--stdout-template") == 0)
				fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			if (in < 0 || dup2(in, 0) < 0 ||
			    (o.out_tmpl && (fd < 0 || dup2(fd, 1) < 0)))
				_exit(127);
			execl(self, "ember", "--api-sock", c[i].sock, (char *)NULL);
			_exit(127);
		}
		if (pid < 0) {
			fprintf(stderr, "ember pool: fork: %s\n", strerror(errno));
			failed = 1;
			break;
		}
		c[i].pid = pid;
		resp[0] = 0;
		body = load_body(&o, i);
		r = body ? http_put(c[i].sock, "/snapshot/load", body, resp, sizeof(resp))
			 : -ENOMEM;
		free(body);
		if (r != 204) {
			char *b = strstr(resp, "\r\n\r\n");
			fprintf(stderr, "ember pool: clone %d: load: %s\n", i,
				r < 0 ? strerror(-r)
				: b   ? b + 4
				      : resp);
			failed = 1;
		}
	}
	if (!failed) {
		for (int i = 0; i < o.count; i++) {
			long p, s;

			rollup(c[i].pid, &p, &s);
			tp += p;
			ts += s;
			printf("ember pool: clone %d: pid %d, API %s, private %ld KiB, shared %ld "
			       "KiB\n",
			       i, (int)c[i].pid, c[i].sock, p, s);
		}
		printf("ember pool: %d clones of %s: private %ld KiB in all (%ld each on average), "
		       "shared %ld KiB\n",
		       o.count, o.snapshot, tp, tp / o.count, ts);
		fflush(stdout);
	} else {
		stop_all(c, o.count, SIGTERM);
	}
	left = 0;
	for (int i = 0; i < o.count; i++)
		left += c[i].pid > 0;
	while (left > 0 && sfd >= 0) {
		struct signalfd_siginfo si;
		pid_t pid;
		int st;

		if (read(sfd, &si, sizeof(si)) != sizeof(si))
			break;
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			stop_all(c, o.count, SIGTERM);
		while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
			for (int i = 0; i < o.count; i++)
				if (c[i].pid == pid && !c[i].exited) {
					c[i].exited = true;
					c[i].status = st;
					left--;
				}
	}
	for (int i = 0; i < o.count; i++)
		if (c[i].pid > 0 && c[i].exited &&
		    (!WIFEXITED(c[i].status) || WEXITSTATUS(c[i].status) != 0))
			failed = 1;
	free(c);
	return failed ? 1 : 0;
}
