/* HTTP/1.1 request parsing and response formatting (no I/O). */
#include "ember/http.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void http_parser_init(struct http_parser *p)
{
	memset(p, 0, sizeof(*p));
	p->max_body = HTTP_MAX_BODY;
}

void http_parser_set_max_body(struct http_parser *p, size_t max_body)
{
	p->max_body = max_body;
}

void http_parser_free(struct http_parser *p)
{
	free(p->buf);
	p->buf = NULL;
	p->len = p->cap = 0;
}

void http_parser_next(struct http_parser *p)
{
	p->len = 0;
	p->head_len = 0;
	p->content_length = 0;
	p->expect_continue = false;
	p->continue_sent = false;
	p->done = false;
	memset(&p->req, 0, sizeof(p->req));
}

bool http_parser_wants_continue(const struct http_parser *p)
{
	return p->head_len && !p->done && p->expect_continue && !p->continue_sent &&
	       p->len < p->head_len + p->content_length;
}

void http_parser_continue_sent(struct http_parser *p)
{
	p->continue_sent = true;
}

bool http_parser_busy(const struct http_parser *p)
{
	return p->len > 0;
}

__attribute__((format(printf, 3, 4))) static enum http_parse_result
fail(struct http_parser *p, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->err_msg, sizeof(p->err_msg), fmt, ap);
	va_end(ap);
	p->err_status = status;
	return HTTP_PARSE_ERROR;
}

static int reserve(struct http_parser *p, size_t need)
{
	size_t cap;
	uint8_t *nb;

	if (need <= p->cap)
		return 0;
	cap = p->cap ? p->cap : 1024;
	while (cap < need)
		cap *= 2;
	nb = realloc(p->buf, cap + 1); /* +1: NUL after the path/body */
	if (!nb)
		return -1;
	p->buf = nb;
	p->cap = cap;
	return 0;
}

static bool is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* A line of the head is [s, e) without its CRLF. */
static enum http_parse_result parse_request_line(struct http_parser *p, char *s, char *e)
{
	char *sp1, *sp2, *target, *version, *q;
	size_t mlen;

	sp1 = memchr(s, ' ', (size_t)(e - s));
	if (!sp1 || sp1 == s)
		return fail(p, 400, "Invalid request line.");
	mlen = (size_t)(sp1 - s);
	for (char *c = s; c < sp1; c++)
		if (!is_tchar((unsigned char)*c))
			return fail(p, 400, "Invalid request line.");
	if (mlen == 3 && memcmp(s, "GET", 3) == 0)
		p->req.method = HTTP_GET;
	else if (mlen == 3 && memcmp(s, "PUT", 3) == 0)
		p->req.method = HTTP_PUT;
	else if (mlen == 5 && memcmp(s, "PATCH", 5) == 0)
		p->req.method = HTTP_PATCH;
	else
		return fail(p, 400, "Unsupported HTTP method.");

	target = sp1 + 1;
	sp2 = memchr(target, ' ', (size_t)(e - target));
	if (!sp2 || sp2 == target)
		return fail(p, 400, "Invalid request line.");
	version = sp2 + 1;
	if (e - version == 8 && memcmp(version, "HTTP/1.1", 8) == 0) {
		p->req.http10 = false;
		p->req.keep_alive = true;
	} else if (e - version == 8 && memcmp(version, "HTTP/1.0", 8) == 0) {
		p->req.http10 = true;
		p->req.keep_alive = false;
	} else {
		return fail(p, 400, "Unsupported HTTP version.");
	}

	for (char *c = target; c < sp2; c++)
		if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f)
			return fail(p, 400, "Invalid URI.");
	/* absolute-form: http://host/path -> /path */
	if ((size_t)(sp2 - target) >= 7 && strncasecmp(target, "http://", 7) == 0) {
		char *slash = memchr(target + 7, '/', (size_t)(sp2 - (target + 7)));
		if (!slash)
			return fail(p, 400, "Invalid URI.");
		target = slash;
	}
	if (*target != '/')
		return fail(p, 400, "Invalid URI.");
	*sp2 = '\0';
	q = strpbrk(target, "?#");
	if (q)
		*q = '\0';
	/* The buffer may still move (realloc for the body): keep an offset. */
	p->path_off = (size_t)(target - (char *)p->buf);
	return HTTP_PARSE_MORE;
}

