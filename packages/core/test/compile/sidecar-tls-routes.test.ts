import { describe, expect, it } from 'vitest';
import { compilePlan } from '../../src/compile/compile-plan.js';
import type { WorkloadIdentity } from '../../src/compile/workload.js';
import { CNN } from '../helpers/egress-gateway-task.js';
import { snapshotOf } from './helpers.js';

// A sidecar's outbound TLS listeners as istiod builds them (tls.go
// buildSidecarOutboundTLSFilterChainOpts; listener.go's PassthroughFilterChain): a chain per
// `tls` match that holds for the proxy, the default cluster's chain without one, a VIP's own
// listener against the shared 0.0.0.0_<port> one, Envoy's server-name match.

const sleep: WorkloadIdentity = {
  name: 'sleep',
  namespace: 'default',
  serviceAccount: 'sleep',
  labels: { app: 'sleep' },
};

// The wildcard egress task (egress/wildcard-egress-hosts): one ServiceEntry for
// *.wikipedia.org, no addresses, resolution NONE; a host with a VIP; and (CNN) a second
// external host on 443.
const WIKIPEDIA = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: wikipedia, namespace: default }
spec:
  hosts: ["*.wikipedia.org"]
  ports: [{ number: 443, name: tls, protocol: TLS }]
  resolution: NONE
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: db, namespace: default }
spec:
  hosts: [db.internal]
  addresses: [240.0.0.10]
  ports: [{ number: 443, name: https, protocol: HTTPS }]
  resolution: STATIC
  endpoints: [{ address: 10.0.0.1 }, { address: 10.0.0.2, labels: { pool: b } }]
`;

const plan = (...texts: string[]) => compilePlan(snapshotOf(WIKIPEDIA, CNN, ...texts), sleep);

describe('sidecar TLS routes', () => {
  it('merges the chains of services without a VIP into the port’s shared listener, matched by SNI whatever host was dialled', () => {
    const tls = plan().outbound.tls!;
    expect(tls.chains.map((c) => c.sniHosts)).toEqual([['edition.cnn.com'], ['*'], ['*.wikipedia.org']]);
    // en.wikipedia.org is no registry host: its address reaches the shared listener, whose
    // wildcard chain takes the name (Envoy: the longest `*.` suffix, any depth).
    expect(tls.lookup('en.wikipedia.org', 443, 'en.wikipedia.org')?.chain?.route.host).toBe(
      '*.wikipedia.org',
    );
    expect(tls.lookup('en.wikipedia.org', 443, 'a.b.wikipedia.org')?.chain?.route.host).toBe(
      '*.wikipedia.org',
    );
    // Dialled as edition.cnn.com but sending another name: the SNI decides, as on 0.0.0.0_443.
    expect(tls.lookup('edition.cnn.com', 443, 'de.wikipedia.org')?.chain?.route.host).toBe('*.wikipedia.org');
    // No chain for the name, or no SNI: the PassthroughFilterChain.
    expect(tls.lookup('edition.cnn.com', 443, 'www.example.com')).toEqual({ chain: null });
    expect(tls.lookup('edition.cnn.com', 443, null)).toEqual({ chain: null });
    // A VIP's own listener takes any name; no TLS listener on the port at all: null.
    expect(tls.lookup('240.0.0.10', 443, 'whatever.example')?.chain?.route.host).toBe('db.internal');
    expect(tls.lookup('db.internal', 443, null)?.chain?.route.destinations[0]?.cluster).toBe(
      'outbound|443||db.internal',
    );
    expect(tls.lookup('en.wikipedia.org', 8443, 'en.wikipedia.org')).toBeNull();
  });

  it('makes a chain per match that holds for this proxy, once per SNI hosts and subnets, before the default chain is dropped', () => {
    const tls = plan(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: db, namespace: default }
spec:
  host: db.internal
  subsets: [{ name: a, labels: {} }, { name: b, labels: { pool: b } }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: db, namespace: default }
spec:
  hosts: [db.internal, "*.db.internal"]
  tls:
  - match:
    - { sniHosts: [x.db.internal], sourceNamespace: other }
    - { sniHosts: [x.db.internal], gateways: [some-gateway] }
    - { sniHosts: [x.db.internal], port: 8443 }
    route: [{ destination: { host: db.internal, subset: a } }]
  - match:
    - { sniHosts: [x.db.internal], sourceLabels: { app: sleep } }
    - { sniHosts: ["*.db.internal"], destinationSubnets: [240.0.0.0/24] }
    route: [{ destination: { host: db.internal, subset: b }, weight: 100 }]
  - match:
    - { sniHosts: [x.db.internal] }
    - { sniHosts: ["*.db.internal"], destinationSubnets: [10.9.0.0/16] }
    route: [{ destination: { host: db.internal, subset: a } }]
`).outbound.tls!;
    // Rule 0's matches are all for another proxy; rule 2's first repeats rule 1's SNI.
    expect(
      tls.chains
        .filter((c) => c.route.host === 'db.internal')
        .map((c) => [c.route.id, c.sniHosts, c.destinationSubnets]),
    ).toEqual([
      ['default/db/tls/1', ['x.db.internal'], []],
      ['default/db/tls/1', ['*.db.internal'], ['240.0.0.0/24']],
      ['default/db/tls/2', ['*.db.internal'], ['10.9.0.0/16']],
    ]);
    expect(tls.lookup('db.internal', 443, 'x.db.internal')?.chain?.route.destinations[0]?.cluster).toBe(
      'outbound|443|b|db.internal',
    );
    // The wildcard chains hold only for a destination in their subnets: the service's VIP is
    // in 240.0.0.0/24, not in 10.9.0.0/16.
    expect(tls.lookup('db.internal', 443, 'y.db.internal')?.chain?.destinationSubnets).toEqual([
      '240.0.0.0/24',
    ]);
    // With a tls rule for the VIP, a name no rule takes has no chain: not the default cluster.
    expect(tls.lookup('db.internal', 443, 'other.example')).toEqual({ chain: null });
  });

  it("adds an ExternalName Service's names to the chain of the host it aliases on the shared listener", () => {
    const tls = plan(`apiVersion: v1
kind: Service
metadata: { name: my-cnn, namespace: default }
spec: { type: ExternalName, externalName: edition.cnn.com, ports: [{ name: tls, port: 443 }] }
`).outbound.tls!;
    const cnn = tls.chains.find((c) => c.route.host === 'edition.cnn.com');
    expect(cnn?.sniHosts).toEqual([
      'edition.cnn.com',
      'my-cnn.default.svc.cluster.local',
      'my-cnn',
      'my-cnn.default',
      'my-cnn.default.svc',
    ]);
    expect(tls.lookup('my-cnn', 443, 'my-cnn.default.svc.cluster.local')?.chain?.route.host).toBe(
      'edition.cnn.com',
    );
  });
});
