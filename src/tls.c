#include "redflag/tls.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>

#include "redflag/util.h"

int tls_verify_chain(const struct tls_der *chain, size_t n, const char *host, const char *ca_file,
                     char *err, size_t errlen)
{
	gnutls_x509_trust_list_t trust = NULL;
	gnutls_x509_crt_t *crts = NULL;
	gnutls_datum_t why = {NULL, 0};
	unsigned status = 0;
	size_t loaded = 0;
	int r, ret;

	if (n == 0 || chain == NULL) {
		snprintf(err, errlen, "the server sent no certificate");
		return -EINVAL;
	}
	if (gnutls_x509_trust_list_init(&trust, 0) < 0) {
		snprintf(err, errlen, "cannot create a trust list");
		return -EIO;
	}
	if (ca_file != NULL)
		r = gnutls_x509_trust_list_add_trust_file(trust, ca_file, NULL, GNUTLS_X509_FMT_PEM,
		                                          0, 0);
	else
		r = gnutls_x509_trust_list_add_system_trust(trust, 0, 0);
	if (r <= 0) {
		snprintf(err, errlen, "cannot load trusted CAs from %s%s%s",
		         ca_file ? ca_file : "the system store", r < 0 ? ": " : ": no certificates",
		         r < 0 ? gnutls_strerror(r) : "");
		ret = -EIO;
		goto out;
	}

	crts = xcalloc(n, sizeof(*crts));
	for (loaded = 0; loaded < n; loaded++) {
		gnutls_datum_t der = {(unsigned char *)chain[loaded].data,
		                      (unsigned)chain[loaded].len};

		if (gnutls_x509_crt_init(&crts[loaded]) < 0) {
			ret = -EIO;
			goto out;
		}
		r = gnutls_x509_crt_import(crts[loaded], &der, GNUTLS_X509_FMT_DER);
		if (r < 0) {
			loaded++;
			snprintf(err, errlen, "cannot decode the server certificate: %s",
			         gnutls_strerror(r));
			ret = -EINVAL;
			goto out;
		}
	}

	/*
	 * One call checks the chain up to a trusted CA, validity dates, the TLS server key
	 * purpose and the host name (an IP literal is matched against IP SANs).
	 */
	{
		gnutls_typed_vdata_st vdata[2] = {
		    {GNUTLS_DT_DNS_HOSTNAME, (unsigned char *)host, 0},
		    {GNUTLS_DT_KEY_PURPOSE_OID, (unsigned char *)GNUTLS_KP_TLS_WWW_SERVER, 0},
		};

		r = gnutls_x509_trust_list_verify_crt2(trust, crts, (unsigned)n, vdata, 2, 0,
		                                       &status, NULL);
	}
	if (r < 0) {
		snprintf(err, errlen, "certificate verification failed: %s", gnutls_strerror(r));
		ret = -EPERM;
		goto out;
	}
	if (status != 0) {
		if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &why,
		                                                 0) == 0)
			snprintf(err, errlen, "certificate of %s not trusted: %s", host,
			         (const char *)why.data);
		else
			snprintf(err, errlen, "certificate of %s not trusted (status 0x%x)", host,
			         status);
		ret = -EPERM;
		goto out;
	}
	ret = 0;
out:
	gnutls_free(why.data);
	for (size_t i = 0; i < loaded; i++)
		gnutls_x509_crt_deinit(crts[i]);
	free(crts);
	gnutls_x509_trust_list_deinit(trust, 1);
	return ret;
}
