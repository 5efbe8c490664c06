/* libFuzzer: the MMDS guest-side HTTP handler (src/devices/mmds/mmds_http.c)
 * and the data store's lookups on arbitrary request bytes, fed in pieces as
 * a TCP connection would (first byte: piece size, version and mode). Checks:
 * a request is never said to be longer than what was given, a response is a
 * status line with a known code and a Content-Length that matches. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ember/mmds.h"
#include "ember/mmds_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[MMDS_HTTP_MAX_REQUEST];
	const char *doc =
	    "{\"latest\":{\"meta-data\":{\"ami-id\":\"ami-1\",\"a~b\":{\"c/d\":\"e\"},"
	    "\"n\":[1,\"x\",{}]}}}";
	struct mmds *m;
	size_t have = 0, off = 1, chunk;

	if (size < 1 || mmds_create(MMDS_DEFAULT_SIZE_LIMIT, &m) < 0)
		return 0;
	mmds_put(m, doc, strlen(doc));
	mmds_set_mode(m, (data[0] & 0x80) ? MMDS_V2 : MMDS_V1, (data[0] & 0x40) != 0);
	chunk = (size_t)(data[0] & 0x3f) + 1;
	while (off < size || have) {
		struct mmds_http_reply r;
		size_t n = size - off < chunk ? size - off : chunk;
		int c;

		if (n > sizeof(buf) - have)
			n = sizeof(buf) - have;
		memcpy(buf + have, data + off, n);
		have += n;
		off += n;
		c = mmds_http_handle(m, buf, have, &r);
		if (c < 0 || (size_t)c > have)
			__builtin_trap();
		if (c == 0) {
			if (off >= size)
				break;
			continue;
		}
		{
			/* the reply is not NUL-terminated: sscanf reads a copy that is */
			char *t = r.data ? malloc(r.len + 1) : NULL;
			unsigned status = 0;
			size_t clen = 0;
			const char *body, *cl;

			if (!t)
				__builtin_trap();
			memcpy(t, r.data, r.len);
			t[r.len] = '\0';
			body = memmem(t, r.len, "\r\n\r\n", 4);
			cl = memmem(t, r.len, "Content-Length: ", 16);
			if (sscanf(t, "HTTP/1.%*c %u", &status) != 1 || !body || !cl ||
			    sscanf(cl, "Content-Length: %zu", &clen) != 1 ||
			    (status != 200 && status != 400 && status != 401 && status != 404 &&
			     status != 405 && status != 501) ||
			    (size_t)(t + r.len - (body + 4)) != clen)
				__builtin_trap();
			free(t);
		}
		free(r.data);
		memmove(buf, buf + c, have - (size_t)c);
		have -= (size_t)c;
		if (r.close)
			break;
	}
	mmds_destroy(m);
	return 0;
}
