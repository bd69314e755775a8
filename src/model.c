/*
 * model — see include/redflag/model.h.
 */
#include "redflag/model.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "redflag/util.h"

#define MODEL_MAGIC     "redflagd-model"
#define MODEL_VERSION   1
#define MODEL_FILE_MAX  (256u << 20)
#define CHECKSUM_SEED   0
#define LAYER_L2_FACTOR 1.0 /* an owner layer's penalty, relative to the base's */
#define POS_WEIGHT_MAX  10.0

/* A slot of the id index: the id itself (one cache miss per look-up, not two) and its row. */
struct slot {
	uint32_t id;
	uint32_t row; /* k + 1, or 0 for an empty slot */
};

struct model {
	char *signals[MODEL_MAX_SIGNALS];
	size_t ns;
	double threshold[MODEL_MAX_SIGNALS]; /* when a rule of the signal fired */
	double alone[MODEL_MAX_SIGNALS];     /* when none did */
	double bias[MODEL_MAX_SIGNALS];
	uint32_t *ids; /* n, increasing */
	float *w;      /* n * ns: the weights of ids[k] at w[k * ns .. k * ns + ns) */
	size_t n;
	struct slot *slot; /* open addressing over ids; mask + 1 slots */
	size_t mask;
	char checksum[17];
	char base_sum[17]; /* "" for a base model */
	const struct model *base;
};

static uint64_t checksum_of(const char *p, size_t n)
{
	return hash_fnv1a64(p, n, CHECKSUM_SEED);
}

static uint32_t mix(uint32_t id)
{
	/* Feature ids are FNV hashes already; one multiply spreads the low bits. */
	return id * 2654435761u;
}

static void index_build(struct model *m)
{
	size_t cap = 16;

	while (cap < 2 * m->n)
		cap *= 2;
	m->slot = xcalloc(cap, sizeof(*m->slot));
	m->mask = cap - 1;
	for (size_t k = 0; k < m->n; k++) {
		size_t s = mix(m->ids[k]) & m->mask;

		while (m->slot[s].row)
			s = (s + 1) & m->mask;
		m->slot[s] = (struct slot){m->ids[k], (uint32_t)(k + 1)};
	}
}

/* The row of id, or NULL. */
static const float *row_of(const struct model *m, uint32_t id)
{
	size_t s = mix(id) & m->mask;

	if (!m->slot)
		return NULL;
	while (m->slot[s].row) {
		if (m->slot[s].id == id)
			return m->w + (size_t)(m->slot[s].row - 1) * m->ns;
		s = (s + 1) & m->mask;
	}
	return NULL;
}

void model_free(struct model **m)
{
	if (!m || !*m)
		return;
	for (size_t i = 0; i < (*m)->ns; i++)
		free((*m)->signals[i]);
	free((*m)->ids);
	free((*m)->w);
	free((*m)->slot);
	free(*m);
	*m = NULL;
}

size_t model_signal_count(const struct model *m)
{
	return m->ns;
}

const char *model_signal_at(const struct model *m, size_t i)
{
	return m->signals[i];
}

double model_threshold(const struct model *m, size_t i)
{
	return m->base ? m->base->threshold[i] : m->threshold[i];
}

double model_threshold_alone(const struct model *m, size_t i)
{
	return m->base ? m->base->alone[i] : m->alone[i];
}

int model_signal_index(const struct model *m, const char *id)
{
	for (size_t i = 0; i < m->ns; i++)
		if (strcmp(m->signals[i], id) == 0)
			return (int)i;
	return -1;
}

const char *model_checksum(const struct model *m)
{
	return m->checksum;
}

double model_sigmoid(double z)
{
	return 1.0 / (1.0 + exp(-z));
}

double model_score(const struct model *m, size_t i, const struct feature_vec *x)
{
	double z = m->bias[i];

	for (size_t k = 0; k < x->n; k++) {
		const float *w = row_of(m, x->id[k]);

		if (w)
			z += (double)w[i] * x->val[k];
	}
	return m->base ? z + model_score(m->base, i, x) : z;
}