static bool value_is(const char *v, size_t n, const char *word)
{
	return strlen(word) == n && strncasecmp(v, word, n) == 0;
}

static enum http_parse_result parse_header(struct http_parser *p, char *s, char *e, bool *have_cl)
{
	char *colon = memchr(s, ':', (size_t)(e - s));
	char *v, *ve;
	size_t nlen;

	if (s < e && (*s == ' ' || *s == '\t'))
		return fail(p, 400, "Obsolete header line folding is not supported.");
	if (!colon || colon == s)
		return fail(p, 400, "Invalid header.");
	for (char *c = s; c < colon; c++)
		if (!is_tchar((unsigned char)*c))
			return fail(p, 400, "Invalid header name.");
	nlen = (size_t)(colon - s);
	v = colon + 1;
	ve = e;
	while (v < ve && (*v == ' ' || *v == '\t'))
		v++;
	while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
		ve--;
	for (char *c = v; c < ve; c++) {
		unsigned char ch = (unsigned char)*c;
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return fail(p, 400, "Invalid header value.");
	}

	if (nlen == 14 && strncasecmp(s, "Content-Length", 14) == 0) {
		uint64_t n = 0;

		if (v == ve)
			return fail(p, 400, "Invalid Content-Length header.");
		for (char *c = v; c < ve; c++) {
			if (*c < '0' || *c > '9' || n > 1000000000000ULL)
				return fail(p, 400, "Invalid Content-Length header.");
			n = n * 10 + (uint64_t)(*c - '0');
		}
		if (*have_cl && n != p->content_length)
			return fail(p, 400, "Conflicting Content-Length headers.");
		*have_cl = true;
		if (n > p->max_body)
			return fail(
			    p, 400,
			    "Request payload with size %llu is larger than the limit of %zu "
			    "allowed by server.",
			    (unsigned long long)n, p->max_body);
		p->content_length = (size_t)n;
	} else if (nlen == 17 && strncasecmp(s, "Transfer-Encoding", 17) == 0) {
		return fail(p, 400,
			    "Transfer-Encoding is not supported (chunked bodies are refused); send "
			    "Content-Length.");
	} else if (nlen == 10 && strncasecmp(s, "Connection", 10) == 0) {
		if (value_is(v, (size_t)(ve - v), "close"))
			p->req.keep_alive = false;
		else if (value_is(v, (size_t)(ve - v), "keep-alive"))
			p->req.keep_alive = true;
	} else if (nlen == 6 && strncasecmp(s, "Expect", 6) == 0) {
		if (value_is(v, (size_t)(ve - v), "100-continue"))
			p->expect_continue = true;
		else
			return fail(p, 417, "Unsupported Expect header.");
	}
	return HTTP_PARSE_MORE;
}

static enum http_parse_result parse_head(struct http_parser *p)
{
	char *s = (char *)p->buf, *end = (char *)p->buf + p->head_len - 2; /* last CRLF */
	bool first = true, have_cl = false;
	enum http_parse_result r;

	while (s < end) {
		char *e = memchr(s, '\r', (size_t)(end - s));
		if (!e)
			e = end;
		r = first ? parse_request_line(p, s, e) : parse_header(p, s, e, &have_cl);
		if (r == HTTP_PARSE_ERROR)
			return r;
		first = false;
		s = e + 2;
	}
	if (first)
		return fail(p, 400, "Invalid request line.");
	return HTTP_PARSE_MORE;
}

