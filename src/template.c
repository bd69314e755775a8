/* template — onboarding and farewell mail templates (see template.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "redflag/template.h"
#include "redflag/util.h"

/* ---------------------------------------------------------------- the placeholders */

#define MAX_NAMES 8

struct known_var {
	const char *name;
	bool list; /* rendered from template_var.list, one "• item" line each */
};

/* The one table of what each kind of template may use. */
static const struct kind_def {
	const char *name;
	struct known_var vars[MAX_NAMES];
	size_t n;
} kinds[] = {
    [TEMPLATE_ONBOARDING] = {"onboarding",
                             {{"owner.name", false},
                              {"owner.first_name", false},
                              {"owner.email", false},
                              {"client.name", false},
                              {"terms", true},
                              {"work_hours", false}},
                             6},
    [TEMPLATE_FAREWELL] = {"farewell",
                           {{"owner.name", false},
                            {"owner.first_name", false},
                            {"owner.email", false},
                            {"client.name", false},
                            {"end_date", false},
                            {"handover", false},
                            {"colleague", false}},
                           7},
};

#define LIST_BULLET "\xe2\x80\xa2 " /* "• " */

const char *template_kind_name(enum template_kind k)
{
	if ((size_t)k >= ARRAY_SIZE(kinds))
		return "unknown";
	return kinds[k].name;
}

/* ---------------------------------------------------------------- the parsed form */

enum node_type {
	NODE_TEXT,  /* literal text (may contain "\n" in the body) */
	NODE_VAR,   /* {{name}} */
	NODE_OPEN,  /* {{#name}} */
	NODE_CLOSE, /* {{/name}} */
};

struct node {
	enum node_type type;
	int line;        /* where it starts in the file, for messages */
	size_t off, len; /* NODE_TEXT: the bytes in template.text */
	size_t var;      /* other nodes: index into kinds[kind].vars */
	size_t match;    /* NODE_OPEN: index of its NODE_CLOSE */
};

struct part {
	struct node *nodes;
	size_t n, cap;
};

struct template
{
	enum template_kind kind;
	char *text; /* the file with LF line ends; nodes point into it */
	struct part subject, body;
};

static void part_push(struct part *p, const struct node *nd)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 16;
		p->nodes = xreallocarray(p->nodes, p->cap, sizeof(*p->nodes));
	}
	p->nodes[p->n++] = *nd;
}

void template_free(struct template **t)
{
	if (t == NULL || *t == NULL)
		return;
	free((*t)->text);
	free((*t)->subject.nodes);
	free((*t)->body.nodes);
	free(*t);
	*t = NULL;
}

/* ---------------------------------------------------------------- loading */

struct loader {
	const char *path;
	const struct kind_def *kd;
	struct strbuf *errors; /* may be NULL */
	int n_errors;
};

static void problem(struct loader *ld, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void problem(struct loader *ld, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	ld->n_errors++;
	if (ld->errors == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	strbuf_appendf(ld->errors, "%s:%d: %s\n", ld->path, line, msg);
}

/* How many bytes of s (n long) to quote in a message: at most 40, never half a character. */
static int quote_len(const char *s, size_t n)
{
	size_t k = n < 40 ? n : 40;

	while (k > 0 && k < n && ((unsigned char)s[k] & 0xC0) == 0x80)
		k--;
	return (int)k;
}

static void known_list(const struct kind_def *kd, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < kd->n && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? ", " : "", kd->vars[i].name);
}

static bool is_blank_byte(char c)
{
	return c == ' ' || c == '\t';
}

static bool span_blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_blank_byte(s[i]))
			return false;
	return true;
}

/*
 * Copies the file into ld-owned text with LF line ends, reporting control characters, a CR
 * that does not end a line and invalid UTF-8 (once per line each). A leading BOM is dropped.
 */
