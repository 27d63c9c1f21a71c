// podbox_native: the N-API face of native/namespaces.c. Only what Node cannot do itself lives
// here; everything else (id maps, runc, mounts' options, policy) is TypeScript.
//
//   createNamespaces({argv, env, namespaces, hostname, mountProc, giveStatusFd, dieWithParent,
//                     extraFds, stdio, rootDir, program, root[{path, kind: 'ro'|'rw'|'symlink', link}],
//                     parentUserns, uidMap, gidMap})
//       -> {pid, syncFd, statusFd}          child waits until releaseChild(); with parentUserns (an fd)
//                                           its user namespace is made in that one, maps written
//   releaseChild(syncFd, statusFd)          after the id maps are written; throws on failure
//   spawnInNamespaces({pid, namespaces, paths, argv, env, cwd, stdio, dieWithParent, mountProc})
//                                           paths: namespace files to join instead of pid's; through
//                                           the ns-spawn program once setNsSpawn(path) named it
//       -> pid (a child of this process)
//   mountInNamespaces(pid, unmounts[], mounts[{source,target,fstype,flags,data}])
//   watchExit(pid, (code, signal) => {})    calls back once when the child exits (pidfd + uv_poll);
//                                           (null, null) for a process that is not our child
//   watchPidExit(pid, () => {}) -> bool     any process, child or not: calls back once when it has
//                                           exited; false (and no call) when it is already gone
//   pipe() -> [readFd, writeFd]             close-on-exec
//   spawnProgram({path, argv, env, stdio, newSession})
//                                           -> pid: posix_spawn, signals reset to their defaults;
//                                           stdio[i] is the child's fd i, nothing else inherited;
//                                           throws "spawn PATH: ..." with .code
//   mkfifo(path, mode)                      throws "mkfifo PATH: ..." with .code
//   lockFile(path) -> fd | -1               flock(LOCK_EX|LOCK_NB) on path (created 0600); -1 when
//                                           another process holds it; the lock lasts while fd is open
//   socketInNamespace(pid, family 4|6) -> fd  a TCP socket made in the pod's network namespace
//   bindSubpath(pid, {volume, subpath, target, uid, gid})  see pb_bind_subpath_in_namespaces
//   openHostTree(path) -> {fd, mode}       a host path as a detached mount (pb_open_host_tree) and
//                                           the st_mode of what it holds
//   moveTreeInto(pid, fd, target)           mounts it in the pod (pb_move_tree_in_namespaces)
//   setVolumeOwnership(pid, [{path, gid, readOnly, onRootMismatch}]) -> [changed]
//                                           see pb_set_volume_ownership_in_namespaces
#include <napi.h>
#include <uv.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <dirent.h>
#include <cstdlib>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "namespaces.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace
{

// Keeps the strings alive and offers a NULL-terminated char* array, as execve wants.
struct StringArray {
	std::vector<std::string> items;
	std::vector<char *> ptrs;
	void finish()
	{
		ptrs.clear();
		for (auto &s : items)
			ptrs.push_back(const_cast<char *>(s.c_str()));
		ptrs.push_back(nullptr);
	}
	char *const *data()
	{
		return ptrs.data();
	}
};

bool ReadStrings(Napi::Env env, Napi::Value v, const char *what, StringArray *out)
{
	if (!v.IsArray()) {
		Napi::TypeError::New(env, std::string(what) + " must be an array of strings")
		        .ThrowAsJavaScriptException();
		return false;
	}
	auto arr = v.As<Napi::Array>();
	for (uint32_t i = 0; i < arr.Length(); i++) {
		Napi::Value item = arr.Get(i);
		if (!item.IsString()) {
			Napi::TypeError::New(env, std::string(what) + " must be an array of strings")
			        .ThrowAsJavaScriptException();
			return false;
		}
		out->items.push_back(item.As<Napi::String>().Utf8Value());
	}
	out->finish();
	return true;
}

void ReadStdio(Napi::Object o, int stdio[3])
{
	stdio[0] = stdio[1] = stdio[2] = -1;
	Napi::Value v = o.Get("stdio");
	if (!v.IsArray())
		return;
	auto arr = v.As<Napi::Array>();
	for (uint32_t i = 0; i < 3 && i < arr.Length(); i++) {
		Napi::Value fd = arr.Get(i);
		if (fd.IsNumber())
			stdio[i] = fd.As<Napi::Number>().Int32Value();
	}
}

/* What every start of a process names: its argv, its environment and the namespaces involved. */
struct Command {
	StringArray argv, envp, names;
};

bool ReadCommand(Napi::Env env, Napi::Object o, Command *c)
{
	return ReadStrings(env, o.Get("argv"), "argv", &c->argv) && ReadStrings(env, o.Get("env"), "env", &c->envp) &&
	       ReadStrings(env, o.Get("namespaces"), "namespaces", &c->names);
}

void ThrowFailure(Napi::Env env, const pb_failure &f)
{
	std::string msg = std::string(pb_step_name(f.step)) + ": " + strerror(f.err);
	Napi::Error e = Napi::Error::New(env, msg);
	e.Set("step", Napi::String::New(env, pb_step_name(f.step)));
	e.Set("errno", Napi::Number::New(env, f.err));
	e.ThrowAsJavaScriptException();
}

Napi::Value CreateNamespaces(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	Napi::Object o = info[0].As<Napi::Object>();
	Command cmd;
	if (!ReadCommand(env, o, &cmd))
		return env.Undefined();
	StringArray &argv = cmd.argv, &envp = cmd.envp, &names = cmd.names;
	pb_create_config c{};
	for (auto &n : names.items) {
		int flag = pb_namespace_flag(n.c_str());
		if (!flag) {
			Napi::TypeError::New(env, "unknown namespace " + n).ThrowAsJavaScriptException();
			return env.Undefined();
		}
		c.clone_flags |= flag;
	}
	std::string hostname;
	if (o.Get("hostname").IsString()) {
		hostname = o.Get("hostname").As<Napi::String>().Utf8Value();
		c.hostname = hostname.c_str();
	}
	std::string root_dir, program;
	std::vector<std::string> root_strings;
	std::vector<pb_root_entry> root;
	if (o.Get("rootDir").IsString() && o.Get("root").IsArray()) {
		root_dir = o.Get("rootDir").As<Napi::String>().Utf8Value();
		c.root_dir = root_dir.c_str();
		if (o.Get("program").IsString()) {
			program = o.Get("program").As<Napi::String>().Utf8Value();
			c.program = program.c_str();
		}
		auto arr = o.Get("root").As<Napi::Array>();
		root_strings.reserve(arr.Length() * 2);
		for (uint32_t i = 0; i < arr.Length(); i++) {
			Napi::Object e = arr.Get(i).As<Napi::Object>();
			std::string kind = e.Get("kind").ToString().Utf8Value();
			pb_root_entry re{};
			root_strings.push_back(e.Get("path").ToString().Utf8Value());
			re.path = root_strings.back().c_str();
			re.kind = kind == "ro" ? PB_ROOT_BIND_RO : kind == "rw" ? PB_ROOT_BIND_RW : PB_ROOT_SYMLINK;
			if (re.kind == PB_ROOT_SYMLINK) {
				root_strings.push_back(e.Get("link").ToString().Utf8Value());
				re.link = root_strings.back().c_str();
			}
			root.push_back(re);
		}
		c.root = root.data();
		c.n_root = (int)root.size();
	}
	c.mount_proc = o.Get("mountProc").ToBoolean();
	c.give_status_fd = o.Get("giveStatusFd").ToBoolean();
	c.die_with_parent = o.Get("dieWithParent").ToBoolean();
	std::vector<int> extra_fds;
	if (o.Get("extraFds").IsArray()) {
		auto arr = o.Get("extraFds").As<Napi::Array>();
		for (uint32_t i = 0; i < arr.Length(); i++)
			extra_fds.push_back(arr.Get(i).ToNumber().Int32Value());
		if (extra_fds.size() > PB_MAX_EXTRA_FDS) {
			Napi::RangeError::New(env, "extraFds: at most " + std::to_string(PB_MAX_EXTRA_FDS))
			        .ThrowAsJavaScriptException();
			return env.Undefined();
		}
	}
	c.extra_fds = extra_fds.data();
	c.n_extra_fds = (int)extra_fds.size();
	ReadStdio(o, c.stdio);
	c.argv = argv.data();
	c.envp = envp.data();
	c.parent_userns = -1;
	std::string uid_map, gid_map;
	if (o.Get("parentUserns").IsNumber()) {
		c.parent_userns = o.Get("parentUserns").As<Napi::Number>().Int32Value();
		uid_map = o.Get("uidMap").ToString().Utf8Value();
		gid_map = o.Get("gidMap").ToString().Utf8Value();
		c.uid_map = uid_map.c_str();
		c.gid_map = gid_map.c_str();
	}

	int sync_fd = -1, status_fd = -1;
	pb_failure f{};
	pid_t pid = pb_create_namespaces(&c, &sync_fd, &status_fd, &f);
	if (pid < 0) {
		ThrowFailure(env, f);
		return env.Undefined();
	}
	Napi::Object r = Napi::Object::New(env);
	r.Set("pid", Napi::Number::New(env, pid));
	r.Set("syncFd", Napi::Number::New(env, sync_fd));
	r.Set("statusFd", Napi::Number::New(env, status_fd));
	return r;
}

Napi::Value ReleaseChild(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	pb_failure f{};
	if (pb_release_child(info[0].As<Napi::Number>().Int32Value(), info[1].As<Napi::Number>().Int32Value(), &f) != 0)
		ThrowFailure(env, f);
	return env.Undefined();
}

/* The ns-spawn program spawnInNamespaces starts (setNsSpawn); empty: it forks this process instead. */
std::string nsSpawn;

Napi::Value SetNsSpawn(const Napi::CallbackInfo &info)
{
	nsSpawn = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
	return info.Env().Undefined();
}

Napi::Value SpawnInNamespaces(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	Napi::Object o = info[0].As<Napi::Object>();
	Command cmd;
	if (!ReadCommand(env, o, &cmd))
		return env.Undefined();
	std::vector<const char *> ns;
	for (auto &n : cmd.names.items)
		ns.push_back(n.c_str());
	std::string cwd;
	pb_spawn_config c{};
	c.target = o.Get("pid").As<Napi::Number>().Int32Value();
	c.namespaces = ns.data();
	c.n_namespaces = (int)ns.size();
	StringArray paths;
	std::vector<const char *> path_ptrs;
	if (o.Get("paths").IsArray()) {
		if (!ReadStrings(env, o.Get("paths"), "paths", &paths))
			return env.Undefined();
		if (paths.items.size() != ns.size()) {
			Napi::TypeError::New(env, "paths: one per namespace").ThrowAsJavaScriptException();
			return env.Undefined();
		}
		for (auto &p : paths.items)
			path_ptrs.push_back(p.c_str());
		c.paths = path_ptrs.data();
	}
	c.argv = cmd.argv.data();
	c.envp = cmd.envp.data();
	if (o.Get("cwd").IsString()) {
		cwd = o.Get("cwd").As<Napi::String>().Utf8Value();
		c.cwd = cwd.c_str();
	}
	ReadStdio(o, c.stdio);
	c.die_with_parent = o.Get("dieWithParent").ToBoolean();
	c.mount_proc = o.Get("mountProc").ToBoolean();
	c.helper = nsSpawn.empty() ? nullptr : nsSpawn.c_str();
	pb_failure f{};
	pid_t pid = pb_spawn_in_namespaces(&c, &f);
	if (pid < 0) {
		ThrowFailure(env, f);
		return env.Undefined();
	}
	return Napi::Number::New(env, pid);
}

Napi::Value MountInNamespaces(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	pid_t target = info[0].As<Napi::Number>().Int32Value();
	StringArray unmounts;
	if (!ReadStrings(env, info[1], "unmounts", &unmounts))
		return env.Undefined();
	std::vector<const char *> um;
	for (auto &s : unmounts.items)
		um.push_back(s.c_str());

	auto arr = info[2].As<Napi::Array>();
	std::vector<std::string> strings;
	strings.reserve(arr.Length() * 4);
	std::vector<pb_mount> mounts;
	auto str = [&](Napi::Object m, const char *key) -> const char * {
		Napi::Value v = m.Get(key);
		if (!v.IsString())
			return nullptr;
		strings.push_back(v.As<Napi::String>().Utf8Value());
		return strings.back().c_str();
	};
	for (uint32_t i = 0; i < arr.Length(); i++) {
		Napi::Object m = arr.Get(i).As<Napi::Object>();
		pb_mount pm{};
		pm.source = str(m, "source");
		pm.target = str(m, "target");
		pm.fstype = str(m, "fstype");
		pm.data = str(m, "data");
		pm.flags = (unsigned long)m.Get("flags").ToNumber().Int64Value();
		mounts.push_back(pm);
	}
	pb_failure f{};
	if (pb_mount_in_namespaces(target, um.data(), (int)um.size(), mounts.data(), (int)mounts.size(), &f) != 0)
		ThrowFailure(env, f);
	return env.Undefined();
}

Napi::Value BindSubpath(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	pid_t target = info[0].As<Napi::Number>().Int32Value();
	Napi::Object o = info[1].As<Napi::Object>();
	std::string volume = o.Get("volume").ToString().Utf8Value();
	std::string subpath = o.Get("subpath").ToString().Utf8Value();
	std::string mount_target = o.Get("target").ToString().Utf8Value();
	pb_subpath s{};
	s.volume = volume.c_str();
	s.subpath = subpath.c_str();
	s.target = mount_target.c_str();
	s.uid = (uid_t)o.Get("uid").ToNumber().Uint32Value();
	s.gid = (gid_t)o.Get("gid").ToNumber().Uint32Value();
	pb_failure f{};
	if (pb_bind_subpath_in_namespaces(target, &s, &f) != 0)
		ThrowFailure(env, f);
	return env.Undefined();
}

Napi::Value SetVolumeOwnership(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	pid_t target = info[0].As<Napi::Number>().Int32Value();
	Napi::Array a = info[1].As<Napi::Array>();
	std::vector<std::string> paths;
	std::vector<pb_ownership> volumes(a.Length());
	for (uint32_t i = 0; i < a.Length(); i++)
		paths.push_back(a.Get(i).As<Napi::Object>().Get("path").ToString().Utf8Value());
	for (uint32_t i = 0; i < a.Length(); i++) {
		Napi::Object o = a.Get(i).As<Napi::Object>();
		volumes[i].path = paths[i].c_str();
		volumes[i].gid = (gid_t)o.Get("gid").ToNumber().Uint32Value();
		volumes[i].read_only = o.Get("readOnly").ToBoolean().Value();
		volumes[i].on_root_mismatch = o.Get("onRootMismatch").ToBoolean().Value();
	}
	std::vector<char> changed(volumes.size(), 1);
	pb_failure f{};
	int n = (int)volumes.size();
	if (pb_set_volume_ownership_in_namespaces(target, volumes.data(), n, changed.data(), &f) != 0) {
		// As ThrowFailure, plus .volume: the index of the volume that failed, the first one not done.
		std::string msg = std::string(pb_step_name(f.step)) + ": " + strerror(f.err);
		Napi::Error e = Napi::Error::New(env, msg);
		e.Set("step", Napi::String::New(env, pb_step_name(f.step)));
		e.Set("errno", Napi::Number::New(env, f.err));
		int at = 0;
		while (at < n && changed[at] != 2)
			at++;
		e.Set("volume", Napi::Number::New(env, at));
		e.ThrowAsJavaScriptException();
		return env.Undefined();
	}
	Napi::Array r = Napi::Array::New(env, changed.size());
	for (size_t i = 0; i < changed.size(); i++)
		r.Set((uint32_t)i, Napi::Boolean::New(env, changed[i] != 0));
	return r;
}

// --- watching a child's exit without blocking the event loop ---------------------------------

struct ExitWatch {
	uv_poll_t poll;
	int pidfd;
	pid_t pid;
	Napi::FunctionReference callback;
	Napi::AsyncContext *context;
	napi_env env;
};

void OnPollClosed(uv_handle_t *h)
{
	auto *w = static_cast<ExitWatch *>(h->data);
	close(w->pidfd);
	delete w->context;
	delete w;
}

void OnExitReadable(uv_poll_t *handle, int, int)
{
	auto *w = static_cast<ExitWatch *>(handle->data);
	siginfo_t si;
	memset(&si, 0, sizeof si);
	int rc = (int)syscall(SYS_waitid, P_PIDFD, w->pidfd, &si, WEXITED | WNOHANG, nullptr);
	// ECHILD: it exited but is not our child (reaped elsewhere), so how it ended is unknown here;
	// returning would leave the pidfd readable and this callback spinning.
	bool not_ours = rc != 0 && errno == ECHILD;
	if (!not_ours && (rc != 0 || si.si_pid == 0))
		return; // spurious wake-up
	uv_poll_stop(handle);
	Napi::Env env(w->env);
	Napi::HandleScope scope(env);
	Napi::Value code = env.Null(), sig = env.Null();
	if (!not_ours && si.si_code == CLD_EXITED)
		code = Napi::Number::New(env, si.si_status);
	else if (!not_ours)
		sig = Napi::Number::New(env, si.si_status);
	w->callback.MakeCallback(env.Global(), {code, sig}, *w->context);
	w->callback.Reset();
	uv_close(reinterpret_cast<uv_handle_t *>(handle), OnPollClosed);
}

Napi::Value WatchExit(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	pid_t pid = info[0].As<Napi::Number>().Int32Value();
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		pb_failure f{PB_STEP_NONE, errno};
		Napi::Error::New(env, std::string("pidfd_open: ") + strerror(f.err)).ThrowAsJavaScriptException();
		return env.Undefined();
	}
	uv_loop_t *loop = nullptr;
	napi_get_uv_event_loop(env, &loop);
	auto *w = new ExitWatch();
	w->pidfd = pidfd;
	w->pid = pid;
	w->env = env;
	w->callback = Napi::Persistent(info[1].As<Napi::Function>());
	w->context = new Napi::AsyncContext(env, "podbox.watchExit");
	w->poll.data = w;
	uv_poll_init(loop, &w->poll, pidfd);
	uv_poll_start(&w->poll, UV_READABLE, OnExitReadable);
	return env.Undefined();
}

