/*
 * classify — see include/redflag/classify.h.
 */
#include "redflag/classify.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "redflag/clients.h"
#include "redflag/message.h"
#include "redflag/util.h"

#define MAX_HITS        64
#define EXCERPT_CONTEXT 60 /* bytes of context on each side of a match */
#define LANG_SCAN_BYTES 4096
#define LANG_LEAD       12

/* ---- language ---- */

/*
 * Frequent function words that are distinctive for one of the three languages. Words that
 * two of them share in spelling ("i", "for", "den", "er", "die" in English names, ...) are
 * left out on purpose: they would only add noise.
 */
static const char *const words_da[] = {
    "af",    "at",  "bare",   "dag",    "det",  "dig",   "du",    "efter",  "fordi", "gerne",
    "godt",  "har", "hej",    "hilsen", "hvad", "hvis",  "hvor",  "ikke",   "jeg",   "jer",
    "jeres", "kan", "kunne",  "kære",   "lige", "med",   "meget", "mig",    "mvh",   "mødet",
    "noget", "nu",  "og",     "også",   "os",   "på",    "skal",  "skulle", "så",    "tak",
    "til",   "ud",  "venlig", "vi",     "vil",  "vores", "være"};
static const char *const words_de[] = {
    "aber",   "auch",  "auf",    "bei",   "bitte", "danke",        "das",   "dass", "dem",
    "der",    "ein",   "eine",   "es",    "frau",  "freundlichen", "für",   "gruß", "grüße",
    "haben",  "hallo", "herr",   "heute", "ich",   "ihnen",        "ihr",   "ist",  "kann",
    "können", "liebe", "lieber", "mir",   "mit",   "morgen",       "nicht", "noch", "nur",
    "schon",  "sehr",  "sie",    "sind",  "und",   "uns",          "viele", "von",  "wenn",
    "werden", "wir",   "wird",   "zu"};
static const char *const words_en[] = {
    "all",  "and",    "any",   "are",    "be",   "but",  "can",   "could",  "dear",
    "from", "have",   "he",    "hi",     "if",   "is",   "it",    "just",   "know",
    "let",  "me",     "my",    "not",    "of",   "on",   "our",   "please", "regards",
    "she",  "should", "thank", "thanks", "that", "the",  "there", "they",   "this",
    "to",   "was",    "we",    "what",   "will", "with", "would", "you",    "your"};

static int cmp_word(const void *key, const void *elem)
{
	return strcmp(key, *(const char *const *)elem);
}

/* list is sorted (checked by the unit tests through classify_language's results). */
static bool in_list(const char *const *list, size_t n, const char *w)
{
	return bsearch(w, list, n, sizeof(*list), cmp_word) != NULL;
}

/*
 * Second bytes of the two-byte UTF-8 letters only one language writes: æ ø å Æ Ø Å for
 * Danish, ä ö ü ß Ä Ö Ü for German (all are U+00C0..U+00FF, first byte 0xC3).
 */
static int special_letter(unsigned char second)
{
	switch (second) {
	case 0xA6:
	case 0xB8:
	case 0xA5:
	case 0x86:
	case 0x98:
	case 0x85:
		return 0;
	case 0xA4:
	case 0xB6:
	case 0xBC:
	case 0x9F:
	case 0x84:
	case 0x96:
	case 0x9C:
		return 1;
	default:
		return -1;
	}
}

/* One language is ahead by LANG_LEAD points and has at least twice the runner-up's. */
static bool decided(const unsigned score[3])
{
	unsigned hi = 0, mid = 0;

	for (unsigned k = 0; k < 3; k++) {
		if (score[k] > hi) {
			mid = hi;
			hi = score[k];
		} else if (score[k] > mid) {
			mid = score[k];
		}
	}
	return hi >= mid + LANG_LEAD && hi >= 2 * mid;
}

