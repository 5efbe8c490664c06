/* `ember jail` command line: parsing and validation with no side effects,
 * plus the pure helpers (paths, exec argv, ELF interpreter, mountinfo). */
#include "ember/arch.h"
#include "ember/jail.h"

#include <ctype.h>
#include <elf.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ember/error.h"

#define JAIL_MAX_LIST 256 /* per repeated option */

void jail_print_help(void)
{
	static const char *const lines[] = {
	    "usage: ember jail --id ID --exec-file PATH --uid UID --gid GID [options]",
	    "                  [-- EMBER ARGS]",
	    "",
	    "Builds a chroot at <chroot base>/<exec file name>/<id>/root, copies the exec",
	    "file in and execs it there as UID:GID with no capabilities (Firecracker's jailer).",
	    "",
	    "  --id ID                 unique VM id: 1..64 letters, digits or '-'",
	    "  --exec-file PATH        the ember binary to copy in and exec; a dynamically",
	    "                          linked one must be this ember binary (its shared",
	    "                          libraries are copied in too)",
	    "  --uid UID, --gid GID    the ids the jailed process runs as",
	    "  --chroot-base-dir DIR   where jails are built (default " JAIL_DEFAULT_BASE ")",
	    "  --netns PATH            join this network namespace (/var/run/netns/NAME)",
	    "  --cgroup-version 1|2    the cgroup hierarchy --cgroup uses (default 1, as",
	    "                          Firecracker's jailer; 2: the unified hierarchy)",
	    "  --parent-cgroup PATH    the leaf is <hierarchy>/PATH/<id> (default PATH:",
	    "                          the exec file name); v2 without --cgroup: move into",
	    "                          <cgroup2 mount>/PATH if it exists, create nothing",
	    "  --cgroup FILE=VALUE     write VALUE to the leaf's FILE (memory.max=...,",
	    "                          cpuset.cpus=..., pids.max=...); repeatable. v1:",
	    "                          each controller's own hierarchy; cpuset.cpus/mems",
	    "                          are inherited from the parent into new cgroups",
	    "  --resource-limit R=N    fsize=BYTES or no-file=N (default no-file=2048);",
	    "                          repeatable. fsize also bounds the guest memory (a",
	    "                          memfd): keep it above --mem",
	    "  --copy-in SRC[=/DEST]   copy a host file into the jail (default DEST:",
	    "                          /<file name>), owned by UID:GID; repeatable",
	    "  --daemonize             setsid, stdin/stdout/stderr to /dev/null",
	    "  --new-pid-ns            run in a new pid namespace; its pid goes to",
	    "                          <jail root>/<exec file name>.pid and the jailer exits",
	    "  -- EMBER ARGS           passed to the jailed ember unchanged; '--id ID' is",
	    "                          put in front unless they start with 'run'",
	};

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		puts(lines[i]);
}

int jail_check_id(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > JAIL_ID_MAX)
		return err_set(EINVAL, "invalid --id '%.80s': it must be 1..%d characters long", id,
			       JAIL_ID_MAX);
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)id[i]) && id[i] != '-')
			return err_set(
			    EINVAL,
			    "invalid --id '%.80s': only letters, digits and '-' are allowed", id);
	return 0;
}

int jail_parse_id_number(const char *s, const char *what, unsigned int *out)
{
	unsigned long long v = 0;

	if (!*s || strlen(s) > 10)
		goto bad;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			goto bad;
		v = v * 10 + (unsigned)(*p - '0');
	}
	if (v >= UINT32_MAX) /* (uid_t)-1 means "unchanged" to setresuid */
		goto bad;
	*out = (unsigned int)v;
	return 0;
bad:
	return err_set(EINVAL, "invalid %s '%.40s': expected a number 0..%u", what, s,
		       UINT32_MAX - 1);
}