// --- watching any process's exit: a pod's pause need not be our child ------------------------
//
// A supervisor that adopted a pod (its predecessor created pause, and pause's parent is now init
// or a subreaper) cannot wait for pause, but a pidfd of it turns readable when it exits all the
// same (pidfd_open(2)). Nothing is reaped here: that is the parent's business.

struct PidWatch {
	uv_poll_t poll;
	int pidfd;
	Napi::FunctionReference callback;
	Napi::AsyncContext *context;
	napi_env env;
};

void OnPidWatchClosed(uv_handle_t *h)
{
	auto *w = static_cast<PidWatch *>(h->data);
	close(w->pidfd);
	delete w->context;
	delete w;
}

void OnPidExited(uv_poll_t *handle, int, int)
{
	auto *w = static_cast<PidWatch *>(handle->data);
	uv_poll_stop(handle);
	Napi::Env env(w->env);
	Napi::HandleScope scope(env);
	w->callback.MakeCallback(env.Global(), {}, *w->context);
	w->callback.Reset();
	uv_close(reinterpret_cast<uv_handle_t *>(handle), OnPidWatchClosed);
}

Napi::Value WatchPidExit(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	pid_t pid = info[0].As<Napi::Number>().Int32Value();
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0 && errno == ESRCH)
		return Napi::Boolean::New(env, false);
	if (pidfd < 0) {
		Napi::Error::New(env, std::string("pidfd_open: ") + strerror(errno)).ThrowAsJavaScriptException();
		return env.Undefined();
	}
	uv_loop_t *loop = nullptr;
	napi_get_uv_event_loop(env, &loop);
	auto *w = new PidWatch();
	w->pidfd = pidfd;
	w->env = env;
	w->callback = Napi::Persistent(info[1].As<Napi::Function>());
	w->context = new Napi::AsyncContext(env, "podbox.watchPidExit");
	w->poll.data = w;
	uv_poll_init(loop, &w->poll, pidfd);
	uv_poll_start(&w->poll, UV_READABLE, OnPidExited);
	return Napi::Boolean::New(env, true);
}

