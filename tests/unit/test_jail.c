/* `ember jail`: the parts without side effects — argument parsing and
 * validation, path building, cgroup/rlimit/copy-in specs, the exec argv, the
 * ELF interpreter check and the cgroup2 mount lookup. (The jail itself needs
 * root: tests/e2e/test_jail.sh.) */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ember/arch.h"
#include "ember/error.h"
#include "ember/jail.h"

static void expect_err(int r, int errnum, const char *needle)
{
	assert_int_equal(r, -errnum);
	if (!strstr(err_msg(), needle))
		fail_msg("error \"%s\" does not mention \"%s\"", err_msg(), needle);
}

static void test_id(void **state)
{
	char id64[65], id65[66];

	(void)state;
	memset(id64, 'a', 64);
	id64[64] = '\0';
	memset(id65, 'b', 65);
	id65[65] = '\0';
	assert_int_equal(jail_check_id("a"), 0);
	assert_int_equal(jail_check_id("551e7604-e35c-42b3-b825-416853441234"), 0);
	assert_int_equal(jail_check_id("VM-0"), 0);
	assert_int_equal(jail_check_id(id64), 0);
	expect_err(jail_check_id(""), EINVAL, "1..64");
	expect_err(jail_check_id(id65), EINVAL, "1..64");
	expect_err(jail_check_id("../x"), EINVAL, "only letters");
	expect_err(jail_check_id(".."), EINVAL, "only letters");
	expect_err(jail_check_id("a/b"), EINVAL, "only letters");
	expect_err(jail_check_id("a_b"), EINVAL, "only letters");
	expect_err(jail_check_id("a b"), EINVAL, "only letters");
	expect_err(jail_check_id("a\n"), EINVAL, "only letters");
	expect_err(jail_check_id("caf\xc3\xa9"), EINVAL, "only letters");
}

