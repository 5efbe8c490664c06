/* Firecracker-compatible process mode: flags, logger, metrics, the config
 * file, the API server thread and the VMM thread's event loop. */
#include "ember/fc_main.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ember/api_server.h"
#include "ember/arch.h"
#include "ember/args.h"
#include "ember/config.h"
#include "ember/config_json.h"
#include "ember/controller.h"
#include "ember/error.h"
#include "ember/event_loop.h"
#include "ember/log.h"
#include "ember/metrics.h"
#include "ember/seccomp.h"
#include "ember/util.h"
#include "ember/vm.h"

#ifndef EMBER_VERSION
#define EMBER_VERSION "0.0.0"
#endif
#ifndef EMBER_GIT_REV
#define EMBER_GIT_REV "unknown"
#endif

#define DEFAULT_API_SOCK "/run/firecracker.socket"
#define METRICS_INTERVAL_MS 60000
#define CONFIG_FILE_MAX (1024 * 1024)

struct fc_opts {
	const char *api_sock;
	const char *id;
	const char *config_file;
	const char *log_path;
	const char *level;
	const char *module;
	const char *metrics_path;
	const char *seccomp_filter;
	bool no_api, boot_timer, no_seccomp, show_level, show_log_origin, version, help;
	uint64_t max_payload;
	uint64_t mmds_limit;  /* 0: --http-api-max-payload-size's value */
	const char *metadata; /* --metadata FILE */
	uint64_t start_time_us, start_time_cpu_us, parent_cpu_time_us;
	bool have_start_time, have_start_time_cpu;
	bool log_to_file; /* --log-path or the config file's logger */
};

struct fc_state {
	struct event_loop el;
	struct controller *ctl;
	bool stop;
	int signo;
	bool vmm_filtered; /* the VMM thread has its run-time seccomp filter */
};

static uint64_t clock_us(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ember --api-sock PATH [options]\n"
		"  --api-sock PATH              API Unix socket (default " DEFAULT_API_SOCK ")\n"
		"  --id ID                      microVM id (default anonymous-instance)\n"
		"  --config-file FILE           configure from a JSON file and boot at once\n"
		"  --no-api                     no API socket (needs --config-file)\n"
		"  --log-path PATH              log to a file or FIFO\n"
		"  --level LEVEL                Error, Warning, Info, Debug, Trace or Off\n"
		"  --show-level                 print the level in log lines\n"
		"  --show-log-origin            print file:line in log lines\n"
		"  --module NAME                only log from source files matching NAME\n"
		"  --metrics-path PATH          metrics (JSON lines) to a file or FIFO\n"
		"  --boot-timer                 log the guest boot time on its magic write\n"
		"  --seccomp-filter FILE        seccomp filters from FILE\n"
		"  --no-seccomp                 no seccomp filters\n"
		"  --http-api-max-payload-size N  largest API request body (default %d)\n"
		"  --mmds-size-limit N          MMDS data store limit in bytes (default: the\n"
		"                               API payload limit)\n"
		"  --metadata FILE              MMDS data store contents (JSON) at start\n"
		"  --version                    print the version\n",
		HTTP_MAX_BODY);
}

static bool valid_instance_id(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
	}
	return true;
}

enum {
	O_API = 256,
	O_ID,
	O_CONFIG,
	O_NOAPI,
	O_LOGPATH,
	O_LEVEL,
	O_SHOWLEVEL,
	O_SHOWORIGIN,
	O_MODULE,
	O_METRICS,
	O_BOOTTIMER,
	O_SECCOMP,
	O_NOSECCOMP,
	O_PAYLOAD,
	O_VERSION,
	O_HELP,
	O_START_US,
	O_START_CPU_US,
	O_PARENT_CPU_US,
	O_MMDS_LIMIT,
	O_METADATA,
	O_PCI,
	O_DESCRIBE,
};

