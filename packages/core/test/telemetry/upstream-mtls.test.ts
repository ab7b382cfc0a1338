import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compilePlan } from '../../src/compile/compile-plan.js';
import type { CertSource } from '../../src/identity/types.js';
import { createDevCa, issueWorkloadCertificate } from '../../src/identity/dev-ca.js';
import { createTlsFor } from '../../src/mesh/outbound-tls.js';
import type { UpstreamHost } from '../../src/outbound/upstream/types.js';
import { isIstioMutual } from '../../src/telemetry/metrics/upstream-mtls.js';
import { useTmpDir } from '../helpers/tmp.js';
import { PRODUCTPAGE, snapshotOf } from './helpers.js';

// The client reports its principals only for an ISTIO_MUTUAL try (istio_stats.cc reads
// them off the upstream connection's certificates). Checked against the TLS meshlet's
// createTlsFor really chooses for each DestinationRule mode.

const tmp = useTmpDir();

const CERTS: CertSource = {
  current: () => ({
    certChainPem: 'chain',
    keyPem: 'key',
    rootCertPem: 'root',
    spiffeId: 'spiffe://cluster.local/ns/default/sa/bookinfo-productpage',
    notBefore: new Date(0),
    notAfter: new Date(0),
    fingerprint256: '',
    directory: null,
  }),
};

const rule = (host: string, tls: string) => `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: ${host}, namespace: default }
spec: { host: ${host}, trafficPolicy: { tls: ${tls} } }
`;

describe('isIstioMutual', () => {
  it('is true for auto mTLS and ISTIO_MUTUAL, false for SIMPLE, MUTUAL, DISABLE and plaintext', async () => {
    const dir = await tmp();
    // MUTUAL's files must load (a pair that does not is refused, as the agent's SDS refuses it).
    const ca = await createDevCa();
    const issued = await issueWorkloadCertificate({
      ca,
      namespace: 'default',
      serviceAccount: 'productpage',
    });
    const [cert, key, root] = ['cert.pem', 'key.pem', 'ca.pem'].map((f) => path.join(dir, f)) as [
      string,
      string,
      string,
    ];
    await writeFile(cert, issued.certChainPem);
    await writeFile(key, issued.keyPem);
    await writeFile(root, ca.rootCertPem);
    const hosts = ['auto', 'istio', 'simple', 'mutual', 'disable', 'nosidecar'];
    const yaml = [
      rule('istio', '{ mode: ISTIO_MUTUAL }'),
      rule('simple', '{ mode: SIMPLE }'),
      rule(
        'mutual',
        `{ mode: MUTUAL, clientCertificate: ${cert}, privateKey: ${key}, caCertificates: ${root} }`,
      ),
      rule('disable', '{ mode: DISABLE }'),
    ].join('');
    const endpoint = (sidecar: boolean) => ({
      address: '127.0.0.1',
      port: 9080,
      serviceAccount: 'bookinfo-reviews',
      labels: { 'security.istio.io/tlsMode': sidecar ? 'istio' : 'disabled' },
    });
    const plan = compilePlan(snapshotOf(yaml), PRODUCTPAGE, {
      endpoints: Object.fromEntries(hosts.map((h) => [h, [endpoint(h !== 'nosidecar')]])),
    });
    const tlsFor = createTlsFor(() => plan, CERTS);
    const got = hosts.map((h) => {
      const cluster = plan.outbound.clusters[`outbound|9080||${h}.default.svc.cluster.local`]!;
      const host: UpstreamHost = {
        id: '127.0.0.1:9080',
        endpoint: cluster.endpoints[0]!,
        active: 0,
        ejected: false,
      };
      return isIstioMutual(tlsFor(cluster, host));
    });
    expect(Object.fromEntries(hosts.map((h, i) => [h, got[i]]))).toEqual({
      auto: true,
      istio: true,
      simple: false,
      mutual: false,
      disable: false,
      nosidecar: false,
    });
  });

  it('is false without a workload certificate to present', () => {
    expect(isIstioMutual(null)).toBe(false);
    expect(
      isIstioMutual({
        ca: 'root',
        cert: null,
        key: null,
        servername: null,
        verifyPeer: null,
        alpn: ['istio'],
      }),
    ).toBe(false);
  });
});
