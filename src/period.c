/*
 * period — review periods and digest due times (see period.h).
 *
 * Calendar arithmetic on days is done on proleptic Gregorian day numbers (pure functions);
 * only the conversion of a local midnight to UTC goes through the tz database.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "redflag/calendar.h"
#include "redflag/period.h"
#include "redflag/util.h"

/* Days since 1970-01-01 of a civil date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int y, int m, int d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (unsigned)(m + (m > 2 ? -3 : 9)) + 2) / 5 + (unsigned)d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
	int64_t era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400) + (*m <= 2);
}

/* ISO weekday of a day number: 1 = Monday .. 7 = Sunday (1970-01-01 was a Thursday). */
static int iso_weekday(int64_t days)
{
	int64_t w = (days + 3) % 7;

	return (int)(w < 0 ? w + 7 : w) + 1;
}

/* Day number of the Monday of ISO week 1 of year. */
static int64_t iso_week1(int year)
{
	int64_t jan4 = days_from_civil(year, 1, 4);

	return jan4 - (iso_weekday(jan4) - 1);
}

static int iso_weeks(int year)
{
	return (int)((iso_week1(year + 1) - iso_week1(year)) / 7);
}

static int64_t local_midnight(const char *tz, int64_t days)
{
	int y, m, d;

	civil_from_days(days, &y, &m, &d);
	return calendar_to_utc(tz, y, m, d, 0, 0);
}

int period_kind_parse(const char *every, enum period_kind *kind)
{
	static const char *const names[] = {"year", "quarter", "month", "week"};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (every != NULL && strcmp(every, names[i]) == 0) {
			*kind = (enum period_kind)i;
			return 0;
		}
	return -EINVAL;
}

/* First and one-past-last day numbers of a period. */
static int period_days(enum period_kind kind, int year, int index, int64_t *first, int64_t *last)
{
	switch (kind) {
	case PERIOD_YEAR:
		*first = days_from_civil(year, 1, 1);
		*last = days_from_civil(year + 1, 1, 1);
		return 0;
	case PERIOD_QUARTER:
		if (index < 1 || index > 4)
			return -EINVAL;
		*first = days_from_civil(year, 3 * index - 2, 1);
		*last = index == 4 ? days_from_civil(year + 1, 1, 1)
		                   : days_from_civil(year, 3 * index + 1, 1);
		return 0;
	case PERIOD_MONTH:
		if (index < 1 || index > 12)
			return -EINVAL;
		*first = days_from_civil(year, index, 1);
		*last = index == 12 ? days_from_civil(year + 1, 1, 1)
		                    : days_from_civil(year, index + 1, 1);
		return 0;
	case PERIOD_WEEK:
		if (index < 1 || index > iso_weeks(year))
			return -EINVAL;
		*first = iso_week1(year) + 7 * (index - 1);
		*last = *first + 7;
		return 0;
	}
	return -EINVAL;
}

int period_make(enum period_kind kind, int year, int index, const char *tz, struct period *out)
{
	int64_t first, last;

	if (year < 1970 || year > 9999 || period_days(kind, year, index, &first, &last) < 0)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->kind = kind;
	out->year = year;
	out->index = kind == PERIOD_YEAR ? 0 : index;
	out->start = local_midnight(tz, first);
	out->end = local_midnight(tz, last);
	switch (kind) {
	case PERIOD_YEAR:
		snprintf(out->key, sizeof(out->key), "%04d", year);
		break;
	case PERIOD_QUARTER:
		snprintf(out->key, sizeof(out->key), "%04d-Q%d", year, index);
		break;
	case PERIOD_MONTH:
		snprintf(out->key, sizeof(out->key), "%04d-%02d", year, index);
		break;
	case PERIOD_WEEK:
		snprintf(out->key, sizeof(out->key), "%04d-W%02d", year, index);
		break;
	}
	return 0;
}

int period_containing(enum period_kind kind, const char *tz, int64_t utc, struct period *out)
{
	int y, m, d, index = 0;
	int64_t days;

	if (calendar_local_date(tz, utc, &y, &m, &d) < 0)
		return -EINVAL;
	switch (kind) {
	case PERIOD_YEAR:
		break;
	case PERIOD_QUARTER:
		index = (m - 1) / 3 + 1;
		break;
	case PERIOD_MONTH:
		index = m;
		break;
	case PERIOD_WEEK:
		/* The ISO week-year differs from the calendar year around New Year. */
		days = days_from_civil(y, m, d);
		if (days >= iso_week1(y + 1))
			y++;
		else if (days < iso_week1(y))
			y--;
		index = (int)((days - iso_week1(y)) / 7) + 1;
		break;
	}
	return period_make(kind, y, index, tz, out);
}

