/* `ember run` argument parsing (cli.c): good vectors fill the config, every
 * bad one returns a negative errno with one err_msg() line naming the flag. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ember/cli.h"
#include "ember/config.h"
#include "ember/error.h"
#include "ember/log.h"

static char tmpdir[64];
static char tmpl_path[128];

static int group_setup(void **state)
{
	FILE *f;

	(void)state;
	strcpy(tmpdir, "/tmp/ember-cli-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(tmpl_path, sizeof(tmpl_path), "%s/t.json", tmpdir);
	f = fopen(tmpl_path, "w");
	if (!f)
		return -1;
	fputs("{\"cpuid_modifiers\": []}", f);
	fclose(f);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	unlink(tmpl_path);
	rmdir(tmpdir);
	return 0;
}

/* Run cli_parse_run on a NULL-terminated vector (argv[0] = "run"). */
static int parse(struct vm_config *cfg, const char *const *args)
{
	char *argv[64];
	int argc = 0;

	argv[argc++] = "run";
	while (*args)
		argv[argc++] = (char *)*args++;
	argv[argc] = NULL;
	config_init(cfg);
	err_clear();
	return cli_parse_run(argc, argv, cfg);
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* A bad vector: negative errno, one line naming `needle`. */
static void bad_errno(int want, const char *needle, const char *const *args)
{
	struct vm_config cfg;
	int r = parse(&cfg, args);

	if (r >= 0 || (want && r != -want))
		fail_msg("expected %d, got %d (%s) for %s %s", -want, r, err_msg(), args[0],
			 args[1] ? args[1] : "");
	if (!strstr(err_msg(), needle))
		fail_msg("error \"%s\" does not mention \"%s\"", err_msg(), needle);
	if (strchr(err_msg(), '\n'))
		fail_msg("error \"%s\" is more than one line", err_msg());
	config_free(&cfg);
}

#define BAD(errnum, needle, ...) bad_errno(errnum, needle, ARGS(__VA_ARGS__))

static void test_minimal_and_defaults(void **state)
{
	struct vm_config cfg;

	(void)state;
	assert_int_equal(parse(&cfg, ARGS("--kernel", "/k")), 0);
	assert_string_equal(cfg.boot.kernel_path, "/k");
	assert_null(cfg.boot.initrd_path);
	assert_null(cfg.boot.cmdline);
	assert_int_equal(cfg.machine.vcpu_count, 1);
	assert_int_equal(cfg.machine.mem_size_mib, 128);
	assert_int_equal(cfg.console.kind, CONSOLE_STDIO);
	assert_int_equal(cfg.ndrives, 0);
	assert_int_equal(cfg.nnets, 0);
	assert_false(cfg.vsock.present);
	assert_false(cfg.boot.kernel_decompress);
	assert_null(cfg.cpu_template_json);
	config_free(&cfg);
}

static void test_full_vector(void **state)
{
	struct vm_config cfg;
	enum log_level saved = log_get_level();

	(void)state;
	assert_int_equal(
	    parse(&cfg, ARGS("--kernel", "/boot/vmlinux", "--initrd", "/boot/initrd", "--cmdline",
			     "console=ttyS0 quiet", "--mem", "2G", "--cpus", "32", "--cpu-template",
			     tmpl_path, "--console", "file:/tmp/console.log", "--kernel-decompress",
			     "--cmdline-override", "--log-level", "debug", "--boot-timer")),
	    0);
	assert_string_equal(cfg.boot.kernel_path, "/boot/vmlinux");
	assert_string_equal(cfg.boot.initrd_path, "/boot/initrd");
	assert_string_equal(cfg.boot.cmdline, "console=ttyS0 quiet");
	assert_int_equal(cfg.machine.mem_size_mib, 2048);
	assert_int_equal(cfg.machine.vcpu_count, 32);
	assert_string_equal(cfg.cpu_template_json, "{\"cpuid_modifiers\": []}");
	assert_int_equal(cfg.console.kind, CONSOLE_FILE);
	assert_string_equal(cfg.console.path, "/tmp/console.log");
	assert_true(cfg.boot.kernel_decompress);
	assert_true(cfg.boot.cmdline_override);
	assert_true(cfg.boot_timer);
	assert_int_equal(log_get_level(), LOG_DEBUG);
	config_free(&cfg);
	log_set_level(saved);
}

static void test_forms_and_repeats(void **state)
{
	struct vm_config cfg;

	(void)state;
	/* --opt=value, later values win (and earlier strings are not leaked) */
	assert_int_equal(
	    parse(&cfg, ARGS("--kernel=/a", "--kernel", "/b", "--mem=256M", "--mem", "1G", "--mem",
			     "512MiB", "--cpus=2", "--console", "file:/x", "--console", "none")),
	    0);
	assert_string_equal(cfg.boot.kernel_path, "/b");
	assert_int_equal(cfg.machine.mem_size_mib, 512);
	assert_int_equal(cfg.machine.vcpu_count, 2);
	assert_int_equal(cfg.console.kind, CONSOLE_NONE);
	assert_null(cfg.console.path);
	config_free(&cfg);

	/* size spellings and the limits */
	static const struct {
		const char *mem;
		uint64_t mib;
	} sizes[] = {{"16M", 16},	 {"16m", 16},	 {"1G", 1024},	  {"1GiB", 1024},
		     {"3073M", 3073},	 {"16G", 16384}, {"1T", 1 << 20}, {"65536K", 64},
		     {"134217728", 128}, {"0x10", 0}};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		int r = parse(&cfg, ARGS("--kernel", "/k", "--mem", sizes[i].mem));
		if (sizes[i].mib == 0) {
			assert_true(r < 0); /* hex is not a size */
		} else {
			if (r != 0)
				fail_msg("--mem %s: %s", sizes[i].mem, err_msg());
			assert_int_equal(cfg.machine.mem_size_mib, sizes[i].mib);
		}
		config_free(&cfg);
	}
	/* an unambiguous prefix of a long option is accepted by getopt_long */
	assert_int_equal(parse(&cfg, ARGS("--kernel", "/k", "--init", "/i")), 0);
	assert_string_equal(cfg.boot.initrd_path, "/i");
	config_free(&cfg);
	/* "--" ends the options */
	assert_int_equal(parse(&cfg, ARGS("--kernel", "/k", "--")), 0);
	assert_false(cfg.oneshot.present);
	config_free(&cfg);
	/* ... and what follows is a one-shot command, options and all */
	assert_int_equal(parse(&cfg, ARGS("--kernel", "/k", "--copy", "/bin/ls", "--cmdline", "--",
					  "--keep-initrd", "/tmp/i", "--", "sh", "-c", "--mem 1",
					  "--")),
			 0);
	assert_true(cfg.oneshot.present);
	assert_string_equal(cfg.boot.cmdline, "--");
	assert_string_equal(cfg.oneshot.keep_initrd, "/tmp/i");
	assert_int_equal(cfg.oneshot.ncopy, 1);
	assert_string_equal(cfg.oneshot.copy[0], "/bin/ls");
	assert_int_equal(cfg.oneshot.argc, 4);
	assert_string_equal(cfg.oneshot.argv[0], "sh");
	assert_string_equal(cfg.oneshot.argv[2], "--mem 1");
	assert_string_equal(cfg.oneshot.argv[3], "--");
	assert_null(cfg.oneshot.argv[4]);
	assert_int_equal(cfg.machine.mem_size_mib, 128);
	config_free(&cfg);
	BAD(EINVAL, "need a command after --", "--kernel", "/k", "--copy", "/bin/ls");
	BAD(EINVAL, "need a command after --", "--kernel", "/k", "--modules", "/m", "--");
	BAD(EINVAL, "an empty command", "--kernel", "/k", "--", "");
}

