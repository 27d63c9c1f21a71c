import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, TomlError } from 'smol-toml';
import { PodboxError, errnoOf } from '../errors.js';
import { configHome } from './auth-file.js';

/**
 * Where to contact a registry: its mirrors (pull-through caches) first, then the registry itself,
 * each marked insecure (plain http allowed) or not.
 *
 * podbox reads the file podman users already have, containers-registries.conf(5) version 2
 * (containers/image pkg/sysregistriesv2/system_registries_v2.go), so one file serves both tools:
 * $CONTAINERS_REGISTRIES_CONF, else ${XDG_CONFIG_HOME:-~/.config}/containers/registries.conf, else
 * /etc/containers/registries.conf (the user's file replaces the system one, as in podman).
 *
 *   [[registry]]
 *   prefix = "docker.io"                 # optional, defaults to location; "*.example.com" allowed
 *   location = "docker.io"               # host[:port] to contact instead (a rewrite)
 *   insecure = false                     # plain http allowed
 *   blocked = false                      # refuse pulls from it
 *   mirror-by-digest-only = false
 *   [[registry.mirror]]
 *   location = "cache.ci.internal:5000"
 *   insecure = true
 *   pull-from-mirror = "all"             # or "digest-only", "tag-only"
 *
 * The version 1 tables `[registries.insecure]` and `[registries.block]` (`registries = [...]`) are
 * read too. podbox works with whole registries: an entry whose prefix or location has a path
 * (`example.com/team`) is skipped with a warning, and registries.conf.d drop-ins are not read.
 * Besides the file, a registry is insecure with `--insecure`, when PODBOX_INSECURE_REGISTRIES
 * (comma-separated host[:port] or host) names it, or when it is on the loopback interface
 * (localhost, 127.0.0.0/8, ::1), as Docker treats those (docker registry/config.go, the default
 * insecure 127.0.0.0/8).
 */
export interface RegistryEndpoint {
  /** host[:port] to contact */
  host: string;
  /** plain http allowed */
  insecure: boolean;
  mirror: boolean;
}

export interface EndpointOptions {
  /** `--insecure`: plain http allowed for this registry and its mirrors */
  insecure?: boolean;
  /** the pull names a digest (mirrors marked digest-only serve only those) */
  digest?: boolean;
  warn?: (line: string) => void;
}

/** One `[[registry]]` of the file, checked. */
export interface RegistryConfig {
  /** the file it comes from, for messages */
  file: string;
  prefix: string;
  location: string;
  insecure: boolean;
  blocked: boolean;
  mirrors: { location: string; insecure: boolean; pullFrom: 'all' | 'digest-only' | 'tag-only' }[];
}

/** Docker Hub's API host: docker.io itself serves no registry API (containers/image docker_client.go). */
const DOCKER_HUB = 'docker.io';
const DOCKER_HUB_API = 'registry-1.docker.io';
const SYSTEM_FILE = '/etc/containers/registries.conf';

export function endpointsFor(
  registry: string,
  opts: EndpointOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): RegistryEndpoint[] {
  return endpointsFrom(readRegistriesConf(env, opts.warn), registry, opts, env);
}

/** The registries files podbox looks for, in order: the first that exists is read, alone. */
export function registriesConfPath(env: NodeJS.ProcessEnv = process.env): string[] {
  if (env.CONTAINERS_REGISTRIES_CONF) return [env.CONTAINERS_REGISTRIES_CONF];
  return [join(configHome(env), 'containers', 'registries.conf'), SYSTEM_FILE];
}

function readRegistriesConf(env: NodeJS.ProcessEnv, warn = stderrWarn): RegistryConfig[] {
  for (const path of registriesConfPath(env)) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      if (errnoOf(e) === 'ENOENT' || errnoOf(e) === 'ENOTDIR') continue;
      throw invalidFile(path, (e as Error).message.replace(/^[A-Z]+: /, ''));
    }
    return parseRegistriesConf(text, path, warn);
  }
  return [];
}

function stderrWarn(line: string): void {
  process.stderr.write(`podbox: warning: ${line}\n`);
}

function invalidFile(path: string, why: string): PodboxError {
  return new PodboxError(
    'InvalidArgument',
    `registries file ${path}: ${why}`,
    'fix it (see "Registries" in docs/cli.md), or set CONTAINERS_REGISTRIES_CONF to another file',
  );
}

