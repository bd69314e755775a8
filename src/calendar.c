/* calendar — working time in the owner's tz database zone, dk/de holidays (see calendar.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "redflag/calendar.h"

#define ZONEINFO_DIR "/usr/share/zoneinfo"
#define TZ_NAME_MAX  255

/* ---------------------------------------------------------------- dates */

static bool leap_year(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int y, int m)
{
	static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return m == 2 && leap_year(y) ? 29 : d[m - 1];
}

/* Day of the year, 1 = January 1st. month and day must be valid. */
static int day_of_year(int y, int m, int d)
{
	int n = d;

	for (int i = 1; i < m; i++)
		n += month_days(y, i);
	return n;
}

void calendar_easter(int year, int *month, int *day)
{
	int a, b, c, d, e, f, g, h, i, k, l, m, n;

	if (year < 1583 || year > 9999) {
		*month = *day = 0;
		return;
	}
	/* Anonymous Gregorian algorithm (Meeus, Astronomical Algorithms, ch. 8). */
	a = year % 19;
	b = year / 100;
	c = year % 100;
	d = b / 4;
	e = b % 4;
	f = (b + 8) / 25;
	g = (b - f + 1) / 3;
	h = (19 * a + b - d - g + 15) % 30;
	i = c / 4;
	k = c % 4;
	l = (32 + 2 * e + 2 * i - h - k) % 7;
	m = (a + 11 * h + 22 * l) / 451;
	n = h + l - 7 * m + 114;
	*month = n / 31;
	*day = n % 31 + 1;
}

/* ---------------------------------------------------------------- holidays */

/* A holiday on a fixed date (month > 0) or at an offset from Easter Sunday (month == 0). */
struct holiday {
	int month, day; /* fixed date, or month 0 */
	int easter;     /* days after Easter Sunday when month == 0 */
	int from, to;   /* years in which it exists (inclusive) */
	const char *name;
};

#define ALWAYS 1583, 9999

static const struct holiday dk[] = {
    {1, 1, 0, ALWAYS, "Nytårsdag"},
    {0, 0, -3, ALWAYS, "Skærtorsdag"},
    {0, 0, -2, ALWAYS, "Langfredag"},
    {0, 0, 0, ALWAYS, "Påskedag"},
    {0, 0, 1, ALWAYS, "2. påskedag"},
    /* Abolished by the Folketing in 2023, with effect from 2024. */
    {0, 0, 26, 1583, 2023, "Store bededag"},
    {0, 0, 39, ALWAYS, "Kristi himmelfartsdag"},
    {0, 0, 49, ALWAYS, "Pinsedag"},
    {0, 0, 50, ALWAYS, "2. pinsedag"},
    {6, 5, 0, ALWAYS, "Grundlovsdag"},
    /* Customary days off, not statutory (see calendar.h). */
    {12, 24, 0, ALWAYS, "Juleaftensdag"},
    {12, 25, 0, ALWAYS, "Juledag"},
    {12, 26, 0, ALWAYS, "2. juledag"},
    {12, 31, 0, ALWAYS, "Nytårsaftensdag"},
};

static const struct holiday de[] = {
    {1, 1, 0, ALWAYS, "Neujahr"},
    {0, 0, -2, ALWAYS, "Karfreitag"},
    {0, 0, 1, ALWAYS, "Ostermontag"},
    {5, 1, 0, ALWAYS, "Tag der Arbeit"},
    {0, 0, 39, ALWAYS, "Christi Himmelfahrt"},
    {0, 0, 50, ALWAYS, "Pfingstmontag"},
    {10, 3, 0, 1990, 9999, "Tag der Deutschen Einheit"},
    /* Heiligabend and Silvester are customary, not statutory (see calendar.h). */
    {12, 24, 0, ALWAYS, "Heiligabend"},
    {12, 25, 0, ALWAYS, "1. Weihnachtstag"},
    {12, 26, 0, ALWAYS, "2. Weihnachtstag"},
    {12, 31, 0, ALWAYS, "Silvester"},
};

