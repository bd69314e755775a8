/*
 * clients — who a message is with, and in which direction.
 *
 * The owner's addresses decide the direction. The counterparty (the sender of incoming
 * mail, the first non-owner recipient of outgoing mail) maps to a client: a configured
 * client whose match list names the address or its @domain; else automatically by domain,
 * or by full address for freemail domains (gmail.com, gmx.de, ...). Mailing lists,
 * automated senders (MESSAGE_LIST/BULK/AUTO, no-reply addresses) and ignored addresses are
 * never clients.
 */
#ifndef REDFLAG_CLIENTS_H
#define REDFLAG_CLIENTS_H

#include <stdbool.h>

#include "redflag/config.h"
#include "redflag/message.h"

enum rf_direction {
	RF_DIR_NONE = 0, /* no counterparty: the owner wrote only to self, or no usable From */
	RF_DIR_IN = 1,   /* From is not an owner address (the owner may be Bcc or an alias) */
	RF_DIR_OUT = 2,  /* from the owner to someone else */
};

struct clients;

/* Result of clients_resolve(); release with clients_match_release(). */
struct clients_match {
	enum rf_direction dir;
	char *counterparty; /* lower-cased address, NULL when there is none */
	char *client;       /* client name (configured name or automatic key), NULL: not a client */
	bool configured;    /* client comes from the config's clients list */
	const char *why_not; /* static reason when client is NULL ("mailing list", "automated
	                        sender", "no-reply address", "ignored", "no counterparty") */
};

/* Builds the lookup tables from cfg (borrowed: cfg must outlive the result). */
struct clients *clients_new(const struct rf_config *cfg);

/* Frees c and NULLs the pointer; NULL is fine. */
void clients_free(struct clients **c);

/* Resolves m. Always fills *out (release it); returns 0. */
int clients_resolve(const struct clients *c, const struct message *m, struct clients_match *out);

/* Frees the strings in m (not m itself). */
void clients_match_release(struct clients_match *m);

/* True for shared mailbox providers where one domain is many people (gmail.com, ...). */
bool clients_is_freemail(const char *domain);

/* True for addresses no human reads: no-reply, noreply, do-not-reply, mailer-daemon, ... */
bool clients_is_noreply(const char *addr);

#endif
