/*
 * message: charsets, RFC 2047, transfer encodings, MIME text selection, flags, dates, ids,
 * ceilings, and the serialisation the parser worker uses.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "redflag/message.h"
#include "redflag/text.h"
#include "redflag/util.h"

#define FIXTURES "tests/fixtures/mail/"

static struct message *parse_str(const char *raw)
{
	static const struct message_limits lim = MESSAGE_LIMITS_DEFAULT;
	struct message *m = NULL;
	char err[256];

	assert_int_equal(message_parse(raw, strlen(raw), &lim, &m, err, sizeof(err)), 0);
	assert_non_null(m);
	return m;
}

static char *read_fixture(const char *name, size_t *len)
{
	char path[256];
	struct strbuf b = STRBUF_INIT;
	char buf[4096];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), FIXTURES "%s", name);
	f = fopen(path, "rb");
	assert_non_null(f);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		strbuf_append(&b, buf, n);
	fclose(f);
	return strbuf_detach(&b, len);
}

/* Single-part text bodies in a charset and transfer encoding. */
struct body_case {
	const char *name;
	const char *charset; /* NULL: no charset parameter */
	const char *cte;     /* NULL: none */
	const char *body;
	const char *want; /* exact decoded body */
};

static const struct body_case body_cases[] = {
    {"utf-8", "utf-8", "8bit", "Grüße, ø og å", "Grüße, ø og å"},
    {"us-ascii", "us-ascii", "7bit", "plain text", "plain text"},
    {"iso-8859-1", "iso-8859-1", "8bit",
     "Gr\xfc\xdf"
     "e S\xf8ren",
     "Grüße Søren"},
    {"iso-8859-1 mislabelled windows-1252", "ISO-8859-1", "8bit", "\x93quoted\x94 \x96 \x80",
     "“quoted” – €"},
    {"windows-1252 smart quotes", "windows-1252", "quoted-printable", "=93Hi=94 it=92s",
     "“Hi” it’s"},
    {"iso-8859-15 euro", "iso-8859-15", "8bit", "\xa4 100 \xbd", "€ 100 œ"},
    {"iso-8859-2", "iso-8859-2", "8bit", "\xb3\xf3\xbf", "łóż"},
    {"koi8-r", "koi8-r", "8bit", "\xf0\xd2\xc9\xd7\xc5\xd4", "Привет"},
    {"utf-16 with bom", "utf-16", "base64", "//5IAGkAIQA=", "Hi!"},
    {"quoted charset name", "\"UTF-8\"", NULL, "ok ✓", "ok ✓"},
    {"unknown charset, utf-8 bytes", "x-no-such-charset", "8bit", "Grüße", "Grüße"},
    {"unknown charset, latin bytes", "x-no-such-charset", "8bit",
     "Gr\xfc\xdf"
     "e",
     "Grüße"},
    {"no charset, latin bytes", NULL, "8bit", "caf\xe9", "café"},
    {"invalid utf-8 becomes U+FFFD", "utf-8", "8bit", "bad \xc3\x28 byte",
     "bad \xef\xbf\xbd( byte"},
    {"qp soft line breaks", "utf-8", "quoted-printable",
     "This is a long line that was wr=\r\napped by the sender=\r\n and joined again.",
     "This is a long line that was wrapped by the sender and joined again."},
    {"qp encoded utf-8", "utf-8", "quoted-printable", "Gr=C3=BC=C3=9Fe", "Grüße"},
    {"base64", "utf-8", "base64",
     "SGVqIE1ldHRlLAp0YWsgZm9yIHNpZHN0IQ==", "Hej Mette,\ntak for sidst!"},
    {"base64 truncated mid-quantum", "utf-8", "base64", "SGVqIE1ldHRlLAp0YWsgZm9y",
     "Hej Mette,\ntak for"},
    {"base64 cut after 2 chars of a quantum", "utf-8", "base64", "SGVqIE1ldHRl\r\nLAp0YWsgZm9yIH",
     "Hej Mette,\ntak for"},
    {"base64 with garbage", "utf-8", "base64", "SGVq*!IE1l\r\ndHRl", "Hej Mette"},
    {"qp truncated escape", "utf-8", "quoted-printable", "price=3D100 =E", "price=100 E"},
};

