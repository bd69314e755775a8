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
#include <unistd.h>

#include "redflag/broadcast.h"
#include "redflag/clients.h"
#include "redflag/message.h"
#include "redflag/model.h"
#include "redflag/util.h"

#define MAX_HITS        64
#define EXCERPT_CONTEXT 60   /* bytes of context on each side of a match */
#define LANG_SCAN_BYTES 1024 /* function words decide within a few lines */
#define LANG_LEAD       8

/* ---- language ---- */

/*
 * Frequent function words that are distinctive for one of the three languages, at most 8
 * bytes, as keys (see word_key; the word is in the comment), sorted, with a bit per
 * language: 1 da, 2 de, 4 en. Regenerate the keys when changing a word.
 * Words the languages share in spelling ("i", "for", "den", "er", "die", ...) are left out
 * on purpose: they would only add noise.
 */
struct function_word {
	uint64_t key; /* the word's bytes, zero-padded to 8, as a big-endian number */
	unsigned char langs;
};

static const struct function_word function_words[] = {
    {0x6162657200000000u, 2}, /* aber */
    {0x6166000000000000u, 1}, /* af */
    {0x616c6c0000000000u, 4}, /* all */
    {0x616e640000000000u, 4}, /* and */
    {0x616e790000000000u, 4}, /* any */
    {0x6172650000000000u, 4}, /* are */
    {0x6174000000000000u, 1}, /* at */
    {0x6175636800000000u, 2}, /* auch */
    {0x6175660000000000u, 2}, /* auf */
    {0x6261726500000000u, 1}, /* bare */
    {0x6265000000000000u, 4}, /* be */
    {0x6265690000000000u, 2}, /* bei */
    {0x6269747465000000u, 2}, /* bitte */
    {0x6275740000000000u, 4}, /* but */
    {0x63616e0000000000u, 4}, /* can */
    {0x636f756c64000000u, 4}, /* could */
    {0x6461670000000000u, 1}, /* dag */
    {0x64616e6b65000000u, 2}, /* danke */
    {0x6461730000000000u, 2}, /* das */
    {0x6461737300000000u, 2}, /* dass */
    {0x6465617200000000u, 4}, /* dear */
    {0x64656d0000000000u, 2}, /* dem */
    {0x6465720000000000u, 2}, /* der */
    {0x6465740000000000u, 1}, /* det */
    {0x6469670000000000u, 1}, /* dig */
    {0x6475000000000000u, 1}, /* du */
    {0x6566746572000000u, 1}, /* efter */
    {0x65696e0000000000u, 2}, /* ein */
    {0x65696e6500000000u, 2}, /* eine */
    {0x6573000000000000u, 2}, /* es */
    {0x666f726469000000u, 1}, /* fordi */
    {0x6672617500000000u, 2}, /* frau */
    {0x66726f6d00000000u, 4}, /* from */
    {0x66c3bc7200000000u, 2}, /* für */
    {0x6765726e65000000u, 1}, /* gerne */
    {0x676f647400000000u, 1}, /* godt */
    {0x677275c39f000000u, 2}, /* gruß */
    {0x6772c3bcc39f6500u, 2}, /* grüße */
    {0x686162656e000000u, 2}, /* haben */
    {0x68616c6c6f000000u, 2}, /* hallo */
    {0x6861720000000000u, 1}, /* har */
    {0x6861766500000000u, 4}, /* have */
    {0x6865000000000000u, 4}, /* he */
    {0x68656a0000000000u, 1}, /* hej */
    {0x6865727200000000u, 2}, /* herr */
    {0x6865757465000000u, 2}, /* heute */
    {0x6869000000000000u, 4}, /* hi */
    {0x68696c73656e0000u, 1}, /* hilsen */
    {0x6876616400000000u, 1}, /* hvad */
    {0x6876697300000000u, 1}, /* hvis */
    {0x68766f7200000000u, 1}, /* hvor */
    {0x6963680000000000u, 2}, /* ich */
    {0x6966000000000000u, 4}, /* if */
    {0x69686e656e000000u, 2}, /* ihnen */
    {0x6968720000000000u, 2}, /* ihr */
    {0x696b6b6500000000u, 1}, /* ikke */
    {0x6973000000000000u, 4}, /* is */
    {0x6973740000000000u, 2}, /* ist */
    {0x6974000000000000u, 4}, /* it */
    {0x6a65670000000000u, 1}, /* jeg */
    {0x6a65720000000000u, 1}, /* jer */
    {0x6a65726573000000u, 1}, /* jeres */
    {0x6a75737400000000u, 4}, /* just */
    {0x6b616e0000000000u, 1}, /* kan */
    {0x6b616e6e00000000u, 2}, /* kann */
    {0x6b6e6f7700000000u, 4}, /* know */
    {0x6b756e6e65000000u, 1}, /* kunne */
    {0x6bc3a67265000000u, 1}, /* kære */
    {0x6bc3b66e6e656e00u, 2}, /* können */
    {0x6c65740000000000u, 4}, /* let */
    {0x6c69656265000000u, 2}, /* liebe */
    {0x6c69656265720000u, 2}, /* lieber */
    {0x6c69676500000000u, 1}, /* lige */
    {0x6d65000000000000u, 4}, /* me */
    {0x6d65640000000000u, 1}, /* med */
    {0x6d65676574000000u, 1}, /* meget */
    {0x6d69670000000000u, 1}, /* mig */
    {0x6d69720000000000u, 2}, /* mir */
    {0x6d69740000000000u, 2}, /* mit */
    {0x6d6f7267656e0000u, 2}, /* morgen */
    {0x6d76680000000000u, 1}, /* mvh */
    {0x6d79000000000000u, 4}, /* my */
    {0x6dc3b86465740000u, 1}, /* mødet */
    {0x6e69636874000000u, 2}, /* nicht */
    {0x6e6f636800000000u, 2}, /* noch */
    {0x6e6f676574000000u, 1}, /* noget */
    {0x6e6f740000000000u, 4}, /* not */
    {0x6e75000000000000u, 1}, /* nu */
    {0x6e75720000000000u, 2}, /* nur */
    {0x6f66000000000000u, 4}, /* of */
    {0x6f67000000000000u, 1}, /* og */
    {0x6f6773c3a5000000u, 1}, /* også */
    {0x6f6e000000000000u, 4}, /* on */
    {0x6f73000000000000u, 1}, /* os */
    {0x6f75720000000000u, 4}, /* our */
    {0x706c656173650000u, 4}, /* please */
    {0x70c3a50000000000u, 1}, /* på */
    {0x7265676172647300u, 4}, /* regards */
    {0x7363686f6e000000u, 2}, /* schon */
    {0x7365687200000000u, 2}, /* sehr */
    {0x7368650000000000u, 4}, /* she */
    {0x73686f756c640000u, 4}, /* should */
    {0x7369650000000000u, 2}, /* sie */
    {0x73696e6400000000u, 2}, /* sind */
    {0x736b616c00000000u, 1}, /* skal */
    {0x736b756c6c650000u, 1}, /* skulle */
    {0x73c3a50000000000u, 1}, /* så */
    {0x74616b0000000000u, 1}, /* tak */
    {0x7468616e6b000000u, 4}, /* thank */
    {0x7468616e6b730000u, 4}, /* thanks */
    {0x7468617400000000u, 4}, /* that */
    {0x7468650000000000u, 4}, /* the */
    {0x7468657265000000u, 4}, /* there */
    {0x7468657900000000u, 4}, /* they */
    {0x7468697300000000u, 4}, /* this */
    {0x74696c0000000000u, 1}, /* til */
    {0x746f000000000000u, 4}, /* to */
    {0x7564000000000000u, 1}, /* ud */
    {0x756e640000000000u, 2}, /* und */
    {0x756e730000000000u, 2}, /* uns */
    {0x76656e6c69670000u, 1}, /* venlig */
    {0x7669000000000000u, 1}, /* vi */
    {0x7669656c65000000u, 2}, /* viele */
    {0x76696c0000000000u, 1}, /* vil */
    {0x766f6e0000000000u, 2}, /* von */
    {0x766f726573000000u, 1}, /* vores */
    {0x76c3a67265000000u, 1}, /* være */
    {0x7761730000000000u, 4}, /* was */
    {0x7765000000000000u, 4}, /* we */
    {0x77656e6e00000000u, 2}, /* wenn */
    {0x77657264656e0000u, 2}, /* werden */
    {0x7768617400000000u, 4}, /* what */
    {0x77696c6c00000000u, 4}, /* will */
    {0x7769720000000000u, 2}, /* wir */
    {0x7769726400000000u, 2}, /* wird */
    {0x7769746800000000u, 4}, /* with */
    {0x776f756c64000000u, 4}, /* would */
    {0x796f750000000000u, 4}, /* you */
    {0x796f757200000000u, 4}, /* your */
    {0x7a75000000000000u, 2}, /* zu */
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
		uint64_t k = function_words[mid].key;

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
	out->v[out->n++] = (struct classify_signal){signal, rule, weight, ex, -1.0};
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
			/* Every blank is <= 0x20; 0xC2 may start a no-break space. */
			while ((unsigned char)*t > 0x20 && (unsigned char)*t != 0xC2)
				t++;
			if (*t == '\0' || *t == ' ' || *t == '\t' || *t == '\r' || *t == '\n' ||
			    ((unsigned char)*t == 0xC2 && (unsigned char)t[1] == 0xA0))
				break;
			t++; /* another control character, or 0xC2 leading something else */
		}
		/* *t is NUL or starts a blank. */
		memcpy(out, run, (size_t)(t - run));
		out += t - run;
		started = true;
	}
	return out;
}

