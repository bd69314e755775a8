/*
 * classify — one message's signals: rule hits on the author's words plus time signals.
 *
 * Text signals are judged on the Subject line (reply prefixes such as "Re:", "AW:", "SV:",
 * "Fwd:", "WG:" removed) followed by the author's new text (struct message.text: quotes,
 * forwards, signatures and disclaimers already removed by the text module). Mail from
 * mailing lists and automated senders, and announcements to many people (broadcast.h), get
 * no signals at all: no client wrote them to the owner.
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
#include "redflag/features.h"
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
	size_t n_rcpt;       /* addresses in To and Cc; 0 when unknown (broadcast.h) */
	enum rules_dir direction;
	int64_t date; /* UTC seconds; 0 when unknown (no time signals) */
};

struct classify_signal {
	const char *signal; /* catalogue id (owned by the struct rules) */
	const char *rule;   /* rule id, "model.SIGNAL" when the model fired without a rule, or
	                       "time.evening" & co. for time signals */
	double weight;
	char *excerpt; /* the matched words in context, the sentence that weighed most for
	                  the model, or the local time for time signals */
	double p;      /* the model's probability; -1 when no model judged this signal */
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

/*
 * The learned layer (model.h) with its feature extractor: the shipped model and, when the
 * owner has corrected signals, their owner layer on top. With it, a text signal the model
 * knows fires when its probability reaches the model's threshold (the rules' hits are
 * among its features), or its stricter threshold for firing without a rule of that
 * signal; the rules alone decide the signals the model does not know or abstains on
 * (threshold 1). Not reentrant: one per thread, like struct rules.
 */
struct classify_model;
struct model;

/*
 * Loads the model at path and, when layer is not NULL and exists, the owner layer at layer.
 * 0 and a new struct, or -errno with the file and what is wrong in err (a missing model
 * file is -ENOENT; a missing layer is no error). Nothing is kept of a bad file.
 */
int classify_model_open(const char *path, const char *layer, struct classify_model **out, char *err,
                        size_t errlen);

/* Frees cm and NULLs the pointer; NULL is fine. */
void classify_model_free(struct classify_model **cm);

/* The model (the owner layer when one is loaded, which scores with its base), or NULL. */
const struct model *classify_model_get(const struct classify_model *cm);

/* The shipped model without the owner layer (for training a new layer), or NULL. */
const struct model *classify_model_base(const struct classify_model *cm);

/*
 * classify_message() with the learned layer; cm NULL is classify_message(). Fills p of
 * every text signal the model judged.
 */
void classify_message_with(struct rules *r, struct classify_model *cm,
                           const struct calendar_hours *hours, const struct classify_input *in,
                           struct classify_result *out);

/*
 * The model's features of in (the judged text, the rules' hits, message facts) into x, as
 * classify_message_with() computes them; for training and explanations. each may be NULL
 * (see features_extract()). r NULL: no rule-hit features (the text alone). lang receives the
 * detected language. Mail that gets no text signals (lists, automated, broadcast) gives an empty x
 * and returns false.
 */
bool classify_features(struct rules *r, struct features *fx, const struct classify_input *in,
                       struct feature_vec *x, features_each_fn each, void *arg, char lang[8]);

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