static void test_bodies(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(body_cases); i++) {
		const struct body_case *c = &body_cases[i];
		struct strbuf raw = STRBUF_INIT;
		struct message *m;

		strbuf_appends(&raw, "From: a@b.dk\r\nSubject: t\r\nMIME-Version: 1.0\r\n");
		if (c->charset)
			strbuf_appendf(&raw, "Content-Type: text/plain; charset=%s\r\n",
			               c->charset);
		else
			strbuf_appends(&raw, "Content-Type: text/plain\r\n");
		if (c->cte)
			strbuf_appendf(&raw, "Content-Transfer-Encoding: %s\r\n", c->cte);
		strbuf_appendf(&raw, "\r\n%s", c->body);
		m = parse_str(raw.data);
		if (strcmp(m->body, c->want) != 0)
			print_error("case '%s':\n got: [%s]\nwant: [%s]\n", c->name, m->body,
			            c->want);
		assert_string_equal(m->body, c->want);
		message_free(&m);
		assert_null(m);
		strbuf_release(&raw);
	}
}

struct subject_case {
	const char *raw;
	const char *want;
};

static const struct subject_case subject_cases[] = {
    {"Plain subject", "Plain subject"},
    {"=?utf-8?Q?Gr=C3=BC=C3=9Fe_aus_Berlin?=", "Grüße aus Berlin"},
    {"=?UTF-8?B?RmFrdHVyYSBmb3Igw7hrb25vbWk=?=", "Faktura for økonomi"},
    {"=?iso-8859-1?q?S=F8ren?= =?iso-8859-1?q?_Kierkegaard?=", "Søren Kierkegaard"},
    {"=?utf-8?B?w6bDuA==?=\r\n =?utf-8?B?w6U=?=", "æøå"},
    {"Re: =?iso-8859-15?Q?=A4_100?= and =?koi8-r?B?8NLJ18XU?=", "Re: € 100 and Привет"},
    {"folded\r\n   subject\r\n\tline", "folded subject line"},
    {"=?utf-8?Q?broken", NULL},
    {"=?no-such-charset?Q?abc?=", NULL}, /* anything, but valid and non-empty */
    {"=?utf-8?X?abc?= tail", NULL},
    {"raw 8-bit Gr\xfc\xdf"
     "e",
     "raw 8-bit Grüße"},
    {"", ""},
};

static bool utf8_ok(const char *s)
{
	char *n = NULL;
	bool ok;

	/* text_normalize changes anything invalid, so an unchanged string is valid UTF-8. */
	n = text_normalize(s, strlen(s));
	ok = strcmp(n, s) == 0;
	free(n);
	return ok;
}

static void test_subjects(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(subject_cases); i++) {
		const struct subject_case *c = &subject_cases[i];
		char *raw = xasprintf("From: a@b.dk\r\nSubject: %s\r\n\r\nbody\r\n", c->raw);
		struct message *m = parse_str(raw);

		if (c->want != NULL) {
			if (strcmp(m->subject, c->want) != 0)
				print_error("subject [%s]: got [%s]\n", c->raw, m->subject);
			assert_string_equal(m->subject, c->want);
		} else {
			assert_true(m->subject[0] != '\0');
		}
		assert_true(utf8_ok(m->subject));
		message_free(&m);
		free(raw);
	}
}

struct date_case {
	const char *raw;
	int64_t want;
	int tz;
};

static const struct date_case date_cases[] = {
    {"Mon, 3 Mar 2025 10:12:00 +0100", 1740993120, 60},
    {"Fri, 20 Apr 2001 08:17:00 -0700 (PDT)", 987779820, -420},
    {"3 Mar 2025 09:12:00 GMT", 1740993120, 0},
    {"Mon, 3 Mar 2025 14:42:00 +0530", 1740993120, 330},
    {"Thu, 1 Jan 1970 00:00:00 +0000", 0, 0},
    {"Sat, 29 Feb 2020 23:59:59 -1200", 1583063999, -720},
    {"not a date", 0, 0},
    {"Mon, 3 Mar 2025 10:12:00 +9999", 0, 0},
};

