import { posix } from 'node:path';
import { PodboxError } from '../errors.js';

/**
 * The OCI image config (https://github.com/opencontainers/image-spec/blob/main/config.md):
 * the document whose sha256 is the image id, and the `config` part a container's process comes
 * from. Pure functions only.
 */
export interface ImageConfig {
  Entrypoint?: string[];
  Cmd?: string[];
  Env?: string[];
  WorkingDir?: string;
  User?: string;
  StopSignal?: string;
  ExposedPorts?: Record<string, object>;
  Labels?: Record<string, string>;
}

/** What podbox reads from a whole config document. */
export interface ImageConfigDocument {
  config: ImageConfig;
  created?: string;
  os?: string;
  architecture?: string;
  /** rootfs.diff_ids: the sha256 of each uncompressed layer, in order */
  diffIds: string[];
}

function bad(what: string, why: string): PodboxError {
  return new PodboxError(
    'InvalidImage',
    `image config ${what}: ${why}`,
    'the image is damaged or not an OCI/Docker image; rebuild or re-save it',
  );
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function stringArray(v: unknown, field: string, what: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string'))
    throw bad(what, `config.${field} must be an array of strings`);
  return [...v];
}

function str(v: unknown, field: string, what: string): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw bad(what, `config.${field} must be a string`);
  return v;
}

/**
 * Reads the process fields of an image config document (the parsed JSON of config.json).
 * Docker writes `null` for unset fields; they come out as absent.
 */
export function imageConfigOf(doc: unknown, what = ''): ImageConfig {
  if (!isObject(doc)) throw bad(what, 'not a JSON object');
  const c = doc.config ?? doc.container_config ?? null;
  if (c === null || c === undefined) return {};
  if (!isObject(c)) throw bad(what, 'config must be an object');
  const out: ImageConfig = {};
  for (const field of ['Entrypoint', 'Cmd', 'Env'] as const) {
    const v = stringArray(c[field], field, what);
    if (v) out[field] = v;
  }
  for (const field of ['WorkingDir', 'User', 'StopSignal'] as const) {
    const v = str(c[field], field, what);
    if (v) out[field] = v;
  }
  if (c.ExposedPorts !== undefined && c.ExposedPorts !== null) {
    if (!isObject(c.ExposedPorts)) throw bad(what, 'config.ExposedPorts must be an object');
    out.ExposedPorts = Object.fromEntries(Object.keys(c.ExposedPorts).map((k) => [k, {}]));
  }
  if (c.Labels !== undefined && c.Labels !== null) {
    if (!isObject(c.Labels) || !Object.values(c.Labels).every((v) => typeof v === 'string'))
      throw bad(what, 'config.Labels must map strings to strings');
    out.Labels = { ...(c.Labels as Record<string, string>) };
  }
  return out;
}

