import { closeSync } from 'node:fs';
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