// --- files: a named pipe, and a lock held for as long as a descriptor is open ---------------

// "mkfifo /run/x: File exists", with .errno and, as Node's own errors have, .code ("EEXIST").
void ThrowPathError(Napi::Env env, const char *what, const std::string &path, int err)
{
	Napi::Error e = Napi::Error::New(env, std::string(what) + " " + path + ": " + strerror(err));
	const char *code = strerrorname_np(err);
	if (code)
		e.Set("code", Napi::String::New(env, code));
	e.Set("errno", Napi::Number::New(env, err));
	e.ThrowAsJavaScriptException();
}

Napi::Value Mkfifo(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	std::string path = info[0].ToString().Utf8Value();
	if (mkfifo(path.c_str(), (mode_t)info[1].ToNumber().Uint32Value()) != 0)
		ThrowPathError(env, "mkfifo", path, errno);
	return env.Undefined();
}

// flock, not fcntl locks: a flock belongs to the open file, so it is released only when the last
// descriptor of it closes (or its process dies), and O_CLOEXEC keeps it out of every child.
Napi::Value LockFile(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	std::string path = info[0].ToString().Utf8Value();
	int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		ThrowPathError(env, "open lock file", path, errno);
		return env.Undefined();
	}
	int rc;
	do
		rc = flock(fd, LOCK_EX | LOCK_NB);
	while (rc != 0 && errno == EINTR);
	if (rc == 0)
		return Napi::Number::New(env, fd);
	int err = errno;
	close(fd);
	if (err == EWOULDBLOCK)
		return Napi::Number::New(env, -1);
	ThrowPathError(env, "lock", path, err);
	return env.Undefined();
}

