/* text — HTML to text, reply/signature stripping, normalisation (see text.h). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "redflag/text.h"
#include "redflag/util.h"

/* ---------------------------------------------------------------- UTF-8 */

/* Like strbuf_append_utf8, but a NUL never reaches the text: it becomes U+FFFD. */
static void put_utf8(struct strbuf *b, uint32_t cp)
{
	strbuf_append_utf8(b, cp == 0 ? 0xFFFD : cp);
}

/* ---------------------------------------------------------------- normalize */

char *text_normalize(const char *text, size_t len)
{
	const unsigned char *s = (const unsigned char *)text;
	/* Worst case every byte becomes U+FFFD (3 bytes): one allocation, no per-byte growth. */
	char *out = xmalloc(len * 3 + 1);
	size_t o = 0, i = 0, line_start = 0, blank_run = 3; /* 3: drop leading blank lines */
	bool line_blank = true, at_start = true;

	while (i < len) {
		unsigned char c = s[i];
		uint32_t cp;
		size_t n;

		if (c >= 0x20 && c < 0x7F) {
			/* Printable ASCII run: the common case, copied in one go. */
			size_t k = i;

			while (k < len && s[k] >= 0x20 && s[k] < 0x7F)
				k++;
			if (line_blank) {
				size_t f = i;

				while (f < k && s[f] == ' ')
					f++;
				if (f < k)
					line_blank = false;
				if (at_start)
					i = f; /* leading whitespace of the whole text */
			}
			memcpy(out + o, s + i, k - i);
			o += k - i;
			i = k;
			continue;
		}
		if (c == '\r' || c == '\n') {
			/* CRLF, lone CR and LF all end a line. */
			if (c == '\r' && i + 1 < len && s[i + 1] == '\n')
				i++;
			i++;
			if (line_blank) {
				/* Whitespace-only lines become empty; runs longer than two
				 * collapse. */
				o = line_start;
				if (++blank_run > 2)
					continue;
			} else {
				blank_run = 0;
				at_start = false;
			}
			out[o++] = '\n';
			line_start = o;
			line_blank = true;
			continue;
		}
		if (c < 0x80) {
			i++;
			if (c == '\t' && !(line_blank && at_start))
				out[o++] = '\t';
			continue; /* other C0 controls and DEL are dropped */
		}
		n = utf8_decode(s + i, len - i, &cp);
		line_blank = false;
		if (n == 0) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
			continue;
		}
		i += n;
		if ((cp >= 0x80 && cp <= 0x9F) || cp == 0xFEFF)
			continue; /* C1 controls, byte-order marks mid-text */
		memcpy(out + o, s + i - n, n);
		o += n;
	}
	while (o > 0 && (out[o - 1] == '\n' || out[o - 1] == ' ' || out[o - 1] == '\t'))
		o--;
	out[o] = '\0';
	/* Give back the slack of the worst-case allocation when it is large. */
	if (len * 3 + 1 - o > 4096)
		out = xreallocarray(out, o + 1, 1);
	return out;
}

/* ---------------------------------------------------------------- HTML */

struct entity {
	const char *name;
	uint32_t cp;
};

/* The entities real mail uses; anything else is kept literally. */
static const struct entity entities[] = {
    {"amp", '&'},       {"lt", '<'},        {"gt", '>'},       {"quot", '"'},
    {"apos", '\''},     {"nbsp", ' '},      {"ensp", ' '},     {"emsp", ' '},
    {"thinsp", ' '},    {"shy", 0xAD},      {"copy", 0xA9},    {"reg", 0xAE},
    {"trade", 0x2122},  {"euro", 0x20AC},   {"pound", 0xA3},   {"yen", 0xA5},
    {"cent", 0xA2},     {"sect", 0xA7},     {"para", 0xB6},    {"deg", 0xB0},
    {"plusmn", 0xB1},   {"times", 0xD7},    {"divide", 0xF7},  {"middot", 0xB7},
    {"bull", 0x2022},   {"hellip", 0x2026}, {"ndash", 0x2013}, {"mdash", 0x2014},
    {"lsquo", 0x2018},  {"rsquo", 0x2019},  {"sbquo", 0x201A}, {"ldquo", 0x201C},
    {"rdquo", 0x201D},  {"bdquo", 0x201E},  {"laquo", 0xAB},   {"raquo", 0xBB},
    {"lsaquo", 0x2039}, {"rsaquo", 0x203A}, {"iexcl", 0xA1},   {"iquest", 0xBF},
    {"auml", 0xE4},     {"ouml", 0xF6},     {"uuml", 0xFC},    {"Auml", 0xC4},
    {"Ouml", 0xD6},     {"Uuml", 0xDC},     {"szlig", 0xDF},   {"aelig", 0xE6},
    {"AElig", 0xC6},    {"oslash", 0xF8},   {"Oslash", 0xD8},  {"aring", 0xE5},
    {"Aring", 0xC5},    {"eacute", 0xE9},   {"Eacute", 0xC9},  {"egrave", 0xE8},
    {"Egrave", 0xC8},   {"ecirc", 0xEA},    {"agrave", 0xE0},  {"aacute", 0xE1},
    {"acirc", 0xE2},    {"atilde", 0xE3},   {"ccedil", 0xE7},  {"Ccedil", 0xC7},
    {"iacute", 0xED},   {"igrave", 0xEC},   {"icirc", 0xEE},   {"iuml", 0xEF},
    {"oacute", 0xF3},   {"ograve", 0xF2},   {"ocirc", 0xF4},   {"otilde", 0xF5},
    {"uacute", 0xFA},   {"ugrave", 0xF9},   {"ucirc", 0xFB},   {"ntilde", 0xF1},
    {"Ntilde", 0xD1},   {"euml", 0xEB},     {"yuml", 0xFF},    {"zwnj", 0x200C},
    {"zwj", 0x200D},    {"lrm", 0x200E},    {"rlm", 0x200F},   {"frac12", 0xBD},
    {"frac14", 0xBC},   {"frac34", 0xBE},   {"micro", 0xB5},   {"larr", 0x2190},
    {"rarr", 0x2192},   {"check", 0x2713},
};

/*
 * Decodes the entity at s[0] == '&'. Returns the bytes consumed (0: not an entity, the
 * '&' is literal) and the code point in *cp.
 */
