/* The snapshot state file: a versioned, checksummed container of sections.
 *
 * Layout (little-endian):
 *	header  (32 bytes): magic "EMBERSNP", u32 version, u32 arch,
 *	        u64 body length, u32 CRC-32 of the body, u32 CRC-32 of the
 *	        first 28 header bytes
 *	body    sections, each: u32 tag, u32 index, u32 length, u32 CRC-32 of
 *	        the payload, payload (length bytes), zero padding to 8 bytes
 *
 * The file is untrusted: snap_parse() checks the magic, version, arch,
 * lengths and both CRCs and indexes the sections; every reader then asks
 * for a section by tag/index and checks its length itself (snap_get_fixed()
 * for fixed-size payloads). Nothing is read outside the buffer. */
#ifndef EMBER_SNAPSHOT_FILE_H
#define EMBER_SNAPSHOT_FILE_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#define SNAP_MAGIC "EMBERSNP"
#define SNAP_VERSION 1u
#define SNAP_ARCH_X86_64 1u
#define SNAP_HEADER_SIZE 32u
#define SNAP_SECTION_HEADER 16u
#define SNAP_MAX_SECTIONS 256
#define SNAP_MAX_FILE (64u << 20) /* a state file is small: no guest RAM */

enum snap_tag {
	SNAP_TAG_CONFIG = 1, /* the vm_config document (JSON text) */
	SNAP_TAG_MEMORY = 2, /* struct snap_memory */
	SNAP_TAG_VM = 3,     /* struct snap_vm_state (irqchips, PIT, clock) */
	SNAP_TAG_VCPU = 4,   /* index = vCPU id: struct snap_vcpu_state */
	SNAP_TAG_MSRS = 5,   /* index = vCPU id: struct kvm_msr_entry[] */
	SNAP_TAG_CPUID = 6,  /* index = vCPU id: struct kvm_cpuid_entry2[] */
	SNAP_TAG_LEGACY = 7, /* struct snap_legacy_state */
	SNAP_TAG_VIRTIO = 8, /* index = slot: struct snap_virtio_hdr + device blob */
	SNAP_TAG_MAX
};

struct snap_section {
	uint32_t tag, index;
	const uint8_t *data;
	uint32_t len;
};

struct snap_file {
	uint32_t version, arch;
	int nsections;
	struct snap_section sections[SNAP_MAX_SECTIONS];
};

/* Validate buf and index its sections. 0 or -EINVAL with err_msg() naming
 * what is wrong ("snapshot file: CRC mismatch in the body"). The sections
 * point into buf. */
int snap_parse(const void *buf, size_t len, struct snap_file *out);
/* The section with this tag and index, or NULL. */
const struct snap_section *snap_find(const struct snap_file *f, uint32_t tag, uint32_t index);
/* Copy a fixed-size section into out: -EINVAL (err_set) when missing or of
 * another size. */
int snap_get_fixed(const struct snap_file *f, uint32_t tag, uint32_t index, void *out, size_t size,
		   const char *what);
/* How many sections carry this tag. */
int snap_count(const struct snap_file *f, uint32_t tag);

/* Working-set files (src/vmm/snapshot_ws.c): magic "EMBERWS1", version,
 * page size 4096, the RAM size they were recorded for, run count, CRC-32 of
 * the runs; then runs of (first page, page count), u64 each, in order and
 * inside RAM; the count's top bit marks a run the guest wrote. A parsed
 * set points into buf. 0 or -EINVAL + err_msg(). */
struct snap_ws {
	const uint8_t *runs;
	uint32_t nruns;
	uint64_t pages;
};
int snap_ws_parse(const uint8_t *buf, size_t len, uint64_t mem_total, struct snap_ws *out);
void snap_ws_run(const struct snap_ws *ws, uint32_t i, uint64_t *first, uint64_t *count,
		 bool *written);

/* Building a file: a growable buffer. */
struct snap_writer {
	uint8_t *buf;
	size_t len, cap;
	int err; /* first allocation failure, sticky */
};

void snap_writer_init(struct snap_writer *w);
void snap_writer_free(struct snap_writer *w);
/* Append one section (two parts concatenated: head may be NULL/0). */
void snap_add(struct snap_writer *w, uint32_t tag, uint32_t index, const void *head,
	      size_t head_len, const void *data, size_t len);
/* Fill the header (length, CRCs): 0 or -ENOMEM. buf/len is the file. */
int snap_finish(struct snap_writer *w);

/* CRC-32 (zlib) of len bytes: the state file's and the working-set file's checksum. */
uint32_t snap_crc(const uint8_t *p, size_t len);

#endif
