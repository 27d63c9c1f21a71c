/*
 * Kernel steps for podbox's pods. Node is multi-threaded, and the kernel refuses setns() into a
 * user or mount namespace from a multi-threaded process, so every step here runs in a freshly
 * forked (single-threaded) child, and only async-signal-safe calls are made there.
 * Failures travel back to the parent as a {step, errno} record on a status pipe.
 * (Long for a C file: every kernel step podbox takes is here, each a short function named for what
 * it does, so the native side stays one file that can be read top to bottom.)
 */
#define _GNU_SOURCE
#include "namespaces.h"

#include <dirent.h> /* struct dirent64 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <grp.h>
#include <limits.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC       0x0001U
#define MFD_ALLOW_SEALING 0x0002U
#endif
#ifndef F_ADD_SEALS
#define F_ADD_SEALS   1033
#define F_SEAL_SEAL   0x0001
#define F_SEAL_SHRINK 0x0002
#define F_SEAL_GROW   0x0004
#define F_SEAL_WRITE  0x0008
#endif
#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif

static const char *const step_names[PB_STEP_COUNT] = {
        [PB_STEP_NONE] = "none",
        [PB_STEP_CREATE_PIPE] = "create_pipe",
        [PB_STEP_CLONE_NAMESPACES] = "clone_namespaces",
        [PB_STEP_WAIT_FOR_ID_MAPS] = "wait_for_id_maps",
        [PB_STEP_BECOME_ROOT_IN_USER_NAMESPACE] = "become_root_in_user_namespace",
        [PB_STEP_MAKE_MOUNTS_SLAVE] = "make_mounts_slave",
        [PB_STEP_MOUNT_PROC] = "mount_proc",
        [PB_STEP_SET_HOSTNAME] = "set_hostname",
        [PB_STEP_BRING_UP_LOOPBACK] = "bring_up_loopback",
        [PB_STEP_SET_UP_STDIO] = "set_up_stdio",
        [PB_STEP_CHANGE_DIRECTORY] = "change_directory",
        [PB_STEP_EXEC] = "exec",
        [PB_STEP_OPEN_NAMESPACE] = "open_namespace",
        [PB_STEP_FORK] = "fork",
        [PB_STEP_JOIN_NAMESPACE] = "join_namespace",
        [PB_STEP_CLONE_INTO_PID_NAMESPACE] = "clone_into_pid_namespace",
        [PB_STEP_UNMOUNT] = "unmount",
        [PB_STEP_MOUNT] = "mount",
        [PB_STEP_READ_STATUS] = "read_status",
        [PB_STEP_CREATE_SOCKET] = "create_socket",
        [PB_STEP_PASS_SOCKET] = "pass_socket",
        [PB_STEP_COPY_PROGRAM] = "copy_program",
        [PB_STEP_MOUNT_ROOT_TMPFS] = "mount_root_tmpfs",
        [PB_STEP_MAKE_MOUNTPOINT] = "make_mountpoint",
        [PB_STEP_BIND_INTO_ROOT] = "bind_into_root",
        [PB_STEP_PIVOT_ROOT] = "pivot_root",
        [PB_STEP_DETACH_OLD_ROOT] = "detach_old_root",
        [PB_STEP_REMOUNT_ROOT_READ_ONLY] = "remount_root_read_only",
        [PB_STEP_OPEN_VOLUME] = "open_volume",
        [PB_STEP_RESOLVE_SUBPATH_BENEATH] = "resolve_subpath_beneath",
        [PB_STEP_CREATE_SUBPATH_DIRECTORY] = "create_subpath_directory",
        [PB_STEP_CHOWN_SUBPATH_DIRECTORY] = "chown_subpath_directory",
        [PB_STEP_CLONE_SUBPATH_MOUNT] = "clone_subpath_mount",
        [PB_STEP_MOVE_SUBPATH_MOUNT] = "move_subpath_mount",
        [PB_STEP_PASS_EXTRA_FDS] = "pass_extra_fds",
        [PB_STEP_UNSHARE_FOR_HOST_PATH] = "unshare_for_host_path",
        [PB_STEP_OPEN_HOST_PATH] = "open_host_path",
        [PB_STEP_CLONE_HOST_PATH_MOUNT] = "clone_host_path_mount",
        [PB_STEP_PASS_HOST_PATH_MOUNT] = "pass_host_path_mount",
        [PB_STEP_MOVE_HOST_PATH_MOUNT] = "move_host_path_mount",
        [PB_STEP_READ_VOLUME_DIRECTORY] = "read_volume_directory",
        [PB_STEP_CHOWN_VOLUME] = "chown_volume",
        [PB_STEP_CHMOD_VOLUME] = "chmod_volume",
        [PB_STEP_BIND_SOCKET] = "bind_socket",
        [PB_STEP_JOIN_PARENT_USER_NAMESPACE] = "join_parent_user_namespace",
        [PB_STEP_WRITE_ID_MAPS] = "write_id_maps",
};

const char *pb_step_name(int step)
{
	return step > 0 && step < PB_STEP_COUNT ? step_names[step] : "unknown_step";
}

static const struct {
	const char *name;
	const char *file;
	int flag;
} namespaces[] = {
        {"user", "user", CLONE_NEWUSER},       {"mnt", "mnt", CLONE_NEWNS},  {"pid", "pid", CLONE_NEWPID},
        {"net", "net", CLONE_NEWNET},          {"ipc", "ipc", CLONE_NEWIPC}, {"uts", "uts", CLONE_NEWUTS},
        {"cgroup", "cgroup", CLONE_NEWCGROUP},
};

int pb_namespace_flag(const char *name)
{
	for (size_t i = 0; i < sizeof namespaces / sizeof namespaces[0]; i++)
		if (strcmp(namespaces[i].name, name) == 0)
			return namespaces[i].flag;
	return 0;
}

const char *pb_namespace_file(const char *name)
{
	for (size_t i = 0; i < sizeof namespaces / sizeof namespaces[0]; i++)
		if (strcmp(namespaces[i].name, name) == 0)
			return namespaces[i].file;
	return NULL;
}

/* --- the status pipe ----------------------------------------------------------------------- */

enum { RECORD_FAILURE = 1, RECORD_PID = 2 };
struct record {
	int kind;
	int step;
	int value;
};

static void report(int fd, int kind, int step, int value)
{
	struct record r = {kind, step, value};
	ssize_t n;
	do
		n = write(fd, &r, sizeof r);
	while (n < 0 && errno == EINTR);
}

