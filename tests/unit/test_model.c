/*
 * model: training is deterministic and separates an easy problem, save and load round-trip
 * to the last bit, every kind of bad file is refused with its name and the right -errno,
 * owner layers go only on their own base and add to its score, and classify's use of the
 * model (classify_model_open, classify_message_with, classify_features).
 *
 * Training data is synthetic (hand-made sparse vectors from a seeded generator); model files
 * go to a mkdtemp() directory removed by each test. The shipped rule packs are read from the
 * repository (tests run from its root, as make unit does).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "testfs.h"

#include "redflag/classify.h"
#include "redflag/features.h"
#include "redflag/model.h"
#include "redflag/rules.h"
#include "redflag/util.h"

/* ---- scratch directory ---- */

static char *scratch_dir(void)
{
	const char *tmp = getenv("TMPDIR");
	char *dir = xasprintf("%s/rf-model-XXXXXX", tmp && *tmp ? tmp : "/tmp");

	assert_non_null(mkdtemp(dir));
	return dir;
}

static char *slurp(const char *path, size_t *len)
{
	struct strbuf b = STRBUF_INIT;
	char buf[8192];
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f)
		fail_msg("cannot open %s", path);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		strbuf_append(&b, buf, n);
	fclose(f);
	return strbuf_detach(&b, len);
}

