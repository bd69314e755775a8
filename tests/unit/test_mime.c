/* mime: header sanitising and folding, RFC 2047 round trips, dates, QP, whole messages. */
#include <errno.h>
#include <locale.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libetpan/libetpan.h>

#include "redflag/message.h"
#include "redflag/mime.h"
#include "redflag/util.h"

/* ---------------------------------------------------------------- helpers */

/* Every line of s (CRLF separated) is at most max bytes; bare CR or LF fails too. */
static void assert_lines(const char *s, size_t len, size_t max)
{
	size_t start = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\r') {
			assert_true(i + 1 < len && s[i + 1] == '\n');
			if (i - start > max)
				fail_msg("line of %zu bytes (max %zu): %.*s", i - start, max,
				         (int)(i - start), s + start);
			i++;
			start = i + 1;
		} else {
			assert_true(s[i] != '\n');
		}
	}
	assert_true(len - start <= max);
}

/* true when some line of s starts with prefix. */
static bool line_starts(const char *s, const char *prefix)
{
	size_t n = strlen(prefix);

	if (strncmp(s, prefix, n) == 0)
		return true;
	for (const char *p = strstr(s, "\r\n"); p != NULL; p = strstr(p + 2, "\r\n"))
		if (strncmp(p + 2, prefix, n) == 0)
			return true;
	return false;
}

static char *sanitized(const char *s)
{
	struct strbuf b = STRBUF_INIT;

	mime_header_sanitize(s, &b);
	return strbuf_detach(&b, NULL);
}

/* Composes a message with the given subject, display name and bodies; asserts success. */
static char *compose(const char *subject, const char *from_name, const char *text, const char *html,
                     size_t *len)
{
	struct mime_mail m = {
	    .from_name = from_name,
	    .from_addr = "digest@studio.example",
	    .to_name = "Owner",
	    .to_addr = "owner@studio.example",
	    .subject = subject,
	    .date = 1767225600,
	    .message_id = "<p.2026@studio.example>",
	    .text = text,
	    .html = html,
	};
	struct strbuf out = STRBUF_INIT;
	char err[160];

	assert_int_equal(mime_compose(&m, &out, err, sizeof(err)), 0);
	return strbuf_detach(&out, len);
}

static struct message *parse(const char *raw, size_t len)
{
	struct message *msg = NULL;
	char err[160];

	assert_int_equal(message_parse(raw, len, NULL, &msg, err, sizeof(err)), 0);
	return msg;
}

/* ---------------------------------------------------------------- sanitize */

static const struct {
	const char *in, *want;
} sanitize_cases[] = {
    {"plain", "plain"},
    {"  lead and trail  ", "lead and trail"},
    {"a\r\nb", "a b"},
    {"x\r\nBcc: evil@x", "x Bcc: evil@x"},
    {"tab\there", "tab here"},
    {"many   \t\r\n  spaces", "many spaces"},
    {"nul-free \x01\x02\x1f\x7f controls", "nul-free controls"},
    {"\xc2\x85next line", "next line"},         /* C1 NEL */
    {"evil\xe2\x80\xaeRLO", "evil RLO"},        /* U+202E */
    {"bad \xff byte", "bad \xef\xbf\xbd byte"}, /* invalid → U+FFFD */
    {"cut \xc3", "cut \xef\xbf\xbd"},           /* truncated sequence */
    {"overlong \xc0\xaf", "overlong \xef\xbf\xbd\xef\xbf\xbd"},
    {"Kundenübersicht æøå", "Kundenübersicht æøå"},
    {"\r\n\r\n", ""},
    {"", ""},
};

static void test_sanitize(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(sanitize_cases); i++) {
		char *got = sanitized(sanitize_cases[i].in);

		if (strcmp(got, sanitize_cases[i].want) != 0)
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, got,
			         sanitize_cases[i].want);
		free(got);
	}
	{
		struct strbuf b = STRBUF_INIT;

		mime_header_sanitize(NULL, &b);
		assert_int_equal(b.len, 0);
		strbuf_release(&b);
	}
}

/* ---------------------------------------------------------------- headers */

