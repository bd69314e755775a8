/*
 * message — raw RFC 822 → struct message (see message.h).
 *
 * The top-level header is scanned here directly (it is simple and we need only a dozen
 * fields); libetpan is used for what it is good at: MIME structure (mailmime_parse),
 * transfer decoding (mailmime_part_parse), RFC 2047 words, dates and address lists.
 * Charsets go through small tables for the Latin ones (fast, and they let us treat
 * 0x80–0x9F as Windows-1252, which is what mislabelled "ISO-8859-1" mail means) and iconv
 * for the rest.
 */
#include <errno.h>
#include <iconv.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libetpan/libetpan.h>

#include "redflag/message.h"
#include "redflag/text.h"

#define MAX_ID_BYTES      995  /* RFC 5322 line limit is the natural ceiling for an id */
#define MAX_FIELD_BYTES   8192 /* one header value we decode (subject, address lists more) */
#define MAX_ADDR_LIST     (64 * 1024)
#define MAX_NAME_BYTES    512
#define SERIAL_MAGIC      "RFM1"
#define SERIAL_MAX_STRING (256u << 20)

/* ---------------------------------------------------------------- charsets */

/* Windows-1252 0x80–0x9F; 0 marks the five holes (decoded as U+FFFD). */
static const uint16_t cp1252_c1[32] = {
    0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0,      0x017D, 0,      0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178};

/* True when s[0..n) is valid UTF-8 (structure only: normalisation catches the rest). */
static bool utf8_valid(const char *p, size_t n)
{
	const unsigned char *s = (const unsigned char *)p;
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t need;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
			need = 1;
		else if (c >= 0xE0 && c <= 0xEF)
			need = 2;
		else if (c >= 0xF0 && c <= 0xF4)
			need = 3;
		else
			return false;
		if (n - i <= need)
			return false;
		for (size_t k = 1; k <= need; k++)
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
		i += need + 1;
	}
	return true;
}

enum latin { LATIN1_1252, LATIN9 };

/* ISO-8859-1 with 0x80–0x9F read as Windows-1252, or ISO-8859-15. */
static void latin_to_utf8(enum latin which, const char *p, size_t n, struct strbuf *out)
{
	const unsigned char *s = (const unsigned char *)p;
	size_t run = 0;

	for (size_t i = 0; i < n; i++) {
		uint32_t cp = s[i];

		if (cp < 0x80) {
			run++;
			continue;
		}
		if (run) {
			strbuf_append(out, s + i - run, run);
			run = 0;
		}
		if (cp < 0xA0) {
			cp = cp1252_c1[cp - 0x80];
			if (cp == 0)
				cp = 0xFFFD;
		} else if (which == LATIN9) {
			switch (cp) {
			case 0xA4:
				cp = 0x20AC;
				break;
			case 0xA6:
				cp = 0x0160;
				break;
			case 0xA8:
				cp = 0x0161;
				break;
			case 0xB4:
				cp = 0x017D;
				break;
			case 0xB8:
				cp = 0x017E;
				break;
			case 0xBC:
				cp = 0x0152;
				break;
			case 0xBD:
				cp = 0x0153;
				break;
			case 0xBE:
				cp = 0x0178;
				break;
			default:
				break;
			}
		}
		strbuf_append_utf8(out, cp);
	}
	if (run)
		strbuf_append(out, s + n - run, run);
}

/* Lower-cased charset name without quotes or blanks, into buf. */
static void charset_key(const char *cs, char *buf, size_t size)
{
	size_t o = 0;

	for (; cs != NULL && *cs && o + 1 < size; cs++) {
		char c = *cs;

		if (c == '"' || c == '\'' || c == ' ' || c == '\t')
			continue;
		buf[o++] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
	}
	buf[o] = '\0';
}

/* Converts through iconv; false when iconv does not know the charset. */
static bool iconv_to_utf8(const char *charset, const char *p, size_t n, struct strbuf *out)
{
	iconv_t cd = iconv_open("UTF-8", charset);
	char *in = (char *)p;
	size_t inleft = n;
	char tmp[4096];

	if (cd == (iconv_t)-1)
		return false;
	while (inleft > 0) {
		char *o = tmp;
		size_t oleft = sizeof(tmp);
		size_t r = iconv(cd, &in, &inleft, &o, &oleft);

		strbuf_append(out, tmp, sizeof(tmp) - oleft);
		if (r != (size_t)-1)
			break;
		if (errno == E2BIG)
			continue;
		/* Invalid or truncated input: one replacement character, then carry on. */
		strbuf_append_utf8(out, 0xFFFD);
		if (errno == EINVAL)
			break;
		in++, inleft--;
	}
	iconv(cd, NULL, NULL, NULL, NULL);
	iconv_close(cd);
	return true;
}