static enum http_parse_result finish(struct http_parser *p)
{
	p->done = true;
	p->req.path = (const char *)p->buf + p->path_off;
	if (p->content_length) {
		p->req.body = p->buf + p->head_len;
		p->req.body_len = p->content_length;
		p->buf[p->head_len + p->content_length] = '\0';
	}
	return HTTP_PARSE_DONE;
}

enum http_parse_result http_parser_feed(struct http_parser *p, const uint8_t *data, size_t len,
					size_t *used)
{
	size_t i = 0;

	*used = 0;
	if (p->done)
		return HTTP_PARSE_DONE;
	if (!p->head_len) {
		for (; i < len; i++) {
			uint8_t c = data[i];

			if (p->len >= HTTP_MAX_HEAD) {
				*used = i;
				return fail(p, 400,
					    "Request header is larger than the limit of %d bytes.",
					    HTTP_MAX_HEAD);
			}
			if (c == '\n' && (p->len == 0 || p->buf[p->len - 1] != '\r')) {
				*used = i + 1;
				return fail(p, 400, "Header lines must end with CRLF.");
			}
			if (p->len && p->buf[p->len - 1] == '\r' && c != '\n') {
				*used = i + 1;
				return fail(p, 400, "Header lines must end with CRLF.");
			}
			if (c == 0) {
				*used = i + 1;
				return fail(p, 400, "NUL byte in request header.");
			}
			if (reserve(p, p->len + 1) < 0) {
				*used = i;
				return fail(p, 500, "Out of memory.");
			}
			p->buf[p->len++] = c;
			if (c == '\n' && p->len >= 4 &&
			    memcmp(p->buf + p->len - 4, "\r\n\r\n", 4) == 0) {
				i++;
				p->head_len = p->len;
				if (parse_head(p) == HTTP_PARSE_ERROR) {
					*used = i;
					return HTTP_PARSE_ERROR;
				}
				if (reserve(p, p->head_len + p->content_length) < 0) {
					*used = i;
					return fail(p, 500, "Out of memory.");
				}
				break;
			}
		}
		if (!p->head_len) {
			*used = i;
			return HTTP_PARSE_MORE;
		}
	}
	{
		size_t want = p->head_len + p->content_length - p->len;
		size_t take = len - i < want ? len - i : want;

		memcpy(p->buf + p->len, data + i, take);
		p->len += take;
		i += take;
		*used = i;
		if (p->len == p->head_len + p->content_length)
			return finish(p);
	}
	return HTTP_PARSE_MORE;
}

const char *http_method_name(enum http_method m)
{
	switch (m) {
	case HTTP_GET:
		return "GET";
	case HTTP_PUT:
		return "PUT";
	case HTTP_PATCH:
		return "PATCH";
	}
	return "?";
}

const char *http_status_reason(int status)
{
	switch (status) {
	case 100:
		return "Continue";
	case 200:
		return "OK";
	case 204:
		return "No Content";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 413:
		return "Payload Too Large";
	case 417:
		return "Expectation Failed";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	default:
		return "Unknown";
	}
}

size_t http_format_response(char *out, size_t cap, int status, const char *body, size_t body_len,
			    bool keep_alive)
{
	int n;
	size_t total;

	if (body && status != 204)
		n = snprintf(out, cap,
			     "HTTP/1.1 %d %s\r\nServer: ember API\r\nConnection: %s\r\n"
			     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
			     status, http_status_reason(status),
			     keep_alive ? "keep-alive" : "close", body_len);
	else
		n = snprintf(
		    out, cap, "HTTP/1.1 %d %s\r\nServer: ember API\r\nConnection: %s\r\n%s\r\n",
		    status, http_status_reason(status), keep_alive ? "keep-alive" : "close",
		    status == 204 ? "" : "Content-Length: 0\r\n");
	if (n < 0)
		return 0;
	total = (size_t)n;
	if (body && status != 204) {
		if (cap > total) {
			size_t room = cap - total - 1;
			size_t c = body_len < room ? body_len : room;
			memcpy(out + total, body, c);
			out[total + c] = '\0';
		}
		total += body_len;
	}
	return total;
}
