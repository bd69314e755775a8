/*
 * features: the same input gives the same vector, inflections share a stem, compounds share
 * character grams with their parts, subject and body words, rule hits and message facts,
 * the 1/sqrt(n) text values, the FEATURES_TEXT_MAX ceiling, hostile bytes, and what the
 * each callback sees.
 *
 * Inputs are built in the tests; no file is read.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "redflag/features.h"
#include "redflag/rules.h"
#include "redflag/util.h"

/* ---- helpers ---- */

/* The judged text as classify builds it: subject, a blank line, then the body. */
struct judged {
	char *buf;
	struct rules_input ri;
};

static void judged_make(struct judged *j, const char *subject, const char *body, const char *lang)
{
	j->buf = xasprintf("%s\n\n%s", subject, body);
	j->ri = (struct rules_input){.text = j->buf,
	                             .len = strlen(j->buf),
	                             .body_start = strlen(subject) + 2,
	                             .lang = lang,
	                             .direction = RULES_DIR_IN};
}

static void judged_free(struct judged *j)
{
	free(j->buf);
	j->buf = NULL;
}

/* Extracts the features of subject + body (no hits, no facts) into v. */
static void extract_text(struct features *fx, const char *subject, const char *body,
                         const char *lang, struct feature_vec *v)
{
	struct judged j;
	struct features_input in = {0};

	judged_make(&j, subject, body, lang);
	in.text = &j.ri;
	features_extract(fx, &in, v, NULL, NULL);
	judged_free(&j);
}

/* Index of id in v, or -1. */
static long find(const struct feature_vec *v, uint32_t id)
{
	size_t lo = 0, hi = v->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v->id[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < v->n && v->id[lo] == id ? (long)lo : -1;
}

static bool has(const struct feature_vec *v, const char *name)
{
	return find(v, features_id(name)) >= 0;
}

static float value(const struct feature_vec *v, const char *name)
{
	long k = find(v, features_id(name));

	if (k < 0)
		fail_msg("feature %s missing", name);
	return v->val[k];
}

/* The vector invariants: ids strictly increasing, values finite and in (0, 1]. */
static void check_vec(const struct feature_vec *v)
{
	assert_true(v->n <= v->cap);
	for (size_t i = 0; i < v->n; i++) {
		if (i > 0 && v->id[i - 1] >= v->id[i])
			fail_msg("ids not strictly increasing at %zu: %08x then %08x", i,
			         v->id[i - 1], v->id[i]);
		if (!isfinite(v->val[i]) || v->val[i] <= 0.0f || v->val[i] > 1.0f)
			fail_msg("value %zu is %g", i, (double)v->val[i]);
	}
}

/* Everything the each callback saw. */
struct seen {
	const struct rules_input *ri; /* to check the spans against */
	size_t n, cap;
	struct seen_occ {
		uint32_t id;
		char name[128];
		size_t start, end;
	} * v;
};

static void collect(void *arg, uint32_t id, const char *name, size_t start, size_t end)
{
	struct seen *s = arg;

	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 256;
		s->v = xreallocarray(s->v, s->cap, sizeof(*s->v));
	}
	s->v[s->n].id = id;
	snprintf(s->v[s->n].name, sizeof(s->v[s->n].name), "%s", name);
	s->v[s->n].start = start;
	s->v[s->n].end = end;
	s->n++;
}

static bool is_text_name(const char *name)
{
	return strncmp(name, "w:", 2) == 0 || strncmp(name, "s:", 2) == 0 ||
	       strncmp(name, "b:", 2) == 0 || strncmp(name, "c:", 2) == 0;
}

/* ---- determinism ---- */

struct text_case {
	const char *subject, *body, *lang;
};

static const struct text_case texts[] = {
    {"Aflysning af mødet", "Jeg må desværre aflyse vores aftale på torsdag. Mvh Ole", "da"},
    {"Zahlungserinnerung", "Bitte begleichen Sie die Rechnung bis morgen. Danke!", "de"},
    {"Re: invoice", "Could you send me the final files by the end of the day? Thanks.", "en"},
    {"Hola", "¿Podemos hablar mañana? Gracias por todo.", NULL},
    {"", "", "en"},
    {"Only a subject", "", "de"},
};