/* In a child: report the failed step with errno and exit. */
static void fail_child(int status_fd, int step)
{
	report(status_fd, RECORD_FAILURE, step, errno);
	_exit(127);
}

/* Reads one record; returns 0 at EOF, 1 for a record, -1 on error. */
static int read_record(int fd, struct record *r)
{
	size_t got = 0;
	while (got < sizeof *r) {
		ssize_t n = read(fd, (char *)r + got, sizeof *r - got);
		if (n == 0)
			return got == 0 ? 0 : -1;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)n;
	}
	return 1;
}

static void set_failure(struct pb_failure *f, int step, int err)
{
	f->step = step;
	f->err = err;
}

static void set_failure_from_record(int rc, const struct record *r, struct pb_failure *failure);

static pid_t raw_clone(unsigned long flags)
{
	/* Like fork(), without glibc's atfork handlers (unsafe after fork in a threaded process). */
	return (pid_t)syscall(SYS_clone, flags, 0, 0, 0, 0);
}

/* --- child steps --------------------------------------------------------------------------- */

/* Puts the given fds at 0, 1 and 2. Node opens its own stdio with O_CLOEXEC, so an fd passed
 * as itself (stdio[i] == i) must lose that flag, or the exec'd program starts without it. */
static int set_up_stdio(const int stdio[3])
{
	for (int i = 0; i < 3; i++) {
		if (stdio[i] < 0)
			continue;
		if (stdio[i] != i ? dup2(stdio[i], i) < 0 : fcntl(i, F_SETFD, 0) < 0)
			return -1;
	}
	return 0;
}

static void close_fds_from(int first)
{
	if (syscall(SYS_close_range, first, ~0U, 0) == 0)
		return;
	for (int fd = first; fd < 4096; fd++)
		close(fd);
}

static int bring_up_loopback(void)
{
	int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		return -1;
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
	int rc = ioctl(sock, SIOCGIFFLAGS, &ifr);
	if (rc == 0) {
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
		rc = ioctl(sock, SIOCSIFFLAGS, &ifr);
	}
	int saved = errno;
	close(sock);
	errno = saved;
	return rc;
}

static void become_root_in_user_namespace(int status_fd)
{
	if (setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0)
		fail_child(status_fd, PB_STEP_BECOME_ROOT_IN_USER_NAMESPACE);
	/* Drop the host's supplementary groups; refused when setgroups is denied (single-id map). */
	(void)setgroups(0, NULL);
}

/* Flags a bind remount must keep: the kernel refuses to clear nosuid/nodev/noexec/atime flags
 * that came locked from a more privileged mount namespace (runc rootfs_linux.go remount does the
 * same from statfs). ST_* and MS_* share these values. */
static unsigned long locked_flags(const char *path)
{
	struct statvfs sv;
	if (statvfs(path, &sv) != 0)
		return 0;
	return sv.f_flag & (ST_NOSUID | ST_NODEV | ST_NOEXEC | ST_NOATIME | ST_NODIRATIME | ST_RELATIME);
}

/* mkdir -p of every parent of path (which starts with prefix, already existing). */
static int make_parents(char *path, size_t prefix)
{
	for (char *p = path + prefix + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		int rc = mkdir(path, 0755);
		*p = '/';
		if (rc != 0 && errno != EEXIST)
			return -1;
	}
	return 0;
}

