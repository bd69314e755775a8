/*
 * config — libconfig 1.5 → struct rf_config.
 *
 * Every setting is described once, in the key tables below: name, type, where it lands in
 * the struct, its default and its range. parse_section() walks one table over one libconfig
 * group; validate() does the checks that need more than one setting. Errors never stop the
 * walk: each one is appended as "file:line: message" and config_load() fails at the end.
 */
#include "redflag/config.h"

#include "redflag/calendar.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libconfig.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef REDFLAGD_DATADIR
#define REDFLAGD_DATADIR "/usr/local/share/redflagd"
#endif

#define CONFIG_MAX_BYTES  (1024 * 1024) /* a config file larger than this is a mistake */
#define SECRET_MAX_BYTES  4096
#define LIST_MAX_ELEMENTS 10000
#define NOFIELD           ((size_t)-1)

struct loader {
	const char *path; /* as given, for messages about the file itself */
	char *dir;        /* absolute directory of the config file */
	char *text;       /* the main file, to re-read integer literals (see int_literal) */
	size_t text_len;
	struct strbuf *errors; /* borrowed */
	unsigned n_errors;
};

static void errf(struct loader *ld, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void errf(struct loader *ld, const config_setting_t *s, const char *fmt, ...)
{
	const char *file = s ? config_setting_source_file(s) : NULL;
	unsigned line = s ? config_setting_source_line(s) : 0;
	va_list ap;

	/* The root group has no line; problems with it (a missing group) point at line 1. */
	strbuf_appendf(ld->errors, "%s:%u: ", file ? file : ld->path, line ? line : 1);
	va_start(ap, fmt);
	{
		char msg[512];

		vsnprintf(msg, sizeof(msg), fmt, ap);
		strbuf_appends(ld->errors, msg);
	}
	va_end(ap);
	strbuf_appendc(ld->errors, '\n');
	ld->n_errors++;
}

/* ---- value checkers: validate (and maybe convert) one string; 0 or -1 with msg ---- */

struct key;
typedef int (*check_fn)(const struct key *k, void *base, char *value, char *msg, size_t msglen);

enum kind {
	K_STR,    /* string, stored at off (unless NOFIELD) */
	K_PATH,   /* string, resolved against the config file's directory */
	K_LIST,   /* array or list of strings: char ** at off, size_t count at off_n */
	K_BOOL,   /* bool at off */
	K_UINT,   /* unsigned at off */
	K_U64,    /* uint64_t at off */
	K_DOUBLE, /* double at off; an integer is accepted too */
};

struct key {
	const char *name;
	enum kind kind;
	size_t off;
	size_t off_n; /* K_LIST: offset of the count */
	size_t aux;   /* extra offset a checker writes to (enums) */
	bool required;
	bool nonempty;               /* K_LIST: at least one element */
	const char *def;             /* K_STR/K_PATH default; NULL = leave NULL */
	const char *const *def_list; /* K_LIST default, NULL-terminated */
	int64_t def_int, min, max;   /* K_BOOL/K_UINT/K_U64 */
	double def_dbl, min_dbl, max_dbl;
	check_fn check; /* for strings and each list element */
};

static int check_lang(const struct key *k, void *base, char *v, char *msg, size_t msglen)
{
	(void)k;
	(void)base;
	str_lower(v);
	if (strcmp(v, "da") == 0 || strcmp(v, "de") == 0 || strcmp(v, "en") == 0)
		return 0;
	snprintf(msg, msglen, "language must be \"da\", \"de\" or \"en\"");
	return -1;
}

/* A plausible addr-spec; lower-cases it. Not RFC 5322, just enough to catch typos. */
static bool address_ok(char *v, bool allow_domain_only)
{
	char *at = strchr(v, '@');

	str_lower(v);
	if (at == NULL || strchr(at + 1, '@') != NULL || at[1] == '\0' || strlen(v) > 254)
		return false;
	if (at == v && !allow_domain_only)
		return false;
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if (*p <= ' ' || *p == 0x7f || strchr("<>,;:\"()[]\\", *p) != NULL)
			return false;
	if (at[1] == '.' || v[strlen(v) - 1] == '.')
		return false;
	return true;
}

static int check_addr(const struct key *k, void *base, char *v, char *msg, size_t msglen)
{
	(void)base;
	if (address_ok(v, false))
		return 0;
	snprintf(msg, msglen, "'%s': \"%s\" is not an e-mail address", k->name, v);
	return -1;
}

static int check_match(const struct key *k, void *base, char *v, char *msg, size_t msglen)
{
	(void)base;
	if (address_ok(v, true))
		return 0;
	snprintf(msg, msglen, "'%s': \"%s\" is neither \"user@host\" nor \"@domain\"", k->name, v);
	return -1;
}

static int check_tz(const struct key *k, void *base, char *v, char *msg, size_t msglen)
{
	(void)k;
	(void)base;
	if (calendar_tz_check(v) == 0)
		return 0;
	snprintf(msg, msglen, "unknown time zone \"%s\" (expected a name like \"Europe/Berlin\")",
	         v);
	return -1;
}

/* Parses exactly "HH:MM" at s into minutes; end of day "24:00" only when allow24. */
static int parse_hhmm(const char *s, bool allow24, unsigned *min)
{
	unsigned h, m;

	if (!isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) || s[2] != ':' ||
	    !isdigit((unsigned char)s[3]) || !isdigit((unsigned char)s[4]))
		return -1;
	h = (unsigned)(s[0] - '0') * 10 + (unsigned)(s[1] - '0');
	m = (unsigned)(s[3] - '0') * 10 + (unsigned)(s[4] - '0');
	if (m > 59 || h > 24 || (h == 24 && (!allow24 || m != 0)))
		return -1;
	*min = h * 60 + m;
	return 0;
}

static int check_hours(const struct key *k, void *base, char *v, char *msg, size_t msglen)
{
	struct rf_owner *o = base;
	unsigned a, b;

	(void)k;
	if (strlen(v) != 11 || v[5] != '-' || parse_hhmm(v, false, &a) < 0 ||
	    parse_hhmm(v + 6, true, &b) < 0) {
		snprintf(msg, msglen, "work_hours must look like \"08:00-17:00\"");
		return -1;
	}
	if (a >= b) {
		snprintf(msg, msglen, "work_hours: start %.5s is not before end %.5s", v, v + 6);
		return -1;
	}
	o->work_start_min = a;
	o->work_end_min = b;
	return 0;
}