static void test_deterministic(void **state)
{
	struct features *a = features_new(), *b = features_new();
	struct feature_vec v1 = {0}, v2 = {0}, v3 = {0};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(texts); i++) {
		const struct text_case *t = &texts[i];

		extract_text(a, t->subject, t->body, t->lang, &v1);
		/* The same extractor again (its scratch reused), and a fresh one. */
		extract_text(a, t->subject, t->body, t->lang, &v2);
		extract_text(b, t->subject, t->body, t->lang, &v3);
		check_vec(&v1);
		assert_true(v1.n > 0); /* message facts at least */
		assert_int_equal(v1.n, v2.n);
		assert_int_equal(v1.n, v3.n);
		assert_memory_equal(v1.id, v2.id, v1.n * sizeof(*v1.id));
		assert_memory_equal(v1.val, v2.val, v1.n * sizeof(*v1.val));
		assert_memory_equal(v1.id, v3.id, v1.n * sizeof(*v1.id));
		assert_memory_equal(v1.val, v3.val, v1.n * sizeof(*v1.val));
	}
	/* A reused vector is reset, not appended to: a short text after a long one. */
	extract_text(a, texts[0].subject, texts[0].body, texts[0].lang, &v1);
	extract_text(a, "", "", "en", &v1);
	extract_text(b, "", "", "en", &v2);
	assert_int_equal(v1.n, v2.n);
	assert_memory_equal(v1.id, v2.id, v1.n * sizeof(*v1.id));

	feature_vec_release(&v1);
	feature_vec_release(&v2);
	feature_vec_release(&v3);
	assert_null(v1.id);
	assert_int_equal(v1.n, 0);
	features_free(&a);
	features_free(&b);
	assert_null(a);
	features_free(&b); /* NULL is fine */
	features_free(NULL);
}

/* ---- stems ---- */

struct stem_case {
	const char *lang;
	const char *a, *b;  /* two inflections */
	const char *stem;   /* their common stem */
	const char *absent; /* a w: name that must not appear (an unstemmed form), or NULL */
};

static const struct stem_case stems[] = {
    /* Snowball's Danish stemmer strips -e/-er/-es, not the participle's -t: "aflyst" stays
       "aflyst", so the pair the model can join is aflyse/aflyser. */
    {"da", "aflyse", "aflyser", "aflys", "w:aflyser"},
    {"da", "aflyse", "aflyses", "aflys", "w:aflyses"},
    {"de", "Zahlung", "Zahlungen", "zahlung", "w:zahlungen"},
    {"de", "Rechnung", "Rechnungen", "rechnung", "w:rechnungen"},
    {"en", "cancelled", "cancelling", "cancel", "w:cancelled"},
    {"en", "payments", "payment", "payment", "w:payments"},
    /* Without a language the lower-cased word is the feature. */
    {NULL, "Cancelled", "CANCELLED", "cancelled", "w:cancel"},
    /* Latin-1 capitals are lower-cased too (Æ Ø Å Ä Ö Ü). */
    {NULL, "ÆRGERLIG", "ærgerlig", "ærgerlig", NULL},
    {NULL, "ÜBERWEISUNG", "Überweisung", "überweisung", NULL},
};

static void test_stems(void **state)
{
	struct features *fx = features_new();
	struct feature_vec va = {0}, vb = {0};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(stems); i++) {
		const struct stem_case *c = &stems[i];
		char *w = xasprintf("w:%s", c->stem);

		extract_text(fx, "", c->a, c->lang, &va);
		extract_text(fx, "", c->b, c->lang, &vb);
		if (!has(&va, w) || !has(&vb, w))
			fail_msg("case %zu (%s): %s: in \"%s\" %d, in \"%s\" %d", i,
			         c->lang ? c->lang : "-", w, c->a, has(&va, w), c->b, has(&vb, w));
		if (c->absent && (has(&va, c->absent) || has(&vb, c->absent)))
			fail_msg("case %zu: %s present", i, c->absent);
		free(w);
	}
	/* The Danish participle is a stem of its own (see the table's note). */
	extract_text(fx, "", "aflyst", "da", &va);
	assert_true(has(&va, "w:aflyst"));
	assert_false(has(&va, "w:aflys"));
	/* Numbers are one feature, whatever the digits. */
	extract_text(fx, "", "Rechnung 2041", "de", &va);
	extract_text(fx, "", "Rechnung 17", "de", &vb);
	assert_true(has(&va, "w:<n>"));
	assert_true(has(&va, "b:rechnung <n>"));
	assert_int_equal(va.n, vb.n);
	assert_memory_equal(va.id, vb.id, va.n * sizeof(*va.id));
	feature_vec_release(&va);
	feature_vec_release(&vb);
	features_free(&fx);
}

