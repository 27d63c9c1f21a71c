import { spawnSync } from 'node:child_process';
import { errnoOf } from '../errors.js';

/**
 * A docker credential helper (docker/docker-credential-helpers client/client.go Get): the program
 * `docker-credential-NAME get`, the server URL on its stdin, `{"ServerURL","Username","Secret"}` on
 * its stdout. A Username of `<token>` means Secret is an identity token (docker/cli
 * cli/config/credentials/native_store.go tokenUsername). Bounded in time: a helper that waits on a
 * locked keychain must not hold a pull forever.
 */
export const HELPER_TIMEOUT_MS = 10_000;
const TOKEN_USERNAME = '<token>';
/** credentials.ErrCredentialsNotFound's text: the helper has nothing for this server, which is no failure. */
const NOT_FOUND = 'credentials not found in native keychain';

export type HelperResult =
  { username: string; password: string } | { identityToken: string } | { none: true } | { failed: string };

/** Runs the helper; `failed` is one line naming the helper, never anything it printed on stdout. */
export function helperGet(name: string, serverURL: string, env: NodeJS.ProcessEnv = process.env): HelperResult {
  const program = `docker-credential-${name}`;
  const r = spawnSync(program, ['get'], {
    input: serverURL,
    env,
    timeout: HELPER_TIMEOUT_MS,
    maxBuffer: 1024 * 1024,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  // A helper that exits without reading the URL makes writing it fail (EPIPE); its status still tells.
  const err = (r.error as NodeJS.ErrnoException | undefined)?.code === 'EPIPE' ? undefined : r.error;
  if (errnoOf(err) === 'ENOENT') return { failed: `credential helper ${program} is not installed (not found in PATH)` };
  if (errnoOf(err) === 'ETIMEDOUT' || r.signal === 'SIGTERM')
    return { failed: `credential helper ${program} did not answer within ${HELPER_TIMEOUT_MS / 1000} s` };
  if (err) return { failed: `credential helper ${program} failed: ${err.message}` };
  const out = r.stdout.toString('utf8');
  if (r.status !== 0) {
    // The helper reports "not found" on stdout (client.go Get checks it there); stderr is its own.
    if (out.trim() === NOT_FOUND) return { none: true };
    return { failed: `credential helper ${program} exited with status ${r.status ?? r.signal}` };
  }
  let v: { Username?: unknown; Secret?: unknown };
  try {
    v = JSON.parse(out) as typeof v;
  } catch {
    return { failed: `credential helper ${program} printed something that is not JSON` };
  }
  if (typeof v.Secret !== 'string' || typeof (v.Username ?? '') !== 'string')
    return { failed: `credential helper ${program} printed no Username and Secret` };
  const username = String(v.Username ?? '');
  if (username === TOKEN_USERNAME) return { identityToken: v.Secret };
  if (username === '' && v.Secret === '') return { none: true };
  return { username, password: v.Secret };
}
