/*
 * smtp: against tests/rig/smtprig.py, a scriptable aiosmtpd server on 127.0.0.1 started
 * once per case (replies per stage, AUTH, STARTTLS, smtps, hangs). What the server received
 * is read back from the files it writes (messages, envelopes, the command log), so every
 * case checks the wire as well as the return value. Certificates come from the rig's
 * --make-certs (a CA, a server certificate for localhost and 127.0.0.1, an unrelated CA).
 * Skips cleanly when python3-aiosmtpd is missing.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "redflag/log.h"
#include "redflag/smtp.h"
#include "redflag/util.h"

#define PYTHON   "/usr/bin/python3"
#define USER     "rfuser"
#define PASSWORD "s3cret-Pw!"
/* base64 of "\0rfuser\0s3cret-Pw!" (AUTH PLAIN) and of the password alone (AUTH LOGIN) */
#define PLAIN_B64 "AHJmdXNlcgBzM2NyZXQtUHch"
#define LOGIN_B64 "czNjcmV0LVB3IQ=="
#define FROM      "owner@studio.test"

struct fx {
	bool available;
	char dir[64];
	char ca[256], other_ca[256], cert[256], key[256], wrong_cert[256], wrong_key[256];
	unsigned n_servers;
	pid_t live[8]; /* servers running, stopped by group_teardown should a case fail */
};

struct server {
	pid_t pid;
	char dir[256];
	unsigned port;
};

/* A message with the lines that dot-stuffing must get right, 8-bit text and CRLF ends. */
static const char message[] = "From: Owner <owner@studio.test>\r\n"
                              "To: Boss <boss@studio.test>\r\n"
                              "Subject: Review digest\r\n"
                              "Message-ID: <digest-2025@studio.test>\r\n"
                              "MIME-Version: 1.0\r\n"
                              "Content-Type: text/plain; charset=utf-8\r\n"
                              "Content-Transfer-Encoding: 8bit\r\n"
                              "\r\n"
                              "Line one\r\n"
                              ".starts with a dot\r\n"
                              "..two dots\r\n"
                              ".\r\n"
                              "\xc3\x86\xc3\xb8\xc3\xa5 \xe2\x80\x93 \xc3\xbc\r\n"
                              "end\r\n";

static const char *rig_script(void)
{
	const char *env = getenv("RF_SMTPRIG");

	return env != NULL ? env : "tests/rig/smtprig.py";
}

static char *read_file(const char *path, size_t *len)
{
	struct strbuf b = STRBUF_INIT;
	char buf[65536];
	size_t n;
	FILE *f = fopen(path, "rb");

	if (f == NULL)
		return NULL;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		strbuf_append(&b, buf, n);
	fclose(f);
	return strbuf_detach(&b, len);
}

/* ---- fixture: certificates once, a server per case ---- */

static int group_setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	char *cmd;
	int r;

	*state = f;
	signal(SIGPIPE, SIG_IGN);
	if (system(PYTHON " -c 'import aiosmtpd' >/dev/null 2>&1") != 0 ||
	    access(rig_script(), R_OK) != 0) {
		fprintf(stderr, "test_smtp: no python3-aiosmtpd or no %s: skipping\n",
		        rig_script());
		return 0;
	}
	snprintf(f->dir, sizeof(f->dir), "/tmp/rf-smtp-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	cmd = xasprintf(PYTHON " %s --make-certs '%s/certs'", rig_script(), f->dir);
	r = system(cmd);
	free(cmd);
	if (r != 0) {
		fprintf(stderr, "test_smtp: could not make certificates\n");
		return -1;
	}
	snprintf(f->ca, sizeof(f->ca), "%s/certs/ca.pem", f->dir);
	snprintf(f->other_ca, sizeof(f->other_ca), "%s/certs/otherca.pem", f->dir);
	snprintf(f->cert, sizeof(f->cert), "%s/certs/server.pem", f->dir);
	snprintf(f->key, sizeof(f->key), "%s/certs/server.key", f->dir);
	snprintf(f->wrong_cert, sizeof(f->wrong_cert), "%s/certs/wronghost.pem", f->dir);
	snprintf(f->wrong_key, sizeof(f->wrong_key), "%s/certs/wronghost.key", f->dir);
	f->available = true;
	return 0;
}

