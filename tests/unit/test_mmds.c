/* MMDS data store (PUT, RFC 7396 PATCH, the size limit, lookups in JSON and
 * IMDS form, tokens) and the guest-side HTTP requests with every status
 * code Firecracker gives. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ember/mmds.h"
#include "ember/mmds_http.h"

#define DOC                                                                                        \
	"{\"latest\":{\"meta-data\":{\"ami-id\":\"ami-12345678\",\"reservation-id\":\"r-1\","      \
	"\"network\":{\"macs\":{\"02:29:96:8f:6a:2d\":{\"device-number\":\"13\"}}},"               \
	"\"n\":43,\"list\":[\"a\",\"b\"],\"a/b\":\"slash\"}}}"

static struct mmds *store(size_t limit, const char *doc)
{
	struct mmds *m;

	assert_int_equal(mmds_create(limit, &m), 0);
	if (doc)
		assert_int_equal(mmds_put(m, doc, strlen(doc)), 0);
	return m;
}

static void expect_get(struct mmds *m, const char *want)
{
	char *s = mmds_get_json(m);

	assert_non_null(s);
	assert_string_equal(s, want);
	free(s);
}

static void test_put_get(void **state)
{
	struct mmds *m = store(MMDS_DEFAULT_SIZE_LIMIT, NULL);

	expect_get(m, "{}"); /* never PUT */
	assert_int_equal(mmds_put(m, "{\"a\": [1, 2, {\"b\": null}]}", 26), 0);
	expect_get(m, "{\"a\":[1,2,{\"b\":null}]}");
	assert_int_equal(mmds_put(m, "\"just a string\"", 15), 0); /* any JSON value */
	expect_get(m, "\"just a string\"");
	assert_int_equal(mmds_put(m, "{\"a\":1} x", 9), -EINVAL);
	assert_int_equal(mmds_put(m, "{\"a\":", 5), -EINVAL);
	assert_int_equal(mmds_put(m, "", 0), -EINVAL);
	assert_int_equal(mmds_put(m, "{\"a\":\0}", 7), -EINVAL);
	expect_get(m, "\"just a string\""); /* unchanged by the failures */
	mmds_destroy(m);
}

