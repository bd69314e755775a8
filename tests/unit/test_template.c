/* template: the shipped templates, load-time errors, sections, lists, injection attempts. */
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

#include "redflag/template.h"
#include "redflag/util.h"

#define SHIPPED "conf/templates"

/* ---------------------------------------------------------------- helpers */

/* Writes text as <dir>/<kind>.en.tmpl in a fresh directory; returns the directory. */
static char *write_template(enum template_kind kind, const char *text)
{
	char *dir = xstrdup("/tmp/test_template.XXXXXX");
	char *path;
	FILE *f;

	assert_non_null(mkdtemp(dir));
	path = xasprintf("%s/%s.en.tmpl", dir, template_kind_name(kind));
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
	free(path);
	return dir;
}

static void remove_template(char *dir, enum template_kind kind)
{
	char *path = xasprintf("%s/%s.en.tmpl", dir, template_kind_name(kind));

	unlink(path);
	rmdir(dir);
	free(path);
	free(dir);
}

static struct template *load_text(enum template_kind kind, const char *text)
{
	struct strbuf errors = STRBUF_INIT;
	struct template *t = NULL;
	char *dir = write_template(kind, text);
	int r = template_load(dir, kind, "en", &t, &errors);

	if (r != 0)
		fail_msg("load failed (%d): %s", r, errors.data ? errors.data : "");
	remove_template(dir, kind);
	strbuf_release(&errors);
	return t;
}

static size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; s && *s; s++)
		n += *s == '\n';
	return n;
}

/* ---------------------------------------------------------------- shipped templates */

static const char *const sample_terms[] = {
    "Replies within one working day",
    "Two rounds of revisions are included",
    "Invoices are due within 14 days",
};

static void test_shipped(void **state)
{
	static const char *const langs[] = {"da", "de", "en"};
	static const enum template_kind kinds[] = {TEMPLATE_ONBOARDING, TEMPLATE_FAREWELL};
	const struct template_var vars[] = {
	    {.name = "owner.name", .value = "Mette Sørensen"},
	    {.name = "owner.first_name", .value = "Mette"},
	    {.name = "owner.email", .value = "mette@example.dk"},
	    {.name = "client.name", .value = "Jörg Ærø"},
	    {.name = "terms", .list = sample_terms, .n_list = ARRAY_SIZE(sample_terms)},
	    {.name = "work_hours", .value = "Monday to Friday, 08:00–17:00"},
	    {.name = "end_date", .value = "31.03.2026"},
	    {.name = "handover", .value = "the source files"},
	    {.name = "colleague", .value = "Anna Berg"},
	};
	(void)state;

	for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
		for (size_t l = 0; l < ARRAY_SIZE(langs); l++) {
			struct strbuf errors = STRBUF_INIT, subject = STRBUF_INIT,
			              body = STRBUF_INIT;
			struct template *t = NULL;
			int r = template_load(SHIPPED, kinds[k], langs[l], &t, &errors);

			if (r != 0)
				fail_msg("%s.%s: %d %s", template_kind_name(kinds[k]), langs[l], r,
				         errors.data ? errors.data : "");
			assert_int_equal(
			    template_render(t, vars, ARRAY_SIZE(vars), &subject, &body), 0);
			if (getenv("TEMPLATE_PRINT"))
				printf("---- %s.%s\nSubject: %s\n\n%s",
				       template_kind_name(kinds[k]), langs[l], subject.data,
				       body.data);
			assert_non_null(strstr(subject.data, "Jörg Ærø"));
			assert_null(strchr(subject.data, '\n'));
			assert_non_null(strstr(body.data, "Jörg Ærø"));
			assert_non_null(strstr(body.data, "Mette Sørensen"));
			assert_null(strstr(body.data, "{{"));
			assert_null(strstr(subject.data, "{{"));
			assert_null(strstr(body.data, "\n\n\n"));
			assert_null(strchr(body.data, '\r'));
			assert_true(body.len >= 2 && body.data[body.len - 1] == '\n' &&
			            body.data[body.len - 2] != '\n');
			if (kinds[k] == TEMPLATE_ONBOARDING) {
				for (size_t i = 0; i < ARRAY_SIZE(sample_terms); i++) {
					char *line = xasprintf("\n• %s\n", sample_terms[i]);

					assert_non_null(strstr(body.data, line));
					free(line);
				}
				assert_non_null(strstr(body.data, "08:00–17:00"));
				assert_non_null(strstr(body.data, "mette@example.dk"));
			} else {
				assert_non_null(strstr(body.data, "31.03.2026"));
				assert_non_null(strstr(body.data, "the source files"));
				assert_non_null(strstr(body.data, "Anna Berg"));
			}
			strbuf_release(&errors);
			strbuf_release(&subject);
			strbuf_release(&body);
			template_free(&t);
			assert_null(t);
		}
	}
}

