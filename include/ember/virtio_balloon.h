/* virtio-balloon: the host asks the guest to give back memory.
 *
 * Queues (virtio 1.x numbering: optional queues exist only when their
 * feature was negotiated, so the indices of stats/reporting follow from the
 * driver's features):
 *   inflateq  le32 PFNs (4 KiB page numbers) the guest gave up: their host
 *             pages are released with gm_discard() (the memfd is punched,
 *             so host RSS falls and the guest later reads zeros).
 *   deflateq  le32 PFNs the guest takes back: nothing to do on the host.
 *   statsq    (VIRTIO_BALLOON_F_STATS_VQ, offered when the polling interval
 *             is non-zero) one buffer of packed struct virtio_balloon_stat
 *             {le16 tag, le64 val}; the device keeps it and, every polling
 *             interval (a timerfd on the event loop), returns it so the
 *             driver refills it with fresh numbers.
 *   free_page_vq (VIRTIO_BALLOON_F_FREE_PAGE_HINT, when free_page_hinting)
 *             free page hinting, driven by the host (see below).
 *   reportingq (VIRTIO_BALLOON_F_REPORTING, when free_page_reporting) each
 *             buffer names free guest ranges; they are discarded, then the
 *             buffer is returned.
 * Queue order as Linux numbers them: inflate, deflate, then stats, free page
 * hinting and reporting, each only if negotiated.
 * PFNs outside guest RAM are ignored and counted; malformed buffers (wrong
 * direction, a PFN array whose length is not a multiple of 4, a stats
 * buffer whose length is not a multiple of 10 or larger than
 * VIRTIO_BALLOON_STATS_MAX_BYTES) are counted and returned untouched.
 *
 * Config: num_pages = the target (amount_mib * 256), set by the host;
 * actual = pages the driver says it holds, written by the driver;
 * free_page_hint_cmd_id, set by the host; poison_val reads 0 and ignores
 * writes (VIRTIO_BALLOON_F_PAGE_POISON is never offered, so no driver has a
 * poison value to tell).
 * VIRTIO_BALLOON_F_DEFLATE_ON_OOM is offered when deflate_on_oom is set.
 *
 * Free page hinting (virtio 1.2 5.5.6.7; Firecracker's /balloon/hinting):
 * the host starts a run by writing a new command id (>= 2, never reused;
 * 0 = STOP, 1 = DONE) and raising a config change. The driver answers on
 * free_page_vq with a device-readable le32 holding that id, then posts free
 * guest pages as device-writable buffers (which it holds meanwhile), then a
 * le32 STOP. The device releases hinted pages (gm_discard_host: the memfd is
 * punched) only while the run is live: the driver's last id equals the
 * host's current run id. Hints outside a run (stale id, after STOP, after
 * the host wrote DONE/STOP) are returned untouched and counted. The host
 * ends a run by writing DONE (PATCH /balloon/hinting/stop, or itself when
 * the driver sends STOP and the run was started with acknowledge_on_stop):
 * the driver then frees the pages it held. Before the host writes a new id
 * or DONE, it drains the queue, so every hint posted before the driver could
 * see DONE is handled inside its run. Known limit, as Firecracker documents:
 * a guest under memory pressure may take hinted pages back (its shrinker)
 * before the device has handled their hint.
 *
 * Threads: the queue handlers and the stats timer run on the VMM thread;
 * the public functions below take the device lock themselves and may be
 * called from any thread. Wiring: see virtio.h (b->vdev). */
#ifndef EMBER_VIRTIO_BALLOON_H
#define EMBER_VIRTIO_BALLOON_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/virtio_balloon.h>

#include "ember/virtio.h"

/* PUT /balloon, the "balloon" section. */
struct balloon_cfg {
	bool present;
	uint32_t amount_mib;
	bool deflate_on_oom;
	uint32_t stats_polling_interval_s;
	bool free_page_reporting;
	bool free_page_hinting;
};

#define VIRTIO_BALLOON_QUEUE_SIZE 256
#define VIRTIO_BALLOON_PAGE_SIZE (1u << VIRTIO_BALLOON_PFN_SHIFT)
#define VIRTIO_BALLOON_PAGES_PER_MIB ((1u << 20) / VIRTIO_BALLOON_PAGE_SIZE)
/* Statistics tags kept: 0..9 from the virtio spec, 10..15 Linux additions
 * (oom_kill ... direct_reclaim). Larger tags are ignored. */
#define VIRTIO_BALLOON_STATS_TAGS 16
#define VIRTIO_BALLOON_STAT_SIZE 10 /* sizeof(struct virtio_balloon_stat), packed */
/* A stats buffer larger than this is malformed (Linux sends 16 entries). */
#define VIRTIO_BALLOON_STATS_MAX_BYTES 4096

/* Latest statistics, in Firecracker's BalloonStats terms. */
struct virtio_balloon_stats {
	uint64_t target_pages, actual_pages, target_mib, actual_mib;
	uint32_t present;			 /* bit t: val[t] was reported */
	uint64_t val[VIRTIO_BALLOON_STATS_TAGS]; /* indexed by VIRTIO_BALLOON_S_* */
};

/* Per-device counters (Firecracker's balloon metrics and a few more),
 * under vdev.lock. */
