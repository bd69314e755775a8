/*
 * review — builds one period's review (struct score_report, score.h) from the database:
 * every message and signal of the period and of the period before it go through the scorer,
 * then the report gets the clients' names, ranks, trends and dated evidence.
 *
 * The glue between store, rules (the signal catalogue), config and score; the digest mail,
 * `clients` and `client NAME` all print what this builds, so they always agree.
 */
#ifndef REDFLAG_REVIEW_H
#define REDFLAG_REVIEW_H

#include <stdint.h>

#include "redflag/config.h"
#include "redflag/period.h"
#include "redflag/rules.h"
#include "redflag/score.h"
#include "redflag/store.h"

/*
 * Builds the review of period p for the clients store_clients_foreach(need_reply) lists.
 * lang picks the signal descriptions ("da", "de", "en"; anything else is English). now is the
 * report's time (old_rate is judged at the earlier of now and the period's end). On success
 * *out is a new report (score_report_free()); on failure returns -EIO with err set.
 */
int review_build(struct store *st, const struct rules *rules, const struct rf_config *cfg,
                 const struct period *p, const char *lang, int64_t now, struct score_report **out,
                 char *err, size_t errlen);

/* The score thresholds of cfg (config group `score`) as score.h wants them. */
void review_params(const struct rf_config *cfg, struct score_params *p);

#endif
