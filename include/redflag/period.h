/*
 * period — review periods ("2026", "2026-Q3", "2026-11", "2026-W47") and when their digest
 * is due.
 *
 * A period is a range of local calendar days in the owner's time zone: [start, end) in UTC
 * seconds, from local midnight of its first day to local midnight after its last. Weeks are
 * ISO 8601 weeks (Monday first; week 1 holds the year's first Thursday), so "2026-W01"
 * starts on 2025-12-29. Local times go through calendar.h (TZ, same caveats).
 */
#ifndef REDFLAG_PERIOD_H
#define REDFLAG_PERIOD_H

#include <stdint.h>

enum period_kind { PERIOD_YEAR, PERIOD_QUARTER, PERIOD_MONTH, PERIOD_WEEK };

struct period {
	enum period_kind kind;
	int year;           /* calendar year, or the ISO week-year for weeks */
	int index;          /* quarter 1..4, month 1..12, week 1..53; 0 for a year */
	int64_t start, end; /* UTC seconds, [start, end) */
	char key[16];       /* "2026", "2026-Q3", "2026-11", "2026-W47" */
};

/* "year" | "quarter" | "month" | "week" → *kind. 0 or -EINVAL. */
int period_kind_parse(const char *every, enum period_kind *kind);

/*
 * Fills *out for the period of kind with the given year and index, in zone tz (NULL = UTC).
 * 0, or -EINVAL for an index out of range (week 53 of a 52-week year) or a year outside
 * 1970..9999.
 */
int period_make(enum period_kind kind, int year, int index, const char *tz, struct period *out);

/*
 * Parses a period as the command line gives it: one of the four key forms, or "last" = the
 * period of kind `every` before the one that contains now. 0 or -EINVAL.
 */
int period_parse(const char *s, enum period_kind every, const char *tz, int64_t now,
                 struct period *out);

/* The period of kind that contains utc. 0 or -EINVAL. */
int period_containing(enum period_kind kind, const char *tz, int64_t utc, struct period *out);

/* The period just before / after p (same kind). 0 or -EINVAL at the ends of the range. */
int period_previous(const struct period *p, const char *tz, struct period *out);
int period_next(const struct period *p, const char *tz, struct period *out);

/*
 * When the digest of p is due: the first moment `at` after the period's end, local time.
 * at_month (1..12, years only), at_day (day of month; for weeks 1 = Monday .. 7 = Sunday)
 * and at_minute are struct rf_digest's parsed fields: for a year, at_month/at_day of the
 * next year; for a quarter, at_day of the next quarter's first month; for a month, at_day
 * of the next month; for a week, weekday at_day of the next week.
 */
int64_t period_due(const struct period *p, unsigned at_month, unsigned at_day, unsigned at_minute,
                   const char *tz);

/*
 * The most recent period of kind whose digest is due at or before now: *out and its due
 * time in *due. 0 or -EINVAL.
 */
int period_latest_due(enum period_kind kind, unsigned at_month, unsigned at_day, unsigned at_minute,
                      const char *tz, int64_t now, struct period *out, int64_t *due);

#endif
