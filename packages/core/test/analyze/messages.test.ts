import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/analyze/analyze.js';
import { loadConfigText } from '../../src/config/load.js';

const GATEWAY_TLS = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: gw
  namespace: default
spec:
  selector:
    istio: ingressgateway
  servers:
  - port:
      number: 443
      name: https
      protocol: HTTPS
    hosts:
    - "example.com"
    tls:
      mode: SIMPLE
      credentialName: example-cert
`;

const SECRET = `apiVersion: v1
kind: Secret
metadata:
  name: example-cert
  namespace: istio-system
type: kubernetes.io/tls
data: {}
`;

const VS = (name: string, extra = '') => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ${name}
  namespace: default
spec:
  hosts:
  - ratings
${extra}  http:
  - route:
    - destination:
        host: ratings
`;

describe('analyze messages', () => {
  it('reports a Gateway credentialName missing from the gateway workload namespace (istio-system)', () => {
    const missing = analyze(loadConfigText(GATEWAY_TLS, { file: 'gw.yaml' }), {
      analyzers: ['gateway.SecretAnalyzer'],
    });
    expect(missing.map((m) => [m.code, m.message, m.reference])).toEqual([
      ['IST0101', 'Referenced credentialName not found: "example-cert"', 'gw.yaml:18'],
    ]);
    const present = analyze(loadConfigText(`${GATEWAY_TLS}---\n${SECRET}`), {
      analyzers: ['gateway.SecretAnalyzer'],
    });
    expect(present).toEqual([]);
  });

  it('does not accept a Secret in the Gateway namespace when the workload runs in istio-system', () => {
    const secretInDefault = SECRET.replace('namespace: istio-system', 'namespace: default');
    const ms = analyze(loadConfigText(`${GATEWAY_TLS}---\n${secretInDefault}`), {
      analyzers: ['gateway.SecretAnalyzer'],
    });
    expect(ms.map((m) => m.code)).toEqual(['IST0101']);
  });

  it('words IST0109 as Istio does, naming both VirtualServices and the scoped host', () => {
    const snapshot = loadConfigText(
      `${VS('a')}---\n${VS('b')}---\napiVersion: v1\nkind: Service\nmetadata:\n  name: ratings\nspec:\n  ports:\n  - port: 9080\n`,
    );
    const ms = analyze(snapshot).filter((m) => m.code === 'IST0109');
    expect(ms.map((m) => m.origin)).toEqual(['VirtualService default/a', 'VirtualService default/b']);
    expect(ms[0]?.message).toBe(
      'The VirtualServices default/a,default/b associated with mesh gateway define the same host */ratings.default.svc.cluster.local which can lead to undefined behavior. This can be fixed by merging the conflicting VirtualServices into a single resource.',
    );
  });

  it('words IST0132 with the VirtualService hosts as a Go slice', () => {
    const gw = GATEWAY_TLS.replace('"example.com"', '"other.com"')
      .replace('protocol: HTTPS', 'protocol: HTTP')
      .replace(/ {4}tls:\n.*\n.*\n/, '');
    const snapshot = loadConfigText(`${gw}---\n${VS('r', '  gateways:\n  - gw\n')}`);
    const ms = analyze(snapshot, { analyzers: ['virtualservice.GatewayAnalyzer'] });
    expect(ms.map((m) => m.message)).toEqual([
      'one or more host [ratings] defined in VirtualService default/r not found in Gateway default/gw.',
    ]);
  });

  it('drops messages on a resource annotated galley.istio.io/analyze-suppress with their code', () => {
    const annotated = VS('a').replace(
      '  namespace: default\n',
      '  namespace: default\n  annotations:\n    galley.istio.io/analyze-suppress: IST0101\n',
    );
    expect(analyze(loadConfigText(annotated)).filter((m) => m.code === 'IST0101')).toEqual([]);
    expect(analyze(loadConfigText(VS('a'))).filter((m) => m.code === 'IST0101')).toHaveLength(1);
  });

  it('orders messages by level, code, then resource, and freezes them', () => {
    const snapshot = loadConfigText(`${VS('b')}---\n${VS('a')}`);
    const ms = analyze(snapshot);
    const keys = ms.map((m) => `${m.level} ${m.code} ${m.origin ?? ''}`);
    expect(keys).toEqual([
      'Error IST0101 VirtualService default/a',
      'Error IST0101 VirtualService default/b',
      'Error IST0109 VirtualService default/a',
      'Error IST0109 VirtualService default/b',
    ]);
    expect(Object.isFrozen(ms[0])).toBe(true);
  });
});
