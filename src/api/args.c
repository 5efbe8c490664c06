/* The front-ends' command-line loop (see args.h). */
#include "ember/args.h"

#include <stddef.h>

int args_parse(const struct args_parser *p, int argc, char **argv, void *ctx)
{
	int c, r;

	optind = 0; /* glibc: 0 also resets the state of a half-parsed "-abc" */
	opterr = 0;
	for (;;) {
		/* "+": stop at the first non-option; ":": report a missing value
		 * apart from an unknown option */
		c = p->firecracker_style ? getopt_long_only(argc, argv, "+", p->options, NULL)
					 : getopt_long(argc, argv, ":", p->options, NULL);
		if (c == -1)
			break;
		if (c == ':')
			return p->error(ARGS_MISSING_VALUE, argv[optind - 1], 0);
		if (c == '?')
			return p->error(optopt > 0 && optopt < 256 ? ARGS_UNKNOWN_SHORT
								   : ARGS_UNKNOWN,
					argv[optind - 1], optopt);
		/* "--opt value" names the option one argument before its value */
		r = p->apply(ctx, c, optarg,
			     optarg && optarg == argv[optind - 1] ? argv[optind - 2]
								  : argv[optind - 1]);
		if (r != 0)
			return r;
	}
	if (optind < argc)
		return p->error(ARGS_EXTRA, argv[optind], 0);
	return 0;
}
