import { describe, expect, it } from 'vitest';
import { evaluateRbac, type RbacOutcome } from '../../../src/inbound/authz/evaluate.js';
import { compileInbound } from '../../../src/inbound/engine-compile.js';
import { createManualClock } from '../../../src/runtime/clock.js';
import { seededRandom } from '../../../src/runtime/random.js';
import { planOf } from '../engine/support.js';
import { authzInput, httpbinPolicy } from './support.js';

/**
 * Istio builds AUDIT, DENY and ALLOW as three RBAC filters in that order (authz/builder
 * builder.go `build`), and each filter evaluates its dry-run (shadow) rules before its
 * enforced ones (envoy rbac_filter.cc decodeHeaders). So a request refused by DENY has
 * already been marked by AUDIT and by the dry-run DENY policies, and one refused by ALLOW
 * also by the dry-run ALLOW policies.
 */

const AUDIT_ALL = httpbinPolicy('audit-all', 'AUDIT', '[{}]');
const DENY_ADMIN = httpbinPolicy('deny-admin', 'DENY', '[{ to: [{ operation: { paths: ["/admin"] } }] }]');
const DRY_DENY_ADMIN = httpbinPolicy(
  'dry-deny-admin',
  'DENY',
  '[{ to: [{ operation: { paths: ["/admin"] } }] }]',
  { dryRun: true },
);
const ALLOW_PUBLIC = httpbinPolicy(
  'allow-public',
  'ALLOW',
  '[{ to: [{ operation: { paths: ["/public"] } }] }]',
);
const DRY_ALLOW_PRIVATE = httpbinPolicy(
  'dry-allow-private',
  'ALLOW',
  '[{ to: [{ operation: { paths: ["/private"] } }] }]',
  { dryRun: true },
);

function decide(yaml: string, path: string): RbacOutcome[] {
  const c = compileInbound(planOf(yaml), createManualClock(), seededRandom(1));
  // Directly, and through the per-plan memo the engine uses (asked twice: the kept answer too).
  const input = authzInput({ path });
  return [evaluateRbac(c.authz, input), c.rbac(input), c.rbac(input)];
}

describe('AUDIT and dry-run results of a refused request', () => {
  it('keeps the AUDIT mark of a request an enforced DENY refuses', () => {
    for (const r of decide(AUDIT_ALL + DENY_ADMIN, '/admin')) {
      expect(r.allow).toBe(false);
      expect(r.shadow).toEqual([{ policy: 'foo/audit-all', action: 'AUDIT', result: 'audit' }]);
    }
  });

  it('evaluates the dry-run DENY policies before the enforced ones', () => {
    // The enforced policy comes first in the plan; Envoy's shadow engine runs first anyway.
    for (const r of decide(DENY_ADMIN + DRY_DENY_ADMIN, '/admin')) {
      expect(r).toMatchObject({ allow: false, stage: 'deny', policy: 'foo/deny-admin' });
      expect(r.shadow).toEqual([{ policy: 'foo/dry-deny-admin', action: 'DENY', result: 'deny' }]);
    }
  });

  it('reports AUDIT, dry-run DENY and dry-run ALLOW for a request no ALLOW policy admits', () => {
    const yaml = AUDIT_ALL + DRY_DENY_ADMIN + ALLOW_PUBLIC + DRY_ALLOW_PRIVATE;
    for (const r of decide(yaml, '/admin')) {
      expect(r).toMatchObject({ allow: false, stage: 'allow' });
      expect(r.shadow).toEqual([
        { policy: 'foo/audit-all', action: 'AUDIT', result: 'audit' },
        { policy: 'foo/dry-deny-admin', action: 'DENY', result: 'deny' },
        { policy: 'foo/dry-allow-private', action: 'ALLOW', result: 'deny' },
      ]);
    }
  });

  it('stops at the enforced DENY: the ALLOW filter and its dry-run policies never run', () => {
    for (const r of decide(DENY_ADMIN + DRY_ALLOW_PRIVATE + ALLOW_PUBLIC, '/admin')) {
      expect(r).toMatchObject({ allow: false, stage: 'deny' });
      expect(r.shadow).toEqual([]);
    }
  });

  it('lists an allowed request in filter order: AUDIT first', () => {
    for (const r of decide(DRY_ALLOW_PRIVATE + AUDIT_ALL, '/private')) {
      expect(r.allow).toBe(true);
      expect(r.shadow).toEqual([
        { policy: 'foo/audit-all', action: 'AUDIT', result: 'audit' },
        { policy: 'foo/dry-allow-private', action: 'ALLOW', result: 'allow' },
      ]);
    }
  });
});
