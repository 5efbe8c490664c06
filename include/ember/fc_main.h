/* Firecracker process mode:
 *   ember --api-sock PATH [--id ID] [--config-file FILE] [--no-api]
 *         [--log-path P] [--level L] [--show-level] [--show-log-origin]
 *         [--module M] [--metrics-path P] [--boot-timer]
 *         [--seccomp-filter FILE | --no-seccomp]
 *         [--http-api-max-payload-size N] [--version]
 * main() calls this when argv[1] is not a subcommand (run, jail). Returns
 * the process exit code (enum in vm.h). */
#ifndef EMBER_FC_MAIN_H
#define EMBER_FC_MAIN_H

int fc_main(int argc, char **argv);
/* `--version`: "Firecracker vX.Y.Z" (the Firecracker API version ember
 * implements, the shape tools parse), then "ember vX.Y.Z (rev)". */
void ember_print_version(void);

#endif
