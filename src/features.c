/*
 * features — see include/redflag/features.h.
 */
#include "redflag/features.h"

#include <libstemmer.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redflag/util.h"

#define WORD_MAX  40 /* longer "words" are URLs, hashes, encoded junk: skipped */
#define GRAM      4
#define GRAM_FROM 8 /* words of at least this many bytes give character grams */
#define NAME_MAX_ 128

/* Namespace seeds: the same bytes under two prefixes are two features. */
enum kind { K_WORD, K_SUBJ, K_BIGRAM, K_GRAM, K_RULE, K_HIT, K_META, K_N };
static const char *const prefix[K_N] = {"w:", "s:", "b:", "c:", "r:", "h:", "m:"};

/* One occurrence: the id, whether it is a text feature, and where it came from. */
struct occ {
	uint32_t id;
	bool text;
};

/*
 * A direct-mapped cache of stems per language: mail repeats its words, and a Snowball
 * stemmer call costs far more than a look-up.
 */
#define STEM_CACHE 2048
struct stem_slot {
	unsigned char wlen, slen; /* 0: empty */
	char word[WORD_MAX];
	char stem[WORD_MAX];
};

struct features {
	struct sb_stemmer *stem[3]; /* da, de, en */
	struct stem_slot *cache[3];
	struct occ *occ, *tmp; /* tmp: the radix sort's other half */
	size_t n_occ, cap_occ, cap_tmp;
	features_each_fn each;
	void *arg;
};

static const char *const stem_lang[3] = {"da", "de", "en"};
static const char *const stem_algo[3] = {"danish", "german", "english"};

struct features *features_new(void)
{
	struct features *f = xcalloc(1, sizeof(*f));

	for (size_t i = 0; i < 3; i++) {
		f->stem[i] = sb_stemmer_new(stem_algo[i], "UTF_8");
		if (!f->stem[i]) {
			/* Only fails on OOM: the three algorithms are built into libstemmer. */
			fprintf(stderr, "libstemmer: cannot create the %s stemmer\n", stem_algo[i]);
			abort();
		}
		f->cache[i] = xcalloc(STEM_CACHE, sizeof(*f->cache[i]));
	}
	return f;
}

void features_free(struct features **f)
{
	if (!f || !*f)
		return;
	for (size_t i = 0; i < 3; i++) {
		if ((*f)->stem[i])
			sb_stemmer_delete((*f)->stem[i]);
		free((*f)->cache[i]);
	}
	free((*f)->occ);
	free((*f)->tmp);
	free(*f);
	*f = NULL;
}

float feature_vec_get(const struct feature_vec *v, uint32_t id)
{
	size_t lo = 0, hi = v->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v->id[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < v->n && v->id[lo] == id ? v->val[lo] : 0.0f;
}

void feature_vec_release(struct feature_vec *v)
{
	free(v->id);
	free(v->val);
	memset(v, 0, sizeof(*v));
}

/* FNV-1a, 32 bits, continued from h. */
static uint32_t fnv(uint32_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 16777619u;
	}
	return h;
}

#define FNV_BASIS 2166136261u

uint32_t features_id(const char *name)
{
	return fnv(FNV_BASIS, name, strlen(name));
}

/*
 * Records one feature: kind's prefix, then a, then (when b is given) a space and b. The
 * name is built only for the callback; the id is hashed from the parts directly.
 */
static void add(struct features *f, enum kind k, const char *a, size_t alen, const char *b,
                size_t blen, size_t start, size_t end)
{
	uint32_t h = fnv(FNV_BASIS, prefix[k], 2);

	h = fnv(h, a, alen);
	if (b) {
		h = fnv(h, " ", 1);
		h = fnv(h, b, blen);
	}
	if (f->n_occ == f->cap_occ) {
		f->cap_occ = f->cap_occ ? 2 * f->cap_occ : 1024;
		f->occ = xreallocarray(f->occ, f->cap_occ, sizeof(*f->occ));
	}
	f->occ[f->n_occ++] = (struct occ){h, k <= K_GRAM};
	if (f->each) {
		char name[NAME_MAX_];

		snprintf(name, sizeof(name), "%s%.*s%s%.*s", prefix[k], (int)alen, a, b ? " " : "",
		         b ? (int)blen : 0, b ? b : "");
		f->each(f->arg, h, name, start, end);
	}
}

/*
 * Whether the byte sequence at p (n bytes left) continues a word, and its length. ASCII
 * letters and digits do; so does any non-ASCII character except Latin-1 punctuation
 * (U+0080..U+00BF: no-break space, «, », §, ...) and general punctuation, currency and
 * symbol blocks starting with E2 (dashes, curly quotes, bullets, arrows).
 */