/*
 * Appends s[0..n) in charset as UTF-8. Never fails: unknown or absent charsets are read
 * as UTF-8 when that is valid, else as Windows-1252. Declared UTF-8 that is invalid is
 * kept for text_normalize to replace with U+FFFD.
 */
static void charset_to_utf8(const char *charset, const char *s, size_t n, struct strbuf *out)
{
	char key[64];

	charset_key(charset, key, sizeof(key));
	if (strcmp(key, "utf-8") == 0 || strcmp(key, "utf8") == 0) {
		strbuf_append(out, s, n);
		return;
	}
	if (strcmp(key, "iso-8859-1") == 0 || strcmp(key, "iso8859-1") == 0 ||
	    strcmp(key, "latin1") == 0 || strcmp(key, "iso_8859-1") == 0 ||
	    strcmp(key, "windows-1252") == 0 || strcmp(key, "cp1252") == 0 ||
	    strcmp(key, "x-cp1252") == 0 || strcmp(key, "iso-8859-1:1987") == 0) {
		latin_to_utf8(LATIN1_1252, s, n, out);
		return;
	}
	if (strcmp(key, "iso-8859-15") == 0 || strcmp(key, "iso8859-15") == 0 ||
	    strcmp(key, "latin9") == 0 || strcmp(key, "latin-9") == 0) {
		latin_to_utf8(LATIN9, s, n, out);
		return;
	}
	if (key[0] != '\0' && strcmp(key, "us-ascii") != 0 && strcmp(key, "ascii") != 0 &&
	    strncmp(key, "utf-7", 5) != 0 && iconv_to_utf8(key, s, n, out))
		return;
	if (utf8_valid(s, n))
		strbuf_append(out, s, n);
	else
		latin_to_utf8(LATIN1_1252, s, n, out);
}

/* ---------------------------------------------------------------- header scan */

enum hdr_id {
	H_MESSAGE_ID,
	H_IN_REPLY_TO,
	H_REFERENCES,
	H_SUBJECT,
	H_DATE,
	H_FROM,
	H_SENDER,
	H_TO,
	H_CC,
	H_BCC,
	H_LIST_ID,
	H_LIST_UNSUBSCRIBE,
	H_LIST_POST,
	H_PRECEDENCE,
	H_AUTO_SUBMITTED,
	H_X_AUTOREPLY,
	H_X_AUTORESPOND,
	H_X_AUTO_RESPONSE_SUPPRESS,
	H_COUNT
};

static const char *const hdr_names[H_COUNT] = {"Message-ID",
                                               "In-Reply-To",
                                               "References",
                                               "Subject",
                                               "Date",
                                               "From",
                                               "Sender",
                                               "To",
                                               "Cc",
                                               "Bcc",
                                               "List-Id",
                                               "List-Unsubscribe",
                                               "List-Post",
                                               "Precedence",
                                               "Auto-Submitted",
                                               "X-Autoreply",
                                               "X-Autorespond",
                                               "X-Auto-Response-Suppress"};

struct hdr {
	const char *v; /* raw (folded) value; NULL when absent */
	size_t n;
};

/* True when the line at p (n bytes) starts with a field name and a colon. */
static size_t field_name_len(const char *p, size_t n)
{
	size_t i = 0;

	while (i < n && (unsigned char)p[i] > 32 && (unsigned char)p[i] < 127 && p[i] != ':')
		i++;
	/* Tolerate "Name :" as old mailers wrote it. */
	size_t k = i;
	while (k < n && (p[k] == ' ' || p[k] == '\t'))
		k++;
	if (i == 0 || k >= n || p[k] != ':')
		return 0;
	return i;
}

/*
 * Finds the header fields we use. Returns the offset of the body (after the blank line),
 * or (size_t)-1 when raw does not start with a header. Only the first max_bytes of the
 * header are looked at (*trunc is set when that cut something).
 */
static size_t scan_header(const char *raw, size_t len, size_t max_bytes, struct hdr *h, bool *trunc)
{
	size_t pos = 0, nfields = 0;
	int cur = -1;

	while (pos < len) {
		const char *line = raw + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - line) : len - pos;
		size_t next = nl ? pos + n + 1 : len;
		size_t content = (n > 0 && line[n - 1] == '\r') ? n - 1 : n;
		size_t nn;

		if (content == 0)
			return nfields > 0 ? next : (size_t)-1; /* the blank line */
		if (pos >= max_bytes) {
			*trunc = true;
			cur = -1;
		} else if (line[0] == ' ' || line[0] == '\t') {
			if (cur >= 0)
				h[cur].n = (size_t)(line + content - h[cur].v);
		} else if ((nn = field_name_len(line, content)) > 0) {
			const char *colon = memchr(line, ':', content);

			nfields++;
			cur = -1;
			for (int i = 0; i < H_COUNT; i++) {
				if (strlen(hdr_names[i]) == nn &&
				    strncasecmp(line, hdr_names[i], nn) == 0 && h[i].v == NULL) {
					cur = i;
					h[i].v = colon + 1;
					h[i].n = (size_t)(line + content - (colon + 1));
					break;
				}
			}
		} else if (nfields == 0) {
			return (size_t)-1;
		} else {
			cur = -1; /* a junk line inside the header: ignored */
		}
		pos = next;
	}
	return nfields > 0 ? len : (size_t)-1;
}

