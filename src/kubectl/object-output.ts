/**
 * `-o json|yaml` as kubectl prints objects: one object alone, several as a v1 List; JSON indented by
 * four spaces. The YAML library is loaded only for -o yaml, so a plain `get` starts without it.
 */
export async function writeObjects(objects: object[], single: boolean, format: 'json' | 'yaml'): Promise<void> {
  const out = single
    ? objects[0]
    : { apiVersion: 'v1', kind: 'List', items: objects, metadata: { resourceVersion: '' } };
  const text = format === 'json' ? `${JSON.stringify(out, null, 4)}\n` : (await import('yaml')).stringify(out);
  process.stdout.write(text);
}