static void test_dates(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(date_cases); i++) {
		char *raw = xasprintf("From: a@b.dk\r\nDate: %s\r\n\r\nx\r\n", date_cases[i].raw);
		struct message *m = parse_str(raw);

		if (m->date != date_cases[i].want)
			print_error("date [%s]: got %lld\n", date_cases[i].raw, (long long)m->date);
		assert_int_equal(m->date, date_cases[i].want);
		assert_int_equal(m->tz_offset_min, date_cases[i].tz);
		message_free(&m);
		free(raw);
	}
}

struct flag_case {
	const char *headers;
	unsigned want;
};

static const struct flag_case flag_cases[] = {
    {"", 0},
    {"List-Id: Team <team.lists.x.dk>\r\n", MESSAGE_LIST},
    {"List-Unsubscribe: <mailto:u@x.dk>\r\n", MESSAGE_LIST},
    {"List-Post: <mailto:l@x.dk>\r\n", MESSAGE_LIST},
    {"Precedence: list\r\n", MESSAGE_LIST},
    {"Precedence: bulk\r\n", MESSAGE_BULK},
    {"Precedence: junk\r\n", MESSAGE_BULK},
    {"Auto-Submitted: auto-replied\r\n", MESSAGE_AUTO},
    {"Auto-Submitted: auto-generated\r\n", MESSAGE_AUTO},
    {"Auto-Submitted: no\r\n", 0},
    {"Auto-Submitted: No (manual)\r\n", 0},
    {"X-Autoreply: yes\r\n", MESSAGE_AUTO},
    {"X-Autorespond: vacation\r\n", MESSAGE_AUTO},
    {"X-Auto-Response-Suppress: All\r\n", MESSAGE_AUTO},
    {"X-Auto-Response-Suppress: DR, RN, NRN\r\n", 0},
    {"Precedence: bulk\r\nList-Id: <n.x.dk>\r\nAuto-Submitted: auto-generated\r\n",
     MESSAGE_BULK | MESSAGE_LIST | MESSAGE_AUTO},
};

static void test_flags(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(flag_cases); i++) {
		char *raw =
		    xasprintf("From: a@b.dk\r\n%sSubject: s\r\n\r\nx\r\n", flag_cases[i].headers);
		struct message *m = parse_str(raw);

		assert_int_equal(m->flags, flag_cases[i].want);
		message_free(&m);
		free(raw);
	}
}

static void test_ids_and_hash(void **state)
{
	struct message *a, *b, *c, *d;

	(void)state;
	a = parse_str("From: a@b.dk\r\nTo: c@d.dk\r\nDate: Mon, 3 Mar 2025 10:12:00 +0100\r\n"
	              "Subject: One\r\n\r\nx\r\n");
	/* The same four fields folded differently: the same message. */
	b = parse_str("Received: by mx\r\nFrom: a@b.dk\r\nTo:\r\n c@d.dk\r\nDate: Mon, 3 Mar "
	              "2025 10:12:00 +0100\r\nSubject:  One\r\n\r\ny\r\n");
	c = parse_str("From: a@b.dk\r\nTo: c@d.dk\r\nDate: Mon, 3 Mar 2025 10:12:00 +0100\r\n"
	              "Subject: Two\r\n\r\nx\r\n");
	assert_string_equal(a->message_id, "");
	assert_int_equal(strlen(a->header_hash), 16);
	assert_int_equal(strspn(a->header_hash, "0123456789abcdef"), 16);
	assert_string_equal(a->header_hash, b->header_hash);
	assert_string_not_equal(a->header_hash, c->header_hash);
	d = parse_str("Message-ID:\r\n <abc@x.dk>\r\nIn-Reply-To: <p1@x.dk> <p2@x.dk>\r\n"
	              "References: <root@x.dk>\r\n <p1@x.dk>\r\nFrom: a@b.dk\r\n\r\nx\r\n");
	assert_string_equal(d->message_id, "abc@x.dk");
	assert_string_equal(d->in_reply_to, "p1@x.dk");
	assert_string_equal(d->thread_id, "root@x.dk");
	message_free(&d);
	d = parse_str("Message-ID: <abc@x.dk>\r\nIn-Reply-To: <p1@x.dk>\r\nFrom: a@b.dk\r\n\r\n");
	assert_string_equal(d->thread_id, "p1@x.dk");
	message_free(&d);
	d = parse_str("\xef\xbb\xbf"
	              "From - Mon Mar  3 10:12:00 2025\r\nMessage-ID: <abc@x.dk>\r\n"
	              "From: a@b.dk\r\n\r\n");
	assert_string_equal(d->thread_id, "abc@x.dk");
	assert_string_equal(d->body, "");
	message_free(&a);
	message_free(&b);
	message_free(&c);
	message_free(&d);
}

