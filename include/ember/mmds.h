/* MMDS, the microVM metadata service: its configuration (PUT /mmds/config,
 * "mmds-config") and its data store (PUT/PATCH/GET /mmds, --metadata), with
 * the guest-side lookups and session tokens the guest's HTTP requests use
 * (mmds_http.h); the guest reaches it through the network responder
 * (mmds_net.h) on the interfaces the configuration names.
 *
 * The store is one JSON value (cJSON), NULL until the first PUT. Its size is
 * its compact serialisation; a PUT or PATCH whose result would exceed the
 * limit (--mmds-size-limit, default 51200 bytes as Firecracker) is refused
 * and the store is unchanged. PATCH is an RFC 7396 JSON merge patch.
 *
 * Tokens (V2, and V1 when a client sends one) are stateless: the expiry
 * (CLOCK_MONOTONIC, ms) and a keyed SHA-256 of it under a per-process random
 * key, in hex. Any number of tokens costs no memory.
 *
 * Thread safety: every function takes the store's mutex; the API (VMM
 * thread) and the net devices (VMM thread) may share one store. */
#ifndef EMBER_MMDS_H
#define EMBER_MMDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ember/util.h"

#define MMDS_DEFAULT_SIZE_LIMIT 51200
#define MMDS_DEFAULT_IPV4 0xa9fea9feu /* 169.254.169.254, host order */
#define MMDS_MAX_IFACES 4	      /* = CFG_MAX_NETS */
#define MMDS_TOKEN_TTL_MIN 1
#define MMDS_TOKEN_TTL_MAX 21600
#define MMDS_TOKEN_LEN 48 /* hex characters */

enum mmds_version { MMDS_V1 = 0, MMDS_V2 = 1 };

/* PUT /mmds/config and the config file's "mmds-config". */
struct mmds_cfg {
	bool present;
	enum mmds_version version;
	char ifaces[MMDS_MAX_IFACES][CFG_ID_MAX + 1];
	int nifaces;
	bool has_ipv4;	  /* given by the user; else MMDS_DEFAULT_IPV4 */
	uint32_t ipv4;	  /* host order */
	bool imds_compat; /* IMDS text whatever the Accept header says */
};

/* A link-local address Firecracker accepts: 169.254.1.0 - 169.254.254.255. */
bool mmds_ipv4_valid(uint32_t ipv4);
/* "a.b.c.d" -> host order; -EINVAL. */
int mmds_parse_ipv4(const char *s, uint32_t *out);
uint32_t mmds_cfg_ipv4(const struct mmds_cfg *c);

struct mmds;

/* limit: the data store's size limit in bytes. The token key comes from
 * getrandom() (call before seccomp filters exist). */
int mmds_create(size_t limit, struct mmds **out);
void mmds_destroy(struct mmds *m);
void mmds_set_limit(struct mmds *m, size_t limit);
void mmds_set_mode(struct mmds *m, enum mmds_version v, bool imds_compat);
enum mmds_version mmds_version(struct mmds *m);

/* Replace the store with the JSON document text (any JSON value). 0,
 * -EINVAL (not JSON; err_msg), -EFBIG (over the limit: unchanged). */
int mmds_put(struct mmds *m, const char *text, size_t len);
/* Merge patch. -ENODATA: nothing was PUT yet; -EINVAL, -EFBIG as above. */
int mmds_patch(struct mmds *m, const char *text, size_t len);
/* GET /mmds: the store, compact; "{}" before the first PUT. malloc'd or
 * NULL (out of memory). */
char *mmds_get_json(struct mmds *m);

/* Guest GET of path (e.g. "/latest/meta-data/"; repeated slashes count as
 * one, a trailing one is ignored): the JSON text of the value (json, and not
 * imds_compat), or its IMDS form: an object's keys one per line (objects
 * with a trailing '/'), a string's characters. 0 with *out malloc'd,
 * -ENOENT (no such value), -ENOTSUP (IMDS form of another type), -ENOMEM. */
int mmds_lookup(struct mmds *m, const char *path, bool json, char **out, size_t *out_len);

/* A token valid for ttl seconds (1..21600, else -EINVAL): MMDS_TOKEN_LEN
 * characters + NUL into out. */
int mmds_token_new(struct mmds *m, uint32_t ttl, char out[MMDS_TOKEN_LEN + 1]);
bool mmds_token_valid(struct mmds *m, const char *tok, size_t len);
/* Tests: the clock tokens are stamped and checked with (NULL: monotonic). */
void mmds_set_clock(struct mmds *m, uint64_t (*now_ms)(void));

#endif
