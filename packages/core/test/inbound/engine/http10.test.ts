import { describe, expect, it } from 'vitest';
import { istiodFeaturesFromEnv } from '../../../src/compile/istiod-features.js';
import { istioConfigMap } from '../../helpers/istio-config-map.js';
import { engineFor, planOf, request } from './support.js';

// Envoy's connection manager answers an HTTP/1.0 request `426 Upgrade Required`, empty body,
// details `low_version`, unless the listener sets `accept_http_10` (conn_manager_impl.cc
// decodeHeaders), which istiod does only with PILOT_HTTP10 or a proxy whose node metadata
// HTTP10 is "1" (ISTIO_META_HTTP10; pilot listener.go / listener_inbound.go / gateway.go
// enableHTTP10). It runs before routing, so it is not a filter's: no policy is asked.

const DENY_ALL = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-all, namespace: foo }
spec: { action: DENY, rules: [{}] }
`;

const http10 = request({ httpVersion: '1.0' });

describe('HTTP/1.0 at the connection manager', () => {
  it('is 426 Upgrade Required with low_version, before any policy, by default', async () => {
    const d = await engineFor(planOf(DENY_ALL)).decide(http10);
    expect(d.allow).toBe(false);
    if (d.allow) return;
    expect([d.status, d.body, d.flags]).toEqual([426, '', []]);
    expect(d.reason).toMatchObject({ stage: 'connection', responseCodeDetails: 'low_version' });
  });

  it('leaves HTTP/1.1 to the filters', async () => {
    const d = await engineFor(planOf(DENY_ALL)).decide(request({ httpVersion: '1.1' }));
    expect(d.allow ? 200 : [d.status, d.reason.stage]).toEqual([403, 'deny']);
  });

  it('goes on to the filters with PILOT_HTTP10', async () => {
    const features = istiodFeaturesFromEnv({ PILOT_HTTP10: 'true' });
    expect(features.http10).toBe(true);
    const d = await engineFor(planOf(DENY_ALL, { istiodFeatures: features })).decide(http10);
    expect(d.allow ? 200 : [d.status, d.reason.stage]).toEqual([403, 'deny']);
  });

  it('goes on to the filters with the proxy’s ISTIO_META_HTTP10=1, from its environment or proxyMetadata', async () => {
    const own = await engineFor(planOf('', { proxyEnv: { ISTIO_META_HTTP10: '1' } })).decide(http10);
    expect(own.allow).toBe(true);
    const mesh = istioConfigMap('defaultConfig:\n  proxyMetadata:\n    ISTIO_META_HTTP10: "1"');
    expect((await engineFor(planOf(mesh)).decide(http10)).allow).toBe(true);
  });

  it('takes only "1" as on, and the proxy’s own environment over proxyMetadata', async () => {
    const other = await engineFor(planOf('', { proxyEnv: { ISTIO_META_HTTP10: 'true' } })).decide(http10);
    expect(other.allow ? 200 : other.status).toBe(426);
    const mesh = istioConfigMap('defaultConfig:\n  proxyMetadata:\n    ISTIO_META_HTTP10: "1"');
    const overridden = await engineFor(planOf(mesh, { proxyEnv: { ISTIO_META_HTTP10: '0' } })).decide(http10);
    expect(overridden.allow ? 200 : overridden.status).toBe(426);
  });
});
