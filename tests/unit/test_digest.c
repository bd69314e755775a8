/* digest: rendering in da/de/en, hostile strings, bars and arrows, the size ceiling. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "redflag/digest.h"
#include "redflag/message.h"
#include "redflag/score.h"
#include "redflag/util.h"

/* 2026 in Europe/Copenhagen: [2026-01-01 00:00 CET, 2027-01-01 00:00 CET). */
#define START_2026 1767222000
#define END_2026   1798758000

#define T_2024_03_10       1710072000
#define T_2023_01_15       1673784000
#define T_2026_05_02       1777712400
#define T_2025_11_03       1762164000
#define T_2026_03_04       1772618400
#define T_2026_03_03_2330Z 1772580600

/* ---------------------------------------------------------------- building reports */

static struct score_report *report_new(const char *lang, size_t n_clients)
{
	struct score_report *r = xcalloc(1, sizeof(*r));

	snprintf(r->period, sizeof(r->period), "2026");
	snprintf(r->prev_period, sizeof(r->prev_period), "2025");
	r->start = START_2026;
	r->end = END_2026;
	r->generated = END_2026 + 86400;
	r->lang = lang;
	r->timezone = "Europe/Copenhagen";
	r->owner_name = "Test Owner";
	r->params.act = 0.15;
	r->params.release = 0.45;
	r->params.cherish = 0.20;
	r->params.cherish_red_max = 0.10;
	r->params.loyal_years = 2;
	r->clients = xcalloc(n_clients ? n_clients : 1, sizeof(*r->clients));
	r->n_clients = n_clients;
	r->messages = 812;
	return r;
}

static struct score_client *client_set(struct score_report *r, size_t i, const char *name,
                                       enum score_verdict v, double red, double green)
{
	struct score_client *c = &r->clients[i];

	c->name = xstrdup(name);
	c->verdict = v;
	c->prev_verdict = v;
	c->red_share = red;
	c->green_share = green;
	c->threads = 10;
	c->messages_in = 12;
	c->messages_out = 8;
	c->first_date = T_2024_03_10;
	c->last_date = T_2026_05_02;
	return c;
}

static struct score_signal *signal_add(struct score_client *c, const char *id, const char *desc,
                                       bool red, unsigned count, unsigned prev)
{
	struct score_signal *s;

	c->signals = xreallocarray(c->signals, c->n_signals + 1, sizeof(*c->signals));
	s = &c->signals[c->n_signals++];
	memset(s, 0, sizeof(*s));
	s->id = id;
	s->description = desc;
	s->red = red;
	s->count = count;
	s->prev_count = prev;
	s->weight = count;
	return s;
}

static void evidence_add(struct score_signal *s, int64_t date, const char *subject,
                         const char *excerpt)
{
	struct score_evidence *e = &s->evidence[s->n_evidence++];

	e->date = date;
	e->subject = xstrdup(subject);
	e->excerpt = xstrdup(excerpt);
}

static void quiet_add(struct score_report *r, const char *name, int64_t last)
{
	r->quiet = xreallocarray(r->quiet, r->n_quiet + 1, sizeof(*r->quiet));
	r->quiet[r->n_quiet].name = xstrdup(name);
	r->quiet[r->n_quiet].last_date = last;
	r->n_quiet++;
}

/* The four clients of the brief: a rusher, a haggler on an old rate, a new one, a favourite. */
static struct score_report *sample(const char *lang)
{
	struct score_report *r = report_new(lang, 4);
	struct score_client *c;
	struct score_signal *s;

	c = client_set(r, 0, "Bergmann Logistik", SCORE_TALK, 0.38, 0.0);
	c->has_prev = true;
	c->prev_verdict = SCORE_KEEP;
	c->prev_red_share = 0.12;
	c->threads = 42;
	c->messages_in = 60;
	c->messages_out = 30;
	c->out_after_hours = 4;
	s = signal_add(c, "rush", "Pushes short deadlines and urgent requests", true, 9, 3);
	evidence_add(s, T_2026_03_04, "Need it by tomorrow", "… bis morgen früh …");
	evidence_add(s, T_2026_03_03_2330Z, "Late one", "… ASAP …");

