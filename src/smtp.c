/* smtp — one message to the submission server with libcurl; see include/redflag/smtp.h. */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "redflag/log.h"
#include "redflag/smtp.h"
#include "redflag/util.h"

#define MAX_ADDRESS     320 /* RFC 5321: 64 + 1 + 255 */
#define MAX_REPLY       200 /* server reply text kept for messages */
#define MAX_DELAY_MS    3600000u
#define SHOWN_HOST_SIZE 128

/* What the read and debug callbacks share with smtp_send. */
struct transfer {
	const char *msg;
	size_t len;
	size_t pos;
	bool data_sent;
	void (*on_data_end)(void *arg);
	void *arg;
	bool tracing;
	bool in_auth; /* between our AUTH and the server's final reply to it */
	/*
	 * The last 4xx/5xx reply line, control characters removed: the server's words for err.
	 * Not simply the last line: after a refusal libcurl still says QUIT and gets a 221.
	 */
	char refusal[MAX_REPLY];
};

int smtp_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -EIO;
}

void smtp_global_cleanup(void)
{
	curl_global_cleanup();
}

void smtp_retry_default(struct smtp_retry *r)
{
	r->attempts = 3;
	r->delay_ms = 30000;
	r->factor = 4;
}

/*
 * An address goes into "MAIL FROM:<...>" / "RCPT TO:<...>": CR or LF would inject commands,
 * brackets and spaces would end the path early. Anything at or below a space and DEL is out.
 */
static bool address_ok(const char *a)
{
	size_t n;

	if (a == NULL || *a == '\0')
		return false;
	for (n = 0; a[n] != '\0'; n++) {
		unsigned char c = (unsigned char)a[n];

		if (c <= ' ' || c == 0x7f || c == '<' || c == '>' || n >= MAX_ADDRESS)
			return false;
	}
	return true;
}

/* "host:port" of the URL for messages: scheme, user information and path left out. */
static void shown_host(const char *url, char *out, size_t outlen)
{
	const char *p = url != NULL ? strstr(url, "://") : NULL;
	const char *end, *at;

	p = p != NULL ? p + 3 : (url != NULL ? url : "");
	end = p + strcspn(p, "/?#");
	at = memchr(p, '@', (size_t)(end - p));
	if (at != NULL)
		p = at + 1;
	snprintf(out, outlen, "%.*s", (int)(end - p), p);
}

/* Copies one protocol line without CR, LF and other control characters. */
static void copy_line(char *dst, size_t dstlen, const char *src, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 1 < dstlen; i++) {
		unsigned char c = (unsigned char)src[i];

		if (c == '\r' || c == '\n')
			break;
		dst[o++] = (c < ' ' || c == 0x7f) ? '?' : (char)c;
	}
	dst[o] = '\0';
}

static size_t read_cb(char *buf, size_t size, size_t nmemb, void *userp)
{
	struct transfer *t = userp;
	size_t room = size * nmemb, n = t->len - t->pos;

	if (n == 0) {
		/*
		 * libcurl has everything; it sends the final dot next, and from then on the
		 * server may accept the message. Tell the caller first, exactly once.
		 */
		if (!t->data_sent) {
			t->data_sent = true;
			if (t->on_data_end != NULL)
				t->on_data_end(t->arg);
		}
		return 0;
	}
	if (n > room)
		n = room;
	memcpy(buf, t->msg + t->pos, n);
	t->pos += n;
	/*
	 * With CURLOPT_INFILESIZE set, libcurl stops asking once it has len bytes: the
	 * end-of-message callback cannot wait for the zero-length read that may never come.
	 */
	if (t->pos == t->len && !t->data_sent) {
		t->data_sent = true;
		if (t->on_data_end != NULL)
			t->on_data_end(t->arg);
	}
	return n;
}

/* One server line: remember a refusal (for err) and trace it. */
static void server_line(struct transfer *t, const char *line, size_t n)
{
	char text[MAX_REPLY];

	copy_line(text, sizeof(text), line, n);
	if (text[0] == '\0')
		return;
	if ((text[0] == '4' || text[0] == '5') && isdigit((unsigned char)text[1]) &&
	    isdigit((unsigned char)text[2]))
		memcpy(t->refusal, text, sizeof(t->refusal));
	/* A reply other than a 334 challenge ends the AUTH exchange. */
	if (t->in_auth && !(strncmp(text, "334", 3) == 0))
		t->in_auth = false;
	if (t->tracing)
		log_trace("smtp", "S: %s", text);
}

