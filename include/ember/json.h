/* JSON helpers shared by every parser of a JSON document (configuration,
 * seccomp filters, CPU templates), over cJSON. */
#ifndef EMBER_JSON_H
#define EMBER_JSON_H

#include <stdbool.h>

#include <cjson/cJSON.h>

/* The member names of object o against allowed (NULL-terminated; NULL: any
 * name). Returns NULL when all are allowed and none repeats; otherwise the
 * first member, in document order, whose name is not allowed or repeats an
 * earlier one, with *dup set to which. dup NULL: repeats are not checked. */
const cJSON *json_bad_member(const cJSON *o, const char *const *allowed, bool *dup);

#endif