static const struct option fc_options[] = {
    {"api-sock", required_argument, NULL, O_API},
    {"id", required_argument, NULL, O_ID},
    {"config-file", required_argument, NULL, O_CONFIG},
    {"no-api", no_argument, NULL, O_NOAPI},
    {"log-path", required_argument, NULL, O_LOGPATH},
    {"level", required_argument, NULL, O_LEVEL},
    {"show-level", no_argument, NULL, O_SHOWLEVEL},
    {"show-log-origin", no_argument, NULL, O_SHOWORIGIN},
    {"module", required_argument, NULL, O_MODULE},
    {"metrics-path", required_argument, NULL, O_METRICS},
    {"boot-timer", no_argument, NULL, O_BOOTTIMER},
    {"seccomp-filter", required_argument, NULL, O_SECCOMP},
    {"no-seccomp", no_argument, NULL, O_NOSECCOMP},
    {"http-api-max-payload-size", required_argument, NULL, O_PAYLOAD},
    {"start-time-us", required_argument, NULL, O_START_US},
    {"start-time-cpu-us", required_argument, NULL, O_START_CPU_US},
    {"parent-cpu-time-us", required_argument, NULL, O_PARENT_CPU_US},
    {"mmds-size-limit", required_argument, NULL, O_MMDS_LIMIT},
    {"metadata", required_argument, NULL, O_METADATA},
    {"enable-pci", no_argument, NULL, O_PCI},
    {"describe-snapshot", required_argument, NULL, O_DESCRIBE},
    {"version", no_argument, NULL, O_VERSION},
    {"help", no_argument, NULL, O_HELP},
    {NULL, 0, NULL, 0},
};

/* Options that record a value or set a flag; false: not one of them. */
static bool set_plain_opt(struct fc_opts *o, int c, const char *val)
{
	switch (c) {
	case O_API:
		o->api_sock = val;
		break;
	case O_ID:
		o->id = val;
		break;
	case O_CONFIG:
		o->config_file = val;
		break;
	case O_NOAPI:
		o->no_api = true;
		break;
	case O_LOGPATH:
		o->log_path = val;
		break;
	case O_LEVEL:
		o->level = val;
		break;
	case O_SHOWLEVEL:
		o->show_level = true;
		break;
	case O_SHOWORIGIN:
		o->show_log_origin = true;
		break;
	case O_MODULE:
		o->module = val;
		break;
	case O_METRICS:
		o->metrics_path = val;
		break;
	case O_BOOTTIMER:
		o->boot_timer = true;
		break;
	case O_SECCOMP:
		o->seccomp_filter = val;
		break;
	case O_NOSECCOMP:
		o->no_seccomp = true;
		break;
	case O_VERSION:
		o->version = true;
		break;
	case O_HELP:
		o->help = true;
		break;
	default:
		return false;
	}
	return true;
}

/* --start-time-us, --start-time-cpu-us, --parent-cpu-time-us */
static int set_time_opt(struct fc_opts *o, int c, const char *val, const char *arg)
{
	uint64_t v;

	if (parse_u64(val, 0, UINT64_MAX, &v) < 0)
		return err_set(EINVAL, "%s: expected a number of microseconds, got '%s'", arg, val);
	if (c == O_START_US) {
		o->start_time_us = v;
		o->have_start_time = true;
	} else if (c == O_START_CPU_US) {
		o->start_time_cpu_us = v;
		o->have_start_time_cpu = true;
	} else {
		o->parent_cpu_time_us = v;
	}
	return 0;
}

/* The options with a number and the ones ember refuses. */
static int set_other_opt(struct fc_opts *o, int c, const char *val, const char *arg)
{
	switch (c) {
	case O_PAYLOAD:
		if (parse_u64(val, 1, 16 * 1024 * 1024, &o->max_payload) < 0)
			return err_set(EINVAL,
				       "--http-api-max-payload-size: expected 1..16777216, "
				       "got '%s'",
				       val);
		return 0;
	case O_START_US:
	case O_START_CPU_US:
	case O_PARENT_CPU_US:
		return set_time_opt(o, c, val, arg);
	case O_MMDS_LIMIT:
		if (parse_u64(val, 1, 1024 * 1024 * 1024, &o->mmds_limit) < 0)
			return err_set(EINVAL,
				       "--mmds-size-limit: expected a number of bytes "
				       "(1..1073741824), got '%s'",
				       val);
		return 0;
	case O_METADATA:
		o->metadata = val;
		return 0;
	case O_PCI:
		return err_set(ENOTSUP, "--enable-pci: PCI is not supported by ember");
	case O_DESCRIBE:
		return err_set(ENOTSUP, "--describe-snapshot: snapshots are not supported by "
					"ember yet");
	default:
		return err_set(EINVAL, "unknown argument '%s' (see --help)", arg);
	}
}

static int fc_opt(void *ctx, int id, const char *val, const char *arg)
{
	struct fc_opts *o = ctx;

	return set_plain_opt(o, id, val) ? 0 : set_other_opt(o, id, val, arg);
}

static int fc_error(enum args_error e, const char *arg, int c)
{
	(void)c;
	if (e == ARGS_MISSING_VALUE)
		return err_set(EINVAL, "%s: missing value", arg);
	if (e == ARGS_EXTRA)
		return err_set(EINVAL, "unexpected argument '%s' (see --help)", arg);
	return err_set(EINVAL, "unknown argument '%s' (see --help)", arg);
}

