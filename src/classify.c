/*
 * classify — see include/redflag/classify.h.
 */
#include "redflag/classify.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "redflag/clients.h"
#include "redflag/message.h"
#include "redflag/util.h"

#define MAX_HITS        64
#define EXCERPT_CONTEXT 60   /* bytes of context on each side of a match */
#define LANG_SCAN_BYTES 1024 /* function words decide within a few lines */
#define LANG_LEAD       8

/* ---- language ---- */

/*
 * Frequent function words that are distinctive for one of the three languages, at most 8
 * bytes, sorted by their bytes (zero-padded), with a bit per language: 1 da, 2 de, 4 en.
 * Words the languages share in spelling ("i", "for", "den", "er", "die", ...) are left out
 * on purpose: they would only add noise.
 */
struct function_word {
	char w[8];
	unsigned char langs;
};

static const struct function_word function_words[] = {
    {"aber", 2},   {"af", 1},      {"all", 4},    {"and", 4},    {"any", 4},    {"are", 4},
    {"at", 1},     {"auch", 2},    {"auf", 2},    {"bare", 1},   {"be", 4},     {"bei", 2},
    {"bitte", 2},  {"but", 4},     {"can", 4},    {"could", 4},  {"dag", 1},    {"danke", 2},
    {"das", 2},    {"dass", 2},    {"dear", 4},   {"dem", 2},    {"der", 2},    {"det", 1},
    {"dig", 1},    {"du", 1},      {"efter", 1},  {"ein", 2},    {"eine", 2},   {"es", 2},
    {"fordi", 1},  {"frau", 2},    {"from", 4},   {"für", 2},    {"gerne", 1},  {"godt", 1},
    {"gruß", 2},   {"grüße", 2},   {"haben", 2},  {"hallo", 2},  {"har", 1},    {"have", 4},
    {"he", 4},     {"hej", 1},     {"herr", 2},   {"heute", 2},  {"hi", 4},     {"hilsen", 1},
    {"hvad", 1},   {"hvis", 1},    {"hvor", 1},   {"ich", 2},    {"if", 4},     {"ihnen", 2},
    {"ihr", 2},    {"ikke", 1},    {"is", 4},     {"ist", 2},    {"it", 4},     {"jeg", 1},
    {"jer", 1},    {"jeres", 1},   {"just", 4},   {"kan", 1},    {"kann", 2},   {"know", 4},
    {"kunne", 1},  {"kære", 1},    {"können", 2}, {"let", 4},    {"liebe", 2},  {"lieber", 2},
    {"lige", 1},   {"me", 4},      {"med", 1},    {"meget", 1},  {"mig", 1},    {"mir", 2},
    {"mit", 2},    {"morgen", 2},  {"mvh", 1},    {"my", 4},     {"mødet", 1},  {"nicht", 2},
    {"noch", 2},   {"noget", 1},   {"not", 4},    {"nu", 1},     {"nur", 2},    {"of", 4},
    {"og", 1},     {"også", 1},    {"on", 4},     {"os", 1},     {"our", 4},    {"please", 4},
    {"på", 1},     {"regards", 4}, {"schon", 2},  {"sehr", 2},   {"she", 4},    {"should", 4},
    {"sie", 2},    {"sind", 2},    {"skal", 1},   {"skulle", 1}, {"så", 1},     {"tak", 1},
    {"thank", 4},  {"thanks", 4},  {"that", 4},   {"the", 4},    {"there", 4},  {"they", 4},
    {"this", 4},   {"til", 1},     {"to", 4},     {"ud", 1},     {"und", 2},    {"uns", 2},
    {"venlig", 1}, {"vi", 1},      {"viele", 2},  {"vil", 1},    {"von", 2},    {"vores", 1},
    {"være", 1},   {"was", 4},     {"we", 4},     {"wenn", 2},   {"werden", 2}, {"what", 4},
    {"will", 4},   {"wir", 2},     {"wird", 2},   {"with", 4},   {"would", 4},  {"you", 4},
    {"your", 4},   {"zu", 2},
};

