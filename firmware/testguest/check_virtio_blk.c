/* virtio-blk, every device found: GET_ID; on a writable disk write a 4 KiB
 * pattern to sectors 8-15 (two data segments), read it back through an
 * indirect descriptor table (when offered), flush; on a read-only disk
 * read sector 8 and see a write refused. Out-of-range and unknown requests
 * must fail cleanly. The e2e test checks the host files afterwards.
 *   tg.blk=N   number of virtio-blk devices expected (default 0) */
#include <linux/virtio_blk.h>

#include "tg.h"
#include "virtio.h"

#define PATTERN_SECTOR 8
#define PATTERN_LEN 4096

static uint8_t vq_mem[4096] __attribute__((aligned(4096), section(".noinit")));
static uint8_t wbuf[PATTERN_LEN] __attribute__((aligned(4096), section(".noinit")));
static uint8_t rbuf[PATTERN_LEN] __attribute__((aligned(4096), section(".noinit")));

/* Byte i of LBA s, as tests/e2e/test_virtio_blk.sh recomputes it. */
static void fill_pattern(uint8_t *b, size_t len, uint64_t first_sector)
{
	for (size_t off = 0; off < len; off += 512) {
		uint64_t s = first_sector + off / 512;
		for (size_t i = 0; i < 512; i++)
			b[off + i] = (uint8_t)(i * 131 + s * 7 + 1);
		tg_snprintf((char *)b + off, 16, "TG-SECTOR-%04lu", s);
	}
}

/* One request: header, data segments, status. Returns the status byte or
 * -1 if the device did not complete it. */
static int blk_req(struct tg_vdev *d, struct tg_vq *q, uint32_t type, uint64_t sector, void *data,
		   uint32_t len, int segs, bool indirect, uint32_t *written)
{
	static struct virtio_blk_outhdr hdr;
	static volatile uint8_t status;
	struct tg_vbuf b[2 + 4];
	int n = 0;

	if (segs > 4)
		return -1;

	hdr.type = type;
	hdr.ioprio = 0;
	hdr.sector = sector;
	status = 0xee;
	b[n++] = (struct tg_vbuf){ &hdr, sizeof(hdr), false };
	bool dev_writes = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
	for (int i = 0; i < segs && len; i++)
		b[n++] = (struct tg_vbuf){ (uint8_t *)data + i * (len / segs), len / segs,
					   dev_writes };
	b[n++] = (struct tg_vbuf){ (void *)&status, 1, true };
	if (!tg_vq_run(d, q, b, n, indirect, written))
		return -1;
	return status;
}