Napi::Value Pipe(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) != 0) {
		Napi::Error::New(env, std::string("pipe: ") + strerror(errno)).ThrowAsJavaScriptException();
		return env.Undefined();
	}
	Napi::Array r = Napi::Array::New(env, 2);
	r.Set(0u, Napi::Number::New(env, fds[0]));
	r.Set(1u, Napi::Number::New(env, fds[1]));
	return r;
}

/* Every descriptor from `first` on is closed in the child: closefrom where the C library has it
 * (glibc 2.34), else each one open here that is not close-on-exec. */
void CloseInheritedFrom(posix_spawn_file_actions_t *actions, int first)
{
#if defined(__GLIBC__) && __GLIBC_PREREQ(2, 34)
	posix_spawn_file_actions_addclosefrom_np(actions, first);
#else
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return;
	int own = dirfd(d);
	for (struct dirent *e; (e = readdir(d));) {
		int fd = atoi(e->d_name);
		if (e->d_name[0] == '.' || fd < first || fd == own)
			continue;
		int flags = fcntl(fd, F_GETFD);
		if (flags >= 0 && !(flags & FD_CLOEXEC))
			posix_spawn_file_actions_addclose(actions, fd);
	}
	closedir(d);
#endif
}

/*
 * A program started as posix_spawn starts one: glibc clones with CLONE_VM|CLONE_VFORK, so nothing of
 * Node's memory is copied, where child_process forks it (milliseconds for a large Node on a
 * small VM, each time: podbox starts newuidmap, newgidmap and pasta on the way to every pod).
 * The child gets stdio (fd i: stdio[i]; -1: inherited) and no other descriptor, default signal
 * dispositions (Node ignores SIGPIPE) and an empty signal mask; it stays in our session and process
 * group, as child_process's children do, unless newSession (setsid, as child_process's detached).
 */
