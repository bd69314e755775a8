/*
 * parser — message_parse() in a forked worker (see parser.h).
 *
 * Protocol over a SOCK_STREAM socketpair, integers little-endian:
 *   request:  u32 length, raw message bytes
 *   response: i32 status (0 or -errno), u32 length, payload (serialised message or error text)
 * The worker reads a whole request before it writes anything, and the parent writes the
 * whole request before it reads, so neither side can block the other forever; the parent
 * still polls every step against the per-message deadline, so a worker stuck in a loop
 * costs one timeout, not a hung daemon.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "redflag/parser.h"

/* Buffers above this are released after use so the daemon's RSS stays small. */
#define KEEP_BUFFER_BYTES (256 * 1024)

struct parser {
	struct parser_options opt;
	pid_t pid; /* -1: no worker (start one lazily) */
	int fd;    /* parent's end of the socketpair, -1 when none */
	struct strbuf rbuf;
};

/* ---------------------------------------------------------------- worker side */

static int full_read(int fd, void *p, size_t n)
{
	char *c = p;

	while (n > 0) {
		ssize_t r = read(fd, c, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		c += r;
		n -= (size_t)r;
	}
	return 0;
}

static int full_write(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t r = send(fd, c, n, MSG_NOSIGNAL);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		c += r;
		n -= (size_t)r;
	}
	return 0;
}

static void le32(unsigned char *b, uint32_t v)
{
	b[0] = (unsigned char)v;
	b[1] = (unsigned char)(v >> 8);
	b[2] = (unsigned char)(v >> 16);
	b[3] = (unsigned char)(v >> 24);
}

static uint32_t rd32(const unsigned char *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static void close_other_fds(int keep)
{
	/*
	 * The worker must not hold the daemon's database, IMAP socket or log files in any
	 * useful way: everything above stderr goes except our socket.
	 */
	if (keep > 3)
		syscall(SYS_close_range, 3u, (unsigned)keep - 1, 0u);
	if (syscall(SYS_close_range, (unsigned)keep + 1, ~0u, 0u) != 0) {
		long max = sysconf(_SC_OPEN_MAX);

		for (long fd = 3; fd < (max > 0 && max < 65536 ? max : 65536); fd++)
			if (fd != keep)
				close((int)fd);
	}
}

/* The worker's main loop. Never returns; _exit() because this is a forked copy of the daemon. */
static void worker_main(int fd, pid_t parent, const struct parser_options *opt)
{
	struct rlimit rl;
	struct strbuf in = STRBUF_INIT, out = STRBUF_INIT;
	sigset_t none;

	/* Die with the parent, including a parent killed with -9 before prctl() ran. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);
	/* The daemon blocks signals for its signalfd; a worker wants the defaults. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	close_other_fds(fd);
	rl.rlim_cur = rl.rlim_max = 0;
	setrlimit(RLIMIT_CORE, &rl);
#if !defined(__SANITIZE_ADDRESS__)
	/* (AddressSanitizer reserves terabytes of address space: no limit in such builds.) */
	if (opt->memory_limit > 0) {
		rl.rlim_cur = rl.rlim_max = opt->memory_limit;
		setrlimit(RLIMIT_AS, &rl);
	}
#endif
	for (;;) {
		unsigned char hdr[8];
		uint32_t n;
		struct message *m = NULL;
		char err[256] = "";
		int r;

		if (full_read(fd, hdr, 4) != 0)
			_exit(0); /* parent closed: done */
		n = rd32(hdr);
		if (n > opt->max_input)
			_exit(2);
		strbuf_reset(&in);
		strbuf_append(&in, NULL, 0);
		/* Grow to n without touching the bytes twice. */
		if (in.cap < (size_t)n + 1) {
			strbuf_release(&in);
			in.data = xmalloc((size_t)n + 1);
			in.cap = (size_t)n + 1;
		}
		if (full_read(fd, in.data, n) != 0)
			_exit(0);
		in.len = n;
		in.data[n] = '\0';
		r = message_parse(in.data, n, &opt->limits, &m, err, sizeof(err));
		strbuf_reset(&out);
		strbuf_append(&out, hdr, 8); /* room for status and length */
		if (r == 0)
			message_serialize(m, &out);
		else
			strbuf_appends(&out, err);
		message_free(&m);
		le32((unsigned char *)out.data, (uint32_t)r);
		le32((unsigned char *)out.data + 4, (uint32_t)(out.len - 8));
		if (full_write(fd, out.data, out.len) != 0)
			_exit(0);
		if (in.cap > KEEP_BUFFER_BYTES)
			strbuf_release(&in);
		if (out.cap > KEEP_BUFFER_BYTES)
			strbuf_release(&out);
	}
}

/* ---------------------------------------------------------------- parent side */

static int worker_start(struct parser *p)
{
	int sv[2];
	pid_t parent = getpid(), pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int e = errno;

		close(sv[0]);
		close(sv[1]);
		return -e;
	}
	if (pid == 0) {
		close(sv[0]);
		worker_main(sv[1], parent, &p->opt);
		_exit(0);
	}
	close(sv[1]);
	/* Non-blocking so every wait goes through poll() and its deadline. */
	fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
	p->fd = sv[0];
	p->pid = pid;
	return 0;
}

