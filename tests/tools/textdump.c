/*
 * textdump — developer tool: shows what message_parse() keeps as the author's text.
 *
 * Build (after `make BUILD=build/me build/me/libredflag.a`):
 *   cc -std=c11 -D_GNU_SOURCE -Iinclude -o build/me/textdump tests/tools/textdump.c \
 *     build/me/libredflag.a -letpan $(pkg-config --libs libcurl sqlite3 libconfig libpcre2-8 \
 *     gnutls libsystemd)
 *
 * Usage: textdump [-b] FILE.eml...
 * Prints "==== FILE", the subject, "---- text" and the stripped text for each file; with -b
 * also "---- body" and the whole decoded body. Not part of the daemon: it is the only thing
 * here that reads files from argv.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redflag/message.h"
#include "redflag/util.h"

/* Reads the whole file into a new buffer; returns -errno on failure. */
static int read_file(const char *path, char **out, size_t *len)
{
	struct strbuf b = STRBUF_INIT;
	char chunk[65536];
	size_t n;
	FILE *f = fopen(path, "rb");
	int r = 0;

	if (f == NULL)
		return -errno;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		strbuf_append(&b, chunk, n);
	if (ferror(f))
		r = -EIO;
	fclose(f);
	if (r < 0) {
		strbuf_release(&b);
		return r;
	}
	*out = strbuf_detach(&b, len);
	return 0;
}

int main(int argc, char **argv)
{
	const struct message_limits lim = MESSAGE_LIMITS_DEFAULT;
	int first = 1, status = 0;
	int show_body = 0;

	if (argc > 1 && strcmp(argv[1], "-b") == 0) {
		show_body = 1;
		first = 2;
	}
	if (first >= argc) {
		fprintf(stderr, "usage: textdump [-b] FILE.eml...\n");
		return 2;
	}
	for (int i = first; i < argc; i++) {
		struct message *m = NULL;
		char *raw = NULL, err[256] = "";
		size_t len = 0;
		int r = read_file(argv[i], &raw, &len);

		printf("==== %s\n", argv[i]);
		if (r < 0) {
			printf("error: %s\n", strerror(-r));
			status = 1;
			continue;
		}
		r = message_parse(raw, len, &lim, &m, err, sizeof(err));
		if (r < 0) {
			printf("error: %s\n", err);
			status = 1;
		} else {
			printf("Subject: %s\n---- text\n%s\n", m->subject, m->text);
			if (show_body)
				printf("---- body\n%s\n", m->body);
		}
		message_free(&m);
		free(raw);
	}
	return status;
}
