/*
 * store: real SQLite files in a fresh mkdtemp directory per test. A second, raw SQLite
 * connection looks at what the store wrote, by the table and column names other modules
 * and the integration tests rely on.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "redflag/store.h"
#include "redflag/util.h"

struct fx {
	char dir[64];
	char *db; /* dir/test.db */
};

static int fx_setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/rf-store-XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	f->db = xasprintf("%s/test.db", f->dir);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	DIR *d = opendir(f->dir);
	struct dirent *e;

	while (d != NULL && (e = readdir(d)) != NULL) {
		char *p;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		p = xasprintf("%s/%s", f->dir, e->d_name);
		unlink(p);
		free(p);
	}
	if (d != NULL)
		closedir(d);
	rmdir(f->dir);
	free(f->db);
	free(f);
	return 0;
}

static struct store *open_ok(const char *path)
{
	struct store *s = NULL;
	char err[256] = "";
	int r = store_open(path, &s, err, sizeof(err));

	if (r != 0)
		fail_msg("store_open: %d %s", r, err);
	assert_non_null(s);
	return s;
}

/* --- a raw connection for looking at the file ------------------------------------- */

static sqlite3 *raw_open(const char *path)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	return db;
}

/* Result of a one-value query, as text ("" for NULL); caller frees. */
static char *raw_text(const char *path, const char *sql)
{
	sqlite3 *db = raw_open(path);
	sqlite3_stmt *st = NULL;
	char *out;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(st) != SQLITE_ROW)
		fail_msg("%s: no row", sql);
	out = xstrdup(sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0) : "");
	sqlite3_finalize(st);
	sqlite3_close(db);
	return out;
}

static int64_t raw_int(const char *path, const char *sql)
{
	char *t = raw_text(path, sql);
	int64_t v = 0;

	if (parse_int64(t, INT64_MIN, INT64_MAX, &v) != 0)
		fail_msg("%s: not an integer: '%s'", sql, t);
	free(t);
	return v;
}

static void raw_exec(const char *path, const char *sql)
{
	sqlite3 *db = raw_open(path);
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
	sqlite3_close(db);
}

static unsigned file_mode(const char *path)
{
	struct stat sb;

	if (stat(path, &sb) != 0)
		fail_msg("stat %s: %s", path, strerror(errno));
	return (unsigned)(sb.st_mode & 07777);
}

/* --- building messages -------------------------------------------------------------- */

struct tmsg {
	const char *mid;    /* Message-ID, also the dedup key; "" for none */
	const char *client; /* NULL: no client */
	bool configured;
	enum rf_direction dir;
	int64_t date;
};

/* Puts t as (INBOX|mailbox, uv, uid) of account "acct"; returns store_message_put's result. */
static int put(struct store *s, const char *mailbox, uint32_t uv, uint32_t uid,
               const struct tmsg *t)
{
	struct message_addr rcpt[] = {{"Jane", "jane@acme.com"}, {"", ""}, {"", "ole@beta.dk"}};
	struct message m = {
	    .message_id = (char *)t->mid,
	    .in_reply_to = "",
	    .thread_id = (char *)t->mid,
	    .header_hash = "0123abcd",
	    .subject = "Re: logo",
	    .date = t->date,
	    .tz_offset_min = 60,
	    .from = {"Mette Holm", "mette@studio.dk"},
	    .rcpt = rcpt,
	    .n_rcpt = ARRAY_SIZE(rcpt),
	    .flags = 0,
	    .body = "Hi Jane,\n> quoted\nthanks",
	    .text = "Hi Jane, thanks",
	};
	struct clients_match who = {
	    .dir = t->dir,
	    .counterparty = "jane@acme.com",
	    .client = (char *)t->client,
	    .configured = t->configured,
	};
	char key[64];
	struct store_message sm = {
	    .account = "acct",
	    .mailbox = mailbox,
	    .uidvalidity = uv,
	    .uid = uid,
	    .size = 1234,
	    .msg = &m,
	    .dedup_key = t->mid,
	    .who = &who,
	};

	if (t->mid[0] == '\0') {
		snprintf(key, sizeof(key), "uid:%u:%u", uv, uid);
		sm.dedup_key = key;
	}
	return store_message_put(s, &sm);
}

static int put_unparseable(struct store *s, const char *mailbox, uint32_t uid, const char *why)
{
	char key[64];
	struct store_message sm = {
	    .account = "acct",
	    .mailbox = mailbox,
	    .uidvalidity = 1,
	    .uid = uid,
	    .size = 10,
	    .parse_error = why,
	    .dedup_key = key,
	};

	snprintf(key, sizeof(key), "raw:%08x", uid);
	return store_message_put(s, &sm);
}

/* --- tests --------------------------------------------------------------------------- */

static int64_t count_columns(const char *list)
{
	int64_t n = 1;

	for (const char *p = list; *p != '\0'; p++)
		n += *p == ',';
	return n;
}

static void test_fresh_schema(void **state)
{
	/* Exactly the names the integration tests query. */
	static const struct {
		const char *table, *columns;
	} schema[] = {
	    {"clients", "id, name, configured, owner_wrote, created_at"},
	    {"messages", "id, account, mailbox, uidvalidity, uid, size, message_id, dedup_key, "
	                 "thread_id, in_reply_to, date, tz_offset, direction, from_addr, "
	                 "from_name, rcpt, counterparty, client_id, subject, body, text, flags, "
	                 "lang, parse_error, signals, rcpt_count"},
	    {"signals", "id, message_id, signal, rule, weight, excerpt, date, subject"},
	    {"sync_state", "account, mailbox, uidvalidity, last_uid, highest_modseq, updated_at"},
	    {"digests", "id, period, sent_at, message_id, prepared_at, transmitted_at, attempt"},
	    {"outbox", "id, client_id, kind, lang, message_id, sent_at, rcpt, attempt, "
	               "prepared_at, transmitted_at"},
	    {"meta", "key, value"},
	    {"feedback", "id, message_id, signal, verdict, source, created"},
	    {"feedback_state",
	     "account, mailbox, uidvalidity, last_uid, highest_modseq, updated_at"},
	};
	static const char *const indexes[] = {"messages_dedup",  "messages_client",
	                                      "signals_message", "messages_period",
	                                      "messages_msgid",  "feedback_once"};
	struct fx *f = *state;
	struct store *s = open_ok(f->db);
	const struct tmsg t = {"a@x", "acme", true, RF_DIR_IN, 1700000000};
	char *wal = xasprintf("%s-wal", f->db);
	char *v;
	sqlite3 *db;

	assert_int_equal(file_mode(f->db), 0600);
	assert_int_equal(raw_int(f->db, "PRAGMA user_version"), 4);
	assert_int_equal(raw_int(f->db, "PRAGMA page_size"), 32768);
	v = raw_text(f->db, "PRAGMA journal_mode");
	assert_string_equal(v, "wal");
	free(v);

	db = raw_open(f->db);
	for (size_t i = 0; i < ARRAY_SIZE(schema); i++) {
		char *sql =
		    xasprintf("SELECT %s FROM %s LIMIT 0", schema[i].columns, schema[i].table);
		sqlite3_stmt *st = NULL;

		if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
			fail_msg("%s: %s", sql, sqlite3_errmsg(db));
		sqlite3_finalize(st);
		free(sql);
		/* No extra columns either: the table has exactly the listed ones. */
		sql = xasprintf("SELECT count(*) FROM pragma_table_info('%s')", schema[i].table);
		assert_int_equal(raw_int(f->db, sql), count_columns(schema[i].columns));
		free(sql);
	}
	sqlite3_close(db);
	for (size_t i = 0; i < ARRAY_SIZE(indexes); i++) {
		char *sql = xasprintf("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND "
		                      "name = '%s'",
		                      indexes[i]);

		assert_int_equal(raw_int(f->db, sql), 1);
		free(sql);
	}

	/* A write creates the WAL, which must be as private as the database. */
	assert_int_equal(store_begin(s), 0);
	assert_int_equal(put(s, "INBOX", 1, 1, &t), 1);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(file_mode(wal), 0600);

	store_close(&s);
	assert_null(s);
	store_close(&s); /* NULL is fine */
	free(wal);
}