/*
 * The judged text of in: the subject without prefixes, a blank line, the author's new text,
 * both folded. Fills ri (direction and language included); returns the buffer ri points
 * into, for the caller to free.
 */
static char *judged_text(const struct classify_input *in, const char *lang, struct rules_input *ri)
{
	char *subj = classify_subject(in->subject);
	const char *text = in->text ? in->text : "";
	char *buf = xmalloc(strlen(subj) + 2 + strlen(text) + 1), *end;

	end = fold(buf, subj);
	*end++ = '\n';
	*end++ = '\n';
	ri->body_start = (size_t)(end - buf);
	end = fold(end, text);
	*end = '\0';
	ri->text = buf;
	ri->len = (size_t)(end - buf);
	ri->lang = lang;
	ri->direction = in->direction;
	free(subj);
	return buf;
}

/* Whether the subject starts with a reply or a forward prefix (da, de, en). */
static void subject_kind(const char *subject, bool *reply, bool *forward)
{
	static const char *const replies[] = {"re:", "aw:", "sv:", "antw:", "re "};
	static const char *const forwards[] = {"fwd:", "fw:", "wg:", "vs:", "vl:", "fwd "};

	*reply = *forward = false;
	if (!subject)
		return;
	while (*subject == ' ' || *subject == '\t')
		subject++;
	for (size_t i = 0; i < ARRAY_SIZE(replies); i++)
		*reply |= str_has_prefix_ci(subject, replies[i]);
	for (size_t i = 0; i < ARRAY_SIZE(forwards); i++)
		*forward |= str_has_prefix_ci(subject, forwards[i]);
}

