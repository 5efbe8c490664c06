/* `ember jail`: Firecracker's jailer inside the ember binary.
 *
 * ember jail --id ID --exec-file PATH --uid U --gid G [--chroot-base-dir DIR]
 *            [--netns PATH] [--cgroup-version 1|2] [--parent-cgroup PATH]
 *            [--cgroup FILE=VALUE ...] [--resource-limit fsize|no-file=N ...]
 *            [--copy-in SRC[=/DEST] ...] [--daemonize] [--new-pid-ns] [-- EMBER ARGS]
 *
 * builds <base>/<exec name>/<id>/root (exec file copied in, plus its shared
 * libraries when it is a dynamically linked copy of this ember; /dev/kvm,
 * /dev/net/tun, /dev/urandom), moves the process into a cgroup leaf (v1 by
 * default, as Firecracker's jailer: one per controller hierarchy; or v2), sets
 * rlimits, enters a new mount namespace with that root (pivot_root), optionally
 * a new pid namespace and a network namespace, switches uid/gid, drops every
 * capability (bounding set included), sets no_new_privs and execs the copy.
 *
 * jail_main is the whole command; the other functions are its pure parts
 * (parsing, validation, path building, ELF and mountinfo parsing), exposed for
 * the unit tests. All return 0 or -errno with one line in err_msg(). */
#ifndef EMBER_JAIL_H
#define EMBER_JAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/types.h>

#define JAIL_ID_MAX 64
#define JAIL_DEFAULT_BASE "/srv/jailer"
#define JAIL_DEFAULT_NOFILE 2048 /* Firecracker's default when no no-file limit is given */
#define JAIL_CGROUP_KEY_MAX 64
#define JAIL_CGROUP_VALUE_MAX 256

struct jail_cgroup_kv {
	char *file;	   /* "memory.max" (malloc'd) */
	const char *value; /* "268435456" (points into argv) */
};

struct jail_rlimit {
	const char *name; /* Firecracker's name: "fsize", "no-file" */
	int resource;	  /* RLIMIT_FSIZE, RLIMIT_NOFILE */
	rlim_t value;
};

struct jail_copy {
	char *src; /* host path (malloc'd) */
	char *dst; /* absolute path inside the jail (malloc'd) */
};

struct jail_config {
	const char *id;
	const char *exec_file; /* host path */
	const char *exec_name; /* its last component: the file name inside the jail */
	const char *chroot_base;
	const char *netns;
	const char *parent_cgroup; /* relative to the hierarchy's mount; default exec_name */
	uid_t uid;
	gid_t gid;
	int cgroup_version; /* 1 (the default, as Firecracker's jailer) or 2 */
	bool cgroup_version_given;
	bool use_cgroup;	 /* any --cgroup, or --cgroup-version 2 */
	bool cgroup_parent_only; /* v2 without --cgroup: move into the parent, if it exists */
	bool daemonize;
	bool new_pid_ns;
	struct jail_cgroup_kv *cgroups;
	size_t n_cgroups;
	struct jail_rlimit *rlimits;
	size_t n_rlimits;
	struct jail_copy *copies;
	size_t n_copies;
	char **exec_args; /* the arguments after "--" (point into argv) */
	int n_exec_args;
};

/* The command: argv[0] is "jail". Returns the exit status (0 or 1) when it
 * does not exec. */
int jail_main(int argc, char **argv);
void jail_print_help(void);

/* Parses and validates the command line (no file system access). Returns 0,
 * 1 if --help was given, or -errno. cfg is zeroed first; free it with
 * jail_config_free in every case. */
int jail_parse_args(int argc, char **argv, struct jail_config *cfg);
void jail_config_free(struct jail_config *cfg);

/* 1..64 characters, alphanumeric or '-'. */
int jail_check_id(const char *id);
/* A decimal uid/gid 0..4294967294; `what` names the option in the error. */
int jail_parse_id_number(const char *s, const char *what, unsigned int *out);
/* An absolute path whose components are all ordinary names: no "", "." or
 * "..", no trailing '/'. `what` names it in the error. */
int jail_check_jail_path(const char *path, const char *what);
/* A relative path of ordinary names (for --parent-cgroup). */
int jail_check_relative_path(const char *path, const char *what);
/* "memory.max=268435456" (cgroup v2 interface file = value). */
int jail_parse_cgroup(const char *spec, struct jail_cgroup_kv *kv);
/* The controller of a cgroup interface file: "memory" for "memory.max",
 * "cgroup" for the core files. */
int jail_cgroup_controller(const char *file, char *ctrl, size_t cap);
/* "fsize=N" or "no-file=N". */
int jail_parse_rlimit(const char *spec, struct jail_rlimit *rl);
/* "SRC" (to /<basename of SRC>) or "SRC=/DEST". */
int jail_parse_copy(const char *spec, struct jail_copy *c);

/* "<base>/<exec name>/<id>" and that + "/root"; -ENAMETOOLONG if it does not fit. */
int jail_dir_path(const struct jail_config *cfg, const char *base, char *buf, size_t cap);
int jail_root_path(const struct jail_config *cfg, const char *base, char *buf, size_t cap);

/* The argv to exec inside the jail: "/<exec name>", then "--id ID" unless the
 * first ember argument is "run", then the ember arguments. malloc'd array
 * (free it; the strings are not copied), NULL-terminated. */
char **jail_exec_argv(const struct jail_config *cfg);

/* Checks an x86-64 ELF executable image. Returns 0 for a static executable,
 * 1 for a dynamically linked one (interp gets PT_INTERP), -ENOEXEC if it is
 * not a well-formed x86-64 ELF executable. */
int jail_elf_interp(const void *image, size_t len, char *interp, size_t cap);

/* Finds the first cgroup2 mount point in the text of /proc/self/mountinfo
 * (octal escapes decoded). -ENOENT if there is none. */
int jail_cgroup2_mount(const char *mountinfo, char *out, size_t cap);
/* The mount point of the cgroup v1 hierarchy that has controller ctrl
 * (fstype "cgroup", ctrl among its super options). -ENOENT if none. */
int jail_cgroup1_mount(const char *mountinfo, const char *ctrl, char *out, size_t cap);

#endif