/* ---- compounds ---- */

static void test_compound_grams(void **state)
{
	static const char *const shared[] = {"c:erin", "c:rinn", "c:inne", "c:nner",
	                                     "c:neru", "c:erun", "c:rung"};
	struct features *fx = features_new();
	struct feature_vec vc = {0}, vp = {0};
	size_t common = 0, grams_c = 0;
	struct seen s = {0};
	struct features_input in = {0};
	struct judged j;

	(void)state;
	extract_text(fx, "", "zahlungserinnerung", "de", &vc);
	extract_text(fx, "", "erinnerung", "de", &vp);
	check_vec(&vc);
	/* Their stems differ: only the character grams join them. */
	assert_true(has(&vc, "w:zahlungserinner"));
	assert_true(has(&vp, "w:erinner"));
	assert_false(has(&vc, "w:erinner"));
	for (size_t i = 0; i < ARRAY_SIZE(shared); i++) {
		assert_true(has(&vc, shared[i]));
		assert_true(has(&vp, shared[i]));
	}
	assert_false(has(&vp, "c:zahl"));
	assert_true(has(&vc, "c:zahl"));

	/* Count the c: ids in common through the callback's names. */
	judged_make(&j, "", "zahlungserinnerung", "de");
	in.text = &j.ri;
	features_extract(fx, &in, &vc, collect, &s);
	for (size_t i = 0; i < s.n; i++) {
		if (strncmp(s.v[i].name, "c:", 2) != 0)
			continue;
		grams_c++;
		common += find(&vp, s.v[i].id) >= 0;
	}
	assert_int_equal(grams_c, strlen("zahlungserinnerung") - 3);
	assert_int_equal(common, ARRAY_SIZE(shared));

	/* Short words give no grams (below 8 bytes). */
	extract_text(fx, "", "Termin", "de", &vp);
	for (size_t i = 0; i < vp.n; i++)
		assert_false(vp.id[i] == features_id("c:term"));

	free(s.v);
	judged_free(&j);
	feature_vec_release(&vc);
	feature_vec_release(&vp);
	features_free(&fx);
}

/* ---- subject, bigrams, sentences ---- */

static void test_subject_and_bigrams(void **state)
{
	struct features *fx = features_new();
	struct feature_vec v = {0};

	(void)state;
	extract_text(fx, "Urgent invoice", "Please pay today. Thanks again", NULL, &v);
	check_vec(&v);
	/* Subject words: w: and s:; body words: w: only. */
	assert_true(has(&v, "w:urgent"));
	assert_true(has(&v, "s:urgent"));
	assert_true(has(&v, "s:invoice"));
	assert_true(has(&v, "w:please"));
	assert_false(has(&v, "s:please"));
	assert_false(has(&v, "s:today"));
	assert_false(has(&v, "s:thanks"));
	/* Bigrams within a sentence, none across the subject's end or a full stop. */
	assert_true(has(&v, "b:urgent invoice"));
	assert_true(has(&v, "b:please pay"));
	assert_true(has(&v, "b:pay today"));
	assert_true(has(&v, "b:thanks again"));
	assert_false(has(&v, "b:invoice please"));
	assert_false(has(&v, "b:today thanks"));

	/* A blank line ends a sentence too; a single newline does not. */
	extract_text(fx, "", "one two\n\nthree four\nfive", NULL, &v);
	assert_true(has(&v, "b:one two"));
	assert_false(has(&v, "b:two three"));
	assert_true(has(&v, "b:four five"));

	/* Stemmed bigrams in the message's language. */
	extract_text(fx, "", "Zahlungen erhalten", "de", &v);
	assert_true(has(&v, "b:zahlung erhalt"));

	/* Words over 40 bytes (URLs, hashes) are no features. */
	extract_text(fx, "", "aaaaaaaaaabbbbbbbbbbccccccccccddddddddddx ok", NULL, &v);
	assert_false(has(&v, "w:aaaaaaaaaabbbbbbbbbbccccccccccddddddddddx"));
	assert_false(has(&v, "c:aaaa"));
	assert_true(has(&v, "w:ok"));
	feature_vec_release(&v);
	features_free(&fx);
}

