/*
 * parser: message_parse() in the isolated worker — round trip, the known libetpan crasher,
 * restart after a crash, size limit, garbage, a timeout, and the torture corpus when present.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "redflag/parser.h"
#include "redflag/util.h"

#define CORPUS "../shared/corpus/"

static const char normal_msg[] = "Message-ID: <n1@x.dk>\r\n"
                                 "From: Jane Doe <jane@acme.com>\r\n"
                                 "To: me@studio.dk\r\n"
                                 "Subject: =?utf-8?Q?Gr=C3=BC=C3=9Fe?=\r\n"
                                 "Date: Mon, 3 Mar 2025 10:12:00 +0100\r\n"
                                 "\r\n"
                                 "Can you do it by tomorrow?\r\n\r\n"
                                 "On Sun, 2 Mar 2025 at 09:00, Me <me@studio.dk> wrote:\r\n"
                                 "> Sure.\r\n";

/* libetpan 1.9.4 segfaults in mailmime_parse() on this boundary (LIBS.md). */
static const char crasher_msg[] = "From: evil@x.dk\r\n"
                                  "Subject: boom\r\n"
                                  "Content-Type: multipart/mixed; boundary=\"\\\"\"\r\n"
                                  "\r\n"
                                  "--\"\r\n"
                                  "Content-Type: text/plain\r\n\r\n"
                                  "hello\r\n"
                                  "--\"--\r\n";

static void check_normal(struct parser *p)
{
	struct message *m = NULL;
	char err[256] = "";

	assert_int_equal(parser_parse(p, normal_msg, strlen(normal_msg), &m, err, sizeof(err)), 0);
	assert_non_null(m);
	assert_string_equal(m->message_id, "n1@x.dk");
	assert_string_equal(m->subject, "Grüße");
	assert_string_equal(m->from.addr, "jane@acme.com");
	assert_int_equal(m->n_rcpt, 1);
	assert_int_equal(m->date, 1740993120);
	assert_string_equal(m->text, "Can you do it by tomorrow?");
	message_free(&m);
}

static void test_round_trip(void **state)
{
	struct parser *p = NULL;

	(void)state;
	assert_int_equal(parser_new(NULL, &p), 0);
	for (int i = 0; i < 50; i++)
		check_normal(p);
	parser_free(&p);
	assert_null(p);
	parser_free(&p); /* NULL is fine */
}

static void test_crash_and_restart(void **state)
{
	struct parser *p = NULL;
	struct message *m = NULL;
	char err[256] = "";

	(void)state;
	assert_int_equal(parser_new(NULL, &p), 0);
	check_normal(p);
	for (int round = 0; round < 3; round++) {
		int r = parser_parse(p, crasher_msg, strlen(crasher_msg), &m, err, sizeof(err));

		assert_int_equal(r, -EBADMSG);
		assert_null(m);
		print_message("crasher: %s\n", err);
		assert_non_null(strstr(err, "parser crashed"));
		/* The next message parses in a fresh worker. */
		check_normal(p);
	}
	parser_free(&p);
}

static void test_limits_and_garbage(void **state)
{
	struct parser_options opt = PARSER_OPTIONS_DEFAULT;
	struct parser *p = NULL;
	struct message *m = NULL;
	char err[256] = "";
	size_t big = 200000;
	char *buf = xmalloc(big);
	uint64_t x = 0x9E3779B97F4A7C15ULL;
	int r;

	(void)state;
	opt.max_input = 100000;
	assert_int_equal(parser_new(&opt, &p), 0);
	memset(buf, 'a', big);
	assert_int_equal(parser_parse(p, buf, big, &m, err, sizeof(err)), -E2BIG);
	assert_null(m);
	assert_true(err[0] != '\0');
	/* Random binary: either "not a message" or some parse; never a dead daemon. */
	for (size_t i = 0; i < 90000; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		buf[i] = (char)x;
	}
	r = parser_parse(p, buf, 90000, &m, err, sizeof(err));
	assert_true(r == 0 || r == -EBADMSG);
	message_free(&m);
	/* Just under the limit and well-formed: parses, headers and a large body. */
	memcpy(buf, "From: a@b.dk\r\nSubject: big\r\n\r\n", 30);
	memset(buf + 30, 'x', 99970);
	for (size_t i = 100; i < 100000; i += 80)
		buf[i] = '\n';
	assert_int_equal(parser_parse(p, buf, 100000, &m, err, sizeof(err)), 0);
	assert_string_equal(m->subject, "big");
	assert_true(strlen(m->body) > 90000);
	message_free(&m);
	check_normal(p);
	/* An empty input is not a message. */
	assert_int_equal(parser_parse(p, "", 0, &m, err, sizeof(err)), -EBADMSG);
	check_normal(p);
	parser_free(&p);
	free(buf);
}