/* The examples of RFC 7396, appendix A. */
static void test_merge_patch(void **state)
{
	static const char *const cases[][3] = {
	    {"{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
	    {"{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}"},
	    {"{\"a\":\"b\"}", "{\"a\":null}", "{}"},
	    {"{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}"},
	    {"{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
	    {"{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}"},
	    {"{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}", "{\"a\":{\"b\":\"d\"}}"},
	    {"{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}"},
	    {"[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]"},
	    {"{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]"},
	    {"{\"a\":\"foo\"}", "null", "null"},
	    {"{\"a\":\"foo\"}", "\"bar\"", "\"bar\""},
	    {"{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}"},
	    {"[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}"},
	    {"{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mmds *m = store(MMDS_DEFAULT_SIZE_LIMIT, cases[i][0]);

		assert_int_equal(mmds_patch(m, cases[i][1], strlen(cases[i][1])), 0);
		expect_get(m, cases[i][2]);
		mmds_destroy(m);
	}
}

static void test_patch_uninitialised(void **state)
{
	struct mmds *m = store(MMDS_DEFAULT_SIZE_LIMIT, NULL);

	assert_int_equal(mmds_patch(m, "{\"a\":1}", 7), -ENODATA);
	expect_get(m, "{}");
	mmds_destroy(m);
}

static void test_size_limit(void **state)
{
	struct mmds *m = store(21, NULL);

	assert_int_equal(mmds_put(m, "{\"a\":\"0123456789abc\"}", 21), 0); /* 21 bytes */
	assert_int_equal(mmds_put(m, "{\"a\":\"0123456789abcd\"}", 22), -EFBIG);
	/* whitespace does not count: the compact form does */
	assert_int_equal(mmds_put(m, "{ \"a\" :   \"0123456789abc\" }", 27), 0);
	assert_int_equal(mmds_patch(m, "{\"b\":1}", 7), -EFBIG);
	expect_get(m, "{\"a\":\"0123456789abc\"}");
	assert_int_equal(mmds_patch(m, "{\"a\":null,\"b\":1}", 16), 0);
	expect_get(m, "{\"b\":1}");
	mmds_destroy(m);
}

static void expect_lookup(struct mmds *m, const char *path, bool json, int err, const char *want)
{
	char *s;
	size_t n;

	assert_int_equal(mmds_lookup(m, path, json, &s, &n), err);
	if (!err) {
		assert_int_equal(n, strlen(want));
		assert_string_equal(s, want);
	}
	free(s);
}

static void test_lookup(void **state)
{
	struct mmds *m = store(MMDS_DEFAULT_SIZE_LIMIT, DOC);

	expect_lookup(m, "/latest", false, 0, "meta-data/");
	expect_lookup(m, "/latest/", false, 0, "meta-data/");
	expect_lookup(m, "/latest/meta-data", false, 0,
		      "ami-id\nreservation-id\nnetwork/\nn\nlist\na/b");
	expect_lookup(m, "/latest/meta-data/ami-id", false, 0, "ami-12345678");
	expect_lookup(m, "/latest/meta-data/ami-id", true, 0, "\"ami-12345678\"");
	expect_lookup(m, "/latest//meta-data///ami-id", false, 0, "ami-12345678");
	expect_lookup(m, "/latest/meta-data/network/macs/02:29:96:8f:6a:2d/device-number", false, 0,
		      "13");
	expect_lookup(m, "/latest/meta-data/list/1", false, 0, "b");
	expect_lookup(m, "/latest/meta-data/list/01", false, -ENOENT, NULL);
	expect_lookup(m, "/latest/meta-data/list/2", false, -ENOENT, NULL);
	expect_lookup(m, "/latest/meta-data/a~1b", false, 0, "slash");
	expect_lookup(m, "/latest/meta-data/a~2b", false, -ENOENT, NULL);
	expect_lookup(m, "/latest/meta-data/n", false, -ENOTSUP, NULL);
	expect_lookup(m, "/latest/meta-data/n", true, 0, "43");
	expect_lookup(m, "/latest/meta-data/list", false, -ENOTSUP, NULL);
	expect_lookup(m, "/latest/meta-data/nope", false, -ENOENT, NULL);
	expect_lookup(m, "/latest/meta-data/ami-id/deeper", false, -ENOENT, NULL);
	expect_lookup(m, "/", false, 0, "latest/");
	mmds_set_mode(m, MMDS_V1, true); /* imds_compat: IMDS whatever was asked */
	expect_lookup(m, "/latest/meta-data/ami-id", true, 0, "ami-12345678");
	mmds_destroy(m);

	m = store(MMDS_DEFAULT_SIZE_LIMIT, NULL); /* nothing PUT: the root is null */
	expect_lookup(m, "/", false, -ENOTSUP, NULL);
	expect_lookup(m, "/", true, 0, "null");
	expect_lookup(m, "/latest", false, -ENOENT, NULL);
	mmds_destroy(m);
}

static uint64_t fake_now;
static uint64_t fake_clock(void)
{
	return fake_now;
}

static void test_tokens(void **state)
{
	struct mmds *m = store(MMDS_DEFAULT_SIZE_LIMIT, NULL), *other = store(100, NULL);
	char t[MMDS_TOKEN_LEN + 1], bad[MMDS_TOKEN_LEN + 1];

	fake_now = 1000000;
	mmds_set_clock(m, fake_clock);
	mmds_set_clock(other, fake_clock);
	assert_int_equal(mmds_token_new(m, 0, t), -EINVAL);
	assert_int_equal(mmds_token_new(m, 21601, t), -EINVAL);
	assert_int_equal(mmds_token_new(m, 10, t), 0);
	assert_int_equal(strlen(t), MMDS_TOKEN_LEN);
	assert_true(mmds_token_valid(m, t, MMDS_TOKEN_LEN));
	assert_false(mmds_token_valid(other, t, MMDS_TOKEN_LEN)); /* another key */
	assert_false(mmds_token_valid(m, t, MMDS_TOKEN_LEN - 1));
	for (int i = 0; i < MMDS_TOKEN_LEN; i++) { /* every character matters */
		memcpy(bad, t, sizeof(bad));
		bad[i] = bad[i] == '0' ? '1' : '0';
		assert_false(mmds_token_valid(m, bad, MMDS_TOKEN_LEN));
	}
	memset(bad, 'Z', MMDS_TOKEN_LEN);
	assert_false(mmds_token_valid(m, bad, MMDS_TOKEN_LEN));
	fake_now += 9999;
	assert_true(mmds_token_valid(m, t, MMDS_TOKEN_LEN));
	fake_now += 1; /* expired */
	assert_false(mmds_token_valid(m, t, MMDS_TOKEN_LEN));
	assert_int_equal(mmds_token_new(m, 21600, t), 0);
	assert_true(mmds_token_valid(m, t, MMDS_TOKEN_LEN));
	mmds_destroy(m);
	mmds_destroy(other);
}

static void test_ipv4(void **state)
{
	uint32_t ip;

	assert_int_equal(mmds_parse_ipv4("169.254.169.254", &ip), 0);
	assert_int_equal(ip, MMDS_DEFAULT_IPV4);
	assert_true(mmds_ipv4_valid(ip));
	assert_int_equal(mmds_parse_ipv4("169.254.1.0", &ip), 0);
	assert_true(mmds_ipv4_valid(ip));
	assert_int_equal(mmds_parse_ipv4("169.254.0.1", &ip), 0);
	assert_false(mmds_ipv4_valid(ip));
	assert_int_equal(mmds_parse_ipv4("169.254.255.1", &ip), 0);
	assert_false(mmds_ipv4_valid(ip));
	assert_int_equal(mmds_parse_ipv4("10.0.0.1", &ip), 0);
	assert_false(mmds_ipv4_valid(ip));
	static const char *const bad[] = {"",	      "1.2.3",	"1.2.3.4.5", "256.1.1.1",
					  "01.1.1.1", "1..1.1", "1.2.3.4 ",  "a.b.c.d",
					  "1.2.3.-4", NULL};
	for (int i = 0; bad[i]; i++)
		assert_int_equal(mmds_parse_ipv4(bad[i], &ip), -EINVAL);
}

/* ---- HTTP ---- */

struct resp {
	int status;
	char head[1024];
	char body[8192];
	bool close;
	bool no_token, invalid_token; /* what the metrics count */
	int consumed;
};

static char token[MMDS_TOKEN_LEN + 1];
static void get_token(struct mmds *m);

static struct resp http(struct mmds *m, const char *req)
{
	struct mmds_http_reply r;
	struct resp out = {0};
	const char *sep;
	int n = mmds_http_handle(m, req, strlen(req), &r);

	out.consumed = n;
	if (n <= 0)
		return out;
	assert_non_null(r.data);
	assert_int_equal(sscanf(r.data, "HTTP/1.%*c %d", &out.status), 1);
	sep = strstr(r.data, "\r\n\r\n");
	assert_non_null(sep);
	snprintf(out.head, sizeof(out.head), "%.*s", (int)(sep - r.data), r.data);
	snprintf(out.body, sizeof(out.body), "%.*s", (int)(r.len - (size_t)(sep + 4 - r.data)),
		 sep + 4);
	out.close = r.close;
	out.no_token = r.no_token;
	out.invalid_token = r.invalid_token;
	free(r.data);
	return out;
}

static void get_token(struct mmds *m)
{
	struct resp r = http(m, "PUT /latest/api/token HTTP/1.1\r\n"
				"X-metadata-token-ttl-seconds: 60\r\n\r\n");

	assert_int_equal(r.status, 200);
	assert_int_equal(strlen(r.body), MMDS_TOKEN_LEN);
	assert_non_null(strstr(r.head, "X-metadata-token-ttl-seconds: 60"));
	snprintf(token, sizeof(token), "%s", r.body);
}

static void test_http_v1(void **state)
{
	struct mmds *m = store(MMDS_DEFAULT_SIZE_LIMIT, DOC);
	struct resp r;

	r = http(m, "GET /latest/meta-data/ami-id HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n");
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "ami-12345678");
	assert_non_null(strstr(r.head, "Content-Type: text/plain"));
	assert_false(r.close);
	assert_true(r.no_token && !r.invalid_token);
	/* V1: a bad token still gets the data (counted as invalid) */
	r = http(m, "GET /latest HTTP/1.1\r\nX-metadata-token: nonsense\r\n\r\n");
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "meta-data/");
	assert_true(!r.no_token && r.invalid_token);
	/* and a session token works as in V2 */
	{
		char req[256];

		get_token(m);
		snprintf(req, sizeof(req),
			 "GET /latest/meta-data/ami-id HTTP/1.1\r\nX-metadata-token: %s\r\n\r\n",
			 token);
		r = http(m, req);
		assert_int_equal(r.status, 200);
		assert_string_equal(r.body, "ami-12345678");
		assert_true(!r.no_token && !r.invalid_token);
	}
	r = http(m, "GET /latest/meta-data/ami-id HTTP/1.1\r\nAccept: application/json\r\n\r\n");
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "\"ami-12345678\"");
	assert_non_null(strstr(r.head, "Content-Type: application/json"));
	r = http(m, "GET http://169.254.169.254/latest/meta-data/ami-id?x=1 HTTP/1.1\r\n\r\n");
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "ami-12345678");
	r = http(m, "GET /latest/nothing HTTP/1.1\r\n\r\n");
	assert_int_equal(r.status, 404);
	assert_string_equal(r.body, "Resource not found: /latest/nothing.");
	r = http(m, "GET /latest/meta-data/n HTTP/1.1\r\n\r\n");
	assert_int_equal(r.status, 501);
	assert_string_equal(r.body, "Cannot retrieve value. The value has an unsupported type.");
	r = http(m, "GET /latest HTTP/1.0\r\n\r\n");
	assert_int_equal(r.status, 200);
	assert_true(r.close);
	assert_int_equal(strncmp(r.head, "HTTP/1.0 200", 12), 0);
	r = http(m, "GET /latest HTTP/1.1\r\nConnection: close\r\n\r\n");
	assert_true(r.close);
	assert_non_null(strstr(r.head, "Connection: close"));
	mmds_destroy(m);
}

