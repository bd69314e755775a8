/*
 * tls: tls_verify_chain against certificates made at test time with the openssl CLI in a
 * mkdtemp directory — a CA, a server certificate for DNS:localhost + IP:127.0.0.1 signed by
 * it, the same key expired, one for client use only, and an unrelated second CA.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "redflag/tls.h"
#include "redflag/util.h"

struct der {
	unsigned char *data;
	size_t len;
};

struct fx {
	char dir[64];
	struct der leaf, expired, client_only, wrong_host, ca;
	char *ca_pem, *other_ca_pem, *missing_pem;
};

static int sh(const char *dir, const char *cmd)
{
	char *full = xasprintf("cd '%s' && { %s ; } >/dev/null 2>&1", dir, cmd);
	int r = system(full);

	free(full);
	return r;
}

static int read_der(const char *dir, const char *name, struct der *out)
{
	char *path = xasprintf("%s/%s.der", dir, name);
	FILE *f = fopen(path, "rb");
	struct strbuf b = STRBUF_INIT;
	char buf[4096];
	size_t n;

	free(path);
	if (f == NULL)
		return -1;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		strbuf_append(&b, buf, n);
	fclose(f);
	out->data = (unsigned char *)strbuf_detach(&b, &out->len);
	return out->len > 0 ? 0 : -1;
}

/* A server certificate signed by ca.pem: sh fragment for name with the given extensions. */
static char *sign_cmd(const char *name, const char *ext, const char *days)
{
	return xasprintf("openssl req -newkey rsa:2048 -nodes -keyout %s.key -out %s.csr "
	                 "-subj /CN=localhost && printf '%s' > %s.ext && "
	                 "openssl x509 -req -in %s.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
	                 "-days %s -out %s.pem -extfile %s.ext && "
	                 "openssl x509 -in %s.pem -outform DER -out %s.der",
	                 name, name, ext, name, name, days, name, name, name, name);
}

static int group_setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	static const struct {
		const char *name, *ext, *days;
	} certs[] = {
	    {"leaf", "subjectAltName=DNS:localhost,IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n",
	     "2"},
	    /* notAfter before notBefore, both around now: expired. */
	    {"expired",
	     "subjectAltName=DNS:localhost,IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n", "-1"},
	    {"client_only",
	     "subjectAltName=DNS:localhost,IP:127.0.0.1\\nextendedKeyUsage=clientAuth\\n", "2"},
	    {"wrong_host", "subjectAltName=DNS:wrong.example\\nextendedKeyUsage=serverAuth\\n",
	     "2"},
	};

	snprintf(f->dir, sizeof(f->dir), "/tmp/rf-tls-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		goto fail;
	for (int i = 0; i < 2; i++) {
		const char *ca = i ? "otherca" : "ca";
		char *cmd = xasprintf("openssl req -x509 -newkey rsa:2048 -nodes -days 2 "
		                      "-keyout %s.key -out %s.pem -subj '/CN=redflagd test %s' "
		                      "-addext basicConstraints=critical,CA:TRUE "
		                      "-addext keyUsage=critical,keyCertSign,cRLSign && "
		                      "openssl x509 -in %s.pem -outform DER -out %s.der",
		                      ca, ca, ca, ca, ca);
		int r = sh(f->dir, cmd);

		free(cmd);
		if (r != 0)
			goto fail;
	}
	for (size_t i = 0; i < ARRAY_SIZE(certs); i++) {
		char *cmd = sign_cmd(certs[i].name, certs[i].ext, certs[i].days);
		int r = sh(f->dir, cmd);

		free(cmd);
		if (r != 0)
			goto fail;
	}
	if (read_der(f->dir, "leaf", &f->leaf) < 0 ||
	    read_der(f->dir, "expired", &f->expired) < 0 ||
	    read_der(f->dir, "client_only", &f->client_only) < 0 ||
	    read_der(f->dir, "wrong_host", &f->wrong_host) < 0 ||
	    read_der(f->dir, "ca", &f->ca) < 0)
		goto fail;
	f->ca_pem = xasprintf("%s/ca.pem", f->dir);
	f->other_ca_pem = xasprintf("%s/otherca.pem", f->dir);
	f->missing_pem = xasprintf("%s/no-such-ca.pem", f->dir);
	*state = f;
	return 0;
fail:
	fprintf(stderr, "test_tls: cannot make certificates with openssl in %s\n", f->dir);
	free(f);
	return -1;
}