static int group_teardown(void **state)
{
	struct fx *f = *state;

	for (size_t i = 0; i < ARRAY_SIZE(f->live); i++) {
		if (f->live[i] > 0) {
			kill(f->live[i], SIGKILL);
			waitpid(f->live[i], NULL, 0);
		}
	}
	if (f->dir[0] != '\0' && getenv("RF_KEEP") == NULL) {
		char *cmd = xasprintf("rm -rf '%s'", f->dir);

		if (system(cmd) != 0)
			fprintf(stderr, "test_smtp: cleanup of %s failed\n", f->dir);
		free(cmd);
	}
	free(f);
	return 0;
}

#define NEED_RIG(f)                                                                                \
	do {                                                                                       \
		if (!(f)->available)                                                               \
			skip();                                                                    \
	} while (0)

/* Starts the rig with a JSON config; waits (bounded) for its ready file. */
static void server_start(struct fx *f, const char *config, struct server *s)
{
	char *ready;
	int64_t v;

	snprintf(s->dir, sizeof(s->dir), "%s/s%u", f->dir, ++f->n_servers);
	assert_int_equal(mkdir(s->dir, 0700), 0);
	s->pid = fork();
	assert_true(s->pid >= 0);
	if (s->pid == 0) {
		char *errpath = xasprintf("%s/stderr", s->dir);
		int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int null = open("/dev/null", O_RDWR);

		/*
		 * The server must never outlive the test: a runner that reads the test's output
		 * through a pipe would wait for it forever. So no inherited stdout, and death
		 * with the parent.
		 */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() == 1)
			_exit(126);
		if (fd < 0 || null < 0)
			_exit(126);
		dup2(null, 0);
		dup2(null, 1);
		dup2(fd, 2);
		close(fd);
		close(null);
		execl(PYTHON, PYTHON, rig_script(), "--port", "0", "--dir", s->dir, "--config",
		      config, (char *)NULL);
		_exit(127);
	}
	for (size_t i = 0; i < ARRAY_SIZE(f->live); i++) {
		if (f->live[i] <= 0) {
			f->live[i] = s->pid;
			break;
		}
	}
	ready = xasprintf("%s/ready", s->dir);
	for (int i = 0; i < 500; i++) {
		size_t len;
		char *text = read_file(ready, &len);

		if (text != NULL && len > 0 && text[len - 1] == '\n') {
			text[len - 1] = '\0';
			assert_int_equal(parse_int64(text, 1, 65535, &v), 0);
			s->port = (unsigned)v;
			free(text);
			break;
		}
		free(text);
		if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
			for (size_t j = 0; j < ARRAY_SIZE(f->live); j++) {
				if (f->live[j] == s->pid)
					f->live[j] = 0;
			}
			s->pid = -1;
			break;
		}
		usleep(20000);
	}
	free(ready);
	if (s->port == 0) {
		char *p = xasprintf("%s/stderr", s->dir);
		char *text = read_file(p, NULL);

		fprintf(stderr, "smtprig did not start:\n%s\n", text != NULL ? text : "");
		free(text);
		free(p);
		fail_msg("smtprig did not start");
	}
}

static void server_stop(struct fx *f, struct server *s)
{
	bool gone = false;

	if (s->pid <= 0)
		return;
	kill(s->pid, SIGTERM);
	for (int i = 0; i < 250 && !gone; i++) {
		gone = waitpid(s->pid, NULL, WNOHANG) == s->pid;
		if (!gone)
			usleep(20000);
	}
	if (!gone) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
	}
	for (size_t i = 0; i < ARRAY_SIZE(f->live); i++) {
		if (f->live[i] == s->pid)
			f->live[i] = 0;
	}
	s->pid = -1;
}

