#include "redflag/sync.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "redflag/log.h"
#include "redflag/util.h"

/* State of one batch, handed to the per-message callback of imap_fetch(). */
struct batch {
	struct sync_ctx *ctx;
	const struct rf_account *acct;
	const char *mailbox;
	uint32_t uidvalidity;
	struct sync_result *res;
	uint64_t stored; /* rows inserted in this batch (counted into res on commit only) */
	uint64_t unparseable;
	int error; /* negative errno when the callback aborted the fetch */
	char *err;
	size_t errlen;
};

int sync_connect(const struct rf_account *acct, struct imap_session **out, char *err, size_t errlen)
{
	struct imap_params p;
	char *password = NULL;
	int r;

	r = config_secret_read(&acct->secret, &password, err, errlen);
	if (r < 0)
		return r;
	p = (struct imap_params){
	    .host = acct->host,
	    .port = acct->port,
	    .tls = acct->tls,
	    .auth = acct->auth,
	    .user = acct->user,
	    .password = password,
	    .ca_file = acct->ca_file,
	    .timeout = acct->timeout,
	};
	r = imap_open(&p, out, err, errlen);
	config_secret_free(&password);
	return r;
}

int sync_resolve_mailbox(struct imap_session *s, const char *configured, char **name, char *err,
                         size_t errlen)
{
	if (strcasecmp(configured, "Sent") == 0)
		return imap_find_sent(s, name, err, errlen);
	*name = xstrdup(configured);
	return 0;
}

char *sync_dedup_key(const struct message *m, const char *raw, size_t len)
{
	if (m != NULL && m->message_id[0] != '\0')
		return xstrdup(m->message_id);
	if (m != NULL && m->header_hash[0] != '\0')
		return xasprintf("hash:%s", m->header_hash);
	/*
	 * Unparseable: the raw bytes are what the server gives for this message on every
	 * fetch, so their hash identifies it across a UIDVALIDITY change.
	 */
	return xasprintf("raw:%016llx", (unsigned long long)hash_fnv1a64(raw ? raw : "", len, 0));
}

/* Classifies the message just stored and stores its signals; 1 or -EIO. */
static int store_classified(struct sync_ctx *ctx, const struct message *msg,
                            const struct clients_match *who)
{
	struct classify_input in;
	struct classify_result res;
	struct store_signal v[16];
	size_t n = 0;
	int r;

	classify_input_from_message(msg, classify_direction(who->dir), &in);
	classify_message_with(ctx->rules, ctx->model, ctx->hours, &in, &res);
	for (size_t i = 0; i < res.n && n < ARRAY_SIZE(v); i++)
		v[n++] = (struct store_signal){res.v[i].signal, res.v[i].rule, res.v[i].weight,
		                               res.v[i].excerpt};
	r = store_signals_set(ctx->store, store_message_last_id(ctx->store), res.lang, v, n);
	/* A correction that waited for this message (or came before a refetch) wins. */
	if (r == 0)
		r = store_feedback_apply(ctx->store, store_message_last_id(ctx->store), ctx->rules);
	classify_result_release(&res);
	return r < 0 ? r : 1;
}

/* Per fetched message: parse in the worker, resolve the client, classify, store. */
static int batch_message(void *arg, uint32_t uid, const char *raw, size_t len, uint64_t size)
{
	struct batch *b = arg;
	struct message *msg = NULL;
	struct clients_match who = {0};
	struct store_message sm;
	char perr[256] = "";
	char *key = NULL;
	int r;

	if (b->ctx->should_stop != NULL && b->ctx->should_stop(b->ctx->arg)) {
		b->error = -ECANCELED;
		return 1;
	}

	r = parser_parse(b->ctx->parser, raw, len, &msg, perr, sizeof(perr));
	if (r == -EBADMSG || r == -E2BIG) {
		log_warnx("%s/%s: UID %u stored as unparseable: %s", b->acct->name, b->mailbox, uid,
		          perr);
	} else if (r < 0) {
		snprintf(b->err, b->errlen, "parser: %s", perr[0] ? perr : strerror(-r));
		b->error = r;
		return 1;
	}

	if (msg != NULL)
		clients_resolve(b->ctx->clients, msg, &who);
	key = sync_dedup_key(msg, raw, len);
	sm = (struct store_message){
	    .account = b->acct->name,
	    .mailbox = b->mailbox,
	    .uidvalidity = b->uidvalidity,
	    .uid = uid,
	    .size = size,
	    .msg = msg,
	    .parse_error = msg ? NULL : perr,
	    .dedup_key = key,
	    .who = msg ? &who : NULL,
	};
	r = store_message_put(b->ctx->store, &sm);
	/* Only new rows: a re-keyed row keeps the signals it was given when first stored. */
	if (r > 0 && msg != NULL && b->ctx->rules != NULL)
		r = store_classified(b->ctx, msg, &who);
	if (r < 0) {
		snprintf(b->err, b->errlen, "store: %s", store_errmsg(b->ctx->store));
		b->error = r;
	} else if (r > 0) {
		b->stored++;
		if (msg == NULL)
			b->unparseable++;
	}
	free(key);
	clients_match_release(&who);
	message_free(&msg);
	return b->error ? 1 : 0;
}

