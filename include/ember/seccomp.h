/* Per-thread seccomp filters (libseccomp): one filter per thread kind, a
 * default action of kill-process, ioctls allowed by request number.
 *
 * Thread kinds and the order filters go on (seccomp filters stack: a thread
 * keeps every filter it inherited from its creator and a syscall must pass
 * all of them, so the order of thread creation and installation matters):
 *
 *   1. seccomp_setup() on the main thread before any other thread exists:
 *      the policy is chosen (built-in, --seccomp-filter FILE, --no-seccomp),
 *      every filter is ready as BPF up front (the built-in ones were compiled
 *      when ember was built, a FILE is compiled now) and no_new_privs is set
 *      (all later threads inherit it). No filter is installed yet.
 *   2. API thread (Firecracker process mode): created by the main thread
 *      while it has no filter; installs the "api" filter first thing
 *      (api_server_opts.thread_init), before it accepts a client. It only
 *      ever carries the api filter.
 *   3. API mode before InstanceStart: the VMM (main) thread installs the
 *      built-in "vmm boot" filter before its event loop handles the first
 *      request: everything it needs to apply requests and build the VM,
 *      which includes everything the vCPU and VMM filters allow (vCPU threads
 *      are created under it and inherit it). Not used with a custom FILE
 *      (the file describes the whole policy) nor when no client input comes
 *      before the boot (`ember run`, --no-api --config-file).
 *   4. vCPU threads: created by vm_start() on the VMM thread before the VMM
 *      installs its run-time filter, so they inherit at most the boot
 *      filter (a superset of theirs); each installs the "vcpu" filter at
 *      the top of vcpu_thread(), before its first KVM_RUN.
 *   5. VMM thread: installs the "vmm" filter right after vm_start() (and,
 *      in API mode, before the InstanceStart reply leaves the mailbox
 *      handler), i.e. before its event loop touches a queue notification,
 *      TAP, vsock socket or console byte of the running guest. It creates no
 *      thread afterwards.
 *
 * So /proc/PID/task/TID/status shows "Seccomp: 2" on every thread once the
 * guest runs; the API thread has 1 filter, the VMM thread 1 or 2 (boot +
 * vmm), vCPU threads 1 or 2 (boot + vcpu).
 *
 * Built-in filters kill the process on any other syscall (SCMP_ACT_KILL_PROCESS),
 * so the seccomp.num_faults metric stays 0. A FILE may use "trap": the
 * SIGSYS handler counts the fault, prints the syscall and ends the process
 * with status 128 + SIGSYS. "log" (allow + kernel audit log) helps to find a
 * missing syscall. Sanitizer builds (ASan/UBSan/LSan) add the few syscalls
 * the sanitizer runtime makes (reports, leak check at exit) to every filter.
 *
 * Without seccomp_setup() (unit and device tests) installs do nothing.
 *
 * libc under the filters: glibc does some work lazily, on first use, with
 * syscalls no filter allows (the malloc arena trim reads
 * /proc/sys/vm/overcommit_memory, qsort asks sysinfo, the time zone file,
 * getrandom). seccomp_setup() first calls seccomp_prepare_libc(), which
 * fixes the allocator's tunables (one arena, fixed thresholds) and does the
 * rest up front; seccomp_libc.c lists every path and why it is safe.
 *
 * Report mode: with EMBER_SECCOMP_REPORT=FILE in the environment, the
 * built-in filters' default action is SCMP_ACT_TRAP instead of kill-process.
 * The SIGSYS handler appends one line per would-be violation to FILE (opened
 * at set-up; O_APPEND, so several processes may share it):
 *   ember[PID] seccomp: KIND thread: NAME(NR) args 0xA0 0xA1 ... 0xA5
 * (KIND: vmm, api, vcpu, vmm boot: the last filter the thread installed) and
 * makes the call fail with ENOSYS, so the process carries on and every
 * violation of a run is seen. The handler is async-signal-safe and only
 * writes; the seccomp.num_faults metric counts each one. An empty FILE after
 * a run means zero violations; tests/e2e/lib.sh runs every e2e test this
 * way and fails a test whose report is not empty. A --seccomp-filter FILE is
 * used as written (report mode changes only the built-in filters);
 * --no-seccomp has nothing to report; `ember jail` clears the environment.
 * It is a test and diagnosis aid: production runs leave it unset. */