static char *normalize(struct loader *ld, const char *raw, size_t n)
{
	const unsigned char *s = (const unsigned char *)raw;
	char *out = xmalloc(n + 1);
	size_t o = 0, i = 0;
	int line = 1, reported = 0;

	if (n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	while (i < n) {
		unsigned char c = s[i];
		uint32_t cp;
		size_t k;

		if (c == '\n') {
			out[o++] = '\n';
			line++;
			i++;
			continue;
		}
		if (c == '\r' && i + 1 < n && s[i + 1] == '\n') {
			i++;
			continue;
		}
		if (c == '\t' || (c >= 0x20 && c < 0x7F)) {
			out[o++] = (char)c;
			i++;
			continue;
		}
		if (c < 0x80) {
			if (reported != line)
				problem(ld, line,
				        "control character 0x%02x (only text, tabs and line "
				        "ends are allowed)",
				        c);
			reported = line;
			i++;
			continue;
		}
		k = utf8_decode(s + i, n - i, &cp);
		if (k == 0 || (cp >= 0x80 && cp <= 0x9F)) {
			if (reported != line)
				problem(ld, line, "%s",
				        k == 0 ? "invalid UTF-8" : "control character");
			reported = line;
			i += k ? k : 1;
			continue;
		}
		memcpy(out + o, s + i, k);
		o += k;
		i += k;
	}
	out[o] = '\0';
	return out;
}

/* A placeholder name: lower-case ASCII letters, digits, "_" and "." — nothing to confuse. */
static bool name_valid(const char *s, size_t n)
{
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
		      s[i] == '.'))
			return false;
	return true;
}

static bool find_var(const struct kind_def *kd, const char *s, size_t n, size_t *idx)
{
	for (size_t i = 0; i < kd->n; i++)
		if (strlen(kd->vars[i].name) == n && memcmp(kd->vars[i].name, s, n) == 0) {
			*idx = i;
			return true;
		}
	return false;
}

static void push_text(struct part *p, size_t from, size_t to, int line)
{
	struct node nd = {.type = NODE_TEXT, .line = line, .off = from, .len = to - from};

	if (to > from)
		part_push(p, &nd);
}

/*
 * Splits text[off, end) into nodes. A tag is "{{" ... "}}" on one line; spaces inside the
 * braces are allowed. in_subject: lists are refused (they need lines of their own).
 */
static void tokenize(struct loader *ld, const char *text, size_t off, size_t end, int line,
                     bool in_subject, struct part *p)
{
	size_t i = off, text_from = off, line_off = off;
	int text_line = line;

	while (i < end) {
		const char *close, *in, *in_end;
		size_t eol, idx;
		enum node_type type = NODE_VAR;
		const char *sigil = "";
		struct node nd;

		if (text[i] == '\n') {
			line++;
			line_off = ++i;
			continue;
		}
		if (text[i] != '{' || i + 1 >= end || text[i + 1] != '{') {
			i++;
			continue;
		}
		eol = i;
		while (eol < end && text[eol] != '\n')
			eol++;
		close = memmem(text + i + 2, eol - i - 2, "}}", 2);
		if (close == NULL) {
			problem(ld, line,
			        "unterminated \"{{\" (a placeholder is {{name}}, on one line)");
			i += 2;
			continue;
		}
		in = text + i + 2;
		in_end = close;
		while (in < in_end && is_blank_byte(*in))
			in++;
		while (in_end > in && is_blank_byte(in_end[-1]))
			in_end--;
		if (in < in_end && (*in == '#' || *in == '/')) {
			type = *in == '#' ? NODE_OPEN : NODE_CLOSE;
			sigil = *in == '#' ? "#" : "/";
			in++;
			while (in < in_end && is_blank_byte(*in))
				in++;
		}
		if (!name_valid(in, (size_t)(in_end - in))) {
			int ql = quote_len(text + i, (size_t)(close + 2 - (text + i)));

			problem(
			    ld, line,
			    "malformed placeholder %.*s%s (names are lower-case letters, digits, "
			    "\"_\" and \".\")",
			    ql, text + i, ql < close + 2 - (text + i) ? "..." : "");
		} else if (!find_var(ld->kd, in, (size_t)(in_end - in), &idx)) {
			char known[256];

			known_list(ld->kd, known, sizeof(known));
			problem(ld, line, "unknown %s {{%s%.*s}} (known in %s templates: %s)",
			        type == NODE_VAR ? "placeholder" : "section", sigil,
			        (int)(in_end - in), in, ld->kd->name, known);
		} else if (type == NODE_VAR && ld->kd->vars[idx].list &&
		           (in_subject || !span_blank(text + line_off, i - line_off) ||
		            !span_blank(close + 2, (size_t)(text + eol - (close + 2))))) {
			problem(ld, line,
			        "{{%s}} is a list: it must stand on a line of its own in "
			        "the body",
			        ld->kd->vars[idx].name);
		} else {
			push_text(p, text_from, i, text_line);
			nd = (struct node){.type = type, .line = line, .var = idx};
			part_push(p, &nd);
			text_from = (size_t)(close + 2 - text);
			/* Blanks after a list would trail its last item: drop them. */
			if (type == NODE_VAR && ld->kd->vars[idx].list)
				text_from = eol;
			text_line = line;
		}
		i = (size_t)(close + 2 - text);
	}
	push_text(p, text_from, end, text_line);
}

