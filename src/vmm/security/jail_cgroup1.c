/* `ember jail` on cgroup v1, the default of Firecracker's jailer: every
 * controller a --cgroup file names has its own hierarchy (found in
 * /proc/self/mountinfo by its super options); in each, the leaf
 * <mount>/<parent>/<id> is created, cpuset.cpus and cpuset.mems are copied
 * down from the parent into every cpuset cgroup created (v1 starts them
 * empty, and an empty cpuset takes no task), the values are written and the
 * process moves in through the leaf's `tasks` file, as Firecracker's jailer
 * does. Cleanup moves it back and removes the leaves. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ember/error.h"
#include "jail_priv.h"

int jail_cgroup1_check(const struct jail_config *cfg, struct jail_state *st, const char *mountinfo)
{
	char mnt[PATH_MAX];
	int r;

	for (size_t i = 0; i < cfg->n_cgroups; i++) {
		char ctrl[JAIL_CGROUP_KEY_MAX];
		int k, h;

		if ((r = jail_cgroup_controller(cfg->cgroups[i].file, ctrl, sizeof(ctrl))) < 0)
			return r;
		for (k = 0; k < st->n_cgroup_ctrls; k++)
			if (strcmp(st->cgroup_ctrls[k], ctrl) == 0)
				break;
		if (k < st->n_cgroup_ctrls)
			continue;
		if (k >= (int)(sizeof(st->cgroup_ctrls) / sizeof(st->cgroup_ctrls[0])))
			return err_set(E2BIG, "--cgroup: too many controllers");
		if ((r = jail_cgroup1_mount(mountinfo, ctrl, mnt, sizeof(mnt))) < 0)
			return err_wrap(-r, "--cgroup %s (--cgroup-version 1)",
					cfg->cgroups[i].file);
		for (h = 0; h < st->n_cg1; h++)
			if (strcmp(st->cg1[h].mount, mnt) == 0)
				break;
		if (h == st->n_cg1) {
			struct jail_cg1 *g = &st->cg1[h];

			if (h >= (int)(sizeof(st->cg1) / sizeof(st->cg1[0])))
				return err_set(E2BIG, "--cgroup: too many cgroup v1 hierarchies");
			memset(g, 0, sizeof(*g));
			snprintf(g->mount, sizeof(g->mount), "%s", mnt);
			if (snprintf(g->leaf, sizeof(g->leaf), "%s/%s/%s", mnt, cfg->parent_cgroup,
				     cfg->id) >= (int)sizeof(g->leaf))
				return err_set(ENAMETOOLONG, "cgroup path too long");
			st->n_cg1++;
		}
		if (strcmp(ctrl, "cpuset") == 0)
			st->cg1[h].cpuset = true;
		strcpy(st->cgroup_ctrls[k], ctrl);
		st->cg1_of[k] = h;
		st->n_cgroup_ctrls++;
	}
	return 0;
}

/* A new v1 cpuset cgroup has empty cpuset.cpus/mems: copy the parent's. */
static int inherit_cpuset(void *opaque, const char *dir)
{
	static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};
	char path[PATH_MAX + 32], parent[PATH_MAX + 32], val[4096];
	int r;

	(void)opaque;
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		if ((r = jail_read_text(path, val, sizeof(val))) < 0)
			return err_set(-r, "reading %s: %s", path, strerror(-r));
		if (val[strspn(val, " \n")] != '\0')
			continue; /* already set */
		snprintf(parent, sizeof(parent), "%s/../%s", dir, files[i]);
		if ((r = jail_read_text(parent, val, sizeof(val))) < 0)
			return err_set(-r, "reading %s: %s", parent, strerror(-r));
		val[strcspn(val, "\n")] = '\0';
		if (val[0] && (r = jail_write_text(path, val)) < 0)
			return err_set(-r, "inheriting %s=%s into %s: %s", files[i], val, dir,
				       strerror(-r));
	}
	return 0;
}

