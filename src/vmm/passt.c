/* Starting and connecting to passt (see passt.h). */
#include "ember/passt.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
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

int passt_start(const struct net_cfg *cfg, int *fd, pid_t *pid)
{
	char exe[4096], fdarg[16], fwd[NET_PASST_MAX_FWD][16];
	char *argv[8 + 2 * NET_PASST_MAX_FWD];
	int sv[2] = {-1, -1}, ep[2] = {-1, -1}, devnull = -1, argc = 0, e = 0, r;
	pid_t parent = getpid(), p;
	ssize_t n;

	*fd = -1;
	*pid = -1;
	if ((r = passt_find(exe, sizeof(exe))) < 0)
		return r;
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
		goto out;
	}
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
