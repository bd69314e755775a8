/*
 * imap: against a real Dovecot on 127.0.0.1, started by tests/rig/dovecot.sh (its CA, a
 * certificate for localhost and 127.0.0.1, and an unrelated CA). Test mail goes in through a
 * second, plain libetpan connection (APPEND, STATUS), so what imap.c reads was put there
 * by an independent path. Skips cleanly when Dovecot or the rig is missing.
 *
 * RF_IMAP_BENCH_N sets the size of the throughput mailbox (default 2000; 0 skips it).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libetpan/libetpan.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "redflag/imap.h"
#include "redflag/message.h"
#include "redflag/util.h"

struct fx {
	bool available;
	char dir[64];
	char *rig_dir;
	unsigned imap_port, imaps_port;
	char ca_file[512], other_ca_file[512], user[64], password[64], log_path[512];
};

/* ---- the rig ---- */

static const char *rig_script(void)
{
	const char *env = getenv("RF_RIG");

	if (env != NULL)
		return env;
	return access("tests/rig/dovecot.sh", X_OK) == 0 ? "tests/rig/dovecot.sh" : NULL;
}

static void env_value(const char *line, const char *key, char *out, size_t len)
{
	size_t k = strlen(key);

	if (strncmp(line, key, k) == 0 && line[k] == '=') {
		snprintf(out, len, "%s", line + k + 1);
		out[strcspn(out, "\n")] = '\0';
	}
}

static int group_setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	const char *rig = rig_script();
	char line[1024], port[2][16] = {"", ""}, *cmd, *path;
	FILE *env;
	int64_t v;

	*state = f;
	if (rig == NULL || system("command -v dovecot >/dev/null 2>&1") != 0) {
		fprintf(stderr, "test_imap: no Dovecot or no tests/rig/dovecot.sh: skipping\n");
		return 0;
	}
	snprintf(f->dir, sizeof(f->dir), "/tmp/rf-imap-XXXXXX");
	if (mkdtemp(f->dir) == NULL || chmod(f->dir, 0755) < 0)
		return -1;
	f->rig_dir = xasprintf("%s/rig", f->dir);
	cmd = xasprintf("%s start '%s'", rig, f->rig_dir);
	if (system(cmd) != 0) {
		free(cmd);
		fprintf(stderr, "test_imap: the rig did not start\n");
		return -1;
	}
	free(cmd);
	path = xasprintf("%s/env", f->rig_dir);
	env = fopen(path, "r");
	free(path);
	if (env == NULL)
		return -1;
	while (fgets(line, sizeof(line), env) != NULL) {
		env_value(line, "IMAP_PORT", port[0], sizeof(port[0]));
		env_value(line, "IMAPS_PORT", port[1], sizeof(port[1]));
		env_value(line, "CA_FILE", f->ca_file, sizeof(f->ca_file));
		env_value(line, "OTHER_CA_FILE", f->other_ca_file, sizeof(f->other_ca_file));
		env_value(line, "IMAP_USER", f->user, sizeof(f->user));
		env_value(line, "IMAP_PASSWORD", f->password, sizeof(f->password));
		env_value(line, "DOVECOT_LOG", f->log_path, sizeof(f->log_path));
	}
	fclose(env);
	if (parse_int64(port[0], 1, 65535, &v) < 0)
		return -1;
	f->imap_port = (unsigned)v;
	if (parse_int64(port[1], 1, 65535, &v) < 0)
		return -1;
	f->imaps_port = (unsigned)v;
	f->available = true;
	return 0;
}

static int group_teardown(void **state)
{
	struct fx *f = *state;

	if (f->rig_dir != NULL) {
		char *cmd =
		    xasprintf("%s stop '%s'; rm -rf '%s'", rig_script(), f->rig_dir, f->dir);

		if (system(cmd) != 0)
			fprintf(stderr, "test_imap: cleanup failed\n");
		free(cmd);
	}
	free(f->rig_dir);
	free(f);
	return 0;
}

#define NEED_RIG(f)                                                                                \
	do {                                                                                       \
		if (!(f)->available)                                                               \
			skip();                                                                    \
	} while (0)

/* ---- a second, independent connection for APPEND and STATUS ---- */

