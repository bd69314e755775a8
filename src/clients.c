/*
 * clients — direction and client of a message.
 *
 * clients_resolve() runs once per imported message, so every lookup is a binary search in a
 * sorted array built once by clients_new(): owner addresses, configured exact addresses,
 * configured @domains, ignored addresses and @domains, and the static freemail list.
 */
#include "redflag/clients.h"

#include <stdlib.h>
#include <string.h>

#include "redflag/util.h"

/* One lookup key → the index of the configured client it belongs to (or unused). */
struct entry {
	const char *key; /* borrowed from the config: lower-cased address or bare domain */
	size_t client;
};

struct table {
	struct entry *v;
	size_t n;
};

struct clients {
	const struct rf_config *cfg;
	struct table owner;      /* owner addresses */
	struct table exact;      /* configured "user@host" → client */
	struct table domain;     /* configured "@domain" (stored without '@') → client */
	struct table ign_exact;  /* ignored addresses */
	struct table ign_domain; /* ignored domains (without '@') */
};

/* Sorted; shared mailbox providers where the domain says nothing about who writes. */
static const char *const freemail[] = {
    "aim.com",       "aol.com",     "aol.de",        "bluewin.ch",     "email.de",
    "fastmail.com",  "freenet.de",  "gmail.com",     "gmx.at",         "gmx.ch",
    "gmx.com",       "gmx.de",      "gmx.net",       "googlemail.com", "hey.com",
    "hotmail.co.uk", "hotmail.com", "hotmail.de",    "hotmail.dk",     "icloud.com",
    "jubii.dk",      "live.com",    "live.de",       "live.dk",        "mac.com",
    "mail.com",      "mail.dk",     "mail.ru",       "mailbox.org",    "me.com",
    "msn.com",       "ofir.dk",     "outlook.com",   "outlook.de",     "outlook.dk",
    "posteo.de",     "proton.me",   "protonmail.ch", "protonmail.com", "t-online.de",
    "tutanota.com",  "tutanota.de", "web.de",        "yahoo.co.uk",    "yahoo.com",
    "yahoo.de",      "yahoo.dk",    "yandex.com",    "yandex.ru",      "ymail.com",
    "zoho.com",
};

/*
 * Local parts no human reads. Matched against the lower-cased local part: "contains" for
 * the unambiguous ones, "prefix" for words that could start a real name only implausibly.
 */
static const char *const noreply_contains[] = {
    "noreply",      "no-reply",     "no_reply",      "donotreply",
    "do-not-reply", "do_not_reply", "mailer-daemon", "mailer_daemon",
};
static const char *const noreply_prefix[] = {
    "bounce",
    "postmaster",
    "notification",
    "mailerdaemon",
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->key, ((const struct entry *)b)->key);
}

static void table_add(struct table *t, const char *key, size_t client)
{
	t->v = xreallocarray(t->v, t->n + 1, sizeof(*t->v));
	t->v[t->n].key = key;
	t->v[t->n].client = client;
	t->n++;
}

static void table_sort(struct table *t)
{
	if (t->n > 1)
		qsort(t->v, t->n, sizeof(*t->v), cmp_entry);
}

static const struct entry *table_find(const struct table *t, const char *key)
{
	struct entry k = {key, 0};

	return t->n ? bsearch(&k, t->v, t->n, sizeof(*t->v), cmp_entry) : NULL;
}

/* Looks up domain, then each parent domain: "@acme.com" covers "mail.acme.com". */
static const struct entry *table_find_domain(const struct table *t, const char *domain)
{
	for (const char *d = domain; d && *d; d = strchr(d, '.') ? strchr(d, '.') + 1 : NULL) {
		const struct entry *e = table_find(t, d);

		if (e)
			return e;
	}
	return NULL;
}

/* Files each "user@host" / "@domain" of list into the exact or domain table. */
static void add_matches(struct table *exact, struct table *domain, char *const *list, size_t n,
                        size_t client)
{
	for (size_t i = 0; i < n; i++) {
		if (list[i][0] == '@')
			table_add(domain, list[i] + 1, client);
		else
			table_add(exact, list[i], client);
	}
}

struct clients *clients_new(const struct rf_config *cfg)
{
	struct clients *c = xcalloc(1, sizeof(*c));

	c->cfg = cfg;
	for (size_t i = 0; i < cfg->owner.n_addresses; i++)
		table_add(&c->owner, cfg->owner.addresses[i], 0);
	for (size_t i = 0; i < cfg->n_clients; i++)
		add_matches(&c->exact, &c->domain, cfg->clients[i].match, cfg->clients[i].n_match,
		            i);
	add_matches(&c->ign_exact, &c->ign_domain, cfg->ignore, cfg->n_ignore, 0);
	table_sort(&c->owner);
	table_sort(&c->exact);
	table_sort(&c->domain);
	table_sort(&c->ign_exact);
	table_sort(&c->ign_domain);
	return c;
}

