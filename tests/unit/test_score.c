/*
 * score: the verdict model's promises, checked over many generated client histories and a
 * table of threshold settings, plus worked examples.
 *
 * Properties (score.h): adding a red-flag message never improves a verdict, adding a green
 * one never worsens it, doubling all of a client's mail at the same rates keeps the verdict
 * (once the client has min_volume points), and a client without signals is kept.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "redflag/score.h"
#include "redflag/util.h"

enum { RUSH, DISCOUNT, PAYMENT, RECEIVED_AH, PRAISE, REFERRAL, N_DEFS };

static const struct score_signal_def defs[N_DEFS] = {
    [RUSH] = {"rush", true, false},      [DISCOUNT] = {"discount", true, true},
    [PAYMENT] = {"payment", true, true}, [RECEIVED_AH] = {"received_after_hours", true, false},
    [PRAISE] = {"praise", false, false}, [REFERRAL] = {"referral", false, false},
};
static const bool once[N_DEFS] = {true, true, true, false, true, true};

/* One message of a history: its thread, direction and up to three signals. */
struct hmsg {
	uint64_t thread;
	bool out;
	int sig[3]; /* -1 = none */
	double w[3];
};

struct history {
	struct hmsg m[160];
	size_t n;
	bool old_rate;
};

/* A small deterministic generator (no dependence on libc's rand()). */
static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)((rng_state >> 33) % n);
}

static double rnd_weight(void)
{
	static const double w[] = {0.3, 0.5, 1.0, 1.5, 2.0, 3.0};

	return w[rnd(ARRAY_SIZE(w))];
}

static void gen_history(struct history *h)
{
	size_t threads = 1 + rnd(20);

	memset(h, 0, sizeof(*h));
	h->n = 1 + rnd(60);
	h->old_rate = rnd(10) == 0;
	for (size_t i = 0; i < h->n; i++) {
		struct hmsg *m = &h->m[i];

		m->thread = 1 + rnd((uint32_t)threads);
		m->out = rnd(3) == 0;
		for (int k = 0; k < 3; k++) {
			m->sig[k] = rnd(3) == 0 ? (int)rnd(N_DEFS) : -1;
			m->w[k] = rnd_weight();
		}
	}
}

static enum score_verdict verdict_of(const struct score_params *p, const struct history *h,
                                     struct score_result *res_out)
{
	struct score_acc *acc = score_acc_new(p, defs, N_DEFS, 2);
	struct score_result res;

	/* Client 1 gets noise that must not leak into client 0. */
	score_acc_message(acc, 1, 7, false, false);
	score_acc_signal(acc, 1, 7, RUSH, true, 3.0);
	score_acc_message(acc, 1, 8, false, true);
	for (size_t i = 0; i < h->n; i++) {
		score_acc_message(acc, 0, h->m[i].thread, h->m[i].out,
		                  h->m[i].sig[0] < 0 && h->m[i].sig[1] < 0 && h->m[i].sig[2] < 0);
		for (int k = 0; k < 3; k++)
			if (h->m[i].sig[k] >= 0)
				score_acc_signal(acc, 0, h->m[i].thread, (size_t)h->m[i].sig[k],
				                 once[h->m[i].sig[k]], h->m[i].w[k]);
	}
	if (h->old_rate)
		score_acc_old_rate(acc, 0);
	score_acc_result(acc, 0, &res);
	if (res_out) {
		*res_out = res;
		res_out->counts = NULL;
		res_out->weights = NULL;
	}
	score_acc_free(&acc);
	return res.verdict;
}

/* Threshold settings the properties must hold for (the defaults first). */
static const struct score_params settings[] = {
    {0.30, 0.80, 0.30, 0.10, 5, 2},
    {0.05, 0.10, 0.05, 0.00, 1, 2},
    {0.40, 0.90, 0.60, 0.50, 10, 2},
    {0.15, 0.45, 0.20, 0.10, 1, 2},
};

#define HISTORIES 400