static void test_help(void **state)
{
	struct vm_config cfg;
	char out[128], buf[4096];
	int saved, fd;
	ssize_t n;

	(void)state;
	snprintf(out, sizeof(out), "%s/help.txt", tmpdir);
	fflush(stdout);
	saved = dup(1);
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0 && saved >= 0);
	dup2(fd, 1);
	close(fd);
	assert_int_equal(parse(&cfg, ARGS("--help")), 1);
	config_free(&cfg);
	/* --help wins even after other options, and without --kernel */
	assert_int_equal(parse(&cfg, ARGS("--mem", "256M", "--help", "--cpus", "2")), 1);
	config_free(&cfg);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	fd = open(out, O_RDONLY);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	unlink(out);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_non_null(strstr(buf, "--kernel"));
	assert_non_null(strstr(buf, "--disk"));
}

static void test_bad_kernel_and_positional(void **state)
{
	(void)state;
	BAD(EINVAL, "--kernel", "--mem", "128M");
	BAD(EINVAL, "--kernel", "--cpus", "1");
	BAD(EINVAL, "--kernel", "--");
	BAD(EINVAL, "needs a value", "--kernel");
	BAD(EINVAL, "--kernel", "--kernel");
	BAD(EINVAL, "'extra'", "--kernel", "/k", "extra");
	BAD(EINVAL, "'vmlinux'", "vmlinux");
}

