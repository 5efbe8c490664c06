/* Starting and connecting to passt (see passt.h). */
#include "ember/passt.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ember/error.h"

int passt_find(char *out, size_t len)
{
	const char *env = getenv("EMBER_PASST"), *path = getenv("PATH");

	if (env && *env) {
		if (access(env, X_OK) < 0)
			return err_set(ENOENT, "passt: EMBER_PASST=%s is not executable", env);
		snprintf(out, len, "%s", env);
		return 0;
	}
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
	while (*path) {
		const char *end = strchrnul(path, ':');
		int n = (int)(end - path);

		if (n > 0 && snprintf(out, len, "%.*s/passt", n, path) < (int)len &&
		    access(out, X_OK) == 0)
			return 0;
		path = *end ? end + 1 : end;
	}
	return err_set(ENOENT, "--net passt: no passt on PATH (install the Debian package passt)");
}

/* The child between fork and exec: async-signal-safe calls only. */
static void child(const char *exe, char *const argv[], int fd, int devnull, int errpipe,
		  pid_t parent)
{
	sigset_t none;
	int e;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL); /* ember blocks signals for its signalfd */
	signal(SIGPIPE, SIG_DFL);
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
		goto fail;
	if (fcntl(fd, F_SETFD, 0) < 0) /* passt's end survives exec */
		goto fail;
	if (dup2(devnull, STDIN_FILENO) < 0 || dup2(devnull, STDOUT_FILENO) < 0)
		goto fail;
	execv(exe, argv);
fail:
	e = errno;
	if (write(errpipe, &e, sizeof(e)) < 0) {
		/* the parent sees EOF without a code */
	}
	_exit(127);
}

/* The FIFO passt writes its PID to (-P) once it is set up: in a fresh
 * directory others cannot list, writable by passt's user (root's passt
 * drops to nobody before it opens the file). *rfd: its read end. */
