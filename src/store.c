/*
 * store — the SQLite database: schema, migrations and every SQL statement.
 *
 * Durability. The database runs in WAL mode with synchronous=NORMAL. In WAL mode NORMAL
 * never corrupts the database: a commit appends to the WAL and only checkpoints are
 * fsynced. An application crash (kill -9, abort, OOM kill) loses nothing committed,
 * because the WAL is in the OS page cache and survives the process. A power cut may roll
 * back the newest transactions whose WAL frames were not yet on disk — but the sync loop
 * commits a batch of messages together with the mailbox's new last_uid, so last_uid rolls
 * back with its messages and they are simply fetched again: nothing lost, nothing
 * duplicated. FULL would fsync every commit for no gain in that argument.
 *
 * Statements are prepared lazily, once, with SQLITE_PREPARE_PERSISTENT and reused with
 * reset/clear_bindings; data only ever reaches SQL through bindings.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "redflag/log.h"
#include "redflag/store.h"
#include "redflag/util.h"

/*
 * Migrations: migrations[i] takes the schema from user_version i to i + 1 and must end by
 * setting user_version itself (checked), so the version and the schema change commit in
 * the same transaction. Append new scripts; never edit a released one.
 */
static const char *const migrations[] = {
    /* 0 → 1 */
    "CREATE TABLE clients ("
    " id INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL UNIQUE,"
    " configured INTEGER NOT NULL DEFAULT 0,"
    " owner_wrote INTEGER NOT NULL DEFAULT 0,"
    " created_at INTEGER NOT NULL);"
    "CREATE TABLE messages ("
    " id INTEGER PRIMARY KEY,"
    " account TEXT NOT NULL,"
    " mailbox TEXT NOT NULL,"
    " uidvalidity INTEGER NOT NULL,"
    " uid INTEGER NOT NULL,"
    " size INTEGER,"
    " message_id TEXT,"
    " dedup_key TEXT NOT NULL,"
    " thread_id TEXT,"
    " in_reply_to TEXT,"
    " date INTEGER,"
    " tz_offset INTEGER,"
    " direction INTEGER NOT NULL DEFAULT 0," /* 0 none, 1 in, 2 out */
    " from_addr TEXT,"
    " from_name TEXT,"
    " rcpt TEXT," /* comma-separated addresses */
    " counterparty TEXT,"
    " client_id INTEGER REFERENCES clients(id),"
    " subject TEXT,"
    " body TEXT,"
    " text TEXT,"
    " flags INTEGER NOT NULL DEFAULT 0,"
    " lang TEXT,"
    " parse_error TEXT,"
    " UNIQUE(account, mailbox, uidvalidity, uid));"
    "CREATE INDEX messages_dedup ON messages(account, mailbox, dedup_key);"
    "CREATE INDEX messages_client ON messages(client_id);"
    "CREATE TABLE signals ("
    " id INTEGER PRIMARY KEY,"
    " message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,"
    " signal TEXT NOT NULL,"
    " rule TEXT,"
    " weight REAL NOT NULL,"
    " excerpt TEXT);"
    "CREATE INDEX signals_message ON signals(message_id);"
    "CREATE TABLE sync_state ("
    " account TEXT NOT NULL,"
    " mailbox TEXT NOT NULL,"
    " uidvalidity INTEGER NOT NULL,"
    " last_uid INTEGER NOT NULL,"
    " highest_modseq INTEGER NOT NULL DEFAULT 0,"
    " updated_at INTEGER NOT NULL,"
    " PRIMARY KEY(account, mailbox));"
    "CREATE TABLE digests ("
    " id INTEGER PRIMARY KEY,"
    " period TEXT NOT NULL UNIQUE,"
    " sent_at INTEGER,"
    " message_id TEXT);"
    "CREATE TABLE outbox ("
    " id INTEGER PRIMARY KEY,"
    " client_id INTEGER NOT NULL REFERENCES clients(id),"
    " kind TEXT NOT NULL,"
    " lang TEXT,"
    " message_id TEXT,"
    " sent_at INTEGER,"
    " UNIQUE(client_id, kind));"
    "PRAGMA user_version = 1;",
    /*
     * 1 → 2: the review digest. A digest row is written before the send (prepared_at) and
     * again when the whole message has gone to the server (transmitted_at), so that after a
     * crash between the server's 250 and our commit the period is recognised as possibly
     * delivered and not sent twice. attempt counts forced re-sends (part of the Message-ID).
     *
     * A review reads every message of a period with its signals. Through the tables that
     * is one random page per row (message rows are kilobytes); through a covering index it
     * is a sequential read of a few dozen bytes per message. So each message carries a
     * summary of its signals ("rush:1.5,payment:2"), written with the signals, and the
     * index covers it; the signal rows themselves are read only for evidence, and carry
     * their message's date and subject so that even that does not touch message rows.
     */
    "ALTER TABLE digests ADD COLUMN prepared_at INTEGER;"
    "ALTER TABLE digests ADD COLUMN transmitted_at INTEGER;"
    "ALTER TABLE digests ADD COLUMN attempt INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE signals ADD COLUMN date INTEGER;"
    "ALTER TABLE signals ADD COLUMN subject TEXT;"
    "UPDATE signals SET (date, subject) = (SELECT m.date, m.subject FROM messages m"
    " WHERE m.id = signals.message_id);"
    "ALTER TABLE messages ADD COLUMN signals TEXT;"
    "UPDATE messages SET signals = (SELECT group_concat(s.signal || ':' || s.weight, ',')"
    " FROM signals s WHERE s.message_id = messages.id);"
    "CREATE INDEX messages_period ON messages(date, client_id, direction, thread_id, signals);"
    /* The client list's per-client counts and first/last dates, without the rows. */
    "DROP INDEX IF EXISTS messages_client;"
    "CREATE INDEX messages_client ON messages(client_id, direction, date);"
    "PRAGMA user_version = 2;",
    /*
     * 2 → 3: mails to clients (onboarding, farewell) get the digest's ledger states, and a
     * small key/value table remembers when automatic onboarding was first switched on.
     */
    "ALTER TABLE outbox ADD COLUMN rcpt TEXT;"
    "ALTER TABLE outbox ADD COLUMN attempt INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE outbox ADD COLUMN prepared_at INTEGER;"
    "ALTER TABLE outbox ADD COLUMN transmitted_at INTEGER;"
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "PRAGMA user_version = 3;",
    /*
     * 3 → 4: the owner's corrections, keyed by Message-ID so that one for a message not yet
     * stored waits for it. SQLite treats NULLs as distinct in UNIQUE, so "each correction
     * once" is an index over coalesce(signal, '') rather than a table constraint. Messages
     * are looked up by Message-ID for every correction (and by explain): index it. Feedback
     * folders keep their checkpoints apart from sync_state, which lists the imported
     * mailboxes (stats --json shows them). The
     * recipient count is a classifier input (broadcast mail) that reclassify needs again.
     */
    "CREATE TABLE feedback ("
    " id INTEGER PRIMARY KEY,"
    " message_id TEXT NOT NULL,"
    " signal TEXT,"
    " verdict TEXT NOT NULL CHECK (verdict IN ('+', '-', 'wrong')),"
    " source TEXT NOT NULL,"
    " created INTEGER NOT NULL);"
    "CREATE UNIQUE INDEX feedback_once ON feedback(message_id, coalesce(signal, ''), verdict,"
    " source);"
    "CREATE TABLE feedback_state ("
    " account TEXT NOT NULL,"
    " mailbox TEXT NOT NULL,"
    " uidvalidity INTEGER NOT NULL,"
    " last_uid INTEGER NOT NULL,"
    " highest_modseq INTEGER NOT NULL DEFAULT 0,"
    " updated_at INTEGER NOT NULL,"
    " PRIMARY KEY(account, mailbox));"
    "CREATE INDEX messages_msgid ON messages(message_id);"
    "ALTER TABLE messages ADD COLUMN rcpt_count INTEGER NOT NULL DEFAULT 0;"
    "PRAGMA user_version = 4;",
};

