/*
 * ns-spawn: the helper of pb_spawn_in_namespaces (namespaces.c), exec'd by posix_spawn rather than
 * forked from Node: a fork copies all of Node's page tables first, tens of milliseconds of a busy
 * supervisor on a small VM for every runc it starts; this small static program costs ~1 ms.
 *
 *   fds:  0-2 the program's stdio, 3 the status pipe, 4... the namespaces to join, in order
 *   argv: ns-spawn N_NAMESPACES DIE_WITH_PARENT MOUNT_PROC CWD -- PROGRAM [ARG...]  (CWD "": none)
 *   env:  the program's
 *
 * It joins the namespaces, clones the program's process as its own parent's child, reports its pid
 * on the status pipe and exits (pb_spawn_helper). Not meant to be run by hand.
 */
#define _GNU_SOURCE
#include "namespaces.h"

#include <stdlib.h>
#include <string.h>

extern char **environ;

int main(int argc, char **argv)
{
	if (argc < 7 || strcmp(argv[5], "--") != 0)
		return 127;
	int n = atoi(argv[1]);
	if (n < 0 || n > 8)
		return 127;
	int fds[8];
	for (int i = 0; i < n; i++)
		fds[i] = 4 + i;
	struct pb_spawn_config c = {0};
	c.argv = argv + 6;
	c.envp = environ;
	c.cwd = argv[4][0] ? argv[4] : NULL;
	c.stdio[0] = c.stdio[1] = c.stdio[2] = -1; /* already in place */
	c.die_with_parent = atoi(argv[2]);
	c.mount_proc = atoi(argv[3]);
	pb_spawn_helper(fds, n, &c, 3);
}