static const struct {
	const char *value, *want;
} header_cases[] = {
    {"Client review 2026", "Subject: Client review 2026\r\n"},
    {"x\r\nBcc: evil@x", "Subject: x Bcc: evil@x\r\n"},
    {"", "Subject:\r\n"},
    {"\r\n", "Subject:\r\n"},
    {"a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a",
     "Subject: a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a\r\n"
     " a a a a a\r\n"},
    {"Kundenübersicht 2026", "Subject: =?UTF-8?Q?Kunden=C3=BCbersicht_2026?=\r\n"},
    {"=?UTF-8?B?eA==?=", "Subject: =?UTF-8?B?PT9VVEYtOD9CP2VBPT0/PQ==?=\r\n"},
};

static void test_header(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(header_cases); i++) {
		struct strbuf b = STRBUF_INIT;

		mime_header(&b, "Subject", header_cases[i].value);
		if (strcmp(b.data, header_cases[i].want) != 0)
			fail_msg("case %zu: got \"%s\"", i, b.data);
		strbuf_release(&b);
	}
}

static void test_header_injection(void **state)
{
	static const char *const evil[] = {
	    "x\r\nBcc: evil@x", "x\nBcc: evil@x",         "x\rBcc: evil@x",
	    "ø\r\nBcc: evil@x", "x\r\n\r\nbody injected", "x\r\n Bcc: folded@x",
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(evil); i++) {
		struct strbuf b = STRBUF_INIT;
		size_t len;
		char *raw;
		struct message *msg;

		mime_header(&b, "Subject", evil[i]);
		mime_address(&b, "From", evil[i], "a@b.example");
		assert_false(line_starts(b.data, "Bcc:"));
		assert_null(strstr(b.data, "\r\n\r\n"));
		strbuf_release(&b);

		raw = compose(evil[i], evil[i], "body", NULL, &len);
		assert_false(line_starts(raw, "Bcc:"));
		assert_false(line_starts(raw, "body injected"));
		msg = parse(raw, len);
		assert_int_equal(msg->n_rcpt, 1);
		assert_string_equal(msg->rcpt[0].addr, "owner@studio.example");
		assert_string_equal(msg->from.addr, "digest@studio.example");
		message_free(&msg);
		free(raw);
	}
}

/* ---------------------------------------------------------------- RFC 2047 round trip */

static void test_rfc2047_round_trip(void **state)
{
	static const char *const base[] = {
	    "Client review 2026",
	    "Kundegennemgang 2026 — æøå ÆØÅ",
	    "Kundenübersicht 2026: ÄÖÜß äöü",
	    "Emoji 🎉🚀 and CJK 日本語テキスト",
	    "=?UTF-8?Q?not_a_word?= looks encoded",
	    "under_score and question? and equals=",
	    "\"quotes\" and \\backslash\\ and <angle> (paren)",
	    "x\r\nBcc: evil@x",
	    "bad \xff bytes \xc3",
	    "ø",
	    "a",
	};
	char long_ascii[400], long_utf8[1000], long_word[1000];
	const char *cases[ARRAY_SIZE(base) + 3];
	size_t n = 0, o = 0;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(base); i++)
		cases[n++] = base[i];
	/* 300-character subjects: folded ASCII, a long UTF-8 mix, one unfoldable word. */
	for (o = 0; o + 6 < 300; o += 6)
		memcpy(long_ascii + o, "word. ", 6);
	long_ascii[o] = '\0';
	o = 0;
	while (o + 8 < 900) {
		memcpy(long_utf8 + o, "ø€🎉 ", 10);
		o += 10;
	}
	long_utf8[o] = '\0';
	memset(long_word, 'x', 950);
	long_word[950] = '\0';
	cases[n++] = long_ascii;
	cases[n++] = long_utf8;
	cases[n++] = long_word;

	for (size_t i = 0; i < n; i++) {
		char *want = sanitized(cases[i]);
		size_t len;
		char *raw = compose(cases[i], cases[i], "body", NULL, &len);
		struct message *msg = parse(raw, len);
		char *hdr_end = strstr(raw, "\r\n\r\n");
		const char *wname;
		size_t wlen;

		assert_non_null(hdr_end);
		/* Header lines holding encoded words stay within 76, all others within 78. */
		assert_lines(raw, (size_t)(hdr_end - raw), 78);
		if (strcmp(msg->subject, want) != 0)
			fail_msg("case %zu: subject \"%s\", want \"%s\"", i, msg->subject, want);
		/*
		 * message.c drops quotes around a display name, even ones that belong to it, and
		 * reads at most 512 bytes of one (encoded): compare the names that fit.
		 */
		wname = want;
		wlen = strlen(want);
		while (wlen > 0 && strchr("\"' ", wname[0]) != NULL)
			wname++, wlen--;
		while (wlen > 0 && strchr("\"' ", wname[wlen - 1]) != NULL)
			wlen--;
		if (wlen <= 120 &&
		    (strlen(msg->from.name) != wlen || memcmp(msg->from.name, wname, wlen) != 0))
			fail_msg("case %zu: from name \"%s\", want \"%s\"", i, msg->from.name,
			         want);
		assert_string_equal(msg->from.addr, "digest@studio.example");
		message_free(&msg);
		free(raw);
		free(want);
	}
}

