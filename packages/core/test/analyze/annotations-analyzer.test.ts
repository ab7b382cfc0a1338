import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/analyze/analyze.js';
import { loadConfigText } from '../../src/config/load.js';

const run = (yaml: string) =>
  analyze(loadConfigText(yaml, { file: 'k8s.yaml' }), {
    analyzers: ['annotations.K8sAnalyzer'],
    includeLoaderFindings: false,
  });

const pod = (annotations: string, labels = '') => `apiVersion: v1
kind: Pod
metadata:
  name: app
  namespace: shop
${labels === '' ? '' : `  labels:\n${labels}\n`}  annotations:
${annotations}
spec:
  containers:
  - name: app
`;

// istio pkg/config/analysis/analyzers/annotations/annotations.go, messages.yaml IST0107/0108/0125/0135.
describe('annotations.K8sAnalyzer', () => {
  it('reports an unknown Istio annotation with istioctl text, pointing at the annotation line', () => {
    const ms = run(pod('    sidecar.istio.io/injct: "false"'));
    expect(ms).toHaveLength(1);
    expect(ms[0]).toMatchObject({
      code: 'IST0108',
      level: 'Warning',
      origin: 'Pod shop/app',
      reference: 'k8s.yaml:7',
      message: 'Unknown annotation: sidecar.istio.io/injct',
    });
  });

  it('reports an injector-rejected value with the Go parse error', () => {
    const ms = run(pod('    traffic.sidecar.istio.io/excludeInboundPorts: "80,abc"'));
    expect(ms.map((m) => [m.code, m.message])).toEqual([
      [
        'IST0125',
        `Invalid annotation traffic.sidecar.istio.io/excludeInboundPorts: excludeInboundPorts invalid: failed parsing port 'abc': failed parsing port 'abc': strconv.ParseUint: parsing "abc": invalid syntax`,
      ],
    ]);
  });

  it('accepts valid values of checked annotations', () => {
    const ms = run(
      pod(
        [
          '    traffic.sidecar.istio.io/includeOutboundIPRanges: "10.0.0.0/8,fd00::/8"',
          '    sidecar.istio.io/proxyCPU: 100m',
          '    sidecar.istio.io/proxyMemory: 128Mi',
          '    prometheus.istio.io/merge-metrics: "false"',
          '    status.sidecar.istio.io/port: "15020"',
        ].join('\n'),
      ),
    );
    expect(ms).toEqual([]);
  });

  it('reports bad CIDRs and quantities', () => {
    const ms = run(
      pod(
        [
          '    traffic.sidecar.istio.io/excludeOutboundIPRanges: "10.0.0.0"',
          '    sidecar.istio.io/proxyMemory: lots',
        ].join('\n'),
      ),
    );
    expect(ms.map((m) => m.message).sort()).toEqual([
      `Invalid annotation sidecar.istio.io/proxyMemory: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`,
      `Invalid annotation traffic.sidecar.istio.io/excludeOutboundIPRanges: excludeIPRanges invalid: failed parsing cidr '10.0.0.0': netip.ParsePrefix("10.0.0.0"): no '/'`,
    ]);
  });

  it('reports the deprecated inject annotation unless the inject label is also set', () => {
    const alone = run(pod('    sidecar.istio.io/inject: "true"'));
    expect(alone.map((m) => [m.code, m.level, m.message])).toEqual([
      [
        'IST0135',
        'Info',
        'Annotation "sidecar.istio.io/inject" has been deprecated in favor of the "sidecar.istio.io/inject" label and may not work in future Istio versions.',
      ],
    ]);
    expect(run(pod('    sidecar.istio.io/inject: "true"', '    sidecar.istio.io/inject: "true"'))).toEqual(
      [],
    );
  });

  it('reports a misplaced annotation with the kinds it applies to; a Namespace origin has no namespace', () => {
    const ms = run(`apiVersion: v1
kind: Namespace
metadata:
  name: staging
  annotations:
    networking.istio.io/exportTo: "."
`);
    expect(ms.map((m) => [m.code, m.origin, m.message])).toEqual([
      [
        'IST0107',
        'Namespace staging',
        'Misplaced annotation: networking.istio.io/exportTo can only be applied to Service',
      ],
    ]);
  });

  it('is suppressed on a Namespace by its analyze-suppress annotation', () => {
    const ms = run(`apiVersion: v1
kind: Namespace
metadata:
  name: staging
  annotations:
    galley.istio.io/analyze-suppress: IST0108
    sidecar.istio.io/bogus: "x"
`);
    expect(ms).toEqual([]);
  });

  it('ignores Istio resources and non-Istio annotations, as istio does', () => {
    const ms = run(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: deny
  namespace: shop
  annotations:
    istio.io/dryrun: "true"
spec: {}
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
  annotations:
    kubernetes.io/psp: x
    example.com/istio.io-like: y
spec:
  ports:
  - name: http
    port: 80
`);
    expect(ms).toEqual([]);
  });
});
