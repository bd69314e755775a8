/*
 * Mails to clients: `onboard` (how we will work together), `farewell` (a respectful release
 * letter, only ever sent by hand) and the automatic onboarding of new clients in `run`.
 *
 * Each mail is built from a template (template.h) in the client's language, composed as
 * text/plain (mime.h) and sent with the digest's exactly-once ledger (outbox table: prepared,
 * transmitted, sent; deterministic Message-ID per client, kind and attempt). The owner gets
 * a copy as a second envelope recipient: a Bcc in the SMTP envelope only, never a header,
 * because redflagd reads the mailbox read-only and does not APPEND to Sent.
 *
 * Automatic onboarding is guarded, in this order: it must be switched on; the moment it was
 * first seen switched on is recorded, and a client whose first mail is older never gets one
 * (the first import of years of mail must not mail every old client); the first mail must be
 * at least onboarding.delay old; at most onboarding.max_per_day go out per rolling 24 hours;
 * never twice (outbox row); never to lists, automated or no-reply senders; dry_run only logs.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "daemon.h"
#include "redflag/calendar.h"
#include "redflag/clients.h"
#include "redflag/log.h"
#include "redflag/message.h"
#include "redflag/mime.h"
#include "redflag/smtp.h"
#include "redflag/store.h"
#include "redflag/template.h"
#include "redflag/util.h"

#define META_ENABLED "onboarding_enabled_at"

/* Everything needed to write to one client. */
struct recipient {
	int64_t id;
	char *name;
	char *addr;
	char *lang; /* static or owned: see recipient_release() */
	unsigned flags;
};

static void recipient_release(struct recipient *r)
{
	free(r->name);
	free(r->addr);
	free(r->lang);
	memset(r, 0, sizeof(*r));
}

static bool lang_ok(const char *l)
{
	return l && (strcmp(l, "da") == 0 || strcmp(l, "de") == 0 || strcmp(l, "en") == 0);
}

static const struct rf_client_conf *client_conf(const struct rf_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_clients; i++)
		if (strcmp(cfg->clients[i].name, name) == 0)
			return &cfg->clients[i];
	return NULL;
}

/* The client an address belongs to, as sync would file a mail from it. */
static char *client_of_address(const struct rf_config *cfg, const char *addr)
{
	struct clients *c = clients_new(cfg);
	struct message m = {.message_id = "", .subject = "", .from = {"", (char *)addr}};
	struct clients_match who;
	char *name = NULL;

	clients_resolve(c, &m, &who);
	if (who.client != NULL)
		name = xstrdup(who.client);
	clients_match_release(&who);
	clients_free(&c);
	return name;
}

/*
 * Resolves CLIENT-OR-ADDRESS and the language (lang_arg, else the client's configured
 * language, else the one their mail is written in, else the owner's). Prints errors.
 */