static void client_line(struct transfer *t, const char *line, size_t n)
{
	char text[MAX_REPLY];

	copy_line(text, sizeof(text), line, n);
	if (strncasecmp(text, "AUTH ", 5) == 0) {
		/* Keep the mechanism, mask the initial response: it carries the password. */
		size_t mech = 5 + strcspn(text + 5, " ");

		t->in_auth = true;
		if (t->tracing)
			log_trace("smtp", "C: %.*s%s", (int)mech, text,
			          text[mech] != '\0' ? " ****" : "");
		return;
	}
	if (!t->tracing)
		return;
	/* AUTH LOGIN sends user name and password as separate lines after 334 challenges. */
	if (t->in_auth)
		log_trace("smtp", "C: ****");
	else
		log_trace("smtp", "C: %s", text);
}

/* Splits a debug chunk into lines (libcurl usually hands over one line at a time). */
static void each_line(struct transfer *t, const char *data, size_t size, bool from_server)
{
	while (size > 0) {
		const char *nl = memchr(data, '\n', size);
		size_t n = nl != NULL ? (size_t)(nl - data) + 1 : size;

		if (from_server)
			server_line(t, data, n);
		else
			client_line(t, data, n);
		data += n;
		size -= n;
	}
}

static int debug_cb(CURL *h, curl_infotype type, char *data, size_t size, void *userp)
{
	struct transfer *t = userp;
	char text[MAX_REPLY];

	(void)h;
	switch (type) {
	case CURLINFO_HEADER_IN:
		each_line(t, data, size, true);
		break;
	case CURLINFO_HEADER_OUT:
		each_line(t, data, size, false);
		break;
	case CURLINFO_TEXT:
		if (t->tracing) {
			copy_line(text, sizeof(text), data, size);
			log_trace("smtp", "* %s", text);
		}
		break;
	case CURLINFO_DATA_OUT:
		/* Message bodies are never logged; their size is enough to follow the dialogue. */
		if (t->tracing)
			log_trace("smtp", "C: (%zu bytes of the message)", size);
		break;
	default:
		break;
	}
	return 0;
}

/* Overwrites every occurrence of the password in s, should a server ever echo it. */
static void mask_secret(char *s, const char *password)
{
	size_t n = password != NULL ? strlen(password) : 0;
	char *p;

	if (n == 0)
		return;
	while ((p = strstr(s, password)) != NULL)
		memset(p, '*', n);
}

/*
 * The one place where libcurl results become errnos. code is the last reply code, reply
 * the last server line, curlmsg libcurl's own text.
 */
static int classify(CURLcode cc, long code, const struct transfer *t, const char *where,
                    const char *curlmsg, char *err, size_t errlen)
{
	char reply[MAX_REPLY + 16];

	/* The server's own words for the code libcurl reports, when we have them. */
	if (code >= 400 && strtol(t->refusal, NULL, 10) == code)
		snprintf(reply, sizeof(reply), "%s", t->refusal);
	else if (code >= 400)
		snprintf(reply, sizeof(reply), "reply %ld", code);
	else
		reply[0] = '\0';
	switch (cc) {
	case CURLE_OK:
		return 0;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		snprintf(err, errlen, "smtp %s: bad URL: %s", where, curlmsg);
		return -EINVAL;
	case CURLE_USE_SSL_FAILED:
		snprintf(err, errlen,
		         "smtp %s: the server does not offer STARTTLS or refused it; nothing was "
		         "sent in clear (%s)",
		         where, curlmsg);
		return -EPROTO;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ENGINE_INITFAILED:
		snprintf(err, errlen, "smtp %s: TLS: %s (not retried)", where, curlmsg);
		return -EPROTO;
	default:
		break;
	}
	/*
	 * The end of the message went out and no reply to it says yes or no: the server may
	 * have accepted it. A definite 4xx/5xx after the dot is handled below.
	 */
	if (t->data_sent && code < 400) {
		snprintf(err, errlen,
		         "smtp %s: no reply after the end of the message (%s); it may have been "
		         "delivered, so it is not sent again",
		         where, curlmsg);
		return -ETIMEDOUT;
	}
	if (cc == CURLE_LOGIN_DENIED && !(code >= 400 && code < 500)) {
		snprintf(err, errlen,
		         "smtp %s: %s (authentication refused: check user and password)", where,
		         reply[0] != '\0' ? reply : curlmsg);
		return -EACCES;
	}
	if (code >= 400 && code < 500) {
		snprintf(err, errlen, "smtp %s: %s (temporary)", where,
		         reply[0] != '\0' ? reply : curlmsg);
		return -EAGAIN;
	}
	if (code >= 500) {
		snprintf(err, errlen, "smtp %s: %s (permanent, not retried)", where,
		         reply[0] != '\0' ? reply : curlmsg);
		return -EIO;
	}
	switch (cc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		snprintf(err, errlen, "smtp %s: %s (temporary)", where, curlmsg);
		return -EAGAIN;
	default:
		snprintf(err, errlen, "smtp %s: %s (permanent, not retried)", where, curlmsg);
		return -EIO;
	}
}

