/* Metrics in Firecracker's JSON shape. Components bump counters with
 * METRIC_INC / METRIC_ADD (relaxed atomics, any thread); metrics_flush()
 * writes one JSON line to the metrics file/FIFO: counters report what
 * happened since the previous flush (Firecracker's SharedIncMetric), the
 * few "store" values (startup and pause/resume latencies) report their last
 * value. Per-device groups ("block_<drive_id>", "net_<iface_id>") are
 * registered by the device and summed into "block" / "net".
 *
 *   METRIC_INC(metrics.vcpu.exit_io_out);
 *   struct metrics_block *m = metrics_block_get("rootfs");  // once, at setup
 *   METRIC_ADD(m->read_bytes, n);
 */
#ifndef EMBER_METRICS_H
#define EMBER_METRICS_H

#include <stdbool.h>
#include <stdint.h>

struct event_loop;

#define METRIC_INC(c) __atomic_fetch_add(&(c), 1, __ATOMIC_RELAXED)
#define METRIC_ADD(c, n) __atomic_fetch_add(&(c), (uint64_t)(n), __ATOMIC_RELAXED)
#define METRIC_STORE(c, v) __atomic_store_n(&(c), (uint64_t)(v), __ATOMIC_RELAXED)

/* Field lists: X(name). "Store" groups keep their value across flushes. */
/* clang-format off */
#define METRICS_API_SERVER(X) X(process_startup_time_us) X(process_startup_time_cpu_us)
#define METRICS_GET_API(X)                                                                   \
	X(instance_info_count) X(machine_cfg_count) X(mmds_count) X(vmm_version_count)       \
	X(vm_config_count) X(balloon_count) X(balloon_stats_count)
#define METRICS_PUT_API(X)                                                                   \
	X(actions_count) X(actions_fails) X(boot_source_count) X(boot_source_fails)          \
	X(drive_count) X(drive_fails) X(logger_count) X(logger_fails) X(machine_cfg_count)   \
	X(machine_cfg_fails) X(cpu_cfg_count) X(cpu_cfg_fails) X(metrics_count)               \
	X(metrics_fails) X(network_count) X(network_fails) X(mmds_count) X(mmds_fails)        \
	X(vsock_count) X(vsock_fails) X(balloon_count) X(balloon_fails)
#define METRICS_PATCH_API(X)                                                                 \
	X(drive_count) X(drive_fails) X(network_count) X(network_fails) X(machine_cfg_count) \
	X(machine_cfg_fails) X(mmds_count) X(mmds_fails) X(balloon_count) X(balloon_fails)    \
	X(vm_count) X(vm_fails)
#define METRICS_BLOCK(X)                                                                     \
	X(activate_fails) X(cfg_fails) X(no_avail_buffer) X(event_fails) X(execute_fails)    \
	X(invalid_reqs_count) X(flush_count) X(queue_event_count) X(rate_limiter_event_count) \
	X(update_count) X(update_fails) X(read_bytes) X(write_bytes) X(read_count)           \
	X(write_count) X(rate_limiter_throttled_events) X(io_engine_throttled_events)
#define METRICS_NET(X)                                                                       \
	X(activate_fails) X(cfg_fails) X(mac_address_updates) X(no_rx_avail_buffer)          \
	X(no_tx_avail_buffer) X(event_fails) X(rx_queue_event_count)                          \
	X(rx_event_rate_limiter_count) X(rx_partial_writes) X(rx_rate_limiter_throttled)      \
	X(rx_tap_event_count) X(rx_bytes_count) X(rx_packets_count) X(rx_fails) X(rx_count)   \
	X(tap_read_fails) X(tap_write_fails) X(tx_bytes_count) X(tx_malformed_frames)         \
	X(tx_fails) X(tx_count) X(tx_packets_count) X(tx_partial_reads)                       \
	X(tx_queue_event_count) X(tx_rate_limiter_event_count) X(tx_rate_limiter_throttled)   \
	X(tx_spoofed_mac_count)
#define METRICS_VSOCK(X)                                                                     \
	X(activate_fails) X(cfg_fails) X(rx_queue_event_fails) X(tx_queue_event_fails)       \
	X(ev_queue_event_fails) X(muxer_event_fails) X(conn_event_fails)                      \
	X(rx_queue_event_count) X(tx_queue_event_count) X(rx_bytes_count) X(tx_bytes_count)   \
	X(rx_packets_count) X(tx_packets_count) X(conns_added) X(conns_killed)                \
	X(conns_removed) X(killq_resync) X(tx_flush_fails) X(tx_write_fails) X(rx_read_fails)