/* A port on 127.0.0.1 where nothing listens (it was free a moment ago). */
static unsigned dead_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names (without extension) of the accepted messages, sorted; *n the count. */
static char **message_names(const struct server *s, size_t *n)
{
	char *path = xasprintf("%s/messages", s->dir);
	DIR *d = opendir(path);
	struct dirent *e;
	char **names = NULL;

	*n = 0;
	free(path);
	if (d == NULL)
		return NULL;
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);

		if (len > 4 && strcmp(e->d_name + len - 4, ".eml") == 0) {
			names = xreallocarray(names, *n + 1, sizeof(*names));
			names[(*n)++] = xstrndup(e->d_name, len - 4);
		}
	}
	closedir(d);
	if (*n > 1)
		qsort(names, *n, sizeof(*names), name_cmp);
	return names;
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static size_t message_count(const struct server *s)
{
	size_t n;
	char **names = message_names(s, &n);

	free_names(names, n);
	return n;
}

/* The i-th accepted message (ext "eml") or its envelope (ext "json"). */
static char *message_file(const struct server *s, size_t i, const char *ext, size_t *len)
{
	size_t n;
	char **names = message_names(s, &n);
	char *path, *text;

	assert_true(i < n);
	path = xasprintf("%s/messages/%s.%s", s->dir, names[i], ext);
	text = read_file(path, len);
	free(path);
	free_names(names, n);
	assert_non_null(text);
	return text;
}

/* How often the server logged cmd ("MAIL", "CONNECT", ...); only in clear when clear_only. */
static unsigned log_count(const struct server *s, const char *cmd, bool clear_only)
{
	char *path = xasprintf("%s/log", s->dir);
	char *text = read_file(path, NULL), *line, *save = NULL;
	size_t k = strlen(cmd);
	unsigned n = 0;

	free(path);
	if (text == NULL)
		return 0;
	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, cmd, k) != 0 || line[k] != '\t')
			continue;
		if (!clear_only || strncmp(line + k + 1, "clear\t", 6) == 0)
			n++;
	}
	free(text);
	return n;
}

/* ---- the send cases ---- */

/* SRV_WRONGHOST: STARTTLS with a certificate for wrong.example, signed by the trusted CA */
enum srv_tls { SRV_PLAIN, SRV_STARTTLS, SRV_IMPLICIT, SRV_WRONGHOST };
enum ca_kind { CA_SYSTEM, CA_GOOD, CA_OTHER };

struct send_case {
	const char *name;
	const char *script;   /* JSON members for the rig ("reply", "hang"), or NULL */
	enum srv_tls srv_tls; /* what the server offers */
	bool srv_auth;        /* the server requires AUTH as USER/PASSWORD */
	bool down;            /* no server at all: a port where nothing listens */
	enum rf_tls tls;      /* the client's configuration */
	enum ca_kind ca;
	const char *password;  /* NULL: no AUTH (conf.user NULL) */
	unsigned timeout;      /* conf.timeout; 0: 5 s */
	unsigned retries;      /* 0: smtp_send; else smtp_send_retry, this many attempts */
	bool big;              /* a 1 MB message instead of the small one */
	int rc;                /* expected */
	long code;             /* expected st.code; -1: not checked */
	bool data_sent, maybe; /* expected st.data_sent, st.maybe_delivered */
	unsigned attempts;     /* expected st.attempts */
	unsigned delivered;    /* messages the server accepted */
	const char *err_has;   /* a part of err, or NULL */
	bool nothing_in_clear; /* the log shows no AUTH, MAIL, RCPT or DATA in clear */
};

