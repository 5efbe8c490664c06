/* Incremental HTTP/1.1 request parser and response writer for the API
 * socket. Pure functions over caller-supplied bytes: no I/O, so it can be
 * unit-tested and fuzzed on its own.
 *
 * The parser consumes one request at a time and never consumes bytes that
 * belong to the next (pipelined) request: http_parser_feed() reports how many
 * bytes it used; once it returns HTTP_PARSE_DONE the caller handles the
 * request, calls http_parser_next() and feeds the remaining bytes. */
#ifndef EMBER_HTTP_H
#define EMBER_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_HEAD 8192  /* request line + headers + blank line */
#define HTTP_MAX_BODY 51200 /* Firecracker's default API payload limit */

enum http_method { HTTP_GET = 0, HTTP_PUT, HTTP_PATCH };

struct http_request {
	enum http_method method;
	const char *path;    /* NUL-terminated absolute path, query removed */
	const uint8_t *body; /* NULL when there is no body (Content-Length 0/absent) */
	size_t body_len;
	bool keep_alive;
	bool http10; /* the client spoke HTTP/1.0 */
};

enum http_parse_result {
	HTTP_PARSE_ERROR = -1,
	HTTP_PARSE_MORE = 0, /* every byte consumed; feed more */
	HTTP_PARSE_DONE = 1, /* a request is complete in parser->req */
};

struct http_parser {
	uint8_t *buf; /* head, then body; grows on demand (lazily allocated) */
	size_t len;
	size_t cap;
	size_t head_len; /* 0 until the blank line ending the head was seen */
	size_t content_length;
	size_t path_off; /* of req.path in buf */
	size_t max_body;
	bool expect_continue;
	bool continue_sent;
	bool done;
	struct http_request req;
	int err_status;	   /* HTTP status to answer with after HTTP_PARSE_ERROR */
	char err_msg[160]; /* plain text, safe to put in a JSON string */
};

void http_parser_init(struct http_parser *p);
/* Payload limit (default HTTP_MAX_BODY). */
void http_parser_set_max_body(struct http_parser *p, size_t max_body);
void http_parser_free(struct http_parser *p);
/* Consume bytes of data; *used is how many. After HTTP_PARSE_ERROR the
 * connection cannot be resynchronised: answer err_status and close. */
enum http_parse_result http_parser_feed(struct http_parser *p, const uint8_t *data, size_t len,
					size_t *used);
/* Forget the completed request (keeps the buffer for the next one). */
void http_parser_next(struct http_parser *p);
/* True when the head asked for "Expect: 100-continue", the body is still
 * missing and the interim response was not sent yet; the caller sends
 * HTTP_CONTINUE_RESPONSE and calls http_parser_continue_sent(). */
bool http_parser_wants_continue(const struct http_parser *p);
void http_parser_continue_sent(struct http_parser *p);
/* True while part of a request has been received. */
bool http_parser_busy(const struct http_parser *p);

#define HTTP_CONTINUE_RESPONSE "HTTP/1.1 100 Continue\r\n\r\n"

const char *http_method_name(enum http_method m);
const char *http_status_reason(int status);
/* Format a complete response into out (like snprintf: returns the length the
 * full response needs; writes at most cap bytes, always NUL-terminated when
 * cap > 0). A NULL body means no body (204, or an empty 200). Bodies are sent
 * as application/json. */
size_t http_format_response(char *out, size_t cap, int status, const char *body, size_t body_len,
			    bool keep_alive);

#endif
