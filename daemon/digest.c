/*
 * The review commands: `clients`, `client NAME`, `digest`, and the digest schedule of `run`.
 *
 * Exactly once. A period's digest goes through three recorded states (store.h): prepared
 * (written before connecting), transmitted (the whole message has been handed to the server;
 * recorded from inside the SMTP upload, synchronously) and sent (after the server's 250).
 * The Message-ID is deterministic per period and attempt. So after a crash:
 *   - prepared only: the server cannot have accepted it (it never saw the end of DATA), and
 *     it is sent again with the same Message-ID;
 *   - transmitted without sent: the server may have accepted it. If a synced mailbox holds a
 *     message with that Message-ID, it was delivered and is recorded as sent; otherwise it is
 *     NOT sent again automatically: the owner is told, and `digest --send --force` sends it.
 *     Between "maybe twice" and "maybe never" a review mail errs on the side the owner can
 *     repair with one command.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "daemon.h"
#include "redflag/calendar.h"
#include "redflag/classify.h"
#include "redflag/digest.h"
#include "redflag/log.h"
#include "redflag/mime.h"
#include "redflag/period.h"
#include "redflag/review.h"
#include "redflag/smtp.h"
#include "redflag/store.h"
#include "redflag/util.h"

/* Opens config, rules and database for a review command; prints errors itself. */
static int review_open(const struct options *opt, struct rf_config **cfg, struct rules **rules,
                       struct store **st)
{
	char err[512];

	*rules = NULL;
	*st = NULL;
	*cfg = daemon_load_config(opt);
	if (*cfg == NULL)
		return -1;
	*rules = daemon_load_rules((*cfg)->rules, (*cfg)->signals);
	if (*rules == NULL)
		goto fail;
	if (store_open((*cfg)->database, st, err, sizeof(err)) < 0) {
		log_err("%s", err);
		goto fail;
	}
	return 0;
fail:
	rules_free(rules);
	config_free(cfg);
	return -1;
}

static void review_close(struct rf_config **cfg, struct rules **rules, struct store **st)
{
	store_close(st);
	rules_free(rules);
	config_free(cfg);
}

/* digest.every as a period kind (config checked it; a year otherwise). */
static enum period_kind digest_every(const struct rf_config *cfg)
{
	enum period_kind every = PERIOD_YEAR;

	if (cfg->digest.every)
		period_kind_parse(cfg->digest.every, &every);
	return every;
}

/* Parses --period P (default "last") for the config's digest.every. */
static int parse_period(const struct rf_config *cfg, const char *arg, struct period *p)
{
	if (period_parse(arg ? arg : "last", digest_every(cfg), cfg->owner.timezone,
	                 (int64_t)time(NULL), p) < 0) {
		fprintf(stderr,
		        "redflagd: period \"%s\" is not one of 2026, 2026-Q3, 2026-11, 2026-W47, "
		        "last\n",
		        arg);
		return -1;
	}
	return 0;
}

