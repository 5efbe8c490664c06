/* One-shot runs, the host side: the ELF dependency closure (a real dynamic
 * executable: this test binary; a script; synthetic ELF files, hostile
 * ones included), the kernel module resolution from modules.dep and
 * modules.builtin, the module names per device, and the image build with
 * its cache (same inputs: same file; --keep-initrd; one-line errors). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <elf.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ember/arch.h"
#include "ember/config.h"
#include "ember/elfdeps.h"
#include "ember/error.h"
#include "ember/oneshot.h"
#include "ember/oneshot_abi.h"

static char tmpdir[] = "/tmp/ember-test-oneshot-XXXXXX";

static int setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const void *buf, size_t len, mode_t mode)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	fclose(f);
	chmod(path, mode);
}

static bool has_suffix(const struct elfdeps *d, const char *suffix)
{
	for (int i = 0; i < d->n; i++) {
		size_t l = strlen(d->path[i]), s = strlen(suffix);

		if (l >= s && strcmp(d->path[i] + l - s, suffix) == 0)
			return true;
	}
	return false;
}

/* This test binary: dynamic, with libcmocka and libc. */
static void test_self(void **state)
{
	struct elfdeps d = {0};
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	(void)state;
	assert_true(n > 0);
	self[n] = 0;
	assert_int_equal(elfdeps_add(&d, self), 0);
	assert_string_equal(d.path[0], self);
	assert_true(has_suffix(&d, "/ld-linux-x86-64.so.2"));
	assert_true(has_suffix(&d, "/libc.so.6"));
	assert_true(has_suffix(&d, "/libcmocka.so.0"));
	/* again: nothing new */
	n = d.n;
	assert_int_equal(elfdeps_add(&d, self), 0);
	assert_int_equal(d.n, n);
	elfdeps_free(&d);
}

/* A minimal x86-64 ELF: one PT_LOAD over the file, PT_INTERP, PT_DYNAMIC
 * with DT_STRTAB/DT_STRSZ/DT_NEEDED... */
struct fake {
	Elf64_Ehdr eh;
	Elf64_Phdr ph[3];
	char interp[32];
	Elf64_Dyn dyn[8];
	char str[64];
};

static void make_fake(struct fake *f, const char *interp, const char *needed)
{
	memset(f, 0, sizeof(*f));
	memcpy(f->eh.e_ident, ELFMAG, SELFMAG);
	f->eh.e_ident[EI_CLASS] = ELFCLASS64;
	f->eh.e_ident[EI_DATA] = ELFDATA2LSB;
	f->eh.e_machine = EM_X86_64;
	f->eh.e_type = ET_DYN;
	f->eh.e_phoff = offsetof(struct fake, ph);
	f->eh.e_phentsize = sizeof(Elf64_Phdr);
	f->eh.e_phnum = 3;
	f->ph[0] = (Elf64_Phdr){
	    .p_type = PT_LOAD, .p_offset = 0, .p_vaddr = 0x400000, .p_filesz = sizeof(*f)};
	f->ph[1] = (Elf64_Phdr){.p_type = PT_INTERP,
				.p_offset = offsetof(struct fake, interp),
				.p_filesz = strlen(interp) + 1};
	f->ph[2] = (Elf64_Phdr){.p_type = PT_DYNAMIC,
				.p_offset = offsetof(struct fake, dyn),
				.p_filesz = sizeof(f->dyn)};
	snprintf(f->interp, sizeof(f->interp), "%s", interp);
	snprintf(f->str + 1, sizeof(f->str) - 1, "%s", needed);
	f->dyn[0] =
	    (Elf64_Dyn){.d_tag = DT_STRTAB, .d_un.d_ptr = 0x400000 + offsetof(struct fake, str)};
	f->dyn[1] = (Elf64_Dyn){.d_tag = DT_STRSZ, .d_un.d_val = sizeof(f->str)};
	f->dyn[2] = (Elf64_Dyn){.d_tag = DT_NEEDED, .d_un.d_val = 1};
	f->dyn[3] = (Elf64_Dyn){.d_tag = DT_NULL};
}

static void test_parse_fake(void **state)
{
	struct fake f;
	struct elf_info ei;

	(void)state;
	make_fake(&f, "/lib64/ld-linux-x86-64.so.2", "libc.so.6");
	assert_int_equal(elf_parse((const void *)&f, sizeof(f), &ei), 0);
	assert_string_equal(ei.interp, "/lib64/ld-linux-x86-64.so.2");
	assert_int_equal(ei.nneeded, 1);
	assert_string_equal(ei.needed[0], "libc.so.6");
	assert_null(ei.runpath);
}