/* The digest ledger: prepare → transmitted → sent, and a definite failure clears "maybe". */
static void test_digest_ledger(void **state)
{
	struct fx *f = *state;
	struct store *s = open_ok(f->db);
	struct store_digest d;

	assert_int_equal(store_digest_get(s, "2025", &d), -ENOENT);
	assert_int_equal(store_digest_prepare(s, "2025", "<a@x>", 0, 100), 0);
	assert_int_equal(store_digest_get(s, "2025", &d), 0);
	assert_string_equal(d.message_id, "<a@x>");
	assert_int_equal(d.prepared_at, 100);
	assert_int_equal(d.transmitted_at, 0);
	assert_int_equal(d.sent_at, 0);

	assert_int_equal(store_digest_transmitted(s, "2025", 101), 0);
	assert_int_equal(store_digest_get(s, "2025", &d), 0);
	assert_int_equal(d.transmitted_at, 101);
	assert_int_equal(store_digest_failed(s, "2025"), 0);
	assert_int_equal(store_digest_get(s, "2025", &d), 0);
	assert_int_equal(d.transmitted_at, 0);

	assert_int_equal(store_digest_transmitted(s, "2025", 102), 0);
	assert_int_equal(store_digest_sent(s, "2025", 103), 0);
	assert_int_equal(store_digest_get(s, "2025", &d), 0);
	assert_int_equal(d.sent_at, 103);

	/* A forced re-send resets the row for the new attempt; other periods are separate. */
	assert_int_equal(store_digest_prepare(s, "2025", "<b@x>", 1, 200), 0);
	assert_int_equal(store_digest_get(s, "2025", &d), 0);
	assert_string_equal(d.message_id, "<b@x>");
	assert_int_equal(d.attempt, 1);
	assert_int_equal(d.sent_at, 0);
	assert_int_equal(d.transmitted_at, 0);
	assert_int_equal(store_digest_get(s, "2026", &d), -ENOENT);
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM digests"), 1);
	store_close(&s);
}

struct scan_count {
	struct store *s;
	int messages, signals, out;
	int64_t client;
};

static int count_msg(void *arg, const struct store_period_msg *m)
{
	struct scan_count *c = arg;
	int64_t date = 0;
	char *subject = NULL, *excerpt = NULL;

	c->messages++;
	c->out += m->direction == RF_DIR_OUT;
	c->client = m->client;
	assert_true(m->thread_len == strlen(m->thread));
	if (m->signals[0] == '\0')
		return 0;
	c->signals++;
	/* The summary store_signals_set() wrote; %g keeps weights short. */
	assert_string_equal(m->signals, "rush:1.5,praise:1");
	/* Evidence can be read while the scan runs (another statement). */
	assert_int_equal(store_evidence(c->s, m->message, "praise", &date, &subject, &excerpt), 0);
	assert_int_equal(date, m->date); /* the message's date, copied into the signal */
	assert_string_equal(subject, "Re: logo");
	assert_string_equal(excerpt, "thanks a lot");
	free(subject);
	free(excerpt);
	return 0;
}

/* The period scan selects by date, [from, to), and only messages that have a client. */
static void test_period_scans(void **state)
{
	struct fx *f = *state;
	struct store *s = open_ok(f->db);
	const struct tmsg in = {"<1@x>", "acme", true, RF_DIR_IN, 1000};
	const struct tmsg out = {"<2@x>", "acme", true, RF_DIR_OUT, 1999};
	const struct tmsg late = {"<3@x>", "acme", true, RF_DIR_IN, 2000};
	const struct tmsg none = {"<4@x>", NULL, false, RF_DIR_IN, 1500};
	const struct store_signal sig[] = {{"rush", "en.rush.asap", 1.5, "need it ASAP"},
	                                   {"praise", "en.praise.thanks", 1.0, "thanks a lot"}};
	struct scan_count c = {.s = s};
	int64_t id, date = 0;
	char *subject = NULL, *excerpt = NULL;

	assert_int_equal(store_begin(s), 0);
	assert_int_equal(put(s, "INBOX", 1, 1, &in), 1);
	id = store_message_last_id(s);
	assert_int_equal(store_signals_set(s, id, "en", sig, 2), 0);
	assert_int_equal(put(s, "Sent", 1, 2, &out), 1);
	assert_int_equal(put(s, "INBOX", 1, 3, &late), 1);
	assert_int_equal(store_signals_set(s, store_message_last_id(s), "en", sig, 2), 0);
	assert_int_equal(put(s, "INBOX", 1, 4, &none), 1);
	assert_int_equal(store_commit(s), 0);

	assert_int_equal(store_period_messages(s, 1000, 2000, count_msg, &c), 0);
	assert_int_equal(c.messages, 2);
	assert_int_equal(c.out, 1);
	assert_int_equal(c.signals, 1);
	assert_true(c.client > 0);
	c = (struct scan_count){.s = s};
	assert_int_equal(store_period_messages(s, 0, 1000, count_msg, &c), 0);
	assert_int_equal(c.messages, 0);

	/* Re-setting the signals replaces the summary; none clears it. */
	assert_int_equal(store_begin(s), 0);
	assert_int_equal(store_signals_set(s, id, "en", sig, 1), 0);
	assert_int_equal(store_commit(s), 0);
	{
		char *sum =
		    raw_text(f->db, "SELECT signals FROM messages WHERE message_id = '<1@x>'");

		assert_string_equal(sum, "rush:1.5");
		free(sum);
	}
	assert_int_equal(store_evidence(s, id, "rush", &date, &subject, &excerpt), 0);
	assert_int_equal(date, 1000);
	assert_int_equal(store_evidence(s, id, "praise", &date, &subject, &excerpt), -ENOENT);
	assert_int_equal(store_evidence(s, id + 100, "rush", &date, &subject, &excerpt), -ENOENT);
	assert_string_equal(subject, "Re: logo");
	assert_string_equal(excerpt, "need it ASAP");
	free(subject);
	free(excerpt);
	assert_int_equal(store_begin(s), 0);
	assert_int_equal(store_signals_set(s, id, "en", NULL, 0), 0);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM messages WHERE signals IS NOT NULL"),
	                 1);
	store_close(&s);
}

