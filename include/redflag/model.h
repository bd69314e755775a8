/*
 * model — the learned layer over the rules: one logistic regression per text signal.
 *
 * P(signal | message) = 1 / (1 + exp(-(bias + sum of weight[id] * value[id]))) over the
 * message's hashed features (features.h). A signal fires when P reaches its threshold,
 * which training chose on cross-validation, precision first: one for messages where a
 * rule of the signal fired, and a stricter one, chosen on the messages where none did, for
 * the model alone.
 *
 * An owner layer is a second model trained on the owner's corrections on top of a base
 * model: its score is added to the base's (P = sigmoid(base score + layer score)), its
 * thresholds are the base's, and its file names the base's checksum, so a layer is never
 * applied to a model it was not trained against.
 *
 * The file is text, so a change shows in a diff:
 *
 *   redflagd-model 1
 *   signals rush discount ...      the signals, in column order
 *   base -                         or the checksum of the base model of an owner layer
 *   threshold 0.61 0.55 ...        one per signal: fires at this when a rule of it fired
 *   alone 0.9 1 ...                one per signal: fires at this without one (1: never)
 *   bias -3.2 -4.1 ...             one per signal
 *   features N
 *   1a2b3c4d 0:0.81 6:-0.2         feature id (hex), then signal:weight for non-zero weights
 *   ...                            (N lines, ids increasing)
 *   checksum 0123456789abcdef      FNV-1a 64 of every byte before this line
 *
 * A struct model is immutable after loading or training.
 */
#ifndef REDFLAG_MODEL_H
#define REDFLAG_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "redflag/features.h"

#define MODEL_MAX_SIGNALS  32
#define MODEL_MAX_FEATURES (4u << 20) /* lines a file may hold: a ceiling for bad files */

struct model;

/*
 * Reads a model file. Returns 0 and a new model, or -ENOENT (missing), -EINVAL (wrong
 * version, truncated, corrupt, bad checksum) or another -errno, with the file and what is
 * wrong in err ("FILE:LINE: ..." where a line is to blame). Nothing of a bad file is kept.
 */
int model_load(const char *path, struct model **out, char *err, size_t errlen);

/* Writes m to path atomically (a temporary file renamed over it), mode 0644. 0 or -errno. */
int model_save(const struct model *m, const char *path, char *err, size_t errlen);

/* Frees m and NULLs the pointer; NULL is fine. A layer's base is not freed. */
void model_free(struct model **m);

/* Number of signals, and signal i's id and threshold. */
size_t model_signal_count(const struct model *m);
const char *model_signal_at(const struct model *m, size_t i);
double model_threshold(const struct model *m, size_t i);

/* The threshold of signal i for a message no rule of signal i fired on (1: never). */
double model_threshold_alone(const struct model *m, size_t i);

/* Column of signal id, or -1. */
int model_signal_index(const struct model *m, const char *id);

/* The file's checksum, as written in it (16 hex digits). */
const char *model_checksum(const struct model *m);

/*
 * Puts layer on top of base: 0, or -EINVAL with a reason in err when layer is not an owner
 * layer of exactly this base (checksum) or lists other signals. base is borrowed and must
 * outlive layer.
 */
int model_set_base(struct model *layer, const struct model *base, char *err, size_t errlen);

/* The score (log-odds) of signal i for x, including the base's when m is a layer. */
double model_score(const struct model *m, size_t i, const struct feature_vec *x);

/* model_score() of every signal at once (one look-up per feature): out[model_signal_count]. */
void model_scores(const struct model *m, const struct feature_vec *x, double *out);

/* The weight of feature id for signal i (base's included for a layer). */
double model_weight(const struct model *m, size_t i, uint32_t id);

/* 1 / (1 + exp(-score)). */
double model_sigmoid(double score);

/* One labelled example for training: borrowed vector, a bit per signal column. */
struct model_example {
	const struct feature_vec *x;
	uint32_t labels; /* bit i set: signal i present */
};

/* Training parameters; MODEL_TRAIN_DEFAULT gives the shipped values. */
struct model_train_opts {
	unsigned epochs;      /* passes of SGD over the examples */
	double rate;          /* AdaGrad base learning rate */
	double l2;            /* L2 penalty per example */
	uint64_t seed;        /* the shuffle; same seed, same examples: same model, bit for bit */
	unsigned cv_folds;    /* folds for choosing thresholds (0 or 1: no CV, threshold 0.5) */
	double min_precision; /* thresholds: the lowest whose CV precision reaches this */
	double prune;         /* weights smaller than this in magnitude are dropped */
	unsigned min_df;      /* a model learns only features seen in this many examples */
};

#define MODEL_TRAIN_DEFAULT                                                                        \
	{                                                                                          \
		.epochs = 12, .rate = 0.2, .l2 = 3e-2, .seed = 1, .cv_folds = 5,                   \
		.min_precision = 0.7, .prune = 1e-3, .min_df = 2                                   \
	}

/*
 * Trains a model over n examples for the n_signals signals (ids copied). With base, trains
 * an owner layer on top of it (its thresholds are kept; the layer's penalty is stronger so
 * a few corrections move it gently, and it keeps the base's bias); the layer scores with
 * base, which is borrowed and must outlive it. Deterministic. Returns 0 and a new model, or -EINVAL
 * (no examples, too many signals) with a reason in err.
 */
int model_train(const char *const *signals, size_t n_signals, const struct model_example *ex,
                size_t n, const struct model_train_opts *o, const struct model *base,
                struct model **out, char *err, size_t errlen);

#endif
