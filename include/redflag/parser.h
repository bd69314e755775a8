/*
 * parser — message_parse() in an isolated worker process.
 *
 * libetpan's MIME parser can crash or loop on hostile mail. The worker is a forked child
 * with a memory limit; it receives raw messages over a socketpair and returns serialised
 * struct message results. If it dies or exceeds the per-message time limit, that one
 * message is reported unparseable (-EBADMSG with the reason, e.g. "parser crashed: signal
 * 11") and a fresh worker is started for the next one. The daemon never dies with it.
 */
#ifndef REDFLAG_PARSER_H
#define REDFLAG_PARSER_H

#include <stddef.h>

#include "redflag/message.h"

struct parser;

struct parser_options {
	struct message_limits limits;
	unsigned timeout_ms; /* per message (default 10000) */
	size_t memory_limit; /* worker address-space limit in bytes (default 512 MiB) */
	size_t max_input;    /* largest raw message accepted (default 64 MiB); larger: -E2BIG */
};

#define PARSER_OPTIONS_DEFAULT                                                                     \
	{                                                                                          \
		MESSAGE_LIMITS_DEFAULT, 10000, 512u << 20, 64u << 20                               \
	}

/* Starts a worker. Returns 0, or a negative errno when fork/socketpair fail. */
int parser_new(const struct parser_options *opt, struct parser **out);

/*
 * Parses one message in the worker. Returns 0 and a new message in *out; -EBADMSG when the
 * input is not a message, the worker crashed or timed out (err says which); -E2BIG when
 * over max_input. Any other negative errno means the worker could not be restarted.
 */
int parser_parse(struct parser *p, const char *raw, size_t len, struct message **out, char *err,
                 size_t errlen);

/* Stops the worker, frees p and NULLs the pointer; NULL is fine. */
void parser_free(struct parser **p);

#endif
