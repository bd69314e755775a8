/*
 * rules: loading errors (located "file:line", all of them collected), matching semantics
 * (region, direction, language, guards, context, offsets), the prefilter's promise to report
 * too much but never too little (on the shipped packs over the fixture mails, and on
 * constructs a pack author may write that the shipped packs do not use), its build on
 * demand, and hostile input.
 *
 * Packs for the loading and matching tests are written to a mkdtemp() directory at test time;
 * the shipped packs and the labelled fixtures are read from the repository (tests run from
 * its root, as make unit does).
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "testfs.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "redflag/message.h"
#include "redflag/rules.h"
#include "redflag/util.h"

/* ---- a throw-away directory: <root>/signals.conf and <root>/rules/NAME.conf ---- */

struct tree {
	char root[256];
	char rules[300];
	char signals[300];
};

static void tree_make(struct tree *t)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(t->root, sizeof(t->root), "%s/rf-rules-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(t->root));
	snprintf(t->rules, sizeof(t->rules), "%s/rules", t->root);
	snprintf(t->signals, sizeof(t->signals), "%s/signals.conf", t->root);
	assert_int_equal(mkdir(t->rules, 0700), 0);
}

/* The catalogue the hand-written packs use: two text signals and one time signal. */
static const char test_signals[] =
    "signals = (\n"
    "  { id = \"rush\"; polarity = \"red\"; weight = 1.0;\n"
    "    description = { da = \"r\"; de = \"r\"; en = \"r\"; }; },\n"
    "  { id = \"praise\"; polarity = \"green\"; weight = 2.0; once_per_thread = false;\n"
    "    description = { da = \"p\"; de = \"p\"; en = \"p\"; }; },\n"
    "  { id = \"late\"; polarity = \"red\"; text = false;\n"
    "    description = { da = \"l\"; de = \"l\"; en = \"l\"; }; }\n"
    ");\n";

/*
 * A failure message kept in static storage, so a test can free everything before it fails
 * (fail_msg() does not return) and valgrind's leak check stays about the code under test.
 */
static char failure[8192];

/* ---- loading errors ---- */

struct pack_file {
	const char *name;
	const char *text;
};

struct load_case {
	const char *name;
	const char *signals;       /* catalogue text; NULL: test_signals */
	struct pack_file packs[3]; /* written to <root>/rules */
	int want_rc;               /* rules_load's return */
	const char *want_errors;   /* exact error text, every path relative to <root> */
};

