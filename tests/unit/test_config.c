/* config: broken files reported as file:line, defaults, paths, URLs, secrets. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "redflag/config.h"
#include "redflag/util.h"

#define OWNER       "owner = { addresses = [\"me@example.com\"]; };\n"
#define ACCT_OPEN   "accounts = ( { name = \"a\"; url = \"imaps://imap.example.com\"; user = \"u\";\n"
#define ACCT(extra) ACCT_OPEN "  password_env = \"P\";\n" extra "} );\n"

struct tmp {
	char dir[PATH_MAX];
};

static int setup(void **state)
{
	struct tmp *t = xcalloc(1, sizeof(*t));
	char tmpl[] = "/tmp/rf-test-config-XXXXXX";

	if (mkdtemp(tmpl) == NULL)
		return -1;
	/* realpath: config.c resolves relative paths against the canonical directory. */
	if (realpath(tmpl, t->dir) == NULL)
		return -1;
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tmp *t = *state;
	char *cmd = xasprintf("rm -rf '%s'", t->dir);
	int r = system(cmd);

	free(cmd);
	free(t);
	return r == 0 ? 0 : -1;
}

static char *write_file(const struct tmp *t, const char *name, const char *text, mode_t mode)
{
	char *path = xasprintf("%s/%s", t->dir, name);
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

/* Each broken file and the "file:line: message" tails it must produce (all of them). */
static const struct {
	const char *text;
	const char *expect[4];
} broken[] = {
    /* unknown keys, at every level */
    {OWNER "colour = \"red\";\n", {":2: unknown setting 'colour'"}},
    {"owner = { addresses = [\"me@example.com\"];\n  nmae = \"x\"; };\n",
     {":2: unknown setting 'nmae'"}},
    {OWNER ACCT("  pasword_file = \"x\";\n"), {":4: unknown setting 'pasword_file'"}},
    {OWNER "onboarding = { auto = false;\n  delai = 3; };\n", {":3: unknown setting 'delai'"}},
    {OWNER "onboarding = { auto = true;\n  max_per_day = 0; };\n", {":3: "}},
    {OWNER "feedback = { folder = \"red*\";\n  fodler = \"x\"; };\n",
     {":2: 'folder': \"red*\" is not a usable mailbox name", ":3: unknown setting 'fodler'"}},
    {OWNER "score = { act = 0.9;\n release = 0.5; };\n",
     {":2: score: act (0.90) must be below release"}},
    /* syntax errors keep their line */
    {OWNER "\ndatabase = ;\n", {":3: syntax error"}},
    {OWNER "database = \"x.db\";\nrules = [ \"a\", ;\n", {":3: syntax error"}},
    /* owner */
    {"database = \"x.db\";\n", {":1: missing required group 'owner'"}},
    {"owner = { name = \"x\"; };\n", {":1: missing required setting 'addresses'"}},
    {"owner = { addresses = [];\n};\n", {":1: 'addresses' must not be empty"}},
    {"owner = { addresses = [\"me@example.com\",\n \"not an address\"]; };\n",
     {":2: 'addresses': \"not an address\" is not an e-mail address"}},
    {"owner = { addresses = [\"me@example.com\"];\n timezone = \"Mars/Olympus\"; };\n",
     {":2: unknown time zone \"Mars/Olympus\""}},
    {"owner = { addresses = [\"me@example.com\"];\n timezone = \"../../../etc/passwd\"; };\n",
     {":2: unknown time zone"}},
    {"owner = { addresses = [\"me@example.com\"];\n timezone = \"/etc/localtime\"; };\n",
     {":2: unknown time zone"}},
    {"owner = { addresses = [\"me@example.com\"];\n timezone = \"zone.tab\"; };\n",
     {":2: unknown time zone"}},
    {"owner = { addresses = [\"me@example.com\"];\n work_hours = \"17:00-08:00\"; };\n",
     {":2: work_hours: start 17:00 is not before end 08:00"}},
    {"owner = { addresses = [\"me@example.com\"];\n work_hours = \"8-17\"; };\n",
     {":2: work_hours must look like \"08:00-17:00\""}},
    {"owner = { addresses = [\"me@example.com\"];\n work_hours = \"08:60-17:00\"; };\n",
     {":2: work_hours must look like"}},
    {"owner = { addresses = [\"me@example.com\"];\n work_days = \"monday-friday\"; };\n",
     {":2: work_days must look like"}},
    {"owner = { addresses = [\"me@example.com\"];\n language = \"fr\"; };\n",
     {":2: language must be \"da\", \"de\" or \"en\""}},
    {"owner = { addresses = [\"me@example.com\"];\n holidays = \"us\"; };\n",
     {":2: holidays must be"}},
    {"owner = { addresses = [\"me@example.com\"];\n holidays_extra = [\"2026-02-29\"]; };\n",
     {":2: 'holidays_extra': \"2026-02-29\" is not a date"}},
    /* several errors in one file: all reported */
    {"owner = { addresses = [\"me@example.com\"];\n language = \"fr\";\n"
     " timezone = \"Nowhere\";\n work_days = \"xyz\"; };\nbogus = 1;\n",
     {":2: language must be", ":3: unknown time zone", ":4: work_days must",
      ":5: unknown setting"}},
    /* integers: type, range, libconfig's 32-bit wrap, octal-looking literals */
    {OWNER ACCT("  timeout = 3000000000;\n"),
     {":4: 'timeout' must be between 5 and 600 (got 3000000000)"}},
    {OWNER ACCT("  batch_size = 4294967796;\n"), /* wraps to 500 inside libconfig */
     {":4: 'batch_size' must be between 1 and 5000 (got 4294967796)"}},
    {OWNER ACCT("  timeout = 3000000000L;\n"),
     {":4: 'timeout' must be between 5 and 600 (got 3000000000)"}},
    {OWNER ACCT("  timeout = 99999999999999999999;\n"), {":4: 'timeout' is out of range"}},
    {OWNER ACCT("  timeout = 0644;\n"), {":4: 'timeout' must be between 5 and 600 (got 644)"}},
    {OWNER ACCT("  timeout = -5;\n"), {":4: 'timeout' must be between 5 and 600 (got -5)"}},
    {OWNER ACCT("  timeout = 60.0;\n"), {":4: 'timeout' must be an integer"}},
    {OWNER ACCT("  timeout = \"60\";\n"), {":4: 'timeout' must be an integer"}},
    {OWNER ACCT("  max_message_bytes = 100;\n"), {":4: 'max_message_bytes' must be between 4096"}},
    /* accounts */
    {OWNER
     "accounts = ( { name = \"a\"; url = \"imaps://h\"; user = \"u\"; password_env = \"P\"; },\n"
     "{ name = \"a\"; url = \"imaps://h\"; user = \"u\"; password_env = \"P\"; } );\n",
     {":3: duplicate account name 'a' (first at line 2)"}},
    {OWNER
     "accounts = ( { name = \"a\"; url = \"http://h\"; user = \"u\"; password_env = \"P\"; } );\n",
     {":2: url \"http://h\": scheme must be imaps or imap"}},
    {OWNER "accounts = ( { name = \"a\"; url = \"imaps://h:0\"; user = \"u\"; password_env = "
           "\"P\"; } );\n",
     {":2: url \"imaps://h:0\" is not"}},
    {OWNER "accounts = ( { name = \"a\"; url = \"imaps://h:99999\"; user = \"u\"; password_env = "
           "\"P\"; } );\n",
     {":2: url \"imaps://h:99999\" is not"}},
    {OWNER "accounts = ( { name = \"a\"; url = \"imaps://[::1\"; user = \"u\"; password_env = "
           "\"P\"; } );\n",
     {":2: url \"imaps://[::1\" is not"}},
    {OWNER "accounts = ( { name = \"a\"; url = \"imaps://u@h/x\"; user = \"u\"; password_env = "
           "\"P\"; } );\n",
     {":2: url \"imaps://u@h/x\" is not"}},
    {OWNER ACCT_OPEN "  password_env = \"P\"; password_file = \"p\"; } );\n",
     {":2: account 'a': set exactly one of password_file and password_env"}},
    {OWNER ACCT_OPEN "} );\n",
     {":2: account 'a': set exactly one of password_file and password_env"}},
    {OWNER ACCT("  tls = \"none\";\n"), {":4: account 'a': imaps:// always uses implicit TLS"}},
    {OWNER ACCT("  tls = \"maybe\";\n"), {":4: tls must be"}},
    {OWNER ACCT("  auth = \"cram-md5\";\n"), {":4: auth must be \"login\" or \"plain\""}},
    {OWNER ACCT("  mailboxes = [];\n"), {":4: 'mailboxes' must not be empty"}},
    {OWNER ACCT("  mailboxes = (\"INBOX\", 7);\n"), {":4: 'mailboxes' must be a list of strings"}},
    {OWNER "accounts = ( { url = \"imaps://h\"; user = \"u\"; password_env = \"P\"; } );\n",
     {":2: missing required setting 'name'"}},
    {OWNER
     "accounts = ( { name = \"\"; url = \"imaps://h\"; user = \"u\"; password_env = \"P\"; } );\n",
     {":2: 'name' must not be empty"}},
    {OWNER "accounts = { name = \"a\"; };\n", {":2: 'accounts' must be a list of groups"}},
    /* smtp */
    {OWNER "smtp = { url = \"imap://h\"; from = \"me@example.com\"; };\n",
     {":2: url \"imap://h\": scheme must be smtps or smtp"}},
    {OWNER "smtp = { url = \"smtp://h\"; from = \"me@example.com\"; user = \"u\"; };\n",
     {":2: smtp: set exactly one of password_file and password_env"}},
    {OWNER "smtp = { url = \"smtp://h\"; };\n", {":2: missing required setting 'from'"}},
    /* digest */
    {OWNER "digest = { every = \"daily\"; };\n", {":2: every must be"}},
    {OWNER "digest = { every = \"year\";\n at = \"13-01 08:00\"; };\n",
     {":3: at \"13-01 08:00\" does not fit every = \"year\""}},
    {OWNER "digest = { every = \"month\";\n at = \"31 08:00\"; };\n",
     {":3: at \"31 08:00\" does not fit"}},
    /* clients */
    {OWNER "clients = ( { name = \"Acme\";\n match = [\"acme.com\"]; } );\n",
     {":3: 'match': \"acme.com\" is neither \"user@host\" nor \"@domain\""}},
    {OWNER "clients = ( { name = \"Acme\"; match = [\"@acme.com\"];\n rate = -1.0; } );\n",
     {":3: 'rate' must be between 0 and"}},
    {OWNER "clients = ( { name = \"Acme\"; match = [\"@acme.com\"];\n rate = \"cheap\"; } );\n",
     {":3: 'rate' must be a number"}},
    {OWNER "clients = ( { name = \"Acme\"; match = [\"@acme.com\"];\n rate_since = \"2024-13-01\"; "
           "} );\n",
     {":3: 'rate_since': \"2024-13-01\" is not a date"}},
    {OWNER "clients = ( { name = \"A\"; match = [\"@acme.com\"]; },\n"
           " { name = \"A\"; match = [\"@Acme.com\"]; } );\n",
     {":3: duplicate client name 'A'", ":3: '@acme.com' is already matched by client 'A'"}},
    {OWNER "clients = ( { name = \"A\"; match = [\"@acme.com\"];\n language = \"sv\"; } );\n",
     {":3: language must be"}},
    {OWNER "client_policy = { need_reply = 1; };\n", {":2: 'need_reply' must be true or false"}},
    {OWNER "ignore = [\"news letter@x\"];\n", {":2: 'ignore': \"news letter@x\" is neither"}},
};

static void test_broken(void **state)
{
	const struct tmp *t = *state;

	for (size_t i = 0; i < ARRAY_SIZE(broken); i++) {
		struct strbuf errors = STRBUF_INIT;
		struct rf_config *cfg = (struct rf_config *)1;
		char *path = write_file(t, "broken.conf", broken[i].text, 0600);
		int r = config_load(path, &cfg, &errors);

		if (r != -EINVAL)
			print_error("case %zu loaded (%d):\n%s\n", i, r, broken[i].text);
		assert_int_equal(r, -EINVAL);
		assert_null(cfg);
		assert_non_null(errors.data);
		for (size_t j = 0; j < ARRAY_SIZE(broken[i].expect) && broken[i].expect[j]; j++) {
			char *needle = xasprintf("%s%s", path, broken[i].expect[j]);

			if (strstr(errors.data, needle) == NULL)
				print_error("case %zu: want \"%s\" in:\n%s", i, needle,
				            errors.data);
			assert_non_null(strstr(errors.data, needle));
			free(needle);
		}
		strbuf_release(&errors);
		free(path);
	}
}

static void test_missing_file(void **state)
{
	const struct tmp *t = *state;
	struct strbuf errors = STRBUF_INIT;
	struct rf_config *cfg = NULL;
	char *path = xasprintf("%s/does-not-exist.conf", t->dir);
	char *want = xasprintf("%s: cannot read: No such file or directory\n", path);

	assert_int_equal(config_load(path, &cfg, &errors), -ENOENT);
	assert_null(cfg);
	assert_string_equal(errors.data, want);
	free(want);
	free(path);
	strbuf_release(&errors);
}

/* The shipped example must always load; its values double as a parse check. */
static void test_shipped_example(void **state)
{
	static const char *const candidates[] = {"conf/redflagd.conf", "../conf/redflagd.conf",
	                                         "../../conf/redflagd.conf",
	                                         "../../../conf/redflagd.conf"};
	struct strbuf errors = STRBUF_INIT;
	struct rf_config *cfg = NULL;
	const char *path = NULL;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(candidates) && !path; i++)
		if (access(candidates[i], R_OK) == 0)
			path = candidates[i];
	if (path == NULL)
		fail_msg("conf/redflagd.conf not found: run from the repository root");
	if (config_load(path, &cfg, &errors) != 0)
		fail_msg("%s", errors.data);
	assert_string_equal(cfg->owner.language, "da");
	assert_string_equal(cfg->owner.timezone, "Europe/Copenhagen");
	assert_int_equal(cfg->owner.work_start_min, 8 * 60);
	assert_int_equal(cfg->owner.work_end_min, 17 * 60);
	assert_int_equal(cfg->owner.work_days, 0x1f);
	assert_int_equal(cfg->owner.n_addresses, 2);
	assert_int_equal(cfg->owner.n_terms, 2);
	assert_int_equal(cfg->n_accounts, 1);
	assert_string_equal(cfg->accounts[0].host, "imap.example.com");
	assert_int_equal(cfg->accounts[0].port, 993);
	assert_int_equal(cfg->accounts[0].tls, RF_TLS_IMPLICIT);
	assert_string_equal(cfg->accounts[0].secret.password_file, "/etc/redflagd/studio.pass");
	assert_true(cfg->smtp.present);
	assert_int_equal(cfg->smtp.tls, RF_TLS_STARTTLS);
	assert_string_equal(cfg->smtp.secret.password_env, "REDFLAGD_SMTP_PASSWORD");
	assert_int_equal(cfg->digest.at_month, 1);
	assert_int_equal(cfg->digest.at_day, 15);
	assert_int_equal(cfg->digest.at_minute, 8 * 60);
	assert_int_equal(cfg->n_clients, 1);
	assert_int_equal(cfg->clients[0].rate, 950);
	assert_int_equal(cfg->n_ignore, 2);
	assert_true(cfg->clients_need_reply);
	assert_false(cfg->onboarding.auto_send);
	assert_string_equal(cfg->feedback_folder, "redflagd");
	assert_non_null(config_account(cfg, "studio"));
	assert_null(config_account(cfg, "nope"));
	config_free(&cfg);
	assert_null(cfg);
	strbuf_release(&errors);
}