	c = client_set(r, 1, "Preisfuchs GmbH", SCORE_RAISE_PRICE, 0.22, 0.05);
	c->old_rate = true;
	c->old_rate_note = xstrdup("rate since 2023-01-01 (23 months)");
	s = signal_add(c, "discount", "Asks for discounts", true, 4, 0);
	evidence_add(s, T_2026_03_04, "Angebot", "… noch etwas Rabatt …");
	signal_add(c, "payment", "Pays late", true, 2, 0);

	c = client_set(r, 2, "Quiet Keeper", SCORE_KEEP, 0.0, 0.0);
	c->is_new = true;
	c->first_date = T_2026_05_02;

	c = client_set(r, 3, "Nordlys Bryghus", SCORE_CHERISH, 0.0, 0.55);
	c->first_date = T_2023_01_15;
	c->has_prev = true;
	c->prev_green_share = 0.5;
	c->favourite = SCORE_FAV_PRAISE | SCORE_FAV_REFERRAL | SCORE_FAV_LOYAL | SCORE_FAV_PAYS;
	s = signal_add(c, "praise", "Praises your work", false, 5, 4);
	evidence_add(s, T_2026_05_02, "Tak!", "… fantastisk arbejde …");
	signal_add(c, "referral", "Recommends you", false, 2, 1);

	quiet_add(r, "Old Friend ApS", T_2025_11_03);
	return r;
}

static char *render(const struct score_report *r, bool html)
{
	struct strbuf b = STRBUF_INIT;

	assert_int_equal(html ? digest_render_html(r, &b) : digest_render_text(r, &b), 0);
	return strbuf_detach(&b, NULL);
}

/* s with every run of line breaks and spaces (wrapping, padding) folded to one space. */
static char *flat(const char *s)
{
	struct strbuf b = STRBUF_INIT;

	for (; *s; s++) {
		if (*s == '\n' || *s == ' ') {
			while (s[1] == ' ' || s[1] == '\n')
				s++;
			strbuf_appendc(&b, ' ');
		} else {
			strbuf_appendc(&b, *s);
		}
	}
	return strbuf_detach(&b, NULL);
}

static bool utf8_valid(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;

	while (*u) {
		size_t n = *u < 0x80 ? 1 : (*u & 0xE0) == 0xC0 ? 2 : (*u & 0xF0) == 0xE0 ? 3 : 4;

		if (*u >= 0x80 && (*u < 0xC2 || *u > 0xF4))
			return false;
		for (size_t i = 1; i < n; i++)
			if ((u[i] & 0xC0) != 0x80)
				return false;
		u += n;
	}
	return true;
}

/* No control characters but LF in the text part, and valid UTF-8. */
static void assert_clean_text(const char *s)
{
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 && *p != '\n')
			fail_msg("control character 0x%02x in the text part", (unsigned char)*p);
	assert_true(utf8_valid(s));
}

static void assert_has(const char *hay, const char *needle)
{
	if (strstr(hay, needle) == NULL)
		fail_msg("missing \"%s\" in:\n%s", needle, hay);
}

static void assert_lacks(const char *hay, const char *needle)
{
	if (strstr(hay, needle) != NULL)
		fail_msg("unexpected \"%s\"", needle);
}

/* ---------------------------------------------------------------- languages */

struct lang_case {
	const char *lang;
	const char *text[24]; /* in the flattened text part; NULL-terminated */
	const char *html[8];  /* in the HTML part */
};