static void put_bytes(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* Writes text plus its checksum line, as model_save() would. */
static void put_with_checksum(const char *path, const char *text)
{
	char *full =
	    xasprintf("%schecksum %016" PRIx64 "\n", text, hash_fnv1a64(text, strlen(text), 0));

	put_bytes(path, full, strlen(full));
	free(full);
}

/* ---- synthetic data ---- */

#define FEAT_A  0x0000a000u /* signal 0 ("rush") when present */
#define FEAT_B  0x0000b000u /* signal 1 ("payment") when present */
#define FEAT_C  0x0000c000u /* the owner's corrections: signal 0 when present */
#define N_NOISE 40

static uint64_t rnd(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return *s >> 33;
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* A set of examples with their vectors; labels follow A => bit 0, B => bit 1, C => bit 0. */
struct data {
	struct feature_vec *x;
	struct model_example *ex;
	size_t n;
};

/* n examples; A, B and C each present with probability 1/pa, 1/pb, 1/pc (0: never). */
static void data_make(struct data *d, size_t n, uint64_t seed, unsigned pa, unsigned pb,
                      unsigned pc)
{
	d->n = n;
	d->x = xcalloc(n, sizeof(*d->x));
	d->ex = xcalloc(n, sizeof(*d->ex));
	for (size_t i = 0; i < n; i++) {
		struct feature_vec *v = &d->x[i];
		uint32_t ids[16];
		size_t k = 0;

		/* Three to six noise features, distinct. */
		for (size_t m = 3 + rnd(&seed) % 4; k < m;) {
			uint32_t id = 0x100u + (uint32_t)(rnd(&seed) % N_NOISE) * 0x10u;
			size_t j;

			for (j = 0; j < k && ids[j] != id; j++)
				;
			if (j == k)
				ids[k++] = id;
		}
		if (pa && rnd(&seed) % pa == 0) {
			ids[k++] = FEAT_A;
			d->ex[i].labels |= 1u;
		}
		if (pb && rnd(&seed) % pb == 0) {
			ids[k++] = FEAT_B;
			d->ex[i].labels |= 2u;
		}
		if (pc && rnd(&seed) % pc == 0) {
			ids[k++] = FEAT_C;
			d->ex[i].labels |= 1u;
		}
		qsort(ids, k, sizeof(*ids), u32_cmp);
		v->n = v->cap = k;
		v->id = xmalloc(k * sizeof(*v->id));
		v->val = xmalloc(k * sizeof(*v->val));
		for (size_t j = 0; j < k; j++) {
			v->id[j] = ids[j];
			v->val[j] = (float)(1.0 / sqrt((double)k));
		}
		d->ex[i].x = v;
	}
}

static void data_free(struct data *d)
{
	for (size_t i = 0; i < d->n; i++)
		feature_vec_release(&d->x[i]);
	free(d->x);
	free(d->ex);
	memset(d, 0, sizeof(*d));
}

static const char *const two_signals[] = {"rush", "payment"};

static struct model *train(const struct data *d, uint64_t seed, const struct model *base)
{
	struct model_train_opts o = MODEL_TRAIN_DEFAULT;
	struct model *m = NULL;
	char err[256] = "";
	int rc;

	o.seed = seed;
	rc = model_train(two_signals, 2, d->ex, d->n, &o, base, &m, err, sizeof(err));
	if (rc != 0)
		fail_msg("model_train: %d %s", rc, err);
	assert_non_null(m);
	return m;
}

static void save(const struct model *m, const char *path)
{
	char err[256] = "";

	if (model_save(m, path, err, sizeof(err)) != 0)
		fail_msg("model_save: %s", err);
}

static struct model *load(const char *path)
{
	struct model *m = NULL;
	char err[256] = "";

	if (model_load(path, &m, err, sizeof(err)) != 0)
		fail_msg("model_load: %s", err);
	assert_non_null(m);
	return m;
}

/* ---- training ---- */

static void test_train_deterministic(void **state)
{
	char *dir = scratch_dir();
	char *p1 = xasprintf("%s/a.model", dir), *p2 = xasprintf("%s/b.model", dir);
	char *p3 = xasprintf("%s/c.model", dir);
	struct data d;
	struct model *m1, *m2, *m3;
	char *f1, *f2, *f3;
	size_t l1, l2, l3;
	struct stat st;

	(void)state;
	data_make(&d, 300, 7, 4, 5, 0);
	m1 = train(&d, 42, NULL);
	m2 = train(&d, 42, NULL);
	m3 = train(&d, 43, NULL);
	save(m1, p1);
	save(m2, p2);
	save(m3, p3);
	f1 = slurp(p1, &l1);
	f2 = slurp(p2, &l2);
	f3 = slurp(p3, &l3);
	/* Same seed, same examples: the same file, byte for byte. */
	assert_int_equal(l1, l2);
	assert_memory_equal(f1, f2, l1);
	assert_string_equal(model_checksum(m1), model_checksum(m2));
	/* Another seed shuffles differently: the file may differ, but it is a valid model. */
	assert_true(l3 > 0);
	if (l1 != l3 || memcmp(f1, f3, l1) != 0)
		assert_string_not_equal(model_checksum(m1), model_checksum(m3));
	/* The checksum in memory is the one in the file; the file is 0644. */
	assert_non_null(strstr(f1, model_checksum(m1)));
	assert_int_equal(strlen(model_checksum(m1)), 16);
	assert_int_equal(stat(p1, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_int_equal(strncmp(f1, "redflagd-model 1\nsignals rush payment\nbase -\n", 45), 0);

	free(f1);
	free(f2);
	free(f3);
	model_free(&m1);
	model_free(&m2);
	model_free(&m3);
	assert_null(m1);
	model_free(&m1); /* NULL is fine */
	model_free(NULL);
	data_free(&d);
	remove_tree(dir);
	free(p1);
	free(p2);
	free(p3);
	free(dir);
}

static void test_train_separates(void **state)
{
	struct data d, test;
	struct model *m;
	size_t right[2] = {0, 0};

	(void)state;
	data_make(&d, 400, 11, 4, 5, 0);
	data_make(&test, 200, 12345, 4, 5, 0);
	m = train(&d, 1, NULL);

	assert_int_equal(model_signal_count(m), 2);
	assert_string_equal(model_signal_at(m, 0), "rush");
	assert_string_equal(model_signal_at(m, 1), "payment");
	assert_int_equal(model_signal_index(m, "payment"), 1);
	assert_int_equal(model_signal_index(m, "nope"), -1);
	for (size_t s = 0; s < 2; s++) {
		double t = model_threshold(m, s);

		assert_true(t >= 0.1 && t < 1.0);
	}
	/* The signal's own feature weighs most, and not for the other signal. */
	assert_true(model_weight(m, 0, FEAT_A) > 1.0);
	assert_true(model_weight(m, 1, FEAT_B) > 1.0);
	assert_true(model_weight(m, 0, FEAT_A) > fabs(model_weight(m, 1, FEAT_A)));
	for (uint32_t k = 0; k < N_NOISE; k++) {
		uint32_t id = 0x100u + k * 0x10u;

		assert_true(fabs(model_weight(m, 0, id)) < model_weight(m, 0, FEAT_A));
	}
	assert_true(model_weight(m, 0, 0xdeadbeefu) == 0.0);

	/* Held-out examples: every one decided right. */
	for (size_t i = 0; i < test.n; i++)
		for (size_t s = 0; s < 2; s++) {
			double p = model_sigmoid(model_score(m, s, test.ex[i].x));
			bool fires = p >= model_threshold(m, s),
			     want = (test.ex[i].labels >> s) & 1;

			assert_true(p > 0.0 && p < 1.0);
			right[s] += fires == want;
		}
	assert_int_equal(right[0], test.n);
	assert_int_equal(right[1], test.n);

	assert_true(model_sigmoid(0.0) == 0.5);
	assert_true(model_sigmoid(40.0) > 0.999);
	model_free(&m);
	data_free(&d);
	data_free(&test);
}

static void test_train_errors(void **state)
{
	const char *many[MODEL_MAX_SIGNALS + 1];
	struct model_train_opts o = MODEL_TRAIN_DEFAULT;
	struct model *m = (struct model *)&o; /* must be set to NULL */
	struct data d;
	char err[256] = "";

	(void)state;
	data_make(&d, 10, 1, 2, 2, 0);
	for (size_t i = 0; i < ARRAY_SIZE(many); i++)
		many[i] = "s";
	assert_int_equal(model_train(two_signals, 2, d.ex, 0, &o, NULL, &m, err, sizeof(err)),
	                 -EINVAL);
	assert_null(m);
	assert_true(err[0] != '\0');
	err[0] = '\0';
	assert_int_equal(
	    model_train(many, ARRAY_SIZE(many), d.ex, d.n, &o, NULL, &m, err, sizeof(err)),
	    -EINVAL);
	assert_null(m);
	assert_non_null(strstr(err, "33"));
	assert_int_equal(model_train(many, 0, d.ex, d.n, &o, NULL, &m, err, sizeof(err)), -EINVAL);
	assert_null(m);
	/* No CV: thresholds 0.5. */
	o.cv_folds = 0;
	assert_int_equal(model_train(two_signals, 2, d.ex, d.n, &o, NULL, &m, err, sizeof(err)), 0);
	assert_true(model_threshold(m, 0) == 0.5);
	assert_true(model_threshold(m, 1) == 0.5);
	model_free(&m);
	data_free(&d);
}

/* ---- save and load ---- */

static void test_round_trip(void **state)
{
	char *dir = scratch_dir();
	char *p1 = xasprintf("%s/a.model", dir), *p2 = xasprintf("%s/b.model", dir);
	struct data d;
	struct model *m, *l;
	char *f1, *f2;
	size_t l1, l2;

	(void)state;
	data_make(&d, 300, 3, 4, 5, 0);
	m = train(&d, 9, NULL);
	save(m, p1);
	l = load(p1);
	assert_string_equal(model_checksum(l), model_checksum(m));
	assert_int_equal(model_signal_count(l), model_signal_count(m));
	for (size_t s = 0; s < model_signal_count(m); s++) {
		assert_string_equal(model_signal_at(l, s), model_signal_at(m, s));
		assert_true(model_threshold(l, s) == model_threshold(m, s));
		for (size_t i = 0; i < d.n; i++) {
			double a = model_score(m, s, d.ex[i].x), b = model_score(l, s, d.ex[i].x);

			/* To the last bit: what was trained is what was saved. */
			if (memcmp(&a, &b, sizeof(a)) != 0)
				fail_msg("signal %zu example %zu: trained %.17g, loaded %.17g", s,
				         i, a, b);
		}
		assert_true(model_weight(l, s, FEAT_A) == model_weight(m, s, FEAT_A));
	}
	/* Saving the loaded model writes the same file again. */
	save(l, p2);
	f1 = slurp(p1, &l1);
	f2 = slurp(p2, &l2);
	assert_int_equal(l1, l2);
	assert_memory_equal(f1, f2, l1);
	/* No temporary file is left next to it. */
	{
		DIR *dh = opendir(dir);
		struct dirent *de;
		size_t files = 0;

		assert_non_null(dh);
		while ((de = readdir(dh)))
			files += de->d_name[0] != '.';
		closedir(dh);
		assert_int_equal(files, 2);
	}
	/* Saving into a missing directory fails with -ENOENT and names the file. */
	{
		char err[256] = "", *bad = xasprintf("%s/none/x.model", dir);

		assert_int_equal(model_save(m, bad, err, sizeof(err)), -ENOENT);
		assert_non_null(strstr(err, bad));
		free(bad);
	}

	free(f1);
	free(f2);
	model_free(&m);
	model_free(&l);
	data_free(&d);
	remove_tree(dir);
	free(p1);
	free(p2);
	free(dir);
}

/* A small, valid model file without its checksum line. */
static const char good_text[] = "redflagd-model 1\n"
                                "signals rush payment\n"
                                "base -\n"
                                "threshold 0.6 0.55\nalone 0.6 0.55\n"
                                "bias -3.2 -4.1\n"
                                "features 3\n"
                                "0000a000 0:2.5\n"
                                "0000b000 1:3.25\n"
                                "0000c000 0:0.5 1:-0.25\n";

static void test_load_hand_written(void **state)
{
	char *dir = scratch_dir(), *path = xasprintf("%s/good.model", dir);
	struct feature_vec x = {0};
	uint32_t ids[] = {FEAT_A, FEAT_C, 0xffffffffu};
	float vals[] = {1.0f, 0.5f, 1.0f};
	struct model *m;
	char sum[17];

	(void)state;
	put_with_checksum(path, good_text);
	m = load(path);
	snprintf(sum, sizeof(sum), "%016" PRIx64, hash_fnv1a64(good_text, strlen(good_text), 0));
	assert_string_equal(model_checksum(m), sum);
	assert_true(model_threshold(m, 0) == 0.6);
	assert_true(model_weight(m, 0, FEAT_A) == 2.5);
	assert_true(model_weight(m, 1, FEAT_A) == 0.0);
	assert_true(model_weight(m, 1, FEAT_C) == -0.25);
	x.id = ids;
	x.val = vals;
	x.n = x.cap = ARRAY_SIZE(ids);
	assert_true(model_score(m, 0, &x) == -3.2 + 2.5 + 0.5 * 0.5);
	assert_true(model_score(m, 1, &x) == -4.1 + -0.25 * 0.5);
	x.n = 0;
	assert_true(model_score(m, 0, &x) == -3.2);
	model_free(&m);
	remove_tree(dir);
	free(path);
	free(dir);
}

/* ---- load errors ---- */

enum how {
	RAW,      /* text as it is */
	CHECKSUM, /* text plus a correct checksum line */
	TRUNCATE, /* good_text with its checksum, cut in the middle */
	FLIP,     /* good_text with its checksum, one weight digit changed */
	MISSING,  /* no file at all */
};

struct load_case {
	const char *name;
	enum how how;
	const char *text;
	int rc;
	const char *msg; /* a part of err, after the file name */
};

static const struct load_case load_cases[] = {
    {"missing", MISSING, NULL, -ENOENT, "No such file"},
    {"empty", RAW, "", -EINVAL, "not a redflagd model"},
    {"magic", RAW, "redflag-model 1\nchecksum 0\n", -EINVAL, ":1: not a redflagd model"},
    {"magic no space", CHECKSUM, "redflagd-model1\n", -EINVAL, "not a redflagd model"},
    {"version 2", CHECKSUM,
     "redflagd-model 2\nsignals rush\nbase -\nthreshold 0.5\nalone 0.5\nbias 0\nfeatures 0\n",
     -EINVAL, ":1: model format version 2"},
    {"version 0", CHECKSUM, "redflagd-model 0\n", -EINVAL, "version 0"},
    {"truncated", TRUNCATE, NULL, -EINVAL, "truncated"},
    {"no final newline", RAW, "redflagd-model 1\nchecksum 0123456789abcdef", -EINVAL, "truncated"},
    {"corrupt", FLIP, NULL, -EINVAL, "checksum mismatch"},
    {"bad checksum digits", RAW, "redflagd-model 1\nchecksum zzzz\n", -EINVAL, "checksum mismatch"},
    {"malformed feature line", CHECKSUM,
     "redflagd-model 1\nsignals rush payment\nbase -\nthreshold 0.6 0.55\nalone 0.6 0.55\nbias "
     "-3.2 -4.1\n"
     "features 2\n0000a000 0:2.5\n0000b000 0:abc\n",
     -EINVAL, ":9: malformed feature line"},
    {"short id", CHECKSUM,
     "redflagd-model 1\nsignals rush payment\nbase -\nthreshold 0.6 0.55\nalone 0.6 0.55\nbias "
     "-3.2 -4.1\n"
     "features 1\na000 0:2.5\n",
     -EINVAL, ":8: malformed feature line"},
    {"signal out of range", CHECKSUM,
     "redflagd-model 1\nsignals rush payment\nbase -\nthreshold 0.6 0.55\nalone 0.6 0.55\nbias "
     "-3.2 -4.1\n"
     "features 1\n0000a000 2:2.5\n",
     -EINVAL, ":8: malformed feature line"},
    {"weight not finite", CHECKSUM,
     "redflagd-model 1\nsignals rush payment\nbase -\nthreshold 0.6 0.55\nalone 0.6 0.55\nbias "
     "-3.2 -4.1\n"
     "features 1\n0000a000 0:inf\n",
     -EINVAL, ":8: malformed feature line"},
    {"ids not increasing", CHECKSUM,
     "redflagd-model 1\nsignals rush payment\nbase -\nthreshold 0.6 0.55\nalone 0.6 0.55\nbias "
     "-3.2 -4.1\n"
     "features 3\n0000a000 0:2.5\n0000c000 1:1\n0000b000 1:3\n",
     -EINVAL, ":10: malformed feature line"},
    {"duplicate id", CHECKSUM,
     "redflagd-model 1\nsignals rush payment\nbase -\nthreshold 0.6 0.55\nalone 0.6 0.55\nbias "
     "-3.2 -4.1\n"
     "features 2\n0000a000 0:2.5\n0000a000 1:3\n",
     -EINVAL, ":9: malformed feature line"},
    {"too few feature lines", CHECKSUM,
     "redflagd-model 1\nsignals rush payment\nbase -\nthreshold 0.6 0.55\nalone 0.6 0.55\nbias "
     "-3.2 -4.1\n"
     "features 3\n0000a000 0:2.5\n",
     -EINVAL, "1 feature lines, the header says 3"},
    {"too many feature lines", CHECKSUM,
     "redflagd-model 1\nsignals rush payment\nbase -\nthreshold 0.6 0.55\nalone 0.6 0.55\nbias "
     "-3.2 -4.1\n"
     "features 1\n0000a000 0:2.5\n0000b000 0:2.5\n",
     -EINVAL, ":9: malformed feature line"},
    {"features over the ceiling", CHECKSUM,
     "redflagd-model 1\nsignals rush\nbase -\nthreshold 0.6\nalone 0.6\nbias -3.2\nfeatures "
     "99999999\n",
     -EINVAL, ":7: malformed features line"},
    {"too many signals", CHECKSUM,
     "redflagd-model 1\nsignals s0 s1 s2 s3 s4 s5 s6 s7 s8 s9 s10 s11 s12 s13 s14 s15 s16 "
     "s17 s18 s19 s20 s21 s22 s23 s24 s25 s26 s27 s28 s29 s30 s31 s32\nbase -\n",
     -EINVAL, ":2: malformed signals line"},
    {"empty signal", CHECKSUM, "redflagd-model 1\nsignals rush  payment\nbase -\n", -EINVAL,
     ":2: malformed signals line"},
    {"threshold count", CHECKSUM,
     "redflagd-model 1\nsignals rush payment\nbase -\nthreshold 0.6\nalone 0.6\nbias -3.2 -4.1\n"
     "features 0\n",
     -EINVAL, ":4: malformed threshold line"},
    {"alone line missing", CHECKSUM,
     "redflagd-model 1\nsignals rush payment\nbase -\nthreshold 0.6 0.55\nbias -3.2 -4.1\n"
     "features 0\n",
     -EINVAL, ":5: malformed alone line"},
    {"bias not a number", CHECKSUM,
     "redflagd-model 1\nsignals rush payment\nbase -\nthreshold 0.6 0.55\nalone 0.6 0.55\nbias "
     "-3.2 x\n"
     "features 0\n",
     -EINVAL, ":6: malformed bias line"},
    {"base", CHECKSUM,
     "redflagd-model 1\nsignals rush\nbase 1234\nthreshold 0.6\nalone 0.6\nbias 0\nfeatures 0\n",
     -EINVAL, ":3: malformed base line"},
    {"header only", CHECKSUM, "redflagd-model 1\nsignals rush\n", -EINVAL, "feature lines"},
};

static void test_load_errors(void **state)
{
	char *dir = scratch_dir();

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(load_cases); i++) {
		const struct load_case *c = &load_cases[i];
		char *path = xasprintf("%s/case%zu.model", dir, i);
		struct model *m = (struct model *)path; /* must be set to NULL */
		char err[512] = "";
		int rc;

		switch (c->how) {
		case RAW:
			put_bytes(path, c->text, strlen(c->text));
			break;
		case CHECKSUM:
			put_with_checksum(path, c->text);
			break;
		case TRUNCATE: {
			char *full = xasprintf("%schecksum %016" PRIx64 "\n", good_text,
			                       hash_fnv1a64(good_text, strlen(good_text), 0));

			put_bytes(path, full, strlen(full) / 2);
			free(full);
			break;
		}
		case FLIP: {
			char *full = xasprintf("%schecksum %016" PRIx64 "\n", good_text,
			                       hash_fnv1a64(good_text, strlen(good_text), 0));
			char *w = strstr(full, "0:2.5");

			assert_non_null(w);
			w[4] = '6'; /* 0:2.6 */
			put_bytes(path, full, strlen(full));
			free(full);
			break;
		}
		case MISSING:
			break;
		}
		rc = model_load(path, &m, err, sizeof(err));
		if (rc != c->rc || m != NULL || !strstr(err, path) || !strstr(err, c->msg))
			fail_msg(
			    "case \"%s\": rc %d (want %d), model %p, err \"%s\" (want \"%s\" and "
			    "the file name)",
			    c->name, rc, c->rc, (void *)m, err, c->msg);
		free(path);
	}
	remove_tree(dir);
	free(dir);
}

/* ---- owner layers ---- */

static void test_layer(void **state)
{
	char *dir = scratch_dir();
	char *pb = xasprintf("%s/base.model", dir), *pl = xasprintf("%s/layer.model", dir);
	struct data d, other, corr, test;
	struct model *base, *base2, *layer, *loaded, *alone, *wrong_sig = NULL;
	char err[512] = "";
	static const char *const other_signals[] = {"rush", "discount"};
	struct model_train_opts o = MODEL_TRAIN_DEFAULT;

	(void)state;
	data_make(&d, 300, 5, 4, 5, 0);
	data_make(&other, 300, 6, 4, 5, 0);
	/* The owner's corrections: C means rush, which the base never saw. */
	data_make(&corr, 60, 8, 0, 5, 2);
	data_make(&test, 100, 99, 4, 5, 3);
	base = train(&d, 1, NULL);
	base2 = train(&other, 1, NULL);
	assert_string_not_equal(model_checksum(base), model_checksum(base2));
	layer = train(&corr, 1, base);

	/* A layer keeps its base's thresholds. */
	for (size_t s = 0; s < 2; s++)
		assert_true(model_threshold(layer, s) == model_threshold(base, s));
	/* The layer learnt C; the base knows nothing of it. */
	assert_true(model_weight(base, 0, FEAT_C) == 0.0);
	assert_true(model_weight(layer, 0, FEAT_C) > 0.0);

	save(base, pb);
	save(layer, pl);
	{
		char *text = slurp(pl, NULL),
		     *want = xasprintf("\nbase %s\n", model_checksum(base));

		assert_non_null(strstr(text, want));
		free(text);
		free(want);
	}
	loaded = load(pl);
	alone = load(pl);

	/* Not on another base, not on a base-less model, and a base is not a layer. */
	assert_int_equal(model_set_base(loaded, base2, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, model_checksum(base)));
	assert_non_null(strstr(err, model_checksum(base2)));
	err[0] = '\0';
	assert_int_equal(model_set_base(base2, base, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not an owner layer"));
	/* A layer listing other signals is refused even on its own base. */
	assert_int_equal(
	    model_train(other_signals, 2, corr.ex, corr.n, &o, base, &wrong_sig, err, sizeof(err)),
	    0);
	err[0] = '\0';
	assert_int_equal(model_set_base(wrong_sig, base, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "discount"));
	/* Its own base: accepted. */
	assert_int_equal(model_set_base(loaded, base, err, sizeof(err)), 0);
	/*
	 * model_train() does not attach the base to the layer it returns (only its checksum):
	 * the layer in memory needs model_set_base() too before it scores with its base.
	 */
	assert_int_equal(model_set_base(layer, base, err, sizeof(err)), 0);

	/* The layer's score is the base's plus its own contribution, for every example. */
	for (size_t i = 0; i < test.n; i++)
		for (size_t s = 0; s < 2; s++) {
			const struct feature_vec *x = test.ex[i].x;
			double own = model_score(alone, s, x), b = model_score(base, s, x);

			assert_true(model_score(loaded, s, x) == own + b);
			/* The layer in memory (trained on base) scores like the loaded one. */
			assert_true(model_score(layer, s, x) == model_score(loaded, s, x));
			assert_true(model_weight(loaded, s, FEAT_C) ==
			            model_weight(alone, s, FEAT_C) + model_weight(base, s, FEAT_C));
		}
	/* The correction moves rush up for C, and the layer is gentle elsewhere. */
	{
		uint32_t ids[] = {0x100u, FEAT_C};
		float vals[] = {0.70710678f, 0.70710678f};
		struct feature_vec x = {.id = ids, .val = vals, .n = 2, .cap = 2};

		assert_true(model_score(loaded, 0, &x) > model_score(base, 0, &x) + 0.5);
	}
	assert_true(model_threshold(loaded, 0) == model_threshold(base, 0));

	model_free(&wrong_sig);
	model_free(&alone);
	model_free(&loaded);
	model_free(&layer);
	model_free(&base2);
	model_free(&base);
	data_free(&d);
	data_free(&other);
	data_free(&corr);
	data_free(&test);
	remove_tree(dir);
	free(pb);
	free(pl);
	free(dir);
}

/* ---- classify with a model ---- */

static const char *find_path(const char *rel)
{
	static const char *const up[] = {"", "../", "../../", "../../../"};
	static char buf[512];

	for (size_t i = 0; i < ARRAY_SIZE(up); i++) {
		snprintf(buf, sizeof(buf), "%s%s", up[i], rel);
		if (access(buf, R_OK) == 0)
			return buf;
	}
	fail_msg("%s not found: run from the repository root", rel);
	return NULL;
}

static struct rules *load_shipped(void)
{
	struct strbuf errors = STRBUF_INIT;
	char *dir = xstrdup(find_path("conf/rules"));
	char *sig = xstrdup(find_path("conf/signals.conf"));
	struct rules *r = NULL;

	if (rules_load(dir, sig, &r, &errors) != 0)
		fail_msg("shipped packs do not load:\n%s", errors.data ? errors.data : "");
	free(dir);
	free(sig);
	return r;
}

static const struct classify_signal *find_signal(const struct classify_result *res,
                                                 const char *signal)
{
	for (size_t i = 0; i < res->n; i++)
		if (strcmp(res->v[i].signal, signal) == 0)
			return &res->v[i];
	return NULL;
}

/*
 * A hand-written model: rush fires on the (made-up) word "zorblax" and on nothing else, not
 * even on the rules' own rush hits; payment abstains (threshold 1), so the rules decide it.
 */
static void write_zorblax_model(const char *path, const char *base_sum)
{
	char *text = xasprintf("redflagd-model 1\n"
	                       "signals rush payment\n"
	                       "base %s\n"
	                       "threshold 0.5 1\nalone 0.5 1\n"
	                       "bias -10 -10\n"
	                       "features 1\n"
	                       "%08" PRIx32 " 0:60\n",
	                       base_sum, features_id("w:zorblax"));

	put_with_checksum(path, text);
	free(text);
}

static void test_classify_model(void **state)
{
	char *dir = scratch_dir();
	char *pm = xasprintf("%s/shipped.model", dir), *pl = xasprintf("%s/owner.model", dir);
	char *pnone = xasprintf("%s/none.model", dir);
	struct rules *r = load_shipped();
	struct classify_model *cm = NULL;
	struct classify_result res;
	const struct classify_signal *sig;
	struct features *fx = features_new();
	struct feature_vec x = {0};
	char err[512] = "", lang[8];
	struct classify_input zorb = {.text = "Could you please look at the zorblax report and "
	                                      "tell me what you think of it?",
	                              .subject = "Re: report",
	                              .n_rcpt = 1,
	                              .direction = RULES_DIR_IN};
	struct classify_input rush = {.text = "Please get back to me as soon as possible.",
	                              .subject = "Question",
	                              .direction = RULES_DIR_IN};
	struct classify_input pay = {.text = "Just a reminder that invoice 2041 is now two weeks "
	                                     "overdue.",
	                             .subject = "Invoice",
	                             .direction = RULES_DIR_IN};

	(void)state;
	/* The feature the model uses is the one classify computes. */
	assert_true(classify_features(r, fx, &zorb, &x, NULL, NULL, lang));
	assert_string_equal(lang, "en");
	{
		bool found = false;

		for (size_t k = 0; k < x.n; k++)
			found |= x.id[k] == features_id("w:zorblax");
		assert_true(found);
	}

	/* Missing model: -ENOENT with its name. */
	assert_int_equal(classify_model_open(pnone, NULL, &cm, err, sizeof(err)), -ENOENT);
	assert_null(cm);
	assert_non_null(strstr(err, pnone));

	write_zorblax_model(pm, "-");
	/* A missing layer is no error: the base alone. */
	assert_int_equal(classify_model_open(pm, pnone, &cm, err, sizeof(err)), 0);
	assert_non_null(cm);
	assert_true(classify_model_get(cm) == classify_model_base(cm));

	/* The model fires without a rule, with its probability and the sentence as evidence. */
	classify_message_with(r, cm, NULL, &zorb, &res);
	sig = find_signal(&res, "rush");
	assert_non_null(sig);
	assert_string_equal(sig->rule, "model.rush");
	assert_true(sig->p >= 0.5 && sig->p <= 1.0);
	assert_non_null(sig->excerpt);
	assert_non_null(strstr(sig->excerpt, "zorblax"));
	classify_result_release(&res);

	/* A rule's rush hit, which the model overrules; without the model the rule stands. */
	classify_message(r, NULL, &rush, &res);
	sig = find_signal(&res, "rush");
	assert_non_null(sig);
	assert_true(sig->p == -1.0);
	classify_result_release(&res);
	classify_message_with(r, cm, NULL, &rush, &res);
	assert_null(find_signal(&res, "rush"));
	classify_result_release(&res);

	/* payment abstains (threshold 1): the rules decide and no probability is given. */
	classify_message_with(r, cm, NULL, &pay, &res);
	sig = find_signal(&res, "payment");
	assert_non_null(sig);
	assert_string_not_equal(sig->rule, "model.payment");
	assert_true(sig->p == -1.0);
	classify_result_release(&res);

	/* Automated mail: no features, no signals. */
	{
		struct classify_input auto_in = zorb;

		auto_in.automated = true;
		assert_false(classify_features(r, fx, &auto_in, &x, NULL, NULL, lang));
		assert_int_equal(x.n, 0);
		classify_message_with(r, cm, NULL, &auto_in, &res);
		assert_int_equal(res.n, 0);
		classify_result_release(&res);
	}
	{
		struct model *base = load(pm);
		char sum[17];

		snprintf(sum, sizeof(sum), "%s", model_checksum(base));
		model_free(&base);

		/* A layer of another base: refused, naming the layer's file. */
		write_zorblax_model(pl, "0123456789abcdef");
		classify_model_free(&cm);
		err[0] = '\0';
		assert_int_equal(classify_model_open(pm, pl, &cm, err, sizeof(err)), -EINVAL);
		assert_null(cm);
		assert_non_null(strstr(err, pl));

		/* The right base: the layer is in use and adds its score to the base's. */
		write_zorblax_model(pl, sum);
		assert_int_equal(classify_model_open(pm, pl, &cm, err, sizeof(err)), 0);
		assert_true(classify_model_get(cm) != classify_model_base(cm));
		/* x is empty: the biases only, the layer's on top of the base's. */
		assert_true(model_score(classify_model_get(cm), 0, &x) == -20.0);
		classify_features(r, fx, &zorb, &x, NULL, NULL, lang);
		assert_true(model_score(classify_model_get(cm), 0, &x) ==
		            2 * model_score(classify_model_base(cm), 0, &x));
	}
	classify_message_with(r, cm, NULL, &zorb, &res);
	sig = find_signal(&res, "rush");
	assert_non_null(sig);
	assert_string_equal(sig->rule, "model.rush");
	classify_result_release(&res);

	classify_model_free(&cm);
	assert_null(cm);
	classify_model_free(&cm);
	feature_vec_release(&x);
	features_free(&fx);
	rules_free(&r);
	remove_tree(dir);
	free(pm);
	free(pl);
	free(pnone);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_train_deterministic),
	    cmocka_unit_test(test_train_separates),
	    cmocka_unit_test(test_train_errors),
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_load_hand_written),
	    cmocka_unit_test(test_load_errors),
	    cmocka_unit_test(test_layer),
	    cmocka_unit_test(test_classify_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
