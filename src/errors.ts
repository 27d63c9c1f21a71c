/**
 * The one error type of podbox. Every failure a user can meet is a PodboxError: a stable `code`,
 * a message naming the object, and a `hint` saying what to do. The CLI prints it as one line.
 */
export type ErrorCode =
  | 'InvalidManifest'
  | 'UnsupportedField'
  | 'ImageNotFound'
  | 'ImagePullUnauthorized'
  | 'RegistryUnreachable'
  | 'RegistryTLS'
  | 'DigestMismatch'
  | 'ImagePullFailed'
  | 'InvalidImage'
  | 'UnsafeLayer'
  | 'PodNotFound'
  | 'VolumeNotFound'
  | 'PodExists'
  | 'ContainerNotFound'
  | 'PodNotRunning'
  | 'ListenFailed'
  | 'LostConnection'
  | 'SandboxFailed'
  | 'RuntimeFailed'
  | 'HostNotReady'
  | 'InvalidArgument'
  | 'Timeout'
  | 'LoginRefused'
  | 'RegistryUnreachable'
  | 'RegistryTLS'
  | 'HostPortUnavailable'
  | 'NetworkFailed'
  | 'WorkloadNotFound'
  | 'WorkloadExists';

export class PodboxError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'PodboxError';
  }

  /** One line for stderr: what went wrong, then what to do about it. */
  toLine(): string {
    return this.hint ? `${this.message}: ${this.hint}` : this.message;
  }
}

export function isPodboxError(e: unknown): e is PodboxError {
  return e instanceof PodboxError;
}

/** The errno code of a Node system error, if it has one. */
export function errnoOf(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : undefined;
}