/* Optional values left out of the shipped templates leave neither words nor gaps. */
static void test_shipped_optional_absent(void **state)
{
	static const char *const langs[] = {"da", "de", "en"};
	const struct template_var vars[] = {
	    {.name = "owner.name", .value = "Owner"},
	    {.name = "client.name", .value = "Client"},
	    {.name = "end_date", .value = "1 May 2026"},
	    {.name = "colleague", .value = ""},
	    {.name = "terms", .list = NULL, .n_list = 0},
	};
	(void)state;

	for (size_t l = 0; l < ARRAY_SIZE(langs); l++) {
		for (int k = 0; k < 2; k++) {
			struct strbuf subject = STRBUF_INIT, body = STRBUF_INIT;
			struct template *t = NULL;

			assert_int_equal(
			    template_load(SHIPPED, (enum template_kind)k, langs[l], &t, NULL), 0);
			assert_int_equal(
			    template_render(t, vars, ARRAY_SIZE(vars), &subject, &body), 0);
			assert_null(strstr(body.data, "\n\n\n"));
			assert_null(strstr(body.data, "•  "));
			assert_null(strstr(body.data, "{{"));
			assert_non_null(strstr(body.data, "Client"));
			strbuf_release(&subject);
			strbuf_release(&body);
			template_free(&t);
		}
	}
}

/* ---------------------------------------------------------------- load errors */

struct error_case {
	const char *name;
	enum template_kind kind;
	const char *text;
	size_t n_errors;     /* lines in errors; 0 = do not check the count */
	const char *want[3]; /* substrings of errors, "file:line: ..." after the dir */
};

