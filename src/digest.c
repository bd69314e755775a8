/* digest — the review as text/plain and text/html, and the mail around them (see digest.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "redflag/calendar.h"
#include "redflag/digest.h"
#include "redflag/mime.h"
#include "redflag/util.h"

#define BAR_CELLS     20  /* text bars */
#define BAR_PX        160 /* HTML bars */
#define TEXT_WIDTH    78  /* wrap column of the text part */
#define EVIDENCE_COLS 100 /* an evidence line is cut here */
#define NAME_CP       120 /* untrusted strings are cut to this many characters ... */
#define SUBJECT_CP    160 /* ... subjects ... */
#define EXCERPT_CP    240 /* ... and excerpts (the HTML part; text lines are cut anyway) */
#define NOTE_CP       200
#define TREND_PCT     2 /* a share must move more than 2 points for an arrow up or down */

/* ---------------------------------------------------------------- languages */

struct plural {
	const char *one, *other; /* printf formats taking one string (the number); one may
	                            ignore it */
};

struct signal_name {
	const char *id, *name;
};

/*
 * Every word the digest says, per language. Formats take only strings ("%s"), in the order
 * the comment gives, so a translation cannot get an argument's type wrong.
 */
struct lang {
	const char *code;
	const char *subject; /* period */
	const char *intro;
	const char *verdict[SCORE_N_VERDICTS]; /* in enum order */
	const char *verdict_head[SCORE_N_VERDICTS];
	const char *for_owner;  /* owner name */
	struct plural active;   /* number */
	struct plural messages; /* number */
	const char *glance;
	const char *favourites;
	const char *favourites_hint;
	struct plural praised;  /* number */
	struct plural referred; /* number */
	struct plural together; /* number of years */
	const char *pays;
	const char *clients;
	const char *no_clients;
	const char *was; /* previous verdict */
	const char *red, *green;
	const char *prev_share;      /* percentage */
	struct plural conversations; /* number */
	const char *from_them;       /* number */
	const char *from_you;        /* number */
	const char *after_hours;     /* percentage */
	const char *since;           /* YYYY-MM, duration */
	struct plural years;         /* number */
	struct plural months;        /* number */
	const char *under_a_month;
	const char *is_new;
	const char *old_rate;    /* note */
	const char *onboarded;   /* date: the onboarding mail went out */
	const char *contradicts; /* after_hours although the onboarding mail stated the hours */
	const char *prev_count;  /* number */
	const char *new_head;
	const char *first_mail; /* date */
	const char *quiet_head;
	const char *last_mail;      /* date */
	struct plural more_clients; /* number */
	struct plural more_names;   /* number */
	const char *how;
	const char *how_once;
	const char *how_share;
	const char
	    *how_thresholds; /* act %, release % (of the balance), cherish %, cherish_red_max % */
	const char *how_arrows;     /* previous period key */
	const char *correct_folder; /* feedback folder, twice: how to correct a signal */
	const char *correct_mark;   /* the same without feedback folders */
	const char *generated;
	const char *qopen, *qclose; /* quotation marks around a subject */
	char thousands;             /* digit group separator */
	struct signal_name signals[12];
};

static const struct lang lang_en = {
    .code = "en",
    .subject = "Client review %s",
    .intro = "Here is how your clients did: who lifts you, who to talk to, whose price to "
             "raise, and whom to let go.",
    .verdict = {"release", "talk", "raise price", "keep", "cherish"},
    .verdict_head = {"RELEASE", "TALK", "RAISE PRICE", "KEEP", "CHERISH"},
    .for_owner = "For %s",
    .active = {"%s active client", "%s active clients"},
    .messages = {"%s message", "%s messages"},
    .glance = "At a glance",
    .favourites = "Your favourites — and why",
    .favourites_hint = "Write down why they are your favourites: it tells you which clients to "
                       "look for.",
    .praised = {"praised your work once", "praised your work %s times"},
    .referred = {"recommended you once", "recommended you %s times"},
    .together = {"together for a year", "together for %s years"},
    .pays = "pays on time",
    .clients = "Clients, most urgent first",
    .no_clients = "No client mail in this period.",
    .was = "last period: %s",
    .red = "red",
    .green = "green",
    .prev_share = "last period %s",
    .conversations = {"%s conversation", "%s conversations"},
    .from_them = "%s from them",
    .from_you = "%s from you",
    .after_hours = "%s of yours after hours",
    .since = "client since %s (%s)",
    .years = {"1 year", "%s years"},
    .months = {"1 month", "%s months"},
    .under_a_month = "less than a month",
    .is_new = "NEW this period",
    .old_rate = "old rate: %s",
    .onboarded = "told how you work on %s (onboarding mail)",
    .contradicts = "asked for work outside the hours you stated in your onboarding mail",
    .prev_count = "last period %s",
    .new_head = "New this period",
    .first_mail = "first mail %s",
    .quiet_head = "Gone quiet (mail last period, none this one)",
    .last_mail = "last mail %s",
    .more_clients = {"… and 1 more client: run `redflagd clients`",
                     "… and %s more clients: run `redflagd clients`"},
    .more_names = {"… and 1 more", "… and %s more"},
    .how = "How this was scored",
    .how_once = "A conversation counts once per signal, however many of its mails carry it.",
    .how_share = "Red share = red points ÷ all points, where every mail without a signal "
                 "counts one point and a small floor keeps one bad mail from condemning a "
                 "client; the green share likewise.",
    .how_thresholds = "Balance = red share − green share: talk or raise the price from %s, "
                      "release from %s; cherish from %s green with at most %s red.",
    .how_arrows = "Arrows compare with %s.",
    .correct_folder = "A signal is wrong? File the mail into %s/SIGNAL or %s/wrong, or run "
                      "`redflagd mark MESSAGE-ID -SIGNAL`.",
    .correct_mark = "A signal is wrong? Run `redflagd mark MESSAGE-ID -SIGNAL` (or +SIGNAL, or "
                    "--none).",
    .generated = "Generated by redflagd.",
    .qopen = "“",
    .qclose = "”",
    .thousands = ',',
    .signals = {{"rush", "rush"},
                {"discount", "discounts"},
                {"payment", "late payment"},
                {"after_hours", "after-hours requests"},
                {"scope_creep", "scope creep"},
                {"cancellation", "cancellations"},
                {"praise", "praise"},
                {"referral", "referrals"},
                {"sent_after_hours", "your mail after hours"},
                {"received_after_hours", "their mail after hours"},
                {"old_rate", "old rate"}},
};