/* A worker held over its memory limit dies; the parser reports it and carries on. */
static void test_memory_limit(void **state)
{
	struct parser_options opt = PARSER_OPTIONS_DEFAULT;
	struct parser *p = NULL;
	struct message *m = NULL;
	char err[256] = "";
	static const char head[] = "From: a@b.dk\r\nContent-Type: text/plain\r\n\r\n";
	size_t n = 40u << 20;
	char *buf;
	int r;

	(void)state;
#if defined(__SANITIZE_ADDRESS__)
	skip(); /* the worker runs without RLIMIT_AS under ASan */
#endif
	/* Valgrind's own mappings count against RLIMIT_AS: a small limit kills any worker. */
	if (getenv("LD_PRELOAD") != NULL && strstr(getenv("LD_PRELOAD"), "vgpreload") != NULL)
		skip();
	opt.memory_limit = 64u << 20;
	assert_int_equal(parser_new(&opt, &p), 0);
	/* 40 MiB of input needs more than 64 MiB of address space once copied and decoded. */
	buf = xmalloc(n);
	memcpy(buf, head, sizeof(head) - 1);
	memset(buf + sizeof(head) - 1, 'y', n - (sizeof(head) - 1));
	r = parser_parse(p, buf, n, &m, err, sizeof(err));
	print_message("40 MiB under a 64 MiB limit: %d %s\n", r, r ? err : "parsed");
	assert_true(r == 0 || r == -EBADMSG);
	message_free(&m);
	free(buf);
	check_normal(p);
	parser_free(&p);
}

/*
 * The per-message time limit: a 1 ms budget for 16 MiB of HTML cannot be met (the copy
 * alone takes longer), so the worker is killed, the message reported, the next one fine.
 */
static void test_timeout(void **state)
{
	struct parser_options opt = PARSER_OPTIONS_DEFAULT;
	struct parser *p = NULL;
	struct message *m = NULL;
	char err[256] = "";
	static const char head[] = "From: a@b.dk\r\nContent-Type: text/html\r\n\r\n";
	size_t n = 16u << 20;
	char *buf = xmalloc(n);
	int r;

	(void)state;
	opt.timeout_ms = 1;
	assert_int_equal(parser_new(&opt, &p), 0);
	memcpy(buf, head, sizeof(head) - 1);
	for (size_t i = sizeof(head) - 1; i < n; i++)
		buf[i] = "<p>a&amp;b</p>"[i % 14];
	r = parser_parse(p, buf, n, &m, err, sizeof(err));
	assert_int_equal(r, -EBADMSG);
	assert_null(m);
	assert_string_equal(err, "parser timed out after 1 ms");
	free(buf);
	parser_free(&p);
	/* A normal budget again: the same parser type works. */
	assert_int_equal(parser_new(NULL, &p), 0);
	check_normal(p);
	parser_free(&p);
}

static char *slurp(const char *path, size_t *len)
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

/* Runs every file of dir through p; returns how many there were. */
static size_t run_dir(struct parser *p, const char *dir, size_t *ok, size_t *bad, size_t *crashed,
                      size_t *bytes, int64_t *ms)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;
	int64_t t0 = now_ms();

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		char path[1024];
		struct message *m = NULL;
		char err[256] = "";
		size_t len;
		char *raw;
		int r;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		raw = slurp(path, &len);
		if (raw == NULL)
			continue;
		n++;
		*bytes += len;
		r = parser_parse(p, raw, len, &m, err, sizeof(err));
		if (r != 0 && r != -EBADMSG && r != -E2BIG)
			print_error("%s: unexpected %d %s\n", e->d_name, r, err);
		assert_true(r == 0 || r == -EBADMSG || r == -E2BIG);
		if (r == 0) {
			assert_non_null(m);
			(*ok)++;
		} else {
			(*bad)++;
			if (strstr(err, "crashed") || strstr(err, "timed out")) {
				(*crashed)++;
				print_message("  %s: %s\n", e->d_name, err);
			}
		}
		message_free(&m);
		free(raw);
	}
	closedir(d);
	*ms = now_ms() - t0;
	return n;
}

static void test_torture_corpus(void **state)
{
	struct parser_options opt = PARSER_OPTIONS_DEFAULT;
	struct parser *p = NULL;
	size_t ok = 0, bad = 0, crashed = 0, bytes = 0, n;
	int64_t ms = 0;
	struct stat st;

	(void)state;
	if (stat(CORPUS "torture/messages", &st) != 0) {
		print_message("torture corpus absent: skipped\n");
		skip();
	}
	opt.timeout_ms = 5000;
	assert_int_equal(parser_new(&opt, &p), 0);
	n = run_dir(p, CORPUS "torture/messages", &ok, &bad, &crashed, &bytes, &ms);
	print_message("torture: %zu messages, %zu parsed, %zu rejected, %zu crashed or timed out "
	              "the worker (%lld ms)\n",
	              n, ok, bad, crashed, (long long)ms);
	assert_true(n > 0);
	check_normal(p);
	parser_free(&p);
}

static void test_enron_throughput(void **state)
{
	struct parser *p = NULL;
	size_t ok = 0, bad = 0, crashed = 0, bytes = 0, n;
	int64_t ms = 0;
	struct stat st;

	(void)state;
	if (stat(CORPUS "enron/messages", &st) != 0) {
		print_message("enron corpus absent: skipped\n");
		skip();
	}
	assert_int_equal(parser_new(NULL, &p), 0);
	n = run_dir(p, CORPUS "enron/messages", &ok, &bad, &crashed, &bytes, &ms);
	/* Measured, not asserted: timing depends on the machine. */
	print_message("enron: %zu messages (%zu KB), %zu parsed, %zu rejected, %lld ms, %.0f "
	              "msgs/s (file reads included)\n",
	              n, bytes / 1024, ok, bad, (long long)ms, ms > 0 ? n * 1000.0 / ms : 0.0);
	assert_int_equal(crashed, 0);
	assert_true(ok > 0);
	parser_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_crash_and_restart),
	    cmocka_unit_test(test_limits_and_garbage),
	    cmocka_unit_test(test_memory_limit),
	    cmocka_unit_test(test_timeout),
	    cmocka_unit_test(test_torture_corpus),
	    cmocka_unit_test(test_enron_throughput),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