void model_scores(const struct model *m, const struct feature_vec *x, double *out)
{
	for (size_t i = 0; i < m->ns; i++)
		out[i] = m->bias[i];
	for (size_t k = 0; k < x->n; k++) {
		const float *w = row_of(m, x->id[k]);

		if (w)
			for (size_t i = 0; i < m->ns; i++)
				out[i] += (double)w[i] * x->val[k];
	}
	if (m->base) {
		double b[MODEL_MAX_SIGNALS];

		model_scores(m->base, x, b);
		for (size_t i = 0; i < m->ns; i++)
			out[i] += b[i];
	}
}

double model_weight(const struct model *m, size_t i, uint32_t id)
{
	const float *w = row_of(m, id);

	return (w ? w[i] : 0.0) + (m->base ? model_weight(m->base, i, id) : 0.0);
}

int model_set_base(struct model *layer, const struct model *base, char *err, size_t errlen)
{
	if (!layer->base_sum[0]) {
		snprintf(err, errlen, "not an owner layer (its base is \"-\")");
		return -EINVAL;
	}
	if (strcmp(layer->base_sum, base->checksum) != 0) {
		snprintf(err, errlen,
		         "trained on top of model %s, but the model in use is %s: "
		         "retrain the owner layer",
		         layer->base_sum, base->checksum);
		return -EINVAL;
	}
	if (layer->ns != base->ns) {
		snprintf(err, errlen, "lists %zu signals, its base %zu", layer->ns, base->ns);
		return -EINVAL;
	}
	for (size_t i = 0; i < layer->ns; i++)
		if (strcmp(layer->signals[i], base->signals[i]) != 0) {
			snprintf(err, errlen, "signal %zu is %s, in its base %s", i,
			         layer->signals[i], base->signals[i]);
			return -EINVAL;
		}
	layer->base = base;
	return 0;
}

/* ---- file format ---- */

static void append_doubles(struct strbuf *b, const char *key, const double *v, size_t n)
{
	strbuf_appends(b, key);
	for (size_t i = 0; i < n; i++)
		strbuf_appendf(b, " %.6g", v[i]);
	strbuf_appendc(b, '\n');
}

/* The file's text, checksum line included. */
static void render(const struct model *m, struct strbuf *b)
{
	strbuf_appendf(b, "%s %d\nsignals", MODEL_MAGIC, MODEL_VERSION);
	for (size_t i = 0; i < m->ns; i++)
		strbuf_appendf(b, " %s", m->signals[i]);
	strbuf_appendf(b, "\nbase %s\n", m->base_sum[0] ? m->base_sum : "-");
	append_doubles(b, "threshold", m->threshold, m->ns);
	append_doubles(b, "alone", m->alone, m->ns);
	append_doubles(b, "bias", m->bias, m->ns);
	strbuf_appendf(b, "features %zu\n", m->n);
	for (size_t k = 0; k < m->n; k++) {
		strbuf_appendf(b, "%08" PRIx32, m->ids[k]);
		for (size_t i = 0; i < m->ns; i++)
			if (m->w[k * m->ns + i] != 0.0f)
				strbuf_appendf(b, " %zu:%.4g", i, (double)m->w[k * m->ns + i]);
		strbuf_appendc(b, '\n');
	}
	strbuf_appendf(b, "checksum %016" PRIx64 "\n", checksum_of(b->data, b->len));
}

/* Sets m's checksum to that of its file. */
static void set_checksum(struct model *m)
{
	struct strbuf b = STRBUF_INIT;
	const char *line;

	render(m, &b);
	line = memrchr(b.data, '\n', b.len - 1);
	snprintf(m->checksum, sizeof(m->checksum), "%.16s", line + 1 + 9);
	strbuf_release(&b);
}

int model_save(const struct model *m, const char *path, char *err, size_t errlen)
{
	struct strbuf b = STRBUF_INIT;
	char *tmp = xasprintf("%s.tmp.XXXXXX", path);
	int fd = -1, rc = 0;
	size_t off = 0;

	render(m, &b);
	fd = mkstemp(tmp);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: cannot create: %s", tmp, strerror(errno));
		goto out;
	}
	(void)fchmod(fd, 0644);
	while (off < b.len) {
		ssize_t w = write(fd, b.data + off, b.len - off);

		if (w < 0) {
			rc = -errno;
			snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
			goto out;
		}
		off += (size_t)w;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		rc = -errno;
		fd = -1;
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: cannot rename to %s: %s", tmp, path, strerror(errno));
	}