static const struct lang_case lang_cases[] = {
    {"en",
     {"Client review 2026 · 2026-01-01 – 2026-12-31",
      "For Test Owner · 4 active clients · 812 messages",
      "At a glance",
      "release 0",
      "talk 1 ████████████████████",
      "raise price 1",
      "cherish 1",
      "Your favourites — and why",
      "★ Nordlys Bryghus — praised your work 5 times · recommended you 2 times · together "
      "for 3 years · pays on time",
      "Clients, most urgent first",
      " 1. Bergmann Logistik — TALK (last period: keep)",
      "red ████████░░░░░░░░░░░░ 38 % ↑ (last period 12 %)",
      "42 conversations · 60 from them · 30 from you, 13 % of yours after hours · client "
      "since 2024-03 (2 years 9 months)",
      "▲ rush — Pushes short deadlines and urgent requests · 9 (last period 3) ↑",
      "2026-03-04 “Need it by tomorrow” … bis morgen früh …",
      "old rate: rate since 2023-01-01 (23 months)",
      "NEW this period",
      "▼ praise — Praises your work · 5 (last period 4) ↑",
      "New this period: Quiet Keeper (first mail 2026-05-02)",
      "Gone quiet (mail last period, none this one): Old Friend ApS (last mail 2025-11-03)",
      "How this was scored",
      "Balance = red share − green share: talk or raise the price from 15 %, release from 45 %; "
      "cherish from 20 % green with at most 10 % red.",
      "Arrows compare with 2025.",
      NULL},
     {"<html lang=\"en\">", "Client review 2026", "Bergmann Logistik", "— TALK",
      "(last period: keep)", "Your favourites — and why", NULL}},
    {"da",
     {"Kundegennemgang 2026 · 2026-01-01 – 2026-12-31",
      "Til Test Owner · 4 aktive kunder · 812 mails",
      "Overblik",
      "giv slip 0",
      "tag en snak 1",
      "hæv prisen 1",
      "behold 1",
      "værn om 1",
      "Dine favoritter — og hvorfor",
      "roste dit arbejde 5 gange · anbefalede dig 2 gange · sammen i 3 år · betaler til "
      "tiden",
      "Kunderne, de mest presserende først",
      " 1. Bergmann Logistik — TAG EN SNAK (sidste periode: behold)",
      "rød ████████░░░░░░░░░░░░ 38 % ↑ (sidste periode 12 %)",
      "42 samtaler · 60 fra dem · 30 fra dig, 13 % af dine uden for arbejdstid · kunde "
      "siden 2024-03 (2 år 9 måneder)",
      "▲ hastværk — Pushes short deadlines",
      "»Need it by tomorrow«",
      "gammel pris: rate since",
      "NY i denne periode",
      "Nye i denne periode: Quiet Keeper (første mail 2026-05-02)",
      "Blevet stille (mail i sidste periode, ingen i denne): Old Friend ApS (sidste mail "
      "2025-11-03)",
      "Sådan er der talt op",
      "Pilene sammenligner med 2025.",
      "Lavet af redflagd.",
      NULL},
     {"<html lang=\"da\">", "Kundegennemgang 2026", "— TAG EN SNAK", "HÆV PRISEN",
      "Dine favoritter — og hvorfor", "værn om", NULL}},
    {"de",
     {"Kundenübersicht 2026 · 2026-01-01 – 2026-12-31",
      "Für Test Owner · 4 aktive Kunden · 812 Nachrichten",
      "Auf einen Blick",
      "trennen 0",
      "Gespräch suchen 1",
      "Preis erhöhen 1",
      "behalten 1",
      "pflegen 1",
      "Deine Lieblingskunden — und warum",
      "hat deine Arbeit 5-mal gelobt · hat dich 2-mal weiterempfohlen · seit 3 Jahren dabei "
      "· zahlt pünktlich",
      " 1. Bergmann Logistik — GESPRÄCH SUCHEN (letzter Zeitraum: behalten)",
      "rot ████████░░░░░░░░░░░░ 38 % ↑ (letzter Zeitraum 12 %)",
      "42 Gespräche · 60 von ihnen · 30 von dir, 13 % deiner Mails außerhalb der Arbeitszeit "
      "· Kunde seit 2024-03 (2 Jahre 9 Monate)",
      "▲ Zeitdruck",
      "„Need it by tomorrow“",
      "alter Preis: rate since",
      "NEU in diesem Zeitraum",
      "Neu in diesem Zeitraum: Quiet Keeper (erste Mail am 2026-05-02)",
      "Still geworden",
      "So wurde gezählt",
      "Die Pfeile vergleichen mit 2025.",
      NULL},
     {"<html lang=\"de\">", "Kundenübersicht 2026", "— GESPRÄCH SUCHEN", "PREIS ERHÖHEN", "pflegen",
      NULL}},
    /* Anything else is English. */
    {"fr", {"Client review 2026", "At a glance", NULL}, {"<html lang=\"en\">", NULL}},
};

