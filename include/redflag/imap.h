/*
 * imap — one authenticated IMAP session (libetpan), read-only.
 *
 * The only module that sees libetpan's IMAP API. Connection security is ours, not
 * libetpan's: Debian's libetpan verifies no certificate, so imap_open() verifies the peer
 * chain and host name with tls.h before any credential is sent, and refuses to continue
 * otherwise. STARTTLS failure is fatal; plaintext happens only with RF_TLS_NONE.
 * Mailboxes are opened with EXAMINE, bodies fetched with BODY.PEEK: reading never changes
 * \Seen. Every network wait is bounded by params.timeout.
 *
 * Errors are classified here, once: -EAGAIN / -ETIMEDOUT / -ECONNREFUSED / -ECONNRESET are
 * transient (retry later; a read that timed out is reported as -ECONNRESET, libetpan does not
 * tell the two apart), as are -EHOSTUNREACH (name not resolved) and other connect() errnos;
 * -EACCES (login refused), -EPERM (certificate or host name not trusted), -EPROTO (protocol
 * violation, failed TLS handshake, STARTTLS failure, LOGINDISABLED without TLS) are
 * permanent for this config.
 * After any error other than -ENOENT the session is unusable: imap_close() it.
 */
#ifndef REDFLAG_IMAP_H
#define REDFLAG_IMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "redflag/config.h"

struct imap_session;

struct imap_params {
	const char *host; /* name or IP literal; also the name verified in the certificate */
	unsigned port;
	enum rf_tls tls;
	enum rf_auth auth;
	const char *user;
	const char *password; /* borrowed; never logged */
	const char *ca_file;  /* NULL: the system trust store */
	unsigned timeout;     /* seconds per network wait */
};

/*
 * Connects, secures, verifies, authenticates. 0 or a negative errno with err set. The
 * caller must ignore SIGPIPE (libetpan writes to sockets without MSG_NOSIGNAL); the daemon
 * does. getaddrinfo() is not bounded by the timeout.
 */
int imap_open(const struct imap_params *p, struct imap_session **out, char *err, size_t errlen);

/* LOGOUT (best effort, bounded by the timeout), free, NULL the pointer; NULL is fine. */
void imap_close(struct imap_session **s);

/* True when the server announced IDLE. */
bool imap_has_idle(const struct imap_session *s);

/*
 * Finds the Sent mailbox: the one flagged \Sent by SPECIAL-USE (LIST RETURN (SPECIAL-USE)
 * or its \Sent attribute), else the first existing of Sent, Sent Items, Sent Messages,
 * Gesendet, Gesendete Objekte, Sendt, Sendte elementer, [Gmail]/Sent Mail (also under an
 * INBOX. prefix). *name is a new string. 0, -ENOENT when there is none, or an error.
 */
int imap_find_sent(struct imap_session *s, char **name, char *err, size_t errlen);

struct imap_mailbox {
	uint32_t uidvalidity;
	uint32_t uidnext; /* 0 when the server did not say */
	uint32_t exists;
};

/* EXAMINE mailbox (read-only). 0, -ENOENT when it does not exist, or an error. */
int imap_examine(struct imap_session *s, const char *mailbox, struct imap_mailbox *out, char *err,
                 size_t errlen);

/*
 * Called once per fetched message, in ascending UID order. raw is a complete RFC 822
 * message made of the real header and the text parts only: the text/plain and text/html
 * leaves that are not attachments and not inside a forwarded message/rfc822 (of a
 * multipart/alternative only the text/plain rendering, or the first other one with text),
 * each cut at the size ceiling. A multipart message becomes multipart/mixed with those
 * parts and their own MIME headers; a single part keeps its header and body. raw is valid
 * only during the call. size is the server's RFC822.SIZE. A nonzero return stops
 * imap_fetch, which returns that value.
 */
typedef int (*imap_message_fn)(void *arg, uint32_t uid, const char *raw, size_t len, uint64_t size);

/*
 * Fetches from the examined mailbox the messages with UID >= from_uid, at most max_messages
 * of them (and at most 1000 per call: loop until *last_uid stops moving), using
 * BODYSTRUCTURE to fetch only headers and text parts (each cut at max_part_bytes). UIDs
 * below from_uid that servers return for "n:*" are dropped. Memory stays bounded: bodies
 * are fetched in windows of bounded size (about 4 MB) and freed after the callbacks. Never
 * sets \Seen. On return *last_uid is the highest UID this call covered (messages expunged
 * meanwhile included; unchanged when there were none). Returns the number of messages
 * delivered, the callback's nonzero value, or a negative errno.
 */
int imap_fetch(struct imap_session *s, uint32_t from_uid, unsigned max_messages,
               uint64_t max_part_bytes, imap_message_fn fn, void *arg, uint32_t *last_uid,
               char *err, size_t errlen);

/*
 * The server's hierarchy delimiter (LIST "" ""), e.g. '/' or '.', in *delim; 0 when the
 * namespace is flat. 0 or an error.
 */
int imap_delimiter(struct imap_session *s, char *delim, char *err, size_t errlen);

/*
 * Called once per message by imap_fetch_header(), in ascending UID order: value is the
 * header field's value, unfolded and trimmed, at most 4 KB ("" when the message has no such
 * field); valid only during the call. A nonzero return stops imap_fetch_header(), which
 * returns that value.
 */
typedef int (*imap_header_fn)(void *arg, uint32_t uid, const char *value);

/*
 * Fetches one header field (BODY.PEEK[HEADER.FIELDS (field)]: nothing else, \Seen untouched)
 * of the examined mailbox's messages with UID >= from_uid, at most about 1000 UIDs per call:
 * loop from *last_uid + 1 until *last_uid stops moving. On return *last_uid is the highest
 * UID this call covered (unchanged when none). Returns the number of messages delivered,
 * fn's nonzero value, or a negative errno.
 */
int imap_fetch_header(struct imap_session *s, uint32_t from_uid, const char *field,
                      imap_header_fn fn, void *arg, uint32_t *last_uid, char *err, size_t errlen);

/*
 * IDLE on the examined mailbox until the server reports a change (new EXISTS or EXPUNGE),
 * timeout_ms passes, or wake_fd (-1: none) becomes readable; then DONE. Returns 1 for a
 * change, 0 for the timeout, 2 for wake_fd, or a negative errno. Callers renew IDLE before
 * 29 minutes by passing a timeout below that.
 */
int imap_idle(struct imap_session *s, int timeout_ms, int wake_fd, char *err, size_t errlen);

/* NOOP, to poll a mailbox without IDLE or keep the connection alive. 0 or an error. */
int imap_noop(struct imap_session *s, char *err, size_t errlen);

#endif