static void test_addresses(void **state)
{
	struct message *m;

	(void)state;
	m = parse_str(
	    "From: \"Doe, Jane\" <Jane.Doe@ACME.com>\r\n"
	    "To: =?utf-8?Q?S=C3=B8ren?= <soren@x.dk>, plain@x.dk,\r\n"
	    "  Group: g1@x.dk, G2 <g2@x.dk>;\r\nCc: cc@x.dk\r\nBcc: bcc@x.dk\r\n\r\nx\r\n");
	assert_string_equal(m->from.name, "Doe, Jane");
	assert_string_equal(m->from.addr, "jane.doe@acme.com");
	assert_int_equal(m->n_rcpt, 6);
	assert_string_equal(m->rcpt[0].name, "Søren");
	assert_string_equal(m->rcpt[0].addr, "soren@x.dk");
	assert_string_equal(m->rcpt[1].name, "");
	assert_string_equal(m->rcpt[1].addr, "plain@x.dk");
	assert_string_equal(m->rcpt[2].addr, "g1@x.dk");
	assert_string_equal(m->rcpt[3].addr, "g2@x.dk");
	assert_string_equal(m->rcpt[4].addr, "cc@x.dk");
	assert_string_equal(m->rcpt[5].addr, "bcc@x.dk");
	message_free(&m);
	/* No From: the Sender; junk lists fall back to what looks like an address. */
	m = parse_str("Sender: Robot <robot@x.dk>\r\nTo: /o=enron/ou=na/cn=x@enron.com, "
	              "broken \"quote <q@x.dk>\r\n\r\nx\r\n");
	assert_string_equal(m->from.addr, "robot@x.dk");
	assert_true(m->n_rcpt >= 1);
	for (size_t i = 0; i < m->n_rcpt; i++)
		assert_true(utf8_ok(m->rcpt[i].addr));
	message_free(&m);
	/* No From and no Sender. */
	m = parse_str("Subject: x\r\n\r\nx\r\n");
	assert_string_equal(m->from.addr, "");
	assert_string_equal(m->from.name, "");
	message_free(&m);
}

static void test_fixture_mixed(void **state)
{
	static const struct message_limits lim = MESSAGE_LIMITS_DEFAULT;
	size_t len;
	char *raw = read_fixture("mixed-alternative.eml", &len);
	struct message *m = NULL;
	char err[128];

	(void)state;
	assert_int_equal(message_parse(raw, len, &lim, &m, err, sizeof(err)), 0);
	assert_string_equal(m->message_id, "alt-1@firma.dk");
	assert_string_equal(m->from.name, "Bo Sørensen");
	assert_string_equal(m->from.addr, "bo@firma.dk");
	assert_string_equal(m->subject, "Faktura for økonomi");
	assert_int_equal(m->date, 1740993120);
	assert_int_equal(m->n_rcpt, 4);
	assert_string_equal(m->rcpt[0].name, "Mette Holm");
	/* text/plain chosen over HTML; attachments and forwarded mail ignored. */
	assert_non_null(strstr(m->body, "fakturaen er vedhæftet"));
	assert_null(strstr(m->body, "HTML VERSION"));
	assert_null(strstr(m->body, "ATTACHED"));
	assert_null(strstr(m->body, "FORWARDED"));
	assert_null(strstr(m->body, "JVBER"));
	assert_non_null(strstr(m->body, "> Kan du sende"));
	assert_string_equal(m->text,
	                    "Hej Mette,\n\nfakturaen er vedhæftet. Betal venligst inden fredag.");
	assert_int_equal(m->flags, 0);
	message_free(&m);
	free(raw);
}