/* Pairs every {{#name}} with its {{/name}}; sections do not nest. */
static void check_sections(struct loader *ld, struct part *p)
{
	size_t open = SIZE_MAX;

	for (size_t i = 0; i < p->n; i++) {
		struct node *nd = &p->nodes[i];
		const char *name = ld->kd->vars[nd->var].name;

		if (nd->type == NODE_OPEN) {
			if (open != SIZE_MAX) {
				problem(
				    ld, nd->line,
				    "section {{#%s}} inside {{#%s}} (opened at line %d): sections "
				    "do not nest",
				    name, ld->kd->vars[p->nodes[open].var].name,
				    p->nodes[open].line);
				continue;
			}
			open = i;
		} else if (nd->type == NODE_CLOSE) {
			if (open == SIZE_MAX) {
				problem(ld, nd->line, "{{/%s}} without a {{#%s}} before it", name,
				        name);
				continue;
			}
			if (p->nodes[open].var != nd->var)
				problem(ld, nd->line, "{{/%s}} closes {{#%s}} (opened at line %d)",
				        name, ld->kd->vars[p->nodes[open].var].name,
				        p->nodes[open].line);
			p->nodes[open].match = i;
			open = SIZE_MAX;
		}
	}
	if (open != SIZE_MAX)
		problem(ld, p->nodes[open].line, "{{#%s}} is never closed (with {{/%s}})",
		        ld->kd->vars[p->nodes[open].var].name,
		        ld->kd->vars[p->nodes[open].var].name);
}

