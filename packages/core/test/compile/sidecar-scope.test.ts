import { describe, expect, it } from 'vitest';
import { compilePlan } from '../../src/compile/compile-plan.js';
import type { MeshPlan } from '../../src/compile/plan-types.js';
import type { WorkloadIdentity } from '../../src/compile/workload.js';
import { snapshotOf } from './helpers.js';

// The Sidecar resource's scope, as istiod computes a proxy's SidecarScope
// (pilot/pkg/model/sidecar.go, push_context.go getSidecarScope): which Sidecar applies (a
// selecting one in the workload's namespace, else the namespace's default, else the root
// namespace's), the services and VirtualServices its egress hosts import (`.`, `*`, `~`,
// wildcards, port listeners), the services those VirtualServices route to, and its
// outboundTrafficPolicy. The YAML follows the examples of istio.io's Sidecar reference.

const ratings: WorkloadIdentity = {
  name: 'ratings-v1',
  namespace: 'prod-us1',
  serviceAccount: 'ratings',
  labels: { app: 'ratings', version: 'v1' },
};
const reviews: WorkloadIdentity = { ...ratings, name: 'reviews-v1', labels: { app: 'reviews' } };

const service = (name: string, namespace: string, ports = '[{ name: http, port: 9080 }]') => `apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: ${namespace} }
spec: { selector: { app: ${name} }, ports: ${ports} }
`;

const SERVICES = [
  service('details', 'prod-us1', '[{ name: http, port: 9080 }, { name: http-admin, port: 9090 }]'),
  service('payments', 'prod-apis'),
  service('istiod', 'istio-system', '[{ name: grpc-xds, port: 15010 }]'),
  service('billing', 'finance'),
  `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: wiki, namespace: prod-us1 }
spec:
  hosts: ["*.wikipedia.org"]
  ports: [{ number: 443, name: tls, protocol: TLS }]
  resolution: NONE
`,
];

const sidecar = (
  name: string,
  namespace: string,
  spec: string,
  created?: string,
) => `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: ${name}, namespace: ${namespace}${created === undefined ? '' : `, creationTimestamp: "${created}"`} }
spec:
${spec}`;

function plan(w: WorkloadIdentity, ...texts: string[]): MeshPlan {
  return compilePlan(snapshotOf(...SERVICES, ...texts), w);
}

const hosts = (p: MeshPlan) =>
  Object.values(p.outbound.services)
    .map((s) => `${s.host}:${s.ports.map((x) => x.number).join(',')}`)
    .sort();