/* Hostile files: every way out of bounds is refused, nothing is read
 * outside the buffer (ASan run: make check-asan). */
static void test_parse_hostile(void **state)
{
	struct fake f, g;
	struct elf_info ei;
	uint8_t *copy;

	(void)state;
	make_fake(&f, "/lib64/ld-linux-x86-64.so.2", "libc.so.6");
	/* every truncation: an error or a parse that stays inside */
	for (size_t n = 0; n < sizeof(f); n++) {
		copy = malloc(n ? n : 1);
		memcpy(copy, &f, n);
		int r = elf_parse(copy, n, &ei);
		assert_true(r == 0 || r == -EINVAL || r == -ENOEXEC);
		free(copy);
	}
	g = f;
	g.eh.e_machine = EM_386;
	assert_int_equal(elf_parse((const void *)&g, sizeof(g), &ei), -ENOEXEC);
	g = f;
	g.eh.e_phoff = 1ULL << 40;
	assert_int_equal(elf_parse((const void *)&g, sizeof(g), &ei), -EINVAL);
	g = f;
	g.eh.e_phnum = 0xffff;
	assert_int_equal(elf_parse((const void *)&g, sizeof(g), &ei), -EINVAL);
	g = f;
	g.ph[1].p_filesz = 1ULL << 40; /* interp beyond the file */
	assert_int_equal(elf_parse((const void *)&g, sizeof(g), &ei), -EINVAL);
	g = f;
	memset(g.interp, 'x', sizeof(g.interp)); /* interp without a NUL */
	assert_int_equal(elf_parse((const void *)&g, sizeof(g), &ei), -EINVAL);
	g = f;
	g.dyn[1].d_un.d_val = 1ULL << 40; /* strsz beyond the file */
	assert_int_equal(elf_parse((const void *)&g, sizeof(g), &ei), -EINVAL);
	g = f;
	g.dyn[2].d_un.d_val = 1000; /* needed name beyond strsz */
	assert_int_equal(elf_parse((const void *)&g, sizeof(g), &ei), -EINVAL);
	g = f;
	g.dyn[0].d_un.d_ptr = 0x10; /* strtab outside every PT_LOAD */
	assert_int_equal(elf_parse((const void *)&g, sizeof(g), &ei), -EINVAL);
	g = f;
	memset(g.str, 'y', sizeof(g.str)); /* names without a NUL */
	assert_int_equal(elf_parse((const void *)&g, sizeof(g), &ei), -EINVAL);
}

static void test_missing_library(void **state)
{
	struct fake f;
	struct elfdeps d = {0};
	char path[PATH_MAX];
	struct stat st;

	(void)state;
	/* the host's loader, so only the library is missing */
	assert_int_equal(stat("/lib64/ld-linux-x86-64.so.2", &st), 0);
	make_fake(&f, "/lib64/ld-linux-x86-64.so.2", "libember-nonexistent.so.9");
	snprintf(path, sizeof(path), "%s/prog", tmpdir);
	write_file(path, &f, sizeof(f), 0755);
	assert_int_equal(elfdeps_add(&d, path), -ENOENT);
	assert_non_null(strstr(err_msg(), "needs libember-nonexistent.so.9"));
	elfdeps_free(&d);
	/* a binary that is not there */
	snprintf(path, sizeof(path), "%s/nothing", tmpdir);
	assert_int_equal(elfdeps_add(&d, path), -ENOENT);
	assert_non_null(strstr(err_msg(), "nothing"));
	elfdeps_free(&d);
}

/* A script brings its interpreter (and that one's libraries). */
static void test_script(void **state)
{
	static const char script[] = "#!/bin/sh\necho hi\n";
	struct elfdeps d = {0};
	char path[PATH_MAX];

	(void)state;
	snprintf(path, sizeof(path), "%s/script", tmpdir);
	write_file(path, script, sizeof(script) - 1, 0755);
	assert_int_equal(elfdeps_add(&d, path), 0);
	assert_string_equal(d.path[0], path);
	assert_true(d.n >= 2);
	assert_string_equal(d.path[1], "/bin/sh");
	elfdeps_free(&d);
}

