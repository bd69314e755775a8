/*
 * classify_bench — classification throughput on decoded text, one core.
 *
 *   classify_bench RULES_DIR [SECONDS] FILE-OR-DIRECTORY...
 *
 * Parses every FILE (RFC 822; unparseable ones are skipped; a directory means the files in
 * it) once, then runs the full
 * shipped rule set over the decoded body text of all of them (quotes included: the
 * larger, harder input) again and again for SECONDS (default 3) per configuration:
 *   rules_match with the prefilter, rules_match with PCRE2 alone, and classify_message
 *   (language detection, whitespace folding, excerpts) with the prefilter, and the same
 *   with the learned layer (RULES_DIR/../model/signals.model, when present).
 * Prints MB/s per configuration and a PASS/FAIL line against the 100 MB/s target.
 * Built by `make bench`; measured, not a test.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "redflag/classify.h"
#include "redflag/message.h"
#include "redflag/rules.h"
#include "redflag/util.h"

#define TARGET_MBS       100.0
#define TARGET_MODEL_MBS 50.0 /* issue 12: classification with the model, per core */

struct text {
	char *subject;
	char *body;
	size_t len;
};

static double seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *slurp(const char *path, size_t *len)
{
	struct strbuf b = STRBUF_INIT;
	char chunk[65536];
	size_t n;
	FILE *f = fopen(path, "rb");

	if (!f)
		return NULL;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		strbuf_append(&b, chunk, n);
	fclose(f);
	*len = b.len;
	return b.len ? strbuf_detach(&b, NULL) : NULL;
}

/* Parses path and appends its decoded body to texts; false when it is not a message. */
static bool add_text(const char *path, struct text *texts, size_t *n, size_t *total)
{
	struct message_limits lim = MESSAGE_LIMITS_DEFAULT;
	struct message *m = NULL;
	size_t len = 0;
	char err[256], *raw = slurp(path, &len);
	bool ok = false;

	if (raw && message_parse(raw, len, &lim, &m, err, sizeof(err)) == 0 && m->body[0]) {
		texts[*n].subject = xstrdup(m->subject);
		texts[*n].body = xstrdup(m->body);
		texts[*n].len = strlen(m->body);
		*total += texts[*n].len;
		(*n)++;
		ok = true;
	}
	free(raw);
	message_free(&m);
	return ok;
}

/* Runs fn over all texts until budget seconds have passed; returns MB/s. */
static double measure(struct rules *r, struct classify_model *cm, const struct text *t, size_t n,
                      double budget, bool full, unsigned long long *hits)
{
	uint64_t bytes = 0;
	double start = seconds(), el;

	*hits = 0;
	do {
		for (size_t i = 0; i < n; i++) {
			if (full) {
				struct classify_input in = {.subject = t[i].subject,
				                            .text = t[i].body};
				struct classify_result res;

				classify_message_with(r, cm, NULL, &in, &res);
				*hits += res.n;
				classify_result_release(&res);
			} else {
				struct rules_hit h[64];
				struct rules_input in = {.text = t[i].body, .len = t[i].len};

				*hits += rules_match(r, &in, h, 64);
			}
			bytes += t[i].len;
		}
		el = seconds() - start;
	} while (el < budget);
	return (double)bytes / el / 1e6;
}

int main(int argc, char **argv)
{
	struct strbuf errors = STRBUF_INIT;
	struct rules *r = NULL;
	struct text *texts = NULL;
	size_t n = 0, total = 0;
	double budget = 3.0, on, off, full, with_model = 0;
	unsigned long long h_on, h_off, h_full, h_model;
	struct classify_model *cm = NULL;
	char *model_path, err[512];
	int first = 2;
	const char *only;

	if (argc < 3) {
		fprintf(stderr, "usage: classify_bench RULES_DIR [SECONDS] FILE...\n");
		return 2;
	}
	if (argv[2][0] >= '0' && argv[2][0] <= '9' && strchr(argv[2], '/') == NULL) {
		budget = atof(argv[2]);
		first = 3;
	}
	if (rules_load(argv[1], NULL, &r, &errors) < 0) {
		fputs(errors.data ? errors.data : "cannot load rules\n", stderr);
		return 1;
	}
	for (int i = first; i < argc; i++) {
		DIR *d = opendir(argv[i]);
		struct dirent *de;

		if (!d) {
			texts = xreallocarray(texts, n + 1, sizeof(*texts));
			add_text(argv[i], texts, &n, &total);
			continue;
		}
		while ((de = readdir(d))) {
			char *path;

			if (de->d_name[0] == '.')
				continue;
			path = xasprintf("%s/%s", argv[i], de->d_name);
			texts = xreallocarray(texts, n + 1, sizeof(*texts));
			add_text(path, texts, &n, &total);
			free(path);
		}
		closedir(d);
	}
	if (n == 0) {
		fprintf(stderr, "classify_bench: no parseable messages\n");
		return 1;
	}
	if (!rules_prefilter_build(r))
		printf("  prefilter not available on this platform: PCRE2 only\n");
	printf("  %zu rules, %zu patterns (%zu not taken by the prefilter); %zu messages, %.1f MB "
	       "of decoded text\n",
	       rules_count(r), rules_pattern_count(r), rules_prefilter_rejected(r), n,
	       (double)total / 1e6);

	/* CLASSIFY_BENCH_ONLY=on|off|full runs one configuration (for profiling). */
	only = getenv("CLASSIFY_BENCH_ONLY");
	on =
	    !only || strcmp(only, "on") == 0 ? measure(r, NULL, texts, n, budget, false, &h_on) : 0;
	rules_set_prefilter(r, false);
	off = !only || strcmp(only, "off") == 0 ? measure(r, NULL, texts, n, budget, false, &h_off)
	                                        : 0;
	rules_set_prefilter(r, true);
	full = !only || strcmp(only, "full") == 0
	           ? measure(r, NULL, texts, n, budget, true, &h_full)
	           : 0;
	/* The shipped model beside the rules, as the daemon finds it. */
	model_path = xasprintf("%s/../model/signals.model", argv[1]);
	if (classify_model_open(model_path, NULL, &cm, err, sizeof(err)) < 0)
		printf("  no model: %s\n", err);
	else if (!only || strcmp(only, "model") == 0)
		with_model = measure(r, cm, texts, n, budget, true, &h_model);
	free(model_path);

	printf("  rules_match, prefilter + PCRE2   %8.1f MB/s\n", on);
	printf("  rules_match, PCRE2 alone         %8.1f MB/s\n", off);
	printf("  classify_message (all of it)     %8.1f MB/s\n", full);
	if (with_model > 0)
		printf("  classify_message with the model  %8.1f MB/s, target >= %.0f MB/s: %s\n",
		       with_model, TARGET_MODEL_MBS,
		       with_model >= TARGET_MODEL_MBS ? "PASS" : "FAIL");
	classify_model_free(&cm);
	/* The target is the rule engine's, like the PCRE2 reference figure. */
	if (on > 0)
		printf("  rule engine, full shipped rule set, one core: %.1f MB/s, target >= %.0f "
		       "MB/s: %s\n",
		       on, TARGET_MBS, on >= TARGET_MBS ? "PASS" : "FAIL");

	for (size_t i = 0; i < n; i++) {
		free(texts[i].subject);
		free(texts[i].body);
	}
	free(texts);
	rules_free(&r);
	strbuf_release(&errors);
	return 0;
}