static const struct load_case load_cases[] = {
    {"unknown signal",
     NULL,
     {{"da.conf", "language = \"da\";\n"
                  "rules = (\n"
                  "  { id = \"da.a\"; signal = \"nope\"; patterns = [ \"x\" ]; }\n"
                  ");\n"}},
     -EINVAL,
     "rules/da.conf:3: da.a: unknown signal \"nope\" (not in the catalogue)\n"},
    {"a time signal named by a rule",
     NULL,
     {{"da.conf", "language = \"da\";\n"
                  "rules = (\n"
                  "  { id = \"da.a\"; signal = \"late\"; patterns = [ \"x\" ]; }\n"
                  ");\n"}},
     -EINVAL,
     "rules/da.conf:3: da.a: signal \"late\" is not a text signal\n"},
    {"rule ids must start with the pack's language",
     NULL,
     {{"da.conf", "language = \"da\";\n"
                  "rules = (\n"
                  "  { id = \"en.a\"; signal = \"rush\"; patterns = [ \"x\" ]; },\n"
                  "  { id = \"dan.b\"; signal = \"rush\"; patterns = [ \"x\" ]; },\n"
                  "  { id = \"da.\"; signal = \"rush\"; patterns = [ \"x\" ]; },\n"
                  "  { id = \"da\"; signal = \"rush\"; patterns = [ \"x\" ]; },\n"
                  "  { id = \"da.ok\"; signal = \"rush\"; patterns = [ \"x\" ]; }\n"
                  ");\n"}},
     -EINVAL,
     "rules/da.conf:3: rule en.a: the id must start with \"da.\"\n"
     "rules/da.conf:4: rule dan.b: the id must start with \"da.\"\n"
     "rules/da.conf:5: rule da.: the id must start with \"da.\"\n"
     "rules/da.conf:6: rule da: the id must start with \"da.\"\n"},
    {"duplicate rule id across packs",
     NULL,
     {{"da.conf", "language = \"da\";\n"
                  "rules = (\n"
                  "  { id = \"da.a\"; signal = \"rush\"; patterns = [ \"x\" ]; }\n"
                  ");\n"},
      {"da2.conf", "language = \"da\";\n"
                   "rules = (\n"
                   "  { id = \"da.b\"; signal = \"rush\"; patterns = [ \"y\" ]; },\n"
                   "  { id = \"da.a\"; signal = \"rush\"; patterns = [ \"z\" ]; }\n"
                   ");\n"}},
     -EINVAL,
     "rules/da2.conf:4: rule da.a: defined twice\n"},
    {"typo in a key: patern",
     NULL,
     {{"da.conf", "language = \"da\";\n"
                  "rules = (\n"
                  "  { id = \"da.a\"; signal = \"rush\";\n"
                  "    patern = [ \"x\" ]; }\n"
                  ");\n"}},
     -EINVAL,
     "rules/da.conf:4: unknown key \"patern\"\n"
     "rules/da.conf:3: missing \"patterns\"\n"},
    {"typo in a top-level key",
     NULL,
     {{"da.conf", "language = \"da\";\n"
                  "rule = (\n"
                  "  { id = \"da.a\"; signal = \"rush\"; patterns = [ \"x\" ]; }\n"
                  ");\n"}},
     -EINVAL,
     "rules/da.conf:2: unknown key \"rule\"\n"
     "rules/da.conf:1: \"rules\" must be a list of groups ( { ... }, ... )\n"},
    {"weight out of range",
     NULL,
     {{"da.conf", "language = \"da\";\n"
                  "rules = (\n"
                  "  { id = \"da.a\"; signal = \"rush\"; patterns = [ \"x\" ];\n"
                  "    weight = 10.5; },\n"
                  "  { id = \"da.b\"; signal = \"rush\"; patterns = [ \"x\" ];\n"
                  "    weight = 0; },\n"
                  "  { id = \"da.c\"; signal = \"rush\"; patterns = [ \"x\" ];\n"
                  "    weight = -1.5; },\n"
                  "  { id = \"da.d\"; signal = \"rush\"; patterns = [ \"x\" ];\n"
                  "    weight = \"heavy\"; },\n"
                  "  { id = \"da.e\"; signal = \"rush\"; patterns = [ \"x\" ];\n"
                  "    weight = 10; }\n"
                  ");\n"}},
     -EINVAL,
     "rules/da.conf:4: \"weight\" must be in (0, 10]\n"
     "rules/da.conf:6: \"weight\" must be in (0, 10]\n"
     "rules/da.conf:8: \"weight\" must be in (0, 10]\n"
     "rules/da.conf:10: \"weight\" must be a number\n"},
    {"a pack without rules",
     NULL,
     {{"da.conf", "# nothing but a language\n"
                  "language = \"da\";\n"}},
     -EINVAL,
     "rules/da.conf:1: \"rules\" must be a list of groups ( { ... }, ... )\n"},
    {"rules that is not a list",
     NULL,
     {{"da.conf", "language = \"da\";\n"
                  "\n"
                  "rules = \"none\";\n"}},
     -EINVAL,
     "rules/da.conf:3: \"rules\" must be a list of groups ( { ... }, ... )\n"},
    {"language missing or malformed",
     NULL,
     {{"da.conf", "rules = ( { id = \"da.a\"; signal = \"rush\"; patterns = [ \"x\" ]; } );\n"},
      {"db.conf", "language = \"DA\";\n"
                  "rules = ( { id = \"da.a\"; signal = \"rush\"; patterns = [ \"x\" ]; } );\n"},
      {"dc.conf", "language = \"d\";\n"
                  "rules = ( { id = \"d.a\"; signal = \"rush\"; patterns = [ \"x\" ]; } );\n"}},
     -EINVAL,
     "rules/da.conf:1: missing \"language\"\n"
     "rules/db.conf:1: language must be a lower-case code such as \"de\"\n"
     "rules/dc.conf:1: language must be a lower-case code such as \"de\"\n"},
    {"bad where, direction, scope; guard_scope without guards",
     NULL,
     {{"da.conf", "language = \"da\";\n"
                  "rules = (\n"
                  "  { id = \"da.a\"; signal = \"rush\"; patterns = [ \"x\" ];\n"
                  "    where = \"header\"; },\n"
                  "  { id = \"da.b\"; signal = \"rush\"; patterns = [ \"x\" ];\n"
                  "    direction = \"inbound\"; },\n"
                  "  { id = \"da.c\"; signal = \"rush\"; patterns = [ \"x\" ];\n"
                  "    guard_scope = \"message\"; },\n"
                  "  { id = \"da.d\"; signal = \"rush\"; patterns = [ \"x\" ];\n"
                  "    lang_only = \"yes\"; },\n"
                  "  { id = \"da.e\"; signal = \"rush\"; patterns = [ \"x\" ];\n"
                  "    guards = [ \"y\" ]; guard_scope = \"all\"; }\n"
                  ");\n"
                  "guards = (\n"
                  "  { signal = \"rush\"; scope = \"paragraph\"; patterns = [ \"y\" ]; }\n"
                  ");\n"}},
     -EINVAL,
     "rules/da.conf:15: rush guard: scope must be \"sentence\" or \"message\"\n"
     "rules/da.conf:3: rule da.a: where must be \"subject\", \"body\" or \"any\"\n"
     "rules/da.conf:5: rule da.b: direction must be \"in\", \"out\" or \"any\"\n"
     "rules/da.conf:7: rule da.c: guard_scope without guards\n"
     "rules/da.conf:10: \"lang_only\" must be true or false\n"
     "rules/da.conf:11: rule da.e: guard_scope must be \"sentence\" or \"message\"\n"},
    {"empty and wrongly typed pattern lists",
     NULL,
     {{"da.conf", "language = \"da\";\n"
                  "rules = (\n"
                  "  { id = \"da.a\"; signal = \"rush\"; patterns = [ ]; },\n"
                  "  { id = \"da.b\"; signal = \"rush\"; patterns = ( \"x\", 1 ); },\n"
                  "  { id = \"da.d\"; signal = \"rush\"; patterns = { p = \"x\"; }; }\n"
                  ");\n"}},
     -EINVAL,
     "rules/da.conf:3: \"patterns\" must hold 1 to 64 strings\n"
     "rules/da.conf:4: \"patterns\" must be a list of strings\n"
     "rules/da.conf:5: \"patterns\" must be a list of strings\n"},
    {"a rule that is not a group, a guard that is not a group",
     NULL,
     {{"da.conf", "language = \"da\";\n"
                  "guards = ( \"x\" );\n"
                  "rules = ( \"da.a\" );\n"}},
     -EINVAL,
     "rules/da.conf:2: each guard must be a group { signal = ...; patterns = [...]; }\n"
     "rules/da.conf:3: each rule must be a group { id = ...; }\n"},
    {"libconfig syntax error",
     NULL,
     {{"da.conf", "language = \"da\";\n"
                  "rules = ( { id = ; } );\n"}},
     -EINVAL,
     "rules/da.conf:2: syntax error\n"},
    {"problems in the catalogue are all collected",
     "signals = (\n"
     "  { id = \"rush\"; polarity = \"blue\";\n"
     "    description = { da = \"r\"; de = \"r\"; en = \"r\"; }; },\n"
     "  { id = \"praise\"; polarity = \"green\"; colour = \"green\";\n"
     "    description = { da = \"p\"; de = \"p\"; en = \"p\"; }; },\n"
     "  { id = \"praise\"; polarity = \"green\";\n"
     "    description = { da = \"p\"; de = \"p\"; en = \"p\"; }; },\n"
     "  { id = \"late\"; polarity = \"red\"; weight = 11; }\n"
     ");\n",
     {{"da.conf", "language = \"da\";\n"
                  "rules = ( { id = \"da.a\"; signal = \"praise\"; patterns = [ \"x\" ]; } );\n"}},
     -EINVAL,
     "signals.conf:2: signal rush: polarity must be \"red\" or \"green\"\n"
     "signals.conf:4: unknown key \"colour\"\n"
     "signals.conf:6: signal \"praise\" defined twice\n"
     "signals.conf:8: \"weight\" must be in (0, 10]\n"
     "signals.conf:8: signal late: missing \"description\" { da; de; en; }\n"},
    {"an empty catalogue",
     "signals = ( );\n",
     {{"da.conf", "language = \"da\";\n"
                  "rules = ( { id = \"da.a\"; signal = \"rush\"; patterns = [ \"x\" ]; } );\n"}},
     -EINVAL,
     "signals.conf:1: \"signals\" must be a non-empty list of groups\n"},
    {"no rule packs: only other files and hidden ones",
     NULL,
     {{"README.md", "# not a pack\n"},
      {".hidden.conf", "language = \"da\";\n"},
      {"da.conf.orig", "language = \"da\";\n"}},
     -ENOENT,
     "rules: no rule packs (*.conf)\n"},
};

/* Expands every line of want with the root in front of its relative path. */
static char *expand_errors(const char *root, const char *want)
{
	struct strbuf b = STRBUF_INIT;

	for (const char *p = want; *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) + 1 : strlen(p);

		strbuf_appendf(&b, "%s/%.*s", root, (int)n, p);
		p += n;
	}
	return strbuf_detach(&b, NULL);
}

static void test_load_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(load_cases); i++) {
		const struct load_case *c = &load_cases[i];
		struct strbuf errors = STRBUF_INIT;
		struct rules *r = (struct rules *)&errors; /* must be set to NULL on failure */
		struct tree t;
		char *want;
		int rc;

		tree_make(&t);
		put_file(t.root, "signals.conf", c->signals ? c->signals : test_signals);
		for (size_t k = 0; k < ARRAY_SIZE(c->packs) && c->packs[k].name; k++)
			put_file(t.rules, c->packs[k].name, c->packs[k].text);
		rc = rules_load(t.rules, t.signals, &r, &errors);
		want = expand_errors(t.root, c->want_errors);
		failure[0] = '\0';
		if (rc != c->want_rc || !errors.data || strcmp(errors.data, want) != 0)
			snprintf(failure, sizeof(failure),
			         "%s: rc %d (want %d)\n--- got:\n%s--- want:\n%s", c->name, rc,
			         c->want_rc, errors.data ? errors.data : "", want);
		free(want);
		strbuf_release(&errors);
		remove_tree(t.root);
		if (failure[0])
			fail_msg("%s", failure);
		assert_null(r);
	}
}

/*
 * A pattern PCRE2 rejects is reported on the pattern's own line, with PCRE2's message and
 * offset; in rule patterns, rule guards, rule context and pack-level guards alike. The
 * expected message comes from PCRE2 itself so the test does not depend on its wording.
 */
static char *pcre2_complaint(const char *pattern)
{
	PCRE2_UCHAR msg[256];
	PCRE2_SIZE off;
	int code;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
	                               PCRE2_UTF | PCRE2_UCP | PCRE2_CASELESS, &code, &off, NULL);

	assert_null(re);
	pcre2_get_error_message(code, msg, sizeof(msg));
	return xasprintf("PCRE2 %s at offset %zu", (const char *)msg, (size_t)off);
}

