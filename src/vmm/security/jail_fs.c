/* `ember jail`: the chroot directory. <base>/<exec name>/<id>/root gets the
 * exec file (copied, not linked), the shared libraries of a dynamically
 * linked ember, the --copy-in files and the device nodes. Everything is
 * created relative to directory fds with O_NOFOLLOW, so nothing in the tree
 * can redirect a write outside it. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "ember/error.h"
#include "jail_priv.h"

#define JAIL_EXEC_MAX (1ULL << 30) /* an exec file larger than this is a mistake */
#define JAIL_MAX_LIBS 64

int jail_fs_check_exec(const struct jail_config *cfg, struct jail_state *st)
{
	const char *path = cfg->exec_file;
	struct stat sb, self;
	void *img;
	int r;

	st->exec_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (st->exec_fd < 0) {
		int e = errno;

		if (e == ENOENT)
			return err_set(e, "exec file %s does not exist", path);
		return err_set(e, "exec file %s: %s", path, strerror(e));
	}
	if (fstat(st->exec_fd, &sb) < 0)
		return err_set(errno, "exec file %s: %s", path, strerror(errno));
	if (!S_ISREG(sb.st_mode))
		return err_set(EINVAL, "exec file %s is not a regular file", path);
	if (sb.st_size == 0 || (unsigned long long)sb.st_size > JAIL_EXEC_MAX)
		return err_set(ENOEXEC, "exec file %s: not an ELF executable (size %lld)", path,
			       (long long)sb.st_size);
	img = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, st->exec_fd, 0);
	if (img == MAP_FAILED)
		return err_set(errno, "exec file %s: mmap: %s", path, strerror(errno));
	r = jail_elf_interp(img, (size_t)sb.st_size, st->interp, sizeof(st->interp));
	munmap(img, (size_t)sb.st_size);
	if (r < 0)
		return err_wrap(-r, "exec file %s", path);
	st->exec_dynamic = r == 1;
	if (!st->exec_dynamic)
		return 0;
	/* The libraries are known (from the loader) only for the running binary. */
	if (stat("/proc/self/exe", &self) == 0 && self.st_dev == sb.st_dev &&
	    self.st_ino == sb.st_ino)
		return 0;
	if (stat("/proc/self/exe", &self) == 0 && self.st_size == sb.st_size) {
		int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
		void *a = MAP_FAILED, *b = MAP_FAILED;
		bool same = false;

		if (fd >= 0) {
			a = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
			b = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, st->exec_fd, 0);
			same = a != MAP_FAILED && b != MAP_FAILED &&
			       memcmp(a, b, (size_t)sb.st_size) == 0;
			if (a != MAP_FAILED)
				munmap(a, (size_t)sb.st_size);
			if (b != MAP_FAILED)
				munmap(b, (size_t)sb.st_size);
			close(fd);
		}
		if (same)
			return 0;
	}
	return err_set(EINVAL,
		       "exec file %s is dynamically linked (interpreter %s) but is not this ember "
		       "binary, so the jail cannot supply its shared libraries: pass a static "
		       "binary or this ember binary itself",
		       path, st->interp);
}

/* mkdir -p for a host path (the chroot base). */
static int mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return err_set(ENAMETOOLONG, "--chroot-base-dir is too long");
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;

			*p = '\0';
			if (mkdir(buf, 0755) < 0 && errno != EEXIST)
				return err_set(errno, "creating %s: %s", buf, strerror(errno));
			*p = c;
			if (!c)
				break;
		}
	}
	return 0;
}

/* Opens (creating it, root-owned 0755) the directory rel under dirfd; each
 * component must be a real directory, never a symlink. */