static const struct error_case error_cases[] = {
    {"unknown placeholder at line 7",
     TEMPLATE_ONBOARDING,
     "Subject: Hi\n\nl3\nl4\nl5\nl6\nHello {{foo}}\n",
     1,
     {"onboarding.en.tmpl:7: unknown placeholder {{foo}}",
      "(known in onboarding templates: owner.name, owner.first_name, owner.email, "
      "client.name, terms, work_hours)"}},
    {"a farewell name in onboarding",
     TEMPLATE_ONBOARDING,
     "Subject: Hi\n\nSee {{colleague}}\n",
     1,
     {"onboarding.en.tmpl:3: unknown placeholder {{colleague}}"}},
    {"unknown in the subject",
     TEMPLATE_FAREWELL,
     "Subject: Hi {{client}}\n\nBody\n",
     1,
     {"farewell.en.tmpl:1: unknown placeholder {{client}}"}},
    {"unknown section",
     TEMPLATE_FAREWELL,
     "Subject: Hi\n\n{{#bar}}x{{/bar}}\n",
     2,
     {"farewell.en.tmpl:3: unknown section {{#bar}}", ":3: unknown section {{/bar}}"}},
    {"section never closed",
     TEMPLATE_FAREWELL,
     "Subject: Hi\n\nA\n{{#colleague}}Rec {{colleague}}.\nB\n",
     1,
     {"farewell.en.tmpl:4: {{#colleague}} is never closed"}},
    {"close without open",
     TEMPLATE_FAREWELL,
     "Subject: Hi\n\nA\n\nB{{/colleague}}\n",
     1,
     {"farewell.en.tmpl:5: {{/colleague}} without a {{#colleague}}"}},
    {"nested sections",
     TEMPLATE_FAREWELL,
     "Subject: Hi\n\n{{#colleague}}\n{{#handover}}x{{/handover}}\n{{/colleague}}\n",
     0,
     {"farewell.en.tmpl:4: section {{#handover}} inside {{#colleague}} (opened at line 3)"}},
    {"mismatched close",
     TEMPLATE_FAREWELL,
     "Subject: Hi\n\n{{#handover}}x\n{{/colleague}}\n",
     1,
     {"farewell.en.tmpl:4: {{/colleague}} closes {{#handover}} (opened at line 3)"}},
    {"section open in the subject, closed in the body",
     TEMPLATE_FAREWELL,
     "Subject: Hi {{#colleague}}\n\n{{/colleague}}\n",
     2,
     {":1: {{#colleague}} is never closed", ":3: {{/colleague}} without"}},
    {"missing Subject",
     TEMPLATE_ONBOARDING,
     "Hello {{client.name}}\n\nBody\n",
     1,
     {"onboarding.en.tmpl:1: missing Subject: header"}},
    {"extra header",
     TEMPLATE_ONBOARDING,
     "Subject: Hi\nFrom: me@x.y\n\nBody\n",
     1,
     {"onboarding.en.tmpl:2: unknown header \"From:\" (only Subject: is allowed)"}},
    {"Subject twice",
     TEMPLATE_ONBOARDING,
     "Subject: Hi\nSubject: Ho\n\nBody\n",
     1,
     {":2: Subject: given twice (first at line 1)"}},
    {"empty Subject",
     TEMPLATE_ONBOARDING,
     "Subject:   \n\nBody\n",
     1,
     {"onboarding.en.tmpl:1: empty Subject:"}},
    {"missing blank line",
     TEMPLATE_ONBOARDING,
     "Subject: Hi\nDear {{client.name}},\nBody {{bogus}}\n",
     2,
     {"onboarding.en.tmpl:2: expected a blank line between the header block and the body",
      "onboarding.en.tmpl:3: unknown placeholder {{bogus}}"}},
    {"no body at all",
     TEMPLATE_ONBOARDING,
     "Subject: Hi\n",
     2,
     {"onboarding.en.tmpl:1: no blank line and body after the header block", "empty body"}},
    {"empty body", TEMPLATE_ONBOARDING, "Subject: Hi\n\n\n  \n", 1, {":3: empty body"}},
    {"malformed placeholder",
     TEMPLATE_ONBOARDING,
     "Subject: Hi\n\nDear {{client name}}\n",
     1,
     {":3: malformed placeholder {{client name}}"}},
    {"unterminated placeholder",
     TEMPLATE_ONBOARDING,
     "Subject: Hi\n\nDear {{client.name\n}}\n",
     1,
     {":3: unterminated \"{{\""}},
    {"list inside a line",
     TEMPLATE_ONBOARDING,
     "Subject: Hi\n\nTerms: {{terms}}\n",
     1,
     {":3: {{terms}} is a list: it must stand on a line of its own"}},
    {"list in the subject",
     TEMPLATE_ONBOARDING,
     "Subject: {{terms}}\n\nBody\n",
     1,
     {":1: {{terms}} is a list"}},
    {"invalid UTF-8",
     TEMPLATE_ONBOARDING,
     "Subject: Hi\n\nok\nbad \xc3\x28 byte\n",
     1,
     {"onboarding.en.tmpl:4: invalid UTF-8"}},
    {"control character",
     TEMPLATE_ONBOARDING,
     "Subject: Hi\n\nbell \a here\n",
     1,
     {":3: control character 0x07"}},
    {"lone CR",
     TEMPLATE_ONBOARDING,
     "Subject: Hi\r\n\r\nA\rB\r\n",
     1,
     {":3: control character 0x0d"}},
    {"every problem reported",
     TEMPLATE_FAREWELL,
     "Subject: Bye {{nope}}\nX-Mailer: me\n\nA {{one}}\n\nB {{two}}\n{{#colleague}}\n",
     5,
     {":1: unknown placeholder {{nope}}", ":2: unknown header \"X-Mailer:\"",
      ":6: unknown placeholder {{two}}"}},
};