/* Where entry e goes under root_dir: a directory, an empty file or a symlink, as on the host. */
static int make_mountpoint(const char *root_dir, const struct pb_root_entry *e, char *at, size_t size)
{
	int n = snprintf(at, size, "%s%s", root_dir, e->path);
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (make_parents(at, strlen(root_dir)) != 0)
		return -1;
	if (e->kind == PB_ROOT_SYMLINK)
		return symlink(e->link, at) == 0 || errno == EEXIST ? 0 : -1;
	struct stat st;
	if (stat(e->path, &st) != 0)
		return -1;
	if (S_ISDIR(st.st_mode))
		return mkdir(at, 0755) == 0 || errno == EEXIST ? 0 : -1;
	int fd = open(at, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return errno == EEXIST || errno == EROFS ? 0 : -1;
	close(fd);
	return 0;
}

/*
 * The pod's mount namespace gets a root of its own, as bubblewrap builds one (bubblewrap.c
 * setup_newroot): a tmpfs holding only the entries TypeScript chose, then pivot_root into it and
 * detach the host's root (runc libcontainer/rootfs_linux.go pivotRoot: pivot_root(".", ".") and
 * unmount the old root from on top). Every process that joins the namespace later (runc, its
 * helpers) then has this root too, and a container that reaches /proc/PID/root of any of them
 * finds nothing of the host's but these entries. proc is mounted before the host's root goes:
 * the kernel lets a user namespace mount proc only where a full proc is already visible.
 */
static void build_root_and_pivot(const struct pb_create_config *c, int status_wr)
{
	char at[PATH_MAX];
	if (mount("tmpfs", c->root_dir, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m") != 0)
		fail_child(status_wr, PB_STEP_MOUNT_ROOT_TMPFS);
	for (int i = 0; i < c->n_root; i++) {
		const struct pb_root_entry *e = &c->root[i];
		if (make_mountpoint(c->root_dir, e, at, sizeof at) != 0)
			fail_child(status_wr, PB_STEP_MAKE_MOUNTPOINT);
		if (e->kind == PB_ROOT_SYMLINK)
			continue;
		if (mount(e->path, at, NULL, MS_BIND | MS_REC, NULL) != 0)
			fail_child(status_wr, PB_STEP_BIND_INTO_ROOT);
		if (e->kind == PB_ROOT_BIND_RO &&
		    mount(NULL, at, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | locked_flags(at), NULL) != 0)
			fail_child(status_wr, PB_STEP_BIND_INTO_ROOT);
	}
	int n = snprintf(at, sizeof at, "%s/proc", c->root_dir);
	if (n < 0 || (size_t)n >= sizeof at || (mkdir(at, 0555) != 0 && errno != EEXIST))
		fail_child(status_wr, PB_STEP_MAKE_MOUNTPOINT);
	if (c->mount_proc && mount("proc", at, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
		fail_child(status_wr, PB_STEP_MOUNT_PROC);
	if (chdir(c->root_dir) != 0)
		fail_child(status_wr, PB_STEP_CHANGE_DIRECTORY);
	if (syscall(SYS_pivot_root, ".", ".") != 0)
		fail_child(status_wr, PB_STEP_PIVOT_ROOT);
	if (umount2(".", MNT_DETACH) != 0)
		fail_child(status_wr, PB_STEP_DETACH_OLD_ROOT);
	if (chdir("/") != 0)
		fail_child(status_wr, PB_STEP_CHANGE_DIRECTORY);
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) != 0)
		fail_child(status_wr, PB_STEP_REMOUNT_ROOT_READ_ONLY);
}

/*
 * A sealed in-memory copy of the program, as runc protects its own binary (libcontainer/nsenter/
 * cloned_binary.c): the program's file is not in the new root, and /proc/PID/exe then leads to
 * nothing a container could change.
 */
static int copy_program(const char *path)
{
	int in = open(path, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -1;
	int out = (int)syscall(SYS_memfd_create, "podbox-program", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (out < 0) {
		close(in);
		return -1;
	}
	char buf[8192];
	ssize_t n;
	while ((n = read(in, buf, sizeof buf)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || write(out, buf, (size_t)n) != n) {
			close(in);
			close(out);
			return -1;
		}
	}
	close(in);
	if (fcntl(out, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) != 0) {
		close(out);
		return -1;
	}
	return out;
}

/*
 * The extra fds go to 4, 5, ... First each is parked on a fresh fd above every target (4 + n and
 * up), so that moving stdio, the status pipe or another extra fd into place overwrites none of
 * them; then they are moved into place (dup2 clears FD_CLOEXEC: the program keeps them).
 */
static int park_extra_fds(const struct pb_create_config *c, int parked[PB_MAX_EXTRA_FDS])
{
	if (c->n_extra_fds > PB_MAX_EXTRA_FDS) {
		errno = E2BIG;
		return -1;
	}
	for (int i = 0; i < c->n_extra_fds; i++)
		if ((parked[i] = fcntl(c->extra_fds[i], F_DUPFD_CLOEXEC, 4 + c->n_extra_fds)) < 0)
			return -1;
	return 0;
}

static int place_extra_fds(const int parked[PB_MAX_EXTRA_FDS], int n)
{
	for (int i = 0; i < n; i++)
		if (dup2(parked[i], 4 + i) < 0)
			return -1;
	return 0;
}

static void run_new_namespaces_child(const struct pb_create_config *c, int sync_rd, int status_wr)
{
	/* Die with whoever created us, when asked: a short-lived helper must not outlive the command
	 * that started it. A pod's pause is not asked: pods outlive their supervisor, whose successor
	 * adopts them. */
	if (c->die_with_parent)
		prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* A session of its own: Ctrl-C on the supervisor's terminal must reach the supervisor only,
	 * which then stops the pod gracefully. */
	setsid();

	char byte;
	ssize_t n;
	do
		n = read(sync_rd, &byte, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1) /* the parent went away, or could not write the id maps */
		_exit(1);
	close(sync_rd);

	if (c->clone_flags & CLONE_NEWUSER)
		become_root_in_user_namespace(status_wr);

	int parked[PB_MAX_EXTRA_FDS];
	if (park_extra_fds(c, parked) != 0)
		fail_child(status_wr, PB_STEP_PASS_EXTRA_FDS);
	if (set_up_stdio(c->stdio) != 0)
		fail_child(status_wr, PB_STEP_SET_UP_STDIO);
	if (status_wr != 3) {
		if (dup2(status_wr, 3) < 0)
			fail_child(status_wr, PB_STEP_SET_UP_STDIO);
		close(status_wr);
		status_wr = 3;
	}
	/* dup2 cleared FD_CLOEXEC. With give_status_fd the exec'd program (pause -r 3) closes fd 3
	 * itself once it is ready; otherwise exec closes it and EOF means "exec'd". */
	if (!c->give_status_fd)
		fcntl(3, F_SETFD, FD_CLOEXEC);
	if (place_extra_fds(parked, c->n_extra_fds) != 0)
		fail_child(status_wr, PB_STEP_PASS_EXTRA_FDS);
	/* The sealed program copy goes after stdio (0-2), the status pipe (3) and the extra fds. */
	const int program_fd = 4 + c->n_extra_fds;
	const int new_root = (c->clone_flags & CLONE_NEWNS) && c->root_dir;
	if (new_root) {
		int program = copy_program(c->program ? c->program : c->argv[0]);
		if (program < 0 || (program != program_fd && dup3(program, program_fd, O_CLOEXEC) < 0))
			fail_child(status_wr, PB_STEP_COPY_PROGRAM);
	}
	close_fds_from(new_root ? program_fd + 1 : program_fd);

	if (c->clone_flags & CLONE_NEWNS) {
		/* Mounts made in the pod (container root filesystems, tmpfs volumes) must never
		 * propagate back to the host. */
		if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) != 0)
			fail_child(status_wr, PB_STEP_MAKE_MOUNTS_SLAVE);
		if (new_root)
			build_root_and_pivot(c, status_wr);
		else if (c->mount_proc && mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
			fail_child(status_wr, PB_STEP_MOUNT_PROC);
	}
	if ((c->clone_flags & CLONE_NEWUTS) && c->hostname && sethostname(c->hostname, strlen(c->hostname)) != 0)
		fail_child(status_wr, PB_STEP_SET_HOSTNAME);
	if ((c->clone_flags & CLONE_NEWNET) && bring_up_loopback() != 0)
		fail_child(status_wr, PB_STEP_BRING_UP_LOOPBACK);

	if (new_root)
		syscall(SYS_execveat, program_fd, "", c->argv, c->envp, AT_EMPTY_PATH);
	else
		execve(c->argv[0], c->argv, c->envp);
	fail_child(status_wr, PB_STEP_EXEC);
}

/* Writes text to /proc/PID/FILE in one write(2), as the kernel takes an id map. */
static int write_proc_file(pid_t pid, const char *file, const char *text)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t len = strlen(text);
	ssize_t n = write(fd, text, len);
	int saved = errno;
	close(fd);
	errno = saved;
	return n == (ssize_t)len ? 0 : -1;
}

/*
 * The child, in a user namespace made inside c->parent_userns rather than the caller's. setns() into
 * a user namespace is refused to a multi-threaded process, so a forked helper joins it, clones the
 * child (CLONE_PARENT: the caller's child, waited for as without a parent), reports its pid, writes
 * its maps as root of the parent namespace (CAP_SETUID and CAP_SETGID there: no newuidmap) and
 * exits 0; on a failure it kills the child and exits 127. Returns the helper's pid (or -1).
 */
static pid_t fork_into_parent_user_namespace(const struct pb_create_config *c, int sync[2], int status[2])
{
	pid_t helper = raw_clone(SIGCHLD);
	if (helper != 0)
		return helper;
	if (setns(c->parent_userns, CLONE_NEWUSER) != 0)
		fail_child(status[1], PB_STEP_JOIN_PARENT_USER_NAMESPACE);
	pid_t pid = raw_clone((unsigned long)c->clone_flags | CLONE_PARENT);
	if (pid == 0) {
		close(sync[1]);
		close(status[0]);
		run_new_namespaces_child(c, sync[0], status[1]);
	}
	if (pid < 0)
		fail_child(status[1], PB_STEP_CLONE_NAMESPACES);
	report(status[1], RECORD_PID, 0, pid);
	if (write_proc_file(pid, "uid_map", c->uid_map) != 0 || write_proc_file(pid, "gid_map", c->gid_map) != 0) {
		int saved = errno;
		kill(pid, SIGKILL);
		errno = saved;
		fail_child(status[1], PB_STEP_WRITE_ID_MAPS);
	}
	_exit(0);
}

/* The caller's side of fork_into_parent_user_namespace: the child's pid once the helper is done, or
 * -1 with *failure set (the child, if any, killed and reaped). */
static pid_t child_of_helper(pid_t helper, int status_rd, struct pb_failure *failure)
{
	int st = 0;
	while (waitpid(helper, &st, 0) < 0 && errno == EINTR)
		;
	struct record r;
	int rc = read_record(status_rd, &r);
	if (rc != 1 || r.kind != RECORD_PID) {
		if (rc == 0)
			set_failure(failure, PB_STEP_READ_STATUS, EPIPE);
		else
			set_failure_from_record(rc, &r, failure);
		return -1;
	}
	pid_t pid = r.value;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return pid;
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	rc = read_record(status_rd, &r);
	if (rc == 0)
		set_failure(failure, PB_STEP_WRITE_ID_MAPS, ECHILD);
	else
		set_failure_from_record(rc, &r, failure);
	return -1;
}

pid_t pb_create_namespaces(const struct pb_create_config *c, int *sync_fd, int *status_fd, struct pb_failure *failure)
{
	int sync[2], status[2];
	if (pipe2(sync, O_CLOEXEC) != 0) {
		set_failure(failure, PB_STEP_CREATE_PIPE, errno);
		return -1;
	}
	if (pipe2(status, O_CLOEXEC) != 0) {
		set_failure(failure, PB_STEP_CREATE_PIPE, errno);
		close(sync[0]);
		close(sync[1]);
		return -1;
	}
	const int in_parent = c->parent_userns >= 0;
	pid_t pid = in_parent ? fork_into_parent_user_namespace(c, sync, status)
	                      : raw_clone((unsigned long)c->clone_flags | SIGCHLD);
	if (pid == 0) {
		close(sync[1]);
		close(status[0]);
		run_new_namespaces_child(c, sync[0], status[1]);
	}
	int saved = errno;
	close(sync[0]);
	close(status[1]);
	if (pid < 0) {
		set_failure(failure, in_parent ? PB_STEP_FORK : PB_STEP_CLONE_NAMESPACES, saved);
		close(sync[1]);
		close(status[0]);
		return -1;
	}
	if (in_parent && (pid = child_of_helper(pid, status[0], failure)) < 0) {
		close(sync[1]);
		close(status[0]);
		return -1;
	}
	*sync_fd = sync[1];
	*status_fd = status[0];
	return pid;
}

int pb_release_child(int sync_fd, int status_fd, struct pb_failure *failure)
{
	char go = 'g';
	ssize_t n;
	do
		n = write(sync_fd, &go, 1);
	while (n < 0 && errno == EINTR);
	int saved = errno;
	close(sync_fd);
	if (n != 1) {
		close(status_fd);
		set_failure(failure, PB_STEP_WAIT_FOR_ID_MAPS, saved);
		return -1;
	}
	struct record r;
	int rc = read_record(status_fd, &r);
	close(status_fd);
	if (rc == 0)
		return 0; /* EOF: exec'd, and ready */
	if (rc < 0) {
		set_failure(failure, PB_STEP_READ_STATUS, errno ? errno : EIO);
		return -1;
	}
	set_failure(failure, r.step, r.value);
	return -1;
}

/* --- joining a pod ------------------------------------------------------------------------- */

/* Opens /proc/TARGET/ns/NAME for each name, or paths[i] instead when paths is given. */
static int open_namespaces(pid_t target, const char *const *names, const char *const *paths, int n, int *fds,
                           struct pb_failure *f)
{
	for (int i = 0; i < n; i++) {
		char path[64];
		const char *file = pb_namespace_file(names[i]);
		if (!file) {
			set_failure(f, PB_STEP_OPEN_NAMESPACE, EINVAL);
			return i;
		}
		snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)target, file);
		fds[i] = open(paths ? paths[i] : path, O_RDONLY | O_CLOEXEC);
		if (fds[i] < 0) {
			set_failure(f, PB_STEP_OPEN_NAMESPACE, errno);
			return i;
		}
	}
	return n;
}

static void close_all(int *fds, int n)
{
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

static void join_namespaces(int status_wr, const int *fds, int n)
{
	for (int i = 0; i < n; i++)
		if (setns(fds[i], 0) != 0)
			fail_child(status_wr, PB_STEP_JOIN_NAMESPACE);
}

/*
 * The parent's side right after raw_clone() of a helper that joins namespaces: close what only the
 * helper needs (the write end of the status pipe, the namespace descriptors) and reap the helper
 * (it exits once its work or its own child is started). Returns 0, or -1 with *failure set when the
 * fork itself failed (then the read end is closed too).
 */
static int after_helper_fork(pid_t helper, int status[2], int *fds, int n_fds, struct pb_failure *failure)
{
	int saved = errno;
	close(status[1]);
	close_all(fds, n_fds);
	if (helper < 0) {
		close(status[0]);
		set_failure(failure, PB_STEP_FORK, saved);
		return -1;
	}
	while (waitpid(helper, NULL, 0) < 0 && errno == EINTR)
		;
	return 0;
}

/* What a status pipe said when it did not say "done": a read error, or the step that failed. */
static void set_failure_from_record(int rc, const struct record *r, struct pb_failure *failure)
{
	if (rc < 0)
		set_failure(failure, PB_STEP_READ_STATUS, errno);
	else
		set_failure(failure, r->step, r->value);
}

/*
 * The helper's part of pb_spawn_in_namespaces, in a process of its own (a fork of the caller, or
 * ns-spawn): joins the namespaces, clones the program's process as the caller's child
 * (CLONE_PARENT: setns(CLONE_NEWPID) only moves the children of who calls it, and the caller waits
 * for it like any child of its own), reports its pid on status_wr and exits.
 */
void pb_spawn_helper(const int *fds, int n, const struct pb_spawn_config *c, int status_wr)
{
	join_namespaces(status_wr, fds, n);
	pid_t child = raw_clone(CLONE_PARENT);
	if (child < 0)
		fail_child(status_wr, PB_STEP_CLONE_INTO_PID_NAMESPACE);
	if (child == 0) {
		if (c->die_with_parent)
			prctl(PR_SET_PDEATHSIG, SIGKILL);
		setsid(); /* out of the caller's process group: terminal signals are the caller's */
		/* A host program in the pod's PID namespace but the host's mount namespace (podbox enter)
		 * would read the host's /proc: give it a private mount namespace with one of its own, as
		 * util-linux unshare --mount-proc does. Still privileged here: the user namespace joined
		 * owns the PID namespace. */
		if (c->mount_proc) {
			if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) != 0)
				fail_child(status_wr, PB_STEP_MAKE_MOUNTS_SLAVE);
			if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
				fail_child(status_wr, PB_STEP_MOUNT_PROC);
		}
		if (set_up_stdio(c->stdio) != 0)
			fail_child(status_wr, PB_STEP_SET_UP_STDIO);
		/* The status pipe at 3, closed by a successful exec (its EOF says "exec'd"); nothing above. */
		if (status_wr != 3) {
			if (dup2(status_wr, 3) < 0)
				fail_child(status_wr, PB_STEP_SET_UP_STDIO);
			status_wr = 3;
		}
		fcntl(3, F_SETFD, FD_CLOEXEC);
		close_fds_from(4);
		if (c->cwd && chdir(c->cwd) != 0)
			fail_child(status_wr, PB_STEP_CHANGE_DIRECTORY);
		execve(c->argv[0], c->argv, c->envp);
		fail_child(status_wr, PB_STEP_EXEC);
	}
	report(status_wr, RECORD_PID, 0, child);
	_exit(0);
}