static const char *const weekdays[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

/* "mon".."sun" at s (exactly 3 letters, any case) → 0..6, or -1. */
static int weekday(const char *s, size_t n)
{
	if (n != 3)
		return -1;
	for (int i = 0; i < 7; i++)
		if (strncasecmp(s, weekdays[i], 3) == 0)
			return i;
	return -1;
}

static int check_days(const struct key *k, void *base, char *v, char *msg, size_t msglen)
{
	struct rf_owner *o = base;
	unsigned mask = 0;
	const char *p = v;

	(void)k;
	for (;;) {
		size_t n = strcspn(p, ",");
		const char *dash = memchr(p, '-', n);
		int a, b;

		if (dash) {
			a = weekday(p, (size_t)(dash - p));
			b = weekday(dash + 1, n - (size_t)(dash - p) - 1);
		} else {
			a = b = weekday(p, n);
		}
		if (a < 0 || b < 0)
			goto bad;
		/* Ranges may wrap ("sun-thu"): walk forward from a until b. */
		for (int d = a;; d = (d + 1) % 7) {
			mask |= 1u << d;
			if (d == b)
				break;
		}
		if (p[n] == '\0')
			break;
		p += n + 1;
	}
	o->work_days = mask;
	return 0;
bad:
	snprintf(msg, msglen, "work_days must look like \"mon-fri\" or \"mon,tue,thu\"");
	return -1;
}

static int check_holidays(const struct key *k, void *base, char *v, char *msg, size_t msglen)
{
	(void)k;
	(void)base;
	str_lower(v);
	if (strcmp(v, "dk") == 0 || strcmp(v, "de") == 0 || strcmp(v, "none") == 0)
		return 0;
	snprintf(msg, msglen, "holidays must be \"dk\", \"de\" or \"none\"");
	return -1;
}

static bool leap(unsigned y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned month_days(unsigned y, unsigned m)
{
	static const unsigned d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return m == 2 && leap(y) ? 29 : d[m - 1];
}

/* Two or four digits at s → value. */
static bool digits(const char *s, size_t n, unsigned *out)
{
	unsigned v = 0;

	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*out = v;
	return true;
}

static int check_date(const struct key *k, void *base, char *v, char *msg, size_t msglen)
{
	unsigned y, m, d;

	(void)base;
	if (strlen(v) == 10 && v[4] == '-' && v[7] == '-' && digits(v, 4, &y) &&
	    digits(v + 5, 2, &m) && digits(v + 8, 2, &d) && y >= 1900 && y <= 9999 && m >= 1 &&
	    m <= 12 && d >= 1 && d <= month_days(y, m))
		return 0;
	snprintf(msg, msglen, "'%s': \"%s\" is not a date (YYYY-MM-DD)", k->name, v);
	return -1;
}

static int check_tls(const struct key *k, void *base, char *v, char *msg, size_t msglen)
{
	enum rf_tls *t = (enum rf_tls *)((char *)base + k->aux);

	str_lower(v);
	if (strcmp(v, "implicit") == 0)
		*t = RF_TLS_IMPLICIT;
	else if (strcmp(v, "starttls") == 0)
		*t = RF_TLS_STARTTLS;
	else if (strcmp(v, "none") == 0)
		*t = RF_TLS_NONE;
	else {
		snprintf(msg, msglen, "tls must be \"implicit\", \"starttls\" or \"none\"");
		return -1;
	}
	return 0;
}

static int check_auth(const struct key *k, void *base, char *v, char *msg, size_t msglen)
{
	struct rf_account *a = base;

	(void)k;
	str_lower(v);
	if (strcmp(v, "login") == 0)
		a->auth = RF_AUTH_LOGIN;
	else if (strcmp(v, "plain") == 0)
		a->auth = RF_AUTH_PLAIN;
	else {
		snprintf(msg, msglen, "auth must be \"login\" or \"plain\"");
		return -1;
	}
	return 0;
}

/* Checks url for one of two schemes; the secure one means implicit TLS. */
static int check_url_scheme(const char *v, const char *plain, const char *secure, unsigned *port,
                            char **host, enum rf_tls *tls, char *msg, size_t msglen)
{
	char *scheme = NULL;
	int r = -1;

	if (config_parse_url(v, &scheme, host, port) < 0) {
		snprintf(msg, msglen, "url \"%s\" is not %s://host[:port] or %s://host[:port]", v,
		         secure, plain);
		return -1;
	}
	if (strcmp(scheme, secure) == 0)
		*tls = RF_TLS_IMPLICIT;
	else if (strcmp(scheme, plain) == 0)
		*tls = RF_TLS_STARTTLS;
	else {
		snprintf(msg, msglen, "url \"%s\": scheme must be %s or %s", v, secure, plain);
		free(*host);
		*host = NULL;
		goto out;
	}
	r = 0;
out:
	free(scheme);
	return r;
}

static int check_imap_url(const struct key *k, void *base, char *v, char *msg, size_t msglen)
{
	struct rf_account *a = base;

	(void)k;
	free(a->host);
	a->host = NULL;
	return check_url_scheme(v, "imap", "imaps", &a->port, &a->host, &a->tls, msg, msglen);
}

static int check_smtp_url(const struct key *k, void *base, char *v, char *msg, size_t msglen)
{
	struct rf_smtp *s = base;
	unsigned port;
	char *host = NULL;
	int r;

	(void)k;
	r = check_url_scheme(v, "smtp", "smtps", &port, &host, &s->tls, msg, msglen);
	free(host);
	return r;
}

static int check_every(const struct key *k, void *base, char *v, char *msg, size_t msglen)
{
	(void)k;
	(void)base;
	str_lower(v);
	if (strcmp(v, "year") == 0 || strcmp(v, "quarter") == 0 || strcmp(v, "month") == 0 ||
	    strcmp(v, "week") == 0)
		return 0;
	snprintf(msg, msglen, "every must be \"year\", \"quarter\", \"month\" or \"week\"");
	return -1;
}

/* A mailbox name the owner files into: no IMAP wildcards, no control characters. */
static int check_folder(const struct key *k, void *base, char *v, char *msg, size_t msglen)
{
	(void)base;
	if (v[0] != '\0' && strlen(v) < 200 && strpbrk(v, "*%\"\\") == NULL) {
		bool ok = true;

		for (const unsigned char *p = (const unsigned char *)v; *p && ok; p++)
			ok = *p >= 0x20 && *p != 0x7f;
		if (ok)
			return 0;
	}
	snprintf(msg, msglen, "'%s': \"%s\" is not a usable mailbox name", k->name, v);
	return -1;
}

/* ---- the tables: every key, its type, default and range, in one place ---- */

#define STR(st, f)  .off = offsetof(st, f)
#define LIST(st, f) .kind = K_LIST, .off = offsetof(st, f), .off_n = offsetof(st, n_##f)

static const char *const default_mailboxes[] = {"INBOX", "Sent", NULL};

static const struct key root_keys[] = {
    {"database", K_PATH, STR(struct rf_config, database), .def = "/var/lib/redflagd/redflagd.db"},
    {"rules", K_PATH, STR(struct rf_config, rules), .def = REDFLAGD_DATADIR "/rules"},
    {"signals", K_PATH, STR(struct rf_config, signals)},
    {"templates", K_PATH, STR(struct rf_config, templates)},
    {"old_rate_months", K_UINT, STR(struct rf_config, old_rate_months), .def_int = 12, .min = 1,
     .max = 240},
    {"ignore", LIST(struct rf_config, ignore), .check = check_match},
    {.name = NULL},
};

static const struct key owner_keys[] = {
    {"name", K_STR, STR(struct rf_owner, name)},
    {"addresses", LIST(struct rf_owner, addresses), .required = true, .nonempty = true,
     .check = check_addr},
    {"language", K_STR, STR(struct rf_owner, language), .def = "en", .check = check_lang},
    {"timezone", K_STR, STR(struct rf_owner, timezone), .def = "UTC", .check = check_tz},
    {"work_hours", K_STR, NOFIELD, .def = "08:00-17:00", .check = check_hours},
    {"work_days", K_STR, NOFIELD, .def = "mon-fri", .check = check_days},
    {"holidays", K_STR, STR(struct rf_owner, holidays), .def = "none", .check = check_holidays},
    {"holidays_extra", .kind = K_LIST, .off = offsetof(struct rf_owner, extra_holidays),
     .off_n = offsetof(struct rf_owner, n_extra_holidays), .check = check_date},
    {"terms", LIST(struct rf_owner, terms)},
    {.name = NULL},
};

/* url comes before tls: the scheme sets the default that an explicit tls then overrides. */
static const struct key account_keys[] = {
    {"name", K_STR, STR(struct rf_account, name), .required = true},
    {"url", K_STR, STR(struct rf_account, url), .required = true, .check = check_imap_url},
    {"tls", K_STR, NOFIELD, .aux = offsetof(struct rf_account, tls), .check = check_tls},
    {"auth", K_STR, NOFIELD, .def = "login", .check = check_auth},
    {"user", K_STR, STR(struct rf_account, user), .required = true},
    {"password_file", K_PATH, STR(struct rf_account, secret.password_file)},
    {"password_env", K_STR, STR(struct rf_account, secret.password_env)},
    {"ca_file", K_PATH, STR(struct rf_account, ca_file)},
    {"mailboxes", LIST(struct rf_account, mailboxes), .nonempty = true,
     .def_list = default_mailboxes},
    {"timeout", K_UINT, STR(struct rf_account, timeout), .def_int = 60, .min = 5, .max = 600},
    {"batch_size", K_UINT, STR(struct rf_account, batch_size), .def_int = 500, .min = 1,
     .max = 5000},
    {"max_message_bytes", K_U64, STR(struct rf_account, max_message_bytes), .def_int = 1024 * 1024,
     .min = 4096, .max = 64 * 1024 * 1024},
    {"poll_interval", K_UINT, STR(struct rf_account, poll_interval), .def_int = 300, .min = 30,
     .max = 86400},
    {.name = NULL},
};

static const struct key smtp_keys[] = {
    {"url", K_STR, STR(struct rf_smtp, url), .required = true, .check = check_smtp_url},
    {"tls", K_STR, NOFIELD, .aux = offsetof(struct rf_smtp, tls), .check = check_tls},
    {"user", K_STR, STR(struct rf_smtp, user)},
    {"password_file", K_PATH, STR(struct rf_smtp, secret.password_file)},
    {"password_env", K_STR, STR(struct rf_smtp, secret.password_env)},
    {"ca_file", K_PATH, STR(struct rf_smtp, ca_file)},
    {"from", K_STR, STR(struct rf_smtp, from), .required = true, .check = check_addr},
    {"timeout", K_UINT, STR(struct rf_smtp, timeout), .def_int = 60, .min = 1, .max = 600},
    {"retries", K_UINT, STR(struct rf_smtp, retries), .def_int = 3, .min = 0, .max = 10},
    {"retry_delay", K_UINT, STR(struct rf_smtp, retry_delay), .def_int = 30, .min = 1, .max = 3600},
    {.name = NULL},
};

/* to, at and language default to values that depend on other settings: see validate(). */
static const struct key digest_keys[] = {
    {"to", K_STR, STR(struct rf_digest, to), .check = check_addr},
    {"every", K_STR, STR(struct rf_digest, every), .def = "year", .check = check_every},
    {"at", K_STR, STR(struct rf_digest, at)},
    {"language", K_STR, STR(struct rf_digest, language), .check = check_lang},
    {"max_bytes", K_UINT, STR(struct rf_digest, max_bytes), .def_int = 1048576, .min = 16384,
     .max = 16777216},
    {.name = NULL},
};

/* Verdict thresholds (shares and balances, 0..1); see score.h for the model. */
static const struct key score_keys[] = {
    {"act", K_DOUBLE, STR(struct rf_score, act), .def_dbl = 0.30, .min_dbl = 0.01, .max_dbl = 1},
    {"release", K_DOUBLE, STR(struct rf_score, release), .def_dbl = 0.80, .min_dbl = 0.01,
     .max_dbl = 1},
    {"cherish", K_DOUBLE, STR(struct rf_score, cherish), .def_dbl = 0.30, .min_dbl = 0.01,
     .max_dbl = 1},
    {"cherish_red_max", K_DOUBLE, STR(struct rf_score, cherish_red_max), .def_dbl = 0.10,
     .min_dbl = 0, .max_dbl = 1},
    {"min_volume", K_UINT, STR(struct rf_score, min_volume), .def_int = 5, .min = 1, .max = 1000},
    {"loyal_years", K_UINT, STR(struct rf_score, loyal_years), .def_int = 2, .min = 1, .max = 50},
    {.name = NULL},
};

static const struct key client_keys[] = {
    {"name", K_STR, STR(struct rf_client_conf, name), .required = true},
    {"match", LIST(struct rf_client_conf, match), .required = true, .nonempty = true,
     .check = check_match},
    {"language", K_STR, STR(struct rf_client_conf, language), .check = check_lang},
    {"rate", K_DOUBLE, STR(struct rf_client_conf, rate), .def_dbl = 0, .min_dbl = 0,
     .max_dbl = 1e9},
    {"rate_since", K_STR, STR(struct rf_client_conf, rate_since), .check = check_date},
    {.name = NULL},
};

static const struct key policy_keys[] = {
    {"need_reply", K_BOOL, STR(struct rf_config, clients_need_reply), .def_int = 1},
    {.name = NULL},
};

static const struct key onboarding_keys[] = {
    {"auto", K_BOOL, STR(struct rf_onboarding, auto_send), .def_int = 0},
    {"delay", K_UINT, STR(struct rf_onboarding, delay), .def_int = 3600, .min = 0,
     .max = 30 * 86400},
    {"max_per_day", K_UINT, STR(struct rf_onboarding, max_per_day), .def_int = 3, .min = 1,
     .max = 100},
    {"dry_run", K_BOOL, STR(struct rf_onboarding, dry_run), .def_int = 0},
    {.name = NULL},
};

static const struct key feedback_keys[] = {
    {"folder", K_STR, STR(struct rf_config, feedback_folder), .check = check_folder},
    {.name = NULL},
};

/* Groups and lists of groups at the top level, handled by config_load() itself. */
static const char *const root_groups[] = {
    "owner",         "accounts",   "smtp",  "digest",   "clients",
    "client_policy", "onboarding", "score", "feedback", NULL,
};

/* ---- generic walking ---- */

static const char *type_name(const struct key *k)
{
	switch (k->kind) {
	case K_STR:
	case K_PATH:
		return "a string";
	case K_LIST:
		return "a list of strings";
	case K_BOOL:
		return "true or false";
	case K_UINT:
	case K_U64:
		return "an integer";
	case K_DOUBLE:
		return "a number";
	}
	return "?";
}

/*
 * libconfig 1.5 silently wraps a decimal literal beyond 32 bits into an int (3000000000
 * becomes -1294967296) unless it carries an L suffix, and a wrapped value can land inside a
 * valid range. So for each integer setting in the main file we find its literal on its
 * source line and parse it ourselves. Returns true and the literal's value in *v when the
 * literal was found; *overflow when it does not even fit 64 bits.
 */
static bool int_literal(struct loader *ld, const config_setting_t *s, int64_t seen, int64_t *v,
                        bool *overflow)
{
	const char *name = config_setting_name(s);
	const char *file = config_setting_source_file(s);
	unsigned line = config_setting_source_line(s), l = 1;
	const char *p = ld->text, *end, *q;
	size_t nlen;
	bool found = false;

	*overflow = false;
	if (name == NULL || file == NULL || ld->text == NULL || strcmp(file, ld->path) != 0)
		return false;
	while (l < line && p != NULL) {
		p = memchr(p, '\n', ld->text_len - (size_t)(p - ld->text));
		if (p)
			p++, l++;
	}
	if (p == NULL)
		return false;
	end = memchr(p, '\n', ld->text_len - (size_t)(p - ld->text));
	if (end == NULL)
		end = ld->text + ld->text_len;
	nlen = strlen(name);
	for (q = p; q + nlen <= end; q++) {
		const char *r = q + nlen;
		unsigned long long u;
		bool neg = false, ovf;
		char *e;
		int base = 10;

		if (strncmp(q, name, nlen) != 0 ||
		    (q > p && (isalnum((unsigned char)q[-1]) || q[-1] == '_' || q[-1] == '-')))
			continue;
		while (r < end && (*r == ' ' || *r == '\t'))
			r++;
		if (r >= end || (*r != '=' && *r != ':'))
			continue;
		r++;
		while (r < end && (*r == ' ' || *r == '\t'))
			r++;
		if (r < end && (*r == '-' || *r == '+'))
			neg = *r++ == '-';
		if (r + 1 < end && r[0] == '0' && (r[1] == 'x' || r[1] == 'X'))
			base = 16;
		if (r >= end || !isdigit((unsigned char)*r))
			continue;
		errno = 0;
		u = strtoull(r, &e, base);
		ovf = errno == ERANGE || u > (unsigned long long)INT64_MAX;
		found = true;
		*overflow = ovf;
		*v = ovf ? 0 : (neg ? -(int64_t)u : (int64_t)u);
		/* Two settings of that name on one line: any literal agreeing with libconfig wins.
		 */
		if (!ovf && *v == seen)
			return true;
	}
	return found;
}

/* Reads an integer setting into *v; false (error reported) on wrong type or wrap. */
static bool get_int(struct loader *ld, const config_setting_t *s, const struct key *k, int64_t *v)
{
	int t = config_setting_type(s);
	int64_t lit;
	bool overflow;

	if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64) {
		errf(ld, s, "'%s' must be %s", k->name, type_name(k));
		return false;
	}
	*v = config_setting_get_int64(s);
	if (int_literal(ld, s, *v, &lit, &overflow)) {
		if (overflow) {
			errf(ld, s, "'%s' is out of range (%" PRId64 "..%" PRId64 ")", k->name,
			     k->min, k->max);
			return false;
		}
		*v = lit;
	}
	return true;
}

static char *resolve_path(struct loader *ld, const char *v)
{
	if (v[0] == '/' || ld->dir == NULL)
		return xstrdup(v);
	return xasprintf("%s/%s", ld->dir, v);
}

/* Runs k->check on a copy of v; returns the (possibly rewritten) copy, or NULL on error. */
static char *checked(struct loader *ld, const config_setting_t *where, const struct key *k,
                     void *base, const char *v)
{
	char msg[400];
	char *copy;

	if (*v == '\0') {
		errf(ld, where, "'%s' must not be empty", k->name);
		return NULL;
	}
	copy = xstrdup(v);
	if (k->check && k->check(k, base, copy, msg, sizeof(msg)) < 0) {
		errf(ld, where, "%s", msg);
		free(copy);
		return NULL;
	}
	return copy;
}

/* Stores a checked string value (or default) for a K_STR/K_PATH key. */
static void set_string(struct loader *ld, const config_setting_t *where, const struct key *k,
                       void *base, const char *v)
{
	char *c = checked(ld, where, k, base, v);

	if (c == NULL)
		return;
	if (k->off == NOFIELD) {
		free(c);
		return;
	}
	if (k->kind == K_PATH) {
		char *abs = resolve_path(ld, c);

		free(c);
		c = abs;
	}
	free(*(char **)((char *)base + k->off));
	*(char **)((char *)base + k->off) = c;
}

static void set_list(struct loader *ld, const config_setting_t *s, const struct key *k, void *base)
{
	char ***arr = (char ***)((char *)base + k->off);
	size_t *n = (size_t *)((char *)base + k->off_n);
	int t = s ? config_setting_type(s) : CONFIG_TYPE_NONE;
	int len;

	if (s == NULL) {
		for (const char *const *d = k->def_list; d && *d; d++) {
			*arr = xreallocarray(*arr, *n + 1, sizeof(**arr));
			(*arr)[(*n)++] = xstrdup(*d);
		}
		return;
	}
	if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST) {
		errf(ld, s, "'%s' must be %s", k->name, type_name(k));
		return;
	}
	len = config_setting_length(s);
	if (len == 0 && k->nonempty) {
		errf(ld, s, "'%s' must not be empty", k->name);
		return;
	}
	if (len > LIST_MAX_ELEMENTS) {
		errf(ld, s, "'%s' has more than %d entries", k->name, LIST_MAX_ELEMENTS);
		return;
	}
	*arr = xcalloc((size_t)len, sizeof(**arr));
	for (int i = 0; i < len; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *v = config_setting_get_string(e);
		char *c;

		if (config_setting_type(e) != CONFIG_TYPE_STRING || v == NULL) {
			errf(ld, e, "'%s' must be %s", k->name, type_name(k));
			continue;
		}
		c = checked(ld, e, k, base, v);
		if (c)
			(*arr)[(*n)++] = c;
	}
}

