/*
 * sync — per mailbox: fetch new mail → parse (isolated) → resolve client → store, with the
 * checkpoint committed in the same transaction as the messages.
 *
 * The invariant everything relies on: sync_state.last_uid only ever moves forward together
 * with the rows of the messages it covers, in one SQLite transaction. A crash at any point
 * leaves the database at the end of the last committed batch; the next run fetches from there.
 */
#ifndef REDFLAG_SYNC_H
#define REDFLAG_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "redflag/classify.h"
#include "redflag/clients.h"
#include "redflag/config.h"
#include "redflag/imap.h"
#include "redflag/parser.h"
#include "redflag/store.h"

/* Where a mailbox's import stands, for progress display. */
struct sync_progress {
	const char *account;
	const char *mailbox;
	uint64_t done;  /* messages stored in this run */
	uint64_t total; /* estimate of the messages this run will store */
	bool finished;  /* last report for this mailbox */
};

/* Everything a sync needs; all borrowed, owned by the caller. */
struct sync_ctx {
	const struct rf_config *cfg;
	struct store *store;
	struct parser *parser;
	const struct clients *clients;
	/*
	 * Optional: classify every new message with these rules (and time signals with these
	 * hours, which may be NULL) and store its signals in the same transaction.
	 */
	struct rules *rules;
	/* Optional, with rules: the learned layer (classify.h); NULL: the rules alone. */
	struct classify_model *model;
	const struct calendar_hours *hours;
	/* Optional: called after every batch and at the end of each mailbox. */
	void (*progress)(void *arg, const struct sync_progress *p);
	/* Optional: polled between messages; true stops the sync (the open batch is rolled back).
	 */
	bool (*should_stop)(void *arg);
	void *arg; /* passed to progress and should_stop */
	/* Out: the owner's corrections sync_feedback() recorded (new ones), added up. */
	uint64_t corrections;
};

/* Totals of one sync_account() call. */
struct sync_result {
	uint64_t stored;      /* new rows */
	uint64_t unparseable; /* of which stored as unparseable */
};

/*
 * Reads the account's secret and opens an authenticated session (imap_open). Returns 0 or
 * a negative errno (see imap.h for the classes) with err set.
 */
int sync_connect(const struct rf_account *acct, struct imap_session **out, char *err,
                 size_t errlen);

/*
 * Resolves a configured mailbox name to the server's name: "Sent" (any case) is looked up
 * by SPECIAL-USE \Sent, then by the common names; others are used as written. *name is a new
 * string. 0, -ENOENT, or an IMAP error.
 */
int sync_resolve_mailbox(struct imap_session *s, const char *configured, char **name, char *err,
                         size_t errlen);

/*
 * Imports new mail from one mailbox (EXAMINE, then batches of acct->batch_size). Detects a
 * UIDVALIDITY change and refetches the mailbox (the store de-duplicates). Returns 0,
 * -ECANCELED when should_stop ended it, or a negative errno with err set. A failed or
 * cancelled batch is rolled back; earlier batches stay committed.
 */
int sync_mailbox(struct sync_ctx *ctx, const struct rf_account *acct, struct imap_session *s,
                 const char *mailbox, struct sync_result *res, char *err, size_t errlen);

/*
 * sync_mailbox() for every mailbox the account configures (missing ones are logged and
 * skipped), then sync_feedback() when the config names a feedback folder. Same returns.
 */
int sync_account(struct sync_ctx *ctx, const struct rf_account *acct, struct imap_session *s,
                 struct sync_result *res, char *err, size_t errlen);

/*
 * Reads the owner's feedback folders of the account (cfg->feedback_folder; needs ctx->rules
 * for the catalogue, does nothing without either): <folder><delim><signal> for each text
 * signal, then <folder><delim>wrong, with the server's hierarchy delimiter. Each is opened
 * with EXAMINE and only the Message-ID header of mail newer than its checkpoint is fetched
 * (store_feedback_state_get): nothing on the server changes, no folder is
 * created. Each mail is one correction, recorded once (store_feedback_add, source
 * "folder:<name>/<uid>", "+signal" or "wrong") and applied at once to the stored copies of
 * that Message-ID; one for a message not stored yet waits for it. Corrections and the
 * checkpoint commit together. Missing folders are no error: they are logged at info level
 * when the set of missing ones changes (kept in the meta table), at debug level otherwise.
 * Returns 0, -ECANCELED, or a negative errno with err set.
 */
int sync_feedback(struct sync_ctx *ctx, const struct rf_account *acct, struct imap_session *s,
                  char *err, size_t errlen);

/* The de-duplication key of a message (see store.h); a new string. raw may be NULL. */
char *sync_dedup_key(const struct message *m, const char *raw, size_t len);

#endif