static void test_defaults_and_paths(void **state)
{
	const struct tmp *t = *state;
	struct strbuf errors = STRBUF_INIT;
	struct rf_config *cfg = NULL;
	char *path, *want;
	const struct rf_account *a;

	path = write_file(
	    t, "min.conf",
	    "owner = { addresses = [\"Me@Example.COM\"]; };\n"
	    "database = \"data/x.db\";\n"
	    "accounts = ( { name = \"a\"; url = \"imap://[::1]:1143\"; user = \"u\";\n"
	    "  password_file = \"a.pass\"; ca_file = \"/etc/ca.pem\"; },\n"
	    " { name = \"b\"; url = \"imap://127.0.0.1\"; user = \"u\";\n"
	    "  tls = \"none\"; password_env = \"X\"; } );\n"
	    "clients = ( { name = \"Acme\"; match = [\"@ACME.com\", \"Jane@Gmail.com\"];\n"
	    "  rate = 100; } );\n",
	    0644);
	if (config_load(path, &cfg, &errors) != 0)
		fail_msg("%s", errors.data);
	/* defaults */
	assert_string_equal(cfg->owner.addresses[0], "me@example.com");
	assert_string_equal(cfg->owner.name, "me@example.com");
	assert_string_equal(cfg->owner.language, "en");
	assert_string_equal(cfg->owner.timezone, "UTC");
	assert_int_equal(cfg->owner.work_start_min, 480);
	assert_int_equal(cfg->owner.work_end_min, 1020);
	assert_int_equal(cfg->owner.work_days, 0x1f);
	assert_string_equal(cfg->owner.holidays, "none");
	assert_string_equal(cfg->rules, REDFLAGD_DATADIR "/rules");
	assert_string_equal(cfg->digest.every, "year");
	assert_string_equal(cfg->digest.at, "01-15 08:00");
	assert_string_equal(cfg->digest.to, "me@example.com");
	assert_string_equal(cfg->digest.language, "en");
	assert_false(cfg->smtp.present);
	assert_true(cfg->clients_need_reply);
	assert_false(cfg->onboarding.auto_send);
	assert_null(cfg->feedback_folder);
	a = config_account(cfg, "a");
	assert_non_null(a);
	assert_string_equal(a->host, "::1");
	assert_int_equal(a->port, 1143);
	assert_int_equal(a->tls, RF_TLS_STARTTLS);
	assert_int_equal(a->auth, RF_AUTH_LOGIN);
	assert_int_equal(a->timeout, 60);
	assert_int_equal(a->batch_size, 500);
	assert_int_equal(a->max_message_bytes, 1024 * 1024);
	assert_int_equal(a->poll_interval, 300);
	assert_int_equal(a->n_mailboxes, 2);
	assert_string_equal(a->mailboxes[0], "INBOX");
	assert_string_equal(a->mailboxes[1], "Sent");
	assert_string_equal(a->ca_file, "/etc/ca.pem");
	a = config_account(cfg, "b");
	assert_int_equal(a->port, 143);
	assert_int_equal(a->tls, RF_TLS_NONE);
	/* relative paths resolve against the config file's directory */
	want = xasprintf("%s/data/x.db", t->dir);
	assert_string_equal(cfg->database, want);
	free(want);
	want = xasprintf("%s/a.pass", t->dir);
	assert_string_equal(cfg->accounts[0].secret.password_file, want);
	free(want);
	assert_string_equal(cfg->clients[0].match[0], "@acme.com");
	assert_string_equal(cfg->clients[0].match[1], "jane@gmail.com");
	assert_true(cfg->clients[0].rate == 100.0); /* an integer is fine for a rate */
	assert_null(cfg->clients[0].language);
	config_free(&cfg);
	strbuf_release(&errors);
	free(path);
}

