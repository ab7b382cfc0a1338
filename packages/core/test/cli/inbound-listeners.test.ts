import { describe, expect, it } from 'vitest';
import { listenersView } from '../../src/cli/listeners-view.js';
import { compilePlan } from '../../src/compile/compile-plan.js';
import { snapshotOf } from '../compile/helpers.js';

// A sidecar's virtual inbound listener (0.0.0.0:15006) as istiod builds it and istioctl
// proxy-config listeners prints it: filterchain_options.go getFilterChainMatchOptions for
// each Service port's protocol and PeerAuthentication mode, listener_inbound.go
// buildInboundPassthroughChains for the rest.

const DB = { name: 'db-v1', namespace: 'prod', serviceAccount: 'db', labels: { app: 'db' } };

const CONFIG = `apiVersion: v1
kind: Service
metadata: { name: db, namespace: prod }
spec:
  selector: { app: db }
  ports:
  - { name: http, port: 8080, targetPort: 80 }
  - { name: tcp-postgres, port: 5432 }
  - { port: 9000 }
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: db, namespace: prod }
spec:
  selector: { matchLabels: { app: db } }
  mtls: { mode: STRICT }
  portLevelMtls:
    9000: { mode: DISABLE }
    7070: { mode: PERMISSIVE }
`;

describe('proxy-config listeners: the virtual inbound listener', () => {
  it('gives each Service target port its chains by protocol and mode, and passthrough chains for a port-level mode no Service declares', () => {
    const rows = listenersView(compilePlan(snapshotOf(CONFIG), DB)).filter((r) => r.port === 15006);
    const PASS = 'InboundPassthroughCluster';
    expect(rows.map((r) => [r.match, r.destination])).toEqual([
      ['Addr: *:15006', 'Non-HTTP/Non-TCP'],
      // The workload's mode, STRICT, for ports no Service declares.
      ['Trans: tls; App: istio-http/1.0,istio-http/1.1,istio-h2', PASS],
      ['Trans: tls', PASS],
      // 7070 is PERMISSIVE by port-level mTLS and in no Service: protocol detection.
      ['Trans: tls; App: istio-http/1.0,istio-http/1.1,istio-h2; Addr: *:7070', PASS],
      ['Trans: raw_buffer; App: http/1.1,h2c; Addr: *:7070', PASS],
      ['Trans: tls; App: TCP TLS; Addr: *:7070', PASS],
      ['Trans: raw_buffer; Addr: *:7070', PASS],
      ['Trans: tls; Addr: *:7070', PASS],
      // http 8080 → target port 80: an HTTP chain, mTLS only.
      ['Trans: tls; Addr: *:80', 'Cluster: inbound|80||'],
      // tcp-postgres: a TCP chain, mTLS only.
      ['Trans: tls; Addr: *:5432', 'Cluster: inbound|5432||'],
      // 9000, no protocol declared and DISABLE: plaintext, HTTP detected or TCP.
      ['Trans: raw_buffer; App: http/1.1,h2c; Addr: *:9000', 'Cluster: inbound|9000||'],
      ['Trans: raw_buffer; Addr: *:9000', 'Cluster: inbound|9000||'],
    ]);
  });

  it('a gateway has no virtual inbound listener', () => {
    const gw = { ...DB, name: 'ingress', labels: { istio: 'ingressgateway' } };
    expect(listenersView(compilePlan(snapshotOf(CONFIG), gw)).some((r) => r.port === 15006)).toBe(false);
  });
});
