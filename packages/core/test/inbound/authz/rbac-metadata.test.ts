import { describe, expect, it } from 'vitest';
import { evaluateRbac, type RbacOutcome } from '../../../src/inbound/authz/evaluate.js';
import { compileInbound } from '../../../src/inbound/engine-compile.js';
import { createManualClock } from '../../../src/runtime/clock.js';
import { seededRandom } from '../../../src/runtime/random.js';
import { planOf } from '../engine/support.js';
import { authzInput, httpbinPolicy } from './support.js';

/**
 * The dynamic metadata Envoy's RBAC filters leave on a request, which access logs, CEL and
 * Istio's `istio.authorization.dry_run.*` span tags read:
 *
 * - a filter with shadow rules (Istio's dry-run policies) writes
 *   `<prefix>shadow_engine_result` ("allowed" or "denied") and, when a policy matched,
 *   `<prefix>shadow_effective_policy_id` under `envoy.filters.http.rbac` (envoy
 *   rbac_filter.cc decodeHeaders); Istio's prefixes are `istio_dry_run_deny_` and
 *   `istio_dry_run_allow_` (pilot/pkg/security/authz/model/model.go);
 * - the enforced AUDIT filter (action LOG) writes `envoy.common: {access_log_hint}`, whether
 *   a policy matched (rbac engine_impl.cc handleAction);
 * - the matching policy is the first in the engine's `std::map`, so the least id in byte
 *   order: `ns[foo]-policy[a]-rule[10]` before `ns[foo]-policy[a]-rule[2]`.
 */

const paths = (...p: string[]) => `{ to: [{ operation: { paths: ${JSON.stringify(p)} } }] }`;

function decide(yaml: string, path: string, method = 'GET'): RbacOutcome[] {
  const c = compileInbound(planOf(yaml), createManualClock(), seededRandom(1));
  // Directly, and through the per-plan memo the engine uses (asked twice: the kept answer too).
  const input = authzInput({ path, method });
  return [evaluateRbac(c.authz, input), c.rbac(input), c.rbac(input)];
}

const RBAC = 'envoy.filters.http.rbac';