static size_t html_entity(const char *s, size_t n, uint32_t *cp)
{
	size_t i = 1;

	if (n > 2 && s[1] == '#') {
		uint32_t v = 0;
		bool hex = (s[2] == 'x' || s[2] == 'X');
		size_t digits = 0;

		i = hex ? 3 : 2;
		for (; i < n && digits < 8; i++, digits++) {
			char c = s[i];
			unsigned d;

			if (c >= '0' && c <= '9')
				d = (unsigned)(c - '0');
			else if (hex && c >= 'a' && c <= 'f')
				d = (unsigned)(c - 'a' + 10);
			else if (hex && c >= 'A' && c <= 'F')
				d = (unsigned)(c - 'A' + 10);
			else
				break;
			v = v * (hex ? 16 : 10) + d;
		}
		if (digits == 0)
			return 0;
		if (i < n && s[i] == ';')
			i++;
		/* Windows-1252 numbers for smart quotes are common in mail HTML. */
		static const uint16_t c1[32] = {
		    0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
		    0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0,      0x017D, 0,
		    0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
		    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178};
		if (v >= 0x80 && v <= 0x9F)
			v = c1[v - 0x80] ? c1[v - 0x80] : 0xFFFD;
		if (v == 0xA0)
			v = ' ';
		*cp = v;
		return i;
	}
	while (i < n && i < 12 &&
	       ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
	        (s[i] >= '0' && s[i] <= '9')))
		i++;
	if (i == 1)
		return 0;
	for (size_t k = 0; k < ARRAY_SIZE(entities); k++) {
		size_t el = strlen(entities[k].name);

		if (el != i - 1 || memcmp(s + 1, entities[k].name, el) != 0)
			continue;
		if (i < n && s[i] == ';') {
			*cp = entities[k].cp;
			return i + 1;
		}
		/* Without ';' only the basic ones, as browsers do ("&amp" in old mail). */
		if (entities[k].cp < 0x80 || entities[k].cp == ' ') {
			*cp = entities[k].cp;
			return i;
		}
		return 0;
	}
	return 0;
}

struct html_out {
	struct strbuf b;
	unsigned quote_depth; /* open <blockquote> elements */
	bool line_start;      /* nothing written on the current line yet */
	bool pending_space;   /* folded whitespace waiting for the next word */
	unsigned newlines;    /* consecutive line breaks just written */
	bool pre;             /* inside <pre>: whitespace is kept */
};

static void html_newline(struct html_out *o, unsigned max_blank)
{
	/* Strip spaces before the break so lines do not end in blanks. */
	while (o->b.len > 0 && o->b.data[o->b.len - 1] == ' ')
		o->b.len--;
	if (o->b.len == 0) {
		o->line_start = true;
		o->pending_space = false;
		return; /* no leading blank lines */
	}
	if (o->newlines <= max_blank) {
		strbuf_appendc(&o->b, '\n');
		o->newlines++;
	}
	o->line_start = true;
	o->pending_space = false;
}

static void html_begin_text(struct html_out *o)
{
	if (o->line_start) {
		for (unsigned i = 0; i < o->quote_depth && i < 32; i++)
			strbuf_append(&o->b, "> ", 2);
		o->line_start = false;
		o->pending_space = false;
	} else if (o->pending_space) {
		strbuf_appendc(&o->b, ' ');
		o->pending_space = false;
	}
	o->newlines = 0;
}

static void html_text(struct html_out *o, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '&') {
			uint32_t cp;
			size_t k = html_entity(s + i, n - i, &cp);

			if (k > 0) {
				if (cp == ' ') {
					o->pending_space = !o->line_start;
				} else {
					html_begin_text(o);
					put_utf8(&o->b, cp);
				}
				i += k - 1;
				continue;
			}
		}
		if (o->pre && c == '\n') {
			html_newline(o, 2);
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f') {
			if (o->pre && (c == ' ' || c == '\t')) {
				html_begin_text(o);
				strbuf_appendc(&o->b, c);
			} else if (!o->line_start) {
				o->pending_space = true;
			}
			continue;
		}
		html_begin_text(o);
		strbuf_appendc(&o->b, c);
	}
}

/* Case-insensitive search for needle (ASCII) in s[0..n). */
static const char *find_ci(const char *s, size_t n, const char *needle)
{
	size_t nl = strlen(needle);

	if (nl == 0 || n < nl)
		return NULL;
	for (size_t i = 0; i + nl <= n; i++) {
		if ((s[i] | 0x20) == (needle[0] | 0x20) && strncasecmp(s + i, needle, nl) == 0)
			return s + i;
	}
	return NULL;
}

static bool tag_is(const char *name, size_t nl, const char *want)
{
	return strlen(want) == nl && strncasecmp(name, want, nl) == 0;
}

/* Elements that start a new line (before and after). */
static bool tag_is_block(const char *name, size_t nl)
{
	static const char *const blocks[] = {
	    "p",      "div",     "br",   "tr",       "li",      "ul",         "ol",
	    "table",  "h1",      "h2",   "h3",       "h4",      "h5",         "h6",
	    "hr",     "dl",      "dt",   "dd",       "section", "article",    "header",
	    "footer", "address", "form", "fieldset", "center",  "caption",    "tbody",
	    "thead",  "tfoot",   "nav",  "aside",    "figure",  "figcaption", "main"};

	for (size_t i = 0; i < ARRAY_SIZE(blocks); i++)
		if (tag_is(name, nl, blocks[i]))
			return true;
	return false;
}

/*
 * Finds the '>' closing a tag starting at s[0] == '<'. Quoted attribute values may hold
 * '>', but an unbalanced quote must not swallow the document (and rescanning to the end
 * from every '<' would be quadratic), so quotes are honoured only over a bounded span.
 */
static const char *tag_end(const char *s, size_t n)
{
	char q = 0;
	size_t lim = n < 4096 ? n : 4096;

	for (size_t i = 1; i < lim; i++) {
		if (q) {
			if (s[i] == q)
				q = 0;
		} else if (s[i] == '"' || s[i] == '\'') {
			if (s[i - 1] == '=' || s[i - 1] == ' ')
				q = s[i];
		} else if (s[i] == '>') {
			return s + i;
		}
	}
	return memchr(s, '>', n);
}

