/* calendar: Easter, dk/de holidays, tz checks, working time across DST edges and zones. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "redflag/calendar.h"
#include "redflag/util.h"

#define MON_FRI 0x1Fu
#define MON_SAT 0x3Fu

/*
 * Seconds since the epoch for a UTC time, computed here (days-from-civil) rather than with
 * timegm() so the expected values do not depend on the C library's time zone code.
 */
static int64_t utc(int y, int mo, int d, int h, int mi)
{
	int64_t era, yoe, doy, doe;

	y -= mo <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return ((era * 146097 + doe - 719468) * 24 + h) * 3600 + (int64_t)mi * 60;
}

/* ---------------------------------------------------------------- Easter */

struct easter_case {
	int year, month, day;
};

/* Each checked against dateutil.easter (a different formulation of the computus). */
static const struct easter_case easter_cases[] = {
    {1583, 4, 10}, {1700, 4, 11}, {1818, 3, 22}, /* earliest possible date */
    {1900, 4, 15}, {1943, 4, 25},                /* latest possible date */
    {1954, 4, 18}, {1961, 4, 2},  {1981, 4, 19}, {2000, 4, 23}, {2001, 4, 15}, {2008, 3, 23},
    {2010, 4, 4},  {2011, 4, 24}, {2013, 3, 31}, {2016, 3, 27}, {2019, 4, 21}, {2022, 4, 17},
    {2023, 4, 9},  {2024, 3, 31}, {2025, 4, 20}, {2026, 4, 5},  {2027, 3, 28}, {2038, 4, 25},
    {2100, 3, 28}, {2285, 3, 22}, {9999, 3, 28},
};

static void test_easter(void **state)
{
	int m, d;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(easter_cases); i++) {
		const struct easter_case *c = &easter_cases[i];

		calendar_easter(c->year, &m, &d);
		if (m != c->month || d != c->day)
			fail_msg("Easter %d: got %02d-%02d, want %02d-%02d", c->year, m, d,
			         c->month, c->day);
	}
	calendar_easter(1582, &m, &d);
	assert_int_equal(m, 0);
	assert_int_equal(d, 0);
	calendar_easter(10000, &m, &d);
	assert_int_equal(m, 0);
}

/* ---------------------------------------------------------------- holidays */

struct holiday_case {
	const char *cal;
	int y, m, d;
	const char *want; /* NULL = not a holiday */
};

