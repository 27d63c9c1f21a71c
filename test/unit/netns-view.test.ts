import { describe, it, expect } from 'vitest';
import { interfaceNames, localAddresses, parseRoutes } from '../../src/sandbox/netns-view.js';

describe('netns-view: /proc/PID/net as a pod sees it', () => {
  it('reads interfaces, routes and local addresses', () => {
    const dev = 'Inter-|   Receive\n face |bytes\n    lo: 1 2 3\n  eth0: 4 5 6\n';
    expect(interfaceNames(dev)).toEqual(['lo', 'eth0']);
    const route =
      'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n' +
      'eth0\t00000000\t0201580A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n' +
      'eth0\t0001580A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n';
    expect(parseRoutes(route)).toEqual([
      { interface: 'eth0', dest: '0.0.0.0', gateway: '10.88.1.2', bits: 0 },
      { interface: 'eth0', dest: '10.88.1.0', gateway: '0.0.0.0', bits: 24 },
    ]);
    const trie =
      'Local:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 10.88.1.100\n        /32 host LOCAL\n' +
      '     |-- 127.0.0.1\n        /32 host LOCAL\n     |-- 10.88.1.255\n        /32 link BROADCAST\n';
    expect(localAddresses(trie)).toEqual(['10.88.1.100', '127.0.0.1']);
  });
});
