/*
 * rules — see include/redflag/rules.h.
 *
 * Like config.c, this file reads libconfig files, but only its own data files (the
 * catalogue and the packs); redflagd.conf stays config.c's alone.
 */
#include "redflag/rules.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <hs.h>
#include <libconfig.h>
#include <limits.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#define RULES_FILE_MAX     (1024 * 1024) /* a rule pack larger than this is a mistake */
#define RULES_MAX_FILES    64
#define RULES_MAX_PATTERNS 64   /* per rule or guard list */
#define PATTERN_MAX_BYTES  1024 /* per pattern */
#define MATCHES_PER_RULE   16   /* occurrences tried per pattern before giving up */
#define SENTENCE_MAX       400  /* bytes a guard looks either side of a match */
#define WEIGHT_MAX         10.0
/*
 * Compiling the prefilter database takes about a second for the shipped packs, PCRE2 alone
 * runs at some MB/s: build it once this much text has been matched, so `classify` on a few
 * files and a sync with little new mail never pay for it, and an import does almost at once.
 */
#define PREFILTER_AFTER (2u << 20)
#define PREFILTER_CHUNK 160 /* patterns per prefilter database */
#define OCC_MAX         16  /* prefilter match ends kept per pattern and text */
#define LOOK_MARGIN     8   /* bytes past a window for \b's look at the next character */

#define NO_RULE   ((size_t)-1)
#define UNBOUNDED ((size_t)-1)

enum where { WHERE_SUBJECT = 1, WHERE_BODY = 2, WHERE_ANY = 3 };

/* A guard or context pattern: an entry of rules.patterns that belongs to no rule. */
struct guard {
	size_t pat;         /* index into rules.patterns */
	bool message_scope; /* veto when it matches anywhere, not only in the sentence */
};

struct pattern {
	pcre2_code *re;
	char *src;
	size_t rule; /* index into rules.rules; NO_RULE for guard and context patterns */
	/*
	 * Always run it, without asking the prefilter: sentence guards and context patterns
	 * (they only ever search one sentence around a match, and words like "I'll" or "bitte"
	 * would cost the prefilter more than they save), and patterns the engine rejected.
	 */
	bool no_hs;
	size_t max_len; /* longest match in bytes, or UNBOUNDED (see max_match_len) */
	bool lookahead; /* has (?= or (?!: a match may depend on text after its end */
};

struct rule {
	char *id;
	size_t signal; /* index into rules.signals */
	double weight;
	unsigned where;
	enum rules_dir direction; /* RULES_DIR_UNKNOWN = both */
	char *lang;               /* the pack's language */
	bool lang_only;           /* only when the message is in the pack's language */
	size_t pat0, n_pat;       /* range in rules.patterns */
	struct guard *guards;
	size_t n_guards;
	struct guard *context; /* one of these must match in the sentence (none: no condition) */
	size_t n_context;
};

/* A pack-level guard: applies to every rule of one signal, from every pack. */
struct signal_guard {
	size_t signal;
	struct guard g;
};

struct rules {
	struct rules_signal *signals;
	size_t n_signals;
	struct rule *rules;
	size_t n_rules;
	struct pattern *patterns;
	size_t n_patterns;
	struct signal_guard *sguards;
	size_t n_sguards;

	pcre2_match_context *mctx;
	pcre2_jit_stack *jit_stack;
	pcre2_match_data *md;

	hs_database_t **hs_db; /* n_hs databases (NULL entries: nothing compiled in that chunk) */
	size_t n_hs;
	bool hs_built;
	hs_scratch_t *hs_scratch;
	char *cache_dir;      /* where compiled prefilters are kept; NULL: nowhere */
	bool prefilter_on;    /* use the database (built or to be built) */
	bool prefilter_tried; /* build_prefilter() ran */
	size_t hs_rejected;   /* patterns the engine would not take (always run instead) */
	uint64_t bytes_seen;  /* text matched so far, to decide when building pays off */

	unsigned char *cand; /* per pattern: may match (scratch for rules_match) */
	/*
	 * Scratch for rules_match, per pattern: where the prefilter's matches end, in order, at
	 * most OCC_MAX of them (occ_n = OCC_MAX + 1: more than that).
	 */
	uint32_t *occ;
	unsigned char *occ_n;
	signed char *sg_state; /* per message-scope sguard: -1 unknown, 0 no, 1 yes */
};

struct loader {
	struct rules *r;
	struct strbuf *errors;
	unsigned n_errors;
	const char *file;
};

static void errf(struct loader *ld, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void errf(struct loader *ld, const config_setting_t *s, const char *fmt, ...)
{
	unsigned line = s ? config_setting_source_line(s) : 0;
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	strbuf_appendf(ld->errors, "%s:%u: %s\n", ld->file, line ? line : 1, msg);
	ld->n_errors++;
}

/* ---- reading libconfig files ---- */

static int read_file(struct loader *ld, const char *path, config_t *lc)
{
	struct stat st;

	ld->file = path;
	if (stat(path, &st) != 0) {
		strbuf_appendf(ld->errors, "%s: %s\n", path, strerror(errno));
		ld->n_errors++;
		return -errno;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > RULES_FILE_MAX) {
		strbuf_appendf(ld->errors, "%s: not a regular file of at most %d bytes\n", path,
		               RULES_FILE_MAX);
		ld->n_errors++;
		return -EINVAL;
	}
	config_init(lc);
	if (config_read_file(lc, path) == CONFIG_FALSE) {
		if (config_error_type(lc) == CONFIG_ERR_FILE_IO)
			strbuf_appendf(ld->errors, "%s: cannot read\n", path);
		else
			strbuf_appendf(ld->errors, "%s:%d: %s\n", path, config_error_line(lc),
			               config_error_text(lc));
		ld->n_errors++;
		config_destroy(lc);
		return -EINVAL;
	}
	return 0;
}

/* Rejects members of group g not in allowed (NULL-terminated): typos are errors. */
static void check_keys(struct loader *ld, const config_setting_t *g, const char *const *allowed)
{
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *m = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(m);
		bool ok = false;

		for (size_t k = 0; allowed[k] && name; k++)
			if (strcmp(name, allowed[k]) == 0)
				ok = true;
		if (!ok)
			errf(ld, m, "unknown key \"%s\"", name ? name : "?");
	}
}

/* A string member: NULL when absent; an error when present with another type. */
static const char *get_str(struct loader *ld, const config_setting_t *g, const char *key,
                           bool required)
{
	const config_setting_t *m = config_setting_get_member(g, key);

	if (!m) {
		if (required)
			errf(ld, g, "missing \"%s\"", key);
		return NULL;
	}
	if (config_setting_type(m) != CONFIG_TYPE_STRING) {
		errf(ld, m, "\"%s\" must be a string", key);
		return NULL;
	}
	return config_setting_get_string(m);
}

