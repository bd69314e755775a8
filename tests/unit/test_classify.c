/*
 * classify: subject prefixes, language detection, excerpts, list/automated mail, time signals
 * across DST edges, old_rate, the labelled fixtures per language, and phrase tables per
 * language (the rule packs' own unit tests: natural client sentences, positives and hard
 * negatives).
 *
 * The shipped packs and the fixtures are read from the repository (tests run from its root,
 * as make unit does); hand-written packs go to a mkdtemp() directory.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "testfs.h"

#include "redflag/calendar.h"
#include "redflag/classify.h"
#include "redflag/message.h"
#include "redflag/rules.h"
#include "redflag/util.h"

/* ---- helpers ---- */

static const char *find_path(const char *rel)
{
	static const char *const up[] = {"", "../", "../../", "../../../"};
	static char buf[512];

	for (size_t i = 0; i < ARRAY_SIZE(up); i++) {
		snprintf(buf, sizeof(buf), "%s%s", up[i], rel);
		if (access(buf, R_OK) == 0)
			return buf;
	}
	fail_msg("%s not found: run from the repository root", rel);
	return NULL;
}

static struct rules *load_shipped(void)
{
	struct strbuf errors = STRBUF_INIT;
	char *dir = xstrdup(find_path("conf/rules"));
	char *sig = xstrdup(find_path("conf/signals.conf"));
	struct rules *r = NULL;

	if (rules_load(dir, sig, &r, &errors) != 0)
		fail_msg("shipped packs do not load:\n%s", errors.data ? errors.data : "");
	free(dir);
	free(sig);
	return r;
}

static char *slurp(const char *path, size_t *len)
{
	struct strbuf b = STRBUF_INIT;
	char buf[8192];
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f)
		fail_msg("cannot open %s", path);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		strbuf_append(&b, buf, n);
	fclose(f);
	return strbuf_detach(&b, len);
}

/* Seconds since the epoch for a UTC time (days from civil), independent of the C library. */
static int64_t utc(int y, int mo, int d, int h, int mi)
{
	int64_t era, yoe, doy, doe;

	y -= mo <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return ((era * 146097 + doe - 719468) * 24 + h) * 3600 + (int64_t)mi * 60;
}

