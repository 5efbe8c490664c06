/* SHA-256 through Nettle (its "fat" build picks the SHA-NI code at run time).
 * Nettle rather than libcrypto: a small library that builds for musl in
 * seconds (tools/musl-libs.sh), with no provider machinery to start. */
#include "ember/measure.h"

#include <errno.h>
#include <stdlib.h>

#include <nettle/sha2.h>

#include "ember/error.h"

struct measure_stream {
	struct sha256_ctx ctx;
};

int measure_begin(struct measure_stream **s)
{
	*s = calloc(1, sizeof(**s));
	if (!*s)
		return err_set(ENOMEM, "out of memory");
	sha256_init(&(*s)->ctx);
	return 0;
}

int measure_add(struct measure_stream *s, const void *buf, size_t len)
{
	sha256_update(&s->ctx, len, buf);
	return 0;
}

int measure_end(struct measure_stream *s, char hex[MEASURE_HEX_LEN])
{
	static const char digits[] = "0123456789abcdef";
	uint8_t md[SHA256_DIGEST_SIZE];

	sha256_digest(&s->ctx, sizeof(md), md);
	free(s);
	for (unsigned i = 0; i < SHA256_DIGEST_SIZE; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 0xf];
	}
	hex[64] = '\0';
	return 0;
}

int measure_sha256(const void *buf, size_t len, char hex[MEASURE_HEX_LEN])
{
	struct measure_stream *s;
	int r;

	if ((r = measure_begin(&s)) < 0)
		return r;
	if ((r = measure_add(s, buf, len)) < 0) {
		measure_end(s, hex);
		return r;
	}
	return measure_end(s, hex);
}