static bool get_bool(struct loader *ld, const config_setting_t *g, const char *key, bool def)
{
	const config_setting_t *m = config_setting_get_member(g, key);

	if (!m)
		return def;
	if (config_setting_type(m) != CONFIG_TYPE_BOOL) {
		errf(ld, m, "\"%s\" must be true or false", key);
		return def;
	}
	return config_setting_get_bool(m);
}

static double get_weight(struct loader *ld, const config_setting_t *g, double def)
{
	const config_setting_t *m = config_setting_get_member(g, "weight");
	double w;

	if (!m)
		return def;
	switch (config_setting_type(m)) {
	case CONFIG_TYPE_FLOAT:
		w = config_setting_get_float(m);
		break;
	case CONFIG_TYPE_INT:
		w = config_setting_get_int(m);
		break;
	default:
		errf(ld, m, "\"weight\" must be a number");
		return def;
	}
	if (!(w > 0.0 && w <= WEIGHT_MAX)) {
		errf(ld, m, "\"weight\" must be in (0, %.0f]", WEIGHT_MAX);
		return def;
	}
	return w;
}

/* A list or array of strings under key (a single string is accepted too). */
static const config_setting_t *get_strings(struct loader *ld, const config_setting_t *g,
                                           const char *key, bool required)
{
	const config_setting_t *m = config_setting_get_member(g, key);
	int n;

	if (!m) {
		if (required)
			errf(ld, g, "missing \"%s\"", key);
		return NULL;
	}
	if (config_setting_type(m) == CONFIG_TYPE_STRING)
		return m;
	if (!config_setting_is_aggregate(m) || config_setting_is_group(m)) {
		errf(ld, m, "\"%s\" must be a list of strings", key);
		return NULL;
	}
	n = config_setting_length(m);
	if (n == 0 || n > RULES_MAX_PATTERNS) {
		errf(ld, m, "\"%s\" must hold 1 to %d strings", key, RULES_MAX_PATTERNS);
		return NULL;
	}
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(m, (unsigned)i);

		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			errf(ld, e, "\"%s\" must be a list of strings", key);
			return NULL;
		}
	}
	return m;
}

static size_t strings_count(const config_setting_t *m)
{
	return config_setting_type(m) == CONFIG_TYPE_STRING ? 1 : (size_t)config_setting_length(m);
}

static const config_setting_t *strings_at(const config_setting_t *m, size_t i)
{
	return config_setting_type(m) == CONFIG_TYPE_STRING
	           ? m
	           : config_setting_get_elem(m, (unsigned)i);
}

/* ---- the catalogue ---- */

static const char *const lang_codes[RULES_N_LANGS] = {"da", "de", "en"};

static void load_signals(struct loader *ld, const char *path)
{
	static const char *const keys[] = {"id",   "polarity",    "weight", "once_per_thread",
	                                   "text", "description", NULL};
	struct rules *r = ld->r;
	const config_setting_t *list;
	config_t lc;

	if (read_file(ld, path, &lc) != 0)
		return;
	list = config_lookup(&lc, "signals");
	if (!list || !config_setting_is_list(list) || config_setting_length(list) == 0) {
		errf(ld, list, "\"signals\" must be a non-empty list of groups");
		goto out;
	}
	r->signals = xcalloc((size_t)config_setting_length(list), sizeof(*r->signals));
	for (int i = 0; i < config_setting_length(list); i++) {
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
		struct rules_signal *sig = &r->signals[r->n_signals];
		const config_setting_t *desc;
		const char *id, *pol;

		if (!config_setting_is_group(g)) {
			errf(ld, g, "each signal must be a group { id = ...; }");
			continue;
		}
		check_keys(ld, g, keys);
		id = get_str(ld, g, "id", true);
		pol = get_str(ld, g, "polarity", true);
		if (!id || !pol)
			continue;
		if (rules_signal_find(r, id)) {
			errf(ld, g, "signal \"%s\" defined twice", id);
			continue;
		}
		if (strcmp(pol, "red") != 0 && strcmp(pol, "green") != 0) {
			errf(ld, g, "signal %s: polarity must be \"red\" or \"green\"", id);
			continue;
		}
		sig->id = xstrdup(id);
		sig->red = strcmp(pol, "red") == 0;
		sig->weight = get_weight(ld, g, 1.0);
		sig->once_per_thread = get_bool(ld, g, "once_per_thread", true);
		sig->text = get_bool(ld, g, "text", true);
		desc = config_setting_get_member(g, "description");
		for (int l = 0; l < RULES_N_LANGS; l++) {
			const char *d = desc ? get_str(ld, desc, lang_codes[l], true) : NULL;

			sig->description[l] = xstrdup(d ? d : id);
		}
		if (!desc)
			errf(ld, g, "signal %s: missing \"description\" { da; de; en; }", id);
		r->n_signals++;
	}
out:
	config_destroy(&lc);
}

/* ---- patterns ---- */

/*
 * An upper bound in bytes on how long a match of the PCRE2 pattern src can be, or UNBOUNDED.
 * Every character counts 4 bytes (the longest UTF-8 sequence: caseless matching lets "k"
 * match the 3-byte KELVIN SIGN), repeats multiply, *, + and {m,} are unbounded, as is
 * anything this small reader does not know (back references, \Q...\E, verbs). Lookaround
 * consumes nothing. *p advances past what was read; stop is ')' inside a group.
 */
static size_t seq_max_len(const char **pp, int depth);

static size_t bounded_mul(size_t a, size_t n)
{
	if (a == UNBOUNDED || (n && a > ((size_t)1 << 24) / n))
		return UNBOUNDED;
	return a * n;
}

static size_t bounded_add(size_t a, size_t b)
{
	return a == UNBOUNDED || b == UNBOUNDED ? UNBOUNDED : a + b;
}

/* Skips the class "[...]" at *pp; false when it is not terminated. */
static bool skip_class_text(const char **pp)
{
	const char *p = *pp + 1;

	if (*p == '^')
		p++;
	if (*p == ']')
		p++;
	while (*p && *p != ']') {
		if (p[0] == '[' && p[1] == ':') {
			const char *e = strstr(p, ":]");

			if (!e)
				return false;
			p = e + 2;
			continue;
		}
		p += *p == '\\' && p[1] ? 2 : 1;
	}
	if (*p != ']')
		return false;
	*pp = p + 1;
	return true;
}