/*
 * Applies table keys to base from group grp (NULL: the group is absent, defaults only).
 * Unknown settings in grp are errors; so are missing required ones.
 */
static void parse_section(struct loader *ld, const config_setting_t *grp, const struct key *keys,
                          const char *const *also_known, void *base)
{
	if (grp) {
		for (int i = 0; i < config_setting_length(grp); i++) {
			const config_setting_t *s = config_setting_get_elem(grp, (unsigned)i);
			const char *name = config_setting_name(s);
			bool known = false;

			for (const struct key *k = keys; k->name && !known; k++)
				known = strcmp(k->name, name) == 0;
			for (const char *const *a = also_known; a && *a && !known; a++)
				known = strcmp(*a, name) == 0;
			if (!known)
				errf(ld, s, "unknown setting '%s'", name);
		}
	}
	for (const struct key *k = keys; k->name; k++) {
		const config_setting_t *s = grp ? config_setting_get_member(grp, k->name) : NULL;
		char *field = k->off == NOFIELD ? NULL : (char *)base + k->off;
		int64_t iv;

		if (s == NULL && k->required && grp != NULL)
			errf(ld, grp, "missing required setting '%s'", k->name);
		switch (k->kind) {
		case K_STR:
		case K_PATH:
			if (s == NULL) {
				if (k->def)
					set_string(ld, grp, k, base, k->def);
			} else if (config_setting_type(s) != CONFIG_TYPE_STRING) {
				errf(ld, s, "'%s' must be %s", k->name, type_name(k));
			} else {
				set_string(ld, s, k, base, config_setting_get_string(s));
			}
			break;
		case K_LIST:
			set_list(ld, s, k, base);
			break;
		case K_BOOL:
			if (s && config_setting_type(s) != CONFIG_TYPE_BOOL)
				errf(ld, s, "'%s' must be %s", k->name, type_name(k));
			else
				*(bool *)field = s ? config_setting_get_bool(s) : k->def_int != 0;
			break;
		case K_UINT:
		case K_U64:
			iv = k->def_int;
			if (s && !get_int(ld, s, k, &iv))
				break;
			if (iv < k->min || iv > k->max) {
				errf(ld, s,
				     "'%s' must be between %" PRId64 " and %" PRId64
				     " (got %" PRId64 ")",
				     k->name, k->min, k->max, iv);
				break;
			}
			if (k->kind == K_UINT)
				*(unsigned *)field = (unsigned)iv;
			else
				*(uint64_t *)field = (uint64_t)iv;
			break;
		case K_DOUBLE: {
			double d = k->def_dbl;

			if (s && config_setting_type(s) == CONFIG_TYPE_FLOAT) {
				d = config_setting_get_float(s);
			} else if (s) {
				if (!get_int(ld, s, k, &iv))
					break;
				d = (double)iv;
			}
			if (!isfinite(d) || d < k->min_dbl || d > k->max_dbl) {
				errf(ld, s, "'%s' must be between %g and %g", k->name, k->min_dbl,
				     k->max_dbl);
				break;
			}
			memcpy(field, &d, sizeof(d));
			break;
		}
		}
	}
}