out:
	if (fd >= 0)
		close(fd);
	if (rc < 0)
		unlink(tmp);
	free(tmp);
	strbuf_release(&b);
	return rc;
}

/* Parses n doubles after key; false on a mismatch. */
static bool parse_doubles(const char *line, const char *key, double *v, size_t n)
{
	size_t kl = strlen(key);
	const char *p = line + kl;

	if (strncmp(line, key, kl) != 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char *end;

		if (*p != ' ')
			return false;
		v[i] = strtod(p + 1, &end);
		if (end == p + 1 || !isfinite(v[i]))
			return false;
		p = end;
	}
	return *p == '\0';
}

/* One feature line: "hexid i:w i:w ...". */
static bool parse_feature(struct model *m, size_t k, char *line)
{
	char *end, *p;
	unsigned long id;

	if (strspn(line, "0123456789abcdef") != 8)
		return false;
	errno = 0;
	id = strtoul(line, &end, 16);
	if (errno || end - line != 8 || id > UINT32_MAX)
		return false;
	if (k > 0 && (uint32_t)id <= m->ids[k - 1])
		return false; /* ids increase: a duplicate or a shuffled file */
	m->ids[k] = (uint32_t)id;
	for (p = end; *p;) {
		unsigned long i;
		double w;

		if (*p != ' ')
			return false;
		i = strtoul(p + 1, &end, 10);
		if (end == p + 1 || *end != ':' || i >= m->ns)
			return false;
		p = end + 1;
		w = strtod(p, &end);
		if (end == p || !isfinite(w) || fabs(w) > 1e6)
			return false;
		m->w[k * m->ns + i] = (float)w;
		p = end;
	}
	return true;
}

static int read_file(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
	struct strbuf b = STRBUF_INIT;
	char chunk[65536];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		int e = errno;

		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		if (b.len + (size_t)n > MODEL_FILE_MAX) {
			close(fd);
			strbuf_release(&b);
			snprintf(err, errlen, "%s: larger than %u MB", path, MODEL_FILE_MAX >> 20);
			return -EFBIG;
		}
		strbuf_append(&b, chunk, (size_t)n);
	}
	close(fd);
	if (n < 0) {
		int e = errno;

		strbuf_release(&b);
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	*len = b.len;
	*out = strbuf_detach(&b, NULL);
	return 0;
}