enum stmt_id {
	ST_BEGIN,
	ST_BEGIN_READ,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_MAILBOX_GET,
	ST_MAILBOX_SET,
	ST_FB_STATE_GET,
	ST_FB_STATE_SET,
	ST_MSG_FIND,
	ST_MSG_REKEY,
	ST_MSG_INSERT,
	ST_CLIENT_UPSERT,
	ST_STATS,
	ST_STATS_CLIENTS,
	ST_MAILBOXES,
	ST_CLIENTS,
	ST_SIG_DELETE,
	ST_SIG_INSERT,
	ST_SIG_LIST,
	ST_MSG_SET_LANG,
	ST_MSG_SET_TEXT,
	ST_MSG_ROW,
	ST_MSG_BY_MSGID,
	ST_MSG_IDS_AFTER,
	ST_PERIOD_MSGS,
	ST_EVIDENCE,
	ST_DIGEST_GET,
	ST_DIGEST_PREPARE,
	ST_DIGEST_TRANSMITTED,
	ST_DIGEST_SENT,
	ST_DIGEST_FAILED,
	ST_META_GET,
	ST_META_SET,
	ST_CLIENT_ID,
	ST_CONTACT,
	ST_CONTACT_LANG,
	ST_OUTBOX_GET,
	ST_OUTBOX_PREPARE,
	ST_OUTBOX_TRANSMITTED,
	ST_OUTBOX_SENT,
	ST_OUTBOX_FAILED,
	ST_OUTBOX_RECENT,
	ST_FB_INSERT,
	ST_FB_FORGET,
	ST_FB_LIST,
	ST_FB_OF_MESSAGE,
	ST_FB_MESSAGES,
	ST_MSG_LANG,
	ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_BEGIN_READ] = "BEGIN DEFERRED",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_MAILBOX_GET] = "SELECT uidvalidity, last_uid, highest_modseq FROM sync_state"
                       " WHERE account = ?1 AND mailbox = ?2",
    [ST_MAILBOX_SET] = "INSERT INTO sync_state(account, mailbox, uidvalidity, last_uid,"
                       " highest_modseq, updated_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6)"
                       " ON CONFLICT(account, mailbox) DO UPDATE SET"
                       " uidvalidity = excluded.uidvalidity, last_uid = excluded.last_uid,"
                       " highest_modseq = excluded.highest_modseq,"
                       " updated_at = excluded.updated_at",
    [ST_FB_STATE_GET] = "SELECT uidvalidity, last_uid, highest_modseq FROM feedback_state"
                        " WHERE account = ?1 AND mailbox = ?2",
    [ST_FB_STATE_SET] = "INSERT INTO feedback_state(account, mailbox, uidvalidity, last_uid,"
                        " highest_modseq, updated_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6)"
                        " ON CONFLICT(account, mailbox) DO UPDATE SET"
                        " uidvalidity = excluded.uidvalidity, last_uid = excluded.last_uid,"
                        " highest_modseq = excluded.highest_modseq,"
                        " updated_at = excluded.updated_at",
    [ST_MSG_FIND] = "SELECT id FROM messages WHERE account = ?1 AND mailbox = ?2"
                    " AND uidvalidity = ?3 AND uid = ?4",
    /*
     * Exactly one row per call: when the mailbox held two copies of a message, the refetch
     * brings two new UIDs, and each re-keys one old copy.
     */
    [ST_MSG_REKEY] = "UPDATE messages SET uidvalidity = ?3, uid = ?4 WHERE id = ("
                     "SELECT id FROM messages WHERE account = ?1 AND mailbox = ?2"
                     " AND dedup_key = ?5 AND uidvalidity <> ?3 ORDER BY id LIMIT 1)"
                     " RETURNING id",
    [ST_MSG_INSERT] = "INSERT INTO messages(account, mailbox, uidvalidity, uid, size,"
                      " message_id, dedup_key, thread_id, in_reply_to, date, tz_offset,"
                      " direction, from_addr, from_name, rcpt, counterparty, client_id,"
                      " subject, body, text, flags, parse_error, rcpt_count) VALUES(?1, ?2,"
                      " ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,"
                      " ?18, ?19, ?20, ?21, ?22, ?23)",
    /* configured and owner_wrote only ever go from 0 to 1. */
    [ST_CLIENT_UPSERT] = "INSERT INTO clients(name, configured, owner_wrote, created_at)"
                         " VALUES(?1, ?2, ?3, ?4) ON CONFLICT(name) DO UPDATE SET"
                         " configured = max(configured, excluded.configured),"
                         " owner_wrote = max(owner_wrote, excluded.owner_wrote)"
                         " RETURNING id, configured, owner_wrote",
    [ST_STATS] = "SELECT (SELECT count(*) FROM messages),"
                 " (SELECT count(*) FROM signals),"
                 " (SELECT count(*) FROM messages WHERE parse_error IS NOT NULL)",
    [ST_STATS_CLIENTS] = "SELECT count(*) FROM clients WHERE ?1 = 0 OR configured <> 0"
                         " OR owner_wrote <> 0",
    [ST_MAILBOXES] = "SELECT s.account, s.mailbox, s.uidvalidity, s.last_uid,"
                     " s.highest_modseq, (SELECT count(*) FROM messages m"
                     " WHERE m.account = s.account AND m.mailbox = s.mailbox)"
                     " FROM sync_state s ORDER BY s.account, s.mailbox",
    [ST_CLIENTS] = "SELECT c.id, c.name, c.configured, c.owner_wrote,"
                   " coalesce(sum(m.direction = 1), 0), coalesce(sum(m.direction = 2), 0),"
                   " coalesce(min(m.date), 0), coalesce(max(m.date), 0), count(m.id) AS n,"
                   " (SELECT o.sent_at FROM outbox o WHERE o.client_id = c.id"
                   " AND o.kind = 'onboarding')"
                   " FROM clients c LEFT JOIN messages m ON m.client_id = c.id"
                   " WHERE ?1 = 0 OR c.configured <> 0 OR c.owner_wrote <> 0"
                   " GROUP BY c.id ORDER BY n DESC, c.name",
    [ST_SIG_DELETE] = "DELETE FROM signals WHERE message_id = ?1",
    [ST_SIG_INSERT] = "INSERT INTO signals(message_id, signal, rule, weight, excerpt, date,"
                      " subject) SELECT ?1, ?2, ?3, ?4, ?5, date, subject FROM messages"
                      " WHERE id = ?1",
    [ST_SIG_LIST] = "SELECT signal, rule, weight, excerpt FROM signals WHERE message_id = ?1"
                    " ORDER BY id",
    [ST_MSG_SET_LANG] = "UPDATE messages SET lang = ?2, signals = ?3 WHERE id = ?1",
    [ST_MSG_SET_TEXT] = "UPDATE messages SET text = ?2 WHERE id = ?1",
#define MSG_ROW_COLUMNS                                                                            \
	"m.id, m.account, m.mailbox, m.uid, m.message_id, m.date, m.direction, m.from_addr,"       \
	"  m.subject, m.text, m.flags, m.lang, c.name, m.body, m.rcpt_count"                       \
	" FROM messages m LEFT JOIN clients c ON c.id = m.client_id"
    [ST_MSG_ROW] = "SELECT " MSG_ROW_COLUMNS " WHERE m.id = ?1",
    [ST_MSG_BY_MSGID] = "SELECT " MSG_ROW_COLUMNS " WHERE m.message_id = ?1 ORDER BY m.id",
    [ST_MSG_IDS_AFTER] = "SELECT id FROM messages WHERE id > ?1 AND parse_error IS NULL"
                         " ORDER BY id LIMIT ?2",
    [ST_PERIOD_MSGS] = "SELECT client_id, thread_id, direction, id, date, signals FROM messages"
                       " WHERE date >= ?1 AND date < ?2 AND client_id IS NOT NULL",
    [ST_EVIDENCE] = "SELECT date, subject, excerpt FROM signals"
                    " WHERE message_id = ?1 AND signal = ?2 ORDER BY id LIMIT 1",
    [ST_DIGEST_GET] = "SELECT message_id, attempt, prepared_at, transmitted_at, sent_at"
                      " FROM digests WHERE period = ?1",
    [ST_DIGEST_PREPARE] = "INSERT INTO digests(period, message_id, attempt, prepared_at)"
                          " VALUES(?1, ?2, ?3, ?4) ON CONFLICT(period) DO UPDATE SET"
                          " message_id = excluded.message_id, attempt = excluded.attempt,"
                          " prepared_at = excluded.prepared_at, transmitted_at = NULL,"
                          " sent_at = NULL",
    [ST_DIGEST_TRANSMITTED] = "UPDATE digests SET transmitted_at = ?2 WHERE period = ?1",
    [ST_DIGEST_SENT] = "UPDATE digests SET sent_at = ?2 WHERE period = ?1",
    [ST_DIGEST_FAILED] = "UPDATE digests SET transmitted_at = NULL WHERE period = ?1",
    [ST_META_GET] = "SELECT value FROM meta WHERE key = ?1",
    [ST_META_SET] = "INSERT INTO meta(key, value) VALUES(?1, ?2)"
                    " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    [ST_CLIENT_ID] = "SELECT id FROM clients WHERE name = ?1",
    /* Where to write to a client: the sender of their first mail, else whom the owner
       wrote to first. */
    [ST_CONTACT] = "SELECT coalesce(CASE WHEN direction = 1 THEN from_addr END, counterparty),"
                   " flags FROM messages WHERE client_id = ?1 AND counterparty IS NOT NULL"
                   " ORDER BY direction <> 1, date LIMIT 1",
    [ST_CONTACT_LANG] = "SELECT lang FROM messages WHERE client_id = ?1 AND direction = 1"
                        " AND lang IN ('da', 'de', 'en') GROUP BY lang"
                        " ORDER BY count(*) DESC, lang LIMIT 1",
    [ST_OUTBOX_GET] = "SELECT coalesce(lang, ''), coalesce(message_id, ''), coalesce(rcpt, ''),"
                      " attempt, prepared_at, transmitted_at, sent_at FROM outbox"
                      " WHERE client_id = ?1 AND kind = ?2",
    [ST_OUTBOX_PREPARE] = "INSERT INTO outbox(client_id, kind, lang, rcpt, message_id, attempt,"
                          " prepared_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                          " ON CONFLICT(client_id, kind) DO UPDATE SET lang = excluded.lang,"
                          " rcpt = excluded.rcpt, message_id = excluded.message_id,"
                          " attempt = excluded.attempt, prepared_at = excluded.prepared_at,"
                          " transmitted_at = NULL, sent_at = NULL",
    [ST_OUTBOX_TRANSMITTED] = "UPDATE outbox SET transmitted_at = ?3"
                              " WHERE client_id = ?1 AND kind = ?2",
    [ST_OUTBOX_SENT] = "UPDATE outbox SET sent_at = ?3 WHERE client_id = ?1 AND kind = ?2",
    [ST_OUTBOX_FAILED] = "UPDATE outbox SET transmitted_at = NULL"
                         " WHERE client_id = ?1 AND kind = ?2",
    [ST_OUTBOX_RECENT] = "SELECT count(*) FROM outbox WHERE kind = ?1"
                         " AND coalesce(sent_at, transmitted_at) >= ?2",
    [ST_FB_INSERT] = "INSERT INTO feedback(message_id, signal, verdict, source, created)"
                     " VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
    [ST_FB_FORGET] = "DELETE FROM feedback WHERE message_id = ?1 AND coalesce(signal, '') ="
                     " coalesce(?2, '') AND verdict = ?3 AND source = ?4",
    [ST_FB_LIST] = "SELECT id, message_id, signal, verdict, source, created FROM feedback"
                   " WHERE message_id = ?1 ORDER BY created, id",
    [ST_FB_OF_MESSAGE] = "SELECT f.id, f.message_id, f.signal, f.verdict, f.source, f.created"
                         " FROM messages m JOIN feedback f ON f.message_id = m.message_id"
                         " WHERE m.id = ?1 ORDER BY f.created, f.id",
    [ST_FB_MESSAGES] = "SELECT " MSG_ROW_COLUMNS " WHERE m.id IN (SELECT min(id) FROM messages"
                       " WHERE parse_error IS NULL AND message_id IN"
                       " (SELECT message_id FROM feedback) GROUP BY message_id) ORDER BY m.id",
    [ST_MSG_LANG] = "SELECT lang FROM messages WHERE id = ?1",
};

