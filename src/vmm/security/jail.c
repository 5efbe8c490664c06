/* `ember jail`: Firecracker's jailer in the ember binary (see ember/jail.h).
 *
 * Order: validate everything (arguments, exec file, cgroup controllers,
 * netns) before creating anything; build the chroot and the cgroup leaf; set
 * rlimits; join the netns; move into the cgroup; new mount namespace +
 * pivot_root. Until the pivot, any failure removes what was created. Then:
 * optional pid namespace, optional daemonize, uid/gid switch, every
 * capability dropped (bounding set too), no_new_privs, exec with an empty
 * environment. */
#include "ember/jail.h"

#include <cap-ng.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ember/error.h"
#include "jail_priv.h"

static void close_fds_above_2(void)
{
	if (syscall(SYS_close_range, 3, ~0U, 0) == 0) /* no wrapper in musl 1.2.3 */
		return;
	for (int fd = 3; fd < 65536; fd++)
		close(fd);
}

static int check_privileges(void)
{
	static const int need[] = {CAP_SYS_ADMIN, CAP_MKNOD,   CAP_CHOWN,     CAP_SETUID,
				   CAP_SETGID,	  CAP_SETPCAP, CAP_SYS_CHROOT};

	if (capng_get_caps_process() < 0)
		return err_set(EPERM, "cannot read this process's capabilities");
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		if (!capng_have_capability(CAPNG_EFFECTIVE, (unsigned)need[i]))
			return err_set(EPERM,
				       "ember jail must run as root (it lacks the %s capability)",
				       capng_capability_to_name((unsigned)need[i]));
	return 0;
}

static int open_netns(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), t;

	if (fd < 0)
		return err_set(errno, "--netns %s: %s", path, strerror(errno));
	t = ioctl(fd, NS_GET_NSTYPE);
	if (t != CLONE_NEWNET) {
		close(fd);
		return err_set(EINVAL, "--netns %s is not a network namespace", path);
	}
	return fd;
}

static int set_rlimits(const struct jail_config *cfg)
{
	bool nofile = false;

	for (size_t i = 0; i < cfg->n_rlimits; i++) {
		const struct jail_rlimit *rl = &cfg->rlimits[i];
		struct rlimit lim = {rl->value, rl->value};

		nofile |= rl->resource == RLIMIT_NOFILE;
		if (setrlimit(rl->resource, &lim) < 0)
			return err_set(errno, "--resource-limit %s=%llu: %s%s", rl->name,
				       (unsigned long long)rl->value, strerror(errno),
				       rl->resource == RLIMIT_NOFILE && errno == EPERM
					   ? " (above fs.nr_open?)"
					   : "");
	}
	if (!nofile) {
		struct rlimit lim = {JAIL_DEFAULT_NOFILE, JAIL_DEFAULT_NOFILE};

		if (setrlimit(RLIMIT_NOFILE, &lim) < 0)
			return err_set(errno, "setting no-file=%d: %s", JAIL_DEFAULT_NOFILE,
				       strerror(errno));
	}
	return 0;
}

/* New mount namespace whose root is st->root; the host tree is unmounted. */
static int enter_root(struct jail_state *st)
{
	if (unshare(CLONE_NEWNS) < 0)
		return err_set(errno, "unshare(CLONE_NEWNS): %s", strerror(errno));
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return err_set(errno, "making / private: %s", strerror(errno));
	if (mount(st->root, st->root, NULL, MS_BIND, NULL) < 0)
		return err_set(errno, "bind-mounting %s: %s", st->root, strerror(errno));
	st->root_mounted = true;
	if (chdir(st->root) < 0)
		return err_set(errno, "chdir %s: %s", st->root, strerror(errno));
	if (mkdir("old_root", 0700) < 0)
		return err_set(errno, "creating %s/old_root: %s", st->root, strerror(errno));
	if (syscall(SYS_pivot_root, ".", "old_root") < 0) {
		int e = errno;

		rmdir("old_root");
		return err_set(e, "pivot_root to %s: %s", st->root, strerror(e));
	}
	/* From here the jail directory cannot be removed on failure any more. */
	st->root_mounted = false;
	st->created_jail_dir = false;
	if (umount2("/old_root", MNT_DETACH) < 0)
		return err_set(errno, "unmounting the old root: %s", strerror(errno));
	if (rmdir("/old_root") < 0)
		return err_set(errno, "removing /old_root: %s", strerror(errno));
	if (chroot(".") < 0 || chdir("/") < 0)
		return err_set(errno, "chroot: %s", strerror(errno));
	return 0;
}

