/*
 * pause: the process that anchors a podbox pod.
 *
 * It holds the pod's namespaces (user, network, IPC, UTS, mount, PID) open simply by being
 * alive inside them, and does nothing else but wait for signals:
 *   - SIGCHLD: reap every exited child. pause is PID 1 of the pod's PID namespace, so every
 *     orphaned process of the pod is re-parented to it and would otherwise stay a zombie.
 *     When it is *not* PID 1 it asks to be a child subreaper, so orphans still come to it.
 *     Containers are started detached (runc run -d), so each container's first process is such
 *     an orphan and only pause learns how it ended: with -e it writes that down (see below).
 *   - SIGTERM / SIGINT: exit 0. The kernel then kills whatever is left in the PID namespace.
 *
 * Modelled on Kubernetes' build/pause/linux/pause.c, plus: subreaper when not PID 1, chdir("/")
 * so it pins no directory, closing inherited descriptors, a readiness fd and an exit record.
 *
 * It holds nothing worth reaching through /proc/1 (shareProcessNamespace and SYS_PTRACE let a
 * container open /proc/1/root, cwd, exe, fd): podbox starts it in the pod's own root (see
 * build_root_and_pivot in namespaces.c) from a sealed memory copy, and it gives up every
 * capability and its dumpability, so only a container holding CAP_SYS_PTRACE may look at it.
 * (Such a container could write lines of its own to the exits file through /proc/1/fd: it can
 * mislead its own pod's status, nothing more.)
 *
 * Usage: pause [-v] [-r FD] [-e FD] [-k FD]...
 *   -v     print the version and exit
 *   -r FD  close FD once the signal mask is set up: the parent reads EOF there and knows the
 *          pod is ready (no sleeping and hoping).
 *   -e FD  for every child reaped, append one line to FD (a file opened O_APPEND by whoever
 *          started pause; a file, not a pipe, so that a supervisor started later reads it too):
 *            PID exited CODE\n     PID killed SIGNO\n
 *          PID as the pod's PID namespace numbers it. One write(2) per line, so a reader never
 *          sees two lines mixed (src/sandbox/exit-records.ts parses them).
 *   -k FD  keep FD open (up to 4 times): what pause holds for the pod by holding it, such as the
 *          user's pod network namespace (src/sandbox/pod-bridge.ts), which lives while a pod holds it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAUSE_VERSION "podbox-pause 0.2.0"

static void die_with_error(const char *step)
{
	fprintf(stderr, "pause: %s: %s\n", step, strerror(errno));
	exit(1);
}

#define MAX_KEPT 4

/* Every descriptor but 0-2, the readiness fd, the exit record and those named by -k came from
 * whoever started us: let them go. */
static void close_inherited_fds(int ready_fd, int exits_fd, const int *kept, int n_kept)
{
	for (int fd = 3; fd < 1024; fd++) {
		int keep = fd == ready_fd || fd == exits_fd;
		for (int i = 0; i < n_kept; i++)
			keep |= fd == kept[i];
		if (!keep)
			close(fd);
	}
}

/* "PID exited CODE\n" or "PID killed SIGNO\n", in one write: with O_APPEND the kernel puts
 * the whole line at the end at once. A failed write is let go: pause has no one to tell. */
static void record_exit(int exits_fd, pid_t pid, int status)
{
	char line[64];
	int n;
	if (WIFEXITED(status))
		n = snprintf(line, sizeof line, "%d exited %d\n", (int)pid, WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		n = snprintf(line, sizeof line, "%d killed %d\n", (int)pid, WTERMSIG(status));
	else
		return;
	if (n > 0 && (size_t)n < sizeof line)
		(void)write(exits_fd, line, (size_t)n);
}

static void reap_all_children(int exits_fd)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		if (exits_fd >= 0)
			record_exit(exits_fd, pid, status);
}

/* Reaping and waiting need no privilege: keep none, and never regain any. */
/* <linux/capability.h>, which musl-gcc does not see: capset(2)'s version 3 header and data. */
struct cap_header {
	unsigned int version;
	int pid;
};
struct cap_data {
	unsigned int effective, permitted, inheritable;
};
#define CAP_VERSION_3 0x20080522

static void drop_privileges(void)
{
	struct cap_header header = {CAP_VERSION_3, 0};
	struct cap_data data[2];
	memset(data, 0, sizeof data);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		die_with_error("set_no_new_privs");
	if (syscall(SYS_capset, &header, data) != 0)
		die_with_error("drop_capabilities");
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		die_with_error("set_not_dumpable");
}

/* stderr was the supervisor's (a terminal, for a foreground run) so that a failure to start is
 * seen; past this point pause has nothing to say, and a container that may open /proc/1/fd/2
 * must not find the user's terminal there. */
static void release_stderr(void)
{
	int null = open("/dev/null", O_WRONLY);
	if (null < 0 || (null != 2 && dup2(null, 2) < 0))
		die_with_error("release_stderr");
	if (null != 2)
		close(null);
}

int main(int argc, char **argv)
{
	int ready_fd = -1, exits_fd = -1, kept[MAX_KEPT], n_kept = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-v") == 0) {
			puts(PAUSE_VERSION);
			return 0;
		} else if (strcmp(argv[i], "-r") == 0 && i + 1 < argc) {
			ready_fd = atoi(argv[++i]);
		} else if (strcmp(argv[i], "-e") == 0 && i + 1 < argc) {
			exits_fd = atoi(argv[++i]);
		} else if (strcmp(argv[i], "-k") == 0 && i + 1 < argc && n_kept < MAX_KEPT) {
			kept[n_kept++] = atoi(argv[++i]);
		} else {
			fprintf(stderr, "usage: pause [-v] [-r FD] [-e FD] [-k FD]...\n");
			return 2;
		}
	}

	if (getpid() != 1 && prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
		die_with_error("become_child_subreaper");
	if (chdir("/") != 0)
		die_with_error("chdir_to_root");
	close_inherited_fds(ready_fd, exits_fd, kept, n_kept);
	drop_privileges();
	release_stderr();

	/* Block the signals we handle and take them synchronously: no handler runs asynchronously.
	 * As PID 1 the kernel only delivers signals we do not ignore, and blocked ones count. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
		die_with_error("block_signals");

	if (ready_fd >= 0)
		close(ready_fd);

	for (;;) {
		int sig = sigwaitinfo(&set, NULL);
		if (sig < 0) {
			if (errno == EINTR)
				continue;
			die_with_error("wait_for_signal");
		}
		if (sig == SIGCHLD)
			reap_all_children(exits_fd);
		else
			return 0; /* SIGTERM or SIGINT: the pod is being deleted */
	}
}