static int open_dir_p(int dirfd, const char *rel, const char *shown)
{
	char buf[PATH_MAX];
	int fd = dup(dirfd);
	char *save = NULL, *comp;

	if (fd < 0)
		return err_set(errno, "dup: %s", strerror(errno));
	if (strlen(rel) >= sizeof(buf)) {
		close(fd);
		return err_set(ENAMETOOLONG, "%s: path too long", shown);
	}
	strcpy(buf, rel);
	for (comp = strtok_r(buf, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
		int nfd;

		if (mkdirat(fd, comp, 0755) < 0 && errno != EEXIST) {
			int e = errno;

			close(fd);
			return err_set(e, "creating directory %s: %s", shown, strerror(e));
		}
		nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		if (nfd < 0)
			return err_set(errno, "opening directory %s: %s", shown, strerror(errno));
		fd = nfd;
	}
	return fd;
}

/* Copies all of src_fd (from offset 0) into dst_fd. */
static int copy_data(int src_fd, int dst_fd, off_t size, const char *shown)
{
	off_t off = 0;
	bool fallback = false;
	char buf[65536];

	while (off < size) {
		ssize_t n;

		if (!fallback) {
			n = copy_file_range(src_fd, &off, dst_fd, NULL, (size_t)(size - off), 0);
			if (n < 0 && off == 0 &&
			    (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
			     errno == EOPNOTSUPP || errno == EBADF)) {
				fallback = true;
				continue;
			}
		} else {
			n = pread(src_fd, buf, sizeof(buf), off);
			if (n > 0) {
				for (ssize_t w = 0; w < n;) {
					ssize_t k = write(dst_fd, buf + w, (size_t)(n - w));

					if (k < 0 && errno == EINTR)
						continue;
					if (k <= 0)
						return err_set(k < 0 ? errno : EIO,
							       "copying to %s: %s", shown,
							       strerror(k < 0 ? errno : EIO));
					w += k;
				}
				off += n;
			}
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_set(errno, "copying to %s: %s", shown, strerror(errno));
		if (n == 0)
			return err_set(EIO, "copying to %s: source file shrank", shown);
	}
	return 0;
}

/* Copies src_fd to <rootfd>/<dst> (dst absolute inside the jail), creating
 * parent directories; the new file gets mode and owner. */
static int copy_into(const struct jail_state *st, int rootfd, int src_fd, const char *dst,
		     mode_t mode, uid_t uid, gid_t gid)
{
	char shown[PATH_MAX * 2], parent[PATH_MAX];
	const char *name = strrchr(dst, '/') + 1;
	struct stat sb;
	int dirfd, fd, r = 0;

	snprintf(shown, sizeof(shown), "%s%s", st->root, dst);
	if (fstat(src_fd, &sb) < 0)
		return err_set(errno, "%s: %s", shown, strerror(errno));
	memcpy(parent, dst + 1, (size_t)(name - dst - 1));
	parent[name - dst - 1] = '\0';
	if (parent[0]) {
		dirfd = open_dir_p(rootfd, parent, shown);
		if (dirfd < 0)
			return dirfd;
	} else if ((dirfd = dup(rootfd)) < 0) {
		return err_set(errno, "dup: %s", strerror(errno));
	}
	/* A previous run's file (or whatever a jailed process left under that
	 * name: unlinkat never follows a symlink) is replaced. */
	if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT && errno != EISDIR) {
		r = err_set(errno, "replacing %s: %s", shown, strerror(errno));
		close(dirfd);
		return r;
	}
	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0) {
		r = err_set(errno, "creating %s: %s", shown, strerror(errno));
		close(dirfd);
		return r;
	}
	r = copy_data(src_fd, fd, sb.st_size, shown);
	if (r == 0 && fchmod(fd, mode) < 0) /* undo the umask */
		r = err_set(errno, "chmod %s: %s", shown, strerror(errno));
	if (r == 0 && fchown(fd, uid, gid) < 0)
		r = err_set(errno, "chown %s: %s", shown, strerror(errno));
	close(fd);
	close(dirfd);
	return r;
}

/* Copies the host file at path to the same path inside the jail (root:root,
 * the host file's mode bits without write for others). Already there: fine. */