static const struct send_case send_cases[] = {
    {.name = "plain send",
     .tls = RF_TLS_NONE,
     .code = 250,
     .data_sent = true,
     .attempts = 1,
     .delivered = 1},
    {.name = "plain send, 1 MB message",
     .tls = RF_TLS_NONE,
     .big = true,
     .code = 250,
     .data_sent = true,
     .attempts = 1,
     .delivered = 1},
    {.name = "STARTTLS, trusted CA",
     .srv_tls = SRV_STARTTLS,
     .tls = RF_TLS_STARTTLS,
     .ca = CA_GOOD,
     .code = 250,
     .data_sent = true,
     .attempts = 1,
     .delivered = 1,
     .nothing_in_clear = true},
    {.name = "STARTTLS, unrelated CA",
     .srv_tls = SRV_STARTTLS,
     .tls = RF_TLS_STARTTLS,
     .ca = CA_OTHER,
     .rc = -EPROTO,
     .code = -1,
     .attempts = 1,
     .err_has = "TLS",
     .nothing_in_clear = true},
    {.name = "STARTTLS, trusted CA, certificate for another host",
     .srv_tls = SRV_WRONGHOST,
     .tls = RF_TLS_STARTTLS,
     .ca = CA_GOOD,
     .password = PASSWORD,
     .rc = -EPROTO,
     .code = -1,
     .attempts = 1,
     .err_has = "TLS",
     .nothing_in_clear = true},
    {.name = "STARTTLS, system store does not know the test CA",
     .srv_tls = SRV_STARTTLS,
     .tls = RF_TLS_STARTTLS,
     .ca = CA_SYSTEM,
     .rc = -EPROTO,
     .code = -1,
     .attempts = 1,
     .nothing_in_clear = true},
    /* The server would take AUTH and MAIL in clear; the client must not offer them. */
    {.name = "STARTTLS required, server does not offer it",
     .srv_auth = true,
     .tls = RF_TLS_STARTTLS,
     .ca = CA_GOOD,
     .password = PASSWORD,
     .rc = -EPROTO,
     .code = -1,
     .attempts = 1,
     .err_has = "STARTTLS",
     .nothing_in_clear = true},
    {.name = "smtps",
     .srv_tls = SRV_IMPLICIT,
     .tls = RF_TLS_IMPLICIT,
     .ca = CA_GOOD,
     .code = 250,
     .data_sent = true,
     .attempts = 1,
     .delivered = 1},
    {.name = "smtps, unrelated CA",
     .srv_tls = SRV_IMPLICIT,
     .tls = RF_TLS_IMPLICIT,
     .ca = CA_OTHER,
     .rc = -EPROTO,
     .code = -1,
     .attempts = 1},
    {.name = "AUTH over STARTTLS",
     .srv_tls = SRV_STARTTLS,
     .srv_auth = true,
     .tls = RF_TLS_STARTTLS,
     .ca = CA_GOOD,
     .password = PASSWORD,
     .code = 250,
     .data_sent = true,
     .attempts = 1,
     .delivered = 1,
     .nothing_in_clear = true},
    {.name = "AUTH over smtps",
     .srv_tls = SRV_IMPLICIT,
     .srv_auth = true,
     .tls = RF_TLS_IMPLICIT,
     .ca = CA_GOOD,
     .password = PASSWORD,
     .code = 250,
     .data_sent = true,
     .attempts = 1,
     .delivered = 1},
    {.name = "wrong password",
     .srv_tls = SRV_STARTTLS,
     .srv_auth = true,
     .tls = RF_TLS_STARTTLS,
     .ca = CA_GOOD,
     .password = "Wr0ng-Pa55",
     .retries = 3,
     .rc = -EACCES,
     .code = 535,
     .attempts = 1,
     .err_has = "535"},
    {.name = "server down",
     .down = true,
     .tls = RF_TLS_NONE,
     .rc = -EAGAIN,
     .code = 0,
     .attempts = 1},
    {.name = "server down, 3 attempts",
     .down = true,
     .tls = RF_TLS_NONE,
     .retries = 3,
     .rc = -EAGAIN,
     .code = 0,
     .attempts = 3},
    {.name = "421 at connect",
     .script = "\"reply\": {\"connect\": \"421 4.3.2 try later\"}",
     .tls = RF_TLS_NONE,
     .rc = -EAGAIN,
     .code = 421,
     .attempts = 1,
     .err_has = "421 4.3.2 try later (temporary)"},
    {.name = "421 at connect once, then accepted",
     .script = "\"reply\": {\"connect\": [\"421 4.3.2 try later\"]}",
     .tls = RF_TLS_NONE,
     .retries = 3,
     .code = 250,
     .data_sent = true,
     .attempts = 2,
     .delivered = 1},
    {.name = "451 after the message",
     .script = "\"reply\": {\"dataend\": \"451 4.3.0 busy\"}",
     .tls = RF_TLS_NONE,
     .rc = -EAGAIN,
     .code = 451,
     .data_sent = true,
     .attempts = 1,
     .err_has = "451 4.3.0"},
    {.name = "451 after the message once, retried, delivered once",
     .script = "\"reply\": {\"dataend\": [\"451 4.3.0 busy\"]}",
     .tls = RF_TLS_NONE,
     .retries = 3,
     .code = 250,
     .data_sent = true,
     .attempts = 2,
     .delivered = 1},
    {.name = "550 at RCPT",
     .script = "\"reply\": {\"rcpt\": \"550 5.1.1 mailbox unavailable\"}",
     .tls = RF_TLS_NONE,
     .retries = 3,
     .rc = -EIO,
     .code = 550,
     .attempts = 1,
     .err_has = ": 550 5.1.1 mailbox unavailable (permanent, not retried)"},
    {.name = "554 after the message",
     .script = "\"reply\": {\"dataend\": \"554 5.7.1 rejected as spam\"}",
     .tls = RF_TLS_NONE,
     .retries = 3,
     .rc = -EIO,
     .code = 554,
     .data_sent = true,
     .attempts = 1,
     .err_has = "554 5.7.1"},
    {.name = "421 at MAIL",
     .script = "\"reply\": {\"mail\": \"421 4.7.0 go away\"}",
     .tls = RF_TLS_NONE,
     .rc = -EAGAIN,
     .code = 421,
     .attempts = 1},
    {.name = "no reply after the message: maybe delivered, not retried",
     .script = "\"hang\": \"dataend\"",
     .tls = RF_TLS_NONE,
     .timeout = 2,
     .retries = 3,
     .rc = -ETIMEDOUT,
     .code = -1,
     .data_sent = true,
     .maybe = true,
     .attempts = 1,
     .err_has = "may have been delivered"},
    {.name = "no greeting: timeout, transient",
     .script = "\"hang\": \"connect\"",
     .tls = RF_TLS_NONE,
     .timeout = 2,
     .rc = -EAGAIN,
     .code = 0,
     .attempts = 1},
};

