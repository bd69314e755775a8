/*
 * period: keys, ISO weeks, local-midnight boundaries through the tz database, and when a
 * period's digest is due (including the catch-up choice of the latest due period).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "redflag/period.h"
#include "redflag/util.h"

#define CPH "Europe/Copenhagen"

/* UTC seconds of a UTC wall time (days_from_civil inline, independent of period.c). */
static int64_t utc(int y, int m, int d, int hh, int mm)
{
	static const int cum[] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
	int64_t days = 0;

	for (int yy = 1970; yy < y; yy++)
		days += (yy % 4 == 0 && (yy % 100 != 0 || yy % 400 == 0)) ? 366 : 365;
	days += cum[m - 1] + d - 1;
	if (m > 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		days++;
	return days * 86400 + hh * 3600 + mm * 60;
}

static const struct {
	const char *in;
	const char *tz;
	const char *key;
	int64_t start, end;
} parse_cases[] = {
    /* Copenhagen is UTC+1 in winter, +2 in summer: local midnight is 23:00 or 22:00 UTC. */
    {"2026", CPH, "2026", 0, 0},           {"2026-Q3", CPH, "2026-Q3", 0, 0},
    {"2026-03", CPH, "2026-03", 0, 0},     {"2026-W01", CPH, "2026-W01", 0, 0},
    {"2020-W53", "UTC", "2020-W53", 0, 0}, {"2026-11", NULL, "2026-11", 0, 0},
};

static void test_parse_bounds(void **state)
{
	struct period p;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(parse_cases); i++) {
		assert_int_equal(
		    period_parse(parse_cases[i].in, PERIOD_YEAR, parse_cases[i].tz, 0, &p), 0);
		assert_string_equal(p.key, parse_cases[i].key);
	}
	assert_int_equal(period_parse("2026", PERIOD_YEAR, CPH, 0, &p), 0);
	assert_int_equal(p.start, utc(2025, 12, 31, 23, 0));
	assert_int_equal(p.end, utc(2026, 12, 31, 23, 0));
	assert_int_equal(period_parse("2026-Q3", PERIOD_YEAR, CPH, 0, &p), 0);
	assert_int_equal(p.start, utc(2026, 6, 30, 22, 0)); /* summer time */
	assert_int_equal(p.end, utc(2026, 9, 30, 22, 0));
	/* March 2026: starts in winter time, ends in summer time (DST began 29 March). */
	assert_int_equal(period_parse("2026-03", PERIOD_YEAR, CPH, 0, &p), 0);
	assert_int_equal(p.start, utc(2026, 2, 28, 23, 0));
	assert_int_equal(p.end, utc(2026, 3, 31, 22, 0));
	/* ISO week 1 of 2026 starts on Monday 29 December 2025. */
	assert_int_equal(period_parse("2026-W01", PERIOD_YEAR, CPH, 0, &p), 0);
	assert_int_equal(p.start, utc(2025, 12, 28, 23, 0));
	assert_int_equal(p.end, utc(2026, 1, 4, 23, 0));
	assert_int_equal(p.year, 2026);
	assert_int_equal(p.index, 1);
	assert_int_equal(period_parse("2020-W53", PERIOD_YEAR, "UTC", 0, &p), 0);
	assert_int_equal(p.start, utc(2020, 12, 28, 0, 0));
	assert_int_equal(period_parse("2026-11", PERIOD_YEAR, NULL, 0, &p), 0);
	assert_int_equal(p.start, utc(2026, 11, 1, 0, 0));
	assert_int_equal(p.end, utc(2026, 12, 1, 0, 0));
}

static void test_parse_errors(void **state)
{
	static const char *const bad[] = {
	    "",        "26",       "2026-",    "2026-13",  "2026-00",
	    "2026-Q5", "2026-Q0",  "2026-W00", "2026-W54", "2021-W53", /* 2021 has 52 ISO weeks */
	    "2026-1",  "2026-111", "2026x",    "1969",     "last!",
	    "2026-W1", "2026-q3",  " 2026",    "2026 ",
	};
	struct period p;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		if (period_parse(bad[i], PERIOD_YEAR, "UTC", 0, &p) != -EINVAL)
			fail_msg("\"%s\" accepted", bad[i]);
	assert_int_equal(period_parse(NULL, PERIOD_YEAR, "UTC", 0, &p), -EINVAL);
}

