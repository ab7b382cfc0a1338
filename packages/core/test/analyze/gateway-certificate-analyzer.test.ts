import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/analyze/analyze.js';
import { loadConfigText } from '../../src/config/load.js';

const run = (yaml: string) =>
  analyze(loadConfigText(yaml, { file: 'gw.yaml' }), {
    analyzers: ['gateway.CertificateAnalyzer'],
    includeLoaderFindings: false,
  });

const gateway = (name: string, credential: string, host: string) => `apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: ${name}
  namespace: istio-system
spec:
  selector:
    istio: ingressgateway
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ["${host}"]
    tls:
      mode: SIMPLE
      credentialName: ${credential}
`;

// istio pkg/config/analysis/analyzers/gateway/certificate.go; messages.yaml IST0138.
describe('gateway.CertificateAnalyzer', () => {
  it('reports two Gateways on one workload serving the same credential, with istioctl text', () => {
    const ms = run(
      [gateway('a', 'wildcard', 'a.example.com'), gateway('b', 'wildcard', 'b.example.com')].join('---\n'),
    );
    expect(ms.map((m) => [m.code, m.level, m.origin, m.reference, m.message])).toEqual([
      [
        'IST0138',
        'Warning',
        'Gateway istio-system/a',
        'gw.yaml:4',
        'Duplicate certificate in multiple gateways [istio-system/a istio-system/b] may cause 404s if clients re-use HTTP2 connections.',
      ],
      [
        'IST0138',
        'Warning',
        'Gateway istio-system/b',
        'gw.yaml:19',
        'Duplicate certificate in multiple gateways [istio-system/b istio-system/a] may cause 404s if clients re-use HTTP2 connections.',
      ],
    ]);
  });

  it('accepts different credentials', () => {
    expect(
      run([gateway('a', 'cert-a', 'a.example.com'), gateway('b', 'cert-b', 'b.example.com')].join('---\n')),
    ).toEqual([]);
  });
});