/* Mails to clients: meta, contact, the outbox ledger and the rolling count. */
static void test_outbox(void **state)
{
	struct fx *f = *state;
	struct store *s = open_ok(f->db);
	const struct tmsg out = {"<o@x>", "acme", true, RF_DIR_OUT, 1000};
	const struct tmsg in = {"<i@x>", "acme", true, RF_DIR_IN, 2000};
	struct store_outbox o;
	char *v = NULL, *addr = NULL, *lang = NULL;
	unsigned flags = 9;
	int64_t id = 0, n = -1;

	assert_int_equal(store_meta_get(s, "k", &v), -ENOENT);
	assert_int_equal(store_meta_set(s, "k", "1"), 0);
	assert_int_equal(store_meta_set(s, "k", "2"), 0);
	assert_int_equal(store_meta_get(s, "k", &v), 0);
	assert_string_equal(v, "2");
	free(v);

	assert_int_equal(store_client_id(s, "acme", &id), -ENOENT);
	assert_int_equal(store_begin(s), 0);
	assert_int_equal(put(s, "Sent", 1, 1, &out), 1);
	assert_int_equal(store_signals_set(s, store_message_last_id(s), "da", NULL, 0), 0);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(store_client_id(s, "acme", &id), 0);
	/* Only the owner wrote so far: the address they wrote to, no language. */
	assert_int_equal(store_client_contact(s, id, &addr, &flags, &lang), 0);
	assert_string_equal(addr, "jane@acme.com");
	assert_null(lang);
	assert_int_equal(flags, 0);
	free(addr);
	assert_int_equal(store_begin(s), 0);
	assert_int_equal(put(s, "INBOX", 1, 2, &in), 1);
	assert_int_equal(store_signals_set(s, store_message_last_id(s), "de", NULL, 0), 0);
	assert_int_equal(store_commit(s), 0);
	/* Their own mail wins: its sender, and the language they write in. */
	assert_int_equal(store_client_contact(s, id, &addr, &flags, &lang), 0);
	assert_string_equal(addr, "mette@studio.dk"); /* put() stores this From */
	assert_string_equal(lang, "de");
	free(addr);
	free(lang);

	assert_int_equal(store_outbox_get(s, id, "onboarding", &o), -ENOENT);
	assert_int_equal(store_outbox_prepare(s, id, "onboarding", "de", "a@b", "<m@x>", 0, 100),
	                 0);
	assert_int_equal(store_outbox_recent(s, "onboarding", 0, &n), 0);
	assert_int_equal(n, 0); /* prepared is not (possibly) sent */
	assert_int_equal(store_outbox_transmitted(s, id, "onboarding", 101), 0);
	assert_int_equal(store_outbox_recent(s, "onboarding", 100, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_outbox_failed(s, id, "onboarding"), 0);
	assert_int_equal(store_outbox_get(s, id, "onboarding", &o), 0);
	assert_int_equal(o.transmitted_at, 0);
	assert_int_equal(store_outbox_sent(s, id, "onboarding", 102), 0);
	assert_int_equal(store_outbox_get(s, id, "onboarding", &o), 0);
	assert_string_equal(o.lang, "de");
	assert_string_equal(o.rcpt, "a@b");
	assert_string_equal(o.message_id, "<m@x>");
	assert_int_equal(o.sent_at, 102);
	assert_int_equal(store_outbox_recent(s, "onboarding", 103, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_outbox_get(s, id, "farewell", &o), -ENOENT);
	store_close(&s);
}

/* A version-1 database (as issue 3 left it) migrates to the current schema and keeps its rows. */
static void test_migrate_v1(void **state)
{
	struct fx *f = *state;
	struct store *s;
	struct store_digest d;
	sqlite3 *db = NULL;
	char *v;

	/* The file exists with the old schema before the program first opens it. */
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	sqlite3_close(db);
	raw_exec(
	    f->db,
	    "CREATE TABLE digests (id INTEGER PRIMARY KEY, period TEXT NOT NULL "
	    "UNIQUE, sent_at INTEGER, message_id TEXT);"
	    "CREATE TABLE messages (id INTEGER PRIMARY KEY, date INTEGER, client_id INTEGER,"
	    " direction INTEGER, thread_id TEXT, message_id TEXT);"
	    "CREATE TABLE signals (id INTEGER PRIMARY KEY, message_id INTEGER, signal TEXT,"
	    " weight REAL);"
	    "ALTER TABLE messages ADD COLUMN subject TEXT;"
	    "CREATE TABLE outbox (id INTEGER PRIMARY KEY, client_id INTEGER NOT NULL, kind TEXT"
	    " NOT NULL, lang TEXT, message_id TEXT, sent_at INTEGER, UNIQUE(client_id, kind));"
	    "INSERT INTO messages(id, date, subject) VALUES(7, 1234, 'Logo');"
	    "INSERT INTO signals(message_id, signal, weight) VALUES(7, 'rush', 1);"
	    "INSERT INTO digests(period, sent_at, message_id) VALUES('2024', 5, '<m@x>');"
	    "PRAGMA user_version = 1;");
	s = open_ok(f->db);
	assert_int_equal(raw_int(f->db, "PRAGMA user_version"), 4);
	assert_int_equal(store_digest_get(s, "2024", &d), 0);
	assert_int_equal(d.sent_at, 5);
	assert_string_equal(d.message_id, "<m@x>");
	assert_int_equal(d.transmitted_at, 0);
	/* Existing signals get their message's date for the period scans. */
	assert_int_equal(raw_int(f->db, "SELECT date FROM signals"), 1234);
	v = raw_text(f->db, "SELECT signals FROM messages WHERE id = 7");
	assert_string_equal(v, "rush:1.0");
	free(v);
	v = raw_text(f->db, "SELECT subject FROM signals");
	assert_string_equal(v, "Logo");
	free(v);
	store_close(&s);
}

/* --- the owner's corrections --------------------------------------------------------- */

/* A message's signal ids as "a,b" in stored order, via the store's own reader. */
static int join_signal(void *arg, const struct store_signal *sig)
{
	struct strbuf *b = arg;

	strbuf_appendf(b, "%s%s", b->len ? "," : "", sig->signal);
	return 0;
}

static char *signals_str(struct store *s, int64_t message)
{
	struct strbuf b = STRBUF_INIT;

	assert_int_equal(store_signals_foreach(s, message, join_signal, &b), 0);
	strbuf_append(&b, "", 0);
	return strbuf_detach(&b, NULL);
}

static void assert_signals(struct store *s, int64_t message, const char *want)
{
	char *got = signals_str(s, message);

	assert_string_equal(got, want);
	free(got);
}

/* What the rules would say about every test message: rush and payment. */
static void set_rules_signals(struct store *s, int64_t message)
{
	static const struct store_signal v[] = {
	    {"rush", "en.rush.asap", 1.0, "ASAP"},
	    {"payment", "en.payment.overdue", 2.0, "overdue"},
	};

	assert_int_equal(store_signals_set(s, message, "en", v, ARRAY_SIZE(v)), 0);
}

static int add(struct store *s, const char *mid, const char *signal, const char *verdict,
               const char *source, int64_t created)
{
	struct store_feedback fb = {
	    .message_id = mid,
	    .signal = signal,
	    .verdict = verdict,
	    .source = source,
	    .created = created,
	};

	return store_feedback_add(s, &fb);
}

/* Each correction is kept once, however often a folder is read; bad verdicts are refused. */
static void test_feedback_once(void **state)
{
	static const struct {
		const char *signal, *verdict, *source;
		int want; /* on the first add; a second add of a folder correction returns 0 */
	} cases[] = {
	    {"rush", "+", "folder:redflagd/rush/1", 1},
	    {NULL, "wrong", "folder:redflagd/wrong/4", 1}, /* NULL signal: still once */
	    {"rush", "-", "folder:redflagd/rush/1", 1},    /* another verdict: another row */
	    {"rush", "wrong", "mark", -EINVAL},
	    {NULL, "+", "mark", -EINVAL},
	    {"rush", "?", "mark", -EINVAL},
	};
	struct fx *f = *state;
	struct store *s = open_ok(f->db);

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		assert_int_equal(
		    add(s, "m1@x", cases[i].signal, cases[i].verdict, cases[i].source, 100),
		    cases[i].want);
		if (cases[i].want == 1)
			assert_int_equal(
			    add(s, "m1@x", cases[i].signal, cases[i].verdict, cases[i].source, 200),
			    0);
	}
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM feedback"), 3);
	/* The first recording's time stays: re-reading a folder does not reorder. */
	assert_int_equal(raw_int(f->db, "SELECT max(created) FROM feedback"), 100);
	/* A repeated mark is the owner's latest word: moved, not ignored. */
	assert_int_equal(add(s, "m1@x", "praise", "+", "mark", 300), 1);
	assert_int_equal(add(s, "m1@x", "praise", "+", "mark", 400), 1);
	assert_int_equal(raw_int(f->db, "SELECT created FROM feedback WHERE signal = 'praise'"),
	                 400);
	store_close(&s);
}

/* Contradictions: the later correction (created, then id) wins; "wrong" clears text signals. */
static void test_feedback_later_wins(void **state)
{
	static const struct {
		const char *signal, *verdict, *source;
		int64_t created;
		const char *after; /* the message's signals once this one is applied */
	} steps[] = {
	    {NULL, NULL, NULL, 0, "rush,payment"}, /* the rules alone */
	    {"rush", "+", "folder:redflagd/rush/3", 100, "rush,payment"},
	    {NULL, "wrong", "folder:redflagd/wrong/9", 100, ""}, /* same second: id decides */
	    {"praise", "+", "mark", 200, "praise"},
	    {"praise", "-", "mark", 300, ""},
	    {"rush", "+", "mark", 400, "rush"},
	    {"praise", "+", "mark", 500, "rush,praise"}, /* a repeated mark counts again */
	    {"rush", "-", "mark", 50, "rush,praise"},    /* dated before +rush@400: it loses */
	};
	struct fx *f = *state;
	struct store *s = open_ok(f->db);
	const struct tmsg t = {"m2@x", "acme", true, RF_DIR_IN, 1700000000};
	int64_t id;
	char *v;

	assert_int_equal(store_begin(s), 0);
	assert_int_equal(put(s, "INBOX", 1, 1, &t), 1);
	id = store_message_last_id(s);
	set_rules_signals(s, id);
	assert_int_equal(store_feedback_apply(s, id, NULL), 0); /* no corrections: untouched */
	for (size_t i = 0; i < ARRAY_SIZE(steps); i++) {
		if (steps[i].verdict != NULL) {
			assert_int_equal(add(s, "m2@x", steps[i].signal, steps[i].verdict,
			                     steps[i].source, steps[i].created),
			                 1);
			/* As after a reclassify: the rules say their piece, the owner has the last
			 * word. */
			set_rules_signals(s, id);
			assert_true(store_feedback_apply(s, id, NULL) >= 0);
		}
		assert_signals(s, id, steps[i].after);
	}
	assert_int_equal(store_commit(s), 0);
	/* An owner's signal says where it came from and carries its weight into the summary. */
	v = raw_text(f->db, "SELECT rule || '|' || excerpt FROM signals WHERE signal = 'praise'");
	assert_string_equal(v, "owner.mark|marked by the owner");
	free(v);
	v = raw_text(f->db, "SELECT signals || '|' || lang FROM messages");
	assert_string_equal(v, "rush:1,praise:1|en");
	free(v);
	store_close(&s);
}

/* A correction for a message not stored yet waits and applies when the message arrives. */
static void test_feedback_pending(void **state)
{
	struct fx *f = *state;
	struct store *s = open_ok(f->db);
	const struct tmsg t = {"m3@x", "acme", true, RF_DIR_IN, 1700000000};
	int64_t id;
	char *v;

	assert_int_equal(add(s, "m3@x", "payment", "-", "folder:redflagd/wrong/1", 100), 1);
	assert_int_equal(add(s, "m3@x", "referral", "+", "folder:redflagd/referral/2", 100), 1);
	assert_int_equal(store_begin(s), 0);
	assert_int_equal(put(s, "INBOX", 1, 5, &t), 1);
	id = store_message_last_id(s);
	set_rules_signals(s, id);
	assert_int_equal(store_feedback_apply(s, id, NULL), 1);
	assert_int_equal(store_feedback_apply(s, id, NULL), 0); /* applied already */
	assert_int_equal(store_commit(s), 0);
	assert_signals(s, id, "rush,referral");
	v = raw_text(f->db, "SELECT excerpt FROM signals WHERE signal = 'referral'");
	assert_string_equal(v, "filed by the owner into redflagd/referral");
	free(v);
	store_close(&s);
}

struct seen_corrected {
	int n;
	char labels[64], owner[64];
	size_t n_rcpt;
};

static int corrected_row(void *arg, const struct store_message_row *row, const char *labels,
                         const char *owner)
{
	struct seen_corrected *c = arg;

	assert_string_equal(row->message_id, "m4@x");
	assert_string_equal(row->text, "Hi Jane, thanks");
	snprintf(c->labels, sizeof(c->labels), "%s", labels);
	snprintf(c->owner, sizeof(c->owner), "%s", owner);
	c->n_rcpt = row->n_rcpt;
	c->n++;
	return 0;
}

/* The owner layer's view: each corrected stored message once, with its final labels. */
static void test_feedback_messages(void **state)
{
	struct fx *f = *state;
	struct store *s = open_ok(f->db);
	const struct tmsg t4 = {"m4@x", "acme", true, RF_DIR_IN, 1700000000};
	const struct tmsg t5 = {"m5@x", "acme", true, RF_DIR_IN, 1700000000};
	struct seen_corrected c = {0};
	int64_t id;

	assert_int_equal(store_begin(s), 0);
	for (uint32_t uid = 1; uid <= 2; uid++) { /* two copies of m4 */
		assert_int_equal(put(s, "INBOX", 1, uid, &t4), 1);
		set_rules_signals(s, store_message_last_id(s));
	}
	assert_int_equal(put(s, "INBOX", 1, 3, &t5), 1);
	assert_int_equal(store_commit(s), 0);
	id = store_message_last_id(s);
	assert_int_equal(add(s, "m4@x", NULL, "wrong", "mark", 100), 1);
	assert_int_equal(add(s, "m4@x", "praise", "+", "mark", 200), 1);
	assert_int_equal(add(s, "m9@x", "rush", "+", "mark", 200), 1); /* not stored */
	assert_int_equal(store_feedback_apply(s, id - 2, NULL), 1);
	assert_int_equal(store_feedback_messages(s, NULL, corrected_row, &c), 0);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.labels, "praise");
	assert_string_equal(c.owner, "none,+praise");
	assert_int_equal(c.n_rcpt, 3); /* the recipient count stored at import */
	assert_int_equal(raw_int(f->db, "SELECT min(rcpt_count) FROM messages"), 3);
	store_close(&s);
}

