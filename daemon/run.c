/*
 * The import commands: `sync --once` and `run`, the signal handling and the poll loop.
 *
 * Signals are blocked and read from a signalfd, so no work happens in a signal handler and
 * the loop can wait for "a signal or the IMAP socket" with one poll(). They are blocked
 * before the parser worker is forked, so the worker inherits the mask: a Ctrl-C on the
 * terminal's process group stops the daemon gracefully instead of killing the worker and
 * turning the message it was parsing into a false "unparseable".
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "redflag/clients.h"
#include "redflag/log.h"
#include "redflag/parser.h"
#include "redflag/store.h"
#include "redflag/sync.h"
#include "redflag/util.h"

/* IDLE is renewed before the 30-minute inactivity limit of RFC 2177 servers. */
#define IDLE_RENEW_MS (28 * 60 * 1000)
/* Reconnect backoff: 1 s doubling up to this cap, with jitter. */
#define BACKOFF_CAP_S 300

struct runtime {
	struct rf_config *cfg;
	struct store *store;
	struct parser *parser;
	struct clients *clients;
	struct rules *rules;
	struct classify_model *model; /* NULL: the rules alone */
	struct calendar_hours hours;  /* strings borrowed from cfg */
	const struct options *opt;    /* for reloading the configuration */
	int sigfd;
	bool stop;
	bool reload;           /* SIGHUP seen: reload between passes, never inside one */
	int64_t watchdog_ms;   /* ping interval (half of WATCHDOG_USEC); 0 = no watchdog */
	int64_t watchdog_last; /* last WATCHDOG=1 */
	uint64_t messages;     /* stored messages, for the status line */
	bool tty;              /* progress lines on stderr */
	bool progress_shown;   /* a progress line is on the terminal, to be ended */
	int64_t progress_ms;   /* last progress line */
	int64_t mailbox_start_ms;
};

/* Reads pending signals; returns true when the process should stop. */
static bool runtime_signals(struct runtime *rt)
{
	struct signalfd_siginfo si;

	while (read(rt->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			if (!rt->stop)
				log_info("signal %u: stopping", si.ssi_signo);
			rt->stop = true;
			break;
		case SIGHUP:
			log_info("SIGHUP: reloading the configuration");
			rt->reload = true;
			break;
		default:
			break;
		}
	}
	return rt->stop;
}

/* Tells systemd we are alive, at most once per interval; cheap enough to call often. */
static void runtime_watchdog(struct runtime *rt)
{
	int64_t now;

	if (rt->watchdog_ms == 0)
		return;
	now = now_ms();
	if (now - rt->watchdog_last >= rt->watchdog_ms) {
		sd_notify(0, "WATCHDOG=1");
		rt->watchdog_last = now;
	}
}

static bool should_stop(void *arg)
{
	/* Called between messages of a long import: the watchdog must hear from us there too. */
	runtime_watchdog(arg);
	return runtime_signals(arg);
}

static void progress(void *arg, const struct sync_progress *p)
{
	struct runtime *rt = arg;
	int64_t now = now_ms();
	double secs, rate;

	if (p->done == 0 && !p->finished)
		rt->mailbox_start_ms = now;
	secs = (double)(now - rt->mailbox_start_ms) / 1000.0;
	rate = secs > 0 ? (double)p->done / secs : 0;

	if (p->finished) {
		if (rt->progress_shown)
			fputc('\n', stderr);
		rt->progress_shown = false;
		if (p->done > 0)
			log_info("%s/%s: %llu new messages in %.1f s", p->account, p->mailbox,
			         (unsigned long long)p->done, secs);
		rt->mailbox_start_ms = now;
		return;
	}
	if (now - rt->progress_ms < 250)
		return;
	rt->progress_ms = now;
	if (rt->tty) {
		double eta = rate > 0 ? (double)(p->total - p->done) / rate : 0;

		fprintf(stderr, "\r%s/%s %llu/%llu  %.0f msg/s  ETA %.0f s   ", p->account,
		        p->mailbox, (unsigned long long)p->done, (unsigned long long)p->total, rate,
		        eta);
		rt->progress_shown = true;
	}
	sd_notifyf(0, "STATUS=importing %s/%s: %llu/%llu", p->account, p->mailbox,
	           (unsigned long long)p->done, (unsigned long long)p->total);
}