/* The value unfolded (line breaks removed) and trimmed, capped at max bytes. */
static char *hdr_unfold(const struct hdr *h, size_t max, bool *trunc)
{
	struct strbuf b = STRBUF_INIT;
	size_t n = h->v ? h->n : 0;

	strbuf_append(&b, "", 0);
	if (n > max) {
		n = max;
		*trunc = true;
	}
	for (size_t i = 0; i < n; i++) {
		char c = h->v[i];

		if (c == '\r' || c == '\n')
			continue;
		strbuf_appendc(&b, c);
	}
	/* Trim in place without moving the allocation. */
	{
		size_t s = 0, e = b.len;

		while (s < e && (b.data[s] == ' ' || b.data[s] == '\t'))
			s++;
		while (e > s && (b.data[e - 1] == ' ' || b.data[e - 1] == '\t'))
			e--;
		memmove(b.data, b.data + s, e - s);
		b.len = e - s;
		b.data[b.len] = '\0';
	}
	return strbuf_detach(&b, NULL);
}

/* Collapses whitespace runs to one space and trims; returns s. */
static char *fold_ws(char *s)
{
	size_t o = 0;
	bool sp = false;

	for (size_t i = 0; s[i]; i++) {
		char c = s[i];

		if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			sp = o > 0;
			continue;
		}
		if (sp)
			s[o++] = ' ';
		sp = false;
		s[o++] = c;
	}
	s[o] = '\0';
	return s;
}

/* Best-effort UTF-8 of a header value: valid UTF-8 stays, anything else is Windows-1252. */
static char *to_utf8_dup(const char *s, size_t n)
{
	struct strbuf b = STRBUF_INIT;
	char *r;

	charset_to_utf8(NULL, s, n, &b);
	strbuf_append(&b, "", 0);
	r = text_normalize(b.data, b.len);
	strbuf_release(&b);
	return r;
}

/* RFC 2047 phrase (subject, display name) → folded UTF-8. */
static char *decode_phrase(const char *s, size_t n)
{
	char *dec = NULL, *r;
	size_t idx = 0;

	if (n > MAX_FIELD_BYTES)
		n = MAX_FIELD_BYTES;
	if (memmem(s, n, "=?", 2) != NULL &&
	    mailmime_encoded_phrase_parse("utf-8", s, n, &idx, "utf-8", &dec) == MAILIMF_NO_ERROR &&
	    dec != NULL) {
		r = to_utf8_dup(dec, strlen(dec));
		free(dec);
	} else {
		free(dec);
		r = to_utf8_dup(s, n);
	}
	return fold_ws(r);
}

/* The id between the first "<" and ">" (or the first token), ASCII-printable only. */
static char *extract_id(const char *v)
{
	const char *lt = v ? strchr(v, '<') : NULL;
	const char *s = v ? v : "", *e;
	struct strbuf b = STRBUF_INIT;

	if (lt != NULL) {
		s = lt + 1;
		e = strchr(s, '>');
		if (e == NULL)
			e = s + strlen(s);
	} else {
		while (*s == ' ' || *s == '\t')
			s++;
		e = s;
		while (*e && *e != ' ' && *e != '\t' && *e != ',')
			e++;
	}
	strbuf_append(&b, "", 0);
	for (; s < e && b.len < MAX_ID_BYTES; s++)
		if (*s > 32 && *s < 127 && *s != '<' && *s != '>')
			strbuf_appendc(&b, *s);
	return strbuf_detach(&b, NULL);
}

char *message_id_from_header(const char *value)
{
	return extract_id(value);
}

/* ---------------------------------------------------------------- dates */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	const int64_t era = (y >= 0 ? y : y - 399) / 400;
	const unsigned yoe = (unsigned)(y - era * 400);
	const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + (int64_t)doe - 719468;
}

