#include "redflag/imap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libetpan/libetpan.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "redflag/log.h"
#include "redflag/tls.h"
#include "redflag/util.h"

/* Text parts taken per message; mail with more is rare and the rest is not the author's. */
#define MAX_TEXT_PARTS 8
/* MIME nesting followed in BODYSTRUCTURE. */
#define MAX_DEPTH 12
/*
 * Bytes of bodies one window may bring (estimated from BODYSTRUCTURE sizes). A window's
 * bodies are all held until it is delivered in UID order: this bounds the fetch's memory.
 */
#define WINDOW_MAX_BYTES (4u << 20)
/* Messages per window (and so per body UID FETCH). */
#define WINDOW_MAX_MESSAGES 250
/* Messages planned per imap_fetch() call, whatever max_messages says (≈ 800 bytes each). */
#define PLAN_MAX 1000
/* A header is not in BODYSTRUCTURE; assume this much for the byte budget. */
#define HEADER_ESTIMATE 4096

struct imap_session {
	mailimap *imap;
	char *host;
	unsigned timeout;
	/*
	 * EXISTS at the last EXAMINE. IDLE compares against this, not against the count when
	 * IDLE starts: an EXISTS that arrived during a fetch may announce a message the fetch
	 * did not include.
	 */
	uint32_t examined_exists;
	/* An I/O, parse or TLS error left the stream in an unknown state: no LOGOUT. */
	bool dead;
};

/* One text part to fetch: its section path ("1.2"), or "" for the body of a single part. */
struct part {
	char path[48];
	uint32_t size;
};

/* One message of a batch, as planned from its BODYSTRUCTURE. */
struct planned {
	uint32_t uid;
	uint64_t size;
	bool multipart;
	unsigned n_parts;
	struct part parts[MAX_TEXT_PARTS];
	char layout[MAX_TEXT_PARTS * 48 + 8]; /* the section paths joined: the grouping key */
};

/* ---- errors ---- */

/* libetpan result → negative errno; the only place that knows libetpan's codes. */
static int map_error(int r)
{
	switch (r) {
	case MAILIMAP_ERROR_CONNECTION_REFUSED:
		return -ECONNREFUSED;
	case MAILIMAP_ERROR_STREAM:
	case MAILIMAP_ERROR_BAD_STATE:
		return -ECONNRESET; /* I/O failure or timeout: transient */
	case MAILIMAP_ERROR_LOGIN:
		return -EACCES;
	case MAILIMAP_ERROR_EXAMINE:
	case MAILIMAP_ERROR_SELECT:
		return -ENOENT;
	case MAILIMAP_ERROR_MEMORY:
		return -ENOMEM;
	case MAILIMAP_ERROR_SSL:
	case MAILIMAP_ERROR_PARSE:
	default:
		return -EPROTO;
	}
}

/* Formats "what: server text" for a failed command into err; returns map_error(r). */
static int fail(struct imap_session *s, int r, const char *what, char *err, size_t errlen)
{
	const char *text = s && s->imap && s->imap->imap_response ? s->imap->imap_response : "";

	/* After these the stream is at an unknown point (or gone): LOGOUT would only wait. */
	if (s != NULL && (r == MAILIMAP_ERROR_STREAM || r == MAILIMAP_ERROR_PARSE ||
	                  r == MAILIMAP_ERROR_BAD_STATE || r == MAILIMAP_ERROR_FATAL ||
	                  r == MAILIMAP_ERROR_SSL || r == MAILIMAP_ERROR_PROTOCOL))
		s->dead = true;

	if (r == MAILIMAP_ERROR_STREAM)
		snprintf(err, errlen, "%s: connection lost or timed out", what);
	else if (*text)
		snprintf(err, errlen, "%s: %s", what, text);
	else
		snprintf(err, errlen, "%s: error %d", what, r);
	return map_error(r);
}

/* ---- connecting ---- */

static bool is_ip_literal(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/* TCP connect with a deadline, trying every address of host. Returns an fd or -errno. */
static int tcp_connect(const char *host, unsigned port, unsigned timeout, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL;
	char service[16];
	int fd = -1, r, last = -EHOSTUNREACH;

	snprintf(service, sizeof(service), "%u", port);
	r = getaddrinfo(host, service, &hints, &res);
	if (r != 0) {
		snprintf(err, errlen, "%s: %s", host, gai_strerror(r));
		return r == EAI_AGAIN ? -EAGAIN : -EHOSTUNREACH;
	}
	for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		struct pollfd pfd;
		int soerr = 0, one = 1;
		socklen_t len = sizeof(soerr);

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
		            ai->ai_protocol);
		if (fd < 0) {
			last = -errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
			last = -errno;
			goto next;
		}
		pfd = (struct pollfd){.fd = fd, .events = POLLOUT};
		r = poll(&pfd, 1, (int)timeout * 1000);
		if (r == 0) {
			last = -ETIMEDOUT;
			goto next;
		}
		if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0) {
			last = -errno;
			goto next;
		}
		if (soerr != 0) {
			last = -soerr;
			goto next;
		}
		/* libetpan does its own waiting (bounded by mailimap_set_timeout) on a blocking fd.
		 */
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
		setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		freeaddrinfo(res);
		return fd;
	next:
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	snprintf(err, errlen, "connect to %s:%u: %s", host, port, strerror(-last));
	return last;
}

/* Called by libetpan before the handshake: send SNI (never for IP literals, per RFC 6066). */
static void ssl_setup(struct mailstream_ssl_context *ctx, void *data)
{
	char *host = data;

	if (!is_ip_literal(host))
		mailstream_ssl_set_server_name(ctx, host);
}

/*
 * Verifies the peer chain of a TLS stream. Debian's libetpan checks nothing itself, so this
 * is the only thing standing between the password and a man in the middle.
 */