bool calendar_known(const char *name)
{
	return name != NULL &&
	       (strcmp(name, "dk") == 0 || strcmp(name, "de") == 0 || strcmp(name, "none") == 0);
}

const char *calendar_holiday(const char *calendar, int year, int month, int day)
{
	const struct holiday *tab;
	size_t n;
	int em, ed, offset;

	if (calendar == NULL)
		return NULL;
	if (strcmp(calendar, "dk") == 0) {
		tab = dk;
		n = sizeof(dk) / sizeof(dk[0]);
	} else if (strcmp(calendar, "de") == 0) {
		tab = de;
		n = sizeof(de) / sizeof(de[0]);
	} else {
		return NULL;
	}
	if (year < 1583 || year > 9999 || month < 1 || month > 12 || day < 1 ||
	    day > month_days(year, month))
		return NULL;
	/*
	 * Easter-relative holidays fall between March 19th (Easter−3 at the earliest) and June
	 * 13th (Easter+50 at the latest), never across a year boundary, so day-of-year arithmetic
	 * within one year is enough.
	 */
	calendar_easter(year, &em, &ed);
	offset = day_of_year(year, month, day) - day_of_year(year, em, ed);
	for (size_t i = 0; i < n; i++) {
		const struct holiday *hd = &tab[i];

		if (year < hd->from || year > hd->to)
			continue;
		if (hd->month ? hd->month == month && hd->day == day : hd->easter == offset)
			return hd->name;
	}
	return NULL;
}

/* ---------------------------------------------------------------- time zones */