void daemon_local_day(const char *tz, int64_t t, char *buf, size_t len)
{
	int y, m, d;

	if (t <= 0 || calendar_local_date(tz, t, &y, &m, &d) < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%04d-%02d-%02d", y, m, d);
}

/* ---------------------------------------------------------------- clients / client */

struct ledger_out {
	const struct rf_config *cfg;
	const struct score_report *rep;
	const char *only; /* client NAME, or NULL for all */
	bool json;
	unsigned n;
	struct strbuf buf;
};

static const struct score_client *report_client(const struct score_report *rep, const char *name)
{
	for (size_t i = 0; i < rep->n_clients; i++)
		if (strcmp(rep->clients[i].name, name) == 0)
			return &rep->clients[i];
	return NULL;
}

static void json_client(struct ledger_out *o, const struct store_client_row *r,
                        const struct score_client *c, bool evidence)
{
	struct strbuf *b = &o->buf;
	const char *tz = o->cfg->owner.timezone;
	char first[16], last[16], onb[16], rate[96] = "";
	const struct rf_client_conf *cc = NULL;

	for (size_t i = 0; i < o->cfg->n_clients; i++)
		if (strcmp(o->cfg->clients[i].name, r->name) == 0)
			cc = &o->cfg->clients[i];
	if (cc && cc->rate_since &&
	    classify_old_rate(cc->rate_since, o->cfg->old_rate_months, (int64_t)time(NULL), rate,
	                      sizeof(rate)) != 1)
		rate[0] = '\0';
	daemon_local_day(tz, r->first_date, first, sizeof(first));
	daemon_local_day(tz, r->last_date, last, sizeof(last));
	strbuf_appends(b, "{\"name\":");
	strbuf_append_json(b, r->name);
	strbuf_appendf(b,
	               ",\"configured\":%s,\"messages_in\":%lld,\"messages_out\":%lld,"
	               "\"first\":\"%s\",\"last\":\"%s\",\"old_rate\":",
	               r->configured ? "true" : "false", (long long)r->messages_in,
	               (long long)r->messages_out, first, last);
	if (rate[0])
		strbuf_append_json(b, rate);
	else
		strbuf_appends(b, "null");
	daemon_local_day(tz, r->onboarded_at, onb, sizeof(onb));
	strbuf_appends(b, ",\"onboarded\":");
	if (r->onboarded_at)
		strbuf_appendf(b, "\"%s\"", onb);
	else
		strbuf_appends(b, "null");
	strbuf_appends(b, ",\"period\":");
	strbuf_append_json(b, o->rep->period);
	if (c == NULL) {
		/* No mail in the period: nothing to judge. */
		strbuf_appends(b, ",\"verdict\":null,\"signals\":{}}");
		return;
	}
	strbuf_appendf(b,
	               ",\"verdict\":\"%s\",\"red_share\":%.3f,\"green_share\":%.3f,"
	               "\"red_points\":%.2f,\"green_points\":%.2f,\"threads\":%u,"
	               "\"period_messages_in\":%u,\"period_messages_out\":%u,"
	               "\"out_after_hours\":%u,\"new\":%s,\"previous_verdict\":",
	               score_verdict_name(c->verdict), c->red_share, c->green_share, c->red_points,
	               c->green_points, c->threads, c->messages_in, c->messages_out,
	               c->out_after_hours, c->is_new ? "true" : "false");
	if (c->has_prev)
		strbuf_appendf(b, "\"%s\"", score_verdict_name(c->prev_verdict));
	else
		strbuf_appends(b, "null");
	strbuf_appends(b, ",\"signals\":{");
	for (size_t k = 0; k < c->n_signals; k++)
		strbuf_appendf(b, "%s\"%s\":%u", k ? "," : "", c->signals[k].id,
		               c->signals[k].count);
	strbuf_appendc(b, '}');
	if (evidence) {
		strbuf_appends(b, ",\"evidence\":{");
		for (size_t k = 0; k < c->n_signals; k++) {
			const struct score_signal *s = &c->signals[k];

			strbuf_appendf(b, "%s\"%s\":[", k ? "," : "", s->id);
			for (size_t e = 0; e < s->n_evidence; e++) {
				char day[16];

				daemon_local_day(tz, s->evidence[e].date, day, sizeof(day));
				strbuf_appendf(b, "%s{\"date\":\"%s\",\"subject\":", e ? "," : "",
				               day);
				strbuf_append_json(b, s->evidence[e].subject);
				strbuf_appends(b, ",\"excerpt\":");
				strbuf_append_json(b, s->evidence[e].excerpt);
				strbuf_appendc(b, '}');
			}
			strbuf_appendc(b, ']');
		}
		strbuf_appendc(b, '}');
	}
	strbuf_appendc(b, '}');
}

static void text_client(struct ledger_out *o, const struct store_client_row *r,
                        const struct score_client *c, bool evidence)
{
	struct strbuf *b = &o->buf;
	const char *tz = o->cfg->owner.timezone;
	char first[16], last[16], onb[16], red[8] = "-", green[8] = "-";

	daemon_local_day(tz, r->first_date, first, sizeof(first));
	daemon_local_day(tz, r->last_date, last, sizeof(last));
	if (c != NULL) {
		snprintf(red, sizeof(red), "%.0f%%", 100 * c->red_share);
		snprintf(green, sizeof(green), "%.0f%%", 100 * c->green_share);
	}
	daemon_local_day(tz, r->onboarded_at, onb, sizeof(onb));
	strbuf_appendf(b, "%-28s %-11s %5s %5s %7lld %6lld  %-10s  %-10s  %-10s%s\n", r->name,
	               c ? score_verdict_name(c->verdict) : "-", red, green,
	               (long long)r->messages_in, (long long)r->messages_out, first, last, onb,
	               r->configured ? "" : "  (auto)");
	if (!evidence || c == NULL)
		return;
	strbuf_appendf(b, "  %u conversations in %s, %u from them, %u from you (%u after hours)\n",
	               c->threads, o->rep->period, c->messages_in, c->messages_out,
	               c->out_after_hours);
	for (size_t k = 0; k < c->n_signals; k++) {
		const struct score_signal *s = &c->signals[k];

		strbuf_appendf(b, "  %s %s: %u (previous period %u), %.1f points\n",
		               s->red ? "▲" : "▼", s->id, s->count, s->prev_count, s->weight);
		for (size_t e = 0; e < s->n_evidence; e++) {
			char day[16];

			daemon_local_day(tz, s->evidence[e].date, day, sizeof(day));
			strbuf_appendf(b, "      %s  \"%s\"  %s\n", day, s->evidence[e].subject,
			               s->evidence[e].excerpt);
		}
	}
}

static int ledger_row(void *arg, const struct store_client_row *r)
{
	struct ledger_out *o = arg;
	const struct score_client *c;

	if (o->only != NULL && strcmp(o->only, r->name) != 0)
		return 0;
	c = report_client(o->rep, r->name);
	if (o->json) {
		strbuf_appends(&o->buf, o->n && !o->only ? "," : "");
		json_client(o, r, c, o->only != NULL);
	} else {
		text_client(o, r, c, o->only != NULL);
	}
	o->n++;
	return 0;
}

/* The client named name, or the one whose name matches it ignoring case. */
struct find_client {
	const char *want;
	char *exact, *folded;
};

static int find_client_row(void *arg, const struct store_client_row *r)
{
	struct find_client *f = arg;

	if (strcmp(r->name, f->want) == 0 && f->exact == NULL)
		f->exact = xstrdup(r->name);
	else if (strcasecmp(r->name, f->want) == 0 && f->folded == NULL)
		f->folded = xstrdup(r->name);
	return 0;
}

char *daemon_find_client(const struct rf_config *cfg, struct store *st, const char *name)
{
	struct find_client f = {.want = name};

	if (store_clients_foreach(st, cfg->clients_need_reply, find_client_row, &f) < 0) {
		log_err("clients: %s", store_errmsg(st));
		f.exact = NULL;
	}
	if (f.exact == NULL) {
		f.exact = f.folded;
		f.folded = NULL;
	}
	free(f.folded);
	return f.exact;
}

int daemon_smtp_send(const struct rf_config *cfg, const char *const *rcpt, size_t n_rcpt,
                     const char *mail, size_t len, unsigned attempts,
                     void (*on_data_end)(void *arg), void *arg, struct smtp_status *st, char *err,
                     size_t errlen)
{
	struct smtp_retry policy;
	char *password = NULL;
	int rc;

	if (cfg->smtp.user != NULL) {
		rc = config_secret_read(&cfg->smtp.secret, &password, err, errlen);
		if (rc < 0)
			return rc;
	}
	smtp_retry_default(&policy);
	policy.attempts = attempts;
	policy.delay_ms = cfg->smtp.retry_delay * 1000;
	rc = smtp_send_retry(&cfg->smtp, password, cfg->smtp.from, rcpt, n_rcpt, mail, len,
	                     on_data_end, arg, &policy, st, err, errlen);
	config_secret_free(&password);
	return rc;
}

static int ledger(const struct options *opt, const char *only, const char *period_arg, bool json)
{
	struct rf_config *cfg = NULL;
	struct rules *rules = NULL;
	struct store *st = NULL;
	struct score_report *rep = NULL;
	struct ledger_out o = {.buf = STRBUF_INIT, .json = json};
	char *found = NULL;
	struct period p;
	char err[512];
	int status = EXIT_FAIL;

	if (review_open(opt, &cfg, &rules, &st) < 0)
		return EXIT_FAIL;
	if (parse_period(cfg, period_arg, &p) < 0) {
		status = EXIT_USAGE;
		goto out;
	}
	if (review_build(st, rules, cfg, &p, cfg->digest.language, (int64_t)time(NULL), &rep, err,
	                 sizeof(err)) < 0) {
		log_err("%s", err);
		goto out;
	}
	o.cfg = cfg;
	o.rep = rep;
	if (only != NULL) {
		o.only = found = daemon_find_client(cfg, st, only);
		if (o.only == NULL) {
			fprintf(stderr,
			        "redflagd: no client called \"%s\" (see `redflagd clients`)\n",
			        only);
			goto out;
		}
	}
	if (json && only == NULL)
		strbuf_appends(&o.buf, "[");
	else if (!json)
		strbuf_appendf(&o.buf,
		               "%-28s %-11s %5s %5s %7s %6s  %-10s  %-10s  %-10s   (period %s)\n",
		               "client", "verdict", "red", "green", "in", "out", "first", "last",
		               "onboarded", rep->period);
	if (store_clients_foreach(st, cfg->clients_need_reply, ledger_row, &o) < 0) {
		log_err("clients: %s", store_errmsg(st));
		goto out;
	}
	if (json)
		strbuf_appends(&o.buf, only == NULL ? "]\n" : "\n");
	else if (o.n == 0)
		strbuf_appends(&o.buf, "(no clients yet: a counterparty becomes a client once you "
		                       "have written to them;\n"
		                       " run `redflagd sync --once` to import mail)\n");
	fputs(o.buf.data, stdout);
	status = EXIT_OK;
out:
	free(found);
	strbuf_release(&o.buf);
	score_report_free(&rep);
	review_close(&cfg, &rules, &st);
	return status;
}

int cmd_clients(const struct options *opt, int argc, char **argv)
{
	const char *period = NULL;
	bool json = false;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strcmp(argv[i], "--period") == 0 && i + 1 < argc) {
			period = argv[++i];
		} else {
			fprintf(stderr, "usage: redflagd clients [--json] [--period P]\n");
			return EXIT_USAGE;
		}
	}
	return ledger(opt, NULL, period, json);
}