int sync_mailbox(struct sync_ctx *ctx, const struct rf_account *acct, struct imap_session *s,
                 const char *mailbox, struct sync_result *res, char *err, size_t errlen)
{
	struct store_mailbox_state st = {0};
	struct imap_mailbox info;
	struct sync_progress prog = {.account = acct->name, .mailbox = mailbox};
	bool reset = false;
	int r;

	r = imap_examine(s, mailbox, &info, err, errlen);
	if (r < 0)
		return r;
	r = store_mailbox_get(ctx->store, acct->name, mailbox, &st);
	if (r == -ENOENT) {
		st = (struct store_mailbox_state){.uidvalidity = info.uidvalidity};
		reset = true;
	} else if (r < 0) {
		snprintf(err, errlen, "store: %s", store_errmsg(ctx->store));
		return r;
	} else if (st.uidvalidity != info.uidvalidity) {
		/*
		 * The server renumbered the mailbox: every UID we hold is meaningless. Fetch it
		 * all again; store_message_put() re-keys rows it already has by Message-ID (or
		 * header hash), so nothing is duplicated and nothing already classified is lost.
		 */
		log_notice("%s/%s: UIDVALIDITY changed (%u → %u): refetching the mailbox",
		           acct->name, mailbox, st.uidvalidity, info.uidvalidity);
		st = (struct store_mailbox_state){.uidvalidity = info.uidvalidity};
		reset = true;
	}

	/* An estimate for the progress line: UIDs are sparse, the message count is not. */
	prog.total = info.exists;
	if (st.last_uid > 0 && info.uidnext > st.last_uid)
		prog.total = info.uidnext - 1 - st.last_uid < info.exists
		                 ? info.uidnext - 1 - st.last_uid
		                 : info.exists;

	if (ctx->progress != NULL)
		ctx->progress(ctx->arg, &prog); /* done == 0: the mailbox starts */
	for (;;) {
		struct batch b = {
		    .ctx = ctx,
		    .acct = acct,
		    .mailbox = mailbox,
		    .uidvalidity = info.uidvalidity,
		    .res = res,
		    .err = err,
		    .errlen = errlen,
		};
		uint32_t last = st.last_uid, prev = st.last_uid;
		bool progressed;
		int n;

		/* UIDNEXT says whether anything is new without a FETCH round trip. */
		if (!reset && info.uidnext != 0 && st.last_uid + 1 >= info.uidnext)
			break;
		if (ctx->should_stop != NULL && ctx->should_stop(ctx->arg))
			return -ECANCELED;

		if (store_begin(ctx->store) < 0) {
			snprintf(err, errlen, "store: %s", store_errmsg(ctx->store));
			return -EIO;
		}
		n = imap_fetch(s, st.last_uid + 1, acct->batch_size, acct->max_message_bytes,
		               batch_message, &b, &last, err, errlen);
		if (n < 0 || b.error != 0) {
			store_rollback(ctx->store);
			return b.error != 0 ? b.error : n;
		}
		if (last > st.last_uid || reset) {
			st.last_uid = last;
			if (store_mailbox_set(ctx->store, acct->name, mailbox, &st) < 0) {
				snprintf(err, errlen, "store: %s", store_errmsg(ctx->store));
				store_rollback(ctx->store);
				return -EIO;
			}
		}
		if (store_commit(ctx->store) < 0) {
			snprintf(err, errlen, "store: %s", store_errmsg(ctx->store));
			store_rollback(ctx->store);
			return -EIO;
		}
		log_trace("sync", "%s/%s: UID %u..%u: %d fetched, %llu stored (%llu unparseable)",
		          acct->name, mailbox, prev + 1, last, n, (unsigned long long)b.stored,
		          (unsigned long long)b.unparseable);
		reset = false;
		progressed = last > prev;
		res->stored += b.stored;
		res->unparseable += b.unparseable;
		prog.done += (uint64_t)n;
		if (prog.done > prog.total)
			prog.total = prog.done;
		if (ctx->progress != NULL && n > 0)
			ctx->progress(ctx->arg, &prog);
		/* Nothing covered: the mailbox is read to its end (and no UIDNEXT said so). */
		if (!progressed)
			break;
	}
	prog.finished = true;
	if (ctx->progress != NULL)
		ctx->progress(ctx->arg, &prog);
	return 0;
}

