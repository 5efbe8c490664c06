/* JSON helpers (see json.h). */
#include "ember/json.h"

#include <string.h>

static bool allowed_name(const char *name, const char *const *allowed)
{
	if (!allowed)
		return true;
	for (const char *const *a = allowed; *a; a++)
		if (strcmp(name, *a) == 0)
			return true;
	return false;
}

const cJSON *json_bad_member(const cJSON *o, const char *const *allowed, bool *dup)
{
	for (const cJSON *c = o->child; c; c = c->next) {
		if (!allowed_name(c->string, allowed)) {
			if (dup)
				*dup = false;
			return c;
		}
		if (!dup)
			continue;
		for (const cJSON *d = o->child; d != c; d = d->next) {
			if (strcmp(c->string, d->string) == 0) {
				*dup = true;
				return c;
			}
		}
	}
	return NULL;
}