static void parse_date(const char *v, struct message *m)
{
	struct mailimf_date_time *dt = NULL;
	size_t idx = 0;
	int year, zone, zabs, off;

	if (v[0] == '\0' || mailimf_date_time_parse(v, strlen(v), &idx, &dt) != MAILIMF_NO_ERROR ||
	    dt == NULL)
		return;
	year = dt->dt_year;
	if (year >= 0 && year < 50)
		year += 2000;
	else if (year >= 50 && year < 1000)
		year += 1900;
	zone = dt->dt_zone;
	zabs = zone < 0 ? -zone : zone;
	if (year < 1970 || year > 9999 || dt->dt_month < 1 || dt->dt_month > 12 || dt->dt_day < 1 ||
	    dt->dt_day > 31 || dt->dt_hour < 0 || dt->dt_hour > 23 || dt->dt_min < 0 ||
	    dt->dt_min > 59 || dt->dt_sec < 0 || dt->dt_sec > 60 || zabs > 1459 || zabs % 100 > 59)
		goto out;
	off = (zabs / 100) * 60 + zabs % 100;
	if (zone < 0)
		off = -off;
	m->date = days_from_civil(year, (unsigned)dt->dt_month, (unsigned)dt->dt_day) * 86400 +
	          dt->dt_hour * 3600 + dt->dt_min * 60 + dt->dt_sec - (int64_t)off * 60;
	m->tz_offset_min = off;
out:
	mailimf_date_time_free(dt);
}

/* ---------------------------------------------------------------- addresses */

struct addrs {
	struct message_addr *v;
	size_t n, cap, max;
	bool trunc;
};

static void addrs_push(struct addrs *a, const char *name, size_t nlen, const char *addr,
                       size_t alen)
{
	struct message_addr *x;
	size_t s = 0;

	if (a->n >= a->max) {
		a->trunc = true;
		return;
	}
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 8;
		a->v = xreallocarray(a->v, a->cap, sizeof(*a->v));
	}
	x = &a->v[a->n++];
	/* Display names arrive quoted or not; quotes are not part of the name. */
	while (nlen > 0 && (name[0] == '"' || name[0] == ' ' || name[0] == '\''))
		name++, nlen--;
	while (nlen > 0 &&
	       (name[nlen - 1] == '"' || name[nlen - 1] == ' ' || name[nlen - 1] == '\''))
		nlen--;
	if (nlen > MAX_NAME_BYTES)
		nlen = MAX_NAME_BYTES;
	x->name = decode_phrase(name, nlen);
	while (s < alen && (addr[s] == ' ' || addr[s] == '\t'))
		s++;
	while (alen > s && (addr[alen - 1] == ' ' || addr[alen - 1] == '\t'))
		alen--;
	if (alen - s > MAX_NAME_BYTES || memchr(addr + s, '@', alen - s) == NULL)
		alen = s; /* not an addr-spec */
	x->addr = str_lower(to_utf8_dup(addr + s, alen - s));
}

/*
 * Fallback for lists libetpan refuses (bare words, unbalanced quotes, X.400 junk): split
 * at commas outside quotes and angle brackets; "<...>" or the word with '@' is the addr.
 */
static void addrs_fallback(struct addrs *a, const char *v)
{
	const char *p = v;

	while (*p && !a->trunc) {
		const char *s = p, *lt = NULL, *gt = NULL;
		bool q = false, ang = false;

		for (; *p; p++) {
			if (*p == '"' && !ang)
				q = !q;
			else if (*p == '<' && !q)
				ang = true, lt = lt ? lt : p;
			else if (*p == '>' && !q)
				ang = false, gt = gt ? gt : p;
			else if (*p == ',' && !q && !ang)
				break;
		}
		if (lt != NULL && gt != NULL && gt > lt) {
			addrs_push(a, s, (size_t)(lt - s), lt + 1, (size_t)(gt - lt - 1));
		} else if (memchr(s, '@', (size_t)(p - s)) != NULL) {
			addrs_push(a, "", 0, s, (size_t)(p - s));
		}
		if (*p == ',')
			p++;
	}
}

static void addrs_mailbox(struct addrs *a, const struct mailimf_mailbox *mb)
{
	const char *name = mb->mb_display_name ? mb->mb_display_name : "";

	if (mb->mb_addr_spec == NULL)
		return;
	addrs_push(a, name, strlen(name), mb->mb_addr_spec, strlen(mb->mb_addr_spec));
}

static void addrs_parse(struct addrs *a, const char *v)
{
	struct mailimf_address_list *al = NULL;
	size_t idx = 0, len = strlen(v);
	size_t before = a->n;

	if (len == 0)
		return;
	if (mailimf_address_list_parse(v, len, &idx, &al) != MAILIMF_NO_ERROR || al == NULL) {
		addrs_fallback(a, v);
		return;
	}
	for (clistiter *it = clist_begin(al->ad_list); it != NULL; it = clist_next(it)) {
		struct mailimf_address *ad = clist_content(it);

		if (ad->ad_type == MAILIMF_ADDRESS_MAILBOX && ad->ad_data.ad_mailbox) {
			addrs_mailbox(a, ad->ad_data.ad_mailbox);
		} else if (ad->ad_type == MAILIMF_ADDRESS_GROUP && ad->ad_data.ad_group &&
		           ad->ad_data.ad_group->grp_mb_list) {
			clist *l = ad->ad_data.ad_group->grp_mb_list->mb_list;

			for (clistiter *g = clist_begin(l); g != NULL; g = clist_next(g))
				addrs_mailbox(a, clist_content(g));
		}
	}
	mailimf_address_list_free(al);
	/* libetpan stops at the first thing it does not understand: take the rest our way. */
	while (idx < len && (v[idx] == ' ' || v[idx] == ',' || v[idx] == '\t'))
		idx++;
	if (idx < len && a->n >= before)
		addrs_fallback(a, v + idx);
}

