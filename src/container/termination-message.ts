import { closeSync, constants, fchmodSync, fstatSync, openSync, readSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Container } from '../api/types.js';
import { parseRecord } from '../logs/cri-log.js';
import { bundlePaths } from './bundle.js';
import type { MountSource } from './oci-config.js';

/**
 * A container's termination message
 * (https://kubernetes.io/docs/tasks/debug/debug-application/determine-reason-pod-failure/).
 * As the kubelet does (kuberuntime_container.go makeMounts), each container instance gets a fresh
 * empty host file, mode 0666 so any user of the container may write it, bind-mounted at its
 * terminationMessagePath; after the container exits the message is read from that file
 * (getTerminationMessage) or, under FallbackToLogsOnError, from the end of its log
 * (readLastStringFromContainerLogs). The sizes are kubecontainer's (pkg/kubelet/container/runtime.go).
 */
const MAX_TERMINATION_MESSAGE_BYTES = 4 * 1024;
const MAX_TERMINATION_MESSAGE_LOG_BYTES = 2 * 1024;
const MAX_TERMINATION_MESSAGE_LOG_LINES = 80;

/**
 * In the container's layer/ directory: the pod's root shows the pod directory read-only
 * (sandbox/pod-root.ts) and layer/ is the container's writable part of it.
 */
function hostFile(podDir: string, container: string): string {
  return join(bundlePaths(podDir, container).layer, 'termination-log');
}

/** A fresh empty file for the instance about to start, and its mount at terminationMessagePath. */
export function terminationMessageMount(podDir: string, c: Container): MountSource {
  const file = hostFile(podDir, c.name);
  rmSync(file, { force: true });
  // layer/ is writable from inside the pod: create the file without following a symlink planted
  // there, and set its mode through the descriptor, not the path.
  const fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    fchmodSync(fd, 0o666);
  } finally {
    closeSync(fd);
  }
  return { source: file, destination: c.terminationMessagePath, readOnly: false };
}

/**
 * The message of an instance that exited with `exitCode` (kuberuntime_container.go
 * getPodContainerStatuses): the last 4096 bytes of its file; when that is empty, the policy is
 * FallbackToLogsOnError and the container failed, the last 80 lines of its log, at most 2048 bytes.
 * The file is opened without following a symlink. Undefined when there is no message.
 */
export function readTerminationMessage(
  podDir: string,
  c: Container,
  exitCode: number,
  logFile: string,
): string | undefined {
  const fallback = c.terminationMessagePolicy === 'FallbackToLogsOnError' && exitCode !== 0;
  const file = hostFile(podDir, c.name);
  let message = '';
  try {
    message = tail(file, MAX_TERMINATION_MESSAGE_BYTES).text;
  } catch (e) {
    // getTerminationMessage: a missing file is no message; another error is the message.
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
      return `Error on reading termination log ${file}: ${(e as Error).message}`;
  }
  if (!message && fallback) message = logTail(logFile);
  return message || undefined;
}

/** The last `max` bytes of a regular file, never through a symlink; `cut` when there was more. */
function tail(file: string, max: number): { text: string; cut: boolean } {
  const fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return { text: '', cut: false };
    const size = Math.min(st.size, max);
    const buf = Buffer.alloc(size);
    const n = readSync(fd, buf, 0, size, st.size - size);
    return { text: buf.subarray(0, n).toString(), cut: st.size > size };
  } finally {
    closeSync(fd);
  }
}

/**
 * readLastStringFromContainerLogs: the last 80 lines of the log, each with its newline, cut to the
 * last 2048 bytes. Only the end of the log is read: 80 records of at most 2048 bytes of text in
 * all, plus the one the cut falls in (at most 16 KiB, the longest record a log has), fit in it.
 */
function logTail(logFile: string): string {
  let end: { text: string; cut: boolean };
  try {
    end = tail(logFile, LOG_WINDOW_BYTES);
  } catch {
    return '';
  }
  const records = end.text.split('\n');
  if (end.cut) records.shift();
  // CRI records back into lines: P records are the parts of a line that an F record ends.
  const lines: string[] = [];
  let partial = '';
  for (const raw of records) {
    const r = parseRecord(Buffer.from(raw));
    if (!r) continue;
    if (r.tag === 'P') partial += r.text.toString();
    else {
      lines.push(`${partial}${r.text.toString()}\n`);
      partial = '';
    }
  }
  const text = lines.slice(-MAX_TERMINATION_MESSAGE_LOG_LINES).join('');
  const bytes = Buffer.from(text);
  return bytes.subarray(Math.max(0, bytes.length - MAX_TERMINATION_MESSAGE_LOG_BYTES)).toString();
}

const LOG_WINDOW_BYTES = 64 * 1024;