static int copy_host_file(const struct jail_state *st, int rootfd, const char *path)
{
	struct stat sb;
	int fd, r;

	if (jail_check_jail_path(path, "shared library path") < 0)
		return -EINVAL;
	if (fstatat(rootfd, path + 1, &sb, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(errno, "shared library %s: %s", path, strerror(errno));
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return err_set(EINVAL, "shared library %s is not a regular file", path);
	}
	r = copy_into(st, rootfd, fd, path, sb.st_mode & 0755, 0, 0);
	close(fd);
	return r;
}

struct lib_list {
	char *names[JAIL_MAX_LIBS];
	int n;
	bool overflow;
};

static int collect_lib(struct dl_phdr_info *info, size_t size, void *data)
{
	struct lib_list *l = data;

	(void)size;
	if (!info->dlpi_name || info->dlpi_name[0] != '/') /* main program, vDSO */
		return 0;
	if (l->n >= JAIL_MAX_LIBS) {
		l->overflow = true;
		return 1;
	}
	l->names[l->n] = strdup(info->dlpi_name);
	if (l->names[l->n])
		l->n++;
	else
		l->overflow = true;
	return 0;
}

/* The interpreter and every shared object the loader mapped into this process
 * (the exec file is this binary: checked in jail_fs_check_exec). */
static int copy_libs(const struct jail_state *st, int rootfd)
{
	struct lib_list l = {.n = 0};
	int r;

	if ((r = copy_host_file(st, rootfd, st->interp)) < 0)
		return r;
	dl_iterate_phdr(collect_lib, &l);
	if (l.overflow)
		r = err_set(E2BIG, "too many shared libraries to copy into the jail");
	for (int i = 0; i < l.n; i++) {
		if (r == 0)
			r = copy_host_file(st, rootfd, l.names[i]);
		free(l.names[i]);
	}
	return r;
}

static int make_dev(int devfd, const char *name, unsigned maj, unsigned min,
		    const struct jail_config *cfg, const char *shown)
{
	if (unlinkat(devfd, name, 0) < 0 && errno != ENOENT)
		return err_set(errno, "replacing %s/%s: %s", shown, name, strerror(errno));
	if (mknodat(devfd, name, S_IFCHR | 0600, makedev(maj, min)) < 0)
		return err_set(errno, "mknod %s/%s (%u,%u): %s", shown, name, maj, min,
			       strerror(errno));
	if (fchmodat(devfd, name, 0600, 0) < 0 ||
	    fchownat(devfd, name, cfg->uid, cfg->gid, AT_SYMLINK_NOFOLLOW) < 0)
		return err_set(errno, "chown %s/%s: %s", shown, name, strerror(errno));
	return 0;
}

static int make_devices(const struct jail_config *cfg, const struct jail_state *st, int rootfd)
{
	char shown[PATH_MAX + 16];
	int devfd, netfd, r;

	snprintf(shown, sizeof(shown), "%s/dev", st->root);
	devfd = open_dir_p(rootfd, "dev", shown);
	if (devfd < 0)
		return devfd;
	r = make_dev(devfd, "kvm", 10, 232, cfg, shown);
	if (r == 0)
		r = make_dev(devfd, "urandom", 1, 9, cfg, shown);
	if (r == 0) {
		snprintf(shown, sizeof(shown), "%s/dev/net", st->root);
		netfd = open_dir_p(devfd, "net", shown);
		if (netfd < 0) {
			r = netfd;
		} else {
			r = make_dev(netfd, "tun", 10, 200, cfg, shown);
			close(netfd);
		}
	}
	close(devfd);
	return r;
}

static int copy_ins(const struct jail_config *cfg, const struct jail_state *st, int rootfd)
{
	for (size_t i = 0; i < cfg->n_copies; i++) {
		const struct jail_copy *c = &cfg->copies[i];
		struct stat sb;
		int fd = open(c->src, O_RDONLY | O_CLOEXEC), r;

		if (fd < 0)
			return err_set(errno, "--copy-in %s: %s", c->src, strerror(errno));
		if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
			close(fd);
			return err_set(EINVAL, "--copy-in %s: not a regular file", c->src);
		}
		r = copy_into(st, rootfd, fd, c->dst, sb.st_mode & 0777, cfg->uid, cfg->gid);
		close(fd);
		if (r < 0)
			return r;
	}
	return 0;
}