static void runtime_close(struct runtime *rt)
{
	clients_free(&rt->clients);
	classify_model_free(&rt->model);
	rules_free(&rt->rules);
	store_close(&rt->store);
	parser_free(&rt->parser);
	config_free(&rt->cfg);
	if (rt->sigfd >= 0)
		close(rt->sigfd);
	rt->sigfd = -1;
}

/* The model beside cfg's rules, with the owner layer beside the database; -1 if unusable. */
static int load_model(const struct rf_config *cfg, struct classify_model **out)
{
	char *layer = daemon_layer_path(cfg->database);
	int r = daemon_load_model(cfg->rules, NULL, layer, false, out);

	free(layer);
	return r;
}

static int runtime_open(struct runtime *rt, const struct options *opt)
{
	struct parser_options popt = PARSER_OPTIONS_DEFAULT;
	char err[512];
	sigset_t set;
	uint64_t wd_usec = 0;
	int r;

	*rt = (struct runtime){.sigfd = -1, .tty = isatty(STDERR_FILENO) == 1, .opt = opt};
	if (sd_watchdog_enabled(0, &wd_usec) > 0 && wd_usec >= 2000)
		rt->watchdog_ms = (int64_t)(wd_usec / 2000);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 ||
	    (rt->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
		log_err("signalfd: %s", strerror(errno));
		return -1;
	}

	rt->cfg = daemon_load_config(opt);
	if (rt->cfg == NULL)
		return -1;
	if (rt->cfg->n_accounts == 0) {
		log_err("%s: no accounts configured", rt->cfg->path);
		return -1;
	}
	/* Fork the worker before the database and sockets exist: it inherits none of them. */
	r = parser_new(&popt, &rt->parser);
	if (r < 0) {
		log_err("cannot start the parser worker: %s", strerror(-r));
		return -1;
	}
	r = store_open(rt->cfg->database, &rt->store, err, sizeof(err));
	if (r < 0) {
		log_err("%s", err);
		return -1;
	}
	rt->clients = clients_new(rt->cfg);
	rt->rules = daemon_load_rules(rt->cfg->rules, rt->cfg->signals);
	if (rt->rules == NULL || load_model(rt->cfg, &rt->model) < 0)
		return -1;
	/*
	 * Build the prefilter now, while the process is small: compiling it needs several MB
	 * of scratch memory for a moment, and the import's own memory comes on top later.
	 */
	if (!rules_prefilter_build(rt->rules))
		log_notice("rules: no prefilter on this machine; PCRE2 runs every pattern");
	daemon_calendar_hours(rt->cfg, &rt->hours);
	return 0;
}

static struct sync_ctx runtime_ctx(struct runtime *rt)
{
	return (struct sync_ctx){
	    .cfg = rt->cfg,
	    .store = rt->store,
	    .parser = rt->parser,
	    .clients = rt->clients,
	    .rules = rt->rules,
	    .model = rt->model,
	    .hours = &rt->hours,
	    .progress = progress,
	    .should_stop = should_stop,
	    .arg = rt,
	};
}

/*
 * For benchmarks: the daemon's peak memory. VmHWM, not getrusage(): ru_maxrss carries over
 * the high-water mark of the process that forked and exec'd us (a big Python test harness,
 * say), VmHWM starts afresh at exec.
 */
static void log_peak_rss(void)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmHWM:", 6) == 0)
			log_debug("peak RSS:%s", str_trim(line + 6));
	fclose(f);
}