describe('Sidecar scope', () => {
  it('sees every service without a Sidecar, and only what the root namespace default imports with one', () => {
    const open = plan(ratings);
    expect(open.sidecar).toBeNull();
    expect(hosts(open)).toHaveLength(5);
    // The mesh-wide default: `.` is the workload's own namespace, for every namespace.
    const root = plan(
      ratings,
      sidecar('default', 'istio-system', '  egress:\n  - hosts: ["./*", "istio-system/*"]'),
    );
    expect(root.sidecar).toEqual({ namespace: 'istio-system', name: 'default' });
    expect(hosts(root)).toEqual([
      '*.wikipedia.org:443',
      'details.prod-us1.svc.cluster.local:9080,9090',
      'istiod.istio-system.svc.cluster.local:15010',
    ]);
    expect(root.outbound.lookup('payments.prod-apis', 9080)).toBeNull();
    expect(root.meshConfig.outboundTrafficPolicy).toBe('ALLOW_ANY');
  });

  it("prefers the namespace's Sidecar over the root's, and a selecting one over both, oldest first", () => {
    const ROOT = sidecar('default', 'istio-system', '  egress:\n  - hosts: ["istio-system/*"]');
    const NS = sidecar('default', 'prod-us1', '  egress:\n  - hosts: ["prod-us1/*", "prod-apis/*"]');
    const SELECT_OLD = sidecar(
      'ratings-old',
      'prod-us1',
      '  workloadSelector: { labels: { app: ratings } }\n  egress:\n  - hosts: ["finance/*"]',
      '2024-01-01T00:00:00Z',
    );
    const SELECT_NEW = sidecar(
      'ratings-new',
      'prod-us1',
      '  workloadSelector: { labels: { app: ratings } }\n  egress:\n  - hosts: ["istio-system/*"]',
      '2025-01-01T00:00:00Z',
    );
    expect(plan(ratings, ROOT, NS).sidecar?.name).toBe('default');
    expect(hosts(plan(ratings, ROOT, NS))).toEqual([
      '*.wikipedia.org:443',
      'details.prod-us1.svc.cluster.local:9080,9090',
      'payments.prod-apis.svc.cluster.local:9080',
    ]);
    const selected = plan(ratings, ROOT, NS, SELECT_NEW, SELECT_OLD);
    expect(selected.sidecar?.name).toBe('ratings-old');
    expect(hosts(selected)).toEqual(['billing.finance.svc.cluster.local:9080']);
    // reviews has no selecting Sidecar: its namespace's default.
    expect(plan(reviews, ROOT, NS, SELECT_OLD).sidecar?.name).toBe('default');
  });

  it('imports by wildcard host and namespace, leaves out `~` hosts, and keeps only a port listener’s port', () => {
    const p = plan(
      ratings,
      sidecar(
        'default',
        'prod-us1',
        `  egress:
  - port: { number: 9080, protocol: HTTP, name: egresshttp }
    hosts: ["prod-us1/*", "*/payments.prod-apis.svc.cluster.local"]
  - hosts: ["*/*.wikipedia.org", "prod-us1/*", "~prod-us1/details.prod-us1.svc.cluster.local", "istio-system/*"]`,
      ),
    );
    expect(hosts(p)).toEqual([
      '*.wikipedia.org:443',
      // 9090 was on the port listener for 9080 only, and the catch-all excludes details.
      'details.prod-us1.svc.cluster.local:9080',
      'istiod.istio-system.svc.cluster.local:15010',
      'payments.prod-apis.svc.cluster.local:9080',
    ]);
  });

  it('does not limit an HTTP_PROXY listener to its port', () => {
    const p = plan(
      ratings,
      sidecar(
        'default',
        'prod-us1',
        '  egress:\n  - port: { number: 15080, protocol: HTTP_PROXY, name: egress-proxy }\n    hosts: ["./*"]',
      ),
    );
    expect(hosts(p)).toEqual(['*.wikipedia.org:443', 'details.prod-us1.svc.cluster.local:9080,9090']);
  });

  it('imports the services the imported VirtualServices route to, with their ports, and no other VirtualService', () => {
    const vs = (
      name: string,
      namespace: string,
      host: string,
      dest: string,
    ) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ${name}, namespace: ${namespace} }
spec:
  hosts: [${host}]
  http:
  - route: [{ destination: ${dest} }]
`;
    const p = plan(
      ratings,
      sidecar('default', 'prod-us1', '  egress:\n  - hosts: ["./*"]'),
      vs(
        'details',
        'prod-us1',
        'details',
        '{ host: billing.finance.svc.cluster.local, port: { number: 9080 } }',
      ),
      vs('payments', 'prod-apis', 'payments', '{ host: istiod.istio-system.svc.cluster.local }'),
    );
    const routed = p.outbound.virtualHosts.map((v) => v.virtualService?.name).filter((n) => n !== undefined);
    expect([...new Set(routed)]).toEqual(['details']);
    expect(hosts(p)).toEqual([
      '*.wikipedia.org:443',
      'billing.finance.svc.cluster.local:9080',
      'details.prod-us1.svc.cluster.local:9080,9090',
    ]);
  });

  it("routes each port by its own egress listener's VirtualServices, as istiod builds a route table per listener", () => {
    const p = plan(
      ratings,
      sidecar(
        'default',
        'prod-us1',
        `  egress:
  - port: { number: 9080, protocol: HTTP, name: egresshttp }
    hosts: ["prod-us1/*"]
  - hosts: ["istio-system/*", "prod-us1/*"]`,
      ),
      // A VirtualService the catch-all listener imports (its namespace is istio-system), not
      // the listener for 9080 (sidecar.go GetEgressListenerForRDS picks that one for 9080).
      `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: details-ops, namespace: istio-system }
spec:
  hosts: [details.prod-us1.svc.cluster.local]
  http:
  - headers: { request: { set: { x-ops: "true" } } }
    route: [{ destination: { host: details.prod-us1.svc.cluster.local } }]
`,
    );
    const owner = (port: number) =>
      p.outbound.virtualHosts.find((v) => v.host === 'details.prod-us1.svc.cluster.local' && v.port === port)
        ?.virtualService?.name ?? null;
    expect(owner(9080)).toBeNull();
    expect(owner(9090)).toBe('details-ops');
  });

  it('leaves a port with its own listener to that listener: the catch-all does not import services there', () => {
    const p = plan(
      ratings,
      sidecar(
        'default',
        'prod-us1',
        `  egress:
  - port: { number: 9080, protocol: HTTP, name: egresshttp }
    hosts: ["prod-apis/*"]
  - hosts: ["./*"]`,
      ),
    );
    expect(hosts(p)).toEqual([
      '*.wikipedia.org:443',
      'details.prod-us1.svc.cluster.local:9090',
      'payments.prod-apis.svc.cluster.local:9080',
    ]);
    expect(p.outbound.lookup('details.prod-us1', 9080)).toBeNull();
  });

  it("sets the workload's outboundTrafficPolicy: the Sidecar's mode, REGISTRY_ONLY when it names none", () => {
    const mode = (spec: string) =>
      plan(ratings, sidecar('default', 'prod-us1', spec)).meshConfig.outboundTrafficPolicy;
    expect(mode('  outboundTrafficPolicy: { mode: REGISTRY_ONLY }')).toBe('REGISTRY_ONLY');
    expect(mode('  outboundTrafficPolicy: {}')).toBe('REGISTRY_ONLY');
    expect(mode('  egress:\n  - hosts: ["./*"]')).toBe('ALLOW_ANY');
  });

  it('does not scope a gateway', () => {
    const gateway: WorkloadIdentity = {
      name: 'istio-ingressgateway',
      namespace: 'istio-system',
      serviceAccount: 'istio-ingressgateway-service-account',
      labels: { istio: 'ingressgateway' },
    };
    const p = plan(
      gateway,
      sidecar(
        'default',
        'istio-system',
        '  egress:\n  - hosts: ["./*"]\n  outboundTrafficPolicy: { mode: REGISTRY_ONLY }',
      ),
      `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: gw, namespace: istio-system }
spec:
  selector: { istio: ingressgateway }
  servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: ["*"] }]
`,
    );
    expect([p.sidecar, p.meshConfig.outboundTrafficPolicy, hosts(p).length]).toEqual([null, 'ALLOW_ANY', 5]);
  });

  it('keeps the ExternalName aliases of an imported service that the listener imports too', () => {
    const alias = (name: string, namespace: string) => `apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: ${namespace} }
spec: { type: ExternalName, externalName: payments.prod-apis.svc.cluster.local }
`;
    const p = plan(
      ratings,
      alias('pay', 'prod-us1'),
      alias('pay', 'finance'),
      sidecar('default', 'prod-us1', '  egress:\n  - hosts: ["./*", "prod-apis/*"]'),
    );
    expect(p.outbound.services['payments.prod-apis.svc.cluster.local']?.aliases).toEqual([
      'pay.prod-us1.svc.cluster.local',
    ]);
    expect(p.outbound.lookup('pay', 9080)?.host).toBe('payments.prod-apis.svc.cluster.local');
    expect(p.outbound.lookup('pay.finance', 9080)).toBeNull();
  });
});
