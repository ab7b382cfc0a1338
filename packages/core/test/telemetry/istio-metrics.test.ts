import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createMeshMetrics } from '../../src/telemetry/metrics/istio-metrics.js';
import { createMeshletMetrics } from '../../src/telemetry/metrics/meshlet-metrics.js';
import { destinationServiceOf, requestProtocolOf } from '../../src/telemetry/metrics/destination-service.js';
import { ENVOY_DEFAULT_BUCKETS } from '../../src/telemetry/metrics/buckets.js';
import type { MetricEvent } from '../../src/telemetry/metrics/metric-event.js';
import { peerFromIdentity } from '../../src/telemetry/peer-labels.js';
import { ISTIO_UNIT_LINT, promtool } from '../helpers/promtool.js';
import { MESH, PRODUCTPAGE, REVIEWS_V2 } from './helpers.js';
import { certificatePeer, outboundEvent, samples } from './metrics-support.js';

describe('createMeshMetrics', () => {
  it('labels an outbound call with reporter source, both workloads and connection_security_policy unknown', async () => {
    const m = createMeshMetrics({ workload: PRODUCTPAGE, meshConfig: MESH });
    m.record(outboundEvent({ source: m.local }));
    const [s, ...rest] = await samples(m.registry, 'istio_requests_total');
    expect(rest).toHaveLength(0);
    expect(s!.value).toBe(1);
    expect(s!.keys).toEqual([
      'reporter',
      'source_workload',
      'source_canonical_service',
      'source_canonical_revision',
      'source_workload_namespace',
      'source_principal',
      'source_app',
      'source_version',
      'source_cluster',
      'destination_workload',
      'destination_workload_namespace',
      'destination_principal',
      'destination_app',
      'destination_version',
      'destination_service',
      'destination_canonical_service',
      'destination_canonical_revision',
      'destination_service_name',
      'destination_service_namespace',
      'destination_cluster',
      'request_protocol',
      'response_code',
      'grpc_response_status',
      'response_flags',
      'connection_security_policy',
    ]);
    expect(s!.labels).toEqual({
      reporter: 'source',
      source_workload: 'productpage-v1',
      source_canonical_service: 'productpage',
      source_canonical_revision: 'v1',
      source_workload_namespace: 'default',
      source_principal: 'spiffe://cluster.local/ns/default/sa/bookinfo-productpage',
      source_app: 'productpage',
      source_version: 'v1',
      source_cluster: 'Kubernetes',
      destination_workload: 'reviews-v2',
      destination_workload_namespace: 'default',
      destination_principal: 'spiffe://cluster.local/ns/default/sa/bookinfo-reviews',
      destination_app: 'reviews',
      destination_version: 'v2',
      destination_service: 'reviews.default.svc.cluster.local',
      destination_canonical_service: 'reviews',
      destination_canonical_revision: 'v2',
      destination_service_name: 'reviews',
      destination_service_namespace: 'default',
      destination_cluster: 'Kubernetes',
      request_protocol: 'http',
      response_code: '200',
      grpc_response_status: '',
      response_flags: '-',
      connection_security_policy: 'unknown',
    });
  });

  it('labels an inbound mTLS request from a peer known only by its certificate', async () => {
    const m = createMeshMetrics({ workload: REVIEWS_V2, meshConfig: MESH });
    const peer = certificatePeer('foo', 'sleep');
    m.record(outboundEvent({ reporter: 'destination', source: peer, destination: m.local, status: 403 }));
    m.record(
      outboundEvent({
        reporter: 'destination',
        source: peerFromIdentity(null),
        destination: m.local,
        mtls: false,
      }),
    );
    const all = await samples(m.registry, 'istio_requests_total');
    const mtls = all.find((s) => s.labels['response_code'] === '403')!;
    expect(mtls.labels).toMatchObject({
      reporter: 'destination',
      source_workload: 'unknown',
      source_workload_namespace: 'foo',
      source_principal: 'spiffe://cluster.local/ns/foo/sa/sleep',
      source_app: 'unknown',
      source_canonical_service: 'unknown',
      source_canonical_revision: 'latest',
      source_cluster: 'unknown',
      destination_workload: 'reviews-v2',
      destination_principal: 'spiffe://cluster.local/ns/default/sa/bookinfo-reviews',
      connection_security_policy: 'mutual_tls',
    });
    const plain = all.find((s) => s.labels['response_code'] === '200')!;
    expect(plain.labels).toMatchObject({
      source_principal: 'unknown',
      source_workload_namespace: 'unknown',
      connection_security_policy: 'none',
    });
  });

  it('writes 503 UO and the flag list comma-joined, and "0" when no response was sent', async () => {
    const m = createMeshMetrics({ workload: PRODUCTPAGE, meshConfig: MESH });
    m.record(outboundEvent({ source: m.local, status: 503, flags: ['UO'] }));
    m.record(outboundEvent({ source: m.local, status: 503, flags: ['UO'] }));
    m.record(outboundEvent({ source: m.local, status: 0, flags: ['UF', 'URX'] }));
    const all = await samples(m.registry, 'istio_requests_total');
    expect(all.map((s) => [s.labels['response_code'], s.labels['response_flags'], s.value])).toEqual([
      ['503', 'UO', 2],
      ['0', 'UF,URX', 1],
    ]);
  });

  it("uses Envoy's default buckets for the duration and both byte histograms", async () => {
    const m = createMeshMetrics({ workload: PRODUCTPAGE, meshConfig: MESH });
    m.record(outboundEvent({ source: m.local, durationMs: 7, requestBytes: 0.4, responseBytes: 2_000_000 }));
    for (const name of [
      'istio_request_duration_milliseconds',
      'istio_request_bytes',
      'istio_response_bytes',
    ]) {
      const buckets = await samples(m.registry, `${name}_bucket`);
      expect(buckets.map((b) => b.labels['le'])).toEqual([...ENVOY_DEFAULT_BUCKETS.map(String), '+Inf']);
    }
    const duration = await samples(m.registry, 'istio_request_duration_milliseconds_bucket');
    const le = (v: string) => duration.find((b) => b.labels['le'] === v)!.value;
    expect([le('5'), le('10'), le('+Inf')]).toEqual([0, 1, 1]);
    const resp = await samples(m.registry, 'istio_response_bytes_bucket');
    expect(resp.find((b) => b.labels['le'] === '1800000')!.value).toBe(0);
    expect(resp.find((b) => b.labels['le'] === '3600000')!.value).toBe(1);
    const sum = await samples(m.registry, 'istio_request_bytes_sum');
    expect(sum[0]!.value).toBe(0.4);
  });

  it('counts each outcome in its own series when outcomes and peers alternate', async () => {
    const m = createMeshMetrics({ workload: PRODUCTPAGE, meshConfig: MESH });
    const other = certificatePeer('default', 'other');
    const ok = outboundEvent({ source: m.local });
    const failed = outboundEvent({ source: m.local, status: 503, flags: ['UO'], durationMs: 3000 });
    const elsewhere = outboundEvent({ source: m.local, destination: other });
    for (const e of [ok, failed, ok, elsewhere, ok, failed, elsewhere, ok]) m.record(e);
    const count = (all: Awaited<ReturnType<typeof samples>>) =>
      all
        .map(
          (x) =>
            `${x.labels['response_code']} ${x.labels['destination_principal']!.split('/').pop()} ${x.value}`,
        )
        .sort();
    expect(count(await samples(m.registry, 'istio_requests_total'))).toEqual([
      '200 bookinfo-reviews 4',
      '200 other 2',
      '503 bookinfo-reviews 2',
    ]);
    expect(count(await samples(m.registry, 'istio_request_duration_milliseconds_count'))).toEqual([
      '200 bookinfo-reviews 4',
      '200 other 2',
      '503 bookinfo-reviews 2',
    ]);
    const sums = await samples(m.registry, 'istio_request_duration_milliseconds_sum');
    expect(sums.find((x) => x.labels['response_code'] === '503')!.value).toBe(6000);
  });

  it('counts again from zero after the registry is reset', async () => {
    const m = createMeshMetrics({ workload: PRODUCTPAGE, meshConfig: MESH });
    const e = outboundEvent({ source: m.local });
    m.record(e);
    m.record(e);
    m.registry.resetMetrics();
    expect(await samples(m.registry, 'istio_requests_total')).toEqual([]);
    m.record(e);
    const [after] = await samples(m.registry, 'istio_requests_total');
    expect(after!.value).toBe(1);
    const [bytes] = await samples(m.registry, 'istio_response_bytes_count');
    expect(bytes!.value).toBe(1);
  });

  it('reports grpc_response_status only for gRPC requests', async () => {
    const m = createMeshMetrics({ workload: PRODUCTPAGE, meshConfig: MESH });
    m.record(outboundEvent({ source: m.local, protocol: 'grpc', grpcStatus: 14 }));
    const [s] = await samples(m.registry, 'istio_requests_total');
    expect([s!.labels['request_protocol'], s!.labels['grpc_response_status']]).toEqual(['grpc', '14']);
  });

  it('never throws into the caller when an event is malformed', () => {
    const m = createMeshMetrics({ workload: PRODUCTPAGE, meshConfig: MESH });
    expect(() => m.record({ reporter: 'source' } as unknown as MetricEvent)).not.toThrow();
  });
});