static const struct lang lang_da = {
    .code = "da",
    .subject = "Kundegennemgang %s",
    .intro = "Her er din kundegennemgang: hvem der løfter dig, hvem du skal tage en snak med, "
             "hvis pris du skal hæve, og hvem du kan give slip på.",
    .verdict = {"giv slip", "tag en snak", "hæv prisen", "behold", "værn om"},
    .verdict_head = {"GIV SLIP", "TAG EN SNAK", "HÆV PRISEN", "BEHOLD", "VÆRN OM"},
    .for_owner = "Til %s",
    .active = {"%s aktiv kunde", "%s aktive kunder"},
    .messages = {"%s mail", "%s mails"},
    .glance = "Overblik",
    .favourites = "Dine favoritter — og hvorfor",
    .favourites_hint = "Skriv ned, hvorfor de er dine favoritter: så ved du, hvilke kunder du "
                       "skal kigge efter.",
    .praised = {"roste dit arbejde én gang", "roste dit arbejde %s gange"},
    .referred = {"anbefalede dig én gang", "anbefalede dig %s gange"},
    .together = {"sammen i et år", "sammen i %s år"},
    .pays = "betaler til tiden",
    .clients = "Kunderne, de mest presserende først",
    .no_clients = "Ingen mails med kunder i denne periode.",
    .was = "sidste periode: %s",
    .red = "rød",
    .green = "grøn",
    .prev_share = "sidste periode %s",
    .conversations = {"%s samtale", "%s samtaler"},
    .from_them = "%s fra dem",
    .from_you = "%s fra dig",
    .after_hours = "%s af dine uden for arbejdstid",
    .since = "kunde siden %s (%s)",
    .years = {"1 år", "%s år"},
    .months = {"1 måned", "%s måneder"},
    .under_a_month = "under en måned",
    .is_new = "NY i denne periode",
    .old_rate = "gammel pris: %s",
    .onboarded = "fik at vide, hvordan du arbejder, den %s (velkomstmail)",
    .contradicts = "bad om arbejde uden for de arbejdstider, du skrev i velkomstmailen",
    .prev_count = "sidste periode %s",
    .new_head = "Nye i denne periode",
    .first_mail = "første mail %s",
    .quiet_head = "Blevet stille (mail i sidste periode, ingen i denne)",
    .last_mail = "sidste mail %s",
    .more_clients = {"… og 1 kunde mere: kør `redflagd clients`",
                     "… og %s kunder mere: kør `redflagd clients`"},
    .more_names = {"… og 1 mere", "… og %s mere"},
    .how = "Sådan er der talt op",
    .how_once = "En samtale tæller én gang pr. signal, uanset hvor mange af dens mails der "
                "bærer det.",
    .how_share = "Rød andel = røde point ÷ alle point, hvor hver mail uden signal tæller ét "
                 "point, og en lille bund sikrer, at én dårlig mail ikke dømmer en kunde; grøn "
                 "andel tilsvarende.",
    .how_thresholds = "Balance = rød andel − grøn andel: tag en snak eller hæv prisen fra %s, "
                      "giv slip fra %s; værn om fra %s grønt med højst %s rødt.",
    .how_arrows = "Pilene sammenligner med %s.",
    .correct_folder = "Er et signal forkert? Læg mailen i mappen %s/SIGNAL eller %s/wrong, eller "
                      "kør `redflagd mark MESSAGE-ID -SIGNAL`.",
    .correct_mark = "Er et signal forkert? Kør `redflagd mark MESSAGE-ID -SIGNAL` (eller +SIGNAL "
                    "eller --none).",
    .generated = "Lavet af redflagd.",
    .qopen = "»",
    .qclose = "«",
    .thousands = '.',
    .signals = {{"rush", "hastværk"},
                {"discount", "rabatønsker"},
                {"payment", "sen betaling"},
                {"after_hours", "ønsker uden for arbejdstid"},
                {"scope_creep", "opgaven vokser"},
                {"cancellation", "aflysninger"},
                {"praise", "ros"},
                {"referral", "anbefalinger"},
                {"sent_after_hours", "dine mails uden for arbejdstid"},
                {"received_after_hours", "deres mails uden for arbejdstid"},
                {"old_rate", "gammel pris"}},
};

static const struct lang lang_de = {
    .code = "de",
    .subject = "Kundenübersicht %s",
    .intro = "Hier ist deine Kundenübersicht: wer dich trägt, mit wem du reden solltest, bei "
             "wem du den Preis erhöhen kannst und wen du ziehen lassen darfst.",
    .verdict = {"trennen", "Gespräch suchen", "Preis erhöhen", "behalten", "pflegen"},
    .verdict_head = {"TRENNEN", "GESPRÄCH SUCHEN", "PREIS ERHÖHEN", "BEHALTEN", "PFLEGEN"},
    .for_owner = "Für %s",
    .active = {"%s aktiver Kunde", "%s aktive Kunden"},
    .messages = {"%s Nachricht", "%s Nachrichten"},
    .glance = "Auf einen Blick",
    .favourites = "Deine Lieblingskunden — und warum",
    .favourites_hint = "Schreib auf, warum sie deine Lieblingskunden sind: dann weißt du, nach "
                       "welchen Kunden du suchen solltest.",
    .praised = {"hat deine Arbeit einmal gelobt", "hat deine Arbeit %s-mal gelobt"},
    .referred = {"hat dich einmal weiterempfohlen", "hat dich %s-mal weiterempfohlen"},
    .together = {"seit einem Jahr dabei", "seit %s Jahren dabei"},
    .pays = "zahlt pünktlich",
    .clients = "Kunden, die dringendsten zuerst",
    .no_clients = "Keine Mails mit Kunden in diesem Zeitraum.",
    .was = "letzter Zeitraum: %s",
    .red = "rot",
    .green = "grün",
    .prev_share = "letzter Zeitraum %s",
    .conversations = {"%s Gespräch", "%s Gespräche"},
    .from_them = "%s von ihnen",
    .from_you = "%s von dir",
    .after_hours = "%s deiner Mails außerhalb der Arbeitszeit",
    .since = "Kunde seit %s (%s)",
    .years = {"1 Jahr", "%s Jahre"},
    .months = {"1 Monat", "%s Monate"},
    .under_a_month = "weniger als ein Monat",
    .is_new = "NEU in diesem Zeitraum",
    .old_rate = "alter Preis: %s",
    .onboarded = "hat am %s erfahren, wie du arbeitest (Willkommensmail)",
    .contradicts = "bat um Arbeit außerhalb der Zeiten, die du in der Willkommensmail genannt hast",
    .prev_count = "letzter Zeitraum %s",
    .new_head = "Neu in diesem Zeitraum",
    .first_mail = "erste Mail am %s",
    .quiet_head = "Still geworden (Mail im letzten Zeitraum, keine in diesem)",
    .last_mail = "letzte Mail am %s",
    .more_clients = {"… und 1 weiterer Kunde: `redflagd clients` zeigt alle",
                     "… und %s weitere Kunden: `redflagd clients` zeigt alle"},
    .more_names = {"… und 1 weiterer", "… und %s weitere"},
    .how = "So wurde gezählt",
    .how_once = "Ein Gespräch zählt pro Signal einmal, egal wie viele seiner Mails es tragen.",
    .how_share = "Roter Anteil = rote Punkte ÷ alle Punkte; jede Mail ohne Signal zählt einen "
                 "Punkt, und ein kleiner Sockel verhindert, dass eine einzelne schlechte Mail "
                 "einen Kunden verurteilt; grüner Anteil ebenso.",
    .how_thresholds = "Bilanz = roter Anteil − grüner Anteil: Gespräch suchen oder Preis "
                      "erhöhen ab %s, trennen ab %s; pflegen ab %s Grün bei höchstens %s Rot.",
    .how_arrows = "Die Pfeile vergleichen mit %s.",
    .correct_folder = "Ist ein Signal falsch? Lege die Mail in den Ordner %s/SIGNAL oder "
                      "%s/wrong, oder führe `redflagd mark MESSAGE-ID -SIGNAL` aus.",
    .correct_mark = "Ist ein Signal falsch? Führe `redflagd mark MESSAGE-ID -SIGNAL` aus (oder "
                    "+SIGNAL oder --none).",
    .generated = "Erstellt von redflagd.",
    .qopen = "„",
    .qclose = "“",
    .thousands = '.',
    .signals = {{"rush", "Zeitdruck"},
                {"discount", "Rabattwünsche"},
                {"payment", "Zahlungsverzug"},
                {"after_hours", "Wünsche nach Feierabend"},
                {"scope_creep", "Mehraufwand"},
                {"cancellation", "Absagen"},
                {"praise", "Lob"},
                {"referral", "Empfehlungen"},
                {"sent_after_hours", "deine Mails nach Feierabend"},
                {"received_after_hours", "ihre Mails nach Feierabend"},
                {"old_rate", "alter Preis"}},
};