char *text_from_html(const char *html, size_t len)
{
	struct html_out o = {STRBUF_INIT, 0, true, false, 0, false};
	const char *p = html, *end = html + len;
	unsigned skip_head = 0;
	bool no_more_gt = false; /* no '>' after this point: no tag can close */
	char *res;

	strbuf_append(&o.b, "", 0);
	while (p < end) {
		const char *lt = memchr(p, '<', (size_t)(end - p));
		const char *gt, *name;
		size_t nl;
		bool closing = false;

		if (lt == NULL)
			lt = end;
		if (!skip_head)
			html_text(&o, p, (size_t)(lt - p));
		p = lt;
		if (p >= end)
			break;
		/* A '<' that cannot start a tag is text ("a < b"). */
		if (p + 1 >= end ||
		    !((p[1] >= 'a' && p[1] <= 'z') || (p[1] >= 'A' && p[1] <= 'Z') || p[1] == '/' ||
		      p[1] == '!' || p[1] == '?')) {
			if (!skip_head)
				html_text(&o, "<", 1);
			p++;
			continue;
		}
		if (p[1] == '!' && end - p >= 4 && p[2] == '-' && p[3] == '-') {
			const char *ce = memmem(p + 4, (size_t)(end - p - 4), "-->", 3);

			p = ce ? ce + 3 : end;
			continue;
		}
		gt = no_more_gt ? NULL : tag_end(p, (size_t)(end - p));
		if (gt == NULL) {
			no_more_gt = true;
			/*
			 * No '>' anywhere after: a cut-off tag ("<a href=...") is markup and
			 * dropped; anything else ("c<d then") was text with a bare '<'.
			 */
			size_t rest = (size_t)(end - p) < 200 ? (size_t)(end - p) : 200;

			if (memchr(p, '=', rest) || memchr(p, '"', rest))
				break;
			if (!skip_head)
				html_text(&o, "<", 1);
			p++;
			continue;
		}
		name = p + 1;
		if (*name == '/') {
			closing = true;
			name++;
		}
		nl = 0;
		while (name + nl < gt && ((name[nl] >= 'a' && name[nl] <= 'z') ||
		                          (name[nl] >= 'A' && name[nl] <= 'Z') ||
		                          (name[nl] >= '0' && name[nl] <= '9')))
			nl++;
		p = gt + 1;
		if (nl == 0)
			continue; /* <!DOCTYPE>, <?xml?>, </> */
		if (!closing && (tag_is(name, nl, "script") || tag_is(name, nl, "style") ||
		                 tag_is(name, nl, "title") || tag_is(name, nl, "noscript"))) {
			/* Raw text up to the matching end tag; never markup. */
			char endtag[16] = "</";
			const char *ce;

			memcpy(endtag + 2, name, nl);
			endtag[2 + nl] = '\0';
			ce = find_ci(p, (size_t)(end - p), endtag);
			if (ce == NULL) {
				p = end;
				break;
			}
			gt = memchr(ce, '>', (size_t)(end - ce));
			p = gt ? gt + 1 : end;
			continue;
		}
		if (tag_is(name, nl, "head")) {
			skip_head = closing ? 0 : 1;
			continue;
		}
		if (tag_is(name, nl, "body")) {
			skip_head = 0;
			continue;
		}
		if (skip_head)
			continue;
		if (tag_is(name, nl, "blockquote")) {
			html_newline(&o, 0);
			if (closing) {
				if (o.quote_depth > 0)
					o.quote_depth--;
			} else {
				o.quote_depth++;
			}
			continue;
		}
		if (tag_is(name, nl, "pre")) {
			html_newline(&o, 1);
			o.pre = !closing;
			continue;
		}
		if (tag_is(name, nl, "td") || tag_is(name, nl, "th")) {
			if (!o.line_start)
				o.pending_space = true;
			continue;
		}
		if (tag_is(name, nl, "br")) {
			html_newline(&o, 1);
			continue;
		}
		if (tag_is_block(name, nl)) {
			/* Paragraphs get a blank line after them; other blocks just a break. */
			bool para = tag_is(name, nl, "p") || (nl == 2 && (name[0] | 0x20) == 'h');

			html_newline(&o, 0);
			if (para && closing)
				html_newline(&o, 1);
			if (!closing && tag_is(name, nl, "li")) {
				html_begin_text(&o);
				strbuf_append(&o.b, "- ", 2);
			}
			continue;
		}
	}
	res = text_normalize(o.b.data, o.b.len);
	strbuf_release(&o.b);
	return res;
}

/* ---------------------------------------------------------------- reply stripping */

struct line {
	const char *s;
	size_t n; /* without the newline */
};

static bool line_prefix_ci(const struct line *l, const char *prefix)
{
	size_t pl = strlen(prefix);

	return l->n >= pl && strncasecmp(l->s, prefix, pl) == 0;
}

/* The line with leading and trailing whitespace removed. */
static struct line line_trim(struct line l)
{
	while (l.n > 0 && (l.s[0] == ' ' || l.s[0] == '\t'))
		l.s++, l.n--;
	while (l.n > 0 && (l.s[l.n - 1] == ' ' || l.s[l.n - 1] == '\t'))
		l.n--;
	return l;
}

static bool line_ends_ci(const struct line *l, const char *suffix)
{
	size_t sl = strlen(suffix);

	return l->n >= sl && strncasecmp(l->s + l->n - sl, suffix, sl) == 0;
}

static bool line_has_ci(const struct line *l, const char *needle)
{
	return find_ci(l->s, l->n, needle) != NULL;
}

static bool line_has_digit(const struct line *l)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->s[i] >= '0' && l->s[i] <= '9')
			return true;
	return false;
}

static bool line_is_quote(const struct line *l)
{
	struct line t = line_trim(*l);

	return t.n > 0 && t.s[0] == '>';
}

/*
 * An attribution line introducing a quote: "On <date>, Jane <j@x> wrote:", "Am <date> um
 * <time> schrieb Jane:", "Jane <j@x> schrieb am <date>:", "Den <date> kl. <time> skrev
 * Jane:". A sentence that merely contains "wrote" is not one: the line must end in the
 * verb's colon form and carry the date/address shape of a mail client's attribution (or
 * be followed by quoted lines).
 */