static const char *language(const char *text, size_t len, unsigned min_score)
{
	unsigned score[3] = {0, 0, 0};
	char word[32];
	size_t wl = 0;

	if (len > LANG_SCAN_BYTES)
		len = LANG_SCAN_BYTES;
	for (size_t i = 0; i <= len; i++) {
		unsigned char c = i < len ? (unsigned char)text[i] : ' ';

		/* Letters: ASCII and any UTF-8 sequence (all of æøåäöüß are 2-byte). */
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80) {
			if (c == 0xC3 && i + 1 < len) {
				int l = special_letter((unsigned char)text[i + 1]);

				if (l >= 0)
					score[l] += 2;
			}
			if (wl < sizeof(word) - 1)
				word[wl++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
			continue;
		}
		/* Function words are short: longer words need no lookup. */
		if (wl == 0 || wl > 8) {
			wl = 0;
			continue;
		}
		word[wl] = '\0';
		wl = 0;
		score[0] += in_list(words_da, ARRAY_SIZE(words_da), word);
		score[1] += in_list(words_de, ARRAY_SIZE(words_de), word);
		score[2] += in_list(words_en, ARRAY_SIZE(words_en), word);
		/* A clear lead early on will not be overturned: stop reading. */
		if (decided(score))
			break;
	}
	{
		static const char *const codes[3] = {"da", "de", "en"};
		unsigned best = 0;

		for (unsigned k = 1; k < 3; k++)
			if (score[k] > score[best])
				best = k;
		if (score[best] < min_score)
			return NULL;
		/* A tie says nothing. */
		for (unsigned k = 0; k < 3; k++)
			if (k != best && score[k] == score[best])
				return NULL;
		return codes[best];
	}
}

const char *classify_language(const char *text, size_t len)
{
	return language(text, len, 2);
}

/* ---- subject ---- */

char *classify_subject(const char *subject)
{
	static const char *const prefixes[] = {"re", "aw",   "sv", "fwd", "fw",  "wg",
	                                       "vs", "antw", "tr", "vl",  "ref", NULL};
	const char *s = subject ? subject : "";

	for (int round = 0; round < 16; round++) {
		const char *p = s;
		bool found = false;

		while (*p == ' ' || *p == '\t')
			p++;
		/* A list tag such as "[project-x]" in front. */
		if (*p == '[') {
			const char *e = strchr(p, ']');

			if (e && e - p < 40) {
				s = e + 1;
				continue;
			}
		}
		for (size_t k = 0; prefixes[k] && !found; k++) {
			size_t n = strlen(prefixes[k]);
			const char *q = p + n;

			if (strncasecmp(p, prefixes[k], n) != 0)
				continue;
			/* "Re[2]:" and "Re(2):" count too. */
			if (*q == '[' || *q == '(') {
				const char *e = q + 1;

				while (*e >= '0' && *e <= '9')
					e++;
				if ((*e == ']' || *e == ')') && e > q + 1)
					q = e + 1;
			}
			while (*q == ' ')
				q++;
			if (*q == ':') {
				s = q + 1;
				found = true;
			}
		}
		if (!found) {
			s = p;
			break;
		}
	}
	return xstrdup(s);
}

/* ---- excerpts ---- */

