/*
 * The signal model in the daemon: loading it beside the rules, and `train`, which builds a
 * model (or an owner layer) from labelled mail.
 *
 *   redflagd train [--rules DIR] --corpus DIR [--labels CSV] [--corpus DIR ...]
 *                  [--base MODEL] [--seed N] [--folds N] --out FILE
 *
 * A corpus is a directory with messages/ and labels.csv (file,signals,lang,note: the
 * format of tests/fixtures/labeled and the shared corpus); --labels after a --corpus names
 * another labels file for it (eval.py passes one per cross-validation fold). With --base,
 * the result is an owner layer trained on top of that model.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "redflag/classify.h"
#include "redflag/features.h"
#include "redflag/log.h"
#include "redflag/model.h"
#include "redflag/parser.h"
#include "redflag/util.h"

#define MAX_CORPORA 8
#define LINE_MAX_   65536

char *daemon_model_path(const char *rules_dir)
{
	size_t n = strlen(rules_dir);

	/* The directory that holds the rules directory, spelled without "..". */
	while (n > 1 && rules_dir[n - 1] == '/')
		n--;
	while (n > 0 && rules_dir[n - 1] != '/')
		n--;
	while (n > 1 && rules_dir[n - 1] == '/')
		n--;
	if (n == 0)
		return xstrdup("model/signals.model");
	return xasprintf("%.*s/model/signals.model", (int)(rules_dir[0] == '/' && n == 1 ? 0 : n),
	                 rules_dir);
}

