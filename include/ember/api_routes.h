/* Firecracker API routing: method + path + JSON body -> a typed request for
 * the VMM thread. Runs on the API thread; bad input is answered right here
 * (400 + fault_message) without bothering the VMM thread. */
#ifndef EMBER_API_ROUTES_H
#define EMBER_API_ROUTES_H

#include <stdbool.h>
#include <stdint.h>

#include "ember/controller.h"
#include "ember/http.h"

struct api_response {
	int status;
	char *body; /* malloc'd JSON, NULL for none */
};

/* Returns 0 with *req filled, or -EINVAL with *resp filled (an error
 * response to send as is). */
int api_route(const struct http_request *hreq, struct api_request *req, struct api_response *resp);
void api_response_set(struct api_response *resp, int status, char *body);
/* status + {"fault_message": "..."} */
void api_response_fault(struct api_response *resp, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void api_response_free(struct api_response *resp);
/* The controller's reply as HTTP: done 204, a document 200, refused 400,
 * failed 500 (both with {"fault_message": ...}). Takes reply's strings. */
void api_response_from_reply(struct api_response *resp, struct ctl_reply *reply);

#endif