/* ---------------------------------------------------------------- MIME walk */

struct walk {
	const struct message_limits *lim;
	bool html;  /* some text came from HTML */
	bool trunc; /* a ceiling cut something */
};

static int content_kind(const struct mailmime_content *ct, const char **subtype)
{
	*subtype = ct && ct->ct_subtype ? ct->ct_subtype : "plain";
	if (ct == NULL || ct->ct_type == NULL)
		return MAILMIME_DISCRETE_TYPE_TEXT;
	if (ct->ct_type->tp_type == MAILMIME_TYPE_DISCRETE_TYPE)
		return ct->ct_type->tp_data.tp_discrete_type->dt_type;
	return -1;
}

/* Appends the decoded text of one leaf part to out. */
static void walk_single(struct walk *w, struct mailmime *mm, struct strbuf *out, bool *html)
{
	struct mailmime_single_fields sf;
	struct mailmime_data *d = mm->mm_data.mm_single;
	const char *subtype;
	char *dec = NULL;
	const char *src;
	size_t srclen, idx = 0;
	bool is_html;
	struct strbuf u = STRBUF_INIT;

	memset(&sf, 0, sizeof(sf));
	mailmime_single_fields_init(&sf, mm->mm_mime_fields, mm->mm_content_type);
	if (sf.fld_disposition && sf.fld_disposition->dsp_type &&
	    sf.fld_disposition->dsp_type->dsp_type == MAILMIME_DISPOSITION_TYPE_ATTACHMENT)
		return;
	if (content_kind(mm->mm_content_type, &subtype) != MAILMIME_DISCRETE_TYPE_TEXT)
		return;
	if (strcasecmp(subtype, "plain") == 0)
		is_html = false;
	else if (strcasecmp(subtype, "html") == 0)
		is_html = true;
	else
		return; /* calendar, vcard, csv …: not the author's prose */
	if (d == NULL || d->dt_type != MAILMIME_DATA_TEXT)
		return;
	src = d->dt_data.dt_text.dt_data;
	srclen = d->dt_data.dt_text.dt_length;
	if (d->dt_encoded && (d->dt_encoding == MAILMIME_MECHANISM_BASE64 ||
	                      d->dt_encoding == MAILMIME_MECHANISM_QUOTED_PRINTABLE)) {
		/* A part cut at a byte ceiling may end mid-quantum: what decodes is kept. */
		if (mailmime_part_parse(src, srclen, &idx, d->dt_encoding, &dec, &srclen) !=
		    MAILIMF_NO_ERROR)
			return;
		src = dec;
	}
	charset_to_utf8(sf.fld_content_charset, src, srclen, &u);
	if (dec)
		mailmime_decoded_part_free(dec);
	/* Bound the work on huge parts; HTML needs headroom for its markup. */
	if (u.len > w->lim->max_text_bytes * (is_html ? 16 : 2) + 1024) {
		u.len = w->lim->max_text_bytes * (is_html ? 16 : 2) + 1024;
		u.data[u.len] = '\0';
		w->trunc = true;
	}
	if (out->len > 0)
		strbuf_append(out, "\n\n", 2);
	if (is_html) {
		char *t = text_from_html(u.data ? u.data : "", u.len);

		strbuf_appends(out, t);
		free(t);
		*html = true;
	} else {
		strbuf_append(out, u.data ? u.data : "", u.len);
	}
	strbuf_release(&u);
}

