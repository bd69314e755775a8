/*
 * redflagd — command line entry point. Parses global options, dispatches to a command.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "redflag/log.h"
#include "redflag/smtp.h"
#include "redflag/util.h"

#define DEFAULT_CONFIG "/etc/redflagd/redflagd.conf"

static const char usage_text[] =
    "usage: redflagd [-c FILE] [-v] [-T TOPICS] COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  run                     stay connected: import new mail as it arrives (IDLE)\n"
    "  sync [--once]           import new mail from every account, then exit\n"
    "  clients [--json] [--period P]\n"
    "                          clients with their verdict for period P (default: last)\n"
    "  client NAME [--json] [--period P]\n"
    "                          one client's ledger with dated evidence\n"
    "  digest [--period P] (--preview [--text] | --send [--force])\n"
    "                          show or send the review mail (P: 2026, 2026-Q3, 2026-11,\n"
    "                          2026-W47 or last); a period is sent once unless --force\n"
    "  onboard CLIENT-OR-ADDRESS [--lang L] (--preview | --send [--force])\n"
    "                          the \"how we will work together\" mail, once per client\n"
    "  farewell CLIENT [--lang L] [--end DATE] [--handover TEXT] [--colleague TEXT]\n"
    "           (--preview | --send [--force])\n"
    "                          a respectful release letter; sent only with --send\n"
    "  classify [--json] [--rules DIR] [--model FILE] [--layer FILE] [--config FILE] FILE...\n"
    "                          classify raw messages, no IMAP or database needed\n"
    "  train --corpus DIR [--labels CSV]... [--base MODEL] --out FILE\n"
    "                          build the signal model (or an owner layer) from labelled mail\n"
    "  explain MESSAGE-ID      why a stored message got its signals\n"
    "  reclassify              re-run the rules over stored mail\n"
    "  mark MESSAGE-ID (+SIGNAL | -SIGNAL)... | --none\n"
    "                          correct a stored message's signals; the correction is\n"
    "                          kept and wins over rules and model from now on\n"
    "  stats --json            counts as JSON\n"
    "  check-config            validate the configuration and exit\n"
    "\n"
    "options:\n"
    "  -c FILE     configuration file (default " DEFAULT_CONFIG ")\n"
    "  -v          more log output (repeat for debug)\n"
    "  -T TOPICS   trace topics, comma-separated: imap,smtp,store,sync or all\n"
    "  --version   print the version\n"
    "  --help      print this help\n";

static void usage(FILE *f)
{
	fputs(usage_text, f);
}

struct rf_config *daemon_load_config(const struct options *opt)
{
	struct strbuf errors = STRBUF_INIT;
	struct rf_config *cfg = NULL;

	if (config_load(opt->config_path, &cfg, &errors) < 0) {
		fputs(errors.data ? errors.data : "configuration error\n", stderr);
		strbuf_release(&errors);
		return NULL;
	}
	strbuf_release(&errors);
	return cfg;
}

static int cmd_check_config(const struct options *opt, int argc, char **argv)
{
	struct rf_config *cfg;
	struct rules *rules;

	(void)argv;
	if (argc > 1) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cfg = daemon_load_config(opt);
	if (cfg == NULL)
		return EXIT_FAIL;
	/* The rule packs are configuration too: a broken pattern must not wait for the daemon. */
	rules = daemon_load_rules(cfg->rules, cfg->signals);
	/* ... and so are the mail templates: an unknown placeholder fails here, not in a mail. */
	if (daemon_check_templates(cfg) < 0)
		rules_free(&rules);
	/* ... and the signal model with the owner's layer: nothing runs on a half-read one. */
	if (rules != NULL) {
		struct classify_model *cm = NULL;
		char *layer = daemon_layer_path(cfg->database);

		if (daemon_load_model(cfg->rules, NULL, layer, false, &cm) < 0)
			rules_free(&rules);
		else if (cm == NULL)
			printf("note: no signal model beside %s: the rules alone will decide\n",
			       cfg->rules);
		classify_model_free(&cm);
		free(layer);
	}
	config_free(&cfg);
	if (rules == NULL)
		return EXIT_FAIL;
	rules_free(&rules);
	printf("configuration OK\n");
	return EXIT_OK;
}

static const struct {
	const char *name;
	int (*fn)(const struct options *opt, int argc, char **argv);
} commands[] = {
    {"run", cmd_run},
    {"sync", cmd_sync},
    {"stats", cmd_stats},
    {"clients", cmd_clients},
    {"client", cmd_client},
    {"digest", cmd_digest},
    {"onboard", cmd_onboard},
    {"farewell", cmd_farewell},
    {"check-config", cmd_check_config},
    {"classify", cmd_classify},
    {"train", cmd_train},
    {"explain", cmd_explain},
    {"reclassify", cmd_reclassify},
    {"mark", cmd_mark},
};

int main(int argc, char **argv)
{
	struct options opt = {.config_path = DEFAULT_CONFIG};
	const char *cmd;
	int i;

	/*
	 * Neither libetpan nor libcurl (with NOSIGNAL) handles SIGPIPE: a peer closing the
	 * connection must be an EPIPE error, not the end of the process.
	 */
	signal(SIGPIPE, SIG_IGN);
	/* Before anything could start a thread (libcurl's global state is not thread-safe). */
	if (smtp_global_init() < 0) {
		fprintf(stderr, "redflagd: cannot initialise libcurl\n");
		return EXIT_FAIL;
	}

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			return EXIT_OK;
		} else if (strcmp(a, "--version") == 0) {
			printf("redflagd %s\n", REDFLAGD_VERSION);
			return EXIT_OK;
		} else if (strcmp(a, "-c") == 0 && i + 1 < argc) {
			opt.config_path = argv[++i];
			opt.config_given = true;
		} else if (strcmp(a, "-T") == 0 && i + 1 < argc) {
			opt.trace = argv[++i];
		} else if (a[1] == 'v' && strspn(a + 1, "v") == strlen(a + 1)) {
			opt.verbose += (int)strlen(a + 1);
		} else {
			fprintf(stderr, "redflagd: unknown option %s\n", a);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}

	/* journald sets JOURNAL_STREAM for services whose stderr it reads. */
	log_init(opt.verbose > 0 ? LOG_DEBUG : LOG_INFO, getenv("JOURNAL_STREAM") != NULL);
	log_set_trace(opt.trace);

	cmd = argv[i];
	for (size_t k = 0; k < ARRAY_SIZE(commands); k++)
		if (strcmp(cmd, commands[k].name) == 0)
			return commands[k].fn(&opt, argc - i, argv + i);
	fprintf(stderr, "redflagd: unknown command \"%s\"\n", cmd);
	usage(stderr);
	return EXIT_USAGE;
}