static int read_file(const char *path, char **data, size_t *len, struct loader *ld)
{
	struct strbuf b = STRBUF_INIT;
	char buf[8192];
	struct stat st;
	int fd, r = 0;

	*data = NULL;
	/* O_NONBLOCK: a FIFO planted at the path must not hang us before fstat rejects it. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			goto out;
		}
		if (n == 0)
			break;
		strbuf_append(&b, buf, (size_t)n);
		if (b.len > TEMPLATE_FILE_MAX) {
			problem(ld, 1, "larger than %d bytes", TEMPLATE_FILE_MAX);
			r = -EINVAL;
			goto out;
		}
	}
	*data = strbuf_detach(&b, len);
out:
	close(fd);
	strbuf_release(&b);
	return r;
}

static bool lang_valid(const char *lang)
{
	size_t n = lang ? strlen(lang) : 0;

	if (n == 0 || n > 8)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lang[i] < 'a' || lang[i] > 'z')
			return false;
	return true;
}

/* "Name:" at s (n bytes of a line): the length of Name, or 0 when the line is no header. */
static size_t header_name(const char *s, size_t n)
{
	size_t k = 0;

	if (n == 0 || !((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z')))
		return 0;
	while (k < n && ((s[k] >= 'A' && s[k] <= 'Z') || (s[k] >= 'a' && s[k] <= 'z') ||
	                 (s[k] >= '0' && s[k] <= '9') || s[k] == '-'))
		k++;
	return k < n && s[k] == ':' ? k : 0;
}

/*
 * The header block: "Name: value" lines up to the first blank one; only Subject: (required,
 * once). Sets the subject span and where the body starts.
 */
static void parse_headers(struct loader *ld, const char *text, size_t len, size_t *subj_off,
                          size_t *subj_end, int *subj_line, size_t *body_off, int *body_line)
{
	size_t pos = 0;
	int line = 1, n_headers = 0;
	bool have_subject = false;

	*body_off = len;
	*body_line = 1;
	for (;;) {
		const char *nl;
		size_t eol, k;

		if (pos >= len) {
			problem(ld, line > 1 ? line - 1 : 1,
			        "no blank line and body after the header block");
			break;
		}
		nl = memchr(text + pos, '\n', len - pos);
		eol = nl ? (size_t)(nl - text) : len;
		if (span_blank(text + pos, eol - pos)) {
			*body_off = nl ? eol + 1 : len;
			*body_line = line + 1;
			break;
		}
		k = header_name(text + pos, eol - pos);
		if (k == 0) {
			/* Without any header this is a body without a header block: the missing
			   Subject says it; otherwise the blank line is what is missing. */
			if (n_headers > 0)
				problem(ld, line,
				        "expected a blank line between the header block and "
				        "the body");
			*body_off = pos;
			*body_line = line;
			break;
		}
		n_headers++;
		if (k == 7 && strncasecmp(text + pos, "Subject", 7) == 0) {
			size_t v = pos + k + 1, e = eol;

			while (v < e && is_blank_byte(text[v]))
				v++;
			while (e > v && is_blank_byte(text[e - 1]))
				e--;
			if (have_subject)
				problem(ld, line, "Subject: given twice (first at line %d)",
				        *subj_line);
			else if (v == e)
				problem(ld, line, "empty Subject:");
			if (!have_subject) {
				*subj_off = v;
				*subj_end = e;
				*subj_line = line;
				have_subject = true;
			}
		} else {
			problem(ld, line, "unknown header \"%.*s:\" (only Subject: is allowed)",
			        quote_len(text + pos, k), text + pos);
		}
		pos = eol + 1;
		line++;
	}
	if (!have_subject)
		problem(ld, 1,
		        "missing Subject: header (a template starts with \"Subject: ...\" "
		        "and a blank line)");
}

int template_load(const char *dir, enum template_kind kind, const char *lang, struct template **out,
                  struct strbuf *errors)
{
	struct loader ld = {.errors = errors};
	struct template *t = NULL;
	char *path = NULL, *raw = NULL;
	size_t raw_len = 0, subj_off = 0, subj_end = 0, body_off = 0;
	int subj_line = 0, body_line = 0, r;

	*out = NULL;
	if ((size_t)kind >= ARRAY_SIZE(kinds) || dir == NULL || !lang_valid(lang)) {
		if (errors)
			strbuf_appendf(errors, "template: invalid kind or language \"%.16s\"\n",
			               lang ? lang : "");
		return -EINVAL;
	}
	path = xasprintf("%s/%s.%s.tmpl", dir, kinds[kind].name, lang);
	ld.path = path;
	ld.kd = &kinds[kind];
	r = read_file(path, &raw, &raw_len, &ld);
	if (r == -ENOENT)
		goto out;
	if (r < 0) {
		if (ld.n_errors == 0 && errors)
			strbuf_appendf(errors, "%s: %s\n", path,
			               r == -EINVAL ? "not a regular file" : strerror(-r));
		goto out;
	}

	t = xcalloc(1, sizeof(*t));
	t->kind = kind;
	t->text = normalize(&ld, raw, raw_len);
	parse_headers(&ld, t->text, strlen(t->text), &subj_off, &subj_end, &subj_line, &body_off,
	              &body_line);
	if (subj_end > subj_off) {
		tokenize(&ld, t->text, subj_off, subj_end, subj_line, true, &t->subject);
		check_sections(&ld, &t->subject);
	}
	tokenize(&ld, t->text, body_off, strlen(t->text), body_line, false, &t->body);
	check_sections(&ld, &t->body);
	if (strspn(t->text + body_off, " \t\n") == strlen(t->text + body_off))
		problem(&ld, body_line, "empty body");
	r = ld.n_errors ? -EINVAL : 0;
out:
	if (r == 0)
		*out = t;
	else
		template_free(&t);
	free(raw);
	free(path);
	return r;
}

/* ---------------------------------------------------------------- rendering */

/* Characters a value must not carry into the mail's structure: they become a space. */
static bool is_break_cp(uint32_t cp)
{
	return cp <= 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029 ||
	       (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

/* Appends s as plain text: breaks collapsed to one space, trimmed, invalid UTF-8 → U+FFFD. */
static void append_value(struct strbuf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = s ? strlen(s) : 0, i = 0;
	bool any = false, space = false;

	while (i < n) {
		uint32_t cp = p[i];
		size_t k = cp < 0x80 ? 1 : utf8_decode(p + i, n - i, &cp);
		bool bad = k == 0;

		if (bad) {
			cp = 0xFFFD;
			k = 1;
		}
		if (is_break_cp(cp)) {
			space = any;
		} else {
			if (space)
				strbuf_appendc(b, ' ');
			if (bad)
				strbuf_append_utf8(b, cp);
			else
				strbuf_append(b, p + i, k);
			any = true;
			space = false;
		}
		i += k;
	}
}

/* Whether s renders to anything at all. */
static bool value_present(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = s ? strlen(s) : 0, i = 0;

	while (i < n) {
		uint32_t cp = p[i];
		size_t k = cp < 0x80 ? 1 : utf8_decode(p + i, n - i, &cp);

		if (k == 0 || !is_break_cp(cp))
			return true;
		i += k;
	}
	return false;
}

static bool var_present(const struct known_var *kv, const struct template_var *v)
{
	if (v == NULL)
		return false;
	if (!kv->list)
		return value_present(v->value);
	for (size_t i = 0; v->list && i < v->n_list; i++)
		if (value_present(v->list[i]))
			return true;
	return false;
}

/* The state of the output while rendering: where the current line starts and what it held. */
struct out {
	struct strbuf *b;
	size_t start;      /* b->len before this render */
	size_t line_start; /* offset of the current output line */
	bool line_tag;     /* the current line held a section tag or a list */
	bool prev_blank;   /* the last line ended was blank */
	bool collapse;     /* a line vanished since the last non-blank line */
};

static void truncate_to(struct strbuf *b, size_t len)
{
	if (b->data) {
		b->len = len;
		b->data[len] = '\0';
	}
}

/*
 * Ends the current output line. A line that held a tag or a list and rendered to nothing but
 * whitespace vanishes; so does a blank line that would double a blank line around a vanished
 * one — an absent section or an empty list leaves no gap.
 */
static void end_line(struct out *o, bool newline)
{
	size_t n = o->b->len - o->line_start;
	bool blank = n == 0 || span_blank(o->b->data + o->line_start, n);

	if (blank &&
	    (o->line_tag || (o->collapse && (o->prev_blank || o->line_start == o->start)))) {
		truncate_to(o->b, o->line_start);
		if (o->line_tag)
			o->collapse = true;
		o->line_tag = false;
		return;
	}
	if (blank)
		truncate_to(o->b, o->line_start);
	if (newline)
		strbuf_appendc(o->b, '\n');
	o->prev_blank = blank;
	if (!blank)
		o->collapse = false;
	o->line_tag = false;
	o->line_start = o->b->len;
}

static void append_text(struct out *o, const char *s, size_t n)
{
	while (n > 0) {
		const char *nl = memchr(s, '\n', n);
		size_t k = nl ? (size_t)(nl - s) : n;

		strbuf_append(o->b, s, k);
		if (nl == NULL)
			break;
		end_line(o, true);
		s += k + 1;
		n -= k + 1;
	}
}

/* One "• item" line per non-blank item, each indented like the placeholder's line. */
static void append_list(struct out *o, const struct template_var *v)
{
	size_t k = o->line_start, n_indent;
	char *indent;
	bool first = true;

	while (k < o->b->len && is_blank_byte(o->b->data[k]))
		k++;
	n_indent = k - o->line_start;
	indent = xstrndup(o->b->data ? o->b->data + o->line_start : "", n_indent);
	o->line_tag = true;
	for (size_t i = 0; v && v->list && i < v->n_list; i++) {
		if (!value_present(v->list[i]))
			continue;
		if (!first) {
			end_line(o, true);
			strbuf_append(o->b, indent, n_indent);
		}
		strbuf_appends(o->b, LIST_BULLET);
		append_value(o->b, v->list[i]);
		first = false;
		if (o->b->len - o->start > TEMPLATE_BODY_MAX)
			break;
	}
	free(indent);
}

static int render_part(const struct template *t, const struct part *p,
                       const struct template_var *const *by_var, struct out *o)
{
	const struct kind_def *kd = &kinds[t->kind];

	for (size_t i = 0; i < p->n; i++) {
		const struct node *nd = &p->nodes[i];
		const struct template_var *v = nd->type == NODE_TEXT ? NULL : by_var[nd->var];

		switch (nd->type) {
		case NODE_TEXT:
			append_text(o, t->text + nd->off, nd->len);
			break;
		case NODE_VAR:
			if (kd->vars[nd->var].list)
				append_list(o, v);
			else
				append_value(o->b, v ? v->value : NULL);
			break;
		case NODE_OPEN:
			o->line_tag = true;
			if (!var_present(&kd->vars[nd->var], v))
				i = nd->match; /* the closing tag, which is skipped too */
			break;
		case NODE_CLOSE:
			o->line_tag = true;
			break;
		}
		if (o->b->len - o->start > TEMPLATE_BODY_MAX)
			return -E2BIG;
	}
	return 0;
}

int template_render(const struct template *t, const struct template_var *vars, size_t n,
                    struct strbuf *subject, struct strbuf *body)
{
	const struct template_var *by_var[MAX_NAMES] = {NULL};
	const struct kind_def *kd = &kinds[t->kind];
	struct out so = {.b = subject, .start = subject->len, .line_start = subject->len};
	struct out bo = {.b = body, .start = body->len, .line_start = body->len};
	size_t lead = 0, end;
	int r;

	for (size_t i = 0; i < kd->n; i++)
		for (size_t j = 0; j < n && by_var[i] == NULL; j++)
			if (vars[j].name && strcmp(vars[j].name, kd->vars[i].name) == 0)
				by_var[i] = &vars[j];

	r = render_part(t, &t->subject, by_var, &so);
	if (r == 0)
		r = render_part(t, &t->body, by_var, &bo);
	if (r < 0) {
		truncate_to(subject, so.start);
		truncate_to(body, bo.start);
		return r;
	}

	/* The subject: trimmed (its values are already one line each). */
	end = subject->len;
	while (end > so.start && is_blank_byte(subject->data[end - 1]))
		end--;
	while (so.start + lead < end && is_blank_byte(subject->data[so.start + lead]))
		lead++;
	if (subject->data) {
		memmove(subject->data + so.start, subject->data + so.start + lead,
		        end - so.start - lead);
		truncate_to(subject, end - lead);
	}

	/* The body: the last line ended, no leading blank lines, exactly one newline at the end. */
	end_line(&bo, false);
	lead = 0;
	end = body->len;
	while (end > bo.start &&
	       (is_blank_byte(body->data[end - 1]) || body->data[end - 1] == '\n'))
		end--;
	while (bo.start + lead < end && body->data[bo.start + lead] == '\n')
		lead++;
	if (body->data) {
		memmove(body->data + bo.start, body->data + bo.start + lead, end - bo.start - lead);
		truncate_to(body, end - lead);
	}
	strbuf_appendc(body, '\n');
	return 0;
}