/* ---- the learned layer ---- */

static const char *detect_language(const struct classify_input *in);

/* One feature occurrence with a place in the text, for evidence. */
struct occ_span {
	uint32_t id;
	size_t start, end;
};

struct classify_model {
	struct model *base;  /* the shipped model */
	struct model *layer; /* the owner's layer on top of it, or NULL */
	struct features *fx;
	struct feature_vec x, scratch;
	char *rule_name[MODEL_MAX_SIGNALS]; /* "model.SIGNAL" */
	struct occ_span *occ;
	size_t n_occ, cap_occ;
};

int classify_model_open(const char *path, const char *layer, struct classify_model **out, char *err,
                        size_t errlen)
{
	struct classify_model *cm = xcalloc(1, sizeof(*cm));
	int rc;

	*out = NULL;
	rc = model_load(path, &cm->base, err, errlen);
	if (rc < 0)
		goto fail;
	if (layer && access(layer, F_OK) == 0) {
		char why[256];

		rc = model_load(layer, &cm->layer, err, errlen);
		if (rc < 0)
			goto fail;
		rc = model_set_base(cm->layer, cm->base, why, sizeof(why));
		if (rc < 0) {
			snprintf(err, errlen, "%s: %s", layer, why);
			goto fail;
		}
	}
	for (size_t i = 0; i < model_signal_count(cm->base); i++)
		cm->rule_name[i] = xasprintf("model.%s", model_signal_at(cm->base, i));
	cm->fx = features_new();
	*out = cm;
	return 0;
fail:
	classify_model_free(&cm);
	return rc;
}

