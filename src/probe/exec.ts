import net from 'node:net';
import { closeSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { childOf } from '../host/proc.js';
import { native } from '../sandbox/native.js';
import { waitForExit } from '../sandbox/sandbox.js';
import { Runc } from '../container/runc.js';
import { expand } from '../api/env.js';
import type { ExecAction } from '../api/types.js';
import { MAX_OUTPUT, errorText } from './text.js';
import { goQuote } from '../kubectl/quote.js';
import type { HandlerResult, HandlerTarget } from './types.js';
import { devNullFd } from '../host/pipes.js';

/**
 * The exec handler, probe and hook: a command run in the container under `runc exec`, killed
 * at the timeout, its output cut at the kubelet's cap, its result in the kubelet's words.
 */

/** A probe's exec handler: the command with $(VAR) expanded, its exit code the result. */
export async function execProbe(exec: ExecAction, t: HandlerTarget, timeoutMs: number): Promise<HandlerResult> {
  // prober.go: probe commands get $(VAR) from the container's literal env values only
  // (kubecontainer.ExpandContainerCommandOnlyStatic).
  const vars = new Map((t.container.env ?? []).map((e) => [e.name, e.value ?? '']));
  const command = exec.command.map((s) => expand(s, vars));
  const r = await execInContainer(t, command, timeoutMs);
  // pkg/probe/exec/exec.go: exit 0 is success, any other exit a failure; either way the
  // output is the message. A timeout is a failure with the runtime's "timed out" error.
  if (r.kind === 'exited') return { ok: r.code === 0, message: r.output, output: r.output };
  return { ok: false, message: r.message, ...(r.kind === 'timedOut' ? { output: r.output } : {}) };
}

type ExecOutcome =
  | { kind: 'exited'; code: number; output: string; stderr: string }
  | { kind: 'timedOut'; message: string; output: string }
  | { kind: 'failed'; message: string };

/**
 * Runs a command in the container with `runc exec` (as `podbox exec` does) and waits at most
 * timeoutMs. The output is stdout followed by stderr, cut at 10 KiB: the kubelet's
 * RunInContainer appends the two streams ExecSync returns (kuberuntime_container.go) and the exec
 * prober keeps 10 KiB. On timeout the command is killed, as the runtime kills an ExecSync past
 * its timeout, and the error is the CRI client's `command "…" timed out`.
 */
async function execInContainer(t: HandlerTarget, command: string[], timeoutMs: number): Promise<ExecOutcome> {
  const n = native();
  const [outR, outW] = n.pipe();
  const [errR, errW] = n.pipe();
  const log = `${t.runc.logFile(t.containerId)}.exec-${randomBytes(6).toString('hex')}`;
  let pid: number;
  try {
    pid = t.runc.exec(t.containerId, command, { stdio: [devNullFd(), outW, errW], log });
  } catch (e) {
    closeSync(outR);
    closeSync(errR);
    return { kind: 'failed', message: errorText(e) };
  } finally {
    closeSync(outW);
    closeSync(errW);
  }
  const out = collect(outR);
  const err = collect(errR);
  try {
    const exited = waitForExit(pid);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      exited.then(() => false),
      new Promise<boolean>((r) => {
        timer = setTimeout(() => r(true), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) killExec(pid);
    const { code, signal } = await exited;
    // A background child may hold the pipes open after the command exits: take what is there.
    const drain = setTimeout(() => {
      out.stop();
      err.stop();
    }, 250);
    const [stdout, stderr] = await Promise.all([out.done, err.done]);
    clearTimeout(drain);
    const output = Buffer.concat([stdout, stderr]).subarray(0, MAX_OUTPUT).toString();
    if (timedOut) return { kind: 'timedOut', message: `command ${goQuote(command.join(' '))} timed out`, output };
    // runc exits 255 when it could not start the command; its reason is in the log.
    const reason = code === 255 ? Runc.loggedError(log) : undefined;
    if (reason) return { kind: 'failed', message: reason };
    return {
      kind: 'exited',
      code: code ?? 128 + (signal ?? 0),
      output,
      stderr: stderr.subarray(0, MAX_OUTPUT).toString(),
    };
  } finally {
    out.stop();
    err.stop();
    rmSync(log, { force: true });
  }
}

/**
 * Kills the command `runc exec` started: runc clones it as its own child (CLONE_PARENT), and
 * SIGKILL cannot be forwarded through runc. Before the command exists, runc itself is killed.
 */
function killExec(runcPid: number): void {
  const target = childOf(runcPid) ?? runcPid;
  try {
    process.kill(target, 'SIGKILL');
  } catch {
    /* gone meanwhile */
  }
}

/** Reads a pipe to its end, keeping the first MAX_OUTPUT bytes (the rest is drained and dropped). */
function collect(fd: number): { done: Promise<Buffer>; stop(): void } {
  const s = new net.Socket({ fd, readable: true, writable: false });
  const chunks: Buffer[] = [];
  let size = 0;
  const done = new Promise<Buffer>((resolve) => {
    s.on('data', (c: Buffer) => {
      if (size < MAX_OUTPUT) chunks.push(c);
      size += c.length;
    });
    s.on('error', () => s.destroy());
    s.on('close', () => resolve(Buffer.concat(chunks).subarray(0, MAX_OUTPUT)));
  });
  return { done, stop: () => s.destroy() };
}

/**
 * An exec hook: the kubelet's error is the CRI's for a non-zero exit, `command 'CMD' exited with
 * N: STDERR` (cri-client ExecSync), and the output goes into the event's message.
 */
export async function execHook(e: ExecAction, t: HandlerTarget, timeoutMs: number): Promise<HandlerResult> {
  const r = await execInContainer(t, e.command, timeoutMs);
  if (r.kind === 'exited') {
    if (r.code === 0) return { ok: true, message: '', output: r.output };
    return {
      ok: false,
      message: `command '${e.command.join(' ')}' exited with ${r.code}: ${r.stderr}`,
      output: r.output,
    };
  }
  return { ok: false, message: r.message, ...(r.kind === 'timedOut' ? { output: r.output } : {}) };
}