/* Checks the components of p (no leading '/'): ordinary names only. */
static int check_components(const char *p, const char *full, const char *what)
{
	const char *c = p;

	if (!*p)
		return err_set(EINVAL, "invalid %s '%.200s': empty path", what, full);
	for (;;) {
		const char *e = strchr(c, '/');
		size_t n = e ? (size_t)(e - c) : strlen(c);

		if (n == 0)
			return err_set(EINVAL, "invalid %s '%.200s': empty path component", what,
				       full);
		if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return err_set(EINVAL, "invalid %s '%.200s': '.' and '..' are not allowed",
				       what, full);
		if (n > NAME_MAX)
			return err_set(ENAMETOOLONG, "invalid %s '%.200s': component too long",
				       what, full);
		if (!e)
			break;
		c = e + 1;
	}
	if (strlen(full) >= PATH_MAX)
		return err_set(ENAMETOOLONG, "invalid %s: path too long", what);
	return 0;
}

int jail_check_jail_path(const char *path, const char *what)
{
	if (path[0] != '/')
		return err_set(EINVAL, "invalid %s '%.200s': must be an absolute path", what, path);
	return check_components(path + 1, path, what);
}

int jail_check_relative_path(const char *path, const char *what)
{
	if (path[0] == '/')
		return err_set(EINVAL, "invalid %s '%.200s': must be a relative path", what, path);
	return check_components(path, path, what);
}

int jail_cgroup_controller(const char *file, char *ctrl, size_t cap)
{
	const char *dot = strchr(file, '.');
	size_t n;

	if (!dot || dot == file || !dot[1])
		return err_set(EINVAL, "invalid cgroup file '%.80s': expected CONTROLLER.NAME",
			       file);
	n = (size_t)(dot - file);
	if (n >= cap)
		return err_set(EINVAL, "invalid cgroup file '%.80s': controller name too long",
			       file);
	memcpy(ctrl, file, n);
	ctrl[n] = '\0';
	return 0;
}

int jail_parse_cgroup(const char *spec, struct jail_cgroup_kv *kv)
{
	static const char *const managed[] = {"cgroup.procs", "cgroup.threads",
					      "cgroup.subtree_control", "cgroup.kill"};
	const char *eq = strchr(spec, '=');
	char ctrl[JAIL_CGROUP_KEY_MAX];
	size_t klen;
	int r;

	kv->file = NULL;
	if (!eq)
		return err_set(EINVAL, "invalid --cgroup '%.80s': expected FILE=VALUE", spec);
	klen = (size_t)(eq - spec);
	if (klen == 0 || klen >= JAIL_CGROUP_KEY_MAX)
		return err_set(EINVAL, "invalid --cgroup '%.80s': bad file name length", spec);
	for (size_t i = 0; i < klen; i++) {
		char ch = spec[i];

		if (!isalnum((unsigned char)ch) && ch != '_' && ch != '.' && ch != '-')
			return err_set(EINVAL,
				       "invalid --cgroup '%.80s': the file name may only have "
				       "letters, digits, '_', '-' and '.'",
				       spec);
	}
	if (!eq[1])
		return err_set(EINVAL, "invalid --cgroup '%.80s': empty value", spec);
	if (strlen(eq + 1) > JAIL_CGROUP_VALUE_MAX || strchr(eq + 1, '\n'))
		return err_set(EINVAL, "invalid --cgroup '%.80s': bad value", spec);
	kv->file = strndup(spec, klen);
	if (!kv->file)
		return err_set(ENOMEM, "out of memory");
	kv->value = eq + 1;
	if ((r = jail_cgroup_controller(kv->file, ctrl, sizeof(ctrl))) < 0)
		goto fail;
	for (size_t i = 0; i < sizeof(managed) / sizeof(managed[0]); i++)
		if (strcmp(kv->file, managed[i]) == 0) {
			r = err_set(EINVAL, "invalid --cgroup '%.80s': %s is managed by the jailer",
				    spec, managed[i]);
			goto fail;
		}
	return 0;
fail:
	free(kv->file);
	kv->file = NULL;
	return r;
}

