/* mime — header values, RFC 2047, dates, quoted-printable, whole messages (see mime.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redflag/mime.h"
#include "redflag/util.h"

/* RFC 5322 §2.1.1: SHOULD fold at 78, MUST stay within 998. RFC 2047 §2: words <= 75. */
#define LINE_SOFT  78
#define EW_LINE    76
#define EW_MAX     75
#define EW_WRAP    12  /* "=?UTF-8?B?" + "?=" */
#define ASCII_WORD 900 /* an unfoldable ASCII run longer than this is encoded instead */
#define QP_LINE    76
#define MAX_MSGID  250

static const char hexd[] = "0123456789ABCDEF";

/* ---------------------------------------------------------------- UTF-8 */

/*
 * Code points that must not survive into a header: controls of both C0 and C1, DEL, line and
 * paragraph separators, and the bidi overrides and isolates that can make a name display as
 * something else than it is.
 */
static bool header_space(uint32_t cp)
{
	return cp <= 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 ||
	       cp == 0x2029 || (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) ||
	       cp == 0xFEFF;
}

void mime_header_sanitize(const char *in, struct strbuf *out)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t n, i = 0;
	bool pending = false, any = false;

	if (in == NULL)
		return;
	n = strlen(in);
	while (i < n) {
		uint32_t cp;
		size_t k = utf8_decode(s + i, n - i, &cp);

		if (k == 0) {
			cp = 0xFFFD;
			k = 1;
		}
		if (header_space(cp)) {
			pending = any;
		} else {
			if (pending)
				strbuf_appendc(out, ' ');
			pending = false;
			any = true;
			if (cp == 0xFFFD && k == 1)
				strbuf_append_utf8(out, cp);
			else
				strbuf_append(out, s + i, k);
		}
		i += k;
	}
	if (out->data == NULL)
		strbuf_append(out, "", 0);
}

/* Valid UTF-8 of s with every invalid byte replaced by U+FFFD; controls are kept. */
static void utf8_fix(const char *in, struct strbuf *out)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t n = in ? strlen(in) : 0, i = 0;

	strbuf_append(out, "", 0);
	while (i < n) {
		size_t run = i;
		uint32_t cp;
		size_t k;

		while (run < n && (k = utf8_decode(s + run, n - run, &cp)) > 0)
			run += k;
		strbuf_append(out, s + i, run - i);
		i = run;
		if (i < n) {
			strbuf_append_utf8(out, 0xFFFD);
			i++;
		}
	}
}

/* ---------------------------------------------------------------- RFC 2047 */

/* Characters a Q-encoded word may carry as themselves, even inside a phrase (§5 (3)). */
static bool q_plain(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '!' || c == '*' || c == '+' || c == '-' || c == '/';
}

static size_t q_width(unsigned char c)
{
	return q_plain(c) || c == ' ' ? 1 : 3;
}

static void b64_append(struct strbuf *out, const unsigned char *p, size_t n)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		char q[4];

		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		q[0] = tab[(v >> 18) & 63];
		q[1] = tab[(v >> 12) & 63];
		q[2] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		q[3] = i + 2 < n ? tab[v & 63] : '=';
		strbuf_append(out, q, 4);
	}
}