struct data_end {
	unsigned calls;
	size_t delivered_then; /* messages on the server when the last call came */
	const struct server *srv;
};

static void on_data_end(void *arg)
{
	struct data_end *d = arg;

	d->calls++;
	d->delivered_then = message_count(d->srv);
}

static char *server_config(const struct fx *f, const struct send_case *c)
{
	struct strbuf b = STRBUF_INIT;

	strbuf_appendf(&b, "{%s", c->script != NULL ? c->script : "");
	if (c->srv_auth)
		strbuf_appendf(&b, "%s\"auth\": [\"" USER "\", \"" PASSWORD "\"]",
		               b.len > 1 ? ", " : "");
	if (c->srv_tls != SRV_PLAIN)
		strbuf_appendf(&b, "%s\"%s\": [\"%s\", \"%s\"]", b.len > 1 ? ", " : "",
		               c->srv_tls == SRV_IMPLICIT ? "implicit_tls" : "starttls",
		               c->srv_tls == SRV_WRONGHOST ? f->wrong_cert : f->cert,
		               c->srv_tls == SRV_WRONGHOST ? f->wrong_key : f->key);
	strbuf_appends(&b, "}");
	return strbuf_detach(&b, NULL);
}

static char *big_message(size_t *len)
{
	struct strbuf b = STRBUF_INIT;

	strbuf_appends(&b,
	               "From: owner@studio.test\r\nTo: boss@studio.test\r\nSubject: big\r\n\r\n");
	for (unsigned i = 0; b.len < 1024 * 1024; i++)
		strbuf_appendf(&b, "%s%05u the quick brown fox jumps over the lazy dog\r\n",
		               i % 7 == 0 ? "." : "", i);
	return strbuf_detach(&b, len);
}