static int parse_args(int argc, char **argv, struct fc_opts *o)
{
	static const struct args_parser parser = {
	    .options = fc_options,
	    .firecracker_style = true,
	    .apply = fc_opt,
	    .error = fc_error,
	};
	int r = args_parse(&parser, argc, argv, o);

	if (r < 0)
		return r;
	if (o->no_api && !o->config_file)
		return err_set(EINVAL, "--no-api needs --config-file");
	if (o->seccomp_filter && o->no_seccomp)
		return err_set(EINVAL, "--seccomp-filter and --no-seccomp are mutually exclusive");
	if (o->id && !valid_instance_id(o->id))
		return err_set(EINVAL,
			       "Invalid instance ID: '%s' (1 to 64 characters of "
			       "[A-Za-z0-9_-])",
			       o->id);
	return 0;
}

void ember_print_version(void)
{
	printf("Firecracker v%s\nember v%s (%s) %s\n", EMBER_FC_API_VERSION, EMBER_VERSION,
	       EMBER_GIT_REV, arch_layout.name);
}

static int setup_logging(const struct fc_opts *o)
{
	enum log_level lvl;
	int r;

	log_set_id(o->id ? o->id : "anonymous-instance");
	if (o->level) {
		if (log_parse_level(o->level, &lvl) < 0)
			return err_set(EINVAL,
				       "--level: unknown level '%s' (Error, Warning, Info, "
				       "Debug, Trace, Off)",
				       o->level);
		log_set_level(lvl);
	}
	if (o->show_level || o->show_log_origin)
		log_set_format(true, o->show_log_origin);
	if (o->module && log_set_module(o->module) < 0)
		return err_set(ENOMEM, "out of memory");
	if (o->log_path && (r = log_open(o->log_path)) < 0)
		return err_set(-r, "--log-path %s: %s", o->log_path, strerror(-r));
	if (o->metrics_path && (r = metrics_open(o->metrics_path)) < 0)
		return err_set(-r, "--metrics-path %s: %s", o->metrics_path, strerror(-r));
	return 0;
}

/* The logger / metrics sections of a config file take effect at once. */
static int apply_file_logging(struct vm_config *cfg, const char *id)
{
	int r;

	if (cfg->logger.present) {
		if (cfg->log_path && (r = log_open(cfg->log_path)) < 0)
			return err_set(-r, "logger.log_path %s: %s", cfg->log_path, strerror(-r));
		if (cfg->logger.has_level)
			log_set_level((enum log_level)cfg->logger.level);
		if (cfg->logger.has_show_level || cfg->logger.has_show_log_origin)
			log_set_format(!cfg->logger.has_show_level || cfg->logger.show_level,
				       cfg->logger.show_log_origin);
		if (cfg->logger.module && log_set_module(cfg->logger.module) < 0)
			return err_set(ENOMEM, "out of memory");
	}
	if (cfg->metrics.present && cfg->metrics_path) {
		r = metrics_open(cfg->metrics_path);
		if (r < 0 && r != -EALREADY)
			return err_set(-r, "metrics.metrics_path %s: %s", cfg->metrics_path,
				       strerror(-r));
		metrics_set_options(id, cfg->metrics.emit_id, cfg->metrics.properties_json);
	}
	return 0;
}

static int load_config_file(const char *path, struct vm_config *cfg)
{
	uint8_t *buf;
	size_t len;
	int r;

	if ((r = read_whole_file(path, CONFIG_FILE_MAX, &buf, &len)) < 0)
		return err_wrap(-r, "--config-file");
	r = cfgjson_parse_vm_config((const char *)buf, len, cfg);
	free(buf);
	if (r < 0)
		return err_wrap(-r, "--config-file %s", path);
	return 0;
}

/* Once the guest runs (vCPU threads exist), the VMM thread takes its
 * run-time filter, before its event loop handles guest input (seccomp.h). */
static int vmm_seccomp(struct fc_state *st)
{
	int r;

	if (st->vmm_filtered)
		return 0;
	if (!controller_started(st->ctl))
		return seccomp_install(SECCOMP_THREAD_VMM_BOOT);
	if ((r = seccomp_install(SECCOMP_THREAD_VMM)) < 0) {
		log_error("%s", err_msg());
		fprintf(stderr, "ember: %s\n", err_msg());
		controller_request_exit(st->ctl, EMBER_EXIT_HOST_ERROR);
		st->stop = true;
		return r;
	}
	st->vmm_filtered = true;
	return 0;
}

