/*
 * The kernel steps podbox cannot do from Node: creating a pod's namespaces, joining them to spawn
 * a process inside, and mounting inside them. Each step has a name (pb_step_name) that errors
 * carry, so a failure reads "join_mount_namespace: Operation not permitted".
 */
#ifndef PODBOX_NAMESPACES_H
#define PODBOX_NAMESPACES_H

#include <sys/socket.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct pb_failure {
	int step; /* an enum pb_step */
	int err;  /* errno */
};

enum pb_step {
	PB_STEP_NONE = 0,
	PB_STEP_CREATE_PIPE,
	PB_STEP_CLONE_NAMESPACES,
	PB_STEP_WAIT_FOR_ID_MAPS,
	PB_STEP_BECOME_ROOT_IN_USER_NAMESPACE,
	PB_STEP_MAKE_MOUNTS_SLAVE,
	PB_STEP_MOUNT_PROC,
	PB_STEP_SET_HOSTNAME,
	PB_STEP_BRING_UP_LOOPBACK,
	PB_STEP_SET_UP_STDIO,
	PB_STEP_CHANGE_DIRECTORY,
	PB_STEP_EXEC,
	PB_STEP_OPEN_NAMESPACE,
	PB_STEP_FORK,
	PB_STEP_JOIN_NAMESPACE,
	PB_STEP_CLONE_INTO_PID_NAMESPACE,
	PB_STEP_UNMOUNT,
	PB_STEP_MOUNT,
	PB_STEP_READ_STATUS,
	PB_STEP_CREATE_SOCKET,
	PB_STEP_PASS_SOCKET,
	PB_STEP_COPY_PROGRAM,
	PB_STEP_MOUNT_ROOT_TMPFS,
	PB_STEP_MAKE_MOUNTPOINT,
	PB_STEP_BIND_INTO_ROOT,
	PB_STEP_PIVOT_ROOT,
	PB_STEP_DETACH_OLD_ROOT,
	PB_STEP_REMOUNT_ROOT_READ_ONLY,
	PB_STEP_OPEN_VOLUME,
	PB_STEP_RESOLVE_SUBPATH_BENEATH,
	PB_STEP_CREATE_SUBPATH_DIRECTORY,
	PB_STEP_CHOWN_SUBPATH_DIRECTORY,
	PB_STEP_CLONE_SUBPATH_MOUNT,
	PB_STEP_MOVE_SUBPATH_MOUNT,
	PB_STEP_PASS_EXTRA_FDS,
	PB_STEP_UNSHARE_FOR_HOST_PATH,
	PB_STEP_OPEN_HOST_PATH,
	PB_STEP_CLONE_HOST_PATH_MOUNT,
	PB_STEP_PASS_HOST_PATH_MOUNT,
	PB_STEP_MOVE_HOST_PATH_MOUNT,
	PB_STEP_READ_VOLUME_DIRECTORY,
	PB_STEP_CHOWN_VOLUME,
	PB_STEP_CHMOD_VOLUME,
	PB_STEP_BIND_SOCKET,
	PB_STEP_JOIN_PARENT_USER_NAMESPACE,
	PB_STEP_WRITE_ID_MAPS,
	PB_STEP_COUNT
};

const char *pb_step_name(int step);

/* "user" -> CLONE_NEWUSER ...; 0 for an unknown name. */
int pb_namespace_flag(const char *name);
/* "user" -> "user", "mnt" -> "mnt": the file name under /proc/PID/ns/. */
const char *pb_namespace_file(const char *name);

/*
 * One entry of a pod's own root filesystem: `path` of the host appears at the same path in the
 * new root, bound read-only or read-write, or (PB_ROOT_SYMLINK) as a symlink to `link`, as
 * bubblewrap's --ro-bind, --bind and --symlink do.
 */
enum pb_root_kind { PB_ROOT_BIND_RO = 1, PB_ROOT_BIND_RW, PB_ROOT_SYMLINK };
struct pb_root_entry {
	const char *path;
	int kind; /* an enum pb_root_kind */
	const char *link;
};

#define PB_MAX_EXTRA_FDS 8

struct pb_create_config {
	int clone_flags;      /* CLONE_NEW* of the namespaces to create */
	const char *hostname; /* set in the new UTS namespace, or NULL */
	int mount_proc;       /* mount a fresh /proc for the new PID namespace */
	int give_status_fd;   /* pass the status pipe as fd 3 (pause -r 3) instead of closing it at exec */
	int die_with_parent;  /* PR_SET_PDEATHSIG: killed when the creating thread's process exits */
	const int *extra_fds; /* more fds the program keeps, at 4, 5, ... in this order (pause -e 4) */
	int n_extra_fds;      /* at most PB_MAX_EXTRA_FDS */
	int stdio[3];         /* fds for 0,1,2 of the child, or -1 to inherit */
	char *const *argv;
	char *const *envp;
	/* With a mount namespace: build a new root on the empty directory root_dir from root[],
	 * pivot into it (the host's root is detached) and exec argv[0] from a sealed memory copy,
	 * so nothing of the host but root[] is reachable through /proc/PID/root or /proc/PID/exe. */
	const char *root_dir;
	const char *program; /* the file to copy and run, which argv[0] need not name */
	const struct pb_root_entry *root;
	int n_root;
	/* -1, or a user namespace (an fd) to make the child's user namespace in, instead of the caller's:
	 * a pod on the pod network (src/sandbox/pod-bridge.ts). The child's maps are then written here,
	 * by a helper that is root in that namespace: uid_map and gid_map, each in one write. */
	int parent_userns;
	const char *uid_map;
	const char *gid_map;
};

