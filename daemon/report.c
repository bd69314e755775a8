/*
 * Read-only commands over the database: `stats --json` (contract in DESIGN §4). The
 * review commands (`clients`, `client`, `digest`) are in digest.c.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "daemon.h"
#include "redflag/classify.h"
#include "redflag/log.h"
#include "redflag/store.h"
#include "redflag/util.h"

/* Opens config and database for a read-only command; prints the error itself. */
static int open_db(const struct options *opt, struct rf_config **cfg, struct store **st)
{
	char err[512];

	*cfg = daemon_load_config(opt);
	if (*cfg == NULL)
		return -1;
	if (store_open((*cfg)->database, st, err, sizeof(err)) < 0) {
		log_err("%s", err);
		config_free(cfg);
		return -1;
	}
	return 0;
}

static int stats_mailbox(void *arg, const struct store_mailbox_row *r)
{
	struct strbuf *out = arg;

	if (out->data[out->len - 1] != '[')
		strbuf_appendc(out, ',');
	strbuf_appends(out, "{\"account\":");
	strbuf_append_json(out, r->account);
	strbuf_appends(out, ",\"mailbox\":");
	strbuf_append_json(out, r->mailbox);
	strbuf_appendf(out, ",\"uidvalidity\":%u,\"last_uid\":%u,\"messages\":%lld}",
	               r->state.uidvalidity, r->state.last_uid, (long long)r->messages);
	return 0;
}

int cmd_stats(const struct options *opt, int argc, char **argv)
{
	struct rf_config *cfg = NULL;
	struct store *st = NULL;
	struct store_stats s;
	struct strbuf out = STRBUF_INIT;
	int status = EXIT_FAIL;

	if (argc != 2 || strcmp(argv[1], "--json") != 0) {
		fprintf(stderr, "usage: redflagd stats --json\n");
		return EXIT_USAGE;
	}
	if (open_db(opt, &cfg, &st) < 0)
		return EXIT_FAIL;
	if (store_stats(st, cfg->clients_need_reply, &s) < 0) {
		log_err("stats: %s", store_errmsg(st));
		goto out;
	}
	strbuf_appendf(&out,
	               "{\"messages\":%lld,\"clients\":%lld,\"signals\":%lld,\"unparseable\":%lld,"
	               "\"mailboxes\":[",
	               (long long)s.messages, (long long)s.clients, (long long)s.signals,
	               (long long)s.unparseable);
	if (store_mailboxes_foreach(st, stats_mailbox, &out) < 0) {
		log_err("stats: %s", store_errmsg(st));
		goto out;
	}
	strbuf_appends(&out, "]}\n");
	fputs(out.data, stdout);
	status = EXIT_OK;
out:
	strbuf_release(&out);
	store_close(&st);
	config_free(&cfg);
	return status;
}