static void test_bad_unknown_flags(void **state)
{
	(void)state;
	BAD(EINVAL, "--no-such-flag", "--kernel", "/k", "--no-such-flag");
	BAD(EINVAL, "--no-such-flag", "--no-such-flag=1", "--kernel", "/k");
	BAD(EINVAL, "--kernel-decompress", "--kernel", "/k", "--kernel-decompress=yes");
	BAD(EINVAL, "--help", "--help=1");
	BAD(EINVAL, "-x", "--kernel", "/k", "-x");
	BAD(EINVAL, "-q", "-q", "--kernel", "/k");
	/* ambiguous prefix: cmdline, cpus, console, cpu-template, ... */
	BAD(EINVAL, "--c", "--kernel", "/k", "--c", "1");
	BAD(EINVAL, "--kern", "--kern", "/k"); /* kernel or kernel-decompress */
}

static void test_bad_mem(void **state)
{
	(void)state;
	BAD(EINVAL, "--mem", "--kernel", "/k", "--mem", "0");
	BAD(EINVAL, "--mem", "--kernel", "/k", "--mem", "0M");
	BAD(EINVAL, "--mem", "--kernel", "/k", "--mem", "");
	BAD(EINVAL, "--mem", "--kernel", "/k", "--mem", "12Q");
	BAD(EINVAL, "--mem", "--kernel", "/k", "--mem", "-1");
	BAD(EINVAL, "--mem", "--kernel", "/k", "--mem", "-128M");
	BAD(EINVAL, "--mem", "--kernel", "/k", "--mem", "1.5G");
	BAD(EINVAL, "--mem", "--kernel", "/k", "--mem", "G");
	BAD(EINVAL, "--mem", "--kernel", "/k", "--mem", "128 M");
	BAD(EINVAL, "--mem", "--kernel", "/k", "--mem", " 128M");
	BAD(EINVAL, "--mem", "--kernel", "/k", "--mem", "128MM");
	BAD(EINVAL, "--mem", "--kernel", "/k", "--mem", "1500K"); /* not whole MiB */
	BAD(EINVAL, "--mem", "--kernel", "/k", "--mem", "4097");
	BAD(EINVAL, "--mem", "--kernel", "/k", "--mem", "99999999999999999999999");
	BAD(EINVAL, "--mem", "--kernel", "/k", "--mem", "18446744073709551615G");
	BAD(ERANGE, "--mem", "--kernel", "/k", "--mem", "99999999G");
	BAD(ERANGE, "--mem", "--kernel", "/k", "--mem", "2T");
	BAD(ERANGE, "--mem", "--kernel", "/k", "--mem", "15M");
	BAD(ERANGE, "--mem", "--kernel", "/k", "--mem", "1M");
	BAD(EINVAL, "--mem", "--kernel", "/k", "--mem");
}

