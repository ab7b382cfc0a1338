import { describe, expect, it } from 'vitest';
import type { UpstreamCluster, UpstreamHost } from '../../../src/outbound/upstream/types.js';
import { endpoints, harness, reviewsCluster } from './support.js';

// `outlierDetectionHttpErrorCodes` becomes the cluster's Envoy outlier error matcher (istio
// cluster_traffic_policy.go applyOutlierDetectionErrorCodes). Envoy (PR #39947, docs
// arch_overview/upstream/outlier "Error Mapping", test/common/router/router_outlier_detection_test.cc)
// reports a matching response as an error (a matching 5xx keeps its code, another code is
// reported as 500) and any other response as a 200 success, even a 5xx.

const respond = (c: UpstreamCluster, h: UpstreamHost, ...statuses: number[]) => {
  for (const status of statuses) c.record(h, { kind: 'response', status });
};

function cluster(outlier: string) {
  const { manager, events } = harness();
  const c = manager.get(reviewsCluster(`{ outlierDetection: ${outlier} }`), endpoints(2));
  return { c, h: c.hosts()[0]!, events };
}

describe('outlier detection with outlierDetectionHttpErrorCodes', () => {
  it('counts a listed non-5xx code toward consecutive5xxErrors', () => {
    const { c, h, events } = cluster(
      '{ consecutive5xxErrors: 2, maxEjectionPercent: 100, outlierDetectionHttpErrorCodes: [429] }',
    );
    respond(c, h, 429);
    expect(h.ejected).toBe(false);
    respond(c, h, 429);
    expect(h.ejected).toBe(true);
    expect(events.find((e) => e.type === 'eject')).toMatchObject({ host: h.id, cause: 'consecutive-5xx' });
  });

  it('no longer counts an unlisted 5xx, which resets the count like a success', () => {
    const { c, h } = cluster(
      '{ consecutive5xxErrors: 2, maxEjectionPercent: 100, outlierDetectionHttpErrorCodes: [429] }',
    );
    respond(c, h, 500, 500, 503, 503, 502, 504);
    expect(h.ejected).toBe(false);
    respond(c, h, 429, 500, 429);
    expect(h.ejected).toBe(false);
  });

  it('keeps a listed gateway code a gateway error; an unlisted one breaks the run', () => {
    const { c, h, events } = cluster(
      '{ consecutive5xxErrors: 0, consecutiveGatewayErrors: 2, maxEjectionPercent: 100, outlierDetectionHttpErrorCodes: [503] }',
    );
    respond(c, h, 502, 503);
    expect(h.ejected).toBe(false);
    respond(c, h, 503);
    expect(h.ejected).toBe(true);
    expect(events.find((e) => e.type === 'eject')).toMatchObject({ cause: 'consecutive-gateway-failure' });
  });

  it('reports a listed non-5xx as 500: a 5xx error that breaks a gateway run', () => {
    const { c, h, events } = cluster(
      '{ consecutive5xxErrors: 3, consecutiveGatewayErrors: 2, maxEjectionPercent: 100, outlierDetectionHttpErrorCodes: [429, 503] }',
    );
    respond(c, h, 503, 429, 503);
    expect(h.ejected).toBe(true);
    expect(events.find((e) => e.type === 'eject')).toMatchObject({ cause: 'consecutive-5xx' });
  });

  it('still counts local-origin failures (the matcher only sees responses)', () => {
    const { c, h } = cluster(
      '{ consecutive5xxErrors: 2, maxEjectionPercent: 100, outlierDetectionHttpErrorCodes: [429] }',
    );
    c.record(h, { kind: 'local-failure', failure: 'connect-failure' });
    c.record(h, { kind: 'local-failure', failure: 'reset' });
    expect(h.ejected).toBe(true);
  });

  it('counts listed codes as external errors in split mode, apart from local failures', () => {
    const { c, h } = cluster(
      '{ consecutive5xxErrors: 2, splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 5, maxEjectionPercent: 100, outlierDetectionHttpErrorCodes: [404] }',
    );
    respond(c, h, 404);
    c.record(h, { kind: 'local-failure', failure: 'connect-failure' });
    expect(h.ejected).toBe(false);
    respond(c, h, 404);
    expect(h.ejected).toBe(true);
  });
});
