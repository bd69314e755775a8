/*
 * Commands around the classifier: `classify FILE...` (no mailbox, no database; contract in
 * DESIGN §4), `explain MESSAGE-ID` and `reclassify`.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "redflag/classify.h"
#include "redflag/clients.h"
#include "redflag/features.h"
#include "redflag/log.h"
#include "redflag/model.h"
#include "redflag/parser.h"
#include "redflag/store.h"
#include "redflag/text.h"
#include "redflag/util.h"

#define CLASSIFY_MAX_FILE (64u << 20) /* same ceiling as the parser worker's input */

void daemon_calendar_hours(const struct rf_config *cfg, struct calendar_hours *h)
{
	*h = (struct calendar_hours){
	    .timezone = cfg->owner.timezone,
	    .start_min = cfg->owner.work_start_min,
	    .end_min = cfg->owner.work_end_min,
	    .days = cfg->owner.work_days,
	    .holidays = cfg->owner.holidays,
	    .extra = cfg->owner.extra_holidays,
	    .n_extra = cfg->owner.n_extra_holidays,
	};
}

/*
 * The directory for cached prefilters: systemd's CacheDirectory= ($CACHE_DIRECTORY), else
 * $XDG_CACHE_HOME/redflagd, else ~/.cache/redflagd; created 0700. NULL when none works.
 */
static char *cache_dir(void)
{
	const char *sd = getenv("CACHE_DIRECTORY"), *xdg = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");
	char *dir, *parent = NULL;

	if (sd && sd[0] == '/') {
		/* Several directories are separated by ':'; the first is ours. */
		dir = xstrndup(sd, strcspn(sd, ":"));
	} else if (xdg && xdg[0] == '/') {
		dir = xasprintf("%s/redflagd", xdg);
	} else if (home && home[0] == '/') {
		parent = xasprintf("%s/.cache", home);
		(void)mkdir(parent, 0700);
		dir = xasprintf("%s/redflagd", parent);
	} else {
		return NULL;
	}
	free(parent);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		log_debug("no prefilter cache: %s: %s", dir, strerror(errno));
		free(dir);
		return NULL;
	}
	return dir;
}

struct rules *daemon_load_rules(const char *dir, const char *signals)
{
	struct strbuf errors = STRBUF_INIT;
	struct rules *r = NULL;

	if (rules_load(dir, signals, &r, &errors) < 0)
		fputs(errors.data ? errors.data : "cannot load rules\n", stderr);
	else {
		char *cache = cache_dir();

		rules_set_cache_dir(r, cache);
		free(cache);
		log_debug("rules: %zu rules, %zu patterns from %s", rules_count(r),
		          rules_pattern_count(r), dir);
	}
	strbuf_release(&errors);
	return r;
}

int daemon_slurp(const char *path, char **out, size_t *len)
{
	struct strbuf b = STRBUF_INIT;
	char chunk[65536];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		if (b.len + (size_t)n > CLASSIFY_MAX_FILE) {
			close(fd);
			strbuf_release(&b);
			return -E2BIG;
		}
		strbuf_append(&b, chunk, (size_t)n);
	}
	close(fd);
	if (n < 0) {
		int e = errno;

		strbuf_release(&b);
		return -e;
	}
	*len = b.len;
	*out = b.len ? strbuf_detach(&b, NULL) : xstrdup("");
	return 0;
}

static void print_error(const char *file, const char *error, bool json)
{
	struct strbuf out = STRBUF_INIT;

	if (json) {
		strbuf_appends(&out, "{\"file\":");
		strbuf_append_json(&out, file);
		strbuf_appends(&out, ",\"error\":");
		strbuf_append_json(&out, error);
		strbuf_appends(&out, "}\n");
	} else {
		strbuf_appendf(&out, "%s: error: %s\n", file, error);
	}
	fputs(out.data, stdout);
	strbuf_release(&out);
}