static void test_bad_cpus(void **state)
{
	(void)state;
	BAD(EINVAL, "--cpus", "--kernel", "/k", "--cpus", "0");
	BAD(EINVAL, "--cpus", "--kernel", "/k", "--cpus", "33");
	BAD(EINVAL, "--cpus", "--kernel", "/k", "--cpus", "4294967297");
	BAD(EINVAL, "--cpus", "--kernel", "/k", "--cpus", "two");
	BAD(EINVAL, "--cpus", "--kernel", "/k", "--cpus", "-1");
	BAD(EINVAL, "--cpus", "--kernel", "/k", "--cpus", "");
	BAD(EINVAL, "--cpus", "--kernel", "/k", "--cpus", "2x");
	BAD(EINVAL, "--cpus", "--kernel", "/k", "--cpus", " 2");
	BAD(EINVAL, "--cpus", "--kernel", "/k", "--cpus");
}

static void test_bad_console_template_loglevel(void **state)
{
	(void)state;
	BAD(EINVAL, "--console", "--kernel", "/k", "--console", "bogus");
	BAD(EINVAL, "--console", "--kernel", "/k", "--console", "file:");
	BAD(EINVAL, "--console", "--kernel", "/k", "--console", "");
	BAD(EINVAL, "--console", "--kernel", "/k", "--console", "STDIO");
	BAD(ENOENT, "--cpu-template", "--kernel", "/k", "--cpu-template", "/no/such/template");
	BAD(EINVAL, "--cpu-template", "--kernel", "/k", "--cpu-template", "/tmp");
	BAD(EINVAL, "--log-level", "--kernel", "/k", "--log-level", "loud");
	BAD(EINVAL, "--log-level", "--kernel", "/k", "--log-level", "");
}

static void test_disk(void **state)
{
	struct vm_config cfg;

	(void)state;
	assert_int_equal(parse(&cfg, ARGS("--kernel", "/k", "--disk", "/img/root.ext4", "--disk",
					  "/img/data.raw,ro", "--disk", "/img/c,id=scratch_1",
					  "--disk", "/img/d,id=x-y,ro", "--disk", "/img/e,ro,rw")),
			 0);
	assert_int_equal(cfg.ndrives, 5);
	assert_string_equal(cfg.drives[0].path, "/img/root.ext4");
	assert_string_equal(cfg.drives[0].id, "disk0");
	assert_false(cfg.drives[0].read_only);
	assert_true(cfg.drives[0].is_root);
	assert_string_equal(cfg.drives[1].path, "/img/data.raw");
	assert_string_equal(cfg.drives[1].id, "disk1");
	assert_true(cfg.drives[1].read_only);
	assert_false(cfg.drives[1].is_root);
	assert_string_equal(cfg.drives[2].id, "scratch_1");
	assert_false(cfg.drives[2].read_only);
	assert_string_equal(cfg.drives[3].path, "/img/d");
	assert_string_equal(cfg.drives[3].id, "x-y");
	assert_true(cfg.drives[3].read_only);
	assert_false(cfg.drives[4].read_only);
	config_free(&cfg);

	/* the direct helper */
	{
		struct drive_cfg d;
		char id64[80];

		memset(&d, 0, sizeof(d));
		memset(id64, 'a', 64);
		strcpy(id64 + 64, "");
		char spec[128];
		snprintf(spec, sizeof(spec), "/p,id=%s", id64);
		assert_int_equal(cli_parse_disk(spec, &d), 0);
		assert_string_equal(d.id, id64);
		drive_cfg_free(&d);
	}
}

static void test_disk_limit(void **state)
{
	struct vm_config cfg;
	const char *args[2 + 2 * (CFG_MAX_DRIVES + 1) + 1];
	char specs[CFG_MAX_DRIVES + 1][32];
	int n = 0;

	(void)state;
	args[n++] = "--kernel";
	args[n++] = "/k";
	for (int i = 0; i < CFG_MAX_DRIVES; i++) {
		snprintf(specs[i], sizeof(specs[i]), "/img/%d", i);
		args[n++] = "--disk";
		args[n++] = specs[i];
	}
	args[n] = NULL;
	assert_int_equal(parse(&cfg, args), 0);
	assert_int_equal(cfg.ndrives, CFG_MAX_DRIVES);
	assert_string_equal(cfg.drives[CFG_MAX_DRIVES - 1].path, "/img/8");
	assert_string_equal(cfg.drives[CFG_MAX_DRIVES - 1].id, "disk8");
	config_free(&cfg);

	snprintf(specs[CFG_MAX_DRIVES], sizeof(specs[0]), "/img/one-too-many");
	args[n++] = "--disk";
	args[n++] = specs[CFG_MAX_DRIVES];
	args[n] = NULL;
	bad_errno(0, "--disk", args);
}

