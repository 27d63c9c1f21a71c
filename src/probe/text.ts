import { getSystemErrorMap } from 'node:util';

/**
 * The kubelet's words: the version it names itself by, its cap on output, and Go's wording of
 * strings and errors, so that podbox's messages read as the kubelet's.
 */

/** The Kubernetes release whose kubelet podbox imitates: the version in `User-Agent: kube-probe/…`. */
export const KUBE_VERSION = '1.33';

/** The kubelet's cap on a probe's response body and on a command's output (10 KiB). */
export const MAX_OUTPUT = 10 * 1024;

/** Go's text for a socket errno (syscall.Errno.Error() on Linux), e.g. "connection refused". */
export function errnoText(code: string | undefined, errno?: number): string {
  const go: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ECONNRESET: 'connection reset by peer',
    EHOSTUNREACH: 'no route to host',
    ENETUNREACH: 'network is unreachable',
    ETIMEDOUT: 'connection timed out',
    EADDRNOTAVAIL: 'cannot assign requested address',
    ECONNABORTED: 'software caused connection abort',
    EPIPE: 'broken pipe',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
  };
  if (code && go[code]) return go[code]!;
  const libuv = errno !== undefined ? getSystemErrorMap().get(errno)?.[1] : undefined;
  return libuv ?? code ?? 'unknown error';
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