static mailimap *helper_open(const struct fx *f)
{
	mailimap *h = mailimap_new(0, NULL);
	int r;

	mailimap_set_timeout(h, 20);
	r = mailimap_socket_connect(h, "127.0.0.1", (uint16_t)f->imap_port);
	assert_true(r == MAILIMAP_NO_ERROR_NON_AUTHENTICATED);
	assert_int_equal(mailimap_login(h, f->user, f->password), MAILIMAP_NO_ERROR);
	return h;
}

static void helper_close(mailimap *h)
{
	mailimap_logout(h);
	mailimap_free(h);
}

/*
 * Creates mailbox (fine when it exists) and APPENDs raw (len bytes, LF or CRLF) without
 * flags. Returns the libetpan result.
 */
static int helper_try_append(mailimap *h, const char *mailbox, const char *raw, size_t len)
{
	struct strbuf crlf = STRBUF_INIT;
	int r;

	for (size_t i = 0; i < len; i++) {
		if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r'))
			strbuf_appendc(&crlf, '\r');
		strbuf_appendc(&crlf, raw[i]);
	}
	strbuf_appends(&crlf, "");
	r = mailimap_append(h, mailbox, NULL, NULL, crlf.data, crlf.len);
	if (r == MAILIMAP_ERROR_APPEND) {
		mailimap_create(h, mailbox);
		r = mailimap_append(h, mailbox, NULL, NULL, crlf.data, crlf.len);
	}
	strbuf_release(&crlf);
	return r;
}

static void helper_append(mailimap *h, const char *mailbox, const char *raw)
{
	assert_int_equal(helper_try_append(h, mailbox, raw, strlen(raw)), MAILIMAP_NO_ERROR);
}

/* STATUS mailbox (MESSAGES UNSEEN). */
static void helper_status(mailimap *h, const char *mailbox, uint32_t *messages, uint32_t *unseen)
{
	struct mailimap_status_att_list *atts = mailimap_status_att_list_new_empty();
	struct mailimap_mailbox_data_status *st = NULL;

	mailimap_status_att_list_add(atts, MAILIMAP_STATUS_ATT_MESSAGES);
	mailimap_status_att_list_add(atts, MAILIMAP_STATUS_ATT_UNSEEN);
	assert_int_equal(mailimap_status(h, mailbox, atts, &st), MAILIMAP_NO_ERROR);
	*messages = *unseen = UINT32_MAX;
	for (clistiter *it = clist_begin(st->st_info_list); it; it = clist_next(it)) {
		struct mailimap_status_info *i = clist_content(it);

		if (i->st_att == MAILIMAP_STATUS_ATT_MESSAGES)
			*messages = i->st_value;
		else if (i->st_att == MAILIMAP_STATUS_ATT_UNSEEN)
			*unseen = i->st_value;
	}
	mailimap_mailbox_data_status_free(st);
	mailimap_status_att_list_free(atts);
}

/* ---- sessions under test ---- */

enum ca { CA_RIGHT, CA_OTHER };

static int open_session(const struct fx *f, enum rf_tls tls, const char *host, enum ca ca,
                        enum rf_auth auth, const char *password, struct imap_session **s, char *err,
                        size_t errlen)
{
	struct imap_params p = {
	    .host = host,
	    .port = tls == RF_TLS_IMPLICIT ? f->imaps_port : f->imap_port,
	    .tls = tls,
	    .auth = auth,
	    .user = f->user,
	    .password = password ? password : f->password,
	    .ca_file = ca == CA_RIGHT ? f->ca_file : f->other_ca_file,
	    .timeout = 20,
	};

	return imap_open(&p, s, err, errlen);
}

static struct imap_session *must_open(const struct fx *f)
{
	struct imap_session *s = NULL;
	char err[512] = "";
	int r = open_session(f, RF_TLS_IMPLICIT, "localhost", CA_RIGHT, RF_AUTH_LOGIN, NULL, &s,
	                     err, sizeof(err));

	if (r != 0)
		fail_msg("imap_open: %d %s", r, err);
	return s;
}

struct open_case {
	enum rf_tls tls;
	const char *host;
	enum ca ca;
	enum rf_auth auth;
	const char *password; /* NULL: the right one */
	int want;
};

static void open_table(const struct fx *f, const struct open_case *cases, size_t n);