static void test_fixture_html(void **state)
{
	static const struct message_limits lim = MESSAGE_LIMITS_DEFAULT;
	size_t len;
	char *raw = read_fixture("html-only.eml", &len);
	struct message *m = NULL;
	char err[128];

	(void)state;
	assert_int_equal(message_parse(raw, len, &lim, &m, err, sizeof(err)), 0);
	assert_int_equal(m->flags, MESSAGE_HTML_ONLY | MESSAGE_BULK | MESSAGE_LIST);
	assert_int_equal(m->tz_offset_min, -300);
	assert_string_equal(m->text, "Can you make a “quick” change – by tomorrow?");
	assert_non_null(strstr(m->body, "> old quote"));
	message_free(&m);
	free(raw);
}

/* The IMAP module's synthetic message: text parts only, the last cut at a byte ceiling. */
static void test_synthetic_truncated(void **state)
{
	struct message *m;

	(void)state;
	m = parse_str(
	    "From: a@b.dk\r\nSubject: s\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=\"rf-synth\"\r\n\r\n"
	    "--rf-synth\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nFirst part.\r\n"
	    "--rf-synth\r\nContent-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\nU2Vjb25kIHBhcnQgaXMgY3V0IGhlcmU=\r\n"
	    "U2Vjb25kIHBhcnQgaXMg");
	assert_non_null(strstr(m->body, "First part."));
	assert_non_null(strstr(m->body, "Second part is cut here"));
	message_free(&m);
	/* Multipart without any part at all, and a multipart/alternative of HTML only. */
	m = parse_str("From: a@b.dk\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n"
	              "no parts here\r\n");
	assert_true(utf8_ok(m->body));
	message_free(&m);
	m = parse_str("From: a@b.dk\r\nContent-Type: multipart/alternative; boundary=zz\r\n\r\n"
	              "--zz\r\nContent-Type: text/html\r\n\r\n<b>Only</b> html\r\n--zz--\r\n");
	assert_string_equal(m->body, "Only html");
	assert_true(m->flags & MESSAGE_HTML_ONLY);
	message_free(&m);
}

static void test_not_a_message(void **state)
{
	static const struct message_limits lim = MESSAGE_LIMITS_DEFAULT;
	static const char *const bad[] = {"", "just some text\nwithout a header\n",
	                                  "\x00\x01\x02\xff binary", "\r\n\r\nbody only"};
	struct message *m = NULL;
	char err[128];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		size_t n = i == 2 ? 12 : strlen(bad[i]);

		err[0] = '\0';
		assert_int_equal(message_parse(bad[i], n, &lim, &m, err, sizeof(err)), -EBADMSG);
		assert_null(m);
		assert_true(err[0] != '\0');
	}
}

static void test_ceilings(void **state)
{
	struct message_limits lim = MESSAGE_LIMITS_DEFAULT;
	struct strbuf raw = STRBUF_INIT;
	struct message *m = NULL;
	char err[128];

	(void)state;
	lim.max_addresses = 3;
	lim.max_text_bytes = 1000;
	strbuf_appends(&raw, "From: a@b.dk\r\nTo: ");
	for (int i = 0; i < 10; i++)
		strbuf_appendf(&raw, "%sr%d@x.dk", i ? ", " : "", i);
	strbuf_appends(&raw, "\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n");
	for (int i = 0; i < 1000; i++)
		strbuf_appends(&raw, "æøå ");
	assert_int_equal(message_parse(raw.data, raw.len, &lim, &m, err, sizeof(err)), 0);
	assert_int_equal(m->n_rcpt, 3);
	assert_true(strlen(m->body) <= 1000);
	assert_true(utf8_ok(m->body)); /* cut on a character boundary */
	assert_true(m->flags & MESSAGE_TRUNCATED);
	message_free(&m);
	/* Nesting deeper than max_depth is not followed. */
	lim = (struct message_limits)MESSAGE_LIMITS_DEFAULT;
	lim.max_depth = 3;
	strbuf_reset(&raw);
	strbuf_appends(&raw, "From: a@b.dk\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n");
	for (int i = 1; i < 8; i++)
		strbuf_appendf(&raw, "--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n",
		               i - 1, i);
	strbuf_appends(&raw, "--b7\r\nContent-Type: text/plain\r\n\r\ndeep text\r\n");
	assert_int_equal(message_parse(raw.data, raw.len, &lim, &m, err, sizeof(err)), 0);
	assert_null(strstr(m->body, "deep text"));
	assert_true(m->flags & MESSAGE_TRUNCATED);
	message_free(&m);
	strbuf_release(&raw);
}

