/* One-shot runs: the initramfs around a host command (see oneshot.h). */
#include "ember/oneshot.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "ember/arch.h"
#include "ember/cpio.h"
#include "ember/elfdeps.h"
#include "ember/error.h"
#include "ember/loader.h"
#include "ember/measure.h"
#include "ember/oneshot_abi.h"
#include "ember/util.h"

/* firmware/oneshot-init, linked in by the Makefile (oneshot_blob.S) */
extern const unsigned char ember_oneshot_init[], ember_oneshot_init_end[];

#define MAX_MODULES 64
#define MODULE_DIR_IN_IMAGE "/lib/modules/ember"
#define MAX_DEP_FILE (16ULL << 20)

int oneshot_module_names(const struct vm_config *cfg, const char **names, int max)
{
	int n = 0;

#define ADD(x)                                                                                     \
	do {                                                                                       \
		if (n < max)                                                                       \
			names[n++] = (x);                                                          \
	} while (0)
	if (cfg->ndrives || cfg->nnets || cfg->vsock.present || cfg->balloon.present ||
	    cfg->entropy.present || cfg->npmems || cfg->memory_hotplug.present)
		ADD("virtio_mmio");
	if (cfg->ndrives)
		ADD("virtio_blk");
	if (cfg->nnets)
		ADD("virtio_net");
	if (cfg->vsock.present)
		ADD("vmw_vsock_virtio_transport");
	if (cfg->balloon.present)
		ADD("virtio_balloon");
	if (cfg->entropy.present)
		ADD("virtio_rng");
	if (cfg->npmems)
		ADD("virtio_pmem");
	if (cfg->memory_hotplug.present)
		ADD("virtio_mem");
#undef ADD
	return n;
}

/* "kernel/drivers/block/virtio_blk.ko.xz" -> does it name module `name`
 * ('-' and '_' alike)? */
static bool is_module(const char *path, size_t len, const char *name)
{
	const char *base = path, *p;
	size_t n;

	for (p = path; p < path + len; p++)
		if (*p == '/')
			base = p + 1;
	n = (size_t)(path + len - base);
	for (p = base; p < base + n && *p != '.'; p++)
		;
	if ((size_t)(p - base) != strlen(name) || strncmp(p, ".ko", 3) != 0)
		return false;
	for (size_t i = 0; i < strlen(name); i++) {
		char a = base[i] == '-' ? '_' : base[i], b = name[i] == '-' ? '_' : name[i];

		if (a != b)
			return false;
	}
	return true;
}

/* The line of modules.dep for name: [*start, *end) is the module's path,
 * *deps the rest of the line (NUL-terminated copy in dep). */
static const char *find_line(const char *text, const char *name, size_t *plen)
{
	for (const char *l = text; *l;) {
		const char *nl = strchrnul(l, '\n'), *colon = memchr(l, ':', (size_t)(nl - l));

		if (colon && is_module(l, (size_t)(colon - l), name)) {
			*plen = (size_t)(colon - l);
			return l;
		}
		l = *nl ? nl + 1 : nl;
	}
	return NULL;
}

static bool builtin(const char *text, const char *name)
{
	for (const char *l = text; text && *l;) {
		const char *nl = strchrnul(l, '\n');

		if (is_module(l, (size_t)(nl - l), name))
			return true;
		l = *nl ? nl + 1 : nl;
	}
	return false;
}

/* A whole text file, NUL-terminated. */
static int read_text(const char *path, uint8_t **out)
{
	uint8_t *buf, *nb;
	size_t len;
	int r = read_whole_file(path, MAX_DEP_FILE, &buf, &len);

	if (r < 0)
		return r;
	nb = realloc(buf, len + 1);
	if (!nb) {
		free(buf);
		return -ENOMEM;
	}
	nb[len] = 0;
	*out = nb;
	return 0;
}

struct modres {
	const char *dir, *dep, *builtin;
	char **paths;
	int n;
};