/* One atom (without its quantifier); UNBOUNDED when unknown. */
static size_t atom_max_len(const char **pp, int depth)
{
	const char *p = *pp;
	size_t len = 4;

	if (*p == '\\') {
		char e = p[1];

		if (!e)
			return UNBOUNDED;
		p += 2;
		if (e == 'b' || e == 'B' || e == 'A' || e == 'z' || e == 'Z' || e == 'G')
			len = 0;
		else if ((e >= '1' && e <= '9') || e == 'g' || e == 'k' || e == 'Q' || e == 'E' ||
		         e == 'K' || e == 'X' || e == 'R')
			return UNBOUNDED;
		else if ((e == 'x' || e == 'p' || e == 'P') && *p == '{')
			while (*p && *p++ != '}')
				;
	} else if (*p == '[') {
		if (!skip_class_text(&p))
			return UNBOUNDED;
	} else if (*p == '(') {
		bool look = false;

		p++;
		if (*p == '?') {
			if (p[1] == ':' || p[1] == '>' || p[1] == '|')
				p += 2;
			else if (p[1] == '=' || p[1] == '!')
				look = true, p += 2;
			else if (p[1] == '<' && (p[2] == '=' || p[2] == '!'))
				look = true, p += 3;
			else
				return UNBOUNDED; /* named groups, options, conditionals: not needed
				                     here */
		} else if (*p == '*') {
			return UNBOUNDED;
		}
		len = seq_max_len(&p, depth + 1);
		if (len == UNBOUNDED || *p != ')')
			return UNBOUNDED;
		p++;
		if (look)
			len = 0;
	} else if (*p == '^' || *p == '$') {
		p++;
		len = 0;
	} else {
		/* A literal character: skip its UTF-8 continuation bytes. */
		p++;
		while (((unsigned char)*p & 0xC0) == 0x80)
			p++;
	}
	*pp = p;
	return len;
}

static size_t seq_max_len(const char **pp, int depth)
{
	const char *p = *pp;
	size_t best = 0, cur = 0;

	if (depth > 32)
		return UNBOUNDED;
	while (*p && *p != ')') {
		size_t a;

		if (*p == '|') {
			best = cur == UNBOUNDED || best == UNBOUNDED ? UNBOUNDED
			                                             : (cur > best ? cur : best);
			cur = 0;
			p++;
			continue;
		}
		a = atom_max_len(&p, depth);
		if (a == UNBOUNDED)
			return UNBOUNDED;
		/* Its quantifier. */
		if (*p == '*' || *p == '+') {
			return UNBOUNDED;
		} else if (*p == '?') {
			p++;
		} else if (*p == '{') {
			unsigned long n = 0;
			const char *q = p + 1;

			while (*q >= '0' && *q <= '9' && n < 100000)
				n = n * 10 + (unsigned long)(*q++ - '0');
			if (*q == ',') {
				q++;
				if (*q < '0' || *q > '9')
					return UNBOUNDED;
				n = 0;
				while (*q >= '0' && *q <= '9' && n < 100000)
					n = n * 10 + (unsigned long)(*q++ - '0');
			}
			if (*q == '}') {
				a = bounded_mul(a, n);
				p = q + 1;
			}
			/* else: a literal '{', already counted as the next atom */
		}
		if (*p == '?' || *p == '+')
			p++; /* lazy or possessive */
		cur = bounded_add(cur, a);
		if (cur == UNBOUNDED)
			return UNBOUNDED;
	}
	*pp = p;
	return cur > best ? cur : best;
}

static size_t max_match_len(const char *src)
{
	const char *p = src;
	size_t len = seq_max_len(&p, 0);

	return *p ? UNBOUNDED : len; /* an unmatched ')' */
}

static bool has_lookahead(const char *src)
{
	return strstr(src, "(?=") || strstr(src, "(?!");
}