static void test_http_v2(void **state)
{
	struct mmds *m = store(MMDS_DEFAULT_SIZE_LIMIT, DOC);
	char req[512];
	struct resp r;

	mmds_set_mode(m, MMDS_V2, false);
	r = http(m, "GET /latest HTTP/1.1\r\n\r\n");
	assert_int_equal(r.status, 401);
	assert_non_null(strstr(r.body, "No MMDS token provided."));
	r = http(m, "GET /latest HTTP/1.1\r\nX-metadata-token: 1234\r\n\r\n");
	assert_int_equal(r.status, 401);
	assert_string_equal(r.body, "MMDS token not valid.");
	get_token(m);
	snprintf(req, sizeof(req),
		 "GET /latest/meta-data/ HTTP/1.1\r\nX-metadata-token: %s\r\n\r\n", token);
	r = http(m, req);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "ami-id\nreservation-id\nnetwork/\nn\nlist\na/b");
	/* the EC2 header names, any case */
	snprintf(req, sizeof(req),
		 "GET /latest/meta-data/ami-id HTTP/1.1\r\nx-AWS-ec2-metadata-TOKEN:  %s \r\n\r\n",
		 token);
	r = http(m, req);
	assert_int_equal(r.status, 200);
	r = http(m, "PUT /latest/api/token HTTP/1.1\r\n"
		    "X-aws-ec2-metadata-token-ttl-seconds: 5\r\n\r\n");
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.head, "X-aws-ec2-metadata-token-ttl-seconds: 5"));
	mmds_destroy(m);
}