/* Length of the UTF-8 character starting with lead byte c (s is valid UTF-8). */
static size_t utf8_len(unsigned char c)
{
	return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

/*
 * Appends s (valid UTF-8, no controls) as encoded words, B or Q, starting at column col
 * (the words are preceded by a space or a fold). Each word holds whole characters only, is
 * at most 75 characters and sits on a line of at most 76.
 */
static void encode_words_mode(struct strbuf *out, size_t col, const char *s, size_t n, bool q)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;
	bool first = true;

	while (i < n) {
		size_t room = EW_MAX, used = 0, j = i;

		if (first && col + 1 + EW_WRAP + 12 <= EW_LINE)
			room = EW_LINE - col - 1;
		else if (first)
			first = false; /* "Name:" alone on its line, the words below */
		if (room > EW_MAX)
			room = EW_MAX;
		room -= EW_WRAP;
		/* Take whole characters while the encoded text still fits. */
		while (j < n) {
			size_t k = utf8_len(u[j]), w;

			if (q) {
				w = 0;
				for (size_t t = 0; t < k; t++)
					w += q_width(u[j + t]);
				if (used + w > room)
					break;
				used += w;
			} else {
				w = (j + k - i + 2) / 3 * 4;
				if (w > room)
					break;
			}
			j += k;
		}
		if (j == i) /* cannot happen with room >= 12, but never loop forever */
			j = i + utf8_len(u[i]);
		strbuf_appends(out, first ? " " : "\r\n ");
		strbuf_appends(out, q ? "=?UTF-8?Q?" : "=?UTF-8?B?");
		if (q) {
			for (size_t t = i; t < j; t++) {
				if (q_plain(u[t])) {
					strbuf_appendc(out, (char)u[t]);
				} else if (u[t] == ' ') {
					strbuf_appendc(out, '_');
				} else {
					strbuf_appendc(out, '=');
					strbuf_appendc(out, hexd[u[t] >> 4]);
					strbuf_appendc(out, hexd[u[t] & 15]);
				}
			}
		} else {
			b64_append(out, u + i, j - i);
		}
		strbuf_appends(out, "?=");
		first = false;
		i = j;
	}
}

/*
 * Encoded words in whichever of B and Q is shorter (Q for mostly-ASCII text). Returns the
 * column the last line ends at.
 */
static size_t encode_words(struct strbuf *out, size_t col, const char *s, size_t n)
{
	struct strbuf b = STRBUF_INIT, q = STRBUF_INIT;
	struct strbuf *best;
	size_t last;

	encode_words_mode(&b, col, s, n, false);
	encode_words_mode(&q, col, s, n, true);
	best = q.len <= b.len ? &q : &b;
	strbuf_append(out, best->data, best->len);
	/* The column after the words: count back to the last fold, if any. */
	for (last = best->len; last > 0 && best->data[last - 1] != '\n'; last--)
		;
	col = last > 0 ? best->len - last : col + best->len;
	strbuf_release(&b);
	strbuf_release(&q);
	return col;
}

/* true when s (sanitized) can go into a header as folded ASCII text. */
static bool ascii_foldable(const char *s, size_t n)
{
	size_t word = 0;

	if (memmem(s, n, "=?", 2) != NULL)
		return false; /* a reader would try to decode it */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c > 0x7E)
			return false;
		word = c == ' ' ? 0 : word + 1;
		if (word > ASCII_WORD)
			return false;
	}
	return true;
}

/* Appends s (single spaces between words, no leading/trailing) folded at spaces. */
static void fold_ascii(struct strbuf *out, size_t col, const char *s)
{
	bool first = true;

	while (*s != '\0') {
		size_t w = strcspn(s, " ");

		if (!first && col + 1 + w > LINE_SOFT) {
			strbuf_appends(out, "\r\n ");
			col = 1 + w;
		} else {
			strbuf_appendc(out, ' ');
			col += 1 + w;
		}
		strbuf_append(out, s, w);
		first = false;
		s += w;
		if (*s == ' ')
			s++;
	}
}

void mime_header(struct strbuf *out, const char *name, const char *value)
{
	struct strbuf v = STRBUF_INIT;
	size_t col = strlen(name) + 1;

	mime_header_sanitize(value, &v);
	strbuf_appends(out, name);
	strbuf_appendc(out, ':');
	if (v.len > 0) {
		if (ascii_foldable(v.data, v.len))
			fold_ascii(out, col, v.data);
		else
			encode_words(out, col, v.data, v.len);
	}
	strbuf_appends(out, "\r\n");
	strbuf_release(&v);
}

/* ---------------------------------------------------------------- addresses */

int mime_address_valid(const char *addr)
{
	const char *at = NULL;
	size_t n = 0;

	if (addr == NULL)
		return -EINVAL;
	for (const char *p = addr; *p != '\0'; p++, n++) {
		unsigned char c = (unsigned char)*p;

		if (c <= 0x20 || c >= 0x7F || strchr("<>()[],;:\\\"", c) != NULL)
			return -EINVAL;
		if (c == '@') {
			if (at != NULL)
				return -EINVAL;
			at = p;
		}
	}
	if (at == NULL || at == addr || at[1] == '\0' || n > 254)
		return -EINVAL;
	return 0;
}

