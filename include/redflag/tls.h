/*
 * tls — certificate chain and host name verification with GnuTLS.
 *
 * libetpan's GnuTLS build performs no verification at all, so the IMAP module hands the
 * peer's chain to this function before sending any credential.
 */
#ifndef REDFLAG_TLS_H
#define REDFLAG_TLS_H

#include <stddef.h>

/* One DER-encoded certificate, borrowed. */
struct tls_der {
	const unsigned char *data;
	size_t len;
};

/*
 * Verifies chain (leaf first, n >= 1) for a TLS server called host (a DNS name, or an IP
 * literal matched against IP SANs), trusting the CAs in ca_file (PEM) or, when ca_file is
 * NULL, the system trust store. Returns 0 when trusted; -EPERM when not (err says why:
 * unknown issuer, expired, host name mismatch, ...); -EIO when the trust store cannot be
 * loaded; -EINVAL for an empty or undecodable chain.
 */
int tls_verify_chain(const struct tls_der *chain, size_t n, const char *host, const char *ca_file,
                     char *err, size_t errlen);

#endif
