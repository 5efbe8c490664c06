/* SHA-256 for measured boot (measure.c): known digests, and a stream fed
 * in pieces gives the digest of the whole. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "ember/measure.h"

static void test_known(void **state)
{
	char hex[MEASURE_HEX_LEN];

	(void)state;
	assert_int_equal(measure_sha256("", 0, hex), 0);
	assert_string_equal(hex,
			    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_int_equal(measure_sha256("abc", 3, hex), 0);
	assert_string_equal(hex,
			    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_stream(void **state)
{
	static uint8_t buf[100000];
	char whole[MEASURE_HEX_LEN], parts[MEASURE_HEX_LEN];
	struct measure_stream *s;

	(void)state;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 31 + (i >> 8));
	assert_int_equal(measure_sha256(buf, sizeof(buf), whole), 0);
	assert_int_equal(measure_begin(&s), 0);
	assert_int_equal(measure_add(s, buf, 17), 0);
	assert_int_equal(measure_add(s, buf + 17, 0), 0);
	assert_int_equal(measure_add(s, buf + 17, 65536), 0);
	assert_int_equal(measure_add(s, buf + 17 + 65536, sizeof(buf) - 17 - 65536), 0);
	assert_int_equal(measure_end(s, parts), 0);
	assert_string_equal(whole, parts);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_known),
	    cmocka_unit_test(test_stream),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