static void walk_part(struct walk *w, struct mailmime *mm, unsigned depth, struct strbuf *out,
                      bool *html)
{
	const char *subtype;

	if (mm == NULL)
		return;
	if (depth > w->lim->max_depth) {
		w->trunc = true;
		return;
	}
	if (out->len >= w->lim->max_text_bytes) {
		w->trunc = true;
		return;
	}
	switch (mm->mm_type) {
	case MAILMIME_SINGLE:
		walk_single(w, mm, out, html);
		return;
	case MAILMIME_MESSAGE:
		/* Forwarded mail (message/rfc822) is not the author's text. */
		return;
	case MAILMIME_MULTIPLE:
		break;
	default:
		return;
	}
	content_kind(mm->mm_content_type, &subtype);
	if (strcasecmp(subtype, "alternative") == 0) {
		/* Prefer text/plain; otherwise the last (richest) alternative with text. */
		struct strbuf best = STRBUF_INIT;
		bool best_html = false, have = false;

		/*
		 * Fast path: a direct text/plain child is the answer, and converting the HTML
		 * twin we would throw away is most of the cost of such a message.
		 */
		for (clistiter *it = clist_begin(mm->mm_data.mm_multipart.mm_mp_list);
		     it != NULL && !have; it = clist_next(it)) {
			struct mailmime *c = clist_content(it);
			const char *st;
			bool h = false;

			if (c == NULL || c->mm_type != MAILMIME_SINGLE ||
			    content_kind(c->mm_content_type, &st) != MAILMIME_DISCRETE_TYPE_TEXT ||
			    strcasecmp(st, "plain") != 0)
				continue;
			walk_part(w, c, depth + 1, &best, &h);
			have = best.len > 0;
		}
		if (have) {
			if (out->len > 0)
				strbuf_append(out, "\n\n", 2);
			strbuf_append(out, best.data, best.len);
			strbuf_release(&best);
			return;
		}
		strbuf_release(&best);

		for (clistiter *it = clist_begin(mm->mm_data.mm_multipart.mm_mp_list); it != NULL;
		     it = clist_next(it)) {
			struct strbuf alt = STRBUF_INIT;
			bool h = false;

			walk_part(w, clist_content(it), depth + 1, &alt, &h);
			if (alt.len > 0 && (!have || best_html)) {
				strbuf_release(&best);
				best = alt;
				best_html = h;
				have = true;
				continue;
			}
			strbuf_release(&alt);
		}
		if (have) {
			if (out->len > 0)
				strbuf_append(out, "\n\n", 2);
			strbuf_append(out, best.data, best.len);
			*html = *html || best_html;
		}
		strbuf_release(&best);
		return;
	}
	for (clistiter *it = clist_begin(mm->mm_data.mm_multipart.mm_mp_list); it != NULL;
	     it = clist_next(it))
		walk_part(w, clist_content(it), depth + 1, out, html);
}

/* ---------------------------------------------------------------- parse */

static bool hdr_is(const char *v, const char *want)
{
	return strcasecmp(v, want) == 0;
}

static unsigned compute_flags(struct hdr *h, bool *trunc)
{
	unsigned f = 0;
	char *v;

	if (h[H_LIST_ID].v || h[H_LIST_UNSUBSCRIBE].v || h[H_LIST_POST].v)
		f |= MESSAGE_LIST;
	if (h[H_PRECEDENCE].v) {
		v = hdr_unfold(&h[H_PRECEDENCE], 64, trunc);
		if (hdr_is(v, "list"))
			f |= MESSAGE_LIST;
		else if (hdr_is(v, "bulk") || hdr_is(v, "junk"))
			f |= MESSAGE_BULK;
		else if (hdr_is(v, "auto_reply"))
			f |= MESSAGE_AUTO;
		free(v);
	}
	if (h[H_AUTO_SUBMITTED].v) {
		v = hdr_unfold(&h[H_AUTO_SUBMITTED], 64, trunc);
		/* "no" may carry comments or parameters: "no (manual)". */
		if (v[0] != '\0' && !(str_has_prefix_ci(v, "no") &&
		                      (v[2] == '\0' || v[2] == ' ' || v[2] == ';' || v[2] == '(')))
			f |= MESSAGE_AUTO;
		free(v);
	}
	if (h[H_X_AUTOREPLY].v || h[H_X_AUTORESPOND].v)
		f |= MESSAGE_AUTO;
	if (h[H_X_AUTO_RESPONSE_SUPPRESS].v) {
		/*
		 * Exchange marks its own automatic mail (out-of-office, system notices) "All";
		 * narrower values only ask others not to auto-reply and say nothing about this
		 * message.
		 */
		v = hdr_unfold(&h[H_X_AUTO_RESPONSE_SUPPRESS], 64, trunc);
		if (hdr_is(v, "All"))
			f |= MESSAGE_AUTO;
		free(v);
	}
	return f;
}

static char *header_hash(struct hdr *h, bool *trunc)
{
	static const int which[] = {H_DATE, H_FROM, H_TO, H_SUBJECT};
	uint64_t x = 0;

	for (size_t i = 0; i < ARRAY_SIZE(which); i++) {
		/* Unfolded and trimmed: re-folding in transit must not change the key. */
		char *v = hdr_unfold(&h[which[i]], MAX_ADDR_LIST, trunc);

		x = hash_fnv1a64(v, strlen(v), x);
		x = hash_fnv1a64("\n", 1, x);
		free(v);
	}
	return xasprintf("%016" PRIx64, x);
}

/* Cuts s at max bytes on a UTF-8 character boundary. */
static bool cut_utf8(char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max)
		return false;
	while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
		max--;
	s[max] = '\0';
	return true;
}