/* Strict UTF-8: no stray continuation bytes, overlong forms, surrogates or cut sequences. */
static bool valid_utf8(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;

	while (p < end) {
		unsigned char c = *p++;
		uint32_t cp;
		int more;

		if (c < 0x80)
			continue;
		if (c >= 0xC2 && c <= 0xDF) {
			more = 1;
			cp = c & 0x1F;
		} else if (c >= 0xE0 && c <= 0xEF) {
			more = 2;
			cp = c & 0x0F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			more = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (end - p < more)
			return false;
		for (int i = 0; i < more; i++) {
			if ((p[i] & 0xC0) != 0x80)
				return false;
			cp = cp << 6 | (p[i] & 0x3F);
		}
		p += more;
		if ((more == 2 && cp < 0x800) || (more == 3 && cp < 0x10000) || cp > 0x10FFFF ||
		    (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
	}
	return true;
}

/* The entry for signal in res, or NULL. */
static const struct classify_signal *find_signal(const struct classify_result *res,
                                                 const char *signal)
{
	for (size_t i = 0; i < res->n; i++)
		if (strcmp(res->v[i].signal, signal) == 0)
			return &res->v[i];
	return NULL;
}

/* The text signals of res, in result order, joined by ";" ("" when none). */
static char *text_signals(struct rules *r, const struct classify_result *res)
{
	struct strbuf b = STRBUF_INIT;

	for (size_t i = 0; i < res->n; i++) {
		const struct rules_signal *s = rules_signal_find(r, res->v[i].signal);

		assert_non_null(s);
		if (s->text)
			strbuf_appendf(&b, "%s%s", b.len ? ";" : "", res->v[i].signal);
	}
	return strbuf_detach(&b, NULL);
}

/* ---- classify_subject ---- */

struct subject_case {
	const char *in;
	const char *want;
};

static const struct subject_case subject_cases[] = {
    {"Re: AW: SV: Fwd: WG: x", "x"},
    {"RE[2]: x", "x"},
    {"Re[12]: x", "x"},
    {"Re(3): x", "x"},
    {"Re (3): x", "Re (3): x"}, /* a count after a space is not recognised */
    {"Re[]: x", "Re[]: x"},     /* brackets without a count are not a count */
    {"[list] Re: x", "x"},
    {"Re: [list] x", "x"},
    {"Fwd: Re: [Ext] Re: Tilbud", "Tilbud"},
    {"Antw: x", "x"},
    {"Fw: x", "x"},
    {"VS: x", "x"},
    {"TR: x", "x"},
    {"Ref: x", "x"},
    {"aw: Termin", "Termin"},
    {"AW:AW:AW: Termin", "Termin"},
    {"Re : x", "x"},
    {"  Re:x", "x"},
    {"Re:\tx", "x"},
    {"Hello", "Hello"},
    {"  Hello", "Hello"},
    {"Re:", ""},
    {"Re: ", ""},
    {"", ""},
    {"Reply all", "Reply all"}, /* no colon: a word, not a prefix */
    {"Re: Reply all", "Reply all"},
    {"Referat fra mødet", "Referat fra mødet"},
    {"Aw shucks", "Aw shucks"},
    {"Svar på tilbud", "Svar på tilbud"},
    {"[a list tag far too long to be one, forty+] x",
     "[a list tag far too long to be one, forty+] x"},
    {"Re: Haster: ny plakat", "Haster: ny plakat"},
    {"Re: Möte: Übergabe", "Möte: Übergabe"},
};

static void test_subject(void **state)
{
	char *got;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(subject_cases); i++) {
		got = classify_subject(subject_cases[i].in);
		if (strcmp(got, subject_cases[i].want) != 0)
			fail_msg("classify_subject(\"%s\") = \"%s\", want \"%s\"",
			         subject_cases[i].in, got, subject_cases[i].want);
		free(got);
	}
	got = classify_subject(NULL);
	assert_string_equal(got, "");
	free(got);
}

/* ---- classify_language ---- */

struct lang_case {
	const char *text;
	const char *want; /* NULL: undetermined */
};

static const struct lang_case lang_cases[] = {
    {"Hej Mette, tak for sidst. Kan du sende filerne i morgen?", "da"},
    {"Kære Mette\n\nVi er meget glade for plakaterne, de blev rigtig flotte.", "da"},
    {"HEJ, KAN DU SENDE DET I DAG?", "da"},
    {"Æblegrød", "da"},
    {"Hallo Jonas, vielen Dank für die Entwürfe. Können wir morgen telefonieren?", "de"},
    {"Sehr geehrter Herr Weber,\nanbei die Unterlagen. Mit freundlichen Grüßen", "de"},
    {"Grüße", "de"},
    {"Hi Sam, thanks for the draft. Could you send the final version tomorrow?", "en"},
    {"Dear Sam,\n\nPlease find the contract attached. Kind regards", "en"},
    {"Hej Sam, could you please send the files when you have a moment? Thanks", "en"},
    {"", NULL},
    {"1234", NULL},
    {"!!! ??? ... 12:30", NULL},
    {"OK", NULL},
    {"Hi", NULL},
    {"Tak!", NULL},
    {"Danke", NULL},
    {"Hi, danke!", NULL},
    {"Ok, tak, danke, thanks", NULL},
    {"Logo v3 final FINAL.pdf", NULL},
};

static void test_language(void **state)
{
	char *exact;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(lang_cases); i++) {
		const struct lang_case *c = &lang_cases[i];
		const char *got = classify_language(c->text, strlen(c->text));

		if ((got == NULL) != (c->want == NULL) || (got && strcmp(got, c->want) != 0))
			fail_msg("classify_language(\"%s\") = %s, want %s", c->text,
			         got ? got : "NULL", c->want ? c->want : "NULL");
	}
	/* len is respected: only "Hej" is seen, and the buffer need not be terminated. */
	assert_null(classify_language("Hej, kan du sende det?", 3));
	exact = xmalloc(22);
	memcpy(exact, "Hej, kan du sende det?", 22);
	assert_string_equal(classify_language(exact, 22), "da");
	free(exact);
}

/* ---- a hand-written pack for excerpts and per-signal selection ---- */

struct tree {
	char root[256];
	char rules[300];
	char signals[300];
};

static const char test_signals[] = "signals = (\n"
                                   "  { id = \"rush\"; polarity = \"red\"; weight = 1.0;\n"
                                   "    description = { da = \"r\"; de = \"r\"; en = \"r\"; }; },\n"
                                   "  { id = \"praise\"; polarity = \"green\"; weight = 1.0;\n"
                                   "    description = { da = \"p\"; de = \"p\"; en = \"p\"; }; }\n"
                                   ");\n";

static const char test_pack[] =
    "language = \"da\";\n"
    "rules = (\n"
    "  { id = \"da.praise.flot\"; signal = \"praise\"; patterns = [ \"\\\\bflot\\\\b\" ];\n"
    "    guards = [ \"\\\\bikke\\\\b\" ]; },\n"
    "  { id = \"da.rush.haster\"; signal = \"rush\"; weight = 1.0;\n"
    "    patterns = [ \"\\\\bhaster\\\\b\" ]; },\n"
    "  { id = \"da.rush.straks\"; signal = \"rush\"; weight = 2.0;\n"
    "    patterns = [ \"\\\\bstraks\\\\b\" ]; },\n"
    "  { id = \"da.rush.nu\"; signal = \"rush\"; weight = 2.0;\n"
    "    patterns = [ \"\\\\bnu nu nu\\\\b\" ]; },\n"
    "  { id = \"da.praise.lang\"; signal = \"praise\"; weight = 0.5;\n"
    "    patterns = [ \"\\\\bstart\\\\b[^.!?]*\\\\bslut\\\\b\" ]; }\n"
    ");\n";

struct env {
	struct tree t;
	struct rules *r;
};

static void env_load(struct env *e)
{
	struct strbuf errors = STRBUF_INIT;
	const char *tmp = getenv("TMPDIR");

	snprintf(e->t.root, sizeof(e->t.root), "%s/rf-classify-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(e->t.root));
	snprintf(e->t.rules, sizeof(e->t.rules), "%s/rules", e->t.root);
	snprintf(e->t.signals, sizeof(e->t.signals), "%s/signals.conf", e->t.root);
	assert_int_equal(mkdir(e->t.rules, 0700), 0);
	put_file(e->t.root, "signals.conf", test_signals);
	put_file(e->t.rules, "da.conf", test_pack);
	if (rules_load(e->t.rules, e->t.signals, &e->r, &errors) != 0)
		fail_msg("test pack does not load:\n%s", errors.data ? errors.data : "");
	strbuf_release(&errors);
}

static void env_free(struct env *e)
{
	rules_free(&e->r);
	remove_tree(e->t.root);
}

/* Runs one body (and subject) through classify_message and returns the excerpt of signal. */
static char *excerpt_of(struct rules *r, const char *subject, const char *text, const char *signal,
                        const char **rule)
{
	struct classify_input in = {.subject = subject, .text = text};
	struct classify_result res;
	const struct classify_signal *s;
	char *ex;

	classify_message(r, NULL, &in, &res);
	s = find_signal(&res, signal);
	if (!s)
		fail_msg("no %s signal for \"%.60s...\"", signal, text);
	ex = xstrdup(s->excerpt);
	if (rule)
		*rule = s->rule; /* owned by r */
	classify_result_release(&res);
	assert_null(res.v);
	assert_int_equal(res.n, 0);
	return ex;
}

static char *repeat(const char *unit, size_t n)
{
	struct strbuf b = STRBUF_INIT;

	for (size_t i = 0; i < n; i++)
		strbuf_appends(&b, unit);
	return strbuf_detach(&b, NULL);
}

static bool starts_with(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

static bool ends_with(const char *s, const char *p)
{
	size_t ls = strlen(s), lp = strlen(p);

	return ls >= lp && strcmp(s + ls - lp, p) == 0;
}

/* What every excerpt must be: short, valid UTF-8, one line, the match inside. */
static void check_excerpt(const char *ex, const char *must_contain)
{
	size_t len = strlen(ex);

	if (len > CLASSIFY_EXCERPT_MAX)
		fail_msg("excerpt of %zu bytes: \"%s\"", len, ex);
	if (!valid_utf8(ex, len))
		fail_msg("excerpt is not valid UTF-8: \"%s\"", ex);
	if (strpbrk(ex, "\n\r\t"))
		fail_msg("excerpt has a line break or tab: \"%s\"", ex);
	if (must_contain && !strstr(ex, must_contain))
		fail_msg("excerpt \"%s\" lacks \"%s\"", ex, must_contain);
	assert_false(starts_with(ex, " "));
	assert_false(ends_with(ex, " "));
}

static void test_excerpt(void **state)
{
	struct env e;
	char *before, *after, *text, *ex;
	const char *rule;

	(void)state;
	env_load(&e);

	/* Nothing cut: the whole sentence, no marks. */
	ex = excerpt_of(e.r, NULL, "Det haster.", "rush", NULL);
	assert_string_equal(ex, "Det haster.");
	free(ex);

	/* Cut on both sides, at word boundaries, marked. */
	before = repeat("ord ", 60);
	after = repeat(" ord", 60);
	text = xasprintf("%shaster%s", before, after);
	ex = excerpt_of(e.r, NULL, text, "rush", NULL);
	check_excerpt(ex, "haster");
	assert_true(starts_with(ex, "… ord"));
	assert_true(ends_with(ex, "ord …"));
	free(ex);
	free(text);
	free(before);
	free(after);

	/* Multi-byte context: a cut never splits a character. */
	for (size_t shift = 0; shift < 4; shift++) {
		before = repeat("æøå ", 40);
		after = repeat(" ÆØÅ", 40);
		/* A word of 1 to 4 bytes next to the match moves the cut through the letters. */
		text = xasprintf("%s%.*s haster %.*s%s", before, (int)shift + 1, "wxyz",
		                 (int)(4 - shift), "wxyz", after);
		ex = excerpt_of(e.r, NULL, text, "rush", NULL);
		check_excerpt(ex, "haster");
		assert_true(starts_with(ex, "… "));
		assert_true(ends_with(ex, " …"));
		free(ex);
		free(text);
		free(before);
		free(after);
	}

	/* No blanks to cut at: the match alone, marked on both sides. */
	before = repeat("—", 40);
	after = repeat("—", 40);
	text = xasprintf("%shaster%s", before, after);
	ex = excerpt_of(e.r, NULL, text, "rush", NULL);
	check_excerpt(ex, "haster");
	assert_true(starts_with(ex, "…"));
	assert_true(ends_with(ex, "…"));
	free(ex);
	free(text);
	free(before);
	free(after);

	/* Line breaks, CRLF, tabs and no-break spaces are folded into single spaces. */
	ex = excerpt_of(e.r, NULL, "Hej\r\n\r\nDet\nhaster\tvirkelig\u00a0meget.\n\nMvh\nMette",
	                "rush", NULL);
	check_excerpt(ex, "Det haster virkelig meget.");
	assert_string_equal(ex, "Hej Det haster virkelig meget. Mvh Mette");
	free(ex);

	/* A match longer than the excerpt: cut to the ceiling, UTF-8 intact, marked. */
	for (size_t shift = 0; shift < 3; shift++) {
		before = repeat("å", 150 + shift);
		text = xasprintf("start %s slut", before);
		ex = excerpt_of(e.r, NULL, text, "praise", &rule);
		assert_string_equal(rule, "da.praise.lang");
		check_excerpt(ex, "start");
		assert_true(ends_with(ex, "…"));
		assert_true(strlen(ex) > CLASSIFY_EXCERPT_MAX - 8);
		free(ex);
		free(text);
		free(before);
	}

	/* A match in the subject: the excerpt stays in the subject. */
	after = repeat("ord ", 100);
	ex = excerpt_of(e.r, "Re: Haster: ny plakat", after, "rush", NULL);
	assert_string_equal(ex, "Haster: ny plakat");
	free(ex);
	free(after);

	/* At the end of the body: cut before, not after. */
	before = repeat("ord ", 60);
	text = xasprintf("%set haster", before);
	ex = excerpt_of(e.r, "Emne", text, "rush", NULL);
	check_excerpt(ex, "et haster");
	assert_true(starts_with(ex, "… "));
	assert_true(ends_with(ex, "et haster"));
	free(ex);
	free(text);
	free(before);
	env_free(&e);
}

/* One entry per signal, in catalogue order, carried by its strongest rule (first among equals). */
static void test_one_entry_per_signal(void **state)
{
	struct classify_input in = {
	    .subject = "Haster", .text = "Straks! nu nu nu, flot, haster, straks", .flags = 0};
	struct classify_result res;
	struct env e;

	(void)state;
	env_load(&e);
	classify_message(e.r, NULL, &in, &res);
	assert_int_equal(res.n, 2);
	assert_string_equal(res.v[0].signal, "rush");
	assert_string_equal(res.v[0].rule, "da.rush.straks");
	assert_true(res.v[0].weight == 2.0);
	check_excerpt(res.v[0].excerpt, "Straks");
	assert_string_equal(res.v[1].signal, "praise");
	assert_string_equal(res.v[1].rule, "da.praise.flot");
	assert_true(res.v[1].weight == 1.0);
	classify_result_release(&res);
	classify_result_release(&res); /* twice is fine: it was zeroed */
	env_free(&e);
}

/*
 * classify folds the text before matching: a single line break (hard wrapping), runs of
 * blanks and no-break spaces become one space, so they do not end a sentence; a blank line
 * (even one holding blanks) stays a paragraph break, which does.
 */
static void test_folding_and_sentences(void **state)
{
	static const struct {
		const char *text;
		bool praise;
	} cases[] = {
	    {"Det er ikke flot", false},
	    {"Det er ikke\nflot", false},
	    {"Det er ikke\r\nflot", false},
	    {"Det er ikke\u00a0flot", false},
	    {"Det er ikke  \t flot", false},
	    {"Det er ikke godt. Men flot!", true},
	    {"Det er ikke godt.\nMen flot!", true},
	    {"Ikke\n\nflot", true},
	    {"Ikke\n\n\n\nflot", true},
	    {"Ikke \n \t\n flot", true},
	    {"Ikke\r\n\r\nflot", true},
	};
	struct env e;

	(void)state;
	env_load(&e);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct classify_input in = {.subject = "Plakat", .text = cases[i].text};
		struct classify_result res;
		bool got;

		classify_message(e.r, NULL, &in, &res);
		got = find_signal(&res, "praise") != NULL;
		classify_result_release(&res);
		if (got != cases[i].praise) {
			env_free(&e);
			fail_msg("\"%s\": praise %s, want %s", cases[i].text, got ? "yes" : "no",
			         cases[i].praise ? "yes" : "no");
		}
	}
	env_free(&e);
}

/* ---- list and automated mail, time signals ---- */

static const struct calendar_hours copenhagen = {
    .timezone = "Europe/Copenhagen",
    .start_min = 8 * 60,
    .end_min = 17 * 60,
    .days = 0x1f,
    .holidays = "dk",
};

static void test_no_signals_for_lists_and_robots(void **state)
{
	static const unsigned flags[] = {MESSAGE_LIST, MESSAGE_BULK, MESSAGE_AUTO,
	                                 MESSAGE_LIST | MESSAGE_HTML_ONLY};
	struct rules *r = load_shipped();
	struct classify_input in = {
	    .subject = "Haster: plakaten",
	    .text = "Hej Mette, kan du sende plakaten hurtigst muligt? Det haster virkelig.",
	    .direction = RULES_DIR_IN,
	    .date = utc(2026, 3, 7, 11, 0), /* Saturday noon in Copenhagen */
	};
	struct classify_result res;

	(void)state;
	/* The same mail from a person has signals, text and time. */
	classify_message(r, &copenhagen, &in, &res);
	assert_non_null(find_signal(&res, "rush"));
	assert_non_null(find_signal(&res, "received_after_hours"));
	classify_result_release(&res);

	for (size_t i = 0; i < ARRAY_SIZE(flags); i++) {
		in.flags = flags[i];
		classify_message(r, &copenhagen, &in, &res);
		assert_int_equal(res.n, 0);
		assert_string_equal(res.lang, "da"); /* the language is still told */
		classify_result_release(&res);
	}
	in.flags = MESSAGE_HTML_ONLY | MESSAGE_TRUNCATED; /* flags that say nothing of the sender */
	classify_message(r, &copenhagen, &in, &res);
	assert_non_null(find_signal(&res, "rush"));
	classify_result_release(&res);

	in.flags = 0;
	in.automated = true;
	classify_message(r, &copenhagen, &in, &res);
	assert_int_equal(res.n, 0);
	classify_result_release(&res);
	rules_free(&r);
}

struct time_case {
	const char *name;
	enum rules_dir dir;
	int64_t date;
	const char *rule;    /* NULL: no time signal */
	const char *excerpt; /* NULL: not checked */
};

static void test_time_signals(void **state)
{
	const struct time_case cases[] = {
	    {"in, Saturday noon", RULES_DIR_IN, utc(2026, 3, 7, 11, 0), "time.day_off",
	     "2026-03-07 12:00 CET (Saturday, day off)"},
	    {"out, weekday evening", RULES_DIR_OUT, utc(2026, 3, 4, 18, 30), "time.evening",
	     "2026-03-04 19:30 CET (Wednesday, evening)"},
	    {"in, Skærtorsdag 10:00", RULES_DIR_IN, utc(2026, 4, 2, 8, 0), "time.holiday",
	     "2026-04-02 10:00 CEST (Thursday, holiday: Skærtorsdag)"},
	    {"out, Skærtorsdag 10:00", RULES_DIR_OUT, utc(2026, 4, 2, 8, 0), "time.holiday", NULL},
	    {"in, weekday 10:00", RULES_DIR_IN, utc(2026, 3, 4, 9, 0), NULL, NULL},
	    {"out, weekday 10:00", RULES_DIR_OUT, utc(2026, 3, 4, 9, 0), NULL, NULL},
	    {"unknown direction, Saturday", RULES_DIR_UNKNOWN, utc(2026, 3, 7, 11, 0), NULL, NULL},
	    {"unknown direction, evening", RULES_DIR_UNKNOWN, utc(2026, 3, 4, 18, 30), NULL, NULL},
	    {"no date", RULES_DIR_IN, 0, NULL, NULL},
	    {"in, 07:59", RULES_DIR_IN, utc(2026, 3, 4, 6, 59), "time.early",
	     "2026-03-04 07:59 CET (Wednesday, early)"},
	    {"in, 16:59", RULES_DIR_IN, utc(2026, 3, 4, 15, 59), NULL, NULL},
	    {"in, 17:00", RULES_DIR_IN, utc(2026, 3, 4, 16, 0), "time.evening", NULL},
	    /* Spring forward: Sunday 2026-03-29 02:00 CET → 03:00 CEST. */
	    {"DST spring, Sunday 03:30 CEST", RULES_DIR_IN, utc(2026, 3, 29, 1, 30), "time.day_off",
	     "2026-03-29 03:30 CEST (Sunday, day off)"},
	    {"DST spring, Monday 00:30 local is Sunday in UTC", RULES_DIR_IN,
	     utc(2026, 3, 29, 22, 30), "time.early", "2026-03-30 00:30 CEST (Monday, early)"},
	    {"DST spring, Monday 07:59 CEST", RULES_DIR_OUT, utc(2026, 3, 30, 5, 59), "time.early",
	     NULL},
	    {"DST spring, Monday 08:00 CEST", RULES_DIR_OUT, utc(2026, 3, 30, 6, 0), NULL, NULL},
	    {"DST spring, Monday 16:59 CEST", RULES_DIR_OUT, utc(2026, 3, 30, 14, 59), NULL, NULL},
	    {"DST spring, Monday 17:00 CEST", RULES_DIR_OUT, utc(2026, 3, 30, 15, 0),
	     "time.evening", "2026-03-30 17:00 CEST (Monday, evening)"},
	    /* Fall back: Sunday 2026-10-25 03:00 CEST → 02:00 CET. */
	    {"DST autumn, Friday 17:30 CEST", RULES_DIR_IN, utc(2026, 10, 23, 15, 30),
	     "time.evening", "2026-10-23 17:30 CEST (Friday, evening)"},
	    {"DST autumn, Sunday 02:30 CEST", RULES_DIR_IN, utc(2026, 10, 25, 0, 30),
	     "time.day_off", "2026-10-25 02:30 CEST (Sunday, day off)"},
	    {"DST autumn, Sunday 02:30 CET", RULES_DIR_IN, utc(2026, 10, 25, 1, 30), "time.day_off",
	     "2026-10-25 02:30 CET (Sunday, day off)"},
	    {"DST autumn, Monday 00:30 local is Sunday in UTC", RULES_DIR_IN,
	     utc(2026, 10, 25, 23, 30), "time.early", "2026-10-26 00:30 CET (Monday, early)"},
	    {"DST autumn, Monday 07:59 CET", RULES_DIR_IN, utc(2026, 10, 26, 6, 59), "time.early",
	     NULL},
	    {"DST autumn, Monday 08:00 CET", RULES_DIR_IN, utc(2026, 10, 26, 7, 0), NULL, NULL},
	    {"DST autumn, Monday 16:59 CET", RULES_DIR_IN, utc(2026, 10, 26, 15, 59), NULL, NULL},
	    {"DST autumn, Monday 17:00 CET", RULES_DIR_IN, utc(2026, 10, 26, 16, 0), "time.evening",
	     NULL},
	};
	struct rules *r = load_shipped();
	const struct rules_signal *recv = rules_signal_find(r, "received_after_hours");
	const struct rules_signal *sent = rules_signal_find(r, "sent_after_hours");

	(void)state;
	assert_non_null(recv);
	assert_non_null(sent);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct time_case *c = &cases[i];
		const struct rules_signal *want = c->dir == RULES_DIR_IN ? recv : sent;
		struct classify_input in = {.subject = "Plakat",
		                            .text = "Hej Mette, her er teksten til plakaten.",
		                            .direction = c->dir,
		                            .date = c->date};
		struct classify_result res;

		classify_message(r, &copenhagen, &in, &res);
		if (!c->rule) {
			if (res.n != 0)
				fail_msg("%s: got %s (%s: %s)", c->name, res.v[0].signal,
				         res.v[0].rule, res.v[0].excerpt);
		} else {
			if (res.n != 1)
				fail_msg("%s: %zu signals, want 1", c->name, res.n);
			assert_string_equal(res.v[0].signal, want->id);
			if (strcmp(res.v[0].rule, c->rule) != 0)
				fail_msg("%s: rule %s, want %s (%s)", c->name, res.v[0].rule,
				         c->rule, res.v[0].excerpt);
			assert_true(res.v[0].weight == want->weight);
			if (c->excerpt && strcmp(res.v[0].excerpt, c->excerpt) != 0)
				fail_msg("%s: excerpt \"%s\", want \"%s\"", c->name,
				         res.v[0].excerpt, c->excerpt);
		}
		classify_result_release(&res);

		/* Without working hours there are never time signals. */
		classify_message(r, NULL, &in, &res);
		assert_int_equal(res.n, 0);
		classify_result_release(&res);
	}
	rules_free(&r);
}

/* Text and time signals together: text signals first, in catalogue order, then time. */
static void test_text_and_time(void **state)
{
	struct rules *r = load_shipped();
	struct classify_input in = {
	    .subject = "Plakat",
	    .text = "Hej Mette, kan du sende plakaten hurtigst muligt? Det haster virkelig.",
	    .direction = RULES_DIR_OUT,
	    .date = utc(2026, 3, 4, 20, 15),
	};
	struct classify_result res;

	(void)state;
	classify_message(r, &copenhagen, &in, &res);
	assert_int_equal(res.n, 2);
	assert_string_equal(res.v[0].signal, "rush");
	check_excerpt(res.v[0].excerpt, NULL);
	assert_string_equal(res.v[1].signal, "sent_after_hours");
	assert_string_equal(res.v[1].rule, "time.evening");
	assert_string_equal(res.v[1].excerpt, "2026-03-04 21:15 CET (Wednesday, evening)");
	assert_string_equal(res.lang, "da");
	classify_result_release(&res);

	/* No subject, no text: nothing, language undetermined. */
	in = (struct classify_input){.direction = RULES_DIR_IN};
	classify_message(r, &copenhagen, &in, &res);
	assert_int_equal(res.n, 0);
	assert_string_equal(res.lang, "und");
	classify_result_release(&res);
	rules_free(&r);
}

/* ---- old_rate ---- */

struct rate_case {
	const char *since;
	unsigned months;
	int64_t now;
	int want;
	const char *evidence; /* NULL: not checked */
};

static void test_old_rate(void **state)
{
	const struct rate_case cases[] = {
	    {"2024-01-01", 12, utc(2025, 1, 1, 0, 0), 1, "rate since 2024-01-01 (12 months)"},
	    {"2024-01-01", 12, utc(2024, 12, 31, 23, 59), 0, "rate since 2024-01-01 (11 months)"},
	    {"2024-01-15", 12, utc(2025, 1, 15, 0, 0), 1, "rate since 2024-01-15 (12 months)"},
	    {"2024-01-15", 12, utc(2025, 1, 14, 23, 59), 0, "rate since 2024-01-15 (11 months)"},
	    {"2024-01-01", 34, utc(2026, 11, 2, 12, 0), 1, "rate since 2024-01-01 (34 months)"},
	    /* Month ends: a whole month needs the same day of the month again. */
	    {"2024-01-31", 1, utc(2024, 2, 29, 12, 0), 0, "rate since 2024-01-31 (0 months)"},
	    {"2024-01-31", 1, utc(2024, 3, 1, 0, 0), 1, "rate since 2024-01-31 (1 month)"},
	    {"2024-02-29", 12, utc(2025, 2, 28, 12, 0), 0, "rate since 2024-02-29 (11 months)"},
	    {"2024-02-29", 12, utc(2025, 3, 1, 0, 0), 1, "rate since 2024-02-29 (12 months)"},
	    {"2023-12-31", 1, utc(2024, 1, 31, 0, 0), 1, "rate since 2023-12-31 (1 month)"},
	    {"2023-12-31", 1, utc(2024, 1, 30, 23, 59), 0, "rate since 2023-12-31 (0 months)"},
	    /* Today, and a date in the future. */
	    {"2025-06-15", 0, utc(2025, 6, 15, 12, 0), 1, "rate since 2025-06-15 (0 months)"},
	    {"2025-06-15", 1, utc(2025, 6, 15, 12, 0), 0, "rate since 2025-06-15 (0 months)"},
	    {"2030-01-01", 1, utc(2025, 6, 15, 12, 0), 0, "rate since 2030-01-01 (0 months)"},
	    /* Malformed. */
	    {"2024-13-01", 12, utc(2025, 1, 1, 0, 0), -EINVAL, NULL},
	    {"2024-00-10", 12, utc(2025, 1, 1, 0, 0), -EINVAL, NULL},
	    {"2024-01-32", 12, utc(2025, 1, 1, 0, 0), -EINVAL, NULL},
	    {"2024-01-00", 12, utc(2025, 1, 1, 0, 0), -EINVAL, NULL},
	    {"2024-1-1x", 12, utc(2025, 1, 1, 0, 0), -EINVAL, NULL},
	    {"2024-01-01 ", 12, utc(2025, 1, 1, 0, 0), -EINVAL, NULL},
	    {"2024-01-01T00:00", 12, utc(2025, 1, 1, 0, 0), -EINVAL, NULL},
	    {"2024/01/01", 12, utc(2025, 1, 1, 0, 0), -EINVAL, NULL},
	    {"20240101", 12, utc(2025, 1, 1, 0, 0), -EINVAL, NULL},
	    {"2024-01", 12, utc(2025, 1, 1, 0, 0), -EINVAL, NULL},
	    {"yesterday", 12, utc(2025, 1, 1, 0, 0), -EINVAL, NULL},
	    {"", 12, utc(2025, 1, 1, 0, 0), -EINVAL, NULL},
	    {NULL, 12, utc(2025, 1, 1, 0, 0), -EINVAL, NULL},
	};
	char ev[128], small[12];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct rate_case *c = &cases[i];
		int got;

		snprintf(ev, sizeof(ev), "untouched");
		got = classify_old_rate(c->since, c->months, c->now, ev, sizeof(ev));
		if (got != c->want)
			fail_msg("classify_old_rate(\"%s\", %u) = %d, want %d",
			         c->since ? c->since : "NULL", c->months, got, c->want);
		if (c->evidence && strcmp(ev, c->evidence) != 0)
			fail_msg("classify_old_rate(\"%s\", %u): evidence \"%s\", want \"%s\"",
			         c->since, c->months, ev, c->evidence);
	}
	/* The evidence is cut to fit, always terminated; no buffer at all is fine too. */
	memset(small, 'x', sizeof(small));
	assert_int_equal(
	    classify_old_rate("2024-01-01", 12, utc(2025, 6, 1, 0, 0), small, sizeof(small)), 1);
	assert_string_equal(small, "rate since ");
	assert_int_equal(classify_old_rate("2024-01-01", 12, utc(2025, 6, 1, 0, 0), NULL, 0), 1);
}

