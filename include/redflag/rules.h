/*
 * rules — the signal catalogue and the rule packs: load, validate, compile, match.
 *
 * A rules directory holds one pack per language (da.conf, de.conf, en.conf, ...: any *.conf
 * is a pack, so adding fr.conf needs no code). The signal catalogue (signals.conf) lives
 * next to the directory by default. Both are libconfig files; the format is documented in
 * conf/rules/README.md and in the shipped files themselves.
 *
 * Every pattern is compiled once by rules_load(): PCRE2 with UTF, UCP and caseless matching
 * (JIT when the kernel allows executable memory, the interpreter otherwise). All patterns
 * of all packs are also compiled (on demand: rules_prefilter_build) into one
 * Vectorscan/Hyperscan database in prefilter mode:
 * one pass over a text finds the few rules that may match, and only those run PCRE2. The
 * prefilter may report too much, never too little; PCRE2 has the last word, so results are
 * the same with the prefilter off (rules_set_prefilter), only slower.
 *
 * A struct rules is immutable after loading except for its scratch space: rules_match() is
 * not reentrant. Use one struct rules per thread.
 */
#ifndef REDFLAG_RULES_H
#define REDFLAG_RULES_H

#include <stdbool.h>
#include <stddef.h>

#include "redflag/util.h"

/* Languages the catalogue carries descriptions for (the digest's languages). */
enum rules_lang { RULES_LANG_DA, RULES_LANG_DE, RULES_LANG_EN, RULES_N_LANGS };

/* One entry of the signal catalogue. */
struct rules_signal {
	char *id;                         /* "rush", "old_rate", ... */
	bool red;                         /* polarity: red flag (true) or green (false) */
	double weight;                    /* default weight of the signal's rules */
	bool once_per_thread;             /* counts at most once per thread in scores */
	bool text;                        /* judged from the author's words (rule packs) */
	char *description[RULES_N_LANGS]; /* one line for the digest */
};

/* Message direction, as clients.h resolves it; RULES_DIR_UNKNOWN runs every rule. */
enum rules_dir { RULES_DIR_UNKNOWN = 0, RULES_DIR_IN = 1, RULES_DIR_OUT = 2 };

/*
 * What one message offers the rules: the judged text is the Subject (reply prefixes
 * removed) followed by the author's new body text, in one buffer, so a rule's region
 * (subject, body or both) is a range of offsets.
 */
struct rules_input {
	const char *text;  /* valid UTF-8, need not be NUL-terminated */
	size_t len;        /* bytes in text */
	size_t body_start; /* text[0, body_start) is the subject line, the rest the body */
	const char *lang;  /* detected language ("da", ...) or NULL when undetermined */
	enum rules_dir direction;
};

/* One rule that fired. Strings belong to the struct rules. */
struct rules_hit {
	const struct rules_signal *signal;
	const char *rule;  /* rule id, e.g. "de.rush.bis_morgen" */
	double weight;     /* the rule's weight */
	size_t start, end; /* the match in rules_input.text */
};

struct rules;

/*
 * Loads the catalogue (signals_path; NULL = "<dir>/../signals.conf") and every *.conf pack
 * in dir, in name order, and compiles them. On success returns 0 and a new struct rules. On
 * failure returns -EINVAL (or -ENOENT when dir or the catalogue cannot be read) and appends
 * one line per problem to errors, every one as "file:line: message"; a pattern PCRE2 rejects
 * is reported as "file:line: rule ID: PCRE2 message at offset N". All problems are
 * collected before failing.
 */
int rules_load(const char *dir, const char *signals_path, struct rules **out,
               struct strbuf *errors);

/* Frees r and NULLs the pointer; NULL is fine. */
void rules_free(struct rules **r);

/* Number of rules and of compiled patterns (for logs and the benchmark). */
size_t rules_count(const struct rules *r);
size_t rules_pattern_count(const struct rules *r);

/* Whether the multi-pattern prefilter is built and in use. */
bool rules_prefilter_active(const struct rules *r);

/*
 * The prefilter database is built on demand, once rules_match() has seen about 2 MB of text
 * (compiling it costs about a second). This builds it now; false when the platform or the
 * engine cannot (rules_match then runs every pattern with PCRE2, with the same results).
 */
bool rules_prefilter_build(struct rules *r);

/*
 * Where compiled prefilters are kept between runs (a directory the caller created; NULL:
 * nowhere). Compiling costs about a second and several MB for a moment; a start with a
 * cached prefilter for the same patterns costs milliseconds.
 */
void rules_set_cache_dir(struct rules *r, const char *dir);

/* How many patterns the prefilter engine rejected (they run with PCRE2 every time). */
size_t rules_prefilter_rejected(const struct rules *r);

/* Turns the prefilter off or back on (the default); for the benchmark and for tests. */
void rules_set_prefilter(struct rules *r, bool on);

/* The catalogue, in file order. */
size_t rules_signal_count(const struct rules *r);
const struct rules_signal *rules_signal_at(const struct rules *r, size_t i);

/* The catalogue entry called id, or NULL. */
const struct rules_signal *rules_signal_find(const struct rules *r, const char *id);

/*
 * Runs every applicable rule over in and stores at most max hits in hits, at most one per
 * rule: the first match of any of its patterns that lies in the rule's region and is not
 * vetoed by a guard. Returns the number of hits stored (0..max).
 */
size_t rules_match(struct rules *r, const struct rules_input *in, struct rules_hit *hits,
                   size_t max);

#endif
