import { closeSync, openSync, writeSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Manifest } from '../api/types.js';
import { PodDir, thisSupervisor, type PodRecord } from './dir.js';
import { supervise } from '../lifecycle/supervisor.js';
import { imagesById } from '../image/resolve.js';
import type { StoredImage } from '../image/store.js';
import { removeTrees } from '../sandbox/userns.js';
import { PodboxError } from '../errors.js';

/**
 * Creating a pod and starting its supervisor, in the foreground or in the background.
 *
 * `podbox run -d` hands the pod to a background supervisor and waits for one word from it:
 *
 *   podbox run -d ──spawn──▶ podbox __supervise NAME   (own session; fd 3 = pipe back; stdout and
 *        │                        │                   stderr to the pod's supervisor.log)
 *        │                        reads pod.json, records itself as the supervisor
 *        │◀── "ok\n" ──────────── pod created, first containers started
 *        │◀── "error: LINE\n" ─── the pod could not be created; nothing is left behind
 *        │◀── (exit, no word) ─── it died: its supervisor.log says why
 *   prints NAME and exits 0, or the error line and exits 1
 */

/** Claims the pod's name and writes its record; the caller's process supervises it. */
export function createPod(manifest: Manifest, images: Map<string, StoredImage>, removeWhenDone: boolean): PodDir {
  const dir = PodDir.create(manifest.pod.metadata.name);
  const record: PodRecord = {
    pod: manifest.pod,
    original: manifest.original,
    createdAt: new Date().toISOString(),
    supervisor: thisSupervisor(),
    removeWhenDone,
    configMaps: [...manifest.configMaps.values()],
    secrets: [...manifest.secrets.values()],
    images: Object.fromEntries([...images].map(([c, img]) => [c, img.id])),
  };
  try {
    dir.writeRecord(record);
  } catch (e) {
    dir.removeOwnFiles();
    throw e;
  }
  return dir;
}

/** The manifest a record was made from (the ConfigMaps and Secrets keyed by name again). */
export function manifestOf(record: PodRecord): Manifest {
  return {
    pod: record.pod,
    original: record.original,
    configMaps: new Map(record.configMaps.map((c) => [c.metadata.name, c])),
    secrets: new Map(record.secrets.map((s) => [s.metadata.name, s])),
  };
}


const cliPath = fileURLToPath(new URL('../../bin/podbox', import.meta.url));

/**
 * `run -d`: starts the supervisor in the background and waits for its word. Returns undefined once
 * the pod is created, or the error line.
 */
export async function startDetached(dir: PodDir): Promise<string | undefined> {
  const log = openSync(dir.file('supervisor.log'), 'a', 0o600);
  const child = spawn(process.execPath, [cliPath, '__supervise', dir.name], {
    detached: true,
    stdio: ['ignore', log, log, 'pipe'],
    env: process.env,
  });
  closeSync(log);
  const word = await new Promise<string>((resolve) => {
    let text = '';
    const pipe = child.stdio[3] as NodeJS.ReadableStream;
    pipe.setEncoding('utf8');
    pipe.on('data', (d: string) => (text += d));
    pipe.on('end', () => resolve(text));
    child.on('exit', (code) =>
      resolve(text || `error: the supervisor exited with code ${code}; see ${dir.file('supervisor.log')}`),
    );
  });
  child.unref();
  (child.stdio[3] as unknown as { destroy(): void }).destroy();
  return word.startsWith('ok') ? undefined : word.replace(/^error: /, '').trim();
}

/** `podbox __supervise NAME`: the background supervisor's side of the handshake. */
export async function superviseDetached(name: string): Promise<number> {
  const dir = PodDir.open(name);
  const record = dir.record();
  record.supervisor = thisSupervisor();
  dir.writeRecord(record);
  let told = false;
  const tell = (text: string) => {
    if (told) return;
    told = true;
    try {
      writeSync(3, text); // fd 3 is the pipe to `podbox run -d`, waiting for this word
      closeSync(3);
    } catch {
      /* the parent is gone */
    }
  };
  try {
    return await supervise({
      manifest: manifestOf(record),
      dir,
      images: imagesById(record.images),
      removeWhenDone: false,
      onCreated: (e) => tell(e ? `error: ${e.toLine()}\n` : 'ok\n'),
    });
  } catch (e) {
    tell(`error: ${e instanceof PodboxError ? e.toLine() : (e as Error).message}\n`);
    await removeTrees([dir.path]).catch(() => {});
    throw e;
  }
}
