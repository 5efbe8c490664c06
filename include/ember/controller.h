/* The VMM-thread side of the API: owns the pre-boot vm_config, applies the
 * typed requests the API thread posts (src/api/routes.c), builds and starts
 * the VM on InstanceStart and drives it afterwards (pause, resume,
 * Ctrl-Alt-Del, PATCHes). Everything here runs on the VMM thread. */
#ifndef EMBER_CONTROLLER_H
#define EMBER_CONTROLLER_H

#include <stdbool.h>

#include "ember/api_routes.h"
#include "ember/config.h"
#include "ember/event_loop.h"

struct controller;

/* cfg (may be NULL: defaults) is moved into the controller; the caller's
 * struct is left config_init()ed. */
int controller_create(struct event_loop *el, const char *instance_id, struct vm_config *cfg,
		      struct controller **out);
void controller_destroy(struct controller *c);
/* Handle one request; always fills resp (204/200/400). */
void controller_handle(struct controller *c, struct api_request *req, struct api_response *resp);
/* InstanceStart: validate, vm_create, vm_start. 0 or -errno with err_msg(). */
int controller_start(struct controller *c);
bool controller_started(const struct controller *c);
/* True once the VM has exited; *code is the process exit code. */
bool controller_exited(const struct controller *c, int *code);
/* Ask a running VM to stop (signal). */
void controller_request_exit(struct controller *c, int code);
const struct vm_config *controller_config(const struct controller *c);

#endif