/*
 * classify.h documents rate_since as "YYYY-MM-DD" and -EINVAL for a malformed date; the
 * config accepts only real dates in exactly that form (config.c check_date). These are not
 * dates of that form and must not count months either.
 */
static void test_old_rate_strict(void **state)
{
	static const char *const bad[] = {"2024-02-30",  "2023-02-29", "2024-04-31",
	                                  " 2024-01-01", "2024-1-01",  "2024-01-1",
	                                  "2024- 1-01",  "-001-01-01", "+2024-01-01"};
	char ev[128];
	size_t failed = 0;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		int got = classify_old_rate(bad[i], 12, utc(2025, 6, 1, 0, 0), ev, sizeof(ev));

		if (got != -EINVAL) {
			print_message("  classify_old_rate(\"%s\") = %d, want -EINVAL (%s)\n",
			              bad[i], got, ev);
			failed++;
		}
	}
	if (failed)
		fail_msg("%zu malformed dates accepted", failed);
}

/* ---- the labelled fixtures ---- */

struct label {
	char *file;
	char *signals; /* ";"-separated, "" when none */
	char *lang;
};

/* One CSV field: plain, or quoted with "" for a quote inside. Advances *p past the comma. */
static char *csv_field(const char **p)
{
	struct strbuf b = STRBUF_INIT;
	const char *s = *p;

	if (*s == '"') {
		for (s++; *s; s++) {
			if (*s == '"' && s[1] == '"') {
				strbuf_appendc(&b, '"');
				s++;
			} else if (*s == '"') {
				s++;
				break;
			} else {
				strbuf_appendc(&b, *s);
			}
		}
	} else {
		for (; *s && *s != ',' && *s != '\n' && *s != '\r'; s++)
			strbuf_appendc(&b, *s);
	}
	if (*s == ',')
		s++;
	*p = s;
	return strbuf_detach(&b, NULL);
}

