/* clients: direction, counterparty and client of a message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "redflag/clients.h"
#include "redflag/util.h"

static char *owner_addrs[] = {"me@studio.dk", "hej@studio.dk"};
static char *acme_match[] = {"@acme.com", "jane@gmail.com"};
static char *bob_match[] = {"bob@acme.com"};
static char *deep_match[] = {"@eu.bigcorp.com"};
static char *big_match[] = {"@bigcorp.com"};
static char *ignore[] = {"@newsletter.example", "billing@bank.example"};

static struct rf_client_conf conf_clients[] = {
    {.name = "Acme", .match = acme_match, .n_match = 2},
    {.name = "Bob", .match = bob_match, .n_match = 1},
    {.name = "BigCorp EU", .match = deep_match, .n_match = 1},
    {.name = "BigCorp", .match = big_match, .n_match = 1},
};

static struct rf_config make_config(void)
{
	struct rf_config cfg = {0};

	cfg.owner.addresses = owner_addrs;
	cfg.owner.n_addresses = ARRAY_SIZE(owner_addrs);
	cfg.clients = conf_clients;
	cfg.n_clients = ARRAY_SIZE(conf_clients);
	cfg.ignore = ignore;
	cfg.n_ignore = ARRAY_SIZE(ignore);
	cfg.clients_need_reply = true;
	return cfg;
}

#define MAX_RCPT 4

static const struct {
	const char *what;
	const char *from;
	const char *rcpt[MAX_RCPT];
	unsigned flags;
	enum rf_direction dir;
	const char *counterparty, *client;
	bool configured;
	const char *why_not;
} resolve_cases[] = {
    {"incoming, configured domain",
     "anna@acme.com",
     {"me@studio.dk"},
     0,
     RF_DIR_IN,
     "anna@acme.com",
     "Acme",
     true,
     NULL},
    {"subdomain matches @domain",
     "x@mail.acme.com",
     {"me@studio.dk"},
     0,
     RF_DIR_IN,
     "x@mail.acme.com",
     "Acme",
     true,
     NULL},
    {"exact beats domain",
     "bob@acme.com",
     {"me@studio.dk"},
     0,
     RF_DIR_IN,
     "bob@acme.com",
     "Bob",
     true,
     NULL},
    {"closer domain beats parent",
     "x@eu.bigcorp.com",
     {"me@studio.dk"},
     0,
     RF_DIR_IN,
     "x@eu.bigcorp.com",
     "BigCorp EU",
     true,
     NULL},
    {"parent domain",
     "x@us.bigcorp.com",
     {"me@studio.dk"},
     0,
     RF_DIR_IN,
     "x@us.bigcorp.com",
     "BigCorp",
     true,
     NULL},
    {"configured freemail address",
     "Jane@GMail.com",
     {"me@studio.dk"},
     0,
     RF_DIR_IN,
     "jane@gmail.com",
     "Acme",
     true,
     NULL},
    {"freemail groups by address",
     "other@gmail.com",
     {"me@studio.dk"},
     0,
     RF_DIR_IN,
     "other@gmail.com",
     "other@gmail.com",
     false,
     NULL},
    {"freemail gmx.de, mixed case",
     "Hans@GMX.de",
     {"hej@studio.dk"},
     0,
     RF_DIR_IN,
     "hans@gmx.de",
     "hans@gmx.de",
     false,
     NULL},
    {"automatic by domain",
     "Lars@Firma.DK",
     {"me@studio.dk"},
     0,
     RF_DIR_IN,
     "lars@firma.dk",
     "firma.dk",
     false,
     NULL},
    {"not a freemail lookalike",
     "a@notgmail.com",
     {"me@studio.dk"},
     0,
     RF_DIR_IN,
     "a@notgmail.com",
     "notgmail.com",
     false,
     NULL},
    {"incoming, owner in Cc among others",
     "lars@firma.dk",
     {"kollege@firma.dk", "me@studio.dk", "x@acme.com"},
     0,
     RF_DIR_IN,
     "lars@firma.dk",
     "firma.dk",
     false,
     NULL},
    {"incoming, owner only Bcc",
     "lars@firma.dk",
     {"other@firma.dk"},
     0,
     RF_DIR_IN,
     "lars@firma.dk",
     "firma.dk",
     false,
     NULL},
    {"outgoing",
     "me@studio.dk",
     {"anna@acme.com"},
     0,
     RF_DIR_OUT,
     "anna@acme.com",
     "Acme",
     true,
     NULL},
    {"outgoing, mixed-case owner",
     "Me@Studio.DK",
     {"kunde@firma.dk"},
     0,
     RF_DIR_OUT,
     "kunde@firma.dk",
     "firma.dk",
     false,
     NULL},
    {"outgoing, owner among recipients",
     "me@studio.dk",
     {"hej@studio.dk", "me@studio.dk", "kunde@firma.dk", "anna@acme.com"},
     0,
     RF_DIR_OUT,
     "kunde@firma.dk",
     "firma.dk",
     false,
     NULL},
    {"outgoing, ignored recipient skipped",
     "me@studio.dk",
     {"billing@bank.example", "kunde@firma.dk"},
     0,
     RF_DIR_OUT,
     "kunde@firma.dk",
     "firma.dk",
     false,
     NULL},
    {"outgoing, only an ignored recipient",
     "me@studio.dk",
     {"billing@bank.example"},
     0,
     RF_DIR_OUT,
     "billing@bank.example",
     NULL,
     false,
     "ignored"},
    {"outgoing, unparseable recipient skipped",
     "me@studio.dk",
     {"", "kunde@firma.dk"},
     0,
     RF_DIR_OUT,
     "kunde@firma.dk",
     "firma.dk",
     false,
     NULL},
    {"owner to owner",
     "me@studio.dk",
     {"hej@studio.dk", "me@studio.dk"},
     0,
     RF_DIR_NONE,
     NULL,
     NULL,
     false,
     "no counterparty"},
    {"owner, no recipients",
     "me@studio.dk",
     {NULL},
     0,
     RF_DIR_NONE,
     NULL,
     NULL,
     false,
     "no counterparty"},
    {"no From", "", {"me@studio.dk"}, 0, RF_DIR_NONE, NULL, NULL, false, "no counterparty"},
    {"mailing list",
     "list@acme.com",
     {"me@studio.dk"},
     MESSAGE_LIST,
     RF_DIR_IN,
     "list@acme.com",
     NULL,
     false,
     "mailing list"},
    {"bulk",
     "offers@shop.example",
     {"me@studio.dk"},
     MESSAGE_BULK,
     RF_DIR_IN,
     "offers@shop.example",
     NULL,
     false,
     "automated sender"},
    {"auto-submitted",
     "anna@acme.com",
     {"me@studio.dk"},
     MESSAGE_AUTO,
     RF_DIR_IN,
     "anna@acme.com",
     NULL,
     false,
     "automated sender"},
    {"html-only is still a client",
     "anna@acme.com",
     {"me@studio.dk"},
     MESSAGE_HTML_ONLY,
     RF_DIR_IN,
     "anna@acme.com",
     "Acme",
     true,
     NULL},
    {"noreply",
     "noreply@github.com",
     {"me@studio.dk"},
     0,
     RF_DIR_IN,
     "noreply@github.com",
     NULL,
     false,
     "no-reply address"},
    {"no-reply in a configured domain",
     "no-reply@acme.com",
     {"me@studio.dk"},
     0,
     RF_DIR_IN,
     "no-reply@acme.com",
     NULL,
     false,
     "no-reply address"},
    {"mailer-daemon",
     "MAILER-DAEMON@mx.firma.dk",
     {"me@studio.dk"},
     0,
     RF_DIR_IN,
     "mailer-daemon@mx.firma.dk",
     NULL,
     false,
     "no-reply address"},
    {"bounce address",
     "bounces+123@mail.shop.example",
     {"me@studio.dk"},
     0,
     RF_DIR_IN,
     "bounces+123@mail.shop.example",
     NULL,
     false,
     "no-reply address"},
    {"ignored domain and its subdomains",
     "news@mail.newsletter.example",
     {"me@studio.dk"},
     0,
     RF_DIR_IN,
     "news@mail.newsletter.example",
     NULL,
     false,
     "ignored"},
    {"ignored address",
     "billing@bank.example",
     {"me@studio.dk"},
     0,
     RF_DIR_IN,
     "billing@bank.example",
     NULL,
     false,
     "ignored"},
    {"other address at an ignored one's domain",
     "advisor@bank.example",
     {"me@studio.dk"},
     0,
     RF_DIR_IN,
     "advisor@bank.example",
     "bank.example",
     false,
     NULL},
};

static bool same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static void test_resolve(void **state)
{
	struct rf_config cfg = make_config();
	struct clients *c = clients_new(&cfg);

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(resolve_cases); i++) {
		struct message_addr rcpt[MAX_RCPT];
		struct message m = {0};
		struct clients_match out;

		m.from.name = "";
		m.from.addr = (char *)resolve_cases[i].from;
		for (size_t j = 0; j < MAX_RCPT && resolve_cases[i].rcpt[j]; j++) {
			rcpt[j].name = "";
			rcpt[j].addr = (char *)resolve_cases[i].rcpt[j];
			m.n_rcpt++;
		}
		m.rcpt = rcpt;
		m.flags = resolve_cases[i].flags;
		assert_int_equal(clients_resolve(c, &m, &out), 0);
		if (out.dir != resolve_cases[i].dir ||
		    !same(out.counterparty, resolve_cases[i].counterparty) ||
		    !same(out.client, resolve_cases[i].client) ||
		    !same(out.why_not, resolve_cases[i].why_not))
			print_error("case \"%s\": dir %d cp %s client %s why %s\n",
			            resolve_cases[i].what, out.dir,
			            out.counterparty ? out.counterparty : "(null)",
			            out.client ? out.client : "(null)",
			            out.why_not ? out.why_not : "(null)");
		assert_int_equal(out.dir, resolve_cases[i].dir);
		if (resolve_cases[i].counterparty)
			assert_string_equal(out.counterparty, resolve_cases[i].counterparty);
		else
			assert_null(out.counterparty);
		if (resolve_cases[i].client) {
			assert_string_equal(out.client, resolve_cases[i].client);
			assert_null(out.why_not);
		} else {
			assert_null(out.client);
			assert_non_null(out.why_not);
			assert_string_equal(out.why_not, resolve_cases[i].why_not);
		}
		assert_int_equal(out.configured, resolve_cases[i].configured);
		clients_match_release(&out);
		assert_null(out.client);
		assert_null(out.counterparty);
	}
	clients_free(&c);
	assert_null(c);
	clients_free(&c); /* NULL is fine */
}

