/*
 * features — one message as a sparse vector of hashed features, for the signal model.
 *
 * What the model sees of a message is what the rules see (struct rules_input: the Subject
 * and the author's new text, folded), plus what the rules said and a few facts about the
 * message. Each feature is a name, hashed to 32 bits; the names are never stored, so a
 * model file holds numbers only. The kinds, with their name prefixes:
 *
 *   w:STEM        a word's Snowball stem in the message's language (da, de, en; other
 *                 languages use the lower-cased word), from subject and body
 *   s:STEM        the same for words of the subject line
 *   b:STEM STEM   two neighbouring stems in one sentence
 *   c:GRAM        character 4-grams of long words in German, Danish and undetermined
 *                 text (compounds: "zahlungserinnerung" shares "erin", "inne", "nner"
 *                 with "erinnerung"; English writes compounds apart)
 *   r:RULE, h:SIGNAL  a rule that fired, and its signal
 *   m:...         direction, reply or forward, recipients, length, language
 *
 * Text features carry 1/sqrt(number of distinct text features), so a long mail does not
 * outweigh a short one; rule and message features carry 1. The text considered is capped
 * at FEATURES_TEXT_MAX bytes: a client's own words in one mail are shorter, and past that
 * it is a pasted document whose words would only dilute theirs (the rules still see all). A struct
 * features keeps the stemmers and scratch space: not reentrant, one per thread.
 */
#ifndef REDFLAG_FEATURES_H
#define REDFLAG_FEATURES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "redflag/rules.h"

#define FEATURES_TEXT_MAX (8u << 10) /* bytes of judged text that make features */

/* A sparse vector: ids strictly increasing, one value each. Owned by whoever filled it. */
struct feature_vec {
	uint32_t *id;
	float *val;
	size_t n, cap;
};

/* What one message offers; all borrowed. */
struct features_input {
	const struct rules_input *text; /* the judged text, as given to rules_match() */
	const struct rules_hit *hits;   /* the rules that fired on it */
	size_t n_hits;
	bool reply;    /* the subject had a reply prefix (Re:, AW:, SV:, ...) */
	bool forward;  /* the subject had a forward prefix (Fwd:, WG:, VS:, ...) */
	size_t n_rcpt; /* To + Cc recipients; 0 when unknown */
};

/*
 * Called for each feature occurrence when given to features_extract(): the feature's id,
 * its name (valid during the call) and the byte range of the judged text it came from
 * (start == end for rule and message features, which belong to no words).
 */
typedef void (*features_each_fn)(void *arg, uint32_t id, const char *name, size_t start,
                                 size_t end);

struct features;

/* A new extractor (stemmers for da, de and en). OOM is fatal. */
struct features *features_new(void);

/* Frees f and NULLs the pointer; NULL is fine. */
void features_free(struct features **f);

/*
 * Fills out (reset first; its arrays are reused) with the features of in. each, when not
 * NULL, sees every occurrence, for explanations and evidence; it slows extraction.
 */
void features_extract(struct features *f, const struct features_input *in, struct feature_vec *out,
                      features_each_fn each, void *arg);

/* The id of a feature name, as features_extract() computes it (for tests and tools). */
uint32_t features_id(const char *name);

/* The value of feature id in v, 0 when v does not have it (binary search). */
float feature_vec_get(const struct feature_vec *v, uint32_t id);

/* Frees what v holds and zeroes it. */
void feature_vec_release(struct feature_vec *v);

#endif