static int pid_fifo(char *dir, size_t dlen, char *path, size_t plen, int *rfd)
{
	const char *tmp = getenv("TMPDIR");

	*rfd = -1;
	if (snprintf(dir, dlen, "%s/ember-passt-XXXXXX", tmp && *tmp ? tmp : "/tmp") >= (int)dlen)
		return err_set(ENAMETOOLONG, "--net passt: TMPDIR too long");
	if (!mkdtemp(dir)) {
		*dir = 0;
		return err_set(errno, "--net passt: mkdtemp in %s: %s", tmp && *tmp ? tmp : "/tmp",
			       strerror(errno));
	}
	snprintf(path, plen, "%s/pid", dir);
	if (chmod(dir, 0711) < 0 || mkfifo(path, 0600) < 0 || chmod(path, 0622) < 0)
		return err_set(errno, "--net passt: %s: %s", path, strerror(errno));
	/* a reader first: passt's open for writing then does not block */
	*rfd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (*rfd < 0)
		return err_set(errno, "--net passt: %s: %s", path, strerror(errno));
	return 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Until passt has written its PID (it is past its options and set-up) or
 * has exited (a bad option, no user to drop to, ...: its own message is on
 * stderr already), at most PASST_START_TIMEOUT_MS. */
static int wait_started(const char *exe, pid_t p, int rfd)
{
	struct pollfd pf[2] = {{.fd = rfd, .events = POLLIN}, {.fd = -1, .events = POLLIN}};
	uint64_t deadline = now_ms() + PASST_START_TIMEOUT_MS, t;
	char buf[32];
	int st, r;

	/* pidfd_open(2) (Linux 5.3): passt's exit as an event; without it,
	 * its exit is looked for every 100 ms */
	pf[1].fd = (int)syscall(SYS_pidfd_open, p, 0);
	for (;;) {
		if (waitpid(p, &st, WNOHANG) == p) {
			if (WIFSIGNALED(st))
				r = err_set(ECHILD,
					    "--net passt: %s was killed by signal %d at start-up",
					    exe, WTERMSIG(st));
			else
				r = err_set(
				    ECHILD,
				    "--net passt: %s exited with status %d at start-up (its "
				    "own message is above)",
				    exe, WEXITSTATUS(st));
			break;
		}
		if ((t = now_ms()) >= deadline) {
			kill(p, SIGTERM);
			r = err_set(ETIMEDOUT, "--net passt: %s did not start within %d s", exe,
				    PASST_START_TIMEOUT_MS / 1000);
			break;
		}
		r = poll(pf, 2, pf[1].fd >= 0 ? (int)(deadline - t) : 100);
		if (r < 0 && errno != EINTR) {
			r = err_set(errno, "--net passt: poll: %s", strerror(errno));
			break;
		}
		if (r > 0 && (pf[0].revents & (POLLIN | POLLHUP))) {
			ssize_t n = read(rfd, buf, sizeof(buf));

			if (n > 0 || (n == 0 && (pf[0].revents & POLLHUP))) {
				r = 0; /* written (or opened and closed): it is running */
				break;
			}
		}
	}
	if (pf[1].fd >= 0)
		close(pf[1].fd);
	return r;
}

int passt_start(const struct net_cfg *cfg, int *fd, pid_t *pid)
{
	char exe[4096], fdarg[16], fwd[NET_PASST_MAX_FWD][16], dir[4096], pidpath[4200];
	char *argv[10 + 2 * NET_PASST_MAX_FWD];
	int sv[2] = {-1, -1}, ep[2] = {-1, -1}, devnull = -1, rfd = -1, argc = 0, e = 0, r;
	pid_t parent = getpid(), p;
	ssize_t n;

	*fd = -1;
	*pid = -1;
	*dir = 0;
	if ((r = passt_find(exe, sizeof(exe))) < 0)
		return r;
	if ((r = pid_fifo(dir, sizeof(dir), pidpath, sizeof(pidpath), &rfd)) < 0)
		goto out;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
	    pipe2(ep, O_CLOEXEC) < 0 || (devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) {
		r = err_set(errno, "--net passt: %s", strerror(errno));
		goto out;
	}
	snprintf(fdarg, sizeof(fdarg), "%d", sv[1]);
	argv[argc++] = "passt";
	argv[argc++] = "--foreground";
	argv[argc++] = "--quiet";
	argv[argc++] = "--fd";
	argv[argc++] = fdarg;
	for (int i = 0; i < cfg->npasst_fwd; i++) {
		snprintf(fwd[i], sizeof(fwd[i]), "%u:%u", cfg->passt_fwd[i].host,
			 cfg->passt_fwd[i].guest);
		argv[argc++] = "-t";
		argv[argc++] = fwd[i];
	}
	argv[argc++] = "-P";
	argv[argc++] = pidpath;
	argv[argc] = NULL;
	p = fork();
	if (p < 0) {
		r = err_set(errno, "--net passt: fork: %s", strerror(errno));
		goto out;
	}
	if (p == 0)
		child(exe, argv, sv[1], devnull, ep[1], parent);
	close(ep[1]);
	ep[1] = -1;
	/* EOF: exec worked (the pipe is close-on-exec); else the child's errno. */
	do
		n = read(ep[0], &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		r = err_set(e ? e : EIO, "--net passt: cannot run %s: %s", exe,
			    strerror(e ? e : EIO));
		waitpid(p, NULL, 0);
		goto out;
	}
	close(sv[1]); /* passt's end: its exit then closes the stream */
	sv[1] = -1;
	if ((r = wait_started(exe, p, rfd)) < 0)
		goto out;
	*fd = sv[0];
	*pid = p;
	sv[0] = -1;
	r = 0;
out:
	for (int i = 0; i < 2; i++) {
		if (sv[i] >= 0)
			close(sv[i]);
		if (ep[i] >= 0)
			close(ep[i]);
	}
	if (devnull >= 0)
		close(devnull);
	if (rfd >= 0)
		close(rfd);
	if (*dir) {
		unlink(pidpath);
		rmdir(dir);
	}
	return r;
}

int passt_connect(const char *path, int *fd)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int s, e;

	*fd = -1;
	if (strlen(path) >= sizeof(sa.sun_path))
		return err_set(ENAMETOOLONG, "passt socket %s: path too long", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0)
		return err_set(errno, "passt socket %s: %s", path, strerror(errno));
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		e = errno;
		close(s);
		return err_set(e, "passt socket %s: connect: %s%s", path, strerror(e),
			       e == EAGAIN ? " (passt busy with another client?)" : "");
	}
	*fd = s;
	return 0;
}