static size_t word_char(const unsigned char *p, size_t n)
{
	if (p[0] < 0x80)
		return (p[0] >= 'a' && p[0] <= 'z') || (p[0] >= 'A' && p[0] <= 'Z') ||
		               (p[0] >= '0' && p[0] <= '9')
		           ? 1
		           : 0;
	if (p[0] == 0xC2)
		return 0;
	if (p[0] == 0xE2)
		return 0;
	if (p[0] >= 0xC3 && p[0] < 0xE0 && n >= 2)
		return 2;
	if (p[0] >= 0xE0 && p[0] < 0xF0 && n >= 3)
		return 3;
	if (p[0] >= 0xF0 && n >= 4)
		return 4;
	return 0;
}

/* Lower-cases a word into out (ASCII and Latin-1 capitals); returns its length. */
static size_t lower_word(const unsigned char *w, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = w[i];

		if (c >= 'A' && c <= 'Z')
			c += 32;
		else if (c == 0xC3 && i + 1 < n && w[i + 1] >= 0x80 && w[i + 1] <= 0x9E &&
		         w[i + 1] != 0x97) {
			out[o++] = (char)c;
			c = (unsigned char)(w[++i] + 0x20);
		}
		out[o++] = (char)c;
	}
	return o;
}

static bool all_digits(const char *w, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (w[i] < '0' || w[i] > '9')
			return false;
	return true;
}

static int lang_index(const char *lang)
{
	for (int i = 0; lang && i < 3; i++)
		if (strcmp(lang, stem_lang[i]) == 0)
			return i;
	return -1;
}

/* The stem of the lower-cased word w (n <= WORD_MAX bytes) in language li. */
static const char *stem_of(struct features *f, int li, const char *w, size_t n, size_t *len)
{
	struct stem_slot *slot = &f->cache[li][fnv(FNV_BASIS, w, n) & (STEM_CACHE - 1)];
	const char *s;
	size_t sl;

	if (slot->wlen == n && memcmp(slot->word, w, n) == 0) {
		*len = slot->slen;
		return slot->stem;
	}
	s = (const char *)sb_stemmer_stem(f->stem[li], (const sb_symbol *)w, (int)n);
	sl = s ? (size_t)sb_stemmer_length(f->stem[li]) : 0;
	if (!s || sl == 0 || sl > WORD_MAX) {
		s = w;
		sl = n;
	}
	slot->wlen = (unsigned char)n;
	slot->slen = (unsigned char)sl;
	memcpy(slot->word, w, n);
	memcpy(slot->stem, s, sl);
	*len = sl;
	return slot->stem;
}

/* A sentence ends at . ! ? followed by a blank, at a blank line, and at the subject's end. */
static bool sentence_end(const char *t, size_t i, size_t len)
{
	if (t[i] == '\n' && i + 1 < len && t[i + 1] == '\n')
		return true;
	return (t[i] == '.' || t[i] == '!' || t[i] == '?') && i + 1 < len &&
	       (t[i + 1] == ' ' || t[i + 1] == '\n');
}

static void text_features(struct features *f, const struct rules_input *ri)
{
	const unsigned char *t = (const unsigned char *)ri->text;
	size_t len = ri->len < FEATURES_TEXT_MAX ? ri->len : FEATURES_TEXT_MAX;
	int li = lang_index(ri->lang);
	bool grams = li < 0 || strcmp(stem_lang[li], "en") != 0;
	char prev[WORD_MAX * 2 + 8];
	size_t prev_len = 0;
	size_t i = 0;

	while (i < len) {
		char low[WORD_MAX * 2 + 8], stem[WORD_MAX * 2 + 8];
		const char *s;
		size_t start, n, sl, k;

		/* Skip to a word, noting sentence ends on the way. */
		while (i < len && !(k = word_char(t + i, len - i))) {
			if (sentence_end((const char *)t, i, len) || i + 1 == ri->body_start)
				prev_len = 0;
			i++;
		}
		if (i >= len)
			break;
		start = i;
		while (i < len && (k = word_char(t + i, len - i)))
			i += k;
		n = i - start;
		if (n > WORD_MAX) {
			prev_len = 0; /* no pair across a dropped word */
			continue;
		}
		n = lower_word(t + start, n, low);
		if (all_digits(low, n)) {
			s = "<n>";
			sl = 3;
		} else if (li >= 0) {
			s = stem_of(f, li, low, n, &sl);
		} else {
			s = low;
			sl = n;
		}
		memcpy(stem, s, sl);
		add(f, K_WORD, stem, sl, NULL, 0, start, i);
		if (start < ri->body_start)
			add(f, K_SUBJ, stem, sl, NULL, 0, start, i);
		if (prev_len)
			add(f, K_BIGRAM, prev, prev_len, stem, sl, start, i);
		memcpy(prev, stem, sl);
		prev_len = sl;
		/* Compounds are German and Danish; English writes them apart. */
		if (grams && n >= GRAM_FROM)
			for (size_t g = 0; g + GRAM <= n; g++)
				add(f, K_GRAM, low + g, GRAM, NULL, 0, start, i);
	}
}