static void test_freemail(void **state)
{
	static const char *const yes[] = {
	    "gmail.com",      "googlemail.com", "gmx.de",      "gmx.net",    "gmx.at",
	    "gmx.ch",         "web.de",         "t-online.de", "freenet.de", "hotmail.com",
	    "hotmail.de",     "hotmail.dk",     "outlook.com", "outlook.de", "outlook.dk",
	    "live.com",       "live.dk",        "msn.com",     "yahoo.com",  "yahoo.de",
	    "yahoo.dk",       "icloud.com",     "me.com",      "mac.com",    "aol.com",
	    "mail.dk",        "jubii.dk",       "ofir.dk",     "posteo.de",  "mailbox.org",
	    "protonmail.com", "proton.me",      "GMAIL.COM",
	};
	static const char *const no[] = {"acme.com", "studio.dk", "mail.acme.com", "gmail.co",
	                                 "",         "aaa.com",   "zzz.example"};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (!clients_is_freemail(yes[i]))
			print_error("%s should be freemail\n", yes[i]);
		assert_true(clients_is_freemail(yes[i]));
	}
	for (size_t i = 0; i < ARRAY_SIZE(no); i++)
		assert_false(clients_is_freemail(no[i]));
}

static void test_noreply(void **state)
{
	static const struct {
		const char *addr;
		bool noreply;
	} cases[] = {
	    {"noreply@x.com", true},         {"no-reply@x.com", true},
	    {"No_Reply@x.com", true},        {"do-not-reply@x.com", true},
	    {"donotreply@x.com", true},      {"mailer-daemon@x.com", true},
	    {"postmaster@x.com", true},      {"bounce@x.com", true},
	    {"bounces-42@x.com", true},      {"notifications@github.com", true},
	    {"shop-noreply@x.com", true},    {"anna@x.com", false},
	    {"reply@x.com", false},          {"norbert@x.com", false},
	    {"info@noreply.example", false}, /* the domain does not count */
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		if (clients_is_noreply(cases[i].addr) != cases[i].noreply)
			print_error("%s\n", cases[i].addr);
		assert_int_equal(clients_is_noreply(cases[i].addr), cases[i].noreply);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_resolve),
	    cmocka_unit_test(test_freemail),
	    cmocka_unit_test(test_noreply),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