static int resolve(const struct rf_config *cfg, struct store *st, const char *who,
                   const char *lang_arg, struct recipient *r)
{
	char *detected = NULL, *name;
	const struct rf_client_conf *cc;
	bool is_addr;
	int rc;

	memset(r, 0, sizeof(*r));
	/* A name first (a client may be called "x@y"), then an address. */
	name = daemon_find_client(cfg, st, who);
	is_addr = name == NULL && strchr(who, '@') != NULL;
	if (is_addr)
		name = client_of_address(cfg, who);
	if (name == NULL) {
		fprintf(stderr,
		        "redflagd: \"%s\" is not a client (see `redflagd clients`; a counterparty "
		        "becomes one when it is configured or you have written to them)\n",
		        who);
		return -ENOENT;
	}
	r->name = name;
	rc = store_client_id(st, name, &r->id);
	if (rc == 0)
		rc = store_client_contact(st, r->id, &r->addr, &r->flags, &detected);
	if (rc < 0) {
		if (rc == -ENOENT && is_addr)
			fprintf(
			    stderr,
			    "redflagd: %s is not a client yet: no mail from or to it (it would be "
			    "filed as \"%s\")\n",
			    who, name);
		else if (rc == -ENOENT)
			fprintf(stderr,
			        "redflagd: no mail from or to %s yet, so no address to write to\n",
			        name);
		else
			log_err("%s", store_errmsg(st));
		free(detected);
		return rc;
	}
	if (is_addr) {
		free(r->addr);
		r->addr = str_lower(xstrdup(who));
	}
	cc = client_conf(cfg, name);
	if (lang_ok(lang_arg))
		r->lang = xstrdup(lang_arg);
	else if (cc && lang_ok(cc->language))
		r->lang = xstrdup(cc->language);
	else if (lang_ok(detected))
		r->lang = xstrdup(detected);
	else
		r->lang = xstrdup(lang_ok(cfg->owner.language) ? cfg->owner.language : "en");
	free(detected);
	if (mime_address_valid(r->addr) < 0) {
		fprintf(stderr, "redflagd: %s: \"%s\" is not an address redflagd writes to\n", name,
		        r->addr);
		return -EINVAL;
	}
	return 0;
}

/* ---------------------------------------------------------------- the mail */