int period_previous(const struct period *p, const char *tz, struct period *out)
{
	int max;

	switch (p->kind) {
	case PERIOD_YEAR:
		return period_make(p->kind, p->year - 1, 0, tz, out);
	case PERIOD_WEEK:
		if (p->index > 1)
			return period_make(p->kind, p->year, p->index - 1, tz, out);
		return period_make(p->kind, p->year - 1, iso_weeks(p->year - 1), tz, out);
	default:
		max = p->kind == PERIOD_QUARTER ? 4 : 12;
		if (p->index > 1)
			return period_make(p->kind, p->year, p->index - 1, tz, out);
		return period_make(p->kind, p->year - 1, max, tz, out);
	}
}

int period_next(const struct period *p, const char *tz, struct period *out)
{
	int max;

	switch (p->kind) {
	case PERIOD_YEAR:
		return period_make(p->kind, p->year + 1, 0, tz, out);
	case PERIOD_WEEK:
		max = iso_weeks(p->year);
		break;
	default:
		max = p->kind == PERIOD_QUARTER ? 4 : 12;
		break;
	}
	if (p->index < max)
		return period_make(p->kind, p->year, p->index + 1, tz, out);
	return period_make(p->kind, p->year + 1, 1, tz, out);
}

int period_parse(const char *s, enum period_kind every, const char *tz, int64_t now,
                 struct period *out)
{
	int year, index, n = 0;
	char c;
	struct period cur;

	if (s == NULL)
		return -EINVAL;
	if (strcmp(s, "last") == 0) {
		if (period_containing(every, tz, now, &cur) < 0)
			return -EINVAL;
		return period_previous(&cur, tz, out);
	}
	/* sscanf alone would accept "2026-1" or "2026-11x"; %n pins the whole string. */
	if (sscanf(s, "%4d%n", &year, &n) == 1 && n == 4 && s[4] == '\0')
		return period_make(PERIOD_YEAR, year, 0, tz, out);
	if (strlen(s) == 7 && sscanf(s, "%4d-Q%1d%n", &year, &index, &n) == 2 && n == 7)
		return period_make(PERIOD_QUARTER, year, index, tz, out);
	if (strlen(s) == 8 && sscanf(s, "%4d-W%2d%n", &year, &index, &n) == 2 && n == 8 &&
	    s[6] >= '0' && s[6] <= '9')
		return period_make(PERIOD_WEEK, year, index, tz, out);
	if (strlen(s) == 7 && sscanf(s, "%4d-%2d%c", &year, &index, &c) == 2 && s[5] >= '0' &&
	    s[5] <= '9')
		return period_make(PERIOD_MONTH, year, index, tz, out);
	return -EINVAL;
}

int64_t period_due(const struct period *p, unsigned at_month, unsigned at_day, unsigned at_minute,
                   const char *tz)
{
	int y, m, d;
	int64_t first, days;
	int hour = (int)(at_minute / 60), minute = (int)(at_minute % 60);

	switch (p->kind) {
	case PERIOD_YEAR:
		return calendar_to_utc(tz, p->year + 1, (int)at_month, (int)at_day, hour, minute);
	case PERIOD_WEEK:
		/* The Monday after the week, then the weekday at_day (1 = Monday). */
		days = iso_week1(p->year) + 7 * p->index + ((int)at_day - 1);
		civil_from_days(days, &y, &m, &d);
		return calendar_to_utc(tz, y, m, d, hour, minute);
	default:
		/* The first day after the period, in the month that starts the next period. */
		if (period_days(p->kind, p->year, p->index, &first, &days) < 0)
			return 0;
		civil_from_days(days, &y, &m, &d);
		return calendar_to_utc(tz, y, m, (int)at_day, hour, minute);
	}
}

int period_latest_due(enum period_kind kind, unsigned at_month, unsigned at_day, unsigned at_minute,
                      const char *tz, int64_t now, struct period *out, int64_t *due)
{
	struct period cur, prev;

	if (period_containing(kind, tz, now, &cur) < 0 || period_previous(&cur, tz, &prev) < 0)
		return -EINVAL;
	*due = period_due(&prev, at_month, at_day, at_minute, tz);
	if (*due > now) {
		/* Not yet due this time round: the one before was (due within the last period). */
		cur = prev;
		if (period_previous(&cur, tz, &prev) < 0)
			return -EINVAL;
		*due = period_due(&prev, at_month, at_day, at_minute, tz);
	}
	*out = prev;
	return 0;
}