/* Checks what libcurl cannot check for us; 0 or -EINVAL with err set. */
static int check_args(const struct rf_smtp *conf, const char *password, const char *from,
                      const char *const *rcpt, size_t n_rcpt, const char *msg, const char *where,
                      char *err, size_t errlen)
{
	bool smtps;

	if (conf == NULL || conf->url == NULL) {
		snprintf(err, errlen, "smtp: no server configured");
		return -EINVAL;
	}
	smtps = str_has_prefix_ci(conf->url, "smtps://");
	if (!smtps && !str_has_prefix_ci(conf->url, "smtp://")) {
		snprintf(err, errlen, "smtp %s: the URL must start with smtp:// or smtps://",
		         where);
		return -EINVAL;
	}
	if (smtps && conf->tls == RF_TLS_NONE) {
		snprintf(err, errlen, "smtp %s: tls = \"none\" contradicts smtps://", where);
		return -EINVAL;
	}
	if (conf->user != NULL && password == NULL) {
		snprintf(err, errlen, "smtp %s: a user but no password", where);
		return -EINVAL;
	}
	if (msg == NULL) {
		snprintf(err, errlen, "smtp %s: no message", where);
		return -EINVAL;
	}
	if (!address_ok(from)) {
		snprintf(err, errlen, "smtp %s: invalid sender address", where);
		return -EINVAL;
	}
	if (n_rcpt == 0 || rcpt == NULL) {
		snprintf(err, errlen, "smtp %s: no recipient", where);
		return -EINVAL;
	}
	for (size_t i = 0; i < n_rcpt; i++) {
		if (!address_ok(rcpt[i])) {
			snprintf(err, errlen, "smtp %s: invalid recipient address (#%zu)", where,
			         i + 1);
			return -EINVAL;
		}
	}
	return 0;
}