static void test_reopen_noop(void **state)
{
	struct fx *f = *state;
	struct store *s = open_ok(f->db);

	store_close(&s);
	raw_exec(f->db, "INSERT INTO digests(period, sent_at) VALUES('2025', 1)");
	s = open_ok(f->db);
	assert_int_equal(raw_int(f->db, "PRAGMA user_version"), 4);
	/* A re-run migration would have failed on CREATE TABLE or wiped nothing: data stays. */
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM digests"), 1);
	store_close(&s);
}

/*
 * Several processes open the same fresh file at once (daemon and a `stats` command, say):
 * each must succeed, and the schema is created exactly once.
 */
static void test_concurrent_first_open(void **state)
{
	enum { N = 6 };
	struct fx *f = *state;
	pid_t pids[N];
	int failed = 0;

	for (int i = 0; i < N; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			struct store *s = NULL;
			char err[256];
			int r = store_open(f->db, &s, err, sizeof(err));

			if (r != 0)
				fprintf(stderr, "child %d: %d %s\n", i, r, err);
			store_close(&s);
			_exit(r == 0 ? 0 : 1);
		}
	}
	/* Reap every child before asserting, so none outlives the test directory. */
	for (int i = 0; i < N; i++) {
		int status = 0;

		if (waitpid(pids[i], &status, 0) != pids[i] || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			failed++;
	}
	assert_int_equal(failed, 0);
	assert_int_equal(raw_int(f->db, "PRAGMA user_version"), 4);
	assert_int_equal(file_mode(f->db), 0600);
}