static int verify_stream(mailstream *stream, const char *host, const char *ca_file, char *err,
                         size_t errlen)
{
	carray *chain = mailstream_get_certificate_chain(stream);
	struct tls_der *der = NULL;
	unsigned n = chain ? carray_count(chain) : 0;
	int r;

	der = xcalloc(n ? n : 1, sizeof(*der));
	for (unsigned i = 0; i < n; i++) {
		MMAPString *c = carray_get(chain, i);

		der[i] = (struct tls_der){(const unsigned char *)c->str, c->len};
	}
	r = tls_verify_chain(der, n, host, ca_file, err, errlen);
	if (r == -EINVAL)
		r = -EPERM;
	for (unsigned i = 0; i < n; i++)
		mmap_string_free(carray_get(chain, i));
	if (chain)
		carray_free(chain);
	free(der);
	return r;
}

static int authenticate(struct imap_session *s, const struct imap_params *p, char *err,
                        size_t errlen)
{
	int r;

	/*
	 * RFC 3501 LOGINDISABLED: the server will not take a password in the clear. Saying so
	 * beats sending it anyway and getting a vaguer refusal.
	 */
	if (p->tls == RF_TLS_NONE && mailimap_has_extension(s->imap, "LOGINDISABLED")) {
		snprintf(err, errlen,
		         "%s:%u: the server refuses passwords without TLS (LOGINDISABLED); "
		         "use imaps:// or STARTTLS",
		         p->host, p->port);
		return -EPROTO;
	}
	/* Mechanism PLAIN goes through Cyrus SASL (libsasl2-modules' libplain at run time). */
	if (p->auth == RF_AUTH_PLAIN)
		r = mailimap_authenticate(s->imap, "PLAIN", NULL, NULL, NULL, p->user, p->user,
		                          p->password, NULL);
	else
		r = mailimap_login(s->imap, p->user, p->password);
	if (r != MAILIMAP_NO_ERROR) {
		fail(s, r, "login refused", err, errlen);
		return r == MAILIMAP_ERROR_STREAM ? -ECONNRESET : -EACCES;
	}
	return 0;
}

int imap_open(const struct imap_params *p, struct imap_session **out, char *err, size_t errlen)
{
	struct imap_session *s = xcalloc(1, sizeof(*s));
	mailstream *stream = NULL;
	int fd = -1, r;

	*out = NULL;
	s->host = xstrdup(p->host);
	s->timeout = p->timeout;
	s->imap = mailimap_new(0, NULL);
	if (s->imap == NULL)
		abort();
	/* Before connecting: it bounds every network wait of the session. */
	mailimap_set_timeout(s->imap, p->timeout);

	fd = tcp_connect(p->host, p->port, p->timeout, err, errlen);
	if (fd < 0) {
		r = fd;
		goto fail;
	}
	if (p->tls == RF_TLS_IMPLICIT) {
		stream =
		    mailstream_ssl_open_with_callback_timeout(fd, p->timeout, ssl_setup, s->host);
		if (stream == NULL) {
			snprintf(err, errlen, "%s:%u: TLS handshake failed", p->host, p->port);
			close(fd);
			r = -EPROTO;
			goto fail;
		}
		r = verify_stream(stream, p->host, p->ca_file, err, errlen);
		if (r < 0) {
			mailstream_close(stream);
			goto fail;
		}
	} else {
		stream = mailstream_socket_open_timeout(fd, p->timeout);
		if (stream == NULL) {
			close(fd);
			snprintf(err, errlen, "%s:%u: cannot open stream", p->host, p->port);
			r = -ENOMEM;
			goto fail;
		}
	}
	fd = -1;

	/* Takes the stream (and closes it on failure). Success is 1 or 2, not 0. */
	r = mailimap_connect(s->imap, stream);
	if (r != MAILIMAP_NO_ERROR_AUTHENTICATED && r != MAILIMAP_NO_ERROR_NON_AUTHENTICATED) {
		r = fail(s, r, "greeting", err, errlen);
		goto fail;
	}

	if (p->tls == RF_TLS_STARTTLS) {
		if (!mailimap_has_extension(s->imap, "STARTTLS")) {
			struct mailimap_capability_data *cap = NULL;

			if (mailimap_capability(s->imap, &cap) == MAILIMAP_NO_ERROR)
				mailimap_capability_data_free(cap);
		}
		if (!mailimap_has_extension(s->imap, "STARTTLS")) {
			snprintf(err, errlen, "%s:%u: server does not offer STARTTLS", p->host,
			         p->port);
			r = -EPROTO;
			goto fail;
		}
		/* Any failure here is fatal: falling back to plaintext is what an attacker wants.
		 */
		r = mailimap_socket_starttls_with_callback(s->imap, ssl_setup, s->host);
		if (r != MAILIMAP_NO_ERROR) {
			fail(s, r, "STARTTLS failed", err, errlen);
			s->dead = true;
			r = -EPROTO;
			goto fail;
		}
		r = verify_stream(s->imap->imap_stream, p->host, p->ca_file, err, errlen);
		if (r < 0) {
			s->dead = true; /* not a word more to an untrusted peer, not even LOGOUT */
			goto fail;
		}
	} else if (p->tls == RF_TLS_NONE) {
		log_warnx("imap: %s:%u: plaintext connection (tls = \"none\")", p->host, p->port);
	}

	/* The pre-TLS capability list may have been forged; and LOGIN may change it. Re-read. */
	if (p->tls != RF_TLS_IMPLICIT) {
		struct mailimap_capability_data *cap = NULL;

		r = mailimap_capability(s->imap, &cap);
		if (r != MAILIMAP_NO_ERROR) {
			r = fail(s, r, "CAPABILITY", err, errlen);
			goto fail;
		}
		mailimap_capability_data_free(cap);
	}

	r = authenticate(s, p, err, errlen);
	if (r < 0)
		goto fail;
	log_trace("imap", "%s:%u: logged in as %s", p->host, p->port, p->user);
	*out = s;
	return 0;
fail:
	imap_close(&s);
	return r;
}