int cmd_client(const struct options *opt, int argc, char **argv)
{
	const char *period = NULL, *name = NULL;
	bool json = false;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strcmp(argv[i], "--period") == 0 && i + 1 < argc) {
			period = argv[++i];
		} else if (name == NULL && argv[i][0] != '-') {
			name = argv[i];
		} else {
			name = NULL;
			break;
		}
	}
	if (name == NULL) {
		fprintf(stderr, "usage: redflagd client NAME [--json] [--period P]\n");
		return EXIT_USAGE;
	}
	return ledger(opt, name, period, json);
}

/* ---------------------------------------------------------------- digest */

/*
 * The Message-ID of a period's digest: the same for every try of the same attempt, so a
 * copy that turns up in a mailbox identifies itself, and different per recipient and
 * attempt (a forced re-send is a new message).
 */
static void digest_message_id(const struct rf_config *cfg, const char *period, int attempt,
                              char *buf, size_t len)
{
	const char *from = cfg->smtp.from ? cfg->smtp.from : cfg->digest.to;
	const char *at = from ? strrchr(from, '@') : NULL;
	struct strbuf key = STRBUF_INIT;

	strbuf_appendf(&key, "%s\n%s\n%d", cfg->digest.to ? cfg->digest.to : "", period, attempt);
	snprintf(buf, len, "<redflagd.digest.%s.%d.%016llx@%s>", period, attempt,
	         (unsigned long long)hash_fnv1a64(key.data, key.len, 0),
	         at && at[1] ? at + 1 : "localhost");
	strbuf_release(&key);
}