/*
 * Starts argv[0] in new namespaces. The child waits until pb_release_child() is called, so the
 * caller can write its uid/gid maps in between. Returns the child's pid, or -1 with *failure set.
 */
pid_t pb_create_namespaces(const struct pb_create_config *config, int *sync_fd, int *status_fd,
                           struct pb_failure *failure);

/* Lets the child go on and waits until it has exec'd (and, with give_status_fd, until it closed fd 3). */
int pb_release_child(int sync_fd, int status_fd, struct pb_failure *failure);

struct pb_spawn_config {
	pid_t target;                  /* a process inside the pod (the pause process) */
	const char *const *namespaces; /* names, in join order; "user" must come first */
	int n_namespaces;
	const char *const *paths; /* NULL, or for each name the namespace file to join instead of the target's */
	char *const *argv;
	char *const *envp;
	const char *cwd;
	int stdio[3];
	int die_with_parent; /* PR_SET_PDEATHSIG: killed when the caller exits */
	int mount_proc;      /* in a mount namespace of its own, a /proc of the PID namespace it joined */
	const char *helper;  /* ns-spawn, started by posix_spawn to join the namespaces; NULL: a fork */
};

/*
 * Spawns argv[0] inside the namespaces of config->target. The new process is a child of the
 * caller (CLONE_PARENT from an intermediate process), so it can be waited for like any child.
 */
pid_t pb_spawn_in_namespaces(const struct pb_spawn_config *config, struct pb_failure *failure);

/* The helper's part of it: joins fds[0..n), clones the program (config's argv, envp, cwd, stdio,
 * die_with_parent, mount_proc) as its parent's child, reports its pid on status_wr, exits. */
void pb_spawn_helper(const int *fds, int n, const struct pb_spawn_config *config, int status_wr)
        __attribute__((noreturn));

struct pb_mount {
	const char *source;
	const char *target;
	const char *fstype;
	unsigned long flags;
	const char *data;
};

/* Unmounts then mounts, in a forked child that joined the target's user and mount namespaces. */
int pb_mount_in_namespaces(pid_t target, const char *const *unmounts, int n_unmounts, const struct pb_mount *mounts,
                           int n_mounts, struct pb_failure *failure);

struct pb_subpath {
	const char *volume;  /* the volume's directory */
	const char *subpath; /* relative, no '..' (checked again here) */
	const char *target;  /* an existing file or directory the pod's containers cannot write */
	uid_t uid;           /* owner of directories created on the way, in the pod's user namespace */
	gid_t gid;
};

/*
 * In the user and mount namespaces of `target`: resolves subpath inside volume one component at
 * a time without following any symlink or leaving the volume, creates missing directories, and
 * binds what it found onto s->target by file descriptor (replacing an earlier bind there).
 */
int pb_bind_subpath_in_namespaces(pid_t target, const struct pb_subpath *s, struct pb_failure *failure);

/*
 * A host path as a detached mount tree (open_tree OPEN_TREE_CLONE | AT_RECURSIVE), opened once,
 * following symlinks as the kubelet's bind of a hostPath does; returns its descriptor (close-on-exec),
 * or -1 with *failure set. Rootless, the clone is made in a user and mount namespace of its own
 * (the host's mount namespace is not the user's to clone from). fstat() of the descriptor is the
 * object that pb_move_tree_in_namespaces mounts: its type is checked on that, not on a path.
 */
int pb_open_host_tree(const char *path, struct pb_failure *failure);

/* In the user and mount namespaces of `target`: mounts the detached tree `tree` onto mount_target
 * (replacing an earlier mount there). */
int pb_move_tree_in_namespaces(pid_t target, int tree, const char *mount_target, struct pb_failure *failure);

/*
 * Creates a socket inside the network namespace of `target` (joining its user namespace first)
 * and returns its descriptor in the caller, which stays in its own namespaces: the supervisor
 * then probes the pod's 127.0.0.1 with no tool inside the image. Returns -1 with *failure set.
 */
int pb_socket_in_namespace(pid_t target, int domain, int type, struct pb_failure *failure);

/*
 * The same, bound to `addr` inside the namespace: the bind is made by the helper, which holds every
 * capability of the pod's user namespace, so a port below net.ipv4.ip_unprivileged_port_start (DNS's
 * 53) can be bound in the pod's network namespace by a user who may not bind it on the host.
 */
int pb_bound_socket_in_namespace(pid_t target, int type, const struct sockaddr *addr, socklen_t addr_len,
                                 struct pb_failure *failure);

struct pb_ownership {
	const char *path;     /* the volume's directory, as the host sees it */
	gid_t gid;            /* the pod's fsGroup, a gid of the pod's user namespace */
	int read_only;        /* a read-only volume: the group may read (0440) rather than read and write (0660) */
	int on_root_mismatch; /* fsGroupChangePolicy OnRootMismatch: leave the tree when its root already matches */
};

/*
 * Makes each of n volumes' trees group-owned by the fsGroup (kubelet volume_linux.go
 * SetVolumeOwnership), from one helper that joined only the user namespace of `target`: it keeps
 * the host's view of the files (the pod's root shows the pod directory read-only) and can give them
 * any gid the pod maps. changed[i] is set to 0 when OnRootMismatch found volume i's root matching
 * and left its tree alone, 1 when the tree was walked, 2 when the helper failed before it was done.
 */
int pb_set_volume_ownership_in_namespaces(pid_t target, const struct pb_ownership *o, int n, char *changed,
                                          struct pb_failure *failure);

#ifdef __cplusplus
}
#endif

#endif