int jail_parse_rlimit(const char *spec, struct jail_rlimit *rl)
{
	const char *eq = strchr(spec, '='), *v;
	unsigned long long n = 0;

	if (!eq)
		return err_set(EINVAL, "invalid --resource-limit '%.80s': expected RESOURCE=VALUE",
			       spec);
	if ((size_t)(eq - spec) == 5 && strncmp(spec, "fsize", 5) == 0) {
		rl->name = "fsize";
		rl->resource = RLIMIT_FSIZE;
	} else if ((size_t)(eq - spec) == 7 && strncmp(spec, "no-file", 7) == 0) {
		rl->name = "no-file";
		rl->resource = RLIMIT_NOFILE;
	} else {
		return err_set(
		    EINVAL, "invalid --resource-limit '%.80s': unknown resource (fsize, no-file)",
		    spec);
	}
	v = eq + 1;
	if (!*v || strlen(v) > 20)
		goto bad;
	for (const char *p = v; *p; p++) {
		if (*p < '0' || *p > '9')
			goto bad;
		if (n > (ULLONG_MAX - 9) / 10)
			goto bad;
		n = n * 10 + (unsigned)(*p - '0');
	}
	if (n >= RLIM_INFINITY)
		goto bad;
	rl->value = (rlim_t)n;
	return 0;
bad:
	return err_set(
	    EINVAL, "invalid --resource-limit '%.80s': the value must be a decimal number", spec);
}

int jail_parse_copy(const char *spec, struct jail_copy *c)
{
	const char *sep = NULL, *base;
	int r;

	c->src = c->dst = NULL;
	/* The destination is absolute, so the separator is the last "=/". */
	for (const char *p = spec; (p = strstr(p, "=/")) != NULL; p++)
		sep = p;
	if (sep) {
		c->src = strndup(spec, (size_t)(sep - spec));
		c->dst = strdup(sep + 1);
	} else {
		c->src = strdup(spec);
		base = strrchr(spec, '/');
		base = base ? base + 1 : spec;
		if (c->src && asprintf(&c->dst, "/%s", base) < 0)
			c->dst = NULL;
	}
	if (!c->src || !c->dst) {
		r = err_set(ENOMEM, "out of memory");
		goto fail;
	}
	if (!c->src[0]) {
		r = err_set(EINVAL, "invalid --copy-in '%.200s': empty source path", spec);
		goto fail;
	}
	if ((r = jail_check_jail_path(c->dst, "--copy-in destination")) < 0)
		goto fail;
	return 0;
fail:
	free(c->src);
	free(c->dst);
	c->src = c->dst = NULL;
	return r;
}

void jail_config_free(struct jail_config *cfg)
{
	for (size_t i = 0; i < cfg->n_cgroups; i++)
		free(cfg->cgroups[i].file);
	free(cfg->cgroups);
	free(cfg->rlimits);
	for (size_t i = 0; i < cfg->n_copies; i++) {
		free(cfg->copies[i].src);
		free(cfg->copies[i].dst);
	}
	free(cfg->copies);
	memset(cfg, 0, sizeof(*cfg));
}

/* Grows *arr (of *n elements of size sz) by one; returns the new slot. */
static void *grow(void *arr_p, size_t *n, size_t sz, const char *opt)
{
	void **arr = arr_p;
	void *p;

	if (*n >= JAIL_MAX_LIST) {
		err_set(E2BIG, "too many %s options (max %d)", opt, JAIL_MAX_LIST);
		return NULL;
	}
	p = realloc(*arr, (*n + 1) * sz);
	if (!p) {
		err_set(ENOMEM, "out of memory");
		return NULL;
	}
	*arr = p;
	memset((char *)p + *n * sz, 0, sz);
	return (char *)p + (*n)++ * sz;
}

enum opt_id {
	O_ID,
	O_EXEC,
	O_UID,
	O_GID,
	O_BASE,
	O_NETNS,
	O_CGVER,
	O_PARENT_CG,
	O_CGROUP,
	O_RLIMIT,
	O_COPY,
	O_DAEMONIZE,
	O_PIDNS,
	O_HELP,
};

static const struct {
	const char *name;
	enum opt_id id;
	bool has_arg;
} opts[] = {
    {"--id", O_ID, true},
    {"--exec-file", O_EXEC, true},
    {"--uid", O_UID, true},
    {"--gid", O_GID, true},
    {"--chroot-base-dir", O_BASE, true},
    {"--netns", O_NETNS, true},
    {"--cgroup-version", O_CGVER, true},
    {"--parent-cgroup", O_PARENT_CG, true},
    {"--cgroup", O_CGROUP, true},
    {"--resource-limit", O_RLIMIT, true},
    {"--copy-in", O_COPY, true},
    {"--daemonize", O_DAEMONIZE, false},
    {"--new-pid-ns", O_PIDNS, false},
    {"--help", O_HELP, false},
    {"-h", O_HELP, false},
};