static bool is_attribution(struct line t, bool next_quoted)
{
	bool addr, digit;

	if (t.n < 6 || t.n > 400 || t.s[t.n - 1] != ':')
		return false;
	addr = memchr(t.s, '@', t.n) != NULL;
	digit = line_has_digit(&t);
	/* en */
	if (line_ends_ci(&t, " wrote:") || line_ends_ci(&t, "> wrote:")) {
		if (line_prefix_ci(&t, "On ") && (digit || addr))
			return true;
		return addr || next_quoted;
	}
	/* de */
	if (line_has_ci(&t, " schrieb")) {
		if (line_prefix_ci(&t, "Am ") && digit)
			return true;
		if (line_has_ci(&t, " schrieb am ") && digit)
			return true;
		if (line_ends_ci(&t, " schrieb:") || line_ends_ci(&t, "> schrieb:"))
			return addr || next_quoted;
		return false;
	}
	/* da */
	if (line_has_ci(&t, " skrev")) {
		if (line_prefix_ci(&t, "Den ") && digit)
			return true;
		/* Gmail: "man. 3. mar. 2025 kl. 10.12 skrev Jane Doe <jane@x.com>:" */
		if (line_has_ci(&t, " kl. ") && digit)
			return true;
		if (line_ends_ci(&t, " skrev:") || line_ends_ci(&t, "> skrev:") ||
		    line_ends_ci(&t, " skrev følgende:"))
			return addr || next_quoted;
		return false;
	}
	return false;
}

/* Separator lines that begin a quoted or forwarded message. */
static bool is_separator(struct line t)
{
	/*
	 * Matched anywhere in a line that starts with "---": Outlook's "-----Original
	 * Message-----", Gmail's "---------- Forwarded message ---------", Lotus Notes' "-----
	 * Forwarded by Jane Doe/HOU/ECT on 05/01/2001 04:15 PM -----" (often wrapped after the
	 * date, so only the head of the line is needed), and their German and Danish forms.
	 */
	static const char *const seps[] = {
	    "original message",       "original appointment",  "message from ",
	    "forwarded message",      "forwarded by ",         "ursprüngliche nachricht",
	    "original-nachricht",     "ursprünglicher termin", "weitergeleitete nachricht",
	    "weitergeleitet von ",    "nachricht von ",        "oprindelig meddelelse",
	    "original meddelelse",    "oprindelig besked",     "oprindelig aftale",
	    "videresendt meddelelse", "videresendt besked",    "videresendt af ",
	    "meddelelse fra ",
	};
	static const char *const starts[] = {
	    "Begin forwarded message:",
	    "Anfang der weitergeleiteten Nachricht:",
	    "Start på videresendt besked:",
	    "Start på videresendt meddelelse:",
	};
	size_t us = 0;

	if (t.n == 0)
		return false;
	for (size_t i = 0; i < t.n && t.s[i] == '_'; i++)
		us++;
	if (us >= 20 && us == t.n)
		return true; /* Outlook's "________________________________" */
	if (strchr("BASbas", t.s[0]))
		for (size_t i = 0; i < ARRAY_SIZE(starts); i++)
			if (line_prefix_ci(&t, starts[i]))
				return true;
	if (t.n < 6 || t.s[0] != '-' || t.s[1] != '-' || t.s[2] != '-')
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(seps); i++)
		if (line_has_ci(&t, seps[i]))
			return true;
	return false;
}

/* Skips Outlook's bold markers ("*From:*") and returns whether t starts with a field. */
static bool starts_field(struct line t, const char *const *names, size_t n)
{
	while (t.n > 0 && t.s[0] == '*')
		t.s++, t.n--;
	for (size_t i = 0; i < n; i++) {
		size_t nl = strlen(names[i]);

		if (t.n > nl && strncasecmp(t.s, names[i], nl) == 0 &&
		    (t.s[nl] == ':' || (t.s[nl] == '*' && nl + 1 < t.n && t.s[nl + 1] == ':')))
			return true;
	}
	return false;
}

/*
 * An Outlook-style header block: "From:" (Von:, Fra:) followed within a few lines by
 * Sent/To/Subject or their German and Danish forms.
 */