static pcre2_code *compile_re(struct loader *ld, const config_setting_t *at, const char *what,
                              const char *src)
{
	pcre2_code *re;
	int errcode;
	PCRE2_SIZE erroff;

	if (strlen(src) == 0 || strlen(src) > PATTERN_MAX_BYTES) {
		errf(ld, at, "%s: a pattern must be 1 to %d bytes", what, PATTERN_MAX_BYTES);
		return NULL;
	}
	re = pcre2_compile((PCRE2_SPTR)src, PCRE2_ZERO_TERMINATED,
	                   PCRE2_UTF | PCRE2_UCP | PCRE2_CASELESS | PCRE2_MATCH_INVALID_UTF,
	                   &errcode, &erroff, NULL);
	if (!re) {
		PCRE2_UCHAR msg[256];

		pcre2_get_error_message(errcode, msg, sizeof(msg));
		errf(ld, at, "%s: PCRE2 %s at offset %zu", what, (const char *)msg, (size_t)erroff);
		return NULL;
	}
	/*
	 * JIT needs writable+executable memory; without it the interpreter does the job. Under
	 * valgrind the JIT code's reads look uninitialised (known PCRE2 behaviour): there the
	 * interpreter runs, so a valgrind run shows our errors only.
	 */
	if (!RUNNING_ON_VALGRIND)
		(void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
	return re;
}

/* Compiles the guard patterns in list into rules.patterns and appends them to *out. */
static bool parse_guards(struct loader *ld, const config_setting_t *list, const char *what,
                         bool message_scope, struct guard **out, size_t *n)
{
	struct rules *r = ld->r;
	size_t cnt = strings_count(list);
	bool ok = true;

	*out = xreallocarray(*out, *n + cnt, sizeof(**out));
	r->patterns = xreallocarray(r->patterns, r->n_patterns + cnt, sizeof(*r->patterns));
	for (size_t i = 0; i < cnt; i++) {
		const config_setting_t *e = strings_at(list, i);
		const char *src = config_setting_get_string(e);
		pcre2_code *re = compile_re(ld, e, what, src);

		if (!re) {
			ok = false;
			continue;
		}
		r->patterns[r->n_patterns] = (struct pattern){re,
		                                              xstrdup(src),
		                                              NO_RULE,
		                                              !message_scope,
		                                              max_match_len(src),
		                                              has_lookahead(src)};
		(*out)[*n].pat = r->n_patterns++;
		(*out)[*n].message_scope = message_scope;
		(*n)++;
	}
	return ok;
}

/* Reads key ("scope" in a pack-level guard, "guard_scope" in a rule): true for "message". */
static bool parse_scope(struct loader *ld, const config_setting_t *g, const char *key,
                        const char *what)
{
	const char *scope = get_str(ld, g, key, false);

	if (!scope || strcmp(scope, "sentence") == 0)
		return false;
	if (strcmp(scope, "message") == 0)
		return true;
	errf(ld, g, "%s: %s must be \"sentence\" or \"message\"", what, key);
	return false;
}

static const struct rules_signal *text_signal(struct loader *ld, const config_setting_t *g,
                                              const char *what, const char *id)
{
	const struct rules_signal *sig = id ? rules_signal_find(ld->r, id) : NULL;

	if (id && !sig)
		errf(ld, g, "%s: unknown signal \"%s\" (not in the catalogue)", what, id);
	else if (sig && !sig->text)
		errf(ld, g, "%s: signal \"%s\" is not a text signal", what, id);
	return sig && sig->text ? sig : NULL;
}

static void load_rule(struct loader *ld, const config_setting_t *g, const char *lang,
                      bool pack_lang_only)
{
	static const char *const keys[] = {"id",        "signal",      "weight",  "patterns",
	                                   "guards",    "guard_scope", "context", "where",
	                                   "direction", "lang_only",   "note",    NULL};
	struct rules *r = ld->r;
	const config_setting_t *pats, *guards;
	const struct rules_signal *sig;
	const char *id, *where, *dir;
	char what[160];
	struct rule ru = {0};
	size_t prefix = strlen(lang);

	if (!config_setting_is_group(g)) {
		errf(ld, g, "each rule must be a group { id = ...; }");
		return;
	}
	check_keys(ld, g, keys);
	id = get_str(ld, g, "id", true);
	if (!id)
		return;
	if (strncmp(id, lang, prefix) != 0 || id[prefix] != '.' || !id[prefix + 1]) {
		errf(ld, g, "rule %s: the id must start with \"%s.\"", id, lang);
		return;
	}
	for (size_t i = 0; i < r->n_rules; i++)
		if (strcmp(r->rules[i].id, id) == 0) {
			errf(ld, g, "rule %s: defined twice", id);
			return;
		}
	sig = text_signal(ld, g, id, get_str(ld, g, "signal", true));
	pats = get_strings(ld, g, "patterns", true);
	if (!sig || !pats)
		return;

	snprintf(what, sizeof(what), "rule %s", id);
	ru.signal = (size_t)(sig - r->signals);
	ru.weight = get_weight(ld, g, sig->weight);
	ru.lang_only = get_bool(ld, g, "lang_only", pack_lang_only);
	where = get_str(ld, g, "where", false);
	if (!where || strcmp(where, "any") == 0)
		ru.where = WHERE_ANY;
	else if (strcmp(where, "subject") == 0)
		ru.where = WHERE_SUBJECT;
	else if (strcmp(where, "body") == 0)
		ru.where = WHERE_BODY;
	else
		errf(ld, g, "rule %s: where must be \"subject\", \"body\" or \"any\"", id);
	dir = get_str(ld, g, "direction", false);
	if (!dir || strcmp(dir, "any") == 0)
		ru.direction = RULES_DIR_UNKNOWN;
	else if (strcmp(dir, "in") == 0)
		ru.direction = RULES_DIR_IN;
	else if (strcmp(dir, "out") == 0)
		ru.direction = RULES_DIR_OUT;
	else
		errf(ld, g, "rule %s: direction must be \"in\", \"out\" or \"any\"", id);

	guards = get_strings(ld, g, "guards", false);
	if (guards)
		parse_guards(ld, guards, what, parse_scope(ld, g, "guard_scope", what), &ru.guards,
		             &ru.n_guards);
	else if (config_setting_get_member(g, "guard_scope"))
		errf(ld, g, "rule %s: guard_scope without guards", id);
	guards = get_strings(ld, g, "context", false);
	if (guards)
		parse_guards(ld, guards, what, false, &ru.context, &ru.n_context);

	ru.pat0 = r->n_patterns;
	r->patterns =
	    xreallocarray(r->patterns, r->n_patterns + strings_count(pats), sizeof(*r->patterns));
	for (size_t i = 0; i < strings_count(pats); i++) {
		const config_setting_t *e = strings_at(pats, i);
		const char *src = config_setting_get_string(e);
		pcre2_code *re = compile_re(ld, e, what, src);

		if (!re)
			continue;
		r->patterns[r->n_patterns] = (struct pattern){
		    re, xstrdup(src), r->n_rules, false, max_match_len(src), has_lookahead(src)};
		r->n_patterns++;
	}
	ru.n_pat = r->n_patterns - ru.pat0;
	ru.id = xstrdup(id);
	ru.lang = xstrdup(lang);
	r->rules = xreallocarray(r->rules, r->n_rules + 1, sizeof(*r->rules));
	r->rules[r->n_rules++] = ru;
}

/* guard_scope is spelled "scope" in pack-level guard groups. */
static const char *const sguard_keys[] = {"signal", "patterns", "scope", "note", NULL};

static void load_pack(struct loader *ld, const char *path)
{
	static const char *const keys[] = {"language", "lang_only", "guards", "rules", NULL};
	const config_setting_t *root, *list;
	const char *lang;
	bool lang_only;
	config_t lc;

	if (read_file(ld, path, &lc) != 0)
		return;
	root = config_root_setting(&lc);
	check_keys(ld, root, keys);
	lang = get_str(ld, root, "language", true);
	if (!lang)
		goto out;
	if (strlen(lang) < 2 || strlen(lang) > 8 ||
	    strspn(lang, "abcdefghijklmnopqrstuvwxyz") != strlen(lang)) {
		errf(ld, config_setting_get_member(root, "language"),
		     "language must be a lower-case code such as \"de\"");
		goto out;
	}
	lang_only = get_bool(ld, root, "lang_only", false);

	list = config_setting_get_member(root, "guards");
	for (int i = 0; list && i < config_setting_length(list); i++) {
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
		const config_setting_t *pats;
		const struct rules_signal *sig;
		struct guard *gs = NULL;
		size_t n = 0;

		if (!config_setting_is_group(g)) {
			errf(ld, g,
			     "each guard must be a group { signal = ...; patterns = [...]; }");
			continue;
		}
		check_keys(ld, g, sguard_keys);
		sig = text_signal(ld, g, "guard", get_str(ld, g, "signal", true));
		pats = get_strings(ld, g, "patterns", true);
		if (!sig || !pats)
			continue;
		char label[96];

		snprintf(label, sizeof(label), "%s guard", sig->id);
		parse_guards(ld, pats, label, parse_scope(ld, g, "scope", label), &gs, &n);
		ld->r->sguards =
		    xreallocarray(ld->r->sguards, ld->r->n_sguards + n, sizeof(*ld->r->sguards));
		for (size_t k = 0; k < n; k++)
			ld->r->sguards[ld->r->n_sguards++] =
			    (struct signal_guard){(size_t)(sig - ld->r->signals), gs[k]};
		free(gs);
	}

	list = config_setting_get_member(root, "rules");
	if (!list || !config_setting_is_list(list)) {
		errf(ld, list ? list : root, "\"rules\" must be a list of groups ( { ... }, ... )");
		goto out;
	}
	for (int i = 0; i < config_setting_length(list); i++)
		load_rule(ld, config_setting_get_elem(list, (unsigned)i), lang, lang_only);
out:
	config_destroy(&lc);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.conf files of dir, sorted; -errno when dir cannot be read. */
static int list_packs(const char *dir, char ***out, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	*out = NULL;
	*n = 0;
	if (!d)
		return -errno;
	while ((de = readdir(d)) && *n < RULES_MAX_FILES) {
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.' || len < 6 || strcmp(de->d_name + len - 5, ".conf") != 0)
			continue;
		*out = xreallocarray(*out, *n + 1, sizeof(**out));
		(*out)[(*n)++] = xasprintf("%s/%s", dir, de->d_name);
	}
	closedir(d);
	if (*n)
		qsort(*out, *n, sizeof(**out), cmp_names);
	return 0;
}

/* ---- the prefilter ---- */

/*
 * The form of a pattern given to the prefilter: a superset of it that compiles fast.
 * Unicode word classes (UCP) and long bounded repeats make Vectorscan's compiler take
 * seconds per pattern, so: \b is dropped (it only ever narrows a match), \w and \d become
 * [^\s] (no word character or digit is whitespace), \s becomes the class of every Unicode
 * space, \S \W \D become . (with DOTALL), and {m,n} becomes {m,} (0 → *, 1 → +). Caseless matching
 * of non-ASCII letters does not need UCP. Inside a character class nothing is rewritten. Returns a
 * new string.
 */

/*
 * Whether the class at p means more with Unicode properties than without: it holds \w \d
 * \s (or their negations), a POSIX class, or is negated (then it matches non-ASCII letters
 * either way, but a negated \w-class does not).
 */
static bool class_needs_ucp(const char *p)
{
	const char *end = p;

	if (!skip_class_text(&end))
		return false;
	for (const char *q = p + 1; q < end; q++) {
		if (q[0] == '\\' && q + 1 < end && strchr("wWdDsShHvV", q[1]))
			return true;
		if (q[0] == '\\')
			q++;
		else if (q[0] == '[' && q[1] == ':')
			return true;
	}
	return false;
}

static char *prefilter_form(const char *src)
{
	struct strbuf out = STRBUF_INIT;
	bool in_class = false;

	for (const char *p = src; *p;) {
		if (*p == '\\' && p[1]) {
			char e = p[1];

			if (in_class)
				strbuf_append(&out, p, 2);
			else if (e == 'b' || e == 'B')
				; /* dropped: an assertion only ever narrows */
			else if (e == 'w' || e == 'd')
				strbuf_appends(&out, "[^\\s]");
			else if (e == 's')
				strbuf_appends(
				    &out, "[\\s\\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}"
				          "\\x{2029}\\x{202f}\\x{205f}\\x{3000}]");
			else if (e == 'S' || e == 'W' || e == 'D')
				strbuf_appendc(&out, '.');
			else
				strbuf_append(&out, p, 2);
			p += 2;
			continue;
		}
		if (!in_class && *p == '[' && class_needs_ucp(p)) {
			/* One character either way: "." (DOTALL) is a superset of the class. */
			const char *q = p;

			if (skip_class_text(&q)) {
				strbuf_appendc(&out, '.');
				p = q;
				continue;
			}
		}
		if (!in_class && *p == '[') {
			in_class = true;
			strbuf_appendc(&out, *p++);
			/* A ']' right after '[' or '[^' is a literal, not the end. */
			if (*p == '^')
				strbuf_appendc(&out, *p++);
			if (*p == ']')
				strbuf_appendc(&out, *p++);
			continue;
		}
		if (in_class && *p == ']')
			in_class = false;
		if (!in_class && *p == '{') {
			unsigned m = 0;
			const char *q = p + 1;
			bool digits = false;

			while (*q >= '0' && *q <= '9') {
				m = m * 10 + (unsigned)(*q++ - '0');
				digits = true;
				if (m > 1000)
					break;
			}
			if (digits && *q == ',') {
				q++;
				while (*q >= '0' && *q <= '9')
					q++;
				if (*q == '}') {
					if (m == 0)
						strbuf_appendc(&out, '*');
					else if (m == 1)
						strbuf_appendc(&out, '+');
					else
						strbuf_appendf(&out, "{%u,}", m);
					p = q + 1;
					continue;
				}
			}
		}
		strbuf_appendc(&out, *p++);
	}
	return strbuf_detach(&out, NULL);
}

/*
 * Compiles every pattern into one block-mode database in prefilter mode. A pattern the
 * engine rejects (it supports most of PCRE, not all of it) is left out and always run by
 * PCRE2 instead; the loop removes one rejected pattern per round, so it ends.
 */
static void prefilter_free(struct rules *r)
{
	for (size_t c = 0; c < r->n_hs; c++)
		hs_free_database(r->hs_db[c]);
	free(r->hs_db);
	r->hs_db = NULL;
	r->n_hs = 0;
	hs_free_scratch(r->hs_scratch);
	r->hs_scratch = NULL;
	r->hs_built = false;
}

/*
 * Compiles patterns [from, to) (those not marked no_hs) into one database; a pattern the
 * engine rejects is marked no_hs (always run by PCRE2) and the rest compiled again, so the
 * loop ends. NULL when nothing compiles.
 */
static hs_database_t *compile_chunk(struct rules *r, char **forms, size_t from, size_t to)
{
	size_t cap = to - from;
	const char **exprs = xcalloc(cap + 1, sizeof(*exprs));
	unsigned *flags = xcalloc(cap + 1, sizeof(*flags)), *ids = xcalloc(cap + 1, sizeof(*ids));
	hs_database_t *db = NULL;
	hs_compile_error_t *err = NULL;

	for (size_t round = 0; round <= cap; round++) {
		unsigned n = 0;

		for (size_t i = from; i < to; i++) {
			if (r->patterns[i].no_hs)
				continue;
			exprs[n] = forms[i];
			/* Every match end, not only the first: they bound where PCRE2 looks. */
			flags[n] = HS_FLAG_CASELESS | HS_FLAG_UTF8 | HS_FLAG_DOTALL |
			           HS_FLAG_PREFILTER | HS_FLAG_ALLOWEMPTY;
			ids[n] = (unsigned)i;
			n++;
		}
		if (n == 0)
			break;
		if (hs_compile_multi(exprs, flags, ids, n, HS_MODE_BLOCK, NULL, &db, &err) ==
		    HS_SUCCESS)
			break;
		db = NULL;
		if (!err || err->expression < 0 || (unsigned)err->expression >= n) {
			hs_free_compile_error(err);
			break;
		}
		r->patterns[ids[err->expression]].no_hs = true;
		r->hs_rejected++;
		hs_free_compile_error(err);
		err = NULL;
	}
	free(exprs);
	free(flags);
	free(ids);
	return db;
}

/*
 * Builds the prefilter: the patterns in chunks of PREFILTER_CHUNK, one database each.
 * Compiling all of them at once needs ~12 MB of scratch memory for the shipped packs (and
 * grows faster than the pattern count); chunks of 100 need ~2 MB each, one after the other,
 * which keeps the daemon's peak memory within its budget. Scanning a text costs one pass
 * per chunk, each cheaper than the single pass.
 */
/* The cache file's name: a hash of everything that shapes the databases. */
static char *cache_path(const struct rules *r, char *const *forms)
{
	uint64_t h = hash_fnv1a64(hs_version(), strlen(hs_version()), 0);
	unsigned chunk = PREFILTER_CHUNK;

	h = hash_fnv1a64(&chunk, sizeof(chunk), h);
	for (size_t i = 0; i < r->n_patterns; i++) {
		unsigned char take = !r->patterns[i].no_hs;

		h = hash_fnv1a64(&take, 1, h);
		h = hash_fnv1a64(forms[i], strlen(forms[i]) + 1, h);
	}
	return xasprintf("%s/prefilter-%016llx.hsdb", r->cache_dir, (unsigned long long)h);
}

/*
 * Reads databases serialised by cache_store: "n" then per database its length and bytes.
 * Vectorscan checks each one (version, platform, checksum); any doubt means compiling.
 */
static bool cache_load(struct rules *r, const char *path)
{
	FILE *f = fopen(path, "rb");
	uint32_t n;
	bool ok = false;

	if (!f)
		return false;
	if (fread(&n, sizeof(n), 1, f) != 1 || n == 0 || n > r->n_patterns + 1)
		goto out;
	r->hs_db = xcalloc(n, sizeof(*r->hs_db));
	for (r->n_hs = 0; r->n_hs < n; r->n_hs++) {
		uint64_t len;
		char *buf;
		hs_database_t *db = NULL;

		if (fread(&len, sizeof(len), 1, f) != 1 || len > (64u << 20))
			goto out;
		if (len == 0)
			continue; /* a chunk that compiled to nothing */
		buf = xmalloc((size_t)len);
		if (fread(buf, 1, (size_t)len, f) != len ||
		    hs_deserialize_database(buf, (size_t)len, &db) != HS_SUCCESS) {
			free(buf);
			goto out;
		}
		free(buf);
		r->hs_db[r->n_hs] = db;
		if (hs_alloc_scratch(db, &r->hs_scratch) != HS_SUCCESS)
			goto out;
	}
	ok = fgetc(f) == EOF;
out:
	fclose(f);
	if (!ok)
		prefilter_free(r);
	return ok;
}

/* Writes the databases for the next start (best effort: a failure only costs time). */
static void cache_store(const struct rules *r, const char *path)
{
	char *tmp = xasprintf("%s.%ld.tmp", path, (long)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
	uint32_t n = (uint32_t)r->n_hs;
	bool ok = f && fwrite(&n, sizeof(n), 1, f) == 1;

	for (size_t c = 0; ok && c < r->n_hs; c++) {
		char *bytes = NULL;
		size_t len = 0;
		uint64_t len64;

		if (r->hs_db[c] && hs_serialize_database(r->hs_db[c], &bytes, &len) != HS_SUCCESS)
			ok = false;
		len64 = len;
		ok = ok && fwrite(&len64, sizeof(len64), 1, f) == 1 &&
		     (len == 0 || fwrite(bytes, 1, len, f) == len);
		free(bytes);
	}
	if (f) {
		ok = fclose(f) == 0 && ok;
	} else if (fd >= 0) {
		close(fd);
	}
	if (!ok || rename(tmp, path) != 0)
		unlink(tmp);
	free(tmp);
}

/*
 * Builds the prefilter: the patterns in chunks of PREFILTER_CHUNK, one database each.
 * Compiling needs several MB of scratch memory for a moment (more than linearly in the
 * pattern count) and about a second, so the result is kept in the cache directory, named
 * by a hash of the patterns: the next start reads it in milliseconds and compiles nothing.
 * Scanning a text costs one pass per chunk.
 */
static void build_prefilter(struct rules *r)
{
	char **forms = NULL, *path = NULL;
	bool ok = true;

	r->prefilter_tried = true;
	if (r->n_patterns == 0 || hs_valid_platform() != HS_SUCCESS)
		return;
	forms = xcalloc(r->n_patterns, sizeof(*forms));
	for (size_t i = 0; i < r->n_patterns; i++)
		forms[i] = prefilter_form(r->patterns[i].src);
	if (r->cache_dir) {
		path = cache_path(r, forms);
		if (cache_load(r, path)) {
			r->hs_built = true;
			goto out;
		}
	}
	r->hs_db = xcalloc(r->n_patterns / PREFILTER_CHUNK + 1, sizeof(*r->hs_db));
	for (size_t from = 0; from < r->n_patterns;) {
		size_t to = from, taken = 0;
		hs_database_t *db;

		/* Chunks of PREFILTER_CHUNK patterns the prefilter takes (others are skipped). */
		while (to < r->n_patterns && taken < PREFILTER_CHUNK)
			taken += !r->patterns[to++].no_hs;
		db = compile_chunk(r, forms, from, to);
		r->hs_db[r->n_hs++] = db;
		/* One scratch serves every database: it grows to fit the largest. */
		if (db && hs_alloc_scratch(db, &r->hs_scratch) != HS_SUCCESS)
			ok = false;
		from = to;
	}
	if (!ok) {
		prefilter_free(r);
		goto out;
	}
	r->hs_built = true;
	if (path)
		cache_store(r, path);
	/* The compiler's scratch memory is free now; give it back rather than keep it. */
	malloc_trim(0);
out:
	for (size_t i = 0; i < r->n_patterns; i++)
		free(forms[i]);
	free(forms);
	free(path);
}

void rules_set_cache_dir(struct rules *r, const char *dir)
{
	free(r->cache_dir);
	r->cache_dir = dir ? xstrdup(dir) : NULL;
}

int rules_load(const char *dir, const char *signals_path, struct rules **out, struct strbuf *errors)
{
	struct loader ld = {.errors = errors};
	char **packs = NULL, *sigpath = NULL;
	size_t n_packs = 0;
	int rc;

	*out = NULL;
	ld.r = xcalloc(1, sizeof(*ld.r));
	sigpath = signals_path ? xstrdup(signals_path) : xasprintf("%s/../signals.conf", dir);
	if (access(sigpath, R_OK) != 0) {
		rc = -errno;
		strbuf_appendf(errors, "%s: %s\n", sigpath, strerror(errno));
		goto out;
	}
	load_signals(&ld, sigpath);
	if (ld.n_errors) {
		rc = -EINVAL;
		goto out;
	}
	rc = list_packs(dir, &packs, &n_packs);
	if (rc < 0) {
		strbuf_appendf(errors, "%s: %s\n", dir, strerror(-rc));
		goto out;
	}
	if (n_packs == 0) {
		strbuf_appendf(errors, "%s: no rule packs (*.conf)\n", dir);
		rc = -ENOENT;
		goto out;
	}
	for (size_t i = 0; i < n_packs; i++)
		load_pack(&ld, packs[i]);
	if (ld.n_errors) {
		rc = -EINVAL;
		goto out;
	}

	ld.r->mctx = pcre2_match_context_create(NULL);
	/* Bounds on backtracking: a hostile text costs at most this much per pattern. */
	pcre2_set_match_limit(ld.r->mctx, 200000);
	pcre2_set_depth_limit(ld.r->mctx, 5000);
	ld.r->jit_stack = pcre2_jit_stack_create(32 * 1024, 512 * 1024, NULL);
	if (ld.r->jit_stack)
		pcre2_jit_stack_assign(ld.r->mctx, NULL, ld.r->jit_stack);
	ld.r->md = pcre2_match_data_create(8, NULL);
	if (!ld.r->mctx || !ld.r->md)
		abort(); /* out of memory; see STYLE.md §8 */
	ld.r->cand = xcalloc(ld.r->n_patterns + 1, 1);
	ld.r->occ = xcalloc((ld.r->n_patterns + 1) * OCC_MAX, sizeof(*ld.r->occ));
	ld.r->occ_n = xcalloc(ld.r->n_patterns + 1, 1);
	ld.r->sg_state = xcalloc(ld.r->n_sguards + 1, 1);
	/* The prefilter database is built on demand: see PREFILTER_AFTER. */
	ld.r->prefilter_on = true;
	*out = ld.r;
	ld.r = NULL;
	rc = 0;
out:
	for (size_t i = 0; i < n_packs; i++)
		free(packs[i]);
	free(packs);
	free(sigpath);
	rules_free(&ld.r);
	return rc;
}

void rules_free(struct rules **rp)
{
	struct rules *r = rp ? *rp : NULL;

	if (!r)
		return;
	for (size_t i = 0; i < r->n_signals; i++) {
		free(r->signals[i].id);
		for (int l = 0; l < RULES_N_LANGS; l++)
			free(r->signals[i].description[l]);
	}
	free(r->signals);
	for (size_t i = 0; i < r->n_rules; i++) {
		free(r->rules[i].id);
		free(r->rules[i].lang);
		free(r->rules[i].guards);
		free(r->rules[i].context);
	}
	free(r->rules);
	for (size_t i = 0; i < r->n_patterns; i++) {
		pcre2_code_free(r->patterns[i].re);
		free(r->patterns[i].src);
	}
	free(r->patterns);
	free(r->sguards);
	pcre2_match_data_free(r->md);
	pcre2_jit_stack_free(r->jit_stack);
	pcre2_match_context_free(r->mctx);
	prefilter_free(r);
	free(r->cache_dir);
	free(r->cand);
	free(r->occ);
	free(r->occ_n);
	free(r->sg_state);
	free(r);
	*rp = NULL;
}

size_t rules_count(const struct rules *r)
{
	return r->n_rules;
}

size_t rules_pattern_count(const struct rules *r)
{
	return r->n_patterns;
}

bool rules_prefilter_active(const struct rules *r)
{
	return r->prefilter_on && r->hs_built;
}

bool rules_prefilter_build(struct rules *r)
{
	if (!r->prefilter_tried)
		build_prefilter(r);
	return r->hs_built;
}

size_t rules_prefilter_rejected(const struct rules *r)
{
	return r->hs_rejected;
}

void rules_set_prefilter(struct rules *r, bool on)
{
	r->prefilter_on = on;
}

size_t rules_signal_count(const struct rules *r)
{
	return r->n_signals;
}

const struct rules_signal *rules_signal_at(const struct rules *r, size_t i)
{
	return i < r->n_signals ? &r->signals[i] : NULL;
}

const struct rules_signal *rules_signal_find(const struct rules *r, const char *id)
{
	for (size_t i = 0; i < r->n_signals; i++)
		if (strcmp(r->signals[i].id, id) == 0)
			return &r->signals[i];
	return NULL;
}

/* ---- matching ---- */

/*
 * Finds re in text[start, end) (start is also where lookbehind may look from). Returns true
 * and the match offsets; errors (match limit, JIT stack) count as no match.
 */
static bool find(struct rules *r, const pcre2_code *re, const struct rules_input *in, size_t start,
                 size_t end, size_t *ms, size_t *me)
{
	PCRE2_SIZE *ov;
	int rc = pcre2_match(re, (PCRE2_SPTR)in->text, end, start, 0, r->md, r->mctx);

	if (rc < 0)
		return false;
	ov = pcre2_get_ovector_pointer(r->md);
	*ms = ov[0];
	*me = ov[1];
	return true;
}

/*
 * Whether the punctuation at t[i] ends a sentence: '.', '!' or '?' followed by a blank or
 * the end, but not the dot of an ordinal or date ("am 3. März", "d. 12. marts").
 */
static bool sentence_end(const char *t, size_t i, size_t lo, size_t hi)
{
	char c = t[i];

	if (c != '.' && c != '!' && c != '?')
		return false;
	if (i + 1 < hi && t[i + 1] != ' ' && t[i + 1] != '\n')
		return false;
	return !(c == '.' && i > lo && t[i - 1] >= '0' && t[i - 1] <= '9');
}

/*
 * The sentence around [s, e): back to the previous sentence end or blank line (a single
 * line break is hard wrapping, not a sentence end), at most SENTENCE_MAX bytes, never
 * across the subject/body boundary.
 */
static void sentence(const struct rules_input *in, size_t s, size_t e, size_t *ws, size_t *we)
{
	size_t lo = s >= in->body_start ? in->body_start : 0;
	size_t hi = s >= in->body_start ? in->len : in->body_start;
	const char *t = in->text;
	size_t i;

	for (i = s; i > lo && s - i < SENTENCE_MAX; i--) {
		if (i < s && sentence_end(t, i - 1, lo, hi))
			break;
		if (t[i - 1] == '\n' && i >= 2 && t[i - 2] == '\n')
			break;
	}
	*ws = i;
	for (i = e; i < hi && i - e < SENTENCE_MAX; i++) {
		if (sentence_end(t, i, lo, hi)) {
			i++;
			break;
		}
		if (t[i] == '\n' && i + 1 < hi && t[i + 1] == '\n')
			break;
	}
	*we = i;
	/* Never split a UTF-8 sequence at the SENTENCE_MAX cut. */
	while (*ws > lo && ((unsigned char)t[*ws] & 0xC0) == 0x80)
		(*ws)--;
	while (*we < hi && ((unsigned char)t[*we] & 0xC0) == 0x80)
		(*we)++;
}

static bool guard_hits(struct rules *r, const struct guard *g, const struct rules_input *in,
                       size_t ws, size_t we)
{
	const pcre2_code *re = r->patterns[g->pat].re;
	size_t ms, me;

	/* Most guards never occur in a text: the prefilter says so without PCRE2. */
	if (!r->cand[g->pat])
		return false;
	if (g->message_scope)
		return find(r, re, in, 0, in->len, &ms, &me);
	return find(r, re, in, ws, we, &ms, &me);
}

static bool vetoed(struct rules *r, const struct rule *ru, const struct rules_input *in, size_t s,
                   size_t e)
{
	size_t ws, we;

	sentence(in, s, e, &ws, &we);
	if (ru->n_context) {
		bool ctx = false;

		for (size_t k = 0; k < ru->n_context && !ctx; k++)
			ctx = guard_hits(r, &ru->context[k], in, ws, we);
		if (!ctx)
			return true;
	}
	for (size_t k = 0; k < ru->n_guards; k++)
		if (guard_hits(r, &ru->guards[k], in, ws, we))
			return true;
	for (size_t k = 0; k < r->n_sguards; k++) {
		const struct signal_guard *sg = &r->sguards[k];

		if (sg->signal != ru->signal)
			continue;
		if (sg->g.message_scope) {
			/* A message-wide guard says the same for every match: decide once. */
			signed char *v = &r->sg_state[k];

			if (*v < 0)
				*v = guard_hits(r, &sg->g, in, 0, in->len) ? 1 : 0;
			if (*v)
				return true;
		} else if (guard_hits(r, &sg->g, in, ws, we)) {
			return true;
		}
	}
	return false;
}

static int on_hs_match(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                       void *ctx)
{
	struct rules *r = ctx;
	unsigned char *n = &r->occ_n[id];

	(void)from;
	(void)flags;
	/* Block mode reports matches in order of their end. */
	r->cand[id] = 1;
	if (*n < OCC_MAX)
		r->occ[(size_t)id * OCC_MAX + *n] = (uint32_t)to;
	if (*n <= OCC_MAX)
		(*n)++;
	return 0;
}

static void all_candidates(struct rules *r)
{
	memset(r->cand, 1, r->n_patterns);
	memset(r->occ_n, 0, r->n_patterns);
}

/* A stretch of text [start, end) that holds every match of a pattern the prefilter saw. */
struct window {
	size_t start, end;
};

static size_t char_start(const char *t, size_t i, size_t lo)
{
	while (i > lo && ((unsigned char)t[i] & 0xC0) == 0x80)
		i--;
	return i;
}

/*
 * Where pattern p's matches can be, in [lo, hi), from what the prefilter reported; sorted,
 * not overlapping. Every match [s, e) of the pattern is also a match of the prefilter's
 * superset form, so the prefilter reported its end e; with the pattern at most ml bytes
 * long, s >= e - ml. One window per reported end (merged where they overlap) then holds
 * every match. A pattern with lookahead may depend on what follows e, so its window runs
 * on to hi; so does everything when the prefilter reported more than OCC_MAX ends, and a
 * pattern without a length bound or not seen by the prefilter gets the whole range.
 */
static size_t windows(const struct rules *r, size_t p, size_t lo, size_t hi, struct window *w)
{
	const struct pattern *pt = &r->patterns[p];
	const uint32_t *occ = &r->occ[p * OCC_MAX];
	size_t n_occ = r->occ_n[p], ml = pt->max_len, n = 0;

	w[0] = (struct window){lo, hi};
	if (n_occ == 0 || ml == UNBOUNDED)
		return 1;
	if (pt->lookahead || n_occ > OCC_MAX) {
		if (occ[0] > lo + ml)
			w[0].start = occ[0] - ml;
		return 1;
	}
	for (size_t i = 0; i < n_occ; i++) {
		size_t e = occ[i];
		size_t ws = e > lo + ml ? e - ml : lo;
		size_t we = e + LOOK_MARGIN < hi ? e + LOOK_MARGIN : hi;

		if (ws >= hi || we <= lo || ws >= we)
			continue;
		if (n > 0 && ws <= w[n - 1].end) {
			if (we > w[n - 1].end)
				w[n - 1].end = we;
		} else {
			w[n++] = (struct window){ws, we};
		}
	}
	return n;
}

/*
 * The first match starting at or after off, searching only the windows. A window that ends
 * before hi is searched as a shortened subject; what is found there is confirmed by an
 * anchored match at the same start in the whole text, which also gives its true end.
 */
static bool find_in_windows(struct rules *r, const pcre2_code *re, const struct rules_input *in,
                            const struct window *w, size_t nw, size_t off, size_t hi, size_t *ms,
                            size_t *me)
{
	for (size_t i = 0; i < nw; i++) {
		size_t start = off > w[i].start ? off : w[i].start;

		start = char_start(in->text, start, w[i].start);
		while (start < w[i].end) {
			PCRE2_SIZE *ov;
			int rc;

			if (!find(r, re, in, start, w[i].end, ms, me))
				break;
			if (w[i].end >= hi)
				return true;
			rc = pcre2_match(re, (PCRE2_SPTR)in->text, hi, *ms, PCRE2_ANCHORED, r->md,
			                 r->mctx);
			if (rc >= 0) {
				ov = pcre2_get_ovector_pointer(r->md);
				*me = ov[1];
				return true;
			}
			/* An artefact of the shortened subject: look further. */
			start = *ms + 1;
			while (start < w[i].end && ((unsigned char)in->text[start] & 0xC0) == 0x80)
				start++;
		}
	}
	return false;
}

static bool rule_applies(const struct rule *ru, const struct rules_input *in)
{
	if (ru->direction != RULES_DIR_UNKNOWN && in->direction != RULES_DIR_UNKNOWN &&
	    ru->direction != in->direction)
		return false;
	if (ru->lang_only && (!in->lang || strcmp(in->lang, ru->lang) != 0))
		return false;
	return true;
}

size_t rules_match(struct rules *r, const struct rules_input *in, struct rules_hit *hits,
                   size_t max)
{
	size_t n = 0;

	if (in->len > UINT_MAX)
		return 0; /* the prefilter takes unsigned lengths; messages are capped far below */
	r->bytes_seen += in->len;
	if (r->prefilter_on && !r->prefilter_tried && r->bytes_seen > PREFILTER_AFTER)
		build_prefilter(r);
	if (r->prefilter_on && r->hs_built) {
		memset(r->cand, 0, r->n_patterns);
		memset(r->occ_n, 0, r->n_patterns);
		for (size_t i = 0; i < r->n_patterns; i++)
			if (r->patterns[i].no_hs)
				r->cand[i] = 1;
		for (size_t c = 0; c < r->n_hs; c++)
			if (r->hs_db[c] && hs_scan(r->hs_db[c], in->text, (unsigned)in->len, 0,
			                           r->hs_scratch, on_hs_match, r) != HS_SUCCESS) {
				all_candidates(r); /* be safe: run everything */
				break;
			}
	} else {
		all_candidates(r);
	}
	memset(r->sg_state, 0xff, r->n_sguards);

	for (size_t ri = 0; ri < r->n_rules && n < max; ri++) {
		const struct rule *ru = &r->rules[ri];
		size_t lo = ru->where & WHERE_SUBJECT ? 0 : in->body_start;
		size_t hi = ru->where & WHERE_BODY ? in->len : in->body_start;
		bool hit = false;

		if (!rule_applies(ru, in) || lo >= hi)
			continue;
		for (size_t p = ru->pat0; p < ru->pat0 + ru->n_pat && !hit; p++) {
			struct window w[OCC_MAX + 1];
			size_t nw, off = lo, ms, me;

			if (!r->cand[p])
				continue;
			nw = windows(r, p, lo, hi, w);
			for (int k = 0; k < MATCHES_PER_RULE && off < hi; k++) {
				if (!find_in_windows(r, r->patterns[p].re, in, w, nw, off, hi, &ms,
				                     &me))
					break;
				if (!vetoed(r, ru, in, ms, me)) {
					hits[n++] = (struct rules_hit){&r->signals[ru->signal],
					                               ru->id, ru->weight, ms, me};
					hit = true;
					break;
				}
				/* Next occurrence; step over an empty match by one character. */
				off = me > ms ? me : ms + 1;
				while (off < hi && ((unsigned char)in->text[off] & 0xC0) == 0x80)
					off++;
			}
		}
	}
	return n;
}