static bool is_space(char c)
{
	return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

/*
 * The match with up to EXCERPT_CONTEXT bytes either side, cut at word boundaries, line
 * breaks folded into spaces, "…" where something was cut off.
 */
static char *excerpt(const char *text, size_t len, size_t body_start, size_t s, size_t e)
{
	size_t lo = s >= body_start ? body_start : 0;
	size_t hi = s >= body_start ? len : body_start;
	size_t a = s > lo + EXCERPT_CONTEXT ? s - EXCERPT_CONTEXT : lo;
	size_t b = e + EXCERPT_CONTEXT < hi ? e + EXCERPT_CONTEXT : hi;
	struct strbuf out = STRBUF_INIT;
	bool space = false;

	if (e > hi)
		e = b = hi;
	/* Move the cuts to word boundaries (and never into a UTF-8 sequence). */
	if (a > lo) {
		while (a < s && !is_space(text[a - 1]))
			a++;
	}
	if (b < hi) {
		while (b > e && !is_space(text[b]))
			b--;
	}
	while (a < s && ((unsigned char)text[a] & 0xC0) == 0x80)
		a++;
	if (a > lo)
		strbuf_appends(&out, "… ");
	for (size_t i = a; i < b; i++) {
		char c = text[i];

		if (is_space(c)) {
			space = out.len > 0;
			continue;
		}
		if (space)
			strbuf_appendc(&out, ' ');
		space = false;
		strbuf_appendc(&out, c);
	}
	if (b < hi)
		strbuf_appends(&out, " …");
	if (out.len > CLASSIFY_EXCERPT_MAX) {
		size_t cut = CLASSIFY_EXCERPT_MAX - 4;

		while (cut > 0 && ((unsigned char)out.data[cut] & 0xC0) == 0x80)
			cut--;
		out.len = cut;
		out.data[cut] = '\0';
		strbuf_appends(&out, " …");
	}
	if (!out.data)
		strbuf_appends(&out, "");
	return strbuf_detach(&out, NULL);
}

/* ---- the message ---- */

static void add_signal(struct classify_result *out, const char *signal, const char *rule,
                       double weight, char *ex)
{
	out->v = xreallocarray(out->v, out->n + 1, sizeof(*out->v));
	out->v[out->n++] = (struct classify_signal){signal, rule, weight, ex};
}

/*
 * Appends text with whitespace folded the way rule patterns expect it: hard-wrapped lines
 * joined (a pattern's space matches a line break in "by end of\nday"), runs of blanks made
 * one space, no-break spaces made spaces, and paragraph breaks kept as one blank line
 * (sentence boundaries for guards).
 */
static void append_folded(struct strbuf *b, const char *t)
{
	bool started = false;

	while (*t) {
		unsigned newlines = 0;
		size_t run;
		bool blank = false;

		for (;;) {
			if (*t == ' ' || *t == '\t' || *t == '\r' || *t == '\n') {
				newlines += *t == '\n';
				t++;
			} else if ((unsigned char)t[0] == 0xC2 && (unsigned char)t[1] == 0xA0) {
				t += 2;
			} else {
				break;
			}
			blank = true;
		}
		if (!*t)
			break;
		if (blank && started)
			strbuf_appends(b, newlines >= 2 ? "\n\n" : " ");
		/* Copy the run up to the next blank in one go. */
		run = strcspn(t, " \t\r\n\xC2");
		if (run == 0)
			run = 1; /* a 0xC2 that does not start a no-break space */
		strbuf_append(b, t, run);
		t += run;
		started = true;
	}
}

static void text_signals(struct rules *r, const struct classify_input *in, const char *lang,
                         struct classify_result *out)
{
	struct rules_hit hits[MAX_HITS];
	struct strbuf buf = STRBUF_INIT;
	struct rules_input ri;
	char *subj = classify_subject(in->subject);
	size_t n;

	append_folded(&buf, subj);
	strbuf_appends(&buf, "\n\n");
	ri.body_start = buf.len;
	append_folded(&buf, in->text ? in->text : "");
	ri.text = buf.data;
	ri.len = buf.len;
	ri.lang = lang;
	ri.direction = in->direction;
	n = rules_match(r, &ri, hits, MAX_HITS);

	/* One entry per signal, in catalogue order: the strongest rule, the first among equals. */
	for (size_t si = 0; si < rules_signal_count(r); si++) {
		const struct rules_signal *sig = rules_signal_at(r, si);
		const struct rules_hit *best = NULL;

		for (size_t k = 0; k < n; k++)
			if (hits[k].signal == sig && (!best || hits[k].weight > best->weight))
				best = &hits[k];
		if (best)
			add_signal(out, sig->id, best->rule, best->weight,
			           excerpt(ri.text, ri.len, ri.body_start, best->start, best->end));
	}
	free(subj);
	strbuf_release(&buf);
}

static void time_signal(struct rules *r, const struct calendar_hours *hours,
                        const struct classify_input *in, struct classify_result *out)
{
	static const char *const rule_for[] = {
	    [CALENDAR_WORKTIME] = "time.worktime", [CALENDAR_EVENING] = "time.evening",
	    [CALENDAR_EARLY] = "time.early",       [CALENDAR_DAY_OFF] = "time.day_off",
	    [CALENDAR_HOLIDAY] = "time.holiday",
	};
	const struct rules_signal *sig;
	struct calendar_local l;
	char desc[128];

	if (in->date <= 0 || in->direction == RULES_DIR_UNKNOWN)
		return;
	sig = rules_signal_find(r, in->direction == RULES_DIR_IN ? "received_after_hours"
	                                                         : "sent_after_hours");
	if (!sig || !calendar_after_hours(hours, in->date, &l))
		return;
	calendar_describe(&l, desc, sizeof(desc));
	add_signal(out, sig->id, rule_for[l.why], sig->weight, xstrdup(desc));
}

void classify_message(struct rules *r, const struct calendar_hours *hours,
                      const struct classify_input *in, struct classify_result *out)
{
	const char *lang;

	memset(out, 0, sizeof(*out));
	/*
	 * The new text first; a two-line reply says little, so then the subject with it, then
	 * the whole body (the quoted thread is usually in the same language).
	 */
	lang = in->text ? classify_language(in->text, strlen(in->text)) : NULL;
	if (!lang) {
		char *both =
		    xasprintf("%s\n%s", in->subject ? in->subject : "", in->text ? in->text : "");

		lang = language(both, strlen(both), 1);
		free(both);
	}
	if (!lang && in->body)
		lang = classify_language(in->body, strlen(in->body));
	snprintf(out->lang, sizeof(out->lang), "%s", lang ? lang : "und");

	/* Nobody wrote a list mail or an automated notice to the owner personally. */
	if ((in->flags & (MESSAGE_LIST | MESSAGE_BULK | MESSAGE_AUTO)) || in->automated)
		return;
	text_signals(r, in, lang, out);
	if (hours)
		time_signal(r, hours, in, out);
}

void classify_input_from_message(const struct message *m, enum rules_dir direction,
                                 struct classify_input *in)
{
	*in = (struct classify_input){
	    .subject = m->subject,
	    .text = m->text,
	    .body = m->body,
	    .flags = m->flags,
	    .automated = clients_is_noreply(m->from.addr),
	    .direction = direction,
	    .date = m->date,
	};
}

void classify_result_release(struct classify_result *out)
{
	for (size_t i = 0; i < out->n; i++)
		free(out->v[i].excerpt);
	free(out->v);
	memset(out, 0, sizeof(*out));
}

/* ---- old_rate ---- */

int classify_old_rate(const char *rate_since, unsigned months, int64_t now, char *evidence,
                      size_t len)
{
	int y, m, d, n = 0;
	struct tm tm;
	time_t t = (time_t)now;
	long age;

	if (!rate_since || sscanf(rate_since, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 ||
	    (size_t)n != strlen(rate_since) || m < 1 || m > 12 || d < 1 || d > 31)
		return -EINVAL;
	gmtime_r(&t, &tm);
	/* Whole calendar months from rate_since to now. */
	age = (long)(tm.tm_year + 1900 - y) * 12 + (tm.tm_mon + 1 - m) - (tm.tm_mday < d ? 1 : 0);
	if (age < 0)
		age = 0;
	snprintf(evidence, len, "rate since %s (%ld months)", rate_since, age);
	return age >= (long)months ? 1 : 0;
}
