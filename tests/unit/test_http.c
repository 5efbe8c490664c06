/* HTTP/1.1 parser and response writer (src/api/http.c): complete and
 * split requests, pipelining, keep-alive rules, Expect: 100-continue, every
 * malformed-input class answered with the right status, response format. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ember/http.h"

/* Feed all of s at once; returns the result, *used the bytes consumed. */
static enum http_parse_result feed_all(struct http_parser *p, const char *s, size_t *used)
{
	return http_parser_feed(p, (const uint8_t *)s, strlen(s), used);
}

static enum http_parse_result parse_one(struct http_parser *p, const char *s)
{
	size_t used;

	http_parser_init(p);
	return feed_all(p, s, &used);
}

static void test_simple_get(void **state)
{
	struct http_parser p;
	const char *req = "GET /machine-config HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n";
	size_t used;

	(void)state;
	http_parser_init(&p);
	assert_int_equal(feed_all(&p, req, &used), HTTP_PARSE_DONE);
	assert_int_equal(used, strlen(req));
	assert_int_equal(p.req.method, HTTP_GET);
	assert_string_equal(p.req.path, "/machine-config");
	assert_null(p.req.body);
	assert_int_equal(p.req.body_len, 0);
	assert_true(p.req.keep_alive);
	assert_false(p.req.http10);
	http_parser_free(&p);
}

static void test_put_with_body_byte_by_byte(void **state)
{
	struct http_parser p;
	const char *req = "PUT /drives/rootfs HTTP/1.1\r\nContent-Type: application/json\r\n"
			  "Content-Length: 17\r\n\r\n{\"drive_id\": \"x\"}";
	size_t n = strlen(req), used;

	(void)state;
	http_parser_init(&p);
	for (size_t i = 0; i < n - 1; i++) {
		assert_int_equal(http_parser_feed(&p, (const uint8_t *)req + i, 1, &used),
				 HTTP_PARSE_MORE);
		assert_int_equal(used, 1);
		assert_true(http_parser_busy(&p));
	}
	assert_int_equal(http_parser_feed(&p, (const uint8_t *)req + n - 1, 1, &used),
			 HTTP_PARSE_DONE);
	assert_int_equal(p.req.method, HTTP_PUT);
	assert_string_equal(p.req.path, "/drives/rootfs");
	assert_int_equal(p.req.body_len, 17);
	assert_memory_equal(p.req.body, "{\"drive_id\": \"x\"}", 17);
	http_parser_free(&p);
}

static void test_pipelined_requests(void **state)
{
	struct http_parser p;
	const char *two = "PATCH /vm HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"
			  "GET /version HTTP/1.1\r\n\r\n";
	size_t used, first = strlen("PATCH /vm HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}");

	(void)state;
	http_parser_init(&p);
	assert_int_equal(feed_all(&p, two, &used), HTTP_PARSE_DONE);
	assert_int_equal(used, first); /* never eats the next request */
	assert_int_equal(p.req.method, HTTP_PATCH);
	assert_memory_equal(p.req.body, "{}", 2);
	/* feeding again before next() changes nothing */
	assert_int_equal(feed_all(&p, two + used, &used), HTTP_PARSE_DONE);
	assert_int_equal(used, 0);
	http_parser_next(&p);
	assert_false(http_parser_busy(&p));
	assert_int_equal(feed_all(&p, two + first, &used), HTTP_PARSE_DONE);
	assert_int_equal(p.req.method, HTTP_GET);
	assert_string_equal(p.req.path, "/version");
	http_parser_free(&p);
}

