import { describe, expect, it } from 'vitest';
import { denied, RBAC_DENIED_BODY, withServerHeader } from '../../../src/inbound/engine-decisions.js';
import type { ShadowResult } from '../../../src/inbound/authz/evaluate.js';

const REASON = {
  stage: 'deny',
  policy: 'foo/deny-admin',
  detail: 'DENY policy foo/deny-admin rule[0] matched',
} as const;
const AUDIT: ShadowResult[] = [{ policy: 'foo/audit-all', action: 'AUDIT', result: 'audit' }];

/**
 * A refusal carries the AUDIT and dry-run results Envoy's RBAC filters recorded before the
 * request stopped (envoy rbac_filter.cc: every filter reached reports, shadow rules first).
 */
describe('denied', () => {
  it('carries the shadow results it is given', () => {
    const d = denied(403, RBAC_DENIED_BODY, {}, [], REASON, AUDIT);
    expect(d).toMatchObject({ allow: false, status: 403, shadow: AUDIT });
    expect(Object.isFrozen(d)).toBe(true);
  });

  it('carries none when a stage before the RBAC filters refused', () => {
    expect(denied(401, 'Jwt is missing', {}, [], { ...REASON, stage: 'jwt' }).shadow).toEqual([]);
  });

  it('keeps them when the server header is set on the local reply', () => {
    const d = withServerHeader(denied(403, RBAC_DENIED_BODY, {}, [], REASON, AUDIT), null);
    expect(d).toMatchObject({ allow: false, shadow: AUDIT });
  });
});