static struct label *load_labels(const char *path, size_t *count)
{
	char *csv = slurp(path, NULL);
	const char *p = csv;
	struct label *v = NULL;
	size_t n = 0;
	bool header = true;

	while (*p) {
		char *f[4];
		size_t nf = 0;

		while (*p && *p != '\n' && *p != '\r') {
			char *field = csv_field(&p);

			if (nf < ARRAY_SIZE(f))
				f[nf++] = field;
			else
				free(field);
		}
		while (*p == '\r' || *p == '\n')
			p++;
		if (nf != 4)
			fail_msg("%s: a row with %zu fields", path, nf);
		if (header) {
			assert_string_equal(f[0], "file");
			assert_string_equal(f[1], "signals");
			assert_string_equal(f[2], "lang");
			header = false;
		} else {
			v = xreallocarray(v, n + 1, sizeof(*v));
			v[n++] = (struct label){xstrdup(f[0]), xstrdup(f[1]), xstrdup(f[2])};
		}
		for (size_t i = 0; i < nf; i++)
			free(f[i]);
	}
	free(csv);
	*count = n;
	return v;
}

static bool in_set(const char *set, const char *id)
{
	size_t n = strlen(id);

	for (const char *p = set; (p = strstr(p, id)); p += n)
		if ((p == set || p[-1] == ';') && (p[n] == ';' || p[n] == '\0'))
			return true;
	return false;
}