static void test_languages(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(lang_cases); i++) {
		const struct lang_case *lc = &lang_cases[i];
		struct score_report *r = sample(lc->lang);
		char *text = render(r, false), *html = render(r, true), *ft = flat(text);

		assert_clean_text(text);
		assert_true(utf8_valid(html));
		for (size_t k = 0; lc->text[k] != NULL; k++)
			assert_has(ft, lc->text[k]);
		for (size_t k = 0; lc->html[k] != NULL; k++)
			assert_has(html, lc->html[k]);
		/* Text lines stay readable: wrapped at 78, evidence cut at 100. */
		for (char *p = text, *nl; *p; p = nl + 1) {
			struct strbuf line = STRBUF_INIT;
			size_t w = 0;

			nl = strchr(p, '\n');
			assert_non_null(nl);
			for (char *q = p; q < nl; q++)
				w += ((unsigned char)*q & 0xC0) != 0x80;
			if (w > 100)
				fail_msg("%s: line of %zu columns: %.*s", lc->lang, w,
				         (int)(nl - p), p);
			strbuf_release(&line);
		}
		free(text);
		free(html);
		free(ft);
		score_report_free(&r);
	}
}

/* The footer says how to correct a signal: by feedback folder when one is set, else mark. */
static void test_correction_line(void **state)
{
	static const struct {
		const char *lang, *folder, *want;
	} cases[] = {
	    {"en", "redflagd", "File the mail into redflagd/SIGNAL or redflagd/wrong, or run"},
	    {"en", NULL, "A signal is wrong? Run `redflagd mark MESSAGE-ID -SIGNAL`"},
	    {"da", "Feedback", "Læg mailen i mappen Feedback/SIGNAL eller Feedback/wrong"},
	    {"de", "redflagd", "Lege die Mail in den Ordner redflagd/SIGNAL oder redflagd/wrong"},
	    {"de", NULL, "Führe `redflagd mark MESSAGE-ID -SIGNAL` aus"},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct score_report *r = sample(cases[i].lang);
		char *text, *html, *ft;

		r->feedback_folder = cases[i].folder;
		text = render(r, false);
		html = render(r, true);
		ft = flat(text);
		assert_has(ft, cases[i].want);
		assert_has(html, "redflagd mark MESSAGE-ID");
		free(text);
		free(html);
		free(ft);
		score_report_free(&r);
	}
}

static const struct {
	const char *lang, *period, *want;
} subject_cases[] = {
    {"en", "2026", "Client review 2026"},           {"da", "2026", "Kundegennemgang 2026"},
    {"de", "2026", "Kundenübersicht 2026"},         {"de", "2026-Q3", "Kundenübersicht 2026-Q3"},
    {"da", "2026-W47", "Kundegennemgang 2026-W47"}, {NULL, "2026-11", "Client review 2026-11"},
};

static void test_subject(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(subject_cases); i++) {
		struct score_report *r = report_new(subject_cases[i].lang, 0);
		struct strbuf b = STRBUF_INIT;

		snprintf(r->period, sizeof(r->period), "%s", subject_cases[i].period);
		digest_subject(r, &b);
		assert_string_equal(b.data, subject_cases[i].want);
		strbuf_release(&b);
		score_report_free(&r);
	}
}

/* ---------------------------------------------------------------- bars, arrows, dates */

