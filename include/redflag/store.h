/*
 * store — the SQLite database: schema, migrations and every SQL statement.
 *
 * One connection per struct store, opened in WAL mode with foreign keys on and a busy
 * timeout; the file is created with mode 0600. Statements are prepared once and reused.
 * Callers group writes in store_begin()/store_commit(): a fetched batch, its messages and
 * the mailbox's new last_uid commit together, so a crash loses or duplicates nothing.
 *
 * Strings passed in are borrowed; strings handed out are named so and owned by the caller.
 */
#ifndef REDFLAG_STORE_H
#define REDFLAG_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "redflag/clients.h"
#include "redflag/message.h"
#include "redflag/rules.h"

struct store;

/*
 * Opens (creating if needed, mode 0600) and migrates the database at path. Returns 0, or a
 * negative errno with err set (-EIO for SQLite errors, -EPROTO when the file's schema is
 * newer than this program, the errno of open()/stat()/chmod() for file-system errors such
 * as -ENOENT for a missing directory). A group- or world-accessible database (or -wal/-shm)
 * is chmod-ed to 0600 with a warning. Opening several stores on one file in one process
 * is fine.
 */
int store_open(const char *path, struct store **out, char *err, size_t errlen);

/* Finalises statements, closes the database, NULLs the pointer; NULL is fine. */
void store_close(struct store **s);

/* Last SQLite error text on this connection (valid until the next call). */
const char *store_errmsg(const struct store *s);

/*
 * How long a statement waits for another connection's lock before failing with -EAGAIN
 * (default 5000 ms). Tests shorten it.
 */
void store_set_busy_timeout(struct store *s, int ms);

/*
 * BEGIN IMMEDIATE / COMMIT / ROLLBACK. 0, -EAGAIN (database locked past the busy timeout)
 * or -EIO. store_rollback is safe outside a txn. Every function below may likewise return
 * -EAGAIN where it says -EIO.
 */
int store_begin(struct store *s);
int store_commit(struct store *s);
/*
 * BEGIN DEFERRED: a read transaction, ended with store_commit() or store_rollback(). Many
 * reads in one snapshot take the WAL read lock once instead of once per statement, and see
 * one consistent state of the database.
 */
int store_begin_read(struct store *s);
int store_rollback(struct store *s);

/* Sync checkpoint of one mailbox of one account. */
struct store_mailbox_state {
	uint32_t uidvalidity;
	uint32_t last_uid;       /* highest UID stored (0: none yet) */
	uint64_t highest_modseq; /* 0 when unknown */
};

/* Reads the checkpoint: 0 when found, -ENOENT when the mailbox was never synced, -EIO. */
int store_mailbox_get(struct store *s, const char *account, const char *mailbox,
                      struct store_mailbox_state *st);

/* Writes the checkpoint (insert or replace). 0 or -EIO. */
int store_mailbox_set(struct store *s, const char *account, const char *mailbox,
                      const struct store_mailbox_state *st);

/* One fetched message as it is stored. */
struct store_message {
	const char *account;
	const char *mailbox;
	uint32_t uidvalidity;
	uint32_t uid;
	uint64_t size;             /* server's RFC822.SIZE */
	const struct message *msg; /* NULL when unparseable */
	const char *parse_error;   /* reason when msg is NULL */
	const char *dedup_key; /* Message-ID, else "hash:<header hash>", else "uid:<uv>:<uid>" */
	const struct clients_match *who; /* NULL when msg is NULL */
};

/*
 * Stores one message (inside the caller's transaction). Idempotent: a row with the same
 * (account, mailbox, uidvalidity, uid) is left alone. After a UIDVALIDITY change the same
 * message arrives under new UIDs: a row of that mailbox with the same dedup_key and an
 * older uidvalidity is re-keyed instead of inserting a duplicate. Creates the client row
 * on first sight; outgoing mail marks the client as one the owner has written to.
 * Returns 1 when a row was inserted, 0 when it already existed or was re-keyed, -EIO.
 * An unparseable message (msg NULL) is stored with its parse_error ("unparseable" when
 * none is given) and no client; empty header strings are stored as NULL.
 */