void mime_address(struct strbuf *out, const char *name, const char *display, const char *addr)
{
	struct strbuf d = STRBUF_INIT, a = STRBUF_INIT;
	size_t col = strlen(name) + 1;

	mime_header_sanitize(display, &d);
	/* A bad address must still not break the header: keep only what an address can hold. */
	for (const char *p = addr ? addr : ""; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c > 0x20 && c < 0x7F && c != '<' && c != '>')
			strbuf_appendc(&a, (char)c);
	}
	strbuf_append(&a, "", 0);
	strbuf_appends(out, name);
	strbuf_appendc(out, ':');
	if (d.len == 0) {
		strbuf_appendc(out, ' ');
		strbuf_append(out, a.data, a.len);
		goto out;
	}
	if (ascii_foldable(d.data, d.len)) {
		size_t qlen = 2;

		for (size_t i = 0; i < d.len; i++)
			qlen += d.data[i] == '"' || d.data[i] == '\\' ? 2 : 1;
		if (col + 1 + qlen <= LINE_SOFT) {
			strbuf_appends(out, " \"");
			for (size_t i = 0; i < d.len; i++) {
				if (d.data[i] == '"' || d.data[i] == '\\')
					strbuf_appendc(out, '\\');
				strbuf_appendc(out, d.data[i]);
			}
			strbuf_appendc(out, '"');
			col += 1 + qlen;
		} else {
			col = encode_words(out, col, d.data, d.len);
		}
	} else {
		col = encode_words(out, col, d.data, d.len);
	}
	strbuf_appends(out, col + 3 + a.len > LINE_SOFT ? "\r\n <" : " <");
	strbuf_append(out, a.data, a.len);
	strbuf_appendc(out, '>');
out:
	strbuf_appends(out, "\r\n");
	strbuf_release(&d);
	strbuf_release(&a);
}

/* ---------------------------------------------------------------- date */

/* Howard Hinnant's civil_from_days: days since 1970-01-01 → proleptic Gregorian date. */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era, yy;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	yy = (int64_t)yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = yy + (*m <= 2);
}

void mime_date(struct strbuf *out, int64_t utc)
{
	static const char *const wd[] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
	static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	/* 0001-01-01 and 9999-12-31 23:59:59 UTC. */
	const int64_t lo = -62135596800LL, hi = 253402300799LL;
	int64_t days, secs, y;
	unsigned m, d, w;

	if (utc < lo)
		utc = lo;
	if (utc > hi)
		utc = hi;
	days = utc >= 0 ? utc / 86400 : -((-utc + 86399) / 86400);
	secs = utc - days * 86400;
	civil_from_days(days, &y, &m, &d);
	w = (unsigned)(((days % 7) + 7) % 7); /* 1970-01-01 was a Thursday */
	strbuf_appendf(out, "%s, %02u %s %04" PRId64 " %02u:%02u:%02u +0000", wd[w], d, mon[m - 1],
	               y, (unsigned)(secs / 3600), (unsigned)(secs / 60 % 60),
	               (unsigned)(secs % 60));
}

/* ---------------------------------------------------------------- quoted-printable */

void mime_qp_encode(struct strbuf *out, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t col = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = u[i];
		bool eol, enc;

		if (c == '\n' || (c == '\r' && i + 1 < n && u[i + 1] == '\n')) {
			strbuf_appends(out, "\r\n");
			col = 0;
			i += c == '\r';
			continue;
		}
		eol = i + 1 == n || u[i + 1] == '\n' ||
		      (u[i + 1] == '\r' && i + 2 < n && u[i + 2] == '\n');
		for (;;) {
			size_t w, lim;

			if (c == ' ' || c == '\t')
				enc = eol; /* trailing whitespace would be stripped in transit */
			else
				enc = c < 33 || c > 126 || c == '=';
			/*
			 * A "." opening a line could end SMTP DATA if a relay forgot to dot-stuff;
			 * "From " opening a line gets mangled to ">From " by mbox writers.
			 */
			if (col == 0 && (c == '.' || (c == 'F' && n - i >= 5 &&
			                              memcmp(u + i, "From ", 5) == 0)))
				enc = true;
			w = enc ? 3 : 1;
			/* Only a line's last character may reach column 76: room for "=". */
			lim = eol ? QP_LINE : QP_LINE - 1;
			if (col + w <= lim)
				break;
			strbuf_appends(out, "=\r\n");
			col = 0;
		}
		if (enc) {
			strbuf_appendc(out, '=');
			strbuf_appendc(out, hexd[c >> 4]);
			strbuf_appendc(out, hexd[c & 15]);
			col += 3;
		} else {
			strbuf_appendc(out, (char)c);
			col++;
		}
	}
	if (out->data == NULL)
		strbuf_append(out, "", 0);
}