static void test_newer_schema(void **state)
{
	struct fx *f = *state;
	struct store *s = NULL;
	char err[256] = "";
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 999", NULL, NULL, NULL),
	                 SQLITE_OK);
	sqlite3_close(db);
	chmod(f->db, 0600);

	assert_int_equal(store_open(f->db, &s, err, sizeof(err)), -EPROTO);
	assert_null(s);
	assert_non_null(strstr(err, "999"));
	assert_non_null(strstr(err, "newer"));
	assert_int_equal(raw_int(f->db, "PRAGMA user_version"), 999);
}

static void test_mode_repaired(void **state)
{
	static const unsigned modes[] = {0644, 0640, 0604, 0666, 0660, 0600};
	struct fx *f = *state;
	char *wal = xasprintf("%s-wal", f->db);

	for (size_t i = 0; i < ARRAY_SIZE(modes); i++) {
		struct store *s;
		int fd;

		unlink(f->db);
		unlink(wal);
		/* An empty database and an empty WAL left by an earlier, careless run. */
		fd = open(f->db, O_CREAT | O_WRONLY, 0600);
		assert_true(fd >= 0);
		assert_int_equal(fchmod(fd, modes[i]), 0);
		close(fd);
		fd = open(wal, O_CREAT | O_WRONLY, 0600);
		assert_true(fd >= 0);
		assert_int_equal(fchmod(fd, modes[i]), 0);
		close(fd);

		s = open_ok(f->db);
		assert_int_equal(file_mode(f->db), 0600);
		assert_int_equal(file_mode(wal), 0600);
		store_close(&s);
	}
	free(wal);
}

static void test_put_idempotent(void **state)
{
	static const struct {
		struct tmsg t;
		const char *mailbox;
		uint32_t uid;
	} cases[] = {
	    {{"m1@x", "acme", true, RF_DIR_IN, 1700000000}, "INBOX", 1},
	    {{"m2@x", "acme", true, RF_DIR_OUT, 1700000100}, "Sent", 1},
	    {{"", NULL, false, RF_DIR_NONE, 0}, "INBOX", 2},
	    {{"m1@x", "acme", true, RF_DIR_IN, 1700000000}, "INBOX", 3}, /* a second copy */
	};
	struct fx *f = *state;
	struct store *s = open_ok(f->db);
	int64_t ids[ARRAY_SIZE(cases)];
	char *v;

	for (int round = 0; round < 2; round++) {
		assert_int_equal(store_begin(s), 0);
		for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
			/* First round inserts, the second finds every row already there. */
			assert_int_equal(put(s, cases[i].mailbox, 7, cases[i].uid, &cases[i].t),
			                 round == 0 ? 1 : 0);
			if (round == 0)
				ids[i] = store_message_last_id(s);
			else
				assert_int_equal(store_message_last_id(s), ids[i]);
			assert_true(ids[i] > 0);
		}
		assert_int_equal(store_commit(s), 0);
	}
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM messages"), 4);
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM clients"), 1);

	/* The row as stored. */
	v = raw_text(f->db, "SELECT rcpt FROM messages WHERE uid = 1 AND mailbox = 'INBOX'");
	assert_string_equal(v, "jane@acme.com,ole@beta.dk");
	free(v);
	v = raw_text(f->db, "SELECT c.name || '|' || m.direction || '|' || m.date || '|' || "
	                    "m.tz_offset || '|' || m.from_addr || '|' || m.counterparty || '|' || "
	                    "m.text || '|' || m.size || '|' || (m.parse_error IS NULL) FROM "
	                    "messages m JOIN clients c ON c.id = m.client_id WHERE m.mailbox = "
	                    "'Sent'");
	assert_string_equal(
	    v, "acme|2|1700000100|60|mette@studio.dk|jane@acme.com|Hi Jane, thanks|1234|1");
	free(v);
	/* Empty Message-ID and a missing date are NULL, not "" and 0. */
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM messages WHERE uid = 2 AND "
	                                "message_id IS NULL AND date IS NULL AND client_id IS "
	                                "NULL AND direction = 0 AND dedup_key = 'uid:7:2'"),
	                 1);
	assert_int_equal(raw_int(f->db, "SELECT owner_wrote FROM clients"), 1);
	store_close(&s);
}

