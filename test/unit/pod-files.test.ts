import { describe, it, expect } from 'vitest';
import { hostsFileContent, podHostname } from '../../src/sandbox/pod-files.js';
import { pod } from '../helpers/fixtures.js';

describe('/etc/hosts as the kubelet writes it', () => {
  it('header, localhost lines, the pod line', () => {
    expect(hostsFileContent(pod({}, 'web'), '127.0.0.1')).toBe(
      '# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' +
        'fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n127.0.0.1\tweb\n',
    );
  });
  it('hostname, subdomain and hostAliases', () => {
    const p = pod({
      hostname: 'h1',
      subdomain: 'sub',
      hostAliases: [{ ip: '10.1.2.3', hostnames: ['foo.local', 'bar.local'] }],
    });
    expect(podHostname(p)).toBe('h1');
    const text = hostsFileContent(p, '127.0.0.1');
    expect(
      text.endsWith(
        '127.0.0.1\th1.sub.default.svc.cluster.local\th1\n\n# Entries added by HostAliases.\n10.1.2.3\tfoo.local\tbar.local\n',
      ),
    ).toBe(true);
  });
});
