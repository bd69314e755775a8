/*
 * digest — the review of one period as a mail: text/plain with Unicode bars and text/html
 * with table-based bars, in the owner's language (da, de, en; anything else is en).
 *
 * Pure rendering from a struct score_report (score.h): no database, no clock. Dates are
 * printed as local dates (YYYY-MM-DD) in r->timezone (NULL = UTC) through calendar.h, which
 * sets TZ (see there).
 *
 * Everything in the report that came from mail or config (client and quiet names, subjects,
 * excerpts, the owner's name, the old-rate note) is untrusted: control characters become
 * spaces and invalid UTF-8 becomes U+FFFD in both parts, and the HTML part passes every such
 * string through one escaping function. The HTML is self-contained: inline style= (plus
 * bgcolor/width attributes for old Outlook) only, no <script>, <img>, <link>, <style>, no
 * URL of any kind and no CSS url().
 *
 * Outputs are appended to caller-owned strbufs; the report is borrowed.
 */
#ifndef REDFLAG_DIGEST_H
#define REDFLAG_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#include "redflag/score.h"
#include "redflag/util.h"

/* Appends the UTF-8 text/plain rendering of r (LF line ends). Returns 0. */
int digest_render_text(const struct score_report *r, struct strbuf *out);

/* Appends a complete UTF-8 HTML document rendering r (LF line ends). Returns 0. */
int digest_render_html(const struct score_report *r, struct strbuf *out);

/*
 * Appends the localised subject, e.g. "Client review 2026", "Kundegennemgang 2026-Q3",
 * "Kundenübersicht 2026-11" (the period key as in r->period), without a line end.
 */
void digest_subject(const struct score_report *r, struct strbuf *out);

/* Who the digest comes from and goes to. Strings are borrowed. */
struct digest_envelope {
	const char *from_name;  /* display name of the sender, may be NULL */
	const char *from_addr;  /* plain address (mime_address_valid) */
	const char *to_addr;    /* the owner's address; the display name is r->owner_name */
	const char *message_id; /* "<...>", deterministic per period (the caller's choice) */
	int64_t date;           /* Date header, UTC seconds */
	size_t max_bytes;       /* ceiling on the composed mail; 0 = none */
};

/*
 * Appends the whole digest mail (mime_compose: subject, text part, HTML part) to out.
 * When the mail would exceed e->max_bytes it is rendered again with at most one piece of
 * evidence per signal; if still too big, with only the first K clients (K = half the
 * clients, then halving again) and a localised line "… and N more clients: run `redflagd
 * clients`" (the favourites, new and quiet lists are cut to K names the same way).
 * Returns 0; -EINVAL (a bad address or Message-ID, from mime_compose) or -E2BIG when even one
 * client does not fit, with err set and out unchanged.
 */
int digest_compose(const struct score_report *r, const struct digest_envelope *e,
                   struct strbuf *out, char *err, size_t errlen);

#endif
