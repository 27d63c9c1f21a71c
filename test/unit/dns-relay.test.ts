import { describe, it, expect } from 'vitest';
import { planDnsRelay, dnsUpstreamPort } from '../../src/sandbox/dns-relay.js';
import type { Pod } from '../../src/api/types.js';

function pod(spec: Partial<Pod['spec']> = {}): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'demo', namespace: 'default' },
    spec: { containers: [{ name: 'c', image: 'busybox' }], ...spec },
  } as Pod;
}

const RESOLVED = 'nameserver 127.0.0.53\nnameserver 192.0.2.1\nnameserver 127.0.0.53\nnameserver ::1\n';

describe('when a pod gets a DNS relay (dns-relay.ts planDnsRelay)', () => {
  it("with a user-mode stack and loopback node resolvers: each of them, once, in the file's order", () => {
    const plan = {
      address: '127.0.0.153',
      upstreams: [
        { host: '127.0.0.53', port: 53 },
        { host: '::1', port: 53 },
      ],
    };
    expect(planDnsRelay(pod(), RESOLVED, 'pasta', {})).toEqual(plan);
    expect(planDnsRelay(pod({ dnsPolicy: 'Default' }), RESOLVED, 'slirp4netns', {})).toEqual(plan);
  });

  it('none when the node resolvers are reachable, for --network=none, hostNetwork and dnsPolicy None', () => {
    expect(planDnsRelay(pod(), 'nameserver 192.0.2.1\n', 'pasta', {})).toBeUndefined();
    expect(planDnsRelay(pod(), undefined, 'pasta', {})).toBeUndefined();
    expect(planDnsRelay(pod(), RESOLVED, 'none', {})).toBeUndefined();
    expect(planDnsRelay(pod(), RESOLVED, 'host', {})).toBeUndefined();
    const none = pod({ dnsPolicy: 'None', dnsConfig: { nameservers: ['127.0.0.1'] } });
    expect(planDnsRelay(none, RESOLVED, 'pasta', {})).toBeUndefined();
  });

  it("the resolvers' port is 53 unless the testing knob says another", () => {
    expect(dnsUpstreamPort({})).toBe(53);
    expect(dnsUpstreamPort({ PODBOX_TESTING_DNS_PORT: '5353' })).toBe(5353);
    expect(dnsUpstreamPort({ PODBOX_TESTING_DNS_PORT: '70000' })).toBe(53);
    expect(planDnsRelay(pod(), 'nameserver 127.0.0.1\n', 'pasta', { PODBOX_TESTING_DNS_PORT: '5353' })).toEqual({
      address: '127.0.0.153',
      upstreams: [{ host: '127.0.0.1', port: 5353 }],
    });
  });
});
