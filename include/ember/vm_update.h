/* Post-boot updates the API asks of a running VM (PATCH requests). All run
 * on the VMM thread, return 0 or -errno with err_set(). The controller
 * (src/vmm/controller.c) carries weak stand-ins answering -ENOTSUP until the
 * VM implements them; a strong definition anywhere in the linked objects
 * replaces them. (PATCH /drives is vm_update_drive() in vm.h.) */
#ifndef EMBER_VM_UPDATE_H
#define EMBER_VM_UPDATE_H

#include <stdint.h>

#include "ember/config.h"

struct vm;

/* PATCH /network-interfaces/{id}: rx/tx may be NULL (unchanged). */
int vm_update_net_rate_limiters(struct vm *vm, const char *id, const struct rate_limiter_cfg *rx,
				const struct rate_limiter_cfg *tx);
/* PATCH /balloon: new target size. */
int vm_balloon_set_target(struct vm *vm, uint32_t amount_mib);
/* PATCH /balloon/statistics: new polling interval (stats stay enabled). */
int vm_balloon_set_stats_interval(struct vm *vm, uint32_t interval_s);
/* GET /balloon/statistics: a malloc'd JSON object in Firecracker's
 * BalloonStats shape (target_pages, actual_pages, target_mib, actual_mib,
 * swap_in, ...). */
int vm_balloon_get_stats(struct vm *vm, char **json_out);

#endif