/* name (a module path's base name, or a name) and its dependencies first. */
static int resolve(struct modres *m, const char *name, int depth)
{
	size_t plen;
	const char *l = find_line(m->dep, name, &plen), *d, *nl;
	char path[PATH_MAX];

	if (depth > 16)
		return err_set(ELOOP, "modules.dep: dependencies of %s nested too deep", name);
	if (!l)
		return 0; /* built in, or not in this kernel: nothing to load */
	snprintf(path, sizeof(path), "%s/%.*s", m->dir, (int)plen, l);
	for (int i = 0; i < m->n; i++)
		if (strcmp(m->paths[i], path) == 0)
			return 0;
	/* dependencies: the words after ':', loaded last-listed first */
	nl = strchrnul(l, '\n');
	d = l + plen + 1;
	for (const char *end = nl; end > d;) {
		const char *w = end;
		char dep[256];
		int r;

		while (w > d && w[-1] == ' ')
			w--;
		end = w;
		while (w > d && w[-1] != ' ')
			w--;
		if (end > w) {
			/* the dep's base name, without .ko* */
			const char *b = w, *p;

			for (p = w; p < end; p++)
				if (*p == '/')
					b = p + 1;
			for (p = b; p < end && *p != '.'; p++)
				;
			snprintf(dep, sizeof(dep), "%.*s", (int)(p - b), b);
			if ((r = resolve(m, dep, depth + 1)) < 0)
				return r;
		}
		end = w;
	}
	if (m->n >= MAX_MODULES)
		return err_set(E2BIG, "more than %d kernel modules", MAX_MODULES);
	if (!(m->paths[m->n] = strdup(path)))
		return err_set(ENOMEM, "out of memory");
	m->n++;
	return 0;
}

int oneshot_resolve_modules(const char *dir, const char *const *names, int nnames, char ***paths,
			    int *n)
{
	struct modres m = {.dir = dir};
	char path[PATH_MAX];
	uint8_t *dep = NULL, *bi = NULL;
	int r = 0;

	*paths = NULL;
	*n = 0;
	if (nnames == 0)
		return 0;
	snprintf(path, sizeof(path), "%s/modules.dep", dir);
	if ((r = read_text(path, &dep)) < 0)
		return err_set(-r, "kernel modules: %s: %s", path, strerror(-r));
	snprintf(path, sizeof(path), "%s/modules.builtin", dir);
	if (read_text(path, &bi) < 0)
		bi = NULL; /* optional */
	err_clear();
	m.dep = (const char *)dep;
	m.builtin = (const char *)bi;
	m.paths = calloc(MAX_MODULES, sizeof(char *));
	if (!m.paths) {
		r = err_set(ENOMEM, "out of memory");
		goto out;
	}
	for (int i = 0; i < nnames && r == 0; i++) {
		size_t pl;

		if (builtin(m.builtin, names[i]) || !find_line(m.dep, names[i], &pl))
			continue;
		r = resolve(&m, names[i], 0);
	}
	if (r < 0) {
		for (int i = 0; i < m.n; i++)
			free(m.paths[i]);
		free(m.paths);
	} else {
		*paths = m.paths;
		*n = m.n;
	}
out:
	free(dep);
	free(bi);
	return r;
}

/* ---- the image ---- */

struct image {
	struct cpio c;
	int ndirs;
	char *dirs[1024];
};

/* Every parent directory of path, once. */
static int add_parents(struct image *im, const char *path)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s", path);
	for (char *p = dir + 1; (p = strchr(p, '/')); p++) {
		bool seen = false;

		*p = 0;
		for (int i = 0; i < im->ndirs && !seen; i++)
			seen = strcmp(im->dirs[i], dir) == 0;
		if (!seen) {
			if (im->ndirs >= (int)ARRAY_SIZE(im->dirs) ||
			    !(im->dirs[im->ndirs] = strdup(dir)))
				return err_set(ENOMEM, "initramfs: too many directories");
			im->ndirs++;
			cpio_add_dir(&im->c, dir, 0755);
		}
		*p = '/';
	}
	return 0;
}

static int add_host_file(struct image *im, const char *host, const char *in_image)
{
	struct stat st;
	uint8_t *buf;
	size_t len;
	int r;

	if (stat(host, &st) < 0)
		return err_set(errno, "%s: %s", host, strerror(errno));
	if ((r = read_whole_file(host, 1ULL << 30, &buf, &len)) < 0)
		return r;
	if ((r = add_parents(im, in_image)) == 0)
		r = cpio_add_file(&im->c, in_image, st.st_mode & 07777, buf, len);
	free(buf);
	return r < 0 ? err_set(-r, "initramfs: adding %s: %s", host, strerror(-r)) : 0;
}