static void test_bad_disk(void **state)
{
	char id65[80], spec[128];

	(void)state;
	BAD(EINVAL, "--disk", "--kernel", "/k", "--disk", "");
	BAD(EINVAL, "--disk", "--kernel", "/k", "--disk", ",");
	BAD(EINVAL, "--disk", "--kernel", "/k", "--disk", ",ro");
	BAD(EINVAL, "--disk", "--kernel", "/k", "--disk", ",id=root");
	BAD(EINVAL, "--disk", "--kernel", "/k", "--disk", "/img,rx");
	BAD(EINVAL, "--disk", "--kernel", "/k", "--disk", "/img,ro,cache=none");
	BAD(EINVAL, "--disk", "--kernel", "/k", "--disk", "/img,id=");
	BAD(EINVAL, "--disk", "--kernel", "/k", "--disk", "/img,id=a/b");
	BAD(EINVAL, "--disk", "--kernel", "/k", "--disk", "/img,id=a b");
	memset(id65, 'a', 65);
	id65[65] = '\0';
	snprintf(spec, sizeof(spec), "/img,id=%s", id65);
	BAD(EINVAL, "--disk", "--kernel", "/k", "--disk", spec);
	BAD(EINVAL, "--disk", "--kernel", "/k", "--disk");
}

static void test_net(void **state)
{
	struct vm_config cfg;
	static const uint8_t mac[6] = {0x02, 0xfc, 0x00, 0x00, 0x00, 0x0a};

	(void)state;
	assert_int_equal(
	    parse(&cfg, ARGS("--kernel", "/k", "--net", "tap0", "--net",
			     "tap1,mac=02:FC:00:00:00:0a", "--net", "tap-with-15chr,id=uplink",
			     "--net", "t3,id=eth3,mac=02:fc:00:00:00:0a")),
	    0);
	assert_int_equal(cfg.nnets, 4);
	assert_string_equal(cfg.nets[0].host_dev_name, "tap0");
	assert_string_equal(cfg.nets[0].id, "net0");
	assert_false(cfg.nets[0].has_mac);
	assert_string_equal(cfg.nets[1].host_dev_name, "tap1");
	assert_true(cfg.nets[1].has_mac);
	assert_memory_equal(cfg.nets[1].mac, mac, 6);
	assert_string_equal(cfg.nets[1].id, "net1");
	assert_string_equal(cfg.nets[2].host_dev_name, "tap-with-15chr");
	assert_string_equal(cfg.nets[2].id, "uplink");
	assert_string_equal(cfg.nets[3].id, "eth3");
	assert_memory_equal(cfg.nets[3].mac, mac, 6);
	config_free(&cfg);

	BAD(0, "--net", "--kernel", "/k", "--net", "a", "--net", "b", "--net", "c", "--net", "d",
	    "--net", "e");

	/* passt: started by ember (forwards) or at a socket */
	assert_int_equal(parse(&cfg, ARGS("--kernel", "/k", "--net",
					  "passt,mac=02:FC:00:00:00:0a,forward=8022:22,forward=80",
					  "--net", "passt-socket=/run/p.sock,id=up")),
			 0);
	assert_int_equal(cfg.nnets, 2);
	assert_true(cfg.nets[0].passt);
	assert_null(cfg.nets[0].host_dev_name);
	assert_null(cfg.nets[0].passt_socket);
	assert_true(cfg.nets[0].has_mac);
	assert_int_equal(cfg.nets[0].npasst_fwd, 2);
	assert_int_equal(cfg.nets[0].passt_fwd[0].host, 8022);
	assert_int_equal(cfg.nets[0].passt_fwd[0].guest, 22);
	assert_int_equal(cfg.nets[0].passt_fwd[1].host, 80);
	assert_int_equal(cfg.nets[0].passt_fwd[1].guest, 80);
	assert_false(cfg.nets[1].passt);
	assert_string_equal(cfg.nets[1].passt_socket, "/run/p.sock");
	assert_string_equal(cfg.nets[1].id, "up");
	assert_int_equal(config_check_net(&cfg.nets[0]), 0);
	assert_int_equal(config_check_net(&cfg.nets[1]), 0);
	config_free(&cfg);
}