static const struct {
	double red, prev;
	bool has_prev;
	const char *want;   /* in the flattened text */
	const char *absent; /* must not appear, or NULL */
} share_cases[] = {
    {0.38, 0.12, true, "red ████████░░░░░░░░░░░░ 38 % ↑ (last period 12 %)", NULL},
    {0.12, 0.13, true, "12 % → (last period 13 %)", NULL},
    {0.12, 0.14, true, "12 % → (last period 14 %)", NULL},
    {0.10, 0.30, true, "10 % ↓ (last period 30 %)", NULL},
    {0.38, 0.0, false, "red ████████░░░░░░░░░░░░ 38 % ", "last period"},
    {1.7, 0.0, false, "red ████████████████████ 100 %", NULL},
    {-0.5, 0.0, false, "red ░░░░░░░░░░░░░░░░░░░░ 0 %", NULL},
    {0.024, 0.0, false, "red ░░░░░░░░░░░░░░░░░░░░ 2 %", NULL},
    {0.026, 0.0, false, "red █░░░░░░░░░░░░░░░░░░░ 3 %", NULL},
};

static void test_share_rows(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(share_cases); i++) {
		struct score_report *r = report_new("en", 1);
		struct score_client *c =
		    client_set(r, 0, "Solo", SCORE_KEEP, share_cases[i].red, 0);
		char *text, *ft;

		c->has_prev = share_cases[i].has_prev;
		c->prev_red_share = share_cases[i].prev;
		text = render(r, false);
		ft = flat(text);
		if (strstr(ft, share_cases[i].want) == NULL)
			fail_msg("case %zu: missing \"%s\" in\n%s", i, share_cases[i].want, text);
		if (share_cases[i].absent)
			assert_lacks(ft, share_cases[i].absent);
		free(text);
		free(ft);
		score_report_free(&r);
	}
}

static void test_dates_in_owner_zone(void **state)
{
	struct score_report *r = sample("en");
	char *text;

	(void)state;
	/* 23:30 UTC on 3 March is already 4 March in Copenhagen. */
	text = render(r, false);
	assert_has(text, "2026-03-04  “Late one”");
	free(text);
	r->timezone = NULL;
	text = render(r, false);
	assert_has(text, "2026-03-03  “Late one”");
	/* The period [2025-12-31 23:00Z, 2026-12-31 23:00Z) seen in UTC. */
	assert_has(text, "2025-12-31 – 2026-12-31");
	free(text);
	score_report_free(&r);
}

static void test_long_evidence_is_cut(void **state)
{
	struct score_report *r = report_new("en", 1);
	struct score_client *c = client_set(r, 0, "Long", SCORE_TALK, 0.5, 0);
	struct score_signal *s = signal_add(c, "rush", "Rush", true, 1, 0);
	struct strbuf big = STRBUF_INIT;
	char *text, *line, *end;
	size_t w = 0;

	(void)state;
	for (int i = 0; i < 400; i++)
		strbuf_appends(&big, i % 7 ? "ø" : "🎉 ");
	evidence_add(s, T_2026_03_04, big.data, big.data);
	text = render(r, false);
	assert_true(utf8_valid(text));
	line = strstr(text, "        2026-03-04");
	assert_non_null(line);
	end = strchr(line, '\n');
	for (char *q = line; q < end; q++)
		w += ((unsigned char)*q & 0xC0) != 0x80;
	assert_true(w <= 100);
	assert_memory_equal(end - 3, "…", 3);
	free(text);
	text = render(r, true);
	assert_true(utf8_valid(text));
	free(text);
	strbuf_release(&big);
	score_report_free(&r);
}

static void test_empty_report(void **state)
{
	struct score_report *r = report_new("da", 0);
	char *text, *html;

	(void)state;
	r->owner_name = NULL;
	r->messages = 0;
	r->prev_period[0] = '\0';
	text = render(r, false);
	html = render(r, true);
	assert_has(text, "0 aktive kunder · 0 mails");
	assert_has(text, "Ingen mails med kunder i denne periode.");
	assert_lacks(text, "Til ");
	assert_lacks(text, "Pilene");
	assert_lacks(text, "Dine favoritter");
	assert_has(html, "Ingen mails med kunder i denne periode.");
	free(text);
	free(html);
	score_report_free(&r);
}