/* ---------------------------------------------------------------- compose */

static bool msgid_valid(const char *id)
{
	size_t n;

	if (id == NULL)
		return false;
	n = strlen(id);
	if (n < 3 || n > MAX_MSGID || id[0] != '<' || id[n - 1] != '>')
		return false;
	for (size_t i = 1; i + 1 < n; i++) {
		unsigned char c = (unsigned char)id[i];

		if (c <= 0x20 || c >= 0x7F || c == '<' || c == '>')
			return false;
	}
	return true;
}

static void part_body(struct strbuf *out, const char *type, const char *body)
{
	struct strbuf fixed = STRBUF_INIT;

	strbuf_appendf(out,
	               "Content-Type: %s; charset=utf-8\r\n"
	               "Content-Transfer-Encoding: quoted-printable\r\n\r\n",
	               type);
	utf8_fix(body, &fixed);
	mime_qp_encode(out, fixed.data, fixed.len);
	strbuf_appends(out, "\r\n");
	strbuf_release(&fixed);
}

int mime_compose(const struct mime_mail *m, struct strbuf *out, char *err, size_t errlen)
{
	struct strbuf b = STRBUF_INIT;
	char boundary[40];
	int rc = 0;

	if (mime_address_valid(m->from_addr) != 0) {
		snprintf(err, errlen, "mime: the From address is not a plain address");
		return -EINVAL;
	}
	if (mime_address_valid(m->to_addr) != 0) {
		snprintf(err, errlen, "mime: the To address is not a plain address");
		return -EINVAL;
	}
	if (!msgid_valid(m->message_id)) {
		snprintf(err, errlen, "mime: the Message-ID must be <...> of printable ASCII");
		return -EINVAL;
	}

	strbuf_appends(&b, "Date: ");
	mime_date(&b, m->date);
	strbuf_appends(&b, "\r\n");
	mime_address(&b, "From", m->from_name, m->from_addr);
	mime_address(&b, "To", m->to_name, m->to_addr);
	mime_header(&b, "Subject", m->subject);
	strbuf_appendf(&b, "Message-ID: %s\r\n", m->message_id);
	strbuf_appends(&b, "MIME-Version: 1.0\r\nAuto-Submitted: auto-generated\r\n");
	if (m->html == NULL) {
		part_body(&b, "text/plain", m->text);
	} else {
		/*
		 * Quoted-printable writes "=" only before two hex digits or a line end, so a
		 * boundary beginning "=_" can never occur inside either part.
		 */
		snprintf(boundary, sizeof(boundary), "=_redflagd_%016" PRIx64,
		         hash_fnv1a64(m->message_id, strlen(m->message_id), 0));
		strbuf_appendf(&b,
		               "Content-Type: multipart/alternative;\r\n boundary=\"%s\"\r\n\r\n"
		               "This is a multi-part message in MIME format.\r\n\r\n--%s\r\n",
		               boundary, boundary);
		part_body(&b, "text/plain", m->text);
		strbuf_appendf(&b, "--%s\r\n", boundary);
		part_body(&b, "text/html", m->html);
		strbuf_appendf(&b, "--%s--\r\n", boundary);
	}
	if (m->max_bytes != 0 && b.len > m->max_bytes) {
		snprintf(err, errlen, "mime: the message is %zu bytes, over the ceiling of %zu",
		         b.len, m->max_bytes);
		rc = -E2BIG;
		goto out;
	}
	strbuf_append(out, b.data, b.len);
out:
	strbuf_release(&b);
	return rc;
}