int store_message_put(struct store *s, const struct store_message *m);

/*
 * messages.id of the row the last successful store_message_put() inserted, found or
 * re-keyed (for attaching signals in the same transaction); 0 after a failure.
 */
int64_t store_message_last_id(const struct store *s);

struct store_stats {
	int64_t messages;
	int64_t clients; /* clients as store_clients_foreach(need_reply) lists them */
	int64_t signals;
	int64_t unparseable;
};

/* Counts for stats --json. need_reply as in struct rf_config. 0 or -EIO. */
int store_stats(struct store *s, bool need_reply, struct store_stats *st);

/* Per mailbox: checkpoint plus the number of messages stored for it. */
struct store_mailbox_row {
	const char *account;
	const char *mailbox;
	struct store_mailbox_state state;
	int64_t messages;
};

/*
 * Calls fn for every synced mailbox (ordered by account, mailbox); stops on fn's nonzero
 * return and returns it. Row strings are valid only during the call. fn must not call
 * the same foreach again (the statement is shared).
 */
int store_mailboxes_foreach(struct store *s,
                            int (*fn)(void *arg, const struct store_mailbox_row *r), void *arg);

struct store_client_row {
	int64_t id;
	const char *name;
	bool configured;
	bool owner_wrote; /* the owner has written to them */
	int64_t messages_in;
	int64_t messages_out;
	int64_t first_date; /* UTC seconds; 0 when unknown */
	int64_t last_date;
	int64_t onboarded_at; /* when the onboarding mail was sent; 0 = not */
};

/*
 * Calls fn for each client (configured ones, plus automatic ones the owner has written to;
 * all automatic ones when need_reply is false), ordered by message count descending, then
 * name. Returns like store_mailboxes_foreach().
 */
int store_clients_foreach(struct store *s, bool need_reply,
                          int (*fn)(void *arg, const struct store_client_row *r), void *arg);

/* One signal of a stored message. Strings are borrowed (in and out). */
struct store_signal {
	const char *signal;
	const char *rule;
	double weight;
	const char *excerpt;
};

/*
 * Replaces the signals of the message with row id message by v[0..n) and records the
 * detected language and the signals' summary on the message (inside the caller's
 * transaction). 0 or -EIO.
 */
int store_signals_set(struct store *s, int64_t message, const char *lang,
                      const struct store_signal *v, size_t n);

/* Calls fn for each signal of a message in the order stored; returns like the foreaches. */
int store_signals_foreach(struct store *s, int64_t message,
                          int (*fn)(void *arg, const struct store_signal *sig), void *arg);

/* A stored message as explain and reclassify need it; strings "" when NULL in the table. */
struct store_message_row {
	int64_t id; /* messages.id */
	const char *account;
	const char *mailbox;
	uint32_t uid;
	const char *message_id; /* without angle brackets */
	int64_t date;
	int direction; /* enum rf_direction */
	const char *from_addr;
	const char *subject;
	const char *text; /* the author's new text */
	unsigned flags;   /* MESSAGE_* */
	const char *lang;
	const char *client; /* client name, "" when none */
	const char *body;   /* the decoded text with quotes, from which text was derived */
	size_t n_rcpt;      /* addresses in To and Cc at import (0: unknown, or stored before) */
};

/*
 * Calls fn with the message whose row id is id (not at all when there is none); returns like
 * the foreaches. Row strings are valid only during the call; fn may use other store
 * functions except the same lookup.
 */
int store_message_get(struct store *s, int64_t id,
                      int (*fn)(void *arg, const struct store_message_row *row), void *arg);

/* Replaces the stored author's text of a message (inside the caller's transaction). */
int store_message_set_text(struct store *s, int64_t message, const char *text);

/* Calls fn for each stored copy of the message with this Message-ID (no angle brackets). */
int store_messages_by_msgid(struct store *s, const char *message_id,
                            int (*fn)(void *arg, const struct store_message_row *row), void *arg);

/*
 * Fills ids with up to limit row ids of parsed messages greater than after, ascending (to
 * walk the table in batches). 0 or -EIO.
 */
