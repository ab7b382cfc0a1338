import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/analyze/analyze.js';
import { loadConfigText } from '../../src/config/load.js';

const run = (yaml: string) =>
  analyze(loadConfigText(yaml, { file: 'vs.yaml' }), {
    analyzers: ['virtualservice.DestinationHostAnalyzer'],
    includeLoaderFindings: false,
  }).filter((m) => m.code === 'IST0140');

const service = `apiVersion: v1
kind: Service
metadata:
  name: ratings
  namespace: default
spec:
  ports:
  - port: 9080
    name: http
`;

const subsetVs = (name: string, host = 'ratings') => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ${name}
  namespace: default
spec:
  hosts:
  - ${host}
  http:
  - route:
    - destination:
        host: ${host}
        subset: v1
`;

const gatewayVs = (
  ruleName = '',
  gateways = '  gateways:\n  - ingress\n',
) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: front
  namespace: default
spec:
  hosts:
  - "*"
${gateways}  http:
  - ${ruleName === '' ? '' : `name: ${ruleName}\n    `}route:
    - destination:
        host: ratings
`;

// istio pkg/config/analysis/analyzers/virtualservice/destinationhosts.go (analyzeSubset);
// messages.yaml IST0140 IngressRouteRulesNotAffected.
describe('virtualservice.DestinationHostAnalyzer: IST0140', () => {
  it('warns on a gateway route without subset to a host another VirtualService splits by subset', () => {
    // Documents: service (lines 1-9), subset VS (11-23), gateway VS starts at line 25.
    const ms = run([service, subsetVs('ratings-v1'), gatewayVs()].join('---\n'));
    expect(ms.map((m) => [m.code, m.level, m.origin, m.reference, m.message])).toEqual([
      [
        'IST0140',
        'Warning',
        'VirtualService default/front',
        'vs.yaml:25',
        'Subset in virtual service default/ratings-v1 has no effect on ingress gateway default/front requests',
      ],
    ]);
  });

  it('reports once per VirtualService that splits the host, and nothing without gateways', () => {
    const two = [service, subsetVs('ratings-a'), subsetVs('ratings-b'), gatewayVs()].join('---\n');
    expect(run(two).map((m) => m.message)).toEqual([
      'Subset in virtual service default/ratings-a has no effect on ingress gateway default/front requests',
      'Subset in virtual service default/ratings-b has no effect on ingress gateway default/front requests',
    ]);
    expect(run([service, subsetVs('ratings-v1'), gatewayVs('', '')].join('---\n'))).toEqual([]);
  });

  it('matches hosts as written: a FQDN subset route does not match a short gateway host', () => {
    const fqdn = subsetVs('ratings-v1', 'ratings.default.svc.cluster.local');
    expect(run([service, fqdn, gatewayVs()].join('---\n'))).toEqual([]);
  });

  it("points at the destination host only when the rule's name is a route section (istio's key uses http.Name)", () => {
    const named = (n: string) => run([service, subsetVs('ratings-v1'), gatewayVs(n)].join('---\n'));
    // istio formats `{.spec.%s[%d].route[%d].destination.host}` with the rule's name:
    // an unnamed or otherwise-named rule misses the field map and keeps the resource line.
    expect(named('').map((m) => m.reference)).toEqual(['vs.yaml:25']);
    expect(named('main').map((m) => m.reference)).toEqual(['vs.yaml:25']);
    expect(named('http').map((m) => m.reference)).toEqual(['vs.yaml:39']);
  });
});
