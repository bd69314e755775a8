/*
 * config — the configuration file (libconfig) turned into an immutable struct rf_config.
 *
 * The only module that includes libconfig. Defaults live in one table in config.c; every
 * value is range-checked; every problem is reported as "file:line: message" and all of them
 * are collected before config_load() fails. Secrets are never stored in the config file:
 * accounts name a password_file (mode must deny group/other access) or an environment
 * variable, read by config_secret_read() when a connection needs it.
 *
 * All strings in the structs are owned by the struct rf_config and live until config_free().
 */
#ifndef REDFLAG_CONFIG_H
#define REDFLAG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "redflag/util.h"

/* How a connection is protected. */
enum rf_tls {
	RF_TLS_IMPLICIT, /* TLS from the first byte (imaps://, smtps://) */
	RF_TLS_STARTTLS, /* plain connect, then STARTTLS; any failure is fatal */
	RF_TLS_NONE,     /* plaintext; only when the config says tls = "none" */
};

/* SASL mechanism for IMAP. */
enum rf_auth {
	RF_AUTH_LOGIN, /* IMAP LOGIN command (default) */
	RF_AUTH_PLAIN, /* AUTHENTICATE PLAIN */
};

/* Where a secret comes from: exactly one of the two is set. */
struct rf_secret {
	char *password_file; /* path; refused when group- or world-accessible */
	char *password_env;  /* name of an environment variable */
};

struct rf_account {
	char *name;        /* unique account name, used as a key in the database */
	char *url;         /* as written: imaps://host[:port] or imap://host[:port] */
	char *host;        /* host name or IP literal (without brackets) */
	unsigned port;     /* 993 for imaps, 143 for imap unless given */
	enum rf_tls tls;   /* imaps → implicit; imap → starttls, or none when tls = "none" */
	enum rf_auth auth; /* auth = "login" (default) | "plain" */
	char *user;        /* login name */
	struct rf_secret secret;
	char *ca_file; /* trust exactly this CA file instead of the system store; NULL = system */
	char **mailboxes;    /* mailboxes to read; "Sent" is resolved by SPECIAL-USE first */
	size_t n_mailboxes;  /* default: INBOX and Sent */
	unsigned timeout;    /* seconds per network wait (default 60, 5..600) */
	unsigned batch_size; /* messages per transaction (default 500, 1..5000) */
	uint64_t
	    max_message_bytes;  /* text bytes fetched per message (default 1 MiB, 4 KiB..64 MiB) */
	unsigned poll_interval; /* seconds between polls of non-IDLE mailboxes (default
	                           300, 30..86400) */
};

struct rf_owner {
	char *name;
	char **addresses; /* lower-cased */
	size_t n_addresses;
	char *language;          /* "da" | "de" | "en" */
	char *timezone;          /* tz database name, e.g. "Europe/Copenhagen" */
	unsigned work_start_min; /* minutes after midnight, from work_hours "08:00-17:00" */
	unsigned work_end_min;
	unsigned work_days;    /* bit 0 = Monday ... bit 6 = Sunday, from work_days "mon-fri" */
	char *holidays;        /* "dk", "de" or "none" */
	char **extra_holidays; /* "YYYY-MM-DD" */
	size_t n_extra_holidays;
	char **terms; /* free text lines for the onboarding mail */
	size_t n_terms;
};

struct rf_smtp {
	bool present; /* false when the config has no smtp group */
	char *url;    /* smtp://host:587 (STARTTLS unless tls = "none") or smtps://host:465 */
	enum rf_tls tls;
	char *user; /* may be NULL: no AUTH */
	struct rf_secret secret;
	char *ca_file;
	char *from;           /* envelope and header From address */
	unsigned timeout;     /* seconds per network wait (default 60) */
	unsigned retries;     /* extra attempts after a transient failure (default 3) */
	unsigned retry_delay; /* seconds before the first retry, x4 each time (default 30) */
};

