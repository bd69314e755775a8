/*
 * mime — composing outgoing mail: header values safe against injection, RFC 2047 encoded
 * words, RFC 5322 dates, quoted-printable bodies and whole text or multipart/alternative
 * messages.
 *
 * Pure functions: no I/O, no clock, no locale (day and month names are the C ones whatever
 * setlocale() says). Every output uses CRLF line ends and is appended to a caller-owned
 * strbuf; nothing is ever removed from it. Strings are borrowed and must be NUL-terminated.
 *
 * The guarantees that matter for the SMTP edge:
 *   - no value handed to these functions can start a new header line: every CR, LF and other
 *     control character in a header value becomes a space before anything else happens;
 *   - every header line is at most 78 columns where the text allows folding, and never more
 *     than 998 bytes (a word that cannot be folded is RFC 2047-encoded instead);
 *   - body lines are quoted-printable, at most 76 columns, and none starts with "." (so a
 *     lone "." can never end the SMTP DATA phase early, dot-stuffing or not) or "From ";
 *   - the same input gives the same bytes (the multipart boundary comes from the Message-ID).
 */
#ifndef REDFLAG_MIME_H
#define REDFLAG_MIME_H

#include <stddef.h>
#include <stdint.h>

#include "redflag/util.h"

/*
 * Appends in made fit for one header line: every C0 control (CR, LF and TAB included), DEL,
 * C1 control and Unicode bidi override/isolate becomes a space, runs of whitespace collapse
 * to one space, leading and trailing spaces go, and invalid UTF-8 bytes become U+FFFD. The
 * result is valid UTF-8 without controls. in NULL appends nothing.
 */
void mime_header_sanitize(const char *in, struct strbuf *out);

/*
 * Appends "Name: value\r\n" with value sanitized as above. name is a trusted field name
 * (letters, digits, "-"). Printable ASCII is folded at spaces to at most 78 columns per line;
 * anything else (non-ASCII, text that looks like an encoded word "=?", or a word too long to
 * fold) becomes RFC 2047 encoded words "=?UTF-8?B?...?=" or "=?UTF-8?Q?...?=" (whichever is
 * shorter), each at most 75 characters, lines at most 76, never splitting a UTF-8 sequence,
 * separated by CRLF SP. An empty value gives "Name:\r\n".
 */
void mime_header(struct strbuf *out, const char *name, const char *value);

/*
 * Appends an address header: "Name: \"Display\" <addr>\r\n". The display name is sanitized;
 * a plain word (letters, digits and !#$%&'*+-/=?^_`{|}~) goes in as is, other ASCII is
 * quoted (with \" and \\ escaped), non-ASCII (or a name too long for one line) is RFC 2047
 * encoded in the restricted alphabet allowed in a phrase. display NULL or "" (after
 * sanitizing) gives just "Name: addr\r\n". addr should have passed mime_address_valid();
 * anything else is still made harmless (controls, spaces and <> are dropped).
 */
void mime_address(struct strbuf *out, const char *name, const char *display, const char *addr);

/*
 * 0 when addr is a plain ASCII address "local@domain" that can go into a header and an SMTP
 * envelope: printable, no spaces, no <>()[],;:\" characters, exactly one "@", non-empty
 * local part and domain, at most 254 bytes. -EINVAL otherwise (and for NULL). Quoted local
 * parts, domain literals and non-ASCII (SMTPUTF8) addresses are deliberately refused.
 */
int mime_address_valid(const char *addr);

/*
 * Appends utc (seconds since the epoch) as an RFC 5322 date in UTC, without a line end:
 * "Thu, 01 Jan 2026 00:00:00 +0000". Years before 1 or after 9999 are clamped to that range.
 */
void mime_date(struct strbuf *out, int64_t utc);

/*
 * Appends s (n bytes, any content) quoted-printable encoded (RFC 2045 §6.7). "\n" and
 * "\r\n" in s are line breaks and come out as CRLF; a lone CR, "=", controls, bytes >= 0x80,
 * a space or tab before a line break or at the end, a "." at the start of a line and the
 * "F" of a line-initial "From " are encoded. Lines are cut with soft breaks ("=" CRLF) so no
 * line exceeds 76 characters; an "=XX" triple is never split. No line end is added after the
 * last line.
 */
void mime_qp_encode(struct strbuf *out, const char *s, size_t n);

/* One message to compose. Strings are borrowed. */
struct mime_mail {
	const char *from_name;  /* display name, may be NULL */
	const char *from_addr;  /* must pass mime_address_valid() */
	const char *to_name;    /* display name, may be NULL */
	const char *to_addr;    /* must pass mime_address_valid() */
	const char *subject;    /* UTF-8, may be NULL (empty subject) */
	int64_t date;           /* UTC seconds for the Date header */
	const char *message_id; /* "<id@host>": with the angle brackets, printable ASCII */
	const char *text;       /* UTF-8 text/plain body; NULL = empty; invalid bytes → U+FFFD */
	const char *html;       /* UTF-8 text/html body; NULL → a single text/plain part */
	size_t max_bytes;       /* ceiling on the composed message; 0 = none */
};

/*
 * Appends the complete message (headers Date, From, To, Subject, Message-ID, MIME-Version,
 * Auto-Submitted: auto-generated, Content-Type, Content-Transfer-Encoding; then the body)
 * to out. The body is one text/plain part, or with html a multipart/alternative with the
 * text first and the HTML second, both UTF-8 quoted-printable. The boundary starts with
 * "=_", which quoted-printable output cannot contain, and is derived from message_id, so the
 * same mail gives the same bytes.
 * Returns 0; -EINVAL when an address fails mime_address_valid() or message_id is not
 * "<...>" of printable ASCII without spaces (at most 250 bytes); -E2BIG when max_bytes is
 * nonzero and the message would be larger. On error err gets one line and out is unchanged.
 */
int mime_compose(const struct mime_mail *m, struct strbuf *out, char *err, size_t errlen);

#endif