static void test_open_table(void **state)
{
	struct fx *f = *state;
	static const struct open_case cases[] = {
	    {RF_TLS_IMPLICIT, "localhost", CA_RIGHT, RF_AUTH_LOGIN, NULL, 0},
	    {RF_TLS_IMPLICIT, "127.0.0.1", CA_RIGHT, RF_AUTH_LOGIN, NULL, 0},
	    {RF_TLS_IMPLICIT, "localhost", CA_OTHER, RF_AUTH_LOGIN, NULL, -EPERM},
	    {RF_TLS_STARTTLS, "localhost", CA_RIGHT, RF_AUTH_LOGIN, NULL, 0},
	    {RF_TLS_STARTTLS, "127.0.0.1", CA_RIGHT, RF_AUTH_PLAIN, NULL, 0},
	    {RF_TLS_STARTTLS, "localhost", CA_OTHER, RF_AUTH_LOGIN, NULL, -EPERM},
	    {RF_TLS_NONE, "127.0.0.1", CA_RIGHT, RF_AUTH_LOGIN, NULL, 0},
	    {RF_TLS_NONE, "127.0.0.1", CA_RIGHT, RF_AUTH_PLAIN, NULL, 0},
	};

	NEED_RIG(f);
	open_table(f, cases, ARRAY_SIZE(cases));
}

/*
 * Wrong passwords. Last in the run: Dovecot delays every login from an address that just
 * failed (its auth penalty), which would slow the other tests down.
 */
static void test_auth_refused(void **state)
{
	struct fx *f = *state;
	static const struct open_case cases[] = {
	    {RF_TLS_NONE, "127.0.0.1", CA_RIGHT, RF_AUTH_LOGIN, "wrong", -EACCES},
	    {RF_TLS_NONE, "127.0.0.1", CA_RIGHT, RF_AUTH_PLAIN, "wrong", -EACCES},
	    {RF_TLS_IMPLICIT, "localhost", CA_RIGHT, RF_AUTH_LOGIN, "wrong", -EACCES},
	};

	NEED_RIG(f);
	open_table(f, cases, ARRAY_SIZE(cases));
}

static void open_table(const struct fx *f, const struct open_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct imap_session *s = NULL;
		struct imap_mailbox mb = {0};
		char err[512] = "";
		int r = open_session(f, cases[i].tls, cases[i].host, cases[i].ca, cases[i].auth,
		                     cases[i].password, &s, err, sizeof(err));

		if (r != cases[i].want)
			fail_msg("case %zu: imap_open got %d, want %d: %s", i, r, cases[i].want,
			         err);
		if (r != 0) {
			assert_null(s);
			assert_true(err[0] != '\0');
			/* The password is never part of an error. */
			assert_null(
			    strstr(err, cases[i].password ? cases[i].password : f->password));
			continue;
		}
		r = imap_examine(s, "INBOX", &mb, err, sizeof(err));
		if (r != 0)
			fail_msg("case %zu: examine: %d %s", i, r, err);
		assert_true(mb.uidvalidity != 0);
		assert_true(mb.uidnext != 0);
		assert_true(imap_has_idle(s));
		assert_int_equal(imap_noop(s, err, sizeof(err)), 0);
		imap_close(&s);
		assert_null(s);
	}
}

/* A TCP port nothing listens on (it was free a moment ago). */
static unsigned closed_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static void test_open_errors(void **state)
{
	struct fx *f = *state;
	struct imap_session *s = NULL;
	struct imap_params p = {
	    .host = "127.0.0.1",
	    .port = closed_port(),
	    .tls = RF_TLS_NONE,
	    .user = "x",
	    .password = "y",
	    .timeout = 5,
	};
	char err[512] = "";

	assert_int_equal(imap_open(&p, &s, err, sizeof(err)), -ECONNREFUSED);
	assert_null(s);
	NEED_RIG(f);
	/* TLS spoken to the plaintext port: the handshake fails, nothing falls back. */
	p.port = f->imap_port;
	p.tls = RF_TLS_IMPLICIT;
	p.ca_file = f->ca_file;
	assert_int_equal(imap_open(&p, &s, err, sizeof(err)), -EPROTO);
	assert_null(s);
}

/* Size of the file at path, or 0. */
static long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

/* Dovecot's log from byte offset on, as a new string. */
static char *log_since(const char *path, long offset)
{
	struct strbuf b = STRBUF_INIT;
	FILE *fp = fopen(path, "r");
	char buf[4096];
	size_t n;

	if (fp != NULL) {
		fseek(fp, offset, SEEK_SET);
		while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
			strbuf_append(&b, buf, n);
		fclose(fp);
	}
	strbuf_appends(&b, "");
	return strbuf_detach(&b, NULL);
}

