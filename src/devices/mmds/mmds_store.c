/* The MMDS data store and its session tokens (see mmds.h). */
#include "ember/mmds.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <nettle/sha2.h>

#include "ember/error.h"

#define KEY_LEN 32
#define MAC_LEN 16

struct mmds {
	pthread_mutex_t lock;
	cJSON *data; /* NULL: never PUT */
	size_t limit;
	enum mmds_version version;
	bool imds_compat;
	uint8_t key[KEY_LEN];
	uint64_t (*clock)(void); /* tests; NULL: now_ms */
};

bool mmds_ipv4_valid(uint32_t ip)
{
	uint32_t third = (ip >> 8) & 0xff;

	return (ip >> 16) == 0xa9fe && third != 0 && third != 255;
}

int mmds_parse_ipv4(const char *s, uint32_t *out)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++) {
		unsigned n = 0, digits = 0;

		while (*s >= '0' && *s <= '9') {
			if (digits && n == 0)
				return -EINVAL; /* leading zero */
			n = n * 10 + (unsigned)(*s++ - '0');
			if (++digits > 3 || n > 255)
				return -EINVAL;
		}
		if (!digits || *s != (i == 3 ? '\0' : '.'))
			return -EINVAL;
		if (i < 3)
			s++;
		v = v << 8 | n;
	}
	*out = v;
	return 0;
}

uint32_t mmds_cfg_ipv4(const struct mmds_cfg *c)
{
	return c->has_ipv4 ? c->ipv4 : MMDS_DEFAULT_IPV4;
}

int mmds_create(size_t limit, struct mmds **out)
{
	struct mmds *m = calloc(1, sizeof(*m));

	*out = NULL;
	if (!m)
		return err_set(ENOMEM, "MMDS: out of memory");
	pthread_mutex_init(&m->lock, NULL);
	m->limit = limit;
	if (getrandom(m->key, sizeof(m->key), GRND_NONBLOCK) != (ssize_t)sizeof(m->key))
		random_bytes(m->key, sizeof(m->key));
	*out = m;
	return 0;
}

