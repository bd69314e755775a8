/*
 * daemon-internal declarations: the commands main() dispatches to. Everything here may
 * print, exit and keep process-wide state; src/ may not.
 */
#ifndef REDFLAGD_DAEMON_H
#define REDFLAGD_DAEMON_H

#include <stdbool.h>

#include "redflag/classify.h"
#include "redflag/clients.h"
#include "redflag/config.h"
#include "redflag/rules.h"
#include "redflag/store.h"

/* Exit codes. */
enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,  /* the command failed (network, database, config) */
	EXIT_USAGE = 2, /* bad command line */
};

/* Global options, parsed before the command. */
struct options {
	const char *config_path;
	bool config_given; /* -c was on the command line (classify needs no config otherwise) */
	int verbose;       /* -v count */
	const char *trace; /* -T topics */
};

/* Loads the config named by opt or prints every error; NULL on failure. */
struct rf_config *daemon_load_config(const struct options *opt);

/* Commands: argc/argv start at the command's own arguments (argv[0] is the command name). */
int cmd_sync(const struct options *opt, int argc, char **argv);
int cmd_run(const struct options *opt, int argc, char **argv);
int cmd_stats(const struct options *opt, int argc, char **argv);
int cmd_clients(const struct options *opt, int argc, char **argv);
int cmd_client(const struct options *opt, int argc, char **argv);
int cmd_digest(const struct options *opt, int argc, char **argv);
int cmd_classify(const struct options *opt, int argc, char **argv);
int cmd_explain(const struct options *opt, int argc, char **argv);
int cmd_reclassify(const struct options *opt, int argc, char **argv);
int cmd_mark(const struct options *opt, int argc, char **argv);

/* A Message-ID as typed, with or without angle brackets, without them; a new string. */
char *daemon_message_id(const char *arg);

/*
 * The classifier's input for a stored message, as the import built it (text, body,
 * flags, recipients, direction, date), borrowing from row.
 */
void daemon_input_from_row(const struct store_message_row *row, struct classify_input *in);

/* Reads a whole file of at most 64 MB (the parser's ceiling); 0, -errno or -E2BIG. */
int daemon_slurp(const char *path, char **out, size_t *len);

/* "<the directory holding rules_dir>/model/signals.model": the model beside the rules. */
char *daemon_model_path(const char *rules_dir);

/*
 * The signal model that goes with the rules in rules_dir: model_path, or when NULL
 * daemon_model_path(rules_dir) (as signals.conf sits beside the rules), plus the
 * owner layer at layer_path when that file exists. Returns 0 with *out set; 0 with *out
 * NULL when the model file does not exist and required is false (logged once: the rules
 * alone decide); -1 after printing "FILE: why" for a model that cannot be used.
 */
int daemon_load_model(const char *rules_dir, const char *model_path, const char *layer_path,
                      bool required, struct classify_model **out);

/* The owner layer's file beside the database: "<dir of database>/owner.model". */
char *daemon_layer_path(const char *database);

int cmd_train(const struct options *opt, int argc, char **argv);

/*
 * Retrains the owner layer from the corrections in st (plus up to a thousand uncorrected
 * messages with the verdicts they have) on top of *cm's shipped model, writes it beside the
 * database and swaps *cm for the model with the new layer. Without a model (*cm NULL) or
 * corrections there is nothing to train (a stale layer file is removed). 0, or -1 logged.
 */
int daemon_owner_train(const struct rf_config *cfg, struct rules *r, struct classify_model **cm,
                       struct store *st);

/* The owner's working time from the config, for time signals (strings borrowed from cfg). */
void daemon_calendar_hours(const struct rf_config *cfg, struct calendar_hours *h);

/*
 * Loads the rule packs in dir and the catalogue (signals; NULL = beside dir) or prints every
 * error; NULL on failure.
 */
struct rules *daemon_load_rules(const char *dir, const char *signals);

/*
 * The digest schedule of `run`: sends the latest due period's digest unless it was sent (or
 * may have been). Returns the seconds until it should be called again (the next due time,
 * or a backoff after a failure counted in *failures), at most a day.
 */
int64_t daemon_digest_tick(const struct rf_config *cfg, struct rules *rules, struct store *st,
                           unsigned *failures);

int cmd_onboard(const struct options *opt, int argc, char **argv);
int cmd_farewell(const struct options *opt, int argc, char **argv);

/* t (UTC) as "YYYY-MM-DD" in zone tz, or "-" for 0 / an unrepresentable time. */
void daemon_local_day(const char *tz, int64_t t, char *buf, size_t len);

/* When the next review is due (UTC seconds), from digest.every and digest.at; 0 if unknown. */
int64_t daemon_next_review(const struct rf_config *cfg, int64_t now);

/*
 * Automatic onboarding in `run` (onboard.c): mails each new client once, within the safety
 * rules. Returns the seconds until it should be called again.
 */
int64_t daemon_onboard_tick(const struct rf_config *cfg, struct store *st);

/* Loads every template (all kinds and languages) or prints every error; 0 or -EINVAL. */
int daemon_check_templates(const struct rf_config *cfg);

/*
 * The client called name (exactly, else ignoring case) among those `clients` lists, as a
 * new string; NULL when there is none.
 */
char *daemon_find_client(const struct rf_config *cfg, struct store *st, const char *name);

/*
 * A message with this Message-ID (with angle brackets) was synced from one of the mailboxes:
 * how a mail that may have been delivered is recognised as delivered.
 */
bool daemon_message_seen(struct store *st, const char *message_id);

/*
 * Test hook: with REDFLAGD_TEST_HOOK=crash-after-send the process kills itself here, between
 * the server's 250 and the database's record of it, so tests can check a mail is not sent
 * twice after such a crash. Does nothing otherwise.
 */
void daemon_crash_after_send(void);

struct smtp_status;
/*
 * Sends a composed mail through cfg->smtp (password from its secret), at most attempts
 * tries with the configured backoff. Returns like smtp_send_retry().
 */
int daemon_smtp_send(const struct rf_config *cfg, const char *const *rcpt, size_t n_rcpt,
                     const char *mail, size_t len, unsigned attempts,
                     void (*on_data_end)(void *arg), void *arg, struct smtp_status *st, char *err,
                     size_t errlen);

#endif