static const struct lang *lang_of(const struct score_report *r)
{
	if (r->lang != NULL && strcmp(r->lang, "da") == 0)
		return &lang_da;
	if (r->lang != NULL && strcmp(r->lang, "de") == 0)
		return &lang_de;
	return &lang_en;
}

static const char *signal_name(const struct lang *L, const char *id)
{
	for (size_t i = 0; i < ARRAY_SIZE(L->signals) && L->signals[i].id != NULL; i++)
		if (id != NULL && strcmp(L->signals[i].id, id) == 0)
			return L->signals[i].name;
	return id != NULL ? id : "?";
}

/* ---------------------------------------------------------------- small helpers */

/* How much of the report to show (digest_compose shrinks these to fit the ceiling). */
struct limits {
	size_t evidence; /* per signal */
	size_t clients;  /* clients listed, and names in each of the other lists */
	size_t bytes;    /* no further client once a part has this many bytes */
};

static const struct limits all_of_it = {SCORE_MAX_EVIDENCE, SIZE_MAX, SIZE_MAX};

/* Characters (code points) in n bytes of valid UTF-8: the width the text part assumes. */
static size_t width(const char *s, size_t n)
{
	size_t w = 0;

	for (size_t i = 0; i < n; i++)
		w += ((unsigned char)s[i] & 0xC0) != 0x80;
	return w;
}

/* Cuts b (valid UTF-8) to at most max characters, the last of them "…" when cut. */
static void cut(struct strbuf *b, size_t max)
{
	size_t w = 0, i;

	if (b->len == 0 || width(b->data, b->len) <= max)
		return;
	for (i = 0; i < b->len; i++) {
		if (((unsigned char)b->data[i] & 0xC0) != 0x80) {
			if (w == max - 1)
				break;
			w++;
		}
	}
	b->len = i;
	while (b->len > 0 && b->data[b->len - 1] == ' ')
		b->len--;
	b->data[b->len] = '\0';
	strbuf_appends(b, "…");
}

/* Appends untrusted s: controls become spaces, invalid UTF-8 U+FFFD, cut to max chars. */
static void put_clean(struct strbuf *o, const char *s, size_t max)
{
	struct strbuf b = STRBUF_INIT;

	mime_header_sanitize(s, &b);
	cut(&b, max);
	strbuf_append(o, b.data, b.len);
	strbuf_release(&b);
}

static void pad(struct strbuf *o, size_t n)
{
	while (n-- > 0)
		strbuf_appendc(o, ' ');
}

/* n with digit groups ("12,345" / "12.345") from 10,000 up, like the languages write it. */
static void fmt_num(const struct lang *L, uint64_t n, char *buf, size_t size)
{
	char raw[24];
	size_t len, o = 0;

	snprintf(raw, sizeof(raw), "%" PRIu64, n);
	len = strlen(raw);
	for (size_t i = 0; i < len && o + 2 < size; i++) {
		if (n >= 10000 && i > 0 && (len - i) % 3 == 0)
			buf[o++] = L->thousands;
		buf[o++] = raw[i];
	}
	buf[o] = '\0';
}

static void put_plural(struct strbuf *o, const struct lang *L, const struct plural *p, uint64_t n)
{
	char num[32];

	fmt_num(L, n, num, sizeof(num));
	strbuf_appendf(o, n == 1 ? p->one : p->other, num);
}

static double clamp01(double x)
{
	return x > 1.0 ? 1.0 : x > 0.0 ? x : 0.0; /* NaN → 0 */
}

static unsigned percent(double share)
{
	return (unsigned)(clamp01(share) * 100.0 + 0.5);
}

static void put_percent(struct strbuf *o, double share)
{
	strbuf_appendf(o, "%u %%", percent(share));
}

/*
 * Trend of a share against the previous period; "" without one. Compared in the whole
 * percentages the reader sees, so "12 % → (last period 14 %)" never shows an arrow the
 * printed numbers contradict, and float noise at the threshold cannot flip it.
 */
static const char *share_arrow(bool has_prev, double now, double prev)
{
	int d = (int)percent(now) - (int)percent(prev);

	if (!has_prev)
		return "";
	if (d > TREND_PCT)
		return "↑";
	if (d < -TREND_PCT)
		return "↓";
	return "→";
}

static const char *count_arrow(bool has_prev, unsigned now, unsigned prev)
{
	if (!has_prev)
		return "";
	return now > prev ? "↑" : now < prev ? "↓" : "→";
}

/* The local calendar date of utc in the report's zone. */
static void local_date(const struct score_report *r, int64_t utc, int *y, int *m, int *d)
{
	struct calendar_hours h;
	struct calendar_local l;

	memset(&h, 0, sizeof(h));
	h.timezone = r->timezone;
	calendar_after_hours(&h, utc, &l);
	*y = l.year;
	*m = l.month;
	*d = l.day;
}

static void put_date(struct strbuf *o, const struct score_report *r, int64_t utc)
{
	int y, m, d;

	local_date(r, utc, &y, &m, &d);
	strbuf_appendf(o, "%04d-%02d-%02d", y, m, d);
}

/* Whole months from the first date to the end of the period, in local dates. */
static unsigned months_between(const struct score_report *r, int64_t from, int64_t to)
{
	int fy, fm, fd, ty, tm, td;
	long months;

	local_date(r, from, &fy, &fm, &fd);
	local_date(r, to, &ty, &tm, &td);
	months = (long)(ty - fy) * 12 + (tm - fm) - (td < fd ? 1 : 0);
	return months > 0 ? (unsigned)months : 0;
}

/* The last second of the period: what "until" means for a half-open [start, end). */
static int64_t period_last(const struct score_report *r)
{
	return r->end > r->start ? r->end - 1 : r->start;
}

static const struct score_signal *find_signal(const struct score_client *c, const char *id)
{
	for (size_t i = 0; i < c->n_signals; i++)
		if (c->signals[i].id != NULL && strcmp(c->signals[i].id, id) == 0)
			return &c->signals[i];
	return NULL;
}

static size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* ---------------------------------------------------------------- content (plain strings) */

/*
 * Each piece of the digest is built once as plain UTF-8 (untrusted parts already cleaned)
 * and then written by the text renderer as is, or by the HTML renderer escaped: the two
 * parts say the same thing, and nothing reaches the HTML unescaped.
 */

static void title_line(const struct score_report *r, const struct lang *L, struct strbuf *o)
{
	strbuf_appendf(o, L->subject, r->period);
	strbuf_appends(o, " · ");
	put_date(o, r, r->start);
	strbuf_appends(o, " – ");
	put_date(o, r, period_last(r));
}

static void meta_line(const struct score_report *r, const struct lang *L, struct strbuf *o)
{
	struct strbuf name = STRBUF_INIT;

	put_clean(&name, r->owner_name, NAME_CP);
	if (name.len > 0) {
		strbuf_appendf(o, L->for_owner, name.data);
		strbuf_appends(o, " · ");
	}
	put_plural(o, L, &L->active, r->n_clients);
	strbuf_appends(o, " · ");
	put_plural(o, L, &L->messages, r->messages);
	strbuf_release(&name);
}

