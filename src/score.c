/*
 * score — per-client verdicts from threads and their signals (model in score.h).
 *
 * Two hash tables keep the accumulator small enough for a million signals in a few MB:
 * threads, keyed by (client, thread), and per thread a short list of the signals seen in
 * it with the highest weight so far (a node pool, not one array per thread, because most
 * threads carry no signal at all).
 */
#include <stdlib.h>
#include <string.h>

#include "redflag/score.h"
#include "redflag/util.h"

/* A message without any signal counts this many points of neutral volume. */
#define NEUTRAL_POINTS 1.0

static const char *const verdict_names[SCORE_N_VERDICTS] = {
    [SCORE_RELEASE] = "release", [SCORE_TALK] = "talk",       [SCORE_RAISE_PRICE] = "raise_price",
    [SCORE_KEEP] = "keep",       [SCORE_CHERISH] = "cherish",
};

const char *score_verdict_name(enum score_verdict v)
{
	return (unsigned)v < SCORE_N_VERDICTS ? verdict_names[v] : "keep";
}

int score_verdict_rank(enum score_verdict v)
{
	switch (v) {
	case SCORE_CHERISH:
		return 0;
	case SCORE_RAISE_PRICE:
	case SCORE_TALK:
		return 2;
	case SCORE_RELEASE:
		return 3;
	default:
		return 1;
	}
}

void score_params_default(struct score_params *p)
{
	*p = (struct score_params){
	    .act = 0.30,
	    .release = 0.80,
	    .cherish = 0.30,
	    .cherish_red_max = 0.10,
	    .min_volume = 5,
	    .loyal_years = 2,
	};
}

enum score_verdict score_verdict(const struct score_params *p, double red_share, double green_share,
                                 bool old_rate, double price_w, double other_w)
{
	double balance = red_share - green_share;

	if (balance >= p->release)
		return SCORE_RELEASE;
	if (balance >= p->act)
		return price_w >= other_w ? SCORE_RAISE_PRICE : SCORE_TALK;
	if (old_rate)
		return SCORE_RAISE_PRICE;
	if (green_share >= p->cherish && red_share <= p->cherish_red_max)
		return SCORE_CHERISH;
	return SCORE_KEEP;
}

struct thread {
	uint64_t key;    /* well-mixed hash of (client, thread) */
	uint32_t client; /* with key, the identity */
	uint32_t head;   /* first node of its signal list + 1; 0 = no signal yet */
};

struct node {
	uint32_t next; /* next node + 1; 0 = end */
	uint16_t sig;
	float w; /* highest weight of sig in this thread */
};

/* A hash slot holds the whole identity, so a lookup touches one cache line. */
struct slot {
	uint64_t key;
	uint32_t client;
	uint32_t index; /* thread index + 1; 0 = empty */
};

struct client_acc {
	unsigned threads, neutral;
	unsigned messages_in, messages_out;
	bool old_rate;
	double red, green, price_w, other_w;
};

struct score_acc {
	struct score_params p;
	const struct score_signal_def *defs;
	size_t n_defs;
	size_t n_clients;
	struct client_acc *clients;
	unsigned *counts; /* n_clients × n_defs */
	double *weights;  /* n_clients × n_defs */
	/*
	 * Threads live in a dense array (their index is the handle callers keep); an open
	 * addressing table of indexes + 1 finds them by key. The table is rebuilt when it grows,
	 * the array only reallocated, so handles stay valid.
	 */
	struct thread *threads;
	size_t n_threads, cap_threads;
	struct slot *slots;
	size_t cap; /* power of two */
	struct node *nodes;
	size_t n_nodes, cap_nodes;
};

struct score_acc *score_acc_new(const struct score_params *p, const struct score_signal_def *defs,
                                size_t n_defs, size_t n_clients)
{
	struct score_acc *a = xcalloc(1, sizeof(*a));

	a->p = *p;
	a->defs = defs;
	a->n_defs = n_defs;
	a->n_clients = n_clients;
	a->clients = xcalloc(n_clients ? n_clients : 1, sizeof(*a->clients));
	a->counts = xcalloc(n_clients * n_defs + 1, sizeof(*a->counts));
	a->weights = xcalloc(n_clients * n_defs + 1, sizeof(*a->weights));
	a->cap = 1024;
	a->slots = xcalloc(a->cap, sizeof(*a->slots));
	return a;
}

void score_acc_free(struct score_acc **acc)
{
	struct score_acc *a = *acc;

	if (a == NULL)
		return;
	free(a->clients);
	free(a->counts);
	free(a->weights);
	free(a->threads);
	free(a->slots);
	free(a->nodes);
	free(a);
	*acc = NULL;
}

/* A well-mixed key for (client, thread). */
static uint64_t thread_key(size_t client, uint64_t thread)
{
	uint64_t k = thread ^ ((uint64_t)client * 0x9E3779B97F4A7C15ULL);

	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return k;
}

static void grow(struct score_acc *a)
{
	a->cap *= 2;
	free(a->slots);
	a->slots = xcalloc(a->cap, sizeof(*a->slots));
	for (size_t i = 0; i < a->n_threads; i++) {
		const struct thread *t = &a->threads[i];
		size_t j;

		for (j = t->key & (a->cap - 1); a->slots[j].index; j = (j + 1) & (a->cap - 1))
			;
		a->slots[j] =
		    (struct slot){.key = t->key, .client = t->client, .index = (uint32_t)i + 1};
	}
}