int smtp_send(const struct rf_smtp *conf, const char *password, const char *from,
              const char *const *rcpt, size_t n_rcpt, const char *msg, size_t len,
              void (*on_data_end)(void *arg), void *arg, struct smtp_status *st, char *err,
              size_t errlen)
{
	struct transfer t = {.msg = msg, .len = len, .on_data_end = on_data_end, .arg = arg};
	struct smtp_status local = {0};
	char where[SHOWN_HOST_SIZE], errbuf[CURL_ERROR_SIZE] = "", curlmsg[CURL_ERROR_SIZE];
	char dummy[1];
	CURL *h = NULL;
	struct curl_slist *rcpts = NULL;
	char *mail_from = NULL;
	long code = 0, timeout;
	CURLcode cc;
	int rc;

	if (st == NULL)
		st = &local;
	memset(st, 0, sizeof(*st));
	if (err == NULL || errlen == 0) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = '\0';
	shown_host(conf != NULL ? conf->url : NULL, where, sizeof(where));
	rc = check_args(conf, password, from, rcpt, n_rcpt, msg, where, err, errlen);
	if (rc < 0)
		return rc;

	h = curl_easy_init();
	if (h == NULL) {
		snprintf(err, errlen, "smtp %s: libcurl could not be initialised", where);
		return -EIO;
	}
	mail_from = xasprintf("<%s>", from);
	for (size_t i = 0; i < n_rcpt; i++) {
		char *r = xasprintf("<%s>", rcpt[i]);
		struct curl_slist *next = curl_slist_append(rcpts, r);

		free(r);
		if (next == NULL) {
			snprintf(err, errlen, "smtp %s: out of memory", where);
			rc = -ENOMEM;
			goto out;
		}
		rcpts = next;
	}
	timeout = conf->timeout > 0 ? (long)conf->timeout : 60;
	t.tracing = log_tracing("smtp");

	/* Options that can only fail on OOM or an old libcurl; checked together below. */
	cc = curl_easy_setopt(h, CURLOPT_URL, conf->url);
	/* Whatever the URL says, libcurl speaks SMTP or nothing (no file://, no redirects). */
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(h, CURLOPT_USE_SSL,
		                      conf->tls == RF_TLS_NONE ? (long)CURLUSESSL_NONE
		                                               : (long)CURLUSESSL_ALL);
	if (cc == CURLE_OK && conf->ca_file != NULL)
		cc = curl_easy_setopt(h, CURLOPT_CAINFO, conf->ca_file);
	if (cc == CURLE_OK && conf->user != NULL)
		cc = curl_easy_setopt(h, CURLOPT_USERNAME, conf->user);
	if (cc == CURLE_OK && conf->user != NULL)
		cc = curl_easy_setopt(h, CURLOPT_PASSWORD, password);
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(h, CURLOPT_MAIL_FROM, mail_from);
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpts);
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(h, CURLOPT_READDATA, &t);
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, timeout);
	/* Each reply, including the one after the final dot, is awaited at most this long. */
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(h, CURLOPT_SERVER_RESPONSE_TIMEOUT, timeout);
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(h, CURLOPT_TIMEOUT, 4 * timeout);
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, timeout);
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	/*
	 * Verbose mode always: the debug callback is where the server's reply text comes from
	 * (libcurl's own message says only "RCPT failed: 550"). It logs only when tracing.
	 */
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, debug_cb);
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(h, CURLOPT_DEBUGDATA, &t);
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
	if (cc != CURLE_OK) {
		snprintf(err, errlen, "smtp %s: libcurl refused an option: %s", where,
		         curl_easy_strerror(cc));
		rc = -EIO;
		goto out;
	}

	st->attempts = 1;
	cc = curl_easy_perform(h);
	if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK)
		code = 0;
	st->code = code;
	st->data_sent = t.data_sent;
	snprintf(curlmsg, sizeof(curlmsg), "%s",
	         errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc));
	copy_line(curlmsg, sizeof(curlmsg), curlmsg, strlen(curlmsg));
	rc = classify(cc, code, &t, where, curlmsg, err, errlen);
	st->maybe_delivered = rc == -ETIMEDOUT;
	if (rc == 0 && code != 250)
		log_info("smtp %s: accepted with %ld", where, code);
out:
	mask_secret(err, password);
	curl_slist_free_all(rcpts);
	free(mail_from);
	curl_easy_cleanup(h);
	return rc;
}

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = {.tv_sec = (time_t)(ms / 1000),
	                      .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int smtp_send_retry(const struct rf_smtp *conf, const char *password, const char *from,
                    const char *const *rcpt, size_t n_rcpt, const char *msg, size_t len,
                    void (*on_data_end)(void *arg), void *arg, const struct smtp_retry *policy,
                    struct smtp_status *st, char *err, size_t errlen)
{
	struct smtp_retry def;
	struct smtp_status one = {0}, local;
	unsigned attempts = 0;
	uint64_t delay;
	char why[512] = ""; /* the last try's err, also for the retry log when err is NULL */
	int rc = -EINVAL;

	if (policy == NULL) {
		smtp_retry_default(&def);
		policy = &def;
	}
	if (st == NULL)
		st = &local;
	delay = policy->delay_ms;
	for (unsigned i = 0; i < (policy->attempts > 0 ? policy->attempts : 1); i++) {
		if (i > 0) {
			log_warnx("%s; trying again in %llu ms (attempt %u of %u)", why,
			          (unsigned long long)delay, i + 1, policy->attempts);
			sleep_ms(delay);
			delay *= policy->factor > 0 ? policy->factor : 1;
			if (delay > MAX_DELAY_MS)
				delay = MAX_DELAY_MS;
		}
		rc = smtp_send(conf, password, from, rcpt, n_rcpt, msg, len, on_data_end, arg, &one,
		               why, sizeof(why));
		attempts += one.attempts;
		/* Only a definite temporary failure is retried; maybe_delivered never is. */
		if (rc != -EAGAIN || one.maybe_delivered)
			break;
	}
	*st = one;
	st->attempts = attempts;
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", why);
	return rc;
}
