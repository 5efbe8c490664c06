/* Snapshots on aarch64: not implemented yet (the vGIC and vCPU system
 * registers would be saved here); the API answers 400 with this reason. */
#include <errno.h>

#include "ember/error.h"
#include "../snapshot_priv.h"

int snap_save_kvm(struct vm *vm, struct snap_writer *w)
{
	(void)vm;
	(void)w;
	return err_set(ENOTSUP, "snapshots are not implemented on aarch64 yet");
}

int snap_restore_kvm(struct vm *vm, const struct snap_file *f)
{
	(void)vm;
	(void)f;
	return err_set(ENOTSUP, "snapshots are not implemented on aarch64 yet");
}

int snap_collect_kvm_dirty(struct vm *vm, uint64_t *bitmap)
{
	(void)vm;
	(void)bitmap;
	return err_set(ENOTSUP, "snapshots are not implemented on aarch64 yet");
}