int daemon_load_model(const char *rules_dir, const char *model_path, const char *layer_path,
                      bool required, struct classify_model **out)
{
	char *path = model_path ? xstrdup(model_path) : daemon_model_path(rules_dir);
	char err[512];
	int rc;

	*out = NULL;
	rc = classify_model_open(path, layer_path, out, err, sizeof(err));
	if (rc == -ENOENT && !required && !(layer_path && access(layer_path, F_OK) == 0)) {
		log_info("no signal model at %s: the rules alone decide", path);
		free(path);
		return 0;
	}
	free(path);
	if (rc < 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	log_debug("model: %s%s", model_checksum(classify_model_base(*out)),
	          classify_model_get(*out) != classify_model_base(*out) ? " with the owner layer"
	                                                                : "");
	return 0;
}

char *daemon_layer_path(const char *database)
{
	const char *slash = strrchr(database, '/');

	if (!slash)
		return xstrdup("owner.model");
	return xasprintf("%.*s/owner.model", (int)(slash - database), database);
}

/* ---- train ---- */

/*
 * Splits one CSV record (RFC 4180 quoting, on one line) into at most max fields, in place.
 * Returns the number of fields, or -1 for an unterminated quote.
 */
static int csv_fields(char *line, char **field, int max)
{
	int n = 0;
	char *w = line, *r = line;

	while (n < max) {
		field[n++] = w;
		if (*r == '"') {
			r++;
			for (;;) {
				if (*r == '\0')
					return -1;
				if (*r == '"' && r[1] == '"') {
					*w++ = '"';
					r += 2;
				} else if (*r == '"') {
					r++;
					break;
				} else {
					*w++ = *r++;
				}
			}
		}
		while (*r && *r != ',')
			*w++ = *r++;
		if (*r != ',') {
			*w = '\0';
			break;
		}
		*w++ = '\0';
		r++;
	}
	return n;
}

struct trainset {
	struct rules *r;
	bool text_only; /* no rule hits among the features */
	struct features *fx;
	struct parser *p;
	const char *signals[MODEL_MAX_SIGNALS];
	size_t ns;
	struct feature_vec *x;
	struct model_example *ex;
	size_t n, cap, skipped;
	size_t pos[MODEL_MAX_SIGNALS];
};

/* The column of a text signal id, or -1. */
static int signal_col(const struct trainset *t, const char *id, size_t len)
{
	for (size_t i = 0; i < t->ns; i++)
		if (strlen(t->signals[i]) == len && strncmp(t->signals[i], id, len) == 0)
			return (int)i;
	return -1;
}

/* Adds the message at path with the labels in list ("rush;praise"); -1 after a message. */
static int add_example(struct trainset *t, const char *csv, size_t lineno, const char *path,
                       const char *list)
{
	struct classify_input in;
	struct message *m = NULL;
	uint32_t labels = 0;
	char *raw = NULL, err[256] = "", lang[8];
	size_t len;
	int rc;

	for (const char *s = list; *s;) {
		size_t l = strcspn(s, ";");
		int col = l ? signal_col(t, s, l) : 0;

		if (col < 0) {
			fprintf(stderr, "%s:%zu: unknown text signal \"%.*s\"\n", csv, lineno,
			        (int)l, s);
			return -1;
		}
		if (l)
			labels |= 1u << col;
		s += l + (s[l] == ';');
	}
	rc = daemon_slurp(path, &raw, &len);
	if (rc < 0) {
		fprintf(stderr, "%s:%zu: %s: %s\n", csv, lineno, path,
		        rc == -E2BIG ? "file too large" : strerror(-rc));
		return -1;
	}
	rc = parser_parse(t->p, raw, len, &m, err, sizeof(err));
	free(raw);
	if (rc < 0) {
		fprintf(stderr, "%s:%zu: %s: cannot parse: %s\n", csv, lineno, path,
		        err[0] ? err : strerror(-rc));
		return -1;
	}
	if (t->n == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 1024;
		t->x = xreallocarray(t->x, t->cap, sizeof(*t->x));
		t->ex = xreallocarray(t->ex, t->cap, sizeof(*t->ex));
	}
	memset(&t->x[t->n], 0, sizeof(t->x[t->n]));
	classify_input_from_message(m, RULES_DIR_UNKNOWN, &in);
	/* Mail that never gets text signals (lists, broadcasts) teaches the model nothing. */
	if (!classify_features(t->text_only ? NULL : t->r, t->fx, &in, &t->x[t->n], NULL, NULL,
	                       lang)) {
		feature_vec_release(&t->x[t->n]);
		t->skipped++;
	} else {
		/* x is set once all are read: the array of vectors may still move. */
		t->ex[t->n] = (struct model_example){NULL, labels};
		for (size_t i = 0; i < t->ns; i++)
			t->pos[i] += (labels >> i) & 1;
		t->n++;
	}
	message_free(&m);
	return 0;
}

static int read_corpus(struct trainset *t, const char *dir, const char *csv)
{
	char *labels = csv ? xstrdup(csv) : xasprintf("%s/labels.csv", dir);
	char line[LINE_MAX_];
	int col_file = -1, col_sig = -1, rc = -1;
	size_t lineno = 0;
	FILE *f = fopen(labels, "r");

	if (!f) {
		fprintf(stderr, "%s: %s\n", labels, strerror(errno));
		goto out;
	}
	while (fgets(line, sizeof(line), f)) {
		char *field[8], *path;
		size_t l = strlen(line);
		int n;

		lineno++;
		if (l && line[l - 1] != '\n' && !feof(f)) {
			fprintf(stderr, "%s:%zu: line longer than %d bytes\n", labels, lineno,
			        LINE_MAX_);
			goto out;
		}
		while (l && (line[l - 1] == '\n' || line[l - 1] == '\r'))
			line[--l] = '\0';
		if (l == 0)
			continue;
		n = csv_fields(line, field, (int)ARRAY_SIZE(field));
		if (n < 0) {
			fprintf(stderr, "%s:%zu: unterminated quote\n", labels, lineno);
			goto out;
		}
		if (lineno == 1) {
			for (int i = 0; i < n; i++) {
				if (strcmp(field[i], "file") == 0)
					col_file = i;
				if (strcmp(field[i], "signals") == 0)
					col_sig = i;
			}
			if (col_file < 0 || col_sig < 0) {
				fprintf(stderr,
				        "%s:1: the header needs the columns file and signals\n",
				        labels);
				goto out;
			}
			continue;
		}
		if (n <= col_file || n <= col_sig || !field[col_file][0] ||
		    strchr(field[col_file], '/')) {
			fprintf(stderr,
			        "%s:%zu: a file name (no directories) and its signals expected\n",
			        labels, lineno);
			goto out;
		}
		path = xasprintf("%s/messages/%s", dir, field[col_file]);
		if (access(path, R_OK) != 0) {
			fprintf(stderr, "%s:%zu: %s: %s\n", labels, lineno, path, strerror(errno));
			free(path);
			goto out;
		}
		n = add_example(t, labels, lineno, path, field[col_sig]);
		free(path);
		if (n < 0)
			goto out;
	}
	if (ferror(f)) {
		fprintf(stderr, "%s: read error\n", labels);
		goto out;
	}
	rc = 0;
out:
	if (f)
		fclose(f);
	free(labels);
	return rc;
}

/* A whole decimal number in [min, max]. */
static bool parse_double(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= min && v <= max))
		return false;
	*out = v;
	return true;
}