/*
 * An untrusted certificate stops the session before any credential: Dovecot logs the
 * connection as closed with no authentication attempt, and no login.
 */
static void test_refused_before_login(void **state)
{
	struct fx *f = *state;
	static const struct {
		enum rf_tls tls;
		const char *host;
		enum ca ca;
	} cases[] = {
	    {RF_TLS_IMPLICIT, "localhost", CA_OTHER},
	    {RF_TLS_STARTTLS, "localhost", CA_OTHER},
	};

	NEED_RIG(f);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct imap_session *s = NULL;
		long before = file_size(f->log_path);
		char err[512] = "", *log = NULL;
		int r = open_session(f, cases[i].tls, cases[i].host, cases[i].ca, RF_AUTH_LOGIN,
		                     NULL, &s, err, sizeof(err));

		if (r != -EPERM)
			fail_msg("case %zu: got %d, want -EPERM: %s", i, r, err);
		/* Dovecot writes the disconnect line once it notices; wait for it (bounded). */
		for (int tries = 0; tries < 100; tries++) {
			free(log);
			log = log_since(f->log_path, before);
			if (strstr(log, "Disconnected") != NULL)
				break;
			usleep(50 * 1000);
		}
		/* Dovecot says either, depending on how fast the client hung up. */
		if ((strstr(log, "no auth attempts") == NULL &&
		     strstr(log, "disconnected before auth was ready") == NULL) ||
		    strstr(log, "Login:") != NULL)
			fail_msg("case %zu: the server saw more than a bare connection:\n%s", i,
			         log);
		free(log);
	}
}

static void test_examine_missing(void **state)
{
	struct fx *f = *state;
	struct imap_session *s;
	struct imap_mailbox mb;
	char err[512] = "";

	NEED_RIG(f);
	s = must_open(f);
	assert_int_equal(imap_examine(s, "No such box", &mb, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "No such box"));
	/* A NO leaves the session usable. */
	assert_int_equal(imap_examine(s, "INBOX", &mb, err, sizeof(err)), 0);
	imap_close(&s);
	imap_close(&s); /* NULL is fine */
}

static void test_find_sent(void **state)
{
	struct fx *f = *state;
	struct imap_session *s;
	char err[512] = "", *name = NULL;

	NEED_RIG(f);
	s = must_open(f);
	/* The rig's Dovecot flags "Sent" with SPECIAL-USE \Sent. */
	assert_int_equal(imap_find_sent(s, &name, err, sizeof(err)), 0);
	assert_string_equal(name, "Sent");
	free(name);
	imap_close(&s);
}

/* ---- fetching ---- */

struct got {
	size_t n;
	uint32_t uid[64];
	uint64_t size[64];
	char *raw[64];
	size_t len[64];
	int stop_after; /* return 7 after this many; 0: never */
};

static int collect(void *arg, uint32_t uid, const char *raw, size_t len, uint64_t size)
{
	struct got *g = arg;

	if (g->n >= ARRAY_SIZE(g->uid))
		return -ENOSPC;
	g->uid[g->n] = uid;
	g->size[g->n] = size;
	g->raw[g->n] = xstrndup(raw, len);
	g->len[g->n] = len;
	g->n++;
	return g->stop_after && g->n >= (size_t)g->stop_after ? 7 : 0;
}

static void got_free(struct got *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->raw[i]);
	g->n = 0;
}

/* A base64 line that stands for the attachment's bytes. */
#define ATT_LINE "QVRUQUNITUVOVF9CWVRFU19BVFRBQ0hNRU5UX0JZVEVTX0FUVEFDSE1FTlRfQllURVNfQVRUQUNI"