/* "praised your work 5 times · recommended you 2 times · together for 3 years · ..." */
static void favourite_reasons(const struct score_report *r, const struct lang *L,
                              const struct score_client *c, struct strbuf *o)
{
	const char *sep = "";

	if (c->favourite & SCORE_FAV_PRAISE) {
		const struct score_signal *s = find_signal(c, "praise");

		put_plural(o, L, &L->praised, s && s->count > 0 ? s->count : 1);
		sep = " · ";
	}
	if (c->favourite & SCORE_FAV_REFERRAL) {
		const struct score_signal *s = find_signal(c, "referral");

		strbuf_appends(o, sep);
		put_plural(o, L, &L->referred, s && s->count > 0 ? s->count : 1);
		sep = " · ";
	}
	if ((c->favourite & SCORE_FAV_LOYAL) && c->first_date != 0) {
		unsigned years = months_between(r, c->first_date, period_last(r)) / 12;

		strbuf_appends(o, sep);
		put_plural(o, L, &L->together, years > 0 ? years : 1);
		sep = " · ";
	}
	if (c->favourite & SCORE_FAV_PAYS) {
		strbuf_appends(o, sep);
		strbuf_appends(o, L->pays);
	}
}

/* "(last period: keep)" when the verdict changed, else nothing. */
static void change_note(const struct lang *L, const struct score_client *c, struct strbuf *o)
{
	if (!c->has_prev || c->prev_verdict == c->verdict ||
	    (unsigned)c->prev_verdict >= SCORE_N_VERDICTS)
		return;
	strbuf_appendc(o, '(');
	strbuf_appendf(o, L->was, L->verdict[c->prev_verdict]);
	strbuf_appendc(o, ')');
}

static enum score_verdict verdict_of(const struct score_client *c)
{
	return (unsigned)c->verdict < SCORE_N_VERDICTS ? c->verdict : SCORE_KEEP;
}

/* "38 % ↑   (last period 12 %)" for the red or green share. */
static void share_text(const struct lang *L, const struct score_client *c, bool red,
                       struct strbuf *pct, struct strbuf *prev, const char **arrow)
{
	double now = red ? c->red_share : c->green_share;
	double was = red ? c->prev_red_share : c->prev_green_share;

	put_percent(pct, now);
	*arrow = share_arrow(c->has_prev, clamp01(now), clamp01(was));
	if (c->has_prev) {
		struct strbuf p = STRBUF_INIT;

		put_percent(&p, was);
		strbuf_appendc(prev, '(');
		strbuf_appendf(prev, L->prev_share, p.data);
		strbuf_appendc(prev, ')');
		strbuf_release(&p);
	}
}

/* "42 conversations · 60 from them · 30 from you, 12 % of yours after hours · ..." */
static void stats_line(const struct score_report *r, const struct lang *L,
                       const struct score_client *c, struct strbuf *o)
{
	char num[32];

	put_plural(o, L, &L->conversations, c->threads);
	strbuf_appends(o, " · ");
	fmt_num(L, c->messages_in, num, sizeof(num));
	strbuf_appendf(o, L->from_them, num);
	strbuf_appends(o, " · ");
	fmt_num(L, c->messages_out, num, sizeof(num));
	strbuf_appendf(o, L->from_you, num);
	if (c->messages_out > 0) {
		struct strbuf p = STRBUF_INIT;

		put_percent(&p, (double)c->out_after_hours / (double)c->messages_out);
		strbuf_appends(o, ", ");
		strbuf_appendf(o, L->after_hours, p.data);
		strbuf_release(&p);
	}
	if (c->first_date != 0) {
		struct strbuf since = STRBUF_INIT, dur = STRBUF_INIT;
		unsigned months = months_between(r, c->first_date, period_last(r));
		int y, m, d;

		local_date(r, c->first_date, &y, &m, &d);
		strbuf_appendf(&since, "%04d-%02d", y, m);
		if (months == 0) {
			strbuf_appends(&dur, L->under_a_month);
		} else {
			if (months >= 12)
				put_plural(&dur, L, &L->years, months / 12);
			if (months >= 12 && months % 12 != 0)
				strbuf_appendc(&dur, ' ');
			if (months % 12 != 0)
				put_plural(&dur, L, &L->months, months % 12);
		}
		strbuf_appends(o, " · ");
		strbuf_appendf(o, L->since, since.data, dur.data);
		strbuf_release(&since);
		strbuf_release(&dur);
	}
	if (c->is_new) {
		strbuf_appends(o, " · ");
		strbuf_appends(o, L->is_new);
	}
}

/* "rush — Pushes short deadlines … · 9 (last period 3) ↑" */
static void signal_line(const struct lang *L, const struct score_client *c,
                        const struct score_signal *s, struct strbuf *o)
{
	char num[32];

	strbuf_appends(o, signal_name(L, s->id));
	if (s->description != NULL && s->description[0] != '\0') {
		strbuf_appends(o, " — ");
		put_clean(o, s->description, NOTE_CP);
	}
	fmt_num(L, s->count, num, sizeof(num));
	strbuf_appendf(o, " · %s", num);
	if (c->has_prev) {
		fmt_num(L, s->prev_count, num, sizeof(num));
		strbuf_appends(o, " (");
		strbuf_appendf(o, L->prev_count, num);
		strbuf_appendf(o, ") %s", count_arrow(true, s->count, s->prev_count));
	}
}

/* "2026-03-04  “Need it by tomorrow”  … bis morgen früh …" */
static void evidence_line(const struct score_report *r, const struct lang *L,
                          const struct score_evidence *e, struct strbuf *o)
{
	struct strbuf subj = STRBUF_INIT;

	put_date(o, r, e->date);
	put_clean(&subj, e->subject, SUBJECT_CP);
	if (subj.len > 0)
		strbuf_appendf(o, "  %s%s%s", L->qopen, subj.data, L->qclose);
	if (e->excerpt != NULL) {
		strbuf_appends(o, "  ");
		put_clean(o, e->excerpt, EXCERPT_CP);
	}
	strbuf_release(&subj);
}

/* "X (first mail 2026-05-02), Y (...)" for new clients, at most lim names. */
static void new_list(const struct score_report *r, const struct lang *L, size_t lim,
                     struct strbuf *o)
{
	size_t shown = 0, total = 0;

	for (size_t i = 0; i < r->n_clients; i++) {
		const struct score_client *c = &r->clients[i];
		struct strbuf d = STRBUF_INIT;

		if (!c->is_new)
			continue;
		if (total++ >= lim)
			continue;
		if (shown++ > 0)
			strbuf_appends(o, ", ");
		put_clean(o, c->name, NAME_CP);
		put_date(&d, r, c->first_date);
		strbuf_appends(o, " (");
		strbuf_appendf(o, L->first_mail, d.data);
		strbuf_appendc(o, ')');
		strbuf_release(&d);
	}
	if (total > shown) {
		strbuf_appends(o, ", ");
		put_plural(o, L, &L->more_names, total - shown);
	}
}

static void quiet_list(const struct score_report *r, const struct lang *L, size_t lim,
                       struct strbuf *o)
{
	size_t shown = min_size(r->n_quiet, lim);

	for (size_t i = 0; i < shown; i++) {
		struct strbuf d = STRBUF_INIT;

		if (i > 0)
			strbuf_appends(o, ", ");
		put_clean(o, r->quiet[i].name, NAME_CP);
		put_date(&d, r, r->quiet[i].last_date);
		strbuf_appends(o, " (");
		strbuf_appendf(o, L->last_mail, d.data);
		strbuf_appendc(o, ')');
		strbuf_release(&d);
	}
	if (r->n_quiet > shown) {
		strbuf_appends(o, ", ");
		put_plural(o, L, &L->more_names, r->n_quiet - shown);
	}
}