static bool is_header_block(const struct line *lines, size_t nlines, size_t i)
{
	static const char *const from[] = {"From", "Von", "Fra"};
	static const char *const next[] = {"Sent",  "Gesendet", "Sendt",   "To",    "An",
	                                   "Til",   "Subject",  "Betreff", "Emne",  "Date",
	                                   "Datum", "Dato",     "Cc",      "Envoyé"};

	if (!starts_field(line_trim(lines[i]), from, ARRAY_SIZE(from)))
		return false;
	for (size_t k = i + 1; k < nlines && k <= i + 4; k++)
		if (starts_field(line_trim(lines[k]), next, ARRAY_SIZE(next)))
			return true;
	return false;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Whether t holds a date ("05/19/2000", "19.05.2000") or a clock time ("04:14"). */
static bool line_has_datetime(struct line t)
{
	for (size_t i = 0; i + 2 < t.n; i++) {
		if (!is_digit(t.s[i]))
			continue;
		if (t.s[i + 1] == '/' && is_digit(t.s[i + 2]))
			return true;
		if (t.s[i + 1] == ':' && i + 3 < t.n && is_digit(t.s[i + 2]) &&
		    is_digit(t.s[i + 3]))
			return true;
		if (t.s[i + 1] == '.' && i + 4 < t.n && is_digit(t.s[i + 2]) &&
		    is_digit(t.s[i + 3]) && t.s[i + 4] == '.')
			return true;
	}
	return false;
}

/*
 * A line made only of rule characters ("------", "_____", "=====", "* * *"): signatures
 * and footers are often set off by one.
 */
static bool is_rule_line(struct line t)
{
	size_t marks = 0;

	for (size_t i = 0; i < t.n; i++) {
		if (!strchr("-_=*~ \t", t.s[i]))
			return false;
		if (t.s[i] != ' ' && t.s[i] != '\t')
			marks++;
	}
	return marks >= 2;
}

/* Words ("tokens" between blanks) of a line, one at a time: *pos advances past each. */
static bool next_word(struct line t, size_t *pos, struct line *w)
{
	size_t i = *pos;

	while (i < t.n && (t.s[i] == ' ' || t.s[i] == '\t'))
		i++;
	if (i >= t.n)
		return false;
	w->s = t.s + i;
	while (i < t.n && t.s[i] != ' ' && t.s[i] != '\t')
		i++;
	w->n = (size_t)(t.s + i - w->s);
	*pos = i;
	return true;
}

/* The word without the punctuation around it: "(Hrsg.)" → "Hrsg", "Grüße," → "Grüße". */
static struct line word_core(struct line w)
{
	static const char punct[] = "()[]{}<>\"'*,.;:!?";

	while (w.n > 0 && strchr(punct, w.s[0]))
		w.s++, w.n--;
	while (w.n > 0 && strchr(punct, w.s[w.n - 1]))
		w.n--;
	return w;
}

/* Starts with a lower-case letter: ASCII, or the Latin-1 range of UTF-8 (ä ö ü ß æ ø å é). */
static bool word_is_lower(struct line w)
{
	unsigned char c0 = w.n > 0 ? (unsigned char)w.s[0] : 0;
	unsigned char c1 = w.n > 1 ? (unsigned char)w.s[1] : 0;

	if (c0 >= 'a' && c0 <= 'z')
		return true;
	return c0 == 0xC3 && c1 >= 0x9F && c1 <= 0xBF;
}

static bool word_is_upper(struct line w)
{
	unsigned char c0 = w.n > 0 ? (unsigned char)w.s[0] : 0;
	unsigned char c1 = w.n > 1 ? (unsigned char)w.s[1] : 0;

	if (c0 >= 'A' && c0 <= 'Z')
		return true;
	return c0 == 0xC3 && c1 >= 0x80 && c1 <= 0x9E && c1 != 0x97;
}

static bool word_is_ci(struct line w, const char *s)
{
	return strlen(s) == w.n && strncasecmp(w.s, s, w.n) == 0;
}

/* Small words that stay lower-case inside names, titles and addresses. */
static bool is_function_word(struct line w)
{
	static const char *const words[] = {
	    "of",  "and", "for", "the", "at",  "in",  "on",  "to",  "by",  "de",  "du",
	    "la",  "le",  "van", "von", "der", "die", "das", "des", "den", "dem", "und",
	    "für", "am",  "im",  "an",  "zu",  "bei", "vom", "zur", "og",  "i",   "af",
	    "til", "med", "på",  "c/o", "y",   "e",   "a",   "u",   "ii",  "iii",
	};

	for (size_t i = 0; i < ARRAY_SIZE(words); i++)
		if (word_is_ci(w, words[i]))
			return true;
	return false;
}

static bool has_digit(struct line w)
{
	for (size_t i = 0; i < w.n; i++)
		if (is_digit(w.s[i]))
			return true;
	return false;
}

/* The labels of contact lines: "Tel.: …", "Fax …", "E-Mail: …", "Mobil …", "Tlf. …". */
static bool is_contact_label(struct line w)
{
	static const char *const labels[] = {
	    "tel",  "tlf",  "fax",    "phone",   "ph",     "mobile",  "mobil",
	    "mob",  "cell", "handy",  "telefon", "fon",    "e-mail",  "email",
	    "mail", "web",  "office", "direct",  "direkt", "direkte", "skype",
	    "nr",   "t",    "f",      "m",       "p",      "e",       "v",
	};

	w = word_core(w);
	for (size_t i = 0; i < ARRAY_SIZE(labels); i++)
		if (word_is_ci(w, labels[i]))
			return true;
	return false;
}

/*
 * Contact details: an address ('@', "www.", a URL), a labelled line ("Tel.: …", "Fax …")
 * or a phone number (seven or more digits in one run of digits, blanks and + - ( ) / .).
 */
static bool is_contact_line(struct line t)
{
	struct line w;
	size_t pos = 0, digits = 0;

	if (memchr(t.s, '@', t.n) || line_has_ci(&t, "www.") || line_has_ci(&t, "http://") ||
	    line_has_ci(&t, "https://"))
		return true;
	if (next_word(t, &pos, &w) && is_contact_label(w) && has_digit(t))
		return true;
	for (size_t i = 0; i < t.n; i++) {
		if (is_digit(t.s[i])) {
			if (++digits >= 7)
				return true;
		} else if (!strchr(" +-()/.", t.s[i])) {
			digits = 0;
		}
	}
	return false;
}

/* "P.S.", "PS:", "PPS" and "NB:" lines are the author's words even below a signature. */
static bool is_postscript(struct line t)
{
	static const char *const ps[] = {"P.S", "PS:", "PS ", "PS-", "PPS", "P.P.S", "NB:", "N.B."};

	for (size_t i = 0; i < ARRAY_SIZE(ps); i++)
		if (line_prefix_ci(&t, ps[i]))
			return true;
	return t.n == 2 && strncasecmp(t.s, "PS", 2) == 0;
}

/*
 * A name as it opens a signature: one to four capitalised words ("Jane Doe", "T.J. Black",
 * "Carol St. Clair", "Max von Muster"), no digits, nothing after it on the line.
 */
static bool is_name_like(struct line t)
{
	struct line w;
	size_t pos = 0, words = 0;

	if (t.n == 0 || t.n > 50 || has_digit(t) || memchr(t.s, '@', t.n) || memchr(t.s, ':', t.n))
		return false;
	if (strchr(",;!?", t.s[t.n - 1]))
		return false;
	while (next_word(t, &pos, &w)) {
		struct line c = word_core(w);

		if (++words > 4)
			return false;
		if (c.n == 0 || (!word_is_upper(c) && !(words > 1 && is_function_word(c))))
			return false;
	}
	return words > 0;
}

/*
 * A closing formula on a line of its own ("Best regards,", "Mit freundlichen Grüßen",
 * "Med venlig hilsen", "Thanks, Jane"): what follows it is a signature when it looks like
 * one (see find_signature).
 */
static bool is_closing(struct line t)
{
	/* Words that make a short line a closing wherever they stand in it. */
	static const char *const stems[] = {"regards", "grüß",    "grüss",     "gruß",     "gruss",
	                                    "hilsen",  "hilsner", "sincerely", "greetings"};
	/* Closings that are the whole line, or followed only by a name. */
	static const char *const whole[] = {
	    "all the best",
	    "best wishes",
	    "best",
	    "cheers",
	    "many thanks",
	    "thanks again",
	    "thanks",
	    "thank you",
	    "thx",
	    "yours truly",
	    "yours",
	    "take care",
	    "love",
	    "vielen dank",
	    "besten dank",
	    "herzlichen dank",
	    "danke schön",
	    "dankeschön",
	    "danke",
	    "bis bald",
	    "ciao",
	    "tschüss",
	    "herzlichst",
	    "lg",
	    "mfg",
	    "vg",
	    "mange tak",
	    "tak",
	    "på forhånd tak",
	    "mvh",
	    "vh",
	    "kh",
	    "knus",
	};
	struct line w;
	size_t pos = 0, words = 0;
	bool stem = false;

	if (t.n == 0 || t.n > 60 || t.s[t.n - 1] == '?' || is_postscript(t))
		return false;
	while (next_word(t, &pos, &w)) {
		struct line c = word_core(w);

		words++;
		for (size_t i = 0; i < ARRAY_SIZE(stems) && !stem; i++)
			stem = c.n >= strlen(stems[i]) &&
			       strncasecmp(c.s, stems[i], strlen(stems[i])) == 0;
	}
	if (stem)
		return words <= 6;
	for (size_t i = 0; i < ARRAY_SIZE(whole); i++) {
		size_t pl = strlen(whole[i]);
		struct line rest;

		if (!line_prefix_ci(&t, whole[i]))
			continue;
		if (pl < t.n && !strchr(" \t,.!-", t.s[pl]))
			continue; /* "Bestimmt", "Thanksgiving" */
		rest.s = t.s + pl;
		rest.n = t.n - pl;
		while (rest.n > 0 && strchr(" \t,.!-", rest.s[0]))
			rest.s++, rest.n--;
		while (rest.n > 0 && strchr(" \t,.!", rest.s[rest.n - 1]))
			rest.n--;
		/* "Thanks, Karen." but not "Thanks for the quick reply." */
		return rest.n == 0 || is_name_like(rest);
	}
	return false;
}

enum { SIG_NO, SIG_YES, SIG_PS };

/*
 * Whether a line can belong to a signature: a name, a title, a company, an address or
 * contact details, a rule. Prose cannot: more than one lower-case word that is not a small
 * function word ("Call me tomorrow."), a question or exclamation, a full stop after a long
 * word, or more than twelve words. A postscript ends the search (SIG_PS).
 */
static int sig_line(struct line t)
{
	struct line w, last = {t.s, 0};
	size_t pos = 0, words = 0, lower = 0;
	bool contact = is_contact_line(t);

	if (is_postscript(t))
		return SIG_PS;
	if (is_rule_line(t))
		return SIG_YES;
	if (t.n > (contact ? 300 : 120) || t.s[t.n - 1] == '?' || t.s[t.n - 1] == '!')
		return SIG_NO;
	while (next_word(t, &pos, &w)) {
		struct line c = word_core(w);

		words++;
		last = w;
		/* Addresses, numbers and labels are not words of prose. */
		if (c.n == 0 || has_digit(c) || memchr(c.s, '@', c.n) || is_contact_label(c) ||
		    line_prefix_ci(&c, "www.") || line_prefix_ci(&c, "http"))
			continue;
		if (word_is_lower(c) && !is_function_word(c))
			lower++;
	}
	if (words > 12 || lower > 1)
		return SIG_NO;
	if (t.s[t.n - 1] == '.' && !contact) {
		/* "Inc.", "GmbH.", "L.L.P." end signature lines; "…tomorrow." ends a sentence. */
		struct line c = word_core(last);

		if (c.n > 4 && !memchr(c.s, '.', c.n))
			return SIG_NO;
	}
	return SIG_YES;
}

/* A signature is at least min lines, at most 8, or up to 16 when a quarter is contacts. */
static bool sig_block_ok(size_t nonblank, size_t contact, size_t min)
{
	return nonblank >= min && (nonblank <= 8 || (nonblank <= 16 && contact * 4 >= nonblank));
}

static bool ends_sentence(struct line t)
{
	return t.n > 0 && strchr(".!?:;", t.s[t.n - 1]);
}

/*
 * Where a signature without the "-- " delimiter begins in lines[0..end), or end when there
 * is none. Two shapes count, both only at the end of the author's text and only when every
 * line after the start looks like a signature line (sig_line), so that a sentence written
 * after a closing is never lost:
 *  - a closing ("Best regards,", "Mit freundlichen Grüßen", "Med venlig hilsen") followed by
 *    two or more such lines: the closing stays, the name/title/phone/address lines go;
 *  - no closing, but a name opening a paragraph followed by contact details (two or more
 *    lines with a phone number, an address or a URL): the name and everything below go.
 * Quoted lines in between are skipped (they are dropped anyway). Linear: one walk up, one
 * walk down over at most the trailing block.
 */
static size_t find_signature(const struct line *lines, size_t end)
{
	size_t s = end, nonblank = 0, contact = 0;

	while (s > 0) {
		struct line t = line_trim(lines[s - 1]);
		int k;

		if (t.n == 0 || t.s[0] == '>') {
			s--;
			continue;
		}
		if (is_closing(t))
			break;
		k = sig_line(t);
		if (k == SIG_PS)
			return end;
		if (k == SIG_NO)
			break;
		if (++nonblank > 16)
			return end;
		if (is_contact_line(t))
			contact++;
		s--;
	}
	if (nonblank == 0)
		return end;
	if (s > 0 && is_closing(line_trim(lines[s - 1])))
		return sig_block_ok(nonblank, contact, 2) ? s : end;
	for (size_t n = s; n < end && nonblank > 0; n++) {
		struct line t = line_trim(lines[n]);
		struct line prev = n > 0 ? line_trim(lines[n - 1]) : (struct line){t.s, 0};

		if (t.n == 0 || t.s[0] == '>')
			continue;
		if (is_name_like(t) &&
		    (prev.n == 0 || ends_sentence(prev) || is_rule_line(prev) ||
		     prev.s[0] == '>') &&
		    contact >= 2 && sig_block_ok(nonblank, contact, 2)) {
			/* A rule set above the name ("-----") goes with it. */
			for (size_t k = n; k > s; k--) {
				struct line r = line_trim(lines[k - 1]);

				if (r.n > 0 && !is_rule_line(r))
					break;
				if (r.n > 0)
					n = k - 1;
			}
			return n;
		}
		nonblank--;
		if (is_contact_line(t))
			contact--;
	}
	return end;
}

/*
 * A Lotus Notes header, which has no "From:" line: the sender ("Jane Doe@ECT", "Jane Doe
 * <jane@x.com> on 05/19/2000 04:14 PM", "Jane Doe / Sent by: …"), a date line, then "To:"
 * with "cc:" or "Subject:" a few lines below (the recipient list may wrap over many lines).
 * Returns whether lines[i] is the "To:" of such a block and in *start its first line. A
 * memo the author typed ("TO: all staff" … "SUBJECT: …") is not one: the block needs an
 * address ('@') or a date line directly above the "To:".
 */
static bool is_to_block(const struct line *lines, size_t nlines, size_t i, size_t *start)
{
	static const char *const to[] = {"To", "An", "Til"};
	static const char *const next[] = {"cc",   "bcc",     "Subject", "Kopie",
	                                   "Kopi", "Betreff", "Thema",   "Emne"};
	bool found = false, evidence = false;
	size_t k, top = i;

	if (!starts_field(line_trim(lines[i]), to, ARRAY_SIZE(to)))
		return false;
	for (k = i; k < nlines && k <= i + 12; k++) {
		struct line t = line_trim(lines[k]);

		if (t.n > 0 && memchr(t.s, '@', t.n))
			evidence = true;
		if (k > i && starts_field(t, next, ARRAY_SIZE(next))) {
			found = true;
			break;
		}
	}
	if (!found)
		return false;
	*start = i;
	/* The date line: directly above, or with one or two blank lines in between. */
	for (k = 0; k < 2 && top > 0 && line_trim(lines[top - 1]).n == 0; k++)
		top--;
	if (top > 0 && line_has_datetime(line_trim(lines[top - 1]))) {
		evidence = true;
		*start = top - 1;
		/* The sender above it: a name, an address, "Sent by:", a wrapped date. */
		for (k = 0; k < 3 && *start > 0; k++) {
			struct line t = line_trim(lines[*start - 1]);

			if (t.n == 0 || t.n > 160 ||
			    !(memchr(t.s, '@', t.n) || line_has_datetime(t) ||
			      line_prefix_ci(&t, "Sent by:") || is_name_like(t)))
				break;
			(*start)--;
		}
	}
	return evidence;
}

/*
 * A raw RFC 822 header line ("Content-Transfer-Encoding: 7bit", "Date: …"): a forwarded
 * message pasted inline often brings a few above its From:/To: block.
 */
static bool is_rfc822_field(struct line t)
{
	static const char *const names[] = {
	    "Date",   "Received",   "Return-Path", "Message-ID",  "MIME-Version", "Reply-To",
	    "Sender", "Importance", "Priority",    "In-Reply-To", "References",   "Delivered-To"};
	size_t n = 0;

	while (n < t.n && n < 40 &&
	       ((t.s[n] >= 'a' && t.s[n] <= 'z') || (t.s[n] >= 'A' && t.s[n] <= 'Z') ||
	        is_digit(t.s[n]) || t.s[n] == '-'))
		n++;
	if (n < 2 || n >= t.n || t.s[n] != ':')
		return false;
	if (line_prefix_ci(&t, "Content-") || line_prefix_ci(&t, "X-"))
		return true;
	return starts_field(t, names, ARRAY_SIZE(names));
}

static bool is_mobile_footer(struct line t)
{
	static const char *const footers[] = {
	    "Von meinem ",         "Sent from my ",          "Sent from Mail for ",
	    "Sent from Outlook",   "Get Outlook for ",       "Sent from Yahoo Mail",
	    "Sent from Samsung",   "Sent from Gmail",        "Sent from ProtonMail",
	    "Sent via BlackBerry", "Sent with BlackBerry",   "Gesendet von meinem ",
	    "Gesendet mit ",       "Gesendet von Mail für ", "Gesendet von Yahoo",
	    "Gesendet vom ",       "Outlook für iOS",        "Outlook für Android",
	    "Sendt fra min ",      "Sendt fra Outlook",      "Sendt fra Mail",
	    "Sendt fra Yahoo",     "Sendt fra Samsung",      "Hent Outlook til ",
	};

	/* Cheap first-letter filter: this runs on every line. */
	if (t.n > 80 || t.n < 8 || !strchr("SGVHOsgvho", t.s[0]))
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(footers); i++) {
		if (!line_prefix_ci(&t, footers[i]))
			continue;
		/* "Von meinem ..." is only a footer when it ends in "gesendet". */
		if (i == 0)
			return line_ends_ci(&t, "gesendet") || line_ends_ci(&t, "gesendet.");
		return true;
	}
	return false;
}