static void test_modules(void **state)
{
	static const char dep[] =
	    "kernel/drivers/virtio/virtio_mmio.ko.xz: kernel/drivers/virtio/virtio_ring.ko.xz "
	    "kernel/drivers/virtio/virtio.ko.xz\n"
	    "kernel/drivers/virtio/virtio.ko.xz:\n"
	    "kernel/drivers/virtio/virtio_ring.ko.xz: kernel/drivers/virtio/virtio.ko.xz\n"
	    "kernel/drivers/block/virtio_blk.ko.xz: kernel/drivers/virtio/virtio_ring.ko.xz "
	    "kernel/drivers/virtio/virtio.ko.xz\n"
	    "kernel/net/vmw_vsock/vmw_vsock_virtio_transport.ko: "
	    "kernel/net/vmw_vsock/vmw_vsock_virtio_transport_common.ko "
	    "kernel/net/vmw_vsock/vsock.ko\n"
	    "kernel/net/vmw_vsock/vmw_vsock_virtio_transport_common.ko: "
	    "kernel/net/vmw_vsock/vsock.ko\n"
	    "kernel/net/vmw_vsock/vsock.ko:\n";
	static const char builtin[] = "kernel/drivers/net/virtio_net.ko\n";
	const char *names[] = {"virtio_mmio", "virtio_blk", "virtio_net",
			       "vmw_vsock_virtio_transport", "virtio_rng"};
	char path[PATH_MAX], **paths;
	int n;

	(void)state;
	snprintf(path, sizeof(path), "%s/modules.dep", tmpdir);
	write_file(path, dep, sizeof(dep) - 1, 0644);
	snprintf(path, sizeof(path), "%s/modules.builtin", tmpdir);
	write_file(path, builtin, sizeof(builtin) - 1, 0644);
	assert_int_equal(oneshot_resolve_modules(tmpdir, names, 5, &paths, &n), 0);
	/* dependencies first, each once; built-in and unknown ones skipped */
	assert_int_equal(n, 7);
	const char *want[] = {"virtio.ko.xz",
			      "virtio_ring.ko.xz",
			      "virtio_mmio.ko.xz",
			      "virtio_blk.ko.xz",
			      "vsock.ko",
			      "vmw_vsock_virtio_transport_common.ko",
			      "vmw_vsock_virtio_transport.ko"};
	for (int i = 0; i < n; i++) {
		const char *b = strrchr(paths[i], '/') + 1;

		assert_string_equal(b, want[i]);
		assert_true(strncmp(paths[i], tmpdir, strlen(tmpdir)) == 0);
		free(paths[i]);
	}
	free(paths);
	/* no modules.dep: one line naming it */
	assert_true(oneshot_resolve_modules("/nonexistent-ember", names, 1, &paths, &n) < 0);
	assert_non_null(strstr(err_msg(), "/nonexistent-ember/modules.dep"));
}

static void test_module_names(void **state)
{
	struct vm_config cfg;
	const char *names[8];

	(void)state;
	config_init(&cfg);
	assert_int_equal(oneshot_module_names(&cfg, names, 8), 0);
	cfg.ndrives = 1;
	cfg.vsock.present = true;
	assert_int_equal(oneshot_module_names(&cfg, names, 8), 3);
	assert_string_equal(names[0], "virtio_mmio");
	assert_string_equal(names[1], "virtio_blk");
	assert_string_equal(names[2], "vmw_vsock_virtio_transport");
}

/* The image: built once, cached by its inputs, copied by --keep-initrd;
 * a missing command or --modules directory is one line before boot. */
