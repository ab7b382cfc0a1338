import { describe, expect, it } from 'vitest';
import type { WorkloadIdentity } from '../../src/compile/workload.js';
import { createMeshMetrics } from '../../src/telemetry/metrics/istio-metrics.js';
import { destinationServiceOf } from '../../src/telemetry/metrics/destination-service.js';
import { peerFromWorkload } from '../../src/telemetry/peer-labels.js';
import { MESH } from './helpers.js';
import { outboundEvent, samples } from './metrics-support.js';

// The label sets istio/proxy's stats e2e test expects (testdata/metric/*.yaml.tmpl, run by
// test/envoye2e/stats_plugin/stats_test.go). Its "Default" and "UseHostHeader" cases send
// plaintext HTTP (no TLS context on either side), so both principals read `unknown` on both
// reporters: istio_stats.cc takes them from the connection's certificates.

const CANONICAL = { 'service.istio.io/canonical-revision': 'version-1' };
const PRODUCTPAGE: WorkloadIdentity = {
  name: 'productpage-v1',
  namespace: 'default',
  serviceAccount: 'productpage',
  // The template's canonical service for productpage-v1 is its workload name.
  labels: {
    app: 'productpage',
    version: 'v1',
    'service.istio.io/canonical-name': 'productpage-v1',
    ...CANONICAL,
  },
};
const RATINGS: WorkloadIdentity = {
  name: 'ratings-v1',
  namespace: 'default',
  serviceAccount: 'ratings',
  labels: { app: 'ratings', version: 'v1', ...CANONICAL },
};
const CLIENT = { trustDomain: 'cluster.local', cluster: 'client-cluster' };
const SERVER = { trustDomain: 'cluster.local', cluster: 'server-cluster' };

/** The template's labels, in its order, from `destination_service` to the end. */
const tail = (service: string, name: string, code = '200') => ({
  destination_service: service,
  destination_canonical_service: 'ratings',
  destination_canonical_revision: 'version-1',
  destination_service_name: name,
  destination_service_namespace: 'default',
  destination_cluster: 'server-cluster',
  request_protocol: 'http',
  response_code: code,
  grpc_response_status: '',
  response_flags: '-',
});
const SOURCE = {
  source_workload: 'productpage-v1',
  source_canonical_service: 'productpage-v1',
  source_canonical_revision: 'version-1',
  source_workload_namespace: 'default',
  source_principal: 'unknown',
  source_app: 'productpage',
  source_version: 'v1',
  source_cluster: 'client-cluster',
};
const DESTINATION = {
  destination_workload: 'ratings-v1',
  destination_workload_namespace: 'default',
  destination_principal: 'unknown',
  destination_app: 'ratings',
  destination_version: 'v1',
};

describe("Istio's expected stats for plaintext HTTP", () => {
  it('client_request_total.yaml.tmpl: reporter=source, both principals unknown', async () => {
    const m = createMeshMetrics({ workload: PRODUCTPAGE, meshConfig: MESH, cluster: 'client-cluster' });
    m.record(
      outboundEvent({
        source: m.local,
        // The upstream's labels (metadata exchange), and its service account known from the registry.
        destination: peerFromWorkload(RATINGS, SERVER),
        destinationService: destinationServiceOf('server.default.svc.cluster.local', {
          namespace: 'default',
        }),
        mtls: false,
      }),
    );
    const [s] = await samples(m.registry, 'istio_requests_total');
    expect(s!.labels).toEqual({
      reporter: 'source',
      ...SOURCE,
      ...DESTINATION,
      ...tail('server.default.svc.cluster.local', 'server'),
      connection_security_policy: 'unknown',
    });
  });

  it('server_request_total.yaml.tmpl: reporter=destination, destination_principal unknown', async () => {
    const m = createMeshMetrics({ workload: RATINGS, meshConfig: MESH, cluster: 'server-cluster' });
    const caller = peerFromWorkload(PRODUCTPAGE, { ...CLIENT, hasPrincipal: false });
    m.record(
      outboundEvent({
        reporter: 'destination',
        source: caller,
        destination: m.local,
        destinationService: destinationServiceOf('server.default.svc.cluster.local', {
          namespace: 'default',
        }),
        mtls: false,
      }),
    );
    const [s] = await samples(m.registry, 'istio_requests_total');
    expect(s!.labels).toEqual({
      reporter: 'destination',
      ...SOURCE,
      ...DESTINATION,
      ...tail('server.default.svc.cluster.local', 'server'),
      connection_security_policy: 'none',
    });
  });

  it('host_header_fallback.yaml.tmpl: the raw Host, port and all, as service and name', async () => {
    const m = createMeshMetrics({ workload: PRODUCTPAGE, meshConfig: MESH, cluster: 'client-cluster' });
    m.record(
      outboundEvent({
        source: m.local,
        destination: peerFromWorkload(RATINGS, SERVER),
        // No cluster metadata: the client falls back to the Host header.
        destinationService: destinationServiceOf('127.0.0.1:41655'),
        mtls: false,
      }),
    );
    const [s] = await samples(m.registry, 'istio_requests_total');
    // destination_service_namespace: no service namespace, so the peer's (istio_stats.cc client branch).
    expect(s!.labels).toEqual({
      reporter: 'source',
      ...SOURCE,
      ...DESTINATION,
      ...tail('127.0.0.1:41655', '127.0.0.1:41655'),
      connection_security_policy: 'unknown',
    });
  });
});

describe('principals over mTLS', () => {
  // With TLS contexts (the TCP tests: tcp_client_connection_open.yaml.tmpl) the principals
  // are the certificates' URI SANs on both sides.
  it('reports both SPIFFE IDs on either reporter when the connection was mTLS', async () => {
    const client = createMeshMetrics({ workload: PRODUCTPAGE, meshConfig: MESH });
    client.record(outboundEvent({ source: client.local, destination: peerFromWorkload(RATINGS, SERVER) }));
    const server = createMeshMetrics({ workload: RATINGS, meshConfig: MESH });
    server.record(
      outboundEvent({
        reporter: 'destination',
        source: peerFromWorkload(PRODUCTPAGE, CLIENT),
        destination: server.local,
      }),
    );
    for (const m of [client, server]) {
      const [s] = await samples(m.registry, 'istio_requests_total');
      expect([s!.labels['source_principal'], s!.labels['destination_principal']]).toEqual([
        'spiffe://cluster.local/ns/default/sa/productpage',
        'spiffe://cluster.local/ns/default/sa/ratings',
      ]);
    }
  });
});