static void test_keep_alive_rules(void **state)
{
	struct http_parser p;

	(void)state;
	assert_int_equal(parse_one(&p, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n"),
			 HTTP_PARSE_DONE);
	assert_false(p.req.keep_alive);
	http_parser_free(&p);
	assert_int_equal(parse_one(&p, "GET / HTTP/1.0\r\n\r\n"), HTTP_PARSE_DONE);
	assert_false(p.req.keep_alive);
	assert_true(p.req.http10);
	http_parser_free(&p);
	assert_int_equal(parse_one(&p, "GET / HTTP/1.0\r\nconnection: Keep-Alive\r\n\r\n"),
			 HTTP_PARSE_DONE);
	assert_true(p.req.keep_alive);
	http_parser_free(&p);
}

static void test_uri_forms(void **state)
{
	struct http_parser p;

	(void)state;
	assert_int_equal(parse_one(&p, "GET http://localhost/vm/config HTTP/1.1\r\n\r\n"),
			 HTTP_PARSE_DONE);
	assert_string_equal(p.req.path, "/vm/config");
	http_parser_free(&p);
	assert_int_equal(parse_one(&p, "GET /machine-config?x=1#frag HTTP/1.1\r\n\r\n"),
			 HTTP_PARSE_DONE);
	assert_string_equal(p.req.path, "/machine-config");
	http_parser_free(&p);
}

static void test_expect_continue(void **state)
{
	struct http_parser p;
	const char *head =
	    "PUT /logger HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n";
	size_t used;

	(void)state;
	http_parser_init(&p);
	assert_int_equal(feed_all(&p, head, &used), HTTP_PARSE_MORE);
	assert_true(http_parser_wants_continue(&p));
	http_parser_continue_sent(&p);
	assert_false(http_parser_wants_continue(&p));
	assert_int_equal(feed_all(&p, "{}  ", &used), HTTP_PARSE_DONE);
	assert_int_equal(p.req.body_len, 4);
	http_parser_free(&p);
}

static void test_zero_content_length_is_no_body(void **state)
{
	struct http_parser p;

	(void)state;
	assert_int_equal(parse_one(&p, "PUT /actions HTTP/1.1\r\nContent-Length: 0\r\n\r\n"),
			 HTTP_PARSE_DONE);
	assert_null(p.req.body);
	http_parser_free(&p);
}

struct bad_case {
	const char *name;
	const char *input;
	int status;
};

static const struct bad_case bad_cases[] = {
    {"unsupported method", "POST /actions HTTP/1.1\r\n\r\n", 400},
    {"lower-case method", "get / HTTP/1.1\r\n\r\n", 400},
    {"bad method chars", "G(T / HTTP/1.1\r\n\r\n", 400},
    {"no target", "GET HTTP/1.1\r\n\r\n", 400},
    {"double space", "GET  / HTTP/1.1\r\n\r\n", 400},
    {"bad version", "GET / HTTP/2.0\r\n\r\n", 400},
    {"no version", "GET /\r\n\r\n", 400},
    {"garbage version", "GET / HTTQ/1.1\r\n\r\n", 400},
    {"relative uri", "GET machine-config HTTP/1.1\r\n\r\n", 400},
    {"absolute uri without path", "GET http://localhost HTTP/1.1\r\n\r\n", 400},
    {"control char in uri", "GET /a\x01 HTTP/1.1\r\n\r\n", 400},
    {"non-ascii in uri", "GET /\xc3\xa9 HTTP/1.1\r\n\r\n", 400},
    {"bare LF", "GET / HTTP/1.1\n\n", 400},
    {"bare CR", "GET / HTTP/1.1\rX\r\n\r\n", 400},
    {"NUL in request line", "GET /\0 HTTP/1.1\r\n\r\n", 400},
    {"empty request line", "\r\n\r\n", 400},
    {"header without colon", "GET / HTTP/1.1\r\nBogus\r\n\r\n", 400},
    {"header empty name", "GET / HTTP/1.1\r\n: x\r\n\r\n", 400},
    {"space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400},
    {"obs-fold", "GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", 400},
    {"control char in value", "GET / HTTP/1.1\r\nA: b\x07\r\n\r\n", 400},
    {"content-length letters", "PUT /x HTTP/1.1\r\nContent-Length: 1a\r\n\r\n", 400},
    {"content-length negative", "PUT /x HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400},
    {"content-length empty", "PUT /x HTTP/1.1\r\nContent-Length:\r\n\r\n", 400},
    {"content-length huge", "PUT /x HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", 400},
    {"content-length conflict", "PUT /x HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n",
     400},
    {"body over limit", "PUT /x HTTP/1.1\r\nContent-Length: 51201\r\n\r\n", 400},
    {"chunked", "PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
    {"transfer-encoding identity", "PUT /x HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n", 400},
    {"unknown expectation", "PUT /x HTTP/1.1\r\nExpect: magic\r\n\r\n", 417},
};

static void test_bad_requests(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *b = &bad_cases[i];
		struct http_parser p;
		size_t used, len = strlen(b->input);
		enum http_parse_result r;

		if (strstr(b->name, "NUL"))
			len = 19; /* strlen stops at the NUL */
		http_parser_init(&p);
		r = http_parser_feed(&p, (const uint8_t *)b->input, len, &used);
		if (r != HTTP_PARSE_ERROR || p.err_status != b->status || !p.err_msg[0]) {
			print_error("case '%s': result %d status %d msg '%s'\n", b->name, r,
				    p.err_status, p.err_msg);
			fail();
		}
		assert_true(used <= len);
		http_parser_free(&p);
	}
}

static void test_body_limit_message_and_custom_limit(void **state)
{
	struct http_parser p;
	size_t used;

	(void)state;
	http_parser_init(&p);
	assert_int_equal(feed_all(&p, "PUT /x HTTP/1.1\r\nContent-Length: 51201\r\n\r\n", &used),
			 HTTP_PARSE_ERROR);
	assert_string_equal(p.err_msg, "Request payload with size 51201 is larger than the limit "
				       "of 51200 allowed by server.");
	http_parser_free(&p);

	http_parser_init(&p);
	http_parser_set_max_body(&p, 10);
	assert_int_equal(feed_all(&p, "PUT /x HTTP/1.1\r\nContent-Length: 11\r\n\r\n", &used),
			 HTTP_PARSE_ERROR);
	http_parser_free(&p);

	/* exactly at the limit is fine */
	http_parser_init(&p);
	{
		char *req = malloc(HTTP_MAX_BODY + 100);
		int n = snprintf(req, 100, "PUT /x HTTP/1.1\r\nContent-Length: %d\r\n\r\n",
				 HTTP_MAX_BODY);
		memset(req + n, 'a', HTTP_MAX_BODY);
		assert_int_equal(
		    http_parser_feed(&p, (uint8_t *)req, (size_t)n + HTTP_MAX_BODY, &used),
		    HTTP_PARSE_DONE);
		assert_int_equal(p.req.body_len, HTTP_MAX_BODY);
		free(req);
	}
	http_parser_free(&p);
}

static void test_header_limit(void **state)
{
	struct http_parser p;
	size_t used, n = 0;
	char *big = malloc(HTTP_MAX_HEAD + 200);

	(void)state;
	n += (size_t)sprintf(big, "GET / HTTP/1.1\r\n");
	while (n < HTTP_MAX_HEAD + 100)
		n += (size_t)sprintf(big + n, "X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
	http_parser_init(&p);
	assert_int_equal(http_parser_feed(&p, (uint8_t *)big, n, &used), HTTP_PARSE_ERROR);
	assert_int_equal(p.err_status, 400);
	assert_true(used <= HTTP_MAX_HEAD);
	http_parser_free(&p);

	/* a head just under the limit parses */
	n = (size_t)sprintf(big, "GET / HTTP/1.1\r\nX-Pad: ");
	memset(big + n, 'b', HTTP_MAX_HEAD - n - 4);
	n = HTTP_MAX_HEAD - 4;
	memcpy(big + n, "\r\n\r\n", 4);
	http_parser_init(&p);
	assert_int_equal(http_parser_feed(&p, (uint8_t *)big, HTTP_MAX_HEAD, &used),
			 HTTP_PARSE_DONE);
	http_parser_free(&p);
	free(big);
}

/* The buffer grows for a large body: the path must still point into it. */
static void test_path_survives_body_realloc(void **state)
{
	struct http_parser p;
	char head[128];
	size_t used,
	    n = (size_t)snprintf(head, sizeof(head),
				 "PUT /cpu-config HTTP/1.1\r\nContent-Length: 40000\r\n\r\n");
	char *body = malloc(40000);

	(void)state;
	memset(body, '[', 40000);
	http_parser_init(&p);
	assert_int_equal(http_parser_feed(&p, (uint8_t *)head, n, &used), HTTP_PARSE_MORE);
	assert_int_equal(http_parser_feed(&p, (uint8_t *)body, 40000, &used), HTTP_PARSE_DONE);
	assert_string_equal(p.req.path, "/cpu-config");
	assert_int_equal(p.req.body_len, 40000);
	assert_true(p.req.body >= p.buf && p.req.body + 40000 <= p.buf + p.cap);
	http_parser_free(&p);
	free(body);
}

static void test_format_response(void **state)
{
	char buf[512];
	size_t n;
	const char *body = "{\"fault_message\":\"x\"}";

	(void)state;
	n = http_format_response(buf, sizeof(buf), 204, NULL, 0, true);
	assert_int_equal(n, strlen(buf));
	assert_string_equal(buf, "HTTP/1.1 204 No Content\r\nServer: ember API\r\n"
				 "Connection: keep-alive\r\n\r\n");
	n = http_format_response(buf, sizeof(buf), 400, body, strlen(body), false);
	assert_int_equal(n, strlen(buf));
	assert_non_null(strstr(buf, "HTTP/1.1 400 Bad Request\r\n"));
	assert_non_null(strstr(buf, "Connection: close\r\n"));
	assert_non_null(strstr(buf, "Content-Type: application/json\r\n"));
	assert_non_null(strstr(buf, "Content-Length: 21\r\n\r\n{\"fault_message\":\"x\"}"));
	/* snprintf-like: the needed length even when the buffer is short */
	assert_int_equal(http_format_response(buf, 10, 400, body, strlen(body), false), n);
	assert_int_equal(strlen(buf), 9);
	assert_int_equal(http_format_response(NULL, 0, 400, body, strlen(body), false), n);
	/* a 200 without body still says Content-Length: 0 */
	http_format_response(buf, sizeof(buf), 200, NULL, 0, true);
	assert_non_null(strstr(buf, "Content-Length: 0\r\n"));
	assert_string_equal(http_status_reason(503), "Service Unavailable");
	assert_string_equal(http_method_name(HTTP_PATCH), "PATCH");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_simple_get),
	    cmocka_unit_test(test_put_with_body_byte_by_byte),
	    cmocka_unit_test(test_pipelined_requests),
	    cmocka_unit_test(test_keep_alive_rules),
	    cmocka_unit_test(test_uri_forms),
	    cmocka_unit_test(test_expect_continue),
	    cmocka_unit_test(test_zero_content_length_is_no_body),
	    cmocka_unit_test(test_bad_requests),
	    cmocka_unit_test(test_body_limit_message_and_custom_limit),
	    cmocka_unit_test(test_header_limit),
	    cmocka_unit_test(test_path_survives_body_realloc),
	    cmocka_unit_test(test_format_response),
	};

	return cmocka_run_group_tests_name("http", tests, NULL, NULL);
}
