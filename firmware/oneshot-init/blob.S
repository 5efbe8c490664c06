/* The one-shot init, linked into ember (src/vmm/oneshot.c). */
	.section .rodata
	.balign 16
	.globl ember_oneshot_init, ember_oneshot_init_end
ember_oneshot_init:
	.incbin ONESHOT_INIT_PATH
ember_oneshot_init_end:
	.section .note.GNU-stack,"",@progbits