/* New pid namespace: the child (pid 1 there) goes on, the parent records the
 * child's pid in /<exec name>.pid and exits. Returns 1 in the parent. */
static int new_pid_ns(const struct jail_config *cfg)
{
	char path[NAME_MAX + 8], buf[32];
	pid_t pid;
	int fd, n;

	if (unshare(CLONE_NEWPID) < 0)
		return err_set(errno, "unshare(CLONE_NEWPID): %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		return err_set(errno, "fork: %s", strerror(errno));
	if (pid == 0)
		return 0;
	signal(SIGXFSZ, SIG_IGN); /* a tiny fsize limit gives EFBIG, not a signal */
	snprintf(path, sizeof(path), "/%s.pid", cfg->exec_name);
	n = snprintf(buf, sizeof(buf), "%d\n", (int)pid);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, buf, (size_t)n) != n) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		kill(pid, SIGKILL);
		return err_set(e, "writing the pid file %s: %s", path, strerror(e));
	}
	close(fd);
	return 1;
}

/* setsid (forking first if we lead a process group) and stdio to /dev/null.
 * Returns 1 in a parent that must exit. */
static int daemonize(int devnull)
{
	if (setsid() < 0) {
		pid_t pid;

		if (errno != EPERM)
			return err_set(errno, "setsid: %s", strerror(errno));
		pid = fork();
		if (pid < 0)
			return err_set(errno, "fork: %s", strerror(errno));
		if (pid > 0)
			return 1;
		if (setsid() < 0)
			return err_set(errno, "setsid: %s", strerror(errno));
	}
	for (int fd = 0; fd < 3; fd++)
		if (dup2(devnull, fd) < 0)
			return err_set(errno, "redirecting fd %d to /dev/null: %s", fd,
				       strerror(errno));
	close(devnull);
	return 0;
}

static int drop_privileges(const struct jail_config *cfg)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	/* The bounding set first: dropping it needs CAP_SETPCAP. */
	capng_clear(CAPNG_SELECT_ALL);
	if (capng_apply(CAPNG_SELECT_BOUNDS) < 0)
		return err_set(EPERM, "clearing the capability bounding set failed");
	if (setgroups(0, NULL) < 0)
		return err_set(errno, "setgroups: %s", strerror(errno));
	if (setresgid(cfg->gid, cfg->gid, cfg->gid) < 0)
		return err_set(errno, "setting gid %u: %s", (unsigned)cfg->gid, strerror(errno));
	if (setresuid(cfg->uid, cfg->uid, cfg->uid) < 0)
		return err_set(errno, "setting uid %u: %s", (unsigned)cfg->uid, strerror(errno));
	/* setresuid to non-root cleared them already; uid 0 needs this */
	capng_clear(CAPNG_SELECT_ALL);
	if (capng_apply(CAPNG_SELECT_CAPS) < 0)
		return err_set(EPERM, "clearing the capability sets failed");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return err_set(errno, "clearing ambient capabilities: %s", strerror(errno));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return err_set(errno, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));

	/* Verify rather than trust. */
	if (capng_get_caps_process() < 0 ||
	    capng_have_capabilities(CAPNG_SELECT_CAPS) != CAPNG_NONE ||
	    capng_have_capabilities(CAPNG_SELECT_BOUNDS) != CAPNG_NONE)
		return err_set(EPERM, "capabilities remain after dropping them");
	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0 || ru != cfg->uid ||
	    eu != cfg->uid || su != cfg->uid || rg != cfg->gid || eg != cfg->gid || sg != cfg->gid)
		return err_set(EPERM, "uid/gid did not change to %u:%u", (unsigned)cfg->uid,
			       (unsigned)cfg->gid);
	return 0;
}