void classify_model_free(struct classify_model **cm)
{
	if (!cm || !*cm)
		return;
	for (size_t i = 0; i < MODEL_MAX_SIGNALS; i++)
		free((*cm)->rule_name[i]);
	model_free(&(*cm)->layer);
	model_free(&(*cm)->base);
	features_free(&(*cm)->fx);
	feature_vec_release(&(*cm)->x);
	feature_vec_release(&(*cm)->scratch);
	free((*cm)->occ);
	free(*cm);
	*cm = NULL;
}

const struct model *classify_model_get(const struct classify_model *cm)
{
	return !cm ? NULL : cm->layer ? cm->layer : cm->base;
}

const struct model *classify_model_base(const struct classify_model *cm)
{
	return cm ? cm->base : NULL;
}

static void collect_occ(void *arg, uint32_t id, const char *name, size_t start, size_t end)
{
	struct classify_model *cm = arg;

	(void)name;
	if (start == end)
		return;
	if (cm->n_occ == cm->cap_occ) {
		cm->cap_occ = cm->cap_occ ? 2 * cm->cap_occ : 256;
		cm->occ = xreallocarray(cm->occ, cm->cap_occ, sizeof(*cm->occ));
	}
	cm->occ[cm->n_occ++] = (struct occ_span){id, start, end};
}

/* The start of the sentence around offset i (features.h's sentence rule). */
static size_t sentence_start(const struct rules_input *ri, size_t i)
{
	size_t lo = i >= ri->body_start ? ri->body_start : 0;

	while (i > lo) {
		char c = ri->text[i - 1];

		if (c == '\n' || ((c == ' ') && i >= 2 && strchr(".!?", ri->text[i - 2])))
			break;
		i--;
	}
	return i;
}

static size_t sentence_end_at(const struct rules_input *ri, size_t i)
{
	size_t hi = i < ri->body_start ? ri->body_start : ri->len;

	while (i < hi && ri->text[i] != '\n' &&
	       !(strchr(".!?", ri->text[i]) && (i + 1 >= hi || ri->text[i + 1] == ' ')))
		i++;
	return i < hi && ri->text[i] != '\n' ? i + 1 : i;
}

/*
 * Evidence for a signal the model gave without a rule: the sentence whose words add most
 * to the signal's score, in context.
 */
static char *model_evidence(struct classify_model *cm, const struct model *m, size_t k,
                            const struct features_input *fi)
{
	const struct rules_input *ri = fi->text;
	size_t best_s = 0, best_e = 0, n_sent = 0;
	double best = 0.0;
	struct {
		size_t start;
		double sum;
	} sent[64] = {{0, 0.0}};

	cm->n_occ = 0;
	features_extract(cm->fx, fi, &cm->scratch, collect_occ, cm);
	for (size_t i = 0; i < cm->n_occ; i++) {
		double c =
		    model_weight(m, k, cm->occ[i].id) * feature_vec_get(&cm->x, cm->occ[i].id);
		size_t st = sentence_start(ri, cm->occ[i].start), j;

		for (j = 0; j < n_sent && sent[j].start != st; j++)
			;
		if (j == n_sent) {
			if (n_sent == ARRAY_SIZE(sent))
				continue;
			sent[n_sent].start = st;
			sent[n_sent++].sum = 0.0;
		}
		sent[j].sum += c;
	}
	for (size_t j = 0; j < n_sent; j++)
		if (sent[j].sum > best) {
			best = sent[j].sum;
			best_s = sent[j].start;
		}
	if (best <= 0.0)
		best_s = ri->body_start < ri->len ? ri->body_start : 0;
	best_e = sentence_end_at(ri, best_s);
	return excerpt(ri->text, ri->len, ri->body_start, best_s, best_e);
}

static void features_input_of(const struct classify_input *in, const struct rules_input *ri,
                              const struct rules_hit *hits, size_t n, struct features_input *fi)
{
	*fi = (struct features_input){.text = ri, .hits = hits, .n_hits = n, .n_rcpt = in->n_rcpt};
	subject_kind(in->subject, &fi->reply, &fi->forward);
}

static void text_signals(struct rules *r, struct classify_model *cm,
                         const struct classify_input *in, const char *lang,
                         struct classify_result *out)
{
	struct rules_hit hits[MAX_HITS];
	struct rules_input ri;
	struct features_input fi;
	const struct model *m = classify_model_get(cm);
	char *buf = judged_text(in, lang, &ri);
	size_t n = rules_match(r, &ri, hits, MAX_HITS);
	double score[MODEL_MAX_SIGNALS];