static void print_result(const char *file, const struct message *m,
                         const struct classify_result *res, bool json)
{
	struct strbuf out = STRBUF_INIT;

	if (!json) {
		strbuf_appendf(&out, "%s: lang %s, %zu signal%s\n", file, res->lang, res->n,
		               res->n == 1 ? "" : "s");
		for (size_t i = 0; i < res->n; i++)
			strbuf_appendf(&out, "  %-20s %-28s %4.1f  %s\n", res->v[i].signal,
			               res->v[i].rule, res->v[i].weight, res->v[i].excerpt);
		fputs(out.data, stdout);
		strbuf_release(&out);
		return;
	}
	strbuf_appends(&out, "{\"file\":");
	strbuf_append_json(&out, file);
	strbuf_appends(&out, ",\"message_id\":");
	if (m->message_id[0]) {
		char *id = xasprintf("<%s>", m->message_id);

		strbuf_append_json(&out, id);
		free(id);
	} else {
		strbuf_appends(&out, "null");
	}
	strbuf_appends(&out, ",\"lang\":");
	strbuf_append_json(&out, res->lang);
	strbuf_appends(&out, ",\"signals\":[");
	for (size_t i = 0; i < res->n; i++) {
		strbuf_appends(&out, i ? ",{\"signal\":" : "{\"signal\":");
		strbuf_append_json(&out, res->v[i].signal);
		strbuf_appends(&out, ",\"rule\":");
		strbuf_append_json(&out, res->v[i].rule);
		strbuf_appendf(&out, ",\"weight\":%.1f,\"excerpt\":", res->v[i].weight);
		strbuf_append_json(&out, res->v[i].excerpt);
		if (res->v[i].p >= 0.0)
			strbuf_appendf(&out, ",\"p\":%.3f", res->v[i].p);
		strbuf_appendc(&out, '}');
	}
	strbuf_appends(&out, "]}\n");
	fputs(out.data, stdout);
	strbuf_release(&out);
}

static void classify_usage(void)
{
	fprintf(stderr, "usage: redflagd classify [--json] [--rules DIR] [--model FILE] "
	                "[--layer FILE] [--no-model]\n"
	                "                         [--config FILE] FILE...\n");
}

int cmd_classify(const struct options *opt, int argc, char **argv)
{
	struct parser_options popt = PARSER_OPTIONS_DEFAULT;
	struct options copt = *opt;
	struct rf_config *cfg = NULL;
	struct clients *cl = NULL;
	struct parser *p = NULL;
	struct rules *r = NULL;
	struct calendar_hours hours, *hp = NULL;
	struct classify_model *cm = NULL;
	const char *rules_dir = NULL, *model_path = NULL, *layer_path = NULL;
	bool json = false, no_model = false;
	int i, status = EXIT_FAIL, rc;

	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strcmp(argv[i], "--rules") == 0 && i + 1 < argc) {
			rules_dir = argv[++i];
		} else if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) {
			model_path = argv[++i];
		} else if (strcmp(argv[i], "--layer") == 0 && i + 1 < argc) {
			layer_path = argv[++i];
		} else if (strcmp(argv[i], "--no-model") == 0) {
			no_model = true;
		} else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			copt.config_path = argv[++i];
			copt.config_given = true;
		} else if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else {
			classify_usage();
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		classify_usage();
		return EXIT_USAGE;
	}
	/* A config is optional here: with one, directions and time signals are known. */
	if (copt.config_given) {
		cfg = daemon_load_config(&copt);
		if (!cfg)
			return EXIT_FAIL;
		cl = clients_new(cfg);
		daemon_calendar_hours(cfg, &hours);
		hp = &hours;
		if (!rules_dir)
			rules_dir = cfg->rules;
	}
	if (!rules_dir)
		rules_dir = REDFLAGD_DATADIR "/rules";
	r = daemon_load_rules(rules_dir, cfg && rules_dir == cfg->rules ? cfg->signals : NULL);
	if (!r)
		goto out;
	/* The model beside the rules when there is one; one named on the command line must be. */
	if (!no_model &&
	    daemon_load_model(rules_dir, model_path, layer_path, model_path != NULL, &cm) < 0)
		goto out;
	rc = parser_new(&popt, &p);
	if (rc < 0) {
		log_err("parser: %s", strerror(-rc));
		goto out;
	}

	for (; i < argc; i++) {
		struct classify_result res = {0};
		struct classify_input in;
		struct clients_match who = {0};
		struct message *m = NULL;
		char err[256] = "", *raw = NULL;
		size_t len = 0;

		rc = daemon_slurp(argv[i], &raw, &len);
		if (rc < 0) {
			print_error(argv[i], rc == -E2BIG ? "file too large" : strerror(-rc), json);
			continue;
		}
		rc = parser_parse(p, raw, len, &m, err, sizeof(err));
		free(raw);
		if (rc < 0) {
			print_error(argv[i], err[0] ? err : strerror(-rc), json);
			if (rc != -EBADMSG && rc != -E2BIG)
				goto out; /* the worker cannot be restarted */
			continue;
		}
		if (cl)
			clients_resolve(cl, m, &who);
		classify_input_from_message(m, cl ? classify_direction(who.dir) : RULES_DIR_UNKNOWN,
		                            &in);
		classify_message_with(r, cm, hp, &in, &res);
		print_result(argv[i], m, &res, json);
		classify_result_release(&res);
		clients_match_release(&who);
		message_free(&m);
	}
	status = EXIT_OK;