describe('the dynamic metadata of the RBAC filters', () => {
  it('is absent when no filter has shadow rules or AUDIT policies', () => {
    const yaml =
      httpbinPolicy('deny-admin', 'DENY', `[${paths('/admin')}]`) +
      httpbinPolicy('allow-all', 'ALLOW', '[{}]');
    for (const r of decide(yaml, '/')) expect(r.metadata).toBeNull();
    for (const r of decide(yaml, '/admin')) expect(r.metadata).toBeNull();
  });

  it("records the istio.io task's dry-run DENY: denied with the rule's id on /headers, allowed elsewhere", () => {
    const yaml = httpbinPolicy('deny-path-headers', 'DENY', `[${paths('/headers')}]`, { dryRun: true });
    for (const r of decide(yaml, '/headers')) {
      expect(r.allow).toBe(true);
      expect(r.metadata).toEqual({
        [RBAC]: {
          istio_dry_run_deny_shadow_engine_result: 'denied',
          istio_dry_run_deny_shadow_effective_policy_id: 'ns[foo]-policy[deny-path-headers]-rule[0]',
        },
      });
    }
    for (const r of decide(yaml, '/ip'))
      expect(r.metadata).toEqual({ [RBAC]: { istio_dry_run_deny_shadow_engine_result: 'allowed' } });
  });

  it('records a dry-run ALLOW: allowed with the matching rule, denied without an id', () => {
    const yaml =
      httpbinPolicy('allow-all', 'ALLOW', '[{}]') +
      httpbinPolicy(
        'dry-allow-get',
        'ALLOW',
        `[${paths('/x')}, { to: [{ operation: { methods: ["GET"] } }] }]`,
        { dryRun: true },
      );
    for (const r of decide(yaml, '/ip'))
      expect(r.metadata).toEqual({
        [RBAC]: {
          istio_dry_run_allow_shadow_engine_result: 'allowed',
          istio_dry_run_allow_shadow_effective_policy_id: 'ns[foo]-policy[dry-allow-get]-rule[1]',
        },
      });
    for (const r of decide(yaml, '/ip', 'POST')) {
      expect(r.allow).toBe(true);
      expect(r.metadata).toEqual({ [RBAC]: { istio_dry_run_allow_shadow_engine_result: 'denied' } });
    }
  });

  it('merges the DENY and ALLOW filters under one namespace, as Envoy merges a filter name', () => {
    const yaml =
      httpbinPolicy('dry-deny', 'DENY', `[${paths('/a')}]`, { dryRun: true }) +
      httpbinPolicy('dry-allow', 'ALLOW', `[${paths('/b')}]`, { dryRun: true });
    for (const r of decide(yaml, '/a'))
      expect(r.metadata).toEqual({
        [RBAC]: {
          istio_dry_run_deny_shadow_engine_result: 'denied',
          istio_dry_run_deny_shadow_effective_policy_id: 'ns[foo]-policy[dry-deny]-rule[0]',
          istio_dry_run_allow_shadow_engine_result: 'denied',
        },
      });
  });

  it('names the least matching policy id in byte order, across policies and rules', () => {
    // Twelve rules: rule[10] and rule[11] sort before rule[2].
    const rules = Array.from({ length: 12 }, (_, k) => paths(k === 2 || k >= 10 ? '/m' : `/other${k}`));
    const yaml =
      httpbinPolicy('zeta', 'DENY', `[${paths('/m')}]`, { dryRun: true }) +
      httpbinPolicy('beta', 'DENY', `[${rules.join(', ')}]`, { dryRun: true });
    for (const r of decide(yaml, '/m'))
      expect(r.metadata?.[RBAC]?.istio_dry_run_deny_shadow_effective_policy_id).toBe(
        'ns[foo]-policy[beta]-rule[10]',
      );
  });

  it('reports the enforced DENY that refused by the same order, not the oldest policy', () => {
    const yaml =
      httpbinPolicy('zeta', 'DENY', `[${paths('/m')}]`, { created: '2020-01-01T00:00:00Z' }) +
      httpbinPolicy('alpha', 'DENY', `[${paths('/x')}, ${paths('/m')}]`, { created: '2024-01-01T00:00:00Z' });
    for (const r of decide(yaml, '/m'))
      expect(r).toMatchObject({
        allow: false,
        stage: 'deny',
        policy: 'foo/alpha',
        responseCodeDetails: 'rbac_access_denied_matched_policy[ns[foo]-policy[alpha]-rule[1]]',
      });
  });

  it('sets access_log_hint for enforced AUDIT policies, whether one matched', () => {
    const yaml = httpbinPolicy('audit-admin', 'AUDIT', `[${paths('/admin')}]`);
    for (const r of decide(yaml, '/admin'))
      expect(r.metadata).toEqual({ 'envoy.common': { access_log_hint: true } });
    for (const r of decide(yaml, '/'))
      expect(r.metadata).toEqual({ 'envoy.common': { access_log_hint: false } });
  });

  it('keeps what the filters before an enforced DENY wrote, and nothing of the ALLOW filter', () => {
    const yaml =
      httpbinPolicy('audit-all', 'AUDIT', '[{}]') +
      httpbinPolicy('dry-deny', 'DENY', `[${paths('/admin')}]`, { dryRun: true }) +
      httpbinPolicy('deny-admin', 'DENY', `[${paths('/admin')}]`) +
      httpbinPolicy('dry-allow', 'ALLOW', '[{}]', { dryRun: true });
    for (const r of decide(yaml, '/admin')) {
      expect(r.allow).toBe(false);
      expect(r.metadata).toEqual({
        'envoy.common': { access_log_hint: true },
        [RBAC]: {
          istio_dry_run_deny_shadow_engine_result: 'denied',
          istio_dry_run_deny_shadow_effective_policy_id: 'ns[foo]-policy[dry-deny]-rule[0]',
        },
      });
    }
  });

  it('is frozen, so the memo can hand the same outcome to every request', () => {
    const yaml = httpbinPolicy('deny-path-headers', 'DENY', `[${paths('/headers')}]`, { dryRun: true });
    const [, kept] = decide(yaml, '/headers');
    expect(kept?.metadata).not.toBeNull();
    expect(Object.isFrozen(kept?.metadata)).toBe(true);
    expect(Object.isFrozen(kept?.metadata?.[RBAC])).toBe(true);
  });
});