int model_load(const char *path, struct model **out, char *err, size_t errlen)
{
	struct model *m = xcalloc(1, sizeof(*m));
	char *buf = NULL, *p, *line, *sum_line;
	size_t len = 0, lineno = 0, nfeat = 0;
	unsigned long long want;
	int version, rc;

	*out = NULL;
	rc = read_file(path, &buf, &len, err, errlen);
	if (rc < 0)
		goto fail_quiet;
	rc = -EINVAL;
	if (strncmp(buf, MODEL_MAGIC " ", strlen(MODEL_MAGIC) + 1) != 0) {
		snprintf(err, errlen, "%s:1: not a redflagd model (it must start with \"%s\")",
		         path, MODEL_MAGIC);
		goto fail_quiet;
	}
	{
		const char *v = buf + strlen(MODEL_MAGIC) + 1;
		char *end;

		version = (int)strtol(v, &end, 10);
		if (end == v || *end != '\n')
			version = -1;
	}
	if (version != MODEL_VERSION) {
		snprintf(err, errlen,
		         "%s:1: model format version %d; this redflagd reads version %d", path,
		         version, MODEL_VERSION);
		goto fail_quiet;
	}
	/* The checksum line ends the file; verify it before trusting any number. */
	if (len < 2 || buf[len - 1] != '\n' || !(sum_line = memrchr(buf, '\n', len - 1)) ||
	    strncmp(sum_line + 1, "checksum ", 9) != 0) {
		snprintf(err, errlen, "%s: truncated: no checksum line at the end", path);
		goto fail_quiet;
	}
	sum_line++;
	if (strspn(sum_line + 9, "0123456789abcdef") != 16 || sum_line[25] != '\n' ||
	    sscanf(sum_line + 9, "%16llx", &want) != 1 ||
	    checksum_of(buf, (size_t)(sum_line - buf)) != (uint64_t)want) {
		snprintf(
		    err, errlen,
		    "%s: checksum mismatch: the file is corrupt or was edited (run make model)",
		    path);
		goto fail_quiet;
	}
	snprintf(m->checksum, sizeof(m->checksum), "%016llx", want);
	sum_line[-1] = '\0';

	for (p = buf; p && (line = strsep(&p, "\n")) != NULL;) {
		lineno++;
		if (lineno == 1)
			continue;
		if (lineno == 2) {
			char *s = line, *tok;

			if (strncmp(s, "signals ", 8) != 0)
				goto bad;
			s += 8;
			while ((tok = strsep(&s, " ")) != NULL) {
				if (!*tok || m->ns == MODEL_MAX_SIGNALS)
					goto bad;
				m->signals[m->ns++] = xstrdup(tok);
			}
		} else if (lineno == 3) {
			if (strcmp(line, "base -") == 0)
				continue;
			if (strncmp(line, "base ", 5) != 0 || strlen(line + 5) != 16)
				goto bad;
			memcpy(m->base_sum, line + 5, 17);
		} else if (lineno == 4) {
			if (!parse_doubles(line, "threshold", m->threshold, m->ns))
				goto bad;
		} else if (lineno == 5) {
			if (!parse_doubles(line, "alone", m->alone, m->ns))
				goto bad;
		} else if (lineno == 6) {
			if (!parse_doubles(line, "bias", m->bias, m->ns))
				goto bad;
		} else if (lineno == 7) {
			char *end;

			if (strncmp(line, "features ", 9) != 0)
				goto bad;
			errno = 0;
			nfeat = strtoul(line + 9, &end, 10);
			/* A feature line has at least 9 bytes: no count the file cannot hold. */
			if (errno || *end || nfeat > MODEL_MAX_FEATURES || nfeat > len / 9)
				goto bad;
			m->ids = xcalloc(nfeat ? nfeat : 1, sizeof(*m->ids));
			m->w = xcalloc(nfeat ? nfeat * m->ns : 1, sizeof(*m->w));
		} else if (m->n < nfeat) {
			if (!parse_feature(m, m->n, line))
				goto bad;
			m->n++;
		} else {
			goto bad;
		}
	}
	if (lineno < 7 || m->n != nfeat) {
		snprintf(err, errlen, "%s: %zu feature lines, the header says %zu", path, m->n,
		         nfeat);
		goto fail_quiet;
	}
	index_build(m);
	free(buf);
	*out = m;
	return 0;
bad:
	snprintf(err, errlen, "%s:%zu: malformed %s", path, lineno,
	         lineno == 2   ? "signals line"
	         : lineno == 3 ? "base line"
	         : lineno == 4 ? "threshold line"
	         : lineno == 5 ? "alone line"
	         : lineno == 6 ? "bias line"
	         : lineno == 7 ? "features line"
	                       : "feature line");
fail_quiet:
	free(buf);
	model_free(&m);
	return rc;
}

/* ---- training ---- */

/*
 * v rounded to the digits the file keeps, so a model in memory scores exactly like the
 * same model saved and loaded again.
 */
static double rounded(double v, int digits)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%.*g", digits, v);
	return strtod(buf, NULL);
}

/* xorshift64*: the seeded shuffle. */
static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

static void shuffle(size_t *v, size_t n, uint64_t *s)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)(next_rand(s) % i);
		size_t t = v[i - 1];

		v[i - 1] = v[j];
		v[j] = t;
	}
}