/* ---- rule hits and message facts ---- */

static void test_hits_and_facts(void **state)
{
	struct rules_signal rush = {.id = "rush", .text = true};
	struct rules_signal pay = {.id = "payment", .text = true};
	const struct rules_hit hits[] = {
	    {.signal = &rush, .rule = "en.rush.asap", .weight = 1.0, .start = 0, .end = 6},
	    {.signal = &rush, .rule = "en.rush.today", .weight = 1.0, .start = 18, .end = 23},
	    {.signal = &pay, .rule = "en.payment.overdue", .weight = 2.0, .start = 8, .end = 15},
	};
	static const struct {
		bool reply, forward;
		size_t n_rcpt;
		const char *present[4], *absent[4];
	} facts[] = {
	    {false, false, 0, {"m:rcpt=?", "m:dir=in", "m:lang=en"}, {"m:reply", "m:forward"}},
	    {true, false, 1, {"m:reply", "m:rcpt=1"}, {"m:forward", "m:rcpt=?"}},
	    {false, true, 3, {"m:forward", "m:rcpt=2-3"}, {"m:reply"}},
	    {true, true, 10, {"m:reply", "m:forward", "m:rcpt=4-10"}, {NULL}},
	    {false, false, 11, {"m:rcpt=11+"}, {"m:rcpt=4-10"}},
	};
	struct features *fx = features_new();
	struct feature_vec v = {0};
	struct judged j;
	struct seen s = {0};

	(void)state;
	judged_make(&j, "Urgent", "invoice overdue, pay today", "en");
	for (size_t i = 0; i < ARRAY_SIZE(facts); i++) {
		struct features_input in = {.text = &j.ri,
		                            .hits = hits,
		                            .n_hits = ARRAY_SIZE(hits),
		                            .reply = facts[i].reply,
		                            .forward = facts[i].forward,
		                            .n_rcpt = facts[i].n_rcpt};

		features_extract(fx, &in, &v, NULL, NULL);
		check_vec(&v);
		assert_true(value(&v, "r:en.rush.asap") == 1.0f);
		assert_true(value(&v, "r:en.rush.today") == 1.0f);
		assert_true(value(&v, "r:en.payment.overdue") == 1.0f);
		assert_true(value(&v, "h:rush") == 1.0f);
		assert_true(value(&v, "h:payment") == 1.0f);
		assert_false(has(&v, "h:discount"));
		for (size_t k = 0; k < 4 && facts[i].present[k]; k++)
			if (!has(&v, facts[i].present[k]) || value(&v, facts[i].present[k]) != 1.0f)
				fail_msg("facts %zu: %s missing or not 1", i, facts[i].present[k]);
		for (size_t k = 0; k < 4 && facts[i].absent[k]; k++)
			if (has(&v, facts[i].absent[k]))
				fail_msg("facts %zu: %s present", i, facts[i].absent[k]);
	}
	/* Rule features carry the hit's span; message facts none. */
	{
		struct features_input in = {.text = &j.ri, .hits = hits, .n_hits = 1};

		features_extract(fx, &in, &v, collect, &s);
	}
	for (size_t i = 0; i < s.n; i++) {
		if (strcmp(s.v[i].name, "r:en.rush.asap") == 0 ||
		    strcmp(s.v[i].name, "h:rush") == 0) {
			assert_int_equal(s.v[i].start, 0);
			assert_int_equal(s.v[i].end, 6);
		} else if (strncmp(s.v[i].name, "m:", 2) == 0) {
			assert_int_equal(s.v[i].start, s.v[i].end);
		}
	}
	/* Direction and language facts. */
	j.ri.direction = RULES_DIR_OUT;
	j.ri.lang = NULL;
	{
		struct features_input in = {.text = &j.ri};

		features_extract(fx, &in, &v, NULL, NULL);
	}
	assert_true(has(&v, "m:dir=out"));
	assert_true(has(&v, "m:lang=?"));
	assert_false(has(&v, "m:dir=in"));
	assert_false(has(&v, "h:rush"));

	free(s.v);
	judged_free(&j);
	feature_vec_release(&v);
	features_free(&fx);
}