int message_parse(const char *raw, size_t len, const struct message_limits *lim,
                  struct message **out, char *err, size_t errlen)
{
	static const struct message_limits deflim = MESSAGE_LIMITS_DEFAULT;
	struct hdr h[H_COUNT];
	struct message *m = NULL;
	struct mailmime *mime = NULL;
	struct strbuf body = STRBUF_INIT;
	struct addrs rc = {NULL, 0, 0, 0, false};
	struct addrs from = {NULL, 0, 0, 1, false};
	struct walk w;
	bool trunc = false, html = false;
	size_t body_off, idx = 0;
	char *v = NULL;
	int r;

	*out = NULL;
	if (lim == NULL)
		lim = &deflim;
	/* Files saved by Windows tools may start with a UTF-8 byte-order mark. */
	if (len >= 3 && memcmp(raw, "\xef\xbb\xbf", 3) == 0)
		raw += 3, len -= 3;
	/* So may an mbox "From " line; libetpan would take it for the body. */
	if (len > 5 && memcmp(raw, "From ", 5) == 0) {
		const char *nl = memchr(raw, '\n', len);
		size_t skip = nl ? (size_t)(nl - raw) + 1 : len;

		/* ("From : x" is an old mailer's From field, not an mbox line.) */
		if (field_name_len(raw, skip) == 0)
			raw += skip, len -= skip;
	}
	memset(h, 0, sizeof(h));
	body_off = scan_header(raw, len, lim->max_header_bytes, h, &trunc);
	if (len == 0 || body_off == (size_t)-1) {
		snprintf(err, errlen, "not a mail message: no header");
		return -EBADMSG;
	}
	m = xcalloc(1, sizeof(*m));
	rc.max = lim->max_addresses;

	v = hdr_unfold(&h[H_MESSAGE_ID], MAX_FIELD_BYTES, &trunc);
	m->message_id = extract_id(v);
	free(v);
	v = hdr_unfold(&h[H_IN_REPLY_TO], MAX_FIELD_BYTES, &trunc);
	m->in_reply_to = extract_id(v);
	free(v);
	v = hdr_unfold(&h[H_REFERENCES], MAX_ADDR_LIST, &trunc);
	m->thread_id = extract_id(v);
	free(v);
	if (m->thread_id[0] == '\0') {
		free(m->thread_id);
		m->thread_id = xstrdup(m->in_reply_to[0] ? m->in_reply_to : m->message_id);
	}
	m->header_hash = header_hash(h, &trunc);
	m->subject = decode_phrase(h[H_SUBJECT].v ? h[H_SUBJECT].v : "",
	                           h[H_SUBJECT].v ? h[H_SUBJECT].n : 0);
	/* decode_phrase reads raw folded text: line breaks become spaces via fold_ws. */
	v = hdr_unfold(&h[H_DATE], 256, &trunc);
	parse_date(v, m);
	free(v);

	v = hdr_unfold(h[H_FROM].v ? &h[H_FROM] : &h[H_SENDER], MAX_ADDR_LIST, &trunc);
	addrs_parse(&from, v);
	free(v);
	if (from.n > 0) {
		m->from = from.v[0];
	} else {
		m->from.name = xstrdup("");
		m->from.addr = xstrdup("");
	}
	free(from.v);
	for (int f = H_TO; f <= H_BCC; f++) {
		if (h[f].v == NULL)
			continue;
		v = hdr_unfold(&h[f], MAX_ADDR_LIST, &trunc);
		addrs_parse(&rc, v);
		free(v);
	}
	m->rcpt = rc.v;
	m->n_rcpt = rc.n;
	trunc = trunc || rc.trunc;
	m->flags = compute_flags(h, &trunc);

	w.lim = lim;
	w.html = false;
	w.trunc = false;
	r = mailmime_parse(raw, len, &idx, &mime);
	if (r == MAILIMF_NO_ERROR && mime != NULL) {
		if (mime->mm_type == MAILMIME_MESSAGE)
			walk_part(&w, mime->mm_data.mm_message.mm_msg_mime, 1, &body, &html);
		else
			walk_part(&w, mime, 1, &body, &html);
	} else if (body_off < len) {
		/* libetpan gave up: the body as plain text is the best we can do. */
		charset_to_utf8(NULL, raw + body_off, len - body_off, &body);
	}
	if (mime != NULL)
		mailmime_free(mime);
	trunc = trunc || w.trunc;
	strbuf_append(&body, "", 0);
	m->body = text_normalize(body.data, body.len > lim->max_text_bytes * 2 + 1024
	                                        ? lim->max_text_bytes * 2 + 1024
	                                        : body.len);
	strbuf_release(&body);
	if (cut_utf8(m->body, lim->max_text_bytes))
		trunc = true;
	m->text = text_strip_reply(m->body);
	if (html && m->body[0] != '\0')
		m->flags |= MESSAGE_HTML_ONLY;
	if (trunc)
		m->flags |= MESSAGE_TRUNCATED;
	*out = m;
	return 0;
}