static void test_load_bad_patterns(void **state)
{
	static const char pack[] = "language = \"da\";\n"                          /* 1 */
	                           "guards = (\n"                                  /* 2 */
	                           "  { signal = \"rush\";\n"                      /* 3 */
	                           "    patterns = [ \"ok\",\n"                    /* 4 */
	                           "                 \"[z-a]\" ]; }\n"             /* 5 */
	                           ");\n"                                          /* 6 */
	                           "rules = (\n"                                   /* 7 */
	                           "  { id = \"da.bad\"; signal = \"rush\";\n"     /* 8 */
	                           "    patterns = [ \"\\\\bok\\\\b\",\n"          /* 9 */
	                           "                 \"(unclosed\" ];\n"           /* 10 */
	                           "    guards = [ \"a{2,1}\" ];\n"                /* 11 */
	                           "    context = [ \"x\", \"\\\\\" ]; },\n"       /* 12 */
	                           "  { id = \"da.good\"; signal = \"praise\";\n"  /* 13 */
	                           "    patterns = [ \"fine\" ]; },\n"             /* 14 */
	                           "  { id = \"da.worse\"; signal = \"praise\";\n" /* 15 */
	                           "    patterns = \"(?<n>a)(?<n>b)\"; },\n"       /* 16 */
	                           "  { id = \"da.empty\"; signal = \"praise\";\n" /* 17 */
	                           "    patterns = [ \"x\", \"\" ]; }\n"           /* 18 */
	                           ");\n";
	struct strbuf errors = STRBUF_INIT;
	struct rules *r = NULL;
	char *c1 = pcre2_complaint("[z-a]"), *c2 = pcre2_complaint("(unclosed");
	char *c3 = pcre2_complaint("a{2,1}"), *c4 = pcre2_complaint("\\");
	char *c5 = pcre2_complaint("(?<n>a)(?<n>b)");
	char *want;
	struct tree t;

	(void)state;
	tree_make(&t);
	put_file(t.root, "signals.conf", test_signals);
	put_file(t.rules, "da.conf", pack);
	assert_int_equal(rules_load(t.rules, t.signals, &r, &errors), -EINVAL);
	assert_null(r);
	/*
	 * rules.h: 'a pattern PCRE2 rejects is reported as "file:line: rule ID: PCRE2 message at
	 * offset N"' -- on the line of the pattern itself, whether it is one of the rule's
	 * patterns, guards or context. Pack-level guards belong to no rule: their line names
	 * the signal (the exact label is not part of the contract). All of them are reported,
	 * in file order per rule (guards, context, patterns).
	 */
	want = xasprintf("%1$s/da.conf:11: rule da.bad: %2$s\n"
	                 "%1$s/da.conf:12: rule da.bad: %3$s\n"
	                 "%1$s/da.conf:10: rule da.bad: %4$s\n"
	                 "%1$s/da.conf:16: rule da.worse: %5$s\n"
	                 "%1$s/da.conf:18: rule da.empty: a pattern must be 1 to 1024 bytes\n",
	                 t.rules, c3, c4, c2, c5);
	failure[0] = '\0';
	{
		const char *got = errors.data ? errors.data : "";
		const char *nl = strchr(got, '\n');
		char *first = xstrndup(got, nl ? (size_t)(nl - got) : strlen(got));
		char *prefix = xasprintf("%s/da.conf:5: ", t.rules);
		char *suffix = xasprintf(": %s", c1);

		if (!nl || strncmp(first, prefix, strlen(prefix)) != 0 ||
		    !strstr(first + strlen(prefix), "rush") || strlen(first) < strlen(suffix) ||
		    strcmp(first + strlen(first) - strlen(suffix), suffix) != 0 ||
		    strcmp(nl + 1, want) != 0)
			snprintf(failure, sizeof(failure),
			         "--- got:\n%s--- want:\n%s<signal rush>%s\n%s", got, prefix,
			         suffix, want);
		free(first);
		free(prefix);
		free(suffix);
	}
	free(want);
	free(c1);
	free(c2);
	free(c3);
	free(c4);
	free(c5);
	strbuf_release(&errors);
	remove_tree(t.root);
	if (failure[0])
		fail_msg("%s", failure);
}

/* Every problem of every pack is reported before rules_load gives up. */
static void test_load_collects_all(void **state)
{
	static const char da[] = "language = \"da\";\n"
	                         "rules = (\n"
	                         "  { id = \"da.a\"; signal = \"nope\"; patterns = [ \"x\" ]; },\n"
	                         "  { id = \"da.b\"; signal = \"rush\"; patterns = [ \"x\" ];\n"
	                         "    where = \"all\"; },\n"
	                         "  { id = \"da.c\"; signal = \"rush\"; patern = [ \"x\" ]; },\n"
	                         "  { id = \"da.d\"; signal = \"rush\"; patterns = [ \"x\" ];\n"
	                         "    weight = 99; }\n"
	                         ");\n";
	static const char de[] = "language = \"de\";\n"
	                         "rules = (\n"
	                         "  { id = \"da.e\"; signal = \"rush\"; patterns = [ \"x\" ]; }\n"
	                         ");\n";
	static const char en[] = "language = \"en\";\n";
	struct strbuf errors = STRBUF_INIT;
	struct rules *r = NULL;
	char *want;
	struct tree t;

	(void)state;
	tree_make(&t);
	put_file(t.root, "signals.conf", test_signals);
	put_file(t.rules, "da.conf", da);
	put_file(t.rules, "de.conf", de);
	put_file(t.rules, "en.conf", en);
	assert_int_equal(rules_load(t.rules, t.signals, &r, &errors), -EINVAL);
	assert_null(r);
	want =
	    xasprintf("%1$s/da.conf:3: da.a: unknown signal \"nope\" (not in the catalogue)\n"
	              "%1$s/da.conf:4: rule da.b: where must be \"subject\", \"body\" or \"any\"\n"
	              "%1$s/da.conf:6: unknown key \"patern\"\n"
	              "%1$s/da.conf:6: missing \"patterns\"\n"
	              "%1$s/da.conf:8: \"weight\" must be in (0, 10]\n"
	              "%1$s/de.conf:3: rule da.e: the id must start with \"de.\"\n"
	              "%1$s/en.conf:1: \"rules\" must be a list of groups ( { ... }, ... )\n",
	              t.rules);
	assert_string_equal(errors.data, want);
	/* Every line is located: "path:line: message". */
	for (const char *p = errors.data; *p;) {
		const char *nl = strchr(p, '\n');
		const char *colon = strstr(p, ".conf:");
		char *end = NULL;

		assert_non_null(nl);
		assert_true(colon && colon < nl);
		assert_true(strtoul(colon + 6, &end, 10) > 0);
		assert_true(end[0] == ':' && end[1] == ' ');
		p = nl + 1;
	}
	free(want);
	strbuf_release(&errors);
	remove_tree(t.root);
}

/* An empty or missing directory: -ENOENT and one line that says so. */
static void test_load_missing_dir(void **state)
{
	struct strbuf errors = STRBUF_INIT;
	struct rules *r = NULL;
	struct tree t;
	char *dir, *want;

	(void)state;
	tree_make(&t);
	put_file(t.root, "signals.conf", test_signals);

	assert_int_equal(rules_load(t.rules, t.signals, &r, &errors), -ENOENT);
	assert_null(r);
	want = xasprintf("%s: no rule packs (*.conf)\n", t.rules);
	assert_string_equal(errors.data, want);
	free(want);
	strbuf_reset(&errors);

	dir = xasprintf("%s/nope", t.root);
	assert_int_equal(rules_load(dir, t.signals, &r, &errors), -ENOENT);
	assert_null(r);
	want = xasprintf("%s: %s\n", dir, strerror(ENOENT));
	assert_string_equal(errors.data, want);
	free(want);
	free(dir);
	strbuf_release(&errors);
	remove_tree(t.root);
}