int calendar_tz_check(const char *tz)
{
	char path[sizeof(ZONEINFO_DIR) + 1 + TZ_NAME_MAX + 1];
	char magic[4];
	struct stat st;
	int fd = -1, rc = -ENOENT;

	/* The name becomes a path: keep it inside the zoneinfo directory. */
	if (tz == NULL || tz[0] == '\0' || tz[0] == '/' || strstr(tz, "..") != NULL ||
	    strlen(tz) > TZ_NAME_MAX ||
	    strspn(tz, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	               "abcdefghijklmnopqrstuvwxyz"
	               "0123456789/_+-") != strlen(tz))
		return -EINVAL;
	snprintf(path, sizeof(path), "%s/%s", ZONEINFO_DIR, tz);
	/* O_NONBLOCK: a FIFO planted in the directory must not hang the config check. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		goto out;
	if (read(fd, magic, sizeof(magic)) == (ssize_t)sizeof(magic) &&
	    memcmp(magic, "TZif", sizeof(magic)) == 0)
		rc = 0;
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

/*
 * The zone TZ was last set to, so that setenv() + tzset() (which re-reads the zone file) run
 * only when the zone changes. The one mutable global in src/: see calendar.h.
 */
static char current_tz[TZ_NAME_MAX + 1];
static bool current_tz_set;

static void use_zone(const char *tz)
{
	if (tz == NULL)
		tz = "UTC";
	if (current_tz_set && strcmp(current_tz, tz) == 0)
		return;
	setenv("TZ", tz, 1);
	/* localtime_r() need not re-read TZ (glibc's does not), so tzset() is required. */
	tzset();
	if (strlen(tz) < sizeof(current_tz)) {
		memcpy(current_tz, tz, strlen(tz) + 1);
		current_tz_set = true;
	} else {
		/* Too long to remember (and never a valid zone): set it again next time. */
		current_tz_set = false;
	}
}

int64_t calendar_to_utc(const char *tz, int year, int month, int day, int hour, int minute)
{
	struct tm tm = {.tm_year = year - 1900,
	                .tm_mon = month - 1,
	                .tm_mday = day,
	                .tm_hour = hour,
	                .tm_min = minute,
	                .tm_isdst = -1};
	time_t t;

	use_zone(tz);
	/* mktime() normalises out-of-range fields (day 32 → the 1st of the next month). */
	t = mktime(&tm);
	return (int64_t)t;
}

int calendar_local_date(const char *tz, int64_t utc, int *year, int *month, int *day)
{
	time_t t = (time_t)utc;
	struct tm tm;

	if ((int64_t)t != utc)
		return -ERANGE;
	use_zone(tz);
	if (localtime_r(&t, &tm) == NULL)
		return -ERANGE;
	*year = tm.tm_year + 1900;
	*month = tm.tm_mon + 1;
	*day = tm.tm_mday;
	return 0;
}

/* ---------------------------------------------------------------- working time */

static bool is_extra(const struct calendar_hours *h, int year, int month, int day)
{
	char date[16];

	if (h->n_extra == 0)
		return false;
	snprintf(date, sizeof(date), "%04d-%02d-%02d", year, month, day);
	for (size_t i = 0; i < h->n_extra; i++)
		if (h->extra[i] != NULL && strcmp(h->extra[i], date) == 0)
			return true;
	return false;
}

bool calendar_after_hours(const struct calendar_hours *h, int64_t utc, struct calendar_local *out)
{
	time_t t = (time_t)utc;
	struct tm tm;
	unsigned minute;

	memset(out, 0, sizeof(*out));
	out->why = CALENDAR_WORKTIME;
	/* A 32-bit time_t cannot hold every int64_t. */
	if ((int64_t)t != utc)
		return false;
	use_zone(h->timezone);
	if (localtime_r(&t, &tm) == NULL)
		return false;

	out->year = tm.tm_year + 1900;
	out->month = tm.tm_mon + 1;
	out->day = tm.tm_mday;
	out->hour = tm.tm_hour;
	out->minute = tm.tm_min;
	out->wday = (tm.tm_wday + 6) % 7;
	snprintf(out->zone, sizeof(out->zone), "%s", tm.tm_zone ? tm.tm_zone : "");

	out->holiday = calendar_holiday(h->holidays, out->year, out->month, out->day);
	if (out->holiday == NULL && is_extra(h, out->year, out->month, out->day))
		out->holiday = "extra";

	/*
	 * A weekday off wins over a holiday on the same day: the owner would not have worked
	 * anyway, so "day off" is the plainer reason. out->holiday still names the holiday.
	 */
	minute = (unsigned)(tm.tm_hour * 60 + tm.tm_min);
	if (!(h->days & (1u << out->wday)))
		out->why = CALENDAR_DAY_OFF;
	else if (out->holiday != NULL)
		out->why = CALENDAR_HOLIDAY;
	else if (minute < h->start_min)
		out->why = CALENDAR_EARLY;
	else if (minute >= h->end_min)
		out->why = CALENDAR_EVENING;
	return out->why != CALENDAR_WORKTIME;
}

int calendar_describe(const struct calendar_local *l, char *buf, size_t len)
{
	static const char *const days[] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
	                                   "Friday", "Saturday", "Sunday"};
	const char *day = l->wday >= 0 && l->wday < 7 ? days[l->wday] : "?";
	const char *reason, *name = "";

	switch (l->why) {
	case CALENDAR_WORKTIME:
		reason = "working time";
		break;
	case CALENDAR_EVENING:
		reason = "evening";
		break;
	case CALENDAR_EARLY:
		reason = "early";
		break;
	case CALENDAR_DAY_OFF:
		reason = "day off";
		break;
	case CALENDAR_HOLIDAY:
		if (l->holiday == NULL) {
			reason = "holiday";
		} else if (strcmp(l->holiday, "extra") == 0) {
			reason = "extra holiday";
		} else {
			reason = "holiday: ";
			name = l->holiday;
		}
		break;
	default:
		reason = "?";
		break;
	}
	return snprintf(buf, len, "%04d-%02d-%02d %02d:%02d %s (%s, %s%s)", l->year, l->month,
	                l->day, l->hour, l->minute, l->zone, day, reason, name);
}