uint32_t score_acc_thread(struct score_acc *a, size_t client, uint64_t thread)
{
	uint64_t k = thread_key(client, thread);
	size_t j;

	if (client >= a->n_clients)
		return UINT32_MAX;
	if ((a->n_threads + 1) * 2 > a->cap)
		grow(a);
	for (j = k & (a->cap - 1); a->slots[j].index; j = (j + 1) & (a->cap - 1))
		if (a->slots[j].key == k && a->slots[j].client == client)
			return a->slots[j].index - 1;
	if (a->n_threads == a->cap_threads) {
		a->cap_threads = a->cap_threads ? 2 * a->cap_threads : 1024;
		a->threads = xreallocarray(a->threads, a->cap_threads, sizeof(*a->threads));
	}
	a->threads[a->n_threads] = (struct thread){.key = k, .client = (uint32_t)client};
	a->slots[j] =
	    (struct slot){.key = k, .client = (uint32_t)client, .index = (uint32_t)++a->n_threads};
	a->clients[client].threads++;
	return (uint32_t)(a->n_threads - 1);
}

void score_acc_message_in(struct score_acc *a, uint32_t thread, bool out, bool neutral)
{
	struct client_acc *c;

	if (thread >= a->n_threads)
		return;
	c = &a->clients[a->threads[thread].client];
	if (out)
		c->messages_out++;
	else
		c->messages_in++;
	c->neutral += neutral;
}

void score_acc_message(struct score_acc *a, size_t client, uint64_t thread, bool out, bool neutral)
{
	score_acc_message_in(a, score_acc_thread(a, client, thread), out, neutral);
}

/* Adds delta points of signal sig to the client's sides. */
static void add_points(struct score_acc *a, size_t client, size_t sig, double delta)
{
	struct client_acc *c = &a->clients[client];
	const struct score_signal_def *d = &a->defs[sig];

	a->weights[client * a->n_defs + sig] += delta;
	if (!d->red)
		c->green += delta;
	else if (d->price)
		c->red += delta, c->price_w += delta;
	else
		c->red += delta, c->other_w += delta;
}

bool score_acc_signal_in(struct score_acc *a, uint32_t thread, size_t sig, bool once_per_thread,
                         double w)
{
	struct thread *t;
	struct node *n = NULL;
	size_t client;

	if (thread >= a->n_threads || sig >= a->n_defs)
		return false;
	if (w < 0)
		w = 0;
	t = &a->threads[thread];
	client = t->client;
	for (uint32_t i = t->head; i; i = a->nodes[i - 1].next)
		if (a->nodes[i - 1].sig == sig) {
			n = &a->nodes[i - 1];
			break;
		}
	if (n == NULL) {
		if (a->n_nodes == a->cap_nodes) {
			a->cap_nodes = a->cap_nodes ? a->cap_nodes * 2 : 1024;
			a->nodes = xreallocarray(a->nodes, a->cap_nodes, sizeof(*a->nodes));
		}
		n = &a->nodes[a->n_nodes++];
		*n = (struct node){.next = t->head, .sig = (uint16_t)sig, .w = (float)w};
		t->head = (uint32_t)a->n_nodes;
		a->counts[client * a->n_defs + sig]++;
		add_points(a, client, sig, (float)w);
		return true;
	}
	/* Seen in this thread before: only a heavier occurrence adds (the difference). */
	if ((float)w > n->w) {
		add_points(a, client, sig, (float)w - n->w);
		n->w = (float)w;
	}
	if (once_per_thread)
		return false;
	a->counts[client * a->n_defs + sig]++;
	return true;
}

bool score_acc_signal(struct score_acc *a, size_t client, uint64_t thread, size_t sig,
                      bool once_per_thread, double w)
{
	if (client >= a->n_clients || sig >= a->n_defs)
		return false;
	return score_acc_signal_in(a, score_acc_thread(a, client, thread), sig, once_per_thread, w);
}

void score_acc_old_rate(struct score_acc *a, size_t client)
{
	if (client < a->n_clients)
		a->clients[client].old_rate = true;
}

void score_acc_result(const struct score_acc *a, size_t client, struct score_result *out)
{
	const struct client_acc *c;
	double d;

	memset(out, 0, sizeof(*out));
	out->verdict = SCORE_KEEP;
	if (client >= a->n_clients)
		return;
	c = &a->clients[client];
	d = c->red + c->green + NEUTRAL_POINTS * c->neutral;
	out->volume = d;
	if (d < a->p.min_volume)
		d = a->p.min_volume;
	if (d <= 0)
		d = 1;
	out->red_points = c->red;
	out->green_points = c->green;
	out->red_share = c->red / d;
	out->green_share = c->green / d;
	out->threads = c->threads;
	out->messages_in = c->messages_in;
	out->messages_out = c->messages_out;
	out->active = c->messages_in + c->messages_out > 0;
	out->counts = &a->counts[client * a->n_defs];
	out->weights = &a->weights[client * a->n_defs];
	out->price_w = c->price_w;
	out->other_w = c->other_w;
	out->verdict = score_verdict(&a->p, out->red_share, out->green_share, c->old_rate,
	                             out->price_w, out->other_w);
}

void score_report_free(struct score_report **rp)
{
	struct score_report *r = *rp;

	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n_clients; i++) {
		struct score_client *c = &r->clients[i];

		for (size_t k = 0; k < c->n_signals; k++)
			for (size_t e = 0; e < c->signals[k].n_evidence; e++) {
				free(c->signals[k].evidence[e].subject);
				free(c->signals[k].evidence[e].excerpt);
			}
		free(c->signals);
		free(c->name);
		free(c->old_rate_note);
	}
	free(r->clients);
	for (size_t i = 0; i < r->n_quiet; i++)
		free(r->quiet[i].name);
	free(r->quiet);
	free(r);
	*rp = NULL;
}