/* posix_spawn of ns-spawn with the file actions given: its arguments, every signal at its default. */
static int posix_spawn_ns_spawn(const struct pb_spawn_config *c, const posix_spawn_file_actions_t *actions, int n,
                                pid_t *pid)
{
	char number[3][16];
	snprintf(number[0], sizeof number[0], "%d", n);
	snprintf(number[1], sizeof number[1], "%d", c->die_with_parent ? 1 : 0);
	snprintf(number[2], sizeof number[2], "%d", c->mount_proc ? 1 : 0);
	size_t argc = 0;
	while (c->argv[argc])
		argc++;
	const char *argv[6 + argc + 1];
	argv[0] = "ns-spawn";
	argv[1] = number[0];
	argv[2] = number[1];
	argv[3] = number[2];
	argv[4] = c->cwd ? c->cwd : "";
	argv[5] = "--";
	for (size_t i = 0; i <= argc; i++)
		argv[6 + i] = c->argv[i];
	posix_spawnattr_t attr;
	posix_spawnattr_init(&attr);
	sigset_t none, all;
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	int err = posix_spawn(pid, c->helper, actions, &attr, (char *const *)argv, c->envp);
	posix_spawnattr_destroy(&attr);
	return err;
}

/*
 * ns-spawn (native/ns-spawn.c) started by posix_spawn with the program's stdio at 0-2, the status
 * pipe at 3 and the namespaces at 4...; its arguments say the rest. Every descriptor given is first
 * copied above all of those, so that placing one never overwrites another still to be placed.
 * Returns its pid, or -1 with errno.
 */