int store_message_ids_after(struct store *s, int64_t after, size_t limit, int64_t *ids, size_t *n);

/* ---------------------------------------------------------------- the owner's corrections */

/*
 * A correction is keyed by Message-ID (no angle brackets), not by row: one for a message that
 * is not stored yet waits in the table and applies when the message arrives, and one message
 * stored in several mailboxes is corrected in all of them. verdict is "+" (the signal is
 * there), "-" (it is not) or "wrong" (every text signal given is wrong: none; signal NULL).
 * source is "mark" or "folder:<mailbox>/<uid>". The latest word wins: corrections are read
 * in (created, id) order.
 */
struct store_feedback {
	int64_t id;
	const char *message_id;
	const char *signal; /* NULL for "wrong" */
	const char *verdict;
	const char *source;
	int64_t created; /* UTC seconds */
};

/*
 * Records a correction (inside or outside a transaction). Each (message_id, signal, verdict,
 * source) is kept once: re-reading a feedback folder records nothing new (returns 0). A
 * repeated `mark` (source "mark") is moved to created instead, because the owner said it
 * again and it must be the latest word (returns 1). When it contradicts an earlier
 * correction of the same message (+x after -x or "wrong", -x after +x, "wrong" after +x),
 * both are logged. Returns 1 when recorded, 0 when already there, -EINVAL for a bad verdict,
 * -EIO.
 */
int store_feedback_add(struct store *s, const struct store_feedback *fb);

/*
 * The checkpoint of a feedback folder (sync.h), like store_mailbox_get()/_set() but kept
 * apart from the imported mailboxes. Same returns.
 */
int store_feedback_state_get(struct store *s, const char *account, const char *folder,
                             struct store_mailbox_state *st);
int store_feedback_state_set(struct store *s, const char *account, const char *folder,
                             const struct store_mailbox_state *st);

/*
 * Calls fn for each correction of the message with this Message-ID, oldest first; returns
 * like the foreaches. Strings are valid only during the call.
 */
int store_feedback_foreach(struct store *s, const char *message_id,
                           int (*fn)(void *arg, const struct store_feedback *fb), void *arg);

/*
 * Applies the corrections of the stored message with row id message to its signals (inside
 * the caller's transaction): the latest verdict per signal wins; "+" adds the signal unless
 * it is there already (rule "owner.mark", the catalogue's weight, an excerpt saying who put it
 * there), "-" removes it, "wrong" removes every text signal not given a later "+". Signals
 * that are not text signals in r's catalogue (time signals, old_rate) are never removed;
 * r may be NULL (every signal counts as a text signal, "+" weighs 1). Call it after every
 * store_signals_set() so the owner's word always beats rules and model. Returns 1 when the
 * signals changed, 0 when not (no corrections, or already applied), -EIO.
 */
int store_feedback_apply(struct store *s, int64_t message, const struct rules *r);

/*
 * Calls fn for every corrected message that is stored (the first stored copy of each
 * Message-ID, parsed ones only, by row id), for training the owner layer: the message as
 * store_message_get() gives it, labels = its final text signals after the corrections,
 * comma-separated in stored order ("" = none), and owner = the owner's resolved verdicts,
 * e.g. "+rush,-payment", starting with "none" when a "wrong" verdict covers every signal not
 * listed after it ("none,+praise"). r as in store_feedback_apply(). Strings are valid only
 * during the call; fn may use other store functions. Returns like the foreaches.
 */
int store_feedback_messages(struct store *s, const struct rules *r,
                            int (*fn)(void *arg, const struct store_message_row *row,
                                      const char *labels, const char *owner),
                            void *arg);

/* ---------------------------------------------------------------- review */

/* A message of the period, as scoring needs it. Strings valid only during the callback. */
struct store_period_msg {
	int64_t client;     /* clients.id */
	const char *thread; /* thread id (first References id, ...); "" when unknown */
	size_t thread_len;
	int direction;       /* enum rf_direction */
	int64_t message;     /* messages.id */
	int64_t date;        /* UTC seconds */
	const char *signals; /* "rush:1.5,payment:2" as store_signals_set() wrote it; "" = none */
};