static void test_http_token_errors(void **state)
{
	struct mmds *m = store(MMDS_DEFAULT_SIZE_LIMIT, DOC);
	struct resp r;

	mmds_set_mode(m, MMDS_V2, false);
	r = http(m, "PUT /latest/api/token HTTP/1.1\r\n\r\n");
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "Token time to live value not found."));
	r = http(m, "PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 0\r\n\r\n");
	assert_int_equal(r.status, 400);
	assert_string_equal(r.body, "Invalid time to live value provided for token: 0. Please "
				    "provide a value between 1 and 21600.");
	r = http(m,
		 "PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 21601\r\n\r\n");
	assert_int_equal(r.status, 400);
	r = http(m, "PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: -1\r\n\r\n");
	assert_int_equal(r.status, 400);
	assert_string_equal(r.body, "Invalid value. Key:X-metadata-token-ttl-seconds; Value:-1");
	r = http(m, "PUT /latest/api/token HTTP/1.1\r\n"
		    "X-metadata-token-ttl-seconds: 99999999999999999999\r\n\r\n");
	assert_int_equal(r.status, 400);
	r = http(m, "PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 60\r\n"
		    "X-Forwarded-For: 1.2.3.4\r\n\r\n");
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "Unsupported header name. Key: X-Forwarded-For"));
	r = http(m, "PUT /latest/meta-data HTTP/1.1\r\nX-metadata-token-ttl-seconds: 60\r\n\r\n");
	assert_int_equal(r.status, 404);
	/* the TTL's bounds, 1 and 21600, are taken; a token lives exactly that long */
	{
		char req[256];

		fake_now = 5000000;
		mmds_set_clock(m, fake_clock);
		r = http(m, "PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: "
			    "21600\r\n\r\n");
		assert_int_equal(r.status, 200);
		assert_non_null(strstr(r.head, "X-metadata-token-ttl-seconds: 21600"));
		r = http(m, "PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: "
			    "1\r\n\r\n");
		assert_int_equal(r.status, 200);
		snprintf(req, sizeof(req),
			 "GET /latest HTTP/1.1\r\nX-metadata-token: %.*s\r\n\r\n", MMDS_TOKEN_LEN,
			 r.body);
		fake_now += 999;
		r = http(m, req);
		assert_int_equal(r.status, 200);
		fake_now += 1; /* expired */
		r = http(m, req);
		assert_int_equal(r.status, 401);
		assert_string_equal(r.body, "MMDS token not valid.");
		assert_true(r.invalid_token);
		mmds_set_clock(m, NULL);
	}
	/* repeated slashes collapse, as Firecracker */
	r = http(m, "PUT //latest//api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 9\r\n\r\n");
	assert_int_equal(r.status, 200);
	mmds_destroy(m);
}