int sync_account(struct sync_ctx *ctx, const struct rf_account *acct, struct imap_session *s,
                 struct sync_result *res, char *err, size_t errlen)
{
	for (size_t i = 0; i < acct->n_mailboxes; i++) {
		char *name = NULL;
		int r;

		r = sync_resolve_mailbox(s, acct->mailboxes[i], &name, err, errlen);
		if (r == -ENOENT) {
			log_warnx("%s: mailbox \"%s\" not found on the server; skipped", acct->name,
			          acct->mailboxes[i]);
			continue;
		}
		if (r < 0)
			return r;
		r = sync_mailbox(ctx, acct, s, name, res, err, errlen);
		if (r == -ENOENT) {
			log_warnx("%s: mailbox \"%s\" not found on the server; skipped", acct->name,
			          name);
			r = 0;
		}
		free(name);
		if (r < 0)
			return r;
	}
	return sync_feedback(ctx, acct, s, err, errlen);
}

/* ---------------------------------------------------------------- feedback folders */

/* One feedback folder being read; handed to imap_fetch_header()'s callback. */
struct feedback_read {
	struct sync_ctx *ctx;
	const struct rf_account *acct;
	const char *folder;
	const char *signal; /* NULL: the "wrong" folder */
	unsigned recorded;
	unsigned copies; /* stored copies of the mail at hand */
};

static int feedback_apply_row(void *arg, const struct store_message_row *row)
{
	struct feedback_read *fr = arg;

	fr->copies++;
	return store_feedback_apply(fr->ctx->store, row->id, fr->ctx->rules) < 0 ? -EIO : 0;
}

static int feedback_mail(void *arg, uint32_t uid, const char *value)
{
	struct feedback_read *fr = arg;
	char *id = message_id_from_header(value);
	char *source = xasprintf("folder:%s/%u", fr->folder, uid);
	struct store_feedback fb = {
	    .message_id = id,
	    .signal = fr->signal,
	    .verdict = fr->signal ? "+" : "wrong",
	    .source = source,
	    .created = (int64_t)time(NULL),
	};
	int r = 0;

	if (fr->ctx->should_stop != NULL && fr->ctx->should_stop(fr->ctx->arg)) {
		r = -ECANCELED;
		goto out;
	}
	if (id[0] == '\0') {
		log_warnx("%s/%s: UID %u has no Message-ID: not a correction redflagd can match",
		          fr->acct->name, fr->folder, uid);
		goto out;
	}
	r = store_feedback_add(fr->ctx->store, &fb);
	if (r > 0) {
		log_info("%s: <%s>: the owner's correction %s%s (%s)", fr->acct->name, id,
		         fr->signal ? "+" : "wrong", fr->signal ? fr->signal : "", source);
		fr->recorded++;
		fr->copies = 0;
		r = store_messages_by_msgid(fr->ctx->store, id, feedback_apply_row, fr);
		if (r == 0 && fr->copies == 0)
			log_info("%s: <%s> is not stored (yet): the correction waits for it",
			         fr->acct->name, id);
	}
out:
	free(source);
	free(id);
	return r < 0 ? r : 0;
}

