/* The front-ends' command-line loop (`ember run`, Firecracker mode) over
 * getopt_long: each option goes to the front-end's apply(); the first error,
 * or apply() asking to stop (--help), ends it. Options may be abbreviated to
 * an unambiguous prefix, as getopt_long allows. */
#ifndef EMBER_ARGS_H
#define EMBER_ARGS_H

#include <getopt.h>
#include <stdbool.h>

enum args_error {
	ARGS_MISSING_VALUE, /* an option without its value */
	ARGS_UNKNOWN,	    /* an unknown or ambiguous option */
	ARGS_UNKNOWN_SHORT, /* an unknown short option c, maybe in a bundle */
	ARGS_EXTRA,	    /* an argument left after the options */
};

struct args_parser {
	const struct option *options; /* every .flag NULL, .val the option's id */
	/* Firecracker's flags: "-name" as well as "--name", and the first
	 * non-option ends the options; else options and arguments may mix. */
	bool firecracker_style;
	/* One option: val is its value (NULL for a flag), arg the argument that
	 * named it, as typed. Returns 0, 1 to stop (args_parse returns 1), or
	 * -errno with err_set done. */
	int (*apply)(void *ctx, int id, const char *val, const char *arg);
	/* err_set the front-end's line for e (arg: the argument as typed, c:
	 * the short option) and return -EINVAL. */
	int (*error)(enum args_error e, const char *arg, int c);
};

/* 0 when every option was applied and no argument is left, 1 when apply()
 * stopped, or -errno with one line in err_msg(). */
int args_parse(const struct args_parser *p, int argc, char **argv, void *ctx);

#endif
