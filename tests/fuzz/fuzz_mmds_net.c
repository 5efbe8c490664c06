/* libFuzzer: the MMDS network responder (src/devices/mmds/mmds_net.c,
 * mmds_http.c, mmds_store.c) on guest frames. The input is a sequence of
 * records: [flags][len hi][len lo][frame bytes]. Flags: bit 0 the guest
 * left the TCP checksum to the device (NEEDS_CSUM), bit 1 the harness puts
 * the MMDS address and valid IPv4/TCP checksums in (so the fuzzer reaches
 * the TCP and HTTP states), bit 2 the clock advances and the timer runs,
 * bit 3 the responder's frames are taken (else they pile up), bit 4 the
 * data store is patched. Checks: frames out are well formed (length,
 * Ethernet source, IPv4 header checksum), the connection count is bounded,
 * and nothing crashes or leaks (ASan). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ember/mmds.h"
#include "ember/mmds_net.h"
#include "lib/frames.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fix(uint8_t *f, size_t n)
{
	size_t ihl, tot;

	if (n < 14 + 20)
		return;
	f[12] = 0x08;
	f[13] = 0x00;
	f[14] = (uint8_t)(0x40 | (f[14] & 0x0f));
	if ((f[14] & 0x0f) < 5)
		f[14] = 0x45;
	ihl = (size_t)(f[14] & 0x0f) * 4;
	if (14 + ihl + 20 > n)
		return;
	tot = n - 14;
	f[16] = (uint8_t)(tot >> 8);
	f[17] = (uint8_t)tot;
	f[20] &= 0x80; /* no fragments */
	f[21] = 0;
	f[23] = 6;
	f[30] = 169, f[31] = 254, f[32] = 169, f[33] = 254;
	fr_put16(f + 24, 0);
	fr_put16(f + 24, fr_fold(fr_sum(0, f + 14, ihl))); /* IPv4 options included */
	fr_put16(f + 14 + ihl + 2, 80);
	fr_put16(f + 14 + ihl + 16, 0);
	fr_put16(f + 14 + ihl + 16,
		 fr_l4_sum(fr_get32(f + 26), fr_get32(f + 30), 6, f + 14 + ihl, tot - ihl));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t frame[2048], out[MMDS_NET_MAX_FRAME];
	struct mmds *store;
	struct mmds_net *net;
	uint64_t now = 1000;
	size_t off = 0;
	const char *doc = "{\"latest\":{\"meta-data\":{\"ami-id\":\"ami-1\",\"n\":1}}}";

	if (mmds_create(4096, &store) < 0)
		return 0;
	mmds_put(store, doc, strlen(doc));
	if (size && (data[0] & 1))
		mmds_set_mode(store, MMDS_V2, (data[0] & 2) != 0);
	if (mmds_net_create(store, MMDS_DEFAULT_IPV4, &net) < 0) {
		mmds_destroy(store);
		return 0;
	}
	while (off + 3 <= size) {
		uint8_t flags = data[off];
		size_t n = (size_t)fr_get16(data + off + 1) % sizeof(frame);

		off += 3;
		if (n > size - off)
			n = size - off;
		memcpy(frame, data + off, n);
		off += n;
		if (flags & 2)
			fix(frame, n);
		if (mmds_net_wants(net, frame, n))
			mmds_net_input(net, frame, n, flags & 1, now);
		if (flags & 4) {
			now += (uint64_t)(flags >> 5) * 500 + 1;
			mmds_net_timer(net, now);
		}
		if (flags & 16)
			mmds_patch(store, "{\"latest\":{\"x\":\"y\"}}", 20);
		while ((flags & 8) || mmds_net_has_output(net)) {
			size_t len = mmds_net_output(net, out, sizeof(out), now);

			if (!len)
				break;
			if (len < 42 || len > MMDS_NET_MAX_FRAME ||
			    memcmp(out + 6, MMDS_MAC, 6) != 0)
				__builtin_trap();
			if (fr_get16(out + 12) == 0x0800 && fr_fold(fr_sum(0, out + 14, 20)) != 0)
				__builtin_trap();
			if (!(flags & 8))
				break;
		}
		if (mmds_net_conns(net) > MMDS_NET_MAX_CONNS)
			__builtin_trap();
	}
	mmds_net_destroy(net);
	mmds_destroy(store);
	return 0;
}
