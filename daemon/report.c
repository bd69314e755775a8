/*
 * Read-only commands over the database: `stats --json` (contract in DESIGN §4) and
 * `clients`.
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

static void format_day(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t == 0 || gmtime_r(&tt, &tm) == NULL)
		snprintf(buf, len, "-");
	else
		strftime(buf, len, "%Y-%m-%d", &tm);
}

struct clients_out {
	const struct rf_config *cfg;
	bool json;
	unsigned n;
	struct strbuf buf;
};

/* old_rate evidence for a configured client ("" when it does not carry the signal). */
static void old_rate(const struct rf_config *cfg, const char *name, char *buf, size_t len)
{
	buf[0] = '\0';
	for (size_t i = 0; i < cfg->n_clients; i++) {
		const struct rf_client_conf *c = &cfg->clients[i];

		if (strcmp(c->name, name) == 0 && c->rate_since &&
		    classify_old_rate(c->rate_since, cfg->old_rate_months, (int64_t)time(NULL), buf,
		                      len) != 1)
			buf[0] = '\0';
	}
}

static int clients_row(void *arg, const struct store_client_row *r)
{
	struct clients_out *o = arg;
	char first[16], last[16], rate[96];

	format_day(r->first_date, first, sizeof(first));
	format_day(r->last_date, last, sizeof(last));
	old_rate(o->cfg, r->name, rate, sizeof(rate));
	if (o->json) {
		strbuf_appends(&o->buf, o->n ? "," : "");
		strbuf_appends(&o->buf, "{\"name\":");
		strbuf_append_json(&o->buf, r->name);
		strbuf_appendf(&o->buf,
		               ",\"configured\":%s,\"messages_in\":%lld,\"messages_out\":%lld,"
		               "\"first\":\"%s\",\"last\":\"%s\",\"old_rate\":",
		               r->configured ? "true" : "false", (long long)r->messages_in,
		               (long long)r->messages_out, first, last);
		if (rate[0])
			strbuf_append_json(&o->buf, rate);
		else
			strbuf_appends(&o->buf, "null");
		strbuf_appendc(&o->buf, '}');
	} else {
		strbuf_appendf(&o->buf, "%-32s %6lld %6lld  %-10s  %-10s%s%s%s\n", r->name,
		               (long long)r->messages_in, (long long)r->messages_out, first, last,
		               r->configured ? "" : "  (auto)", rate[0] ? "  old_rate: " : "",
		               rate);
	}
	o->n++;
	return 0;
}

int cmd_clients(const struct options *opt, int argc, char **argv)
{
	struct rf_config *cfg = NULL;
	struct store *st = NULL;
	struct clients_out o = {.buf = STRBUF_INIT};
	int status = EXIT_FAIL;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			o.json = true;
		} else {
			fprintf(stderr, "usage: redflagd clients [--json]\n");
			return EXIT_USAGE;
		}
	}
	if (open_db(opt, &cfg, &st) < 0)
		return EXIT_FAIL;
	o.cfg = cfg;
	if (o.json)
		strbuf_appends(&o.buf, "[");
	else
		strbuf_appendf(&o.buf, "%-32s %6s %6s  %-10s  %-10s\n", "client", "in", "out",
		               "first", "last");
	if (store_clients_foreach(st, cfg->clients_need_reply, clients_row, &o) < 0) {
		log_err("clients: %s", store_errmsg(st));
		goto out;
	}
	if (o.json)
		strbuf_appends(&o.buf, "]\n");
	else if (o.n == 0)
		strbuf_appends(&o.buf, "(no clients yet: a counterparty becomes a client once you "
		                       "have written to them;\n"
		                       " run `redflagd sync --once` to import mail)\n");
	fputs(o.buf.data, stdout);
	status = EXIT_OK;
out:
	strbuf_release(&o.buf);
	store_close(&st);
	config_free(&cfg);
	return status;
}