/* A kernel module, decompressed, as MODULE_DIR_IN_IMAGE/NAME.ko. */
static int add_module(struct image *im, const char *host, char *in_image, size_t cap)
{
	const char *base = strrchr(host, '/') ? strrchr(host, '/') + 1 : host;
	uint8_t *buf, *raw = NULL;
	size_t len, rlen;
	int r, n = (int)strcspn(base, ".");

	if ((r = read_whole_file(host, 256ULL << 20, &buf, &len)) < 0)
		return r;
	if (len >= 4 && memcmp(buf, "\177ELF", 4) != 0) {
		r = loader_decompress(buf, len, 256ULL << 20, &raw, &rlen);
		free(buf);
		if (r < 0)
			return err_set(-r, "kernel module %s: cannot decompress it", host);
		buf = raw;
		len = rlen;
	}
	snprintf(in_image, cap, "%s/%.*s.ko", MODULE_DIR_IN_IMAGE, n, base);
	if ((r = add_parents(im, in_image)) == 0)
		r = cpio_add_file(&im->c, in_image, 0644, buf, len);
	free(buf);
	return r;
}

/* CMD on PATH (as execvp finds it) unless it names a path. */
static int find_cmd(const char *cmd, char *out, size_t cap)
{
	const char *path = getenv("PATH");

	if (strchr(cmd, '/')) {
		if (!realpath(cmd, out) && snprintf(out, cap, "%s", cmd) >= (int)cap)
			return err_set(ENAMETOOLONG, "%s: path too long", cmd);
		if (access(out, X_OK) < 0)
			return err_set(errno, "%s: %s", cmd, strerror(errno));
		/* keep the name as given (absolute) when it is: symlinks like
		 * busybox applets must keep their name */
		if (cmd[0] == '/')
			snprintf(out, cap, "%s", cmd);
		return 0;
	}
	for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
		const char *end = strchrnul(p, ':');

		if (end > p && snprintf(out, cap, "%.*s/%s", (int)(end - p), p, cmd) < (int)cap &&
		    access(out, X_OK) == 0 && out[0] == '/')
			return 0;
		p = *end ? end + 1 : end;
	}
	return err_set(ENOENT, "%s: command not found on PATH", cmd);
}

/* The stat tuple of path into the input hash. */
static int hash_file(struct measure_stream *h, const char *path)
{
	struct stat st;
	char line[PATH_MAX + 128];
	int n;

	if (stat(path, &st) < 0)
		return err_set(errno, "%s: %s", path, strerror(errno));
	n = snprintf(line, sizeof(line), "%s %lld %lld.%09ld %llu %llu %o\n", path,
		     (long long)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
		     (unsigned long long)st.st_ino, (unsigned long long)st.st_dev, st.st_mode);
	return measure_add(h, line, (size_t)n);
}

static int cache_dir(char *out, size_t cap)
{
	const char *x = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	char tmp[PATH_MAX];

	if (x && *x)
		snprintf(tmp, sizeof(tmp), "%s/ember/oneshot", x);
	else if (home && *home)
		snprintf(tmp, sizeof(tmp), "%s/.cache/ember/oneshot", home);
	else
		snprintf(tmp, sizeof(tmp), "/tmp/ember-oneshot-%u", (unsigned)getuid());
	snprintf(out, cap, "%s", tmp);
	for (char *p = tmp + 1;; p++) {
		char c = *p;

		if (c != '/' && c != 0)
			continue;
		*p = 0;
		if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
			return err_set(errno, "one-shot cache %s: %s", tmp, strerror(errno));
		*p = c;
		if (!c)
			break;
	}
	return 0;
}

static int write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), e;
	size_t off = 0;

	if (fd < 0)
		return err_set(errno, "%s: %s", path, strerror(errno));
	while (off < len) {
		ssize_t w = write(fd, (const uint8_t *)buf + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			e = w < 0 ? errno : EIO;
			close(fd);
			return err_set(e, "%s: %s", path, strerror(e));
		}
		off += (size_t)w;
	}
	if (close(fd) < 0)
		return err_set(errno, "%s: %s", path, strerror(errno));
	return 0;
}

static int copy_file(const char *from, const char *to)
{
	uint8_t *buf;
	size_t len;
	int r = read_whole_file(from, 1ULL << 32, &buf, &len);

	if (r < 0)
		return r;
	r = write_file(to, buf, len);
	free(buf);
	return r;
}

struct inputs {
	char cmd[PATH_MAX];
	struct elfdeps files;
	char **mods;
	int nmods;
};

static void inputs_free(struct inputs *in)
{
	elfdeps_free(&in->files);
	for (int i = 0; i < in->nmods; i++)
		free(in->mods[i]);
	free(in->mods);
}