static const char *const day_names[3][7] = {
    {"mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag"},
    {"Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"},
    {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"},
};
static const char *const month_names[3][12] = {
    {"januar", "februar", "marts", "april", "maj", "juni", "juli", "august", "september", "oktober",
     "november", "december"},
    {"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober",
     "November", "Dezember"},
    {"January", "February", "March", "April", "May", "June", "July", "August", "September",
     "October", "November", "December"},
};
static const char *const to_word[3] = {"til", "bis", "to"};
static const char *const and_word[3] = {"og", "und", "and"};

static int lang_index(const char *lang)
{
	return strcmp(lang, "da") == 0 ? 0 : strcmp(lang, "de") == 0 ? 1 : 2;
}

/* "Monday to Friday, 08:00–17:00" from the owner's work_days and work_hours. */
static void work_hours_text(const struct rf_config *cfg, const char *lang, struct strbuf *o)
{
	int li = lang_index(lang), first = -1, last = -1, n = 0;
	unsigned days = cfg->owner.work_days;
	bool contiguous = true;

	for (int d = 0; d < 7; d++)
		if (days & (1u << d)) {
			if (first < 0)
				first = d;
			else if (d != last + 1)
				contiguous = false;
			last = d;
			n++;
		}
	if (n == 0)
		return;
	if (n == 1) {
		strbuf_appends(o, day_names[li][first]);
	} else if (contiguous) {
		strbuf_appendf(o, "%s %s %s", day_names[li][first], to_word[li],
		               day_names[li][last]);
	} else {
		for (int d = 0, k = 0; d < 7; d++)
			if (days & (1u << d)) {
				if (k++ > 0)
					strbuf_appendf(o, k == n ? " %s " : ", ", and_word[li]);
				strbuf_appends(o, day_names[li][d]);
			}
	}
	strbuf_appendf(o, ", %02u:%02u–%02u:%02u", cfg->owner.work_start_min / 60,
	               cfg->owner.work_start_min % 60, cfg->owner.work_end_min / 60,
	               cfg->owner.work_end_min % 60);
}

/* "15. januar 2027" / "15. Januar 2027" / "15 January 2027". */
static void long_date(const char *lang, int y, int m, int d, struct strbuf *o)
{
	int li = lang_index(lang);

	if (m < 1 || m > 12)
		return;
	if (li == 2)
		strbuf_appendf(o, "%d %s %d", d, month_names[li][m - 1], y);
	else
		strbuf_appendf(o, "%d. %s %d", d, month_names[li][m - 1], y);
}

/* The farewell's default handover sentence part, per language. */
static const char *const default_handover[3] = {
    "alle filer og adgangskoder til det, jeg har lavet for dig",
    "alle Dateien und Zugänge zu den Arbeiten, die ich für Sie erstellt habe",
    "all files and access details for the work I have done for you",
};

/* Options of a farewell (NULL = default). */
struct farewell_opts {
	const char *end;      /* "YYYY-MM-DD" */
	const char *handover; /* what they get */
	const char *colleague;
};

static const char *templates_dir(const struct rf_config *cfg, char *buf, size_t len)
{
	if (cfg->templates)
		return cfg->templates;
	snprintf(buf, len, "%s/../templates", cfg->rules ? cfg->rules : ".");
	return buf;
}

int daemon_check_templates(const struct rf_config *cfg)
{
	static const char *const langs[] = {"da", "de", "en"};
	struct strbuf errors = STRBUF_INIT;
	char dirbuf[4096];
	const char *dir = templates_dir(cfg, dirbuf, sizeof(dirbuf));
	struct stat sb;
	int bad = 0;

	/*
	 * No templates at all only matters to someone who wants client mails: an error with
	 * automatic onboarding on, a warning otherwise (onboard and farewell will say it again).
	 */
	if (stat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
		if (cfg->onboarding.auto_send) {
			fprintf(stderr, "%s: no template directory, but onboarding.auto is on\n",
			        dir);
			return -EINVAL;
		}
		log_warnx("%s: no template directory: onboard and farewell cannot work", dir);
		return 0;
	}

	for (int k = TEMPLATE_ONBOARDING; k <= TEMPLATE_FAREWELL; k++)
		for (size_t i = 0; i < ARRAY_SIZE(langs); i++) {
			struct template *t = NULL;
			int r = template_load(dir, (enum template_kind)k, langs[i], &t, &errors);

			if (r == -ENOENT)
				strbuf_appendf(&errors, "%s/%s.%s.tmpl: missing\n", dir,
				               template_kind_name((enum template_kind)k), langs[i]);
			bad += r < 0;
			template_free(&t);
		}
	if (bad)
		fputs(errors.data ? errors.data : "templates: error\n", stderr);
	strbuf_release(&errors);
	return bad ? -EINVAL : 0;
}

/* Renders the mail of kind for r into subject and body; prints errors. */
static int render(const struct rf_config *cfg, enum template_kind kind, const struct recipient *r,
                  const struct farewell_opts *fo, struct strbuf *subject, struct strbuf *body)
{
	struct strbuf errors = STRBUF_INIT, hours = STRBUF_INIT, end = STRBUF_INIT;
	struct template *t = NULL;
	char dirbuf[4096], first[128];
	const char *owner_email = cfg->smtp.from           ? cfg->smtp.from
	                          : cfg->owner.n_addresses ? cfg->owner.addresses[0]
	                                                   : "";
	int y, m, d, rc;

	snprintf(first, sizeof(first), "%s", cfg->owner.name ? cfg->owner.name : "");
	first[strcspn(first, " ")] = '\0';
	work_hours_text(cfg, r->lang, &hours);
	if (fo && fo->end && sscanf(fo->end, "%d-%d-%d", &y, &m, &d) == 3) {
		long_date(r->lang, y, m, d, &end);
	} else {
		/* Thirty days' notice by default, counted in the owner's calendar. */
		calendar_local_date(cfg->owner.timezone, (int64_t)time(NULL) + 30 * 86400, &y, &m,
		                    &d);
		long_date(r->lang, y, m, d, &end);
	}
	{
		const struct template_var vars[] = {
		    {"owner.name", cfg->owner.name, NULL, 0},
		    {"owner.first_name", first, NULL, 0},
		    {"owner.email", owner_email, NULL, 0},
		    {"client.name", r->name, NULL, 0},
		    {"terms", NULL, (const char *const *)cfg->owner.terms, cfg->owner.n_terms},
		    {"work_hours", hours.data ? hours.data : "", NULL, 0},
		    {"end_date", end.data ? end.data : "", NULL, 0},
		    {"handover",
		     fo && fo->handover ? fo->handover : default_handover[lang_index(r->lang)],
		     NULL, 0},
		    {"colleague", fo && fo->colleague ? fo->colleague : "", NULL, 0},
		};

		rc = template_load(templates_dir(cfg, dirbuf, sizeof(dirbuf)), kind, r->lang, &t,
		                   &errors);
		if (rc == 0)
			rc = template_render(t, vars, ARRAY_SIZE(vars), subject, body);
	}
	if (rc < 0)
		fprintf(stderr, "redflagd: %s template (%s): %s", template_kind_name(kind), r->lang,
		        errors.data ? errors.data : "cannot render\n");
	template_free(&t);
	strbuf_release(&errors);
	strbuf_release(&hours);
	strbuf_release(&end);
	return rc;
}

/* Deterministic per client, kind and attempt: a copy in a mailbox identifies itself. */
static void mail_message_id(const struct rf_config *cfg, const struct recipient *r,
                            const char *kind, int attempt, char *buf, size_t len)
{
	const char *from = cfg->smtp.from ? cfg->smtp.from : "";
	const char *at = strrchr(from, '@');
	struct strbuf key = STRBUF_INIT;

	strbuf_appendf(&key, "%s\n%s\n%s\n%d", r->name, r->addr, kind, attempt);
	snprintf(buf, len, "<redflagd.%s.%016" PRIx64 ".%d@%s>", kind,
	         hash_fnv1a64(key.data, key.len, 0), attempt, at && at[1] ? at + 1 : "localhost");
	strbuf_release(&key);
}

static int compose(const struct rf_config *cfg, enum template_kind kind, const struct recipient *r,
                   const struct farewell_opts *fo, const char *mid, struct strbuf *mail)
{
	struct strbuf subject = STRBUF_INIT, body = STRBUF_INIT;
	struct mime_mail m;
	char err[256];
	int rc = render(cfg, kind, r, fo, &subject, &body);

	if (rc == 0) {
		m = (struct mime_mail){
		    .from_name = cfg->owner.name,
		    .from_addr = cfg->smtp.from ? cfg->smtp.from : cfg->owner.addresses[0],
		    .to_name = r->name,
		    .to_addr = r->addr,
		    .subject = subject.data,
		    .date = (int64_t)time(NULL),
		    .message_id = mid,
		    .text = body.data,
		    .max_bytes = 256 * 1024,
		};
		rc = mime_compose(&m, mail, err, sizeof(err));
		if (rc < 0)
			fprintf(stderr, "redflagd: %s\n", err);
	}
	strbuf_release(&subject);
	strbuf_release(&body);
	return rc;
}

struct mark {
	struct store *st;
	int64_t client;
	const char *kind;
	bool transmitted;
};

static void on_data_end(void *arg)
{
	struct mark *k = arg;

	k->transmitted = true;
	if (store_outbox_transmitted(k->st, k->client, k->kind, (int64_t)time(NULL)) < 0)
		log_err("%s: %s", k->kind, store_errmsg(k->st));
}

/*
 * Sends the mail of kind to r once (the ledger decides; force makes a new attempt).
 * Returns 0 sent, 1 already sent or possibly sent (told on stderr), -EAGAIN transient, or
 * another negative errno.
 */
static int send_once(const struct rf_config *cfg, struct store *st, enum template_kind kind,
                     const struct recipient *r, const struct farewell_opts *fo, bool force,
                     unsigned attempts)
{
	const char *kname = template_kind_name(kind);
	struct store_outbox o;
	struct strbuf mail = STRBUF_INIT;
	struct mark mk = {.st = st, .client = r->id, .kind = kname};
	struct smtp_status sst = {0};
	char mid[256], err[512] = "", day[16] = "";
	const char *rcpt[2] = {r->addr, cfg->owner.n_addresses ? cfg->owner.addresses[0] : NULL};
	size_t n_rcpt = rcpt[1] && strcmp(rcpt[1], r->addr) != 0 ? 2 : 1;
	int64_t now = (int64_t)time(NULL);
	int attempt = 0, rc;

	rc = store_outbox_get(st, r->id, kname, &o);
	if (rc < 0 && rc != -ENOENT) {
		log_err("%s: %s", kname, store_errmsg(st));
		return rc;
	}
	if (rc == 0) {
		attempt = o.attempt;
		if (o.sent_at == 0 && o.transmitted_at != 0 &&
		    daemon_message_seen(st, o.message_id)) {
			store_outbox_sent(st, r->id, kname, now);
			o.sent_at = now;
		}
		daemon_local_day(cfg->owner.timezone, o.sent_at ? o.sent_at : o.transmitted_at, day,
		                 sizeof(day));
		if (o.sent_at && !force) {
			log_warnx(
			    "%s mail to %s was already sent on %s (Message-ID %s); not sending "
			    "it again (--force sends it anyway)",
			    kname, r->name, day, o.message_id);
			return 1;
		}
		if (o.transmitted_at && !force) {
			log_warnx(
			    "%s mail to %s may already have been delivered on %s (the server's "
			    "answer was never recorded); not sending it twice — look for "
			    "Message-ID %s in your mailbox, --force sends it again",
			    kname, r->name, day, o.message_id);
			return 1;
		}
		if (o.sent_at || o.transmitted_at)
			attempt++;
	}
	mail_message_id(cfg, r, kname, attempt, mid, sizeof(mid));
	rc = compose(cfg, kind, r, fo, mid, &mail);
	if (rc < 0)
		goto out;
	rc = store_outbox_prepare(st, r->id, kname, r->lang, r->addr, mid, attempt, now);
	if (rc < 0) {
		log_err("%s: %s", kname, store_errmsg(st));
		goto out;
	}
	rc = daemon_smtp_send(cfg, rcpt, n_rcpt, mail.data, mail.len, attempts, on_data_end, &mk,
	                      &sst, err, sizeof(err));
	if (rc == 0) {
		daemon_crash_after_send();
		if (store_outbox_sent(st, r->id, kname, (int64_t)time(NULL)) < 0)
			log_err("%s mail to %s was sent but could not be recorded: %s", kname,
			        r->name, store_errmsg(st));
		log_info("%s mail to %s <%s> sent in %s (Message-ID %s, copy to %s)", kname,
		         r->name, r->addr, r->lang, mid, n_rcpt > 1 ? rcpt[1] : "nobody");
		goto out;
	}
	if (!sst.maybe_delivered && mk.transmitted)
		store_outbox_failed(st, r->id, kname);
	log_err("%s mail to %s not sent: %s", kname, r->name, err);
out:
	strbuf_release(&mail);
	return rc;
}

/* ---------------------------------------------------------------- commands */

/* onboard and farewell share their command line. */
static int mail_command(const struct options *opt, int argc, char **argv, enum template_kind kind)
{
	struct rf_config *cfg = NULL;
	struct store *st = NULL;
	struct recipient r = {0};
	struct farewell_opts fo = {0};
	const char *who = NULL, *lang = NULL;
	bool preview = false, send = false, force = false, bad = false;
	char err[512];
	int status = EXIT_FAIL;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool more = i + 1 < argc;

		if (strcmp(a, "--preview") == 0)
			preview = true;
		else if (strcmp(a, "--send") == 0)
			send = true;
		else if (strcmp(a, "--force") == 0)
			force = true;
		else if (strcmp(a, "--lang") == 0 && more)
			lang = argv[++i];
		else if (kind == TEMPLATE_FAREWELL && strcmp(a, "--end") == 0 && more)
			fo.end = argv[++i];
		else if (kind == TEMPLATE_FAREWELL && strcmp(a, "--handover") == 0 && more)
			fo.handover = argv[++i];
		else if (kind == TEMPLATE_FAREWELL && strcmp(a, "--colleague") == 0 && more)
			fo.colleague = argv[++i];
		else if (who == NULL && a[0] != '-')
			who = a;
		else
			bad = true;
	}
	if (lang && !lang_ok(lang))
		bad = true;
	if (fo.end) {
		int y, m, d;
		char c;

		bad |= sscanf(fo.end, "%4d-%2d-%2d%c", &y, &m, &d, &c) != 3 || m < 1 || m > 12 ||
		       d < 1 || d > 31;
	}
	if (bad || who == NULL || preview == send || (force && !send)) {
		if (kind == TEMPLATE_ONBOARDING)
			fprintf(stderr,
			        "usage: redflagd onboard CLIENT-OR-ADDRESS [--lang da|de|en] "
			        "(--preview | --send [--force])\n");
		else
			fprintf(stderr,
			        "usage: redflagd farewell CLIENT [--lang da|de|en] [--end "
			        "YYYY-MM-DD] [--handover TEXT] [--colleague TEXT]\n"
			        "                         (--preview | --send [--force])\n");
		return EXIT_USAGE;
	}
	cfg = daemon_load_config(opt);
	if (cfg == NULL)
		return EXIT_FAIL;
	if (store_open(cfg->database, &st, err, sizeof(err)) < 0) {
		log_err("%s", err);
		goto out;
	}
	if (resolve(cfg, st, who, lang, &r) < 0)
		goto out;
	if (preview) {
		struct strbuf mail = STRBUF_INIT;
		char mid[256];

		mail_message_id(cfg, &r, template_kind_name(kind), 0, mid, sizeof(mid));
		if (compose(cfg, kind, &r, &fo, mid, &mail) == 0) {
			fwrite(mail.data, 1, mail.len, stdout);
			status = EXIT_OK;
		}
		strbuf_release(&mail);
		goto out;
	}
	if (!cfg->smtp.present) {
		log_err("%s: no smtp group: cannot send", cfg->path);
		goto out;
	}
	if (r.flags & (MESSAGE_LIST | MESSAGE_BULK | MESSAGE_AUTO) || clients_is_noreply(r.addr)) {
		log_err("%s <%s> is an automated sender or a mailing list: not writing to it",
		        r.name, r.addr);
		goto out;
	}
	status = send_once(cfg, st, kind, &r, &fo, force, cfg->smtp.retries + 1) == 0 ? EXIT_OK
	                                                                              : EXIT_FAIL;
out:
	recipient_release(&r);
	store_close(&st);
	config_free(&cfg);
	return status;
}