Napi::Value SpawnProgram(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	Napi::Object o = info[0].As<Napi::Object>();
	StringArray argv, envp;
	if (!o.Get("path").IsString()) {
		Napi::TypeError::New(env, "path must be a string").ThrowAsJavaScriptException();
		return env.Undefined();
	}
	std::string path = o.Get("path").As<Napi::String>().Utf8Value();
	if (!ReadStrings(env, o.Get("argv"), "argv", &argv) || !ReadStrings(env, o.Get("env"), "env", &envp))
		return env.Undefined();
	/* stdio[i] becomes the child's fd i (at least 0, 1 and 2; -1: inherited, for those three). */
	std::vector<int> fds(3, -1);
	if (o.Get("stdio").IsArray()) {
		auto arr = o.Get("stdio").As<Napi::Array>();
		for (uint32_t i = 0; i < arr.Length(); i++) {
			if (i >= fds.size())
				fds.push_back(-1);
			if (arr.Get(i).IsNumber())
				fds[i] = arr.Get(i).As<Napi::Number>().Int32Value();
		}
	}
	posix_spawn_file_actions_t actions;
	posix_spawnattr_t attr;
	posix_spawn_file_actions_init(&actions);
	posix_spawnattr_init(&attr);
	for (size_t i = 0; i < fds.size(); i++)
		if (fds[i] >= 0)
			posix_spawn_file_actions_adddup2(&actions, fds[i],
			                                 (int)i); /* (same fd: clears close-on-exec) */
	/* Not every descriptor of this process is close-on-exec (a parent's IPC channel is not, by design). */
	CloseInheritedFrom(&actions, (int)fds.size());
	sigset_t none, all;
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
	if (o.Get("newSession").ToBoolean())
		flags |= POSIX_SPAWN_SETSID;
	posix_spawnattr_setflags(&attr, flags);
	pid_t pid = -1;
	int rc = posix_spawn(&pid, path.c_str(), &actions, &attr, argv.data(), envp.data());
	posix_spawn_file_actions_destroy(&actions);
	posix_spawnattr_destroy(&attr);
	if (rc != 0) {
		Napi::Error e = Napi::Error::New(env, "spawn " + path + ": " + strerror(rc));
		e.Set("code", Napi::String::New(env, rc == ENOENT ? "ENOENT" : rc == EACCES ? "EACCES" : "ESPAWN"));
		e.ThrowAsJavaScriptException();
		return env.Undefined();
	}
	return Napi::Number::New(env, pid);
}