#define METRICS_BALLOON(X)                                                                   \
	X(activate_fails) X(inflate_count) X(stats_updates_count) X(stats_update_fails)      \
	X(deflate_count) X(event_fails) X(free_page_report_count) X(free_page_report_fails)  \
	X(free_page_hint_count) X(free_page_hint_freed) X(free_page_hint_fails)
#define METRICS_ENTROPY(X)                                                                   \
	X(activate_fails) X(entropy_event_fails) X(entropy_event_count) X(entropy_bytes)     \
	X(host_rng_fails) X(entropy_rate_limiter_throttled) X(rate_limiter_event_count)
/* Firecracker's pmem group ("pmem_<id>" and the sum "pmem"): its four
 * fields, then ember's own flush and rate-limiter counters. */
#define METRICS_PMEM(X)                                                                      \
	X(activate_fails) X(cfg_fails) X(event_fails) X(queue_event_count) X(flush_count)    \
	X(flush_fails) X(rate_limiter_throttled) X(rate_limiter_event_count)
/* Firecracker's "memory_hotplug" counters (map_fails: ember's own, a KVM
 * slot that could not be added or removed); with the latency groups below. */
#define METRICS_MEMORY_HOTPLUG(X)                                                            \
	X(activate_fails) X(queue_event_fails) X(queue_event_count) X(plug_count)            \
	X(plug_bytes) X(plug_fails) X(unplug_count) X(unplug_bytes) X(unplug_fails)           \
	X(unplug_discard_fails) X(unplug_all_count) X(unplug_all_fails) X(state_count)        \
	X(state_fails) X(map_fails)
/* Firecracker's LatencyAggregateMetrics objects in "memory_hotplug":
 * {"min_us", "max_us", "sum_us"}; min and max keep their value across
 * flushes (0 until a first request), sum_us counts since the last flush. */
#define METRICS_MEMORY_HOTPLUG_LATENCY(X) X(plug_agg) X(unplug_agg) X(unplug_all_agg) X(state_agg)
#define METRICS_VCPU(X)                                                                      \
	X(exit_io_in) X(exit_io_out) X(exit_mmio_read) X(exit_mmio_write) X(failures)       \
	X(kvm_internal_errors) X(shutdown_exits)
#define METRICS_VMM(X) X(device_events) X(panic_count)
#define METRICS_SECCOMP(X) X(num_faults)
#define METRICS_I8042(X)                                                                     \
	X(error_count) X(missed_read_count) X(missed_write_count) X(read_count)              \
	X(reset_count) X(write_count)
#define METRICS_UART(X)                                                                      \
	X(error_count) X(flush_count) X(missed_read_count) X(missed_write_count)             \
	X(read_count) X(write_count) X(rate_limiter_dropped_bytes)
#define METRICS_RTC(X) X(error_count) X(missed_read_count) X(missed_write_count)
#define METRICS_SIGNALS(X)                                                                   \
	X(sigbus) X(sigsegv) X(sigxfsz) X(sigxcpu) X(sigpipe) X(sighup) X(sigill)
#define METRICS_LATENCIES(X)                                                                 \
	X(full_create_snapshot) X(diff_create_snapshot) X(load_snapshot) X(pause_vm)          \
	X(resume_vm) X(vmm_full_create_snapshot) X(vmm_diff_create_snapshot)                  \
	X(vmm_load_snapshot) X(vmm_pause_vm) X(vmm_resume_vm)
#define METRICS_LOGGER(X)                                                                    \
	X(missed_metrics_count) X(metrics_fails) X(missed_log_count) X(log_fails)
/* MMDS (all interfaces together, as Firecracker): rx_* the guest's frames
 * for the MMDS address (accepted = handed to the responder; bad_eth too
 * short to parse; accepted_err malformed IPv4/TCP/ARP; accepted_unusual
 * well-formed but not served: not TCP, fragments, other ports, segments of
 * no connection, out of order; count segments/ARP requests taken; no_token
 * and invalid_token: GETs without / with a bad session token, V1 and V2),
 * tx_* frames the responder gave the guest (count = frames built, errors =
 * answers it had to drop), connections opened and freed (incl. evicted). */
#define METRICS_MMDS(X)                                                                      \
	X(rx_accepted) X(rx_accepted_err) X(rx_accepted_unusual) X(rx_bad_eth)               \
	X(rx_invalid_token) X(rx_no_token) X(rx_count) X(tx_bytes) X(tx_count) X(tx_errors)   \
	X(tx_frames) X(connections_created) X(connections_destroyed)
#define METRICS_DEPRECATED(X) X(deprecated_http_api_calls) X(deprecated_cmd_line_api_calls)
/* clang-format on */