/*
 * No signals.conf: rules.h promises -ENOENT "when dir or the catalogue cannot be read", and
 * the default catalogue path is "<dir>/../signals.conf".
 */
static void test_load_missing_catalogue(void **state)
{
	struct strbuf errors = STRBUF_INIT;
	struct rules *r = NULL;
	struct tree t;
	char *want;
	int rc;

	(void)state;
	tree_make(&t);
	put_file(t.rules, "da.conf",
	         "language = \"da\";\n"
	         "rules = ( { id = \"da.a\"; signal = \"rush\"; patterns = [ \"x\" ]; } );\n");
	rc = rules_load(t.rules, NULL, &r, &errors);
	want = xasprintf("%s/../signals.conf: %s\n", t.rules, strerror(ENOENT));
	failure[0] = '\0';
	if (rc != -ENOENT || !errors.data || strcmp(errors.data, want) != 0)
		snprintf(failure, sizeof(failure),
		         "rc %d, want %d (-ENOENT)\n--- got:\n%s--- want:\n%s", rc, -ENOENT,
		         errors.data ? errors.data : "", want);
	free(want);
	strbuf_release(&errors);
	remove_tree(t.root);
	assert_null(r);
	if (failure[0])
		fail_msg("%s", failure);
}

/* ---- matching semantics on a hand-written pack ---- */

struct env {
	struct tree t;
	struct rules *r;
};

static void env_load(struct env *e, const char *pack)
{
	struct strbuf errors = STRBUF_INIT;

	tree_make(&e->t);
	put_file(e->t.root, "signals.conf", test_signals);
	put_file(e->t.rules, "da.conf", pack);
	if (rules_load(e->t.rules, e->t.signals, &e->r, &errors) != 0)
		fail_msg("pack did not load:\n%s", errors.data ? errors.data : "");
	strbuf_release(&errors);
	/* Built now rather than after 2 MB of text, so match_both compares both ways. */
	if (!rules_prefilter_build(e->r))
		print_message("note: no prefilter on this machine; PCRE2 alone\n");
}

static void env_free(struct env *e)
{
	rules_free(&e->r);
	assert_null(e->r);
	remove_tree(e->t.root);
}

#define MAX_TEST_HITS 16

/*
 * Runs in with the prefilter off and on (built, when the machine can), asserts both give the
 * same hits, and returns how many there were.
 */
static size_t match_both(struct rules *r, const struct rules_input *in, struct rules_hit *hits,
                         size_t max)
{
	struct rules_hit other[MAX_TEST_HITS];
	size_t n, m;

	assert_true(max <= MAX_TEST_HITS);
	rules_set_prefilter(r, false);
	assert_false(rules_prefilter_active(r));
	m = rules_match(r, in, other, max);
	rules_set_prefilter(r, true);
	n = rules_match(r, in, hits, max);
	assert_int_equal(n, m);
	for (size_t i = 0; i < n; i++) {
		assert_ptr_equal(hits[i].signal, other[i].signal);
		assert_string_equal(hits[i].rule, other[i].rule);
		assert_int_equal(hits[i].start, other[i].start);
		assert_int_equal(hits[i].end, other[i].end);
		assert_true(hits[i].weight == other[i].weight);
	}
	return n;
}

/*
 * Matches subject + "\n\n" + body (the buffer classify builds) and describes the hits as
 * "rule=matched words" joined by " | ", in rule order.
 */
static char *describe(struct rules *r, const char *subject, const char *body, const char *lang,
                      enum rules_dir dir)
{
	struct rules_hit hits[MAX_TEST_HITS];
	char *text = xasprintf("%s\n\n%s", subject, body);
	struct rules_input in = {text, strlen(text), strlen(subject) + 2, lang, dir};
	struct strbuf out = STRBUF_INIT;
	size_t n = match_both(r, &in, hits, MAX_TEST_HITS);

	for (size_t i = 0; i < n; i++) {
		assert_true(hits[i].start <= hits[i].end && hits[i].end <= in.len);
		strbuf_appendf(&out, "%s%s=%.*s", i ? " | " : "", hits[i].rule,
		               (int)(hits[i].end - hits[i].start), text + hits[i].start);
	}
	free(text);
	return strbuf_detach(&out, NULL);
}

/* Trigger words are made up so that no two rules ever see each other's words. */
static const char semantics_pack[] =
    "language = \"da\";\n"
    "guards = (\n"
    "  { signal = \"rush\"; scope = \"message\"; patterns = [ \"\\\\bcalm down\\\\b\" ]; },\n"
    "  { signal = \"rush\"; patterns = [ \"\\\\bi will\\\\b\" ]; }\n"
    ");\n"
    "rules = (\n"
    "  { id = \"da.subj\"; signal = \"rush\"; where = \"subject\";\n"
    "    patterns = [ \"\\\\bsubjword\\\\b\" ]; },\n"
    "  { id = \"da.body\"; signal = \"rush\"; where = \"body\";\n"
    "    patterns = [ \"\\\\bbodyword\\\\b\" ]; },\n"
    "  { id = \"da.any\"; signal = \"rush\"; where = \"any\";\n"
    "    patterns = [ \"\\\\banyword\\\\b\" ]; },\n"
    "  { id = \"da.in\"; signal = \"praise\"; direction = \"in\";\n"
    "    patterns = [ \"\\\\binword\\\\b\" ]; },\n"
    "  { id = \"da.out\"; signal = \"praise\"; direction = \"out\";\n"
    "    patterns = [ \"\\\\boutword\\\\b\" ]; },\n"
    "  { id = \"da.both\"; signal = \"praise\"; direction = \"any\";\n"
    "    patterns = [ \"\\\\bbothword\\\\b\" ]; },\n"
    "  { id = \"da.lang\"; signal = \"praise\"; lang_only = true;\n"
    "    patterns = [ \"\\\\blangword\\\\b\" ]; },\n"
    "  { id = \"da.guarded\"; signal = \"praise\"; patterns = [ \"\\\\bgreat\\\\b\" ];\n"
    "    guards = [ \"\\\\bnot\\\\b\" ]; note = \"sentence-scope rule guard\"; },\n"
    "  { id = \"da.ctx\"; signal = \"praise\"; patterns = [ \"\\\\bnice\\\\b\" ];\n"
    "    context = [ \"\\\\bwork\\\\b\", \"\\\\bjob\\\\b\" ]; },\n"
    "  { id = \"da.rush\"; signal = \"rush\"; weight = 3; patterns = [ \"\\\\burgent\\\\b\" ]; },\n"
    "  { id = \"da.uni\"; signal = \"praise\";\n"
    "    patterns = [ \"\\\\bflot\\\\b\", \"\\\\bæble\\\\b\" ]; }\n"
    ");\n";

struct match_case {
	const char *name;
	const char *subject;
	const char *body;
	const char *lang;
	enum rules_dir dir;
	const char *want;
};

