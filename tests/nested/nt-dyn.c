/* A dynamically linked test program for the nested `oneshot` run: ember must
 * bring its loader and libc into the one-shot initramfs. */
#include <stdio.h>

int main(int argc, char **argv)
{
	printf("nt-dyn: dynamic, %d args:", argc - 1);
	for (int i = 1; i < argc; i++)
		printf(" %s", argv[i]);
	printf("\n");
	return 0;
}