describe('destinationServiceOf / requestProtocolOf', () => {
  // A known service (with its namespace) is named from its metadata; anything else is the
  // client's Host header fallback, kept raw (istio/proxy testdata/metric/host_header_fallback.yaml.tmpl).
  it.each([
    [
      'reviews.default.svc.cluster.local',
      { namespace: 'default' },
      ['reviews.default.svc.cluster.local', 'reviews', 'default'],
    ],
    ['api.example.com', { namespace: 'egress' }, ['api.example.com', 'api.example.com', 'egress']],
    [
      'reviews.default.svc.cluster.local:9080',
      {},
      ['reviews.default.svc.cluster.local:9080', 'reviews.default.svc.cluster.local:9080', 'unknown'],
    ],
    ['api.example.com', {}, ['api.example.com', 'api.example.com', 'unknown']],
    ['127.0.0.1:8080', { name: 'PassthroughCluster' }, ['127.0.0.1:8080', 'PassthroughCluster', 'unknown']],
    [null, {}, ['unknown', 'unknown', 'unknown']],
  ] as const)('derives the destination_service labels of %s', (host, known, want) => {
    const s = destinationServiceOf(host, known);
    expect([s.host, s.name, s.namespace]).toEqual(want);
  });

  it('treats application/grpc content types as grpc', () => {
    expect(
      ['application/grpc', 'application/grpc+proto', 'application/json', undefined].map((c) =>
        requestProtocolOf(c),
      ),
    ).toEqual(['grpc', 'grpc', 'http', 'http']);
  });
});