struct store {
	sqlite3 *db;
	sqlite3_stmt *stmt[ST_COUNT];
	char errmsg[512];
	struct strbuf rcpt; /* reused for the comma-joined recipients */
	int64_t last_message_id;
	/*
	 * The last client name → id lookup. Mail comes in runs from the same client, so this
	 * saves the upsert for most messages. Valid only inside the transaction that filled
	 * it (a rollback may remove the row), hence cleared on begin and rollback.
	 */
	char *cache_name;
	int64_t cache_id;
	bool cache_configured;
	bool cache_owner_wrote;
};

static void cache_clear(struct store *s)
{
	free(s->cache_name);
	s->cache_name = NULL;
	s->cache_id = 0;
}

static void set_err(struct store *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_err(struct store *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->errmsg, sizeof(s->errmsg), fmt, ap);
	va_end(ap);
}

/* Records SQLite's error for what and maps rc: busy/locked past the timeout → -EAGAIN. */
static int db_fail(struct store *s, int rc, const char *what)
{
	int primary = rc & 0xff;

	set_err(s, "%s: %s", what, sqlite3_errmsg(s->db));
	if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED)
		return -EAGAIN;
	return -EIO;
}

/* Returns the prepared statement id, preparing it on first use; NULL with errmsg set. */
static sqlite3_stmt *stmt_get(struct store *s, enum stmt_id id)
{
	int rc;

	if (s->stmt[id] != NULL)
		return s->stmt[id];
	rc = sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[id],
	                        NULL);
	if (rc != SQLITE_OK) {
		set_err(s, "prepare: %s", sqlite3_errmsg(s->db));
		sqlite3_finalize(s->stmt[id]);
		s->stmt[id] = NULL;
	}
	return s->stmt[id];
}

/* Makes a statement ready for its next use; bindings borrowed by the last step end here. */
static void stmt_done(sqlite3_stmt *st)
{
	if (st != NULL) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
}

