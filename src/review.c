/*
 * review — one period's review from the database (see review.h).
 *
 * Two passes per period over rows selected by date (index messages_date): all messages (for
 * threads and volume) and all signals. Evidence is not read in the scan: per client and
 * signal only the ids of the three most recent counted occurrences are kept, and their
 * subjects and excerpts are fetched at the end, so a million signal rows cost a million small
 * rows, not a million excerpts.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redflag/classify.h"
#include "redflag/review.h"
#include "redflag/util.h"

/* Red signals that call for a price conversation rather than a talk about behaviour. */
static const char *const price_signals[] = {"discount", "payment", "old_rate"};

struct client_info {
	int64_t id;
	char *name;
	int64_t first_date, last_date;
};

struct ev_slot {
	int64_t id, date; /* signal row, message date; id 0 = empty */
};

struct scan {
	struct score_acc *acc;
	const int32_t *idx; /* clients.id → client index, -1 = not listed */
	size_t n_idx;
	const struct score_signal_def *defs;
	const struct rules_signal *const *cat; /* catalogue entries, parallel to defs */
	size_t n_defs;
	struct ev_slot *ev;   /* n_clients × n_defs × SCORE_MAX_EVIDENCE, or NULL */
	uint64_t *has_signal; /* bitmap over messages.id: the message carries a signal */
	size_t n_bits;
	uint64_t messages, signals;
};

struct build {
	struct client_info *clients;
	size_t n_clients, cap_clients;
};

void review_params(const struct rf_config *cfg, struct score_params *p)
{
	score_params_default(p);
	if (cfg == NULL)
		return;
	p->act = cfg->score.act;
	p->release = cfg->score.release;
	p->cherish = cfg->score.cherish;
	p->cherish_red_max = cfg->score.cherish_red_max;
	p->min_volume = cfg->score.min_volume;
	p->loyal_years = cfg->score.loyal_years;
}

static int collect_client(void *arg, const struct store_client_row *r)
{
	struct build *b = arg;

	if (b->n_clients == b->cap_clients) {
		b->cap_clients = b->cap_clients ? 2 * b->cap_clients : 64;
		b->clients = xreallocarray(b->clients, b->cap_clients, sizeof(*b->clients));
	}
	b->clients[b->n_clients++] = (struct client_info){
	    .id = r->id,
	    .name = xstrdup(r->name),
	    .first_date = r->first_date,
	    .last_date = r->last_date,
	};
	return 0;
}

static int client_index(const struct scan *sc, int64_t id)
{
	if (id < 0 || (uint64_t)id >= sc->n_idx)
		return -1;
	return sc->idx[id];
}

/* Message ids are rowids: dense, so a bitmap is the smallest set of them. */
static void bit_set(struct scan *sc, int64_t id)
{
	size_t w;

	if (id < 0)
		return;
	w = (size_t)id / 64;
	if (w >= sc->n_bits) {
		size_t n = sc->n_bits ? sc->n_bits : 1024;

		while (n <= w)
			n *= 2;
		sc->has_signal = xreallocarray(sc->has_signal, n, sizeof(*sc->has_signal));
		memset(sc->has_signal + sc->n_bits, 0, (n - sc->n_bits) * sizeof(*sc->has_signal));
		sc->n_bits = n;
	}
	sc->has_signal[w] |= 1ULL << ((uint64_t)id % 64);
}

static bool bit_test(const struct scan *sc, int64_t id)
{
	return id >= 0 && (size_t)id / 64 < sc->n_bits &&
	       (sc->has_signal[(size_t)id / 64] >> ((uint64_t)id % 64) & 1);
}

static int scan_message(void *arg, const struct store_period_msg *m)
{
	struct scan *sc = arg;
	int c = client_index(sc, m->client);

	if (c < 0)
		return 0;
	sc->messages++;
	score_acc_message(sc->acc, (size_t)c, hash_fnv1a64(m->thread, m->thread_len, 0),
	                  m->direction == RF_DIR_OUT, !bit_test(sc, m->message));
	return 0;
}