struct send_state {
	struct store *st;
	const char *period;
	bool transmitted;
};

/* Called by smtp_send() when the server has the whole message: record it before the 250. */
static void on_data_end(void *arg)
{
	struct send_state *s = arg;

	s->transmitted = true;
	if (store_digest_transmitted(s->st, s->period, (int64_t)time(NULL)) < 0)
		log_err("digest %s: %s", s->period, store_errmsg(s->st));
}

static int found_row(void *arg, const struct store_message_row *row)
{
	(void)row;
	*(bool *)arg = true;
	return 1;
}

void daemon_crash_after_send(void)
{
	const char *hook = getenv("REDFLAGD_TEST_HOOK");

	if (hook && strcmp(hook, "crash-after-send") == 0)
		raise(SIGKILL);
}

bool daemon_message_seen(struct store *st, const char *message_id)
{
	char bare[256];
	size_t n = strlen(message_id);
	bool found = false;

	if (n < 3 || n - 2 >= sizeof(bare))
		return false;
	memcpy(bare, message_id + 1, n - 2);
	bare[n - 2] = '\0';
	return store_messages_by_msgid(st, bare, found_row, &found) >= 0 && found;
}

/* Renders the digest of p as the mail it would be; *mid gets its Message-ID. */
static int digest_build(const struct rf_config *cfg, struct rules *rules, struct store *st,
                        const struct period *p, int attempt, int64_t now, struct strbuf *mail,
                        struct score_report **rep, char *mid, size_t midlen, char *err,
                        size_t errlen)
{
	struct digest_envelope env;
	int r;

	r = review_build(st, rules, cfg, p, cfg->digest.language, now, rep, err, errlen);
	if (r < 0)
		return r;
	digest_message_id(cfg, p->key, attempt, mid, midlen);
	env = (struct digest_envelope){
	    .from_name = "redflagd",
	    .from_addr = cfg->smtp.from ? cfg->smtp.from : cfg->digest.to,
	    .to_addr = cfg->digest.to,
	    .message_id = mid,
	    .date = now,
	    .max_bytes = cfg->digest.max_bytes,
	};
	return digest_compose(*rep, &env, mail, err, errlen);
}