static void test_last_and_neighbours(void **state)
{
	static const struct {
		enum period_kind kind;
		const char *last;
	} cases[] = {
	    {PERIOD_YEAR, "2025"},
	    {PERIOD_QUARTER, "2026-Q3"},
	    {PERIOD_MONTH, "2026-11"},
	    {PERIOD_WEEK, "2026-W48"},
	};
	/* 2026-12-02 07:00 UTC, a Wednesday in ISO week 49. */
	int64_t now = utc(2026, 12, 2, 7, 0);
	struct period p, q;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		assert_int_equal(period_parse("last", cases[i].kind, CPH, now, &p), 0);
		assert_string_equal(p.key, cases[i].last);
		assert_int_equal(period_next(&p, CPH, &q), 0);
		assert_true(q.start == p.end);
		assert_int_equal(period_previous(&q, CPH, &q), 0);
		assert_string_equal(q.key, p.key);
	}
	/* Across year ends. */
	assert_int_equal(period_parse("2026-W01", PERIOD_YEAR, CPH, 0, &p), 0);
	assert_int_equal(period_previous(&p, CPH, &q), 0);
	assert_string_equal(q.key, "2025-W52");
	assert_int_equal(period_parse("2020-W53", PERIOD_YEAR, CPH, 0, &p), 0);
	assert_int_equal(period_next(&p, CPH, &q), 0);
	assert_string_equal(q.key, "2021-W01");
	assert_int_equal(period_parse("2026-Q1", PERIOD_YEAR, CPH, 0, &p), 0);
	assert_int_equal(period_previous(&p, CPH, &q), 0);
	assert_string_equal(q.key, "2025-Q4");
	assert_int_equal(period_parse("2026-12", PERIOD_YEAR, CPH, 0, &p), 0);
	assert_int_equal(period_next(&p, CPH, &q), 0);
	assert_string_equal(q.key, "2027-01");
	/* The ISO week-year: 1 January 2027 (a Friday) is in week 53 of 2026. */
	assert_int_equal(period_containing(PERIOD_WEEK, "UTC", utc(2027, 1, 1, 12, 0), &p), 0);
	assert_string_equal(p.key, "2026-W53");
	assert_int_equal(period_containing(PERIOD_WEEK, "UTC", utc(2025, 12, 30, 12, 0), &p), 0);
	assert_string_equal(p.key, "2026-W01");
	/* Just before local midnight of New Year, Copenhagen is still in the old year. */
	assert_int_equal(period_containing(PERIOD_YEAR, CPH, utc(2026, 12, 31, 22, 59), &p), 0);
	assert_string_equal(p.key, "2026");
	assert_int_equal(period_containing(PERIOD_YEAR, CPH, utc(2026, 12, 31, 23, 0), &p), 0);
	assert_string_equal(p.key, "2027");
	assert_int_equal(period_kind_parse("quarter", &p.kind), 0);
	assert_int_equal(p.kind, PERIOD_QUARTER);
	assert_int_equal(period_kind_parse("fortnight", &p.kind), -EINVAL);
}

static void test_due(void **state)
{
	struct period p, q;
	int64_t due;

	(void)state;
	/* Year 2025, at "01-15 08:00" Copenhagen = 07:00 UTC on 15 January 2026. */
	assert_int_equal(period_parse("2025", PERIOD_YEAR, CPH, 0, &p), 0);
	assert_int_equal(period_due(&p, 1, 15, 8 * 60, CPH), utc(2026, 1, 15, 7, 0));
	/* Q2 2026 at "05 09:30": 5 July 2026 09:30 summer time = 07:30 UTC. */
	assert_int_equal(period_parse("2026-Q2", PERIOD_YEAR, CPH, 0, &p), 0);
	assert_int_equal(period_due(&p, 0, 5, 9 * 60 + 30, CPH), utc(2026, 7, 5, 7, 30));
	/* Q4 2026 → January 2027. */
	assert_int_equal(period_parse("2026-Q4", PERIOD_YEAR, CPH, 0, &p), 0);
	assert_int_equal(period_due(&p, 0, 1, 8 * 60, CPH), utc(2027, 1, 1, 7, 0));
	/* Month 2026-11 at "01 08:00" → 1 December 08:00 local. */
	assert_int_equal(period_parse("2026-11", PERIOD_YEAR, CPH, 0, &p), 0);
	assert_int_equal(period_due(&p, 0, 1, 8 * 60, CPH), utc(2026, 12, 1, 7, 0));
	/* Week 2026-W48 (23–29 Nov) at "mon 08:00" → Monday 30 November. */
	assert_int_equal(period_parse("2026-W48", PERIOD_YEAR, CPH, 0, &p), 0);
	assert_int_equal(period_due(&p, 0, 1, 8 * 60, CPH), utc(2026, 11, 30, 7, 0));
	/* ... at "fri 17:00" → Friday 4 December. */
	assert_int_equal(period_due(&p, 0, 5, 17 * 60, CPH), utc(2026, 12, 4, 16, 0));

	/* Latest due: on 2 December 2026 the 2025 review is the one that is due. */
	assert_int_equal(
	    period_latest_due(PERIOD_YEAR, 1, 15, 8 * 60, CPH, utc(2026, 12, 2, 7, 0), &q, &due),
	    0);
	assert_string_equal(q.key, "2025");
	assert_int_equal(due, utc(2026, 1, 15, 7, 0));
	/* On 10 January 2027 2026 is over but not due until the 15th: still 2025. */
	assert_int_equal(
	    period_latest_due(PERIOD_YEAR, 1, 15, 8 * 60, CPH, utc(2027, 1, 10, 12, 0), &q, &due),
	    0);
	assert_string_equal(q.key, "2025");
	/* One minute after the due time: 2026. */
	assert_int_equal(
	    period_latest_due(PERIOD_YEAR, 1, 15, 8 * 60, CPH, utc(2027, 1, 15, 7, 1), &q, &due),
	    0);
	assert_string_equal(q.key, "2026");
	assert_int_equal(due, utc(2027, 1, 15, 7, 0));
	/* Weekly on Monday 08:00: Wednesday 2 December → week 48, due Monday 30 November. */
	assert_int_equal(
	    period_latest_due(PERIOD_WEEK, 0, 1, 8 * 60, CPH, utc(2026, 12, 2, 7, 0), &q, &due), 0);
	assert_string_equal(q.key, "2026-W48");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_bounds),
	    cmocka_unit_test(test_parse_errors),
	    cmocka_unit_test(test_last_and_neighbours),
	    cmocka_unit_test(test_due),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