/* Binds a string, or NULL when s is NULL or (if empty_null) empty. Borrowed: STATIC. */
static int bind_text(sqlite3_stmt *st, int i, const char *v, bool empty_null)
{
	if (v == NULL || (empty_null && v[0] == '\0'))
		return sqlite3_bind_null(st, i);
	return sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

/* Runs a statement without result rows (BEGIN, COMMIT, ...). */
static int exec_simple(struct store *s, enum stmt_id id, const char *what)
{
	sqlite3_stmt *st = stmt_get(s, id);
	int rc, r = 0;

	if (st == NULL)
		return -EIO;
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		r = db_fail(s, rc, what);
	stmt_done(st);
	return r;
}

static int64_t now_unix(void)
{
	return (int64_t)time(NULL);
}

/* Narrows group/other access on an existing file by path (no fd: see ensure_file()). */
static int fix_mode(const char *path, bool must_exist, char *err, size_t errlen)
{
	struct stat sb;

	if (stat(path, &sb) < 0) {
		if (errno == ENOENT && !must_exist)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	if (!S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		return -EINVAL;
	}
	if ((sb.st_mode & 077) != 0) {
		log_warnx("%s: mode %04o gives others access to the mail database, changing it "
		          "to 0600",
		          path, (unsigned)(sb.st_mode & 07777));
		if (chmod(path, (sb.st_mode & 0700) | 0600) < 0) {
			snprintf(err, errlen, "%s: chmod: %s", path, strerror(errno));
			return -errno;
		}
	}
	return 0;
}

/*
 * Creates the database file with mode 0600 before SQLite sees it, so it is private from
 * the first byte (SQLite would create it 0644 & ~umask, and it gives -wal and -shm the
 * main file's mode). O_EXCL matters: closing any descriptor of a file drops every POSIX
 * lock this process holds on it, so an existing database — possibly open on another
 * connection of this process — is never opened here, only stat()ed and chmod()ed.
 */
static int ensure_file(const char *path, char *err, size_t errlen)
{
	static const char *const sidecars[] = {"-wal", "-shm"};
	int fd, r;

	fd = open(path, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0) {
		close(fd);
	} else if (errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	r = fix_mode(path, true, err, errlen);
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(sidecars); i++) {
		char *p = xasprintf("%s%s", path, sidecars[i]);

		r = fix_mode(p, false, err, errlen);
		free(p);
	}
	return r;
}

static int read_user_version(struct store *s, int *version)
{
	sqlite3_stmt *st = NULL;
	int rc;

	/* Run once per open: not worth keeping prepared. */
	rc = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		rc = db_fail(s, rc, "user_version");
		sqlite3_finalize(st);
		return rc;
	}
	*version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return 0;
}

/*
 * Applies every pending migration, each in its own transaction. The version is re-read
 * under the write lock: another process may have migrated while we waited for it.
 */
static int migrate(struct store *s)
{
	const int latest = (int)ARRAY_SIZE(migrations);
	char *msg = NULL;
	int version, after, r, rc;

	for (;;) {
		r = read_user_version(s, &version);
		if (r < 0)
			return r;
		if (version == latest)
			return 0;
		if (version > latest || version < 0) {
			set_err(s,
			        "database schema version %d is newer than this program's (%d): "
			        "upgrade redflagd",
			        version, latest);
			return -EPROTO;
		}
		rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
		if (rc != SQLITE_OK)
			return db_fail(s, rc, "migration");
		r = read_user_version(s, &version);
		if (r < 0 || version < 0 || version >= latest)
			goto step_out; /* re-checked at the top of the loop */
		rc = sqlite3_exec(s->db, migrations[version], NULL, NULL, &msg);
		if (rc != SQLITE_OK) {
			set_err(s, "migration to schema %d: %s", version + 1,
			        msg ? msg : sqlite3_errstr(rc));
			r = -EIO;
			goto step_out;
		}
		r = read_user_version(s, &after);
		if (r == 0 && after != version + 1) {
			set_err(s, "migration to schema %d left user_version %d", version + 1,
			        after);
			r = -EIO;
		}
		if (r == 0) {
			rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
			if (rc != SQLITE_OK)
				r = db_fail(s, rc, "migration commit");
			else
				log_info("database migrated to schema %d", after);
		}
	step_out:
		sqlite3_free(msg);
		msg = NULL;
		if (!sqlite3_get_autocommit(s->db))
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		if (r < 0)
			return r;
	}
}

static int journal_mode_cb(void *arg, int n, char **vals, char **names)
{
	(void)names;
	if (n > 0 && vals[0] != NULL)
		*(bool *)arg = strcmp(vals[0], "wal") == 0;
	return 0;
}

/*
 * Puts the database in WAL mode; *wal tells whether it is. WAL mode is persistent, so this
 * is a read on every open but the first. Switching needs an exclusive lock, and SQLite
 * reports BUSY there without consulting the busy handler when another process is opening
 * the same fresh file at the same moment: retry for up to 5 s (the busy timeout).
 */
static int wal_mode(struct store *s, bool *wal)
{
	const char *sql = "PRAGMA journal_mode";
	int64_t deadline = now_ms() + 5000;
	int rc;

	for (;;) {
		rc = sqlite3_exec(s->db, sql, journal_mode_cb, wal, NULL);
		if (rc == SQLITE_OK && (*wal || strchr(sql, '=') != NULL))
			return rc;
		if (rc == SQLITE_OK)
			sql = "PRAGMA journal_mode = WAL";
		else if ((rc & 0xff) == SQLITE_BUSY && now_ms() < deadline)
			sqlite3_sleep(10);
		else
			return rc;
	}
}

int store_open(const char *path, struct store **out, char *err, size_t errlen)
{
	struct store *s = NULL;
	bool memory = strcmp(path, ":memory:") == 0;
	bool wal = false;
	int rc, r;

	*out = NULL;
	if (!memory) {
		r = ensure_file(path, err, errlen);
		if (r < 0)
			return r;
	}
	s = xcalloc(1, sizeof(*s));
	/*
	 * Without SQLITE_OPEN_CREATE: the file exists with the right mode now, and if it
	 * vanished meanwhile SQLite must not recreate it with default permissions.
	 */
	rc = sqlite3_open_v2(
	    path, &s->db,
	    SQLITE_OPEN_READWRITE | (memory ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path,
		         s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
		r = -EIO;
		goto out;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, 5000);
	/*
	 * 32 KiB pages: a stored message is ~14 KB of body and text, which with the default
	 * 4 KiB pages spills into overflow chains and costs one pwrite (and, at checkpoint,
	 * one pread) per 4 KiB — syscalls dominated the import (measured: 20,000 messages in
	 * ~1.2 s with 4 KiB pages, ~0.7 s with 32 KiB). Effective only while the file is empty,
	 * so it must precede the switch to WAL; a no-op on an existing database.
	 */
	rc = sqlite3_exec(s->db, "PRAGMA page_size = 32768", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		r = db_fail(s, rc, "page_size");
		goto fail;
	}
	/* See the durability argument at the top of this file. */
	rc = memory ? SQLITE_OK : wal_mode(s, &wal);
	if (rc != SQLITE_OK) {
		r = db_fail(s, rc, "journal_mode");
		goto fail;
	}
	if (!wal && !memory) {
		set_err(s, "cannot switch to WAL mode");
		r = -EIO;
		goto fail;
	}
	rc = sqlite3_exec(s->db, "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL", NULL,
	                  NULL, NULL);
	if (rc != SQLITE_OK) {
		r = db_fail(s, rc, "pragma");
		goto fail;
	}
	r = migrate(s);
	if (r < 0)
		goto fail;
	*out = s;
	return 0;
fail:
	snprintf(err, errlen, "%s: %s", path, s->errmsg);
out:
	store_close(&s);
	return r;
}

void store_close(struct store **sp)
{
	struct store *s = *sp;

	if (s == NULL)
		return;
	for (size_t i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(s->stmt[i]);
	/* close_v2: never leaves the handle open behind our back; statements are gone anyway. */
	if (s->db != NULL && sqlite3_close_v2(s->db) != SQLITE_OK)
		log_warnx("store: close: %s", sqlite3_errmsg(s->db));
	strbuf_release(&s->rcpt);
	cache_clear(s);
	free(s);
	*sp = NULL;
}

const char *store_errmsg(const struct store *s)
{
	return s->errmsg;
}

void store_set_busy_timeout(struct store *s, int ms)
{
	sqlite3_busy_timeout(s->db, ms);
}

int store_begin(struct store *s)
{
	cache_clear(s);
	return exec_simple(s, ST_BEGIN, "begin");
}

int store_begin_read(struct store *s)
{
	return exec_simple(s, ST_BEGIN_READ, "begin");
}

int store_commit(struct store *s)
{
	int r = exec_simple(s, ST_COMMIT, "commit");

	log_trace("store", "commit: %s", r == 0 ? "ok" : s->errmsg);
	return r;
}

int store_rollback(struct store *s)
{
	cache_clear(s);
	if (!sqlite3_get_autocommit(s->db))
		log_trace("store", "rollback");
	if (sqlite3_get_autocommit(s->db))
		return 0;
	return exec_simple(s, ST_ROLLBACK, "rollback");
}

/* A checkpoint of sync_state (ST_MAILBOX_GET) or feedback_state (ST_FB_STATE_GET). */
static int checkpoint_get(struct store *s, enum stmt_id id, const char *account,
                          const char *mailbox, struct store_mailbox_state *out)
{
	sqlite3_stmt *st = stmt_get(s, id);
	int rc, r = 0;

	if (st == NULL)
		return -EIO;
	bind_text(st, 1, account, false);
	bind_text(st, 2, mailbox, false);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		out->uidvalidity = (uint32_t)sqlite3_column_int64(st, 0);
		out->last_uid = (uint32_t)sqlite3_column_int64(st, 1);
		out->highest_modseq = (uint64_t)sqlite3_column_int64(st, 2);
	} else if (rc == SQLITE_DONE) {
		r = -ENOENT;
	} else {
		r = db_fail(s, rc, "sync_state");
	}
	stmt_done(st);
	return r;
}

static int checkpoint_set(struct store *s, enum stmt_id id, const char *account,
                          const char *mailbox, const struct store_mailbox_state *in)
{
	sqlite3_stmt *st = stmt_get(s, id);
	int rc, r = 0;

	if (st == NULL)
		return -EIO;
	bind_text(st, 1, account, false);
	bind_text(st, 2, mailbox, false);
	sqlite3_bind_int64(st, 3, in->uidvalidity);
	sqlite3_bind_int64(st, 4, in->last_uid);
	/* SQLite integers are signed: a modseq above 2^63 is stored wrapped and read back. */
	sqlite3_bind_int64(st, 5, (sqlite3_int64)in->highest_modseq);
	sqlite3_bind_int64(st, 6, now_unix());
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		r = db_fail(s, rc, "sync_state update");
	stmt_done(st);
	return r;
}

int store_mailbox_get(struct store *s, const char *account, const char *mailbox,
                      struct store_mailbox_state *st)
{
	return checkpoint_get(s, ST_MAILBOX_GET, account, mailbox, st);
}

int store_mailbox_set(struct store *s, const char *account, const char *mailbox,
                      const struct store_mailbox_state *st)
{
	return checkpoint_set(s, ST_MAILBOX_SET, account, mailbox, st);
}

int store_feedback_state_get(struct store *s, const char *account, const char *folder,
                             struct store_mailbox_state *st)
{
	return checkpoint_get(s, ST_FB_STATE_GET, account, folder, st);
}

int store_feedback_state_set(struct store *s, const char *account, const char *folder,
                             const struct store_mailbox_state *st)
{
	return checkpoint_set(s, ST_FB_STATE_SET, account, folder, st);
}

/*
 * Finds or creates the client row for who, sets its flags, returns its id in *id.
 * The cache turns this into zero statements for a run of mail with the same client.
 */
static int client_id(struct store *s, const struct clients_match *who, int64_t *id)
{
	bool out = who->dir == RF_DIR_OUT;
	sqlite3_stmt *st;
	int rc, r = 0;

	/* A cache hit needs no statement unless a flag goes from 0 to 1: then upsert. */
	if (s->cache_name != NULL && strcmp(s->cache_name, who->client) == 0 &&
	    (!who->configured || s->cache_configured) && (!out || s->cache_owner_wrote)) {
		*id = s->cache_id;
		return 0;
	}
	cache_clear(s);
	st = stmt_get(s, ST_CLIENT_UPSERT);
	if (st == NULL)
		return -EIO;
	bind_text(st, 1, who->client, false);
	sqlite3_bind_int(st, 2, who->configured ? 1 : 0);
	sqlite3_bind_int(st, 3, out ? 1 : 0);
	sqlite3_bind_int64(st, 4, now_unix());
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		r = db_fail(s, rc, "client");
		goto out;
	}
	*id = sqlite3_column_int64(st, 0);
	s->cache_name = xstrdup(who->client);
	s->cache_id = *id;
	s->cache_configured = sqlite3_column_int(st, 1) != 0;
	s->cache_owner_wrote = sqlite3_column_int(st, 2) != 0;
	/* RETURNING rows are all computed by the first step; DONE follows. */
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE) {
		r = db_fail(s, rc, "client");
		cache_clear(s);
	}
out:
	stmt_done(st);
	return r;
}

