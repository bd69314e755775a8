/*
 * message — one raw RFC 822 message (untrusted bytes) → headers, addresses, date and the
 * author's clean UTF-8 text.
 *
 * message_parse() runs libetpan's MIME parser, which is known to crash on hostile input
 * (LIBS.md). Call it only inside the parser worker (parser.h) — never in the daemon itself.
 * The struct is flat and serialisable so the worker can hand it back over a pipe.
 *
 * All strings are UTF-8, NUL-terminated, owned by the struct message, and never NULL unless
 * the field says so.
 */
#ifndef REDFLAG_MESSAGE_H
#define REDFLAG_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

#include "redflag/util.h"

/* Ceilings applied while parsing; a message over one is still parsed, truncated. */
struct message_limits {
	size_t max_text_bytes;   /* clean text kept (default 256 KiB) */
	size_t max_addresses;    /* recipients kept (default 100) */
	size_t max_header_bytes; /* header bytes considered (default 256 KiB) */
	unsigned max_depth;      /* MIME nesting followed (default 20) */
};

#define MESSAGE_LIMITS_DEFAULT                                                                     \
	{                                                                                          \
		256 * 1024, 100, 256 * 1024, 20                                                    \
	}

struct message_addr {
	char *name; /* display name, decoded; "" when none */
	char *addr; /* lower-cased addr-spec "user@host"; "" when unparseable */
};

/* Flags: how the message presents itself. */
enum {
	MESSAGE_LIST = 1 << 0,      /* List-Id, List-Unsubscribe, List-Post, Precedence: list */
	MESSAGE_BULK = 1 << 1,      /* Precedence: bulk/junk */
	MESSAGE_AUTO = 1 << 2,      /* Auto-Submitted other than "no", X-Autoreply, X-Autorespond */
	MESSAGE_HTML_ONLY = 1 << 3, /* the text came from an HTML part */
	MESSAGE_TRUNCATED = 1 << 4, /* a ceiling cut something off */
};

struct message {
	char *message_id;  /* Message-ID without angle brackets; "" when missing */
	char *in_reply_to; /* first In-Reply-To id, no brackets; "" when none */
	char *thread_id;   /* first References id, else in_reply_to, else message_id; no brackets */
	char *header_hash; /* hex digest of Date, From, To, Subject: de-duplication without a
	                      Message-ID */
	char *subject;     /* decoded (RFC 2047), whitespace folded; "" when none */
	int64_t date;      /* Date header as UTC seconds since the epoch; 0 when missing/invalid */
	int tz_offset_min; /* the Date header's zone offset in minutes east of UTC */
	struct message_addr from;  /* first From mailbox (Sender when From is missing) */
	struct message_addr *rcpt; /* To, then Cc (Bcc when present) */
	size_t n_rcpt;
	unsigned flags; /* MESSAGE_* */
	char *body;     /* decoded text of the message (HTML converted), quotes included */
	char *
	    text; /* the author's own new text: quotes, forwards, signatures, disclaimers removed */
};

/*
 * Parses raw (len bytes, need not be NUL-terminated). Returns 0 and a new message in *out,
 * or -EBADMSG with a reason in err when the input is not a message at all (no header).
 * Unknown charsets and broken parts are decoded best-effort (invalid bytes become U+FFFD)
 * rather than failing.
 */
int message_parse(const char *raw, size_t len, const struct message_limits *lim,
                  struct message **out, char *err, size_t errlen);

/* Frees m and NULLs the pointer; NULL is fine. */
void message_free(struct message **m);

/*
 * The id in a Message-ID header value (unfolded), as message_parse() stores it: without
 * angle brackets and white space; a new string, "" when there is none.
 */
char *message_id_from_header(const char *value);

/* Appends a self-delimiting binary encoding of m to out. */
void message_serialize(const struct message *m, struct strbuf *out);

/*
 * Decodes what message_serialize() wrote. Returns 0 and a new message, or -EBADMSG when buf
 * is malformed (it comes from another process: never trust its lengths).
 */
int message_deserialize(const char *buf, size_t len, struct message **out);

#endif