#ifndef EMBER_SECCOMP_H
#define EMBER_SECCOMP_H

#include <linux/filter.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum seccomp_thread {
	SECCOMP_THREAD_VMM = 0,
	SECCOMP_THREAD_API,
	SECCOMP_THREAD_VCPU,
	SECCOMP_THREAD_KINDS,				/* the kinds a FILE describes */
	SECCOMP_THREAD_VMM_BOOT = SECCOMP_THREAD_KINDS, /* built-in only, see above */
	SECCOMP_THREAD_ALL,
};

enum seccomp_mode { SECCOMP_MODE_DEFAULT = 0, SECCOMP_MODE_FILE, SECCOMP_MODE_OFF };

/* ---- filter description (built-in tables and parsed files) ---- */

#define SECCOMP_MAX_CONDS 6

enum seccomp_op {
	SECCOMP_OP_EQ = 0,
	SECCOMP_OP_NE,
	SECCOMP_OP_LT,
	SECCOMP_OP_LE,
	SECCOMP_OP_GT,
	SECCOMP_OP_GE,
	SECCOMP_OP_MASKED_EQ, /* (arg & mask) == val */
};

/* One and-bound argument condition. A dword "eq" compares the low 32 bits
 * only (the kernel truncates int arguments such as the ioctl request); every
 * other comparison looks at all 64 bits. */
struct seccomp_cond {
	uint8_t index; /* argument 0..5 */
	bool qword;
	enum seccomp_op op;
	uint64_t mask; /* SECCOMP_OP_MASKED_EQ */
	uint64_t val;
};

/* Allow syscall nr when every condition holds (rules for one syscall are
 * or-bound). */
struct seccomp_rule {
	int nr;
	uint8_t nconds;
	struct seccomp_cond conds[SECCOMP_MAX_CONDS];
	const char *comment; /* built-in rules: what the value is, for the JSON dump */
};

struct seccomp_filter {
	uint32_t default_action; /* SCMP_ACT_* */
	uint32_t filter_action;
	const struct seccomp_rule *rules; /* parsed: malloc'ed; built-in: static */
	size_t nrules;
};

struct seccomp_policy {
	struct seccomp_filter filters[SECCOMP_THREAD_KINDS];
};

/* seccomp_json.c: a Firecracker-format filter file, e.g.
 *   {"vmm": {"default_action": "trap", "filter_action": "allow",
 *            "filter": [{"syscall": "read"},
 *                       {"syscall": "ioctl", "args": [{"index": 1, "type": "dword",
 *                          "op": "eq", "val": 44672, "comment": "KVM_RUN"}]}]},
 *    "api": {...}, "vcpu": {...}}
 * Every kind must be present. Actions: "allow", "kill_process", "kill_thread"
 * ("kill"), "trap", "log", {"errno": N}, {"trace": N}. Ops: "eq", "ne", "lt",
 * "le", "gt", "ge", {"masked_eq": MASK}. Unknown keys are errors, except
 * "comment". On error err_msg() names the bad field (e.g.
 * `vcpu.filter[3].args[0].op: ...`). */
int seccomp_json_parse(const char *text, size_t len, struct seccomp_policy *out);
void seccomp_policy_free(struct seccomp_policy *p);
/* vmm/api/vcpu filters in the file format (malloc'ed text); _default: the
 * built-in ones (seccomp_tables.c). */