int jail_fs_prepare(const struct jail_config *cfg, struct jail_state *st)
{
	int execdir = -1, jailfd = -1, rootfd = -1, r;
	struct statvfs vfs;
	char path[PATH_MAX];

	if ((r = mkdir_p(cfg->chroot_base)) < 0)
		return r;
	if (!realpath(cfg->chroot_base, st->base))
		return err_set(errno, "--chroot-base-dir %s: %s", cfg->chroot_base,
			       strerror(errno));
	if ((r = jail_dir_path(cfg, st->base, st->jail_dir, sizeof(st->jail_dir))) < 0 ||
	    (r = jail_root_path(cfg, st->base, st->root, sizeof(st->root))) < 0)
		return r;
	if (snprintf(path, sizeof(path), "%s/%s", strcmp(st->base, "/") ? st->base : "",
		     cfg->exec_name) >= (int)sizeof(path))
		return err_set(ENAMETOOLONG, "jail path too long");
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return err_set(errno, "creating %s: %s", path, strerror(errno));
	execdir = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (execdir < 0)
		return err_set(errno, "opening %s: %s", path, strerror(errno));
	/* An existing jail directory is used as it is, as Firecracker's jailer
	 * does: Kata creates <base>/firecracker/<id>/root and bind-mounts the
	 * guest's files there before it runs the jailer, and the same --id runs
	 * again after the previous process exited. What ember puts there
	 * replaces what was there; nothing else in it is touched. */
	if (mkdirat(execdir, cfg->id, 0755) == 0) {
		st->created_jail_dir = true;
	} else if (errno != EEXIST) {
		r = err_set(errno, "creating %s: %s", st->jail_dir, strerror(errno));
		close(execdir);
		return r;
	}
	jailfd = openat(execdir, cfg->id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	close(execdir);
	if (jailfd < 0)
		return err_set(errno, "opening %s: %s", st->jail_dir, strerror(errno));
	if (fstatvfs(jailfd, &vfs) == 0 && (vfs.f_flag & (ST_NODEV | ST_NOEXEC))) {
		r = err_set(EINVAL,
			    "%s is on a file system mounted %s: the jail needs device nodes and "
			    "exec (pick another --chroot-base-dir)",
			    st->jail_dir, (vfs.f_flag & ST_NODEV) ? "nodev" : "noexec");
		goto out;
	}
	if (mkdirat(jailfd, "root", 0755) < 0 && errno != EEXIST) {
		r = err_set(errno, "creating %s: %s", st->root, strerror(errno));
		goto out;
	}
	rootfd = openat(jailfd, "root", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (rootfd < 0) {
		r = err_set(errno, "opening %s: %s", st->root, strerror(errno));
		goto out;
	}
	snprintf(path, sizeof(path), "/%s", cfg->exec_name);
	if ((r = copy_into(st, rootfd, st->exec_fd, path, 0755, 0, 0)) < 0)
		goto out;
	if (st->exec_dynamic && (r = copy_libs(st, rootfd)) < 0)
		goto out;
	if ((r = make_devices(cfg, st, rootfd)) < 0)
		goto out;
	if ((r = copy_ins(cfg, st, rootfd)) < 0)
		goto out;
	/* the jailed process creates its API socket, logs etc. here */
	if (fchmod(rootfd, 0755) < 0 || fchown(rootfd, cfg->uid, cfg->gid) < 0)
		r = err_set(errno, "chown %s: %s", st->root, strerror(errno));
out:
	if (rootfd >= 0)
		close(rootfd);
	close(jailfd);
	return r;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

void jail_fs_cleanup(struct jail_state *st)
{
	if (st->root_mounted) {
		umount2(st->root, MNT_DETACH);
		st->root_mounted = false;
	}
	if (st->created_jail_dir) {
		nftw(st->jail_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
		st->created_jail_dir = false;
	}
}