static char *attachment_message(void)
{
	struct strbuf b = STRBUF_INIT;

	strbuf_appends(&b, "From: Client <client@example.org>\n"
	                   "To: Owner <owner@studio.test>\n"
	                   "Subject: with attachment\n"
	                   "MIME-Version: 1.0\n"
	                   "Content-Type: multipart/mixed; boundary=\"XX\"\n"
	                   "\n"
	                   "preamble\n"
	                   "--XX\n"
	                   "Content-Type: text/plain; charset=utf-8\n"
	                   "Content-Transfer-Encoding: base64\n"
	                   "\n"
	                   /* "ATTTEXTMARK: please see the invoice" */
	                   "QVRUVEVYVE1BUks6IHBsZWFzZSBzZWUgdGhlIGludm9pY2U=\n"
	                   "--XX\n"
	                   "Content-Type: application/pdf; name=\"invoice.pdf\"\n"
	                   "Content-Disposition: attachment; filename=\"invoice.pdf\"\n"
	                   "Content-Transfer-Encoding: base64\n"
	                   "\n");
	while (b.len < 200 * 1024)
		strbuf_appends(&b, ATT_LINE "\n");
	strbuf_appends(&b, "--XX--\n");
	return strbuf_detach(&b, NULL);
}

static char *big_text_message(void)
{
	struct strbuf b = STRBUF_INIT;

	strbuf_appends(&b, "From: a@example.org\nSubject: long\n\nBIGTEXTSTART\n");
	while (b.len < 100 * 1024)
		strbuf_appends(&b, "filler words of a very long letter that goes on and on\n");
	strbuf_appends(&b, "BIGTEXTEND\n");
	return strbuf_detach(&b, NULL);
}

static const char MSG_PLAIN[] = "From: Client <client@example.org>\n"
                                "To: owner@studio.test\n"
                                "Subject: plain\n"
                                "MIME-Version: 1.0\n"
                                "Content-Type: text/plain; charset=utf-8\n"
                                "\n"
                                "PLAINMARK hello\n";

static const char MSG_ALT[] = "From: Client <client@example.org>\n"
                              "Subject: alternative\n"
                              "MIME-Version: 1.0\n"
                              "Content-Type: multipart/alternative; boundary=\"b1\"\n"
                              "\n"
                              "--b1\n"
                              "Content-Type: text/plain; charset=utf-8\n"
                              "\n"
                              "ALTPLAINMARK in plain\n"
                              "--b1\n"
                              "Content-Type: text/html; charset=utf-8\n"
                              "\n"
                              "<p>ALTHTMLMARK in html</p>\n"
                              "--b1--\n";

static const char MSG_NONMIME[] = "From: old@example.org\n"
                                  "Subject: no MIME at all\n"
                                  "\n"
                                  "NONMIMEMARK plain old mail\n";

/* mixed { alternative { plain, html }, forwarded message/rfc822 } */
static const char MSG_FORWARD[] = "From: Client <client@example.org>\n"
                                  "Subject: Fwd: something\n"
                                  "MIME-Version: 1.0\n"
                                  "Content-Type: multipart/mixed; boundary=\"o\"\n"
                                  "\n"
                                  "--o\n"
                                  "Content-Type: multipart/alternative; boundary=\"i\"\n"
                                  "\n"
                                  "--i\n"
                                  "Content-Type: text/plain\n"
                                  "\n"
                                  "FWDOWNMARK my note\n"
                                  "--i\n"
                                  "Content-Type: text/html\n"
                                  "\n"
                                  "<b>FWDOWNMARK my note</b>\n"
                                  "--i--\n"
                                  "--o\n"
                                  "Content-Type: message/rfc822\n"
                                  "\n"
                                  "From: third@example.org\n"
                                  "Subject: inner\n"
                                  "\n"
                                  "FWDINNERMARK not the author's words\n"
                                  "--o--\n";

/* What one fetched message must and must not hold, raw and after message_parse(). */
struct expect {
	const char *subject;
	const char *raw_has, *raw_lacks, *text_has, *text_lacks;
};

static void check_message(const char *raw, size_t len, const struct expect *e)
{
	struct message_limits lim = MESSAGE_LIMITS_DEFAULT;
	struct message *m = NULL;
	char err[256] = "";

	if (e->raw_has != NULL && strstr(raw, e->raw_has) == NULL)
		fail_msg("%s: raw lacks %s:\n%s", e->subject, e->raw_has, raw);
	if (e->raw_lacks != NULL && strstr(raw, e->raw_lacks) != NULL)
		fail_msg("%s: raw has %s:\n%.2000s", e->subject, e->raw_lacks, raw);
	/* The synthetic message is real MIME: the team's parser reads it. */
	if (message_parse(raw, len, &lim, &m, err, sizeof(err)) != 0)
		fail_msg("%s: message_parse: %s", e->subject, err);
	assert_string_equal(m->subject, e->subject);
	if (e->text_has != NULL && strstr(m->body, e->text_has) == NULL)
		fail_msg("%s: body lacks %s: %s", e->subject, e->text_has, m->body);
	if (e->text_has != NULL && strstr(strstr(m->body, e->text_has) + 1, e->text_has) != NULL)
		fail_msg("%s: body has %s twice: %s", e->subject, e->text_has, m->body);
	if (e->text_lacks != NULL && strstr(m->body, e->text_lacks) != NULL)
		fail_msg("%s: body has %s: %s", e->subject, e->text_lacks, m->body);
	message_free(&m);
}