/* Appends one message with one signal of the given polarity (new or existing thread). */
static void add_flag(struct history *h, bool red)
{
	static const int reds[] = {RUSH, DISCOUNT, PAYMENT, RECEIVED_AH};
	static const int greens[] = {PRAISE, REFERRAL};
	struct hmsg *m = &h->m[h->n++];

	memset(m, 0, sizeof(*m));
	m->thread = rnd(2) ? 1000 + h->n : 1 + rnd(20);
	m->out = false;
	m->sig[0] = red ? reds[rnd(ARRAY_SIZE(reds))] : greens[rnd(ARRAY_SIZE(greens))];
	m->w[0] = rnd_weight();
	m->sig[1] = m->sig[2] = -1;
}

static void property_adding(bool red)
{
	for (size_t s = 0; s < ARRAY_SIZE(settings); s++) {
		rng_state = 42 + s;
		for (int i = 0; i < HISTORIES; i++) {
			struct history h;
			enum score_verdict before, after;

			gen_history(&h);
			before = verdict_of(&settings[s], &h, NULL);
			for (int j = 0; j < 5; j++) {
				add_flag(&h, red);
				after = verdict_of(&settings[s], &h, NULL);
				if (red && score_verdict_rank(after) < score_verdict_rank(before))
					fail_msg(
					    "setting %zu history %d: red flag improved %s to %s", s,
					    i, score_verdict_name(before),
					    score_verdict_name(after));
				if (!red && score_verdict_rank(after) > score_verdict_rank(before))
					fail_msg(
					    "setting %zu history %d: green flag worsened %s to %s",
					    s, i, score_verdict_name(before),
					    score_verdict_name(after));
				before = after;
			}
		}
	}
}

static void test_red_never_improves(void **state)
{
	(void)state;
	property_adding(true);
}

static void test_green_never_worsens(void **state)
{
	(void)state;
	property_adding(false);
}

static void test_doubling_keeps_verdict(void **state)
{
	int checked = 0;

	(void)state;
	for (size_t s = 0; s < ARRAY_SIZE(settings); s++) {
		rng_state = 4242 + s;
		for (int i = 0; i < HISTORIES; i++) {
			struct history h, d;
			struct score_result r1, r2;

			gen_history(&h);
			/* The same mail again in new threads: every rate stays the same. */
			d = h;
			for (size_t k = 0; k < h.n; k++) {
				d.m[h.n + k] = h.m[k];
				d.m[h.n + k].thread += 100000;
			}
			d.n = 2 * h.n;
			verdict_of(&settings[s], &h, &r1);
			verdict_of(&settings[s], &d, &r2);
			if (r1.volume < settings[s].min_volume)
				continue; /* below the floor the shares are damped on purpose */
			assert_true(r2.red_share - r1.red_share < 1e-9 &&
			            r1.red_share - r2.red_share < 1e-9);
			if (r1.verdict != r2.verdict)
				fail_msg("setting %zu history %d: doubling changed %s to %s", s, i,
				         score_verdict_name(r1.verdict),
				         score_verdict_name(r2.verdict));
			checked++;
		}
	}
	/* Most generated histories are above the floor: the property was really exercised. */
	assert_true(checked > HISTORIES);
}

static void test_no_signals_is_keep(void **state)
{
	struct score_params p;

	(void)state;
	score_params_default(&p);
	for (unsigned n = 0; n < 50; n += 7) {
		struct history h = {.n = n};
		struct score_result r;

		for (size_t i = 0; i < n; i++)
			h.m[i] = (struct hmsg){.thread = i % 5, .out = i % 2, .sig = {-1, -1, -1}};
		for (size_t s = 0; s < ARRAY_SIZE(settings); s++)
			assert_int_equal(verdict_of(&settings[s], &h, NULL), SCORE_KEEP);
		verdict_of(&p, &h, &r);
		assert_true(r.red_share == 0 && r.green_share == 0);
	}
}

