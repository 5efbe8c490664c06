/* libFuzzer: the HTTP/1.1 request parser (src/api/http.c) on arbitrary
 * bytes, fed in pieces whose sizes the input chooses, with pipelining; and
 * the response writer. Checks what the parser promises: it never consumes
 * more than it was given, a completed request has an absolute path and a
 * body inside its buffer of the announced size, errors carry a status. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ember/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_parser p;
	size_t chunk, off = 1;
	int requests = 0;

	if (size < 1)
		return 0;
	chunk = (size_t)(data[0] % 64) + 1;
	http_parser_init(&p);
	if (data[0] & 0x80)
		http_parser_set_max_body(&p, 64);
	while (off < size) {
		size_t n = size - off < chunk ? size - off : chunk, used = 0;
		enum http_parse_result r = http_parser_feed(&p, data + off, n, &used);

		if (used > n)
			__builtin_trap();
		off += used;
		if (r == HTTP_PARSE_ERROR) {
			if (p.err_status < 400 || p.err_status > 599 || !p.err_msg[0])
				__builtin_trap();
			break;
		}
		if (r == HTTP_PARSE_DONE) {
			const struct http_request *q = &p.req;

			if (!q->path || q->path[0] != '/' || q->method > HTTP_PATCH)
				__builtin_trap();
			if ((const uint8_t *)q->path < p.buf ||
			    (const uint8_t *)q->path >= p.buf + p.len)
				__builtin_trap();
			if (q->body &&
			    (q->body < p.buf || q->body + q->body_len > p.buf + p.len ||
			     q->body_len != p.content_length || q->body_len > p.max_body))
				__builtin_trap();
			if (http_parser_wants_continue(&p))
				__builtin_trap();
			http_parser_next(&p);
			if (++requests > 1000)
				break;
			continue;
		}
		if (http_parser_wants_continue(&p))
			http_parser_continue_sent(&p);
		if (used < n)
			__builtin_trap(); /* MORE means everything was taken */
	}
	http_parser_free(&p);

	{
		char out[256];
		int status = 100 + data[0] % 500;
		size_t blen = size > 64 ? 64 : size;
		size_t need =
		    http_format_response(NULL, 0, status, (const char *)data, blen, data[0] & 1);
		size_t got = http_format_response(out, sizeof(out), status, (const char *)data,
						  blen, data[0] & 1);

		if (need != got || (got < sizeof(out) && strlen(out) > got))
			__builtin_trap();
	}
	return 0;
}