static void test_rollback_and_commit(void **state)
{
	struct fx *f = *state;
	struct store *s = open_ok(f->db);
	struct store_mailbox_state st = {.uidvalidity = 42, .last_uid = 3, .highest_modseq = 9},
	                           got = {0};
	const struct tmsg msgs[] = {
	    {"r1@x", "acme", true, RF_DIR_IN, 100},
	    {"r2@x", "acme", true, RF_DIR_IN, 200},
	    {"r3@x", "beta.dk", false, RF_DIR_OUT, 300},
	};

	assert_int_equal(store_rollback(s), 0); /* outside a transaction: harmless */
	assert_int_equal(store_mailbox_get(s, "acct", "INBOX", &got), -ENOENT);

	assert_int_equal(store_begin(s), 0);
	for (size_t i = 0; i < ARRAY_SIZE(msgs); i++)
		assert_int_equal(put(s, "INBOX", 42, (uint32_t)i + 1, &msgs[i]), 1);
	assert_int_equal(store_mailbox_set(s, "acct", "INBOX", &st), 0);
	assert_int_equal(store_rollback(s), 0);
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM messages"), 0);
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM clients"), 0);
	assert_int_equal(store_mailbox_get(s, "acct", "INBOX", &got), -ENOENT);

	/*
	 * Regression: the client cache must not survive the rollback, or the next message of
	 * the same client points at a client row that no longer exists (a foreign key error).
	 */
	assert_int_equal(store_begin(s), 0);
	for (size_t i = 0; i < ARRAY_SIZE(msgs); i++)
		assert_int_equal(put(s, "INBOX", 42, (uint32_t)i + 1, &msgs[i]), 1);
	assert_int_equal(store_mailbox_set(s, "acct", "INBOX", &st), 0);
	assert_int_equal(store_commit(s), 0);
	store_close(&s);

	s = open_ok(f->db);
	assert_int_equal(store_mailbox_get(s, "acct", "INBOX", &got), 0);
	assert_int_equal(got.uidvalidity, 42);
	assert_int_equal(got.last_uid, 3);
	assert_int_equal(got.highest_modseq, 9);
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM messages"), 3);
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM messages m JOIN clients c ON "
	                                "c.id = m.client_id"),
	                 3);
	/* Overwrite (insert or replace). */
	st.last_uid = 10;
	assert_int_equal(store_mailbox_set(s, "acct", "INBOX", &st), 0);
	assert_int_equal(store_mailbox_get(s, "acct", "INBOX", &got), 0);
	assert_int_equal(got.last_uid, 10);
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM sync_state"), 1);
	store_close(&s);
}

/* kill -9 in the middle of work: the committed batch survives, the open one vanishes. */
static void test_crash_keeps_committed(void **state)
{
	struct fx *f = *state;
	struct store *s;
	int status = 0;
	pid_t pid;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct store_mailbox_state st = {.uidvalidity = 1, .last_uid = 10};
		char err[256];

		if (store_open(f->db, &s, err, sizeof(err)) != 0 || store_begin(s) != 0)
			_exit(2);
		for (uint32_t uid = 1; uid <= 15; uid++) {
			char mid[32];
			struct tmsg t = {mid, "acme", true, RF_DIR_IN, 100};

			snprintf(mid, sizeof(mid), "c%u@x", uid);
			if (put(s, "INBOX", 1, uid, &t) != 1)
				_exit(3);
			if (uid == 10) {
				if (store_mailbox_set(s, "acct", "INBOX", &st) != 0 ||
				    store_commit(s) != 0 || store_begin(s) != 0)
					_exit(4);
			}
		}
		raise(SIGKILL);
		_exit(5);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);

	s = open_ok(f->db);
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM messages"), 10);
	assert_int_equal(raw_int(f->db, "SELECT last_uid FROM sync_state"), 10);
	{
		char *ok = raw_text(f->db, "PRAGMA integrity_check");

		assert_string_equal(ok, "ok");
		free(ok);
	}
	store_close(&s);
}

static void test_uidvalidity_change(void **state)
{
	static const struct {
		const char *mid;
		uint32_t uid_old, uid_new;
	} msgs[] = {
	    {"dup@x", 1, 10},
	    {"dup@x", 2, 11}, /* the mailbox holds two copies of one message */
	    {"solo@x", 3, 12},
	};
	struct fx *f = *state;
	struct store *s = open_ok(f->db);

	assert_int_equal(store_begin(s), 0);
	for (size_t i = 0; i < ARRAY_SIZE(msgs); i++) {
		const struct tmsg t = {msgs[i].mid, "acme", true, RF_DIR_IN, 100};

		assert_int_equal(put(s, "INBOX", 1, msgs[i].uid_old, &t), 1);
	}
	assert_int_equal(store_commit(s), 0);
	raw_exec(f->db, "INSERT INTO signals(message_id, signal, weight) SELECT id, 'rush', 2.0 "
	                "FROM messages");

	for (int round = 0; round < 2; round++) {
		assert_int_equal(store_begin(s), 0);
		for (size_t i = 0; i < ARRAY_SIZE(msgs); i++) {
			const struct tmsg t = {msgs[i].mid, "acme", true, RF_DIR_IN, 100};

			/* Re-keyed the first time, found the second: never a new row. */
			assert_int_equal(put(s, "INBOX", 2, msgs[i].uid_new, &t), 0);
		}
		assert_int_equal(store_commit(s), 0);
	}
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM messages"), 3);
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM messages WHERE uidvalidity = 2"), 3);
	{
		char *uids = raw_text(f->db, "SELECT group_concat(uid) FROM (SELECT uid FROM "
		                             "messages ORDER BY uid)");

		assert_string_equal(uids, "10,11,12");
		free(uids);
	}
	/* The classification attached to the old rows is kept. */
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM signals s JOIN messages m ON m.id "
	                                "= s.message_id"),
	                 3);
	/* Another mailbox with the same Message-ID is a different row. */
	{
		const struct tmsg t = {"dup@x", "acme", true, RF_DIR_IN, 100};

		assert_int_equal(put(s, "Sent", 2, 10, &t), 1);
	}
	store_close(&s);
}

