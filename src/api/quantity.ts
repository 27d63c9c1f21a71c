/** A Kubernetes resource quantity in bytes ("64Mi", "1G", "500k", "1e3"). */
export function quantityBytes(q: string): number {
  const m = /^([0-9.]+(?:e[0-9]+)?)([KMGTPE]i|[kMGTPE])?$/.exec(q.trim());
  if (!m) throw new Error(`invalid quantity ${q}`);
  const pow: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };
  return Math.ceil(Number(m[1]) * (m[2] ? pow[m[2]]! : 1));
}