struct scores {
	unsigned tp, fp, fn;
	unsigned messages, clean, clean_flagged, lang_ok;
};

static void classify_fixtures(const char *lang)
{
	static const struct message_limits lim = MESSAGE_LIMITS_DEFAULT;
	char *dir = xstrdup(find_path("tests/fixtures/labeled"));
	char *csv = xasprintf("%s/labels.csv", dir);
	struct rules *r = load_shipped();
	struct scores sc = {0};
	size_t n;
	struct label *labels = load_labels(csv, &n);
	double precision, recall, f1, fpr, lang_rate;

	assert_true(n >= 90);
	for (size_t i = 0; i < n; i++) {
		struct classify_input in;
		struct classify_result res;
		struct message *m = NULL;
		char *path, *raw, *got, err[256];
		size_t len;

		if (strcmp(labels[i].lang, lang) != 0)
			continue;
		path = xasprintf("%s/messages/%s", dir, labels[i].file);
		raw = slurp(path, &len);
		if (message_parse(raw, len, &lim, &m, err, sizeof(err)) != 0)
			fail_msg("%s: %s", labels[i].file, err);
		classify_input_from_message(m, RULES_DIR_UNKNOWN, &in);
		classify_message(r, NULL, &in, &res);
		got = text_signals(r, &res);

		sc.messages++;
		sc.lang_ok += strcmp(res.lang, labels[i].lang) == 0;
		for (size_t s = 0; s < rules_signal_count(r); s++) {
			const struct rules_signal *sig = rules_signal_at(r, s);
			bool want = in_set(labels[i].signals, sig->id), have = in_set(got, sig->id);

			if (!sig->text)
				continue;
			sc.tp += want && have;
			sc.fp += !want && have;
			sc.fn += want && !have;
		}
		if (!labels[i].signals[0]) {
			sc.clean++;
			sc.clean_flagged += got[0] != '\0';
		}
		if (strcmp(got, labels[i].signals) != 0 || strcmp(res.lang, labels[i].lang) != 0)
			print_message("  %s: want [%s] %s, got [%s] %s\n", labels[i].file,
			              labels[i].signals, labels[i].lang, got, res.lang);
		free(got);
		classify_result_release(&res);
		message_free(&m);
		free(raw);
		free(path);
	}
	assert_true(sc.messages >= 20);
	precision = sc.tp + sc.fp ? (double)sc.tp / (sc.tp + sc.fp) : 1.0;
	recall = sc.tp + sc.fn ? (double)sc.tp / (sc.tp + sc.fn) : 1.0;
	f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0.0;
	fpr = sc.clean ? (double)sc.clean_flagged / sc.clean : 0.0;
	lang_rate = (double)sc.lang_ok / sc.messages;
	print_message("fixtures %s: %u messages, tp %u fp %u fn %u, precision %.3f recall %.3f "
	              "F1 %.3f; false-positive messages %u/%u (%.3f); language right %u/%u\n",
	              lang, sc.messages, sc.tp, sc.fp, sc.fn, precision, recall, f1,
	              sc.clean_flagged, sc.clean, fpr, sc.lang_ok, sc.messages);
	for (size_t i = 0; i < n; i++) {
		free(labels[i].file);
		free(labels[i].signals);
		free(labels[i].lang);
	}
	free(labels);
	free(csv);
	free(dir);
	rules_free(&r);
	if (f1 < 0.85)
		fail_msg("%s: F1 %.3f < 0.85", lang, f1);
	if (fpr > 0.05)
		fail_msg("%s: false-positive message rate %.3f > 0.05", lang, fpr);
	if (lang_rate < 0.95)
		fail_msg("%s: language detected right for %.3f < 0.95", lang, lang_rate);
}

