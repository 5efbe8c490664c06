/* libFuzzer: the JSON configuration parsers (src/vmm/config_json.c) and the
 * API router (src/api/api_routes.c) on arbitrary bytes. The first byte picks
 * the target. A document that parses must survive emit -> parse -> emit
 * unchanged (GET /vm/config round-trips into --config-file). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ember/api_routes.h"
#include "ember/config.h"
#include "ember/config_json.h"
#include "ember/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void doc_round_trip(const char *s, size_t n)
{
	struct vm_config a, b;
	char *ja, *jb;

	config_init(&a);
	if (cfgjson_parse_vm_config(s, n, &a) == 0) {
		ja = cfgjson_emit_vm_config(&a);
		if (!ja)
			__builtin_trap();
		config_init(&b);
		if (cfgjson_parse_vm_config(ja, strlen(ja), &b) != 0)
			__builtin_trap();
		jb = cfgjson_emit_vm_config(&b);
		if (!jb || strcmp(ja, jb) != 0)
			__builtin_trap();
		free(ja);
		free(jb);
		config_free(&b);
	}
	config_free(&a);
}

static void route(const uint8_t *data, size_t size)
{
	static const char *const paths[] = {
	    "/",
	    "/machine-config",
	    "/boot-source",
	    "/drives/rootfs",
	    "/drives/",
	    "/drives/a/b",
	    "/network-interfaces/eth0",
	    "/vsock",
	    "/balloon",
	    "/balloon/statistics",
	    "/cpu-config",
	    "/logger",
	    "/metrics",
	    "/actions",
	    "/vm",
	    "/vm/config",
	    "/mmds",
	    "/version",
	    "/snapshot/create",
	    "//x//",
	};
	struct http_request h = {0};
	struct api_request req;
	struct api_response resp = {0};
	char *body;

	if (size < 1)
		return;
	h.method = (enum http_method)(data[0] % 3);
	h.path = paths[(data[0] >> 2) % (sizeof(paths) / sizeof(paths[0]))];
	body = malloc(size);
	if (!body)
		return;
	memcpy(body, data + 1, size - 1);
	body[size - 1] = '\0';
	if (size > 1) {
		h.body = (const uint8_t *)body;
		h.body_len = size - 1;
	}
	if (api_route(&h, &req, &resp) == 0)
		api_request_free(&req);
	else if (resp.status != 400 || !resp.body)
		__builtin_trap();
	api_response_free(&resp);
	free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data + 1;
	size_t n = size ? size - 1 : 0;
	union {
		struct machine_update mu;
		struct boot_source_cfg b;
		struct drive_cfg d;
		struct drive_update du;
		struct net_cfg net;
		struct net_update nu;
		struct vsock_cfg v;
		struct balloon_cfg bl;
		struct logger_cfg l;
		struct metrics_cfg m;
	} u;
	char *str = NULL;
	uint32_t x;
	bool flag;
	enum fc_action a;

	if (size < 1)
		return 0;
	memset(&u, 0, sizeof(u));
	switch (data[0] % 16) {
	case 0:
		doc_round_trip(s, n);
		break;
	case 1:
	case 2:
		if (cfgjson_parse_machine(s, n, data[0] % 16 == 2, &u.mu) == 0) {
			struct machine_cfg cur = {.vcpu_count = 1, .mem_size_mib = 128}, m;
			if (machine_update_apply(&u.mu, &cur, &m) == 0) {
				char *j = cfgjson_emit_machine(&m);
				free(j);
				free(m.cpu_template_name);
			}
			machine_update_free(&u.mu);
		}
		break;
	case 3:
		if (cfgjson_parse_boot_source(s, n, &u.b) == 0)
			boot_source_cfg_free(&u.b);
		break;
	case 4:
		if (cfgjson_parse_drive(s, n, &u.d) == 0)
			drive_cfg_free(&u.d);
		break;
	case 5:
		if (cfgjson_parse_drive_update(s, n, &u.du) == 0)
			drive_update_free(&u.du);
		break;
	case 6:
		if (cfgjson_parse_net(s, n, &u.net) == 0)
			net_cfg_free(&u.net);
		break;
	case 7:
		cfgjson_parse_net_update(s, n, &u.nu);
		break;
	case 8:
		if (cfgjson_parse_vsock(s, n, &u.v) == 0)
			vsock_cfg_free(&u.v);
		break;
	case 9:
		if (cfgjson_parse_balloon(s, n, &u.bl) == 0)
			free(cfgjson_emit_balloon(&u.bl));
		cfgjson_parse_balloon_update(s, n, &x);
		cfgjson_parse_balloon_stats_update(s, n, &x);
		break;
	case 10:
		if (cfgjson_parse_cpu_config(s, n, &str) == 0)
			free(str);
		break;
	case 11:
		if (cfgjson_parse_logger(s, n, &u.l, &str) == 0) {
			logger_cfg_free(&u.l);
			free(str);
		}
		break;
	case 12:
		if (cfgjson_parse_metrics(s, n, &u.m, &str) == 0) {
			metrics_cfg_free(&u.m);
			free(str);
		}
		break;
	case 13:
		cfgjson_parse_action(s, n, &a);
		cfgjson_parse_vm_state(s, n, &flag);
		break;
	default:
		route(data + 1, n);
		break;
	}
	return 0;
}