static void test_prepare_and_cache(void **state)
{
	struct vm_config cfg;
	char keep[PATH_MAX], first[PATH_MAX], cmd[2 * PATH_MAX];
	struct stat a, b;
	char *argv0;

	(void)state;
	setenv("XDG_CACHE_HOME", tmpdir, 1);
	snprintf(keep, sizeof(keep), "%s/kept.cpio", tmpdir);
	config_init(&cfg);
	cfg.oneshot.present = true;
	cfg.oneshot.argc = 3;
	cfg.oneshot.argv = calloc(4, sizeof(char *));
	cfg.oneshot.argv[0] = strdup("sh");
	cfg.oneshot.argv[1] = strdup("-c");
	cfg.oneshot.argv[2] = strdup("echo hi; exit 7");
	cfg.oneshot.keep_initrd = strdup(keep);
	assert_int_equal(oneshot_prepare(&cfg), 0);
	assert_non_null(cfg.boot.initrd_path);
	assert_string_equal(cfg.boot.cmdline, ONESHOT_CMDLINE);
	assert_true(strncmp(cfg.boot.initrd_path, tmpdir, strlen(tmpdir)) == 0);
	snprintf(first, sizeof(first), "%s", cfg.boot.initrd_path);
	assert_int_equal(stat(first, &a), 0);
	assert_int_equal(stat(keep, &b), 0);
	assert_int_equal(a.st_size, b.st_size);
	/* the archive holds the init, the shell, its loader and the argv */
	snprintf(cmd, sizeof(cmd),
		 "cpio --quiet -it < %s | grep -cxE "
		 "'init|ember/argv|(usr/)?bin/sh|lib64/ld-linux-x86-64.so.2'",
		 first);
	FILE *f = popen(cmd, "r");
	int count = 0;
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%d", &count), 1);
	pclose(f);
	assert_int_equal(count, 4);
	/* the exit register's address, as this machine places it (MMIO) */
	snprintf(cmd, sizeof(cmd), "cpio --quiet -i --to-stdout ember/exit < %s", first);
	f = popen(cmd, "r");
	char reg[64] = "", want[64];
	assert_non_null(f);
	assert_non_null(fgets(reg, sizeof(reg), f));
	pclose(f);
	snprintf(want, sizeof(want), "0x%llx\n", (unsigned long long)arch_layout.oneshot_exit.addr);
	assert_string_equal(reg, want);
	assert_int_equal(arch_layout.oneshot_exit.bus, ARCH_BUS_MMIO);
	assert_int_equal(arch_layout.oneshot_exit.size, ONESHOT_EXIT_SIZE);
	/* a second run: the same image, not rebuilt (same inode, same mtime) */
	free(cfg.boot.initrd_path);
	cfg.boot.initrd_path = NULL;
	assert_int_equal(oneshot_prepare(&cfg), 0);
	assert_string_equal(cfg.boot.initrd_path, first);
	assert_int_equal(stat(first, &b), 0);
	assert_int_equal(a.st_ino, b.st_ino);
	assert_int_equal(a.st_mtim.tv_nsec, b.st_mtim.tv_nsec);
	/* other arguments: another image */
	free(cfg.boot.initrd_path);
	cfg.boot.initrd_path = NULL;
	free(cfg.oneshot.argv[2]);
	cfg.oneshot.argv[2] = strdup("exit 8");
	assert_int_equal(oneshot_prepare(&cfg), 0);
	assert_string_not_equal(cfg.boot.initrd_path, first);
	/* --initrd and a command exclude each other */
	assert_int_equal(oneshot_prepare(&cfg), -EINVAL);
	free(cfg.boot.initrd_path);
	cfg.boot.initrd_path = NULL;
	/* --copy: a dynamically linked program (this test) with its shared
	 * objects (libcjson is linked dynamically), in yet another image */
	char self[PATH_MAX];
	ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
	assert_true(sl > 0);
	self[sl] = 0;
	cfg.oneshot.copy[cfg.oneshot.ncopy++] = strdup(self);
	assert_int_equal(oneshot_prepare(&cfg), 0);
	snprintf(cmd, sizeof(cmd),
		 "cpio --quiet -it < %s | grep -cxE '%s|(usr/)?lib/x86_64-linux-gnu/libcjson.so.1'",
		 cfg.boot.initrd_path, self + 1);
	f = popen(cmd, "r");
	count = 0;
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%d", &count), 1);
	pclose(f);
	assert_int_equal(count, 2);
	free(cfg.boot.initrd_path);
	cfg.boot.initrd_path = NULL;
	/* a --copy that does not exist: an error before boot */
	free(cfg.oneshot.copy[0]);
	cfg.oneshot.copy[0] = strdup("/nonexistent-ember-copy");
	assert_true(oneshot_prepare(&cfg) < 0);
	assert_non_null(strstr(err_msg(), "/nonexistent-ember-copy"));
	assert_null(strchr(err_msg(), '\n'));
	assert_null(cfg.boot.initrd_path);
	free(cfg.oneshot.copy[0]);
	cfg.oneshot.ncopy = 0;
	/* errors before boot */
	argv0 = cfg.oneshot.argv[0];
	cfg.oneshot.argv[0] = strdup("ember-no-such-command");
	assert_int_equal(oneshot_prepare(&cfg), -ENOENT);
	assert_string_equal(err_msg(), "ember-no-such-command: command not found on PATH");
	free(cfg.oneshot.argv[0]);
	cfg.oneshot.argv[0] = argv0;
	cfg.oneshot.modules_dir = strdup("/nonexistent-ember-modules");
	assert_int_equal(oneshot_prepare(&cfg), -ENOENT);
	assert_string_equal(err_msg(), "--modules /nonexistent-ember-modules: no such directory");
	assert_null(cfg.boot.initrd_path);
	config_free(&cfg);
}

static int count_entries(const char *cpio, const char *re)
{
	char cmd[2 * PATH_MAX];
	int count = -1;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "cpio --quiet -it < %s | grep -cxE '%s'", cpio, re);
	f = popen(cmd, "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%d", &count), 1);
	pclose(f);
	return count;
}