static pid_t start_ns_spawn(const struct pb_spawn_config *c, const int *fds, int n, int status_wr)
{
	enum { FIRST_FREE = 16, MAX = 3 + 1 + 8 }; /* above 4 + MAX_NAMESPACES */
	int sources[MAX], placed[MAX], count = 0;
	for (int i = 0; i < 3; i++)
		if (c->stdio[i] >= 0)
			sources[count] = c->stdio[i], placed[count++] = i;
	sources[count] = status_wr, placed[count++] = 3;
	for (int i = 0; i < n; i++)
		sources[count] = fds[i], placed[count++] = 4 + i;
	int copies[MAX], made = 0, err = 0;
	pid_t pid = -1;
	posix_spawn_file_actions_t actions;
	posix_spawn_file_actions_init(&actions);
	for (; made < count; made++) {
		copies[made] = fcntl(sources[made], F_DUPFD_CLOEXEC, FIRST_FREE);
		if (copies[made] < 0) {
			err = errno;
			break;
		}
		posix_spawn_file_actions_adddup2(&actions, copies[made], placed[made]);
	}
	if (made == count) {
#if defined(__GLIBC__) && __GLIBC_PREREQ(2, 34)
		posix_spawn_file_actions_addclosefrom_np(&actions, 4 + n); /* (its program closes them anyway) */
#endif
		err = posix_spawn_ns_spawn(c, &actions, n, &pid);
		if (err != 0)
			pid = -1;
	}
	posix_spawn_file_actions_destroy(&actions);
	for (int i = 0; i < made; i++)
		close(copies[i]);
	errno = err;
	return pid;
}

#define MAX_NAMESPACES 8