/* Kills and reaps the worker; returns its wait status (or -1). */
static int worker_stop(struct parser *p)
{
	int status = -1;

	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	if (p->pid > 0) {
		kill(p->pid, SIGKILL);
		while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	p->pid = -1;
	return status;
}

/* The worker died (EOF or write error): reap it and say how. */
static void worker_died(struct parser *p, char *err, size_t errlen)
{
	int status = -1;

	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	if (p->pid > 0) {
		/* It closed the socket by dying, or is about to: make sure, then reap. */
		pid_t r;

		while ((r = waitpid(p->pid, &status, WNOHANG)) < 0 && errno == EINTR)
			;
		if (r == 0) {
			struct pollfd none;

			/* Give a dying process a moment to finish dying before we force it. */
			for (int i = 0; i < 20 && r == 0; i++) {
				poll(&none, 0, 5);
				r = waitpid(p->pid, &status, WNOHANG);
			}
			if (r == 0) {
				kill(p->pid, SIGKILL);
				while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR)
					;
			}
		}
	}
	p->pid = -1;
	if (status != -1 && WIFSIGNALED(status))
		snprintf(err, errlen, "parser crashed: signal %d", WTERMSIG(status));
	else if (status != -1 && WIFEXITED(status))
		snprintf(err, errlen, "parser crashed: exit status %d", WEXITSTATUS(status));
	else
		snprintf(err, errlen, "parser crashed");
}

static int ms_left(int64_t deadline)
{
	int64_t left = deadline - now_ms();

	return left < 0 ? 0 : (int)left;
}

/* 0: done; -ETIMEDOUT; -EPIPE: the worker is gone. */
static int send_all(struct parser *p, const void *a, size_t an, const void *b, size_t bn,
                    int64_t deadline)
{
	while (an + bn > 0) {
		struct iovec iov[2] = {{(void *)a, an}, {(void *)b, bn}};
		struct msghdr mh = {0};
		struct pollfd pfd = {p->fd, POLLOUT, 0};
		ssize_t r;
		size_t k;

		mh.msg_iov = an ? iov : iov + 1;
		mh.msg_iovlen = an ? 2 : 1;
		r = sendmsg(p->fd, &mh, MSG_NOSIGNAL);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int pr = poll(&pfd, 1, ms_left(deadline));

			if (pr == 0)
				return -ETIMEDOUT;
			if (pr < 0 && errno != EINTR)
				return -EPIPE;
			continue;
		}
		if (r <= 0)
			return -EPIPE;
		k = (size_t)r;
		if (k >= an) {
			k -= an;
			an = 0;
			b = (const char *)b + k;
			bn -= k;
		} else {
			a = (const char *)a + k;
			an -= k;
		}
	}
	return 0;
}

/* Reads exactly n bytes into buf; 0, -ETIMEDOUT or -EPIPE (EOF: the worker died). */
static int recv_all(struct parser *p, void *buf, size_t n, int64_t deadline)
{
	char *c = buf;

	while (n > 0) {
		struct pollfd pfd = {p->fd, POLLIN, 0};
		ssize_t r = read(p->fd, c, n);

		if (r > 0) {
			c += r;
			n -= (size_t)r;
			continue;
		}
		if (r == 0)
			return -EPIPE;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -EPIPE;
		r = poll(&pfd, 1, ms_left(deadline));
		if (r == 0)
			return -ETIMEDOUT;
		if (r < 0 && errno != EINTR)
			return -EPIPE;
	}
	return 0;
}