/*
 * Calls fn for every message with a client dated in [from, to) (UTC seconds), in no
 * particular order, from one covering index (no message row is read); stops on fn's
 * nonzero return and returns it. 0 or -EIO.
 */
int store_period_messages(struct store *s, int64_t from, int64_t to,
                          int (*fn)(void *arg, const struct store_period_msg *m), void *arg);

/*
 * The evidence for a signal of a message: the first stored row of that signal, with the
 * message's date and subject (copied into the signal row when it was stored) and the
 * signal's excerpt (new strings the caller frees; "" when NULL). 0, -ENOENT or -EIO.
 */
int store_evidence(struct store *s, int64_t message, const char *signal, int64_t *date,
                   char **subject, char **excerpt);

/*
 * The digest ledger, one row per period. The sender writes prepared_at before it connects,
 * transmitted_at once the whole message has been handed to the server, sent_at after the
 * server's 250. A row with transmitted_at but no sent_at means "may have been delivered".
 */
struct store_digest {
	char message_id[256]; /* with angle brackets */
	int attempt;          /* 0 for the first send, +1 per forced re-send */
	int64_t prepared_at, transmitted_at, sent_at; /* UTC seconds, 0 = not (yet) */
};

/* Reads the row of period: 0, -ENOENT when there is none, -EIO. */
int store_digest_get(struct store *s, const char *period, struct store_digest *d);

/*
 * Creates or resets the row of period: message_id, attempt, prepared_at = now, the other two
 * times cleared. Autocommits unless inside store_begin(). 0 or -EIO.
 */
int store_digest_prepare(struct store *s, const char *period, const char *message_id, int attempt,
                         int64_t now);

/* transmitted_at = now / sent_at = now / transmitted_at cleared (a definite refusal). */
int store_digest_transmitted(struct store *s, const char *period, int64_t now);
int store_digest_sent(struct store *s, const char *period, int64_t now);
int store_digest_failed(struct store *s, const char *period);

/* ---------------------------------------------------------------- clients' mail */

/* A value of the key/value table: *value a new string, or -ENOENT; -EIO. */
int store_meta_get(struct store *s, const char *key, char **value);
/* Sets a value (autocommits unless inside a transaction). 0 or -EIO. */
int store_meta_set(struct store *s, const char *key, const char *value);

/* The id of the client called name: 0, -ENOENT (no mail from or to them yet), -EIO. */
int store_client_id(struct store *s, const char *name, int64_t *id);

/*
 * Where to write to a client: the sender address of their first mail (else the address the
 * owner first wrote to), that message's MESSAGE_* flags, and the language most of their
 * mail was written in ("da", "de", "en", or NULL when none was detected). New strings the
 * caller frees. 0, -ENOENT (no mail with an address), -EIO.
 */
int store_client_contact(struct store *s, int64_t client, char **addr, unsigned *flags,
                         char **lang);

/* A mail to a client, with the digest's ledger states (see struct store_digest). */
struct store_outbox {
	char lang[8];
	char message_id[256]; /* with angle brackets */
	char rcpt[256];
	int attempt;
	int64_t prepared_at, transmitted_at, sent_at; /* 0 = not (yet) */
};

/* The row of (client, kind): 0, -ENOENT, -EIO. kind is "onboarding" or "farewell". */
int store_outbox_get(struct store *s, int64_t client, const char *kind, struct store_outbox *o);

/* Creates or resets the row: prepared_at = now, the later states cleared. 0 or -EIO. */
int store_outbox_prepare(struct store *s, int64_t client, const char *kind, const char *lang,
                         const char *rcpt, const char *message_id, int attempt, int64_t now);

/* transmitted_at = now / sent_at = now / transmitted_at cleared. 0 or -EIO. */
int store_outbox_transmitted(struct store *s, int64_t client, const char *kind, int64_t now);
int store_outbox_sent(struct store *s, int64_t client, const char *kind, int64_t now);
int store_outbox_failed(struct store *s, int64_t client, const char *kind);

/* Mails of kind sent (or possibly sent) at or after since. 0 or -EIO. */
int store_outbox_recent(struct store *s, const char *kind, int64_t since, int64_t *n);

#endif
