import { describe, expect, it } from 'vitest';
import type { AccessLogEntry } from '../../../src/telemetry/access-log/entry.js';
import { compileJsonFormat, type FormatProblem } from '../../../src/telemetry/access-log/format.js';
import { formatLine, formatText, REVIEWS_XDS, reviewsCall } from './fixtures.js';

// envoy source/extensions/formatter/metadata/metadata.cc (`%METADATA(TYPE:NAMESPACE:KEY*)%`
// for DYNAMIC, CLUSTER, ROUTE, UPSTREAM_HOST, LISTENER, VIRTUAL_HOST) and
// source/common/formatter/stream_info_formatter.cc (`%CLUSTER_METADATA%`,
// `%UPSTREAM_METADATA%`, MetadataFormatter): the namespace's Struct or the value at the key
// path, strings as they are and anything else as JSON, `-` when the resource, the
// namespace or a key is absent; `:Z` truncates.

const ENTRY = reviewsCall();
const XDS = REVIEWS_XDS;

const text = (format: string, entry: AccessLogEntry = ENTRY) => formatText(format, entry);
const line = (format: string, entry: AccessLogEntry = ENTRY): string => formatLine(format, entry);

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