/* A member of grp for locating a message, falling back to grp itself. */
static const config_setting_t *loc(const config_setting_t *grp, const char *name)
{
	const config_setting_t *s = grp ? config_setting_get_member(grp, name) : NULL;

	return s ? s : grp;
}

/* ---- cross-field checks, all in one place ---- */

static void check_secret(struct loader *ld, const config_setting_t *grp, const char *what,
                         const struct rf_secret *sec, bool needed)
{
	int n = (sec->password_file != NULL) + (sec->password_env != NULL);

	if (needed && n != 1)
		errf(ld, grp, "%s: set exactly one of password_file and password_env", what);
	else if (!needed && n != 0)
		errf(ld, loc(grp, sec->password_file ? "password_file" : "password_env"),
		     "%s: a password needs a user", what);
}

static void check_tls_scheme(struct loader *ld, const config_setting_t *grp, const char *what,
                             const char *url, enum rf_tls tls, const char *secure)
{
	char *scheme = NULL, *host = NULL;
	unsigned port;
	bool is_secure;

	if (url == NULL || config_parse_url(url, &scheme, &host, &port) < 0)
		return;
	is_secure = strcmp(scheme, secure) == 0;
	if (is_secure && tls != RF_TLS_IMPLICIT)
		errf(ld, loc(grp, "tls"),
		     "%s: %s:// always uses implicit TLS; drop 'tls' or use %.*s://", what, secure,
		     (int)strlen(secure) - 1, secure);
	else if (!is_secure && tls == RF_TLS_IMPLICIT)
		errf(ld, loc(grp, "tls"), "%s: implicit TLS needs a %s:// url", what, secure);
	free(scheme);
	free(host);
}