/* The footer, line by line (n receives how many; each line is a new allocation). */
static size_t how_lines(const struct score_report *r, const struct lang *L, char *lines[6])
{
	const struct score_params *p = &r->params;
	char a[16], b[16], c[16], d[16];
	struct strbuf s = STRBUF_INIT;
	size_t n = 0;

	snprintf(a, sizeof(a), "%u %%", percent(p->act));
	snprintf(b, sizeof(b), "%u %%", percent(p->release));
	snprintf(c, sizeof(c), "%u %%", percent(p->cherish));
	snprintf(d, sizeof(d), "%u %%", percent(p->cherish_red_max));
	lines[n++] = xstrdup(L->how_once);
	lines[n++] = xstrdup(L->how_share);
	strbuf_appendf(&s, L->how_thresholds, a, b, c, d);
	lines[n++] = strbuf_detach(&s, NULL);
	if (r->prev_period[0] != '\0') {
		struct strbuf pp = STRBUF_INIT;

		put_clean(&pp, r->prev_period, 16);
		strbuf_appendf(&s, L->how_arrows, pp.data);
		lines[n++] = strbuf_detach(&s, NULL);
		strbuf_release(&pp);
	}
	if (r->feedback_folder != NULL) {
		struct strbuf f = STRBUF_INIT;

		put_clean(&f, r->feedback_folder, NAME_CP);
		strbuf_appendf(&s, L->correct_folder, f.data, f.data);
		lines[n++] = strbuf_detach(&s, NULL);
		strbuf_release(&f);
	} else {
		lines[n++] = xstrdup(L->correct_mark);
	}
	lines[n++] = xstrdup(L->generated);
	return n;
}

static size_t verdict_count(const struct score_report *r, enum score_verdict v)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n_clients; i++)
		n += verdict_of(&r->clients[i]) == v;
	return n;
}

/* ---------------------------------------------------------------- text */

static void text_bar(struct strbuf *o, double share)
{
	unsigned full = (unsigned)(clamp01(share) * BAR_CELLS + 0.5);

	for (unsigned i = 0; i < BAR_CELLS; i++)
		strbuf_appends(o, i < full ? "█" : "░");
}

static bool glued(const char *w, size_t n)
{
	return (n == 2 && memcmp(w, "·", 2) == 0) || (n == 3 && memcmp(w, "—", 3) == 0) ||
	       (n == 3 && memcmp(w, "–", 3) == 0);
}

/*
 * Appends text wrapped at TEXT_WIDTH; the current line already holds col columns and
 * continuation lines are indented by indent. A "·" or dash never starts a line. Ends the
 * line.
 */
static void put_wrapped(struct strbuf *o, size_t col, size_t indent, const char *text)
{
	const char *p = text;
	bool first = true;

	while (*p == ' ')
		p++;
	while (*p != '\0') {
		size_t n = strcspn(p, " "), w = width(p, n);

		if (!first && !glued(p, n) && col + 1 + w > TEXT_WIDTH) {
			strbuf_appendc(o, '\n');
			pad(o, indent);
			col = indent;
		} else if (!first) {
			strbuf_appendc(o, ' ');
			col++;
		}
		strbuf_append(o, p, n);
		col += w;
		first = false;
		p += n;
		while (*p == ' ')
			p++;
	}
	strbuf_appendc(o, '\n');
}

/* One line cut to max columns (with "…"), then the line end. */
static void put_line_cut(struct strbuf *o, size_t indent, struct strbuf *line, size_t max)
{
	pad(o, indent);
	cut(line, max > indent ? max - indent : 1);
	strbuf_append(o, line->data, line->len);
	strbuf_appendc(o, '\n');
}

static void text_client(const struct score_report *r, const struct lang *L,
                        const struct limits *lim, size_t idx, const struct score_client *c,
                        struct strbuf *o)
{
	struct strbuf t = STRBUF_INIT, pct = STRBUF_INIT, prev = STRBUF_INIT;
	size_t lw = width(L->red, strlen(L->red)), gw = width(L->green, strlen(L->green));
	size_t label = lw > gw ? lw : gw;
	const char *arrow;

	strbuf_appendf(&pct, "%2zu. ", idx);
	strbuf_append(o, pct.data, pct.len);
	put_clean(&t, c->name, NAME_CP);
	strbuf_appends(&t, " — ");
	strbuf_appends(&t, L->verdict_head[verdict_of(c)]);
	if (c->has_prev && c->prev_verdict != c->verdict) {
		strbuf_appends(&t, "   ");
		change_note(L, c, &t);
	}
	put_wrapped(o, pct.len, 4, t.data);

	for (int red = 1; red >= 0; red--) {
		const char *name = red ? L->red : L->green;

		strbuf_reset(&pct);
		strbuf_reset(&prev);
		share_text(L, c, red, &pct, &prev, &arrow);
		pad(o, 4);
		strbuf_appends(o, name);
		pad(o, label - width(name, strlen(name)) + 2);
		text_bar(o, red ? c->red_share : c->green_share);
		pad(o, 2 + (pct.len < 5 ? 5 - pct.len : 0));
		strbuf_append(o, pct.data, pct.len);
		if (arrow[0] != '\0') {
			strbuf_appendc(o, ' ');
			strbuf_appends(o, arrow);
		}
		if (prev.len > 0) {
			strbuf_appends(o, "   ");
			strbuf_append(o, prev.data, prev.len);
		}
		strbuf_appendc(o, '\n');
	}

	strbuf_reset(&t);
	stats_line(r, L, c, &t);
	pad(o, 4);
	put_wrapped(o, 4, 4, t.data);
	if (c->old_rate_note != NULL && c->old_rate_note[0] != '\0') {
		struct strbuf note = STRBUF_INIT;

		put_clean(&note, c->old_rate_note, NOTE_CP);
		strbuf_reset(&t);
		strbuf_appendf(&t, L->old_rate, note.data);
		pad(o, 4);
		put_wrapped(o, 4, 6, t.data);
		strbuf_release(&note);
	}
	if (c->onboarded_at != 0) {
		struct strbuf d = STRBUF_INIT;

		put_date(&d, r, c->onboarded_at);
		strbuf_reset(&t);
		strbuf_appendf(&t, L->onboarded, d.data);
		if (c->hours_contradicted)
			strbuf_appendf(&t, " · %s", L->contradicts);
		pad(o, 4);
		put_wrapped(o, 4, 6, t.data);
		strbuf_release(&d);
	}
	for (size_t i = 0; i < c->n_signals; i++) {
		const struct score_signal *s = &c->signals[i];
		size_t ne = min_size(min_size(s->n_evidence, SCORE_MAX_EVIDENCE), lim->evidence);

		strbuf_reset(&t);
		signal_line(L, c, s, &t);
		pad(o, 4);
		strbuf_appends(o, s->red ? "▲ " : "▼ ");
		put_wrapped(o, 6, 6, t.data);
		for (size_t e = 0; e < ne; e++) {
			const struct score_evidence *ev = &s->evidence[e];
			struct score_evidence head = {.date = ev->date, .subject = ev->subject};

			/* Date and subject on one line; the excerpt wrapped below, never cut: the
			 * matched words sit in its middle. */
			strbuf_reset(&t);
			evidence_line(r, L, &head, &t);
			put_line_cut(o, 8, &t, EVIDENCE_COLS);
			if (ev->excerpt != NULL && ev->excerpt[0] != '\0') {
				strbuf_reset(&t);
				put_clean(&t, ev->excerpt, EXCERPT_CP);
				pad(o, 12);
				put_wrapped(o, 12, 12, t.data);
			}
		}
	}
	strbuf_release(&t);
	strbuf_release(&pct);
	strbuf_release(&prev);
}

