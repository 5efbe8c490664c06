/* Firecracker API routing: method + path + JSON body -> a typed request for
 * the VMM thread. Runs on the API thread; bad input is answered right here
 * (400 + fault_message) without bothering the VMM thread. */
#ifndef EMBER_API_ROUTES_H
#define EMBER_API_ROUTES_H

#include <stdbool.h>
#include <stdint.h>

#include "ember/config.h"
#include "ember/config_json.h"
#include "ember/http.h"

enum api_op {
	API_GET_INSTANCE_INFO,
	API_GET_VERSION,
	API_GET_MACHINE_CONFIG,
	API_GET_VM_CONFIG,
	API_UPDATE_MACHINE_CONFIG, /* PUT and PATCH (u.machine says which fields) */
	API_PUT_BOOT_SOURCE,
	API_PUT_DRIVE,
	API_PATCH_DRIVE,
	API_PUT_NET,
	API_PATCH_NET,
	API_PUT_VSOCK,
	API_GET_BALLOON,
	API_PUT_BALLOON,
	API_PATCH_BALLOON,
	API_GET_BALLOON_STATS,
	API_PATCH_BALLOON_STATS,
	API_PUT_CPU_CONFIG,
	API_PUT_LOGGER,
	API_PUT_METRICS,
	API_INSTANCE_START,
	API_SEND_CTRL_ALT_DEL,
	API_FLUSH_METRICS,
	API_PAUSE,
	API_RESUME,
};

struct api_request {
	enum api_op op;
	bool patch; /* API_UPDATE_MACHINE_CONFIG: PATCH rather than PUT */
	union {
		struct machine_update machine;
		struct boot_source_cfg boot;
		struct drive_cfg drive;
		struct drive_update drive_update;
		struct net_cfg net;
		struct net_update net_update;
		struct vsock_cfg vsock;
		struct balloon_cfg balloon;
		uint32_t balloon_amount_mib;
		uint32_t stats_interval_s;
		char *cpu_config_json;
		struct {
			struct logger_cfg cfg;
			char *path;
		} logger;
		struct {
			struct metrics_cfg cfg;
			char *path;
		} metrics;
	} u;
};

struct api_response {
	int status;
	char *body; /* malloc'd JSON, NULL for none */
};

/* Returns 0 with *req filled, or -EINVAL with *resp filled (an error
 * response to send as is). */
int api_route(const struct http_request *hreq, struct api_request *req, struct api_response *resp);
/* Frees whatever strings the handler did not take (set to NULL). */
void api_request_free(struct api_request *req);
void api_response_set(struct api_response *resp, int status, char *body);
/* status + {"fault_message": "..."} */
void api_response_fault(struct api_response *resp, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void api_response_free(struct api_response *resp);

#endif