/* Step 1 and 2 of store_message_put: 1 when the message is already there (found or re-keyed). */
static int message_known(struct store *s, const struct store_message *m)
{
	sqlite3_stmt *st = stmt_get(s, ST_MSG_FIND);
	int rc, r = 0;

	if (st == NULL)
		return -EIO;
	bind_text(st, 1, m->account, false);
	bind_text(st, 2, m->mailbox, false);
	sqlite3_bind_int64(st, 3, m->uidvalidity);
	sqlite3_bind_int64(st, 4, m->uid);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		s->last_message_id = sqlite3_column_int64(st, 0);
		r = 1;
	} else if (rc != SQLITE_DONE) {
		r = db_fail(s, rc, "message lookup");
	}
	stmt_done(st);
	if (r != 0)
		return r;

	st = stmt_get(s, ST_MSG_REKEY);
	if (st == NULL)
		return -EIO;
	bind_text(st, 1, m->account, false);
	bind_text(st, 2, m->mailbox, false);
	sqlite3_bind_int64(st, 3, m->uidvalidity);
	sqlite3_bind_int64(st, 4, m->uid);
	bind_text(st, 5, m->dedup_key, false);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		s->last_message_id = sqlite3_column_int64(st, 0);
		r = 1;
		rc = sqlite3_step(st);
	}
	if (rc != SQLITE_DONE)
		r = db_fail(s, rc, "message re-key");
	stmt_done(st);
	return r;
}

static const char *rcpt_join(struct store *s, const struct message *msg)
{
	strbuf_reset(&s->rcpt);
	for (size_t i = 0; i < msg->n_rcpt; i++) {
		const char *a = msg->rcpt[i].addr;

		if (a == NULL || a[0] == '\0')
			continue;
		if (s->rcpt.len > 0)
			strbuf_appendc(&s->rcpt, ',');
		strbuf_appends(&s->rcpt, a);
	}
	return s->rcpt.len > 0 ? s->rcpt.data : NULL;
}

int store_message_put(struct store *s, const struct store_message *m)
{
	const struct message *msg = m->msg;
	const struct clients_match *who = msg != NULL ? m->who : NULL;
	sqlite3_stmt *st;
	int64_t cid = 0;
	int rc, r;

	s->last_message_id = 0;
	r = message_known(s, m);
	if (r != 0)
		return r < 0 ? r : 0;
	if (who != NULL && who->client != NULL) {
		r = client_id(s, who, &cid);
		if (r < 0)
			return r;
	}

	st = stmt_get(s, ST_MSG_INSERT);
	if (st == NULL)
		return -EIO;
	bind_text(st, 1, m->account, false);
	bind_text(st, 2, m->mailbox, false);
	sqlite3_bind_int64(st, 3, m->uidvalidity);
	sqlite3_bind_int64(st, 4, m->uid);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)m->size);
	bind_text(st, 7, m->dedup_key, false);
	if (msg != NULL) {
		bind_text(st, 6, msg->message_id, true);
		bind_text(st, 8, msg->thread_id, true);
		bind_text(st, 9, msg->in_reply_to, true);
		if (msg->date != 0) {
			sqlite3_bind_int64(st, 10, msg->date);
			sqlite3_bind_int(st, 11, msg->tz_offset_min);
		}
		bind_text(st, 13, msg->from.addr, true);
		bind_text(st, 14, msg->from.name, true);
		bind_text(st, 15, rcpt_join(s, msg), false);
		bind_text(st, 18, msg->subject, false);
		bind_text(st, 19, msg->body, false);
		bind_text(st, 20, msg->text, false);
		sqlite3_bind_int64(st, 23, (sqlite3_int64)msg->n_rcpt);
	} else {
		/* parse_error IS NOT NULL is what marks a row unparseable: never leave it NULL. */
		bind_text(st, 22,
		          m->parse_error != NULL && m->parse_error[0] != '\0' ? m->parse_error
		                                                              : "unparseable",
		          false);
	}
	/* NOT NULL columns: an explicit NULL would not fall back to the DEFAULT. */
	sqlite3_bind_int(st, 12, who != NULL ? (int)who->dir : RF_DIR_NONE);
	sqlite3_bind_int(st, 21, msg != NULL ? (int)msg->flags : 0);
	if (msg == NULL)
		sqlite3_bind_int(st, 23, 0);
	if (who != NULL)
		bind_text(st, 16, who->counterparty, true);
	if (cid != 0)
		sqlite3_bind_int64(st, 17, cid);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		s->last_message_id = sqlite3_last_insert_rowid(s->db);
		r = 1;
	} else {
		r = db_fail(s, rc, "message insert");
	}
	stmt_done(st);
	return r;
}

int64_t store_message_last_id(const struct store *s)
{
	return s->last_message_id;
}

int store_stats(struct store *s, bool need_reply, struct store_stats *out)
{
	sqlite3_stmt *st = stmt_get(s, ST_STATS);
	int rc, r = 0;

	if (st == NULL)
		return -EIO;
	*out = (struct store_stats){0};
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		out->messages = sqlite3_column_int64(st, 0);
		out->signals = sqlite3_column_int64(st, 1);
		out->unparseable = sqlite3_column_int64(st, 2);
	} else {
		r = db_fail(s, rc, "stats");
	}
	stmt_done(st);
	if (r < 0)
		return r;

	st = stmt_get(s, ST_STATS_CLIENTS);
	if (st == NULL)
		return -EIO;
	sqlite3_bind_int(st, 1, need_reply ? 1 : 0);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		out->clients = sqlite3_column_int64(st, 0);
	else
		r = db_fail(s, rc, "stats");
	stmt_done(st);
	return r;
}

static const char *column_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t != NULL ? (const char *)t : "";
}

int store_mailboxes_foreach(struct store *s,
                            int (*fn)(void *arg, const struct store_mailbox_row *r), void *arg)
{
	sqlite3_stmt *st = stmt_get(s, ST_MAILBOXES);
	int rc, r = 0;

	if (st == NULL)
		return -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_mailbox_row row = {
		    .account = column_text(st, 0),
		    .mailbox = column_text(st, 1),
		    .state =
		        {
		            .uidvalidity = (uint32_t)sqlite3_column_int64(st, 2),
		            .last_uid = (uint32_t)sqlite3_column_int64(st, 3),
		            .highest_modseq = (uint64_t)sqlite3_column_int64(st, 4),
		        },
		    .messages = sqlite3_column_int64(st, 5),
		};

		r = fn(arg, &row);
		if (r != 0)
			break;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = db_fail(s, rc, "mailboxes");
	/* Resetting ends the read transaction so the WAL can be checkpointed. */
	stmt_done(st);
	return r;
}

int store_clients_foreach(struct store *s, bool need_reply,
                          int (*fn)(void *arg, const struct store_client_row *r), void *arg)
{
	sqlite3_stmt *st = stmt_get(s, ST_CLIENTS);
	int rc, r = 0;

	if (st == NULL)
		return -EIO;
	sqlite3_bind_int(st, 1, need_reply ? 1 : 0);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_client_row row = {
		    .id = sqlite3_column_int64(st, 0),
		    .name = column_text(st, 1),
		    .configured = sqlite3_column_int(st, 2) != 0,
		    .owner_wrote = sqlite3_column_int(st, 3) != 0,
		    .messages_in = sqlite3_column_int64(st, 4),
		    .messages_out = sqlite3_column_int64(st, 5),
		    .first_date = sqlite3_column_int64(st, 6),
		    .last_date = sqlite3_column_int64(st, 7),
		    .onboarded_at = sqlite3_column_int64(st, 9),
		};

		r = fn(arg, &row);
		if (r != 0)
			break;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = db_fail(s, rc, "clients");
	stmt_done(st);
	return r;
}

int store_signals_set(struct store *s, int64_t message, const char *lang,
                      const struct store_signal *v, size_t n)
{
	sqlite3_stmt *st = stmt_get(s, ST_SIG_DELETE);
	struct strbuf sum = STRBUF_INIT;
	int rc;

	if (st == NULL)
		return -EIO;
	sqlite3_bind_int64(st, 1, message);
	rc = sqlite3_step(st);
	stmt_done(st);
	if (rc != SQLITE_DONE)
		return db_fail(s, rc, "signals delete");
	/* The summary the period index covers: "id:weight,..." (%g never prints a comma). */
	for (size_t i = 0; i < n; i++)
		strbuf_appendf(&sum, "%s%s:%g", i ? "," : "", v[i].signal, v[i].weight);
	for (size_t i = 0; i < n; i++) {
		st = stmt_get(s, ST_SIG_INSERT);
		if (st == NULL) {
			strbuf_release(&sum);
			return -EIO;
		}
		sqlite3_bind_int64(st, 1, message);
		bind_text(st, 2, v[i].signal, false);
		bind_text(st, 3, v[i].rule, true);
		sqlite3_bind_double(st, 4, v[i].weight);
		bind_text(st, 5, v[i].excerpt, true);
		rc = sqlite3_step(st);
		stmt_done(st);
		if (rc != SQLITE_DONE) {
			strbuf_release(&sum);
			return db_fail(s, rc, "signal insert");
		}
	}
	st = stmt_get(s, ST_MSG_SET_LANG);
	if (st == NULL) {
		strbuf_release(&sum);
		return -EIO;
	}
	sqlite3_bind_int64(st, 1, message);
	bind_text(st, 2, lang, true);
	bind_text(st, 3, sum.data, true);
	rc = sqlite3_step(st);
	stmt_done(st);
	strbuf_release(&sum);
	return rc == SQLITE_DONE ? 0 : db_fail(s, rc, "message language");
}