/* Sets a single-valued string option once. */
static int set_once(const char **slot, const char *val, const char *name)
{
	if (*slot)
		return err_set(EINVAL, "%s given twice", name);
	*slot = val;
	return 0;
}

static int set_id_number(struct jail_config *cfg, enum opt_id id, const char *name, const char *val,
			 bool *uid_set, bool *gid_set)
{
	unsigned int n;
	int r;

	if (id == O_UID ? *uid_set : *gid_set)
		return err_set(EINVAL, "%s given twice", name);
	if ((r = jail_parse_id_number(val, name, &n)) < 0)
		return r;
	if (id == O_UID) {
		cfg->uid = n;
		*uid_set = true;
	} else {
		cfg->gid = n;
		*gid_set = true;
	}
	return 0;
}

static int set_cgroup_version(struct jail_config *cfg, const char *val)
{
	if (strcmp(val, "1") != 0 && strcmp(val, "2") != 0)
		return err_set(EINVAL, "invalid --cgroup-version '%.20s' (supported: 1, 2)", val);
	cfg->cgroup_version = val[0] - '0';
	cfg->cgroup_version_given = true;
	return 0;
}

static int add_cgroup(struct jail_config *cfg, const char *val)
{
	struct jail_cgroup_kv *kv = grow(&cfg->cgroups, &cfg->n_cgroups, sizeof(*kv), "--cgroup");
	int r;

	if (!kv)
		return -E2BIG;
	if ((r = jail_parse_cgroup(val, kv)) < 0) {
		cfg->n_cgroups--;
		return r;
	}
	cfg->use_cgroup = true;
	return 0;
}

static int add_rlimit(struct jail_config *cfg, const char *val)
{
	struct jail_rlimit rl, *slot;
	int r;

	if ((r = jail_parse_rlimit(val, &rl)) < 0)
		return r;
	for (size_t i = 0; i < cfg->n_rlimits; i++)
		if (cfg->rlimits[i].resource == rl.resource)
			return err_set(EINVAL, "--resource-limit %s given twice", rl.name);
	slot = grow(&cfg->rlimits, &cfg->n_rlimits, sizeof(*slot), "--resource-limit");
	if (!slot)
		return -E2BIG;
	*slot = rl;
	return 0;
}

static int add_copy(struct jail_config *cfg, const char *val)
{
	struct jail_copy *c = grow(&cfg->copies, &cfg->n_copies, sizeof(*c), "--copy-in");
	int r;

	if (!c)
		return -E2BIG;
	if ((r = jail_parse_copy(val, c)) < 0) {
		cfg->n_copies--;
		return r;
	}
	for (size_t i = 0; i + 1 < cfg->n_copies; i++)
		if (strcmp(cfg->copies[i].dst, c->dst) == 0)
			return err_set(EINVAL, "--copy-in: two files go to %.200s", c->dst);
	return 0;
}

static int parse_one(struct jail_config *cfg, enum opt_id id, const char *name, const char *val,
		     bool *uid_set, bool *gid_set)
{
	int r;

	switch (id) {
	case O_ID:
		if ((r = set_once(&cfg->id, val, name)) < 0)
			return r;
		return jail_check_id(val);
	case O_EXEC:
		if (!*val)
			return err_set(EINVAL, "--exec-file is empty");
		return set_once(&cfg->exec_file, val, name);
	case O_UID:
	case O_GID:
		return set_id_number(cfg, id, name, val, uid_set, gid_set);
	case O_BASE:
		if (!*val)
			return err_set(EINVAL, "--chroot-base-dir is empty");
		return set_once(&cfg->chroot_base, val, name);
	case O_NETNS:
		if (!*val)
			return err_set(EINVAL, "--netns is empty");
		return set_once(&cfg->netns, val, name);
	case O_CGVER:
		return set_cgroup_version(cfg, val);
	case O_PARENT_CG:
		if ((r = set_once(&cfg->parent_cgroup, val, name)) < 0)
			return r;
		return jail_check_relative_path(val, "--parent-cgroup");
	case O_CGROUP:
		return add_cgroup(cfg, val);
	case O_RLIMIT:
		return add_rlimit(cfg, val);
	case O_COPY:
		return add_copy(cfg, val);
	case O_DAEMONIZE:
		cfg->daemonize = true;
		return 0;
	case O_PIDNS:
		cfg->new_pid_ns = true;
		return 0;
	case O_HELP:
		return 1;
	}
	return err_set(EINVAL, "internal: unknown option");
}