void clients_free(struct clients **cp)
{
	struct clients *c = cp ? *cp : NULL;

	if (c == NULL)
		return;
	free(c->owner.v);
	free(c->exact.v);
	free(c->domain.v);
	free(c->ign_exact.v);
	free(c->ign_domain.v);
	free(c);
	*cp = NULL;
}

void clients_match_release(struct clients_match *m)
{
	free(m->counterparty);
	free(m->client);
	m->counterparty = m->client = NULL;
}

bool clients_is_freemail(const char *domain)
{
	char *d = str_lower(xstrdup(domain));
	bool r = bsearch(&d, freemail, ARRAY_SIZE(freemail), sizeof(freemail[0]), cmp_str) != NULL;

	free(d);
	return r;
}

bool clients_is_noreply(const char *addr)
{
	const char *at = strrchr(addr, '@');
	char *local = str_lower(xstrndup(addr, at ? (size_t)(at - addr) : strlen(addr)));
	bool r = false;

	for (size_t i = 0; i < ARRAY_SIZE(noreply_contains) && !r; i++)
		r = strstr(local, noreply_contains[i]) != NULL;
	for (size_t i = 0; i < ARRAY_SIZE(noreply_prefix) && !r; i++)
		r = strncmp(local, noreply_prefix[i], strlen(noreply_prefix[i])) == 0;
	free(local);
	return r;
}

static bool is_owner(const struct clients *c, const char *addr)
{
	return table_find(&c->owner, addr) != NULL;
}

static bool is_ignored(const struct clients *c, const char *addr)
{
	const char *at = strrchr(addr, '@');

	return table_find(&c->ign_exact, addr) != NULL ||
	       (at && table_find_domain(&c->ign_domain, at + 1) != NULL);
}

/* A lower-cased copy of a, or NULL when a is empty or not an address. */
static char *norm(const char *a)
{
	if (a == NULL || strchr(a, '@') == NULL)
		return NULL;
	return str_lower(xstrdup(a));
}

/*
 * Picks the counterparty: the sender of incoming mail, the first recipient of outgoing mail
 * that is neither the owner nor ignored (an ignored one only when there is no other).
 */
static void pick_counterparty(const struct clients *c, const struct message *m,
                              struct clients_match *out)
{
	char *from = norm(m->from.addr);
	char *ignored = NULL;

	if (from == NULL || !is_owner(c, from)) {
		out->dir = from ? RF_DIR_IN : RF_DIR_NONE;
		out->counterparty = from;
		return;
	}
	free(from);
	for (size_t i = 0; i < m->n_rcpt && out->counterparty == NULL; i++) {
		char *r = norm(m->rcpt[i].addr);

		if (r == NULL || is_owner(c, r)) {
			free(r);
		} else if (is_ignored(c, r)) {
			if (ignored == NULL)
				ignored = r;
			else
				free(r);
		} else {
			out->counterparty = r;
		}
	}
	if (out->counterparty == NULL) {
		out->counterparty = ignored;
		ignored = NULL;
	}
	free(ignored);
	out->dir = out->counterparty ? RF_DIR_OUT : RF_DIR_NONE;
}

int clients_resolve(const struct clients *c, const struct message *m, struct clients_match *out)
{
	const struct entry *e;
	const char *cp, *domain;

	*out = (struct clients_match){.dir = RF_DIR_NONE};
	pick_counterparty(c, m, out);
	cp = out->counterparty;
	if (cp == NULL) {
		out->why_not = "no counterparty";
		return 0;
	}
	if (m->flags & MESSAGE_LIST) {
		out->why_not = "mailing list";
		return 0;
	}
	if (m->flags & (MESSAGE_BULK | MESSAGE_AUTO)) {
		out->why_not = "automated sender";
		return 0;
	}
	if (clients_is_noreply(cp)) {
		out->why_not = "no-reply address";
		return 0;
	}
	if (is_ignored(c, cp)) {
		out->why_not = "ignored";
		return 0;
	}
	domain = strrchr(cp, '@') + 1;
	/* An exact address beats any @domain, and a closer domain beats a parent domain. */
	e = table_find(&c->exact, cp);
	if (e == NULL)
		e = table_find_domain(&c->domain, domain);
	if (e) {
		out->client = xstrdup(c->cfg->clients[e->client].name);
		out->configured = true;
		return 0;
	}
	if (*domain == '\0') {
		out->why_not = "no counterparty";
		return 0;
	}
	out->client = xstrdup(clients_is_freemail(domain) ? cp : domain);
	return 0;
}
