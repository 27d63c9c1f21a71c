import { PodboxError } from '../errors.js';
import { hostArchitecture } from './config.js';

/**
 * Platforms as containerd's platforms package has them: normalised (database.go normalizeArch),
 * and matched against an index in the order of preference of platforms.Only (platforms.go
 * platformVector): the platform itself first, then what it also runs (amd64 runs 386; arm v8 runs
 * v7, v6, v5; arm64 runs arm v8 and below).
 */
export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

/** containerd normalizeArch, with the OS lowercased. */
export function normalizePlatform(p: Platform): Platform {
  let arch = p.architecture.toLowerCase();
  let variant = (p.variant ?? '').toLowerCase();
  switch (arch) {
    case 'i386':
      arch = '386';
      variant = '';
      break;
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      arch = 'amd64';
      if (variant === 'v1') variant = '';
      break;
    case 'aarch64':
    case 'arm64':
      arch = 'arm64';
      if (variant === '8' || variant === 'v8' || variant === 'v8.0') variant = '';
      break;
    case 'armhf':
      arch = 'arm';
      variant = 'v7';
      break;
    case 'armel':
      arch = 'arm';
      variant = 'v6';
      break;
    case 'arm':
      if (variant === '' || variant === '7') variant = 'v7';
      else if (/^[5-8]$/.test(variant)) variant = `v${variant}`;
      break;
  }
  const out: Platform = { os: p.os.toLowerCase(), architecture: arch };
  if (variant) out.variant = variant;
  return out;
}

/** `--platform os/arch[/variant]`. */
export function parsePlatform(s: string): Platform {
  const parts = s.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[A-Za-z0-9_.-]+$/.test(p))) {
    throw new PodboxError(
      'InvalidArgument',
      `invalid platform "${s}"`,
      'give OS/ARCH or OS/ARCH/VARIANT, e.g. linux/amd64 or linux/arm/v7',
    );
  }
  const p: Platform = { os: parts[0]!, architecture: parts[1]! };
  if (parts[2]) p.variant = parts[2];
  return normalizePlatform(p);
}

/** The platform this host runs (containerd platforms.DefaultSpec). */
export function hostPlatform(): Platform {
  return normalizePlatform({ os: 'linux', architecture: hostArchitecture() });
}

/** platforms.go platformVector: `p` and what it also runs, most preferred first. */
export function platformVector(p: Platform): Platform[] {
  const n = normalizePlatform(p);
  const out: Platform[] = [n];
  const armFrom = (top: number) => {
    for (let v = top; v >= 5; v--) out.push({ os: n.os, architecture: 'arm', variant: `v${v}` });
  };
  if (n.architecture === 'amd64') {
    const level = Number(/^v(\d)$/.exec(n.variant ?? '')?.[1] ?? 1);
    for (let v = level - 1; v >= 1; v--)
      out.push(v === 1 ? { os: n.os, architecture: 'amd64' } : { ...n, variant: `v${v}` });
    out.push({ os: n.os, architecture: '386' });
  } else if (n.architecture === 'arm') {
    const top = Number(/^v(\d)$/.exec(n.variant ?? 'v7')?.[1] ?? 7);
    out.pop();
    armFrom(top);
  } else if (n.architecture === 'arm64') {
    armFrom(8);
  }
  return out;
}

const same = (a: Platform, b: Platform) =>
  a.os === b.os && a.architecture === b.architecture && (a.variant ?? '') === (b.variant ?? '');

/**
 * The index entry to pull for `want` (platforms.Only(want) as a matcher, its Less as the order):
 * the first entry of the most preferred platform, or undefined.
 */
export function choosePlatform<T extends { platform?: Platform }>(entries: T[], want: Platform): T | undefined {
  const vector = platformVector(want);
  let best: { rank: number; entry: T } | undefined;
  for (const e of entries) {
    if (!e.platform || typeof e.platform.os !== 'string' || typeof e.platform.architecture !== 'string') continue;
    const p = normalizePlatform(e.platform);
    const rank = vector.findIndex((v) => same(v, p));
    if (rank >= 0 && (!best || rank < best.rank)) best = { rank, entry: e };
  }
  return best?.entry;
}