/* The examples with features as columns 0..d-1 of the training set. */
struct dataset {
	size_t n, d;
	size_t *start; /* n + 1 offsets into col/val */
	uint32_t *col;
	float *val;
	uint32_t *ids; /* d feature ids, increasing */
	uint32_t *labels;
	double *offset; /* n * ns base scores for a layer, else NULL */
};

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static size_t column_of(const struct dataset *ds, uint32_t id)
{
	size_t lo = 0, hi = ds->d;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ds->ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * The training set with a column for each feature seen in at least min_df examples: a
 * feature seen once (most bigrams and character grams) would only learn that one message
 * by heart, and AdaGrad's first step gives it a full-size weight.
 */
static void dataset_build(struct dataset *ds, const struct model_example *ex, size_t n,
                          unsigned min_df)
{
	size_t nnz = 0, k = 0;

	for (size_t i = 0; i < n; i++)
		nnz += ex[i].x->n;
	ds->n = n;
	ds->ids = xmalloc((nnz ? nnz : 1) * sizeof(*ds->ids));
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < ex[i].x->n; j++)
			ds->ids[k++] = ex[i].x->id[j];
	qsort(ds->ids, nnz, sizeof(*ds->ids), u32_cmp);
	ds->d = 0;
	for (size_t j = 0, run; j < nnz; j += run) {
		for (run = 1; j + run < nnz && ds->ids[j + run] == ds->ids[j]; run++)
			;
		if (run >= min_df)
			ds->ids[ds->d++] = ds->ids[j];
	}
	ds->start = xmalloc((n + 1) * sizeof(*ds->start));
	ds->col = xmalloc((nnz ? nnz : 1) * sizeof(*ds->col));
	ds->val = xmalloc((nnz ? nnz : 1) * sizeof(*ds->val));
	ds->labels = xmalloc((n ? n : 1) * sizeof(*ds->labels));
	k = 0;
	for (size_t i = 0; i < n; i++) {
		ds->start[i] = k;
		ds->labels[i] = ex[i].labels;
		for (size_t j = 0; j < ex[i].x->n; j++) {
			size_t c = column_of(ds, ex[i].x->id[j]);

			if (c == ds->d || ds->ids[c] != ex[i].x->id[j])
				continue; /* too rare to learn from */
			ds->col[k] = (uint32_t)c;
			ds->val[k++] = ex[i].x->val[j];
		}
	}
	ds->start[n] = k;
}

static void dataset_release(struct dataset *ds)
{
	free(ds->start);
	free(ds->col);
	free(ds->val);
	free(ds->ids);
	free(ds->labels);
	free(ds->offset);
}

/*
 * One signal's logistic regression by AdaGrad SGD over the examples listed in use (n_use
 * of them), in a seeded order; the penalty applies to the weights an example touches.
 * Fills w (ds->d) and *bias.
 */
static void train_signal(const struct dataset *ds, size_t sig, size_t ns, const size_t *use,
                         size_t n_use, const struct model_train_opts *o, double l2, double *w,
                         double *bias)
{
	double *g2 = xcalloc(ds->d ? ds->d : 1, sizeof(*g2)), gb = 0.0, pos_w;
	size_t *order = xmalloc((n_use ? n_use : 1) * sizeof(*order)), pos = 0;
	uint64_t seed = o->seed * 0x9E3779B97F4A7C15ull + sig + 1;

	for (size_t i = 0; i < n_use; i++)
		pos += (ds->labels[use[i]] >> sig) & 1;
	/* Positives are rare: weigh them up, by the square root of the imbalance. */
	pos_w = pos ? sqrt((double)(n_use - pos) / (double)pos) : 1.0;
	if (pos_w < 1.0)
		pos_w = 1.0;
	if (pos_w > POS_WEIGHT_MAX)
		pos_w = POS_WEIGHT_MAX;
	memset(w, 0, (ds->d ? ds->d : 1) * sizeof(*w));
	*bias = 0.0;
	memcpy(order, use, n_use * sizeof(*order));
	for (unsigned e = 0; e < o->epochs; e++) {
		shuffle(order, n_use, &seed);
		for (size_t t = 0; t < n_use; t++) {
			size_t i = order[t];
			bool y = (ds->labels[i] >> sig) & 1;
			double z = *bias + (ds->offset ? ds->offset[i * ns + sig] : 0.0), g;

			for (size_t k = ds->start[i]; k < ds->start[i + 1]; k++)
				z += w[ds->col[k]] * ds->val[k];
			g = (model_sigmoid(z) - (y ? 1.0 : 0.0)) * (y ? pos_w : 1.0);
			for (size_t k = ds->start[i]; k < ds->start[i + 1]; k++) {
				size_t c = ds->col[k];
				double gc = g * ds->val[k] + l2 * w[c];

				g2[c] += gc * gc;
				w[c] -= o->rate * gc / sqrt(g2[c] + 1e-8);
			}
			/*
			 * A layer keeps its base's bias: a handful of corrections says which words
			 * mislead the base, not how common a signal is in all the owner's mail.
			 */
			if (!ds->offset) {
				gb += g * g;
				*bias -= o->rate * g / sqrt(gb + 1e-8);
			}
		}
	}
	free(order);
	free(g2);
}