/* Parses digest.at for every; fills the parsed fields. */
static int parse_at(struct rf_digest *d)
{
	const char *a = d->at;
	size_t n = strlen(a);
	unsigned m, day;

	d->at_month = 0;
	if (strcmp(d->every, "year") == 0) {
		if (n != 11 || a[2] != '-' || a[5] != ' ' || !digits(a, 2, &m) ||
		    !digits(a + 3, 2, &day) || m < 1 || m > 12 || day < 1 ||
		    day > month_days(2001, m))
			return -1;
		d->at_month = m;
		d->at_day = day;
		return parse_hhmm(a + 6, false, &d->at_minute);
	}
	if (strcmp(d->every, "week") == 0) {
		int w = weekday(a, 3);

		if (n != 9 || a[3] != ' ' || w < 0)
			return -1;
		d->at_day = (unsigned)w + 1;
		return parse_hhmm(a + 4, false, &d->at_minute);
	}
	/* month and quarter: a day every month has */
	if (n != 8 || a[2] != ' ' || !digits(a, 2, &day) || day < 1 || day > 28)
		return -1;
	d->at_day = day;
	return parse_hhmm(a + 3, false, &d->at_minute);
}

static const char *default_at(const char *every)
{
	if (strcmp(every, "year") == 0)
		return "01-15 08:00";
	if (strcmp(every, "week") == 0)
		return "mon 08:00";
	return "01 08:00";
}

