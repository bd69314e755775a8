/*
 * review — one period's review from the database (see review.h).
 *
 * One pass per period over a covering index (store.c): each message of the period with
 * its client, thread, direction and the summary of its signals ("rush:1.5,payment:2"),
 * fed straight to the scorer. Evidence is not read in the scan: per client and signal only
 * the three most recent counted occurrences (message id and date) are kept, and their
 * subjects and excerpts are fetched at the end in message order, so a million signals cost
 * a million short index entries, not a million rows.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redflag/classify.h"
#include "redflag/log.h"
#include "redflag/review.h"
#include "redflag/util.h"

/* Red signals that call for a price conversation rather than a talk about behaviour. */
static const char *const price_signals[] = {"discount", "payment", "old_rate"};

struct client_info {
	int64_t id;
	char *name;
	int64_t first_date, last_date, onboarded_at;
};

struct ev_slot {
	int64_t message, date; /* messages.id and date; message 0 = empty */
};

struct scan {
	struct score_acc *acc;
	const int32_t *idx; /* clients.id → client index, -1 = not listed */
	size_t n_idx;
	const struct score_signal_def *defs;
	const struct rules_signal *const *cat; /* catalogue entries, parallel to defs */
	size_t n_defs;
	struct ev_slot *ev; /* n_clients × n_defs × SCORE_MAX_EVIDENCE, or NULL */
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
	    .onboarded_at = r->onboarded_at,
	};
	return 0;
}

static int client_index(const struct scan *sc, int64_t id)
{
	if (id < 0 || (uint64_t)id >= sc->n_idx)
		return -1;
	return sc->idx[id];
}

/* Keeps the SCORE_MAX_EVIDENCE most recent occurrences, newest first. */
static void keep_evidence(struct ev_slot *slot, int64_t message, int64_t date)
{
	size_t i = SCORE_MAX_EVIDENCE;

	while (i > 0 && (slot[i - 1].message == 0 || slot[i - 1].date < date))
		i--;
	if (i >= SCORE_MAX_EVIDENCE)
		return;
	memmove(&slot[i + 1], &slot[i], (SCORE_MAX_EVIDENCE - 1 - i) * sizeof(*slot));
	slot[i] = (struct ev_slot){.message = message, .date = date};
}

/* The catalogue index of the signal named by s[0, n), or n_defs. */
static size_t find_def(const struct scan *sc, const char *s, size_t n)
{
	for (size_t k = 0; k < sc->n_defs; k++)
		if (sc->defs[k].id[0] == s[0] && strncmp(sc->defs[k].id, s, n) == 0 &&
		    sc->defs[k].id[n] == '\0')
			return k;
	return sc->n_defs;
}

/*
 * A weight as "%g" or SQLite wrote it ("1.5", "2", "2.0"): a million of them make strtod()
 * (locale-aware, arbitrary precision) a visible cost. Anything unusual falls back to it.
 */
static double parse_weight(const char *s, char **end)
{
	double v = 0, scale = 1;
	const char *p = s;

	while (*p >= '0' && *p <= '9')
		v = v * 10 + (*p++ - '0');
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			v += (*p - '0') * (scale /= 10);
	if (p == s || *p == 'e' || *p == 'E')
		return strtod(s, end);
	*end = (char *)p;
	return v;
}

static int scan_message(void *arg, const struct store_period_msg *m)
{
	struct scan *sc = arg;
	int c = client_index(sc, m->client);
	const char *p = m->signals;
	uint32_t thread;
	bool neutral = true;

	if (c < 0)
		return 0;
	sc->messages++;
	thread = score_acc_thread(sc->acc, (size_t)c, hash_fnv1a64(m->thread, m->thread_len, 0));
	/* "id:weight,id:weight": ids and weights as store_signals_set() wrote them. */
	while (*p != '\0') {
		const char *colon = strchr(p, ':'), *end;
		char *num_end;
		double w;
		size_t k;

		if (colon == NULL)
			break;
		w = parse_weight(colon + 1, &num_end);
		end = strchr(num_end, ',');
		k = find_def(sc, p, (size_t)(colon - p));
		if (k < sc->n_defs) {
			neutral = false;
			sc->signals++;
			if (score_acc_signal_in(sc->acc, thread, k, sc->cat[k]->once_per_thread,
			                        w) &&
			    sc->ev != NULL)
				keep_evidence(
				    &sc->ev[((size_t)c * sc->n_defs + k) * SCORE_MAX_EVIDENCE],
				    m->message, m->date);
		}
		if (end == NULL)
			break;
		p = end + 1;
	}
	score_acc_message_in(sc->acc, thread, m->direction == RF_DIR_OUT, neutral);
	return 0;
}