static double example_score(const struct dataset *ds, size_t i, size_t sig, size_t ns,
                            const double *w, double bias)
{
	double z = bias + (ds->offset ? ds->offset[i * ns + sig] : 0.0);

	for (size_t k = ds->start[i]; k < ds->start[i + 1]; k++)
		z += w[ds->col[k]] * ds->val[k];
	return z;
}

/*
 * The threshold for one signal from out-of-fold probabilities of the examples listed in
 * use: the one with the best F1 among those whose precision reaches min_precision (at
 * least two hits), else (unless strict) the best F0.5, precision counting double; 1.0
 * ("never") when nothing qualifies.
 */
static double pick_threshold(const double *p, const uint32_t *labels, const size_t *use, size_t n,
                             size_t sig, double min_precision, bool strict)
{
	double best_t = 1.0, best_f = -1.0, alt_t = 1.0, alt_f = 0.0;

	for (int step = 10; step <= 95; step++) {
		double t = step / 100.0, prec, rec, f1, f05;
		size_t tp = 0, fp = 0, fn = 0;

		for (size_t u = 0; u < n; u++) {
			size_t i = use[u];
			bool y = (labels[i] >> sig) & 1, hit = p[i] >= t;

			tp += y && hit;
			fp += !y && hit;
			fn += y && !hit;
		}
		if (tp == 0)
			continue;
		prec = (double)tp / (double)(tp + fp);
		rec = (double)tp / (double)(tp + fn);
		f1 = 2 * prec * rec / (prec + rec);
		f05 = 1.25 * prec * rec / (0.25 * prec + rec);
		if (prec >= min_precision && tp >= 2 && f1 > best_f) {
			best_f = f1;
			best_t = t;
		}
		if (f05 > alt_f) {
			alt_f = f05;
			alt_t = t;
		}
	}
	return best_f >= 0.0 ? best_t : strict ? 1.0 : alt_t;
}

/* Whether example i has feature id (columns are sorted by id). */
static bool has_feature(const struct dataset *ds, size_t i, uint32_t id)
{
	for (size_t k = ds->start[i]; k < ds->start[i + 1]; k++)
		if (ds->ids[ds->col[k]] == id)
			return true;
	return false;
}

int model_train(const char *const *signals, size_t n_signals, const struct model_example *ex,
                size_t n, const struct model_train_opts *o, const struct model *base,
                struct model **out, char *err, size_t errlen)
{
	struct dataset ds = {0};
	struct model *m;
	double *w = NULL, l2 = base ? o->l2 * LAYER_L2_FACTOR : o->l2;
	size_t *all, kept = 0;

	*out = NULL;
	if (n == 0 || n_signals == 0 || n_signals > MODEL_MAX_SIGNALS) {
		snprintf(err, errlen, n == 0 ? "no examples to train on" : "%zu signals (1..%d)",
		         n_signals, MODEL_MAX_SIGNALS);
		return -EINVAL;
	}
	dataset_build(&ds, ex, n, base ? 1 : o->min_df);
	if (base) {
		ds.offset = xmalloc(n * n_signals * sizeof(*ds.offset));
		for (size_t i = 0; i < n; i++)
			for (size_t s = 0; s < n_signals; s++)
				ds.offset[i * n_signals + s] = model_score(base, s, ex[i].x);
	}
	m = xcalloc(1, sizeof(*m));
	m->ns = n_signals;
	for (size_t s = 0; s < n_signals; s++)
		m->signals[s] = xstrdup(signals[s]);
	if (base) {
		m->base = base;
		memcpy(m->base_sum, base->checksum, sizeof(m->base_sum));
		memcpy(m->threshold, base->threshold, sizeof(m->threshold));
		memcpy(m->alone, base->alone, sizeof(m->alone));
	}
	all = xmalloc(n * sizeof(*all));
	for (size_t i = 0; i < n; i++)
		all[i] = i;
	w = xmalloc((ds.d ? ds.d : 1) * n_signals * sizeof(*w));