static void test_fixtures_da(void **state)
{
	(void)state;
	classify_fixtures("da");
}

static void test_fixtures_de(void **state)
{
	(void)state;
	classify_fixtures("de");
}

static void test_fixtures_en(void **state)
{
	(void)state;
	classify_fixtures("en");
}

/* ---- phrase tables: the rule packs' unit tests, one per language ---- */

struct phrase {
	const char *text;
	const char *signal; /* the text signals expected (";"-separated, catalogue order) or NULL */
	bool known_gap;     /* the packs miss this today: a note, not a failure (at most 20 %) */
};

static const struct phrase phrases_da[] = {
    /* rush */
    {"Kan du sende de rettede filer senest i morgen tidlig?", "rush", false},
    {"Det haster lidt, for trykkeriet venter på os.", "rush", false},
    {"Vi har brug for logoet hurtigst muligt, da messen åbner fredag.", "rush", false},
    /* discount */
    {"Er der mulighed for at få lidt rabat, hvis vi bestiller alle tre plakater på én gang?",
     "discount", false},
    {"Prisen ligger lidt over vores budget. Kan du gøre noget ved den?", "discount", false},
    {"Timeprisen virker lidt høj for os, kan vi mødes på midten?", "discount", false},
    /* payment */
    {"Jeg kan se, at fakturaen fra marts stadig ikke er betalt.", "payment", false},
    {"Vi bliver desværre nødt til at betale fakturaen i to rater.", "payment", false},
    {"Beløbet er endnu ikke gået ind på min konto.", "payment", false},
    /* after_hours */
    {"Kan du kigge på det i weekenden, så vi er klar mandag?", "after_hours", false},
    {"Vil du ringe til mig i aften efter kl. 20?", "after_hours", false},
    {"Det ville være en kæmpe hjælp, hvis du kunne arbejde på det hen over påsken.", "after_hours",
     false},
    /* scope_creep */
    {"Når du nu alligevel er i gang, kunne du så ikke også lave et visitkort?", "scope_creep",
     false},
    {"Kunne du lige tilføje vores nye adresse på bagsiden?", "scope_creep", false},
    {"Jeg går ud fra, at oversættelsen til engelsk er med i prisen.", "scope_creep", false},
    /* cancellation */
    {"Jeg bliver desværre nødt til at aflyse vores møde på torsdag.", "cancellation", false},
    {"Kan vi flytte samtalen til en anden dag i næste uge?", "cancellation", false},
    {"Jeg kan desværre ikke nå mødet i morgen.", "cancellation", false},
    /* praise */
    {"Plakaterne er blevet rigtig flotte, vi er meget glade for dem.", "praise", false},
    {"Du har gjort et fantastisk stykke arbejde med hjemmesiden.", "praise", false},
    {"Kæmpe ros herfra, de nye menukort er lige, hvad vi drømte om.", "praise", false},
    /* referral */
    {"Jeg har anbefalet dig til min svoger, som skal have lavet et nyt logo.", "referral", false},
    {"Min kollega Louise leder efter en fotograf, så jeg har givet hende dit nummer.", "referral",
     false},
    /* hard negatives */
    {"Der er ingen hast med det, send det bare, når du får tid.", NULL, false},
    {"Det haster overhovedet ikke, så tag den tid, du skal bruge.", NULL, false},
    {"Hvis det haster, så ring bare.", NULL, false},
    {"Jeg sender filerne med det samme, når jeg er hjemme.", NULL, false},
    {"Jeg skal nok nå det inden fredag, det lover jeg.", NULL, false},
    {"Vi tager i sommerhus i weekenden, så god weekend til dig!", NULL, false},
    {"Tak for i dag, det var et godt møde.", NULL, false},
    {"Tak i lige måde, og god dag!", NULL, false},
    {"Mange tak for hjælpen på forhånd.", NULL, false},
    {"Prisen på 4.500 kr. ekskl. moms passer fint ind i vores budget.", NULL, false},
    {"Kunne vi mødes til en første snak om projektet en dag i næste uge?", NULL, false},
    {"Vi ses i morgen kl. 10 på kontoret.", NULL, false},
    {"Jeg har lige betalt fakturaen, tak for et godt samarbejde.", NULL, false},
    /* structures: withdrawn availability, money owed, thanks for help received */
    {"Jeg har desværre ikke tid i morgen til mødet, kan vi finde en anden dag?", "cancellation",
     false},
    {"Jeg må desværre aflyse vores aftale på torsdag.", "cancellation", false},
    {"Mødet er blevet udsat til næste uge.", "cancellation", false},
    {"Hvis du ikke har tid i morgen, er det helt fint.", NULL, false},
    {"Jeg havde overset denne faktura, beløbet er overført nu.", "payment", false},
    {"Vi har stadig ikke modtaget betaling for fakturaen fra marts.", "payment", false},
    {"Du har været til stor hjælp med hele projektet.", "praise", false},
    /* praise aims at the recipient's work or help, not a bare thanks or goods that arrived */
    {"Tusind tak!", NULL, false},
    {"T-shirtene er kommet og ser flotte ud.", NULL, false},
    {"Tusind tak for al din hjælp med flyttet.", "praise", false},
    {"Tusind tak på forhånd!", NULL, false},
    {"Du skal bare sætte den op hurtigst muligt.", "rush", false},
    {"Vi tester systemet så hurtigt som muligt, så vi kan komme videre.", NULL, false},
};