static const struct holiday_case holiday_cases[] = {
    /* dk 2026, Easter April 5th */
    {"dk", 2026, 1, 1, "Nytårsdag"},
    {"dk", 2026, 4, 2, "Skærtorsdag"},
    {"dk", 2026, 4, 3, "Langfredag"},
    {"dk", 2026, 4, 5, "Påskedag"},
    {"dk", 2026, 4, 6, "2. påskedag"},
    {"dk", 2026, 5, 1, NULL}, /* not a Danish public holiday */
    {"dk", 2026, 5, 14, "Kristi himmelfartsdag"},
    {"dk", 2026, 5, 24, "Pinsedag"},
    {"dk", 2026, 5, 25, "2. pinsedag"},
    {"dk", 2026, 6, 5, "Grundlovsdag"},
    {"dk", 2026, 12, 24, "Juleaftensdag"},
    {"dk", 2026, 12, 25, "Juledag"},
    {"dk", 2026, 12, 26, "2. juledag"},
    {"dk", 2026, 12, 31, "Nytårsaftensdag"},
    {"dk", 2026, 4, 1, NULL},
    {"dk", 2026, 4, 4, NULL}, /* Holy Saturday */
    {"dk", 2026, 4, 7, NULL},
    {"dk", 2026, 5, 13, NULL},
    {"dk", 2026, 5, 26, NULL},
    {"dk", 2026, 10, 3, NULL},
    /* Store bededag: Easter+26, abolished from 2024 */
    {"dk", 2023, 5, 5, "Store bededag"},
    {"dk", 2019, 5, 17, "Store bededag"},
    {"dk", 2024, 4, 26, NULL},
    /* dk, another Easter: 2024-03-31 */
    {"dk", 2024, 3, 28, "Skærtorsdag"},
    {"dk", 2024, 3, 29, "Langfredag"},
    {"dk", 2024, 4, 1, "2. påskedag"},
    {"dk", 2024, 5, 9, "Kristi himmelfartsdag"},
    {"dk", 2024, 5, 20, "2. pinsedag"},
    /* de 2026 */
    {"de", 2026, 1, 1, "Neujahr"},
    {"de", 2026, 4, 2, NULL}, /* no Gründonnerstag nationwide */
    {"de", 2026, 4, 3, "Karfreitag"},
    {"de", 2026, 4, 5, NULL}, /* Easter Sunday is a Sunday, not a statutory holiday */
    {"de", 2026, 4, 6, "Ostermontag"},
    {"de", 2026, 5, 1, "Tag der Arbeit"},
    {"de", 2026, 5, 14, "Christi Himmelfahrt"},
    {"de", 2026, 5, 24, NULL},
    {"de", 2026, 5, 25, "Pfingstmontag"},
    {"de", 2026, 6, 4, NULL}, /* Fronleichnam: state holiday only */
    {"de", 2026, 6, 5, NULL},
    {"de", 2026, 10, 3, "Tag der Deutschen Einheit"},
    {"de", 1989, 10, 3, NULL},
    {"de", 1990, 10, 3, "Tag der Deutschen Einheit"},
    {"de", 2026, 10, 31, NULL}, /* Reformationstag: state holiday only */
    {"de", 2026, 12, 24, "Heiligabend"},
    {"de", 2026, 12, 25, "1. Weihnachtstag"},
    {"de", 2026, 12, 26, "2. Weihnachtstag"},
    {"de", 2026, 12, 31, "Silvester"},
    {"de", 2023, 5, 5, NULL},
    /* none, unknown calendars and invalid input */
    {"none", 2026, 12, 25, NULL},
    {"none", 2026, 4, 3, NULL},
    {"fr", 2026, 12, 25, NULL},
    {"DK", 2026, 12, 25, NULL},
    {NULL, 2026, 12, 25, NULL},
    {"dk", 2026, 2, 29, NULL},
    {"dk", 2026, 13, 1, NULL},
    {"dk", 2026, 0, 1, NULL},
    {"dk", 1500, 12, 25, NULL},
};

static void test_holidays(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(holiday_cases); i++) {
		const struct holiday_case *c = &holiday_cases[i];
		const char *got = calendar_holiday(c->cal, c->y, c->m, c->d);

		if (got == c->want || (got && c->want && strcmp(got, c->want) == 0))
			continue;
		fail_msg("%s %04d-%02d-%02d: got \"%s\", want \"%s\"", c->cal ? c->cal : "(null)",
		         c->y, c->m, c->d, got ? got : "(null)", c->want ? c->want : "(null)");
	}
}

static void test_known(void **state)
{
	(void)state;
	assert_true(calendar_known("dk"));
	assert_true(calendar_known("de"));
	assert_true(calendar_known("none"));
	assert_false(calendar_known("DK"));
	assert_false(calendar_known("fr"));
	assert_false(calendar_known(""));
	assert_false(calendar_known(NULL));
}

/* ---------------------------------------------------------------- tz_check */

struct tz_case {
	const char *tz;
	int want;
};

static const struct tz_case tz_cases[] = {
    {"Europe/Copenhagen", 0},
    {"Europe/Berlin", 0},
    {"America/New_York", 0},
    {"Asia/Kolkata", 0},
    {"UTC", 0},
    {"Etc/GMT+5", 0},
    {"Europe/Atlantis", -ENOENT},
    {"Europe", -ENOENT},             /* a directory */
    {"Europe/Copenhagen/", -ENOENT}, /* not a directory */
    {"europe/copenhagen", -ENOENT},  /* names are case-sensitive */
    {"../etc/passwd", -EINVAL},
    {"Europe/../UTC", -EINVAL},
    {"/etc/localtime", -EINVAL},
    {"/usr/share/zoneinfo/UTC", -EINVAL},
    {"zone.tab", -EINVAL},
    {"CET-1CEST,M3.5.0,M10.5.0/3", -EINVAL}, /* a POSIX rule, not a zone name */
    {":Europe/Copenhagen", -EINVAL},
    {"Europe/Copenhagen ", -EINVAL},
    {"", -EINVAL},
    {NULL, -EINVAL},
};

