import { describe, expect, it } from 'vitest';
import { compilePlan } from '../../src/compile/compile-plan.js';
import type { WorkloadIdentity } from '../../src/compile/workload.js';
import { sample, snapshotOf } from './helpers.js';

// A gateway's TCP routes as istiod builds them (gateway.go buildGatewayNetworkFiltersFromTCPRoutes,
// l4SingleMatch): per plain TCP server, the first `tcp` rule of the bound VirtualServices
// whose match fits the server's port and Gateway.
const ingress: WorkloadIdentity = {
  name: 'istio-ingressgateway-1',
  namespace: 'istio-system',
  serviceAccount: 'istio-ingressgateway-service-account',
  labels: { istio: 'ingressgateway' },
};

const GATEWAYS = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: tcp-a, namespace: default }
spec:
  selector: { istio: ingressgateway }
  servers:
  - port: { number: 31400, name: tcp, protocol: TCP }
    hosts: ["*"]
  - port: { number: 27017, name: mongo, protocol: MONGO }
    hosts: ["*"]
  - port: { number: 443, name: tls, protocol: TLS }
    tls: { mode: PASSTHROUGH }
    hosts: ["*"]
`;

function plan(vs: string) {
  return compilePlan(snapshotOf(sample('tcp-echo/tcp-echo-services.yaml'), GATEWAYS, vs), ingress);
}

describe('gateway tcp routes', () => {
  it('takes the first rule whose match names this Gateway and port, and weighs its destinations', () => {
    const p = plan(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: tcp-echo, namespace: default }
spec:
  hosts: ["*"]
  gateways: [tcp-a]
  tcp:
  - match: [{ gateways: [other-gateway] }]
    route: [{ destination: { host: tcp-echo, port: { number: 9001 } } }]
  - match: [{ port: 27017 }]
    route: [{ destination: { host: tcp-echo, port: { number: 9001 } } }]
  - route:
    - { destination: { host: tcp-echo, port: { number: 9000 } }, weight: 3 }
    - { destination: { host: tcp-echo, port: { number: 9001 } }, weight: 1 }
`);
    // The TLS passthrough server on 443 is no plain TCP one: it has no entry.
    expect(
      p.gateway?.tcp.map((r) => [r.port, r.id, r.destinations.map((d) => `${d.cluster} ${d.weight}`)]),
    ).toEqual([
      [
        31400,
        'default/tcp-echo/tcp/2',
        [
          'outbound|9000||tcp-echo.default.svc.cluster.local 75',
          'outbound|9001||tcp-echo.default.svc.cluster.local 25',
        ],
      ],
      [27017, 'default/tcp-echo/tcp/1', ['outbound|9001||tcp-echo.default.svc.cluster.local 100']],
    ]);
  });

  it('binds no VirtualService for the mesh or another Gateway', () => {
    const p = plan(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: tcp-echo, namespace: default }
spec:
  hosts: [tcp-echo]
  tcp:
  - route: [{ destination: { host: tcp-echo, port: { number: 9000 } } }]
`);
    expect(p.gateway?.tcp.map((r) => [r.port, r.id, r.destinations.length])).toEqual([
      [31400, null, 0],
      [27017, null, 0],
    ]);
  });
});