char *seccomp_json_emit(const struct seccomp_filter filters[SECCOMP_THREAD_KINDS]);
char *seccomp_json_emit_default(void);
/* Reads and parses FILE (at most 1 MiB); err_msg() starts with the path. */
int seccomp_json_load(const char *path, struct seccomp_policy *out);

/* ---- seccomp_tables.c: the built-in tables ---- */

/* The built-in filter of a kind (SECCOMP_THREAD_VMM_BOOT included), without
 * sanitizer extras; rules point at static tables (do not free). */
void seccomp_default_filter(enum seccomp_thread kind, struct seccomp_filter *out);
/* ---- seccomp_filters.c: compilation (libseccomp) ---- */

/* Checks that libseccomp accepts f and compiles it to BPF: *prog_out and
 * *len_out (number of struct sock_filter), malloc'ed; either may be NULL. */
int seccomp_compile(const struct seccomp_filter *f, void **prog_out, size_t *len_out);
/* The same for another architecture (libseccomp's SCMP_ARCH_*): the rules'
 * syscall numbers are this host's, translated by name. */
int seccomp_compile_arch(const struct seccomp_filter *f, uint32_t arch, void **prog_out,
			 size_t *len_out);

/* ---- the built-in filters, compiled at build time ----
 * tools/seccomp_gen.c runs seccomp_compile() on every built-in filter when
 * ember is built and writes the programs into $(BUILD)/gen/seccomp_bpf.c:
 * variant 0 as the tables say (kill-process), variant 1 with SCMP_ACT_TRAP
 * as the default action (report mode). seccomp_builtin_insns holds them
 * all; an entry gives a program's first instruction and length. At run time
 * the built-in policy only installs them (no libseccomp call). */
enum { SECCOMP_BUILTIN_KILL = 0, SECCOMP_BUILTIN_REPORT, SECCOMP_BUILTIN_VARIANTS };
struct seccomp_builtin {
	uint32_t start, len; /* in seccomp_builtin_insns */
};
extern const struct sock_filter seccomp_builtin_insns[];
extern const struct seccomp_builtin seccomp_builtin_bpf[SECCOMP_THREAD_ALL]
						       [SECCOMP_BUILTIN_VARIANTS];
/* The built-in filter of kind in a variant as seccomp_compile() is given it
 * (the generator and the unit tests use this). */
void seccomp_builtin_filter(enum seccomp_thread kind, int variant, struct seccomp_filter *out);
/* The architecture the tables were compiled for (libseccomp's SCMP_ARCH_*):
 * this host's, or in a cross build's generator the target's
 * (seccomp_arch.h). */
extern const uint32_t seccomp_tables_arch;

/* ---- seccomp.c: the process's policy ---- */

/* Main thread, before any other thread: choose and compile the policy.
 * filter_file NULL and disabled false: the built-in filters. */
int seccomp_setup(const char *filter_file, bool disabled);
enum seccomp_mode seccomp_get_mode(void);
/* Install the filter of kind on the calling thread (no-op when disabled or
 * never set up; the boot filter is a no-op with a FILE). */
int seccomp_install(enum seccomp_thread kind);
/* Frees the compiled programs (at exit). */
void seccomp_teardown(void);
const char *seccomp_thread_name(enum seccomp_thread kind);

/* ---- seccomp_libc.c: glibc's lazy work done before any filter ---- */
void seccomp_prepare_libc(void);

/* ---- seccomp_report.c: report mode (above) ---- */
#define SECCOMP_REPORT_ENV "EMBER_SECCOMP_REPORT"
/* Opens the report file named by the environment: 1 (report mode on), 0
 * (unset or empty) or -errno (err_msg() names the variable and path). */
int seccomp_report_open(void);
bool seccomp_report_enabled(void);
/* From the SIGSYS handler: one line to the report file, the trapped call's
 * return value set to -ENOSYS. Async-signal-safe. */
void seccomp_report_trap(const char *kind, const siginfo_t *si, void *ucontext);

#endif
