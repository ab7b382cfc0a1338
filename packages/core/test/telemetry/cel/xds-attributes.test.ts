import { describe, expect, it } from 'vitest';
import type { AccessLogEntry } from '../../../src/telemetry/access-log/entry.js';
import { REVIEWS_XDS, reviewsCall } from '../access-log/fixtures.js';
import { inboundXds } from '../../../src/telemetry/access-log/xds-inbound.js';
import { xdsNodeOf } from '../../../src/telemetry/xds-node.js';
import { compileCel } from '../../../src/telemetry/cel/compile.js';
import { entryActivation } from '../../../src/telemetry/cel/entry-activation.js';
import { eventActivation } from '../../../src/telemetry/cel/event-activation.js';
import { CelDuration, CelError, CelUint, type CelValue } from '../../../src/telemetry/cel/values.js';
import type { MetricEvent } from '../../../src/telemetry/metrics/metric-event.js';
import { UNKNOWN_PEER } from '../../../src/telemetry/peer-labels.js';

// envoy source/extensions/filters/common/expr/context.cc XDSLookupValues: `xds.node` the
// Node message, `*_metadata` Metadata messages (`filter_metadata` a map of Structs),
// `virtual_host_name` a string when there is a virtual host, `filter_chain_name` a string
// ('' without a name); UpstreamLookupValues `num_endpoints` a uint (membership_total);
// ResponseLookupValues `backend_latency` the duration from the first byte sent upstream to
// the last byte received from it, missing unless both happened.

const XDS = REVIEWS_XDS;
const ENTRY = reviewsCall({
  timing: { firstUpstreamTx: 2.5, firstUpstreamRx: 8, lastUpstreamRx: 11.25, lastDownstreamTx: 12 },
});

function evaluate(expr: string, entry: AccessLogEntry = ENTRY): CelValue {
  const c = compileCel(expr, 'accessLog');
  if (!c.ok) throw new Error(c.problem.message);
  return c.program.evaluate(entryActivation(entry));
}

describe('xds.* attributes (context.cc XDSLookupValues)', () => {
  it('compiles them in both uses, with no load warning', () => {
    for (const expr of [
      "xds.node.id == 'x'",
      "xds.virtual_host_name == 'x'",
      "xds.filter_chain_name == 'x'",
      'has(xds.route_metadata.filter_metadata.istio)',
      'has(xds.cluster_metadata.filter_metadata.istio)',
      'has(xds.upstream_host_metadata.filter_metadata.istio)',
      'size(xds.virtual_host_metadata.filter_metadata) == 0',
      'size(xds.listener_metadata.filter_metadata) == 0',
      'upstream.num_endpoints > 0u',
      "response.backend_latency > duration('1s')",
    ])
      for (const use of ['accessLog', 'metrics'] as const) {
        const c = compileCel(expr, use);
        expect(c.ok ? null : c.problem.message, `${expr} (${use})`).toBeNull();
      }
  });

  it('reads the node as a Node message: id, cluster, Struct metadata, Locality', () => {
    expect(evaluate('xds.node.id')).toBe(XDS.node.id);
    expect(evaluate('xds.node.cluster')).toBe('productpage.default');
    expect(evaluate("xds.node.metadata['NAMESPACE']")).toBe('default');
    expect(evaluate('xds.node.metadata.LABELS.app')).toBe('productpage');
    expect(evaluate('xds.node.locality.zone')).toBe('us-east1-b');
    expect(evaluate('xds.node.locality.sub_zone')).toBe('');
    expect(evaluate('xds.node.user_agent_name')).toBe('envoy');
  });

  it('reads names and metadata messages as istiod writes them', () => {
    expect(evaluate('xds.virtual_host_name')).toBe('reviews.default.svc.cluster.local:9080');
    expect(evaluate('xds.filter_chain_name')).toBe('');
    expect(evaluate("xds.route_metadata.filter_metadata['istio'].config")).toBe(
      '/apis/networking.istio.io/v1/namespaces/default/virtual-service/reviews',
    );
    expect(evaluate('xds.cluster_metadata.filter_metadata.istio.services[0].name')).toBe('reviews');
    expect(evaluate('xds.cluster_metadata.filter_metadata.istio.subset')).toBe('v1');
    expect(evaluate('xds.upstream_host_metadata.filter_metadata.istio.workload')).toBe(
      'reviews-v1;default;reviews;v1;Kubernetes',
    );
    expect(
      evaluate("xds.upstream_host_metadata.filter_metadata['envoy.transport_socket_match'].tlsMode"),
    ).toBe('istio');
    // A message with no metadata: an empty filter_metadata map.
    expect(evaluate('size(xds.virtual_host_metadata.filter_metadata)')).toBe(0n);
    expect(evaluate('has(xds.listener_metadata.filter_metadata.istio)')).toBe(false);
  });

  it('finds nothing where Envoy has no route, virtual host, cluster or host', () => {
    const none: AccessLogEntry = {
      ...ENTRY,
      upstreamHost: null,
      upstreamCluster: null,
      xds: () => ({
        ...XDS,
        virtualHostName: null,
        virtualHostMetadata: null,
        routeMetadata: null,
        clusterMetadata: null,
        upstreamHostMetadata: null,
        numEndpoints: null,
      }),
    };
    for (const expr of [
      'xds.virtual_host_name',
      'xds.virtual_host_metadata',
      'xds.route_metadata',
      'xds.cluster_metadata',
      'xds.upstream_host_metadata',
      'upstream.num_endpoints',
    ])
      expect(evaluate(expr, none), expr).toBeInstanceOf(CelError);
    expect(evaluate('xds.node.id', none)).toBe(XDS.node.id);
  });

  it('reads upstream.num_endpoints as a uint and response.backend_latency as a duration', () => {
    expect(evaluate('upstream.num_endpoints')).toEqual(new CelUint(3n));
    // 11.25 ms (last byte from upstream) - 2.5 ms (first byte sent upstream).
    expect(evaluate('response.backend_latency')).toEqual(new CelDuration(8_750_000n));
    const noSend = { ...ENTRY, timing: { ...ENTRY.timing, firstUpstreamTx: null } };
    expect(evaluate('response.backend_latency', noSend)).toBeInstanceOf(CelError);
    const noEnd = { ...ENTRY, timing: { ...ENTRY.timing, lastUpstreamRx: null } };
    expect(evaluate('response.backend_latency', noEnd)).toBeInstanceOf(CelError);
  });

  it('answers a metrics tag from the request entry', () => {
    const event: MetricEvent = {
      reporter: 'source',
      source: UNKNOWN_PEER,
      destination: UNKNOWN_PEER,
      destinationService: { host: 'reviews', name: 'reviews', namespace: 'default' },
      port: 9080,
      protocol: 'http',
      status: 200,
      grpcStatus: null,
      flags: [],
      mtls: false,
      durationMs: 12,
      requestBytes: 0,
      responseBytes: 0,
      entry: () => ENTRY,
    };
    const c = compileCel("xds.node.cluster + '|' + xds.virtual_host_name", 'metrics');
    expect(c.ok && c.program.evaluate(eventActivation(event))).toBe(
      'productpage.default|reviews.default.svc.cluster.local:9080',
    );
  });

  it('reads an empty locality metadata message for a host (istiod writes none)', () => {
    expect(evaluate('size(xds.upstream_host_locality_metadata.filter_metadata)')).toBe(0n);
    const noHost = { ...ENTRY, xds: () => ({ ...XDS, upstreamHostMetadata: null }) };
    expect(evaluate('xds.upstream_host_locality_metadata', noHost)).toBeInstanceOf(CelError);
  });
});