static void validate(struct loader *ld, struct rf_config *cfg, const config_setting_t *root)
{
	const config_setting_t *accts = config_setting_get_member(root, "accounts");
	const config_setting_t *clients = config_setting_get_member(root, "clients");
	const config_setting_t *smtp = config_setting_get_member(root, "smtp");
	const config_setting_t *digest = config_setting_get_member(root, "digest");

	for (size_t i = 0; i < cfg->n_accounts; i++) {
		struct rf_account *a = &cfg->accounts[i];
		const config_setting_t *g = config_setting_get_elem(accts, (unsigned)i);
		char what[300];

		snprintf(what, sizeof(what), "account '%s'", a->name ? a->name : "?");
		for (size_t j = 0; a->name && j < i; j++)
			if (cfg->accounts[j].name && strcmp(cfg->accounts[j].name, a->name) == 0) {
				errf(ld, loc(g, "name"),
				     "duplicate account name '%s' (first at line %u)", a->name,
				     config_setting_source_line(
				         config_setting_get_elem(accts, (unsigned)j)));
				break;
			}
		check_secret(ld, g, what, &a->secret, true);
		check_tls_scheme(ld, g, what, a->url, a->tls, "imaps");
		if (a->port == 0)
			a->port = a->tls == RF_TLS_IMPLICIT ? 993 : 143;
	}
	if (cfg->smtp.present) {
		check_secret(ld, smtp, "smtp", &cfg->smtp.secret, cfg->smtp.user != NULL);
		check_tls_scheme(ld, smtp, "smtp", cfg->smtp.url, cfg->smtp.tls, "smtps");
	}

	if (cfg->score.act >= cfg->score.release)
		errf(ld, loc(config_setting_get_member(root, "score"), "act"),
		     "score: act (%.2f) must be below release (%.2f)", cfg->score.act,
		     cfg->score.release);

	if (cfg->owner.name == NULL && cfg->owner.n_addresses > 0)
		cfg->owner.name = xstrdup(cfg->owner.addresses[0]);
	if (cfg->digest.to == NULL && cfg->owner.n_addresses > 0)
		cfg->digest.to = xstrdup(cfg->owner.addresses[0]);
	if (cfg->digest.language == NULL && cfg->owner.language)
		cfg->digest.language = xstrdup(cfg->owner.language);
	if (cfg->digest.every) {
		if (cfg->digest.at == NULL)
			cfg->digest.at = xstrdup(default_at(cfg->digest.every));
		if (parse_at(&cfg->digest) < 0)
			errf(ld, loc(digest, "at"),
			     "at \"%s\" does not fit every = \"%s\" (e.g. \"%s\")", cfg->digest.at,
			     cfg->digest.every, default_at(cfg->digest.every));
	}

	for (size_t i = 0; i < cfg->n_clients; i++) {
		const struct rf_client_conf *c = &cfg->clients[i];
		const config_setting_t *g = config_setting_get_elem(clients, (unsigned)i);

		for (size_t j = 0; c->name && j < i; j++)
			if (cfg->clients[j].name && strcmp(cfg->clients[j].name, c->name) == 0) {
				errf(ld, loc(g, "name"), "duplicate client name '%s'", c->name);
				break;
			}
		/* One address may belong to one client only, or the mapping would be arbitrary. */
		for (size_t m = 0; m < c->n_match; m++)
			for (size_t j = 0; j <= i; j++) {
				const struct rf_client_conf *o = &cfg->clients[j];
				size_t lim = j == i ? m : o->n_match;
				bool dup = false;

				for (size_t n = 0; n < lim && !dup; n++)
					dup = strcmp(o->match[n], c->match[m]) == 0;
				if (dup) {
					errf(ld, loc(g, "match"),
					     "'%s' is already matched by client '%s'", c->match[m],
					     o->name ? o->name : "?");
					j = i + 1;
				}
			}
	}
}