static void test_serialize(void **state)
{
	static const struct message_limits lim = MESSAGE_LIMITS_DEFAULT;
	size_t len;
	char *raw = read_fixture("mixed-alternative.eml", &len);
	struct message *m = NULL, *r = NULL;
	struct strbuf b = STRBUF_INIT;
	char err[128];

	(void)state;
	assert_int_equal(message_parse(raw, len, &lim, &m, err, sizeof(err)), 0);
	m->date = -12345; /* negative dates survive too */
	m->tz_offset_min = -330;
	message_serialize(m, &b);
	assert_int_equal(message_deserialize(b.data, b.len, &r), 0);
	assert_string_equal(r->message_id, m->message_id);
	assert_string_equal(r->in_reply_to, m->in_reply_to);
	assert_string_equal(r->thread_id, m->thread_id);
	assert_string_equal(r->header_hash, m->header_hash);
	assert_string_equal(r->subject, m->subject);
	assert_int_equal(r->date, -12345);
	assert_int_equal(r->tz_offset_min, -330);
	assert_string_equal(r->from.name, m->from.name);
	assert_string_equal(r->from.addr, m->from.addr);
	assert_int_equal(r->n_rcpt, m->n_rcpt);
	for (size_t i = 0; i < m->n_rcpt; i++) {
		assert_string_equal(r->rcpt[i].name, m->rcpt[i].name);
		assert_string_equal(r->rcpt[i].addr, m->rcpt[i].addr);
	}
	assert_int_equal(r->flags, m->flags);
	assert_string_equal(r->body, m->body);
	assert_string_equal(r->text, m->text);
	message_free(&r);

	/* Every truncation is rejected. */
	for (size_t n = 0; n < b.len; n++) {
		assert_int_equal(message_deserialize(b.data, n, &r), -EBADMSG);
		assert_null(r);
	}
	/* Trailing junk is rejected. */
	strbuf_appendc(&b, 'x');
	assert_int_equal(message_deserialize(b.data, b.len, &r), -EBADMSG);
	b.len--;
	/* A huge length in the first string, a huge recipient count, a bad magic. */
	b.data[4] = (char)0xff, b.data[7] = (char)0x7f;
	assert_int_equal(message_deserialize(b.data, b.len, &r), -EBADMSG);
	strbuf_reset(&b);
	message_serialize(m, &b);
	b.data[0] = 'X';
	assert_int_equal(message_deserialize(b.data, b.len, &r), -EBADMSG);
	/* Corrupting every single byte either fails cleanly or still yields a message. */
	strbuf_reset(&b);
	message_serialize(m, &b);
	for (size_t i = 0; i < b.len && i < 4096; i++) {
		char save = b.data[i];

		b.data[i] = (char)(save ^ 0x5a);
		if (message_deserialize(b.data, b.len, &r) == 0)
			message_free(&r);
		assert_null(r);
		b.data[i] = save;
	}
	/* A message with a NUL inside a string is not ours. */
	strbuf_reset(&b);
	message_serialize(m, &b);
	b.data[8] = '\0';
	if (m->message_id[0] != '\0')
		assert_int_equal(message_deserialize(b.data, b.len, &r), -EBADMSG);
	message_free(&m);
	strbuf_release(&b);
	free(raw);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bodies),
	    cmocka_unit_test(test_subjects),
	    cmocka_unit_test(test_dates),
	    cmocka_unit_test(test_flags),
	    cmocka_unit_test(test_ids_and_hash),
	    cmocka_unit_test(test_addresses),
	    cmocka_unit_test(test_fixture_mixed),
	    cmocka_unit_test(test_fixture_html),
	    cmocka_unit_test(test_synthetic_truncated),
	    cmocka_unit_test(test_not_a_message),
	    cmocka_unit_test(test_ceilings),
	    cmocka_unit_test(test_serialize),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