/*
 * Disclaimer openings that need nothing more when they begin a paragraph.
 */
static const char *const disclaimer_starts[] = {
    "This e-mail and any attachments",
    "This email and any attachments",
    "This e-mail and any files",
    "This email and any files",
    "This e-mail is confidential",
    "This email is confidential",
    "This message is confidential",
    "This message and any attachments",
    "This e-mail message is confidential",
    "This e-mail contains confidential",
    "This email contains confidential",
    "This message contains confidential",
    "This e-mail may contain confidential",
    "This email may contain confidential",
    "This message may contain confidential",
    "The information contained in this e-mail",
    "The information contained in this email",
    "The information contained in this message",
    "The information in this e-mail",
    "The information in this email",
    "CONFIDENTIALITY NOTICE",
    "CONFIDENTIAL NOTICE",
    "CONFIDENTIALITY NOTE",
    "DISCLAIMER:",
    "Legal Disclaimer",
    "Diese E-Mail enthält vertrauliche",
    "Diese E-Mail kann vertrauliche",
    "Diese E-Mail ist vertraulich",
    "Diese Nachricht enthält vertrauliche",
    "Diese Nachricht ist vertraulich",
    "Diese Mail enthält vertrauliche",
    "Diese E-Mail und alle Anhänge",
    "Haftungsausschluss:",
    "Rechtlicher Hinweis:",
    "Denne e-mail er fortrolig",
    "Denne e-mail kan indeholde fortrolig",
    "Denne e-mail indeholder fortrolig",
    "Denne mail er fortrolig",
    "Denne mail kan indeholde fortrolig",
    "Denne e-mail og eventuelle vedhæftede",
    "Denne meddelelse er fortrolig",
    "Denne meddelelse kan indeholde fortrolig",
    "Ansvarsfraskrivelse:",
};

