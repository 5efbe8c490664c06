/* `ember run` command line -> struct vm_config. */
#ifndef EMBER_CLI_H
#define EMBER_CLI_H

#include "ember/config.h"

/* Parses argv (argv[0] is "run"); fills cfg (initialised by the caller with
 * config_init). Returns 0, 1 if --help was printed, or -errno with one line
 * in err_msg(). */
int cli_parse_run(int argc, char **argv, struct vm_config *cfg);
void cli_print_run_help(void);

/* `ember pool` (pool.c): N clones of one snapshot, one ember process each.
 * argv[0] is "pool"; returns the process exit status. */
int pool_main(int argc, char **argv);

/* Helpers shared with other front ends. */
int cli_parse_disk(const char *spec, struct drive_cfg *d);
int cli_parse_net(const char *spec, struct net_cfg *n);
int cli_parse_vsock(const char *spec, struct vsock_cfg *v);
int cli_parse_mac(const char *s, uint8_t mac[6]); /* parse_mac() (util.h) */

#endif