static int gather(const struct vm_config *cfg, struct inputs *in)
{
	const struct oneshot_cfg *o = &cfg->oneshot;
	const char *names[10];
	char dir[PATH_MAX];
	struct utsname u;
	struct stat st;
	int n, r;

	if ((r = find_cmd(o->argv[0], in->cmd, sizeof(in->cmd))) < 0 ||
	    (r = elfdeps_add(&in->files, in->cmd)) < 0)
		return r;
	for (int i = 0; i < o->ncopy; i++)
		if ((r = elfdeps_add(&in->files, o->copy[i])) < 0)
			return err_wrap(-r, "--copy %s", o->copy[i]);
	n = oneshot_module_names(cfg, names, (int)ARRAY_SIZE(names));
	if (o->modules_dir) {
		snprintf(dir, sizeof(dir), "%s", o->modules_dir);
		if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
			return err_set(ENOENT, "--modules %s: no such directory", dir);
	} else {
		if (uname(&u) < 0)
			return err_set(errno, "uname: %s", strerror(errno));
		snprintf(dir, sizeof(dir), "/lib/modules/%s", u.release);
		if (n == 0)
			return 0; /* no device: no module needed */
		if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
			return err_set(ENOENT,
				       "kernel modules: no %s (the devices need modules; "
				       "--modules DIR names another tree)",
				       dir);
	}
	return oneshot_resolve_modules(dir, names, n, &in->mods, &in->nmods);
}

static int build(const struct vm_config *cfg, const struct inputs *in, struct cpio *out)
{
	const struct oneshot_cfg *o = &cfg->oneshot;
	struct image im = {.ndirs = 0};
	char modlist[MAX_MODULES * 128] = "", m[PATH_MAX];
	uint8_t *argv = NULL;
	size_t alen = 0;
	int r = 0;

	cpio_init(&im.c);
	cpio_add_dir(&im.c, "dev", 0755);
	cpio_add_chardev(&im.c, "dev/console", 0600, 5, 1);
	cpio_add_dir(&im.c, "proc", 0555);
	cpio_add_dir(&im.c, "sys", 0555);
	cpio_add_dir(&im.c, "tmp", 01777);
	cpio_add_dir(&im.c, "root", 0700);
	cpio_add_dir(&im.c, "ember", 0755);
	im.dirs[im.ndirs++] = strdup("/ember");
	cpio_add_file(&im.c, "init", 0755, ember_oneshot_init,
		      (size_t)(ember_oneshot_init_end - ember_oneshot_init));
	for (int i = 0; i < in->files.n && r == 0; i++)
		r = add_host_file(&im, in->files.path[i], in->files.path[i]);
	for (int i = 0; i < in->nmods && r == 0; i++) {
		if ((r = add_module(&im, in->mods[i], m, sizeof(m))) == 0) {
			strncat(modlist, m, sizeof(modlist) - strlen(modlist) - 2);
			strcat(modlist, "\n");
		}
	}
	for (int i = 0; i < o->argc && r == 0; i++) {
		const char *a = i == 0 ? in->cmd : o->argv[i];
		size_t l = strlen(a) + 1;
		uint8_t *nb = realloc(argv, alen + l);

		if (!nb) {
			r = err_set(ENOMEM, "out of memory");
			break;
		}
		argv = nb;
		memcpy(argv + alen, a, l);
		alen += l;
	}
	if (r == 0) {
		char exit_reg[32];
		int l = snprintf(exit_reg, sizeof(exit_reg), "0x%llx\n",
				 (unsigned long long)arch_layout.oneshot_exit.addr);

		cpio_add_file(&im.c, ONESHOT_EXIT_FILE, 0644, exit_reg, (size_t)l);
		cpio_add_file(&im.c, ONESHOT_ARGV_FILE, 0644, argv, alen);
		if (o->stdin_vsock)
			cpio_add_file(&im.c, ONESHOT_STDIN_FILE, 0644, "", 0);
		else if (o->stdin_null)
			cpio_add_file(&im.c, ONESHOT_STDIN_NULL_FILE, 0644, "", 0);
		if (in->nmods)
			cpio_add_file(&im.c, ONESHOT_MODULES_FILE, 0644, modlist, strlen(modlist));
		if (cpio_finish(&im.c) < 0)
			r = err_set(-im.c.err, "initramfs: %s", strerror(-im.c.err));
	}
	free(argv);
	for (int i = 0; i < im.ndirs; i++)
		free(im.dirs[i]);
	if (r < 0) {
		cpio_free(&im.c);
		return r;
	}
	*out = im.c;
	return 0;
}