void mmds_destroy(struct mmds *m)
{
	if (!m)
		return;
	cJSON_Delete(m->data);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

void mmds_set_limit(struct mmds *m, size_t limit)
{
	pthread_mutex_lock(&m->lock);
	m->limit = limit;
	pthread_mutex_unlock(&m->lock);
}

void mmds_set_mode(struct mmds *m, enum mmds_version v, bool imds_compat)
{
	pthread_mutex_lock(&m->lock);
	m->version = v;
	m->imds_compat = imds_compat;
	pthread_mutex_unlock(&m->lock);
}

enum mmds_version mmds_version(struct mmds *m)
{
	enum mmds_version v;

	pthread_mutex_lock(&m->lock);
	v = m->version;
	pthread_mutex_unlock(&m->lock);
	return v;
}

/* ---- the store ---- */

static int parse(const char *text, size_t len, cJSON **out)
{
	const char *end = NULL;

	*out = NULL;
	if (!text || !len)
		return err_set(EINVAL, "EOF while parsing a value at line 1 column 0");
	if (memchr(text, '\0', len))
		return err_set(EINVAL, "NUL byte in the JSON body");
	*out = cJSON_ParseWithLengthOpts(text, len, &end, false);
	if (!*out)
		return err_set(EINVAL, "invalid JSON");
	for (; end < text + len; end++) {
		if (*end != ' ' && *end != '\t' && *end != '\r' && *end != '\n') {
			cJSON_Delete(*out);
			*out = NULL;
			return err_set(EINVAL, "trailing characters after the JSON value");
		}
	}
	return 0;
}

/* Serialised size over the limit (or unprintable: out of memory). */
static int check_size(const struct mmds *m, const cJSON *v)
{
	char *s = cJSON_PrintUnformatted(v);
	size_t n;

	if (!s)
		return err_set(ENOMEM, "out of memory");
	n = strlen(s);
	free(s);
	if (n > m->limit)
		return err_set(EFBIG, "The MMDS patch request doesn't fit.");
	return 0;
}

int mmds_put(struct mmds *m, const char *text, size_t len)
{
	cJSON *v;
	int r = parse(text, len, &v);

	if (r)
		return r;
	pthread_mutex_lock(&m->lock);
	r = check_size(m, v);
	if (r == 0) {
		cJSON_Delete(m->data);
		m->data = v;
		v = NULL;
	}
	pthread_mutex_unlock(&m->lock);
	cJSON_Delete(v);
	return r;
}

/* RFC 7396 on target (replaced in place; returns the new value). Takes
 * nothing from patch (copies). NULL on allocation failure. */
static cJSON *merge(cJSON *target, const cJSON *patch)
{
	if (!cJSON_IsObject(patch)) {
		cJSON_Delete(target);
		return cJSON_Duplicate(patch, true);
	}
	if (!cJSON_IsObject(target)) {
		cJSON_Delete(target);
		target = cJSON_CreateObject();
		if (!target)
			return NULL;
	}
	for (const cJSON *p = patch->child; p; p = p->next) {
		cJSON *cur = cJSON_DetachItemFromObjectCaseSensitive(target, p->string);
		cJSON *nv;

		if (cJSON_IsNull(p)) {
			cJSON_Delete(cur);
			continue;
		}
		nv = merge(cur, p);
		if (!nv || !cJSON_AddItemToObject(target, p->string, nv)) {
			cJSON_Delete(nv);
			cJSON_Delete(target);
			return NULL;
		}
	}
	return target;
}

int mmds_patch(struct mmds *m, const char *text, size_t len)
{
	cJSON *p, *copy = NULL;
	int r = parse(text, len, &p);

	if (r)
		return r;
	pthread_mutex_lock(&m->lock);
	if (!m->data) {
		r = err_set(ENODATA, "The MMDS data store is not initialized.");
		goto out;
	}
	copy = cJSON_Duplicate(m->data, true);
	if (!copy || !(copy = merge(copy, p))) {
		r = err_set(ENOMEM, "out of memory");
		goto out;
	}
	if ((r = check_size(m, copy)) == 0) {
		cJSON_Delete(m->data);
		m->data = copy;
		copy = NULL;
	}
out:
	pthread_mutex_unlock(&m->lock);
	cJSON_Delete(copy);
	cJSON_Delete(p);
	return r;
}

char *mmds_get_json(struct mmds *m)
{
	char *s;

	pthread_mutex_lock(&m->lock);
	s = m->data ? cJSON_PrintUnformatted(m->data) : strdup("{}");
	pthread_mutex_unlock(&m->lock);
	return s;
}

/* ---- guest lookups ---- */

/* One JSON-pointer token (RFC 6901: ~1 is '/', ~0 is '~') of length n. */
static const cJSON *step(const cJSON *v, const char *tok, size_t n)
{
	char key[n + 1];
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (tok[i] == '~') {
			if (i + 1 >= n || (tok[i + 1] != '0' && tok[i + 1] != '1'))
				return NULL;
			key[k++] = tok[++i] == '0' ? '~' : '/';
		} else {
			key[k++] = tok[i];
		}
	}
	key[k] = '\0';
	if (cJSON_IsObject(v))
		return cJSON_GetObjectItemCaseSensitive(v, key);
	if (cJSON_IsArray(v)) {
		size_t idx = 0;

		if (!k || (k > 1 && key[0] == '0') || k > 9)
			return NULL;
		for (size_t i = 0; i < k; i++) {
			if (key[i] < '0' || key[i] > '9')
				return NULL;
			idx = idx * 10 + (size_t)(key[i] - '0');
		}
		return cJSON_GetArrayItem(v, (int)idx);
	}
	return NULL;
}

static const cJSON *find(const cJSON *root, const char *path)
{
	const cJSON *v = root;
	static const cJSON null_value = {.type = cJSON_NULL};

	if (!v)
		v = &null_value;
	while (*path) {
		const char *tok, *end;

		while (*path == '/')
			path++;
		if (!*path)
			break; /* a trailing slash */
		tok = path;
		end = strchr(tok, '/');
		if (!end)
			end = tok + strlen(tok);
		if (!(v = step(v, tok, (size_t)(end - tok))))
			return NULL;
		path = end;
	}
	return v;
}