static void render_text(const struct score_report *r, const struct limits *lim, struct strbuf *o)
{
	const struct lang *L = lang_of(r);
	struct strbuf t = STRBUF_INIT;
	size_t counts[SCORE_N_VERDICTS], maxc = 0, label = 0, shown, favs = 0;
	char *how[6];
	size_t n_how;

	title_line(r, L, &t);
	put_wrapped(o, 0, 0, t.data);
	strbuf_reset(&t);
	meta_line(r, L, &t);
	put_wrapped(o, 0, 0, t.data);
	strbuf_appendc(o, '\n');
	put_wrapped(o, 0, 0, L->intro);

	/* At a glance: one row per verdict, the bar scaled to the largest count. */
	strbuf_appendf(o, "\n%s\n", L->glance);
	for (int v = 0; v < SCORE_N_VERDICTS; v++) {
		size_t w = width(L->verdict[v], strlen(L->verdict[v]));

		counts[v] = verdict_count(r, (enum score_verdict)v);
		maxc = counts[v] > maxc ? counts[v] : maxc;
		label = w > label ? w : label;
	}
	for (int v = 0; v < SCORE_N_VERDICTS; v++) {
		unsigned cells = maxc ? (unsigned)((counts[v] * BAR_CELLS + maxc / 2) / maxc) : 0;

		if (counts[v] > 0 && cells == 0)
			cells = 1; /* one client is still someone */
		strbuf_appendf(o, "  %s", L->verdict[v]);
		pad(o, label - width(L->verdict[v], strlen(L->verdict[v])));
		strbuf_appendf(o, "  %4zu  ", counts[v]);
		for (unsigned i = 0; i < cells; i++)
			strbuf_appends(o, "█");
		while (o->len > 0 && o->data[o->len - 1] == ' ')
			o->len--;
		strbuf_appendc(o, '\n');
	}

	/* Favourites, with the reasons. */
	for (size_t i = 0; i < r->n_clients; i++) {
		const struct score_client *c = &r->clients[i];

		if (verdict_of(c) != SCORE_CHERISH)
			continue;
		if (favs == 0)
			strbuf_appendf(o, "\n%s\n", L->favourites);
		if (favs++ >= lim->clients)
			continue;
		strbuf_reset(&t);
		strbuf_appends(&t, "★ ");
		put_clean(&t, c->name, NAME_CP);
		if (c->favourite != 0) {
			strbuf_appends(&t, " — ");
			favourite_reasons(r, L, c, &t);
		}
		pad(o, 2);
		put_wrapped(o, 2, 4, t.data);
	}
	if (favs > lim->clients) {
		strbuf_reset(&t);
		put_plural(&t, L, &L->more_names, favs - lim->clients);
		pad(o, 2);
		put_wrapped(o, 2, 4, t.data);
	}
	if (favs > 0) {
		pad(o, 2);
		put_wrapped(o, 2, 2, L->favourites_hint);
	}

	/* Every client, most urgent first (the report is ranked). */
	strbuf_appendf(o, "\n%s\n", L->clients);
	if (r->n_clients == 0)
		strbuf_appendf(o, "  %s\n", L->no_clients);
	shown = min_size(r->n_clients, lim->clients);
	for (size_t i = 0; i < shown; i++) {
		if (o->len >= lim->bytes) {
			shown = i; /* the rest is counted in the "more clients" line */
			break;
		}
		if (i > 0)
			strbuf_appendc(o, '\n');
		text_client(r, L, lim, i + 1, &r->clients[i], o);
	}
	if (r->n_clients > shown) {
		strbuf_reset(&t);
		put_plural(&t, L, &L->more_clients, r->n_clients - shown);
		strbuf_appendc(o, '\n');
		put_wrapped(o, 0, 2, t.data);
	}

	strbuf_reset(&t);
	new_list(r, L, lim->clients, &t);
	if (t.len > 0) {
		strbuf_appendf(o, "\n%s: ", L->new_head);
		put_wrapped(o, width(L->new_head, strlen(L->new_head)) + 2, 2, t.data);
	}
	strbuf_reset(&t);
	quiet_list(r, L, lim->clients, &t);
	if (t.len > 0) {
		strbuf_appendf(o, "\n%s: ", L->quiet_head);
		put_wrapped(o, width(L->quiet_head, strlen(L->quiet_head)) + 2, 2, t.data);
	}

	strbuf_appendf(o, "\n%s\n", L->how);
	n_how = how_lines(r, L, how);
	for (size_t i = 0; i < n_how; i++) {
		pad(o, 2);
		put_wrapped(o, 2, 2, how[i]);
		free(how[i]);
	}
	strbuf_release(&t);
}

int digest_render_text(const struct score_report *r, struct strbuf *out)
{
	render_text(r, &all_of_it, out);
	return 0;
}

/* ---------------------------------------------------------------- HTML */

/*
 * The one escaping function for the HTML part. Besides & < > " ' it escapes = and `, so no
 * text can even look like an attribute (onerror=...) to a sloppy filter down the line.
 */
static void html_esc(struct strbuf *o, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		switch (s[i]) {
		case '&':
			strbuf_appends(o, "&amp;");
			break;
		case '<':
			strbuf_appends(o, "&lt;");
			break;
		case '>':
			strbuf_appends(o, "&gt;");
			break;
		case '"':
			strbuf_appends(o, "&quot;");
			break;
		case '\'':
			strbuf_appends(o, "&#39;");
			break;
		case '=':
			strbuf_appends(o, "&#61;");
			break;
		case '`':
			strbuf_appends(o, "&#96;");
			break;
		default:
			strbuf_appendc(o, s[i]);
		}
	}
}

static void html_put(struct strbuf *o, const struct strbuf *t)
{
	html_esc(o, t->data ? t->data : "", t->len);
}

static void html_puts(struct strbuf *o, const char *s)
{
	html_esc(o, s, strlen(s));
}

#define C_TEXT  "#2b2b2b"
#define C_MUTED "#6b6b6b"
#define C_PAGE  "#f4f1ec"
#define C_EMPTY "#e6e1d8"
#define C_RED   "#c0392b"
#define C_GREEN "#1e8449"

static const char *const verdict_color[SCORE_N_VERDICTS] = {"#a93226", "#d35400", "#b9770e",
                                                            "#7f8c8d", "#1e8449"};

/* A bar of share * px pixels in color on a light track: two table cells, no images. */
static void html_bar(struct strbuf *o, double share, const char *color, unsigned px)
{
	unsigned fill = (unsigned)(clamp01(share) * px + 0.5);

	strbuf_appendf(
	    o,
	    "<table role=\"presentation\" width=\"%u\" cellpadding=\"0\" cellspacing=\"0\" "
	    "border=\"0\" style=\"width:%upx;border-collapse:collapse;\"><tr>",
	    px, px);
	if (fill > 0)
		strbuf_appendf(o,
		               "<td width=\"%u\" height=\"10\" bgcolor=\"%s\" style=\"width:%upx;"
		               "height:10px;background-color:%s;font-size:1px;line-height:1px;\">"
		               "&nbsp;</td>",
		               fill, color, fill, color);
	if (fill < px)
		strbuf_appendf(o,
		               "<td width=\"%u\" height=\"10\" bgcolor=\"" C_EMPTY
		               "\" style=\"width:%upx;"
		               "height:10px;background-color:" C_EMPTY ";font-size:1px;"
		               "line-height:1px;\">&nbsp;</td>",
		               px - fill, px - fill);
	strbuf_appends(o, "</tr></table>");
}

static void html_section(struct strbuf *o, const char *title)
{
	strbuf_appends(o, "<tr><td style=\"padding:20px 28px 0 28px;\"><h2 style=\"margin:0 0 8px "
	                  "0;font-size:17px;line-height:22px;color:" C_TEXT ";\">");
	html_puts(o, title);
	strbuf_appends(o, "</h2>\n");
}

static void html_section_end(struct strbuf *o)
{
	strbuf_appends(o, "</td></tr>\n");
}

static void html_para(struct strbuf *o, const struct strbuf *t, const char *style)
{
	strbuf_appendf(o, "<p style=\"margin:0 0 6px 0;%s\">", style);
	html_put(o, t);
	strbuf_appends(o, "</p>\n");
}