int jail_parse_args(int argc, char **argv, struct jail_config *cfg)
{
	bool uid_set = false, gid_set = false;
	const char *slash;
	int i, r;

	memset(cfg, 0, sizeof(*cfg));
	cfg->cgroup_version = 1; /* Firecracker's jailer default */
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *val = NULL, *eq;
		size_t k, nlen;

		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
		nlen = eq ? (size_t)(eq - a) : strlen(a);
		for (k = 0; k < sizeof(opts) / sizeof(opts[0]); k++)
			if (strlen(opts[k].name) == nlen && strncmp(opts[k].name, a, nlen) == 0)
				break;
		if (k == sizeof(opts) / sizeof(opts[0])) {
			if (a[0] == '-')
				return err_set(
				    EINVAL, "unknown option '%.80s' (see 'ember jail --help')", a);
			return err_set(
			    EINVAL, "unexpected argument '%.80s' (ember arguments go after '--')",
			    a);
		}
		if (opts[k].has_arg) {
			if (eq) {
				val = eq + 1;
			} else if (i + 1 < argc) {
				val = argv[++i];
			} else {
				return err_set(EINVAL, "%s needs a value", opts[k].name);
			}
		} else if (eq) {
			return err_set(EINVAL, "%s takes no value", opts[k].name);
		}
		r = parse_one(cfg, opts[k].id, opts[k].name, val, &uid_set, &gid_set);
		if (r != 0)
			return r;
	}
	cfg->exec_args = argv + i;
	cfg->n_exec_args = argc - i > 0 ? argc - i : 0;

	if (!cfg->id)
		return err_set(EINVAL, "missing --id (see 'ember jail --help')");
	if (!cfg->exec_file)
		return err_set(EINVAL, "missing --exec-file (see 'ember jail --help')");
	if (!uid_set)
		return err_set(EINVAL, "missing --uid (see 'ember jail --help')");
	if (!gid_set)
		return err_set(EINVAL, "missing --gid (see 'ember jail --help')");
	if (!cfg->chroot_base)
		cfg->chroot_base = JAIL_DEFAULT_BASE;

	slash = strrchr(cfg->exec_file, '/');
	cfg->exec_name = slash ? slash + 1 : cfg->exec_file;
	if (!cfg->exec_name[0] || strcmp(cfg->exec_name, ".") == 0 ||
	    strcmp(cfg->exec_name, "..") == 0)
		return err_set(EINVAL, "invalid --exec-file '%.200s': it must name a file",
			       cfg->exec_file);
	if (strlen(cfg->exec_name) > NAME_MAX - 4) /* room for ".pid" */
		return err_set(ENAMETOOLONG, "invalid --exec-file: file name too long");
	if (!cfg->parent_cgroup)
		cfg->parent_cgroup = cfg->exec_name;
	/* Firecracker: --cgroup-version 2 without --cgroup creates no cgroup
	 * but moves the process into --parent-cgroup when that exists. */
	if (cfg->cgroup_version == 2 && cfg->cgroup_version_given && cfg->n_cgroups == 0)
		cfg->use_cgroup = cfg->cgroup_parent_only = true;
	for (size_t c = 0; c < cfg->n_copies; c++) {
		const char *d = cfg->copies[c].dst;
		size_t n = strlen(cfg->exec_name);

		if ((d[1] && strncmp(d + 1, cfg->exec_name, n) == 0 &&
		     (d[1 + n] == '\0' || d[1 + n] == '/')) ||
		    strcmp(d, "/dev") == 0 || strncmp(d, "/dev/", 5) == 0)
			return err_set(EINVAL,
				       "--copy-in destination %.200s would replace a file the "
				       "jailer creates",
				       d);
	}
	return 0;
}