static const char *rcpt_bucket(size_t n)
{
	return n == 0    ? "rcpt=?"
	       : n == 1  ? "rcpt=1"
	       : n <= 3  ? "rcpt=2-3"
	       : n <= 10 ? "rcpt=4-10"
	                 : "rcpt=11+";
}

static void meta_features(struct features *f, const struct features_input *in)
{
	static const char *const dir[] = {"dir=?", "dir=in", "dir=out"};
	const struct rules_input *ri = in->text;
	size_t body = ri->len > ri->body_start ? ri->len - ri->body_start : 0;
	char buf[32];
	size_t n;
	int lb = 0;
	const char *s;

	s = dir[ri->direction <= RULES_DIR_OUT ? ri->direction : 0];
	add(f, K_META, s, strlen(s), NULL, 0, 0, 0);
	if (in->reply)
		add(f, K_META, "reply", 5, NULL, 0, 0, 0);
	if (in->forward)
		add(f, K_META, "forward", 7, NULL, 0, 0, 0);
	s = rcpt_bucket(in->n_rcpt);
	add(f, K_META, s, strlen(s), NULL, 0, 0, 0);
	while (body >> lb > 64 && lb < 16)
		lb++;
	/* "len=N" and "lang=xx" without printf: this runs for every message. */
	memcpy(buf, "len=", 4);
	n = 4;
	if (lb >= 10)
		buf[n++] = (char)('0' + lb / 10);
	buf[n++] = (char)('0' + lb % 10);
	add(f, K_META, buf, n, NULL, 0, 0, 0);
	s = ri->lang ? ri->lang : "?";
	memcpy(buf, "lang=", 5);
	memcpy(buf + 5, s, strnlen(s, 8));
	add(f, K_META, buf, 5 + strnlen(s, 8), NULL, 0, 0, 0);
}

/*
 * Sorts the occurrences by id: LSD radix sort, three passes of 11 bits, stable. A message
 * has a few thousand occurrences; qsort's comparisons were the largest single cost of
 * extraction.
 */
static void sort_occ(struct features *f)
{
	struct occ *src = f->occ, *dst;
	size_t count[2048];

	if (f->cap_tmp < f->n_occ) {
		f->cap_tmp = f->cap_occ;
		f->tmp = xreallocarray(f->tmp, f->cap_tmp, sizeof(*f->tmp));
	}
	dst = f->tmp;
	for (unsigned shift = 0; shift < 33; shift += 11) {
		size_t sum = 0;

		memset(count, 0, sizeof(count));
		for (size_t i = 0; i < f->n_occ; i++)
			count[(src[i].id >> shift) & 2047]++;
		for (size_t d = 0; d < 2048; d++) {
			size_t c = count[d];

			count[d] = sum;
			sum += c;
		}
		for (size_t i = 0; i < f->n_occ; i++)
			dst[count[(src[i].id >> shift) & 2047]++] = src[i];
		/* Swap roles; after three passes the sorted run is in tmp. */
		dst = src;
		src = src == f->occ ? f->tmp : f->occ;
	}
	/* Three passes: the result is in tmp; make it the occurrence array. */
	dst = f->occ;
	f->occ = f->tmp;
	f->tmp = dst;
	{
		size_t c = f->cap_occ;

		f->cap_occ = f->cap_tmp;
		f->cap_tmp = c;
	}
}

void features_extract(struct features *f, const struct features_input *in, struct feature_vec *out,
                      features_each_fn each, void *arg)
{
	size_t n_text = 0;
	float text_val;

	f->n_occ = 0;
	f->each = each;
	f->arg = arg;
	text_features(f, in->text);
	for (size_t i = 0; i < in->n_hits; i++) {
		const char *rule = in->hits[i].rule, *sig = in->hits[i].signal->id;

		add(f, K_RULE, rule, strlen(rule), NULL, 0, in->hits[i].start, in->hits[i].end);
		add(f, K_HIT, sig, strlen(sig), NULL, 0, in->hits[i].start, in->hits[i].end);
	}
	meta_features(f, in);
	f->each = NULL;

	sort_occ(f);
	out->n = 0;
	if (out->cap < f->n_occ) {
		out->cap = f->n_occ;
		out->id = xreallocarray(out->id, out->cap, sizeof(*out->id));
		out->val = xreallocarray(out->val, out->cap, sizeof(*out->val));
	}
	/* Distinct ids; a value of 0 marks "text only" until the count is known. */
	for (size_t i = 0; i < f->n_occ; i++) {
		if (out->n && out->id[out->n - 1] == f->occ[i].id) {
			if (!f->occ[i].text)
				out->val[out->n - 1] = 1.0f;
			continue;
		}
		out->id[out->n] = f->occ[i].id;
		out->val[out->n] = f->occ[i].text ? 0.0f : 1.0f;
		n_text += f->occ[i].text;
		out->n++;
	}
	text_val = n_text ? (float)(1.0 / sqrt((double)n_text)) : 0.0f;
	for (size_t i = 0; i < out->n; i++)
		if (out->val[i] == 0.0f)
			out->val[i] = text_val;
}