/* ---------------------------------------------------------------- hostile input */

static const char *const hostile[] = {
    "<script>alert(1)</script>",
    "\"><img src=x onerror=alert(1)>",
    "a\r\nBcc: x@y",
    "&amp;",
    "' onmouseover='x",
    "<style>body{color:red}</style>",
    "\xe2\x80\xae evil \x01\x7f \xff",
};

static void test_hostile_strings(void **state)
{
	struct score_report *r = sample("en");
	struct digest_envelope e = {"redflagd",
	                            "digest@studio.example",
	                            "owner@studio.example",
	                            "<digest-2026@studio.example>",
	                            END_2026,
	                            0};
	struct strbuf mail = STRBUF_INIT;
	struct message *msg = NULL;
	char *text, *html, err[200];
	size_t h = 0;

	(void)state;
	/* Every untrusted field gets a hostile string. */
	for (size_t i = 0; i < r->n_clients; i++) {
		struct score_client *c = &r->clients[i];

		free(c->name);
		c->name = xstrdup(hostile[h++ % ARRAY_SIZE(hostile)]);
		for (size_t k = 0; k < c->n_signals; k++) {
			struct score_signal *s = &c->signals[k];

			s->description = hostile[h++ % ARRAY_SIZE(hostile)];
			if (s->n_evidence == 0)
				evidence_add(s, T_2026_03_04, "", "");
			for (size_t v = 0; v < s->n_evidence; v++) {
				free(s->evidence[v].subject);
				free(s->evidence[v].excerpt);
				s->evidence[v].subject =
				    xstrdup(hostile[h++ % ARRAY_SIZE(hostile)]);
				s->evidence[v].excerpt =
				    xstrdup(hostile[h++ % ARRAY_SIZE(hostile)]);
			}
		}
	}
	free(r->clients[1].old_rate_note);
	r->clients[1].old_rate_note = xstrdup(hostile[0]);
	free(r->quiet[0].name);
	r->quiet[0].name = xstrdup(hostile[1]);
	r->owner_name = "Owner\r\nBcc: evil@x <script>";
	for (size_t i = 0; i < ARRAY_SIZE(hostile); i++)
		quiet_add(r, hostile[i], T_2025_11_03);

	html = render(r, true);
	assert_true(utf8_valid(html));
	assert_has(html, "&lt;script&gt;alert(1)&lt;/script&gt;");
	assert_has(html, "&amp;amp;");
	assert_has(html, "&quot;&gt;&lt;img src&#61;x onerror&#61;alert(1)&gt;");
	assert_lacks(html, "<script");
	assert_lacks(html, "<img");
	assert_lacks(html, "<style");
	assert_lacks(html, "<link");
	assert_lacks(html, "onerror=");
	assert_lacks(html, "onmouseover=");
	assert_lacks(html, "http");
	assert_lacks(html, "src=");
	assert_lacks(html, "url(");
	assert_lacks(html, "\r");
	assert_lacks(html, "\xe2\x80\xae");

	text = render(r, false);
	assert_clean_text(text);
	assert_lacks(text, "\nBcc:");
	assert_has(text, "a Bcc: x@y");
	assert_lacks(text, "\xe2\x80\xae");

	/* The composed mail: one recipient, the subject one line, the owner name harmless. */
	assert_int_equal(digest_compose(r, &e, &mail, err, sizeof(err)), 0);
	assert_lacks(mail.data, "\r\nBcc:");
	assert_lacks(mail.data, "\nBcc:");
	assert_has(mail.data, "\r\nSubject: Client review 2026\r\nMessage-ID: ");
	assert_int_equal(message_parse(mail.data, mail.len, NULL, &msg, err, sizeof(err)), 0);
	assert_string_equal(msg->subject, "Client review 2026");
	assert_int_equal(msg->n_rcpt, 1);
	assert_string_equal(msg->rcpt[0].addr, "owner@studio.example");
	assert_non_null(strstr(msg->body, "&amp;"));
	message_free(&msg);

	free(text);
	free(html);
	strbuf_release(&mail);
	score_report_free(&r);
}

