/*
 * `mark MESSAGE-ID (+SIGNAL | -SIGNAL)... | --none`: the owner's correction of a stored
 * message's signals. Recorded in the feedback table (store.h) and applied at once to every
 * stored copy of the message; it keeps winning over rules and model on every later
 * reclassify.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon.h"
#include "redflag/log.h"
#include "redflag/store.h"
#include "redflag/util.h"

#define MARK_MAX_COPIES 64 /* stored copies of one Message-ID that get a line each */

char *daemon_message_id(const char *arg)
{
	char *id = xstrdup(arg[0] == '<' ? arg + 1 : arg);
	size_t len = strlen(id);

	if (len > 0 && id[len - 1] == '>')
		id[len - 1] = '\0';
	return id;
}

/* One stored copy of the message, with its signals before the correction. */
struct copy {
	int64_t id;
	char *where; /* "studio/INBOX UID 5" */
	char *before;
};

struct copies {
	struct copy v[MARK_MAX_COPIES];
	size_t n;
};

static int signal_names(void *arg, const struct store_signal *sig)
{
	struct strbuf *b = arg;

	strbuf_appendf(b, "%s%s", b->len ? ", " : "", sig->signal);
	return 0;
}

/* "rush, payment", or "no signals"; a new string. */
static char *signals_of(struct store *st, int64_t message)
{
	struct strbuf b = STRBUF_INIT;

	if (store_signals_foreach(st, message, signal_names, &b) < 0) {
		strbuf_release(&b);
		return NULL;
	}
	if (b.len == 0)
		strbuf_appends(&b, "no signals");
	return strbuf_detach(&b, NULL);
}

struct collect_ctx {
	struct store *st;
	struct copies *c;
};

static int collect_copy(void *arg, const struct store_message_row *row)
{
	struct collect_ctx *cc = arg;
	struct copy *c;

	if (cc->c->n == MARK_MAX_COPIES)
		return 0;
	c = &cc->c->v[cc->c->n];
	c->before = signals_of(cc->st, row->id);
	if (c->before == NULL)
		return -1;
	c->id = row->id;
	c->where = xasprintf("%s/%s UID %u", row->account, row->mailbox, row->uid);
	cc->c->n++;
	return 0;
}

static void mark_usage(void)
{
	fprintf(stderr, "usage: redflagd mark MESSAGE-ID (+SIGNAL | -SIGNAL)...\n"
	                "       redflagd mark MESSAGE-ID --none\n");
}

/* Checks the signal of a "+x"/"-x" argument against the catalogue; false after a message. */
static bool signal_ok(const struct rules *r, const char *id)
{
	const struct rules_signal *def = rules_signal_find(r, id);

	if (def == NULL) {
		fprintf(stderr, "redflagd: unknown signal \"%s\"; text signals are:", id);
		for (size_t i = 0; i < rules_signal_count(r); i++)
			if (rules_signal_at(r, i)->text)
				fprintf(stderr, " %s", rules_signal_at(r, i)->id);
		fputc('\n', stderr);
		return false;
	}
	if (!def->text) {
		fprintf(stderr,
		        "redflagd: \"%s\" is computed from dates and the configuration, not from "
		        "the words of a mail: it cannot be marked\n",
		        id);
		return false;
	}
	return true;
}

int cmd_mark(const struct options *opt, int argc, char **argv)
{
	struct rf_config *cfg = NULL;
	struct rules *r = NULL;
	struct classify_model *cm = NULL;
	struct store *st = NULL;
	struct copies copies = {0};
	struct collect_ctx cc = {NULL, &copies};
	bool none = false;
	char err[512], *id = NULL;
	int status = EXIT_FAIL;

	if (argc < 3) {
		mark_usage();
		return EXIT_USAGE;
	}
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--none") == 0)
			none = true;
		else if ((argv[i][0] != '+' && argv[i][0] != '-') || argv[i][1] == '\0' ||
		         argv[i][1] == '-') {
			mark_usage();
			return EXIT_USAGE;
		}
	}
	if (none && argc != 3) {
		fprintf(stderr, "redflagd: --none stands alone: it says every signal is wrong\n");
		return EXIT_USAGE;
	}
	cfg = daemon_load_config(opt);
	if (cfg == NULL)
		return EXIT_FAIL;
	r = daemon_load_rules(cfg->rules, cfg->signals);
	if (r == NULL)
		goto out;
	for (int i = 2; i < argc && !none; i++)
		if (!signal_ok(r, argv[i] + 1)) {
			status = EXIT_USAGE;
			goto out;
		}
	if (store_open(cfg->database, &st, err, sizeof(err)) < 0) {
		log_err("%s", err);
		goto out;
	}
	id = daemon_message_id(argv[1]);
	cc.st = st;
	if (id[0] == '\0' || store_messages_by_msgid(st, id, collect_copy, &cc) < 0)
		goto db_error;
	if (copies.n == 0) {
		fprintf(stderr,
		        "redflagd: no stored message with Message-ID <%s>; the correction was not "
		        "recorded\n",
		        id);
		goto out;
	}

	if (store_begin(st) < 0)
		goto db_error;
	for (int i = 2; i < argc; i++) {
		struct store_feedback fb = {
		    .message_id = id,
		    .signal = none ? NULL : argv[i] + 1,
		    .verdict = none                ? "wrong"
		               : argv[i][0] == '+' ? "+"
		                                   : "-",
		    .source = "mark",
		    .created = (int64_t)time(NULL),
		};

		if (store_feedback_add(st, &fb) < 0)
			goto db_rollback;
	}
	for (size_t i = 0; i < copies.n; i++)
		if (store_feedback_apply(st, copies.v[i].id, r) < 0)
			goto db_rollback;
	if (store_commit(st) < 0)
		goto db_rollback;

	for (size_t i = 0; i < copies.n; i++) {
		char *after = signals_of(st, copies.v[i].id);

		if (after == NULL)
			goto db_error;
		if (strcmp(after, copies.v[i].before) == 0)
			printf("<%s> %s: %s (unchanged)\n", id, copies.v[i].where, after);
		else
			printf("<%s> %s: %s → %s\n", id, copies.v[i].where, copies.v[i].before,
			       after);
		free(after);
	}
	/* The owner layer learns from every correction: new mail and reclassify use it. */
	if (daemon_load_model(cfg->rules, NULL, NULL, false, &cm) < 0 ||
	    daemon_owner_train(cfg, r, &cm, st) < 0)
		goto out;
	status = EXIT_OK;
	goto out;
db_rollback:
	store_rollback(st);
db_error:
	log_err("mark: %s", store_errmsg(st));
out:
	for (size_t i = 0; i < copies.n; i++) {
		free(copies.v[i].where);
		free(copies.v[i].before);
	}
	free(id);
	store_close(&st);
	classify_model_free(&cm);
	rules_free(&r);
	config_free(&cfg);
	return status;
}