static void test_digest_at(void **state)
{
	static const struct {
		const char *every, *at;
		unsigned month, day, minute;
	} cases[] = {
	    {"year", NULL, 1, 15, 480},   {"year", "12-31 23:59", 12, 31, 1439},
	    {"quarter", NULL, 0, 1, 480}, {"month", "28 06:30", 0, 28, 390},
	    {"week", NULL, 0, 1, 480},    {"week", "fri 16:00", 0, 5, 960},
	};
	const struct tmp *t = *state;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct strbuf errors = STRBUF_INIT;
		struct rf_config *cfg = NULL;
		char *text, *path;

		text = cases[i].at
		           ? xasprintf(OWNER "digest = { every = \"%s\"; at = \"%s\"; };\n",
		                       cases[i].every, cases[i].at)
		           : xasprintf(OWNER "digest = { every = \"%s\"; };\n", cases[i].every);
		path = write_file(t, "digest.conf", text, 0600);
		if (config_load(path, &cfg, &errors) != 0)
			fail_msg("case %zu: %s", i, errors.data);
		assert_int_equal(cfg->digest.at_month, cases[i].month);
		assert_int_equal(cfg->digest.at_day, cases[i].day);
		assert_int_equal(cfg->digest.at_minute, cases[i].minute);
		config_free(&cfg);
		strbuf_release(&errors);
		free(path);
		free(text);
	}
}

