/* `ember jail`: the cgroup v2 leaf <cgroup2 mount>/<parent>/<id> (cgroup v1,
 * Firecracker's default: jail_cgroup1.c; these functions hand over). The
 * controllers the --cgroup files need are enabled in each ancestor's
 * cgroup.subtree_control, the values are written, then the process moves in
 * (jail_cgroup_enter, the last step before the mount namespace; the exec'd
 * ember and its children stay there). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ember/error.h"
#include "jail_priv.h"

/* Reads a small text file (proc/cgroupfs: size unknown) into buf. */
int jail_read_text(const char *path, char *buf, size_t cap)
{
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while (len + 1 < cap) {
		ssize_t n = read(fd, buf + len, cap - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			close(fd);
			return -e;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	if (len + 1 >= cap)
		return -EFBIG;
	return 0;
}

int jail_write_text(const char *path, const char *s)
{
	size_t len = strlen(s);
	ssize_t n;
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = write(fd, s, len);
	if (n < 0 || (size_t)n != len) {
		int e = n < 0 ? errno : EIO;

		close(fd);
		return -e;
	}
	return close(fd) < 0 ? -errno : 0;
}

/* Is word in the space-separated list? */
bool jail_in_list(const char *list, const char *word)
{
	size_t wl = strlen(word);

	for (const char *p = list; (p = strstr(p, word)) != NULL; p += wl)
		if ((p == list || p[-1] == ' ') && (p[wl] == '\0' || p[wl] == ' ' || p[wl] == '\n'))
			return true;
	return false;
}

int jail_cgroup_check(const struct jail_config *cfg, struct jail_state *st)
{
	static char mountinfo[1 << 18];
	char path[PATH_MAX + 32], avail[1024];
	int r;

	if (!cfg->use_cgroup)
		return 0;
	if ((r = jail_read_text("/proc/self/mountinfo", mountinfo, sizeof(mountinfo))) < 0)
		return err_set(-r, "reading /proc/self/mountinfo: %s", strerror(-r));
	if (cfg->cgroup_version == 1)
		return jail_cgroup1_check(cfg, st, mountinfo);
	if ((r = jail_cgroup2_mount(mountinfo, st->cgroup_mount, sizeof(st->cgroup_mount))) < 0)
		return r;
	if (cfg->cgroup_parent_only) {
		/* Firecracker: no leaf; into --parent-cgroup if it exists */
		struct stat sb;

		if (snprintf(st->cgroup_leaf, sizeof(st->cgroup_leaf), "%s/%s", st->cgroup_mount,
			     cfg->parent_cgroup) >= (int)sizeof(st->cgroup_leaf))
			return err_set(ENAMETOOLONG, "cgroup path too long");
		if (stat(st->cgroup_leaf, &sb) < 0 || !S_ISDIR(sb.st_mode))
			st->cgroup_leaf[0] = '\0';
		return 0;
	}
	snprintf(path, sizeof(path), "%s/cgroup.controllers", st->cgroup_mount);
	if ((r = jail_read_text(path, avail, sizeof(avail))) < 0)
		return err_set(-r, "reading %s: %s", path, strerror(-r));
	avail[strcspn(avail, "\n")] = '\0';
	for (size_t i = 0; i < cfg->n_cgroups; i++) {
		char ctrl[JAIL_CGROUP_KEY_MAX];
		bool have = false;

		if ((r = jail_cgroup_controller(cfg->cgroups[i].file, ctrl, sizeof(ctrl))) < 0)
			return r;
		if (strcmp(ctrl, "cgroup") == 0)
			continue;
		if (!jail_in_list(avail, ctrl))
			return err_set(EINVAL,
				       "--cgroup %s: no '%s' controller in the cgroup v2 hierarchy "
				       "at %s (available: %s)",
				       cfg->cgroups[i].file, ctrl, st->cgroup_mount,
				       avail[0] ? avail : "none");
		for (int k = 0; k < st->n_cgroup_ctrls; k++)
			have |= strcmp(st->cgroup_ctrls[k], ctrl) == 0;
		if (have)
			continue;
		if (st->n_cgroup_ctrls >=
		    (int)(sizeof(st->cgroup_ctrls) / sizeof(st->cgroup_ctrls[0])))
			return err_set(E2BIG, "--cgroup: too many controllers");
		strcpy(st->cgroup_ctrls[st->n_cgroup_ctrls++], ctrl);
	}
	if (snprintf(st->cgroup_leaf, sizeof(st->cgroup_leaf), "%s/%s/%s", st->cgroup_mount,
		     cfg->parent_cgroup, cfg->id) >= (int)sizeof(st->cgroup_leaf))
		return err_set(ENAMETOOLONG, "cgroup path too long");
	return 0;
}

int jail_cgroup_make_path(const char *mount, const char *rel, bool visit_mount,
			  int (*visit)(void *opaque, const char *dir), void *opaque)
{
	char dir[PATH_MAX], comps[PATH_MAX];
	char *save = NULL, *comp;
	int r;

	snprintf(dir, sizeof(dir), "%s", mount);
	snprintf(comps, sizeof(comps), "%s", rel);
	if (visit_mount && visit && (r = visit(opaque, dir)) < 0)
		return r;
	for (comp = strtok_r(comps, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
		size_t n = strlen(dir);

		if (n + 1 + strlen(comp) >= sizeof(dir))
			return err_set(ENAMETOOLONG, "cgroup path too long");
		snprintf(dir + n, sizeof(dir) - n, "/%s", comp);
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return err_set(errno, "creating cgroup %s: %s", dir, strerror(errno));
		if (visit && (r = visit(opaque, dir)) < 0)
			return r;
	}
	return 0;
}

int jail_cgroup_make_leaf(const char *leaf)
{
	int r = mkdir(leaf, 0755) < 0 ? -errno : 0;

	if (r == -EEXIST) {
		if (rmdir(leaf) < 0)
			return err_set(errno == EBUSY ? EEXIST : errno,
				       "cgroup %s is in use (%s): an instance with this --id "
				       "is running",
				       leaf, strerror(errno));
		r = mkdir(leaf, 0755) < 0 ? -errno : 0;
	}
	if (r < 0)
		return err_set(-r, "creating cgroup %s: %s", leaf, strerror(-r));
	return 0;
}

int jail_cgroup_write_value(const char *leaf, const struct jail_cgroup_kv *kv)
{
	char path[PATH_MAX + 80];
	int r;

	snprintf(path, sizeof(path), "%s/%s", leaf, kv->file);
	r = jail_write_text(path, kv->value);
	if (r == -ENOENT)
		return err_set(ENOENT, "--cgroup %s: unknown cgroup file (no %s)", kv->file, path);
	if (r < 0)
		return err_set(-r, "--cgroup %s=%s: writing %s: %s", kv->file, kv->value, path,
			       strerror(-r));
	return 0;
}

int jail_cgroup_move_self(const char *dir, const char *file)
{
	char path[PATH_MAX + 32], pid[32];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	return jail_write_text(path, pid);
}

/* Enables the needed controllers for the children of dir. */
static int enable_controllers(void *opaque, const char *dir)
{
	const struct jail_state *st = opaque;
	char path[PATH_MAX + 32], cur[1024], op[JAIL_CGROUP_KEY_MAX + 2];
	int r;

	if (st->n_cgroup_ctrls == 0)
		return 0;
	snprintf(path, sizeof(path), "%s/cgroup.subtree_control", dir);
	if ((r = jail_read_text(path, cur, sizeof(cur))) < 0)
		return err_set(-r, "reading %s: %s", path, strerror(-r));
	for (int i = 0; i < st->n_cgroup_ctrls; i++) {
		if (jail_in_list(cur, st->cgroup_ctrls[i]))
			continue;
		snprintf(op, sizeof(op), "+%s", st->cgroup_ctrls[i]);
		if ((r = jail_write_text(path, op)) < 0)
			return err_set(-r, "enabling the %s controller in %s: %s",
				       st->cgroup_ctrls[i], path, strerror(-r));
	}
	return 0;
}

int jail_cgroup_setup(const struct jail_config *cfg, struct jail_state *st)
{
	int r;

	if (!cfg->use_cgroup || cfg->cgroup_parent_only)
		return 0;
	if (cfg->cgroup_version == 1)
		return jail_cgroup1_setup(cfg, st);
	/* the controllers are enabled in the mount and every ancestor */
	if ((r = jail_cgroup_make_path(st->cgroup_mount, cfg->parent_cgroup, true,
				       enable_controllers, st)) < 0 ||
	    (r = jail_cgroup_make_leaf(st->cgroup_leaf)) < 0)
		return r;
	st->created_cgroup_leaf = true;
	for (size_t i = 0; i < cfg->n_cgroups; i++)
		if ((r = jail_cgroup_write_value(st->cgroup_leaf, &cfg->cgroups[i])) < 0)
			return r;
	return 0;
}

int jail_cgroup_enter(const struct jail_config *cfg, struct jail_state *st)
{
	static char self[8192];
	int r;

	if (!cfg->use_cgroup)
		return 0;
	if (cfg->cgroup_version == 1)
		return jail_cgroup1_enter(st);
	if (!st->cgroup_leaf[0])
		return 0; /* parent only, and it does not exist */
	/* Where we are now ("0::/path"), to move back if a later step fails. */
	st->cgroup_orig[0] = '\0';
	if (jail_read_text("/proc/self/cgroup", self, sizeof(self)) == 0) {
		const char *p = strstr(self, "0::");

		if (p && (p == self || p[-1] == '\n')) {
			int n = (int)strcspn(p + 3, "\n");

			if (snprintf(st->cgroup_orig, sizeof(st->cgroup_orig), "%s%.*s",
				     st->cgroup_mount, n, p + 3) >= (int)sizeof(st->cgroup_orig))
				st->cgroup_orig[0] = '\0';
		}
	}
	if ((r = jail_cgroup_move_self(st->cgroup_leaf, "cgroup.procs")) < 0)
		return err_set(-r, "moving into cgroup %s: %s", st->cgroup_leaf, strerror(-r));
	st->cgroup_entered = true;
	return 0;
}

void jail_cgroup_cleanup(struct jail_state *st)
{
	jail_cgroup1_cleanup(st);
	if (st->cgroup_entered && st->cgroup_orig[0])
		jail_cgroup_move_self(st->cgroup_orig, "cgroup.procs");
	st->cgroup_entered = false;
	if (st->created_cgroup_leaf) {
		rmdir(st->cgroup_leaf);
		st->created_cgroup_leaf = false;
	}
}