/* ---- values ---- */

static void test_text_values(void **state)
{
	struct rules_signal rush = {.id = "rush", .text = true};
	const struct rules_hit hit = {
	    .signal = &rush, .rule = "de.rush.sofort", .start = 0, .end = 6};
	struct features *fx = features_new();
	struct feature_vec v = {0};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(texts); i++) {
		struct judged j;
		struct seen s = {0};
		struct features_input in = {0};
		uint32_t *text_ids;
		size_t n_text = 0, n_other = 0;
		float want;

		judged_make(&j, texts[i].subject, texts[i].body, texts[i].lang);
		in.text = &j.ri;
		in.hits = &hit;
		in.n_hits = 1;
		features_extract(fx, &in, &v, collect, &s);
		check_vec(&v);
		/* The distinct text ids, from the callback's names. */
		text_ids = xcalloc(s.n + 1, sizeof(*text_ids));
		for (size_t k = 0; k < s.n; k++) {
			size_t m;

			if (!is_text_name(s.v[k].name))
				continue;
			for (m = 0; m < n_text && text_ids[m] != s.v[k].id; m++)
				;
			if (m == n_text)
				text_ids[n_text++] = s.v[k].id;
		}
		want = n_text ? (float)(1.0 / sqrt((double)n_text)) : 0.0f;
		for (size_t k = 0; k < v.n; k++) {
			bool text = false;

			for (size_t m = 0; m < n_text; m++)
				text |= text_ids[m] == v.id[k];
			if (text) {
				if (v.val[k] != want)
					fail_msg("text %zu: value %g, want 1/sqrt(%zu) = %g", i,
					         (double)v.val[k], n_text, (double)want);
			} else {
				assert_true(v.val[k] == 1.0f);
				n_other++;
			}
		}
		assert_int_equal(n_text + n_other, v.n);
		/* r:, h: and 4 message facts (dir, rcpt, len, lang). */
		assert_int_equal(n_other, 2 + 4);
		free(text_ids);
		free(s.v);
		judged_free(&j);
	}
	feature_vec_release(&v);
	features_free(&fx);
}

/* ---- the ceiling ---- */

