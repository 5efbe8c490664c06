/* virtio-rng (tg.rng=1): find the entropy device, set up its one queue, and
 * ask for random bytes: a single buffer and a chain of two (indirect when
 * offered). The bytes must come back with the used length of the request,
 * differ between two requests, and not be all zero.
 *   tg.rng=1   an entropy device is expected
 * Results: rng.count, rng.init, rng.read, rng.fresh, rng.split. */
#include "tg.h"
#include "virtio.h"

#define VIRTIO_ID_RNG 4
#define RNG_LEN 256

static uint8_t vq_mem[4096] __attribute__((aligned(4096), section(".noinit")));
static uint8_t a[RNG_LEN], b[RNG_LEN];

static bool all_zero(const uint8_t *p, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static void test_rng(struct tg_vdev *d)
{
	const char *why = "";
	struct tg_vq q;
	uint32_t wa = 0, wb = 0, ws = 0;
	bool ok = tg_virtio_negotiate(d, 1ULL << VIRTIO_RING_F_INDIRECT_DESC, &why) &&
		  tg_vq_init(d, &q, 0, vq_mem, &why);

	if (ok)
		tg_virtio_driver_ok(d);
	if (!tg_expect(ok, "rng.init", "features offered=%#lx negotiated=%#lx queue=%u %s",
		       d->dev_features, d->features, q.size, why))
		return;
	struct tg_vbuf one_a = {a, RNG_LEN, true}, one_b = {b, RNG_LEN, true};
	memset(a, 0, RNG_LEN);
	memset(b, 0, RNG_LEN);
	bool ra = tg_vq_run(d, &q, &one_a, 1, false, &wa);
	bool rb = tg_vq_run(d, &q, &one_b, 1, false, &wb);
	tg_expect(ra && rb && wa == RNG_LEN && wb == RNG_LEN && !all_zero(a, RNG_LEN), "rng.read",
		  "2 requests of %d bytes: used.len %u and %u", RNG_LEN, wa, wb);
	tg_expect(memcmp(a, b, RNG_LEN) != 0, "rng.fresh", "two requests return different bytes");

	bool indirect = d->features & (1ULL << VIRTIO_RING_F_INDIRECT_DESC);
	struct tg_vbuf split[2] = {{a, 100, true}, {b, 28, true}};
	memset(a, 0, RNG_LEN);
	memset(b, 0, RNG_LEN);
	bool rs = tg_vq_run(d, &q, split, 2, indirect, &ws);
	tg_expect(rs && ws == 128 && !all_zero(a, 100) && all_zero(a + 100, RNG_LEN - 100) &&
		      all_zero(b + 28, RNG_LEN - 28),
		  "rng.split", "100 + 28 bytes%s: used.len %u, nothing written past the buffers",
		  indirect ? " (indirect)" : "", ws);
	tg_virtio_reset(d);
}

static void check_virtio_rng(void)
{
	struct tg_vslot slots[TG_VIRTIO_MAX];
	int n = tg_virtio_slots(slots, TG_VIRTIO_MAX), nrng = 0;
	size_t len;
	uint64_t want = 0;
	const char *v = tg_cmdline_get("tg.rng", &len);

	if (v && !tg_parse_u64(v, len, &want))
		tg_fail("rng.count", "malformed tg.rng");
	for (int i = 0; i < n && i < TG_VIRTIO_MAX; i++) {
		struct tg_vdev d;
		if (tg_virtio_identify(&d, &slots[i]) && d.device_id == VIRTIO_ID_RNG) {
			nrng++;
			test_rng(&d);
		}
	}
	if (v || nrng)
		tg_expect((uint64_t)nrng == want, "rng.count", "%d virtio-rng devices, tg.rng=%lu",
			  nrng, want);
}
TG_CHECK(760, check_virtio_rng);