/* Worked examples with the default thresholds; threads are listed as their signals. */
static const struct example {
	const char *what;
	int threads;     /* threads in total */
	int sigs[12][2]; /* {thread, signal}; thread -1 ends the list */
	bool old_rate;
	enum score_verdict want;
} examples[] = {
    {"quiet client, two mails", 2, {{-1, 0}}, false, SCORE_KEEP},
    {"one rush in ten threads", 10, {{0, RUSH}, {-1, 0}}, false, SCORE_KEEP},
    {"rush in three of ten threads",
     10,
     {{0, RUSH}, {1, RUSH}, {2, RUSH}, {-1, 0}},
     false,
     SCORE_TALK},
    {"rush in two of ten threads is not yet a pattern",
     10,
     {{0, RUSH}, {1, RUSH}, {-1, 0}},
     false,
     SCORE_KEEP},
    {"rush in four of ten threads",
     10,
     {{0, RUSH}, {1, RUSH}, {2, RUSH}, {3, RUSH}, {-1, 0}},
     false,
     SCORE_TALK},
    {"haggling and reminders",
     10,
     {{0, DISCOUNT}, {1, PAYMENT}, {2, DISCOUNT}, {-1, 0}},
     false,
     SCORE_RAISE_PRICE},
    {"everything goes wrong",
     6,
     {{0, RUSH}, {1, PAYMENT}, {2, DISCOUNT}, {3, RUSH}, {4, RUSH}, {5, PAYMENT}, {-1, 0}},
     false,
     SCORE_RELEASE},
    {"praise and referrals",
     10,
     {{0, PRAISE}, {1, PRAISE}, {2, REFERRAL}, {3, PRAISE}, {-1, 0}},
     false,
     SCORE_CHERISH},
    {"praise but also rushing",
     10,
     {{0, PRAISE}, {1, PRAISE}, {2, RUSH}, {3, RUSH}, {-1, 0}},
     false,
     SCORE_KEEP},
    {"a single mail with a rush is not enough to condemn",
     1,
     {{0, RUSH}, {-1, 0}},
     false,
     SCORE_KEEP},
    {"old rate, nothing else", 8, {{-1, 0}}, true, SCORE_RAISE_PRICE},
    {"five rushes in one thread count once",
     10,
     {{0, RUSH}, {0, RUSH}, {0, RUSH}, {0, RUSH}, {0, RUSH}, {-1, 0}},
     false,
     SCORE_KEEP},
};

static void test_examples(void **state)
{
	struct score_params p;

	(void)state;
	score_params_default(&p);
	for (size_t i = 0; i < ARRAY_SIZE(examples); i++) {
		const struct example *e = &examples[i];
		struct score_acc *acc = score_acc_new(&p, defs, N_DEFS, 1);
		struct score_result r;

		for (int t = 0; t < e->threads; t++) {
			bool neutral = true;

			for (int k = 0; e->sigs[k][0] >= 0; k++)
				neutral &= e->sigs[k][0] != t;
			score_acc_message(acc, 0, (uint64_t)t, false, neutral);
		}
		for (int k = 0; e->sigs[k][0] >= 0; k++)
			score_acc_signal(acc, 0, (uint64_t)e->sigs[k][0], (size_t)e->sigs[k][1],
			                 once[e->sigs[k][1]], 1.0);
		if (e->old_rate)
			score_acc_old_rate(acc, 0);
		score_acc_result(acc, 0, &r);
		if (r.verdict != e->want)
			fail_msg("%s: %s (red %.2f green %.2f), want %s", e->what,
			         score_verdict_name(r.verdict), r.red_share, r.green_share,
			         score_verdict_name(e->want));
		score_acc_free(&acc);
	}
}

