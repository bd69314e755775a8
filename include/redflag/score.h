/*
 * score — per-client verdicts for one period, from threads and their signals.
 *
 * Pure computation: no database, no clock. review.c feeds it from the store; the unit tests
 * feed it by hand to check its properties.
 *
 * The model (README "How scoring works" says the same for users):
 *   - Signals count per thread (conversation): at most once per thread for the score, with
 *     the highest weight any message of the thread gave it, so five "ASAP"s in one thread
 *     are one rush.
 *   - R = sum over threads of the weights of the red signals present in the thread,
 *     G = the same for green signals, N = messages (from or to the client, in the period)
 *     that carry no signal at all: each is one point of neutral volume.
 *   - D = max(R + G + N, min_volume); red share = R / D, green share = G / D.
 *     A busy client with the same proportion of trouble has the same shares as a small one
 *     (volume-normalised); min_volume keeps one unlucky mail from condemning a client.
 *   - balance = red share - green share (praise offsets trouble, one for one).
 *   - The verdict, first rule that holds:
 *       release      balance >= release
 *       talk / raise_price   balance >= act; raise_price when price signals (discount,
 *                    payment) weigh at least as much as the other red signals, else talk
 *       raise_price  the client is on an old rate (old_rate, from the config)
 *       cherish      green share >= cherish and red share <= cherish_red_max
 *       keep         otherwise (so a client without signals is kept)
 *   A new red-flag message adds to R (or nothing, when its thread already had that flag
 *   at that weight) and never to N, so R / D rises and G / D falls; a green message does the
 *   opposite. Hence adding red never improves a verdict and adding green never worsens one,
 *   for every threshold setting and every weight >= 0. Doubling all of a client's mail
 *   doubles R, G and N and keeps the verdict once R + G + N >= min_volume. talk and
 *   raise_price are the same severity (both mean "act"), so moving between them is neither
 *   better nor worse.
 */
#ifndef REDFLAG_SCORE_H
#define REDFLAG_SCORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Verdicts, in the order the digest lists them (most urgent first). */
enum score_verdict {
	SCORE_RELEASE,
	SCORE_TALK,
	SCORE_RAISE_PRICE,
	SCORE_KEEP,
	SCORE_CHERISH,
	SCORE_N_VERDICTS
};

/* "release", "talk", "raise_price", "keep", "cherish" (the JSON and config names). */
const char *score_verdict_name(enum score_verdict v);

/* Severity: cherish 0, keep 1, raise_price and talk 2, release 3. Higher is worse. */
int score_verdict_rank(enum score_verdict v);

/* Thresholds (config group `score`); score_params_default() gives the defaults. */
struct score_params {
	double act;             /* balance from which to talk or raise the price (0.30) */
	double release;         /* balance from which to release (0.80) */
	double cherish;         /* green share from which a client is a favourite (0.30) */
	double cherish_red_max; /* ... provided the red share stays at or below this (0.10) */
	unsigned min_volume;    /* denominator floor in points (5) */
	unsigned loyal_years;   /* a relationship this long counts as loyalty (2) */
};

void score_params_default(struct score_params *p);

/* What the scorer knows about one signal id (from the catalogue). */
struct score_signal_def {
	const char *id; /* borrowed */
	bool red;
	bool price; /* a red signal that calls for raise_price rather than talk */
};

/* Reasons a client is a favourite (bit set in struct score_client.favourite). */
enum {
	SCORE_FAV_PRAISE = 1 << 0,   /* praise in the period */
	SCORE_FAV_REFERRAL = 1 << 1, /* recommended you in the period */
	SCORE_FAV_LOYAL = 1 << 2,    /* relationship at least loyal_years long */
	SCORE_FAV_PAYS = 1 << 3,     /* no payment or discount signal in the period */
};

/* One piece of evidence: the message a signal was found in. Strings owned by the report. */
struct score_evidence {
	int64_t date;  /* UTC seconds */
	char *subject; /* from mail: untrusted, may contain anything but NUL */
	char *excerpt; /* the matched words with some context, or the time-signal description */
};

#define SCORE_MAX_EVIDENCE 3

/* One signal of one client in the period. */
struct score_signal {
	const char *id;          /* catalogue id; borrowed from the catalogue */
	const char *description; /* one line in the report's language; borrowed */
	bool red;
	double weight;       /* the weight this signal added to R or G (sum over threads) */
	unsigned count;      /* threads (once_per_thread) or messages carrying it this period */
	unsigned prev_count; /* the same for the previous period */
	struct score_evidence evidence[SCORE_MAX_EVIDENCE]; /* most recent first */
	size_t n_evidence;
};