struct client_expect {
	const char *name;
	bool configured, owner_wrote;
	int64_t in, out, first, last;
};

struct client_list {
	size_t n;
	struct client_expect got[16];
	char names[16][64];
};

static int collect_client(void *arg, const struct store_client_row *r)
{
	struct client_list *l = arg;

	assert_true(l->n < ARRAY_SIZE(l->got));
	snprintf(l->names[l->n], sizeof(l->names[l->n]), "%s", r->name);
	l->got[l->n] =
	    (struct client_expect){l->names[l->n],  r->configured, r->owner_wrote, r->messages_in,
	                           r->messages_out, r->first_date, r->last_date};
	l->n++;
	return 0;
}

static void check_clients(struct store *s, bool need_reply, const struct client_expect *exp,
                          size_t n)
{
	struct client_list l = {0};
	struct store_stats st;

	assert_int_equal(store_clients_foreach(s, need_reply, collect_client, &l), 0);
	assert_int_equal(l.n, n);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(l.got[i].name, exp[i].name);
		assert_int_equal(l.got[i].configured, exp[i].configured);
		assert_int_equal(l.got[i].owner_wrote, exp[i].owner_wrote);
		assert_int_equal(l.got[i].in, exp[i].in);
		assert_int_equal(l.got[i].out, exp[i].out);
		assert_int_equal(l.got[i].first, exp[i].first);
		assert_int_equal(l.got[i].last, exp[i].last);
	}
	assert_int_equal(store_stats(s, need_reply, &st), 0);
	assert_int_equal(st.clients, (int64_t)n);
}

static void test_clients(void **state)
{
	/* In order of arrival; the runs exercise the client cache's flag updates. */
	static const struct tmsg msgs[] = {
	    {"1@x", "acme", true, RF_DIR_IN, 300},
	    {"2@x", "acme", true, RF_DIR_IN, 100},
	    {"3@x", "acme", false, RF_DIR_IN, 0}, /* configured stays set; no date */
	    {"4@x", "bob@gmail.com", false, RF_DIR_IN, 50},
	    {"5@x", "beta.dk", false, RF_DIR_IN, 200},
	    {"6@x", "beta.dk", false, RF_DIR_OUT, 400}, /* cache hit, flag 0 → 1 */
	    {"7@x", "gamma", false, RF_DIR_IN, 500},
	    {"8@x", "gamma", true, RF_DIR_IN, 600}, /* configured later in the config */
	    {"9@x", NULL, false, RF_DIR_IN, 700},   /* a mailing list: no client */
	};
	static const struct client_expect need_reply[] = {
	    {"acme", true, false, 3, 0, 100, 300},
	    {"beta.dk", false, true, 1, 1, 200, 400},
	    {"gamma", true, false, 2, 0, 500, 600},
	};
	static const struct client_expect all[] = {
	    {"acme", true, false, 3, 0, 100, 300},
	    {"beta.dk", false, true, 1, 1, 200, 400},
	    {"gamma", true, false, 2, 0, 500, 600},
	    {"bob@gmail.com", false, false, 1, 0, 50, 50},
	};
	struct fx *f = *state;
	struct store *s = open_ok(f->db);

	assert_int_equal(store_begin(s), 0);
	for (size_t i = 0; i < ARRAY_SIZE(msgs); i++)
		assert_int_equal(put(s, "INBOX", 1, (uint32_t)i + 1, &msgs[i]), 1);
	assert_int_equal(store_commit(s), 0);

	check_clients(s, true, need_reply, ARRAY_SIZE(need_reply));
	check_clients(s, false, all, ARRAY_SIZE(all));

	/* Once the owner writes to bob, he is a client under need_reply too. */
	{
		const struct tmsg t = {"10@x", "bob@gmail.com", false, RF_DIR_OUT, 800};
		static const struct client_expect after[] = {
		    {"acme", true, false, 3, 0, 100, 300},
		    {"beta.dk", false, true, 1, 1, 200, 400},
		    {"bob@gmail.com", false, true, 1, 1, 50, 800},
		    {"gamma", true, false, 2, 0, 500, 600},
		};

		assert_int_equal(put(s, "Sent", 1, 1, &t), 1); /* autocommit, no transaction */
		check_clients(s, true, after, ARRAY_SIZE(after));
	}
	store_close(&s);
}

struct mbox_list {
	size_t n, stop_after;
	char names[8][64];
	struct store_mailbox_row rows[8];
};

static int collect_mailbox(void *arg, const struct store_mailbox_row *r)
{
	struct mbox_list *l = arg;

	assert_true(l->n < ARRAY_SIZE(l->rows));
	snprintf(l->names[l->n], sizeof(l->names[l->n]), "%s/%s", r->account, r->mailbox);
	l->rows[l->n] = *r;
	l->n++;
	return l->n == l->stop_after ? 7 : 0;
}