static void test_tz_check(void **state)
{
	char longname[400];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(tz_cases); i++) {
		int got = calendar_tz_check(tz_cases[i].tz);

		if (got != tz_cases[i].want)
			fail_msg("calendar_tz_check(\"%s\") = %d, want %d",
			         tz_cases[i].tz ? tz_cases[i].tz : "(null)", got, tz_cases[i].want);
	}
	memset(longname, 'A', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(calendar_tz_check(longname), -EINVAL);
}

/* ---------------------------------------------------------------- working time */

struct hours_case {
	const char *name;
	const char *tz, *holidays;
	unsigned start, end, days;
	const char *at;    /* the UTC instant, "YYYY-MM-DDTHH:MMZ" */
	const char *local; /* expected local time, "YYYY-MM-DD HH:MM ZONE" */
	int wday;          /* expected, 0 = Monday */
	enum calendar_why why;
	const char *holiday;
};

#define CPH "Europe/Copenhagen"
#define NYC "America/New_York"
#define KOL "Asia/Kolkata"
#define W   480, 1020 /* 08:00-17:00 */

/* Zones change from row to row on purpose: switching zones between calls must work. */
static const struct hours_case hours_cases[] = {
    /* Copenhagen, spring change on Sunday 2026-03-29: 02:00 CET → 03:00 CEST. */
    {"fri before change", CPH, "dk", W, MON_FRI, "2026-03-27T06:30Z", "2026-03-27 07:30 CET", 4,
     CALENDAR_EARLY, NULL},
    {"last minute before the gap", CPH, "dk", W, MON_FRI, "2026-03-29T00:59Z",
     "2026-03-29 01:59 CET", 6, CALENDAR_DAY_OFF, NULL},
    {"first minute after the gap", CPH, "dk", W, MON_FRI, "2026-03-29T01:00Z",
     "2026-03-29 03:00 CEST", 6, CALENDAR_DAY_OFF, NULL},
    {"mon after change", CPH, "dk", W, MON_FRI, "2026-03-30T06:30Z", "2026-03-30 08:30 CEST", 0,
     CALENDAR_WORKTIME, NULL},
    {"start is inside", CPH, "dk", W, MON_FRI, "2026-03-30T06:00Z", "2026-03-30 08:00 CEST", 0,
     CALENDAR_WORKTIME, NULL},
    {"a minute before start", CPH, "dk", W, MON_FRI, "2026-03-30T05:59Z", "2026-03-30 07:59 CEST",
     0, CALENDAR_EARLY, NULL},
    {"a minute before end", CPH, "dk", W, MON_FRI, "2026-03-30T14:59Z", "2026-03-30 16:59 CEST", 0,
     CALENDAR_WORKTIME, NULL},
    {"end is after hours", CPH, "dk", W, MON_FRI, "2026-03-30T15:00Z", "2026-03-30 17:00 CEST", 0,
     CALENDAR_EVENING, NULL},
    {"evening", CPH, "dk", W, MON_FRI, "2026-03-30T15:30Z", "2026-03-30 17:30 CEST", 0,
     CALENDAR_EVENING, NULL},
    /* Copenhagen, autumn change on Sunday 2026-10-25: 03:00 CEST → 02:00 CET. */
    {"fri before change", CPH, "dk", W, MON_FRI, "2026-10-23T06:30Z", "2026-10-23 08:30 CEST", 4,
     CALENDAR_WORKTIME, NULL},
    {"fri before change, early", CPH, "dk", W, MON_FRI, "2026-10-23T05:30Z",
     "2026-10-23 07:30 CEST", 4, CALENDAR_EARLY, NULL},
    {"repeated hour, first time", CPH, "dk", W, MON_FRI, "2026-10-25T00:30Z",
     "2026-10-25 02:30 CEST", 6, CALENDAR_DAY_OFF, NULL},
    {"repeated hour, second time", CPH, "dk", W, MON_FRI, "2026-10-25T01:30Z",
     "2026-10-25 02:30 CET", 6, CALENDAR_DAY_OFF, NULL},
    {"mon after change", CPH, "dk", W, MON_FRI, "2026-10-26T07:30Z", "2026-10-26 08:30 CET", 0,
     CALENDAR_WORKTIME, NULL},
    /* Holidays, weekends and the local date. */
    {"weekday holiday", CPH, "dk", W, MON_FRI, "2026-04-03T08:00Z", "2026-04-03 10:00 CEST", 4,
     CALENDAR_HOLIDAY, "Langfredag"},
    {"same day, calendar none", CPH, "none", W, MON_FRI, "2026-04-03T08:00Z",
     "2026-04-03 10:00 CEST", 4, CALENDAR_WORKTIME, NULL},
    {"same day, NULL calendar", CPH, NULL, W, MON_FRI, "2026-04-03T08:00Z", "2026-04-03 10:00 CEST",
     4, CALENDAR_WORKTIME, NULL},
    {"holiday by local date (UTC: Sunday)", CPH, "dk", W, MON_FRI, "2026-04-05T22:30Z",
     "2026-04-06 00:30 CEST", 0, CALENDAR_HOLIDAY, "2. påskedag"},
    {"working day by local date (UTC: holiday)", CPH, "dk", W, MON_FRI, "2026-04-06T22:30Z",
     "2026-04-07 00:30 CEST", 1, CALENDAR_EARLY, NULL},
    {"weekend", CPH, "dk", W, MON_FRI, "2026-03-28T09:00Z", "2026-03-28 10:00 CET", 5,
     CALENDAR_DAY_OFF, NULL},
    {"holiday on a day off says day off", CPH, "dk", W, MON_FRI, "2026-04-05T08:00Z",
     "2026-04-05 10:00 CEST", 6, CALENDAR_DAY_OFF, "Påskedag"},
    {"mon-sat: saturday worked", CPH, "dk", W, MON_SAT, "2026-03-28T09:00Z", "2026-03-28 10:00 CET",
     5, CALENDAR_WORKTIME, NULL},
    {"mon-sat: sunday off", CPH, "dk", W, MON_SAT, "2026-03-29T08:00Z", "2026-03-29 10:00 CEST", 6,
     CALENDAR_DAY_OFF, NULL},
    {"mon-sat: holiday on saturday", CPH, "dk", W, MON_SAT, "2026-12-26T09:00Z",
     "2026-12-26 10:00 CET", 5, CALENDAR_HOLIDAY, "2. juledag"},
    {"tue,thu: monday off", CPH, "none", W, 0x0Au, "2026-03-30T08:00Z", "2026-03-30 10:00 CEST", 0,
     CALENDAR_DAY_OFF, NULL},
    {"tue,thu: tuesday worked", CPH, "none", W, 0x0Au, "2026-03-31T08:00Z", "2026-03-31 10:00 CEST",
     1, CALENDAR_WORKTIME, NULL},
    {"sun-thu: sunday worked", CPH, "none", W, 0x4Fu, "2026-03-29T08:00Z", "2026-03-29 10:00 CEST",
     6, CALENDAR_WORKTIME, NULL},
    {"end 24:00: never evening", CPH, "none", 480, 1440, MON_FRI, "2026-03-30T21:59Z",
     "2026-03-30 23:59 CEST", 0, CALENDAR_WORKTIME, NULL},
    {"Store bededag 2023", CPH, "dk", W, MON_FRI, "2023-05-05T08:00Z", "2023-05-05 10:00 CEST", 4,
     CALENDAR_HOLIDAY, "Store bededag"},
    {"no Store bededag 2024", CPH, "dk", W, MON_FRI, "2024-04-26T08:00Z", "2024-04-26 10:00 CEST",
     4, CALENDAR_WORKTIME, NULL},
    {"de in Berlin, weekday holiday", "Europe/Berlin", "de", 540, 1080, MON_FRI,
     "2026-05-14T08:00Z", "2026-05-14 10:00 CEST", 3, CALENDAR_HOLIDAY, "Christi Himmelfahrt"},
    /* New York: DST from Sunday 2026-03-08, a different offset and rule. */
    {"nyc EST", NYC, "none", W, MON_FRI, "2026-03-06T13:30Z", "2026-03-06 08:30 EST", 4,
     CALENDAR_WORKTIME, NULL},
    {"nyc EST, early", NYC, "none", W, MON_FRI, "2026-03-06T12:30Z", "2026-03-06 07:30 EST", 4,
     CALENDAR_EARLY, NULL},
    {"nyc EDT", NYC, "none", W, MON_FRI, "2026-03-09T12:30Z", "2026-03-09 08:30 EDT", 0,
     CALENDAR_WORKTIME, NULL},
    {"nyc evening, next day in UTC", NYC, "none", W, MON_FRI, "2026-03-10T01:00Z",
     "2026-03-09 21:00 EDT", 0, CALENDAR_EVENING, NULL},
    {"nyc, de calendar, local May 1st (UTC: Saturday)", NYC, "de", 480, 1380, MON_FRI,
     "2026-05-02T01:00Z", "2026-05-01 21:00 EDT", 4, CALENDAR_HOLIDAY, "Tag der Arbeit"},
    /* Kolkata: UTC+05:30 all year. */
    {"kolkata start", KOL, "none", W, MON_FRI, "2026-03-30T02:30Z", "2026-03-30 08:00 IST", 0,
     CALENDAR_WORKTIME, NULL},
    {"kolkata early", KOL, "none", W, MON_FRI, "2026-03-30T02:29Z", "2026-03-30 07:59 IST", 0,
     CALENDAR_EARLY, NULL},
    {"kolkata end", KOL, "none", W, MON_FRI, "2026-03-30T11:30Z", "2026-03-30 17:00 IST", 0,
     CALENDAR_EVENING, NULL},
    /* UTC, the NULL zone, and back. */
    {"utc", "UTC", "none", W, MON_FRI, "2026-03-30T08:00Z", "2026-03-30 08:00 UTC", 0,
     CALENDAR_WORKTIME, NULL},
    {"NULL zone is UTC", NULL, "none", W, MON_FRI, "2026-03-30T07:59Z", "2026-03-30 07:59 UTC", 0,
     CALENDAR_EARLY, NULL},
    {"back to copenhagen", CPH, "dk", W, MON_FRI, "2026-03-30T07:59Z", "2026-03-30 09:59 CEST", 0,
     CALENDAR_WORKTIME, NULL},
};