static const struct match_case match_cases[] = {
    /* where */
    {"subject rule, word in subject", "subjword", "", NULL, RULES_DIR_UNKNOWN, "da.subj=subjword"},
    {"subject rule, word in body", "x", "subjword", NULL, RULES_DIR_UNKNOWN, ""},
    {"body rule, word in subject", "bodyword", "x", NULL, RULES_DIR_UNKNOWN, ""},
    {"body rule, word in body", "x", "a bodyword", NULL, RULES_DIR_UNKNOWN, "da.body=bodyword"},
    {"any rule, word in subject", "anyword", "x", NULL, RULES_DIR_UNKNOWN, "da.any=anyword"},
    {"any rule, word in body", "x", "anyword", NULL, RULES_DIR_UNKNOWN, "da.any=anyword"},
    {"empty subject", "", "subjword bodyword", NULL, RULES_DIR_UNKNOWN, "da.body=bodyword"},
    /* direction */
    {"in: in and any rules", "", "inword outword bothword", NULL, RULES_DIR_IN,
     "da.in=inword | da.both=bothword"},
    {"out: out and any rules", "", "inword outword bothword", NULL, RULES_DIR_OUT,
     "da.out=outword | da.both=bothword"},
    {"unknown direction runs every rule", "", "inword outword bothword", NULL, RULES_DIR_UNKNOWN,
     "da.in=inword | da.out=outword | da.both=bothword"},
    /* lang_only */
    {"lang_only, same language", "", "langword", "da", RULES_DIR_UNKNOWN, "da.lang=langword"},
    {"lang_only, other language", "", "langword", "de", RULES_DIR_UNKNOWN, ""},
    {"lang_only, language undetermined", "", "langword", NULL, RULES_DIR_UNKNOWN, ""},
    {"not lang_only: any language", "", "great", "en", RULES_DIR_UNKNOWN, "da.guarded=great"},
    /* sentence-scope rule guard */
    {"guard in the same sentence, before", "", "That was not great.", NULL, RULES_DIR_UNKNOWN, ""},
    {"guard in the same sentence, after", "", "It is great, is it not?", NULL, RULES_DIR_UNKNOWN,
     ""},
    {"guard in the previous sentence: '. '", "", "Not bad. It is great", NULL, RULES_DIR_UNKNOWN,
     "da.guarded=great"},
    {"guard in the previous sentence: '! '", "", "Not bad! It is great", NULL, RULES_DIR_UNKNOWN,
     "da.guarded=great"},
    {"guard in the previous sentence: '? '", "", "Why not? It is great", NULL, RULES_DIR_UNKNOWN,
     "da.guarded=great"},
    {"guard in the next sentence", "", "It is great. Is it not", NULL, RULES_DIR_UNKNOWN,
     "da.guarded=great"},
    {"guard in the previous paragraph", "", "It is not\n\ngreat", NULL, RULES_DIR_UNKNOWN,
     "da.guarded=great"},
    {"a single line break is not a boundary", "", "It is not\ngreat", NULL, RULES_DIR_UNKNOWN, ""},
    {"a full stop without a space is not a boundary", "", "It is not.great", NULL,
     RULES_DIR_UNKNOWN, ""},
    {"a full stop before a line break is a boundary", "", "Not bad.\ngreat", NULL,
     RULES_DIR_UNKNOWN, "da.guarded=great"},
    {"the dot of an ordinal or date is not a boundary", "", "Not before the 3. great", NULL,
     RULES_DIR_UNKNOWN, ""},
    {"nor after a date at the end", "", "Not on 12.3. great", NULL, RULES_DIR_UNKNOWN, ""},
    {"'!' after a digit is", "", "Not 3! great", NULL, RULES_DIR_UNKNOWN, "da.guarded=great"},
    {"a sentence never spans subject and body", "not", "great", NULL, RULES_DIR_UNKNOWN,
     "da.guarded=great"},
    {"the next occurrence is tried after a vetoed one", "", "Not great. But GREAT!", NULL,
     RULES_DIR_UNKNOWN, "da.guarded=GREAT"},
    {"every occurrence vetoed", "", "Not great, not great at all, not great.", NULL,
     RULES_DIR_UNKNOWN, ""},
    /* pack-level guards: every rule of the signal, scoped */
    {"pack guard, sentence scope, same sentence", "", "I will do it, urgent or not", NULL,
     RULES_DIR_UNKNOWN, ""},
    {"pack guard, sentence scope, other sentence", "", "I will do it. Urgent, though", NULL,
     RULES_DIR_UNKNOWN, "da.rush=Urgent"},
    {"pack guard, message scope, other sentence", "", "Calm down. It is urgent. anyword", NULL,
     RULES_DIR_UNKNOWN, ""},
    {"pack guard, message scope, in the subject", "calm down", "urgent", NULL, RULES_DIR_UNKNOWN,
     ""},
    {"pack guard, message scope, after the match", "", "urgent\n\nCalm down!", NULL,
     RULES_DIR_UNKNOWN, ""},
    {"pack guards only veto their own signal", "", "Calm down. I will. great", NULL,
     RULES_DIR_UNKNOWN, "da.guarded=great"},
    /* context */
    {"context in the sentence", "", "Nice work", NULL, RULES_DIR_UNKNOWN, "da.ctx=Nice"},
    {"second context pattern", "", "A job done nicely, a nice job", NULL, RULES_DIR_UNKNOWN,
     "da.ctx=nice"},
    {"context in another sentence", "", "Some work. Nice", NULL, RULES_DIR_UNKNOWN, ""},
    {"context in the next sentence", "", "Nice. Work", NULL, RULES_DIR_UNKNOWN, ""},
    {"no context at all", "", "nice", NULL, RULES_DIR_UNKNOWN, ""},
    {"context found for the second occurrence", "", "Nice. Nice work!", NULL, RULES_DIR_UNKNOWN,
     "da.ctx=Nice"},
    /* at most one hit per rule, caseless, Unicode word boundaries */
    {"one hit per rule", "great", "great great GREAT", NULL, RULES_DIR_UNKNOWN, "da.guarded=great"},
    {"caseless", "", "URGENT", NULL, RULES_DIR_UNKNOWN, "da.rush=URGENT"},
    {"caseless non-ASCII", "", "ÆBLE", NULL, RULES_DIR_UNKNOWN, "da.uni=ÆBLE"},
    {"\\b knows æøå", "", "flotø æblerne", NULL, RULES_DIR_UNKNOWN, ""},
    {"several rules", "subjword", "bodyword, urgent and great", NULL, RULES_DIR_UNKNOWN,
     "da.subj=subjword | da.body=bodyword | da.guarded=great | da.rush=urgent"},
    {"nothing", "", "", NULL, RULES_DIR_UNKNOWN, ""},
};

static void test_match_semantics(void **state)
{
	struct env e;

	(void)state;
	env_load(&e, semantics_pack);
	assert_int_equal(rules_count(e.r), 11);
	assert_true(rules_pattern_count(e.r) >= 12); /* guards may count too */
	for (size_t i = 0; i < ARRAY_SIZE(match_cases); i++) {
		const struct match_case *c = &match_cases[i];
		char *got = describe(e.r, c->subject, c->body, c->lang, c->dir);

		if (strcmp(got, c->want) != 0)
			fail_msg("%s: got \"%s\", want \"%s\"", c->name, got, c->want);
		free(got);
	}
	env_free(&e);
}