void imap_close(struct imap_session **sp)
{
	struct imap_session *s = *sp;

	if (s == NULL)
		return;
	if (s->imap != NULL) {
		if (!s->dead && s->imap->imap_stream != NULL &&
		    s->imap->imap_state != MAILIMAP_STATE_DISCONNECTED)
			mailimap_logout(s->imap); /* best effort, bounded by the timeout */
		mailimap_free(s->imap);
	}
	free(s->host);
	free(s);
	*sp = NULL;
}

bool imap_has_idle(const struct imap_session *s)
{
	return mailimap_has_idle(s->imap) != 0;
}

int imap_noop(struct imap_session *s, char *err, size_t errlen)
{
	int r = mailimap_noop(s->imap);

	return r == MAILIMAP_NO_ERROR ? 0 : fail(s, r, "NOOP", err, errlen);
}

/* ---- mailboxes ---- */

static bool has_flag(const struct mailimap_mailbox_list *mb, const char *flag)
{
	clistiter *it;

	if (mb->mb_flag == NULL || mb->mb_flag->mbf_oflags == NULL)
		return false;
	for (it = clist_begin(mb->mb_flag->mbf_oflags); it; it = clist_next(it)) {
		struct mailimap_mbx_list_oflag *f = clist_content(it);

		if (f->of_type == MAILIMAP_MBX_LIST_OFLAG_FLAG_EXT && f->of_flag_ext != NULL &&
		    strcasecmp(f->of_flag_ext, flag) == 0)
			return true;
	}
	return false;
}

int imap_find_sent(struct imap_session *s, char **name, char *err, size_t errlen)
{
	static const char *const common[] = {
	    "Sent",  "Sent Items",       "Sent Messages",     "Gesendet", "Gesendete Objekte",
	    "Sendt", "Sendte elementer", "[Gmail]/Sent Mail",
	};
	clist *list = NULL;
	clistiter *it;
	int r;

	*name = NULL;
	r = mailimap_list(s->imap, "", "*", &list);
	if (r != MAILIMAP_NO_ERROR)
		return fail(s, r, "LIST", err, errlen);
	/* SPECIAL-USE (RFC 6154) first: it is the server's own word for it, in any language. */
	for (it = clist_begin(list); it && *name == NULL; it = clist_next(it)) {
		struct mailimap_mailbox_list *mb = clist_content(it);

		if (has_flag(mb, "Sent"))
			*name = xstrdup(mb->mb_name);
	}
	for (size_t i = 0; i < ARRAY_SIZE(common) && *name == NULL; i++) {
		for (it = clist_begin(list); it && *name == NULL; it = clist_next(it)) {
			struct mailimap_mailbox_list *mb = clist_content(it);
			const char *n = mb->mb_name;

			/* Also "INBOX.Sent" / "INBOX/Sent" on servers that nest under INBOX. */
			if (strncasecmp(n, "INBOX", 5) == 0 && mb->mb_delimiter != 0 &&
			    n[5] == mb->mb_delimiter)
				n += 6;
			if (strcasecmp(n, common[i]) == 0)
				*name = xstrdup(mb->mb_name);
		}
	}
	mailimap_list_result_free(list);
	if (*name == NULL) {
		snprintf(err, errlen, "no Sent mailbox found");
		return -ENOENT;
	}
	return 0;
}

int imap_examine(struct imap_session *s, const char *mailbox, struct imap_mailbox *out, char *err,
                 size_t errlen)
{
	struct mailimap_selection_info *si;
	int r;

	r = mailimap_examine(s->imap, mailbox);
	if (r != MAILIMAP_NO_ERROR) {
		char what[300];

		snprintf(what, sizeof(what), "EXAMINE %s", mailbox);
		return fail(s, r, what, err, errlen);
	}
	si = s->imap->imap_selection_info;
	s->examined_exists = si ? si->sel_exists : 0;
	*out = (struct imap_mailbox){
	    .uidvalidity = si ? si->sel_uidvalidity : 0,
	    .uidnext = si ? si->sel_uidnext : 0,
	    .exists = si && si->sel_has_exists ? si->sel_exists : 0,
	};
	return 0;
}

/* ---- planning a fetch from BODYSTRUCTURE ---- */

static bool is_attachment(const struct mailimap_body_ext_1part *ext)
{
	return ext != NULL && ext->bd_disposition != NULL &&
	       strcasecmp(ext->bd_disposition->dsp_type, "attachment") == 0;
}

/* True for a text/<subtype> leaf that is not an attachment. */
static bool is_text_leaf(const struct mailimap_body *body, const char *subtype)
{
	const struct mailimap_body_type_1part *one;

	if (body == NULL || body->bd_type != MAILIMAP_BODY_1PART)
		return false;
	one = body->bd_data.bd_body_1part;
	return one != NULL && one->bd_type == MAILIMAP_BODY_TYPE_1PART_TEXT &&
	       !is_attachment(one->bd_ext_1part) &&
	       strcasecmp(one->bd_data.bd_type_text->bd_media_text, subtype) == 0;
}

static void add_part(struct planned *m, const struct mailimap_body *body, const char *path)
{
	const struct mailimap_body_type_text *text =
	    body->bd_data.bd_body_1part->bd_data.bd_type_text;

	if (m->n_parts >= MAX_TEXT_PARTS)
		return;
	snprintf(m->parts[m->n_parts].path, sizeof(m->parts[0].path), "%s", path);
	m->parts[m->n_parts].size = text->bd_fields ? text->bd_fields->bd_size : 0;
	m->n_parts++;
}