/* What digest_send() did. */
enum send_outcome {
	SEND_SENT,      /* sent now */
	SEND_ALREADY,   /* sent before (or found delivered): nothing to do */
	SEND_UNCERTAIN, /* may have been delivered: not sent again without force */
	SEND_TRANSIENT, /* failed, worth retrying later */
	SEND_FAILED,    /* failed permanently or locally */
};

/*
 * Sends the digest of p unless the ledger says it was (or may have been) sent; force sends
 * it again as a new attempt. attempts bounds the SMTP tries in this call.
 */
static enum send_outcome digest_send(const struct rf_config *cfg, struct rules *rules,
                                     struct store *st, const struct period *p, bool force,
                                     unsigned attempts)
{
	struct store_digest d;
	struct strbuf mail = STRBUF_INIT;
	struct score_report *rep = NULL;
	struct send_state ss = {.st = st, .period = p->key};
	struct smtp_status sst = {0};
	char mid[256], err[512] = "", day[16];
	const char *rcpt[1] = {cfg->digest.to};
	int64_t now = (int64_t)time(NULL);
	int attempt = 0, r;
	enum send_outcome out = SEND_FAILED;

	r = store_digest_get(st, p->key, &d);
	if (r < 0 && r != -ENOENT) {
		log_err("digest %s: %s", p->key, store_errmsg(st));
		return SEND_FAILED;
	}
	if (r == 0) {
		attempt = d.attempt;
		if (d.sent_at == 0 && d.transmitted_at != 0 &&
		    daemon_message_seen(st, d.message_id)) {
			/* The "maybe" resolved itself: the copy arrived in a synced mailbox. */
			log_info("digest %s: %s found in the mailbox; recording it as sent", p->key,
			         d.message_id);
			if (store_digest_sent(st, p->key, now) < 0)
				log_err("digest %s: %s", p->key, store_errmsg(st));
			d.sent_at = now;
		}
		daemon_local_day(cfg->owner.timezone, d.sent_at ? d.sent_at : d.transmitted_at, day,
		                 sizeof(day));
		if (d.sent_at && !force) {
			log_warnx("digest %s was already sent on %s (Message-ID %s); not sending "
			          "it again (--force sends it anyway)",
			          p->key, day, d.message_id);
			return SEND_ALREADY;
		}
		if (d.transmitted_at && !force) {
			log_warnx("digest %s may already have been delivered on %s: an earlier "
			          "attempt handed the whole message to the server, but the "
			          "server's answer was never recorded (the process stopped or the "
			          "connection broke). Not sending it twice; look for Message-ID %s "
			          "in your mailbox, and run `redflagd digest --period %s --send "
			          "--force` if it never arrived",
			          p->key, day, d.message_id, p->key);
			return SEND_UNCERTAIN;
		}
		if (d.sent_at || d.transmitted_at)
			attempt++; /* forced: a new message, with a new Message-ID */
	}
	if (digest_build(cfg, rules, st, p, attempt, now, &mail, &rep, mid, sizeof(mid), err,
	                 sizeof(err)) < 0) {
		log_err("digest %s: %s", p->key, err);
		goto out;
	}
	if (store_digest_prepare(st, p->key, mid, attempt, now) < 0) {
		log_err("digest %s: %s", p->key, store_errmsg(st));
		goto out;
	}
	r = daemon_smtp_send(cfg, rcpt, 1, mail.data, mail.len, attempts, on_data_end, &ss, &sst,
	                     err, sizeof(err));
	if (r == 0) {
		daemon_crash_after_send();
		if (store_digest_sent(st, p->key, (int64_t)time(NULL)) < 0) {
			log_err("digest %s was sent but could not be recorded: %s", p->key,
			        store_errmsg(st));
			goto out;
		}
		log_info("digest %s sent to %s (%zu bytes, Message-ID %s)", p->key, cfg->digest.to,
		         mail.len, mid);
		out = SEND_SENT;
		goto out;
	}
	if (sst.maybe_delivered) {
		log_err("digest %s: %s", p->key, err);
		out = SEND_UNCERTAIN;
		goto out;
	}
	/* A definite refusal: whatever reached the server was not accepted. */
	if (ss.transmitted && store_digest_failed(st, p->key) < 0)
		log_err("digest %s: %s", p->key, store_errmsg(st));
	log_err("digest %s not sent: %s", p->key, err);
	out = r == -EAGAIN ? SEND_TRANSIENT : SEND_FAILED;
out:
	score_report_free(&rep);
	strbuf_release(&mail);
	return out;
}

