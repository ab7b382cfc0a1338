import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/analyze/analyze.js';
import { loadConfigText } from '../../src/config/load.js';

const run = (yaml: string) =>
  analyze(loadConfigText(yaml, { file: 'vs.yaml' }), {
    analyzers: ['virtualservice.JWTClaimRouteAnalyzer'],
    includeLoaderFindings: false,
  });

const GATEWAY = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: gw
  namespace: istio-system
spec:
  selector:
    istio: ingressgateway
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
`;

const VS = (header: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: by-group
  namespace: shop
spec:
  hosts: ["shop.example.com"]
  gateways: ["istio-system/gw"]
  http:
  - match:
    - headers:
        "${header}":
          exact: admins
    route:
    - destination:
        host: admin.shop.svc.cluster.local
  - route:
    - destination:
        host: web.shop.svc.cluster.local
`;

const RA = (namespace: string, selector: string) => `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata:
  name: jwt
  namespace: ${namespace}
spec:
${selector}
  jwtRules:
  - issuer: https://issuer.example.com
    jwksUri: https://issuer.example.com/jwks
`;

// istio pkg/config/analysis/analyzers/virtualservice/jwtclaimroute.go; messages.yaml IST0149.
describe('virtualservice.JWTClaimRouteAnalyzer', () => {
  it('reports claim routing through a gateway whose pods no RequestAuthentication selects', () => {
    const ms = run([GATEWAY, VS('@request.auth.claims.groups')].join('---\n'));
    expect(ms.map((m) => [m.code, m.level, m.origin, m.message])).toEqual([
      [
        'IST0149',
        'Error',
        'VirtualService shop/by-group',
        'The virtual service uses the JWT claim based routing (key: @request.auth.claims.groups) but found no request authentication for the gateway (istio-system/gw) pod (istio-ingressgateway-dummypod). The request authentication must first be applied for the gateway pods to validate the JWT token and make the claims available for routing.',
      ],
    ]);
  });

  it('accepts a RequestAuthentication in istio-system selecting the gateway pods', () => {
    const ra = RA('istio-system', '  selector:\n    matchLabels:\n      istio: ingressgateway');
    expect(run([GATEWAY, VS('@request.auth.claims[groups]'), ra].join('---\n'))).toEqual([]);
  });

  it('does not count a RequestAuthentication in the VirtualService namespace, nor one selecting other pods', () => {
    const elsewhere = RA('shop', '');
    const otherPods = RA('istio-system', '  selector:\n    matchLabels:\n      app: web');
    expect(
      run([GATEWAY, VS('@request.auth.claims.groups'), elsewhere, otherPods].join('---\n')),
    ).toHaveLength(1);
  });

  it('ignores headers that are not claims and the bare claims prefix', () => {
    expect(run([GATEWAY, VS('x-group')].join('---\n'))).toEqual([]);
    expect(run([GATEWAY, VS('@request.auth.claims.')].join('---\n'))).toEqual([]);
  });
});