/* ---- loading ---- */

static int read_text(const char *path, char **text, size_t *len, struct strbuf *errors)
{
	struct strbuf b = STRBUF_INIT;
	char buf[8192];
	int fd, r = 0;
	ssize_t n;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto out;
		}
		if (b.len + (size_t)n > CONFIG_MAX_BYTES) {
			r = -EFBIG;
			goto out;
		}
		strbuf_append(&b, buf, (size_t)n);
	}
out:
	if (fd >= 0)
		close(fd);
	if (r < 0) {
		strbuf_appendf(errors, "%s: cannot read: %s\n", path, strerror(-r));
		strbuf_release(&b);
		return r;
	}
	*text = strbuf_detach(&b, len);
	return 0;
}

static char *config_dir(const char *path)
{
	char *copy = xstrdup(path), *slash = strrchr(copy, '/'), *abs;

	if (slash == copy)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	abs = realpath(slash ? copy : ".", NULL);
	free(copy);
	return abs;
}

/* Parses a list of groups (accounts, clients) into a new array of n elements of size sz. */
static void *parse_group_list(struct loader *ld, const config_setting_t *s, const char *what,
                              const struct key *keys, size_t sz, size_t *n)
{
	char *arr;
	int len;

	*n = 0;
	if (s == NULL)
		return NULL;
	if (config_setting_type(s) != CONFIG_TYPE_LIST) {
		errf(ld, s, "'%s' must be a list of groups: %s = ( { ... }, { ... } );", what,
		     what);
		return NULL;
	}
	len = config_setting_length(s);
	if (len > LIST_MAX_ELEMENTS) {
		errf(ld, s, "'%s' has more than %d entries", what, LIST_MAX_ELEMENTS);
		return NULL;
	}
	arr = xcalloc((size_t)len, sz);
	for (int i = 0; i < len; i++) {
		const config_setting_t *g = config_setting_get_elem(s, (unsigned)i);

		if (config_setting_type(g) != CONFIG_TYPE_GROUP)
			errf(ld, g, "'%s' entries must be groups { ... }", what);
		else
			parse_section(ld, g, keys, NULL, arr + (size_t)i * sz);
	}
	*n = (size_t)len;
	return arr;
}

/* The group called name under root, or NULL; reports a wrong type. */
static const config_setting_t *group(struct loader *ld, const config_setting_t *root,
                                     const char *name)
{
	const config_setting_t *s = config_setting_get_member(root, name);

	if (s && config_setting_type(s) != CONFIG_TYPE_GROUP) {
		errf(ld, s, "'%s' must be a group { ... }", name);
		return NULL;
	}
	return s;
}

int config_load(const char *path, struct rf_config **out, struct strbuf *errors)
{
	struct loader ld = {.path = path, .errors = errors};
	struct rf_config *cfg = NULL;
	config_t lc;
	const config_setting_t *root, *s;
	int r;

	*out = NULL;
	config_init(&lc);
	r = read_text(path, &ld.text, &ld.text_len, errors);
	if (r < 0)
		goto out;
	ld.dir = config_dir(path);
	if (ld.dir)
		config_set_include_dir(&lc, ld.dir);
	if (config_read_file(&lc, path) == CONFIG_FALSE) {
		const char *f = config_error_file(&lc);

		strbuf_appendf(errors, "%s:%d: %s\n", f ? f : path, config_error_line(&lc),
		               config_error_text(&lc));
		r = -EINVAL;
		goto out;
	}
	cfg = xcalloc(1, sizeof(*cfg));
	cfg->path = xstrdup(path);
	root = config_root_setting(&lc);

	parse_section(&ld, root, root_keys, root_groups, cfg);
	s = group(&ld, root, "owner");
	if (s == NULL && config_setting_get_member(root, "owner") == NULL)
		errf(&ld, NULL, "missing required group 'owner' (owner = { addresses = [...]; };)");
	parse_section(&ld, s, owner_keys, NULL, &cfg->owner);
	cfg->accounts =
	    parse_group_list(&ld, config_setting_get_member(root, "accounts"), "accounts",
	                     account_keys, sizeof(*cfg->accounts), &cfg->n_accounts);
	s = group(&ld, root, "smtp");
	if (s) {
		cfg->smtp.present = true;
		parse_section(&ld, s, smtp_keys, NULL, &cfg->smtp);
	}
	parse_section(&ld, group(&ld, root, "digest"), digest_keys, NULL, &cfg->digest);
	cfg->clients = parse_group_list(&ld, config_setting_get_member(root, "clients"), "clients",
	                                client_keys, sizeof(*cfg->clients), &cfg->n_clients);
	parse_section(&ld, group(&ld, root, "client_policy"), policy_keys, NULL, cfg);
	parse_section(&ld, group(&ld, root, "onboarding"), onboarding_keys, NULL, &cfg->onboarding);
	parse_section(&ld, group(&ld, root, "score"), score_keys, NULL, &cfg->score);
	parse_section(&ld, group(&ld, root, "feedback"), feedback_keys, NULL, cfg);
	validate(&ld, cfg, root);

	r = ld.n_errors ? -EINVAL : 0;
out:
	config_destroy(&lc);
	free(ld.dir);
	free(ld.text);
	if (r < 0)
		config_free(&cfg);
	else
		*out = cfg;
	return r;
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void free_secret(struct rf_secret *s)
{
	free(s->password_file);
	free(s->password_env);
}

void config_free(struct rf_config **cfgp)
{
	struct rf_config *cfg = cfgp ? *cfgp : NULL;

	if (cfg == NULL)
		return;
	free(cfg->path);
	free(cfg->owner.name);
	free_list(cfg->owner.addresses, cfg->owner.n_addresses);
	free(cfg->owner.language);
	free(cfg->owner.timezone);
	free(cfg->owner.holidays);
	free_list(cfg->owner.extra_holidays, cfg->owner.n_extra_holidays);
	free_list(cfg->owner.terms, cfg->owner.n_terms);
	free(cfg->database);
	free(cfg->rules);
	free(cfg->signals);
	free(cfg->templates);
	for (size_t i = 0; i < cfg->n_accounts; i++) {
		struct rf_account *a = &cfg->accounts[i];

		free(a->name);
		free(a->url);
		free(a->host);
		free(a->user);
		free_secret(&a->secret);
		free(a->ca_file);
		free_list(a->mailboxes, a->n_mailboxes);
	}
	free(cfg->accounts);
	free(cfg->smtp.url);
	free(cfg->smtp.user);
	free_secret(&cfg->smtp.secret);
	free(cfg->smtp.ca_file);
	free(cfg->smtp.from);
	free(cfg->digest.to);
	free(cfg->digest.every);
	free(cfg->digest.at);
	free(cfg->digest.language);
	for (size_t i = 0; i < cfg->n_clients; i++) {
		struct rf_client_conf *c = &cfg->clients[i];

		free(c->name);
		free_list(c->match, c->n_match);
		free(c->language);
		free(c->rate_since);
	}
	free(cfg->clients);
	free_list(cfg->ignore, cfg->n_ignore);
	free(cfg->feedback_folder);
	free(cfg);
	*cfgp = NULL;
}

const struct rf_account *config_account(const struct rf_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_accounts; i++)
		if (cfg->accounts[i].name && strcmp(cfg->accounts[i].name, name) == 0)
			return &cfg->accounts[i];
	return NULL;
}