/*
 * Openings that make a disclaimer only together with its vocabulary (disclaimer_cues):
 * "This e-mail, including attachments, …", "This message may contain legally privileged
 * …", "THE INFORMATION CONTAINED IN THIS E-MAIL IS …".
 */
static const char *const disclaimer_heads[] = {
    "This e-mail",
    "This email",
    "This message",
    "This communication",
    "This transmission",
    "This electronic",
    "The information contained",
    "The information in this",
    "The contents of this",
    "Confidential",
    "Privileged",
    "Notice:",
    "Important:",
    "Diese E-Mail",
    "Diese Email",
    "Diese Mail",
    "Diese Nachricht",
    "Der Inhalt dieser",
    "Die Informationen in dieser",
    "Vertraulich",
    "Denne e-mail",
    "Denne email",
    "Denne mail",
    "Denne meddelelse",
    "Denne besked",
    "Informationen i denne",
    "Indholdet af denne",
    "Fortrolig",
};

/*
 * Both halves of the disclaimer vocabulary within four lines from lines[i]: secrecy
 * ("confidential", "privileged", "vertraulich", "fortrolig") and the wrong reader
 * ("intended recipient", "unauthorised", "Empfänger", "modtager").
 */
static bool disclaimer_cues(const struct line *lines, size_t nlines, size_t i)
{
	static const char *const secret[] = {"confidential", "privileged", "vertraulich",
	                                     "rechtlich geschützt", "fortrolig"};
	static const char *const reader[] = {
	    "intended", "recipient",  "addressee", "unauthori",   "prohibited",  "empfänger",
	    "adressat", "irrtümlich", "modtager",  "ved en fejl", "uberettiget",
	};
	bool a = false, b = false;

	for (size_t k = i; k < nlines && k < i + 4 && !(a && b); k++) {
		for (size_t j = 0; j < ARRAY_SIZE(secret) && !a; j++)
			a = line_has_ci(&lines[k], secret[j]);
		for (size_t j = 0; j < ARRAY_SIZE(reader) && !b; j++)
			b = line_has_ci(&lines[k], reader[j]);
	}
	return a && b;
}