/** Parses a config blob: its process config, creation time, platform and layer diff ids. */
export function parseConfigDocument(bytes: Buffer | string, what = ''): ImageConfigDocument {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString());
  } catch (e) {
    throw bad(what, `not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(doc)) throw bad(what, 'not a JSON object');
  const rootfs = doc.rootfs;
  if (!isObject(rootfs) || !Array.isArray(rootfs.diff_ids)) throw bad(what, 'rootfs.diff_ids is missing');
  if (rootfs.type !== undefined && rootfs.type !== 'layers')
    throw bad(what, `rootfs.type is "${String(rootfs.type)}", not "layers"`);
  const diffIds = rootfs.diff_ids.map((d) => {
    if (typeof d !== 'string' || !/^sha256:[a-f0-9]{64}$/.test(d))
      throw bad(what, `rootfs.diff_ids holds "${String(d)}", not a sha256 digest`);
    return d;
  });
  const out: ImageConfigDocument = { config: imageConfigOf(doc, what), diffIds };
  if (typeof doc.created === 'string') out.created = doc.created;
  if (typeof doc.os === 'string') out.os = doc.os;
  if (typeof doc.architecture === 'string') out.architecture = doc.architecture;
  return out;
}

/** The GOARCH name of this machine, as image configs and manifest lists name it. */
export function hostArchitecture(arch: string = process.arch): string {
  const m: Record<string, string> = {
    x64: 'amd64',
    ia32: '386',
    arm64: 'arm64',
    arm: 'arm',
    ppc64: 'ppc64le',
    s390x: 's390x',
    riscv64: 'riscv64',
    mips: 'mips',
    mipsel: 'mipsle',
    loong64: 'loong64',
  };
  return m[arch] ?? arch;
}

// --- `podbox image import --change`: the Dockerfile instructions `docker import -c` accepts ---

const CHANGE_INSTRUCTIONS = ['CMD', 'ENTRYPOINT', 'ENV', 'WORKDIR', 'USER', 'EXPOSE', 'LABEL', 'STOPSIGNAL'];

function changeError(change: string, why: string): PodboxError {
  return new PodboxError(
    'InvalidArgument',
    `--change '${change}': ${why}`,
    `use one of ${CHANGE_INSTRUCTIONS.map((i) => `'${i}=…'`).join(', ')} (e.g. 'CMD=["sh"]', 'ENV=PATH=/bin')`,
  );
}

/** Splits words as the Dockerfile parser does for ENV/LABEL: quotes group, backslash escapes. */
export function splitWords(s: string): string[] {
  const words: string[] = [];
  let cur = '',
    inWord = false,
    quote: string | null = null;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (quote) {
      if (ch === quote) quote = null;
      else if (ch === '\\' && quote === '"' && i + 1 < s.length) cur += s[++i];
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (ch === '\\' && i + 1 < s.length) {
      cur += s[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (quote) throw new Error(`unterminated ${quote} quote`);
  if (inWord) words.push(cur);
  return words;
}

/** `K=V K2="v 2"` or the legacy `K V...` form into pairs. */
function keyValues(change: string, rest: string): [string, string][] {
  let words: string[];
  try {
    words = splitWords(rest);
  } catch (e) {
    throw changeError(change, (e as Error).message);
  }
  if (words.length === 0) throw changeError(change, 'needs KEY=VALUE');
  if (!words[0]!.includes('=')) {
    // Legacy form `ENV KEY some value`: the value is the rest of the line.
    const m = /^\s*(\S+)\s+([\s\S]*)$/.exec(rest);
    if (!m) throw changeError(change, 'needs KEY=VALUE');
    return [[m[1]!, m[2]!.trim()]];
  }
  if (words.every((w) => w.includes('='))) {
    return words.map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)]);
  }
  // `ENV=GREETING=hello world`: one pair whose value is everything after the first '='.
  const i = rest.indexOf('=');
  return [[rest.slice(0, i).trim(), rest.slice(i + 1).trim()]];
}

/** CMD/ENTRYPOINT: a JSON array is the exec form; anything else is the shell form, as Docker does. */
function commandOf(change: string, rest: string): string[] {
  const t = rest.trim();
  if (t.startsWith('[')) {
    try {
      const v: unknown = JSON.parse(t);
      if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v;
    } catch {
      // Docker falls back to the shell form when the JSON does not parse.
    }
  }
  if (t === '') throw changeError(change, 'needs a command');
  return ['/bin/sh', '-c', t];
}

/**
 * Applies `--change` instructions to an image config. Each is `INSTRUCTION=ARGS` (podman's
 * form) or `INSTRUCTION ARGS` (Dockerfile's, as `docker import -c` takes).
 */
export function applyChanges(base: ImageConfig, changes: string[]): ImageConfig {
  const c: ImageConfig = structuredClone(base);
  for (const change of changes) {
    const m = /^\s*([A-Za-z]+)(?:\s*=|\s+)([\s\S]*)$/.exec(change);
    if (!m) throw changeError(change, 'expected INSTRUCTION=VALUE');
    const ins = m[1]!.toUpperCase();
    const rest = m[2]!;
    switch (ins) {
      case 'CMD':
        c.Cmd = commandOf(change, rest);
        break;
      case 'ENTRYPOINT':
        c.Entrypoint = commandOf(change, rest);
        break;
      case 'ENV': {
        const env = [...(c.Env ?? [])];
        for (const [k, v] of keyValues(change, rest)) {
          if (!k) throw changeError(change, 'empty variable name');
          const i = env.findIndex((e) => e.split('=')[0] === k);
          if (i >= 0) env[i] = `${k}=${v}`;
          else env.push(`${k}=${v}`);
        }
        c.Env = env;
        break;
      }
      case 'LABEL': {
        const labels = { ...(c.Labels ?? {}) };
        for (const [k, v] of keyValues(change, rest)) labels[k] = v;
        c.Labels = labels;
        break;
      }
      case 'WORKDIR': {
        const d = rest.trim();
        if (!d) throw changeError(change, 'needs a directory');
        // A relative WORKDIR is relative to the previous one (Dockerfile reference, WORKDIR).
        c.WorkingDir = posix.resolve(c.WorkingDir || '/', d);
        break;
      }
      case 'USER': {
        const u = rest.trim();
        if (!u) throw changeError(change, 'needs a user');
        c.User = u;
        break;
      }
      case 'STOPSIGNAL': {
        const s = rest.trim();
        if (!s) throw changeError(change, 'needs a signal');
        c.StopSignal = s;
        break;
      }
      case 'EXPOSE': {
        const ports = { ...(c.ExposedPorts ?? {}) };
        for (const p of rest.trim().split(/\s+/).filter(Boolean)) {
          if (!/^\d+(?:-\d+)?(?:\/(tcp|udp|sctp))?$/i.test(p))
            throw changeError(change, `"${p}" is not a port (PORT[/tcp|udp|sctp])`);
          ports[p.includes('/') ? p.toLowerCase() : `${p}/tcp`] = {};
        }
        c.ExposedPorts = ports;
        break;
      }
      default:
        throw changeError(change, `${ins} is not supported`);
    }
  }
  return c;
}