/* The 8 bytes as a big-endian number: numeric order is the table's byte order. */
static uint64_t word_key(const char w[8])
{
	uint64_t k = 0;

	for (int i = 0; i < 8; i++)
		k = k << 8 | (unsigned char)w[i];
	return k;
}

/* The language bits of word (NUL-padded to 8 bytes), 0 when it is no function word. */
static unsigned word_langs(const char word[8])
{
	uint64_t key = word_key(word);
	size_t lo = 0, hi = ARRAY_SIZE(function_words);

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		uint64_t k = word_key(function_words[mid].w);

		if (k == key)
			return function_words[mid].langs;
		if (k < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
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

	memset(word, 0, sizeof(word));

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
		memset(word + wl, 0, sizeof(word) - wl);
		wl = 0;
		{
			unsigned langs = word_langs(word);

			score[0] += langs & 1;
			score[1] += (langs >> 1) & 1;
			score[2] += (langs >> 2) & 1;
		}
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
/*
 * Copies t to out with whitespace folded the way rule patterns expect it: hard-wrapped lines
 * joined (a pattern's space matches a line break in "by end of\nday"), runs of blanks made
 * one space, no-break spaces made spaces, and paragraph breaks kept as one blank line
 * (sentence boundaries for guards). out has room for strlen(t) bytes; returns the end.
 */
static char *fold(char *out, const char *t)
{
	bool started = false;

	while (*t) {
		unsigned newlines = 0;
		bool blank = false;
		const char *run;

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
		/* Never longer than the input: a fold replaces at least as many bytes. */
		if (blank && started) {
			if (newlines >= 2)
				*out++ = '\n';
			*out++ = newlines >= 2 ? '\n' : ' ';
		}
		run = t++;
		for (;;) {
			t += strcspn(t, " \t\r\n\xC2"); /* vectorised in glibc */
			if (*t != (char)0xC2 || (unsigned char)t[1] == 0xA0)
				break;
			t++; /* 0xC2 leading something else: part of the run */
		}
		/* *t is NUL or starts a blank. */
		memcpy(out, run, (size_t)(t - run));
		out += t - run;
		started = true;
	}
	return out;
}

static void text_signals(struct rules *r, const struct classify_input *in, const char *lang,
                         struct classify_result *out)
{
	struct rules_hit hits[MAX_HITS];
	struct rules_input ri;
	char *subj = classify_subject(in->subject);
	const char *text = in->text ? in->text : "";
	char *buf = xmalloc(strlen(subj) + 2 + strlen(text) + 1), *end;
	size_t n;

	end = fold(buf, subj);
	*end++ = '\n';
	*end++ = '\n';
	ri.body_start = (size_t)(end - buf);
	end = fold(end, text);
	*end = '\0';
	ri.text = buf;
	ri.len = (size_t)(end - buf);
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
	free(buf);
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

/* Days in month m (1..12) of year y, Gregorian. */
static int days_in_month(int y, int m)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : days[m - 1];
}

int classify_old_rate(const char *rate_since, unsigned months, int64_t now, char *evidence,
                      size_t len)
{
	int y, m, d;
	struct tm tm;
	time_t t = (time_t)now;
	long age;

	/* Exactly YYYY-MM-DD, a real date. */
	if (!rate_since || strlen(rate_since) != 10 || rate_since[4] != '-' || rate_since[7] != '-')
		return -EINVAL;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (rate_since[i] < '0' || rate_since[i] > '9'))
			return -EINVAL;
	y = ((rate_since[0] - '0') * 10 + (rate_since[1] - '0')) * 100 +
	    (rate_since[2] - '0') * 10 + (rate_since[3] - '0');
	m = (rate_since[5] - '0') * 10 + (rate_since[6] - '0');
	d = (rate_since[8] - '0') * 10 + (rate_since[9] - '0');
	if (y < 1900 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
		return -EINVAL;
	gmtime_r(&t, &tm);
	/* Whole calendar months from rate_since to now. */
	age = (long)(tm.tm_year + 1900 - y) * 12 + (tm.tm_mon + 1 - m) - (tm.tm_mday < d ? 1 : 0);
	if (age < 0)
		age = 0;
	snprintf(evidence, len, "rate since %s (%ld months)", rate_since, age);
	return age >= (long)months ? 1 : 0;
}