static const struct phrase phrases_de[] = {
    /* rush */
    {"Könnten Sie mir die Entwürfe bitte bis morgen früh schicken?", "rush", false},
    {"Das ist leider dringend, unser Messestand wird am Montag aufgebaut.", "rush", false},
    {"Wir brauchen die Datei so schnell wie möglich.", "rush", false},
    /* discount */
    {"Können Sie uns beim Preis noch etwas entgegenkommen?", "discount", false},
    {"Gibt es einen Rabatt, wenn wir gleich 500 Stück bestellen?", "discount", false},
    {"Ehrlich gesagt ist uns das Angebot etwas zu teuer.", "discount", false},
    /* payment */
    {"Die Rechnung vom 3. März ist leider immer noch offen.", "payment", false},
    {"Können wir die Summe in drei Raten zahlen?", "payment", false},
    {"Leider ist Ihre Zahlung bis heute nicht bei uns eingegangen.", "payment", false},
    /* after_hours */
    {"Könnten Sie das am Wochenende noch fertig machen?", "after_hours", false},
    {"Bist du heute Abend so gegen 21 Uhr erreichbar?", "after_hours", false},
    {"Wir bräuchten die Präsentation bis Montag früh.", "after_hours", false},
    /* scope_creep */
    {"Wo Sie gerade dabei sind: Könnten Sie noch schnell das Logo auf die Rückseite setzen?",
     "scope_creep", false},
    {"Eine Kleinigkeit noch: Kannst du den Flyer auch ins Englische übersetzen?", "scope_creep",
     false},
    {"Ich gehe davon aus, dass das im Preis enthalten ist.", "scope_creep", false},
    /* cancellation */
    {"Leider muss ich unseren Termin am Donnerstag absagen.", "cancellation", false},
    {"Können wir das Treffen auf nächste Woche verschieben?", "cancellation", false},
    {"Ich kann morgen leider nicht zum Workshop kommen.", "cancellation", false},
    /* praise */
    {"Die neue Website ist wirklich toll geworden!", "praise", false},
    {"Vielen Dank für Ihre großartige Unterstützung in den letzten Monaten.", "praise", false},
    {"Wir sind mit dem Ergebnis sehr zufrieden.", "praise", false},
    /* referral */
    {"Ich habe Sie an meinen Schwager weiterempfohlen, er meldet sich bald bei Ihnen.", "referral",
     false},
    {"Eine Bekannte sucht gerade jemanden für ihr Café-Logo, ich habe ihr Ihre Nummer gegeben.",
     "referral", false},
    /* hard negatives */
    {"Kein Stress, schicken Sie es einfach, wann es Ihnen passt.", NULL, false},
    {"Falls es dringend ist, rufen Sie mich einfach an.", NULL, false},
    {"Ich schicke Ihnen die Unterlagen heute noch.", NULL, false},
    {"Wir fahren am Wochenende zu meinen Eltern an die Ostsee.", NULL, false},
    {"Danke im Voraus für Ihre schnelle Hilfe!", NULL, false},
    {"Vielen Dank vorab für Ihre Mühe.", NULL, false},
    {"Danke, gleichfalls!", NULL, false},
    {"Der Preis von 1.200 Euro passt gut in unser Budget.", NULL, false},
    {"Hätten Sie nächste Woche Zeit für ein erstes Kennenlerngespräch?", NULL, false},
    {"Bis morgen dann, ich freue mich auf unser Treffen!", NULL, false},
    {"Ich bin bis Freitag im Urlaub und danach wieder erreichbar.", NULL, false},
    {"Vielen Dank für Ihre Nachricht, ich melde mich nächste Woche.", NULL, false},
    /* structures: withdrawn availability, money owed, the recipient recommended */
    {"Ich habe morgen leider keine Zeit, um in die Schule zu kommen.", "cancellation", false},
    {"Leider kann ich an der Exkursion am Freitag nicht teilnehmen.", "cancellation", false},
    {"Den 13. April hätte ich nicht kommen können, zum Glück feiern wir später.", NULL, false},
    {"Ich kann leider montags nicht, dienstags ginge es.", NULL, false},
    {"Ich bitte um Rückerstattung von 40,30 Euro.", "payment", false},
    {"Bedauerlicherweise wurde ich zu hoch eingeschätzt.", "payment", false},
    {"Da du mir von verschiedenen Kommilitonen empfohlen wurdest, schreibe ich dir.", "referral",
     false},
    {"Herr Beckmann hat mich auf Sie verwiesen.", "referral", false},
    /* praise aims at the recipient's work or help, not a closing thanks after a request */
    {"Könnten Sie mir den Link schicken? Vielen Dank für Ihre Hilfe.", NULL, false},
    {"Vielen Dank für die schnelle Hilfe!", "praise", false},
    {"Das sieht gut aus, so machen wir es.", NULL, false},
    {"Können Sie mir einen guten Steuerberater empfehlen?", NULL, false},
    {"Herr Vaupel war sehr zufrieden mit mir.", NULL, false},
};