int cmd_onboard(const struct options *opt, int argc, char **argv)
{
	return mail_command(opt, argc, argv, TEMPLATE_ONBOARDING);
}

int cmd_farewell(const struct options *opt, int argc, char **argv)
{
	return mail_command(opt, argc, argv, TEMPLATE_FAREWELL);
}

/* ---------------------------------------------------------------- automatic onboarding */

/* Clients already reported as skipped, so each is logged once per process. */
static int64_t *logged;
static size_t n_logged, cap_logged;

static bool log_once(int64_t id)
{
	for (size_t i = 0; i < n_logged; i++)
		if (logged[i] == id)
			return false;
	if (n_logged == cap_logged) {
		cap_logged = cap_logged ? 2 * cap_logged : 16;
		logged = xreallocarray(logged, cap_logged, sizeof(*logged));
	}
	logged[n_logged++] = id;
	return true;
}

struct candidates {
	int64_t enabled_at, now, delay;
	int64_t *ids;
	char **names;
	size_t n, cap;
	int64_t next; /* earliest first_date + delay still in the future, 0 = none */
};

static int collect(void *arg, const struct store_client_row *row)
{
	struct candidates *c = arg;

	if (row->first_date < c->enabled_at || row->onboarded_at != 0)
		return 0;
	if (row->first_date + c->delay > c->now) {
		if (c->next == 0 || row->first_date + c->delay < c->next)
			c->next = row->first_date + c->delay;
		return 0;
	}
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 8;
		c->ids = xreallocarray(c->ids, c->cap, sizeof(*c->ids));
		c->names = xreallocarray(c->names, c->cap, sizeof(*c->names));
	}
	c->ids[c->n] = row->id;
	c->names[c->n++] = xstrdup(row->name);
	return 0;
}