/* Hits carry the signal, rule, weight and the exact offsets of the match in rules_input.text. */
static void test_match_offsets(void **state)
{
	static const char text[] = "Urgent?\n\nNot great. I will be quick, urgent. It is great!";
	struct rules_input in = {text, sizeof(text) - 1, 9, NULL, RULES_DIR_UNKNOWN};
	struct rules_hit hits[MAX_TEST_HITS];
	struct env e;
	size_t n;

	(void)state;
	env_load(&e, semantics_pack);
	n = match_both(e.r, &in, hits, MAX_TEST_HITS);
	assert_int_equal(n, 2);
	/* Rules come back in pack order, each with its first unvetoed match. */
	assert_string_equal(hits[0].rule, "da.guarded");
	assert_ptr_equal(hits[0].signal, rules_signal_find(e.r, "praise"));
	assert_true(hits[0].weight == 2.0); /* the signal's default weight */
	assert_int_equal(hits[0].start, strlen(text) - 6);
	assert_int_equal(hits[0].end, strlen(text) - 1);
	assert_string_equal(hits[1].rule, "da.rush");
	assert_ptr_equal(hits[1].signal, rules_signal_find(e.r, "rush"));
	assert_true(hits[1].weight == 3.0); /* the rule's own weight */
	assert_int_equal(hits[1].start, 0);
	assert_int_equal(hits[1].end, 6);

	/* max bounds the hits stored. */
	assert_int_equal(match_both(e.r, &in, hits, 1), 1);
	assert_string_equal(hits[0].rule, "da.guarded");
	assert_int_equal(match_both(e.r, &in, hits, 0), 0);

	/* The text need not be NUL-terminated: an exact-size copy (valgrind checks reads). */
	{
		char *copy = xmalloc(sizeof(text) - 1);

		memcpy(copy, text, sizeof(text) - 1);
		in.text = copy;
		assert_int_equal(match_both(e.r, &in, hits, MAX_TEST_HITS), 2);
		assert_int_equal(hits[0].end, sizeof(text) - 2);
		free(copy);
	}
	/* The subject alone: body_start == len. */
	in.text = "Urgent";
	in.len = in.body_start = 6;
	assert_int_equal(match_both(e.r, &in, hits, MAX_TEST_HITS), 1);
	assert_string_equal(hits[0].rule, "da.rush");
	env_free(&e);
}

/* The catalogue as loaded: file order, polarity, defaults. */
static void test_catalogue(void **state)
{
	const struct rules_signal *s;
	struct env e;

	(void)state;
	env_load(&e, semantics_pack);
	assert_int_equal(rules_signal_count(e.r), 3);
	s = rules_signal_at(e.r, 0);
	assert_string_equal(s->id, "rush");
	assert_true(s->red && s->text && s->once_per_thread && s->weight == 1.0);
	s = rules_signal_at(e.r, 1);
	assert_string_equal(s->id, "praise");
	assert_true(!s->red && s->text && !s->once_per_thread && s->weight == 2.0);
	assert_string_equal(s->description[RULES_LANG_DE], "p");
	s = rules_signal_at(e.r, 2);
	assert_string_equal(s->id, "late");
	assert_false(s->text);
	assert_null(rules_signal_at(e.r, 3));
	assert_ptr_equal(rules_signal_find(e.r, "late"), s);
	assert_null(rules_signal_find(e.r, "nope"));
	env_free(&e);
	rules_free(&e.r); /* NULL is fine */
}

/*
 * A rule's own guards with guard_scope = "message" veto a match anywhere in the message
 * (conf/rules/README.md: 'guard_scope = "sentence"; # or "message"; applies to this rule's
 * guards').
 */
static void test_rule_guard_scope_message(void **state)
{
	static const char pack[] =
	    "language = \"da\";\n"
	    "rules = (\n"
	    "  { id = \"da.msg\"; signal = \"praise\"; patterns = [ \"\\\\bsuperb\\\\b\" ];\n"
	    "    guards = [ \"\\\\bironic\\\\b\" ]; guard_scope = \"message\"; },\n"
	    "  { id = \"da.sent\"; signal = \"praise\"; patterns = [ \"\\\\bsplendid\\\\b\" ];\n"
	    "    guards = [ \"\\\\bironic\\\\b\" ]; guard_scope = \"sentence\"; }\n"
	    ");\n";
	struct env e;
	char *got;

	(void)state;
	env_load(&e, pack);
	got = describe(e.r, "", "Superb, ironic.", NULL, RULES_DIR_UNKNOWN);
	assert_string_equal(got, "");
	free(got);
	got = describe(e.r, "", "Splendid. Ironic, of course.", NULL, RULES_DIR_UNKNOWN);
	assert_string_equal(got, "da.sent=Splendid");
	free(got);
	got = describe(e.r, "", "Superb. Ironic, of course.", NULL, RULES_DIR_UNKNOWN);
	failure[0] = '\0';
	if (strcmp(got, "") != 0)
		snprintf(failure, sizeof(failure),
		         "guard_scope = \"message\" did not veto a guard in another sentence: got "
		         "\"%s\"",
		         got);
	free(got);
	env_free(&e);
	if (failure[0])
		fail_msg("%s", failure);
}

/*
 * The prefilter on patterns a pack author may well write but the shipped packs do not use
 * (yet): classes with \w, \d, \s or POSIX names, \B, lookaround, bounded repeats, non-ASCII
 * alternatives, a subject-only region. With UCP, PCRE2's \w, \d, \s, \B and [:alpha:] know
 * Unicode; the prefilter's superset must too. Every text runs with the prefilter off and
 * on; every disagreement is listed before the test fails.
 */
static const char tricky_pack[] =
    "language = \"da\";\n"
    "rules = (\n"
    "  { id = \"da.wclass\"; signal = \"rush\"; patterns = [ \"\\\\bx[\\\\w]y\\\\b\" ]; },\n"
    "  { id = \"da.nonb\"; signal = \"rush\"; patterns = [ \"\\\\Bbar\" ]; },\n"
    "  { id = \"da.posix\"; signal = \"rush\";\n"
    "    patterns = [ \"\\\\bq[[:alpha:]]{2}q\\\\b\" ]; },\n"
    "  { id = \"da.dclass\"; signal = \"rush\"; patterns = [ \"\\\\bnr[\\\\d]+\\\\b\" ]; },\n"
    "  { id = \"da.sclass\"; signal = \"rush\"; patterns = [ \"\\\\bfoo[\\\\s,]zap\\\\b\" ]; },\n"
    "  { id = \"da.word\"; signal = \"rush\"; patterns = [ \"\\\\bw\\\\w\\\\w\\\\b\" ]; },\n"
    "  { id = \"da.look\"; signal = \"praise\";\n"
    "    patterns = [ \"(?<=\\\\bvery )\\\\w+\", \"\\\\w+(?=\\\\s+please\\\\b)\" ]; },\n"
    "  { id = \"da.neg\"; signal = \"praise\";\n"
    "    patterns = [ \"\\\\bok\\\\b(?![^.]{0,10}\\\\bnot\\\\b)\" ]; },\n"
    "  { id = \"da.rep\"; signal = \"praise\";\n"
    "    patterns = [ \"\\\\bha(ha){1,3}\\\\b\", \"\\\\b\\\\d{2,4}\\\\s?kr\\\\b\" ]; },\n"
    "  { id = \"da.alt\"; signal = \"praise\";\n"
    "    patterns = [ \"\\\\b(æble|øl|straße|kåd)\\\\b\" ]; },\n"
    "  { id = \"da.subj\"; signal = \"praise\"; where = \"subject\";\n"
    "    patterns = [ \"\\\\bend\\\\b\" ]; }\n"
    ");\n";

static const char *const tricky_texts[] = {
    /* Unicode letters and digits where the pattern has \w, [\w], [:alpha:], [\d] or \B */
    "xøy", "xay", "XÆY", "øbar", "abar", "bar", "qæøq", "qabq", "QÅÅQ", "nr12", "nr\u0663\u0664",
    "wøå", "wab",
    /* Unicode blanks where the pattern has [\s] */
    "foo zap", "foo,zap", "foo\u2009zap", "foo\u00a0zap",
    /* lookaround, repeats, alternatives, caseless spellings, the subject region */
    "very nice", "very søde", "come please", "kom\u2009please", "ok, not", "ok fine", "OK. not",
    "hahaha", "HAHAHAHA", "1234 kr", "99kr", "ÆBLE", "ØL", "STRAẞE", "Kåd", "\u212aÅD", "æblerne",
    "the end", "ENDE"};