static int path_join(char *buf, size_t cap, const char *a, const char *b, const char *c,
		     const char *d)
{
	int n = snprintf(buf, cap, "%s/%s/%s%s", a, b, c, d);

	if (n < 0 || (size_t)n >= cap)
		return err_set(ENAMETOOLONG, "jail path %s/%s/%s%s is too long", a, b, c, d);
	return 0;
}

int jail_dir_path(const struct jail_config *cfg, const char *base, char *buf, size_t cap)
{
	char b[PATH_MAX];
	size_t bl = strlen(base);

	/* no trailing '/': "/" as base gives "/ember/ID", not "//ember/ID" */
	while (bl > 0 && base[bl - 1] == '/')
		bl--;
	if (bl >= sizeof(b))
		return err_set(ENAMETOOLONG, "chroot base dir is too long");
	memcpy(b, base, bl);
	b[bl] = '\0';
	return path_join(buf, cap, b, cfg->exec_name, cfg->id, "");
}

int jail_root_path(const struct jail_config *cfg, const char *base, char *buf, size_t cap)
{
	int r = jail_dir_path(cfg, base, buf, cap);
	size_t n;

	if (r < 0)
		return r;
	n = strlen(buf);
	if (n + sizeof("/root") > cap)
		return err_set(ENAMETOOLONG, "jail path %s/root is too long", buf);
	memcpy(buf + n, "/root", sizeof("/root"));
	return 0;
}

char **jail_exec_argv(const struct jail_config *cfg)
{
	bool add_id = !(cfg->n_exec_args > 0 && strcmp(cfg->exec_args[0], "run") == 0);
	size_t n = 1 + (add_id ? 2 : 0) + (size_t)cfg->n_exec_args + 1, k = 0;
	char **av = calloc(n, sizeof(*av));
	static char id_opt[] = "--id";

	if (!av)
		return NULL;
	/* the path is filled in by the caller's buffer; argv[0] is the name */
	av[k++] = (char *)cfg->exec_name;
	if (add_id) {
		av[k++] = id_opt;
		av[k++] = (char *)cfg->id;
	}
	for (int i = 0; i < cfg->n_exec_args; i++)
		av[k++] = cfg->exec_args[i];
	av[k] = NULL;
	return av;
}

int jail_elf_interp(const void *image, size_t len, char *interp, size_t cap)
{
	const uint8_t *img = image;
	const Elf64_Ehdr *eh = image;
	uint64_t ph_bytes;

	if (len < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0)
		return err_set(ENOEXEC, "not an ELF executable");
	if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh->e_machine != arch_layout.elf_machine)
		return err_set(ENOEXEC, "not an %s ELF executable", arch_layout.name);
	if (eh->e_type != ET_EXEC && eh->e_type != ET_DYN)
		return err_set(ENOEXEC, "ELF file is not an executable (e_type %u)", eh->e_type);
	if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phnum == 0 || eh->e_phnum >= PN_XNUM)
		return err_set(ENOEXEC, "ELF executable has bad program headers");
	ph_bytes = (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr);
	if (eh->e_phoff > len || ph_bytes > len - eh->e_phoff)
		return err_set(ENOEXEC, "ELF program headers lie outside the file");
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		Elf64_Phdr ph;

		memcpy(&ph, img + eh->e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_INTERP)
			continue;
		if (ph.p_offset > len || ph.p_filesz > len - ph.p_offset || ph.p_filesz < 2 ||
		    ph.p_filesz > cap || ph.p_filesz > PATH_MAX)
			return err_set(ENOEXEC, "ELF interpreter path is malformed");
		if (img[ph.p_offset + ph.p_filesz - 1] != '\0' ||
		    memchr(img + ph.p_offset, '\0', ph.p_filesz - 1))
			return err_set(ENOEXEC, "ELF interpreter path is not a string");
		memcpy(interp, img + ph.p_offset, ph.p_filesz);
		if (interp[0] != '/')
			return err_set(ENOEXEC, "ELF interpreter path '%.200s' is not absolute",
				       interp);
		return 1;
	}
	return 0; /* static (or static-pie: ET_DYN without PT_INTERP) */
}

