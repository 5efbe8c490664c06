/* SHA-256 through libcrypto's EVP interface. */
#include "ember/measure.h"

#include <errno.h>

#include <openssl/evp.h>

#include "ember/error.h"

int measure_sha256(const void *buf, size_t len, char hex[MEASURE_HEX_LEN])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (!EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
		return err_set(EIO, "SHA-256 failed");
	for (unsigned i = 0; i < mdlen; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 0xf];
	}
	hex[64] = '\0';
	return 0;
}