static void test_id_number(void **state)
{
	static const char *const bad[] = {"",	"-1", "+1",	    "0x10",	   "12a",
					  " 1", "1 ", "4294967295", "99999999999", "1e3"};
	unsigned int v;

	(void)state;
	assert_int_equal(jail_parse_id_number("0", "--uid", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(jail_parse_id_number("1234", "--uid", &v), 0);
	assert_int_equal(v, 1234);
	assert_int_equal(jail_parse_id_number("010", "--uid", &v), 0);
	assert_int_equal(v, 10); /* decimal, never octal */
	assert_int_equal(jail_parse_id_number("4294967294", "--gid", &v), 0);
	assert_int_equal(v, 4294967294u);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_err(jail_parse_id_number(bad[i], "--gid", &v), EINVAL, "invalid --gid");
}

static void test_paths(void **state)
{
	(void)state;
	assert_int_equal(jail_check_jail_path("/kernel", "x"), 0);
	assert_int_equal(jail_check_jail_path("/a/b.c/..d", "x"), 0);
	expect_err(jail_check_jail_path("kernel", "x"), EINVAL, "absolute");
	expect_err(jail_check_jail_path("/", "x"), EINVAL, "empty");
	expect_err(jail_check_jail_path("/a//b", "x"), EINVAL, "empty path component");
	expect_err(jail_check_jail_path("/a/", "x"), EINVAL, "empty path component");
	expect_err(jail_check_jail_path("/../etc/passwd", "x"), EINVAL, "'..'");
	expect_err(jail_check_jail_path("/a/./b", "x"), EINVAL, "'..'");
	expect_err(jail_check_jail_path("/a/..", "x"), EINVAL, "'..'");
	assert_int_equal(jail_check_relative_path("ember", "p"), 0);
	assert_int_equal(jail_check_relative_path("all/vms", "p"), 0);
	expect_err(jail_check_relative_path("/abs", "p"), EINVAL, "relative");
	expect_err(jail_check_relative_path("../x", "p"), EINVAL, "'..'");
	expect_err(jail_check_relative_path("", "p"), EINVAL, "empty");
}

static void test_cgroup_spec(void **state)
{
	struct jail_cgroup_kv kv;
	char ctrl[64];

	(void)state;
	assert_int_equal(jail_parse_cgroup("memory.max=268435456", &kv), 0);
	assert_string_equal(kv.file, "memory.max");
	assert_string_equal(kv.value, "268435456");
	free(kv.file);
	assert_int_equal(jail_parse_cgroup("cpu.max=50000 100000", &kv), 0);
	assert_string_equal(kv.file, "cpu.max");
	assert_string_equal(kv.value, "50000 100000");
	free(kv.file);
	assert_int_equal(jail_parse_cgroup("hugetlb.2MB.max=0", &kv), 0);
	free(kv.file);
	expect_err(jail_parse_cgroup("memory.max", &kv), EINVAL, "FILE=VALUE");
	assert_null(kv.file);
	expect_err(jail_parse_cgroup("memory.max=", &kv), EINVAL, "empty value");
	expect_err(jail_parse_cgroup("=1", &kv), EINVAL, "length");
	expect_err(jail_parse_cgroup("max=1", &kv), EINVAL, "CONTROLLER.NAME");
	expect_err(jail_parse_cgroup(".max=1", &kv), EINVAL, "CONTROLLER.NAME");
	expect_err(jail_parse_cgroup("memory.=1", &kv), EINVAL, "CONTROLLER.NAME");
	expect_err(jail_parse_cgroup("../memory.max=1", &kv), EINVAL, "may only have");
	expect_err(jail_parse_cgroup("a/memory.max=1", &kv), EINVAL, "may only have");
	expect_err(jail_parse_cgroup("memory.max=1\n2", &kv), EINVAL, "bad value");
	expect_err(jail_parse_cgroup("cgroup.procs=1", &kv), EINVAL, "managed by the jailer");
	expect_err(jail_parse_cgroup("cgroup.subtree_control=+cpu", &kv), EINVAL, "managed");
	expect_err(jail_parse_cgroup("cgroup.kill=1", &kv), EINVAL, "managed");
	assert_null(kv.file);

	assert_int_equal(jail_cgroup_controller("memory.max", ctrl, sizeof(ctrl)), 0);
	assert_string_equal(ctrl, "memory");
	assert_int_equal(jail_cgroup_controller("cgroup.max.depth", ctrl, sizeof(ctrl)), 0);
	assert_string_equal(ctrl, "cgroup");
	expect_err(jail_cgroup_controller("memorymax", ctrl, sizeof(ctrl)), EINVAL, "CONTROLLER");
	expect_err(jail_cgroup_controller("memory.max", ctrl, 4), EINVAL, "too long");
}

static void test_rlimit_spec(void **state)
{
	static const char *const bad[] = {"fsize",
					  "fsize=",
					  "fsize=1k",
					  "fsize=-1",
					  "fsize=0x10",
					  "no-file=1.5",
					  "no-file= 1",
					  "fsize=18446744073709551615",
					  "fsize=99999999999999999999"};
	struct jail_rlimit rl;

	(void)state;
	assert_int_equal(jail_parse_rlimit("fsize=250000000", &rl), 0);
	assert_int_equal(rl.resource, RLIMIT_FSIZE);
	assert_int_equal(rl.value, 250000000);
	assert_string_equal(rl.name, "fsize");
	assert_int_equal(jail_parse_rlimit("no-file=1024", &rl), 0);
	assert_int_equal(rl.resource, RLIMIT_NOFILE);
	assert_int_equal(rl.value, 1024);
	assert_int_equal(jail_parse_rlimit("fsize=0", &rl), 0);
	assert_int_equal(rl.value, 0);
	expect_err(jail_parse_rlimit("nofile=1", &rl), EINVAL, "unknown resource");
	expect_err(jail_parse_rlimit("bogus=1", &rl), EINVAL, "unknown resource");
	expect_err(jail_parse_rlimit("fsizex=1", &rl), EINVAL, "unknown resource");
	expect_err(jail_parse_rlimit("no-file =1", &rl), EINVAL, "unknown resource");
	expect_err(jail_parse_rlimit("=1", &rl), EINVAL, "unknown resource");
	expect_err(jail_parse_rlimit("fsize", &rl), EINVAL, "RESOURCE=VALUE");
	for (size_t i = 1; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_err(jail_parse_rlimit(bad[i], &rl), EINVAL, "decimal number");
}

static void test_copy_spec(void **state)
{
	struct jail_copy c;

	(void)state;
	assert_int_equal(jail_parse_copy("/images/vmlinux", &c), 0);
	assert_string_equal(c.src, "/images/vmlinux");
	assert_string_equal(c.dst, "/vmlinux");
	free(c.src);
	free(c.dst);
	assert_int_equal(jail_parse_copy("rootfs.ext4=/disks/root.ext4", &c), 0);
	assert_string_equal(c.src, "rootfs.ext4");
	assert_string_equal(c.dst, "/disks/root.ext4");
	free(c.src);
	free(c.dst);
	/* '=' in the source: the separator is the last "=/" */
	assert_int_equal(jail_parse_copy("/a=b/k=/x", &c), 0);
	assert_string_equal(c.src, "/a=b/k");
	assert_string_equal(c.dst, "/x");
	free(c.src);
	free(c.dst);
	expect_err(jail_parse_copy("/k=/../etc/passwd", &c), EINVAL, "'..'");
	assert_null(c.src);
	expect_err(jail_parse_copy("=/x", &c), EINVAL, "empty source");
	expect_err(jail_parse_copy("/k=/", &c), EINVAL, "empty");
	expect_err(jail_parse_copy("/k=/a//b", &c), EINVAL, "empty path component");
	expect_err(jail_parse_copy("/dir/", &c), EINVAL, "empty");
	expect_err(jail_parse_copy("/dir/..", &c), EINVAL, "'..'");
}

#define ARGV(...) ((char *[]){"jail", __VA_ARGS__, NULL})
#define ARGC(...) ((int)(sizeof((char *[]){"jail", __VA_ARGS__}) / sizeof(char *)))
#define PARSE(cfg, ...) jail_parse_args(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), cfg)
#define BASIC "--id", "vm1", "--exec-file", "/usr/bin/ember", "--uid", "123", "--gid", "100"

static void test_parse_minimal(void **state)
{
	struct jail_config cfg;

	(void)state;
	assert_int_equal(PARSE(&cfg, BASIC), 0);
	assert_string_equal(cfg.id, "vm1");
	assert_string_equal(cfg.exec_file, "/usr/bin/ember");
	assert_string_equal(cfg.exec_name, "ember");
	assert_int_equal(cfg.uid, 123);
	assert_int_equal(cfg.gid, 100);
	assert_string_equal(cfg.chroot_base, JAIL_DEFAULT_BASE);
	assert_string_equal(cfg.parent_cgroup, "ember"); /* Firecracker: the exec file name */
	assert_false(cfg.use_cgroup);
	assert_false(cfg.daemonize);
	assert_false(cfg.new_pid_ns);
	assert_null(cfg.netns);
	assert_int_equal(cfg.n_exec_args, 0);
	assert_int_equal(cfg.n_rlimits, 0);
	jail_config_free(&cfg);
}

static void test_parse_full(void **state)
{
	struct jail_config cfg;

	(void)state;
	assert_int_equal(PARSE(&cfg, "--id=vm-2", "--exec-file", "ember", "--uid=0", "--gid", "0",
			       "--chroot-base-dir", "/tmp/j", "--netns", "/var/run/netns/n1",
			       "--cgroup-version", "2", "--parent-cgroup", "uvms/ext", "--cgroup",
			       "memory.max=1G", "--cgroup=pids.max=64", "--resource-limit",
			       "fsize=10", "--resource-limit", "no-file=64", "--copy-in",
			       "/k/vmlinux", "--copy-in", "/r.ext4=/disk/r.ext4", "--daemonize",
			       "--new-pid-ns", "--", "run", "--kernel", "/vmlinux", "--", "x"),
			 0);
	assert_string_equal(cfg.id, "vm-2");
	assert_string_equal(cfg.exec_name, "ember");
	assert_int_equal(cfg.uid, 0);
	assert_string_equal(cfg.chroot_base, "/tmp/j");
	assert_string_equal(cfg.netns, "/var/run/netns/n1");
	assert_string_equal(cfg.parent_cgroup, "uvms/ext");
	assert_true(cfg.use_cgroup);
	assert_int_equal(cfg.cgroup_version, 2);
	assert_int_equal(cfg.n_cgroups, 2);
	assert_string_equal(cfg.cgroups[0].file, "memory.max");
	assert_string_equal(cfg.cgroups[0].value, "1G");
	assert_string_equal(cfg.cgroups[1].file, "pids.max");
	assert_string_equal(cfg.cgroups[1].value, "64");
	assert_int_equal(cfg.n_rlimits, 2);
	assert_int_equal(cfg.rlimits[0].resource, RLIMIT_FSIZE);
	assert_int_equal(cfg.rlimits[1].resource, RLIMIT_NOFILE);
	assert_int_equal(cfg.n_copies, 2);
	assert_string_equal(cfg.copies[0].dst, "/vmlinux");
	assert_string_equal(cfg.copies[1].dst, "/disk/r.ext4");
	assert_true(cfg.daemonize);
	assert_true(cfg.new_pid_ns);
	/* everything after the first "--" is passed through, a later "--" too */
	assert_int_equal(cfg.n_exec_args, 5);
	assert_string_equal(cfg.exec_args[0], "run");
	assert_string_equal(cfg.exec_args[3], "--");
	assert_string_equal(cfg.exec_args[4], "x");
	jail_config_free(&cfg);

	/* a cgroup file alone turns cgroups on */
	assert_int_equal(PARSE(&cfg, BASIC, "--cgroup", "cpu.weight=50"), 0);
	assert_true(cfg.use_cgroup);
	jail_config_free(&cfg);
	assert_int_equal(PARSE(&cfg, BASIC, "--help"), 1);
	jail_config_free(&cfg);
	assert_int_equal(PARSE(&cfg, "-h"), 1);
	jail_config_free(&cfg);
}

static void test_parse_errors(void **state)
{
	struct jail_config cfg;

	(void)state;
#define BAD(needle, ...)                                                                           \
	do {                                                                                       \
		int r_ = PARSE(&cfg, __VA_ARGS__);                                                 \
		assert_true(r_ < 0);                                                               \
		if (!strstr(err_msg(), needle))                                                    \
			fail_msg("error \"%s\" does not mention \"%s\"", err_msg(), needle);       \
		jail_config_free(&cfg);                                                            \
	} while (0)
	BAD("missing --id", "--exec-file", "/e", "--uid", "1", "--gid", "1");
	BAD("missing --exec-file", "--id", "a", "--uid", "1", "--gid", "1");
	BAD("missing --uid", "--id", "a", "--exec-file", "/e", "--gid", "1");
	BAD("missing --gid", "--id", "a", "--exec-file", "/e", "--uid", "1");
	BAD("--id given twice", BASIC, "--id", "b");
	BAD("--uid given twice", BASIC, "--uid", "5");
	BAD("--netns given twice", BASIC, "--netns", "/a", "--netns", "/b");
	BAD("only letters", "--id", "../../etc", "--exec-file", "/e", "--uid", "1", "--gid", "1");
	BAD("invalid --uid", "--id", "a", "--exec-file", "/e", "--uid", "root", "--gid", "1");
	BAD("needs a value", BASIC, "--netns");
	BAD("takes no value", BASIC, "--daemonize=yes");
	BAD("unknown option", BASIC, "--bogus");
	BAD("unknown option", BASIC, "-x");
	BAD("unknown option", BASIC, "--i", "x"); /* no prefix matching */
	BAD("after '--'", BASIC, "run");
	BAD("supported: 1, 2", BASIC, "--cgroup-version", "3");
	BAD("'..'", BASIC, "--parent-cgroup", "../../..");
	BAD("relative", BASIC, "--parent-cgroup", "/abs");
	BAD("FILE=VALUE", BASIC, "--cgroup", "memory.max");
	BAD("unknown resource", BASIC, "--resource-limit", "cpu=1");
	BAD("no-file given twice", BASIC, "--resource-limit", "no-file=1", "--resource-limit",
	    "no-file=2");
	BAD("two files go to /k", BASIC, "--copy-in", "/a/k", "--copy-in", "/b/k");
	BAD("would replace", BASIC, "--copy-in", "/x=/ember");
	BAD("would replace", BASIC, "--copy-in", "/x=/ember/y");
	BAD("would replace", BASIC, "--copy-in", "/x=/dev/kvm");
	BAD("would replace", BASIC, "--copy-in", "/x=/dev");
	BAD("must name a file", "--id", "a", "--exec-file", "/usr/bin/", "--uid", "1", "--gid",
	    "1");
	BAD("must name a file", "--id", "a", "--exec-file", "/usr/..", "--uid", "1", "--gid", "1");
	BAD("is empty", BASIC, "--chroot-base-dir", "");
#undef BAD
	/* not a clash: /embers, /devices */
	assert_int_equal(PARSE(&cfg, BASIC, "--copy-in", "/x=/embers", "--copy-in", "/y=/devices"),
			 0);
	jail_config_free(&cfg);
}

static void test_jail_paths(void **state)
{
	struct jail_config cfg;
	char buf[PATH_MAX], big[PATH_MAX + 10];

	(void)state;
	assert_int_equal(PARSE(&cfg, BASIC), 0);
	assert_int_equal(jail_dir_path(&cfg, "/srv/jailer", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/srv/jailer/ember/vm1");
	assert_int_equal(jail_root_path(&cfg, "/srv/jailer", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/srv/jailer/ember/vm1/root");
	assert_int_equal(jail_root_path(&cfg, "/", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/ember/vm1/root");
	assert_int_equal(jail_root_path(&cfg, "/tmp/j//", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/tmp/j/ember/vm1/root");
	expect_err(jail_root_path(&cfg, "/srv/jailer", buf, 20), ENAMETOOLONG, "too long");
	expect_err(jail_root_path(&cfg, "/srv/jailer", buf, 22), ENAMETOOLONG, "too long");
	assert_int_equal(jail_root_path(&cfg, "/srv/jailer", buf, 27), 0);
	memset(big, 'x', sizeof(big) - 1);
	big[0] = '/';
	big[sizeof(big) - 1] = '\0';
	expect_err(jail_root_path(&cfg, big, buf, sizeof(buf)), ENAMETOOLONG, "too long");
	jail_config_free(&cfg);
}

static void test_exec_argv(void **state)
{
	struct jail_config cfg;
	char **av;

	(void)state;
	/* one-shot run: the arguments unchanged */
	assert_int_equal(PARSE(&cfg, BASIC, "--", "run", "--kernel", "/k"), 0);
	av = jail_exec_argv(&cfg);
	assert_non_null(av);
	assert_string_equal(av[0], "ember");
	assert_string_equal(av[1], "run");
	assert_string_equal(av[2], "--kernel");
	assert_string_equal(av[3], "/k");
	assert_null(av[4]);
	free(av);
	jail_config_free(&cfg);
	/* process mode: --id ID first, as Firecracker's jailer does */
	assert_int_equal(PARSE(&cfg, BASIC, "--", "--api-sock", "/api.sock"), 0);
	av = jail_exec_argv(&cfg);
	assert_string_equal(av[0], "ember");
	assert_string_equal(av[1], "--id");
	assert_string_equal(av[2], "vm1");
	assert_string_equal(av[3], "--api-sock");
	assert_string_equal(av[4], "/api.sock");
	assert_null(av[5]);
	free(av);
	jail_config_free(&cfg);
	assert_int_equal(PARSE(&cfg, BASIC), 0);
	av = jail_exec_argv(&cfg);
	assert_string_equal(av[1], "--id");
	assert_string_equal(av[2], "vm1");
	assert_null(av[3]);
	free(av);
	jail_config_free(&cfg);
}

/* A minimal x86-64 ELF image: header, n program headers, then payload. */
struct elf_img {
	Elf64_Ehdr eh;
	Elf64_Phdr ph[2];
	char payload[64];
};

static void make_elf(struct elf_img *img, const char *interp)
{
	memset(img, 0, sizeof(*img));
	memcpy(img->eh.e_ident, ELFMAG, SELFMAG);
	img->eh.e_ident[EI_CLASS] = ELFCLASS64;
	img->eh.e_ident[EI_DATA] = ELFDATA2LSB;
	img->eh.e_ident[EI_VERSION] = EV_CURRENT;
	img->eh.e_type = ET_EXEC;
	img->eh.e_machine = arch_layout.elf_machine;
	img->eh.e_phoff = offsetof(struct elf_img, ph);
	img->eh.e_phentsize = sizeof(Elf64_Phdr);
	img->eh.e_phnum = 2;
	img->ph[0].p_type = PT_LOAD;
	img->ph[1].p_type = PT_NOTE;
	if (interp) {
		img->ph[1].p_type = PT_INTERP;
		img->ph[1].p_offset = offsetof(struct elf_img, payload);
		img->ph[1].p_filesz = strlen(interp) + 1;
		strcpy(img->payload, interp);
	}
}

static void test_elf_interp(void **state)
{
	struct elf_img img;
	char interp[PATH_MAX];
	struct stat sb;
	void *self;
	int fd;

	(void)state;
	make_elf(&img, NULL);
	assert_int_equal(jail_elf_interp(&img, sizeof(img), interp, sizeof(interp)), 0);
	img.eh.e_type = ET_DYN; /* static-pie */
	assert_int_equal(jail_elf_interp(&img, sizeof(img), interp, sizeof(interp)), 0);

	make_elf(&img, "/lib64/ld-linux-x86-64.so.2");
	assert_int_equal(jail_elf_interp(&img, sizeof(img), interp, sizeof(interp)), 1);
	assert_string_equal(interp, "/lib64/ld-linux-x86-64.so.2");

	expect_err(jail_elf_interp("#!/bin/sh\n", 10, interp, sizeof(interp)), ENOEXEC,
		   "not an ELF");
	expect_err(jail_elf_interp(&img, 10, interp, sizeof(interp)), ENOEXEC, "not an ELF");
	make_elf(&img, NULL);
	img.eh.e_ident[EI_CLASS] = ELFCLASS32;
	expect_err(jail_elf_interp(&img, sizeof(img), interp, sizeof(interp)), ENOEXEC,
		   arch_layout.name);
	make_elf(&img, NULL);
	img.eh.e_machine = arch_layout.elf_machine == EM_X86_64 ? EM_AARCH64 : EM_X86_64;
	expect_err(jail_elf_interp(&img, sizeof(img), interp, sizeof(interp)), ENOEXEC,
		   arch_layout.name);
	make_elf(&img, NULL);
	img.eh.e_type = ET_REL;
	expect_err(jail_elf_interp(&img, sizeof(img), interp, sizeof(interp)), ENOEXEC,
		   "not an executable");
	make_elf(&img, NULL);
	img.eh.e_phnum = 1000;
	expect_err(jail_elf_interp(&img, sizeof(img), interp, sizeof(interp)), ENOEXEC, "outside");
	make_elf(&img, NULL);
	img.eh.e_phoff = UINT64_MAX - 8;
	expect_err(jail_elf_interp(&img, sizeof(img), interp, sizeof(interp)), ENOEXEC, "outside");
	make_elf(&img, NULL);
	img.eh.e_phentsize = 32;
	expect_err(jail_elf_interp(&img, sizeof(img), interp, sizeof(interp)), ENOEXEC,
		   "program headers");

	make_elf(&img, "/lib/ld.so");
	img.ph[1].p_filesz = UINT64_MAX;
	expect_err(jail_elf_interp(&img, sizeof(img), interp, sizeof(interp)), ENOEXEC,
		   "malformed");
	make_elf(&img, "/lib/ld.so");
	img.ph[1].p_offset = sizeof(img) - 2;
	expect_err(jail_elf_interp(&img, sizeof(img), interp, sizeof(interp)), ENOEXEC,
		   "malformed");
	make_elf(&img, "/lib/ld.so");
	img.ph[1].p_filesz -= 1; /* no NUL inside */
	expect_err(jail_elf_interp(&img, sizeof(img), interp, sizeof(interp)), ENOEXEC, "string");
	make_elf(&img, "/lib/ld.so");
	img.payload[3] = '\0'; /* NUL in the middle */
	expect_err(jail_elf_interp(&img, sizeof(img), interp, sizeof(interp)), ENOEXEC, "string");
	make_elf(&img, "ld.so");
	expect_err(jail_elf_interp(&img, sizeof(img), interp, sizeof(interp)), ENOEXEC,
		   "not absolute");
	make_elf(&img, "/lib64/ld-linux-x86-64.so.2");
	expect_err(jail_elf_interp(&img, sizeof(img), interp, 8), ENOEXEC, "malformed");

	/* this test binary is a dynamically linked x86-64 executable */
	fd = open("/proc/self/exe", O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &sb), 0);
	self = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	assert_true(self != MAP_FAILED);
	assert_int_equal(jail_elf_interp(self, (size_t)sb.st_size, interp, sizeof(interp)), 1);
	assert_true(interp[0] == '/');
	munmap(self, (size_t)sb.st_size);
	close(fd);
}

static void test_cgroup2_mount(void **state)
{
	static const char hybrid[] =
	    "23 1 0:21 / / rw,relatime - ext4 /dev/root rw\n"
	    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
	    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
	    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
	    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
	static const char unified[] =
	    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
	    "30 25 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 "
	    "cgroup2 rw,nsdelegate,memory_recursiveprot";
	static const char none[] = "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
				   "30 25 0:26 / /cgroup2 rw - tmpfs cgroup2 rw\n"
				   "31 25 0:27 / /x rw - cgroup2x none rw\n";
	static const char escaped[] = "50 25 0:40 / /mnt/my\\040cg rw master:3 - cgroup2 none rw\n";
	char out[PATH_MAX];

	(void)state;
	assert_int_equal(jail_cgroup2_mount(hybrid, out, sizeof(out)), 0);
	assert_string_equal(out, "/sys/fs/cgroup/unified");
	assert_int_equal(jail_cgroup2_mount(unified, out, sizeof(out)), 0);
	assert_string_equal(out, "/sys/fs/cgroup");
	expect_err(jail_cgroup2_mount(none, out, sizeof(out)), ENOENT, "no cgroup2");
	expect_err(jail_cgroup2_mount("", out, sizeof(out)), ENOENT, "no cgroup2");
	assert_int_equal(jail_cgroup2_mount(escaped, out, sizeof(out)), 0);
	assert_string_equal(out, "/mnt/my cg");
	expect_err(jail_cgroup2_mount(unified, out, 8), ENAMETOOLONG, "too long");
}

static void test_cgroup1_mount(void **state)
{
	static const char hybrid[] =
	    "23 1 0:21 / / rw,relatime - ext4 /dev/root rw\n"
	    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
	    "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
	    "34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
	    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
	    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
	    "42 31 0:39 / /sys/fs/cgroup/my\\040pids rw shared:9 - cgroup none rw,pids";
	char out[PATH_MAX];

	(void)state;
	assert_int_equal(jail_cgroup1_mount(hybrid, "cpuset", out, sizeof(out)), 0);
	assert_string_equal(out, "/sys/fs/cgroup/cpuset");
	/* co-mounted controllers; a word of the options, never a prefix */
	assert_int_equal(jail_cgroup1_mount(hybrid, "cpu", out, sizeof(out)), 0);
	assert_string_equal(out, "/sys/fs/cgroup/cpu,cpuacct");
	assert_int_equal(jail_cgroup1_mount(hybrid, "cpuacct", out, sizeof(out)), 0);
	assert_string_equal(out, "/sys/fs/cgroup/cpu,cpuacct");
	assert_int_equal(jail_cgroup1_mount(hybrid, "pids", out, sizeof(out)), 0);
	assert_string_equal(out, "/sys/fs/cgroup/my pids");
	/* not "rw", not the cgroup2 mount, not a name= hierarchy's prefix */
	expect_err(jail_cgroup1_mount(hybrid, "memory", out, sizeof(out)), ENOENT,
		   "--cgroup-version 2");
	expect_err(jail_cgroup1_mount(hybrid, "name", out, sizeof(out)), ENOENT, "'name'");
	expect_err(jail_cgroup1_mount(hybrid, "cpus", out, sizeof(out)), ENOENT, "cpus");
	expect_err(jail_cgroup1_mount("", "cpuset", out, sizeof(out)), ENOENT, "cpuset");
	expect_err(jail_cgroup1_mount(hybrid, "cpuset", out, 8), ENAMETOOLONG, "too long");
}

static void test_cgroup_version(void **state)
{
	struct jail_config cfg;

	(void)state;
	/* Firecracker's default: v1, and nothing to do without --cgroup */
	assert_int_equal(PARSE(&cfg, BASIC, "--parent-cgroup", "uvms"), 0);
	assert_int_equal(cfg.cgroup_version, 1);
	assert_false(cfg.use_cgroup);
	jail_config_free(&cfg);
	assert_int_equal(PARSE(&cfg, BASIC, "--cgroup", "cpuset.cpus=0"), 0);
	assert_int_equal(cfg.cgroup_version, 1);
	assert_true(cfg.use_cgroup);
	assert_false(cfg.cgroup_parent_only);
	jail_config_free(&cfg);
	assert_int_equal(PARSE(&cfg, BASIC, "--cgroup-version", "1", "--cgroup", "pids.max=9"), 0);
	assert_int_equal(cfg.cgroup_version, 1);
	assert_true(cfg.use_cgroup);
	jail_config_free(&cfg);
	/* v2 without --cgroup: into the parent cgroup, no leaf */
	assert_int_equal(PARSE(&cfg, BASIC, "--cgroup-version", "2", "--parent-cgroup", "a/b"), 0);
	assert_int_equal(cfg.cgroup_version, 2);
	assert_true(cfg.use_cgroup);
	assert_true(cfg.cgroup_parent_only);
	jail_config_free(&cfg);
	assert_int_equal(PARSE(&cfg, BASIC, "--cgroup-version=2", "--cgroup", "pids.max=9"), 0);
	assert_false(cfg.cgroup_parent_only);
	jail_config_free(&cfg);
	expect_err(PARSE(&cfg, BASIC, "--cgroup-version", "3"), EINVAL, "supported: 1, 2");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_id),
	    cmocka_unit_test(test_id_number),
	    cmocka_unit_test(test_paths),
	    cmocka_unit_test(test_cgroup_spec),
	    cmocka_unit_test(test_rlimit_spec),
	    cmocka_unit_test(test_copy_spec),
	    cmocka_unit_test(test_parse_minimal),
	    cmocka_unit_test(test_parse_full),
	    cmocka_unit_test(test_parse_errors),
	    cmocka_unit_test(test_jail_paths),
	    cmocka_unit_test(test_exec_argv),
	    cmocka_unit_test(test_elf_interp),
	    cmocka_unit_test(test_cgroup2_mount),
	    cmocka_unit_test(test_cgroup1_mount),
	    cmocka_unit_test(test_cgroup_version),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
