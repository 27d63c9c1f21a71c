import { closeSync, mkdirSync, openSync, rmSync, constants } from 'node:fs';
import { join } from 'node:path';
import { native } from '../sandbox/native.js';
import type { LogStream } from '../logs/cri-log.js';

/**
 * Where a container writes its stdout and stderr: a FIFO per stream in the pod's directory
 * (io/ID.out, io/ID.err), not a pipe, so the output outlives the supervisor that reads it.
 *
 * The container's descriptor is the FIFO opened read-write. A FIFO with no reader makes a writer
 * fail (EPIPE, SIGPIPE); one opened read-write is its own reader, so a container never fails to
 * write while no supervisor runs: its output waits in the FIFO (at most a pipe buffer, after which
 * the writer blocks) until a supervisor opens the FIFO for reading again and drains it. podman's
 * conmon and containerd's shim keep a process per container for this; podbox needs none.
 * The supervisor's own end is read-only, so it sees EOF once the container and every process that
 * inherited its output have closed it.
 */
export const OUTPUT_DIR = 'io';

export function outputFifo(podDir: string, id: string, stream: LogStream): string {
  return join(podDir, OUTPUT_DIR, `${id}.${stream === 'stdout' ? 'out' : 'err'}`);
}

/** Makes the FIFOs of container instance `id` and opens them for the container (read-write). */
export function openContainerOutput(podDir: string, id: string): { stdout: number; stderr: number } {
  mkdirSync(join(podDir, OUTPUT_DIR), { recursive: true, mode: 0o700 });
  const open = (stream: LogStream) => {
    const path = outputFifo(podDir, id, stream);
    rmSync(path, { force: true });
    native().mkfifo(path, 0o600);
    // O_RDWR on a FIFO never blocks (Linux fifo(7)); O_NOFOLLOW: the path is ours, not a link.
    return openSync(path, constants.O_RDWR | constants.O_NOFOLLOW);
  };
  const stdout = open('stdout');
  try {
    return { stdout, stderr: open('stderr') };
  } catch (e) {
    closeSync(stdout);
    throw e;
  }
}

/**
 * Opens a FIFO of container instance `id` for reading, without waiting for a writer; undefined if
 * it is gone. Then opens and closes a writer of its own: Linux reports hang-up to a FIFO reader only
 * once a writer has opened since the reader did (fs/pipe.c pipe_poll compares the writer count at
 * open), and the container's descriptor was opened before, so without this the reader would never
 * see the container's end.
 */
export function openOutputForReading(podDir: string, id: string, stream: LogStream): number | undefined {
  const path = outputFifo(podDir, id, stream);
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  } catch {
    return undefined;
  }
  try {
    closeSync(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW));
  } catch {
    /* it has a reader (fd): this does not fail */
  }
  return fd;
}

/** Removes the FIFOs of an instance whose output has ended. */
export function removeContainerOutput(podDir: string, id: string): void {
  for (const s of ['stdout', 'stderr'] as const) rmSync(outputFifo(podDir, id, s), { force: true });
}