/* CMD's stdin over vsock: a vsock device if none is configured, its Unix
 * socket a fresh name in $TMPDIR (removed when the VM ends). */
static int stdin_vsock(struct vm_config *cfg)
{
	const char *tmp = getenv("TMPDIR");
	struct vsock_cfg *v = &cfg->vsock;
	uint32_t rnd = 0;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int n;

	if (v->present)
		return 0; /* the stream is "<uds_path>_<ONESHOT_STDIN_PORT>" */
	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) < 0)
		rnd = (uint32_t)getpid() * 2654435761u;
	n = snprintf(path, sizeof(path), "%s/ember-%d-%08x.vsock", tmp && *tmp ? tmp : "/tmp",
		     (int)getpid(), rnd);
	/* room for "_<port>" after it */
	if (n < 0 || (size_t)n + 12 >= sizeof(path))
		return err_set(ENAMETOOLONG, "one-shot stdin: TMPDIR %s is too long", tmp);
	if (!(v->uds_path = strdup(path)))
		return err_set(ENOMEM, "out of memory");
	v->present = true;
	v->guest_cid = 3;
	return 0;
}

int oneshot_prepare(struct vm_config *cfg)
{
	const struct oneshot_cfg *o = &cfg->oneshot;
	struct inputs in = {.nmods = 0};
	struct measure_stream *h = NULL;
	char hex[MEASURE_HEX_LEN], dir[PATH_MAX], path[PATH_MAX + 80], tmp[PATH_MAX + 96];
	struct cpio c;
	int r;

	if (!o->present)
		return 0;
	if (o->argc < 1 || !o->argv || !o->argv[0] || !*o->argv[0])
		return err_set(EINVAL, "nothing to run after --");
	if (cfg->boot.initrd_path)
		return err_set(EINVAL, "--initrd and a command after -- exclude each other");
	if (o->stdin_vsock && (r = stdin_vsock(cfg)) < 0)
		return r;
	if ((r = gather(cfg, &in)) < 0)
		goto out;
	/* the cache key: everything the image is made of */
	if ((r = measure_begin(&h)) < 0 || (r = measure_add(h, "ember-oneshot-2\n", 16)) < 0 ||
	    (r = measure_add(h, &arch_layout.oneshot_exit.addr,
			     sizeof(arch_layout.oneshot_exit.addr))) < 0 ||
	    (r = measure_add(h, ember_oneshot_init,
			     (size_t)(ember_oneshot_init_end - ember_oneshot_init))) < 0)
		goto out_hash;
	if (o->stdin_vsock || o->stdin_null)
		r = measure_add(h, o->stdin_vsock ? "stdin-vsock\n" : "stdin-null\n",
				o->stdin_vsock ? 12 : 11);
	for (int i = 0; i < o->argc && r == 0; i++)
		r = measure_add(h, i == 0 ? in.cmd : o->argv[i],
				strlen(i == 0 ? in.cmd : o->argv[i]) + 1);
	for (int i = 0; i < in.files.n && r == 0; i++)
		r = hash_file(h, in.files.path[i]);
	for (int i = 0; i < in.nmods && r == 0; i++)
		r = hash_file(h, in.mods[i]);
	if (r < 0)
		goto out_hash;
	r = measure_end(h, hex);
	h = NULL;
	if (r < 0 || (r = cache_dir(dir, sizeof(dir))) < 0)
		goto out;
	snprintf(path, sizeof(path), "%s/%s.cpio", dir, hex);
	if (access(path, R_OK) != 0) {
		if ((r = build(cfg, &in, &c)) < 0)
			goto out;
		snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
		r = write_file(tmp, c.buf, c.len);
		cpio_free(&c);
		if (r == 0 && rename(tmp, path) < 0)
			r = err_set(errno, "%s: %s", path, strerror(errno));
		if (r < 0) {
			unlink(tmp);
			goto out;
		}
	}
	if (o->keep_initrd && (r = copy_file(path, o->keep_initrd)) < 0)
		goto out;
	if (!(cfg->boot.initrd_path = strdup(path)) ||
	    (!cfg->boot.cmdline && !(cfg->boot.cmdline = strdup(ONESHOT_CMDLINE))))
		r = err_set(ENOMEM, "out of memory");
	goto out;
out_hash:
	if (h)
		measure_end(h, hex);
	if (r < 0 && !err_msg()[0])
		err_set(-r, "one-shot: hashing the inputs failed");
out:
	inputs_free(&in);
	return r;
}