static void run_send_case(struct fx *f, const struct send_case *c)
{
	static const char *const rcpt[] = {"boss@studio.test", "Partner+digest@Example.COM"};
	struct server srv = {.pid = -1};
	struct rf_smtp conf = {.present = true, .tls = c->tls, .from = (char *)FROM};
	struct smtp_retry policy = {.attempts = c->retries, .delay_ms = 10, .factor = 2};
	struct smtp_status st;
	struct data_end de = {.srv = &srv};
	char err[512] = "", *url, *msg, *cfg;
	size_t len;
	int rc;

	if (c->down) {
		srv.port = dead_port();
		snprintf(srv.dir, sizeof(srv.dir), "%s/none", f->dir);
	} else {
		cfg = server_config(f, c);
		server_start(f, cfg, &srv);
		free(cfg);
	}
	url =
	    xasprintf("%s://127.0.0.1:%u", c->srv_tls == SRV_IMPLICIT ? "smtps" : "smtp", srv.port);
	conf.url = url;
	conf.ca_file = c->ca == CA_GOOD ? f->ca : c->ca == CA_OTHER ? f->other_ca : NULL;
	conf.user = c->password != NULL ? (char *)USER : NULL;
	conf.timeout = c->timeout > 0 ? c->timeout : 5;
	if (c->big) {
		msg = big_message(&len);
	} else {
		msg = xstrdup(message);
		len = strlen(message);
	}

	if (c->retries > 0)
		rc = smtp_send_retry(&conf, c->password, FROM, rcpt, ARRAY_SIZE(rcpt), msg, len,
		                     on_data_end, &de, &policy, &st, err, sizeof(err));
	else
		rc = smtp_send(&conf, c->password, FROM, rcpt, ARRAY_SIZE(rcpt), msg, len,
		               on_data_end, &de, &st, err, sizeof(err));
	print_message("%s: rc %d, code %ld, data_sent %d, maybe %d, attempts %u, err \"%s\"\n",
	              c->name, rc, st.code, st.data_sent, st.maybe_delivered, st.attempts, err);

	assert_int_equal(rc, c->rc);
	if (c->code >= 0)
		assert_int_equal(st.code, c->code);
	assert_int_equal(st.data_sent, c->data_sent);
	assert_int_equal(st.maybe_delivered, c->maybe);
	assert_int_equal(st.attempts, c->attempts);
	if (rc != 0) {
		/* One line naming the server, never the password. */
		char *prefix = xasprintf("smtp 127.0.0.1:%u: ", srv.port);

		assert_true(strncmp(err, prefix, strlen(prefix)) == 0);
		assert_null(strchr(err, '\n'));
		assert_null(strstr(err, PASSWORD));
		if (c->password != NULL)
			assert_null(strstr(err, c->password));
		free(prefix);
	}
	if (c->err_has != NULL && strstr(err, c->err_has) == NULL)
		fail_msg("%s: err \"%s\" lacks \"%s\"", c->name, err, c->err_has);
	/* on_data_end: once per attempt that handed the whole message over, before any 250. */
	if (c->data_sent)
		assert_true(de.calls >= 1);
	else
		assert_int_equal(de.calls, 0);
	if (c->data_sent && c->attempts == 1)
		assert_int_equal(de.calls, 1);
	if (de.calls > 0)
		assert_int_equal(de.delivered_then, 0);

	if (!c->down) {
		unsigned connects = log_count(&srv, "CONNECT", false);

		assert_int_equal(message_count(&srv), c->delivered);
		/*
		 * With smtps the server sees a connection only once the handshake is done; a
		 * client that rejects the certificate may hang up before that.
		 */
		if (c->srv_tls == SRV_IMPLICIT && c->rc == -EPROTO)
			assert_true(connects <= c->attempts);
		else
			assert_int_equal(connects, c->attempts);
	}
	if (c->delivered > 0) {
		size_t got_len;
		char *got = message_file(&srv, 0, "eml", &got_len);
		char *env = message_file(&srv, 0, "json", NULL);

		assert_int_equal(got_len, len);
		assert_memory_equal(got, msg, len);
		assert_non_null(strstr(env, "\"mail_from\": \"" FROM "\""));
		assert_non_null(strstr(
		    env, "\"rcpt_tos\": [\"boss@studio.test\", \"Partner+digest@Example.COM\"]"));
		free(got);
		free(env);
	}
	if (c->nothing_in_clear) {
		assert_int_equal(log_count(&srv, "AUTH", true), 0);
		assert_int_equal(log_count(&srv, "MAIL", true), 0);
		assert_int_equal(log_count(&srv, "RCPT", true), 0);
		assert_int_equal(log_count(&srv, "DATA", true), 0);
	}
	if (c->tls == RF_TLS_STARTTLS && c->srv_tls == SRV_STARTTLS)
		assert_int_equal(log_count(&srv, "STARTTLS", false), c->attempts);
	if (c->password != NULL && c->delivered > 0)
		assert_int_equal(log_count(&srv, "AUTH", false), 1);

	server_stop(f, &srv);
	free(msg);
	free(url);
}