/* One client's line in the report. */
struct score_client {
	char *name; /* owned; from config or mail (untrusted) */
	enum score_verdict verdict;
	bool has_prev; /* the client had mail in the previous period */
	enum score_verdict prev_verdict;
	double red_share, green_share; /* as above, 0..1 */
	double prev_red_share, prev_green_share;
	double red_points, green_points; /* R and G */
	unsigned threads;                /* threads this period */
	unsigned messages_in;            /* messages from them this period */
	unsigned messages_out;           /* messages from the owner to them this period */
	unsigned out_after_hours;        /* of messages_out, sent outside working time */
	int64_t first_date, last_date;   /* first and last message ever (UTC seconds) */
	bool is_new;                     /* first message ever falls in this period */
	unsigned favourite;              /* SCORE_FAV_* bits; nonzero only for cherish */
	bool old_rate;                   /* still on a rate older than old_rate_months */
	char *old_rate_note;             /* "rate since 2023-01-01 (23 months)" or NULL; owned */
	int64_t onboarded_at;            /* the onboarding mail went out (UTC); 0 = never */
	bool hours_contradicted; /* after_hours this period although onboarded with the hours */
	struct score_signal *signals; /* owned; red first, then by weight, then id */
	size_t n_signals;
};

/* A client with mail in the previous period and none in this one. */
struct score_quiet {
	char *name; /* owned */
	int64_t last_date;
};

/* The whole review of one period. Built by review_build() (review.h), freed here. */
struct score_report {
	char period[16];             /* "2026", "2026-Q3", "2026-11", "2026-W47" */
	char prev_period[16];        /* the period before, for the trend */
	int64_t start, end;          /* [start, end) in UTC seconds */
	int64_t generated;           /* when the report was built (UTC seconds) */
	const char *lang;            /* "da" | "de" | "en" (static storage) */
	const char *timezone;        /* owner's tz name for printing dates; borrowed, may be NULL */
	const char *owner_name;      /* borrowed from the config */
	const char *feedback_folder; /* feedback.folder (borrowed), NULL when none is set */
	struct score_params params;
	struct score_client *clients; /* ranked: by verdict (enum order), then worst red share
	                                 minus green share first; cherish best first */
	size_t n_clients;
	struct score_quiet *quiet;
	size_t n_quiet;
	uint64_t messages; /* messages with a client in the period */
	uint64_t signals;  /* signal rows in the period */
};

/* Frees a report and NULLs the pointer; NULL is fine. */
void score_report_free(struct score_report **r);

/*
 * The accumulator for one period: feed it every message and every signal of the period, then
 * ask for each client's numbers. Clients are small integers the caller assigns (0..n-1);
 * threads are 64-bit keys (a hash of the thread id) that only need to be unique per client.
 */
struct score_acc;

/* defs (n_defs entries, borrowed, must outlive acc) is the signal catalogue. */
struct score_acc *score_acc_new(const struct score_params *p, const struct score_signal_def *defs,
                                size_t n_defs, size_t n_clients);
void score_acc_free(struct score_acc **acc);

/*
 * One message of client in thread; out = from the owner; neutral = the message carries no
 * signal at all (it then adds one point of neutral volume).
 */
void score_acc_message(struct score_acc *acc, size_t client, uint64_t thread, bool out,
                       bool neutral);

/*
 * One signal (index into defs) of a message of client in thread with weight w. Returns true
 * when this occurrence is counted (the first of its signal in the thread for a once per
 * thread signal, else every one), so the caller can keep it as evidence.
 */
bool score_acc_signal(struct score_acc *acc, size_t client, uint64_t thread, size_t sig,
                      bool once_per_thread, double w);

/*
 * The same two calls through a thread handle, for callers that meet a thread many times:
 * score_acc_thread() registers (client, thread) once and returns a handle that stays valid
 * until score_acc_free() (UINT32_MAX for a client out of range, which the _in calls ignore).
 */
uint32_t score_acc_thread(struct score_acc *acc, size_t client, uint64_t thread);
void score_acc_message_in(struct score_acc *acc, uint32_t thread, bool out, bool neutral);
bool score_acc_signal_in(struct score_acc *acc, uint32_t thread, size_t sig, bool once_per_thread,
                         double w);

/*
 * Marks client as on an old rate: a client-level price signal that makes the verdict at
 * least raise_price (score_verdict()), independent of volume and of the other weights.
 */
void score_acc_old_rate(struct score_acc *acc, size_t client);

/* The numbers for one client after all input. */
struct score_result {
	enum score_verdict verdict;
	double red_share, green_share;
	double red_points, green_points;
	double volume; /* R + G + N, before the min_volume floor */
	unsigned threads, messages_in, messages_out;
	bool active;             /* at least one message this period */
	const unsigned *counts;  /* per def: threads or messages carrying it; valid until free */
	const double *weights;   /* per def: weight added */
	double price_w, other_w; /* red weight of price signals and of the others */
};

void score_acc_result(const struct score_acc *acc, size_t client, struct score_result *out);

/*
 * The verdict from the shares alone (what score_acc_result uses): exposed so tests and the
 * digest footer can state the rule.
 */
enum score_verdict score_verdict(const struct score_params *p, double red_share, double green_share,
                                 bool old_rate, double price_w, double other_w);

#endif
