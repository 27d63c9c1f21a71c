import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { PodboxError, errnoOf } from '../errors.js';
import { writeAtomic } from '../host/fs.js';

/**
 * The credential files users already have, in the docker config format that podman's auth.json
 * shares (containers/image pkg/docker/config/config.go dockerConfigFile; docker/cli
 * cli/config/configfile/file.go ConfigFile). This module is the one owner of their paths and format:
 * credentials.ts reads through it, `podbox login/logout` writes through it.
 */

/** One `auths` entry: `auth` is base64("user:password"). */
export interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
  registrytoken?: string;
}

/** A docker config.json or a podman auth.json; other keys (psFormat, proxies...) are kept as they are. */
export interface ConfigFile {
  auths?: Record<string, AuthEntry>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
  [other: string]: unknown;
}

/**
 * Where `podbox login` stores credentials, as podman (containers/image pkg/docker/config
 * getPathToAuthWithOS): $REGISTRY_AUTH_FILE, else ${XDG_RUNTIME_DIR}/containers/auth.json; without
 * a runtime dir, /run/user/UID when it exists, else the persistent file podman reads too.
 */
export function authFilePath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.REGISTRY_AUTH_FILE) return env.REGISTRY_AUTH_FILE;
  const runtime = env.XDG_RUNTIME_DIR || runUserDir();
  if (runtime) return join(runtime, 'containers', 'auth.json');
  return persistentAuthFilePath(env);
}

function runUserDir(): string | undefined {
  const dir = `/run/user/${process.getuid?.() ?? 0}`;
  return existsSync(dir) ? dir : undefined;
}

/** ${XDG_CONFIG_HOME:-~/.config}/containers/auth.json: podman reads it after the runtime one. */
export function persistentAuthFilePath(env: NodeJS.ProcessEnv = process.env): string {
  return join(configHome(env), 'containers', 'auth.json');
}

/** docker/cli config.Dir: $DOCKER_CONFIG, else ~/.docker; the file is config.json in it. */
export function dockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.DOCKER_CONFIG || join(home(env), '.docker'), 'config.json');
}

export function configHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.XDG_CONFIG_HOME || join(home(env), '.config');
}

function home(env: NodeJS.ProcessEnv): string {
  return env.HOME || homedir();
}

/** The files credentials are read from, in the order they are consulted (podman's order, then docker's). */
export function credentialFiles(env: NodeJS.ProcessEnv = process.env): string[] {
  return [...new Set([authFilePath(env), persistentAuthFilePath(env), dockerConfigPath(env)])];
}

/** A credential file, or undefined when there is none. Malformed: one error line naming the file. */
export function readConfigFile(path: string): ConfigFile | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (errnoOf(e) === 'ENOENT' || errnoOf(e) === 'ENOTDIR') return undefined;
    throw malformed(path, (e as Error).message.replace(/^[A-Z]+: /, ''));
  }
  if (text.trim() === '') return {}; // docker and podman both take an empty file as no credentials
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    // The parser's message names a position, never the content: no secret reaches the line.
    throw malformed(path, `not valid JSON (${(e as Error).message.split('\n')[0]})`);
  }
  const problem = shapeProblem(v);
  if (problem) throw malformed(path, problem);
  return v as ConfigFile;
}

function shapeProblem(v: unknown): string | undefined {
  const isObject = (o: unknown) => typeof o === 'object' && o !== null && !Array.isArray(o);
  if (!isObject(v)) return 'not a JSON object';
  const f = v as Record<string, unknown>;
  if (f.auths !== undefined) {
    if (!isObject(f.auths)) return '"auths" is not an object';
    for (const [k, e] of Object.entries(f.auths as Record<string, unknown>)) {
      if (!isObject(e)) return `"auths" entry "${k}" is not an object`;
      for (const field of ['auth', 'username', 'password', 'identitytoken', 'registrytoken']) {
        const x = (e as Record<string, unknown>)[field];
        if (x !== undefined && typeof x !== 'string') return `"auths" entry "${k}": "${field}" is not a string`;
      }
    }
  }
  if (f.credHelpers !== undefined) {
    if (!isObject(f.credHelpers)) return '"credHelpers" is not an object';
    for (const [k, h] of Object.entries(f.credHelpers as Record<string, unknown>))
      if (typeof h !== 'string') return `"credHelpers" entry "${k}" is not a string`;
  }
  if (f.credsStore !== undefined && typeof f.credsStore !== 'string') return '"credsStore" is not a string';
  return undefined;
}

function malformed(path: string, why: string): PodboxError {
  return new PodboxError(
    'InvalidArgument',
    `credential file ${path} is malformed: ${why}`,
    'fix or remove the file (`podbox login` writes a good one)',
  );
}

/**
 * Stores `user`/`password` for `key` in the auth file, as `podman login` does: `auth` is
 * base64("user:password"), other entries and keys kept; the directory made 0700, the file 0600,
 * replaced by an atomic rename so a reader never sees half of it.
 */
export function storeLogin(key: string, username: string, password: string, env = process.env): string {
  const path = authFilePath(env);
  const file = readConfigFile(path) ?? {};
  const auths = { ...(file.auths ?? {}) };
  auths[key] = { auth: Buffer.from(`${username}:${password}`).toString('base64') };
  writeConfigFile(path, { ...file, auths });
  return path;
}

/** Removes `key` (every key when `key` is undefined); returns the keys removed. */
export function removeLogin(key: string | undefined, env = process.env): string[] {
  const path = authFilePath(env);
  const file = readConfigFile(path);
  const auths = { ...(file?.auths ?? {}) };
  const removed = key === undefined ? Object.keys(auths) : key in auths ? [key] : [];
  if (removed.length === 0) return [];
  for (const k of removed) delete auths[k];
  writeConfigFile(path, { ...file, auths });
  return removed;
}

function writeConfigFile(path: string, file: ConfigFile): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeAtomic(path, `${JSON.stringify(file, null, '\t')}\n`, 0o600);
}
