import { describe, expect, it } from 'vitest';
import type { AccessLogEntry } from '../../../src/telemetry/access-log/entry.js';
import type { EntryXds } from '../../../src/telemetry/access-log/xds-facts.js';
import {
  compileJsonFormat,
  compileTextFormat,
  type FormatProblem,
} from '../../../src/telemetry/access-log/format.js';

// envoy source/extensions/formatter/metadata/metadata.cc (`%METADATA(TYPE:NAMESPACE:KEY*)%`
// for DYNAMIC, CLUSTER, ROUTE, UPSTREAM_HOST, LISTENER, VIRTUAL_HOST) and
// source/common/formatter/stream_info_formatter.cc (`%CLUSTER_METADATA%`,
// `%UPSTREAM_METADATA%`, MetadataFormatter): the namespace's Struct or the value at the key
// path, strings as they are and anything else as JSON, `-` when the resource, the
// namespace or a key is absent; `:Z` truncates.

const XDS: EntryXds = {
  node: {
    id: 'sidecar~10.0.0.7~productpage-1.default~default.svc.cluster.local',
    cluster: 'productpage.default',
    metadata: {},
    locality: { region: '', zone: '', subZone: '' },
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
  upstreamHostMetadata: { istio: { workload: 'reviews-v1;default;reviews;v1;Kubernetes' } },
  numEndpoints: 1,
};

const ENTRY: AccessLogEntry = {
  direction: 'OUTBOUND',
  startTime: 0,
  method: 'GET',
  path: '/reviews/1',
  authority: 'reviews:9080',
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
  xds: () => XDS,
};

function text(format: string, entry: AccessLogEntry = ENTRY): { line: string; problems: FormatProblem[] } {
  const problems: FormatProblem[] = [];
  const line = compileTextFormat(`${format}\n`, problems)(entry).slice(0, -1);
  return { line, problems };
}

const line = (format: string, entry: AccessLogEntry = ENTRY): string => {
  const r = text(format, entry);
  expect(r.problems).toEqual([]);
  return r.line;
};

describe('route, cluster and upstream host metadata in the access log', () => {
  it('prints the route and cluster metadata istiod writes', () => {
    expect(line('%METADATA(ROUTE:istio:config)%')).toBe(
      '/apis/networking.istio.io/v1/namespaces/default/virtual-service/reviews',
    );
    expect(line('%METADATA(CLUSTER:istio:subset)% %CLUSTER_METADATA(istio:subset)%')).toBe('v1 v1');
    expect(line('%CLUSTER_METADATA(istio:services)%')).toBe(
      '[{"host":"reviews.default.svc.cluster.local","name":"reviews","namespace":"default"}]',
    );
    expect(line('%UPSTREAM_METADATA(istio:workload)% %METADATA(UPSTREAM_HOST:istio:workload)%')).toBe(
      'reviews-v1;default;reviews;v1;Kubernetes reviews-v1;default;reviews;v1;Kubernetes',
    );
    expect(line('%METADATA(UPSTREAM_HOST:istio)%')).toBe(
      '{"workload":"reviews-v1;default;reviews;v1;Kubernetes"}',
    );
  });

  it('prints - for a namespace, key or resource that is absent, and truncates with :Z', () => {
    expect(
      line('%METADATA(VIRTUAL_HOST:istio)% %METADATA(LISTENER:istio)% %METADATA(ROUTE:istio:nope)%'),
    ).toBe('- - -');
    expect(line('%METADATA(ROUTE:istio:config):6%')).toBe('/apis/');
    const none: AccessLogEntry = {
      ...ENTRY,
      xds: () => ({ ...XDS, routeMetadata: null, clusterMetadata: null, upstreamHostMetadata: null }),
    };
    expect(line('%METADATA(ROUTE:istio)% %CLUSTER_METADATA(istio)% %UPSTREAM_METADATA(istio)%', none)).toBe(
      '- - -',
    );
    // An entry built without xDS facts prints nothing either.
    expect(line('%METADATA(ROUTE:istio)%', { ...ENTRY, xds: undefined })).toBe('-');
  });

  it('types a JSON value as the Struct value it is', () => {
    const problems: FormatProblem[] = [];
    const out = compileJsonFormat(
      { cfg: '%METADATA(ROUTE:istio:config)%', none: '%CLUSTER_METADATA(other)%' },
      problems,
    )(ENTRY);
    expect(problems).toEqual([]);
    expect(JSON.parse(out)).toEqual({
      cfg: '/apis/networking.istio.io/v1/namespaces/default/virtual-service/reviews',
      none: null,
    });
  });

  it('still refuses a metadata type Envoy does not have, and one without a namespace', () => {
    expect(text('%METADATA(NOPE:istio)%').problems).toHaveLength(1);
    expect(text('%CLUSTER_METADATA()%').problems).toHaveLength(1);
  });
});