static void html_client(const struct score_report *r, const struct lang *L,
                        const struct limits *lim, size_t idx, const struct score_client *c,
                        struct strbuf *o)
{
	struct strbuf t = STRBUF_INIT, pct = STRBUF_INIT, prev = STRBUF_INIT;
	const char *color = verdict_color[verdict_of(c)];
	const char *arrow;

	strbuf_appendf(o,
	               "<tr><td style=\"padding:14px 28px 0 28px;\"><table role=\"presentation\" "
	               "width=\"100%%\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\"><tr>"
	               "<td width=\"4\" bgcolor=\"%s\" style=\"width:4px;background-color:%s;"
	               "font-size:1px;line-height:1px;\">&nbsp;</td>"
	               "<td style=\"padding:2px 0 4px 12px;\">\n",
	               color, color);

	strbuf_appendf(&t, "%zu. ", idx);
	put_clean(&t, c->name, NAME_CP);
	strbuf_appends(o, "<p style=\"margin:0 0 6px 0;font-size:16px;line-height:22px;\"><b>");
	html_put(o, &t);
	strbuf_appendf(o, "</b> <span style=\"color:%s;font-weight:bold;\">— ", color);
	html_puts(o, L->verdict_head[verdict_of(c)]);
	strbuf_appends(o, "</span>");
	strbuf_reset(&t);
	change_note(L, c, &t);
	if (t.len > 0) {
		strbuf_appends(o, " <span style=\"color:" C_MUTED ";\">");
		html_put(o, &t);
		strbuf_appends(o, "</span>");
	}
	strbuf_appends(o, "</p>\n");

	strbuf_appends(o, "<table role=\"presentation\" cellpadding=\"0\" cellspacing=\"0\" "
	                  "border=\"0\" style=\"margin:0 0 6px 0;\">\n");
	for (int red = 1; red >= 0; red--) {
		strbuf_reset(&pct);
		strbuf_reset(&prev);
		share_text(L, c, red, &pct, &prev, &arrow);
		strbuf_appends(
		    o, "<tr><td width=\"60\" style=\"padding:2px 8px 2px 0;color:" C_MUTED ";\">");
		html_puts(o, red ? L->red : L->green);
		strbuf_appends(o, "</td><td style=\"padding:2px 0;\">");
		html_bar(o, red ? c->red_share : c->green_share, red ? C_RED : C_GREEN, BAR_PX);
		strbuf_appends(o, "</td><td align=\"right\" style=\"padding:2px 0 2px 10px;"
		                  "white-space:nowrap;\">");
		html_put(o, &pct);
		if (arrow[0] != '\0') {
			strbuf_appendc(o, ' ');
			html_puts(o, arrow);
		}
		strbuf_appends(o, "</td><td style=\"padding:2px 0 2px 10px;color:" C_MUTED ";\">");
		html_put(o, &prev);
		strbuf_appends(o, "</td></tr>\n");
	}
	strbuf_appends(o, "</table>\n");

	strbuf_reset(&t);
	stats_line(r, L, c, &t);
	html_para(o, &t, "color:" C_MUTED ";");
	if (c->old_rate_note != NULL && c->old_rate_note[0] != '\0') {
		struct strbuf note = STRBUF_INIT;

		put_clean(&note, c->old_rate_note, NOTE_CP);
		strbuf_reset(&t);
		strbuf_appendf(&t, L->old_rate, note.data);
		html_para(o, &t, "color:" C_RED ";");
		strbuf_release(&note);
	}
	if (c->onboarded_at != 0) {
		struct strbuf d = STRBUF_INIT;

		put_date(&d, r, c->onboarded_at);
		strbuf_reset(&t);
		strbuf_appendf(&t, L->onboarded, d.data);
		html_para(o, &t, "color:" C_MUTED ";");
		if (c->hours_contradicted) {
			strbuf_reset(&t);
			strbuf_appends(&t, L->contradicts);
			html_para(o, &t, "color:" C_RED ";");
		}
		strbuf_release(&d);
	}
	if (c->n_signals > 0)
		strbuf_appends(o,
		               "<table role=\"presentation\" cellpadding=\"0\" cellspacing=\"0\" "
		               "border=\"0\" width=\"100%\">\n");
	for (size_t i = 0; i < c->n_signals; i++) {
		const struct score_signal *s = &c->signals[i];
		size_t ne = min_size(min_size(s->n_evidence, SCORE_MAX_EVIDENCE), lim->evidence);

		strbuf_reset(&t);
		signal_line(L, c, s, &t);
		strbuf_appendf(o,
		               "<tr><td width=\"18\" valign=\"top\" style=\"padding:3px 0 0 0;"
		               "color:%s;\">%s</td><td style=\"padding:3px 0 0 0;\">",
		               s->red ? C_RED : C_GREEN, s->red ? "▲" : "▼");
		html_put(o, &t);
		strbuf_appends(o, "</td></tr>\n");
		for (size_t e = 0; e < ne; e++) {
			strbuf_reset(&t);
			evidence_line(r, L, &s->evidence[e], &t);
			strbuf_appends(o,
			               "<tr><td></td><td style=\"padding:1px 0 0 0;font-size:12px;"
			               "line-height:17px;color:" C_MUTED ";\">");
			html_put(o, &t);
			strbuf_appends(o, "</td></tr>\n");
		}
	}
	if (c->n_signals > 0)
		strbuf_appends(o, "</table>\n");
	strbuf_appends(o, "</td></tr></table></td></tr>\n");
	strbuf_release(&t);
	strbuf_release(&pct);
	strbuf_release(&prev);
}