out:
	fflush(stdout);
	parser_free(&p);
	classify_model_free(&cm);
	rules_free(&r);
	clients_free(&cl);
	config_free(&cfg);
	return status;
}

/* ---- explain ---- */

void daemon_input_from_row(const struct store_message_row *row, struct classify_input *in)
{
	*in = (struct classify_input){
	    .subject = row->subject,
	    .text = row->text,
	    .body = row->body,
	    .flags = row->flags,
	    .automated = clients_is_noreply(row->from_addr),
	    .n_rcpt = row->n_rcpt,
	    .direction = classify_direction((enum rf_direction)row->direction),
	    .date = row->date,
	};
}

struct explain_ctx {
	struct store *st;
	struct rules *r;           /* NULL: no model explanation */
	struct classify_model *cm; /* NULL: no model */
	struct features *fx;
	int found;
};

#define EXPLAIN_TOP 6 /* features listed per signal */

/* The names of a message's features, by id (the first name of each id). */
struct feature_names {
	uint32_t *id;
	char **name;
	size_t n, cap;
};

static void collect_name(void *arg, uint32_t id, const char *name, size_t start, size_t end)
{
	struct feature_names *fn = arg;

	(void)start;
	(void)end;
	for (size_t i = fn->n; i-- > 0;)
		if (fn->id[i] == id)
			return;
	if (fn->n == fn->cap) {
		fn->cap = fn->cap ? 2 * fn->cap : 256;
		fn->id = xreallocarray(fn->id, fn->cap, sizeof(*fn->id));
		fn->name = xreallocarray(fn->name, fn->cap, sizeof(*fn->name));
	}
	fn->id[fn->n] = id;
	fn->name[fn->n++] = xstrdup(name);
}

/* A feature's part in a score: weight times value. */
struct contribution {
	double weight;
	const char *name;
};

static int contribution_cmp(const void *a, const void *b)
{
	const struct contribution *x = a, *y = b;

	return x->weight < y->weight ? 1 : x->weight > y->weight ? -1 : strcmp(x->name, y->name);
}

/*
 * What the model makes of a stored message: per signal it gives a chance of at least half
 * its threshold, the probability, the threshold and the features that weigh most.
 */
static void explain_model(struct explain_ctx *ex, const struct store_message_row *row)
{
	const struct model *m = classify_model_get(ex->cm);
	struct classify_input in;
	struct feature_names fn = {0};
	struct feature_vec x = {0};
	char lang[8];

	daemon_input_from_row(row, &in);
	if (!classify_features(ex->r, ex->fx, &in, &x, collect_name, &fn, lang))
		goto out;
	for (size_t k = 0; k < model_signal_count(m); k++) {
		double p = model_sigmoid(model_score(m, k, &x)), t = model_threshold(m, k);
		struct contribution *c = xcalloc(fn.n ? fn.n : 1, sizeof(*c));
		size_t nc = 0;

		if (t >= 1.0 || p < t / 2) {
			free(c);
			continue;
		}
		printf("  model: %-14s p %.2f, fires at %.2f%s\n", model_signal_at(m, k), p, t,
		       p >= t ? "" : " (not reached)");
		for (size_t i = 0; i < fn.n; i++) {
			double w = model_weight(m, k, fn.id[i]) * feature_vec_get(&x, fn.id[i]);

			if (w > 0.0)
				c[nc++] = (struct contribution){w, fn.name[i]};
		}
		qsort(c, nc, sizeof(*c), contribution_cmp);
		for (size_t j = 0; j < nc && j < EXPLAIN_TOP; j++)
			printf("         %+6.2f  %s\n", c[j].weight, c[j].name);
		free(c);
	}
out:
	for (size_t i = 0; i < fn.n; i++)
		free(fn.name[i]);
	free(fn.id);
	free(fn.name);
	feature_vec_release(&x);
}

static int explain_signal(void *arg, const struct store_signal *sig)
{
	int *n = arg;

	printf("  %-20s %-28s %4.1f  %s\n", sig->signal, sig->rule, sig->weight, sig->excerpt);
	(*n)++;
	return 0;
}