/*
 * Collects the text/plain and text/html leaves of body into m->parts. path is the section
 * of body ("" for the top level). message/rfc822 parts are forwarded mail, not the author's
 * words: skipped, like attachments. Of a multipart/alternative only one rendering is taken
 * (text/plain when there is one): the synthetic message flattens everything into
 * multipart/mixed, where both twins would read as the same text twice.
 */
static void plan_parts(struct planned *m, const struct mailimap_body *body, const char *path,
                       unsigned depth)
{
	if (body == NULL || depth > MAX_DEPTH || m->n_parts >= MAX_TEXT_PARTS)
		return;
	if (body->bd_type == MAILIMAP_BODY_MPART) {
		const struct mailimap_body_type_mpart *mp = body->bd_data.bd_body_mpart;
		bool alternative = mp->bd_media_subtype != NULL &&
		                   strcasecmp(mp->bd_media_subtype, "alternative") == 0;
		char sub[48];
		unsigned i;
		clistiter *it;

		if (alternative) {
			for (it = clist_begin(mp->bd_list), i = 1; it; it = clist_next(it), i++) {
				if (!is_text_leaf(clist_content(it), "plain"))
					continue;
				if (snprintf(sub, sizeof(sub), "%s%s%u", path, *path ? "." : "",
				             i) < (int)sizeof(sub))
					add_part(m, clist_content(it), sub);
				return;
			}
		}
		for (it = clist_begin(mp->bd_list), i = 1; it; it = clist_next(it), i++) {
			unsigned before = m->n_parts;

			if (snprintf(sub, sizeof(sub), "%s%s%u", path, *path ? "." : "", i) >=
			    (int)sizeof(sub))
				return;
			plan_parts(m, clist_content(it), sub, depth + 1);
			/* The first rendering that has text is the one. */
			if (alternative && m->n_parts > before)
				return;
		}
		return;
	}
	if (is_text_leaf(body, "plain") || is_text_leaf(body, "html"))
		add_part(m, body, path);
}

static void plan_message(struct planned *m, const struct mailimap_body *body)
{
	size_t off = 0;

	m->n_parts = 0;
	m->multipart = body != NULL && body->bd_type == MAILIMAP_BODY_MPART;
	if (body == NULL) {
		/* No usable structure: the header and the start of the body, as text. */
		snprintf(m->parts[0].path, sizeof(m->parts[0].path), "%s", "");
		m->parts[0].size = 0;
		m->n_parts = 1;
	} else {
		plan_parts(m, body, "", 0);
	}
	/* Sized for MAX_TEXT_PARTS full paths and separators: snprintf never truncates here. */
	m->layout[0] = '\0';
	for (unsigned i = 0; i < m->n_parts; i++)
		off += (size_t)snprintf(m->layout + off, sizeof(m->layout) - off, "%s%s",
		                        i ? "," : "", m->parts[i].path[0] ? m->parts[i].path : "T");
	if (m->multipart)
		snprintf(m->layout + off, sizeof(m->layout) - off, "%s", "|M");
}

/* Parses "1.2.3" into a section part list. */
static struct mailimap_section_part *section_part(const char *path)
{
	clist *ids = clist_new();

	for (const char *p = path; *p;) {
		uint32_t *n = xmalloc(sizeof(*n));

		*n = (uint32_t)strtoul(p, (char **)&p, 10);
		clist_append(ids, n);
		if (*p == '.')
			p++;
	}
	return mailimap_section_part_new(ids);
}

/* Adds BODY.PEEK items for layout m to the fetch type. */
static void add_fetch_atts(struct mailimap_fetch_type *ft, const struct planned *m,
                           uint64_t max_part)
{
	mailimap_fetch_type_new_fetch_att_list_add(ft, mailimap_fetch_att_new_uid());
	mailimap_fetch_type_new_fetch_att_list_add(
	    ft, mailimap_fetch_att_new_body_peek_section(mailimap_section_new_header()));
	for (unsigned i = 0; i < m->n_parts; i++) {
		const char *path = m->parts[i].path;

		if (!m->multipart) {
			/* A single part: its body is the message's TEXT. */
			mailimap_fetch_type_new_fetch_att_list_add(
			    ft, mailimap_fetch_att_new_body_peek_section_partial(
			            mailimap_section_new_text(), 0, (uint32_t)max_part));
			continue;
		}
		mailimap_fetch_type_new_fetch_att_list_add(
		    ft, mailimap_fetch_att_new_body_peek_section(
		            mailimap_section_new_part_mime(section_part(path))));
		mailimap_fetch_type_new_fetch_att_list_add(
		    ft, mailimap_fetch_att_new_body_peek_section_partial(
		            mailimap_section_new_part(section_part(path)), 0, (uint32_t)max_part));
	}
}

/* The key of a returned section: "HEADER", "TEXT", "1.2" or "1.2.MIME". */
static void section_key(const struct mailimap_section *sec, char *buf, size_t len)
{
	const struct mailimap_section_spec *spec = sec ? sec->sec_spec : NULL;
	size_t off = 0;

	buf[0] = '\0';
	if (spec == NULL)
		return;
	if (spec->sec_type == MAILIMAP_SECTION_SPEC_SECTION_MSGTEXT) {
		int t = spec->sec_data.sec_msgtext->sec_type;

		snprintf(buf, len, "%s",
		         t == MAILIMAP_SECTION_MSGTEXT_HEADER ? "HEADER"
		         : t == MAILIMAP_SECTION_MSGTEXT_TEXT ? "TEXT"
		                                              : "?");
		return;
	}
	for (clistiter *it = clist_begin(spec->sec_data.sec_part->sec_id); it && off < len;
	     it = clist_next(it))
		off += (size_t)snprintf(buf + off, len - off, "%s%u", off ? "." : "",
		                        *(uint32_t *)clist_content(it));
	if (spec->sec_text != NULL && spec->sec_text->sec_type == MAILIMAP_SECTION_TEXT_MIME &&
	    off < len)
		snprintf(buf + off, len - off, ".MIME");
}

