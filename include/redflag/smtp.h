/*
 * smtp — hands one finished message to the owner's submission server (libcurl).
 *
 * The only module that sees libcurl; no other module sees a CURLcode. Connection security:
 * smtps:// is TLS from the first byte; smtp:// requires STARTTLS (CURLUSESSL_ALL: a server
 * that does not offer it, or refuses it, fails the send before any AUTH or MAIL is sent)
 * unless the config says tls = "none". curl verifies the certificate and host name against
 * ca_file (exactly that file) or the system store; this module never turns that off.
 * libcurl speaks nothing but smtp and smtps here, whatever the URL says. Every network wait
 * is bounded by conf->timeout, a whole send by 4 × conf->timeout.
 *
 * Errors are classified here, once:
 *   -EAGAIN     transient: connection refused or failed, timeout before the end of the
 *               message, a 4xx reply (also 421 at connect, 451 after the message)
 *   -EACCES     authentication refused (535); check user and password_file
 *   -EPROTO     TLS: STARTTLS not offered or refused, certificate or host name not
 *               verified, handshake failure
 *   -ETIMEDOUT  the whole message was handed over but no definite reply came (timeout or
 *               connection lost after the end of DATA): the server may have accepted it
 *               (st->maybe_delivered). Never retried here; a resend could deliver twice.
 *   -EIO        permanent: a 5xx reply, anything else
 *   -EINVAL     bad arguments: an address with CR, LF, <, >, spaces or control characters,
 *               no recipient, a URL that is neither smtp:// nor smtps://, tls = "none" with
 *               smtps://, a user without a password
 * err gets one line naming the server and, when there was one, the server's reply, e.g.
 * "smtp 127.0.0.1:2525: 550 5.1.1 mailbox unavailable (permanent, not retried)". It never
 * contains the password.
 *
 * Tracing: with log topic "smtp" enabled (log_set_trace) the SMTP dialogue is logged with
 * log_trace, the credentials after AUTH masked and the message body reduced to its size.
 *
 * The caller must ignore SIGPIPE (the daemon does). Calls are synchronous and may block for
 * up to 4 × conf->timeout (smtp_send_retry: plus its delays).
 */
#ifndef REDFLAG_SMTP_H
#define REDFLAG_SMTP_H

#include <stdbool.h>
#include <stddef.h>

#include "redflag/config.h"

/* How one send ended, beyond the return value. */
struct smtp_status {
	long code;            /* last SMTP reply code seen (0 when none) */
	bool data_sent;       /* the whole message was handed over (end of DATA reached) */
	bool maybe_delivered; /* data_sent but no definite reply: the server may have accepted it */
	unsigned attempts;    /* connection attempts made (0 when the arguments were refused) */
};

/* When smtp_send_retry tries again. */
struct smtp_retry {
	unsigned attempts; /* total tries, >= 1 (default 3; 0 is taken as 1) */
	unsigned delay_ms; /* wait before the second try (default 30000) */
	unsigned factor;   /* each further wait is the previous one times this (default 4) */
};

/*
 * curl_global_init for the process. Call once at start, before any thread exists (the
 * daemon does). Without it, the first smtp_send initialises libcurl lazily, which is fine
 * for single-threaded programs such as the tests. 0 or -EIO.
 */
int smtp_global_init(void);

/* curl_global_cleanup, at exit, after the last send. */
void smtp_global_cleanup(void);

/*
 * Sends msg (a complete RFC 5322 message, CRLF line ends, len bytes) from envelope sender
 * `from` to the n_rcpt recipients (bare addresses, "user@host"). conf gives url, tls, user,
 * ca_file and timeout; password is the secret (NULL when conf->user is NULL; see
 * config_secret_read). Everything is borrowed.
 *
 * on_data_end (may be NULL) is called once, synchronously, with arg, when libcurl has read
 * the last byte of msg: from then on the server may accept the message, so the caller
 * records that (e.g. in its database) before the reply arrives.
 *
 * Returns 0 on a 250 after DATA, else a negative errno as listed above, with err set (when
 * errlen > 0). st (may be NULL) is filled in either way.
 */
int smtp_send(const struct rf_smtp *conf, const char *password, const char *from,
              const char *const *rcpt, size_t n_rcpt, const char *msg, size_t len,
              void (*on_data_end)(void *arg), void *arg, struct smtp_status *st, char *err,
              size_t errlen);

/*
 * smtp_send, retried on -EAGAIN after delays of delay_ms, delay_ms × factor, ... until
 * policy->attempts tries were made (policy NULL: smtp_retry_default). Never retried on
 * any other result: not after -ETIMEDOUT (maybe delivered; a retry could deliver twice),
 * not on a permanent error. Each retry is logged (log_warnx) with its reason. Sleeps in
 * the calling thread. on_data_end is called once per attempt that reached the end of the
 * message. st sums attempts over all tries and otherwise describes the last one; err is
 * the last try's.
 */
int smtp_send_retry(const struct rf_smtp *conf, const char *password, const char *from,
                    const char *const *rcpt, size_t n_rcpt, const char *msg, size_t len,
                    void (*on_data_end)(void *arg), void *arg, const struct smtp_retry *policy,
                    struct smtp_status *st, char *err, size_t errlen);

/* Fills r with the defaults: 3 attempts, 30 s, factor 4 (30 s, then 2 min). */
void smtp_retry_default(struct smtp_retry *r);

#endif