static int explain_row(void *arg, const struct store_message_row *row)
{
	static const char *const dirs[] = {"no counterparty", "incoming", "outgoing"};
	struct explain_ctx *ex = arg;
	char date[32] = "no date";
	int n = 0;

	if (row->date > 0) {
		time_t t = (time_t)row->date;
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", &tm);
	}
	if (ex->found++)
		putchar('\n');
	printf("<%s>\n  %s/%s UID %u, %s, %s, client %s, language %s\n  Subject: %s\n",
	       row->message_id, row->account, row->mailbox, row->uid, date,
	       dirs[row->direction >= 0 && row->direction <= 2 ? row->direction : 0],
	       row->client[0] ? row->client : "(none)", row->lang[0] ? row->lang : "?",
	       row->subject);
	if (row->flags & (MESSAGE_LIST | MESSAGE_BULK | MESSAGE_AUTO) ||
	    clients_is_noreply(row->from_addr))
		printf("  mailing list or automated sender: no signals are taken from it\n");
	if (store_signals_foreach(ex->st, row->id, explain_signal, &n) < 0)
		return -EIO;
	if (n == 0)
		printf("  no signals\n");
	if (ex->cm)
		explain_model(ex, row);
	return 0;
}

int cmd_explain(const struct options *opt, int argc, char **argv)
{
	struct explain_ctx ex = {0};
	struct rf_config *cfg = NULL;
	char err[512], *id = NULL, *layer = NULL;
	int status = EXIT_FAIL;

	if (argc != 2) {
		fprintf(stderr, "usage: redflagd explain MESSAGE-ID\n");
		return EXIT_USAGE;
	}
	cfg = daemon_load_config(opt);
	if (!cfg)
		return EXIT_FAIL;
	if (store_open(cfg->database, &ex.st, err, sizeof(err)) < 0) {
		log_err("%s", err);
		goto out;
	}
	/* With the model (and the owner layer), explain says what it weighed too. */
	layer = daemon_layer_path(cfg->database);
	ex.r = daemon_load_rules(cfg->rules, cfg->signals);
	if (!ex.r || daemon_load_model(cfg->rules, NULL, layer, false, &ex.cm) < 0)
		goto out;
	ex.fx = features_new();
	/* Accept the id as mail clients show it, with or without the angle brackets. */
	id = daemon_message_id(argv[1]);
	if (store_messages_by_msgid(ex.st, id, explain_row, &ex) < 0) {
		log_err("%s", store_errmsg(ex.st));
		goto out;
	}
	if (!ex.found) {
		fprintf(stderr, "redflagd: no stored message has Message-ID <%s>\n", id);
		goto out;
	}
	status = EXIT_OK;
out:
	free(id);
	free(layer);
	features_free(&ex.fx);
	classify_model_free(&ex.cm);
	rules_free(&ex.r);
	store_close(&ex.st);
	config_free(&cfg);
	return status;
}

/* ---- reclassify ---- */

#define RECLASSIFY_BATCH 500

struct reclassify_ctx {
	struct store *st;
	struct rules *r;
	struct classify_model *model;
	const struct calendar_hours *hours;
	struct strbuf before;
	uint64_t seen, changed, texts;
	uint64_t *added, *removed; /* per catalogue signal */
};

static int collect_signal(void *arg, const struct store_signal *sig)
{
	struct strbuf *b = arg;

	strbuf_appendf(b, "%s\t%s\t%.3f\t%s\n", sig->signal, sig->rule, sig->weight, sig->excerpt);
	return 0;
}

/* Whether the signal id occurs in a collect_signal() listing. */
static bool listed(const char *list, const char *id)
{
	size_t n = strlen(id);

	for (const char *p = list; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, id, n) == 0 && p[n] == '\t')
			return true;
	return false;
}