/* Keeps the SCORE_MAX_EVIDENCE most recent occurrences, newest first. */
static void keep_evidence(struct ev_slot *slot, int64_t id, int64_t date)
{
	size_t i = SCORE_MAX_EVIDENCE;

	while (i > 0 && (slot[i - 1].id == 0 || slot[i - 1].date < date))
		i--;
	if (i >= SCORE_MAX_EVIDENCE)
		return;
	memmove(&slot[i + 1], &slot[i], (SCORE_MAX_EVIDENCE - 1 - i) * sizeof(*slot));
	slot[i] = (struct ev_slot){.id = id, .date = date};
}

static int scan_signal(void *arg, const struct store_period_signal *g)
{
	struct scan *sc = arg;
	int c = client_index(sc, g->client);
	size_t k;

	if (c < 0)
		return 0;
	for (k = 0; k < sc->n_defs; k++)
		if (strcmp(sc->defs[k].id, g->signal) == 0)
			break;
	if (k == sc->n_defs)
		return 0; /* a signal the current catalogue no longer has */
	sc->signals++;
	bit_set(sc, g->message);
	if (score_acc_signal(sc->acc, (size_t)c, hash_fnv1a64(g->thread, g->thread_len, 0), k,
	                     sc->cat[k]->once_per_thread, g->weight) &&
	    sc->ev != NULL)
		keep_evidence(&sc->ev[((size_t)c * sc->n_defs + k) * SCORE_MAX_EVIDENCE], g->id,
		              g->date);
	return 0;
}

/* Signals first: the message pass needs to know which messages carry none. */
static int scan_period(struct store *st, struct scan *sc, const struct period *p)
{
	int r = store_period_signals(st, p->start, p->end, scan_signal, sc);

	if (r == 0)
		r = store_period_messages(st, p->start, p->end, scan_message, sc);
	return r;
}

/* Ranking: verdict order, then the worst balance first (the best first among favourites). */
static int client_cmp(const void *a, const void *b)
{
	const struct score_client *x = a, *y = b;
	double bx = x->red_share - x->green_share, by = y->red_share - y->green_share;

	if (x->verdict != y->verdict)
		return x->verdict < y->verdict ? -1 : 1;
	if (bx != by)
		return bx > by ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int signal_cmp(const void *a, const void *b)
{
	const struct score_signal *x = a, *y = b;

	if (x->red != y->red)
		return x->red ? -1 : 1;
	if (x->weight != y->weight)
		return x->weight > y->weight ? -1 : 1;
	return strcmp(x->id, y->id);
}

static const struct rf_client_conf *client_conf(const struct rf_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_clients; i++)
		if (strcmp(cfg->clients[i].name, name) == 0)
			return &cfg->clients[i];
	return NULL;
}

static int lang_index(const char *lang)
{
	if (lang && strcmp(lang, "da") == 0)
		return RULES_LANG_DA;
	if (lang && strcmp(lang, "de") == 0)
		return RULES_LANG_DE;
	return RULES_LANG_EN;
}

static const char *lang_name(int i)
{
	return i == RULES_LANG_DA ? "da" : i == RULES_LANG_DE ? "de" : "en";
}

/* Fills the signal list of one report client. */
static int fill_signals(struct store *st, const struct scan *sc, size_t c,
                        const struct score_result *cur, const struct score_result *prev, int lang,
                        struct score_client *out)
{
	out->signals = xcalloc(sc->n_defs + 1, sizeof(*out->signals)); /* + old_rate */
	for (size_t k = 0; k < sc->n_defs; k++) {
		unsigned pc = prev->counts ? prev->counts[k] : 0;
		struct score_signal *s;
		const struct ev_slot *slot;

		if (cur->counts[k] == 0 && pc == 0)
			continue;
		s = &out->signals[out->n_signals++];
		s->id = sc->defs[k].id;
		s->description = sc->cat[k]->description[lang];
		s->red = sc->defs[k].red;
		s->weight = cur->weights[k];
		s->count = cur->counts[k];
		s->prev_count = pc;
		slot = &sc->ev[(c * sc->n_defs + k) * SCORE_MAX_EVIDENCE];
		for (size_t e = 0; e < SCORE_MAX_EVIDENCE && slot[e].id; e++) {
			struct score_evidence *ev = &s->evidence[s->n_evidence];
			int r =
			    store_evidence(st, slot[e].id, &ev->date, &ev->subject, &ev->excerpt);

			if (r == -ENOENT)
				continue;
			if (r < 0)
				return r;
			s->n_evidence++;
		}
	}
	return 0;
}