static void train_usage(void)
{
	fprintf(
	    stderr,
	    "usage: redflagd train [--rules DIR] --corpus DIR [--labels CSV] "
	    "[--corpus DIR [--labels CSV]]...\n"
	    "                      [--base MODEL] [--seed N] [--folds N] [--epochs N] [--l2 X]\n"
	    "                      [--rate X] [--min-precision X] [--prune X] [--min-df N]\n"
	    "                      [--text-only]\n"
	    "                      --out FILE\n");
}

int cmd_train(const struct options *opt, int argc, char **argv)
{
	struct model_train_opts o = MODEL_TRAIN_DEFAULT;
	struct parser_options popt = PARSER_OPTIONS_DEFAULT;
	const char *corpus[MAX_CORPORA], *labels[MAX_CORPORA] = {0};
	const char *rules_dir = REDFLAGD_DATADIR "/rules", *out_path = NULL, *base_path = NULL;
	struct trainset t = {0};
	struct model *base = NULL, *m = NULL;
	size_t nc = 0;
	char err[512];
	int status = EXIT_FAIL, rc;

	(void)opt;
	for (int i = 1; i < argc; i++) {
		const char *arg = i + 1 < argc ? argv[i + 1] : NULL;
		int64_t v;

		if (strcmp(argv[i], "--text-only") == 0) {
			t.text_only = true;
			continue;
		}
		if (!arg) {
			train_usage();
			return EXIT_USAGE;
		}
		if (strcmp(argv[i], "--corpus") == 0 && nc < MAX_CORPORA) {
			corpus[nc++] = arg;
		} else if (strcmp(argv[i], "--labels") == 0 && nc > 0 && !labels[nc - 1]) {
			labels[nc - 1] = arg;
		} else if (strcmp(argv[i], "--rules") == 0) {
			rules_dir = arg;
		} else if (strcmp(argv[i], "--out") == 0) {
			out_path = arg;
		} else if (strcmp(argv[i], "--base") == 0) {
			base_path = arg;
		} else if (strcmp(argv[i], "--seed") == 0 &&
		           parse_int64(arg, 0, INT64_MAX, &v) == 0) {
			o.seed = (uint64_t)v;
		} else if (strcmp(argv[i], "--folds") == 0 && parse_int64(arg, 0, 20, &v) == 0) {
			o.cv_folds = (unsigned)v;
		} else if (strcmp(argv[i], "--epochs") == 0 && parse_int64(arg, 1, 1000, &v) == 0) {
			o.epochs = (unsigned)v;
		} else if (strcmp(argv[i], "--l2") == 0 && parse_double(arg, 0.0, 10.0, &o.l2)) {
			;
		} else if (strcmp(argv[i], "--rate") == 0 &&
		           parse_double(arg, 1e-6, 10.0, &o.rate)) {
			;
		} else if (strcmp(argv[i], "--min-precision") == 0 &&
		           parse_double(arg, 0.0, 1.0, &o.min_precision)) {
			;
		} else if (strcmp(argv[i], "--prune") == 0 &&
		           parse_double(arg, 0.0, 10.0, &o.prune)) {
			;
		} else if (strcmp(argv[i], "--min-df") == 0 && parse_int64(arg, 1, 1000, &v) == 0) {
			o.min_df = (unsigned)v;
		} else {
			train_usage();
			return EXIT_USAGE;
		}
		i++;
	}
	if (nc == 0 || !out_path) {
		train_usage();
		return EXIT_USAGE;
	}
	if (base_path && model_load(base_path, &base, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return EXIT_FAIL;
	}
	t.r = daemon_load_rules(rules_dir, NULL);
	if (!t.r)
		goto out;
	for (size_t i = 0; i < rules_signal_count(t.r) && t.ns < MODEL_MAX_SIGNALS; i++)
		if (rules_signal_at(t.r, i)->text)
			t.signals[t.ns++] = rules_signal_at(t.r, i)->id;
	if (base) {
		/* A layer has its base's columns: the labels must fit them. */
		t.ns = model_signal_count(base);
		for (size_t i = 0; i < t.ns; i++)
			t.signals[i] = model_signal_at(base, i);
	}
	rc = parser_new(&popt, &t.p);
	if (rc < 0) {
		log_err("parser: %s", strerror(-rc));
		goto out;
	}
	t.fx = features_new();
	for (size_t c = 0; c < nc; c++)
		if (read_corpus(&t, corpus[c], labels[c]) < 0)
			goto out;
	for (size_t i = 0; i < t.n; i++)
		t.ex[i].x = &t.x[i];
	if (model_train(t.signals, t.ns, t.ex, t.n, &o, base, &m, err, sizeof(err)) < 0 ||
	    model_save(m, out_path, err, sizeof(err)) < 0) {
		fprintf(stderr, "train: %s\n", err);
		goto out;
	}
	printf("trained %s on %zu messages (%zu lists or broadcasts left out), seed %llu:\n",
	       base ? "an owner layer" : "a model", t.n, t.skipped, (unsigned long long)o.seed);
	for (size_t i = 0; i < t.ns; i++)
		printf("  %-14s %4zu examples  threshold %.2f, without a rule %.2f\n", t.signals[i],
		       t.pos[i], model_threshold(m, i), model_threshold_alone(m, i));
	printf("wrote %s (checksum %s)\n", out_path, model_checksum(m));
	status = EXIT_OK;
out:
	for (size_t i = 0; i < t.n; i++)
		feature_vec_release(&t.x[i]);
	free(t.x);
	free(t.ex);
	features_free(&t.fx);
	parser_free(&t.p);
	rules_free(&t.r);
	model_free(&m);
	model_free(&base);
	return status;
}

/* ---- the owner layer ---- */

#define LAYER_ANCHORS 1000 /* uncorrected messages that hold the layer to the base's verdicts */

struct layer_set {
	struct rules *r;
	struct features *fx;
	const struct model *base;
	struct store *st;
	struct feature_vec *x;
	uint32_t *labels;
	size_t n, cap, corrected;
	int64_t *skip; /* corrected rows: not anchors */
	size_t n_skip;
	uint32_t anchor_labels;
};

/* Bits in base's columns for a comma-separated list of signal ids. */
static uint32_t label_bits(const struct model *base, const char *list)
{
	uint32_t bits = 0;

	while (list && *list) {
		size_t l = strcspn(list, ",");
		char id[64];
		int col;

		snprintf(id, sizeof(id), "%.*s", (int)(l < 63 ? l : 63), list);
		col = model_signal_index(base, id);
		if (col >= 0)
			bits |= 1u << col;
		list += l + (list[l] == ',');
	}
	return bits;
}

static void layer_add(struct layer_set *ls, const struct store_message_row *row, uint32_t labels)
{
	struct classify_input in;
	char lang[8];

	daemon_input_from_row(row, &in);
	if (ls->n == ls->cap) {
		ls->cap = ls->cap ? 2 * ls->cap : 256;
		ls->x = xreallocarray(ls->x, ls->cap, sizeof(*ls->x));
		ls->labels = xreallocarray(ls->labels, ls->cap, sizeof(*ls->labels));
	}
	memset(&ls->x[ls->n], 0, sizeof(ls->x[ls->n]));
	if (!classify_features(ls->r, ls->fx, &in, &ls->x[ls->n], NULL, NULL, lang)) {
		feature_vec_release(&ls->x[ls->n]);
		return;
	}
	ls->labels[ls->n++] = labels;
}

static int corrected_row(void *arg, const struct store_message_row *row, const char *labels,
                         const char *owner)
{
	struct layer_set *ls = arg;

	(void)owner;
	ls->skip = xreallocarray(ls->skip, ls->n_skip + 1, sizeof(*ls->skip));
	ls->skip[ls->n_skip++] = row->id;
	layer_add(ls, row, label_bits(ls->base, labels));
	ls->corrected++;
	return 0;
}

static int anchor_signal(void *arg, const struct store_signal *sig)
{
	struct layer_set *ls = arg;
	int col = model_signal_index(ls->base, sig->signal);

	if (col >= 0)
		ls->anchor_labels |= 1u << col;
	return 0;
}

static int anchor_row(void *arg, const struct store_message_row *row)
{
	struct layer_set *ls = arg;

	for (size_t i = 0; i < ls->n_skip; i++)
		if (ls->skip[i] == row->id)
			return 0;
	ls->anchor_labels = 0;
	if (store_signals_foreach(ls->st, row->id, anchor_signal, ls) < 0)
		return -EIO;
	layer_add(ls, row, ls->anchor_labels);
	return 0;
}

int daemon_owner_train(const struct rf_config *cfg, struct rules *r, struct classify_model **cm,
                       struct store *st)
{
	struct model_train_opts o = MODEL_TRAIN_DEFAULT;
	struct layer_set ls = {.r = r, .st = st};
	struct model_example *ex = NULL;
	struct model *layer = NULL;
	struct classify_model *fresh = NULL;
	const char *signals[MODEL_MAX_SIGNALS];
	char *layer_path = daemon_layer_path(cfg->database), *model_path = NULL;
	int64_t ids[LAYER_ANCHORS];
	size_t n_ids = 0;
	char err[512];
	int rc = -1;

	if (!*cm) {
		free(layer_path);
		return 0; /* no model: the corrections act through the table alone */
	}
	ls.base = classify_model_base(*cm);
	ls.fx = features_new();
	if (store_feedback_messages(st, r, corrected_row, &ls) < 0 ||
	    store_message_ids_after(st, 0, LAYER_ANCHORS, ids, &n_ids) < 0) {
		log_err("owner layer: %s", store_errmsg(st));
		goto out;
	}
	/*
	 * The mail the owner did not correct holds the layer to the verdicts they let stand;
	 * without it a few corrections would shift every message (see tests/eval/README.md).
	 */
	for (size_t i = 0; i < n_ids; i++)
		if (store_message_get(st, ids[i], anchor_row, &ls) < 0) {
			log_err("owner layer: %s", store_errmsg(st));
			goto out;
		}
	if (ls.corrected == 0) {
		rc = 0;
		if (unlink(layer_path) == 0)
			log_info("owner layer: no corrections left; removed %s", layer_path);
		goto out;
	}
	ex = xcalloc(ls.n, sizeof(*ex));
	for (size_t i = 0; i < ls.n; i++)
		ex[i] = (struct model_example){&ls.x[i], ls.labels[i]};
	for (size_t i = 0; i < model_signal_count(ls.base); i++)
		signals[i] = model_signal_at(ls.base, i);
	if (model_train(signals, model_signal_count(ls.base), ex, ls.n, &o, ls.base, &layer, err,
	                sizeof(err)) < 0 ||
	    model_save(layer, layer_path, err, sizeof(err)) < 0) {
		log_err("owner layer: %s", err);
		goto out;
	}
	/* Reopen both files: what runs is exactly what the next start will load. */
	model_path = daemon_model_path(cfg->rules);
	if (classify_model_open(model_path, layer_path, &fresh, err, sizeof(err)) < 0) {
		log_err("owner layer: %s", err);
		goto out;
	}
	classify_model_free(cm);
	*cm = fresh;
	log_info("owner layer: trained on %zu corrected and %zu other messages, %s", ls.corrected,
	         ls.n - ls.corrected, layer_path);
	rc = 0;
out:
	for (size_t i = 0; i < ls.n; i++)
		feature_vec_release(&ls.x[i]);
	free(ls.x);
	free(ls.labels);
	free(ls.skip);
	free(ex);
	features_free(&ls.fx);
	model_free(&layer);
	free(layer_path);
	free(model_path);
	return rc;
}