static void test_http_methods_and_junk(void **state)
{
	struct mmds *m = store(MMDS_DEFAULT_SIZE_LIMIT, DOC);
	char big[MMDS_HTTP_MAX_REQUEST + 64];
	struct resp r;

	r = http(m, "DELETE /latest HTTP/1.1\r\n\r\n");
	assert_int_equal(r.status, 405);
	assert_non_null(strstr(r.head, "Allow: GET, PUT"));
	assert_string_equal(r.body, "Not allowed HTTP method.");
	r = http(m, "POST /latest HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
	assert_int_equal(r.status, 405);
	assert_int_equal(r.consumed,
			 (int)strlen("POST /latest HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"));
	/* incomplete: wait for more */
	assert_int_equal(http(m, "GET /latest HTTP/1.1\r\nHost: x\r\n").consumed, 0);
	assert_int_equal(
	    http(m, "PUT /latest/api/token HTTP/1.1\r\nContent-Length: 5\r\n\r\nab").consumed, 0);
	/* malformed: 400 and close */
	static const char *const junk[] = {
	    "GET /latest\r\n\r\n",
	    "GET /latest HTTP/2.0\r\n\r\n",
	    "GET  /latest HTTP/1.1\r\n\r\n",
	    "G(T /latest HTTP/1.1\r\n\r\n",
	    "GET /lat\x01st HTTP/1.1\r\n\r\n",
	    "GET /latest HTTP/1.1\r\nNoColon\r\n\r\n",
	    "GET /latest HTTP/1.1\r\n: novalue\r\n\r\n",
	    "GET /latest HTTP/1.1\r\nBad Name: x\r\n\r\n",
	    "GET /latest HTTP/1.1\r\nX: a\x01b\r\n\r\n",
	    "GET /latest HTTP/1.1\nHost: x\r\n\r\n",
	    "GET /latest HTTP/1.1\r\nContent-Length: x\r\n\r\n",
	    "GET /latest HTTP/1.1\r\nContent-Length: 999999\r\n\r\n",
	    "GET /latest HTTP/1.1\r\nContent-Length: 4096\r\n\r\n",
	    "\r\n\r\n",
	    NULL,
	};
	for (int i = 0; junk[i]; i++) {
		r = http(m, junk[i]);
		assert_int_equal(r.status, 400);
		assert_true(r.close);
		assert_int_equal(r.consumed, (int)strlen(junk[i]));
	}
	r = http(m, "GET latest HTTP/1.1\r\n\r\n"); /* not an absolute path */
	assert_int_equal(r.status, 400);
	assert_string_equal(r.body, "Invalid URI.");
	r = http(m, "GET /latest HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
	assert_int_equal(r.status, 501);
	assert_true(r.close);
	/* an oversized head, whole or still coming */
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET /latest HTTP/1.1\r\nX-Long: ", 30);
	big[sizeof(big) - 1] = '\0';
	r = http(m, big);
	assert_int_equal(r.status, 400);
	assert_true(r.close);
	assert_string_equal(r.body, "Request too large.");
	/* 33 headers: more than the parser keeps */
	{
		char many[2048] = "GET /latest HTTP/1.1\r\n";

		for (int i = 0; i < 33; i++)
			snprintf(many + strlen(many), sizeof(many) - strlen(many), "H%d: v\r\n", i);
		strcat(many, "\r\n");
		r = http(m, many);
		assert_int_equal(r.status, 400);
	}
	mmds_destroy(m);
}

static void test_http_pipelined(void **state)
{
	struct mmds *m = store(MMDS_DEFAULT_SIZE_LIMIT, DOC);
	const char *two =
	    "GET /latest HTTP/1.1\r\n\r\nGET /latest/meta-data/ami-id HTTP/1.1\r\n\r\n";
	struct mmds_http_reply rep;
	int n = mmds_http_handle(m, two, strlen(two), &rep);

	assert_int_equal(n, 24);
	assert_non_null(strstr(rep.data, "meta-data/"));
	free(rep.data);
	assert_int_equal(mmds_http_handle(m, two + n, strlen(two) - (size_t)n, &rep),
			 (int)strlen(two) - n);
	assert_non_null(strstr(rep.data, "ami-12345678"));
	free(rep.data);
	mmds_destroy(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_put_get),
	    cmocka_unit_test(test_merge_patch),
	    cmocka_unit_test(test_patch_uninitialised),
	    cmocka_unit_test(test_size_limit),
	    cmocka_unit_test(test_lookup),
	    cmocka_unit_test(test_tokens),
	    cmocka_unit_test(test_ipv4),
	    cmocka_unit_test(test_http_v1),
	    cmocka_unit_test(test_http_v2),
	    cmocka_unit_test(test_http_token_errors),
	    cmocka_unit_test(test_http_methods_and_junk),
	    cmocka_unit_test(test_http_pipelined),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