static void test_send_cases(void **state)
{
	struct fx *f = *state;

	NEED_RIG(f);
	for (size_t i = 0; i < ARRAY_SIZE(send_cases); i++)
		run_send_case(f, &send_cases[i]);
}

/* ---- arguments refused before anything goes on the wire ---- */

struct bad_case {
	const char *name;
	const char *url_scheme; /* "smtp", "smtps", "imap" */
	enum rf_tls tls;
	const char *user, *password;
	const char *from;
	const char *rcpt; /* NULL: no recipient at all */
};

static const struct bad_case bad_cases[] = {
    {"CRLF in a recipient", "smtp", RF_TLS_NONE, NULL, NULL, FROM,
     "boss@studio.test>\r\nRCPT TO:<evil@x.test"},
    {"LF in the sender", "smtp", RF_TLS_NONE, NULL, NULL, "owner@studio.test\nDATA",
     "boss@studio.test"},
    {"space in a recipient", "smtp", RF_TLS_NONE, NULL, NULL, FROM, "boss @studio.test"},
    {"brackets in a recipient", "smtp", RF_TLS_NONE, NULL, NULL, FROM, "<boss@studio.test>"},
    {"tab in the sender", "smtp", RF_TLS_NONE, NULL, NULL, "owner\t@studio.test",
     "boss@studio.test"},
    {"empty recipient", "smtp", RF_TLS_NONE, NULL, NULL, FROM, ""},
    {"empty sender", "smtp", RF_TLS_NONE, NULL, NULL, "", "boss@studio.test"},
    {"no recipient", "smtp", RF_TLS_NONE, NULL, NULL, FROM, NULL},
    {"another protocol", "imap", RF_TLS_NONE, NULL, NULL, FROM, "boss@studio.test"},
    {"smtps with tls none", "smtps", RF_TLS_NONE, NULL, NULL, FROM, "boss@studio.test"},
    {"user without password", "smtp", RF_TLS_NONE, USER, NULL, FROM, "boss@studio.test"},
};