static void test_html_shape(void **state)
{
	struct score_report *r = sample("de");
	char *html = render(r, true);
	size_t open = 0, close = 0;

	(void)state;
	assert_true(strncmp(html, "<!DOCTYPE html>\n", 16) == 0);
	assert_has(html, "<meta charset=\"utf-8\">");
	assert_has(html, "bgcolor=");
	assert_has(html, "</body>\n</html>\n");
	for (const char *p = html; (p = strstr(p, "<table")) != NULL; p++)
		open++;
	for (const char *p = html; (p = strstr(p, "</table>")) != NULL; p++)
		close++;
	assert_int_equal(open, close);
	assert_true(open > 5);
	assert_lacks(html, "http");
	assert_lacks(html, "src=");
	assert_lacks(html, "url(");
	assert_lacks(html, "<script");
	assert_lacks(html, "<img");
	assert_lacks(html, "<link");
	assert_lacks(html, "<style");
	assert_lacks(html, "class=");
	free(html);
	score_report_free(&r);
}

/* ---------------------------------------------------------------- the mail and its ceiling */

static const struct digest_envelope env = {
    "redflagd",
    "digest@studio.example",
    "owner@studio.example",
    "<digest-2026@studio.example>",
    END_2026,
    0,
};

/* Parses mail and returns its text part (the caller frees the message). */
static struct message *parse_mail(const struct strbuf *mail)
{
	struct message *msg = NULL;
	static const struct message_limits lim = {4 * 1024 * 1024, 100, 256 * 1024, 20};
	char err[200];

	assert_int_equal(message_parse(mail->data, mail->len, &lim, &msg, err, sizeof(err)), 0);
	return msg;
}

static void test_compose(void **state)
{
	struct score_report *r = sample("da");
	struct strbuf a = STRBUF_INIT, b = STRBUF_INIT;
	struct digest_envelope e = env;
	struct message *msg;
	char err[200];

	(void)state;
	assert_int_equal(digest_compose(r, &e, &a, err, sizeof(err)), 0);
	assert_int_equal(digest_compose(r, &e, &b, err, sizeof(err)), 0);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.data, b.data, a.len); /* same report, same bytes */
	assert_has(a.data, "multipart/alternative");
	assert_has(a.data, "\r\nTo: \"Test Owner\" <owner@studio.example>\r\n");
	assert_has(a.data, "\r\nFrom: \"redflagd\" <digest@studio.example>\r\n");
	msg = parse_mail(&a);
	assert_string_equal(msg->subject, "Kundegennemgang 2026");
	assert_string_equal(msg->message_id, "digest-2026@studio.example");
	assert_non_null(strstr(msg->body, "TAG EN SNAK"));
	assert_non_null(strstr(msg->body, "Nordlys Bryghus"));
	assert_null(strstr(msg->body, "kunder mere"));
	message_free(&msg);

	strbuf_reset(&a);
	e.to_addr = "owner@x\r\nBcc: y@z";
	assert_int_equal(digest_compose(r, &e, &a, err, sizeof(err)), -EINVAL);
	e = env;
	e.message_id = "no-brackets@x";
	assert_int_equal(digest_compose(r, &e, &a, err, sizeof(err)), -EINVAL);
	assert_int_equal(a.len, 0);
	strbuf_release(&a);
	strbuf_release(&b);
	score_report_free(&r);
}

/* n clients, each with three signals of three long pieces of evidence. */
static struct score_report *big_report(size_t n)
{
	struct score_report *r = report_new("en", n);