int store_signals_foreach(struct store *s, int64_t message,
                          int (*fn)(void *arg, const struct store_signal *sig), void *arg)
{
	sqlite3_stmt *st = stmt_get(s, ST_SIG_LIST);
	int rc, r = 0;

	if (st == NULL)
		return -EIO;
	sqlite3_bind_int64(st, 1, message);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_signal sig = {
		    .signal = column_text(st, 0),
		    .rule = column_text(st, 1),
		    .weight = sqlite3_column_double(st, 2),
		    .excerpt = column_text(st, 3),
		};

		r = fn(arg, &sig);
		if (r != 0)
			break;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = db_fail(s, rc, "signals");
	stmt_done(st);
	return r;
}

static int message_rows(struct store *s, sqlite3_stmt *st,
                        int (*fn)(void *arg, const struct store_message_row *row), void *arg)
{
	int rc, r = 0;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_message_row row = {
		    .id = sqlite3_column_int64(st, 0),
		    .account = column_text(st, 1),
		    .mailbox = column_text(st, 2),
		    .uid = (uint32_t)sqlite3_column_int64(st, 3),
		    .message_id = column_text(st, 4),
		    .date = sqlite3_column_int64(st, 5),
		    .direction = sqlite3_column_int(st, 6),
		    .from_addr = column_text(st, 7),
		    .subject = column_text(st, 8),
		    .text = column_text(st, 9),
		    .flags = (unsigned)sqlite3_column_int(st, 10),
		    .lang = column_text(st, 11),
		    .client = column_text(st, 12),
		    .body = column_text(st, 13),
		    .n_rcpt = (size_t)sqlite3_column_int64(st, 14),
		};

		r = fn(arg, &row);
		if (r != 0)
			break;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = db_fail(s, rc, "messages");
	stmt_done(st);
	return r;
}

int store_message_get(struct store *s, int64_t id,
                      int (*fn)(void *arg, const struct store_message_row *row), void *arg)
{
	sqlite3_stmt *st = stmt_get(s, ST_MSG_ROW);

	if (st == NULL)
		return -EIO;
	sqlite3_bind_int64(st, 1, id);
	return message_rows(s, st, fn, arg);
}

int store_messages_by_msgid(struct store *s, const char *message_id,
                            int (*fn)(void *arg, const struct store_message_row *row), void *arg)
{
	sqlite3_stmt *st = stmt_get(s, ST_MSG_BY_MSGID);

	if (st == NULL)
		return -EIO;
	bind_text(st, 1, message_id, false);
	return message_rows(s, st, fn, arg);
}

int store_message_ids_after(struct store *s, int64_t after, size_t limit, int64_t *ids, size_t *n)
{
	sqlite3_stmt *st = stmt_get(s, ST_MSG_IDS_AFTER);
	int rc = SQLITE_DONE;

	*n = 0;
	if (st == NULL)
		return -EIO;
	sqlite3_bind_int64(st, 1, after);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)limit);
	while (*n < limit && (rc = sqlite3_step(st)) == SQLITE_ROW)
		ids[(*n)++] = sqlite3_column_int64(st, 0);
	if (*n < limit && rc != SQLITE_DONE) {
		int r = db_fail(s, rc, "message ids");

		stmt_done(st);
		return r;
	}
	stmt_done(st);
	return 0;
}

int store_message_set_text(struct store *s, int64_t message, const char *text)
{
	sqlite3_stmt *st = stmt_get(s, ST_MSG_SET_TEXT);
	int rc;

	if (st == NULL)
		return -EIO;
	sqlite3_bind_int64(st, 1, message);
	bind_text(st, 2, text, false);
	rc = sqlite3_step(st);
	stmt_done(st);
	return rc == SQLITE_DONE ? 0 : db_fail(s, rc, "message text");
}

/* ---------------------------------------------------------------- review */

/* Runs a prepared write statement to completion. */
static int step_write(struct store *s, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);
	int r = rc == SQLITE_DONE ? 0 : db_fail(s, rc, what);

	stmt_done(st);
	return r;
}

int store_period_messages(struct store *s, int64_t from, int64_t to,
                          int (*fn)(void *arg, const struct store_period_msg *m), void *arg)
{
	sqlite3_stmt *st = stmt_get(s, ST_PERIOD_MSGS);
	int rc, r = 0;

	if (st == NULL)
		return -EIO;
	sqlite3_bind_int64(st, 1, from);
	sqlite3_bind_int64(st, 2, to);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *thread = (const char *)sqlite3_column_text(st, 1);
		struct store_period_msg m = {
		    .client = sqlite3_column_int64(st, 0),
		    .thread = thread ? thread : "",
		    .thread_len = (size_t)sqlite3_column_bytes(st, 1),
		    .direction = sqlite3_column_int(st, 2),
		    .message = sqlite3_column_int64(st, 3),
		    .date = sqlite3_column_int64(st, 4),
		    .signals = column_text(st, 5),
		};

		r = fn(arg, &m);
		if (r != 0)
			break;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = db_fail(s, rc, "period messages");
	stmt_done(st);
	return r;
}

int store_evidence(struct store *s, int64_t message, const char *signal, int64_t *date,
                   char **subject, char **excerpt)
{
	sqlite3_stmt *st = stmt_get(s, ST_EVIDENCE);
	int rc, r = 0;

	if (st == NULL)
		return -EIO;
	sqlite3_bind_int64(st, 1, message);
	bind_text(st, 2, signal, false);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*date = sqlite3_column_int64(st, 0);
		*subject = xstrdup(column_text(st, 1));
		*excerpt = xstrdup(column_text(st, 2));
	} else if (rc == SQLITE_DONE) {
		r = -ENOENT;
	} else {
		r = db_fail(s, rc, "evidence");
	}
	stmt_done(st);
	return r;
}

int store_digest_get(struct store *s, const char *period, struct store_digest *d)
{
	sqlite3_stmt *st = stmt_get(s, ST_DIGEST_GET);
	int rc, r = 0;

	memset(d, 0, sizeof(*d));
	if (st == NULL)
		return -EIO;
	bind_text(st, 1, period, false);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		snprintf(d->message_id, sizeof(d->message_id), "%s", column_text(st, 0));
		d->attempt = sqlite3_column_int(st, 1);
		d->prepared_at = sqlite3_column_int64(st, 2);
		d->transmitted_at = sqlite3_column_int64(st, 3);
		d->sent_at = sqlite3_column_int64(st, 4);
	} else if (rc == SQLITE_DONE) {
		r = -ENOENT;
	} else {
		r = db_fail(s, rc, "digest");
	}
	stmt_done(st);
	return r;
}

int store_digest_prepare(struct store *s, const char *period, const char *message_id, int attempt,
                         int64_t now)
{
	sqlite3_stmt *st = stmt_get(s, ST_DIGEST_PREPARE);

	if (st == NULL)
		return -EIO;
	bind_text(st, 1, period, false);
	bind_text(st, 2, message_id, false);
	sqlite3_bind_int(st, 3, attempt);
	sqlite3_bind_int64(st, 4, now);
	return step_write(s, st, "digest prepare");
}

/* The three state changes after prepare share one shape: period, optional time. */
static int digest_mark(struct store *s, enum stmt_id id, const char *period, int64_t now,
                       const char *what)
{
	sqlite3_stmt *st = stmt_get(s, id);

	if (st == NULL)
		return -EIO;
	bind_text(st, 1, period, false);
	if (id != ST_DIGEST_FAILED)
		sqlite3_bind_int64(st, 2, now);
	return step_write(s, st, what);
}

int store_digest_transmitted(struct store *s, const char *period, int64_t now)
{
	return digest_mark(s, ST_DIGEST_TRANSMITTED, period, now, "digest transmitted");
}

int store_digest_sent(struct store *s, const char *period, int64_t now)
{
	return digest_mark(s, ST_DIGEST_SENT, period, now, "digest sent");
}

int store_digest_failed(struct store *s, const char *period)
{
	return digest_mark(s, ST_DIGEST_FAILED, period, 0, "digest failed");
}

/* ---------------------------------------------------------------- clients' mail */