static const struct phrase phrases_en[] = {
    /* rush */
    {"Could you send me the final files by the end of the day?", "rush", false},
    {"This is urgent, the printer needs the artwork today.", "rush", false},
    {"Please get back to me as soon as possible.", "rush", false},
    /* discount */
    {"Is there any chance of a discount if we book all three shoots?", "discount", false},
    {"Your rate seems a little high for a small charity like ours.", "discount", false},
    {"Could you knock 10% off if we pay upfront?", "discount", false},
    /* payment */
    {"Just a reminder that invoice 2041 is now two weeks overdue.", "payment", false},
    {"We haven't received your payment for the March invoice yet.", "payment", false},
    {"Would it be OK if we paid the invoice in two instalments?", "payment", false},
    /* after_hours */
    {"Could you get the changes done over the weekend?", "after_hours", false},
    {"We'd need the slides by first thing Monday morning.", "rush;after_hours", false},
    {"Are you around on Sunday to take a look at the draft?", "after_hours", false},
    /* scope_creep */
    {"While you're at it, could you also redo the banner for Facebook?", "scope_creep", false},
    {"One more small thing: can you add our opening hours to the flyer?", "scope_creep", false},
    {"I assume the extra product photos are included in the price?", "scope_creep", false},
    /* cancellation */
    {"I'm afraid we'll have to cancel Thursday's meeting.", "cancellation", false},
    {"Something's come up, can we push the call back to next week?", "cancellation", false},
    {"Sorry, I won't be able to make it to the workshop tomorrow.", "cancellation", false},
    /* praise */
    {"The new brochure looks fantastic, great job!", "praise", false},
    {"We're really pleased with the photos, everyone loves them.", "praise", false},
    {"You've been a huge help throughout this project.", "praise", false},
    /* referral */
    {"I've recommended you to a friend who's opening a restaurant next month.", "referral", false},
    {"A colleague of mine needs some headshots done, so I passed your details on to her.",
     "referral", false},
    /* hard negatives */
    {"It isn't urgent, so take your time with it.", NULL, false},
    {"If it's urgent, just give me a call.", NULL, false},
    {"I'll send the revised draft first thing tomorrow.", NULL, false},
    {"We're off to the coast this weekend, have a lovely weekend yourself!", NULL, false},
    {"Thank you so much in advance!", NULL, false},
    {"Thanks, you too!", NULL, false},
    {"The price of 850 pounds for the full day works for us.", NULL, false},
    {"Would you be free for an introductory call sometime next week?", NULL, false},
    {"See you tomorrow at 10!", NULL, false},
    {"Let me know if you need anything else from our side.", NULL, false},
    /* structures: request plus near time, withdrawn availability, money owed, referral */
    {"Could we get these 2 taken care of today?", "rush", false},
    {"Please re-issue the schedule today.", "rush", false},
    {"Please make sure you log off before you leave today.", NULL, false},
    {"I had to cancel the meeting with you on Friday, sorry.", "cancellation", false},
    {"Sam, can't make our 2pm today, I need to be on site.", "cancellation", false},
    {"I can't make it. I have another review to do.", NULL, false},
    {"A dial-in is available for those who can't make it in person.", NULL, false},
    {"They face suspension for failure to pay Stone $46,564.", "payment", false},
    {"Our staff have not been properly paid for the overtime.", "payment", false},
    {"Happy birthday, 3 days late!", NULL, false},
    {"Thanks again for your help with the study guide.", "praise", false},
    {"Your continued support is greatly appreciated.", NULL, false},
    {"Many thanks for the invitation to speak.", NULL, false},
    {"Jane gave me your name and said you design posters.", "referral", false},
    {"We recommend you secure tickets early.", NULL, false},
    {"He also mentioned you got engaged, congrats!", NULL, false},
    /* generalised structures (issue 12): praise aims at the recipient's work or help */
    {"Thanks so much.", NULL, false},
    {"Really appreciate it, thanks a lot!", NULL, false},
    {"Thanks again for your email.", NULL, false},
    {"Your help would be greatly appreciated.", NULL, false},
    {"Thank you so much for the lovely flowers.", NULL, false},
    {"He has done a great job keeping the project on track.", NULL, false},
    {"That's great to hear that you have a great job in Houston.", NULL, false},
    {"Thank you so much for all of your help in coordinating the shoot.", "praise", false},
    {"You guys are doing an excellent job with the launch.", "praise", false},
    {"Thanks for the quick turnaround on the flyer!", "praise", false},
    /* rush: asap needs a demand on the recipient, not the author's own plan */
    {"Let's move on this ASAP.", NULL, false},
    {"We can send it to the printer asap once you approve.", NULL, false},
    {"Please call me ASAP about the banner.", "rush", false},
    {"Attached please find the report for today.", NULL, false},
    {"Please send your comments by noon on Friday.", NULL, false},
    /* cancellation: moving our meeting, not moving a person or a deal */
    {"Can we move our call to Thursday?", "cancellation", false},
    {"It is more complicated when we have to move someone to Houston.", NULL, false},
    /* payment: money owed, not contract boilerplate */
    {"You still owe us for the March shoot.", "payment", false},
    {"The customer gets five days notice of nonpayment before termination.", NULL, false},
    /* referral: a third party sent to the recipient, not a vendor pitch */
    {"I was referred to you by Kevin, who said you design brochures.", "referral", false},
    {"We would like to introduce you to our new product line.", NULL, false},
};

static void run_phrases(const char *lang, const struct phrase *rows, size_t n)
{
	struct rules *r = load_shipped();
	size_t gaps = 0, failed = 0;

	assert_true(n >= 25);
	/* Every text signal has at least two positives in every language. */
	for (size_t s = 0; s < rules_signal_count(r); s++) {
		const struct rules_signal *sig = rules_signal_at(r, s);
		size_t pos = 0;

		for (size_t i = 0; i < n; i++)
			pos += rows[i].signal && in_set(rows[i].signal, sig->id);
		if (sig->text && pos < 2)
			fail_msg("%s: %zu rows for %s, want at least 2", lang, pos, sig->id);
	}
	for (size_t i = 0; i < n; i++) {
		struct classify_input in = {.text = rows[i].text};
		struct classify_result res;
		const char *want = rows[i].signal ? rows[i].signal : "";
		char *got;

		gaps += rows[i].known_gap;
		classify_message(r, NULL, &in, &res);
		got = text_signals(r, &res);
		if (strcmp(got, want) != 0) {
			if (rows[i].known_gap) {
				print_message("  note %s: known gap: \"%s\" want [%s] got [%s]\n",
				              lang, rows[i].text, want, got);
			} else {
				print_message("  FAIL %s: \"%s\" want [%s] got [%s]\n", lang,
				              rows[i].text, want, got);
				for (size_t k = 0; k < res.n; k++)
					print_message("       %s: %s\n", res.v[k].rule,
					              res.v[k].excerpt);
				failed++;
			}
		} else if (rows[i].known_gap) {
			print_message("  note %s: known gap now passes, drop the flag: \"%s\"\n",
			              lang, rows[i].text);
		}
		if (strcmp(res.lang, lang) != 0)
			print_message("  note %s: \"%s\" detected as %s\n", lang, rows[i].text,
			              res.lang);
		free(got);
		classify_result_release(&res);
	}
	rules_free(&r);
	print_message("phrases %s: %zu rows, %zu known gaps, %zu failed\n", lang, n, gaps, failed);
	if (gaps * 5 > n)
		fail_msg("%s: %zu of %zu rows are known gaps (at most 20 %%)", lang, gaps, n);
	if (failed)
		fail_msg("%s: %zu phrase rows failed", lang, failed);
}

static void test_phrases_da(void **state)
{
	(void)state;
	run_phrases("da", phrases_da, ARRAY_SIZE(phrases_da));
}

static void test_phrases_de(void **state)
{
	(void)state;
	run_phrases("de", phrases_de, ARRAY_SIZE(phrases_de));
}

static void test_phrases_en(void **state)
{
	(void)state;
	run_phrases("en", phrases_en, ARRAY_SIZE(phrases_en));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_subject),
	    cmocka_unit_test(test_language),
	    cmocka_unit_test(test_excerpt),
	    cmocka_unit_test(test_one_entry_per_signal),
	    cmocka_unit_test(test_folding_and_sentences),
	    cmocka_unit_test(test_no_signals_for_lists_and_robots),
	    cmocka_unit_test(test_time_signals),
	    cmocka_unit_test(test_text_and_time),
	    cmocka_unit_test(test_old_rate),
	    cmocka_unit_test(test_old_rate_strict),
	    cmocka_unit_test(test_fixtures_da),
	    cmocka_unit_test(test_fixtures_de),
	    cmocka_unit_test(test_fixtures_en),
	    cmocka_unit_test(test_phrases_da),
	    cmocka_unit_test(test_phrases_de),
	    cmocka_unit_test(test_phrases_en),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