pid_t pb_spawn_in_namespaces(const struct pb_spawn_config *c, struct pb_failure *failure)
{
	int fds[MAX_NAMESPACES];
	if (c->n_namespaces > MAX_NAMESPACES) {
		set_failure(failure, PB_STEP_OPEN_NAMESPACE, E2BIG);
		return -1;
	}
	int opened = open_namespaces(c->target, c->namespaces, c->paths, c->n_namespaces, fds, failure);
	if (opened != c->n_namespaces) {
		close_all(fds, opened);
		return -1;
	}
	int status[2];
	if (pipe2(status, O_CLOEXEC) != 0) {
		set_failure(failure, PB_STEP_CREATE_PIPE, errno);
		close_all(fds, opened);
		return -1;
	}

	/* The helper: ns-spawn, exec'd by posix_spawn (no copy of the caller's memory, which a fork of a
	 * large Node makes, tens of ms each time on a small VM); else a fork of this process. */
	pid_t helper = c->helper ? start_ns_spawn(c, fds, opened, status[1]) : raw_clone(SIGCHLD);
	if (helper == 0) {
		close(status[0]);
		pb_spawn_helper(fds, c->n_namespaces, c, status[1]);
	}
	if (after_helper_fork(helper, status, fds, opened, failure) != 0)
		return -1;

	struct record r;
	int rc = read_record(status[0], &r);
	if (rc <= 0) {
		set_failure(failure, PB_STEP_READ_STATUS, rc < 0 ? errno : EPIPE);
		close(status[0]);
		return -1;
	}
	if (r.kind == RECORD_FAILURE) {
		set_failure(failure, r.step, r.value);
		close(status[0]);
		return -1;
	}
	pid_t child = r.value;
	/* Then EOF (it exec'd) or the failure of one of its steps. */
	rc = read_record(status[0], &r);
	close(status[0]);
	if (rc == 0)
		return child;
	while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
		;
	set_failure_from_record(rc, &r, failure);
	return -1;
}

/*
 * Runs work(arg, status_wr) in a helper process that has joined the user namespace of `target`
 * and one more of its namespaces (none when other is NULL), and waits for the helper. The work
 * reports a failed step on status_wr (fail_child) or returns; 0 means it returned, -1 that
 * *failure says which step failed.
 */
typedef void (*namespace_work)(void *arg, int status_wr);

static int run_in_namespaces(pid_t target, const char *other, namespace_work work, void *arg,
                             struct pb_failure *failure)
{
	const char *const names[] = {"user", other};
	int n = other ? 2 : 1;
	int fds[2];
	int opened = open_namespaces(target, names, NULL, n, fds, failure);
	if (opened != n) {
		close_all(fds, opened);
		return -1;
	}
	int status[2];
	if (pipe2(status, O_CLOEXEC) != 0) {
		set_failure(failure, PB_STEP_CREATE_PIPE, errno);
		close_all(fds, n);
		return -1;
	}
	pid_t helper = raw_clone(SIGCHLD);
	if (helper == 0) {
		close(status[0]);
		join_namespaces(status[1], fds, n);
		work(arg, status[1]);
		_exit(0);
	}
	if (after_helper_fork(helper, status, fds, n, failure) != 0)
		return -1;
	struct record r;
	int rc = read_record(status[0], &r);
	close(status[0]);
	if (rc == 0)
		return 0;
	set_failure_from_record(rc, &r, failure);
	return -1;
}

/* --- mounts in a pod's mount namespace ------------------------------------------------------ */

struct mount_work {
	const char *const *unmounts;
	int n_unmounts;
	const struct pb_mount *mounts;
	int n_mounts;
};