/* Finds the body of section key in a message's fetch items; NULL when absent. */
static const struct mailimap_msg_att_body_section *find_section(const struct mailimap_msg_att *att,
                                                                const char *key)
{
	char k[64];

	for (clistiter *it = clist_begin(att->att_list); it; it = clist_next(it)) {
		const struct mailimap_msg_att_item *item = clist_content(it);

		if (item->att_type != MAILIMAP_MSG_ATT_ITEM_STATIC ||
		    item->att_data.att_static->att_type != MAILIMAP_MSG_ATT_BODY_SECTION)
			continue;
		section_key(item->att_data.att_static->att_data.att_body_section->sec_section, k,
		            sizeof(k));
		if (strcmp(k, key) == 0)
			return item->att_data.att_static->att_data.att_body_section;
	}
	return NULL;
}

static uint32_t att_uid(const struct mailimap_msg_att *att)
{
	for (clistiter *it = clist_begin(att->att_list); it; it = clist_next(it)) {
		const struct mailimap_msg_att_item *item = clist_content(it);

		if (item->att_type == MAILIMAP_MSG_ATT_ITEM_STATIC &&
		    item->att_data.att_static->att_type == MAILIMAP_MSG_ATT_UID)
			return item->att_data.att_static->att_data.att_uid;
	}
	return 0;
}

/* Appends a header block, dropping the fields the synthetic multipart replaces. */
static void append_header(struct strbuf *out, const char *h, size_t len, bool replace_mime)
{
	const char *p = h, *end = h + len;
	bool skipping = false;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t n = eol ? (size_t)(eol - p) + 1 : (size_t)(end - p);
		bool cont = *p == ' ' || *p == '\t';

		if (!cont)
			skipping =
			    replace_mime && (str_has_prefix_ci(p, "Content-Type:") ||
			                     str_has_prefix_ci(p, "Content-Transfer-Encoding:"));
		/* The blank line ending the header is written by the caller. */
		if (!skipping && !(n <= 2 && (*p == '\r' || *p == '\n')))
			strbuf_append(out, p, n);
		p += n;
	}
}

/* Builds the synthetic message for m from its fetched items. */
static void assemble(struct strbuf *out, const struct planned *m,
                     const struct mailimap_msg_att *att)
{
	const struct mailimap_msg_att_body_section *hdr = find_section(att, "HEADER");
	char boundary[64];
	uint64_t rnd = 0;

	strbuf_reset(out);
	if (hdr != NULL && hdr->sec_body_part != NULL)
		append_header(out, hdr->sec_body_part, hdr->sec_length, m->multipart);
	if (!m->multipart) {
		const struct mailimap_msg_att_body_section *text = find_section(att, "TEXT");

		strbuf_appends(out, "\r\n");
		if (m->n_parts > 0 && text != NULL && text->sec_body_part != NULL)
			strbuf_append(out, text->sec_body_part, text->sec_length);
		return;
	}
	/*
	 * Random, so that a sender cannot put the boundary into a text part and forge parts;
	 * the header's hash is only the fallback when the kernel has no entropy yet.
	 */
	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd))
		rnd = hash_fnv1a64(out->data ? out->data : "", out->len, (uint64_t)now_ms());
	snprintf(boundary, sizeof(boundary), "=_rf_%u_%016llx", m->uid, (unsigned long long)rnd);
	strbuf_appendf(out, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n", boundary);
	for (unsigned i = 0; i < m->n_parts; i++) {
		char key[64];
		const struct mailimap_msg_att_body_section *mime, *body;

		snprintf(key, sizeof(key), "%s.MIME", m->parts[i].path);
		mime = find_section(att, key);
		body = find_section(att, m->parts[i].path);
		if (mime == NULL || body == NULL || mime->sec_body_part == NULL)
			continue;
		strbuf_appendf(out, "--%s\r\n", boundary);
		append_header(out, mime->sec_body_part, mime->sec_length, false);
		strbuf_appends(out, "\r\n");
		if (body->sec_body_part != NULL)
			strbuf_append(out, body->sec_body_part, body->sec_length);
		strbuf_appends(out, "\r\n");
	}
	strbuf_appendf(out, "--%s--\r\n", boundary);
}

/* ---- fetching ---- */

static int cmp_planned_uid(const void *a, const void *b)
{
	const struct planned *x = a, *y = b;

	return (x->uid > y->uid) - (x->uid < y->uid);
}

static int cmp_planned_ptr_layout(const void *a, const void *b)
{
	const struct planned *x = *(const struct planned *const *)a;
	const struct planned *y = *(const struct planned *const *)b;
	int c = strcmp(x->layout, y->layout);

	return c ? c : cmp_planned_uid(x, y);
}

/* Bytes a message's body fetch is expected to bring, for the window budget. */
static uint64_t estimate(const struct planned *m, uint64_t max_part)
{
	uint64_t est = HEADER_ESTIMATE;

	for (unsigned i = 0; i < m->n_parts; i++) {
		/* No structure (size 0): assume the whole message is the text. */
		uint64_t size = m->parts[i].size ? m->parts[i].size : m->size;

		est += size < max_part ? size : max_part;
	}
	return est;
}

