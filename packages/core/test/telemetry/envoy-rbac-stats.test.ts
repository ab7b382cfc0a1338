import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { evaluateRbac } from '../../src/inbound/authz/evaluate.js';
import { compileInbound } from '../../src/inbound/engine-compile.js';
import { createManualClock } from '../../src/runtime/clock.js';
import { seededRandom } from '../../src/runtime/random.js';
import {
  destinationServiceOf,
  INBOUND_PASSTHROUGH_CLUSTER,
} from '../../src/telemetry/metrics/destination-service.js';
import { createEnvoyRbacStats } from '../../src/telemetry/metrics/envoy-rbac-stats.js';
import { authzInput, httpbinPolicy } from '../inbound/authz/support.js';
import { planOf } from '../inbound/engine/support.js';

/**
 * Envoy counts each RBAC filter a request passes (rbac_filter.cc: allowed_, denied_,
 * shadow_allowed_, shadow_denied_), and istiod's bootstrap scrapes them with its tag
 * regexes (envoy_bootstrap.json). Istio builds one filter per action (AUDIT, DENY, ALLOW).
 */

const ADMIN = '[{ to: [{ operation: { paths: ["/admin"] } }] }]';
const SERVICE = destinationServiceOf('httpbin.foo.svc.cluster.local', { namespace: 'foo' });

function stats(yaml: string, service = SERVICE) {
  const registry = new Registry();
  const sink = createEnvoyRbacStats(registry, () => service);
  const c = compileInbound(planOf(yaml), createManualClock(), seededRandom(1));
  const send = (path: string, port = 8080) =>
    sink.rbac(port, c.authz, evaluateRbac(c.authz, authzInput({ path })));
  const lines = async () =>
    (await registry.metrics())
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('#'))
      .sort();
  return { sink, send, lines };
}

describe("Envoy's RBAC stats", () => {
  it('counts every enforced filter a request passes, and the one that refuses it', async () => {
    const s = stats(
      httpbinPolicy('audit-all', 'AUDIT', '[{}]') +
        httpbinPolicy('deny-admin', 'DENY', ADMIN) +
        httpbinPolicy('allow-all', 'ALLOW', '[{}]'),
    );
    s.send('/'); // AUDIT, DENY and ALLOW allow: 3
    s.send('/admin'); // AUDIT allows, DENY refuses; ALLOW never runs
    expect(await s.lines()).toEqual([
      'envoy_http_inbound_0_0_0_0_8080_rbac{authz_enforce_result="allowed"} 4',
      'envoy_http_inbound_0_0_0_0_8080_rbac{authz_enforce_result="denied"} 1',
    ]);
  });

  it('counts the ALLOW filter that refuses after the DENY filter let the request through', async () => {
    const s = stats(
      httpbinPolicy('deny-admin', 'DENY', ADMIN) + httpbinPolicy('allow-admin', 'ALLOW', ADMIN),
    );
    s.send('/other');
    expect(await s.lines()).toEqual([
      'envoy_http_inbound_0_0_0_0_8080_rbac{authz_enforce_result="allowed"} 1',
      'envoy_http_inbound_0_0_0_0_8080_rbac{authz_enforce_result="denied"} 1',
    ]);
  });

  it('counts dry-run verdicts by action and result, and no enforced result for a filter of dry-run policies only', async () => {
    const s = stats(
      httpbinPolicy('dry-deny', 'DENY', ADMIN, { dryRun: true }) +
        httpbinPolicy('dry-allow', 'ALLOW', ADMIN, { dryRun: true }),
    );
    s.send('/admin');
    s.send('/other');
    expect(await s.lines()).toEqual([
      'envoy_http_inbound_0_0_0_0_8080_rbac{authz_dry_run_action="allow",authz_dry_run_result="allowed"} 1',
      'envoy_http_inbound_0_0_0_0_8080_rbac{authz_dry_run_action="allow",authz_dry_run_result="denied"} 1',
      'envoy_http_inbound_0_0_0_0_8080_rbac{authz_dry_run_action="deny",authz_dry_run_result="allowed"} 1',
      'envoy_http_inbound_0_0_0_0_8080_rbac{authz_dry_run_action="deny",authz_dry_run_result="denied"} 1',
    ]);
  });

  it('names the chain by its port, or the passthrough cluster, and writes nothing without RBAC filters', async () => {
    const passthrough = destinationServiceOf(INBOUND_PASSTHROUGH_CLUSTER, { namespace: 'foo' });
    const s = stats(httpbinPolicy('allow-all', 'ALLOW', '[{}]'), passthrough);
    s.send('/', 9000);
    s.send('/', 9001);
    expect(await s.lines()).toEqual([
      'envoy_http_InboundPassthroughCluster_rbac{authz_enforce_result="allowed"} 2',
    ]);
    const none = stats('');
    none.send('/');
    expect(await none.lines()).toEqual([]);
  });

  it('keeps the whole name for the shadow filter in front of ext_authz, which no tag regex matches', async () => {
    const s = stats('');
    s.sink.custom(8080, true);
    s.sink.custom(8080, true);
    s.sink.custom(8080, false);
    expect(await s.lines()).toEqual([
      'envoy_http_inbound_0_0_0_0_8080_rbac_istio_ext_authz_shadow_allowed 1',
      'envoy_http_inbound_0_0_0_0_8080_rbac_istio_ext_authz_shadow_denied 2',
    ]);
  });
});
