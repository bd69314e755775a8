/* util: buffers, JSON escaping, strict integer parsing. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "redflag/util.h"

static void test_strbuf(void **state)
{
	struct strbuf b = STRBUF_INIT;
	size_t len;
	char *s;

	(void)state;
	for (int i = 0; i < 1000; i++)
		strbuf_appendf(&b, "%d,", i);
	assert_int_equal(b.len, strlen(b.data));
	assert_memory_equal(b.data, "0,1,2,", 6);
	strbuf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	strbuf_append(&b, "a\0b", 3);
	assert_int_equal(b.len, 3);
	s = strbuf_detach(&b, &len);
	assert_int_equal(len, 3);
	assert_memory_equal(s, "a\0b", 4);
	assert_null(b.data);
	free(s);
	s = strbuf_detach(&b, NULL); /* empty buffer still yields a string */
	assert_string_equal(s, "");
	free(s);
}

static void test_json(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"plain", "\"plain\""},
	    {"a\"b\\c", "\"a\\\"b\\\\c\""},
	    {"line\nnext\ttab\r", "\"line\\nnext\\ttab\\r\""},
	    {"\x01\x1f", "\"\\u0001\\u001f\""},
	    {"Grüße æøå", "\"Grüße æøå\""},
	    {"", "\"\""},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct strbuf b = STRBUF_INIT;

		strbuf_append_json(&b, cases[i].in);
		assert_string_equal(b.data, cases[i].out);
		strbuf_release(&b);
	}
}

static void test_parse_int64(void **state)
{
	static const struct {
		const char *in;
		int64_t min, max;
		int ret;
		int64_t val;
	} cases[] = {
	    {"42", 0, 100, 0, 42},         {"-5", -10, 10, 0, -5},
	    {"0644", 0, 10000, 0, 644}, /* decimal, never octal */
	    {"101", 0, 100, -ERANGE, 0},   {"99999999999999999999", 0, INT64_MAX, -ERANGE, 0},
	    {"12abc", 0, 100, -EINVAL, 0}, {"", 0, 100, -EINVAL, 0},
	    {" 1", 0, 100, -EINVAL, 0},    {"abc", 0, 100, -EINVAL, 0},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int64_t v = 0;

		assert_int_equal(parse_int64(cases[i].in, cases[i].min, cases[i].max, &v),
		                 cases[i].ret);
		if (cases[i].ret == 0)
			assert_int_equal(v, cases[i].val);
	}
}

static void test_strings(void **state)
{
	char a[] = "  MiXeD Æ \r\n";
	char *t;

	(void)state;
	t = str_trim(a);
	assert_string_equal(t, "MiXeD Æ");
	assert_string_equal(str_lower(t), "mixed Æ");
	assert_true(str_has_prefix_ci("Re: hello", "RE:"));
	assert_false(str_has_prefix_ci("R", "Re:"));
	assert_int_not_equal(hash_fnv1a64("a", 1, 0), hash_fnv1a64("b", 1, 0));
	assert_int_equal(hash_fnv1a64("abc", 3, 7), hash_fnv1a64("abc", 3, 7));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_strbuf),
	    cmocka_unit_test(test_json),
	    cmocka_unit_test(test_parse_int64),
	    cmocka_unit_test(test_strings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