/*
 * Step 1: UID, size and structure of up to max messages with UID >= from, the lowest UIDs
 * first, in ascending order. UIDs are sparse, so windows of UIDs are asked for until enough
 * messages are found or UIDNEXT is reached, which keeps a 100k mailbox from arriving in one
 * response; the last window is open-ended ("n:*") and what servers return below n is
 * dropped.
 */
static int plan_batch(struct imap_session *s, uint32_t from, unsigned max, struct planned **out,
                      size_t *n_out, char *err, size_t errlen)
{
	struct planned *plan = NULL;
	size_t n = 0, cap = 0;
	uint32_t lo = from;
	uint64_t grow = 1; /* widens the window while windows come back empty */
	uint32_t uidnext =
	    s->imap->imap_selection_info ? s->imap->imap_selection_info->sel_uidnext : 0;
	int ret = 0;

	while (n < max) {
		struct mailimap_fetch_type *ft = mailimap_fetch_type_new_fetch_att_list_empty();
		struct mailimap_set *set;
		clist *result = NULL;
		uint64_t want = ((uint64_t)(max - n) * 2 + 16) * grow;
		size_t had = n;
		bool open = uidnext == 0 || (uint64_t)lo + want >= uidnext;
		int r;

		set = open ? mailimap_set_new_interval(lo, 0)
		           : mailimap_set_new_interval(lo, (uint32_t)(lo + want - 1));
		mailimap_fetch_type_new_fetch_att_list_add(ft, mailimap_fetch_att_new_uid());
		mailimap_fetch_type_new_fetch_att_list_add(ft,
		                                           mailimap_fetch_att_new_rfc822_size());
		mailimap_fetch_type_new_fetch_att_list_add(ft,
		                                           mailimap_fetch_att_new_bodystructure());
		r = mailimap_uid_fetch(s->imap, set, ft, &result);
		mailimap_fetch_type_free(ft);
		mailimap_set_free(set);
		if (r != MAILIMAP_NO_ERROR) {
			ret = fail(s, r, "UID FETCH (BODYSTRUCTURE)", err, errlen);
			goto out;
		}
		for (clistiter *it = clist_begin(result); it; it = clist_next(it)) {
			struct mailimap_msg_att *att = clist_content(it);
			const struct mailimap_body *body = NULL;
			struct planned m = {0};

			for (clistiter *i = clist_begin(att->att_list); i; i = clist_next(i)) {
				struct mailimap_msg_att_item *item = clist_content(i);
				struct mailimap_msg_att_static *st;

				if (item->att_type != MAILIMAP_MSG_ATT_ITEM_STATIC)
					continue;
				st = item->att_data.att_static;
				if (st->att_type == MAILIMAP_MSG_ATT_UID)
					m.uid = st->att_data.att_uid;
				else if (st->att_type == MAILIMAP_MSG_ATT_RFC822_SIZE)
					m.size = st->att_data.att_rfc822_size;
				else if (st->att_type == MAILIMAP_MSG_ATT_BODYSTRUCTURE)
					body = st->att_data.att_body;
			}
			/* RFC 3501: "n:*" names the last message even when its UID is below n. */
			if (m.uid < lo || (!open && m.uid > lo + want - 1))
				continue;
			plan_message(&m, body);
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				plan = xreallocarray(plan, cap, sizeof(*plan));
			}
			plan[n++] = m;
		}
		mailimap_fetch_list_free(result);
		/*
		 * Servers answer in sequence order, which is UID order, but nothing forces them
		 * to: sort, and keep the lowest, so the checkpoint never passes a message that
		 * was not delivered.
		 */
		if (n > had)
			qsort(plan + had, n - had, sizeof(*plan), cmp_planned_uid);
		if (n > max)
			n = max;
		if (open)
			break;
		lo = (uint32_t)(lo + want);
		if (n == had && grow < 1024)
			grow *= 4;
	}
out:
	if (ret < 0) {
		free(plan);
		plan = NULL;
		n = 0;
	}
	*out = plan;
	*n_out = n;
	return ret;
}

/*
 * Fetches the bodies of plan[0..n) (one window, UID order) with one UID FETCH per part
 * layout; atts[i] receives plan[i]'s response item (NULL when the message vanished).
 * The response lists go to results[0..*n_results), owned by the caller.
 */
static int fetch_window(struct imap_session *s, struct planned *plan, size_t n, uint64_t max_part,
                        const struct mailimap_msg_att **atts, clist **results, size_t *n_results,
                        char *err, size_t errlen)
{
	struct planned **by_layout = xcalloc(n, sizeof(*by_layout));
	int ret = 0;

	for (size_t i = 0; i < n; i++)
		by_layout[i] = &plan[i];
	qsort(by_layout, n, sizeof(*by_layout), cmp_planned_ptr_layout);
	*n_results = 0;
	for (size_t g = 0; g < n;) {
		struct mailimap_fetch_type *ft = mailimap_fetch_type_new_fetch_att_list_empty();
		struct mailimap_set *set = mailimap_set_new_empty();
		clist *result = NULL;
		size_t end = g;
		int r;

		while (end < n && strcmp(by_layout[end]->layout, by_layout[g]->layout) == 0)
			mailimap_set_add_single(set, by_layout[end++]->uid);
		add_fetch_atts(ft, by_layout[g], max_part);
		r = mailimap_uid_fetch(s->imap, set, ft, &result);
		mailimap_fetch_type_free(ft);
		mailimap_set_free(set);
		if (r != MAILIMAP_NO_ERROR) {
			ret = fail(s, r, "UID FETCH (BODY.PEEK)", err, errlen);
			goto out;
		}
		results[(*n_results)++] = result;
		for (clistiter *it = clist_begin(result); it; it = clist_next(it)) {
			const struct mailimap_msg_att *att = clist_content(it);
			struct planned key = {.uid = att_uid(att)};
			struct planned *m = bsearch(&key, plan, n, sizeof(*plan), cmp_planned_uid);

			/*
			 * Only answers to this group's layout count: a server may add unsolicited
			 * FETCH responses (flag changes) for other messages.
			 */
			if (m != NULL && strcmp(m->layout, by_layout[g]->layout) == 0 &&
			    atts[m - plan] == NULL)
				atts[m - plan] = att;
		}
		g = end;
	}
out:
	free(by_layout);
	return ret;
}