static void test_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(error_cases); i++) {
		const struct error_case *c = &error_cases[i];
		struct strbuf errors = STRBUF_INIT;
		struct template *t = (struct template *)&errors; /* must become NULL */
		char *dir = write_template(c->kind, c->text);
		int r = template_load(dir, c->kind, "en", &t, &errors);

		if (r != -EINVAL || t != NULL)
			fail_msg("%s: r=%d", c->name, r);
		assert_non_null(errors.data);
		for (size_t k = 0; k < ARRAY_SIZE(c->want) && c->want[k]; k++)
			if (strstr(errors.data, c->want[k]) == NULL)
				fail_msg("%s: want \"%s\" in:\n%s", c->name, c->want[k],
				         errors.data);
		if (c->n_errors && count_lines(errors.data) != c->n_errors)
			fail_msg("%s: want %zu errors, got:\n%s", c->name, c->n_errors,
			         errors.data);
		/* Every message is located: "<dir>/<file>:<line>: ". */
		assert_int_equal(strncmp(errors.data, dir, strlen(dir)), 0);
		remove_template(dir, c->kind);
		strbuf_release(&errors);
	}
}

static void test_missing_and_bad_arguments(void **state)
{
	struct strbuf errors = STRBUF_INIT;
	struct template *t = NULL;
	static const char *const bad_langs[] = {"", "../en", "EN", "en/x", "toolonglang", "e n"};
	(void)state;

	assert_int_equal(template_load(SHIPPED, TEMPLATE_ONBOARDING, "fr", &t, &errors), -ENOENT);
	assert_null(t);
	assert_int_equal(errors.len, 0);
	assert_int_equal(template_load("/nonexistent", TEMPLATE_FAREWELL, "da", &t, NULL), -ENOENT);
	for (size_t i = 0; i < ARRAY_SIZE(bad_langs); i++)
		assert_int_equal(
		    template_load(SHIPPED, TEMPLATE_ONBOARDING, bad_langs[i], &t, NULL), -EINVAL);
	assert_int_equal(template_load(SHIPPED, TEMPLATE_ONBOARDING, NULL, &t, NULL), -EINVAL);
	assert_int_equal(template_load(SHIPPED, (enum template_kind)7, "en", &t, &errors), -EINVAL);
	assert_non_null(strstr(errors.data, "invalid kind"));
	strbuf_release(&errors);
	/* A directory where the file should be. */
	{
		char *dir = xstrdup("/tmp/test_template.XXXXXX");
		char *path;

		assert_non_null(mkdtemp(dir));
		path = xasprintf("%s/onboarding.en.tmpl", dir);
		assert_int_equal(mkdir(path, 0700), 0);
		assert_int_equal(template_load(dir, TEMPLATE_ONBOARDING, "en", &t, &errors),
		                 -EINVAL);
		assert_non_null(strstr(errors.data, "not a regular file"));
		rmdir(path);
		rmdir(dir);
		free(path);
		free(dir);
		strbuf_release(&errors);
	}
	template_free(&t);
	template_free(NULL);
	assert_string_equal(template_kind_name(TEMPLATE_ONBOARDING), "onboarding");
	assert_string_equal(template_kind_name(TEMPLATE_FAREWELL), "farewell");
	assert_string_equal(template_kind_name((enum template_kind)9), "unknown");
}

static void test_file_too_large(void **state)
{
	struct strbuf text = STRBUF_INIT, errors = STRBUF_INIT;
	struct template *t = NULL;
	char *dir;
	(void)state;

	strbuf_appends(&text, "Subject: Hi\n\n");
	while (text.len <= TEMPLATE_FILE_MAX)
		strbuf_appends(&text, "All work and no play makes Jack a dull boy.\n");
	dir = write_template(TEMPLATE_ONBOARDING, text.data);
	assert_int_equal(template_load(dir, TEMPLATE_ONBOARDING, "en", &t, &errors), -EINVAL);
	assert_non_null(strstr(errors.data, "onboarding.en.tmpl:1: larger than"));
	remove_template(dir, TEMPLATE_ONBOARDING);
	strbuf_release(&text);
	strbuf_release(&errors);
}

/* ---------------------------------------------------------------- rendering */

struct render_case {
	const char *name;
	enum template_kind kind;
	const char *text;
	const char *client;    /* client.name; NULL = no var at all */
	const char *colleague; /* NULL = no var at all */
	const char *const *terms;
	size_t n_terms;
	const char *subject; /* expected, exactly */
	const char *body;    /* expected, exactly */
};

