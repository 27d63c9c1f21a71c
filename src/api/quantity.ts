/**
 * A Kubernetes resource quantity as a number of base units (apimachinery resource.ParseQuantity):
 * "500m" is 0.5, "64Mi" 67108864, "1e3" 1000. Undefined when it is not a quantity.
 */
export function quantityValue(q: string | number): number | undefined {
  if (typeof q === 'number') return q;
  const m = /^([+-]?[0-9.]+)(?:([eE][+-]?[0-9]+)|([KMGTPE]i|[numkMGTPE])?)$/.exec(q.trim());
  if (!m || !/[0-9]/.test(m[1]!)) return undefined;
  const n = Number(m[1]! + (m[2] ?? ''));
  if (!Number.isFinite(n)) return undefined;
  return n * (m[3] ? SUFFIX[m[3]]! : 1);
}

const SUFFIX: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** A Kubernetes resource quantity in whole bytes, rounded up ("64Mi", "1G", "500k", "1e3"). */
export function quantityBytes(q: string): number {
  const v = quantityValue(q);
  if (v === undefined) throw new Error(`invalid quantity ${q}`);
  return Math.ceil(v);
}

/**
 * A quantity as resource.Quantity.String prints it (canonical form): the largest suffix of its own
 * kind (binary for Ki..Ei, decimal for k..E or none) that keeps the number whole; "1024Ki" is
 * "1Mi", "1000000" is "1M". Other forms (fractions, exponents) are shown as written.
 */
export function canonicalQuantity(q: string): string {
  const m = /^(\d+)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/.exec(q.trim());
  if (!m) return q;
  const binary = m[2]?.endsWith('i') ?? false;
  const value = BigInt(m[1]!) * BigInt(SUFFIX[m[2] ?? ''] ?? 1);
  if (value === 0n) return '0';
  const ladder = binary ? ['Ei', 'Pi', 'Ti', 'Gi', 'Mi', 'Ki'] : ['E', 'P', 'T', 'G', 'M', 'k'];
  for (const s of ladder) {
    const unit = BigInt(SUFFIX[s]!);
    if (value % unit === 0n) return `${value / unit}${s}`;
  }
  return `${value}`;
}