int imap_fetch(struct imap_session *s, uint32_t from_uid, unsigned max_messages,
               uint64_t max_part_bytes, imap_message_fn fn, void *arg, uint32_t *last_uid,
               char *err, size_t errlen)
{
	struct planned *plan = NULL;
	const struct mailimap_msg_att **atts = NULL;
	clist **results = NULL;
	size_t n_results = 0;
	struct strbuf raw = STRBUF_INIT;
	size_t n = 0, delivered = 0;
	int ret;

	if (from_uid == 0)
		from_uid = 1;
	if (max_messages > PLAN_MAX)
		max_messages = PLAN_MAX; /* the caller loops until nothing is covered */
	if (max_part_bytes == 0 || max_part_bytes > UINT32_MAX)
		max_part_bytes = UINT32_MAX; /* IMAP partial lengths are 32-bit */
	ret = plan_batch(s, from_uid, max_messages, &plan, &n, err, errlen);
	if (ret < 0)
		return ret;
	atts = xcalloc(WINDOW_MAX_MESSAGES, sizeof(*atts));
	results = xcalloc(WINDOW_MAX_MESSAGES, sizeof(*results));

	/*
	 * Step 2: bodies, window by window in UID order. Inside a window, messages with the
	 * same part layout share one UID FETCH; the window's answers are held (bounded by
	 * WINDOW_MAX_BYTES) so that delivery is in ascending UID order, then freed.
	 */
	for (size_t w = 0; w < n;) {
		uint64_t bytes = 0;
		size_t end = w;

		while (end < n && end - w < WINDOW_MAX_MESSAGES) {
			uint64_t est = estimate(&plan[end], max_part_bytes);

			if (end > w && bytes + est > WINDOW_MAX_BYTES)
				break;
			bytes += est;
			end++;
		}
		memset(atts, 0, WINDOW_MAX_MESSAGES * sizeof(*atts));
		ret = fetch_window(s, plan + w, end - w, max_part_bytes, atts, results, &n_results,
		                   err, errlen);
		for (size_t i = w; i < end && ret == 0; i++) {
			/* Not in the answer: expunged meanwhile, and gone for good. */
			if (atts[i - w] == NULL)
				continue;
			assemble(&raw, &plan[i], atts[i - w]);
			ret = fn(arg, plan[i].uid, raw.data ? raw.data : "", raw.len, plan[i].size);
			if (ret == 0)
				delivered++;
		}
		for (size_t i = 0; i < n_results; i++)
			mailimap_fetch_list_free(results[i]);
		n_results = 0;
		if (ret != 0)
			goto out;
		/* A large message must not keep its buffer for the rest of the run. */
		if (raw.cap > (1u << 20))
			strbuf_release(&raw);
		w = end;
	}
	/* Messages planned but not returned were expunged: the checkpoint may pass them. */
	if (n > 0)
		*last_uid = plan[n - 1].uid;
	ret = (int)delivered;
out:
	strbuf_release(&raw);
	free(results);
	free(atts);
	free(plan);
	return ret;
}

/* ---- one header field ---- */

/* UIDs asked for per UID FETCH of imap_fetch_header(). */
#define HEADER_WINDOW 1000
/* Bytes of a header field's value handed on; a Message-ID is far below it. */
#define HEADER_VALUE_MAX 4096

int imap_delimiter(struct imap_session *s, char *delim, char *err, size_t errlen)
{
	clist *list = NULL;
	int r;

	*delim = 0;
	/* RFC 3501 6.3.8: an empty mailbox name asks for the delimiter and the root. */
	r = mailimap_list(s->imap, "", "", &list);
	if (r != MAILIMAP_NO_ERROR)
		return fail(s, r, "LIST", err, errlen);
	if (clist_begin(list) != NULL)
		*delim = ((struct mailimap_mailbox_list *)clist_content(clist_begin(list)))
		             ->mb_delimiter;
	mailimap_list_result_free(list);
	return 0;
}

/* The value of field in a fetched header block, unfolded and trimmed (in out's buffer). */
static const char *header_value(const char *h, size_t len, const char *field, struct strbuf *out)
{
	const char *p = h, *end = h + len;
	size_t flen = strlen(field);
	bool in = false, found = false;

	strbuf_reset(out);
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *next = eol ? eol + 1 : end, *q = p;
		size_t n = (size_t)((eol ? eol : end) - p);

		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n > 0 && (*p == ' ' || *p == '\t')) {
			if (in)
				strbuf_appendc(out, ' ');
		} else {
			in = false;
			if (!found && n > flen && strncasecmp(p, field, flen) == 0) {
				for (q = p + flen; q < p + n && (*q == ' ' || *q == '\t'); q++)
					;
				in = found = q < p + n && *q == ':';
				q++;
			}
		}
		if (in && q < p + n && out->len < HEADER_VALUE_MAX) {
			size_t k = (size_t)(p + n - q);

			strbuf_append(
			    out, q,
			    k < HEADER_VALUE_MAX - out->len ? k : HEADER_VALUE_MAX - out->len);
		}
		p = next;
	}
	strbuf_append(out, "", 0); /* data is a string even when nothing was found */
	return str_trim(out->data);
}