static void test_encoded_word_shape(void **state)
{
	char s[600];
	struct strbuf b = STRBUF_INIT;
	size_t o = 0;

	(void)state;
	while (o + 4 < sizeof(s) - 1) {
		memcpy(s + o, "🎉", 4);
		o += 4;
	}
	s[o] = '\0';
	mime_header(&b, "Subject", s);
	assert_lines(b.data, b.len, 76);
	/* Every word is whole: starts "=?UTF-8?", ends "?=", at most 75 characters. */
	for (char *p = strstr(b.data, "=?UTF-8?"); p != NULL; p = strstr(p + 1, "=?UTF-8?")) {
		char *e = strstr(p + 10, "?=");

		assert_non_null(e);
		assert_true(e + 2 - p <= 75);
	}
	strbuf_release(&b);
}

/* ---------------------------------------------------------------- addresses */

static const struct {
	const char *display, *addr, *want;
} address_cases[] = {
    {"Test Owner", "a@b.example", "From: \"Test Owner\" <a@b.example>\r\n"},
    {NULL, "a@b.example", "From: a@b.example\r\n"},
    {"", "a@b.example", "From: a@b.example\r\n"},
    {" \r\n ", "a@b.example", "From: a@b.example\r\n"},
    {"Say \"hi\" \\ o/", "a@b.example", "From: \"Say \\\"hi\\\" \\\\ o/\" <a@b.example>\r\n"},
    {"Holm, Mette", "m@s.dk", "From: \"Holm, Mette\" <m@s.dk>\r\n"},
    {"Mette Hølm", "m@s.dk", "From: =?UTF-8?Q?Mette_H=C3=B8lm?= <m@s.dk>\r\n"},
    {"x", "evil>\r\nBcc: <x@y", "From: \"x\" <evilBcc:x@y>\r\n"},
};

static void test_address(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(address_cases); i++) {
		struct strbuf b = STRBUF_INIT;

		mime_address(&b, "From", address_cases[i].display, address_cases[i].addr);
		if (strcmp(b.data, address_cases[i].want) != 0)
			fail_msg("case %zu: got \"%s\"", i, b.data);
		strbuf_release(&b);
	}
}

static const struct {
	const char *addr;
	int want;
} valid_cases[] = {
    {"a@b", 0},
    {"mette.holm+digest@studio.example", 0},
    {"", -EINVAL},
    {"@b", -EINVAL},
    {"a@", -EINVAL},
    {"ab", -EINVAL},
    {"a@b@c", -EINVAL},
    {"a b@c", -EINVAL},
    {"a@b\r\nBcc: x@y", -EINVAL},
    {"a@b\n", -EINVAL},
    {"<a@b>", -EINVAL},
    {"\"a\"@b", -EINVAL},
    {"a@[127.0.0.1]", -EINVAL},
    {"a,b@c", -EINVAL},
    {"ø@b", -EINVAL},
    {"a\x7f@b", -EINVAL},
    {"a\t@b", -EINVAL},
};

static void test_address_valid(void **state)
{
	char big[300];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(valid_cases); i++)
		if (mime_address_valid(valid_cases[i].addr) != valid_cases[i].want)
			fail_msg("case %zu (%s)", i, valid_cases[i].addr);
	assert_int_equal(mime_address_valid(NULL), -EINVAL);
	memset(big, 'a', sizeof(big));
	memcpy(big + 250, "@b.dk", 6); /* 255 bytes */
	assert_int_equal(mime_address_valid(big), -EINVAL);
	memcpy(big + 249, "@b.dk", 6); /* 254 bytes */
	assert_int_equal(mime_address_valid(big), 0);
}