/* old_rate: a client-level signal with the config's note as its evidence. */
static void add_old_rate(const struct scan *sc, size_t k, const char *note, int lang, int64_t when,
                         struct score_client *out)
{
	struct score_signal *s = &out->signals[out->n_signals++];

	s->id = sc->defs[k].id;
	s->description = sc->cat[k]->description[lang];
	s->red = true;
	s->weight = sc->cat[k]->weight;
	s->count = 1;
	s->evidence[0].date = when;
	s->evidence[0].subject = xstrdup("");
	s->evidence[0].excerpt = xstrdup(note);
	s->n_evidence = 1;
}

int review_build(struct store *st, const struct rules *rules, const struct rf_config *cfg,
                 const struct period *p, const char *lang, int64_t now, struct score_report **out,
                 char *err, size_t errlen)
{
	struct build b = {0};
	struct score_params params;
	struct score_signal_def *defs = NULL;
	const struct rules_signal **cat = NULL;
	int32_t *idx = NULL;
	struct scan cur = {0}, prev = {0};
	struct period pp;
	struct score_report *rep = NULL;
	size_t n_defs = rules_signal_count(rules), old_rate_k = SIZE_MAX, praise_k = SIZE_MAX,
	       referral_k = SIZE_MAX, sent_ah_k = SIZE_MAX;
	int64_t max_id = 0, rate_when = now < p->end ? now : p->end - 1;
	int li = lang_index(lang), r;
	bool *old_rate = NULL;

	*out = NULL;
	review_params(cfg, &params);
	r = store_clients_foreach(st, cfg->clients_need_reply, collect_client, &b);
	if (r < 0)
		goto fail;

	defs = xcalloc(n_defs + 1, sizeof(*defs));
	cat = xcalloc(n_defs + 1, sizeof(*cat));
	for (size_t k = 0; k < n_defs; k++) {
		cat[k] = rules_signal_at(rules, k);
		defs[k].id = cat[k]->id;
		defs[k].red = cat[k]->red;
		for (size_t i = 0; i < ARRAY_SIZE(price_signals); i++)
			defs[k].price |= cat[k]->red && strcmp(cat[k]->id, price_signals[i]) == 0;
		if (strcmp(cat[k]->id, "old_rate") == 0)
			old_rate_k = k;
		else if (strcmp(cat[k]->id, "praise") == 0)
			praise_k = k;
		else if (strcmp(cat[k]->id, "referral") == 0)
			referral_k = k;
		else if (strcmp(cat[k]->id, "sent_after_hours") == 0)
			sent_ah_k = k;
	}

	for (size_t i = 0; i < b.n_clients; i++)
		if (b.clients[i].id > max_id)
			max_id = b.clients[i].id;
	idx = xmalloc(((size_t)max_id + 1) * sizeof(*idx));
	memset(idx, 0xff, ((size_t)max_id + 1) * sizeof(*idx));
	for (size_t i = 0; i < b.n_clients; i++)
		if (b.clients[i].id >= 0)
			idx[b.clients[i].id] = (int32_t)i;

	cur = (struct scan){
	    .idx = idx, .n_idx = (size_t)max_id + 1, .defs = defs, .cat = cat, .n_defs = n_defs};
	prev = cur;
	cur.acc = score_acc_new(&params, defs, n_defs, b.n_clients);
	prev.acc = score_acc_new(&params, defs, n_defs, b.n_clients);
	cur.ev = xcalloc(b.n_clients * n_defs * SCORE_MAX_EVIDENCE + 1, sizeof(*cur.ev));

	/* old_rate is judged from the config, the same in both periods' scorers. */
	old_rate = xcalloc(b.n_clients + 1, sizeof(*old_rate));
	for (size_t i = 0; i < b.n_clients && old_rate_k != SIZE_MAX; i++) {
		const struct rf_client_conf *cc = client_conf(cfg, b.clients[i].name);
		char ev[128];

		if (cc && cc->rate_since &&
		    classify_old_rate(cc->rate_since, cfg->old_rate_months, rate_when, ev,
		                      sizeof(ev)) == 1) {
			old_rate[i] = true;
			score_acc_old_rate(cur.acc, i, cat[old_rate_k]->weight);
		}
	}

	r = scan_period(st, &cur, p);
	if (r == 0 && period_previous(p, cfg->owner.timezone, &pp) == 0)
		r = scan_period(st, &prev, &pp);
	else
		memset(&pp, 0, sizeof(pp));
	if (r < 0)
		goto fail;

	rep = xcalloc(1, sizeof(*rep));
	snprintf(rep->period, sizeof(rep->period), "%s", p->key);
	snprintf(rep->prev_period, sizeof(rep->prev_period), "%s", pp.key);
	rep->start = p->start;
	rep->end = p->end;
	rep->generated = now;
	rep->lang = lang_name(li);
	rep->timezone = cfg->owner.timezone;
	rep->owner_name = cfg->owner.name;
	rep->params = params;
	rep->messages = cur.messages;
	rep->signals = cur.signals;
	rep->clients = xcalloc(b.n_clients + 1, sizeof(*rep->clients));
	rep->quiet = xcalloc(b.n_clients + 1, sizeof(*rep->quiet));

	for (size_t i = 0; i < b.n_clients; i++) {
		struct score_result rc, rp;
		struct score_client *c;
		const struct client_info *ci = &b.clients[i];

		score_acc_result(cur.acc, i, &rc);
		score_acc_result(prev.acc, i, &rp);
		if (!rc.active) {
			if (rp.active)
				rep->quiet[rep->n_quiet++] = (struct score_quiet){
				    .name = xstrdup(ci->name), .last_date = ci->last_date};
			continue;
		}
		c = &rep->clients[rep->n_clients++];
		c->name = xstrdup(ci->name);
		c->verdict = rc.verdict;
		c->red_share = rc.red_share;
		c->green_share = rc.green_share;
		c->red_points = rc.red_points;
		c->green_points = rc.green_points;
		c->threads = rc.threads;
		c->messages_in = rc.messages_in;
		c->messages_out = rc.messages_out;
		c->out_after_hours = sent_ah_k != SIZE_MAX ? rc.counts[sent_ah_k] : 0;
		c->first_date = ci->first_date;
		c->last_date = ci->last_date;
		c->is_new = ci->first_date >= p->start && ci->first_date < p->end;
		c->has_prev = rp.active;
		if (rp.active) {
			c->prev_verdict = rp.verdict;
			c->prev_red_share = rp.red_share;
			c->prev_green_share = rp.green_share;
		}
		r = fill_signals(st, &cur, i, &rc, rp.active ? &rp : &(struct score_result){0}, li,
		                 c);
		if (r < 0)
			goto fail;
		if (old_rate[i]) {
			const struct rf_client_conf *cc = client_conf(cfg, ci->name);
			char ev[128];

			classify_old_rate(cc->rate_since, cfg->old_rate_months, rate_when, ev,
			                  sizeof(ev));
			c->old_rate = true;
			c->old_rate_note = xstrdup(ev);
			add_old_rate(&cur, old_rate_k, ev, li, rate_when, c);
		}
		qsort(c->signals, c->n_signals, sizeof(*c->signals), signal_cmp);
		if (c->verdict == SCORE_CHERISH) {
			bool pays = true;

			if (praise_k != SIZE_MAX && rc.counts[praise_k])
				c->favourite |= SCORE_FAV_PRAISE;
			if (referral_k != SIZE_MAX && rc.counts[referral_k])
				c->favourite |= SCORE_FAV_REFERRAL;
			if (ci->first_date > 0 &&
			    p->end - ci->first_date >= (int64_t)params.loyal_years * 31556952)
				c->favourite |= SCORE_FAV_LOYAL;
			for (size_t k = 0; k < n_defs; k++)
				if (defs[k].price && rc.counts[k])
					pays = false;
			if (pays)
				c->favourite |= SCORE_FAV_PAYS;
		}
	}
	qsort(rep->clients, rep->n_clients, sizeof(*rep->clients), client_cmp);
	*out = rep;
	rep = NULL;
	r = 0;
	goto out;
fail:
	snprintf(err, errlen, "review %s: %s", p->key, store_errmsg(st));
	r = -EIO;
out:
	score_report_free(&rep);
	score_acc_free(&cur.acc);
	score_acc_free(&prev.acc);
	free(cur.ev);
	free(cur.has_signal);
	free(prev.has_signal);
	free(old_rate);
	free(idx);
	free(defs);
	free(cat);
	for (size_t i = 0; i < b.n_clients; i++)
		free(b.clients[i].name);
	free(b.clients);
	return r;
}