static int reclassify_row(void *arg, const struct store_message_row *row)
{
	struct reclassify_ctx *rc = arg;
	struct classify_result res;
	struct store_signal *v;
	struct strbuf after = STRBUF_INIT;
	/*
	 * The author's text again from the stored body: improvements to the quote and
	 * signature stripper reach old mail too, without fetching it again.
	 */
	char *text = row->body[0] ? text_strip_reply(row->body) : xstrdup(row->text);
	struct classify_input in = {
	    .subject = row->subject,
	    .text = text,
	    .flags = row->flags,
	    .automated = clients_is_noreply(row->from_addr),
	    .direction = classify_direction((enum rf_direction)row->direction),
	    .date = row->date,
	    .n_rcpt = row->n_rcpt,
	};
	int r = 0, fb;

	strbuf_reset(&rc->before);
	if (store_signals_foreach(rc->st, row->id, collect_signal, &rc->before) < 0)
		return -EIO;
	classify_message_with(rc->r, rc->model, rc->hours, &in, &res);
	v = xcalloc(res.n + 1, sizeof(*v));
	for (size_t i = 0; i < res.n; i++) {
		struct store_signal sig = {res.v[i].signal, res.v[i].rule, res.v[i].weight,
		                           res.v[i].excerpt};

		v[i] = sig;
		collect_signal(&after, &sig);
	}
	rc->seen++;
	if (strcmp(text, row->text) != 0) {
		rc->texts++;
		if (store_message_set_text(rc->st, row->id, text) < 0)
			r = -EIO;
	}
	if (strcmp(after.data ? after.data : "", rc->before.data ? rc->before.data : "") != 0 ||
	    strcmp(row->lang, res.lang) != 0) {
		/* The owner's corrections win again; a message they fully decide is unchanged. */
		if (store_signals_set(rc->st, row->id, res.lang, v, res.n) < 0 ||
		    (fb = store_feedback_apply(rc->st, row->id, rc->r)) < 0) {
			r = -EIO;
		} else if (fb > 0) {
			strbuf_reset(&after);
			if (store_signals_foreach(rc->st, row->id, collect_signal, &after) < 0)
				r = -EIO;
		}
	}
	if (r == 0 &&
	    (strcmp(after.data ? after.data : "", rc->before.data ? rc->before.data : "") != 0 ||
	     strcmp(row->lang, res.lang) != 0)) {
		rc->changed++;
		for (size_t k = 0; k < rules_signal_count(rc->r); k++) {
			const char *id = rules_signal_at(rc->r, k)->id;
			bool was = listed(rc->before.data, id), is = listed(after.data, id);

			rc->added[k] += is && !was;
			rc->removed[k] += was && !is;
		}
	}
	free(v);
	free(text);
	strbuf_release(&after);
	classify_result_release(&res);
	return r;
}

int cmd_reclassify(const struct options *opt, int argc, char **argv)
{
	struct reclassify_ctx rc = {0};
	struct rf_config *cfg = NULL;
	struct calendar_hours hours;
	int64_t ids[RECLASSIFY_BATCH], after = 0;
	size_t n;
	char err[512], *layer = NULL;
	int status = EXIT_FAIL;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: redflagd reclassify\n");
		return EXIT_USAGE;
	}
	cfg = daemon_load_config(opt);
	if (!cfg)
		return EXIT_FAIL;
	rc.r = daemon_load_rules(cfg->rules, cfg->signals);
	if (!rc.r)
		goto out;
	layer = daemon_layer_path(cfg->database);
	if (daemon_load_model(cfg->rules, NULL, layer, false, &rc.model) < 0)
		goto out;
	if (store_open(cfg->database, &rc.st, err, sizeof(err)) < 0) {
		log_err("%s", err);
		goto out;
	}
	daemon_calendar_hours(cfg, &hours);
	rc.hours = &hours;
	rc.added = xcalloc(rules_signal_count(rc.r), sizeof(*rc.added));
	rc.removed = xcalloc(rules_signal_count(rc.r), sizeof(*rc.removed));

	/* One transaction per batch: a crash halfway leaves whole batches old or new. */
	for (;;) {
		if (store_message_ids_after(rc.st, after, RECLASSIFY_BATCH, ids, &n) < 0 ||
		    store_begin(rc.st) < 0)
			goto db_error;
		for (size_t i = 0; i < n; i++)
			if (store_message_get(rc.st, ids[i], reclassify_row, &rc) < 0) {
				store_rollback(rc.st);
				goto db_error;
			}
		if (store_commit(rc.st) < 0)
			goto db_error;
		if (n < RECLASSIFY_BATCH)
			break;
		after = ids[n - 1];
	}
	printf("reclassified %llu messages: %llu changed, %llu texts re-extracted\n",
	       (unsigned long long)rc.seen, (unsigned long long)rc.changed,
	       (unsigned long long)rc.texts);
	for (size_t k = 0; k < rules_signal_count(rc.r); k++)
		if (rc.added[k] || rc.removed[k])
			printf("  %-20s +%llu -%llu\n", rules_signal_at(rc.r, k)->id,
			       (unsigned long long)rc.added[k], (unsigned long long)rc.removed[k]);
	status = EXIT_OK;
	goto out;
db_error:
	log_err("reclassify: %s", store_errmsg(rc.st));
out:
	free(rc.added);
	free(rc.removed);
	strbuf_release(&rc.before);
	store_close(&rc.st);
	classify_model_free(&rc.model);
	rules_free(&rc.r);
	free(layer);
	config_free(&cfg);
	return status;
}