static double seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_text_ceiling(void **state)
{
	const size_t big = 1u << 20;
	struct features *fx = features_new();
	struct feature_vec v = {0}, vp = {0};
	struct strbuf b = STRBUF_INIT;
	struct seen s = {0};
	struct rules_input ri = {.lang = "en", .direction = RULES_DIR_IN};
	struct features_input in = {.text = &ri};
	size_t max_end = 0, n_big_text = 0, n_pre_text = 0;
	double t0;

	(void)state;
	/* Distinct words all the way, so a text without a ceiling would keep adding features. */
	for (unsigned i = 0; b.len < big; i++)
		strbuf_appendf(&b, "word%u longerword%u. ", i, i);
	ri.text = b.data;
	ri.len = b.len;
	ri.body_start = 0;

	t0 = seconds();
	features_extract(fx, &in, &v, collect, &s);
	if (seconds() - t0 > 5.0)
		fail_msg("1 MB took %.1f s", seconds() - t0);
	check_vec(&v);
	for (size_t i = 0; i < s.n; i++) {
		if (s.v[i].end > max_end)
			max_end = s.v[i].end;
		n_big_text += is_text_name(s.v[i].name);
	}
	assert_true(max_end <= FEATURES_TEXT_MAX);
	assert_true(max_end > FEATURES_TEXT_MAX - 64); /* the ceiling, not less */
	/* At most a handful of features per byte considered. */
	assert_true(v.n < FEATURES_TEXT_MAX);

	/* The text features are exactly those of the first FEATURES_TEXT_MAX bytes. */
	free(s.v);
	memset(&s, 0, sizeof(s));
	ri.len = FEATURES_TEXT_MAX;
	features_extract(fx, &in, &vp, collect, &s);
	for (size_t i = 0; i < s.n; i++)
		n_pre_text += is_text_name(s.v[i].name);
	assert_int_equal(n_big_text, n_pre_text);
	assert_int_equal(v.n, vp.n);
	/* Only the length fact differs. */
	{
		size_t only_big = 0, only_pre = 0;

		for (size_t i = 0; i < v.n; i++)
			only_big += find(&vp, v.id[i]) < 0;
		for (size_t i = 0; i < vp.n; i++)
			only_pre += find(&v, vp.id[i]) < 0;
		assert_int_equal(only_big, 1);
		assert_int_equal(only_pre, 1);
		char want[16];
		int lb = 0;

		while ((FEATURES_TEXT_MAX >> lb) > 64)
			lb++;
		snprintf(want, sizeof(want), "m:len=%d", lb);
		assert_true(has(&v, "m:len=14")); /* 1 MB >> 14 == 64 */
		assert_false(has(&v, want));
		assert_true(has(&vp, want)); /* FEATURES_TEXT_MAX >> lb == 64 */
	}

	free(s.v);
	strbuf_release(&b);
	feature_vec_release(&v);
	feature_vec_release(&vp);
	features_free(&fx);
}

/* ---- hostile input ---- */

struct bytes_case {
	const char *text;
	size_t len; /* 0: strlen */
};

static const struct bytes_case hostile[] = {
    {"\xff\xfe\xfd", 0},
    {"abc\xc3", 0},                         /* a cut 2-byte sequence at the end */
    {"\xc3", 0},                            /* only that */
    {"za\xe2\x80", 0},                      /* a cut 3-byte sequence */
    {"ok \xf0\x9f\x98", 0},                 /* a cut 4-byte sequence */
    {"\x80\x80\xbf stray continuation", 0}, /* continuation bytes alone */
    {"\xc0\xaf overlong \xe0\x80\xaf", 0},  /* overlong forms */
    {"\xed\xa0\x80 surrogate", 0},          /* an encoded surrogate */
    {"\xf8\x88\x80\x80\x80 five bytes", 0}, /* not UTF-8 at all */
    {"\xc3\x28 \xe2\x28\xa1 \xf0\x28\x8c\xbc", 0},
    {"a\0b\0c nul bytes inside", 22}, /* text need not be a C string */
    {"\xfe\xfe\xfe\xfe\xfe\xfe\xfe\xfe\xfe\xfe\xfe\xfe", 0},
    {"ÆØÅæøå ÄÖÜß \xc3\x9f\xc3\x9f\xc3\x9f\xc3\x9f\xc3\x9f\xc3\x9f\xc3\x9f\xc3\x9f", 0},
    {"........!!!!????\n\n\n\n", 0},
    {"", 0},
};