static void test_stats_and_mailboxes(void **state)
{
	static const struct {
		const char *mailbox;
		uint32_t uidvalidity, last_uid;
		uint64_t modseq;
		int64_t messages;
	} boxes[] = {
	    /* In the order store_mailboxes_foreach reports them. */
	    {"INBOX", 5, 4, 0, 4},
	    {"Sent", 6, 2, 1ULL << 40, 2},
	    {"Spam", 7, 0, 0, 0},
	};
	struct fx *f = *state;
	struct store *s = open_ok(f->db);
	struct store_stats st;
	struct mbox_list l = {0};

	assert_int_equal(store_stats(s, true, &st), 0);
	assert_int_equal(st.messages + st.clients + st.signals + st.unparseable, 0);

	assert_int_equal(store_begin(s), 0);
	for (uint32_t uid = 1; uid <= 2; uid++) {
		char mid[16];
		const struct tmsg t = {mid, "acme", true, RF_DIR_IN, 100};

		snprintf(mid, sizeof(mid), "i%u", uid);
		assert_int_equal(put(s, "INBOX", 5, uid, &t), 1);
		snprintf(mid, sizeof(mid), "s%u", uid);
		assert_int_equal(put(s, "Sent", 6, uid, &t), 1);
	}
	assert_int_equal(put_unparseable(s, "INBOX", 3, "no header"), 1);
	assert_int_equal(put_unparseable(s, "INBOX", 4, ""), 1);
	assert_int_equal(put_unparseable(s, "INBOX", 4, ""), 0);
	for (size_t i = 0; i < ARRAY_SIZE(boxes); i++) {
		struct store_mailbox_state ms = {boxes[i].uidvalidity, boxes[i].last_uid,
		                                 boxes[i].modseq};

		assert_int_equal(store_mailbox_set(s, "acct", boxes[i].mailbox, &ms), 0);
	}
	assert_int_equal(store_commit(s), 0);
	raw_exec(f->db, "INSERT INTO signals(message_id, signal, rule, weight, excerpt) SELECT "
	                "id, 'rush', 'en.rush', 2.0, 'asap' FROM messages WHERE mailbox = "
	                "'Sent'");

	assert_int_equal(store_stats(s, true, &st), 0);
	assert_int_equal(st.messages, 6);
	assert_int_equal(st.clients, 1);
	assert_int_equal(st.signals, 2);
	assert_int_equal(st.unparseable, 2);
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM messages WHERE parse_error = "
	                                "'unparseable' AND client_id IS NULL AND direction = 0"),
	                 1);

	assert_int_equal(store_mailboxes_foreach(s, collect_mailbox, &l), 0);
	assert_int_equal(l.n, ARRAY_SIZE(boxes));
	for (size_t i = 0; i < ARRAY_SIZE(boxes); i++) {
		char want[64];

		snprintf(want, sizeof(want), "acct/%s", boxes[i].mailbox);
		assert_string_equal(l.names[i], want);
		assert_int_equal(l.rows[i].state.uidvalidity, boxes[i].uidvalidity);
		assert_int_equal(l.rows[i].state.last_uid, boxes[i].last_uid);
		assert_int_equal(l.rows[i].state.highest_modseq, boxes[i].modseq);
		assert_int_equal(l.rows[i].messages, boxes[i].messages);
	}

	/* The callback's nonzero return stops the walk and comes back. */
	l = (struct mbox_list){.stop_after = 1};
	assert_int_equal(store_mailboxes_foreach(s, collect_mailbox, &l), 7);
	assert_int_equal(l.n, 1);

	/* Deleting a message takes its signals with it (ON DELETE CASCADE, foreign keys on). */
	raw_exec(f->db, "PRAGMA foreign_keys = ON; DELETE FROM messages WHERE mailbox = 'Sent'");
	assert_int_equal(store_stats(s, true, &st), 0);
	assert_int_equal(st.signals, 0);
	store_close(&s);
}

/* Another writer holds the lock past the busy timeout: -EAGAIN, then recovery. */
static void test_busy(void **state)
{
	struct fx *f = *state;
	struct store *s = open_ok(f->db);
	const struct tmsg t = {"b@x", "acme", true, RF_DIR_IN, 100};
	sqlite3 *other = raw_open(f->db);

	assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	store_set_busy_timeout(s, 20);
	assert_int_equal(store_begin(s), -EAGAIN);
	assert_true(store_errmsg(s)[0] != '\0');
	assert_int_equal(put(s, "INBOX", 1, 1, &t), -EAGAIN); /* autocommit write */
	assert_int_equal(store_rollback(s), 0);
	assert_int_equal(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(other);

	assert_int_equal(store_begin(s), 0);
	assert_int_equal(put(s, "INBOX", 1, 1, &t), 1);
	assert_int_equal(store_commit(s), 0);
	store_close(&s);
}

static void test_open_errors(void **state)
{
	struct fx *f = *state;
	struct store *s = NULL;
	char err[256] = "";
	char *path = xasprintf("%s/missing/dir/x.db", f->dir);

	assert_int_equal(store_open(path, &s, err, sizeof(err)), -ENOENT);
	assert_null(s);
	assert_non_null(strstr(err, "missing"));
	free(path);

	/* Not a database at all. */
	path = xasprintf("%s/junk.db", f->dir);
	{
		int fd = open(path, O_CREAT | O_WRONLY, 0600);
		char junk[200];

		memset(junk, 'x', sizeof(junk)); /* not an SQLite header */
		assert_true(fd >= 0);
		assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
		close(fd);
	}
	assert_int_equal(store_open(path, &s, err, sizeof(err)), -EIO);
	assert_null(s);
	free(path);
}

/* Prints import throughput; asserts only the row count (no timing assertions). */
static void test_throughput(void **state)
{
	static const char *const clients[] = {"acme", "beta.dk", "gamma", "delta@gmail.com"};
	static const char phrase[] = "Hej Mette, tak for logoet. Kan vi faa det i morgen? ";
	struct fx *f = *state;
	struct store *s = open_ok(f->db);
	const char *env = getenv("RF_STORE_BENCH_N");
	int64_t n = 20000;
	char *text = xmalloc(7001);
	int64_t t0, t1;

	if (env != NULL && parse_int64(env, 1, 1000000, &n) != 0)
		n = 20000;
	for (int i = 0; i < 7000; i++)
		text[i] = phrase[i % (sizeof(phrase) - 1)];
	text[7000] = '\0';

	t0 = now_ms();
	for (int64_t i = 0; i < n; i += 500) {
		assert_int_equal(store_begin(s), 0);
		for (int64_t j = i; j < i + 500 && j < n; j++) {
			char mid[32];
			struct message m = {
			    .message_id = mid,
			    .in_reply_to = "",
			    .thread_id = mid,
			    .header_hash = "",
			    .subject = "Logo",
			    .date = 1700000000 + j,
			    .from = {"Jane", "jane@acme.com"},
			    .body = text,
			    .text = text,
			};
			struct clients_match who = {
			    .dir = j % 3 ? RF_DIR_IN : RF_DIR_OUT,
			    .counterparty = "jane@acme.com",
			    /* Runs of 8 messages per client, as conversations come. */
			    .client = (char *)clients[(j / 8) % ARRAY_SIZE(clients)],
			};
			struct store_message sm = {
			    .account = "acct",
			    .mailbox = "INBOX",
			    .uidvalidity = 1,
			    .uid = (uint32_t)j + 1,
			    .size = 9000,
			    .msg = &m,
			    .dedup_key = mid,
			    .who = &who,
			};

			snprintf(mid, sizeof(mid), "%lld@bench", (long long)j);
			assert_int_equal(store_message_put(s, &sm), 1);
		}
		assert_int_equal(store_commit(s), 0);
	}
	t1 = now_ms();
	print_message("store throughput: %lld puts of 7 KB (body and text) in batches of 500: "
	              "%.0f msgs/s (%lld ms, %lld MB of text)\n",
	              (long long)n, (double)n * 1000.0 / (double)(t1 - t0 > 0 ? t1 - t0 : 1),
	              (long long)(t1 - t0),
	              (long long)(raw_int(f->db, "SELECT sum(length(body) + length(text)) FROM "
	                                         "messages") >>
	                          20));
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM messages"), n);
	free(text);
	store_close(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_fresh_schema, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_reopen_noop, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent_first_open, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_newer_schema, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_mode_repaired, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_put_idempotent, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_rollback_and_commit, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_crash_keeps_committed, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_uidvalidity_change, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_clients, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_stats_and_mailboxes, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_busy, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_digest_ledger, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_period_scans, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_migrate_v1, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_outbox, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_open_errors, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_feedback_once, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_feedback_later_wins, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_feedback_pending, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_feedback_messages, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_throughput, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