/* Counting: once per thread keeps the heaviest weight; per-message signals count each. */
static void test_counting(void **state)
{
	struct score_params p;
	struct score_acc *acc;
	struct score_result r;

	(void)state;
	score_params_default(&p);
	acc = score_acc_new(&p, defs, N_DEFS, 1);
	score_acc_message(acc, 0, 1, false, false);
	score_acc_message(acc, 0, 1, true, false);
	score_acc_message(acc, 0, 2, false, false);
	assert_true(score_acc_signal(acc, 0, 1, RUSH, true, 1.0));
	assert_false(score_acc_signal(acc, 0, 1, RUSH, true, 2.0)); /* same thread: not again */
	assert_true(score_acc_signal(acc, 0, 2, RUSH, true, 1.0));
	assert_true(score_acc_signal(acc, 0, 1, RECEIVED_AH, false, 0.5));
	assert_true(score_acc_signal(acc, 0, 1, RECEIVED_AH, false, 0.5));
	assert_false(score_acc_signal(acc, 0, 1, 99, true, 1.0)); /* unknown signal index */
	score_acc_result(acc, 0, &r);
	assert_int_equal(r.threads, 2);
	assert_int_equal(r.messages_in, 2);
	assert_int_equal(r.messages_out, 1);
	assert_int_equal(r.counts[RUSH], 2);
	assert_int_equal(r.counts[RECEIVED_AH], 2);
	/* rush: 2.0 (heaviest in thread 1) + 1.0; received_after_hours once per thread: 0.5. */
	assert_true(r.weights[RUSH] > 2.99 && r.weights[RUSH] < 3.01);
	assert_true(r.red_points > 3.49 && r.red_points < 3.51);
	/* No neutral message: volume 3.5, under the floor of 5, so the share is 3.5 / 5. */
	assert_true(r.volume > 3.49 && r.volume < 3.51);
	assert_true(r.red_share > 0.69 && r.red_share < 0.71);
	assert_int_equal(r.verdict, SCORE_TALK);
	score_acc_free(&acc);
	score_acc_free(&acc); /* NULL is fine */
}

static void test_names_and_ranks(void **state)
{
	(void)state;
	assert_string_equal(score_verdict_name(SCORE_RELEASE), "release");
	assert_string_equal(score_verdict_name(SCORE_RAISE_PRICE), "raise_price");
	assert_string_equal(score_verdict_name(SCORE_CHERISH), "cherish");
	assert_int_equal(score_verdict_rank(SCORE_TALK), score_verdict_rank(SCORE_RAISE_PRICE));
	assert_true(score_verdict_rank(SCORE_CHERISH) < score_verdict_rank(SCORE_KEEP));
	assert_true(score_verdict_rank(SCORE_KEEP) < score_verdict_rank(SCORE_TALK));
	assert_true(score_verdict_rank(SCORE_TALK) < score_verdict_rank(SCORE_RELEASE));
}

/* Many threads and clients: the hash table grows and keeps every thread apart. */
static void test_many_threads(void **state)
{
	struct score_params p;
	struct score_acc *acc;
	struct score_result r;

	(void)state;
	score_params_default(&p);
	acc = score_acc_new(&p, defs, N_DEFS, 100);
	for (uint64_t t = 0; t < 20000; t++) {
		score_acc_message(acc, t % 100, t / 100, false, true);
		score_acc_message(acc, t % 100, t / 100, true, true);
	}
	score_acc_signal(acc, 5, 3, PRAISE, true, 1.0);
	score_acc_result(acc, 5, &r);
	assert_int_equal(r.threads, 200);
	assert_int_equal(r.messages_in, 200);
	assert_int_equal(r.counts[PRAISE], 1);
	assert_true(r.volume > 400.9 && r.volume < 401.1); /* 400 neutral messages + praise */
	score_acc_result(acc, 6, &r);
	assert_int_equal(r.counts[PRAISE], 0);
	score_acc_free(&acc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_red_never_improves),
	    cmocka_unit_test(test_green_never_worsens),
	    cmocka_unit_test(test_doubling_keeps_verdict),
	    cmocka_unit_test(test_no_signals_is_keep),
	    cmocka_unit_test(test_examples),
	    cmocka_unit_test(test_counting),
	    cmocka_unit_test(test_names_and_ranks),
	    cmocka_unit_test(test_many_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