/* "YYYY-MM-DDTHH:MMZ" → seconds since the epoch. */
static int64_t parse_utc(const char *s)
{
	int y, mo, d, h, mi;

	if (sscanf(s, "%4d-%2d-%2dT%2d:%2dZ", &y, &mo, &d, &h, &mi) != 5)
		fail_msg("bad test instant %s", s);
	return utc(y, mo, d, h, mi);
}

static void test_after_hours(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(hours_cases); i++) {
		const struct hours_case *c = &hours_cases[i];
		struct calendar_hours h = {c->tz, c->start, c->end, c->days, c->holidays, NULL, 0};
		struct calendar_local l;
		bool after = calendar_after_hours(&h, parse_utc(c->at), &l);
		char local[64], text[128];

		snprintf(local, sizeof(local), "%04d-%02d-%02d %02d:%02d %s", l.year, l.month,
		         l.day, l.hour, l.minute, l.zone);
		calendar_describe(&l, text, sizeof(text));
		if (strcmp(local, c->local) != 0 || l.wday != c->wday || l.why != c->why ||
		    after != (c->why != CALENDAR_WORKTIME) ||
		    !(l.holiday == c->holiday ||
		      (l.holiday && c->holiday && strcmp(l.holiday, c->holiday) == 0)))
			fail_msg("%s (%s in %s): got %s, wday %d, why %d, holiday %s", c->name,
			         c->at, c->tz ? c->tz : "(null)", text, l.wday, l.why,
			         l.holiday ? l.holiday : "(null)");
	}
}

