import { connectivityState } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { ExtAuthzGrpcClients } from '../../../src/inbound/authz/ext-authz-grpc.js';
import type { ExtAuthzGrpcProvider } from '../../../src/inbound/authz/ext-authz-provider.js';
import { createDevCa, issueWorkloadCertificate } from '../../../src/identity/dev-ca.js';

const provider: ExtAuthzGrpcProvider = {
  kind: 'grpc',
  name: 'authz',
  host: 'authz.foo.svc.cluster.local',
  port: 9000,
  target: 'authz.foo.svc.cluster.local:9000',
  authority: 'authz.foo.svc.cluster.local',
  timeoutMs: 1000,
  failOpen: false,
  statusOnError: 403,
  body: null,
};
const endpoint = (i: number) => ({ address: `10.0.0.${i}:9000`, tls: null, cluster: 'outbound|9000||authz' });

describe('ExtAuthzGrpcClients', () => {
  it('reuses one channel per endpoint, and closes the least recent past 64', () => {
    const clients = new ExtAuthzGrpcClients();
    const first = clients.get(provider, endpoint(1));
    expect(clients.get(provider, endpoint(1))).toBe(first);
    for (let i = 2; i <= 64; i++) clients.get(provider, endpoint(i));
    expect(first.getChannel().getConnectivityState(false)).not.toBe(connectivityState.SHUTDOWN);
    clients.get(provider, endpoint(65));
    expect(first.getChannel().getConnectivityState(false)).toBe(connectivityState.SHUTDOWN);
    expect(clients.get(provider, endpoint(1))).not.toBe(first);
    clients.close();
  });

  it('replaces the channel when the client TLS changes (a rotated certificate)', async () => {
    const ca = await createDevCa();
    const issue = () =>
      issueWorkloadCertificate({ ca, namespace: 'foo', serviceAccount: 'httpbin', ttl: '1h' });
    const [old, rotated] = [await issue(), await issue()];
    const tls = (c: typeof old) => ({
      ca: c.rootCertPem,
      cert: c.certChainPem,
      key: c.keyPem,
      servername: null,
      verifyPeer: null,
    });
    const clients = new ExtAuthzGrpcClients();
    const before = clients.get(provider, { ...endpoint(1), tls: tls(old) });
    expect(clients.get(provider, { ...endpoint(1), tls: tls(old) })).toBe(before);
    const after = clients.get(provider, { ...endpoint(1), tls: tls(rotated) });
    expect(after).not.toBe(before);
    expect(before.getChannel().getConnectivityState(false)).toBe(connectivityState.SHUTDOWN);
    clients.close();
  });
});