static int group_teardown(void **state)
{
	struct fx *f = *state;
	char *cmd = xasprintf("rm -rf '%s'", f->dir);

	if (system(cmd) != 0)
		fprintf(stderr, "test_tls: cannot remove %s\n", f->dir);
	free(cmd);
	free(f->leaf.data);
	free(f->expired.data);
	free(f->client_only.data);
	free(f->wrong_host.data);
	free(f->ca.data);
	free(f->ca_pem);
	free(f->other_ca_pem);
	free(f->missing_pem);
	free(f);
	return 0;
}

enum cert { LEAF, EXPIRED, CLIENT_ONLY, WRONG_HOST, LEAF_AND_CA, GARBAGE, NONE };
enum ca { CA_RIGHT, CA_OTHER, CA_MISSING, CA_SYSTEM };

static void test_verify_table(void **state)
{
	struct fx *f = *state;
	static const unsigned char garbage[] = "not a certificate at all";
	static const struct {
		enum cert cert;
		const char *host;
		enum ca ca;
		int want;
		const char *reason; /* a word the error text must carry, or NULL */
	} cases[] = {
	    {LEAF, "localhost", CA_RIGHT, 0, NULL},
	    {LEAF, "LOCALHOST", CA_RIGHT, 0, NULL}, /* DNS names compare case-insensitively */
	    {LEAF_AND_CA, "localhost", CA_RIGHT, 0, NULL},
	    /* IP literals are matched against IP SANs by the same call. */
	    {LEAF, "127.0.0.1", CA_RIGHT, 0, NULL},
	    {LEAF, "127.0.0.2", CA_RIGHT, -EPERM, "name in the certificate"},
	    {LEAF, "example.org", CA_RIGHT, -EPERM, "name in the certificate"},
	    {LEAF, "localhost.example.org", CA_RIGHT, -EPERM, "name in the certificate"},
	    {WRONG_HOST, "localhost", CA_RIGHT, -EPERM, "name in the certificate"},
	    {WRONG_HOST, "wrong.example", CA_RIGHT, 0, NULL},
	    {LEAF, "localhost", CA_OTHER, -EPERM, "issuer is unknown"},
	    {LEAF_AND_CA, "localhost", CA_OTHER, -EPERM, "issuer is unknown"},
	    /* The test CA is in no system store. */
	    {LEAF, "localhost", CA_SYSTEM, -EPERM, "issuer is unknown"},
	    {EXPIRED, "localhost", CA_RIGHT, -EPERM, "expired"},
	    /* A client certificate is not a server's. */
	    {CLIENT_ONLY, "localhost", CA_RIGHT, -EPERM, "purpose"},
	    {NONE, "localhost", CA_RIGHT, -EINVAL, NULL},
	    {GARBAGE, "localhost", CA_RIGHT, -EINVAL, "decode"},
	    {LEAF, "localhost", CA_MISSING, -EIO, "no-such-ca.pem"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct tls_der chain[2];
		size_t n = 1;
		const char *ca = NULL;
		char err[512] = "";
		int r;

		switch (cases[i].cert) {
		case LEAF:
		case LEAF_AND_CA:
			chain[0] = (struct tls_der){f->leaf.data, f->leaf.len};
			chain[1] = (struct tls_der){f->ca.data, f->ca.len};
			n = cases[i].cert == LEAF ? 1 : 2;
			break;
		case EXPIRED:
			chain[0] = (struct tls_der){f->expired.data, f->expired.len};
			break;
		case CLIENT_ONLY:
			chain[0] = (struct tls_der){f->client_only.data, f->client_only.len};
			break;
		case WRONG_HOST:
			chain[0] = (struct tls_der){f->wrong_host.data, f->wrong_host.len};
			break;
		case GARBAGE:
			chain[0] = (struct tls_der){garbage, sizeof(garbage) - 1};
			break;
		case NONE:
			n = 0;
			break;
		}
		switch (cases[i].ca) {
		case CA_RIGHT:
			ca = f->ca_pem;
			break;
		case CA_OTHER:
			ca = f->other_ca_pem;
			break;
		case CA_MISSING:
			ca = f->missing_pem;
			break;
		case CA_SYSTEM:
			ca = NULL;
			break;
		}
		r = tls_verify_chain(chain, n, cases[i].host, ca, err, sizeof(err));
		if (r != cases[i].want)
			fail_msg("case %zu (%s): got %d, want %d: %s", i, cases[i].host, r,
			         cases[i].want, err);
		if (r != 0 && err[0] == '\0')
			fail_msg("case %zu: error without a reason", i);
		if (cases[i].reason != NULL && strstr(err, cases[i].reason) == NULL)
			fail_msg("case %zu: reason \"%s\" lacks \"%s\"", i, err, cases[i].reason);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_verify_table),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