/* An instant localtime_r() cannot represent gives no verdict rather than a wrong one. */
static void test_out_of_range(void **state)
{
	struct calendar_hours h = {CPH, W, MON_FRI, "dk", NULL, 0};
	struct calendar_local l;

	(void)state;
	assert_false(calendar_after_hours(&h, INT64_MAX, &l));
	assert_int_equal(l.why, CALENDAR_WORKTIME);
	assert_int_equal(l.year, 0);
	assert_null(l.holiday);
}

static void test_extra(void **state)
{
	char *const extra[] = {"2026-06-19", "2026-01-06"};
	struct calendar_hours h = {CPH, 480, 1020, MON_FRI, "dk", extra, ARRAY_SIZE(extra)};
	struct calendar_local l;

	(void)state;
	assert_true(calendar_after_hours(&h, utc(2026, 6, 19, 8, 0), &l));
	assert_int_equal(l.why, CALENDAR_HOLIDAY);
	assert_string_equal(l.holiday, "extra");
	assert_true(calendar_after_hours(&h, utc(2026, 1, 6, 13, 0), &l));
	assert_int_equal(l.why, CALENDAR_HOLIDAY);
	/* By local date: 23:30 UTC on June 18th is already June 19th in Copenhagen. */
	assert_true(calendar_after_hours(&h, utc(2026, 6, 18, 23, 30), &l));
	assert_int_equal(l.day, 19);
	assert_string_equal(l.holiday, "extra");
	/* The day before is a normal working day. */
	assert_false(calendar_after_hours(&h, utc(2026, 6, 18, 8, 0), &l));
	assert_null(l.holiday);
	/* A built-in holiday listed again keeps its own name. */
	h.extra = (char *const[]){"2026-12-24"};
	h.n_extra = 1;
	assert_true(calendar_after_hours(&h, utc(2026, 12, 24, 9, 0), &l));
	assert_string_equal(l.holiday, "Juleaftensdag");
	/* Extra dates apply with calendar "none" too. */
	h.holidays = "none";
	h.extra = extra;
	h.n_extra = ARRAY_SIZE(extra);
	assert_true(calendar_after_hours(&h, utc(2026, 6, 19, 8, 0), &l));
	assert_string_equal(l.holiday, "extra");
}