static int imds_form(const cJSON *v, char **out, size_t *out_len)
{
	size_t n = 0;
	char *s;

	if (cJSON_IsString(v)) {
		*out = strdup(v->valuestring);
		*out_len = *out ? strlen(*out) : 0;
		return *out ? 0 : -ENOMEM;
	}
	if (!cJSON_IsObject(v))
		return -ENOTSUP;
	for (const cJSON *c = v->child; c; c = c->next)
		n += strlen(c->string) + 2;
	s = malloc(n + 1);
	if (!s)
		return -ENOMEM;
	n = 0;
	for (const cJSON *c = v->child; c; c = c->next) {
		size_t k = strlen(c->string);

		if (n)
			s[n++] = '\n';
		memcpy(s + n, c->string, k);
		n += k;
		if (cJSON_IsObject(c))
			s[n++] = '/';
	}
	s[n] = '\0';
	*out = s;
	*out_len = n;
	return 0;
}

int mmds_lookup(struct mmds *m, const char *path, bool json, char **out, size_t *out_len)
{
	const cJSON *v;
	int r = 0;

	*out = NULL;
	*out_len = 0;
	pthread_mutex_lock(&m->lock);
	v = find(m->data, path);
	if (!v) {
		r = -ENOENT;
	} else if (json && !m->imds_compat) {
		*out = cJSON_PrintUnformatted(v);
		if (!*out)
			r = -ENOMEM;
		else
			*out_len = strlen(*out);
	} else {
		r = imds_form(v, out, out_len);
	}
	pthread_mutex_unlock(&m->lock);
	return r;
}

/* ---- tokens ---- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void mmds_set_clock(struct mmds *m, uint64_t (*clk)(void))
{
	pthread_mutex_lock(&m->lock);
	m->clock = clk;
	pthread_mutex_unlock(&m->lock);
}

static uint64_t token_now(struct mmds *m)
{
	return m->clock ? m->clock() : now_ms();
}

static void token_mac(const struct mmds *m, const uint8_t exp[8], uint8_t mac[MAC_LEN])
{
	uint8_t md[SHA256_DIGEST_SIZE];
	struct sha256_ctx c;

	sha256_init(&c);
	sha256_update(&c, sizeof(m->key), m->key);
	sha256_update(&c, 8, exp);
	sha256_digest(&c, sizeof(md), md);
	memcpy(mac, md, MAC_LEN);
}

static const char hexd[] = "0123456789abcdef";

int mmds_token_new(struct mmds *m, uint32_t ttl, char out[MMDS_TOKEN_LEN + 1])
{
	uint8_t raw[8 + MAC_LEN];
	uint64_t exp;

	if (ttl < MMDS_TOKEN_TTL_MIN || ttl > MMDS_TOKEN_TTL_MAX)
		return -EINVAL;
	exp = token_now(m) + (uint64_t)ttl * 1000;
	for (int i = 0; i < 8; i++)
		raw[i] = (uint8_t)(exp >> (8 * i));
	pthread_mutex_lock(&m->lock);
	token_mac(m, raw, raw + 8);
	pthread_mutex_unlock(&m->lock);
	for (size_t i = 0; i < sizeof(raw); i++) {
		out[2 * i] = hexd[raw[i] >> 4];
		out[2 * i + 1] = hexd[raw[i] & 15];
	}
	out[MMDS_TOKEN_LEN] = '\0';
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

bool mmds_token_valid(struct mmds *m, const char *tok, size_t len)
{
	uint8_t raw[8 + MAC_LEN], mac[MAC_LEN], diff = 0;
	uint64_t exp = 0;

	if (len != MMDS_TOKEN_LEN)
		return false;
	for (size_t i = 0; i < sizeof(raw); i++) {
		int hi = hexval(tok[2 * i]), lo = hexval(tok[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		raw[i] = (uint8_t)(hi << 4 | lo);
	}
	pthread_mutex_lock(&m->lock);
	token_mac(m, raw, mac);
	pthread_mutex_unlock(&m->lock);
	for (int i = 0; i < MAC_LEN; i++)
		diff |= (uint8_t)(mac[i] ^ raw[8 + i]);
	for (int i = 7; i >= 0; i--)
		exp = exp << 8 | raw[i];
	return diff == 0 && token_now(m) < exp;
}