void message_free(struct message **mp)
{
	struct message *m;

	if (mp == NULL || *mp == NULL)
		return;
	m = *mp;
	free(m->message_id);
	free(m->in_reply_to);
	free(m->thread_id);
	free(m->header_hash);
	free(m->subject);
	free(m->from.name);
	free(m->from.addr);
	for (size_t i = 0; i < m->n_rcpt; i++) {
		free(m->rcpt[i].name);
		free(m->rcpt[i].addr);
	}
	free(m->rcpt);
	free(m->body);
	free(m->text);
	free(m);
	*mp = NULL;
}

/* ---------------------------------------------------------------- serialisation */

static void put_u32(struct strbuf *b, uint32_t v)
{
	unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
	                      (unsigned char)(v >> 24)};

	strbuf_append(b, x, 4);
}

static void put_u64(struct strbuf *b, uint64_t v)
{
	put_u32(b, (uint32_t)v);
	put_u32(b, (uint32_t)(v >> 32));
}

static void put_str(struct strbuf *b, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	put_u32(b, (uint32_t)n);
	strbuf_append(b, s ? s : "", n);
}

void message_serialize(const struct message *m, struct strbuf *out)
{
	strbuf_append(out, SERIAL_MAGIC, 4);
	put_str(out, m->message_id);
	put_str(out, m->in_reply_to);
	put_str(out, m->thread_id);
	put_str(out, m->header_hash);
	put_str(out, m->subject);
	put_u64(out, (uint64_t)m->date);
	put_u32(out, (uint32_t)m->tz_offset_min);
	put_str(out, m->from.name);
	put_str(out, m->from.addr);
	put_u32(out, (uint32_t)m->n_rcpt);
	for (size_t i = 0; i < m->n_rcpt; i++) {
		put_str(out, m->rcpt[i].name);
		put_str(out, m->rcpt[i].addr);
	}
	put_u32(out, m->flags);
	put_str(out, m->body);
	put_str(out, m->text);
}

struct reader {
	const unsigned char *p;
	size_t left;
	bool bad;
};

static uint32_t get_u32(struct reader *r)
{
	uint32_t v;

	if (r->bad || r->left < 4) {
		r->bad = true;
		return 0;
	}
	v = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 | (uint32_t)r->p[2] << 16 |
	    (uint32_t)r->p[3] << 24;
	r->p += 4;
	r->left -= 4;
	return v;
}

static char *get_str(struct reader *r)
{
	uint32_t n = get_u32(r);
	char *s;

	/* Lengths come from another process: check them against what is really there. */
	if (r->bad || n > r->left || n > SERIAL_MAX_STRING || memchr(r->p, '\0', n) != NULL) {
		r->bad = true;
		return xstrdup("");
	}
	s = xstrndup((const char *)r->p, n);
	r->p += n;
	r->left -= n;
	return s;
}

int message_deserialize(const char *buf, size_t len, struct message **out)
{
	struct reader r = {(const unsigned char *)buf, len, false};
	struct message *m;
	uint64_t lo, hi;
	uint32_t n;

	*out = NULL;
	if (buf == NULL || len < 4 || memcmp(buf, SERIAL_MAGIC, 4) != 0)
		return -EBADMSG;
	r.p += 4;
	r.left -= 4;
	m = xcalloc(1, sizeof(*m));
	m->message_id = get_str(&r);
	m->in_reply_to = get_str(&r);
	m->thread_id = get_str(&r);
	m->header_hash = get_str(&r);
	m->subject = get_str(&r);
	lo = get_u32(&r);
	hi = get_u32(&r);
	m->date = (int64_t)(lo | hi << 32);
	m->tz_offset_min = (int)(int32_t)get_u32(&r);
	m->from.name = get_str(&r);
	m->from.addr = get_str(&r);
	n = get_u32(&r);
	/* Each recipient takes at least 8 bytes: bounds the allocation by the input. */
	if (r.bad || n > r.left / 8) {
		r.bad = true;
		n = 0;
	}
	m->rcpt = n ? xcalloc(n, sizeof(*m->rcpt)) : NULL;
	for (uint32_t i = 0; i < n; i++) {
		m->rcpt[i].name = get_str(&r);
		m->rcpt[i].addr = get_str(&r);
		m->n_rcpt++;
	}
	m->flags = get_u32(&r);
	m->body = get_str(&r);
	m->text = get_str(&r);
	if (r.bad || r.left != 0 || m->tz_offset_min < -1440 || m->tz_offset_min > 1440) {
		message_free(&m);
		return -EBADMSG;
	}
	*out = m;
	return 0;
}