struct describe_case {
	struct calendar_local l;
	const char *want;
};

static const struct describe_case describe_cases[] = {
    {{2026, 3, 29, 19, 30, 6, "CEST", CALENDAR_DAY_OFF, NULL},
     "2026-03-29 19:30 CEST (Sunday, day off)"},
    {{2026, 3, 30, 17, 30, 0, "CEST", CALENDAR_EVENING, NULL},
     "2026-03-30 17:30 CEST (Monday, evening)"},
    {{2026, 3, 27, 7, 5, 4, "CET", CALENDAR_EARLY, NULL}, "2026-03-27 07:05 CET (Friday, early)"},
    {{2026, 4, 3, 10, 0, 4, "CEST", CALENDAR_HOLIDAY, "Langfredag"},
     "2026-04-03 10:00 CEST (Friday, holiday: Langfredag)"},
    {{2026, 6, 19, 10, 0, 4, "CEST", CALENDAR_HOLIDAY, "extra"},
     "2026-06-19 10:00 CEST (Friday, extra holiday)"},
    {{2026, 3, 31, 9, 0, 1, "IST", CALENDAR_WORKTIME, NULL},
     "2026-03-31 09:00 IST (Tuesday, working time)"},
    {{2026, 4, 5, 10, 0, 6, "CEST", CALENDAR_DAY_OFF, "Påskedag"},
     "2026-04-05 10:00 CEST (Sunday, day off)"},
};

static void test_describe(void **state)
{
	char buf[128], small[12];
	int n;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(describe_cases); i++) {
		n = calendar_describe(&describe_cases[i].l, buf, sizeof(buf));
		assert_string_equal(buf, describe_cases[i].want);
		assert_int_equal(n, (int)strlen(describe_cases[i].want));
	}
	/* snprintf semantics: truncated but terminated, full length returned. */
	n = calendar_describe(&describe_cases[0].l, small, sizeof(small));
	assert_int_equal(n, (int)strlen(describe_cases[0].want));
	assert_string_equal(small, "2026-03-29 ");
	assert_int_equal(calendar_describe(&describe_cases[0].l, NULL, 0), n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_easter),       cmocka_unit_test(test_holidays),
	    cmocka_unit_test(test_known),        cmocka_unit_test(test_tz_check),
	    cmocka_unit_test(test_after_hours),  cmocka_unit_test(test_extra),
	    cmocka_unit_test(test_out_of_range), cmocka_unit_test(test_describe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