int64_t daemon_onboard_tick(const struct rf_config *cfg, struct store *st)
{
	struct candidates c = {.now = (int64_t)time(NULL), .delay = cfg->onboarding.delay};
	char *v = NULL;
	int64_t wait = 3600, recent = 0;
	int rc;

	if (!cfg->onboarding.auto_send)
		return 86400;
	rc = store_meta_get(st, META_ENABLED, &v);
	if (rc == -ENOENT) {
		/* From now on: whoever wrote before this moment is not new. */
		char buf[32];

		snprintf(buf, sizeof(buf), "%" PRId64, c.now);
		if (store_meta_set(st, META_ENABLED, buf) == 0)
			log_info("onboarding: automatic from now on; clients whose first mail is "
			         "older are never mailed automatically");
		return cfg->onboarding.delay ? cfg->onboarding.delay : 60;
	}
	if (rc < 0 || parse_int64(v, 0, INT64_MAX, &c.enabled_at) < 0) {
		log_err("onboarding: %s", rc < 0 ? store_errmsg(st) : "bad enabled_at in meta");
		free(v);
		return 3600;
	}
	free(v);
	if (store_clients_foreach(st, cfg->clients_need_reply, collect, &c) < 0) {
		log_err("onboarding: %s", store_errmsg(st));
		goto out;
	}
	for (size_t i = 0; i < c.n; i++) {
		struct recipient r = {0};
		struct store_outbox o;

		/*
		 * Tried before: sent or possibly sent is final (only --force sends again); a
		 * definite failure is tried again after an hour.
		 */
		if (store_outbox_get(st, c.ids[i], "onboarding", &o) == 0 &&
		    (o.sent_at || o.transmitted_at || c.now - o.prepared_at < 3600))
			continue;
		if (store_outbox_recent(st, "onboarding", c.now - 86400, &recent) == 0 &&
		    recent >= cfg->onboarding.max_per_day) {
			if (log_once(-1))
				log_warnx(
				    "onboarding: the cap of %u mails per 24 hours is reached; "
				    "%zu new client(s) wait until the oldest of those mails is a "
				    "day old",
				    cfg->onboarding.max_per_day, c.n - i);
			wait = 3600;
			break;
		}
		if (resolve(cfg, st, c.names[i], NULL, &r) < 0) {
			recipient_release(&r);
			continue;
		}
		if (r.flags & (MESSAGE_LIST | MESSAGE_BULK | MESSAGE_AUTO) ||
		    clients_is_noreply(r.addr)) {
			if (log_once(r.id))
				log_info(
				    "onboarding: %s <%s> is an automated sender or a list: skipped",
				    r.name, r.addr);
		} else if (cfg->onboarding.dry_run) {
			if (log_once(r.id))
				log_info(
				    "onboarding (dry run): would send the %s onboarding mail to %s "
				    "<%s>",
				    r.lang, r.name, r.addr);
		} else if (!cfg->smtp.present) {
			if (log_once(0))
				log_warnx("onboarding: no smtp group, nothing is sent");
		} else {
			rc = send_once(cfg, st, TEMPLATE_ONBOARDING, &r, NULL, false, 1);
			if (rc == -EAGAIN)
				wait = cfg->smtp.retry_delay;
		}
		recipient_release(&r);
	}
	if (c.next && c.next - c.now < wait)
		wait = c.next - c.now;
out:
	for (size_t i = 0; i < c.n; i++)
		free(c.names[i]);
	free(c.names);
	free(c.ids);
	return wait < 1 ? 1 : wait;
}