static void test_bad_net(void **state)
{
	(void)state;
	BAD(EINVAL, "--net", "--kernel", "/k", "--net", "");
	BAD(EINVAL, "--net", "--kernel", "/k", "--net", ",mac=02:00:00:00:00:01");
	BAD(EINVAL, "--net", "--kernel", "/k", "--net", "tap-name-16chars");
	BAD(EINVAL, "--net", "--kernel", "/k", "--net", "tap0,mac=zz");
	BAD(EINVAL, "--net", "--kernel", "/k", "--net", "tap0,mac=");
	BAD(EINVAL, "--net", "--kernel", "/k", "--net", "tap0,mac=02:00:00:00:00");
	BAD(EINVAL, "--net", "--kernel", "/k", "--net", "tap0,mac=02:00:00:00:00:01:02");
	BAD(EINVAL, "--net", "--kernel", "/k", "--net", "tap0,mac=02-00-00-00-00-01");
	BAD(EINVAL, "--net", "--kernel", "/k", "--net", "tap0,mac=0200:00:00:00:0001");
	BAD(EINVAL, "--net", "--kernel", "/k", "--net", "tap0,mac=-1:02:03:04:05:06");
	BAD(EINVAL, "--net", "--kernel", "/k", "--net", "tap0,mac= 1:02:03:04:05:06");
	BAD(EINVAL, "--net", "--kernel", "/k", "--net", "tap0,mac=+1:02:03:04:05:06");
	BAD(EINVAL, "--net", "--kernel", "/k", "--net", "tap0,mac=02:00:00:00:00:0g");
	BAD(EINVAL, "forward= needs passt", "--kernel", "/k", "--net", "tap0,forward=1:2");
	BAD(EINVAL, "forward=", "--kernel", "/k", "--net", "passt,forward=0:22");
	BAD(EINVAL, "forward=", "--kernel", "/k", "--net", "passt,forward=65536:22");
	BAD(EINVAL, "forward=", "--kernel", "/k", "--net", "passt,forward=22:");
	BAD(EINVAL, "forward=", "--kernel", "/k", "--net", "passt,forward=1234567:2");
	BAD(EINVAL, "forward=", "--kernel", "/k", "--net", "passt,forward=a:b");
	BAD(EINVAL, "passt-socket= needs a path", "--kernel", "/k", "--net", "passt-socket=");
	BAD(EINVAL, "--net", "--kernel", "/k", "--net", "tap0,speed=10G");
	BAD(EINVAL, "--net", "--kernel", "/k", "--net", "tap0,id=");
	BAD(EINVAL, "--net", "--kernel", "/k", "--net");
}

static void test_mac(void **state)
{
	uint8_t m[6];

	(void)state;
	assert_int_equal(cli_parse_mac("00:11:22:aa:BB:ff", m), 0);
	assert_int_equal(m[0], 0x00);
	assert_int_equal(m[3], 0xaa);
	assert_int_equal(m[4], 0xbb);
	assert_int_equal(m[5], 0xff);
	assert_int_equal(cli_parse_mac("0:11:22:aa:bb:ff0", m), -EINVAL);
	assert_int_equal(cli_parse_mac("00:11:22:aa:bb:f", m), -EINVAL);
	assert_int_equal(cli_parse_mac("00:11:22:aa:bb:ff ", m), -EINVAL);
	assert_int_equal(cli_parse_mac("-0:11:22:aa:bb:ff", m), -EINVAL);
	assert_int_equal(cli_parse_mac("00:+1:22:aa:bb:ff", m), -EINVAL);
	assert_int_equal(cli_parse_mac("00:11:22:aa:bb: f", m), -EINVAL);
	assert_int_equal(cli_parse_mac("00:11:22:aa:bbff:", m), -EINVAL);
	assert_int_equal(cli_parse_mac("", m), -EINVAL);
}