/*
 * Whether lines[i] begins a legal disclaimer: a known opening at the start of a paragraph,
 * or a generic opening anywhere backed by the vocabulary of one. Quotes and bold markers
 * in front ("\"This e-mail …", "*CONFIDENTIALITY NOTICE*") are skipped.
 */
static bool is_disclaimer(const struct line *lines, size_t nlines, size_t i, bool para_start)
{
	struct line t = line_trim(lines[i]);

	while (t.n > 0 && strchr("\"'*_[(", t.s[0]))
		t.s++, t.n--;
	if (t.n < 10 || !strchr("TCDHLNIPRVAFtcdhlniprvaf", t.s[0]))
		return false;
	if (para_start)
		for (size_t k = 0; k < ARRAY_SIZE(disclaimer_starts); k++)
			if (line_prefix_ci(&t, disclaimer_starts[k]))
				return true;
	for (size_t k = 0; k < ARRAY_SIZE(disclaimer_heads); k++)
		if (line_prefix_ci(&t, disclaimer_heads[k]))
			return disclaimer_cues(lines, nlines, i);
	return false;
}

/* Index of the first line where the author's text ends (nlines when it never does). */
static size_t find_cut(const struct line *lines, size_t nlines)
{
	for (size_t i = 0; i < nlines; i++) {
		struct line t = line_trim(lines[i]);
		bool next_quoted = false;
		size_t k, start;

		if (t.n == 0 || t.s[0] == '>')
			continue;
		/* The signature delimiter is "-- " (often stripped to "--" in transit). */
		if (lines[i].n >= 2 && lines[i].s[0] == '-' && lines[i].s[1] == '-' && t.n == 2)
			return i;
		for (k = i + 1; k < nlines && line_trim(lines[k]).n == 0; k++)
			;
		if (k < nlines && line_is_quote(&lines[k]))
			next_quoted = true;
		if (is_attribution(t, next_quoted))
			return i;
		/* An attribution wrapped over two lines by the client. */
		if (i + 1 < nlines && t.s[t.n - 1] != ':' &&
		    (line_prefix_ci(&t, "On ") || line_prefix_ci(&t, "Am ") ||
		     line_prefix_ci(&t, "Den ") || line_has_ci(&t, " schrieb am ") ||
		     line_has_digit(&t))) {
			struct line t2 = line_trim(lines[i + 1]);

			if (t2.n > 0 && t.n + t2.n < 400) {
				char buf[402];
				struct line j = {buf, t.n + 1 + t2.n};

				memcpy(buf, t.s, t.n);
				buf[t.n] = ' ';
				memcpy(buf + t.n + 1, t2.s, t2.n);
				for (k = i + 2; k < nlines && line_trim(lines[k]).n == 0; k++)
					;
				next_quoted = k < nlines && line_is_quote(&lines[k]);
				if ((line_prefix_ci(&j, "On ") || line_prefix_ci(&j, "Am ") ||
				     line_prefix_ci(&j, "Den ") ||
				     line_has_ci(&j, " schrieb am ")) &&
				    is_attribution(j, next_quoted))
					return i;
			}
		}
		if (is_separator(t) || is_mobile_footer(t))
			return i;
		start = i;
		if (is_header_block(lines, nlines, i) || is_to_block(lines, nlines, i, &start)) {
			/* Raw header lines of an inline-forwarded message sit right above. */
			while (start > 0 && is_rfc822_field(line_trim(lines[start - 1])))
				start--;
			return start;
		}
		/* Disclaimers begin a paragraph, or follow a signature line directly. */
		if (is_disclaimer(lines, nlines, i, i == 0 || line_trim(lines[i - 1]).n == 0))
			return i;
	}
	return nlines;
}

char *text_strip_reply(const char *text)
{
	struct line *lines = NULL;
	size_t nlines = 0, cap = 0, cut;
	struct strbuf b = STRBUF_INIT;
	const char *p = text;
	char *res;

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);

		if (nlines == cap) {
			cap = cap ? cap * 2 : 64;
			lines = xreallocarray(lines, cap, sizeof(*lines));
		}
		lines[nlines].s = p;
		lines[nlines].n = (n > 0 && p[n - 1] == '\r') ? n - 1 : n;
		nlines++;
		p += n;
		if (*p == '\n')
			p++;
	}
	cut = find_cut(lines, nlines);
	cut = find_signature(lines, cut);
	for (size_t i = 0; i < cut; i++) {
		if (line_is_quote(&lines[i]))
			continue;
		strbuf_append(&b, lines[i].s, lines[i].n);
		strbuf_appendc(&b, '\n');
	}
	strbuf_append(&b, "", 0);
	res = text_normalize(b.data, b.len);
	strbuf_release(&b);
	free(lines);
	return res;
}