/* The first body section of a fetched message (the only one asked for). */
static const struct mailimap_msg_att_body_section *first_section(const struct mailimap_msg_att *att)
{
	for (clistiter *it = clist_begin(att->att_list); it; it = clist_next(it)) {
		const struct mailimap_msg_att_item *item = clist_content(it);

		if (item->att_type == MAILIMAP_MSG_ATT_ITEM_STATIC &&
		    item->att_data.att_static->att_type == MAILIMAP_MSG_ATT_BODY_SECTION)
			return item->att_data.att_static->att_data.att_body_section;
	}
	return NULL;
}

struct header_item {
	uint32_t uid;
	const struct mailimap_msg_att *att;
};

static int cmp_header_item(const void *a, const void *b)
{
	const struct header_item *x = a, *y = b;

	return (x->uid > y->uid) - (x->uid < y->uid);
}

int imap_fetch_header(struct imap_session *s, uint32_t from_uid, const char *field,
                      imap_header_fn fn, void *arg, uint32_t *last_uid, char *err, size_t errlen)
{
	uint32_t uidnext =
	    s->imap->imap_selection_info ? s->imap->imap_selection_info->sel_uidnext : 0;
	bool open;
	struct mailimap_fetch_type *ft = mailimap_fetch_type_new_fetch_att_list_empty();
	struct mailimap_set *set;
	clist *fields = clist_new(), *result = NULL;
	struct header_item *items = NULL;
	struct strbuf value = STRBUF_INIT;
	size_t n = 0, cap = 0;
	int r, ret = 0;

	if (from_uid == 0)
		from_uid = 1;
	open = uidnext == 0 || (uint64_t)from_uid + HEADER_WINDOW >= uidnext;
	set = open ? mailimap_set_new_interval(from_uid, 0)
	           : mailimap_set_new_interval(from_uid, from_uid + HEADER_WINDOW - 1);
	clist_append(fields, xstrdup(field));
	mailimap_fetch_type_new_fetch_att_list_add(ft, mailimap_fetch_att_new_uid());
	mailimap_fetch_type_new_fetch_att_list_add(
	    ft, mailimap_fetch_att_new_body_peek_section(
	            mailimap_section_new_header_fields(mailimap_header_list_new(fields))));
	r = mailimap_uid_fetch(s->imap, set, ft, &result);
	mailimap_fetch_type_free(ft);
	mailimap_set_free(set);
	if (r != MAILIMAP_NO_ERROR)
		return fail(s, r, "UID FETCH (HEADER.FIELDS)", err, errlen);
	for (clistiter *it = clist_begin(result); it; it = clist_next(it)) {
		struct header_item h = {att_uid(clist_content(it)), clist_content(it)};

		/* RFC 3501: "n:*" names the last message even when its UID is below n. */
		if (h.uid < from_uid || (!open && h.uid >= from_uid + HEADER_WINDOW))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			items = xreallocarray(items, cap, sizeof(*items));
		}
		items[n++] = h;
	}
	if (n > 0)
		qsort(items, n, sizeof(*items), cmp_header_item);
	for (size_t i = 0; i < n && ret == 0; i++) {
		const struct mailimap_msg_att_body_section *sec = first_section(items[i].att);

		const char *v =
		    sec != NULL && sec->sec_body_part != NULL
		        ? header_value(sec->sec_body_part, sec->sec_length, field, &value)
		        : "";

		ret = fn(arg, items[i].uid, v);
		if (ret == 0)
			*last_uid = items[i].uid;
	}
	/* A closed window is covered to its end even where its UIDs are gaps. */
	if (ret == 0 && !open)
		*last_uid = from_uid + HEADER_WINDOW - 1;
	if (ret == 0)
		ret = (int)n;
	strbuf_release(&value);
	free(items);
	mailimap_fetch_list_free(result);
	return ret;
}

/* ---- IDLE ---- */

int imap_idle(struct imap_session *s, int timeout_ms, int wake_fd, char *err, size_t errlen)
{
	struct mailimap_selection_info *si = s->imap->imap_selection_info;
	uint32_t before = s->examined_exists;
	int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	int result = 0, r;

	if (si != NULL && si->sel_exists != before)
		return 1;
	for (;;) {
		struct pollfd pfd[2];
		int64_t left = deadline - now_ms();
		int nfd = 1;

		if (left <= 0)
			return result;
		r = mailimap_idle(s->imap);
		if (r != MAILIMAP_NO_ERROR)
			return fail(s, r, "IDLE", err, errlen);
		pfd[0] = (struct pollfd){.fd = mailimap_idle_get_fd(s->imap), .events = POLLIN};
		if (wake_fd >= 0)
			pfd[nfd++] = (struct pollfd){.fd = wake_fd, .events = POLLIN};
		/* libetpan may already hold the server's next response in its buffer. */
		if (s->imap->imap_stream->read_buffer_len == 0) {
			r = poll(pfd, (nfds_t)nfd, (int)left);
			if (r < 0 && errno != EINTR) {
				snprintf(err, errlen, "poll: %s", strerror(errno));
				return -errno;
			}
			if (nfd > 1 && (pfd[1].revents & POLLIN))
				result = 2;
		}
		/* DONE reads every untagged response sent during IDLE (EXISTS, EXPUNGE, OK). */
		r = mailimap_idle_done(s->imap);
		if (r != MAILIMAP_NO_ERROR)
			return fail(s, r, "IDLE DONE", err, errlen);
		si = s->imap->imap_selection_info;
		if (si != NULL && si->sel_exists != before)
			return 1;
		if (result == 2)
			return 2;
		/* Only a keep-alive ("* OK Still here"): keep idling until the deadline. */
	}
}