	for (size_t i = 0; i < n; i++) {
		char name[48];
		struct score_client *c;

		snprintf(name, sizeof(name), "Client number %zu of many", i + 1);
		c = client_set(r, i, name, (enum score_verdict)(i % SCORE_N_VERDICTS), 0.3, 0.1);
		c->is_new = i % 3 == 0;
		if (c->verdict == SCORE_CHERISH)
			c->favourite = SCORE_FAV_PAYS;
		for (int k = 0; k < 3; k++) {
			struct score_signal *s =
			    signal_add(c,
			               k == 0   ? "rush"
			               : k == 1 ? "discount"
			                        : "praise",
			               "A signal described at some length here", k < 2, 3, 1);

			for (int v = 0; v < 3; v++)
				evidence_add(
				    s, T_2026_03_04,
				    "Re: the project plan for the spring campaign, once more",
				    "… a long excerpt around the words that matched, with some "
				    "context on either side of them …");
		}
	}
	for (size_t i = 0; i < n / 4; i++)
		quiet_add(r, "A client that went quiet", T_2025_11_03);
	return r;
}

static void test_ceiling_shrinks_to_fit(void **state)
{
	struct score_report *r = big_report(2000);
	struct digest_envelope e = env;
	struct strbuf mail = STRBUF_INIT;
	struct message *msg;
	char err[200];

	(void)state;
	e.max_bytes = 64 * 1024;
	assert_int_equal(digest_compose(r, &e, &mail, err, sizeof(err)), 0);
	assert_true(mail.len <= 64 * 1024);
	msg = parse_mail(&mail);
	assert_non_null(strstr(msg->body, "more clients: run `redflagd clients`"));
	assert_non_null(strstr(msg->body, "1. Client number 1 of many"));
	assert_null(strstr(msg->body, "Client number 2000 of many"));
	/* The summary still counts everyone. */
	assert_non_null(strstr(msg->body, "2000 active clients"));
	message_free(&msg);

	/* Too small for even one client. */
	strbuf_reset(&mail);
	e.max_bytes = 3000;
	assert_int_equal(digest_compose(r, &e, &mail, err, sizeof(err)), -E2BIG);
	assert_non_null(strstr(err, "3000"));
	assert_int_equal(mail.len, 0);
	strbuf_release(&mail);
	score_report_free(&r);
}

static void test_ceiling_drops_evidence_first(void **state)
{
	struct score_report *r = big_report(6), *one = big_report(6);
	struct digest_envelope e = env;
	struct strbuf full = STRBUF_INIT, lean = STRBUF_INIT, got = STRBUF_INIT;
	char err[200];

	(void)state;
	/* The same report with one piece of evidence per signal gives the size to allow. */
	for (size_t i = 0; i < one->n_clients; i++)
		for (size_t k = 0; k < one->clients[i].n_signals; k++)
			one->clients[i].signals[k].n_evidence = 1;
	assert_int_equal(digest_compose(r, &e, &full, err, sizeof(err)), 0);
	assert_int_equal(digest_compose(one, &e, &lean, err, sizeof(err)), 0);
	assert_true(lean.len < full.len);
	e.max_bytes = lean.len;
	assert_int_equal(digest_compose(r, &e, &got, err, sizeof(err)), 0);
	assert_int_equal(got.len, lean.len);
	assert_memory_equal(got.data, lean.data, lean.len);
	/* Restore what n_evidence hid so the evidence is freed. */
	for (size_t i = 0; i < one->n_clients; i++)
		for (size_t k = 0; k < one->clients[i].n_signals; k++)
			one->clients[i].signals[k].n_evidence = 3;
	strbuf_release(&full);
	strbuf_release(&lean);
	strbuf_release(&got);
	score_report_free(&r);
	score_report_free(&one);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_languages),
	    cmocka_unit_test(test_correction_line),
	    cmocka_unit_test(test_subject),
	    cmocka_unit_test(test_share_rows),
	    cmocka_unit_test(test_dates_in_owner_zone),
	    cmocka_unit_test(test_long_evidence_is_cut),
	    cmocka_unit_test(test_empty_report),
	    cmocka_unit_test(test_hostile_strings),
	    cmocka_unit_test(test_html_shape),
	    cmocka_unit_test(test_compose),
	    cmocka_unit_test(test_ceiling_shrinks_to_fit),
	    cmocka_unit_test(test_ceiling_drops_evidence_first),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