static void test_prefilter_tricky_patterns(void **state)
{
	struct strbuf bad = STRBUF_INIT;
	static const char *const where[3] = {"body", "subject", "sentence"};
	struct rules_hit on[MAX_TEST_HITS], off[MAX_TEST_HITS];
	struct env e;
	size_t runs = 0, hits = 0;

	(void)state;
	env_load(&e, tricky_pack);
	if (!rules_prefilter_active(e.r)) {
		env_free(&e);
		skip();
	}
	for (size_t i = 0; i < ARRAY_SIZE(tricky_texts); i++) {
		/* Alone in the body, in the subject, and in a sentence. */
		char *texts[3] = {xasprintf("\n\n%s", tricky_texts[i]),
		                  xasprintf("%s\n\nx", tricky_texts[i]),
		                  xasprintf("S\n\nSo, %s, they said.", tricky_texts[i])};
		size_t starts[3] = {2, strlen(tricky_texts[i]) + 2, 3};

		for (size_t k = 0; k < 3; k++) {
			struct rules_input in = {texts[k], strlen(texts[k]), starts[k], NULL,
			                         RULES_DIR_UNKNOWN};
			size_t n_off, n_on;
			bool same;

			rules_set_prefilter(e.r, false);
			n_off = rules_match(e.r, &in, off, MAX_TEST_HITS);
			rules_set_prefilter(e.r, true);
			n_on = rules_match(e.r, &in, on, MAX_TEST_HITS);
			same = n_on == n_off;
			for (size_t h = 0; same && h < n_on; h++)
				same = strcmp(on[h].rule, off[h].rule) == 0 &&
				       on[h].start == off[h].start && on[h].end == off[h].end;
			if (!same) {
				strbuf_appendf(&bad, "  %-8s \"%s\": off", where[k],
				               tricky_texts[i]);
				for (size_t h = 0; h < n_off; h++)
					strbuf_appendf(&bad, " %s", off[h].rule);
				strbuf_appends(&bad, ", on");
				for (size_t h = 0; h < n_on; h++)
					strbuf_appendf(&bad, " %s", on[h].rule);
				strbuf_appends(&bad, "\n");
			}
			runs++;
			hits += n_off;
		}
		for (size_t k = 0; k < 3; k++)
			free(texts[k]);
	}
	env_free(&e);
	print_message("tricky patterns: %zu runs, %zu hits without the prefilter\n", runs, hits);
	failure[0] = '\0';
	if (bad.len)
		snprintf(failure, sizeof(failure),
		         "the prefilter dropped matches PCRE2 finds (a construct whose prefilter "
		         "form means less without Unicode properties?):\n%s",
		         bad.data);
	strbuf_release(&bad);
	if (failure[0])
		fail_msg("%s", failure);
	assert_true(hits > 40);
}

/* ---- the shipped packs ---- */

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
	assert_null(errors.data);
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

	assert_non_null(f);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		strbuf_append(&b, buf, n);
	fclose(f);
	return strbuf_detach(&b, len);
}

/* Every fixture mail as "Subject\n\ntext" (the buffer classify builds, before folding). */
static char **fixture_texts(size_t *count)
{
	static const struct message_limits lim = MESSAGE_LIMITS_DEFAULT;
	char *dir = xstrdup(find_path("tests/fixtures/labeled/messages"));
	char **names = NULL, **texts = NULL;
	size_t n = 0;
	struct dirent *de;
	DIR *d = opendir(dir);

	assert_non_null(d);
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);

		if (l > 4 && strcmp(de->d_name + l - 4, ".eml") == 0) {
			names = xreallocarray(names, n + 1, sizeof(*names));
			names[n++] = xasprintf("%s/%s", dir, de->d_name);
		}
	}
	closedir(d);
	assert_true(n >= 90);
	texts = xcalloc(n, sizeof(*texts));
	for (size_t i = 0; i < n; i++) {
		struct message *m = NULL;
		char err[256];
		size_t len;
		char *raw = slurp(names[i], &len);

		assert_int_equal(message_parse(raw, len, &lim, &m, err, sizeof(err)), 0);
		texts[i] = xasprintf("%s\n\n%s", m->subject, m->text);
		message_free(&m);
		free(raw);
		free(names[i]);
	}
	free(names);
	free(dir);
	*count = n;
	return texts;
}

/*
 * Latin-1 supplement letters (À..Þ / à..þ, two bytes in UTF-8) change case in place.
 * EXOTIC spells k, s and ß the other ways caseless Unicode matching allows: KELVIN SIGN,
 * LONG S and CAPITAL SHARP S are longer in UTF-8, so matches get longer in bytes.
 */
enum recase { UPPER_ALL, UPPER_NON_ASCII, LOWER_ALL, EXOTIC };

static char *exotic(const char *s)
{
	struct strbuf b = STRBUF_INIT;

	for (; *s; s++) {
		if (*s == 'k' || *s == 'K')
			strbuf_appends(&b, "\u212a");
		else if (*s == 's' || *s == 'S')
			strbuf_appends(&b, "\u017f");
		else if ((unsigned char)s[0] == 0xC3 && (unsigned char)s[1] == 0x9F && s++)
			strbuf_appends(&b, "\u1e9e");
		else
			strbuf_appendc(&b, *s);
	}
	return strbuf_detach(&b, NULL);
}

static char *recase(const char *s, enum recase how)
{
	char *out;

	if (how == EXOTIC)
		return exotic(s);
	out = xstrdup(s);

	for (unsigned char *p = (unsigned char *)out; *p; p++) {
		if (*p == 0xC3 && p[1]) {
			unsigned char c = p[1];

			if (how != LOWER_ALL && c >= 0xA0 && c <= 0xBE && c != 0xB7)
				p[1] = (unsigned char)(c - 0x20);
			else if (how == LOWER_ALL && c >= 0x80 && c <= 0x9E && c != 0x97)
				p[1] = (unsigned char)(c + 0x20);
			p++;
		} else if (how == UPPER_ALL && *p >= 'a' && *p <= 'z') {
			*p = (unsigned char)(*p - 32);
		} else if (how == LOWER_ALL && *p >= 'A' && *p <= 'Z') {
			*p = (unsigned char)(*p + 32);
		}
	}
	return out;
}

/* Phrasings aimed at patterns with non-ASCII letters, hard wrapping and odd spacing. */
static const char *const extra_texts[] = {
    "Hej\n\nKan du nå at sende det i løbet af de næste to timer? Det haster.",
    "Re\n\nKUNNE DU SÅ IKKE OGSÅ LIGE OVERSÆTTE MENUKORTET? Når du nu alligevel er i gang.",
    "Faktura\n\nFakturaen er stadig ikke betalt, og betalingsfristen er overskredet.",
    "Møde\n\nJeg bliver nødt til at aflyse mødet på torsdag, kan vi finde en ny dato?",
    "Tak\n\nTusind tak for den flotte indsats, vi er utrolig glade for resultatet.",
    "Logo\n\nJeg har anbefalet dig til min kollega, hun leder efter en designer.",
    "Weekend\n\nKan du kigge på det i weekenden eller sent i aften?",
    "Angebot\n\nKönnen Sie uns beim Preis entgegenkommen? Das ist uns zu teuer.",
    "Rechnung\n\nDie Überweisung ist noch nicht eingegangen, bitte prüfen Sie das.",
    "Termin\n\nWir müssen den Termin leider verschieben, können wir einen neuen Termin finden?",
    "Danke\n\nHerzlichen Dank für Ihre großartige Unterstützung, das ist toll geworden!",
    "Eilig\n\nBitte schicken Sie mir das schnellstmöglich, spätestens bis morgen früh.",
    "Wochenende\n\nKönnten Sie am Wochenende arbeiten? Gerne auch über Ostern.",
    "Kleinigkeit\n\nWo Sie gerade dabei sind, noch eine Kleinigkeit: bitte kurz ändern.",
    "Empfehlung\n\nIch habe Sie an meine Kollegin weiterempfohlen.",
    "Quote\n\nCould you\nsend it by the end of\nthe day? It is urgent, ASAP please.",
    "Invoice\n\nThe invoice is now 30 days overdue and the payment has not been received.",
    "Weekend\n\nCould you work on it over the weekend, or call me tonight at 9pm?",
    "Extra\n\nWhile you're at it, could you also quickly add one more small change?",
    "Meeting\n\nI'm sorry but we have to cancel the meeting, can we find another date?",
    "Thanks\n\nThank you so much, you did a fantastic job and we're really happy with the design.",
    "Referral\n\nI recommended you to a friend of mine who needs a photographer.",
    "Price\n\nIs there any chance of a discount? The fee seems a bit high for us.",
    "Mixed\n\nHASTER! DRINGEND! URGENT! Kan du? Können Sie bitte? Could you please?",
    "Tabs\n\nkan\tdu\tsende\tdet\thurtigst\tmuligt?\u00a0Bitte\u00a0sofort\u00a0schicken.",
};