static void reset_signals(void)
{
	sigset_t none;

	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL); /* fails harmlessly for SIGKILL, SIGSTOP, libc's */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Everything up to the pivot; on failure undoes what it created. */
static int build_jail(const struct jail_config *cfg, struct jail_state *st, int *devnull)
{
	int netns = -1, r;

	if ((r = check_privileges()) < 0 || (r = jail_fs_check_exec(cfg, st)) < 0 ||
	    (r = jail_cgroup_check(cfg, st)) < 0)
		return r;
	if (cfg->netns && (netns = open_netns(cfg->netns)) < 0)
		return netns;
	if (cfg->daemonize && (*devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) {
		r = err_set(errno, "/dev/null: %s", strerror(errno));
		goto out;
	}
	if ((r = jail_fs_prepare(cfg, st)) < 0 || (r = jail_cgroup_setup(cfg, st)) < 0 ||
	    (r = set_rlimits(cfg)) < 0)
		goto out;
	if (netns >= 0 && setns(netns, CLONE_NEWNET) < 0) {
		r = err_set(errno, "joining --netns %s: %s", cfg->netns, strerror(errno));
		goto out;
	}
	if ((r = jail_cgroup_enter(cfg, st)) < 0)
		goto out;
	r = enter_root(st);
out:
	if (netns >= 0)
		close(netns);
	if (r < 0) {
		jail_cgroup_cleanup(st);
		jail_fs_cleanup(st);
	}
	return r;
}

/* Firecracker's jailer clears the environment. */
static char *jail_envp[] = {NULL};

#if defined(__SANITIZE_ADDRESS__)
/* Sanitizer builds only: LeakSanitizer needs /proc (and reads ASAN_OPTIONS
 * from /proc/self/environ), which a jailed ember does not have, so it turns
 * itself off there. Called by the ASan runtime before main. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return access("/proc/self/maps", R_OK) == 0 ? "" : "detect_leaks=0";
}
#endif

/* Returns 1 in a parent that should exit successfully, -errno on failure;
 * does not return on success. *jailed tells whether it returns inside the
 * jail (no cleanup possible there). */
static int run(const struct jail_config *cfg, bool *jailed)
{
	static struct jail_state st;
	char exec_path[NAME_MAX + 2];
	char **av;
	int devnull = -1, r;

	memset(&st, 0, sizeof(st));
	st.exec_fd = -1;
	umask(022);
	close_fds_above_2();
	r = build_jail(cfg, &st, &devnull);
	if (st.exec_fd >= 0)
		close(st.exec_fd);
	if (r < 0)
		return r;
	*jailed = true;
	if (cfg->new_pid_ns && (r = new_pid_ns(cfg)) != 0)
		return r;
	if (cfg->daemonize && (r = daemonize(devnull)) != 0)
		return r;
	reset_signals();
	if ((r = drop_privileges(cfg)) < 0)
		return r;
	av = jail_exec_argv(cfg);
	if (!av)
		return err_set(ENOMEM, "out of memory");
	snprintf(exec_path, sizeof(exec_path), "/%s", cfg->exec_name);
	execve(exec_path, av, jail_envp);
	r = err_set(errno, "exec %s inside the jail: %s", exec_path, strerror(errno));
	free(av);
	return r;
}

int jail_main(int argc, char **argv)
{
	struct jail_config cfg;
	bool jailed = false;
	int r;

	r = jail_parse_args(argc, argv, &cfg);
	if (r == 1) {
		jail_print_help();
		jail_config_free(&cfg);
		return 0;
	}
	if (r == 0)
		r = run(&cfg, &jailed);
	if (r < 0)
		fprintf(stderr, "ember jail: %s\n", err_msg());
	if (jailed) {
		/* Inside the chroot (a parent whose child goes on, or a failure
		 * after the pivot): no exit handlers there. */
		fflush(NULL);
		_exit(r < 0 ? 1 : 0);
	}
	jail_config_free(&cfg);
	return r < 0 ? 1 : 0;
}