static void render_html(const struct score_report *r, const struct limits *lim, struct strbuf *o)
{
	const struct lang *L = lang_of(r);
	struct strbuf t = STRBUF_INIT;
	size_t counts[SCORE_N_VERDICTS], maxc = 0, shown, favs = 0;
	char *how[6];
	size_t n_how;

	strbuf_appendf(o,
	               "<!DOCTYPE html>\n<html lang=\"%s\">\n<head>\n<meta charset=\"utf-8\">\n"
	               "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	               "<title>",
	               L->code);
	digest_subject(r, &t);
	html_put(o, &t);
	strbuf_appends(
	    o, "</title>\n</head>\n<body style=\"margin:0;padding:0;background-color:" C_PAGE
	       ";\">\n<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" "
	       "cellspacing=\"0\" border=\"0\" bgcolor=\"" C_PAGE "\"><tr><td "
	       "align=\"center\" style=\"padding:24px 8px;\">\n<table role=\"presentation\" "
	       "width=\"640\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\" "
	       "bgcolor=\"#ffffff\" style=\"width:640px;max-width:100%;background-color:"
	       "#ffffff;font-family:Helvetica,Arial,sans-serif;font-size:14px;"
	       "line-height:20px;color:" C_TEXT ";\">\n");

	/* Heading. */
	strbuf_appends(o, "<tr><td style=\"padding:28px 28px 4px 28px;\"><h1 style=\"margin:0 0 "
	                  "6px 0;font-size:22px;line-height:28px;color:" C_TEXT ";\">");
	strbuf_reset(&t);
	title_line(r, L, &t);
	html_put(o, &t);
	strbuf_appends(o, "</h1>\n");
	strbuf_reset(&t);
	meta_line(r, L, &t);
	html_para(o, &t, "color:" C_MUTED ";");
	strbuf_reset(&t);
	strbuf_appends(&t, L->intro);
	html_para(o, &t, "");
	strbuf_appends(o, "</td></tr>\n");

	/* At a glance. */
	html_section(o, L->glance);
	strbuf_appends(o, "<table role=\"presentation\" cellpadding=\"0\" cellspacing=\"0\" "
	                  "border=\"0\">\n");
	for (int v = 0; v < SCORE_N_VERDICTS; v++) {
		counts[v] = verdict_count(r, (enum score_verdict)v);
		maxc = counts[v] > maxc ? counts[v] : maxc;
	}
	for (int v = 0; v < SCORE_N_VERDICTS; v++) {
		double share = maxc ? (double)counts[v] / (double)maxc : 0.0;

		strbuf_appends(o, "<tr><td width=\"150\" style=\"padding:3px 10px 3px 0;\">");
		html_puts(o, L->verdict[v]);
		strbuf_appendf(
		    o,
		    "</td><td width=\"40\" align=\"right\" style=\"padding:3px 10px 3px 0;"
		    "font-weight:bold;\">%zu</td><td style=\"padding:3px 0;\">",
		    counts[v]);
		if (counts[v] > 0 && share * BAR_PX < 4)
			share = 4.0 / BAR_PX;
		html_bar(o, share, verdict_color[v], BAR_PX);
		strbuf_appends(o, "</td></tr>\n");
	}
	strbuf_appends(o, "</table>\n");
	html_section_end(o);

	/* Favourites. */
	for (size_t i = 0; i < r->n_clients; i++) {
		const struct score_client *c = &r->clients[i];

		if (verdict_of(c) != SCORE_CHERISH)
			continue;
		if (favs == 0) {
			html_section(o, L->favourites);
			strbuf_appends(o, "<table role=\"presentation\" cellpadding=\"0\" "
			                  "cellspacing=\"0\" border=\"0\" width=\"100%\">\n");
		}
		if (favs++ >= lim->clients)
			continue;
		strbuf_reset(&t);
		put_clean(&t, c->name, NAME_CP);
		strbuf_appends(
		    o, "<tr><td width=\"20\" valign=\"top\" style=\"padding:3px 0;color:" C_GREEN
		       ";\">★</td><td style=\"padding:3px 0;\"><b>");
		html_put(o, &t);
		strbuf_appends(o, "</b>");
		if (c->favourite != 0) {
			strbuf_reset(&t);
			favourite_reasons(r, L, c, &t);
			strbuf_appends(o, " — ");
			html_put(o, &t);
		}
		strbuf_appends(o, "</td></tr>\n");
	}
	if (favs > 0) {
		strbuf_appends(o, "</table>\n");
		if (favs > lim->clients) {
			strbuf_reset(&t);
			put_plural(&t, L, &L->more_names, favs - lim->clients);
			html_para(o, &t, "color:" C_MUTED ";");
		}
		strbuf_reset(&t);
		strbuf_appends(&t, L->favourites_hint);
		html_para(o, &t, "margin-top:6px;color:" C_MUTED ";font-style:italic;");
		html_section_end(o);
	}

	/* Clients. */
	html_section(o, L->clients);
	if (r->n_clients == 0) {
		strbuf_reset(&t);
		strbuf_appends(&t, L->no_clients);
		html_para(o, &t, "");
	}
	html_section_end(o);
	shown = min_size(r->n_clients, lim->clients);
	for (size_t i = 0; i < shown; i++) {
		if (o->len >= lim->bytes) {
			shown = i;
			break;
		}
		html_client(r, L, lim, i + 1, &r->clients[i], o);
	}
	if (r->n_clients > shown) {
		strbuf_reset(&t);
		put_plural(&t, L, &L->more_clients, r->n_clients - shown);
		strbuf_appends(o, "<tr><td style=\"padding:14px 28px 0 28px;\">");
		html_para(o, &t, "font-weight:bold;");
		html_section_end(o);
	}

	/* New and quiet clients. */
	strbuf_reset(&t);
	new_list(r, L, lim->clients, &t);
	if (t.len > 0) {
		html_section(o, L->new_head);
		html_para(o, &t, "");
		html_section_end(o);
	}
	strbuf_reset(&t);
	quiet_list(r, L, lim->clients, &t);
	if (t.len > 0) {
		html_section(o, L->quiet_head);
		html_para(o, &t, "");
		html_section_end(o);
	}

	/* How this was scored. */
	strbuf_appends(o, "<tr><td style=\"padding:24px 28px 28px 28px;font-size:12px;"
	                  "line-height:18px;color:" C_MUTED ";\"><p style=\"margin:0 0 4px 0;"
	                  "font-weight:bold;\">");
	html_puts(o, L->how);
	strbuf_appends(o, "</p>\n");
	n_how = how_lines(r, L, how);
	for (size_t i = 0; i < n_how; i++) {
		strbuf_reset(&t);
		strbuf_appends(&t, how[i]);
		html_para(o, &t, "margin-bottom:2px;");
		free(how[i]);
	}
	strbuf_appends(o, "</td></tr>\n</table>\n</td></tr></table>\n</body>\n</html>\n");
	strbuf_release(&t);
}

int digest_render_html(const struct score_report *r, struct strbuf *out)
{
	render_html(r, &all_of_it, out);
	return 0;
}

void digest_subject(const struct score_report *r, struct strbuf *out)
{
	struct strbuf p = STRBUF_INIT;

	put_clean(&p, r->period, sizeof(r->period));
	strbuf_appendf(out, lang_of(r)->subject, p.data ? p.data : "");
	strbuf_release(&p);
}

/* ---------------------------------------------------------------- the mail */

static int compose_with(const struct score_report *r, const struct digest_envelope *e,
                        const struct limits *lim, struct strbuf *out, char *err, size_t errlen)
{
	struct strbuf subject = STRBUF_INIT, text = STRBUF_INIT, html = STRBUF_INIT;
	struct mime_mail m;
	int rc;

	digest_subject(r, &subject);
	render_text(r, lim, &text);
	if (text.len < lim->bytes) {
		/* The HTML part only gets what the text part left of the ceiling. */
		struct limits hl = *lim;

		hl.bytes = lim->bytes - text.len;
		render_html(r, &hl, &html);
	}
	if (text.len + html.len >= lim->bytes) {
		snprintf(err, errlen, "digest: over the %zu-byte ceiling", lim->bytes);
		rc = -E2BIG;
		goto out;
	}
	memset(&m, 0, sizeof(m));
	m.from_name = e->from_name;
	m.from_addr = e->from_addr;
	m.to_name = r->owner_name;
	m.to_addr = e->to_addr;
	m.subject = subject.data;
	m.date = e->date;
	m.message_id = e->message_id;
	m.text = text.data;
	m.html = html.data;
	m.max_bytes = e->max_bytes;
	rc = mime_compose(&m, out, err, errlen);
out:
	strbuf_release(&subject);
	strbuf_release(&text);
	strbuf_release(&html);
	return rc;
}

int digest_compose(const struct score_report *r, const struct digest_envelope *e,
                   struct strbuf *out, char *err, size_t errlen)
{
	struct limits lim = all_of_it;
	int rc;

	/*
	 * A part that alone exceeds the ceiling cannot fit: rendering stops there (a thousand
	 * clients in full would cost far more time and memory than the mail is worth) and
	 * compose_with() gives up on that attempt before encoding anything.
	 */
	if (e->max_bytes > 0)
		lim.bytes = e->max_bytes;
	rc = compose_with(r, e, &lim, out, err, errlen);
	if (rc != -E2BIG)
		return rc;
	/* Too big: first less evidence, then fewer clients, halving until it fits. */
	lim.evidence = 1;
	rc = compose_with(r, e, &lim, out, err, errlen);
	for (size_t k = r->n_clients / 2; rc == -E2BIG && k >= 1; k /= 2) {
		lim.clients = k;
		rc = compose_with(r, e, &lim, out, err, errlen);
	}
	if (rc == -E2BIG)
		snprintf(err, errlen, "digest: even one client does not fit in %zu bytes",
		         e->max_bytes);
	return rc;
}
