/* Internal state shared by jail.c, jail_fs.c and jail_cgroup.c (not an interface). */
#ifndef EMBER_JAIL_PRIV_H
#define EMBER_JAIL_PRIV_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "ember/jail.h"

struct jail_state {
	char base[PATH_MAX];	 /* canonical chroot base dir */
	char jail_dir[PATH_MAX]; /* <base>/<exec name>/<id> */
	char root[PATH_MAX];	 /* <jail_dir>/root */
	bool created_jail_dir;	 /* ours to remove on failure */
	bool root_mounted;	 /* bind-mounted in our (private) mount namespace */
	int exec_fd;		 /* the exec file, open since validation */
	bool exec_dynamic;	 /* has PT_INTERP */
	char interp[PATH_MAX];

	char cgroup_mount[PATH_MAX];
	char cgroup_leaf[PATH_MAX];
	bool created_cgroup_leaf;
	char cgroup_orig[PATH_MAX]; /* the cgroup we came from */
	bool cgroup_entered;
	char cgroup_ctrls[16][JAIL_CGROUP_KEY_MAX]; /* controllers the --cgroup files need */
	int n_cgroup_ctrls;

	/* cgroup v1 (jail_cgroup1.c): one leaf per hierarchy the controllers
	 * live in; cg1_of[k] is the hierarchy of cgroup_ctrls[k] */
	struct jail_cg1 {
		char mount[PATH_MAX];
		char leaf[PATH_MAX];
		char orig[PATH_MAX]; /* where the process was in this hierarchy */
		bool cpuset;	     /* has the cpuset controller */
		bool created, entered;
	} cg1[8];
	int n_cg1;
	int cg1_of[16];
};

/* jail_fs.c: the chroot. */
int jail_fs_check_exec(const struct jail_config *cfg, struct jail_state *st);
int jail_fs_prepare(const struct jail_config *cfg, struct jail_state *st);
void jail_fs_cleanup(struct jail_state *st);

/* jail_cgroup.c: the cgroup v2 leaf. check runs before anything is created;
 * setup creates the leaf and writes the values; enter moves the process in;
 * cleanup moves it back and removes the leaf. */
int jail_cgroup_check(const struct jail_config *cfg, struct jail_state *st);
int jail_cgroup_setup(const struct jail_config *cfg, struct jail_state *st);
int jail_cgroup_enter(const struct jail_config *cfg, struct jail_state *st);
void jail_cgroup_cleanup(struct jail_state *st);

/* jail_cgroup1.c: the same for cgroup v1 (called by the above). */
int jail_cgroup1_check(const struct jail_config *cfg, struct jail_state *st, const char *mountinfo);
int jail_cgroup1_setup(const struct jail_config *cfg, struct jail_state *st);
int jail_cgroup1_enter(struct jail_state *st);
void jail_cgroup1_cleanup(struct jail_state *st);

/* Shared by both cgroup versions (jail_cgroup.c). mkdir -p <mount>/<rel>:
 * visit(opaque, dir) runs on the mount itself (if visit_mount) and on every
 * directory of the path once it exists, in order from the top. */
int jail_cgroup_make_path(const char *mount, const char *rel, bool visit_mount,
			  int (*visit)(void *opaque, const char *dir), void *opaque);
/* Creates the leaf; a previous run's leaf of the same --id is reused once it
 * is empty (rmdir succeeds), else -EEXIST: that instance is running. */
int jail_cgroup_make_leaf(const char *leaf);
/* Writes a --cgroup FILE=VALUE into the leaf (a missing file: -ENOENT). */
int jail_cgroup_write_value(const char *leaf, const struct jail_cgroup_kv *kv);
/* Writes our pid into dir/file (cgroup.procs on v2, tasks on v1). */
int jail_cgroup_move_self(const char *dir, const char *file);

/* Small text files of /proc and cgroupfs; 0 or -errno. */
int jail_read_text(const char *path, char *buf, size_t cap);
int jail_write_text(const char *path, const char *s);
/* Is word in the space-separated list? */
bool jail_in_list(const char *list, const char *word);

#endif
