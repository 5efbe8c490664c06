/* Regenerates the seed corpus of fuzz_mmds_net (records of guest frames,
 * see fuzz_mmds_net.c) with the frame builders the MMDS tests use
 * (tests/lib/frames.h):
 *   cc -std=gnu11 -Iinclude -Itests tests/fuzz/gen_mmds_seeds.c -o /tmp/gen_mmds_seeds
 *   /tmp/gen_mmds_seeds tests/fuzz/corpus
 * (tests/fuzz/gen_fuzz_seeds.py writes the other targets' seeds.) */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/frames.h"

#define MMDS_IP 0xa9fea9feu  /* 169.254.169.254 */
#define GUEST_IP 0xa9fe0002u /* 169.254.0.2 */

/* fuzz_mmds_net's record flags */
#define R_FIX 2	  /* MMDS address and checksums put in by the harness */
#define R_TIMER 4 /* the clock advances, the timer runs */
#define R_TAKE 8  /* the responder's frames are taken */
#define R_PATCH 16

static const uint8_t mmds_mac[6] = {0x06, 0x01, 0x23, 0x45, 0x67, 0x01};
static const uint8_t guest_mac[6] = {0x02, 0, 0, 0, 0, 0x01};

struct seed {
	uint8_t buf[4096];
	size_t len;
};

static void rec(struct seed *s, uint8_t flags, const uint8_t *frame, size_t n)
{
	s->buf[s->len++] = flags;
	fr_put16(s->buf + s->len, (uint16_t)n);
	memcpy(s->buf + s->len + 2, frame, n);
	s->len += 2 + n;
}

static void tcp(struct seed *s, uint8_t flags, uint16_t sport, uint32_t seq, uint8_t tflags,
		const char *data)
{
	uint8_t f[1600];
	size_t n = fr_tcp(f, &(struct fr_tcp){.dst_mac = mmds_mac,
					      .src_mac = guest_mac,
					      .src = GUEST_IP,
					      .dst = MMDS_IP,
					      .sport = sport,
					      .dport = 80,
					      .seq = seq,
					      .flags = tflags,
					      .win = 65535,
					      .data = data,
					      .dlen = data ? strlen(data) : 0});

	rec(s, flags, f, n);
}

static int put(const char *root, const char *name, const struct seed *s)
{
	char path[4096];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/fuzz_mmds_net", root);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return -1;
	snprintf(path, sizeof(path), "%s/fuzz_mmds_net/%s", root, name);
	fp = fopen(path, "wb");
	if (!fp || fwrite(s->buf, 1, s->len, fp) != s->len) {
		perror(path);
		return -1;
	}
	return fclose(fp);
}

int main(int argc, char **argv)
{
	const char *req = "GET /latest/meta-data/ami-id HTTP/1.1\r\n\r\n";
	struct seed s = {.len = 0};
	uint8_t f[64];

	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS-DIR\n", argv[0]);
		return 2;
	}
	/* the first byte: V1, JSON (the store's mode bits) */
	s.buf[s.len++] = 0;
	rec(&s, R_TAKE, f, fr_arp_request(f, guest_mac, GUEST_IP, MMDS_IP));
	if (put(argv[1], "arp", &s) < 0)
		return 1;
	/* handshake and request; the SYN-ACK's number is unknown, so the ACK is
	 * a guess the fuzzer mutates */
	s.len = 0;
	s.buf[s.len++] = 0;
	tcp(&s, R_FIX | R_TAKE, 40000, 1, FR_SYN, NULL);
	tcp(&s, R_FIX | R_TAKE, 40000, 2, FR_ACK, req);
	tcp(&s, R_FIX | R_TIMER | R_TAKE, 40000, 2 + (uint32_t)strlen(req), FR_ACK | FR_FIN, NULL);
	if (put(argv[1], "get", &s) < 0)
		return 1;
	/* V2; a SYN left unanswered while the clock runs, then taken */
	s.len = 0;
	s.buf[s.len++] = 1;
	tcp(&s, R_FIX, 40001, 9, FR_SYN, NULL);
	rec(&s, R_TIMER | 0xe0, f, 0);
	rec(&s, R_TIMER | R_TAKE | R_PATCH, f, 0);
	return put(argv[1], "timer", &s) < 0;
}