static void test_fetch(void **state)
{
	struct fx *f = *state;
	char *att = NULL, *big = NULL;
	const char *msgs[6];
	const struct expect want[6] = {
	    {"plain", "PLAINMARK", NULL, "PLAINMARK", NULL},
	    {"alternative", "ALTPLAINMARK", "ALTHTMLMARK", "ALTPLAINMARK", NULL},
	    {"with attachment", "Content-Transfer-Encoding: base64", ATT_LINE, "ATTTEXTMARK",
	     "invoice.pdf"},
	    {"no MIME at all", "NONMIMEMARK", NULL, "NONMIMEMARK", NULL},
	    {"Fwd: something", "FWDOWNMARK", "FWDINNERMARK", "FWDOWNMARK", "FWDINNERMARK"},
	    {"long", "BIGTEXTSTART", "BIGTEXTEND", "BIGTEXTSTART", NULL},
	};
	struct imap_session *s;
	struct imap_mailbox mb;
	struct got g = {0};
	uint32_t last = 0, messages, unseen;
	char err[512] = "";
	mailimap *h;
	int r;

	NEED_RIG(f);
	att = attachment_message();
	big = big_text_message();
	msgs[0] = MSG_PLAIN;
	msgs[1] = MSG_ALT;
	msgs[2] = att;
	msgs[3] = MSG_NONMIME;
	msgs[4] = MSG_FORWARD;
	msgs[5] = big;
	h = helper_open(f);
	for (size_t i = 0; i < ARRAY_SIZE(msgs); i++)
		helper_append(h, "Fetch", msgs[i]);

	s = must_open(f);
	assert_int_equal(imap_examine(s, "Fetch", &mb, err, sizeof(err)), 0);
	assert_int_equal(mb.exists, 6);

	/* Everything, text parts cut at 16 KiB. */
	r = imap_fetch(s, 1, 100, 16 * 1024, collect, &g, &last, err, sizeof(err));
	if (r != 6)
		fail_msg("imap_fetch: %d %s", r, err);
	assert_int_equal(g.n, 6);
	for (size_t i = 0; i < g.n; i++) {
		if (i > 0)
			assert_true(g.uid[i] > g.uid[i - 1]); /* ascending UIDs */
		check_message(g.raw[i], g.len[i], &want[i]);
		assert_true(g.size[i] >= strlen(msgs[i])); /* RFC822.SIZE counts CRLFs */
	}
	assert_int_equal(last, g.uid[5]);
	/* The 200 KB attachment did not cross the wire. */
	assert_true(g.len[2] < 4096);
	assert_true(g.len[5] < 16 * 1024 + 1024);
	got_free(&g);

	/* Reading set no \Seen flag. */
	helper_status(h, "Fetch", &messages, &unseen);
	assert_int_equal(messages, 6);
	assert_int_equal(unseen, 6);

	/* "n:*" beyond the last UID: the server answers with the last message; dropped. */
	last = 4242;
	assert_int_equal(
	    imap_fetch(s, mb.uidnext, 100, 65536, collect, &g, &last, err, sizeof(err)), 0);
	assert_int_equal(g.n, 0);
	assert_int_equal(last, 4242);

	/* max_messages, then the rest from the checkpoint. */
	assert_int_equal(imap_fetch(s, 1, 2, 65536, collect, &g, &last, err, sizeof(err)), 2);
	assert_int_equal(g.n, 2);
	assert_int_equal(last, g.uid[1]);
	assert_int_equal(imap_fetch(s, last + 1, 100, 65536, collect, &g, &last, err, sizeof(err)),
	                 4);
	assert_int_equal(g.n, 6);
	for (size_t i = 1; i < g.n; i++)
		assert_true(g.uid[i] > g.uid[i - 1]);
	got_free(&g);

	/* A callback's nonzero return stops the fetch and comes back unchanged. */
	g.stop_after = 3;
	assert_int_equal(imap_fetch(s, 1, 100, 65536, collect, &g, &last, err, sizeof(err)), 7);
	assert_int_equal(g.n, 3);
	got_free(&g);

	imap_close(&s);
	helper_close(h);
	free(att);
	free(big);
}