int cmd_sync(const struct options *opt, int argc, char **argv)
{
	struct runtime rt;
	int status = EXIT_OK;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--once") != 0) {
			fprintf(stderr, "usage: redflagd sync [--once]\n");
			return EXIT_USAGE;
		}
	}
	if (runtime_open(&rt, opt) < 0) {
		runtime_close(&rt);
		return EXIT_FAIL;
	}
	for (size_t i = 0; i < rt.cfg->n_accounts && !rt.stop; i++) {
		const struct rf_account *acct = &rt.cfg->accounts[i];
		struct sync_ctx ctx = runtime_ctx(&rt);
		struct sync_result res = {0};
		struct imap_session *s = NULL;
		char err[512] = "";
		int r;

		r = sync_connect(acct, &s, err, sizeof(err));
		if (r == 0)
			r = sync_account(&ctx, acct, s, &res, err, sizeof(err));
		imap_close(&s);
		/* New corrections teach the owner layer; the next account's mail uses it. */
		if (ctx.corrections > 0 &&
		    daemon_owner_train(rt.cfg, rt.rules, &rt.model, rt.store) < 0)
			status = EXIT_FAIL;
		if (r == -ECANCELED) {
			log_notice(
			    "%s: interrupted; the next sync continues where this one stopped",
			    acct->name);
			status = EXIT_FAIL;
		} else if (r < 0) {
			log_err("%s: %s", acct->name, err[0] ? err : strerror(-r));
			status = EXIT_FAIL;
		} else {
			log_info("%s: %llu new messages (%llu unparseable)", acct->name,
			         (unsigned long long)res.stored,
			         (unsigned long long)res.unparseable);
		}
	}
	runtime_close(&rt);
	log_peak_rss();
	return status;
}

/* The shortest poll_interval of all accounts, in ms. */
static int64_t min_poll_ms(const struct rf_config *cfg)
{
	int64_t ms = (int64_t)cfg->accounts[0].poll_interval * 1000;

	for (size_t i = 1; i < cfg->n_accounts; i++)
		if ((int64_t)cfg->accounts[i].poll_interval * 1000 < ms)
			ms = (int64_t)cfg->accounts[i].poll_interval * 1000;
	return ms;
}

/* Waits up to timeout_ms for a signal. */
static void runtime_sleep(struct runtime *rt, int64_t timeout_ms)
{
	struct pollfd pfd = {.fd = rt->sigfd, .events = POLLIN};

	if (timeout_ms > INT32_MAX)
		timeout_ms = INT32_MAX;
	if (poll(&pfd, 1, (int)timeout_ms) > 0)
		runtime_signals(rt);
}

/* Exponential backoff with ±25 % jitter so many daemons do not reconnect in step. */
static int64_t backoff_ms(unsigned failures)
{
	int64_t base = 1000LL << (failures < 9 ? failures : 9);

	if (base > BACKOFF_CAP_S * 1000LL)
		base = BACKOFF_CAP_S * 1000LL;
	return base * 3 / 4 + (int64_t)(random() % (base / 2 + 1));
}

/*
 * SIGHUP: parse and check the whole new configuration (rules, templates, database) first;
 * swap only when all of it is good, else keep running on the old one and say why (each
 * error with file:line). Returns true on a swap: the caller then drops its sessions, since
 * the accounts may have changed, and the next full pass reconnects.
 */
static bool runtime_reload(struct runtime *rt)
{
	struct rf_config *cfg;
	struct rules *rules = NULL;
	struct classify_model *model = NULL;
	struct store *store = NULL;
	char err[512];

	sd_notify(0, "RELOADING=1");
	cfg = daemon_load_config(rt->opt);
	if (cfg != NULL && cfg->n_accounts == 0) {
		log_err("%s: no accounts configured", cfg->path);
		config_free(&cfg);
	}
	if (cfg != NULL)
		rules = daemon_load_rules(cfg->rules, cfg->signals);
	if (rules != NULL && (load_model(cfg, &model) < 0 || daemon_check_templates(cfg) < 0))
		rules_free(&rules);
	if (rules != NULL && strcmp(cfg->database, rt->cfg->database) != 0 &&
	    store_open(cfg->database, &store, err, sizeof(err)) < 0) {
		log_err("%s", err);
		rules_free(&rules);
	}
	if (rules == NULL) {
		classify_model_free(&model);
		log_err("configuration reload failed; still running with the previous one");
		config_free(&cfg);
		sd_notify(0, "READY=1");
		return false;
	}
	if (!rules_prefilter_build(rules))
		log_notice("rules: no prefilter on this machine; PCRE2 runs every pattern");
	if (store != NULL) {
		store_close(&rt->store);
		rt->store = store;
	}
	rules_free(&rt->rules);
	rt->rules = rules;
	classify_model_free(&rt->model);
	rt->model = model;
	clients_free(&rt->clients);
	config_free(&rt->cfg);
	rt->cfg = cfg;
	rt->clients = clients_new(rt->cfg);
	daemon_calendar_hours(rt->cfg, &rt->hours);
	log_info("configuration reloaded from %s", rt->cfg->path);
	sd_notify(0, "READY=1");
	return true;
}