Napi::Value SocketInNamespace(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	pid_t target = info[0].As<Napi::Number>().Int32Value();
	int family = info[1].As<Napi::Number>().Int32Value() == 6 ? AF_INET6 : AF_INET;
	pb_failure f{};
	int fd = pb_socket_in_namespace(target, family, SOCK_STREAM, &f);
	if (fd < 0) {
		ThrowFailure(env, f);
		return env.Undefined();
	}
	return Napi::Number::New(env, fd);
}

// boundSocketInNamespace(pid, 'udp' | 'tcp', ip, port): a socket bound to ip:port in the pod's network namespace.
Napi::Value BoundSocketInNamespace(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	pid_t target = info[0].As<Napi::Number>().Int32Value();
	int type = info[1].ToString().Utf8Value() == "udp" ? SOCK_DGRAM : SOCK_STREAM;
	std::string ip = info[2].ToString().Utf8Value();
	int port = info[3].As<Napi::Number>().Int32Value();
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	socklen_t len;
	auto *v4 = reinterpret_cast<struct sockaddr_in *>(&ss);
	auto *v6 = reinterpret_cast<struct sockaddr_in6 *>(&ss);
	if (inet_pton(AF_INET, ip.c_str(), &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons(port);
		len = sizeof *v4;
	} else if (inet_pton(AF_INET6, ip.c_str(), &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons(port);
		len = sizeof *v6;
	} else {
		Napi::TypeError::New(env, "not an IP address: " + ip).ThrowAsJavaScriptException();
		return env.Undefined();
	}
	pb_failure f{};
	int fd = pb_bound_socket_in_namespace(target, type, reinterpret_cast<struct sockaddr *>(&ss), len, &f);
	if (fd < 0) {
		ThrowFailure(env, f);
		return env.Undefined();
	}
	return Napi::Number::New(env, fd);
}

Napi::Value OpenHostTree(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	std::string path = info[0].ToString().Utf8Value();
	pb_failure f{};
	int fd = pb_open_host_tree(path.c_str(), &f);
	if (fd < 0) {
		ThrowFailure(env, f);
		return env.Undefined();
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		int err = errno;
		close(fd);
		ThrowFailure(env, pb_failure{PB_STEP_OPEN_HOST_PATH, err});
		return env.Undefined();
	}
	Napi::Object r = Napi::Object::New(env);
	r.Set("fd", Napi::Number::New(env, fd));
	r.Set("mode", Napi::Number::New(env, st.st_mode));
	return r;
}

Napi::Value MoveTreeInto(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	pid_t target = info[0].As<Napi::Number>().Int32Value();
	int fd = info[1].As<Napi::Number>().Int32Value();
	std::string mount_target = info[2].ToString().Utf8Value();
	pb_failure f{};
	if (pb_move_tree_in_namespaces(target, fd, mount_target.c_str(), &f) != 0)
		ThrowFailure(env, f);
	return env.Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports)
{
	exports.Set("openHostTree", Napi::Function::New(env, OpenHostTree));
	exports.Set("moveTreeInto", Napi::Function::New(env, MoveTreeInto));
	exports.Set("spawnProgram", Napi::Function::New(env, SpawnProgram));
	exports.Set("setNsSpawn", Napi::Function::New(env, SetNsSpawn));
	exports.Set("socketInNamespace", Napi::Function::New(env, SocketInNamespace));
	exports.Set("boundSocketInNamespace", Napi::Function::New(env, BoundSocketInNamespace));
	exports.Set("createNamespaces", Napi::Function::New(env, CreateNamespaces));
	exports.Set("releaseChild", Napi::Function::New(env, ReleaseChild));
	exports.Set("spawnInNamespaces", Napi::Function::New(env, SpawnInNamespaces));
	exports.Set("mountInNamespaces", Napi::Function::New(env, MountInNamespaces));
	exports.Set("bindSubpath", Napi::Function::New(env, BindSubpath));
	exports.Set("setVolumeOwnership", Napi::Function::New(env, SetVolumeOwnership));
	exports.Set("watchExit", Napi::Function::New(env, WatchExit));
	exports.Set("watchPidExit", Napi::Function::New(env, WatchPidExit));
	exports.Set("pipe", Napi::Function::New(env, Pipe));
	exports.Set("mkfifo", Napi::Function::New(env, Mkfifo));
	exports.Set("lockFile", Napi::Function::New(env, LockFile));
	return exports;
}

} // namespace

NODE_API_MODULE(podbox_native, Init)