/* ---- IDLE ---- */

static void test_idle(void **state)
{
	struct fx *f = *state;
	struct imap_session *s;
	struct imap_mailbox mb;
	char err[512] = "";
	int pipefd[2], status;
	pid_t pid;

	NEED_RIG(f);
	s = must_open(f);
	assert_int_equal(imap_examine(s, "INBOX", &mb, err, sizeof(err)), 0);

	/* Nothing happens: the timeout. */
	assert_int_equal(imap_idle(s, 300, -1, err, sizeof(err)), 0);

	/* wake_fd readable: 2. */
	assert_int_equal(pipe(pipefd), 0);
	assert_int_equal(write(pipefd[1], "x", 1), 1);
	assert_int_equal(imap_idle(s, 20000, pipefd[0], err, sizeof(err)), 2);
	close(pipefd[0]);
	close(pipefd[1]);

	/* Another connection APPENDs while we idle: 1. */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		mailimap *h;

		usleep(300 * 1000);
		h = helper_open(f);
		helper_append(h, "INBOX", MSG_PLAIN);
		helper_close(h);
		_exit(0);
	}
	assert_int_equal(imap_idle(s, 20000, -1, err, sizeof(err)), 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* The session is usable after DONE. */
	assert_int_equal(imap_noop(s, err, sizeof(err)), 0);
	imap_close(&s);
}

/* ---- throughput (printed, not asserted) ---- */

struct count {
	size_t n;
	uint64_t raw_bytes, server_bytes;
	uint32_t prev;
	bool ordered;
};

static int count_cb(void *arg, uint32_t uid, const char *raw, size_t len, uint64_t size)
{
	struct count *c = arg;

	(void)raw;
	c->ordered = c->ordered && uid > c->prev;
	c->prev = uid;
	c->n++;
	c->raw_bytes += len;
	c->server_bytes += size;
	return 0;
}

static void test_fetch_throughput(void **state)
{
	struct fx *f = *state;
	const char *env = getenv("RF_IMAP_BENCH_N");
	int64_t n = 2000;
	char *att, err[512] = "";
	struct imap_session *s;
	struct imap_mailbox mb;
	struct count c = {.ordered = true};
	struct rusage ru;
	uint32_t last = 0;
	mailimap *h;
	int64_t t0, t1;

	NEED_RIG(f);
	if (env != NULL && parse_int64(env, 0, 1000000, &n) < 0)
		fail_msg("RF_IMAP_BENCH_N=%s", env);
	if (n == 0)
		skip();
	att = attachment_message();
	h = helper_open(f);
	for (int64_t i = 0; i < n; i++) {
		/* 10 % with a 200 KB attachment, like the reference mailbox. */
		if (i % 10 == 9)
			helper_append(h, "Bench", att);
		else
			helper_append(h, "Bench", i % 3 ? MSG_ALT : MSG_PLAIN);
	}
	helper_close(h);
	free(att);

	s = must_open(f);
	assert_int_equal(imap_examine(s, "Bench", &mb, err, sizeof(err)), 0);
	t0 = now_ms();
	for (;;) {
		uint32_t before = last;
		int r =
		    imap_fetch(s, last + 1, 500, 256 * 1024, count_cb, &c, &last, err, sizeof(err));

		if (r < 0)
			fail_msg("imap_fetch: %d %s", r, err);
		if (last == before)
			break;
	}
	t1 = now_ms();
	getrusage(RUSAGE_SELF, &ru);
	imap_close(&s);
	assert_int_equal(c.n, (size_t)n);
	assert_true(c.ordered);
	fprintf(stderr,
	        "test_imap: fetched %zu messages (%.1f MB on the server, %.1f MB text fetched) "
	        "in %lld ms: %.0f messages/s, %.1f MB/s of mailbox; peak RSS %ld KB\n",
	        c.n, (double)c.server_bytes / 1e6, (double)c.raw_bytes / 1e6, (long long)(t1 - t0),
	        (double)c.n * 1000.0 / (double)(t1 - t0 > 0 ? t1 - t0 : 1),
	        (double)c.server_bytes / 1e3 / (double)(t1 - t0 > 0 ? t1 - t0 : 1), ru.ru_maxrss);
}