static int scan_period(struct store *st, struct scan *sc, const struct period *p)
{
	int64_t t0 = now_ms();
	int r = store_period_messages(st, p->start, p->end, scan_message, sc);

	log_debug("review %s: %llu messages, %llu signals: %lld ms", p->key,
	          (unsigned long long)sc->messages, (unsigned long long)sc->signals,
	          (long long)(now_ms() - t0));
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
/* Evidence read ahead of the report, in message order. */
struct ev_row {
	size_t slot; /* index into scan.ev */
	int64_t message, date;
	char *subject, *excerpt; /* moved into the report when used */
};

static int ev_row_cmp(const void *a, const void *b)
{
	const struct ev_row *x = a, *y = b;

	return x->message < y->message ? -1 : x->message > y->message;
}

/*
 * Reads the evidence of every kept slot, in message order (neighbouring rows share pages);
 * *rows is then indexed through *by_slot (slot → row + 1, 0 = none).
 */
static int read_evidence(struct store *st, const struct scan *sc, size_t n_clients,
                         struct ev_row **rows, size_t *n_rows, uint32_t **by_slot)
{
	size_t n_slots = n_clients * sc->n_defs * SCORE_MAX_EVIDENCE, n = 0;
	int r = 0;

	*rows = xcalloc(n_slots + 1, sizeof(**rows));
	*by_slot = xcalloc(n_slots + 1, sizeof(**by_slot));
	for (size_t i = 0; i < n_slots; i++)
		if (sc->ev[i].message)
			(*rows)[n++] = (struct ev_row){.slot = i, .message = sc->ev[i].message};
	qsort(*rows, n, sizeof(**rows), ev_row_cmp);
	*n_rows = n;
	for (size_t i = 0; i < n && r == 0; i++) {
		struct ev_row *e = &(*rows)[i];
		size_t k = e->slot / SCORE_MAX_EVIDENCE % sc->n_defs;

		r = store_evidence(st, e->message, sc->defs[k].id, &e->date, &e->subject,
		                   &e->excerpt);
		if (r == 0)
			(*by_slot)[e->slot] = (uint32_t)i + 1;
		else if (r == -ENOENT)
			r = 0; /* reclassified meanwhile: no evidence rather than a wrong one */
	}
	return r;
}

static void fill_signals(struct ev_row *rows, const uint32_t *by_slot, const struct scan *sc,
                         size_t c, const struct score_result *cur, const struct score_result *prev,
                         int lang, struct score_client *out)
{
	out->signals = xcalloc(sc->n_defs + 1, sizeof(*out->signals)); /* + old_rate */
	for (size_t k = 0; k < sc->n_defs; k++) {
		unsigned pc = prev->counts ? prev->counts[k] : 0;
		struct score_signal *s;
		size_t slot;

		if (cur->counts[k] == 0 && pc == 0)
			continue;
		s = &out->signals[out->n_signals++];
		s->id = sc->defs[k].id;
		s->description = sc->cat[k]->description[lang];
		s->red = sc->defs[k].red;
		s->weight = cur->weights[k];
		s->count = cur->counts[k];
		s->prev_count = pc;
		slot = (c * sc->n_defs + k) * SCORE_MAX_EVIDENCE;
		for (size_t e = 0; e < SCORE_MAX_EVIDENCE && sc->ev[slot + e].message; e++) {
			struct ev_row *row;
			struct score_evidence *ev = &s->evidence[s->n_evidence];

			if (by_slot[slot + e] == 0)
				continue;
			row = &rows[by_slot[slot + e] - 1];
			ev->date = row->date;
			ev->subject = row->subject;
			ev->excerpt = row->excerpt;
			row->subject = row->excerpt = NULL;
			s->n_evidence++;
		}
	}
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
	       referral_k = SIZE_MAX, sent_ah_k = SIZE_MAX, after_hours_k = SIZE_MAX;
	int64_t max_id = 0, rate_when = now < p->end ? now : p->end - 1;
	int li = lang_index(lang), r;
	char **old_rate = NULL; /* per client: the old-rate note, NULL = not on an old rate */
	struct ev_row *ev_rows = NULL;
	uint32_t *ev_by_slot = NULL;
	int64_t t0, t1;
	size_t n_ev_rows = 0;

	*out = NULL;
	review_params(cfg, &params);
	/* One snapshot for every read below: consistent, and one lock instead of thousands. */
	r = store_begin_read(st);
	if (r < 0)
		goto fail;
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
		else if (strcmp(cat[k]->id, "after_hours") == 0)
			after_hours_k = k;
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

	/*
	 * old_rate comes from the config, judged once at the report's time, for this period's
	 * verdict only; the note ("rate since ...") is its evidence.
	 */
	old_rate = xcalloc(b.n_clients + 1, sizeof(*old_rate));
	for (size_t i = 0; i < b.n_clients && old_rate_k != SIZE_MAX; i++) {
		const struct rf_client_conf *cc = client_conf(cfg, b.clients[i].name);
		char ev[128];

		if (cc && cc->rate_since &&
		    classify_old_rate(cc->rate_since, cfg->old_rate_months, rate_when, ev,
		                      sizeof(ev)) == 1) {
			old_rate[i] = xstrdup(ev);
			score_acc_old_rate(cur.acc, i);
		}
	}

	t0 = now_ms();
	r = scan_period(st, &cur, p);
	if (r == 0 && period_previous(p, cfg->owner.timezone, &pp) == 0)
		r = scan_period(st, &prev, &pp);
	else
		memset(&pp, 0, sizeof(pp));
	if (r < 0)
		goto fail;

	t1 = now_ms();
	r = read_evidence(st, &cur, b.n_clients, &ev_rows, &n_ev_rows, &ev_by_slot);
	if (r < 0)
		goto fail;
	log_debug("review %s: %zu clients, %llu messages, %llu signals: scans %lld ms, "
	          "%zu pieces of evidence %lld ms",
	          p->key, b.n_clients, (unsigned long long)cur.messages,
	          (unsigned long long)cur.signals, (long long)(t1 - t0), n_ev_rows,
	          (long long)(now_ms() - t1));

	rep = xcalloc(1, sizeof(*rep));
	snprintf(rep->period, sizeof(rep->period), "%s", p->key);
	snprintf(rep->prev_period, sizeof(rep->prev_period), "%s", pp.key);
	rep->start = p->start;
	rep->end = p->end;
	rep->generated = now;
	rep->lang = lang_name(li);
	rep->timezone = cfg->owner.timezone;
	rep->owner_name = cfg->owner.name;
	rep->feedback_folder = cfg->feedback_folder;
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
		c->onboarded_at = ci->onboarded_at;
		/*
		 * The onboarding mail states the working hours: asking for evening or weekend work
		 * after receiving it contradicts a stated term.
		 */
		c->hours_contradicted = ci->onboarded_at != 0 && ci->onboarded_at < p->end &&
		                        after_hours_k != SIZE_MAX && rc.counts[after_hours_k] > 0;
		c->has_prev = rp.active;
		if (rp.active) {
			c->prev_verdict = rp.verdict;
			c->prev_red_share = rp.red_share;
			c->prev_green_share = rp.green_share;
		}
		fill_signals(ev_rows, ev_by_slot, &cur, i, &rc,
		             rp.active ? &rp : &(struct score_result){0}, li, c);
		if (old_rate[i]) {
			c->old_rate = true;
			c->old_rate_note = xstrdup(old_rate[i]);
			add_old_rate(&cur, old_rate_k, old_rate[i], li, rate_when, c);
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
	store_rollback(st); /* ends the read transaction; nothing was written */
	score_report_free(&rep);
	score_acc_free(&cur.acc);
	score_acc_free(&prev.acc);
	free(cur.ev);
	for (size_t i = 0; i < n_ev_rows; i++) {
		free(ev_rows[i].subject);
		free(ev_rows[i].excerpt);
	}
	free(ev_rows);
	free(ev_by_slot);
	for (size_t i = 0; old_rate && i < b.n_clients; i++)
		free(old_rate[i]);
	free(old_rate);
	free(idx);
	free(defs);
	free(cat);
	for (size_t i = 0; i < b.n_clients; i++)
		free(b.clients[i].name);
	free(b.clients);
	return r;
}