static void dispatch(void *opaque, struct api_request *req, struct api_response *resp)
{
	struct fc_state *st = opaque;
	struct ctl_reply reply = {0};

	controller_handle(st->ctl, req, &reply);
	api_response_from_reply(resp, &reply);
	if (!st->vmm_filtered && controller_started(st->ctl))
		vmm_seccomp(st);
}

static int api_thread_init(void *opaque)
{
	(void)opaque;
	return seccomp_install(SECCOMP_THREAD_API);
}

static void signal_event(void *opaque, int fd, uint32_t events)
{
	struct fc_state *st = opaque;
	struct signalfd_siginfo si;

	(void)events;
	if (read(fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGIO) { /* a read lease breaks (vm_file_lease_break) */
		controller_file_lease_break(st->ctl);
		return;
	}
	if (si.ssi_signo == SIGXFSZ)
		METRIC_INC(metrics.signals.sigxfsz);
	else if (si.ssi_signo == SIGXCPU)
		METRIC_INC(metrics.signals.sigxcpu);
	if (!signal_is_stop((int)si.ssi_signo)) {
		log_warn("signal %u ignored (from pid %u)", si.ssi_signo, si.ssi_pid);
		return;
	}
	log_info("signal %u: shutting down", si.ssi_signo);
	if (si.ssi_signo == SIGHUP)
		METRIC_INC(metrics.signals.sighup);
	st->signo = (int)si.ssi_signo;
	st->stop = true;
	controller_request_exit(st->ctl, EMBER_EXIT_OK);
}

/* Flags, logging, the seccomp filters (compiled, not installed) and the
 * config file. -1 to go on, else the exit code. */
static int configure(int argc, char **argv, struct fc_opts *o, struct vm_config *cfg)
{
	if (parse_args(argc, argv, o) < 0) {
		fprintf(stderr, "ember: %s\n", err_msg());
		return EMBER_EXIT_BAD_CONFIG;
	}
	if (o->help) {
		usage(stdout);
		return EMBER_EXIT_OK;
	}
	if (o->version) {
		ember_print_version();
		return EMBER_EXIT_OK;
	}
	if (!o->api_sock)
		o->api_sock = DEFAULT_API_SOCK;
	if (setup_logging(o) < 0) {
		fprintf(stderr, "ember: %s\n", err_msg());
		return EMBER_EXIT_BAD_CONFIG;
	}
	/* The config file first: a bad one is the only line printed. */
	config_init(cfg);
	if (o->config_file && (load_config_file(o->config_file, cfg) < 0 ||
			       apply_file_logging(cfg, o->id ? o->id : "anonymous-instance") < 0)) {
		fprintf(stderr, "ember: %s\n", err_msg());
		config_free(cfg);
		return EMBER_EXIT_BAD_CONFIG;
	}
	if (o->config_file && config_validate(cfg) < 0) {
		fprintf(stderr, "ember: cannot start the microVM: %s\n", err_msg());
		config_free(cfg);
		return EMBER_EXIT_BAD_CONFIG;
	}
	/* Compiled now, installed per thread later (order: seccomp.h). */
	if (seccomp_setup(o->seccomp_filter, o->no_seccomp) < 0) {
		fprintf(stderr, "ember: %s\n", err_msg());
		config_free(cfg);
		return EMBER_EXIT_BAD_CONFIG;
	}
	cfg->boot_timer = o->boot_timer;
	/* Firecracker: the API payload limit unless given */
	cfg->mmds_size_limit = (size_t)(o->mmds_limit	 ? o->mmds_limit
					: o->max_payload ? o->max_payload
							 : MMDS_DEFAULT_SIZE_LIMIT);
	o->log_to_file = o->log_path || cfg->log_path; /* cfg moves into the controller */
	return -1;
}

/* The API server thread (unless --no-api); t0_us: our start. */
static int start_api(struct fc_state *st, const struct fc_opts *o, uint64_t t0_us,
		     struct api_server **api)
{
	struct api_server_opts ao = {
	    .socket_path = o->api_sock,
	    .max_body = (size_t)o->max_payload,
	    .dispatch = dispatch,
	    .opaque = st,
	    .thread_init = api_thread_init,
	};

	if (api_server_start(&ao, &st->el, api) < 0) {
		fprintf(stderr, "ember: %s\n", err_msg());
		return -1;
	}
	/* Firecracker: from --start-time-us (the jailer's CLOCK_MONOTONIC
	 * stamp) or from our own start; CPU time includes the parent's. */
	METRIC_STORE(metrics.api_server.process_startup_time_us,
		     clock_us(CLOCK_MONOTONIC) - (o->have_start_time ? o->start_time_us : t0_us));
	METRIC_STORE(metrics.api_server.process_startup_time_cpu_us,
		     clock_us(CLOCK_PROCESS_CPUTIME_ID) -
			 (o->have_start_time_cpu ? o->start_time_cpu_us : 0) +
			 o->parent_cpu_time_us);
	log_info("API server listening on %s", o->api_sock);
	return 0;
}

/* The API, the config file's boot, the metrics timer and the VMM thread's
 * filter. -1 to go on, else the exit code. */
static int start(struct fc_state *st, const struct fc_opts *o, uint64_t t0_us,
		 struct api_server **api)
{
	if (!o->no_api && start_api(st, o, t0_us, api) < 0)
		return EMBER_EXIT_BAD_CONFIG;
	if (o->config_file) {
		if (controller_start(st->ctl) < 0) {
			/* One line on stderr; a log file gets it too. */
			fprintf(stderr, "ember: cannot start the microVM: %s\n", err_msg());
			if (o->log_to_file)
				log_error("cannot start the microVM: %s", err_msg());
			return EMBER_EXIT_BAD_CONFIG;
		}
	}
	if (metrics_is_open() && metrics_start_timer(&st->el, METRICS_INTERVAL_MS) < 0)
		log_warn("metrics: no periodic flush");
	/* Before the first request or guest event is handled. */
	if (vmm_seccomp(st) < 0 && !controller_started(st->ctl)) {
		fprintf(stderr, "ember: %s\n", err_msg());
		return EMBER_EXIT_HOST_ERROR;
	}
	return -1;
}

/* The VMM thread's event loop until the VM exits or a signal stops us. */
static int serve(struct fc_state *st)
{
	int r, code = EMBER_EXIT_OK;

	while (!st->stop && !controller_exited(st->ctl, &code)) {
		if ((r = el_run_once(&st->el, -1)) < 0) {
			log_error("event loop: %s", strerror(-r));
			code = EMBER_EXIT_HOST_ERROR;
			break;
		}
	}
	if (st->stop && !controller_exited(st->ctl, &code))
		code = EMBER_EXIT_OK;
	metrics_flush();
	return code;
}

/* Firecracker leaves SIGTERM and SIGINT at their default action, so a
 * supervisor's wait() sees the process killed by the signal (the go-sdk's
 * Wait reports it). ember cleans up first (socket removed, metrics
 * flushed), then ends the same way: the signal, still blocked, is sent
 * again and unblocked. PID 1 of a PID namespace ignores its own
 * default-action signals: then the shell's code for it, 128 + signal. */
static int die_by_signal(int sig, pid_t tid)
{
	sigset_t set;

	fflush(stdout);
	sigemptyset(&set);
	sigaddset(&set, sig);
	/* tid from before the filters (they allow this tgkill, not gettid) */
	syscall(SYS_tgkill, getpid(), tid, sig);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	return 128 + sig;
}

int fc_main(int argc, char **argv)
{
	uint64_t t0_us = clock_us(CLOCK_MONOTONIC);
	pid_t tid = gettid();
	struct fc_opts o = {0};
	struct fc_state st = {0};
	struct api_server *api = NULL;
	struct vm_config cfg;
	int code, sfd;

	if ((code = configure(argc, argv, &o, &cfg)) >= 0)
		return code;
	sfd = process_signalfd(); /* before any thread exists: all inherit the mask */
	signal(SIGPIPE, SIG_IGN);
	if (el_init(&st.el) < 0 ||
	    controller_create(&st.el, o.id ? o.id : "anonymous-instance", &cfg, &st.ctl) < 0) {
		fprintf(stderr, "ember: set-up failed: %s\n", strerror(errno));
		config_free(&cfg);
		return EMBER_EXIT_HOST_ERROR;
	}
	if (sfd >= 0)
		el_add(&st.el, sfd, EPOLLIN, signal_event, &st);
	if (o.metadata && controller_load_metadata(st.ctl, o.metadata) < 0) {
		fprintf(stderr, "ember: %s\n", err_msg());
		code = EMBER_EXIT_BAD_CONFIG;
		goto out;
	}

	if ((code = start(&st, &o, t0_us, &api)) < 0)
		code = serve(&st);
out:
	metrics_stop_timer(&st.el);
	api_server_stop(api);
	controller_destroy(st.ctl);
	if (sfd >= 0) {
		el_remove(&st.el, sfd);
		close(sfd);
	}
	el_destroy(&st.el);
	seccomp_teardown();
	if (st.signo == SIGTERM || st.signo == SIGINT)
		code = die_by_signal(st.signo, tid);
	return code;
}