/* ---- the real-mail corpus through IMAP ---- */

struct corpus_run {
	size_t n, parse_failed;
	uint32_t prev;
	bool ordered, parse;
};

static int corpus_cb(void *arg, uint32_t uid, const char *raw, size_t len, uint64_t size)
{
	struct corpus_run *c = arg;
	struct message_limits lim = MESSAGE_LIMITS_DEFAULT;
	struct message *m = NULL;
	char err[256];

	(void)size;
	c->ordered = c->ordered && uid > c->prev;
	c->prev = uid;
	c->n++;
	if (c->parse) {
		if (message_parse(raw, len, &lim, &m, err, sizeof(err)) != 0)
			c->parse_failed++;
		message_free(&m);
	}
	return 0;
}

/*
 * Every corpus message the server accepts comes back exactly once, in UID order: the
 * torture set (malformed MIME, nesting bombs, huge headers) exercises the BODYSTRUCTURE
 * planning; Enron mail is parsed back too. Skips when ../shared/corpus is absent.
 */
static void test_corpus_fetch(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *dir, *mailbox;
		bool parse;
	} sets[] = {
	    {"../shared/corpus/torture/messages", "Torture", false},
	    {"../shared/corpus/enron/messages", "Enron", true},
	};
	bool any = false;

	NEED_RIG(f);
	for (size_t k = 0; k < ARRAY_SIZE(sets); k++) {
		DIR *d = opendir(sets[k].dir);
		struct dirent *e;
		struct imap_session *s;
		struct imap_mailbox mb;
		struct corpus_run c = {.ordered = true, .parse = sets[k].parse};
		uint32_t last = 0, messages, unseen;
		size_t appended = 0;
		char err[512] = "";
		int64_t t0;
		mailimap *h;

		if (d == NULL)
			continue;
		any = true;
		h = helper_open(f);
		while ((e = readdir(d)) != NULL) {
			char *path = xasprintf("%s/%s", sets[k].dir, e->d_name), buf[65536];
			struct strbuf raw = STRBUF_INIT;
			FILE *fp = e->d_name[0] == '.' ? NULL : fopen(path, "rb");
			size_t n;

			free(path);
			if (fp == NULL)
				continue;
			while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
				strbuf_append(&raw, buf, n);
			fclose(fp);
			/* The server may refuse some of the malformed ones; STATUS counts. */
			if (raw.len > 0 && helper_try_append(h, sets[k].mailbox, raw.data,
			                                     raw.len) == MAILIMAP_NO_ERROR)
				appended++;
			strbuf_release(&raw);
		}
		closedir(d);
		helper_status(h, sets[k].mailbox, &messages, &unseen);
		helper_close(h);
		assert_int_equal(messages, appended);

		s = must_open(f);
		assert_int_equal(imap_examine(s, sets[k].mailbox, &mb, err, sizeof(err)), 0);
		t0 = now_ms();
		for (;;) {
			uint32_t before = last;
			int r = imap_fetch(s, last + 1, 500, 256 * 1024, corpus_cb, &c, &last, err,
			                   sizeof(err));

			if (r < 0)
				fail_msg("%s: imap_fetch: %d %s", sets[k].mailbox, r, err);
			if (last == before)
				break;
		}
		fprintf(stderr, "test_imap: %s: %zu of %zu messages fetched in %lld ms%s\n",
		        sets[k].mailbox, c.n, appended, (long long)(now_ms() - t0),
		        c.parse ? "" : " (not parsed)");
		imap_close(&s);
		assert_int_equal(c.n, messages);
		assert_true(c.ordered);
		assert_int_equal(c.parse_failed, 0);
	}
	if (!any)
		skip();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_open_table),
	    cmocka_unit_test(test_open_errors),
	    cmocka_unit_test(test_refused_before_login),
	    cmocka_unit_test(test_examine_missing),
	    cmocka_unit_test(test_find_sent),
	    cmocka_unit_test(test_fetch),
	    cmocka_unit_test(test_idle),
	    cmocka_unit_test(test_fetch_throughput),
	    cmocka_unit_test(test_corpus_fetch),
	    cmocka_unit_test(test_auth_refused),
	};

	/* libetpan writes to sockets without MSG_NOSIGNAL; the daemon ignores SIGPIPE too. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
