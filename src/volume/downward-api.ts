import type { Pod, Volume } from '../api/types.js';
import { metadataFieldValue } from '../api/env.js';
import { resourceFieldValue } from '../api/resource-field.js';
import type { NodeAllocatable } from '../api/node.js';
import type { PayloadFile } from './atomic-writer.js';

/**
 * The files of a downwardAPI volume, or of a projected volume's downwardAPI source
 * (pkg/volume/downwardapi/downwardapi.go CollectData): one per item, its text the pod's field or
 * a container's resource, its mode the item's or the volume's defaultMode. Written by
 * atomic-writer.ts. The pod's metadata does not change while podbox runs it, so the files are
 * written once (the kubelet rewrites them when labels or annotations change).
 */
export type DownwardAPIItem = NonNullable<NonNullable<Volume['downwardAPI']>['items']>[number];

export function downwardAPIPayload(
  pod: Pod,
  items: DownwardAPIItem[],
  defaultMode: number,
  node: NodeAllocatable,
): PayloadFile[] {
  return items.map((item) => ({
    path: item.path,
    content: Buffer.from(downwardAPIValue(pod, item, node)),
    mode: item.mode ?? defaultMode,
  }));
}

function downwardAPIValue(pod: Pod, item: DownwardAPIItem, node: NodeAllocatable): string {
  if (item.fieldRef) {
    // Whole maps (fieldpath.ExtractFieldPathAsString: metadata.labels / metadata.annotations).
    if (item.fieldRef.fieldPath === 'metadata.labels') return formatMap(pod.metadata.labels ?? {});
    if (item.fieldRef.fieldPath === 'metadata.annotations') return formatMap(pod.metadata.annotations ?? {});
    return metadataFieldValue(pod, item.fieldRef.fieldPath) ?? '';
  }
  if (item.resourceFieldRef) return resourceFieldValue(pod, item.resourceFieldRef, node) ?? '';
  return '';
}

/** fieldpath.FormatMap: `key="value"` lines in key order, the value quoted as Go's %q, no final newline. */
export function formatMap(m: Record<string, string>): string {
  return Object.keys(m)
    .sort()
    .map((k) => `${k}=${goQuote(m[k]!)}`)
    .join('\n');
}

/** Go's strconv.Quote for valid UTF-8: `\a\b\f\n\r\t\v`, `\\`, `\"`, other controls as \xNN, DEL as \x7f. */
export function goQuote(s: string): string {
  const named: Record<string, string> = {
    '\x07': '\\a',
    '\b': '\\b',
    '\f': '\\f',
    '\n': '\\n',
    '\r': '\\r',
    '\t': '\\t',
    '\v': '\\v',
    '\\': '\\\\',
    '"': '\\"',
  };
  let out = '"';
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (named[ch]) out += named[ch];
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else if ((code >= 0x80 && code < 0xa0) || code === 0xad) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return out + '"';
}