int parser_new(const struct parser_options *opt, struct parser **out)
{
	static const struct parser_options def = PARSER_OPTIONS_DEFAULT;
	struct parser *p = xcalloc(1, sizeof(*p));
	int r;

	p->opt = opt ? *opt : def;
	if (p->opt.timeout_ms == 0)
		p->opt.timeout_ms = def.timeout_ms;
	if (p->opt.max_input == 0 || p->opt.max_input > UINT32_MAX - 1)
		p->opt.max_input = def.max_input;
	p->fd = -1;
	p->pid = -1;
	r = worker_start(p);
	if (r < 0) {
		free(p);
		*out = NULL;
		return r;
	}
	*out = p;
	return 0;
}

int parser_parse(struct parser *p, const char *raw, size_t len, struct message **out, char *err,
                 size_t errlen)
{
	unsigned char hdr[8];
	uint32_t status = 0, n = 0;
	/* The response can hold at most the parsed text plus headers; more is a broken worker. */
	size_t max_resp = p->opt.max_input + 2 * p->opt.limits.max_text_bytes + (1u << 20);
	int64_t deadline;
	int r;

	*out = NULL;
	if (len > p->opt.max_input) {
		snprintf(err, errlen, "message of %zu bytes is over the %zu-byte limit", len,
		         p->opt.max_input);
		return -E2BIG;
	}
	if (p->pid < 0) {
		r = worker_start(p);
		if (r < 0) {
			snprintf(err, errlen, "cannot start parser: %s", strerror(-r));
			return r;
		}
	}
	deadline = now_ms() + p->opt.timeout_ms;
	le32(hdr, (uint32_t)len);
	r = send_all(p, hdr, 4, raw, len, deadline);
	if (r == 0)
		r = recv_all(p, hdr, 8, deadline);
	if (r == 0) {
		status = rd32(hdr);
		n = rd32(hdr + 4);
		if (n > max_resp) {
			worker_stop(p);
			snprintf(err, errlen, "parser sent a malformed response");
			return -EBADMSG;
		}
		strbuf_reset(&p->rbuf);
		strbuf_append(&p->rbuf, NULL, 0);
		if (p->rbuf.cap < (size_t)n + 1) {
			strbuf_release(&p->rbuf);
			p->rbuf.data = xmalloc((size_t)n + 1);
			p->rbuf.cap = (size_t)n + 1;
		}
		r = recv_all(p, p->rbuf.data, n, deadline);
		p->rbuf.len = r == 0 ? n : 0;
		p->rbuf.data[p->rbuf.len] = '\0';
	}
	if (r == -ETIMEDOUT) {
		worker_stop(p);
		snprintf(err, errlen, "parser timed out after %u ms", p->opt.timeout_ms);
		r = -EBADMSG;
		goto out;
	}
	if (r < 0) {
		worker_died(p, err, errlen);
		r = -EBADMSG;
		goto out;
	}
	if (status != 0) {
		/* The worker's own verdict (not a message): its error text is the payload. */
		snprintf(err, errlen, "%.*s", (int)(n < 255 ? n : 255), p->rbuf.data);
		r = (int32_t)status < 0 ? (int)(int32_t)status : -EBADMSG;
		goto out;
	}
	r = message_deserialize(p->rbuf.data, n, out);
	if (r < 0) {
		/* A worker that speaks garbage cannot be trusted with the next message. */
		worker_stop(p);
		snprintf(err, errlen, "parser sent a malformed result");
		r = -EBADMSG;
	}
out:
	/* One huge message must not pin its buffer in the daemon for the rest of the run. */
	if (p->rbuf.cap > KEEP_BUFFER_BYTES)
		strbuf_release(&p->rbuf);
	return r;
}

void parser_free(struct parser **pp)
{
	if (pp == NULL || *pp == NULL)
		return;
	worker_stop(*pp);
	strbuf_release(&(*pp)->rbuf);
	free(*pp);
	*pp = NULL;
}