int store_meta_get(struct store *s, const char *key, char **value)
{
	sqlite3_stmt *st = stmt_get(s, ST_META_GET);
	int rc, r = 0;

	*value = NULL;
	if (st == NULL)
		return -EIO;
	bind_text(st, 1, key, false);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*value = xstrdup(column_text(st, 0));
	else if (rc == SQLITE_DONE)
		r = -ENOENT;
	else
		r = db_fail(s, rc, "meta");
	stmt_done(st);
	return r;
}

int store_meta_set(struct store *s, const char *key, const char *value)
{
	sqlite3_stmt *st = stmt_get(s, ST_META_SET);

	if (st == NULL)
		return -EIO;
	bind_text(st, 1, key, false);
	bind_text(st, 2, value, false);
	return step_write(s, st, "meta");
}

int store_client_id(struct store *s, const char *name, int64_t *id)
{
	sqlite3_stmt *st = stmt_get(s, ST_CLIENT_ID);
	int rc, r = 0;

	*id = 0;
	if (st == NULL)
		return -EIO;
	bind_text(st, 1, name, false);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*id = sqlite3_column_int64(st, 0);
	else if (rc == SQLITE_DONE)
		r = -ENOENT;
	else
		r = db_fail(s, rc, "client");
	stmt_done(st);
	return r;
}

int store_client_contact(struct store *s, int64_t client, char **addr, unsigned *flags, char **lang)
{
	sqlite3_stmt *st = stmt_get(s, ST_CONTACT);
	int rc, r = 0;

	*addr = *lang = NULL;
	*flags = 0;
	if (st == NULL)
		return -EIO;
	sqlite3_bind_int64(st, 1, client);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*addr = xstrdup(column_text(st, 0));
		*flags = (unsigned)sqlite3_column_int(st, 1);
	} else if (rc == SQLITE_DONE) {
		r = -ENOENT;
	} else {
		r = db_fail(s, rc, "contact");
	}
	stmt_done(st);
	if (r < 0)
		return r;
	st = stmt_get(s, ST_CONTACT_LANG);
	if (st == NULL) {
		free(*addr);
		*addr = NULL;
		return -EIO;
	}
	sqlite3_bind_int64(st, 1, client);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*lang = xstrdup(column_text(st, 0));
	else if (rc != SQLITE_DONE)
		r = db_fail(s, rc, "contact language");
	stmt_done(st);
	if (r < 0) {
		free(*addr);
		*addr = NULL;
	}
	return r;
}

int store_outbox_get(struct store *s, int64_t client, const char *kind, struct store_outbox *o)
{
	sqlite3_stmt *st = stmt_get(s, ST_OUTBOX_GET);
	int rc, r = 0;

	memset(o, 0, sizeof(*o));
	if (st == NULL)
		return -EIO;
	sqlite3_bind_int64(st, 1, client);
	bind_text(st, 2, kind, false);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		snprintf(o->lang, sizeof(o->lang), "%s", column_text(st, 0));
		snprintf(o->message_id, sizeof(o->message_id), "%s", column_text(st, 1));
		snprintf(o->rcpt, sizeof(o->rcpt), "%s", column_text(st, 2));
		o->attempt = sqlite3_column_int(st, 3);
		o->prepared_at = sqlite3_column_int64(st, 4);
		o->transmitted_at = sqlite3_column_int64(st, 5);
		o->sent_at = sqlite3_column_int64(st, 6);
	} else if (rc == SQLITE_DONE) {
		r = -ENOENT;
	} else {
		r = db_fail(s, rc, "outbox");
	}
	stmt_done(st);
	return r;
}

int store_outbox_prepare(struct store *s, int64_t client, const char *kind, const char *lang,
                         const char *rcpt, const char *message_id, int attempt, int64_t now)
{
	sqlite3_stmt *st = stmt_get(s, ST_OUTBOX_PREPARE);

	if (st == NULL)
		return -EIO;
	sqlite3_bind_int64(st, 1, client);
	bind_text(st, 2, kind, false);
	bind_text(st, 3, lang, false);
	bind_text(st, 4, rcpt, false);
	bind_text(st, 5, message_id, false);
	sqlite3_bind_int(st, 6, attempt);
	sqlite3_bind_int64(st, 7, now);
	return step_write(s, st, "outbox prepare");
}

static int outbox_mark(struct store *s, enum stmt_id id, int64_t client, const char *kind,
                       int64_t now, const char *what)
{
	sqlite3_stmt *st = stmt_get(s, id);

	if (st == NULL)
		return -EIO;
	sqlite3_bind_int64(st, 1, client);
	bind_text(st, 2, kind, false);
	if (id != ST_OUTBOX_FAILED)
		sqlite3_bind_int64(st, 3, now);
	return step_write(s, st, what);
}

int store_outbox_transmitted(struct store *s, int64_t client, const char *kind, int64_t now)
{
	return outbox_mark(s, ST_OUTBOX_TRANSMITTED, client, kind, now, "outbox transmitted");
}

int store_outbox_sent(struct store *s, int64_t client, const char *kind, int64_t now)
{
	return outbox_mark(s, ST_OUTBOX_SENT, client, kind, now, "outbox sent");
}

int store_outbox_failed(struct store *s, int64_t client, const char *kind)
{
	return outbox_mark(s, ST_OUTBOX_FAILED, client, kind, 0, "outbox failed");
}

int store_outbox_recent(struct store *s, const char *kind, int64_t since, int64_t *n)
{
	sqlite3_stmt *st = stmt_get(s, ST_OUTBOX_RECENT);
	int rc, r = 0;

	*n = 0;
	if (st == NULL)
		return -EIO;
	bind_text(st, 1, kind, false);
	sqlite3_bind_int64(st, 2, since);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*n = sqlite3_column_int64(st, 0);
	else
		r = db_fail(s, rc, "outbox count");
	stmt_done(st);
	return r;
}

/* ---------------------------------------------------------------- the owner's corrections */

#define VERDICTS_MAX 32 /* signals with their own verdict on one message (the catalogue has 11) */

/*
 * The owner's last word on the signals of one message, from its corrections in (created, id)
 * order: a "wrong" clears everything before it and sets none; "+x" / "-x" set x.
 */
struct verdicts {
	bool none;
	size_t n;
	struct {
		char signal[48];
		bool present;
		char source[96]; /* of the latest "+", for the excerpt */
	} v[VERDICTS_MAX];
};

static void verdicts_add(struct verdicts *vd, const struct store_feedback *fb)
{
	size_t i;

	if (strcmp(fb->verdict, "wrong") == 0) {
		vd->none = true;
		vd->n = 0;
		return;
	}
	if (fb->signal == NULL || strlen(fb->signal) >= sizeof(vd->v[0].signal))
		return;
	for (i = 0; i < vd->n && strcmp(vd->v[i].signal, fb->signal) != 0; i++)
		;
	if (i == vd->n) {
		if (vd->n == VERDICTS_MAX)
			return;
		snprintf(vd->v[vd->n++].signal, sizeof(vd->v[0].signal), "%s", fb->signal);
	}
	vd->v[i].present = fb->verdict[0] == '+';
	snprintf(vd->v[i].source, sizeof(vd->v[i].source), "%s", fb->source);
}

static int verdicts_collect(void *arg, const struct store_feedback *fb)
{
	verdicts_add(arg, fb);
	return 0;
}

/* The verdict on signal id: 1 present, 0 absent, -1 the owner said nothing about it. */
static int verdict_of(const struct verdicts *vd, const char *id, const struct rules *r)
{
	const struct rules_signal *def = r ? rules_signal_find(r, id) : NULL;

	for (size_t i = 0; i < vd->n; i++)
		if (strcmp(vd->v[i].signal, id) == 0)
			return vd->v[i].present;
	/* "wrong" judges the words, not the clock: time signals and old_rate stay. */
	if (vd->none && (def == NULL || def->text))
		return 0;
	return -1;
}

static int feedback_rows(struct store *s, sqlite3_stmt *st,
                         int (*fn)(void *arg, const struct store_feedback *fb), void *arg)
{
	int rc, r = 0;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_feedback fb = {
		    .id = sqlite3_column_int64(st, 0),
		    .message_id = column_text(st, 1),
		    .signal = (const char *)sqlite3_column_text(st, 2),
		    .verdict = column_text(st, 3),
		    .source = column_text(st, 4),
		    .created = sqlite3_column_int64(st, 5),
		};

		r = fn(arg, &fb);
		if (r != 0)
			break;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = db_fail(s, rc, "feedback");
	stmt_done(st);
	return r;
}

int store_feedback_foreach(struct store *s, const char *message_id,
                           int (*fn)(void *arg, const struct store_feedback *fb), void *arg)
{
	sqlite3_stmt *st = stmt_get(s, ST_FB_LIST);

	if (st == NULL)
		return -EIO;
	bind_text(st, 1, message_id, false);
	return feedback_rows(s, st, fn, arg);
}

/* "+rush", "-rush" or "wrong" into buf. */
static const char *verdict_text(const struct store_feedback *fb, char *buf, size_t len)
{
	if (fb->signal == NULL)
		return fb->verdict;
	snprintf(buf, len, "%s%s", fb->verdict, fb->signal);
	return buf;
}