/* "idle on INBOX · 1,204 messages · next review 2027-01-15" for systemctl status. */
static void runtime_status(const struct runtime *rt, const char *what, int64_t next_review)
{
	char day[16];

	daemon_local_day(rt->cfg->owner.timezone, next_review, day, sizeof(day));
	sd_notifyf(0, "STATUS=%s · %llu message%s%s%s", what, (unsigned long long)rt->messages,
	           rt->messages == 1 ? "" : "s", day[0] != '-' ? " · next review " : "",
	           day[0] != '-' ? day : "");
}

/*
 * `run`: import everything, then IDLE on the first account's INBOX and import what arrives;
 * every poll_interval, sync all mailboxes of all accounts. A network error drops the
 * session and reconnects with backoff; the database is consistent at every point.
 */
int cmd_run(const struct options *opt, int argc, char **argv)
{
	struct runtime rt;
	struct imap_session **sess;
	unsigned *failures;
	int64_t *retry_at; /* when a dropped account may reconnect */
	bool ready = false;
	int64_t next_full = 0;
	int64_t next_digest = 0; /* monotonic ms; the first check follows the first import */
	int64_t next_onboard = 0;
	int64_t next_review = 0;  /* wall clock, for the status line */
	bool inbox_fresh = false; /* INBOX examined and synced on sess[0], ready to IDLE */
	unsigned digest_failures = 0;
	int64_t poll_ms;
	size_t n;

	(void)argv;
	if (argc > 1) {
		fprintf(stderr, "usage: redflagd run\n");
		return EXIT_USAGE;
	}
	if (runtime_open(&rt, opt) < 0) {
		runtime_close(&rt);
		return EXIT_FAIL;
	}
	srandom((unsigned)time(NULL) ^ (unsigned)getpid());
	{
		struct store_stats stats;

		if (store_stats(rt.store, rt.cfg->clients_need_reply, &stats) == 0)
			rt.messages = (uint64_t)stats.messages;
	}
	n = rt.cfg->n_accounts;
	sess = xcalloc(n, sizeof(*sess));
	failures = xcalloc(n, sizeof(*failures));
	retry_at = xcalloc(n, sizeof(*retry_at));
	poll_ms = min_poll_ms(rt.cfg);

	while (!runtime_signals(&rt)) {
		struct sync_ctx ctx;
		struct imap_session *idle = NULL;
		int64_t wait_ms;
		char err[512] = "";
		int r;

		if (rt.reload) {
			rt.reload = false;
			if (runtime_reload(&rt)) {
				/* The accounts may differ now: start over with fresh sessions. */
				for (size_t i = 0; i < n; i++)
					imap_close(&sess[i]);
				n = rt.cfg->n_accounts;
				sess = xreallocarray(sess, n, sizeof(*sess));
				failures = xreallocarray(failures, n, sizeof(*failures));
				retry_at = xreallocarray(retry_at, n, sizeof(*retry_at));
				memset(sess, 0, n * sizeof(*sess));
				memset(failures, 0, n * sizeof(*failures));
				memset(retry_at, 0, n * sizeof(*retry_at));
				poll_ms = min_poll_ms(rt.cfg);
				next_full = next_digest = next_onboard = 0;
				inbox_fresh = false;
			}
		}
		runtime_watchdog(&rt);
		ctx = runtime_ctx(&rt);

		if (now_ms() >= next_full) {
			for (size_t i = 0; i < n && !rt.stop; i++) {
				const struct rf_account *acct = &rt.cfg->accounts[i];
				struct sync_result res = {0};

				if (sess[i] == NULL && now_ms() < retry_at[i])
					continue;
				r = sess[i] ? 0 : sync_connect(acct, &sess[i], err, sizeof(err));
				if (r == 0)
					r = sync_account(&ctx, acct, sess[i], &res, err,
					                 sizeof(err));
				rt.messages += res.stored;
				if (r == -ECANCELED)
					break;
				if (r < 0) {
					log_err("%s: %s", acct->name, err[0] ? err : strerror(-r));
					imap_close(&sess[i]);
					retry_at[i] = now_ms() + backoff_ms(failures[i]++);
					continue;
				}
				failures[i] = 0;
			}
			/* New corrections teach the owner layer before the next mail comes in. */
			if (ctx.corrections > 0) {
				(void)daemon_owner_train(rt.cfg, rt.rules, &rt.model, rt.store);
				ctx = runtime_ctx(&rt);
			}
			next_full = now_ms() + poll_ms;
			next_onboard = 0;    /* new clients may have come in */
			inbox_fresh = false; /* the pass examined other mailboxes on the session */
			if (!ready && sess[0] != NULL && !rt.stop) {
				/* Config, database and a successful login: now we are up. */
				sd_notify(0, "READY=1");
				ready = true;
			}
		}
		if (rt.stop)
			break;

		/* After the import, so a digest that is due covers the mail up to now. */
		if (ready && now_ms() >= next_digest) {
			int64_t secs =
			    daemon_digest_tick(rt.cfg, rt.rules, rt.store, &digest_failures);

			next_digest = now_ms() + 1000 * secs;
			next_review = daemon_next_review(rt.cfg, (int64_t)time(NULL));
		}

		if (sess[0] != NULL && imap_has_idle(sess[0]) && inbox_fresh) {
			/* Nothing new since the last IDLE (a timeout or a signal): IDLE again. */
			idle = sess[0];
		} else if (sess[0] != NULL && imap_has_idle(sess[0])) {
			struct sync_result res = {0};

			/* Leaves INBOX examined and up to date, which IDLE needs. */
			r = sync_mailbox(&ctx, &rt.cfg->accounts[0], sess[0], "INBOX", &res, err,
			                 sizeof(err));
			rt.messages += res.stored;
			if (r == 0) {
				idle = sess[0];
				inbox_fresh = true;
			} else if (r != -ECANCELED) {
				log_err("%s: %s", rt.cfg->accounts[0].name, err);
				imap_close(&sess[0]);
				retry_at[0] = now_ms() + backoff_ms(failures[0]++);
			}
		}
		if (rt.stop)
			break;

		/* After the INBOX sync: a new client's first mail may just have been stored. */
		if (ready && now_ms() >= next_onboard)
			next_onboard = now_ms() + 1000 * daemon_onboard_tick(rt.cfg, rt.store);

		runtime_status(&rt, idle ? "idle on INBOX" : "waiting", next_review);
		wait_ms = next_full < next_digest ? next_full : next_digest;
		if (next_onboard < wait_ms)
			wait_ms = next_onboard;
		if (rt.watchdog_ms > 0 && now_ms() + rt.watchdog_ms < wait_ms)
			wait_ms = now_ms() + rt.watchdog_ms;
		for (size_t i = 0; i < n; i++)
			if (sess[i] == NULL && retry_at[i] < wait_ms)
				wait_ms = retry_at[i];
		wait_ms -= now_ms();
		if (wait_ms < 0)
			wait_ms = 0;
		if (idle == NULL) {
			runtime_sleep(&rt, wait_ms);
		} else {
			if (wait_ms > IDLE_RENEW_MS)
				wait_ms = IDLE_RENEW_MS;
			r = imap_idle(idle, (int)wait_ms, rt.sigfd, err, sizeof(err));
			if (r < 0) {
				log_warnx("%s: IDLE: %s; reconnecting", rt.cfg->accounts[0].name,
				          err);
				imap_close(&sess[0]);
				retry_at[0] = now_ms() + backoff_ms(failures[0]++);
			}
			/*
			 * r == 1: new mail, fetched by the INBOX sync of the next round; 0: the
			 * wait ended (a timer, the watchdog); 2: a signal. Only new mail or an
			 * error needs that sync: the mailbox stays examined for the next IDLE.
			 */
			if (r != 0 && r != 2)
				inbox_fresh = false;
			if (r == 1)
				next_onboard = 0;
		}
		/* A dropped account whose retry time has come: the full pass reconnects it. */
		for (size_t i = 0; i < n; i++)
			if (sess[i] == NULL && now_ms() >= retry_at[i])
				next_full = 0;
	}

	sd_notify(0, "STOPPING=1");
	for (size_t i = 0; i < n; i++)
		imap_close(&sess[i]);
	free(sess);
	free(failures);
	free(retry_at);
	runtime_close(&rt);
	return EXIT_OK;
}
