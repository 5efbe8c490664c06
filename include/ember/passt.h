/* passt, the unprivileged user-mode network stack (Debian package passt),
 * as the peer of virtio-net's stream backend (net_stream.h).
 *
 * passt_start (ember run --net passt): ember makes a connected socketpair
 * and runs `passt -f -q --fd N [-t HOST:GUEST]...` with the other end, so
 * there is no socket file to wait for and no window in which another
 * process could connect: the device can send at once (frames wait in the
 * socket until passt reads). passt treats --fd as one-off: it exits when
 * ember's end closes, i.e. when the VM (or ember, however it ends) goes
 * away; PR_SET_PDEATHSIG(SIGTERM) covers a passt that hangs. It must run
 * before any seccomp filter is installed (children inherit the filter), so
 * only `ember run` starts passt; API clients give passt_socket.
 * ember waits until passt is set up before the VM is built: passt writes
 * its PID (-P) to a FIFO in a fresh directory in $TMPDIR once its options
 * and sandbox are done; a passt that exits first (a bad option, no user
 * `nobody` to drop to as root, ...) fails `ember run` with one line naming
 * its exit status, after passt's own message on stderr (and one that does
 * neither within PASST_START_TIMEOUT_MS is stopped: an error too).
 *
 * passt_connect (--net passt-socket=PATH, "passt_socket" in the API):
 * connect to a passt the user started (`passt -s PATH`), non-blocking. */
#ifndef EMBER_PASST_H
#define EMBER_PASST_H

#include <stddef.h>
#include <sys/types.h>

#include "ember/virtio_net.h"

#define PASST_START_TIMEOUT_MS 30000

/* The passt executable on PATH (or $EMBER_PASST if set) into out. 0 or
 * -ENOENT with a one-line err_set naming the Debian package. */
int passt_find(char *out, size_t len);
/* Start passt for cfg (its forwards); *fd is ember's end of the stream,
 * *pid passt's process. err_set context on failure (nothing left over). */
int passt_start(const struct net_cfg *cfg, int *fd, pid_t *pid);
/* Connect to the passt listening at path; *fd the stream socket. */
int passt_connect(const char *path, int *fd);

#endif