static void test_work_days(void **state)
{
	static const struct {
		const char *in;
		unsigned mask;
	} cases[] = {
	    {"mon-fri", 0x1f}, {"mon,tue,thu", 0x0b}, {"mon-sat", 0x3f},
	    {"sun-thu", 0x4f}, {"SAT,Sun", 0x60},     {"wed", 0x04},
	};
	const struct tmp *t = *state;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct strbuf errors = STRBUF_INIT;
		struct rf_config *cfg = NULL;
		char *text = xasprintf(
		    "owner = { addresses = [\"a@b.c\"]; work_days = \"%s\"; };\n", cases[i].in);
		char *path = write_file(t, "days.conf", text, 0600);

		if (config_load(path, &cfg, &errors) != 0)
			fail_msg("case %zu: %s", i, errors.data);
		assert_int_equal(cfg->owner.work_days, cases[i].mask);
		config_free(&cfg);
		strbuf_release(&errors);
		free(path);
		free(text);
	}
}

static void test_parse_url(void **state)
{
	static const struct {
		const char *url;
		int ret;
		const char *scheme, *host;
		unsigned port;
	} cases[] = {
	    {"imaps://imap.example.com", 0, "imaps", "imap.example.com", 0},
	    {"IMAP://Mail.Example.com:143/", 0, "imap", "mail.example.com", 143},
	    {"imaps://[::1]:993", 0, "imaps", "::1", 993},
	    {"imaps://[2001:db8::1]", 0, "imaps", "2001:db8::1", 0},
	    {"smtp://127.0.0.1:2525", 0, "smtp", "127.0.0.1", 2525},
	    {"imaps://h:65535", 0, "imaps", "h", 65535},
	    {"imaps://h:65536", -EINVAL, NULL, NULL, 0},
	    {"imaps://h:0", -EINVAL, NULL, NULL, 0},
	    {"imaps://h:", -EINVAL, NULL, NULL, 0},
	    {"imaps://h:+1", -EINVAL, NULL, NULL, 0},
	    {"imaps://h:12ab", -EINVAL, NULL, NULL, 0},
	    {"imaps://", -EINVAL, NULL, NULL, 0},
	    {"imaps://[::1", -EINVAL, NULL, NULL, 0},
	    {"imaps://[]", -EINVAL, NULL, NULL, 0},
	    {"imaps://user@h", -EINVAL, NULL, NULL, 0},
	    {"imaps://h/INBOX", -EINVAL, NULL, NULL, 0},
	    {"imap.example.com", -EINVAL, NULL, NULL, 0},
	    {"://h", -EINVAL, NULL, NULL, 0},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *scheme = (char *)1, *host = (char *)1;
		unsigned port = 7;
		int r = config_parse_url(cases[i].url, &scheme, &host, &port);

		if (r != cases[i].ret)
			print_error("case %zu: %s\n", i, cases[i].url);
		assert_int_equal(r, cases[i].ret);
		if (r == 0) {
			assert_string_equal(scheme, cases[i].scheme);
			assert_string_equal(host, cases[i].host);
			assert_int_equal(port, cases[i].port);
		} else {
			assert_null(scheme);
			assert_null(host);
		}
		free(scheme);
		free(host);
	}
}