/* ---------------------------------------------------------------- dates */

static const struct {
	int64_t t;
	const char *want;
} date_cases[] = {
    {0, "Thu, 01 Jan 1970 00:00:00 +0000"},
    {1767225600, "Thu, 01 Jan 2026 00:00:00 +0000"},
    {1709208000, "Thu, 29 Feb 2024 12:00:00 +0000"},
    {951782400, "Tue, 29 Feb 2000 00:00:00 +0000"},
    {-1, "Wed, 31 Dec 1969 23:59:59 +0000"},
    {-86400 * 365LL, "Wed, 01 Jan 1969 00:00:00 +0000"},
    {1798761599, "Thu, 31 Dec 2026 23:59:59 +0000"},
    {INT64_MAX, "Fri, 31 Dec 9999 23:59:59 +0000"},
    {INT64_MIN, "Mon, 01 Jan 0001 00:00:00 +0000"},
};

static void test_date(void **state)
{
	(void)state;
	/* Whatever the process locale says, the names stay English. */
	setlocale(LC_ALL, "de_DE.UTF-8");
	setlocale(LC_ALL, "da_DK.UTF-8");
	for (size_t i = 0; i < ARRAY_SIZE(date_cases); i++) {
		struct strbuf b = STRBUF_INIT;

		mime_date(&b, date_cases[i].t);
		if (strcmp(b.data, date_cases[i].want) != 0)
			fail_msg("case %zu: got \"%s\"", i, b.data);
		strbuf_release(&b);
	}
	setlocale(LC_ALL, "C");
}

/* ---------------------------------------------------------------- quoted-printable */

static const struct {
	const char *in, *want;
} qp_cases[] = {
    {"hello", "hello"},
    {"a=b", "a=3Db"},
    {"line\nnext", "line\r\nnext"},
    {"crlf\r\nnext", "crlf\r\nnext"},
    {"lone\rcr", "lone=0Dcr"},
    {"trail \nx", "trail=20\r\nx"},
    {"trail\t", "trail=09"},
    {"mid space", "mid space"},
    {".", "=2E"},
    {"a\n.\nb", "a\r\n=2E\r\nb"},
    {"..dots", "=2E.dots"},
    {"From here", "=46rom here"},
    {"x\nFrom y", "x\r\n=46rom y"},
    {"Fromage", "Fromage"},
    {"æ", "=C3=A6"},
    {"", ""},
};

/* Decodes QP with libetpan, the parser message.c uses. */
static char *qp_decode(const char *s, size_t n, size_t *outlen)
{
	char *dec = NULL, *r;
	size_t idx = 0, dlen = 0;

	assert_int_equal(
	    mailmime_part_parse(s, n, &idx, MAILMIME_MECHANISM_QUOTED_PRINTABLE, &dec, &dlen),
	    MAILIMF_NO_ERROR);
	r = xstrndup(dec, dlen);
	*outlen = dlen;
	mailmime_decoded_part_free(dec);
	return r;
}

static void test_qp(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(qp_cases); i++) {
		struct strbuf b = STRBUF_INIT;

		mime_qp_encode(&b, qp_cases[i].in, strlen(qp_cases[i].in));
		if (strcmp(b.data, qp_cases[i].want) != 0)
			fail_msg("case %zu: got \"%s\"", i, b.data);
		strbuf_release(&b);
	}
}

static void test_qp_lines_and_round_trip(void **state)
{
	struct strbuf in = STRBUF_INIT, want = STRBUF_INIT, enc = STRBUF_INIT;
	uint64_t x = 42;
	size_t dlen;
	char *dec;

	(void)state;
	/* Pseudo-random text heavy in things QP must handle, with long lines. */
	for (size_t i = 0; i < 20000; i++) {
		static const char *const pieces[] = {"a",    " ",    "=",     ".",   "ø",
		                                     "🎉",    "\t",   "From ", "\n",  "\n.",
		                                     "word", "\x01", "\xff",  "\n\n"};
		const char *p;

		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		p = pieces[(x >> 33) % ARRAY_SIZE(pieces)];
		strbuf_appends(&in, p);
	}
	for (size_t i = 0; i < in.len; i++) {
		if (in.data[i] == '\n')
			strbuf_appendc(&want, '\r');
		strbuf_appendc(&want, in.data[i]);
	}
	mime_qp_encode(&enc, in.data, in.len);
	assert_lines(enc.data, enc.len, 76);
	assert_false(line_starts(enc.data, "."));
	assert_false(line_starts(enc.data, "From "));
	dec = qp_decode(enc.data, enc.len, &dlen);
	assert_int_equal(dlen, want.len);
	assert_memory_equal(dec, want.data, want.len);
	free(dec);
	strbuf_release(&in);
	strbuf_release(&want);
	strbuf_release(&enc);
}