int cmd_digest(const struct options *opt, int argc, char **argv)
{
	struct rf_config *cfg = NULL;
	struct rules *rules = NULL;
	struct store *st = NULL;
	struct score_report *rep = NULL;
	struct strbuf mail = STRBUF_INIT;
	const char *period_arg = NULL;
	bool preview = false, send = false, force = false, text = false, bad = false;
	struct period p;
	char mid[256], err[512];
	int status = EXIT_FAIL;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--period") == 0 && i + 1 < argc)
			period_arg = argv[++i];
		else if (strcmp(argv[i], "--preview") == 0)
			preview = true;
		else if (strcmp(argv[i], "--send") == 0)
			send = true;
		else if (strcmp(argv[i], "--force") == 0)
			force = true;
		else if (strcmp(argv[i], "--text") == 0)
			text = true;
		else
			bad = true;
	}
	if (bad || preview == send || (force && !send) || (text && !preview)) {
		fprintf(stderr, "usage: redflagd digest [--period P] (--preview [--text] | --send "
		                "[--force])\n");
		return EXIT_USAGE;
	}
	if (review_open(opt, &cfg, &rules, &st) < 0)
		return EXIT_FAIL;
	if (parse_period(cfg, period_arg, &p) < 0) {
		status = EXIT_USAGE;
		goto out;
	}
	if (send) {
		if (!cfg->smtp.present || cfg->digest.to == NULL) {
			log_err("%s: %s: cannot send the digest", cfg->path,
			        cfg->smtp.present ? "no digest.to and no owner address"
			                          : "no smtp group");
			goto out;
		}
		status = digest_send(cfg, rules, st, &p, force, cfg->smtp.retries + 1) == SEND_SENT
		             ? EXIT_OK
		             : EXIT_FAIL;
		goto out;
	}
	if (text) {
		if (review_build(st, rules, cfg, &p, cfg->digest.language, (int64_t)time(NULL),
		                 &rep, err, sizeof(err)) < 0 ||
		    digest_render_text(rep, &mail) < 0) {
			log_err("digest %s: %s", p.key, err);
			goto out;
		}
	} else {
		struct store_digest d;
		int attempt = 0;

		/* The Message-ID --send would use next. */
		if (store_digest_get(st, p.key, &d) == 0)
			attempt = d.attempt + (d.sent_at || d.transmitted_at);
		if (digest_build(cfg, rules, st, &p, attempt, (int64_t)time(NULL), &mail, &rep, mid,
		                 sizeof(mid), err, sizeof(err)) < 0) {
			log_err("digest %s: %s", p.key, err);
			goto out;
		}
	}
	fwrite(mail.data, 1, mail.len, stdout);
	status = EXIT_OK;