static void test_hostile_bytes(void **state)
{
	static const char *const langs[] = {"da", "de", "en", NULL, "xx"};
	struct features *fx = features_new();
	struct feature_vec v = {0};

	(void)state;
	for (size_t l = 0; l < ARRAY_SIZE(langs); l++)
		for (size_t i = 0; i < ARRAY_SIZE(hostile); i++) {
			size_t len = hostile[i].len ? hostile[i].len : strlen(hostile[i].text);
			/* A copy of exactly len bytes, so valgrind sees any read past the end. */
			char *t = xmalloc(len ? len : 1);
			struct rules_input ri = {.text = t, .len = len, .lang = langs[l]};
			struct features_input in = {.text = &ri};
			struct seen s = {0};

			memcpy(t, hostile[i].text, len);
			/* The whole text as subject, then as body. */
			for (int half = 0; half < 2; half++) {
				ri.body_start = half ? 0 : len;
				s.n = 0;
				features_extract(fx, &in, &v, collect, &s);
				check_vec(&v);
				assert_true(v.n >= 4); /* message facts */
				for (size_t k = 0; k < s.n; k++) {
					assert_true(s.v[k].start <= s.v[k].end);
					assert_true(s.v[k].end <= len);
				}
			}
			free(s.v);
			free(t);
		}

	/* Empty text: the message facts only, each worth 1. */
	{
		struct rules_input ri = {.text = "", .len = 0, .lang = "en"};
		struct features_input in = {.text = &ri};

		features_extract(fx, &in, &v, NULL, NULL);
		assert_int_equal(v.n, 4);
		for (size_t k = 0; k < v.n; k++)
			assert_true(v.val[k] == 1.0f);
		assert_true(has(&v, "m:len=0"));
		assert_true(has(&v, "m:dir=?"));
	}
	feature_vec_release(&v);
	features_free(&fx);
}

/* ---- the callback ---- */

static void test_each_callback(void **state)
{
	struct features *fx = features_new();
	struct feature_vec v = {0}, v_plain = {0};
	struct seen s = {0};
	struct judged j;
	struct features_input in = {0};
	bool seen_subject_word = false;

	(void)state;
	judged_make(&j, "Meeting", "Please confirm the appointment. Thanks, Anna", NULL);
	in.text = &j.ri;
	features_extract(fx, &in, &v, collect, &s);
	extract_text(fx, "Meeting", "Please confirm the appointment. Thanks, Anna", NULL, &v_plain);
	/* The callback changes nothing in the result. */
	assert_int_equal(v.n, v_plain.n);
	assert_memory_equal(v.id, v_plain.id, v.n * sizeof(*v.id));
	assert_memory_equal(v.val, v_plain.val, v.n * sizeof(*v.val));

	assert_true(s.n >= v.n);
	for (size_t i = 0; i < s.n; i++) {
		const struct seen_occ *o = &s.v[i];

		/* Names are "x:..." and hash to the id. */
		assert_true(strlen(o->name) > 2 && o->name[1] == ':');
		assert_int_equal(features_id(o->name), o->id);
		assert_true(find(&v, o->id) >= 0);
		assert_true(o->start <= o->end && o->end <= j.ri.len);
		if (is_text_name(o->name)) {
			assert_true(o->start < o->end);
			/* Without a language the w: name is the lower-cased word at the span. */
			if (strncmp(o->name, "w:", 2) == 0) {
				size_t n = o->end - o->start;
				char word[64];

				assert_true(n < sizeof(word));
				for (size_t k = 0; k < n; k++) {
					char c = j.ri.text[o->start + k];

					word[k] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
				}
				word[n] = '\0';
				assert_string_equal(o->name + 2, word);
			}
			if (strncmp(o->name, "s:", 2) == 0) {
				assert_true(o->end <= j.ri.body_start);
				seen_subject_word |= strcmp(o->name, "s:meeting") == 0;
			}
			/* A bigram's span is its second word. */
			if (strcmp(o->name, "b:please confirm") == 0)
				assert_memory_equal(j.ri.text + o->start, "confirm",
				                    o->end - o->start);
		}
	}
	assert_true(seen_subject_word);
	/* Every id of the vector was seen. */
	for (size_t k = 0; k < v.n; k++) {
		bool found = false;

		for (size_t i = 0; i < s.n && !found; i++)
			found = s.v[i].id == v.id[k];
		assert_true(found);
	}
	free(s.v);
	judged_free(&j);
	feature_vec_release(&v);
	feature_vec_release(&v_plain);
	features_free(&fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_deterministic),  cmocka_unit_test(test_stems),
	    cmocka_unit_test(test_compound_grams), cmocka_unit_test(test_subject_and_bigrams),
	    cmocka_unit_test(test_hits_and_facts), cmocka_unit_test(test_text_values),
	    cmocka_unit_test(test_text_ceiling),   cmocka_unit_test(test_hostile_bytes),
	    cmocka_unit_test(test_each_callback),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
