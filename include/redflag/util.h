/*
 * util — allocation wrappers and a growable byte buffer.
 *
 * Out of memory is fatal (STYLE §8): the x*alloc functions log and abort(), and systemd
 * restarts us. Every function here accepts what it is documented to accept and nothing
 * else; free functions accept NULL.
 */
#ifndef REDFLAG_UTIL_H
#define REDFLAG_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
/* Reallocates to nmemb * size bytes, aborting on overflow or OOM. */
void *xreallocarray(void *p, size_t nmemb, size_t size);
char *xstrdup(const char *s);
/* Copies at most n bytes of s and NUL-terminates; s need not be terminated within n. */
char *xstrndup(const char *s, size_t n);
/* printf into a new allocation the caller frees. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * libconfig 1.5 exports internal functions named strbuf_append and strbuf_release; the
 * dynamic linker would bind its calls to ours and crash. Our symbols carry an rf_ prefix
 * at link level while the source keeps the readable names.
 */
#define strbuf_append      rf_strbuf_append
#define strbuf_appends     rf_strbuf_appends
#define strbuf_appendc     rf_strbuf_appendc
#define strbuf_appendf     rf_strbuf_appendf
#define strbuf_append_json rf_strbuf_append_json
#define strbuf_append_utf8 rf_strbuf_append_utf8
#define strbuf_reset       rf_strbuf_reset
#define strbuf_detach      rf_strbuf_detach
#define strbuf_release     rf_strbuf_release

/*
 * A growable buffer. data is always NUL-terminated (when non-NULL) so text can be used as
 * a C string; binary data may contain NULs and len is authoritative.
 */
struct strbuf {
	char *data; /* owned; NULL until the first append */
	size_t len; /* bytes used, excluding the terminating NUL */
	size_t cap; /* bytes allocated */
};

#define STRBUF_INIT                                                                                \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}

void strbuf_append(struct strbuf *b, const void *p, size_t n);
void strbuf_appends(struct strbuf *b, const char *s);
/* One byte; inline because renderers and encoders append byte by byte. */
static inline void strbuf_appendc(struct strbuf *b, char c)
{
	if (b->data != NULL && b->cap - b->len >= 2) {
		b->data[b->len++] = c;
		b->data[b->len] = '\0';
		return;
	}
	strbuf_append(b, &c, 1);
}
void strbuf_appendf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * Appends s as a JSON string literal (with the quotes), escaping quotes, backslashes and
 * control characters. s must be UTF-8 (invalid bytes are passed through unchanged).
 */
void strbuf_append_json(struct strbuf *b, const char *s);
/*
 * Appends code point cp as UTF-8. Surrogates and values above U+10FFFF become U+FFFD, so the
 * buffer stays valid UTF-8.
 */
void strbuf_append_utf8(struct strbuf *b, uint32_t cp);
/* Empties the buffer but keeps its allocation. */
void strbuf_reset(struct strbuf *b);
/* Returns the data (never NULL: "" when empty) for the caller to free; b is emptied. */
char *strbuf_detach(struct strbuf *b, size_t *len);
/* Frees the data; b may be reused afterwards. */
void strbuf_release(struct strbuf *b);

/*
 * Length of the valid UTF-8 sequence at s (n >= 1 bytes available), or 0 when the bytes
 * there are not valid UTF-8 (overlongs, surrogates and > U+10FFFF are invalid). *cp receives
 * the code point.
 */
size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

/* ASCII lower-casing in place; UTF-8 bytes >= 0x80 are left alone. Returns s. */
char *str_lower(char *s);
/* ASCII case-insensitive prefix test. */
bool str_has_prefix_ci(const char *s, const char *prefix);
/* Removes leading and trailing ASCII whitespace in place; returns s (moved forward). */
char *str_trim(char *s);

/*
 * Parses a whole decimal string into [min, max]. Returns 0, -EINVAL (not a number,
 * trailing junk) or -ERANGE. Unlike atoi it never accepts garbage silently.
 */
int parse_int64(const char *s, int64_t min, int64_t max, int64_t *out);

/* FNV-1a 64-bit, for de-duplication keys (not security). */
uint64_t hash_fnv1a64(const void *p, size_t n, uint64_t seed);

/* Monotonic clock in milliseconds. */
int64_t now_ms(void);

#endif