static void test_secret_file(void **state)
{
	static const struct {
		const char *content;
		mode_t mode;
		int ret;
		const char *secret; /* or a substring of err */
	} cases[] = {
	    {"s3cret\n", 0600, 0, "s3cret"},
	    {"s3cret\r\n", 0400, 0, "s3cret"},
	    {"s3cret", 0600, 0, "s3cret"},
	    {"two\nlines\n", 0600, 0, "two\nlines"},
	    {"s3cret\n", 0644, -EPERM,
	     "is accessible by group or others (mode 0644); run chmod 600"},
	    {"s3cret\n", 0640, -EPERM, "(mode 0640)"},
	    {"s3cret\n", 0604, -EPERM, "(mode 0604)"},
	    {"\n", 0600, -EINVAL, "is empty"},
	};
	const struct tmp *t = *state;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *path = write_file(t, "pw.pass", cases[i].content, cases[i].mode);
		struct rf_secret s = {.password_file = path};
		char err[512] = "";
		char *out = NULL;
		int r = config_secret_read(&s, &out, err, sizeof(err));

		assert_int_equal(r, cases[i].ret);
		if (r == 0) {
			assert_string_equal(out, cases[i].secret);
		} else {
			assert_null(out);
			assert_non_null(strstr(err, cases[i].secret));
			assert_null(strstr(err, "s3cret")); /* never the secret itself */
		}
		config_secret_free(&out);
		assert_null(out);
		unlink(path);
		free(path);
	}
}