static void unmount_then_mount(void *arg, int status_wr)
{
	const struct mount_work *w = arg;
	for (int i = 0; i < w->n_unmounts; i++)
		if (umount2(w->unmounts[i], MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
			fail_child(status_wr, PB_STEP_UNMOUNT);
	for (int i = 0; i < w->n_mounts; i++) {
		const struct pb_mount *m = &w->mounts[i];
		unsigned long keep = (m->flags & MS_REMOUNT) ? locked_flags(m->target) : 0;
		if (mount(m->source, m->target, m->fstype, m->flags | keep, m->data) != 0)
			fail_child(status_wr, PB_STEP_MOUNT);
	}
}

int pb_mount_in_namespaces(pid_t target, const char *const *unmounts, int n_unmounts, const struct pb_mount *mounts,
                           int n_mounts, struct pb_failure *failure)
{
	struct mount_work w = {unmounts, n_unmounts, mounts, n_mounts};
	return run_in_namespaces(target, "mnt", unmount_then_mount, &w, failure);
}

/* --- a volume's subPath, resolved inside the volume ---------------------------------------- */

/* One component, beneath dir: no symlink (not even one pointing inside), no magic link, no mount
 * crossing, no escape (pkg/volume/util/subpath/subpath_linux.go doSafeOpen does it with
 * O_NOFOLLOW per component; openat2 has the kernel check it, Linux 5.6+). */
static int open_beneath(int dir, const char *name)
{
	struct open_how how;
	memset(&how, 0, sizeof how);
	how.flags = O_PATH | O_CLOEXEC; /* a symlink, even the last component, is ELOOP */
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
	return (int)syscall(SYS_openat2, dir, name, &how, sizeof how);
}

/* Copies the next component of *p into name; 0 at the end, -1 (errno set) if it is invalid. */
static int next_component(const char **p, char name[NAME_MAX + 1])
{
	while (**p == '/')
		(*p)++;
	size_t len = strcspn(*p, "/");
	if (len == 0)
		return 0;
	if (len > NAME_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(name, *p, len);
	name[len] = 0;
	*p += len;
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		errno = EINVAL;
		return -1;
	}
	return 1;
}

/*
 * kubelet_pods.go makeMounts creates a missing subPath (SafeMakeDir: mkdirat relative to the
 * checked parent, never following a symlink), with the volume's mode; here it is also owned by
 * the container's user, so a non-root container can write what it asked for. The final object is
 * bound by descriptor (open_tree + move_mount: the pod's /proc is not this helper's, so
 * /proc/self/fd/N, which the kubelet binds, does not exist here).
 */
static void bind_subpath(void *arg, int status_wr)
{
	const struct pb_subpath *s = arg;
	umask(0);
	if (umount2(s->target, MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
		fail_child(status_wr, PB_STEP_UNMOUNT);
	int dir = open(s->volume, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (dir < 0 || fstat(dir, &st) != 0)
		fail_child(status_wr, PB_STEP_OPEN_VOLUME);
	const char *p = s->subpath;
	char name[NAME_MAX + 1];
	int more;
	while ((more = next_component(&p, name)) == 1) {
		int next = open_beneath(dir, name);
		if (next < 0 && errno == ENOENT) {
			int created = mkdirat(dir, name, st.st_mode & 0777) == 0;
			if (!created && errno != EEXIST)
				fail_child(status_wr, PB_STEP_CREATE_SUBPATH_DIRECTORY);
			next = open_beneath(dir, name);
			/* In a setgid directory (a volume given to the pod's fsGroup) the new directory
			 * keeps the group it inherited, as everything created there does. */
			struct stat parent;
			gid_t group = fstat(dir, &parent) == 0 && (parent.st_mode & S_ISGID) ? (gid_t)-1 : s->gid;
			if (next >= 0 && created && fchownat(next, "", s->uid, group, AT_EMPTY_PATH) != 0)
				fail_child(status_wr, PB_STEP_CHOWN_SUBPATH_DIRECTORY);
		}
		if (next < 0)
			fail_child(status_wr, PB_STEP_RESOLVE_SUBPATH_BENEATH);
		close(dir);
		dir = next;
	}
	if (more < 0)
		fail_child(status_wr, PB_STEP_RESOLVE_SUBPATH_BENEATH);
	int tree = (int)syscall(SYS_open_tree, dir, "", OPEN_TREE_CLONE | O_CLOEXEC | AT_EMPTY_PATH);
	if (tree < 0)
		fail_child(status_wr, PB_STEP_CLONE_SUBPATH_MOUNT);
	if (syscall(SYS_move_mount, tree, "", AT_FDCWD, s->target, MOVE_MOUNT_F_EMPTY_PATH) != 0)
		fail_child(status_wr, PB_STEP_MOVE_SUBPATH_MOUNT);
}

int pb_bind_subpath_in_namespaces(pid_t target, const struct pb_subpath *s, struct pb_failure *failure)
{
	return run_in_namespaces(target, "mnt", bind_subpath, (void *)s, failure);
}

/* --- a socket in a pod's network namespace ------------------------------------------------- */

static int send_fd(int channel, int fd)
{
	char byte = 0;
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	memset(&u, 0, sizeof u);
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(channel, &msg, 0) == 1 ? 0 : -1;
}

static int receive_fd(int channel)
{
	char byte;
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
	ssize_t n;
	do
		n = recvmsg(channel, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		return -1;
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return -1;
	int fd;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

struct socket_work {
	int domain, type, channel;
	const struct sockaddr *addr; /* bound to it when not NULL */
	socklen_t addr_len;
};

static void make_and_pass_socket(void *arg, int status_wr)
{
	const struct socket_work *w = arg;
	int sock = socket(w->domain, w->type | SOCK_CLOEXEC, 0);
	if (sock < 0)
		fail_child(status_wr, PB_STEP_CREATE_SOCKET);
	if (w->addr && bind(sock, w->addr, w->addr_len) != 0)
		fail_child(status_wr, PB_STEP_BIND_SOCKET);
	if (send_fd(w->channel, sock) != 0)
		fail_child(status_wr, PB_STEP_PASS_SOCKET);
}

/* A socket made in the pod's network namespace, passed back over a socketpair (SCM_RIGHTS): it
 * stays in that namespace, so connect() from here reaches the pod's 127.0.0.1. */
static int socket_in_namespace(pid_t target, struct socket_work *w, struct pb_failure *failure)
{
	int channel[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, channel) != 0) {
		set_failure(failure, PB_STEP_CREATE_PIPE, errno);
		return -1;
	}
	w->channel = channel[1];
	int rc = run_in_namespaces(target, "net", make_and_pass_socket, w, failure);
	close(channel[1]);
	/* The passed fd waits in the socketpair even though the helper has exited. */
	int sock = rc == 0 ? receive_fd(channel[0]) : -1;
	close(channel[0]);
	if (rc == 0 && sock < 0)
		set_failure(failure, PB_STEP_PASS_SOCKET, EPROTO);
	return sock;
}

int pb_socket_in_namespace(pid_t target, int domain, int type, struct pb_failure *failure)
{
	struct socket_work w = {domain, type, -1, NULL, 0};
	return socket_in_namespace(target, &w, failure);
}

int pb_bound_socket_in_namespace(pid_t target, int type, const struct sockaddr *addr, socklen_t addr_len,
                                 struct pb_failure *failure)
{
	struct socket_work w = {addr->sa_family, type, -1, addr, addr_len};
	return socket_in_namespace(target, &w, failure);
}

/* --- a host path (hostPath volume, named volume) bound into a pod --------------------------- */

struct host_tree_work {
	const char *path;
	int channel;
};

/*
 * The pod's mount namespace has a root of its own (sandbox/pod-root.ts) that holds none
 * of the user's files, so a host path is bound into it from outside: cloned here as a detached tree
 * and handed over by descriptor, as systemd's bind_mount_in_namespace does with the new mount API.
 * The path is resolved once, here; what runs later mounts the object found, whatever the path
 * then leads to.
 */
static void clone_host_tree(void *arg, int status_wr)
{
	const struct host_tree_work *w = arg;
	if (geteuid() != 0 && unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0)
		fail_child(status_wr, PB_STEP_UNSHARE_FOR_HOST_PATH);
	int fd = open(w->path, O_PATH | O_CLOEXEC);
	if (fd < 0)
		fail_child(status_wr, PB_STEP_OPEN_HOST_PATH);
	/* Recursive, as the runtimes bind a hostPath (containerd and CRI-O use rbind): a mount below
	 * it comes along, and a mount the user namespace may not uncover is never left bare. */
	int tree = (int)syscall(SYS_open_tree, fd, "", OPEN_TREE_CLONE | AT_RECURSIVE | AT_EMPTY_PATH | O_CLOEXEC);
	if (tree < 0)
		fail_child(status_wr, PB_STEP_CLONE_HOST_PATH_MOUNT);
	if (send_fd(w->channel, tree) != 0)
		fail_child(status_wr, PB_STEP_PASS_HOST_PATH_MOUNT);
}

int pb_open_host_tree(const char *path, struct pb_failure *failure)
{
	int channel[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, channel) != 0) {
		set_failure(failure, PB_STEP_CREATE_PIPE, errno);
		return -1;
	}
	int status[2];
	if (pipe2(status, O_CLOEXEC) != 0) {
		set_failure(failure, PB_STEP_CREATE_PIPE, errno);
		close(channel[0]);
		close(channel[1]);
		return -1;
	}
	struct host_tree_work w = {path, channel[1]};
	pid_t helper = raw_clone(SIGCHLD);
	if (helper == 0) {
		close(status[0]);
		clone_host_tree(&w, status[1]);
		_exit(0);
	}
	close(channel[1]);
	int rc = after_helper_fork(helper, status, NULL, 0, failure);
	if (rc == 0) {
		struct record r;
		int got = read_record(status[0], &r);
		close(status[0]);
		if (got != 0) {
			set_failure_from_record(got, &r, failure);
			rc = -1;
		}
	}
	/* The passed descriptor waits in the socketpair even though the helper has exited. */
	int tree = rc == 0 ? receive_fd(channel[0]) : -1;
	close(channel[0]);
	if (rc == 0 && tree < 0)
		set_failure(failure, PB_STEP_PASS_HOST_PATH_MOUNT, EPROTO);
	return tree;
}

struct move_tree_work {
	int tree;
	const char *target;
};

static void move_tree(void *arg, int status_wr)
{
	const struct move_tree_work *w = arg;
	if (umount2(w->target, MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
		fail_child(status_wr, PB_STEP_UNMOUNT);
	if (syscall(SYS_move_mount, w->tree, "", AT_FDCWD, w->target, MOVE_MOUNT_F_EMPTY_PATH) != 0)
		fail_child(status_wr, PB_STEP_MOVE_HOST_PATH_MOUNT);
}

int pb_move_tree_in_namespaces(pid_t target, int tree, const char *mount_target, struct pb_failure *failure)
{
	struct move_tree_work w = {tree, mount_target};
	return run_in_namespaces(target, "mnt", move_tree, &w, failure);
}

/* --- a volume's group for the pod's fsGroup ------------------------------------------------ */

/* kubelet volume_linux.go changeFilePermission: the group and owner may read and write (0660; read
 * only, 0440, on a read-only volume), and a directory is also searchable (0110) and setgid, so what
 * is created in it belongs to the fsGroup. The mode is the one read before the chown, which clears
 * setuid/setgid on a file; the chmod puts them back. */
static mode_t fs_group_mode(mode_t mode, int read_only)
{
	mode_t mask = read_only ? 0440 : 0660;
	if (S_ISDIR(mode))
		mask |= S_ISGID | 0110;
	return (mode & 07777) | mask;
}

/* requiresPermissionChange, negated: OnRootMismatch leaves a volume whose root directory has the
 * fsGroup, setgid and at least the group bits the walk would add. */
static int root_matches(const struct stat *st, gid_t gid, int read_only)
{
	mode_t need = (read_only ? 0440 : 0660) | 0110;
	return st->st_gid == gid && S_ISDIR(st->st_mode) && (st->st_mode & need) == need && (st->st_mode & S_ISGID);
}

/*
 * The entries under dir, deepest first (kubelet walkDeep: a directory after its children, so a walk
 * cut short leaves the root unchanged and OnRootMismatch walks again). Nothing is followed: every
 * step is relative to a directory opened with O_NOFOLLOW, a symlink gets the group but no chmod
 * (which would follow it). Like changeFilePermission, which logs a failed chown or chmod and goes
 * on, one entry's failure does not stop the walk; a directory that cannot be read does (-1).
 * getdents64 rather than readdir: no malloc in a child forked from a multi-threaded process; a small
 * buffer per level, so even a tree as deep as PATH_MAX allows stays well within the stack.
 */
static int own_tree(int dir, gid_t gid, int read_only)
{
	char buf[1024];
	long n;
	while ((n = syscall(SYS_getdents64, dir, buf, sizeof buf)) > 0) {
		for (long off = 0; off < n;) {
			struct dirent64 *e = (struct dirent64 *)(buf + off);
			off += e->d_reclen;
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			struct stat st;
			if (fstatat(dir, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
				continue;
			if (!S_ISDIR(st.st_mode)) {
				(void)fchownat(dir, e->d_name, (uid_t)-1, gid, AT_SYMLINK_NOFOLLOW);
				if (!S_ISLNK(st.st_mode))
					(void)fchmodat(dir, e->d_name, fs_group_mode(st.st_mode, read_only), 0);
				continue;
			}
			int sub = openat(dir, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0)
				continue; /* replaced since the fstatat */
			int rc = own_tree(sub, gid, read_only);
			if (rc == 0) {
				(void)fchown(sub, (uid_t)-1, gid);
				(void)fchmod(sub, fs_group_mode(st.st_mode, read_only));
			}
			close(sub);
			if (rc != 0)
				return -1;
		}
	}
	return n < 0 ? -1 : 0;
}

struct ownership_work {
	const struct pb_ownership *o;
	int n;
	int report; /* write end of a pipe: one byte per volume, 1 = walked, 0 = left alone */
};

static void set_volume_ownership(void *arg, int status_wr)
{
	const struct ownership_work *w = arg;
	for (int i = 0; i < w->n; i++) {
		const struct pb_ownership *o = &w->o[i];
		int root = open(o->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		struct stat st;
		if (root < 0 || fstat(root, &st) != 0)
			fail_child(status_wr, PB_STEP_OPEN_VOLUME);
		char changed = !(o->on_root_mismatch && root_matches(&st, o->gid, o->read_only));
		if (changed) {
			if (own_tree(root, o->gid, o->read_only) != 0)
				fail_child(status_wr, PB_STEP_READ_VOLUME_DIRECTORY);
			/* The root's own failures are not skipped: a gid the pod does not map fails here (EINVAL). */
			if (fchown(root, (uid_t)-1, o->gid) != 0)
				fail_child(status_wr, PB_STEP_CHOWN_VOLUME);
			if (fchmod(root, fs_group_mode(st.st_mode, o->read_only)) != 0)
				fail_child(status_wr, PB_STEP_CHMOD_VOLUME);
		}
		close(root);
		(void)!write(w->report, &changed, 1);
	}
}

int pb_set_volume_ownership_in_namespaces(pid_t target, const struct pb_ownership *o, int n, char *changed,
                                          struct pb_failure *failure)
{
	int report[2];
	if (pipe2(report, O_CLOEXEC) != 0) {
		set_failure(failure, PB_STEP_CREATE_PIPE, errno);
		return -1;
	}
	struct ownership_work w = {o, n, report[1]};
	int rc = run_in_namespaces(target, NULL, set_volume_ownership, &w, failure);
	close(report[1]);
	/* The helper has exited: all its bytes (n, at most a few dozen) wait in the pipe. After a
	 * failure, the volumes it did not finish read 2: the first of them is the one that failed. */
	memset(changed, 2, (size_t)n);
	ssize_t got = n > 0 ? read(report[0], changed, (size_t)n) : 0;
	close(report[0]);
	/* A helper that died (a signal) reports no failure: a volume it did not finish says so. */
	if (rc == 0 && got < n) {
		set_failure(failure, PB_STEP_READ_VOLUME_DIRECTORY, ECHILD);
		return -1;
	}
	return rc;
}