struct virtio_balloon_counters {
	uint64_t activate_fails;
	uint64_t inflate_count;		 /* inflate buffers handled */
	uint64_t deflate_count;		 /* deflate buffers handled */
	uint64_t inflated_pages;	 /* valid PFNs received on inflateq */
	uint64_t deflated_pages;	 /* valid PFNs received on deflateq */
	uint64_t invalid_pfns;		 /* PFNs outside guest RAM, ignored */
	uint64_t malformed_buffers;	 /* buffers with wrong lengths or direction */
	uint64_t discard_fails;		 /* pages the host could not release */
	uint64_t stats_updates_count;	 /* stats buffers parsed */
	uint64_t stats_update_fails;	 /* stats buffers malformed */
	uint64_t stats_polls;		 /* stats buffers returned for a refill */
	uint64_t free_page_report_count; /* reporting buffers handled */
	uint64_t free_page_report_freed; /* bytes released through reporting */
	uint64_t free_page_report_fails; /* reported ranges not released */
	uint64_t free_page_hint_count;	 /* hint buffers handled inside a run */
	uint64_t free_page_hint_freed;	 /* bytes released through hinting */
	uint64_t free_page_hint_fails;	 /* hinted ranges not released */
	uint64_t free_page_hint_ignored; /* hint buffers outside a live run */
	uint64_t free_page_hint_cmds;	 /* command ids received from the driver */
	uint64_t event_fails;		 /* invalid chains, broken rings, timer errors */
	uint64_t target_updates;	 /* set_target calls that changed num_pages */
};

struct virtio_balloon {
	struct virtio_dev vdev;	   /* first: the transport's view */
	struct virtio_dev_ops ops; /* per device: num_queues follows the config */
	bool deflate_on_oom, reporting, hinting;
	uint32_t num_pages; /* target, host-owned config field */
	uint32_t actual;    /* driver-owned config field */
	/* Statistics */
	uint32_t stats_interval_s; /* 0: statistics disabled (fixed at create) */
	int timer_fd;
	bool stats_held; /* a stats buffer waits for the next poll */
	uint16_t stats_head;
	struct virtio_balloon_stats stats; /* last parsed values (present/val) */
	/* Free page hinting */
	uint32_t hint_host_cmd;	 /* config free_page_hint_cmd_id */
	uint32_t hint_last_id;	 /* last run id issued (ids are never reused) */
	uint32_t hint_guest_cmd; /* last id the driver sent (valid if seen) */
	bool hint_guest_seen;
	bool hint_ack_on_stop; /* the driver's STOP makes the host write DONE */
	/* Queue indices for the negotiated features (-1: absent). */
	int q_stats, q_hint, q_report;
	struct virtio_balloon_counters cnt;
	/* cnt at the last publish_metrics */
	struct virtio_balloon_counters published;
	struct vq_chain chain; /* scratch */
};

/* Create the device (num_pages from cfg->amount_mib); with a non-zero
 * cfg->stats_polling_interval_s a periodic timerfd is added to el. */
int virtio_balloon_create(const struct balloon_cfg *cfg, const struct guest_mem *gm,
			  struct event_loop *el, struct virtio_balloon **out);
void virtio_balloon_destroy(struct virtio_balloon *b);

/* PUT/PATCH /balloon: new target in MiB (-EINVAL if larger than guest RAM).
 * A change raises a config-change interrupt on a live device. */
int virtio_balloon_set_target(struct virtio_balloon *b, uint32_t amount_mib);
/* PATCH /balloon/statistics: new polling interval. Statistics cannot be
 * turned on or off after creation: -EINVAL unless both the current and the
 * new interval are non-zero. */
int virtio_balloon_set_stats_interval(struct virtio_balloon *b, uint32_t interval_s);
/* Latest statistics (target/actual from the config, guest values). */
void virtio_balloon_get_stats(struct virtio_balloon *b, struct virtio_balloon_stats *out);
/* GET /balloon/statistics: a malloc'd JSON object in Firecracker's
 * BalloonStats shape (only the guest values reported so far appear). */
int virtio_balloon_stats_json(struct virtio_balloon *b, char **json_out);
/* Free page hinting (-EINVAL with err_set context when the device was not
 * created with free_page_hinting). start: drain pending hints, then a new
 * run id and a config change; ack_on_stop: answer the driver's STOP with
 * DONE. stop: drain pending hints, then DONE (the driver frees what it
 * holds). status: the host's current id and the driver's last one
 * (*guest_seen false before the driver sent any). */
int virtio_balloon_hint_start(struct virtio_balloon *b, bool ack_on_stop);
int virtio_balloon_hint_stop(struct virtio_balloon *b);
int virtio_balloon_hint_status(struct virtio_balloon *b, uint32_t *host_cmd, uint32_t *guest_cmd,
			       bool *guest_seen);
/* GET /balloon/hinting/status: malloc'd {"host_cmd":N[,"guest_cmd":M]}. */
int virtio_balloon_hint_status_json(struct virtio_balloon *b, char **json_out);
/* Snapshot of the counters, taken under the lock. */
void virtio_balloon_get_counters(struct virtio_balloon *b, struct virtio_balloon_counters *out);

#endif