static void test_secret_file_limits(void **state)
{
	const struct tmp *t = *state;
	char big[5000];
	char err[512];
	char *out = NULL, *path;
	struct rf_secret s = {0};

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	path = write_file(t, "big.pass", big, 0600);
	s.password_file = path;
	assert_int_equal(config_secret_read(&s, &out, err, sizeof(err)), -E2BIG);
	assert_null(out);
	free(path);

	s.password_file = xasprintf("%s/none.pass", t->dir);
	assert_int_equal(config_secret_read(&s, &out, err, sizeof(err)), -ENOENT);
	free(s.password_file);

	s.password_file = xstrdup(t->dir); /* a directory is not a password file */
	assert_int_equal(config_secret_read(&s, &out, err, sizeof(err)), -EINVAL);
	free(s.password_file);
}

static void test_secret_env(void **state)
{
	struct rf_secret s = {.password_env = "RF_TEST_CONFIG_PW"};
	char err[256];
	char *out = NULL;

	(void)state;
	unsetenv("RF_TEST_CONFIG_PW");
	assert_int_equal(config_secret_read(&s, &out, err, sizeof(err)), -ENOENT);
	assert_null(out);
	assert_non_null(strstr(err, "RF_TEST_CONFIG_PW"));
	setenv("RF_TEST_CONFIG_PW", "", 1);
	assert_int_equal(config_secret_read(&s, &out, err, sizeof(err)), -ENOENT);
	setenv("RF_TEST_CONFIG_PW", "hunter2", 1);
	assert_int_equal(config_secret_read(&s, &out, err, sizeof(err)), 0);
	assert_string_equal(out, "hunter2");
	config_secret_free(&out);
	assert_null(out);
	config_secret_free(&out); /* NULL is fine */
	unsetenv("RF_TEST_CONFIG_PW");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_broken, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
	    cmocka_unit_test(test_shipped_example),
	    cmocka_unit_test_setup_teardown(test_defaults_and_paths, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_digest_at, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_work_days, setup, teardown),
	    cmocka_unit_test(test_parse_url),
	    cmocka_unit_test_setup_teardown(test_secret_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_secret_file_limits, setup, teardown),
	    cmocka_unit_test(test_secret_env),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
