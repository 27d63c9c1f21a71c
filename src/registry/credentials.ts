// STAND-IN (branch h10c): h10b owns src/registry/credentials.ts; the merger takes h10b's file and drops this one.
export interface DockerConfigJson {
  auths: Record<string, { auth?: string; username?: string; password?: string }>;
}
