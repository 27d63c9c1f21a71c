import { closeSync, openSync, readSync } from 'node:fs';
import { Socket } from 'node:net';
import { native } from '../sandbox/native.js';

/**
 * Makes `count` pipes and hands their write ends to `spawn`, which gives them to a child. The write
 * ends are closed here whatever happens (the child holds its own copies, so the read ends see EOF
 * when it is done); if `spawn` throws, the read ends are closed too. Returns spawn's value and the
 * read ends, in order.
 */
export function withPipes<T>(count: number, spawn: (writeEnds: number[]) => T): { value: T; readEnds: number[] } {
  const n = native();
  const pipes = Array.from({ length: count }, () => n.pipe());
  try {
    return { value: spawn(pipes.map(([, w]) => w)), readEnds: pipes.map(([r]) => r) };
  } catch (e) {
    for (const [r] of pipes) closeSync(r);
    throw e;
  } finally {
    for (const [, w] of pipes) closeSync(w);
  }
}

/**
 * Whether the pipe or FIFO open at fd gives data before it ends (its writers close without writing)
 * or timeoutMs pass; closes fd. Read through a pipe handle of the event loop, not a thread of the
 * pool, which a pipe that never ends would hold. `now`, for a FIFO opened non-blocking: tried at
 * once first, since a FIFO that no one ever opened for writing gives no event (a writer that goes
 * away is a hang-up; none at all reads as its end).
 */
export function firstRead(fd: number, timeoutMs: number, o: { now?: boolean } = {}): Promise<boolean> {
  if (o.now) {
    try {
      const n = readSync(fd, Buffer.alloc(1));
      closeSync(fd);
      return Promise.resolve(n > 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') {
        closeSync(fd);
        return Promise.resolve(false);
      }
    }
  }
  return new Promise((resolve) => {
    const pipe = new Socket({ fd, readable: true, writable: false });
    const done = (got: boolean) => {
      clearTimeout(timer);
      pipe.destroy();
      resolve(got);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    pipe.once('data', () => done(true));
    pipe.once('end', () => done(false));
    pipe.once('error', () => done(false));
  });
}

let devNull: number | undefined;
/** One shared read/write descriptor on /dev/null, for stdio a child should not have. */
export function devNullFd(): number {
  devNull ??= openSync('/dev/null', 'r+');
  return devNull;
}

/** What a pipe's read end gives until its writers are gone (read by the event loop); closes fd. */
export function readAll(fd: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = new Socket({ fd, readable: true, writable: false });
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', reject);
    s.on('close', () => resolve(Buffer.concat(chunks).toString()));
  });
}