static const char *const two_terms[] = {"Replies within a day", "Weekdays only"};
static const char *const blank_terms[] = {"", "  \r\n ", NULL};
static const char *const messy_terms[] = {"", "Line\r\nbreak", "  ", "Tab\there  "};

static const struct render_case render_cases[] = {
    /* {{terms}} */
    {"terms", TEMPLATE_ONBOARDING, "Subject: S\n\nIntro:\n\n{{terms}}\n\nAfter\n", "C", NULL,
     two_terms, 2, "S", "Intro:\n\n• Replies within a day\n• Weekdays only\n\nAfter\n"},
    {"terms empty: no line, no gap", TEMPLATE_ONBOARDING,
     "Subject: S\n\nIntro:\n\n{{terms}}\n\nAfter\n", "C", NULL, NULL, 0, "S", "Intro:\n\nAfter\n"},
    {"terms empty without blank lines around", TEMPLATE_ONBOARDING,
     "Subject: S\n\nIntro:\n{{terms}}\nAfter\n", "C", NULL, NULL, 0, "S", "Intro:\nAfter\n"},
    {"terms all blank", TEMPLATE_ONBOARDING, "Subject: S\n\nIntro:\n\n{{terms}}\n\nAfter\n", "C",
     NULL, blank_terms, 2, "S", "Intro:\n\nAfter\n"},
    {"terms indented", TEMPLATE_ONBOARDING, "Subject: S\n\nIntro:\n\t  {{ terms }}  \nAfter\n", "C",
     NULL, two_terms, 2, "S", "Intro:\n\t  • Replies within a day\n\t  • Weekdays only\nAfter\n"},
    {"terms indented, empty", TEMPLATE_ONBOARDING, "Subject: S\n\nIntro:\n    {{terms}}\nAfter\n",
     "C", NULL, NULL, 0, "S", "Intro:\nAfter\n"},
    {"terms: breaks in a term become spaces, blank terms go", TEMPLATE_ONBOARDING,
     "Subject: S\n\n  {{terms}}\nEnd\n", "C", NULL, messy_terms, 4, "S",
     "  • Line break\n  • Tab here\nEnd\n"},
    {"terms last in the body", TEMPLATE_ONBOARDING, "Subject: S\n\nIntro:\n\n{{terms}}\n", "C",
     NULL, NULL, 0, "S", "Intro:\n"},
    {"terms in a section", TEMPLATE_ONBOARDING,
     "Subject: S\n\nA\n\n{{#terms}}\nHow I work:\n\n{{terms}}\n{{/terms}}\n\nB\n", "C", NULL, NULL,
     0, "S", "A\n\nB\n"},

    /* sections */
    {"section filling a line, absent", TEMPLATE_FAREWELL,
     "Subject: S\n\nA\n\n{{#colleague}}Ask {{colleague}}.{{/colleague}}\n\nB\n", "C", NULL, NULL, 0,
     "S", "A\n\nB\n"},
    {"section filling a line, empty", TEMPLATE_FAREWELL,
     "Subject: S\n\nA\n\n{{#colleague}}Ask {{colleague}}.{{/colleague}}\n\nB\n", "C", "", NULL, 0,
     "S", "A\n\nB\n"},
    {"section filling a line, blank", TEMPLATE_FAREWELL,
     "Subject: S\n\nA\n\n{{#colleague}}Ask {{colleague}}.{{/colleague}}\n\nB\n", "C", " \r\n\t",
     NULL, 0, "S", "A\n\nB\n"},
    {"section filling a line, present", TEMPLATE_FAREWELL,
     "Subject: S\n\nA\n\n{{#colleague}}Ask {{colleague}}.{{/colleague}}\n\nB\n", "C", "Jane", NULL,
     0, "S", "A\n\nAsk Jane.\n\nB\n"},
    {"section on tag lines, absent", TEMPLATE_FAREWELL,
     "Subject: S\n\nA\n{{#colleague}}\nAsk\n{{colleague}}.\n{{/colleague}}\nB\n", "C", NULL, NULL,
     0, "S", "A\nB\n"},
    {"section on tag lines, present", TEMPLATE_FAREWELL,
     "Subject: S\n\nA\n  {{# colleague }}\nAsk\n{{colleague}}.\n  {{/ colleague}}\nB\n", "C",
     "Jane", NULL, 0, "S", "A\nAsk\nJane.\nB\n"},
    {"section inside a line", TEMPLATE_FAREWELL,
     "Subject: S\n\nHi{{#colleague}} and {{colleague}}{{/colleague}}!\n", "C", NULL, NULL, 0, "S",
     "Hi!\n"},
    {"section inside a line, present", TEMPLATE_FAREWELL,
     "Subject: S\n\nHi{{#colleague}} and {{colleague}}{{/colleague}}!\n", "C", "Jane", NULL, 0, "S",
     "Hi and Jane!\n"},
    {"section first in the body", TEMPLATE_FAREWELL,
     "Subject: S\n\n{{#colleague}}Ask {{colleague}}.{{/colleague}}\n\nB\n", "C", NULL, NULL, 0, "S",
     "B\n"},
    {"section last in the body", TEMPLATE_FAREWELL,
     "Subject: S\n\nA\n\n{{#colleague}}Ask {{colleague}}.{{/colleague}}\n", "C", NULL, NULL, 0, "S",
     "A\n"},
    {"section in the subject", TEMPLATE_FAREWELL,
     "Subject:  Bye{{#colleague}} (see {{colleague}}){{/colleague}}  \n\nB\n", "C", NULL, NULL, 0,
     "Bye", "B\n"},
    {"section in the subject, present", TEMPLATE_FAREWELL,
     "Subject: Bye{{#colleague}} (see {{colleague}}){{/colleague}}\n\nB\n", "C", "Jane", NULL, 0,
     "Bye (see Jane)", "B\n"},

    /* plain placeholders and layout */
    {"spaces inside braces, CRLF file", TEMPLATE_ONBOARDING,
     "Subject: Hi {{ client.name }}\r\n\r\nDear {{client.name}},\r\n\r\nText\r\n", "Acme", NULL,
     NULL, 0, "Hi Acme", "Dear Acme,\n\nText\n"},
    {"missing var renders empty", TEMPLATE_ONBOARDING,
     "Subject: Hi {{client.name}}\n\nDear {{client.name}},\nx\n", NULL, NULL, NULL, 0, "Hi",
     "Dear ,\nx\n"},
    {"lone braces are text", TEMPLATE_ONBOARDING, "Subject: {a} }} {\n\nx { y }} z {\n", "C", NULL,
     NULL, 0, "{a} }} {", "x { y }} z {\n"},
    {"blank lines at the ends go, one newline at the end", TEMPLATE_ONBOARDING,
     "Subject: S\n\n\n\nA\n\n\nB  \n\n\n", "C", NULL, NULL, 0, "S", "A\n\n\nB\n"},
    {"BOM and no final newline", TEMPLATE_ONBOARDING, "\xef\xbb\xbfSubject: S\n\nA", "C", NULL,
     NULL, 0, "S", "A\n"},

    /* injection attempts */
    {"client name with CRLF", TEMPLATE_ONBOARDING,
     "Subject: Hi {{client.name}}\n\nDear {{client.name}},\n", "Evil\r\nBcc: x@y", NULL, NULL, 0,
     "Hi Evil Bcc: x@y", "Dear Evil Bcc: x@y,\n"},
    {"client name is a placeholder", TEMPLATE_ONBOARDING,
     "Subject: Hi {{client.name}}\n\nDear {{client.name}}, {{owner.email}}!\n", "{{owner.email}}",
     NULL, NULL, 0, "Hi {{owner.email}}", "Dear {{owner.email}}, !\n"},
    {"separators, bidi overrides and bad bytes", TEMPLATE_ONBOARDING,
     "Subject: {{client.name}}\n\n{{client.name}}\n",
     "A\xe2\x80\xa8"
     "B\xe2\x80\xae"
     "C\xc2\x85\xff"
     "D\x7f",
     NULL, NULL, 0,
     "A B C \xef\xbf\xbd"
     "D",
     "A B C \xef\xbf\xbd"
     "D\n"},
};

