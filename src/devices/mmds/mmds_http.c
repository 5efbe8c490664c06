/* MMDS: HTTP requests from the guest (see mmds_http.h). */
#include "ember/mmds_http.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ember/util.h"

#define MAX_HEADERS 32

struct hdr {
	const char *name, *value;
	size_t nlen, vlen;
};

struct req {
	const char *method, *uri;
	size_t mlen, ulen;
	bool http10;
	struct hdr h[MAX_HEADERS];
	int nh;
	size_t head_len, body_len;
};

static const char *reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 413:
		return "Payload Too Large";
	case 501:
		return "Not Implemented";
	default:
		return "Internal Server Error";
	}
}

/* The response, body copied; extra: more header lines ("K: V\r\n"). */
static int respond(struct mmds_http_reply *out, bool http10, int status, bool json,
		   const char *extra, const char *body, size_t blen)
{
	size_t cap = 256 + (extra ? strlen(extra) : 0) + blen;
	char *s = malloc(cap);
	int n;

	if (!s)
		return -ENOMEM;
	n = snprintf(s, cap,
		     "HTTP/1.%c %d %s\r\nServer: Firecracker API\r\nConnection: %s\r\n"
		     "Content-Type: %s\r\n%sContent-Length: %zu\r\n\r\n",
		     http10 ? '0' : '1', status, reason(status),
		     out->close ? "close" : "keep-alive", json ? "application/json" : "text/plain",
		     extra ? extra : "", blen);
	if (n < 0 || (size_t)n + blen > cap) {
		free(s);
		return -ENOMEM;
	}
	memcpy(s + n, body, blen);
	out->data = s;
	out->len = (size_t)n + blen;
	return 0;
}