static void test_bad_arguments(void **state)
{
	struct fx *f = *state;
	struct server srv = {.pid = -1};

	NEED_RIG(f);
	server_start(f, "{}", &srv);
	for (size_t i = 0; i < ARRAY_SIZE(bad_cases); i++) {
		const struct bad_case *c = &bad_cases[i];
		char *url = xasprintf("%s://127.0.0.1:%u", c->url_scheme, srv.port);
		struct rf_smtp conf = {.present = true,
		                       .url = url,
		                       .tls = c->tls,
		                       .user = (char *)c->user,
		                       .timeout = 5};
		const char *rcpt[] = {c->rcpt};
		struct smtp_status st = {.attempts = 99, .data_sent = true};
		struct data_end de = {.srv = &srv};
		struct smtp_retry policy = {.attempts = 3, .delay_ms = 10, .factor = 2};
		char err[256] = "";
		int rc;

		rc = smtp_send(&conf, c->password, c->from, rcpt, c->rcpt != NULL ? 1 : 0, message,
		               strlen(message), on_data_end, &de, &st, err, sizeof(err));
		if (rc != -EINVAL)
			fail_msg("%s: rc %d, err \"%s\"", c->name, rc, err);
		assert_int_equal(st.attempts, 0);
		assert_false(st.data_sent);
		assert_int_equal(de.calls, 0);
		assert_true(err[0] != '\0');
		assert_null(strchr(err, '\n'));
		assert_null(strchr(err, '\r'));
		rc = smtp_send_retry(&conf, c->password, c->from, rcpt, c->rcpt != NULL ? 1 : 0,
		                     message, strlen(message), NULL, NULL, &policy, &st, err,
		                     sizeof(err));
		assert_int_equal(rc, -EINVAL);
		assert_int_equal(st.attempts, 0);
		free(url);
	}
	/* A NULL status and a NULL err are fine. */
	{
		struct rf_smtp conf = {.url = (char *)"smtp://127.0.0.1:1", .tls = RF_TLS_NONE};
		const char *rcpt[] = {"a b"};

		assert_int_equal(smtp_send(&conf, NULL, FROM, rcpt, 1, message, strlen(message),
		                           NULL, NULL, NULL, NULL, 0),
		                 -EINVAL);
	}
	assert_int_equal(log_count(&srv, "CONNECT", false), 0);
	assert_int_equal(message_count(&srv), 0);
	server_stop(f, &srv);
}

/* ---- tracing shows the dialogue but never the credentials or the body ---- */

static void test_trace_masks_auth(void **state)
{
	struct fx *f = *state;
	struct server srv = {.pid = -1};
	static const char *const rcpt[] = {"boss@studio.test"};
	struct rf_smtp conf = {
	    .present = true, .tls = RF_TLS_STARTTLS, .user = (char *)USER, .timeout = 5};
	struct smtp_status st;
	char err[256], *cfg, *url, *tracefile, *trace;
	int saved, fd, rc;

	NEED_RIG(f);
	cfg = xasprintf("{\"auth\": [\"" USER "\", \"" PASSWORD "\"], "
	                "\"starttls\": [\"%s\", \"%s\"]}",
	                f->cert, f->key);
	server_start(f, cfg, &srv);
	free(cfg);
	url = xasprintf("smtp://127.0.0.1:%u", srv.port);
	conf.url = url;
	conf.ca_file = f->ca;
	tracefile = xasprintf("%s/trace", srv.dir);

	fflush(stderr);
	saved = dup(2);
	fd = open(tracefile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(saved >= 0 && fd >= 0);
	dup2(fd, 2);
	close(fd);
	log_init(LOG_DEBUG, false);
	log_set_trace("smtp");
	rc = smtp_send(&conf, PASSWORD, FROM, rcpt, 1, message, strlen(message), NULL, NULL, &st,
	               err, sizeof(err));
	log_set_trace(NULL);
	log_init(LOG_INFO, false);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);

	assert_int_equal(rc, 0);
	trace = read_file(tracefile, NULL);
	assert_non_null(trace);
	assert_non_null(strstr(trace, "C: STARTTLS"));
	assert_non_null(strstr(trace, "C: AUTH "));
	assert_non_null(strstr(trace, "C: MAIL FROM:<" FROM ">"));
	assert_non_null(strstr(trace, "S: 250"));
	assert_null(strstr(trace, PASSWORD));
	assert_null(strstr(trace, PLAIN_B64));
	assert_null(strstr(trace, LOGIN_B64));
	assert_null(strstr(trace, "starts with a dot"));
	free(trace);
	free(tracefile);
	free(url);
	server_stop(f, &srv);
}

static void test_retry_default(void **state)
{
	struct smtp_retry r;

	(void)state;
	smtp_retry_default(&r);
	assert_int_equal(r.attempts, 3);
	assert_int_equal(r.delay_ms, 30000);
	assert_int_equal(r.factor, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_retry_default),
	    cmocka_unit_test(test_bad_arguments),
	    cmocka_unit_test(test_send_cases),
	    cmocka_unit_test(test_trace_masks_auth),
	};
	int r;

	if (smtp_global_init() < 0)
		return 1;
	r = cmocka_run_group_tests(tests, group_setup, group_teardown);
	smtp_global_cleanup();
	return r;
}