/* Logs every other correction of the message that the new one contradicts, and which wins. */
static int log_contradiction(void *arg, const struct store_feedback *old)
{
	const struct store_feedback *fb = arg, *win, *lose;
	char a[64], b[64];
	bool clash;

	if (old->id == fb->id)
		return 0;
	if (fb->signal == NULL)
		clash = old->verdict[0] == '+';
	else if (old->signal == NULL)
		clash = fb->verdict[0] == '+';
	else
		clash = strcmp(old->signal, fb->signal) == 0 && old->verdict[0] != fb->verdict[0];
	if (!clash)
		return 0;
	/* Normally the new one, unless the caller dated it back. */
	win = old->created > fb->created || (old->created == fb->created && old->id > fb->id) ? old
	                                                                                      : fb;
	lose = win == fb ? old : fb;
	log_notice("<%s>: the owner's corrections disagree: %s (%s) is later and wins over %s (%s)",
	           fb->message_id, verdict_text(win, a, sizeof(a)), win->source,
	           verdict_text(lose, b, sizeof(b)), lose->source);
	return 0;
}

/* "wrong" without a signal, "+" or "-" with one. */
static bool feedback_valid(const struct store_feedback *fb)
{
	if (strcmp(fb->verdict, "wrong") == 0)
		return fb->signal == NULL;
	return fb->signal != NULL && fb->signal[0] != '\0' &&
	       (strcmp(fb->verdict, "+") == 0 || strcmp(fb->verdict, "-") == 0);
}

int store_feedback_add(struct store *s, const struct store_feedback *fb)
{
	bool again = strcmp(fb->source, "mark") == 0;
	struct store_feedback added = *fb;
	sqlite3_stmt *st;
	int r;

	if (!feedback_valid(fb)) {
		set_err(s, "bad correction: verdict \"%s\" for signal %s", fb->verdict,
		        fb->signal ? fb->signal : "(none)");
		return -EINVAL;
	}
	if (again) {
		st = stmt_get(s, ST_FB_FORGET);
		if (st == NULL)
			return -EIO;
		bind_text(st, 1, fb->message_id, false);
		bind_text(st, 2, fb->signal, false);
		bind_text(st, 3, fb->verdict, false);
		bind_text(st, 4, fb->source, false);
		r = step_write(s, st, "feedback");
		if (r < 0)
			return r;
	}
	st = stmt_get(s, ST_FB_INSERT);
	if (st == NULL)
		return -EIO;
	bind_text(st, 1, fb->message_id, false);
	bind_text(st, 2, fb->signal, false);
	bind_text(st, 3, fb->verdict, false);
	bind_text(st, 4, fb->source, false);
	sqlite3_bind_int64(st, 5, fb->created);
	r = step_write(s, st, "feedback");
	if (r < 0)
		return r;
	if (sqlite3_changes(s->db) == 0)
		return 0;
	added.id = sqlite3_last_insert_rowid(s->db);
	r = store_feedback_foreach(s, fb->message_id, log_contradiction, &added);
	return r < 0 ? r : 1;
}

/* A message's signals, copied (store_signals_foreach's strings live only for the call). */
struct sig_list {
	struct store_signal *v;
	size_t n, cap;
};

static void sig_list_add(struct sig_list *l, const char *signal, const char *rule, double weight,
                         const char *excerpt)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->v = xreallocarray(l->v, l->cap, sizeof(*l->v));
	}
	l->v[l->n++] =
	    (struct store_signal){xstrdup(signal), xstrdup(rule), weight, xstrdup(excerpt)};
}

static int sig_list_collect(void *arg, const struct store_signal *sig)
{
	sig_list_add(arg, sig->signal, sig->rule, sig->weight, sig->excerpt);
	return 0;
}

static void sig_list_release(struct sig_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free((char *)l->v[i].signal);
		free((char *)l->v[i].rule);
		free((char *)l->v[i].excerpt);
	}
	free(l->v);
	*l = (struct sig_list){0};
}

/* "filed by the owner into redflagd/rush" for "folder:redflagd/rush/17". */
static char *owner_excerpt(const char *source)
{
	const char *slash;

	if (strncmp(source, "folder:", 7) != 0 || (slash = strrchr(source, '/')) == NULL ||
	    slash < source + 7)
		return xstrdup("marked by the owner");
	return xasprintf("filed by the owner into %.*s", (int)(slash - source - 7), source + 7);
}

/*
 * The message's signals with the verdicts applied: *out gets the kept and added ones;
 * returns whether anything differs from cur.
 */
static bool verdicts_apply(const struct verdicts *vd, const struct sig_list *cur,
                           const struct rules *r, struct sig_list *out)
{
	bool changed = false;

	for (size_t i = 0; i < cur->n; i++) {
		const struct store_signal *g = &cur->v[i];

		if (verdict_of(vd, g->signal, r) == 0)
			changed = true;
		else
			sig_list_add(out, g->signal, g->rule, g->weight, g->excerpt);
	}
	for (size_t k = 0; k < vd->n; k++) {
		const struct rules_signal *def = r ? rules_signal_find(r, vd->v[k].signal) : NULL;
		bool have = false;
		char *note;

		for (size_t i = 0; i < cur->n && !have; i++)
			have = strcmp(cur->v[i].signal, vd->v[k].signal) == 0;
		if (!vd->v[k].present || have)
			continue;
		note = owner_excerpt(vd->v[k].source);
		sig_list_add(out, vd->v[k].signal, "owner.mark", def ? def->weight : 1.0, note);
		free(note);
		changed = true;
	}
	return changed;
}

int store_feedback_apply(struct store *s, int64_t message, const struct rules *r)
{
	struct verdicts vd = {0};
	struct sig_list cur = {0}, out = {0};
	sqlite3_stmt *st = stmt_get(s, ST_FB_OF_MESSAGE);
	char *lang = NULL;
	int rc, ret;

	if (st == NULL)
		return -EIO;
	sqlite3_bind_int64(st, 1, message);
	ret = feedback_rows(s, st, verdicts_collect, &vd);
	if (ret < 0 || (!vd.none && vd.n == 0))
		return ret; /* no corrections: the usual case, one indexed lookup */
	ret = store_signals_foreach(s, message, sig_list_collect, &cur);
	if (ret < 0 || !verdicts_apply(&vd, &cur, r, &out))
		goto out;
	/* store_signals_set() writes the language too: keep the one the message has. */
	st = stmt_get(s, ST_MSG_LANG);
	if (st == NULL) {
		ret = -EIO;
		goto out;
	}
	sqlite3_bind_int64(st, 1, message);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL)
		lang = xstrdup(column_text(st, 0));
	else if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		ret = db_fail(s, rc, "message language");
	stmt_done(st);
	if (ret == 0)
		ret = store_signals_set(s, message, lang, out.v, out.n);
	if (ret == 0)
		ret = 1;
out:
	free(lang);
	sig_list_release(&cur);
	sig_list_release(&out);
	return ret;
}

/* Collects one corrected message for store_feedback_messages(). */
struct fb_batch {
	struct store *s;
	const struct rules *r;
	int (*fn)(void *arg, const struct store_message_row *row, const char *labels,
	          const char *owner);
	void *arg;
};

static int feedback_message(void *arg, const struct store_message_row *row)
{
	struct fb_batch *b = arg;
	struct verdicts vd = {0};
	struct sig_list cur = {0};
	struct strbuf labels = STRBUF_INIT, owner = STRBUF_INIT;
	int ret;

	ret = store_feedback_foreach(b->s, row->message_id, verdicts_collect, &vd);
	if (ret == 0)
		ret = store_signals_foreach(b->s, row->id, sig_list_collect, &cur);
	if (ret < 0)
		goto out;
	for (size_t i = 0; i < cur.n; i++) {
		const struct rules_signal *def =
		    b->r ? rules_signal_find(b->r, cur.v[i].signal) : NULL;

		if (def == NULL || def->text)
			strbuf_appendf(&labels, "%s%s", labels.len ? "," : "", cur.v[i].signal);
	}
	if (vd.none)
		strbuf_appends(&owner, "none");
	for (size_t k = 0; k < vd.n; k++)
		strbuf_appendf(&owner, "%s%c%s", owner.len ? "," : "", vd.v[k].present ? '+' : '-',
		               vd.v[k].signal);
	ret = b->fn(b->arg, row, labels.data ? labels.data : "", owner.data ? owner.data : "");
out:
	sig_list_release(&cur);
	strbuf_release(&labels);
	strbuf_release(&owner);
	return ret;
}

int store_feedback_messages(struct store *s, const struct rules *r,
                            int (*fn)(void *arg, const struct store_message_row *row,
                                      const char *labels, const char *owner),
                            void *arg)
{
	struct fb_batch b = {s, r, fn, arg};
	sqlite3_stmt *st = stmt_get(s, ST_FB_MESSAGES);

	if (st == NULL)
		return -EIO;
	return message_rows(s, st, feedback_message, &b);
}