/* ---------------------------------------------------------------- whole messages */

/* The decoded body of a single MIME part, with its subtype. */
static char *part_text(struct mailmime *mm, const char **subtype)
{
	struct mailmime_data *d = mm->mm_data.mm_single;
	size_t dlen;

	assert_int_equal(mm->mm_type, MAILMIME_SINGLE);
	assert_non_null(mm->mm_content_type);
	assert_string_equal(mm->mm_content_type->ct_type->tp_data.tp_discrete_type->dt_type ==
	                            MAILMIME_DISCRETE_TYPE_TEXT
	                        ? "text"
	                        : "other",
	                    "text");
	*subtype = mm->mm_content_type->ct_subtype;
	assert_int_equal(d->dt_encoding, MAILMIME_MECHANISM_QUOTED_PRINTABLE);
	return qp_decode(d->dt_data.dt_text.dt_data, d->dt_data.dt_text.dt_length, &dlen);
}

static char *crlf(const char *s)
{
	struct strbuf b = STRBUF_INIT;

	for (; *s; s++) {
		if (*s == '\n')
			strbuf_appendc(&b, '\r');
		strbuf_appendc(&b, *s);
	}
	return strbuf_detach(&b, NULL);
}

static void test_multipart_parses_back(void **state)
{
	const char *text = "Client review 2026\n\n.\nAt a glance\n  talk  1  ██████\nFrom here on: "
	                   "æøå ÄÖÜß 🎉 = 100 %\n--=_redflagd_0000000000000000\n";
	const char *html = "<!DOCTYPE html>\n<html><body><table><tr><td style=\"color:#b03a2e\">"
	                   "&lt;script&gt; Bergmann — æøå</td></tr></table></body></html>\n";
	struct mailmime *mime = NULL;
	struct message *msg;
	clistiter *it;
	const char *st;
	char *raw, *got, *want, *boundary;
	size_t len, idx = 0;

	(void)state;
	raw = compose("Kundegennemgang 2026", "redflagd", text, html, &len);
	assert_lines(raw, len, 998);
	assert_lines(strstr(raw, "\r\n\r\n") + 4, len - (size_t)(strstr(raw, "\r\n\r\n") + 4 - raw),
	             76);
	assert_false(line_starts(raw, "."));
	assert_non_null(strstr(raw, "\r\nMIME-Version: 1.0\r\n"));
	assert_non_null(strstr(raw, "\r\nAuto-Submitted: auto-generated\r\n"));
	assert_non_null(strstr(raw, "\r\nMessage-ID: <p.2026@studio.example>\r\n"));
	assert_true(strncmp(raw, "Date: Thu, 01 Jan 2026 00:00:00 +0000\r\n", 39) == 0);
	boundary = strstr(raw, "boundary=\"=_");
	assert_non_null(boundary);

	/* Our own parser: text/plain wins the alternative. */
	msg = parse(raw, len);
	assert_string_equal(msg->subject, "Kundegennemgang 2026");
	assert_non_null(strstr(msg->body, "At a glance"));
	assert_non_null(strstr(msg->body, "æøå ÄÖÜß 🎉 = 100 %"));
	assert_true(msg->flags & MESSAGE_AUTO);
	message_free(&msg);

	/* libetpan's structure: one multipart/alternative, text then html, both recovered. */
	assert_int_equal(mailmime_parse(raw, len, &idx, &mime), MAILIMF_NO_ERROR);
	assert_int_equal(mime->mm_type, MAILMIME_MESSAGE);
	mime = mime->mm_data.mm_message.mm_msg_mime;
	assert_int_equal(mime->mm_type, MAILMIME_MULTIPLE);
	assert_string_equal(mime->mm_content_type->ct_subtype, "alternative");
	assert_int_equal(clist_count(mime->mm_data.mm_multipart.mm_mp_list), 2);
	it = clist_begin(mime->mm_data.mm_multipart.mm_mp_list);
	got = part_text(clist_content(it), &st);
	want = crlf(text);
	assert_string_equal(st, "plain");
	assert_string_equal(got, want);
	free(got);
	free(want);
	got = part_text(clist_content(clist_next(it)), &st);
	want = crlf(html);
	assert_string_equal(st, "html");
	assert_string_equal(got, want);
	free(got);
	free(want);
	while (mime->mm_parent != NULL)
		mime = mime->mm_parent;
	mailmime_free(mime);
	free(raw);
}

