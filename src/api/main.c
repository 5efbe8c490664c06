/* ember: `ember run ...` (one-shot CLI), `ember jail ...` (the jailer), or
 * Firecracker-compatible process mode (`ember --api-sock PATH ...`). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "ember/arch.h"
#include "ember/boot_timer.h"
#include "ember/cli.h"
#include "ember/config.h"
#include "ember/error.h"
#include "ember/event_loop.h"
#include "ember/fc_main.h"
#include "ember/jail.h"
#include "ember/log.h"
#include "ember/oneshot.h"
#include "ember/oneshot_abi.h"
#include "ember/seccomp.h"
#include "ember/util.h"
#include "ember/vm.h"

static void print_help(void)
{
	printf("ember %s — a KVM microVM monitor\n\n"
	       "usage:\n"
	       "  ember run --kernel PATH [options]   boot a microVM, console attached (see ember "
	       "run --help)\n"
	       "  ember --api-sock PATH [--config-file F] [--no-api] [--id ID] [--log-path P]\n"
	       "        [--level L] [--metrics-path P] [--boot-timer] [--seccomp-filter "
	       "F|--no-seccomp]\n"
	       "                                      Firecracker-compatible API server / config "
	       "boot\n"
	       "  ember jail --id ID --exec-file PATH --uid U --gid G [...] -- ARGS   the jailer\n"
	       "  ember pool --snapshot S --mem-file M --count N --api-sock-template P%%d [...]\n"
	       "                                      N microVMs restored from one snapshot\n"
	       "  ember --version | --help\n",
	       EMBER_VERSION);
}

static void signal_event(void *opaque, int fd, uint32_t events)
{
	struct signalfd_siginfo si;
	struct vm *vm = opaque;

	(void)events;
	if (read(fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGQUIT) {
			vm_dump_vcpus(vm);
			return;
		}
		if (si.ssi_signo == SIGIO) { /* a read lease breaks */
			vm_file_lease_break(vm);
			return;
		}
		if (!signal_is_stop((int)si.ssi_signo)) {
			log_warn("signal %u ignored (from pid %u)", si.ssi_signo, si.ssi_pid);
			return;
		}
		log_info("signal %u: stopping the VM", si.ssi_signo);
		vm_request_exit(vm, EMBER_EXIT_OK);
	}
}

static int cmd_run(int argc, char **argv)
{
	struct vm_config cfg;
	struct event_loop el;
	struct vm *vm = NULL;
	int r, code = EMBER_EXIT_OK, sfd;

	log_set_level(LOG_WARN); /* the console is the output; --log-level info for more */
	config_init(&cfg);
	r = cli_parse_run(argc, argv, &cfg);
	if (r != 0) {
		if (r < 0)
			fprintf(stderr, "ember: %s\n", err_msg());
		config_free(&cfg);
		return r < 0 ? EMBER_EXIT_BAD_CONFIG : EMBER_EXIT_OK;
	}
	/* a pipe or file reaches CMD whole, then EOF (over vsock); /dev/null
	 * (or no stdin) is the guest's /dev/null */
	if (cfg.oneshot.present && !isatty(STDIN_FILENO)) {
		struct stat st;

		if (fstat(STDIN_FILENO, &st) < 0 ||
		    (S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3)))
			cfg.oneshot.stdin_null = true;
		else
			cfg.oneshot.stdin_vsock = true;
	}
	if ((r = oneshot_prepare(&cfg)) < 0 || (r = config_validate(&cfg)) < 0 ||
	    (r = seccomp_setup(cfg.seccomp_filter, cfg.no_seccomp)) < 0) {
		fprintf(stderr, "ember: %s\n", err_msg());
		config_free(&cfg);
		return EMBER_EXIT_BAD_CONFIG;
	}
	sfd = process_signalfd(); /* before any thread exists: all inherit the mask */
	if (el_init(&el) < 0) {
		fprintf(stderr, "ember: epoll: %s\n", strerror(errno));
		config_free(&cfg);
		return EMBER_EXIT_HOST_ERROR;
	}
	if ((r = vm_create(&cfg, &el, &vm)) < 0) {
		fprintf(stderr, "ember: %s\n", err_msg());
		el_destroy(&el);
		config_free(&cfg);
		return EMBER_EXIT_BAD_CONFIG;
	}
	if (sfd >= 0)
		el_add(&el, sfd, EPOLLIN, signal_event, vm);
	/* The vCPU threads exist (each with its own filter): now the VMM
	 * thread's, before the event loop handles any guest input (seccomp.h). */
	if ((r = vm_start(vm)) < 0) {
		fprintf(stderr, "ember: %s\n", err_msg());
	} else if ((r = seccomp_install(SECCOMP_THREAD_VMM)) < 0) {
		fprintf(stderr, "ember: %s\n", err_msg());
		vm_request_exit(vm, EMBER_EXIT_HOST_ERROR);
	}
	while (!vm_exited(vm, &code))
		if (el_run_once(&el, -1) < 0)
			break;
	vm_exited(vm, &code);
	if (cfg.oneshot.present && code == EMBER_EXIT_OK && vm_oneshot_status(vm) < 0) {
		/* reset or power-off without CMD's status: the init failed */
		fprintf(stderr, "ember: the guest ended without reporting the command's exit "
				"status\n");
		code = ONESHOT_EXIT_NO_STATUS;
	}
	vm_destroy(vm);
	if (sfd >= 0)
		close(sfd);
	el_destroy(&el);
	config_free(&cfg);
	seccomp_teardown();
	return code;
}

/* The program name without its directory. */
static const char *prog_name(const char *argv0)
{
	const char *s = argv0 ? strrchr(argv0, '/') : NULL;

	return s ? s + 1 : argv0 ? argv0 : "";
}

int main(int argc, char **argv)
{
	const char *prog = prog_name(argv[0]);

	boot_timer_mark_process_start();
	signal(SIGPIPE, SIG_IGN);
	/* Installed as `firecracker` and `jailer` (symlinks made by make
	 * install), ember is those programs, with their command lines. Every
	 * front-end starts with log_private_stderr() (no thread exists yet);
	 * --version and --help, which never log, skip it. */
	if (strcmp(prog, "jailer") == 0) {
		if (argc == 2 && strcmp(argv[1], "--version") == 0) {
			/* Firecracker's jailer prints "Jailer vX.Y.Z" */
			printf("Jailer v%s\nember v%s (%s) %s\n", EMBER_FC_API_VERSION,
			       EMBER_VERSION, EMBER_GIT_REV, arch_layout.name);
			return 0;
		}
		log_private_stderr();
		return jail_main(argc, argv);
	}
	if (strcmp(prog, "firecracker") == 0) {
		if (argc == 2 && strcmp(argv[1], "--version") == 0) {
			ember_print_version();
			return 0;
		}
		log_private_stderr();
		return fc_main(argc, argv);
	}
	if (argc == 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)) {
		ember_print_version();
		return 0;
	}
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		print_help();
		return argc < 2 ? EMBER_EXIT_BAD_CONFIG : 0;
	}
	log_private_stderr();
	if (strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (strcmp(argv[1], "jail") == 0)
		return jail_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "pool") == 0)
		return pool_main(argc - 1, argv + 1);
	if (argv[1][0] == '-')
		return fc_main(argc, argv); /* Firecracker process mode: --api-sock ... */
	fprintf(stderr, "ember: unknown command '%s' (see 'ember --help')\n", argv[1]);
	return EMBER_EXIT_BAD_CONFIG;
}