	if (m) {
		features_input_of(in, &ri, hits, n, &fi);
		features_extract(cm->fx, &fi, &cm->x, NULL, NULL);
		model_scores(m, &cm->x, score);
	}
	/* One entry per signal, in catalogue order: the strongest rule, the first among equals. */
	for (size_t si = 0; si < rules_signal_count(r); si++) {
		const struct rules_signal *sig = rules_signal_at(r, si);
		const struct rules_hit *best = NULL;
		int k = m && sig->text ? model_signal_index(m, sig->id) : -1;
		double p = -1.0;

		for (size_t j = 0; j < n; j++)
			if (hits[j].signal == sig && (!best || hits[j].weight > best->weight))
				best = &hits[j];
		if (k >= 0 && model_threshold(m, (size_t)k) < 1.0) {
			p = model_sigmoid(score[k]);
			if (p < (best ? model_threshold(m, (size_t)k)
			              : model_threshold_alone(m, (size_t)k)))
				continue;
			if (!best) {
				add_signal(out, sig->id, cm->rule_name[k], sig->weight,
				           model_evidence(cm, m, (size_t)k, &fi));
				out->v[out->n - 1].p = p;
				continue;
			}
		}
		if (best) {
			add_signal(out, sig->id, best->rule, best->weight,
			           excerpt(ri.text, ri.len, ri.body_start, best->start, best->end));
			out->v[out->n - 1].p = p;
		}
	}
	free(buf);
}

bool classify_features(struct rules *r, struct features *fx, const struct classify_input *in,
                       struct feature_vec *x, features_each_fn each, void *arg, char lang[8])
{
	struct rules_hit hits[MAX_HITS];
	struct rules_input ri;
	struct features_input fi;
	const char *l = detect_language(in);
	char *buf;
	size_t n;

	snprintf(lang, 8, "%s", l ? l : "und");
	x->n = 0;
	if (broadcast_detect(in))
		return false;
	buf = judged_text(in, l, &ri);
	n = r ? rules_match(r, &ri, hits, MAX_HITS) : 0;
	features_input_of(in, &ri, hits, n, &fi);
	features_extract(fx, &fi, x, each, arg);
	free(buf);
	return true;
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

/*
 * The language of in: the new text first; a two-line reply says little, so then the
 * subject with it, then the whole body (the quoted thread is usually in the same language).
 * NULL when undetermined.
 */
static const char *detect_language(const struct classify_input *in)
{
	const char *lang = in->text ? classify_language(in->text, strlen(in->text)) : NULL;

	if (!lang) {
		char *both =
		    xasprintf("%s\n%s", in->subject ? in->subject : "", in->text ? in->text : "");

		lang = language(both, strlen(both), 1);
		free(both);
	}
	if (!lang && in->body)
		lang = classify_language(in->body, strlen(in->body));
	return lang;
}

void classify_message_with(struct rules *r, struct classify_model *cm,
                           const struct calendar_hours *hours, const struct classify_input *in,
                           struct classify_result *out)
{
	const char *lang = detect_language(in);

	memset(out, 0, sizeof(*out));
	snprintf(out->lang, sizeof(out->lang), "%s", lang ? lang : "und");

	/* Nobody wrote a list mail, an automated notice or an announcement to the owner. */
	if (broadcast_detect(in))
		return;
	text_signals(r, cm, in, lang, out);
	if (hours)
		time_signal(r, hours, in, out);
}

void classify_message(struct rules *r, const struct calendar_hours *hours,
                      const struct classify_input *in, struct classify_result *out)
{
	classify_message_with(r, NULL, hours, in, out);
}

enum rules_dir classify_direction(enum rf_direction dir)
{
	return dir == RF_DIR_IN    ? RULES_DIR_IN
	       : dir == RF_DIR_OUT ? RULES_DIR_OUT
	                           : RULES_DIR_UNKNOWN;
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
	    .n_rcpt = m->n_rcpt,
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
	snprintf(evidence, len, "rate since %s (%ld month%s)", rate_since, age,
	         age == 1 ? "" : "s");
	return age >= (long)months ? 1 : 0;
}
