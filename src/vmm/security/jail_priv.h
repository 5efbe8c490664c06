/* Internal state shared by jail.c, jail_fs.c and jail_cgroup.c (not an interface). */
#ifndef EMBER_JAIL_PRIV_H
#define EMBER_JAIL_PRIV_H

#include <limits.h>
#include <stdbool.h>

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

#endif
