/* MMDS: the guest side's HTTP/1.1 (requests the guest sends to the MMDS
 * address, answered from the data store, mmds.h), with Firecracker's status
 * codes and messages:
 *   GET PATH       200 the value (JSON with "Accept: application/json",
 *                  else the IMDS form); 404 no such value; 501 IMDS form of
 *                  a number/bool/array/null. V2: 401 without a valid
 *                  X-metadata-token (or X-aws-ec2-metadata-token); V1 takes
 *                  any or none.
 *   PUT /latest/api/token with X-metadata-token-ttl-seconds (or
 *                  X-aws-ec2-metadata-token-ttl-seconds) 1..21600: 200 the
 *                  token; 400 missing/bad TTL or an X-Forwarded-For header;
 *                  PUT elsewhere: 404.
 *   other methods  405 with "Allow: GET, PUT".
 *   malformed      400 and the connection closes (bad request line, header
 *                  without a colon, bad Content-Length, a request larger than
 *                  MMDS_HTTP_MAX_REQUEST); chunked bodies 501.
 * Responses use the request's HTTP version; HTTP/1.0 or "Connection: close"
 * closes after the response. */
#ifndef EMBER_MMDS_HTTP_H
#define EMBER_MMDS_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "ember/mmds.h"

/* Head + body of one request, at most. */
#define MMDS_HTTP_MAX_REQUEST 4096

struct mmds_http_reply {
	char *data; /* malloc'd response bytes */
	size_t len;
	bool close; /* close the connection once it is sent */
	/* a GET without a session token / with one not valid (V1 serves it
	 * anyway): Firecracker's rx_no_token / rx_invalid_token metrics */
	bool no_token, invalid_token;
};

/* One request from buf[0..len): > 0 bytes consumed (*reply filled), 0 the
 * request is not complete yet (len < MMDS_HTTP_MAX_REQUEST), -ENOMEM. A
 * malformed or oversized request consumes everything (len) and answers 400
 * with close set. */
int mmds_http_handle(struct mmds *m, const char *buf, size_t len, struct mmds_http_reply *reply);

#endif
