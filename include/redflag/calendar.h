/*
 * calendar — the owner's working time: local time in a tz database zone, weekdays, public
 * holidays. The classifier uses it to tag mail written outside working hours
 * ("received_after_hours" / "sent_after_hours").
 *
 * Local time always comes from the tz database (TZ + tzset() + localtime_r()), never from
 * hand-rolled offsets, so DST rules and historical changes are whatever tzdata says.
 *
 * Global state, the one documented exception to "no mutable globals": TZ is process-wide, so
 * calendar_after_hours() sets it and remembers the zone it last set in a static, calling
 * setenv()/tzset() only when the zone changes. Nothing is restored afterwards. This makes the
 * module NOT thread-safe and assumes nobody else in the process touches TZ; the daemon has a
 * single owner zone and runs one thread, so that is fine. Every other function is pure.
 *
 * Built-in holiday calendars (names are the local ones, UTF-8, so evidence reads naturally):
 *
 *   "dk"  Denmark. Nytårsdag 1/1, Skærtorsdag (Easter−3), Langfredag (−2), Påskedag (0),
 *         2. påskedag (+1), Store bededag (+26, only up to 2023: parliament abolished it from
 *         2024), Kristi himmelfartsdag (+39), Pinsedag (+49), 2. pinsedag (+50), Grundlovsdag
 *         5/6, and Juleaftensdag 24/12, Juledag 25/12, 2. juledag 26/12, Nytårsaftensdag 31/12.
 *         Christmas Eve and New Year's Eve are not statutory holidays but customary days off
 *         (most collective agreements give them), and a mail sent then is after hours in every
 *         sense that matters here, so they are included.
 *   "de"  Germany, nationwide statutory holidays only: Neujahr 1/1, Karfreitag (−2),
 *         Ostermontag (+1), Tag der Arbeit 1/5, Christi Himmelfahrt (+39), Pfingstmontag (+50),
 *         Tag der Deutschen Einheit 3/10 (from 1990), 1. Weihnachtstag 25/12,
 *         2. Weihnachtstag 26/12, plus the customary Heiligabend 24/12 and Silvester 31/12.
 *         State holidays (Heilige Drei Könige, Fronleichnam, Reformationstag, …) differ per
 *         Land and so are not built in: the owner lists them as extra dates. The same goes for
 *         one-off or historical nationwide days (Reformationstag 2017, Buß- und Bettag before
 *         1995).
 *   "none" no holidays at all (extra dates still apply).
 */
#ifndef REDFLAG_CALENDAR_H
#define REDFLAG_CALENDAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Gregorian Easter Sunday of year (1583..9999; the anonymous Gregorian / Meeus–Jones–Butcher
 * computus): sets *month (3 or 4) and *day. For a year outside that range both are set to 0.
 */
void calendar_easter(int year, int *month, int *day);

/* true when name is a built-in holiday calendar: "dk", "de" or "none" (exact, lower case). */
bool calendar_known(const char *name);

/*
 * Local name of the public holiday on year-month-day in calendar "dk" or "de" (e.g.
 * "Skærtorsdag", "Karfreitag"): a static UTF-8 string. NULL when the day is not a holiday, for
 * calendar "none", an unknown calendar or NULL, an invalid date or a year outside 1583..9999.
 */
const char *calendar_holiday(const char *calendar, int year, int month, int day);

/*
 * 0 when tz is a usable tz database zone: a name of letters, digits and "/_+-", not absolute,
 * without "..", naming a regular TZif file under /usr/share/zoneinfo. -EINVAL for a NULL,
 * empty, absolute or malformed name, -ENOENT when no such zone file exists (or it is not
 * TZif). glibc silently treats an unknown zone as UTC, so the configuration must call this.
 * "UTC" is accepted. (TZDIR in the environment is not honoured here; the daemon does not set
 * it.)
 */
int calendar_tz_check(const char *tz);

/*
 * The owner's working time. Strings are borrowed; mirrors struct rf_owner in config.h.
 * start_min < end_min <= 1440 (config enforces it): no night shifts across midnight.
 */
struct calendar_hours {
	const char *timezone;        /* tz name that passed calendar_tz_check; NULL = UTC */
	unsigned start_min, end_min; /* working time [start, end) in minutes after local midnight */
	unsigned days;               /* bit 0 = Monday ... bit 6 = Sunday */
	const char *holidays;        /* "dk" | "de" | "none"; NULL = "none" */
	char *const *extra;          /* extra holiday dates "YYYY-MM-DD" (config validates) */
	size_t n_extra;
};

/* Why a moment is (or is not) outside working time. */
enum calendar_why {
	CALENDAR_WORKTIME = 0, /* inside working time */
	CALENDAR_EVENING,      /* a working day, at or after end_min */
	CALENDAR_EARLY,        /* a working day, before start_min */
	CALENDAR_DAY_OFF,      /* a weekday not in days (wins over a holiday on the same day) */
	CALENDAR_HOLIDAY,      /* a working weekday that is a built-in or extra holiday */
};

/* One moment in the owner's local time and the verdict on it. */
struct calendar_local {
	int year, month, day, hour, minute, wday; /* local time; wday 0 = Monday */
	char zone[16];                            /* tm_zone, e.g. "CEST"; truncated if longer */
	enum calendar_why why;
	/*
	 * Name of the holiday on the local date (built-in name first, else "extra"), or NULL;
	 * static storage. Set even when why is CALENDAR_DAY_OFF, e.g. Påskedag on a Sunday.
	 */
	const char *holiday;
};

/*
 * Converts utc (seconds since the epoch) to the owner's local time in h->timezone and says
 * whether it falls outside working time: on a weekday not in h->days (DAY_OFF), on a holiday
 * of h->holidays or h->extra (HOLIDAY), before start_min (EARLY) or at/after end_min (EVENING).
 * Weekday and holiday use the LOCAL date. Fills *out and returns true when outside working
 * time. A utc that localtime_r() cannot represent leaves *out zeroed (why = WORKTIME) and
 * returns false: no signal from a nonsense date. Sets TZ (see the top of this file).
 */
bool calendar_after_hours(const struct calendar_hours *h, int64_t utc, struct calendar_local *out);

/*
 * Formats l as evidence: "YYYY-MM-DD HH:MM ZONE (Weekday, reason)" where reason is "working
 * time", "evening", "early", "day off", "holiday: NAME" or "extra holiday", e.g.
 * "2026-03-29 19:30 CEST (Sunday, day off)". Returns the length the full text needs, like
 * snprintf (buf may be NULL when len is 0); the output is truncated to fit len.
 */
int calendar_describe(const struct calendar_local *l, char *buf, size_t len);

/*
 * The UTC time of a local wall-clock time in zone tz (NULL = UTC), via mktime() with
 * tm_isdst = -1: a time that falls into a DST gap is moved by the gap, one in the repeated
 * hour resolves to either occurrence (the tz database decides). Fields out of range are
 * normalised (month 13 = January of the next year). Sets TZ like calendar_after_hours().
 */
int64_t calendar_to_utc(const char *tz, int year, int month, int day, int hour, int minute);

/* The local date of utc in zone tz (NULL = UTC). 0, or -ERANGE for an unrepresentable time. */
int calendar_local_date(const char *tz, int64_t utc, int *year, int *month, int *day);

#endif