static void test_render(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(render_cases); i++) {
		const struct render_case *c = &render_cases[i];
		struct template_var vars[4];
		struct strbuf subject = STRBUF_INIT, body = STRBUF_INIT;
		struct template *t = load_text(c->kind, c->text);
		size_t n = 0;

		if (c->client)
			vars[n++] =
			    (struct template_var){.name = "client.name", .value = c->client};
		if (c->colleague)
			vars[n++] =
			    (struct template_var){.name = "colleague", .value = c->colleague};
		vars[n++] =
		    (struct template_var){.name = "terms", .list = c->terms, .n_list = c->n_terms};
		vars[n++] = (struct template_var){.name = "not.a.placeholder", .value = "ignored"};
		assert_int_equal(template_render(t, vars, n, &subject, &body), 0);
		if (strcmp(subject.data ? subject.data : "", c->subject) != 0 ||
		    strcmp(body.data, c->body) != 0)
			fail_msg("%s:\nsubject [%s] want [%s]\nbody [%s] want [%s]", c->name,
			         subject.data ? subject.data : "", c->subject, body.data, c->body);
		strbuf_release(&subject);
		strbuf_release(&body);
		template_free(&t);
	}
}

/* The shipped templates with a hostile client name: no new header line, nothing expanded. */
static void test_injection_shipped(void **state)
{
	static const char *const names[] = {"Evil\r\nBcc: x@y", "Evil\nBcc: x@y\n\nbody",
	                                    "Evil\rBcc: x@y"};
	(void)state;

	for (size_t k = 0; k < 2; k++) {
		for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
			const struct template_var vars[] = {
			    {.name = "client.name", .value = names[i]},
			    {.name = "owner.name", .value = "{{client.name}}"},
			    {.name = "owner.email", .value = "owner@example.com"},
			};
			struct strbuf subject = STRBUF_INIT, body = STRBUF_INIT;
			struct template *t = NULL;

			assert_int_equal(
			    template_load(SHIPPED, (enum template_kind)k, "en", &t, NULL), 0);
			assert_int_equal(
			    template_render(t, vars, ARRAY_SIZE(vars), &subject, &body), 0);
			assert_null(strchr(subject.data, '\n'));
			assert_null(strchr(subject.data, '\r'));
			assert_null(strstr(subject.data, "\nBcc:"));
			assert_null(strstr(body.data, "\nBcc:"));
			assert_null(strchr(body.data, '\r'));
			assert_non_null(strstr(subject.data, "Evil Bcc: x@y"));
			/* The owner's name is shown as written, not expanded. */
			assert_non_null(strstr(body.data, "\n{{client.name}}\n"));
			strbuf_release(&subject);
			strbuf_release(&body);
			template_free(&t);
		}
	}
}