describe("the sidecar's xDS facts", () => {
  const source = {
    workload: {
      name: 'reviews-v2-abc',
      namespace: 'shop',
      serviceAccount: 'bookinfo-reviews',
      labels: { app: 'reviews', version: 'v2' },
      locality: 'us-east1/us-east1-b/rack1',
    },
    cluster: 'east',
    // The ids the telemetry's spans carry (mesh-tracing.ts): the node id istio-agent builds
    // from the pod IP, and the mesh id.
    tracing: {
      nodeId: 'sidecar~10.1.2.3~reviews-v2-abc.shop~shop.svc.cluster.local',
      meshId: 'example.org',
    },
  };

  it('builds the node as istio-agent bootstraps it (envoy_bootstrap.json, pkg/bootstrap/config.go)', () => {
    const n = xdsNodeOf(source);
    expect(n.id).toBe('sidecar~10.1.2.3~reviews-v2-abc.shop~shop.svc.cluster.local');
    expect(n.cluster).toBe('reviews.shop');
    expect(n.locality).toEqual({ region: 'us-east1', zone: 'us-east1-b', subZone: 'rack1' });
    expect(n.metadata).toEqual({
      CLUSTER_ID: 'east',
      INSTANCE_IPS: '10.1.2.3',
      LABELS: {
        app: 'reviews',
        version: 'v2',
        'service.istio.io/canonical-name': 'reviews',
        'service.istio.io/canonical-revision': 'v2',
      },
      MESH_ID: 'example.org',
      NAME: 'reviews-v2-abc',
      NAMESPACE: 'shop',
      SERVICE_ACCOUNT: 'bookinfo-reviews',
      WORKLOAD_NAME: 'reviews-v2-abc',
    });
  });

  it('takes the passthrough chain and `inbound|http|0` on a port no Service targets', () => {
    const x = inboundXds(
      source,
      { host: 'x', name: 'InboundPassthroughCluster', namespace: 'shop' },
      8080,
      true,
    );
    expect([x.filterChainName, x.virtualHostName, x.clusterMetadata, x.routeMetadata]).toEqual([
      'virtualInbound-catchall-http',
      'inbound|http|0',
      {},
      {},
    ]);
    const s = inboundXds(
      source,
      { host: 'reviews.shop.svc.cluster.local', name: 'reviews', namespace: 'shop' },
      9080,
      false,
    );
    expect([s.filterChainName, s.virtualHostName, s.upstreamHostMetadata, s.numEndpoints]).toEqual([
      '0.0.0.0_9080',
      'inbound|http|9080',
      null,
      1,
    ]);
    expect(s.clusterMetadata).toEqual({
      istio: { services: [{ host: 'reviews.shop.svc.cluster.local', name: 'reviews', namespace: 'shop' }] },
    });
  });
});