/** The `[[registry]]` entries of a registries.conf text; an invalid file is one error naming it. */
export function parseRegistriesConf(text: string, path: string, warn: (line: string) => void): RegistryConfig[] {
  let doc: Record<string, unknown>;
  try {
    doc = parse(text) as Record<string, unknown>;
  } catch (e) {
    if (e instanceof TomlError)
      throw invalidFile(
        path,
        `line ${e.line}, column ${e.column}: ${e.message.split('\n')[0]!.replace(/^Invalid TOML document: /, '')}`,
      );
    throw e;
  }
  const bad = (what: string) => invalidFile(path, what);
  const str = (v: unknown, what: string): string | undefined => {
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw bad(`${what} must be a string`);
    return v;
  };
  const bool = (v: unknown, what: string): boolean => {
    if (v === undefined) return false;
    if (typeof v !== 'boolean') throw bad(`${what} must be true or false`);
    return v;
  };
  const out: RegistryConfig[] = [];
  const hostOnly = (s: string, what: string) => {
    if (!s.includes('/')) return true;
    warn(`${path}: ${what} "${s}" has a path; podbox configures whole registries only, so it is skipped`);
    return false;
  };

  const registries = doc.registry ?? [];
  if (!Array.isArray(registries)) throw bad('registry must be an array of tables ([[registry]])');
  registries.forEach((r: Record<string, unknown>, i) => {
    const where = `[[registry]] ${i + 1}`;
    if (typeof r !== 'object' || r === null) throw bad(`${where} is not a table`);
    const location = str(r.location, `${where}: location`)?.replace(/\/+$/, '') ?? '';
    const prefix = str(r.prefix, `${where}: prefix`)?.replace(/\/+$/, '') || location;
    if (prefix === '') throw bad(`${where}: location or prefix is required`);
    if (prefix.startsWith('*.') && location !== '')
      throw bad(`${where}: a wildcard prefix ("${prefix}") takes no location`);
    if (!hostOnly(location, `${where}: location`) || !hostOnly(prefix, `${where}: prefix`)) return;
    const digestOnly = bool(r['mirror-by-digest-only'], `${where}: mirror-by-digest-only`);
    const mirrors = r.mirror ?? [];
    if (!Array.isArray(mirrors)) throw bad(`${where}: mirror must be an array of tables ([[registry.mirror]])`);
    const entry: RegistryConfig = {
      file: path,
      prefix,
      location,
      insecure: bool(r.insecure, `${where}: insecure`),
      blocked: bool(r.blocked, `${where}: blocked`),
      mirrors: [],
    };
    mirrors.forEach((m: Record<string, unknown>, j) => {
      const mw = `${where}, mirror ${j + 1}`;
      const loc = str(m.location, `${mw}: location`)?.replace(/\/+$/, '');
      if (!loc) throw bad(`${mw}: location is required`);
      const pullFrom = str(m['pull-from-mirror'], `${mw}: pull-from-mirror`) ?? (digestOnly ? 'digest-only' : 'all');
      if (pullFrom !== 'all' && pullFrom !== 'digest-only' && pullFrom !== 'tag-only')
        throw bad(`${mw}: pull-from-mirror must be "all", "digest-only" or "tag-only"`);
      if (!hostOnly(loc, `${mw}: location`)) return;
      entry.mirrors.push({ location: loc, insecure: bool(m.insecure, `${mw}: insecure`), pullFrom });
    });
    out.push(entry);
  });

  // Version 1 lists: each name is a registry of its own (sysregistriesv2 getV1RegistriesConf).
  const v1 = (doc.registries ?? {}) as Record<string, { registries?: unknown }>;
  for (const [table, flag] of [
    ['insecure', 'insecure'],
    ['block', 'blocked'],
  ] as const) {
    const names = v1[table]?.registries ?? [];
    if (!Array.isArray(names) || names.some((n) => typeof n !== 'string'))
      throw bad(`registries.${table}.registries must be an array of strings`);
    for (const name of names as string[]) {
      let e = out.find((x) => x.prefix === name);
      if (!e) out.push((e = { file: path, prefix: name, location: '', insecure: false, blocked: false, mirrors: [] }));
      e[flag] = true;
    }
  }
  return out;
}

/** The entry for `registry`: the longest prefix that matches it, `*.x` matching any host under x. */
function entryFor(configs: RegistryConfig[], registry: string): RegistryConfig | undefined {
  const matches = (p: string) => p === registry || (p.startsWith('*.') && registry.endsWith(p.slice(1)));
  return configs.filter((c) => matches(c.prefix)).sort((a, b) => b.prefix.length - a.prefix.length)[0];
}

/** Docker's rule for a registry host it may talk plain http to without being told: the loopback interface. */
export function isLoopback(hostport: string): boolean {
  const host = hostport.replace(/^\[(.*)\](:\d+)?$/, '$1').replace(/^([^:]*):\d+$/, '$1');
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** Does PODBOX_INSECURE_REGISTRIES name `hostport` (exactly, or by its host name for any port)? */
function listedInsecure(hostport: string, env: NodeJS.ProcessEnv): boolean {
  const names = (env.PODBOX_INSECURE_REGISTRIES ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const hostname = hostport.replace(/:\d+$/, '');
  return names.some((n) => n === hostport || n === hostname);
}

/** endpointsFor without the file read: what a given configuration means for `registry`. */
export function endpointsFrom(
  configs: RegistryConfig[],
  registry: string,
  opts: EndpointOptions,
  env: NodeJS.ProcessEnv,
): RegistryEndpoint[] {
  const entry = entryFor(configs, registry);
  if (entry?.blocked)
    throw new PodboxError(
      'InvalidArgument',
      `registry ${registry} is blocked in ${entry.file} (blocked = true)`,
      'pull from another registry, or remove the block',
    );
  const insecure = (host: string, fromFile: boolean, also: string[] = []) =>
    !!opts.insecure || fromFile || [host, ...also].some((h) => isLoopback(h) || listedInsecure(h, env));
  const out: RegistryEndpoint[] = [];
  for (const m of entry?.mirrors ?? []) {
    if (m.pullFrom === 'digest-only' && !opts.digest) continue;
    if (m.pullFrom === 'tag-only' && opts.digest) continue;
    out.push({ host: registryApiHost(m.location), insecure: insecure(m.location, m.insecure), mirror: true });
  }
  const location = entry?.location || registry;
  out.push({
    host: registryApiHost(location),
    insecure: insecure(location, !!entry?.insecure, [registry]),
    mirror: false,
  });
  return out;
}

/** The host serving the registry API for a registry name: Docker Hub's is not docker.io itself. */
export function registryApiHost(location: string): string {
  return location === DOCKER_HUB ? DOCKER_HUB_API : location;
}