	/* Thresholds from cross-validation: every example scored by a model that never saw it. */
	if (!base && o->cv_folds >= 2) {
		size_t *perm = xmalloc(n * sizeof(*perm)), *use = xmalloc(n * sizeof(*use));
		double *p = xmalloc(n * n_signals * sizeof(*p)), *pf = xmalloc(n * sizeof(*pf));
		double *wf = xmalloc((ds.d ? ds.d : 1) * sizeof(*wf)), b;
		uint64_t seed = o->seed ^ 0x5DEECE66Dull;

		memcpy(perm, all, n * sizeof(*perm));
		shuffle(perm, n, &seed);
		for (unsigned f = 0; f < o->cv_folds; f++) {
			size_t nu = 0;

			for (size_t t = 0; t < n; t++)
				if (t % o->cv_folds != f)
					use[nu++] = perm[t];
			for (size_t s = 0; s < n_signals; s++) {
				train_signal(&ds, s, n_signals, use, nu, o, l2, wf, &b);
				for (size_t t = f; t < n; t += o->cv_folds)
					p[perm[t] * n_signals + s] = model_sigmoid(
					    example_score(&ds, perm[t], s, n_signals, wf, b));
			}
		}
		for (size_t s = 0; s < n_signals; s++) {
			char name[80];
			uint32_t hit_id;
			size_t n_alone = 0;

			for (size_t i = 0; i < n; i++)
				pf[i] = p[i * n_signals + s];
			m->threshold[s] =
			    pick_threshold(pf, ds.labels, all, n, s, o->min_precision, false);
			/*
			 * Without a rule of the signal the model must be right on its own: that
			 * threshold is chosen on the examples no rule of the signal fired on, and
			 * is "never" unless it reaches the precision floor there.
			 */
			snprintf(name, sizeof(name), "h:%s", signals[s]);
			hit_id = features_id(name);
			for (size_t i = 0; i < n; i++)
				if (!has_feature(&ds, i, hit_id))
					use[n_alone++] = i;
			m->alone[s] =
			    pick_threshold(pf, ds.labels, use, n_alone, s, o->min_precision, true);
			if (m->alone[s] < m->threshold[s])
				m->alone[s] = m->threshold[s];
		}
		free(perm);
		free(use);
		free(p);
		free(pf);
		free(wf);
	} else if (!base) {
		for (size_t s = 0; s < n_signals; s++)
			m->threshold[s] = m->alone[s] = 0.5;
	}

	for (size_t s = 0; s < n_signals; s++)
		train_signal(&ds, s, n_signals, all, n, o, l2, w + s * ds.d, &m->bias[s]);

	/* Keep the features with any weight above the pruning floor. */
	m->ids = xmalloc((ds.d ? ds.d : 1) * sizeof(*m->ids));
	m->w = xcalloc((ds.d ? ds.d : 1) * n_signals, sizeof(*m->w));
	for (size_t c = 0; c < ds.d; c++) {
		bool any = false;

		for (size_t s = 0; s < n_signals; s++)
			any |= fabs(w[s * ds.d + c]) >= o->prune;
		if (!any)
			continue;
		m->ids[kept] = ds.ids[c];
		for (size_t s = 0; s < n_signals; s++) {
			double v = w[s * ds.d + c];

			m->w[kept * n_signals + s] =
			    fabs(v) >= o->prune ? (float)rounded(v, 4) : 0.0f;
		}
		kept++;
	}
	m->n = kept;
	for (size_t s = 0; s < n_signals; s++) {
		m->bias[s] = rounded(m->bias[s], 6);
		m->threshold[s] = rounded(m->threshold[s], 6);
		m->alone[s] = rounded(m->alone[s], 6);
	}
	index_build(m);
	set_checksum(m);
	free(all);
	free(w);
	dataset_release(&ds);
	*out = m;
	return 0;
}