static void test_single_part_and_determinism(void **state)
{
	size_t l1, l2;
	char *a, *b;
	struct message *msg;

	(void)state;
	a = compose("Hello", NULL, "one line\n.\nbad \xff", NULL, &l1);
	b = compose("Hello", NULL, "one line\n.\nbad \xff", NULL, &l2);
	assert_int_equal(l1, l2);
	assert_memory_equal(a, b, l1);
	assert_non_null(strstr(a, "\r\nContent-Type: text/plain; charset=utf-8\r\n"
	                          "Content-Transfer-Encoding: quoted-printable\r\n\r\n"));
	assert_null(strstr(a, "multipart"));
	assert_non_null(strstr(a, "\r\nFrom: digest@studio.example\r\n"));
	msg = parse(a, l1);
	assert_string_equal(msg->body, "one line\n.\nbad \xef\xbf\xbd");
	message_free(&msg);
	free(a);
	free(b);
}

static void test_compose_errors(void **state)
{
	struct mime_mail good = {
	    .from_name = "n",
	    .from_addr = "a@b.example",
	    .to_addr = "c@d.example",
	    .subject = "s",
	    .message_id = "<x@y>",
	    .text = "t",
	    .html = "<p>h</p>",
	};
	static const char *const bad_ids[] = {"x@y",   "<x@y", "x@y>", "<x\r\n@y>",
	                                      "<x y>", "<>",   NULL,   "<ø@y>"};
	struct strbuf out = STRBUF_INIT;
	struct mime_mail m;
	char err[160];

	(void)state;
	m = good;
	m.from_addr = "a@b\r\nBcc: x@y";
	assert_int_equal(mime_compose(&m, &out, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "From"));
	m = good;
	m.to_addr = "nobody";
	assert_int_equal(mime_compose(&m, &out, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "To"));
	m = good;
	m.to_addr = NULL;
	assert_int_equal(mime_compose(&m, &out, err, sizeof(err)), -EINVAL);
	for (size_t i = 0; i < ARRAY_SIZE(bad_ids); i++) {
		m = good;
		m.message_id = bad_ids[i];
		assert_int_equal(mime_compose(&m, &out, err, sizeof(err)), -EINVAL);
	}
	assert_int_equal(out.len, 0);

	/* The ceiling: a message just too big fails and leaves out alone; just enough works. */
	m = good;
	assert_int_equal(mime_compose(&m, &out, err, sizeof(err)), 0);
	m.max_bytes = out.len - 1;
	strbuf_appends(&out, "prefix");
	{
		size_t before = out.len, size = before - 6;

		assert_int_equal(mime_compose(&m, &out, err, sizeof(err)), -E2BIG);
		assert_non_null(strstr(err, "ceiling"));
		assert_int_equal(out.len, before);
		m.max_bytes = size;
		assert_int_equal(mime_compose(&m, &out, err, sizeof(err)), 0);
		assert_int_equal(out.len, before + size);
	}
	strbuf_release(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sanitize),
	    cmocka_unit_test(test_header),
	    cmocka_unit_test(test_header_injection),
	    cmocka_unit_test(test_rfc2047_round_trip),
	    cmocka_unit_test(test_encoded_word_shape),
	    cmocka_unit_test(test_address),
	    cmocka_unit_test(test_address_valid),
	    cmocka_unit_test(test_date),
	    cmocka_unit_test(test_qp),
	    cmocka_unit_test(test_qp_lines_and_round_trip),
	    cmocka_unit_test(test_multipart_parses_back),
	    cmocka_unit_test(test_single_part_and_determinism),
	    cmocka_unit_test(test_compose_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
