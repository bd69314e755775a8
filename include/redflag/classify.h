/*
 * classify — one message's signals: rule hits on the author's words plus time signals.
 *
 * Text signals are judged on the Subject line (reply prefixes such as "Re:", "AW:", "SV:",
 * "Fwd:", "WG:" removed) followed by the author's new text (struct message.text: quotes,
 * forwards, signatures and disclaimers already removed by the text module). Mail from
 * mailing lists and automated senders gets no signals at all: no client wrote it.
 *
 * Each signal appears at most once per message, carried by its strongest rule (the first
 * one in pack order among equals), with an excerpt of the matched words.
 */
#ifndef REDFLAG_CLASSIFY_H
#define REDFLAG_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "redflag/calendar.h"
#include "redflag/clients.h"
#include "redflag/message.h"
#include "redflag/rules.h"

#define CLASSIFY_EXCERPT_MAX 200 /* bytes of an excerpt, "…" marks included */

/* What classification needs from a message; all borrowed. */
struct classify_input {
	const char *subject; /* decoded Subject, may be NULL */
	const char *text;    /* the author's new text (struct message.text), may be NULL */
	const char *body;    /* the whole decoded body, may be NULL: only for language detection */
	unsigned flags;      /* MESSAGE_* flags */
	bool automated;      /* the sender is a no-reply address or similar */
	enum rules_dir direction;
	int64_t date; /* UTC seconds; 0 when unknown (no time signals) */
};

struct classify_signal {
	const char *signal; /* catalogue id (owned by the struct rules) */
	const char *rule;   /* rule id, or "time.evening" & co. for time signals */
	double weight;
	char *excerpt; /* the matched words in context, or the local time for time signals */
};

/* Result of classify_message(); release with classify_result_release(). */
struct classify_result {
	char lang[8]; /* "da", "de", "en", or "und" when undetermined */
	struct classify_signal *v;
	size_t n;
};

/*
 * Classifies in with r (its scratch is used: not reentrant). hours may be NULL: then no time
 * signals are given (classify without a config). Always fills *out.
 */
void classify_message(struct rules *r, const struct calendar_hours *hours,
                      const struct classify_input *in, struct classify_result *out);

/* The rules' direction for a resolved one (RF_DIR_NONE: unknown, every rule runs). */
enum rules_dir classify_direction(enum rf_direction dir);

/*
 * Fills in from a parsed message (borrowed: in points into m) and the direction the
 * clients module resolved; no-reply senders count as automated.
 */
void classify_input_from_message(const struct message *m, enum rules_dir direction,
                                 struct classify_input *in);

/* Frees what out holds and zeroes it. */
void classify_result_release(struct classify_result *out);

/*
 * Detects the language of text among da, de and en by counting frequent function words
 * (and æøå/äöüß). Returns "da", "de", "en", or NULL when there is too little to tell.
 */
const char *classify_language(const char *text, size_t len);

/* Returns a new copy of subject without leading reply/forward prefixes and list tags. */
char *classify_subject(const char *subject);

/*
 * old_rate: true when rate_since ("YYYY-MM-DD") lies at least months whole calendar months
 * before now (UTC seconds). evidence gets e.g. "rate since 2024-01-01 (34 months)".
 * -EINVAL for a malformed date, else 0 or 1.
 */
int classify_old_rate(const char *rate_since, unsigned months, int64_t now, char *evidence,
                      size_t len);

#endif