/* Reads one feedback folder from its checkpoint on; *missing when it does not exist. */
static int feedback_folder(struct feedback_read *fr, struct imap_session *s, bool *missing,
                           char *err, size_t errlen)
{
	struct store *st = fr->ctx->store;
	struct store_mailbox_state cp;
	struct imap_mailbox info;
	int r;

	r = imap_examine(s, fr->folder, &info, err, errlen);
	if (r == -ENOENT) {
		*missing = true;
		err[0] = '\0';
		return 0;
	}
	if (r < 0)
		return r;
	r = store_feedback_state_get(st, fr->acct->name, fr->folder, &cp);
	if (r == 0 && cp.uidvalidity != info.uidvalidity)
		log_notice("%s/%s: UIDVALIDITY changed: reading the folder again", fr->acct->name,
		           fr->folder);
	if (r == -ENOENT || (r == 0 && cp.uidvalidity != info.uidvalidity)) {
		cp = (struct store_mailbox_state){.uidvalidity = info.uidvalidity};
		r = 0;
	}
	while (r == 0 && (info.uidnext == 0 || cp.last_uid + 1 < info.uidnext)) {
		uint32_t last = cp.last_uid;
		int n;

		r = store_begin(st);
		if (r < 0)
			break;
		n = imap_fetch_header(s, cp.last_uid + 1, "Message-ID", feedback_mail, fr, &last,
		                      err, errlen);
		if (n < 0 || last <= cp.last_uid) {
			store_rollback(st);
			r = n < 0 ? n : 0;
			break;
		}
		cp.last_uid = last;
		r = store_feedback_state_set(st, fr->acct->name, fr->folder, &cp);
		if (r == 0)
			r = store_commit(st);
		if (r < 0)
			store_rollback(st);
	}
	if (r < 0 && r != -ECANCELED && err[0] == '\0')
		snprintf(err, errlen, "store: %s", store_errmsg(st));
	return r;
}

int sync_feedback(struct sync_ctx *ctx, const struct rf_account *acct, struct imap_session *s,
                  char *err, size_t errlen)
{
	const char *base = ctx->cfg->feedback_folder;
	struct strbuf missing = STRBUF_INIT;
	char *meta_key = NULL, *reported = NULL;
	char delim;
	int r;

	if (base == NULL || ctx->rules == NULL)
		return 0;
	err[0] = '\0';
	r = imap_delimiter(s, &delim, err, errlen);
	if (r < 0)
		return r;
	if (delim == 0)
		delim = '/'; /* a flat namespace: the names are taken literally */
	/* The signals' folders first and "wrong" last: read in one pass, "wrong" is the later. */
	for (size_t i = 0; i <= rules_signal_count(ctx->rules) && r == 0; i++) {
		const struct rules_signal *sig =
		    i < rules_signal_count(ctx->rules) ? rules_signal_at(ctx->rules, i) : NULL;
		struct feedback_read fr;
		char *name;
		bool gone = false;

		if (sig != NULL && !sig->text)
			continue;
		name = xasprintf("%s%c%s", base, delim, sig ? sig->id : "wrong");
		fr = (struct feedback_read){ctx, acct, name, sig ? sig->id : NULL, 0, 0};
		r = feedback_folder(&fr, s, &gone, err, errlen);
		if (gone)
			strbuf_appendf(&missing, "%s%s", missing.len ? ", " : "", name);
		ctx->corrections += fr.recorded;
		if (fr.recorded > 0)
			log_info("%s/%s: %u new correction%s", acct->name, name, fr.recorded,
			         fr.recorded == 1 ? "" : "s");
		free(name);
	}
	if (r < 0)
		goto out;
	/* Once, not on every poll: the owner may well use only some of the folders. */
	meta_key = xasprintf("feedback_missing:%s", acct->name);
	if (store_meta_get(ctx->store, meta_key, &reported) == -EIO)
		log_debug("%s: %s", acct->name, store_errmsg(ctx->store));
	if (strcmp(reported ? reported : "", missing.data ? missing.data : "") != 0) {
		if (missing.len > 0)
			log_info("%s: feedback folders not on the server (none is needed; file a "
			         "mail into one to correct its signals): %s",
			         acct->name, missing.data);
		(void)store_meta_set(ctx->store, meta_key, missing.data ? missing.data : "");
	} else if (missing.len > 0) {
		log_debug("%s: feedback folders not on the server: %s", acct->name, missing.data);
	}
out:
	free(meta_key);
	free(reported);
	strbuf_release(&missing);
	return r;
}
