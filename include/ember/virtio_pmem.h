/* virtio-pmem (virtio 1.2 section 5.19, device id 27): Firecracker's
 * persistent memory device (PUT /pmem/{id}). A host file is mapped into guest
 * physical address space (the VMM gives it a KVM memory slot at `gpa`, above
 * RAM; config space says where and how long); the guest reads and writes it
 * with loads and stores, and its one request, FLUSH, makes what it wrote
 * durable (fdatasync of the file: the guest's stores dirtied the file's page
 * cache through the shared mapping).
 *
 * The mapping is the file's size rounded up to 2 MiB: the part past the end of
 * the file is private anonymous memory (never written back), as Firecracker
 * does. read_only maps the file read-only (PROT_READ; the VMM makes the KVM
 * slot read-only too): the file is never written.
 *
 * Hostile input: the request queue's chains (type, response buffer) only;
 * the memory itself is the guest's to scribble on. */
#ifndef EMBER_VIRTIO_PMEM_H
#define EMBER_VIRTIO_PMEM_H

#include <stdbool.h>
#include <stdint.h>

#include "ember/rate_limiter.h"
#include "ember/util.h"
#include "ember/virtio.h"

#define VIRTIO_PMEM_QUEUE_SIZE 128

/* PUT /pmem/{id}, the config file's "pmem" list. */
struct pmem_cfg {
	char id[CFG_ID_MAX + 1];
	char *path; /* path_on_host */
	bool root_device;
	bool read_only;
	struct rate_limiter_cfg rate_limiter; /* flush requests (ops) */
};

struct virtio_pmem_counters {
	uint64_t activate_fails;
	uint64_t cfg_fails;	    /* config space writes (read-only) */
	uint64_t event_fails;	    /* malformed requests */
	uint64_t queue_event_count; /* queue notifications */
	uint64_t flush_count;	    /* flushes answered 0 */
	uint64_t flush_fails;	    /* flushes answered 1 (fdatasync failed, bad type) */
	uint64_t rate_limiter_throttled;
	uint64_t rate_limiter_event_count;
};

struct virtio_pmem {
	struct virtio_dev vdev;	 /* first: the transport's view */
	char id[CFG_ID_MAX + 1]; /* its metrics group: "pmem_<id>" */
	int fd;
	bool read_only;
	uint64_t gpa;
	uint64_t file_size; /* bytes of the file */
	uint64_t size;	    /* mapped: file_size rounded up to 2 MiB */
	uint8_t *hva;	    /* the mapping the VMM gives KVM */
	struct rate_limiter rl;
	bool throttled;
	struct virtio_pmem_counters stats;
	struct virtio_pmem_counters published; /* what the metrics have */
	struct vq_chain chain;
};

/* Opens and maps cfg->path (err_set names the problem); gpa is where the VMM
 * puts it (a multiple of 2 MiB). */
int virtio_pmem_create(const struct pmem_cfg *cfg, uint64_t gpa, const struct guest_mem *gm,
		       struct event_loop *el, struct virtio_pmem **out);
void virtio_pmem_destroy(struct virtio_pmem *pm);
/* Bytes of guest-physical space a file of file_size takes (2 MiB multiple). */
uint64_t virtio_pmem_map_size(uint64_t file_size);
/* PATCH /pmem/{id}: the flush rate limiter. */
void virtio_pmem_update_rate_limiter(struct virtio_pmem *pm, const struct rate_limiter_cfg *cfg);
void virtio_pmem_get_counters(struct virtio_pmem *pm, struct virtio_pmem_counters *out);

#endif