/* Rendering appends; over the ceiling both buffers stay as they were. */
static void test_render_appends_and_ceiling(void **state)
{
	struct template *t = load_text(TEMPLATE_ONBOARDING, "Subject: S {{client.name}}\n\n"
	                                                    "{{terms}}\n");
	struct strbuf subject = STRBUF_INIT, body = STRBUF_INIT;
	const char **many = xcalloc(2000, sizeof(*many));
	struct template_var vars[2] = {{.name = "client.name", .value = "C"},
	                               {.name = "terms", .list = NULL, .n_list = 2000}};
	(void)state;

	for (size_t i = 0; i < 2000; i++)
		many[i] = "forty bytes of a term, and a few more..";
	vars[1].list = many;
	strbuf_appends(&subject, "keep");
	strbuf_appends(&body, "keep\n");
	assert_int_equal(template_render(t, vars, 2, &subject, &body), -E2BIG);
	assert_string_equal(subject.data, "keep");
	assert_string_equal(body.data, "keep\n");

	vars[1].n_list = 3;
	assert_int_equal(template_render(t, vars, 2, &subject, &body), 0);
	assert_string_equal(subject.data, "keepS C");
	assert_string_equal(body.data, "keep\n• forty bytes of a term, and a few more..\n"
	                               "• forty bytes of a term, and a few more..\n"
	                               "• forty bytes of a term, and a few more..\n");
	free(many);
	strbuf_release(&subject);
	strbuf_release(&body);
	template_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_shipped),
	    cmocka_unit_test(test_shipped_optional_absent),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_missing_and_bad_arguments),
	    cmocka_unit_test(test_file_too_large),
	    cmocka_unit_test(test_render),
	    cmocka_unit_test(test_injection_shipped),
	    cmocka_unit_test(test_render_appends_and_ceiling),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
