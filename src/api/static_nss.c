/* Linked only into the static ember (Makefile: EMBER_LINK). libcap-ng's
 * capng_change_id(), which ember never calls, looks users up by uid and sets
 * their groups; in a static binary those two names would pull glibc's whole
 * NSS machinery (name-service modules, their configuration parser, static
 * dlopen: ~100 KiB of code between the functions ember runs, so more of the
 * binary resident in every process) and a link warning that it needs the
 * shared libraries at run time anyway. ember names users by number only
 * (ember jail --uid/--gid), so these two definitions stand in for glibc's and
 * fail. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stddef.h>

struct passwd *getpwuid(uid_t uid)
{
	(void)uid;
	errno = ENOSYS;
	return NULL;
}

int initgroups(const char *user, gid_t group)
{
	(void)user;
	(void)group;
	errno = ENOSYS;
	return -1;
}