static void test_blk(struct tg_vdev *d, int idx)
{
	char name[32];
	const char *why = "";
	struct tg_vq q;
	uint32_t wr;

	tg_snprintf(name, sizeof(name), "blk%d.init", idx);
	uint64_t want = (1ULL << VIRTIO_BLK_F_FLUSH) | (1ULL << VIRTIO_BLK_F_RO) |
			(1ULL << VIRTIO_BLK_F_BLK_SIZE) | (1ULL << VIRTIO_BLK_F_SEG_MAX) |
			(1ULL << VIRTIO_RING_F_INDIRECT_DESC);
	bool ok = tg_virtio_negotiate(d, want, &why) && tg_vq_init(d, &q, 0, vq_mem, &why);
	if (ok)
		tg_virtio_driver_ok(d);
	/* config: capacity, read as two aligned 32-bit halves under an
	 * unchanged config generation */
	uint64_t cap = 0;
	for (int tries = 0; tries < 10; tries++) {
		uint32_t gen = tg_vio_read(d, 0xfc);
		cap = tg_vio_read(d, 0x100) | (uint64_t)tg_vio_read(d, 0x104) << 32;
		if (tg_vio_read(d, 0xfc) == gen)
			break;
	}
	bool ro = d->features & (1ULL << VIRTIO_BLK_F_RO);
	bool indirect = d->features & (1ULL << VIRTIO_RING_F_INDIRECT_DESC);
	bool flush = d->features & (1ULL << VIRTIO_BLK_F_FLUSH);
	if (!tg_expect(ok && cap > 0, name,
		       "features offered=%#lx negotiated=%#lx capacity=%lu sectors%s%s queue=%u %s",
		       d->dev_features, d->features, cap, ro ? " ro" : "", indirect ? " indirect" : "",
		       q.size, why))
		return;

	char id[VIRTIO_BLK_ID_BYTES + 1];
	memset(id, 0, sizeof(id));
	int st = blk_req(d, &q, VIRTIO_BLK_T_GET_ID, 0, id, VIRTIO_BLK_ID_BYTES, 1, false, &wr);
	tg_snprintf(name, sizeof(name), "blk%d.get_id", idx);
	tg_expect(st == VIRTIO_BLK_S_OK, name, "status=%d id=\"%s\"", st, id);

	if (cap < PATTERN_SECTOR + PATTERN_LEN / 512) {
		tg_snprintf(name, sizeof(name), "blk%d.io", idx);
		tg_fail(name, "disk too small for the pattern (%lu sectors)", cap);
		return;
	}
	if (!ro) {
		fill_pattern(wbuf, PATTERN_LEN, PATTERN_SECTOR);
		st = blk_req(d, &q, VIRTIO_BLK_T_OUT, PATTERN_SECTOR, wbuf, PATTERN_LEN, 2, false,
			     &wr);
		tg_snprintf(name, sizeof(name), "blk%d.write", idx);
		tg_expect(st == VIRTIO_BLK_S_OK, name, "%d bytes at sector %d in 2 segments: status=%d",
			  PATTERN_LEN, PATTERN_SECTOR, st);
		memset(rbuf, 0xee, PATTERN_LEN);
		st = blk_req(d, &q, VIRTIO_BLK_T_IN, PATTERN_SECTOR, rbuf, PATTERN_LEN, 4, indirect,
			     &wr);
		tg_snprintf(name, sizeof(name), "blk%d.read", idx);
		tg_expect(st == VIRTIO_BLK_S_OK && !memcmp(rbuf, wbuf, PATTERN_LEN) &&
				  wr >= PATTERN_LEN + 1,
			  name, "read back %d bytes in 4 segments%s: status=%d used.len=%u data %s",
			  PATTERN_LEN, indirect ? " (indirect)" : "", st, wr,
			  memcmp(rbuf, wbuf, PATTERN_LEN) ? "DIFFERS" : "matches");
		tg_snprintf(name, sizeof(name), "blk%d.flush", idx);
		if (flush) {
			st = blk_req(d, &q, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, 0, false, &wr);
			tg_expect(st == VIRTIO_BLK_S_OK, name, "status=%d", st);
		} else {
			tg_skip(name, "VIRTIO_BLK_F_FLUSH not offered");
		}
	} else {
		memset(rbuf, 0xee, PATTERN_LEN);
		st = blk_req(d, &q, VIRTIO_BLK_T_IN, PATTERN_SECTOR, rbuf, 512, 1, false, &wr);
		tg_snprintf(name, sizeof(name), "blk%d.read", idx);
		tg_expect(st == VIRTIO_BLK_S_OK && !memcmp(rbuf, "TG-READONLY-DISK", 16), name,
			  "sector %d: status=%d starts with \"%.16s\"", PATTERN_SECTOR, st, rbuf);
		st = blk_req(d, &q, VIRTIO_BLK_T_OUT, PATTERN_SECTOR, wbuf, 512, 1, false, &wr);
		tg_snprintf(name, sizeof(name), "blk%d.write_refused", idx);
		tg_expect(st == VIRTIO_BLK_S_IOERR, name, "write to a read-only disk: status=%d", st);
	}
	st = blk_req(d, &q, VIRTIO_BLK_T_IN, cap, rbuf, 512, 1, false, &wr);
	tg_snprintf(name, sizeof(name), "blk%d.out_of_range", idx);
	tg_expect(st == VIRTIO_BLK_S_IOERR, name, "read at sector %lu (capacity): status=%d", cap, st);
	st = blk_req(d, &q, 0x7f, 0, rbuf, 512, 1, false, &wr);
	tg_snprintf(name, sizeof(name), "blk%d.unsupported", idx);
	tg_expect(st == VIRTIO_BLK_S_UNSUPP, name, "request type 0x7f: status=%d", st);
	tg_snprintf(name, sizeof(name), "blk%d.status", idx);
	uint32_t s = tg_virtio_status(d);
	tg_expect(s == 0xf, name, "device status=%#x (ACK|DRIVER|FEATURES_OK|DRIVER_OK)", s);
	tg_virtio_reset(d);
}

static void check_virtio_blk(void)
{
	struct tg_vslot slots[TG_VIRTIO_MAX];
	int n = tg_virtio_slots(slots, TG_VIRTIO_MAX), nblk = 0;
	size_t len;
	uint64_t want = 0;
	const char *v = tg_cmdline_get("tg.blk", &len);

	if (v && !tg_parse_u64(v, len, &want))
		tg_fail("blk.count", "malformed tg.blk");
	for (int i = 0; i < n && i < TG_VIRTIO_MAX; i++) {
		struct tg_vdev d;
		if (tg_virtio_identify(&d, &slots[i]) && d.device_id == 2)
			test_blk(&d, nblk++);
	}
	if (v || nblk)
		tg_expect((uint64_t)nblk == want, "blk.count", "%d virtio-blk devices, tg.blk=%lu",
			  nblk, want);
}
TG_CHECK(710, check_virtio_blk);