#define METRICS_FIELD(name) uint64_t name;
struct metrics_api_server {
	METRICS_API_SERVER(METRICS_FIELD)
};
struct metrics_get_api {
	METRICS_GET_API(METRICS_FIELD)
};
struct metrics_put_api {
	METRICS_PUT_API(METRICS_FIELD)
};
struct metrics_patch_api {
	METRICS_PATCH_API(METRICS_FIELD)
};
struct metrics_block {
	METRICS_BLOCK(METRICS_FIELD)
};
struct metrics_net {
	METRICS_NET(METRICS_FIELD)
};
struct metrics_vsock {
	METRICS_VSOCK(METRICS_FIELD)
};
struct metrics_balloon {
	METRICS_BALLOON(METRICS_FIELD)
};
struct metrics_entropy {
	METRICS_ENTROPY(METRICS_FIELD)
};
struct metrics_pmem {
	METRICS_PMEM(METRICS_FIELD)
};
struct metrics_latency_agg {
	uint64_t min_us, max_us, sum_us;
};
#define METRICS_AGG_FIELD(name) struct metrics_latency_agg name;
struct metrics_memory_hotplug {
	METRICS_MEMORY_HOTPLUG(METRICS_FIELD)
	METRICS_MEMORY_HOTPLUG_LATENCY(METRICS_AGG_FIELD)
};
#undef METRICS_AGG_FIELD
struct metrics_vcpu {
	METRICS_VCPU(METRICS_FIELD)
};
struct metrics_vmm {
	METRICS_VMM(METRICS_FIELD)
};
struct metrics_seccomp {
	METRICS_SECCOMP(METRICS_FIELD)
};
struct metrics_i8042 {
	METRICS_I8042(METRICS_FIELD)
};
struct metrics_uart {
	METRICS_UART(METRICS_FIELD)
};
struct metrics_rtc {
	METRICS_RTC(METRICS_FIELD)
};
struct metrics_signals {
	METRICS_SIGNALS(METRICS_FIELD)
};
struct metrics_latencies {
	METRICS_LATENCIES(METRICS_FIELD)
};
struct metrics_logger {
	METRICS_LOGGER(METRICS_FIELD)
};
struct metrics_deprecated {
	METRICS_DEPRECATED(METRICS_FIELD)
};
struct metrics_mmds {
	METRICS_MMDS(METRICS_FIELD)
};
#undef METRICS_FIELD

struct ember_metrics {
	struct metrics_api_server api_server; /* store */
	struct metrics_get_api get_api_requests;
	struct metrics_put_api put_api_requests;
	struct metrics_patch_api patch_api_requests;
	struct metrics_balloon balloon;
	struct metrics_vsock vsock;
	struct metrics_entropy entropy;
	struct metrics_memory_hotplug memory_hotplug;
	struct metrics_vcpu vcpu;
	struct metrics_vmm vmm;
	struct metrics_seccomp seccomp;
	struct metrics_i8042 i8042;
	struct metrics_uart uart;
	struct metrics_rtc rtc;
	struct metrics_signals signals;
	struct metrics_latencies latencies_us; /* store */
	struct metrics_logger logger;
	struct metrics_mmds mmds;
	struct metrics_deprecated deprecated_api;
};

extern struct ember_metrics metrics;

#define METRICS_MAX_DEVS 16

/* Per-device counters, created on first use and kept for the process
 * lifetime (NULL if the table is full: then use a local dummy). */
struct metrics_block *metrics_block_get(const char *drive_id);
struct metrics_net *metrics_net_get(const char *iface_id);
struct metrics_pmem *metrics_pmem_get(const char *pmem_id);
/* One more request of us microseconds into a latency group (any thread). */
void metrics_latency_add(struct metrics_latency_agg *agg, uint64_t us);

/* Open the metrics destination (file or FIFO; O_NONBLOCK). -EALREADY once
 * opened ("Reinitialization of metrics not allowed."). */
int metrics_open(const char *path);
bool metrics_is_open(void);
/* The instance id, emitted as "id" when emit_id; properties: a JSON object
 * text of string values emitted as "properties" (NULL: none). */
int metrics_set_options(const char *id, bool emit_id, const char *properties_json);
/* A function metrics_serialize() calls first, to fold counters kept by
 * devices into the groups above (NULL: none). It runs on the thread that
 * flushes (ember flushes on the VMM thread only). */
void metrics_set_collector(void (*fn)(void *opaque), void *opaque);
/* Build one metrics line (malloc'd, with '\n'); resets the counters.
 * Exposed for tests. */
char *metrics_serialize(void);
/* Serialize and write the line; 0 without a destination. */
int metrics_flush(void);
/* Flush every interval_ms (Firecracker: 60 s) from the event loop (timerfd). */
int metrics_start_timer(struct event_loop *el, unsigned interval_ms);
void metrics_stop_timer(struct event_loop *el);

#endif