out:
	score_report_free(&rep);
	strbuf_release(&mail);
	review_close(&cfg, &rules, &st);
	return status;
}

int64_t daemon_digest_tick(const struct rf_config *cfg, struct rules *rules, struct store *st,
                           unsigned *failures)
{
	struct period p;
	struct store_digest d;
	int64_t now = (int64_t)time(NULL), due, wait;
	enum send_outcome o;

	if (!cfg->smtp.present || cfg->digest.to == NULL)
		return 86400;
	if (period_latest_due(digest_every(cfg), cfg->digest.at_month, cfg->digest.at_day,
	                      cfg->digest.at_minute, cfg->owner.timezone, now, &p, &due) < 0)
		return 86400;
	/* Catch up once: only the latest due period, and only if nothing was tried for it. */
	if (store_digest_get(st, p.key, &d) == 0 && (d.sent_at || d.transmitted_at)) {
		o = SEND_ALREADY;
	} else {
		log_info("digest %s is due (since %lld); sending", p.key, (long long)due);
		o = digest_send(cfg, rules, st, &p, false, 1);
	}
	if (o == SEND_TRANSIENT || o == SEND_FAILED) {
		/* Try again later, backing off from retry_delay ×4 per failure, up to a day. */
		wait = cfg->smtp.retry_delay;
		for (unsigned i = 0; i < *failures && wait < 86400; i++)
			wait *= 4;
		(*failures)++;
		return wait < 86400 ? wait : 86400;
	}
	*failures = 0;
	due = daemon_next_review(cfg, now);
	wait = due > 0 ? due - now : 86400;
	return wait < 1 ? 1 : wait > 86400 ? 86400 : wait;
}

int64_t daemon_next_review(const struct rf_config *cfg, int64_t now)
{
	struct period p, next;
	int64_t due;

	if (period_latest_due(digest_every(cfg), cfg->digest.at_month, cfg->digest.at_day,
	                      cfg->digest.at_minute, cfg->owner.timezone, now, &p, &due) < 0 ||
	    period_next(&p, cfg->owner.timezone, &next) < 0)
		return 0;
	return period_due(&next, cfg->digest.at_month, cfg->digest.at_day, cfg->digest.at_minute,
	                  cfg->owner.timezone);
}