/* Copies field f (space-terminated) decoding \ooo escapes; false on overflow. */
static bool unescape_field(const char *f, size_t flen, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < flen; i++) {
		char ch = f[i];

		if (ch == '\\' && i + 3 < flen && f[i + 1] >= '0' && f[i + 1] <= '3' &&
		    f[i + 2] >= '0' && f[i + 2] <= '7' && f[i + 3] >= '0' && f[i + 3] <= '7') {
			ch =
			    (char)((f[i + 1] - '0') * 64 + (f[i + 2] - '0') * 8 + (f[i + 3] - '0'));
			i += 3;
		}
		if (o + 1 >= cap)
			return false;
		out[o++] = ch;
	}
	out[o] = '\0';
	return true;
}

/* The first mount of fstype in the text of /proc/self/mountinfo whose super
 * options (the last field) hold the word want (comma-separated), if want is
 * not NULL: its mount point into out. 1 found, 0 not, -ENAMETOOLONG. */
static int find_mount(const char *mountinfo, const char *fstype, const char *want, char *out,
		      size_t cap)
{
	size_t tlen = strlen(fstype), wlen = want ? strlen(want) : 0;

	for (const char *line = mountinfo; line && *line;) {
		const char *end = strchr(line, '\n');
		size_t llen = end ? (size_t)(end - line) : strlen(line);
		const char *fields[5], *p = line, *lim = line + llen, *sep = NULL;
		size_t flen[5];
		int nf = 0;

		/* id parent major:minor root mount-point ... " - " fstype source opts */
		while (nf < 5 && p < lim) {
			const char *q = memchr(p, ' ', (size_t)(lim - p));

			fields[nf] = p;
			flen[nf] = q ? (size_t)(q - p) : (size_t)(lim - p);
			nf++;
			p = q ? q + 1 : lim;
		}
		for (const char *s = p; s + 3 <= lim; s++)
			if (s[0] == '-' && s[1] == ' ' && s[-1] == ' ') {
				sep = s;
				break;
			}
		line = end ? end + 1 : NULL;
		if (nf < 5 || !sep || (size_t)(lim - (sep + 2)) < tlen ||
		    strncmp(sep + 2, fstype, tlen) != 0 ||
		    (sep[2 + tlen] != ' ' && sep + 2 + tlen != lim))
			continue;
		if (want) {
			/* the super options: after fstype and source */
			const char *o =
			    memchr(sep + 3 + tlen, ' ', (size_t)(lim - (sep + 3 + tlen)));
			bool found = false;

			for (o = o ? o + 1 : lim; o < lim && !found;) {
				const char *c = memchr(o, ',', (size_t)(lim - o));
				size_t n = c ? (size_t)(c - o) : (size_t)(lim - o);

				found = n == wlen && strncmp(o, want, n) == 0;
				o = c ? c + 1 : lim;
			}
			if (!found)
				continue;
		}
		if (!unescape_field(fields[4], flen[4], out, cap))
			return -ENAMETOOLONG;
		return 1;
	}
	return 0;
}

int jail_cgroup2_mount(const char *mountinfo, char *out, size_t cap)
{
	int r = find_mount(mountinfo, "cgroup2", NULL, out, cap);

	if (r < 0)
		return err_set(ENAMETOOLONG, "cgroup2 mount point is too long");
	if (r == 0)
		return err_set(ENOENT,
			       "no cgroup2 file system is mounted (see /proc/self/mountinfo); "
			       "mount one, or use --cgroup-version 1 on a cgroup v1 host");
	return 0;
}

int jail_cgroup1_mount(const char *mountinfo, const char *ctrl, char *out, size_t cap)
{
	int r = find_mount(mountinfo, "cgroup", ctrl, out, cap);

	if (r < 0)
		return err_set(ENAMETOOLONG, "cgroup v1 mount point is too long");
	if (r == 0)
		return err_set(ENOENT,
			       "no cgroup v1 hierarchy with the '%s' controller is mounted (see "
			       "/proc/self/mountinfo); on a cgroup v2 host use --cgroup-version 2",
			       ctrl);
	return 0;
}