describe('createMeshletMetrics', () => {
  it('counts pool overflow per cluster, authz denials per policy, reloads and cert expiry', async () => {
    const registry = new Registry();
    const s = createMeshletMetrics({ registry });
    s.poolOverflow('outbound|9080||reviews.default.svc.cluster.local');
    s.poolOverflow('outbound|9080||reviews.default.svc.cluster.local');
    s.authzDenied('foo/deny-get', 'DENY');
    s.authzDenied(null, 'ALLOW');
    s.ejectedEndpoints('outbound|9080|v1|reviews.default.svc.cluster.local', 2);
    s.configReloaded(1_700_000_000_000);
    s.configReloadFailed();
    s.certificateExpiry('workload', 1_800_000_000_000);
    const text = await registry.metrics();
    expect(text).toContain(
      'meshlet_upstream_rq_pending_overflow_total{cluster="outbound|9080||reviews.default.svc.cluster.local"} 2',
    );
    expect(text).toContain('meshlet_authz_denied_total{policy="foo/deny-get",action="DENY"} 1');
    expect(text).toContain('meshlet_authz_denied_total{policy="-",action="ALLOW"} 1');
    expect(text).toContain(
      'meshlet_outlier_ejected_endpoints{cluster="outbound|9080|v1|reviews.default.svc.cluster.local"} 2',
    );
    expect(text).toContain('meshlet_config_reloads_total 1');
    expect(text).toContain('meshlet_config_reload_failures_total 1');
    expect(text).toContain('meshlet_config_last_reload_success_timestamp_seconds 1700000000');
    expect(text).toContain('meshlet_cert_expiry_timestamp_seconds{cert="workload"} 1800000000');
  });
});

describe('exposition', () => {
  it("passes promtool check metrics, apart from the unit lint on Istio's own metric name", async () => {
    const registry = new Registry();
    const m = createMeshMetrics({ registry, workload: PRODUCTPAGE, meshConfig: MESH });
    const s = createMeshletMetrics({ registry });
    m.record(outboundEvent({ source: m.local, status: 503, flags: ['UO'] }));
    m.record(outboundEvent({ reporter: 'destination', source: m.local, destination: m.local }));
    s.poolOverflow('outbound|9080||reviews.default.svc.cluster.local');
    s.retry('outbound|9080||reviews.default.svc.cluster.local');
    s.rateLimited(9080);
    s.certificateExpiry('root', 1_900_000_000_000);
    const result = await promtool(await registry.metrics());
    expect(result.findings).toEqual([ISTIO_UNIT_LINT]);
    // Exit 3 is "lint problems"; a parse error would be 1.
    expect(result.code).toBe(3);
  });
});
