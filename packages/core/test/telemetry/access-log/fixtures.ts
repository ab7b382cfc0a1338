import { expect } from 'vitest';
import type { AccessLogEntry } from '../../../src/telemetry/access-log/entry.js';
import { compileTextFormat, type FormatProblem } from '../../../src/telemetry/access-log/format.js';
import type { EntryXds } from '../../../src/telemetry/access-log/xds-facts.js';

/**
 * What istiod's xDS says of productpage's call to reviews v1 through the `reviews`
 * VirtualService and DestinationRule (route.go, cluster_builder.go, util.go
 * AppendLbEndpointMetadata), as the entry's `xds` carries it.
 */
export const REVIEWS_XDS: EntryXds = {
  node: {
    id: 'sidecar~10.0.0.7~productpage-1.default~default.svc.cluster.local',
    cluster: 'productpage.default',
    metadata: { NAMESPACE: 'default', LABELS: { app: 'productpage' }, CLUSTER_ID: 'Kubernetes' },
    locality: { region: 'us-east1', zone: 'us-east1-b', subZone: '' },
    userAgentName: 'envoy',
  },
  filterChainName: '',
  listenerMetadata: {},
  virtualHostName: 'reviews.default.svc.cluster.local:9080',
  virtualHostMetadata: {},
  routeMetadata: {
    istio: { config: '/apis/networking.istio.io/v1/namespaces/default/virtual-service/reviews' },
  },
  clusterMetadata: {
    istio: {
      config: '/apis/networking.istio.io/v1/namespaces/default/destination-rule/reviews',
      services: [{ host: 'reviews.default.svc.cluster.local', name: 'reviews', namespace: 'default' }],
      subset: 'v1',
    },
  },
  upstreamHostMetadata: {
    'envoy.transport_socket_match': { tlsMode: 'istio' },
    istio: { workload: 'reviews-v1;default;reviews;v1;Kubernetes' },
  },
  numEndpoints: 3,
};

/** productpage's `GET /reviews/1` to reviews v1, answered 200 in 12 ms; `over` wins. */
export function reviewsCall(over: Partial<AccessLogEntry> = {}): AccessLogEntry {
  return {
    direction: 'OUTBOUND',
    startTime: 0,
    method: 'GET',
    path: '/reviews/1',
    authority: 'reviews:9080',
    scheme: 'http',
    protocol: 'HTTP/1.1',
    responseCode: 200,
    responseFlags: [],
    responseCodeDetails: 'via_upstream',
    connectionTerminationDetails: null,
    upstreamTransportFailureReason: null,
    bytesReceived: 0,
    bytesSent: 2,
    durationMs: 12,
    requestHeaders: {},
    responseHeaders: {},
    upstreamHost: '10.0.0.9:9080',
    upstreamCluster: 'outbound|9080|v1|reviews.default.svc.cluster.local',
    upstreamLocalAddress: null,
    downstreamLocalAddress: null,
    downstreamRemoteAddress: null,
    requestedServerName: null,
    routeName: 'reviews',
    xds: () => REVIEWS_XDS,
    ...over,
  };
}

/** `format` as a text access-log line for `entry` (without the newline), and its load problems. */
export function formatText(
  format: string,
  entry: AccessLogEntry,
): { line: string; problems: FormatProblem[] } {
  const problems: FormatProblem[] = [];
  const line = compileTextFormat(`${format}\n`, problems)(entry).slice(0, -1);
  return { line, problems };
}

/** {@link formatText}'s line, expecting no load problem. */
export function formatLine(format: string, entry: AccessLogEntry): string {
  const r = formatText(format, entry);
  expect(r.problems).toEqual([]);
  return r.line;
}