/* stdin not a terminal: CMD's stdin over vsock. A vsock device appears
 * (CID 3, its socket a fresh name in TMPDIR) with its modules; the image
 * marks the mode (and is another image); a configured vsock is kept.
 * ember's stdin /dev/null: the guest's, no device. */
static void test_stdin_vsock(void **state)
{
	struct vm_config cfg;
	char mods[PATH_MAX], dep[PATH_MAX + 16], plain[PATH_MAX], prefix[PATH_MAX];
	const char *names[8];

	(void)state;
	setenv("XDG_CACHE_HOME", tmpdir, 1);
	setenv("TMPDIR", tmpdir, 1);
	snprintf(mods, sizeof(mods), "%s/mods", tmpdir);
	mkdir(mods, 0755);
	snprintf(dep, sizeof(dep), "%s/modules.dep", mods);
	write_file(dep, "", 0, 0644);
	config_init(&cfg);
	cfg.oneshot.present = true;
	cfg.oneshot.argc = 1;
	cfg.oneshot.argv = calloc(2, sizeof(char *));
	cfg.oneshot.argv[0] = strdup("cat");
	cfg.oneshot.modules_dir = strdup(mods);
	assert_int_equal(oneshot_prepare(&cfg), 0);
	assert_false(cfg.vsock.present);
	assert_int_equal(count_entries(cfg.boot.initrd_path, "ember/stdin-vsock"), 0);
	snprintf(plain, sizeof(plain), "%s", cfg.boot.initrd_path);
	free(cfg.boot.initrd_path);
	cfg.boot.initrd_path = NULL;

	cfg.oneshot.stdin_vsock = true;
	assert_int_equal(oneshot_prepare(&cfg), 0);
	assert_true(cfg.vsock.present);
	assert_int_equal(cfg.vsock.guest_cid, 3);
	snprintf(prefix, sizeof(prefix), "%s/ember-", tmpdir);
	assert_true(strncmp(cfg.vsock.uds_path, prefix, strlen(prefix)) == 0);
	assert_int_equal(access(cfg.vsock.uds_path, F_OK), -1); /* made at boot */
	assert_int_equal(oneshot_module_names(&cfg, names, 8), 2);
	assert_string_equal(names[1], "vmw_vsock_virtio_transport");
	assert_string_not_equal(cfg.boot.initrd_path, plain);
	assert_int_equal(count_entries(cfg.boot.initrd_path, "ember/stdin-vsock|init|ember/argv"),
			 3);
	free(cfg.boot.initrd_path);
	cfg.boot.initrd_path = NULL;
	config_free(&cfg);

	/* ember's stdin is /dev/null: the guest's /dev/null, no vsock */
	config_init(&cfg);
	cfg.oneshot.present = true;
	cfg.oneshot.stdin_null = true;
	cfg.oneshot.argc = 1;
	cfg.oneshot.argv = calloc(2, sizeof(char *));
	cfg.oneshot.argv[0] = strdup("cat");
	cfg.oneshot.modules_dir = strdup(mods);
	assert_int_equal(oneshot_prepare(&cfg), 0);
	assert_false(cfg.vsock.present);
	assert_string_not_equal(cfg.boot.initrd_path, plain);
	assert_int_equal(count_entries(cfg.boot.initrd_path, "ember/stdin-(null|vsock)"), 1);
	assert_int_equal(count_entries(cfg.boot.initrd_path, "ember/stdin-null"), 1);
	config_free(&cfg);

	/* the user's vsock device carries it ("<uds_path>_<port>") */
	config_init(&cfg);
	cfg.oneshot.present = true;
	cfg.oneshot.stdin_vsock = true;
	cfg.oneshot.argc = 1;
	cfg.oneshot.argv = calloc(2, sizeof(char *));
	cfg.oneshot.argv[0] = strdup("cat");
	cfg.oneshot.modules_dir = strdup(mods);
	cfg.vsock.present = true;
	cfg.vsock.guest_cid = 7;
	cfg.vsock.uds_path = strdup("/run/user.vsock");
	assert_int_equal(oneshot_prepare(&cfg), 0);
	assert_int_equal(cfg.vsock.guest_cid, 7);
	assert_string_equal(cfg.vsock.uds_path, "/run/user.vsock");
	config_free(&cfg);
	unsetenv("TMPDIR");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_self),	  cmocka_unit_test(test_parse_fake),
	    cmocka_unit_test(test_parse_hostile), cmocka_unit_test(test_missing_library),
	    cmocka_unit_test(test_script),	  cmocka_unit_test(test_modules),
	    cmocka_unit_test(test_module_names),  cmocka_unit_test(test_prepare_and_cache),
	    cmocka_unit_test(test_stdin_vsock),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