struct rf_digest {
	char *to;    /* recipient; default: the owner's first address */
	char *every; /* "year" | "quarter" | "month" | "week" */
	/*
	 * When the digest is due, in the owner's time zone: "MM-DD HH:MM" for year (default
	 * "01-15 08:00"), "DD HH:MM" for quarter (day of the quarter's first month) and month
	 * (DD 01..28, so every month has it; default "01 08:00"), "DOW HH:MM" for week
	 * ("mon".."sun", default "mon 08:00").
	 */
	char *at;
	unsigned at_month;  /* 1..12 for "year", else 0 (parsed from at) */
	unsigned at_day;    /* day of month 1..31, or for "week" 1 = Monday .. 7 = Sunday */
	unsigned at_minute; /* minutes after midnight */
	char *language;     /* default: owner.language */
	unsigned max_bytes; /* size ceiling of the digest mail (default 1 MiB) */
};

/* Verdict thresholds (group `score`); the model is described in score.h. */
struct rf_score {
	double act;             /* red minus green share from which to act (0.30) */
	double release;         /* red minus green share from which to release (0.80) */
	double cherish;         /* green share for a favourite (0.30) ... */
	double cherish_red_max; /* ... with at most this red share (0.10) */
	unsigned min_volume;    /* shares are taken over at least this many points (5) */
	unsigned loyal_years;   /* relationship length that counts as loyalty (2) */
};

struct rf_client_conf {
	char *name;
	char **match; /* lower-cased "user@host" or "@domain" */
	size_t n_match;
	char *language;   /* NULL when not given */
	double rate;      /* 0 when not given */
	char *rate_since; /* "YYYY-MM-DD" or NULL */
};

struct rf_onboarding {
	bool auto_send;       /* onboarding.auto: mail each new client by itself */
	unsigned delay;       /* seconds after a new client's first mail (default 3600) */
	unsigned max_per_day; /* automatic mails per rolling 24 hours (default 3) */
	bool dry_run;         /* log what would be sent, send nothing */
};

struct rf_config {
	char *path; /* the file this was read from */
	struct rf_owner owner;
	char *database;  /* SQLite file path */
	char *rules;     /* rule pack directory */
	char *signals;   /* signal catalogue; NULL = signals.conf beside the rules directory */
	char *templates; /* mail templates; NULL = templates/ beside the rules directory */
	/* old_rate: a client whose rate_since is at least this many months old (default 12) */
	unsigned old_rate_months;
	struct rf_account *accounts;
	size_t n_accounts;
	struct rf_smtp smtp;
	struct rf_digest digest;
	struct rf_client_conf *clients;
	size_t n_clients;
	struct rf_onboarding onboarding;
	struct rf_score score;
	/*
	 * clients_need_reply: an unknown counterparty becomes a client only once the owner has
	 * written to them (default true). Key: client_policy = { need_reply = true; }.
	 */
	bool clients_need_reply;
	char **ignore; /* addresses or @domains that are never clients */
	size_t n_ignore;
	/*
	 * feedback = { folder = "redflagd"; }: the owner files a mail into <folder><delim><signal>
	 * or <folder><delim>wrong to correct its signals (sync.h). NULL: no feedback folders.
	 */
	char *feedback_folder;
};

/*
 * Reads and validates path. On success stores a new config in *out and returns 0. On
 * failure returns -EINVAL (or -ENOENT/-EACCES when the file cannot be read) and appends one
 * "file:line: message\n" line per problem to errors (never stopping at the first).
 */
int config_load(const char *path, struct rf_config **out, struct strbuf *errors);

/* Frees a config and NULLs the pointer; NULL is fine. */
void config_free(struct rf_config **cfg);

/* The account called name, or NULL. */
const struct rf_account *config_account(const struct rf_config *cfg, const char *name);

/*
 * Reads a secret: from the file (refused with -EPERM when its mode grants any group/other
 * permission, like ssh; the trailing newline is stripped) or from the environment variable
 * (-ENOENT when unset or empty). On success *out is a new string the caller must wipe and
 * free with config_secret_free(). err describes failures (without the secret).
 */
int config_secret_read(const struct rf_secret *s, char **out, char *err, size_t errlen);

/* Overwrites the secret with zeros, frees it and NULLs the pointer. */
void config_secret_free(char **secret);

/*
 * Parses "scheme://host[:port]" (IPv6 literals in brackets); *port is 0 when the URL names
 * none. On success sets *scheme and *host (new strings) and *port and returns 0; else -EINVAL.
 */
int config_parse_url(const char *url, char **scheme, char **host, unsigned *port);

#endif