static int respond_msg(struct mmds_http_reply *out, bool http10, int status, const char *extra,
		       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int respond_msg(struct mmds_http_reply *out, bool http10, int status, const char *extra,
		       const char *fmt, ...)
{
	char msg[MMDS_HTTP_MAX_REQUEST + 256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	return respond(out, http10, status, false, extra, msg, MIN((size_t)n, sizeof(msg) - 1));
}

static bool tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("!#$%&'*+-.^_`|~", c);
}

static const struct hdr *header(const struct req *r, const char *name)
{
	size_t n = strlen(name);

	for (int i = 0; i < r->nh; i++)
		if (r->h[i].nlen == n && strncasecmp(r->h[i].name, name, n) == 0)
			return &r->h[i];
	return NULL;
}

static bool value_has(const struct hdr *h, const char *word)
{
	size_t n = strlen(word);

	for (size_t i = 0; h && i + n <= h->vlen; i++)
		if (strncasecmp(h->value + i, word, n) == 0)
			return true;
	return false;
}

static bool is_method(const struct req *r, const char *m)
{
	return r->mlen == strlen(m) && memcmp(r->method, m, r->mlen) == 0;
}

/* The request head in buf[0..end): 0 or -EINVAL. */
static int parse_head(const char *buf, size_t end, struct req *r)
{
	const char *p = buf, *eol = memchr(buf, '\r', end), *sp;
	const char *stop = buf + end;

	if (!eol || eol[1] != '\n')
		return -EINVAL;
	/* METHOD SP URI SP HTTP/1.x */
	sp = memchr(p, ' ', (size_t)(eol - p));
	if (!sp || sp == p)
		return -EINVAL;
	r->method = p;
	r->mlen = (size_t)(sp - p);
	for (size_t i = 0; i < r->mlen; i++)
		if (!tchar(p[i]))
			return -EINVAL;
	p = sp + 1;
	sp = memchr(p, ' ', (size_t)(eol - p));
	if (!sp || sp == p)
		return -EINVAL;
	r->uri = p;
	r->ulen = (size_t)(sp - p);
	for (size_t i = 0; i < r->ulen; i++)
		if ((unsigned char)p[i] <= ' ' || (unsigned char)p[i] >= 0x7f)
			return -EINVAL;
	p = sp + 1;
	if (eol - p != 8 || memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1'))
		return -EINVAL;
	r->http10 = p[7] == '0';
	p = eol + 2;
	while (p < stop) {
		const char *colon;

		eol = memchr(p, '\r', (size_t)(stop - p));
		if (!eol || eol + 1 >= stop || eol[1] != '\n')
			return -EINVAL;
		if (eol == p)
			break; /* the empty line */
		colon = memchr(p, ':', (size_t)(eol - p));
		if (!colon || colon == p || r->nh == MAX_HEADERS)
			return -EINVAL;
		for (const char *c = p; c < colon; c++)
			if (!tchar(*c))
				return -EINVAL;
		r->h[r->nh].name = p;
		r->h[r->nh].nlen = (size_t)(colon - p);
		colon++;
		while (colon < eol && (*colon == ' ' || *colon == '\t'))
			colon++;
		r->h[r->nh].value = colon;
		r->h[r->nh].vlen = (size_t)(eol - colon);
		while (r->h[r->nh].vlen &&
		       (colon[r->h[r->nh].vlen - 1] == ' ' || colon[r->h[r->nh].vlen - 1] == '\t'))
			r->h[r->nh].vlen--;
		for (size_t i = 0; i < r->h[r->nh].vlen; i++)
			if ((unsigned char)colon[i] < ' ' && colon[i] != '\t')
				return -EINVAL;
		r->nh++;
		p = eol + 2;
	}
	return 0;
}

/* The path part of the request target (absolute form: after the host), or
 * NULL. */
static const char *abs_path(const struct req *r, char *buf, size_t cap)
{
	const char *u = r->uri, *end = r->uri + r->ulen, *q;

	if (r->ulen > 7 && strncasecmp(u, "http://", 7) == 0) {
		u = memchr(u + 7, '/', (size_t)(end - u - 7));
		if (!u)
			return NULL;
	}
	if (*u != '/')
		return NULL;
	q = memchr(u, '?', (size_t)(end - u));
	if (q)
		end = q;
	if ((size_t)(end - u) >= cap)
		return NULL;
	memcpy(buf, u, (size_t)(end - u));
	buf[end - u] = '\0';
	return buf;
}

/* "/a//b" -> "/a/b" (Firecracker collapses repeated slashes). */
static void collapse(char *s)
{
	char *w = s;

	for (char *p = s; *p; p++)
		if (!(*p == '/' && w > s && w[-1] == '/'))
			*w++ = *p;
	*w = '\0';
}

static const struct hdr *token_header(const struct req *r)
{
	const struct hdr *h = header(r, "X-metadata-token");

	return h ? h : header(r, "X-aws-ec2-metadata-token");
}

static int do_get(struct mmds *m, const struct req *r, const char *path,
		  struct mmds_http_reply *out)
{
	bool json = value_has(header(r, "Accept"), "application/json");
	const struct hdr *tok = token_header(r);
	char *body;
	size_t blen;
	int e;

	/* Counted as Firecracker: V1 serves the GET anyway. */
	bool tok_ok = tok && mmds_token_valid(m, tok->value, tok->vlen);

	out->no_token = !tok;
	out->invalid_token = tok && !tok_ok;
	if (mmds_version(m) == MMDS_V2) {
		if (!tok)
			return respond_msg(out, r->http10, 401, NULL, "%s",
					   "No MMDS token provided. Use `X-metadata-token` or "
					   "`X-aws-ec2-metadata-token` header to specify the "
					   "session token.");
		if (!tok_ok)
			return respond_msg(out, r->http10, 401, NULL, "MMDS token not valid.");
	}
	e = mmds_lookup(m, path, json, &body, &blen);
	if (e == -ENOENT)
		return respond_msg(out, r->http10, 404, NULL, "Resource not found: %s.", path);
	if (e == -ENOTSUP)
		return respond_msg(out, r->http10, 501, NULL,
				   "Cannot retrieve value. The value has an unsupported type.");
	if (e < 0)
		return e;
	/* Content type as Firecracker: what the Accept header asked for. */
	e = respond(out, r->http10, 200, json, NULL, body, blen);
	free(body);
	return e;
}

static int do_put(struct mmds *m, const struct req *r, const char *path,
		  struct mmds_http_reply *out)
{
	const struct hdr *h = header(r, "X-metadata-token-ttl-seconds");
	const char *hname = "X-metadata-token-ttl-seconds";
	char tok[MMDS_TOKEN_LEN + 1], extra[96];
	uint64_t ttl = 0;

	if (header(r, "X-Forwarded-For"))
		return respond_msg(out, r->http10, 400, NULL,
				   "Invalid header. Reason: Unsupported header name. Key: "
				   "X-Forwarded-For");
	if (strcmp(path, "/latest/api/token") != 0)
		return respond_msg(out, r->http10, 404, NULL, "Resource not found: %s.", path);
	if (!h) {
		h = header(r, "X-aws-ec2-metadata-token-ttl-seconds");
		hname = "X-aws-ec2-metadata-token-ttl-seconds";
	}
	if (!h)
		return respond_msg(out, r->http10, 400, NULL,
				   "Token time to live value not found. Use "
				   "`X-metadata-token-ttl-seconds` or "
				   "`X-aws-ec2-metadata-token-ttl-seconds` header to specify the "
				   "token's lifetime.");
	for (size_t i = 0; i < h->vlen; i++) {
		if (h->value[i] < '0' || h->value[i] > '9' || ttl > UINT32_MAX)
			goto bad_value;
		ttl = ttl * 10 + (uint64_t)(h->value[i] - '0');
	}
	if (!h->vlen || ttl > UINT32_MAX)
		goto bad_value;
	if (mmds_token_new(m, (uint32_t)ttl, tok) < 0)
		return respond_msg(out, r->http10, 400, NULL,
				   "Invalid time to live value provided for token: %llu. Please "
				   "provide a value between %d and %d.",
				   (unsigned long long)ttl, MMDS_TOKEN_TTL_MIN, MMDS_TOKEN_TTL_MAX);
	snprintf(extra, sizeof(extra), "%s: %llu\r\n", hname, (unsigned long long)ttl);
	return respond(out, r->http10, 200, false, extra, tok, MMDS_TOKEN_LEN);
bad_value:
	return respond_msg(out, r->http10, 400, NULL, "Invalid value. Key:%s; Value:%.*s", hname,
			   (int)MIN(h->vlen, 64), h->value);
}

static int malformed(struct mmds_http_reply *out, size_t len, const char *why)
{
	int e;

	out->close = true;
	e = respond_msg(out, false, 400, NULL, "%s", why);
	return e < 0 ? e : (int)len;
}

int mmds_http_handle(struct mmds *m, const char *buf, size_t len, struct mmds_http_reply *out)
{
	struct req r = {0};
	char path[MMDS_HTTP_MAX_REQUEST];
	const struct hdr *cl, *conn;
	const char *end = NULL;
	size_t total;
	int e;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i + 3 < len && i < MMDS_HTTP_MAX_REQUEST; i++) {
		if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' &&
		    buf[i + 3] == '\n') {
			end = buf + i + 4;
			break;
		}
	}
	if (!end) {
		if (len >= MMDS_HTTP_MAX_REQUEST)
			return malformed(out, len, "Request too large.");
		return 0;
	}
	r.head_len = (size_t)(end - buf);
	if (parse_head(buf, r.head_len, &r) < 0)
		return malformed(out, len, "Invalid HTTP request.");
	if (header(&r, "Transfer-Encoding")) {
		out->close = true;
		e = respond_msg(out, r.http10, 501, NULL, "Chunked bodies are not supported.");
		return e < 0 ? e : (int)len;
	}
	if ((cl = header(&r, "Content-Length"))) {
		if (!cl->vlen || cl->vlen > 5)
			return malformed(out, len, "Invalid Content-Length.");
		for (size_t i = 0; i < cl->vlen; i++) {
			if (cl->value[i] < '0' || cl->value[i] > '9')
				return malformed(out, len, "Invalid Content-Length.");
			r.body_len = r.body_len * 10 + (size_t)(cl->value[i] - '0');
		}
	}
	total = r.head_len + r.body_len;
	if (total > MMDS_HTTP_MAX_REQUEST)
		return malformed(out, len, "Request too large.");
	if (len < total)
		return 0;
	conn = header(&r, "Connection");
	out->close = r.http10 ? !value_has(conn, "keep-alive") : value_has(conn, "close");
	if (!abs_path(&r, path, sizeof(path)))
		e = respond_msg(out, r.http10, 400, NULL, "Invalid URI.");
	else if ((collapse(path), is_method(&r, "GET")))
		e = do_get(m, &r, path, out);
	else if (is_method(&r, "PUT"))
		e = do_put(m, &r, path, out);
	else
		e = respond_msg(out, r.http10, 405, "Allow: GET, PUT\r\n",
				"Not allowed HTTP method.");
	return e < 0 ? e : (int)total;
}
