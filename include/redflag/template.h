/*
 * template — the onboarding and farewell mails: loading, checking and rendering the
 * templates in conf/templates/<kind>.<lang>.tmpl (format: conf/templates/README.md).
 *
 * A template is checked completely when it is loaded: an unknown placeholder, a malformed or
 * unbalanced tag or a bad header is an error then ("redflagd check-config"), never a blank in
 * a client's inbox. Rendering a loaded template cannot fail except on the size ceiling.
 *
 * Values are plain text. Every control character (CR and LF included), Unicode line and
 * paragraph separator and bidi override in a value becomes a space, runs of such spaces
 * collapse to one and the value is trimmed, so no value can add a line to the subject or
 * the body; invalid UTF-8 becomes U+FFFD. Values are never scanned for placeholders: a
 * client called "{{owner.email}}" is rendered literally.
 *
 * No I/O except template_load(), no global state. Strings are borrowed and NUL-terminated.
 */
#ifndef REDFLAG_TEMPLATE_H
#define REDFLAG_TEMPLATE_H

#include <stddef.h>

#include "redflag/util.h"

/* Ceilings in bytes: a template file, and a rendered subject or body. */
#define TEMPLATE_FILE_MAX (64 * 1024)
#define TEMPLATE_BODY_MAX (64 * 1024)

enum template_kind {
	TEMPLATE_ONBOARDING, /* the first mail to a new client: how the owner works */
	TEMPLATE_FAREWELL,   /* the release letter: end date, handover, a colleague */
};

/* A loaded, checked template. Opaque; immutable after template_load(). */
struct template;

/*
 * Loads and checks <dir>/<kind>.<lang>.tmpl, where kind is template_kind_name(kind) and lang
 * is 1–8 lower-case ASCII letters (anything else is refused before a path is built).
 * The placeholders allowed depend on kind:
 *   onboarding: owner.name owner.first_name owner.email client.name terms work_hours
 *   farewell:   owner.name owner.first_name owner.email client.name end_date handover colleague
 * Returns 0 and *out (free with template_free); -ENOENT when the file does not exist (nothing
 * is appended to errors, so the caller may fall back to another language); -EINVAL with one
 * "file:line: message\n" appended to errors for every problem found (all of them, not only
 * the first); another negative errno when the file cannot be read (one line appended).
 * errors may be NULL. *out is NULL on every error.
 */
int template_load(const char *dir, enum template_kind kind, const char *lang, struct template **out,
                  struct strbuf *errors);

/* Frees *t and sets it to NULL. t or *t NULL is fine. */
void template_free(struct template **t);

/*
 * One value for rendering. For "terms" list/n_list are used (value is ignored); for every
 * other name value is used (list is ignored). Borrowed for the duration of the call.
 */
struct template_var {
	const char *name;        /* a placeholder name, e.g. "client.name" */
	const char *value;       /* plain UTF-8 text; NULL = empty */
	const char *const *list; /* the items of a list placeholder; NULL = empty */
	size_t n_list;           /* number of items in list */
};

/*
 * Appends the rendered subject (one line, trimmed) to subject and the rendered body (LF line
 * ends, no leading blank lines, ending with exactly one newline) to body.
 *   - {{name}} becomes the value; a known placeholder without a var (or with a NULL or
 *     blank value) renders as empty. Vars with unknown names are ignored; for a name given
 *     twice the first wins.
 *   - {{#name}}...{{/name}} is kept only when the value is non-blank (for a list: at least
 *     one non-blank item).
 *   - {{terms}} stands on a line of its own: one "• item" line per non-blank item, each
 *     indented like the placeholder.
 *   - A line that held a section tag or {{terms}} and renders to nothing but whitespace
 *     disappears with its line end, and does not leave two blank lines where the template
 *     had a paragraph break (an empty list or an absent colleague leaves no gap).
 * Returns 0, or -E2BIG when the subject or the body would exceed TEMPLATE_BODY_MAX (only
 * possible with huge values); on error subject and body are left as they were.
 */
int template_render(const struct template *t, const struct template_var *vars, size_t n,
                    struct strbuf *subject, struct strbuf *body);

/* "onboarding" / "farewell"; "unknown" for a value outside the enum. */
const char *template_kind_name(enum template_kind k);

#endif