int jail_cgroup1_setup(const struct jail_config *cfg, struct jail_state *st)
{
	int r;

	for (int h = 0; h < st->n_cg1; h++) {
		struct jail_cg1 *g = &st->cg1[h];

		/* mkdir -p <mount>/<parent>, cpusets inherited into what exists */
		if ((r = jail_cgroup_make_path(g->mount, cfg->parent_cgroup, false,
					       g->cpuset ? inherit_cpuset : NULL, NULL)) < 0 ||
		    (r = jail_cgroup_make_leaf(g->leaf)) < 0)
			return r;
		g->created = true;
		if (g->cpuset && (r = inherit_cpuset(NULL, g->leaf)) < 0)
			return r;
	}
	for (size_t i = 0; i < cfg->n_cgroups; i++) {
		const struct jail_cgroup_kv *kv = &cfg->cgroups[i];
		char ctrl[JAIL_CGROUP_KEY_MAX];
		int k;

		if ((r = jail_cgroup_controller(kv->file, ctrl, sizeof(ctrl))) < 0)
			return r;
		for (k = 0; k < st->n_cgroup_ctrls && strcmp(st->cgroup_ctrls[k], ctrl); k++)
			;
		if (k == st->n_cgroup_ctrls)
			return err_set(EINVAL, "--cgroup %s: controller not found", kv->file);
		if ((r = jail_cgroup_write_value(st->cg1[st->cg1_of[k]].leaf, kv)) < 0)
			return r;
	}
	return 0;
}

/* Our cgroup in the hierarchy at g->mount, from /proc/self/cgroup
 * ("N:ctrl,ctrl:/path"), into g->orig; the controller list must hold one of
 * the hierarchy's controllers (ctrl). */
static void find_orig(struct jail_cg1 *g, const char *self, const char *ctrl)
{
	size_t cl = strlen(ctrl);

	g->orig[0] = '\0';
	for (const char *line = self; line && *line;) {
		const char *end = strchr(line, '\n');
		const char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

		if (c2 && (!end || c2 < end)) {
			for (const char *p = c1 + 1; p < c2;) {
				const char *q = memchr(p, ',', (size_t)(c2 - p));
				size_t n = q ? (size_t)(q - p) : (size_t)(c2 - p);

				if (n == cl && strncmp(p, ctrl, n) == 0) {
					int len =
					    (int)(end ? end - (c2 + 1) : (long)strlen(c2 + 1));

					if (snprintf(g->orig, sizeof(g->orig), "%s%.*s", g->mount,
						     len, c2 + 1) >= (int)sizeof(g->orig))
						g->orig[0] = '\0';
					return;
				}
				p = q ? q + 1 : c2;
			}
		}
		line = end ? end + 1 : NULL;
	}
}

int jail_cgroup1_enter(struct jail_state *st)
{
	static char self[8192];
	bool have_self = jail_read_text("/proc/self/cgroup", self, sizeof(self)) == 0;
	int r;

	for (int h = 0; h < st->n_cg1; h++) {
		struct jail_cg1 *g = &st->cg1[h];

		for (int k = 0; have_self && k < st->n_cgroup_ctrls; k++)
			if (st->cg1_of[k] == h) {
				find_orig(g, self, st->cgroup_ctrls[k]);
				break;
			}
		if ((r = jail_cgroup_move_self(g->leaf, "tasks")) < 0)
			return err_set(-r, "moving into cgroup %s: %s", g->leaf, strerror(-r));
		g->entered = true;
	}
	return 0;
}

void jail_cgroup1_cleanup(struct jail_state *st)
{
	for (int h = 0; h < st->n_cg1; h++) {
		struct jail_cg1 *g = &st->cg1[h];

		if (g->entered && g->orig[0])
			jail_cgroup_move_self(g->orig, "tasks");
		g->entered = false;
		if (g->created)
			rmdir(g->leaf);
		g->created = false;
	}
}