/* ---- secrets ---- */

static int secret_from_file(const char *path, char **out, char *err, size_t errlen)
{
	char buf[SECRET_MAX_BYTES + 1];
	struct stat st;
	size_t len = 0;
	int fd, r = 0;

	/* O_NONBLOCK: a FIFO planted at the path must not hang us before fstat rejects it. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "password file %s: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		snprintf(err, errlen, "password file %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		snprintf(err, errlen, "password file %s is not a regular file", path);
		goto out;
	}
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		r = -EPERM;
		snprintf(err, errlen, "password file %s is owned by uid %u, not by us or root",
		         path, (unsigned)st.st_uid);
		goto out;
	}
	if ((st.st_mode & 077) != 0) {
		r = -EPERM;
		snprintf(err, errlen,
		         "password file %s is accessible by group or others (mode %04o); run chmod "
		         "600 %s",
		         path, (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			snprintf(err, errlen, "password file %s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > SECRET_MAX_BYTES) {
			r = -E2BIG;
			snprintf(err, errlen, "password file %s is larger than %d bytes", path,
			         SECRET_MAX_BYTES);
			goto out;
		}
	}
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	if (len == 0 || memchr(buf, '\0', len) != NULL) {
		r = -EINVAL;
		snprintf(err, errlen, "password file %s is empty or contains a NUL byte", path);
		goto out;
	}
	*out = xstrndup(buf, len);
out:
	explicit_bzero(buf, sizeof(buf));
	if (fd >= 0)
		close(fd);
	return r;
}

int config_secret_read(const struct rf_secret *s, char **out, char *err, size_t errlen)
{
	const char *v;

	*out = NULL;
	if (s->password_file)
		return secret_from_file(s->password_file, out, err, errlen);
	if (s->password_env == NULL) {
		snprintf(err, errlen, "no password_file or password_env configured");
		return -EINVAL;
	}
	v = getenv(s->password_env);
	if (v == NULL || *v == '\0') {
		snprintf(err, errlen, "environment variable %s is not set or empty",
		         s->password_env);
		return -ENOENT;
	}
	if (strlen(v) > SECRET_MAX_BYTES) {
		snprintf(err, errlen, "environment variable %s is longer than %d bytes",
		         s->password_env, SECRET_MAX_BYTES);
		return -E2BIG;
	}
	*out = xstrdup(v);
	return 0;
}

void config_secret_free(char **secret)
{
	if (secret == NULL || *secret == NULL)
		return;
	explicit_bzero(*secret, strlen(*secret));
	free(*secret);
	*secret = NULL;
}

/* ---- URLs ---- */

int config_parse_url(const char *url, char **scheme, char **host, unsigned *port)
{
	const char *p = strstr(url, "://"), *h, *hend, *rest;
	int64_t pv;
	char *sch;

	*scheme = *host = NULL;
	*port = 0;
	if (p == NULL || p == url)
		return -EINVAL;
	for (const char *c = url; c < p; c++)
		if (!isalpha((unsigned char)*c))
			return -EINVAL;
	h = p + 3;
	if (*h == '[') {
		/* IPv6 literal: hex digits, colons and dots (an embedded IPv4) inside brackets. */
		hend = strchr(h, ']');
		if (hend == NULL || hend == h + 1 ||
		    strspn(h + 1, "0123456789abcdefABCDEF:.") != (size_t)(hend - h - 1))
			return -EINVAL;
		rest = hend + 1;
		h++;
	} else {
		hend = h + strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		                     "0123456789.-_");
		if (hend == h || *h == '.' || *h == '-')
			return -EINVAL;
		rest = hend;
	}
	if (*rest == ':') {
		char num[8];
		size_t n = strcspn(rest + 1, "/");

		if (n == 0 || n >= sizeof(num))
			return -EINVAL;
		memcpy(num, rest + 1, n);
		num[n] = '\0';
		if (!isdigit((unsigned char)num[0]) || parse_int64(num, 1, 65535, &pv) < 0)
			return -EINVAL;
		*port = (unsigned)pv;
		rest += 1 + n;
	}
	/* Only an empty path is meaningful for IMAP/SMTP servers. */
	if (strcmp(rest, "") != 0 && strcmp(rest, "/") != 0) {
		*port = 0;
		return -EINVAL;
	}
	sch = xstrndup(url, (size_t)(p - url));
	*scheme = str_lower(sch);
	*host = str_lower(xstrndup(h, (size_t)(hend - h)));
	return 0;
}