/*
 * The prefilter may report too much, never too little: with it on and off the shipped packs
 * give the same hits on every fixture mail, upper-cased, with only the Danish/German letters
 * upper-cased, lower-cased and with the exotic caseless spellings, for every language a rule
 * may be restricted to.
 */
static void test_prefilter_equivalence(void **state)
{
	static const char *const langs[] = {NULL, "da", "de", "en"};
	struct rules *r = load_shipped();
	struct rules_hit hits[MAX_TEST_HITS];
	size_t n_fix, n_texts, total = 0, runs = 0;
	char **fix, **texts;

	(void)state;
	if (!rules_prefilter_build(r) || !rules_prefilter_active(r)) {
		print_message("prefilter not available on this machine: nothing to compare\n");
		rules_free(&r);
		skip();
	}
	fix = fixture_texts(&n_fix);
	n_texts = (n_fix + ARRAY_SIZE(extra_texts)) * 5;
	texts = xcalloc(n_texts, sizeof(*texts));
	for (size_t i = 0; i < n_fix + ARRAY_SIZE(extra_texts); i++) {
		const char *t = i < n_fix ? fix[i] : extra_texts[i - n_fix];

		texts[i * 5] = xstrdup(t);
		texts[i * 5 + 1] = recase(t, UPPER_ALL);
		texts[i * 5 + 2] = recase(t, UPPER_NON_ASCII);
		texts[i * 5 + 3] = recase(t, LOWER_ALL);
		texts[i * 5 + 4] = recase(t, EXOTIC);
	}
	for (size_t i = 0; i < n_texts; i++) {
		const char *nl = strstr(texts[i], "\n\n");

		for (size_t l = 0; l < ARRAY_SIZE(langs); l++) {
			struct rules_input in = {texts[i], strlen(texts[i]),
			                         (size_t)(nl - texts[i]) + 2, langs[l],
			                         RULES_DIR_UNKNOWN};

			total += match_both(r, &in, hits, MAX_TEST_HITS);
			runs++;
		}
	}
	print_message("prefilter equivalence: %zu texts, %zu runs, %zu hits, %zu patterns\n",
	              n_texts, runs, total, rules_pattern_count(r));
	/* Not vacuous: the texts do fire rules (every fixture signal, in four spellings). */
	assert_true(total > 500);
	for (size_t i = 0; i < n_texts; i++)
		free(texts[i]);
	free(texts);
	for (size_t i = 0; i < n_fix; i++)
		free(fix[i]);
	free(fix);
	rules_free(&r);
}

/* rules.h: the database is built on demand, once rules_match() has seen about 2 MB of text. */
static void test_prefilter_on_demand(void **state)
{
	struct rules *r = load_shipped();
	struct rules_hit hits[MAX_TEST_HITS];
	size_t len = 256 * 1024;
	char *text = xmalloc(len);
	struct rules_input in = {text, len, 0, "da", RULES_DIR_UNKNOWN};

	(void)state;
	/* Blanks: the cheapest text for PCRE2 to reject, the bytes count all the same. */
	memset(text, ' ', len);
	memcpy(text, "Hej\n\nTak for sidst.", 20);
	in.body_start = 5;
	assert_false(rules_prefilter_active(r)); /* loading stays fast */
	for (int i = 0; i < 4; i++)              /* 1 MB */
		rules_match(r, &in, hits, MAX_TEST_HITS);
	assert_false(rules_prefilter_active(r));
	for (int i = 0; i < 12; i++) /* 4 MB in all */
		rules_match(r, &in, hits, MAX_TEST_HITS);
	if (!rules_prefilter_active(r)) {
		bool can = rules_prefilter_build(r);

		free(text);
		rules_free(&r);
		if (can)
			fail_msg("4 MB of text matched and the prefilter is still not built");
		print_message("prefilter not available on this machine\n");
		skip();
	}
	/* Switched off and on again it stays built. */
	rules_set_prefilter(r, false);
	assert_false(rules_prefilter_active(r));
	rules_set_prefilter(r, true);
	assert_true(rules_prefilter_active(r));
	assert_true(rules_prefilter_build(r));
	free(text);
	rules_free(&r);
}

/*
 * Hostile texts finish: backtracking is bounded by PCRE2's match limits, vetoed occurrences
 * by a per-rule cap. Functional only: no timing assertion. Both with and without the
 * prefilter, as a body (subject empty) and as one long subject line.
 */
static void test_pathological(void **state)
{
	static const struct {
		const char *unit;
		size_t repeat;
		bool as_subject; /* also try it as one long subject line */
	} cases[] = {
	    {"a", 1024 * 1024, false},
	    {"bitte ", 200000, false},
	    {"ø", 64 * 1024, true},
	    {"not urgent ", 16000, true},
	    {"haster ikke, ", 16000, true},
	    {"can you ", 25000, true},
	    {"kan du ikke lige ", 10000, true},
	    {"sieht das ", 20000, true},
	    {". ", 100000, true},
	    {"\n", 200000, true},
	};
	struct rules *r = load_shipped();
	struct rules_hit hits[MAX_TEST_HITS];

	(void)state;
	rules_prefilter_build(r);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		size_t ul = strlen(cases[i].unit), len = ul * cases[i].repeat;
		char *text = xmalloc(len + 1);
		struct rules_input in = {text, len, 0, "da", RULES_DIR_UNKNOWN};

		for (size_t k = 0; k < cases[i].repeat; k++)
			memcpy(text + k * ul, cases[i].unit, ul);
		text[len] = '\0';
		for (int on = 0; on < 2; on++) {
			rules_set_prefilter(r, on);
			in.body_start = 2;
			assert_in_range(rules_match(r, &in, hits, MAX_TEST_HITS), 0, MAX_TEST_HITS);
			in.body_start = len;
			if (cases[i].as_subject)
				assert_in_range(rules_match(r, &in, hits, MAX_TEST_HITS), 0,
				                MAX_TEST_HITS);
		}
		free(text);
	}
	rules_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_load_errors),
	    cmocka_unit_test(test_load_bad_patterns),
	    cmocka_unit_test(test_load_collects_all),
	    cmocka_unit_test(test_load_missing_dir),
	    cmocka_unit_test(test_load_missing_catalogue),
	    cmocka_unit_test(test_match_semantics),
	    cmocka_unit_test(test_match_offsets),
	    cmocka_unit_test(test_catalogue),
	    cmocka_unit_test(test_rule_guard_scope_message),
	    cmocka_unit_test(test_prefilter_tricky_patterns),
	    cmocka_unit_test(test_prefilter_equivalence),
	    cmocka_unit_test(test_prefilter_on_demand),
	    cmocka_unit_test(test_pathological),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