static void test_vsock(void **state)
{
	struct vm_config cfg;

	(void)state;
	assert_int_equal(parse(&cfg, ARGS("--kernel", "/k", "--vsock", "3:/run/v.sock")), 0);
	assert_true(cfg.vsock.present);
	assert_int_equal(cfg.vsock.guest_cid, 3);
	assert_string_equal(cfg.vsock.uds_path, "/run/v.sock");
	config_free(&cfg);
	assert_int_equal(parse(&cfg, ARGS("--kernel", "/k", "--vsock", "4294967294:/a:b")), 0);
	assert_int_equal(cfg.vsock.guest_cid, 4294967294U);
	assert_string_equal(cfg.vsock.uds_path, "/a:b");
	config_free(&cfg);
	assert_int_equal(parse(&cfg, ARGS("--kernel", "/k", "--vsock", "0x10:rel")), 0);
	assert_int_equal(cfg.vsock.guest_cid, 16);
	config_free(&cfg);

	BAD(EINVAL, "--vsock", "--kernel", "/k", "--vsock", "2:/v");
	BAD(EINVAL, "--vsock", "--kernel", "/k", "--vsock", "0:/v");
	BAD(EINVAL, "--vsock", "--kernel", "/k", "--vsock", "4294967295:/v");
	BAD(EINVAL, "--vsock", "--kernel", "/k", "--vsock", "99999999999999999999:/v");
	BAD(EINVAL, "--vsock", "--kernel", "/k", "--vsock", "-3:/v");
	BAD(EINVAL, "--vsock", "--kernel", "/k", "--vsock", "abc:/v");
	BAD(EINVAL, "--vsock", "--kernel", "/k", "--vsock", ":/v");
	BAD(EINVAL, "--vsock", "--kernel", "/k", "--vsock", "3:");
	BAD(EINVAL, "--vsock", "--kernel", "/k", "--vsock", "3");
	BAD(EINVAL, "--vsock", "--kernel", "/k", "--vsock", "/v");
	BAD(EINVAL, "--vsock", "--kernel", "/k", "--vsock", "");
	BAD(EINVAL, "--vsock", "--kernel", "/k", "--vsock", "3:/a", "--vsock", "4:/b");
	BAD(EINVAL, "--vsock", "--kernel", "/k", "--vsock");
}

/* getopt keeps state between calls (a half-consumed "-xy" bundle): a parse
 * after a failed one must start from scratch. */
static void test_reparse_after_error(void **state)
{
	struct vm_config cfg;

	(void)state;
	BAD(EINVAL, "-x", "-xy", "--kernel", "/k");
	assert_int_equal(parse(&cfg, ARGS("--kernel", "/k2")), 0);
	assert_string_equal(cfg.boot.kernel_path, "/k2");
	config_free(&cfg);
	BAD(EINVAL, "--mem", "--kernel", "/k", "--mem", "0", "--cpus", "2");
	assert_int_equal(parse(&cfg, ARGS("--cpus", "3", "--kernel", "/k3")), 0);
	assert_int_equal(cfg.machine.vcpu_count, 3);
	config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_minimal_and_defaults),
	    cmocka_unit_test(test_full_vector),
	    cmocka_unit_test(test_forms_and_repeats),
	    cmocka_unit_test(test_help),
	    cmocka_unit_test(test_bad_kernel_and_positional),
	    cmocka_unit_test(test_bad_unknown_flags),
	    cmocka_unit_test(test_bad_mem),
	    cmocka_unit_test(test_bad_cpus),
	    cmocka_unit_test(test_bad_console_template_loglevel),
	    cmocka_unit_test(test_disk),
	    cmocka_unit_test(test_disk_limit),
	    cmocka_unit_test(test_bad_disk),
	    cmocka_unit_test(test_net),
	    cmocka_unit_test(test_bad_net),
	    cmocka_unit_test(test_mac),
	    cmocka_unit_test(test_vsock),
	    cmocka_unit_test(test_reparse_after_error),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
