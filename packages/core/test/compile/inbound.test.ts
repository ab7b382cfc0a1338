import { describe, expect, it } from 'vitest';
import { compilePlan } from '../../src/compile/compile-plan.js';
import { snapshotOf } from './helpers.js';
import { localRateLimitYaml } from '../helpers/local-rate-limit.js';

const wl = {
  name: 'httpbin-1',
  namespace: 'foo',
  serviceAccount: 'httpbin',
  labels: { app: 'httpbin', version: 'v1' },
};

function pa(ns: string, name: string, body: string, ts: string): string {
  return `
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: ${name}, namespace: ${ns}, creationTimestamp: "${ts}" }
spec:
${body}
`;
}

const T1 = '2024-01-01T00:00:00Z';
const T2 = '2024-02-01T00:00:00Z';

function peer(...docs: string[]) {
  return compilePlan(snapshotOf(docs.join('---')), wl).inbound.peerAuthentication;
}

describe('PeerAuthentication composition', () => {
  it.each([
    ['no policy is PERMISSIVE', [], 'PERMISSIVE'],
    ['the mesh policy applies', [pa('istio-system', 'm', '  mtls: { mode: STRICT }', T1)], 'STRICT'],
    [
      'namespace beats mesh',
      [
        pa('istio-system', 'm', '  mtls: { mode: STRICT }', T1),
        pa('foo', 'n', '  mtls: { mode: DISABLE }', T1),
      ],
      'DISABLE',
    ],
    [
      'workload beats namespace',
      [
        pa('foo', 'n', '  mtls: { mode: DISABLE }', T1),
        pa('foo', 'w', '  selector: { matchLabels: { app: httpbin } }\n  mtls: { mode: STRICT }', T1),
      ],
      'STRICT',
    ],
    [
      'UNSET inherits from the namespace',
      [
        pa('foo', 'n', '  mtls: { mode: STRICT }', T1),
        pa('foo', 'w', '  selector: { matchLabels: { app: httpbin } }\n  mtls: { mode: UNSET }', T1),
      ],
      'STRICT',
    ],
    [
      'the oldest namespace policy wins a tie',
      [
        pa('foo', 'newer', '  mtls: { mode: DISABLE }', T2),
        pa('foo', 'older', '  mtls: { mode: STRICT }', T1),
      ],
      'STRICT',
    ],
    [
      'selector policies in the root namespace are ignored',
      [
        pa(
          'istio-system',
          's',
          '  selector: { matchLabels: { app: httpbin } }\n  mtls: { mode: STRICT }',
          T1,
        ),
      ],
      'PERMISSIVE',
    ],
    ['other namespaces do not apply', [pa('bar', 'n', '  mtls: { mode: STRICT }', T1)], 'PERMISSIVE'],
    [
      'non-matching selectors do not apply',
      [pa('foo', 'w', '  selector: { matchLabels: { app: other } }\n  mtls: { mode: STRICT }', T1)],
      'PERMISSIVE',
    ],
  ])('%s', (_, docs, want) => {
    expect(peer(...docs).mode).toBe(want);
  });

  it('resolves portLevelMtls by container port, UNSET taking the workload mode', () => {
    const p = peer(
      pa('foo', 'n', '  mtls: { mode: STRICT }', T1),
      pa(
        'foo',
        'w',
        '  selector: { matchLabels: { app: httpbin } }\n  portLevelMtls: { "8080": { mode: DISABLE }, "9000": { mode: UNSET } }',
        T1,
      ),
    );
    expect([p.mode, p.modeFor(8080), p.modeFor(9000), p.modeFor(80)]).toEqual([
      'STRICT',
      'DISABLE',
      'STRICT',
      'STRICT',
    ]);
    expect(p.sources).toEqual({
      mesh: null,
      namespace: { namespace: 'foo', name: 'n' },
      workload: { namespace: 'foo', name: 'w' },
    });
  });
});

describe('authorization and authentication selection', () => {
  const ap = (ns: string, name: string, body: string, annotations = '') => `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ${name}, namespace: ${ns}${annotations} }
spec:
${body}
`;

  it('groups the policies that select the workload by action, root namespace included', () => {
    const docs = [
      ap(
        'istio-system',
        'mesh-deny',
        '  action: DENY\n  rules: [{ to: [{ operation: { paths: ["/admin"] } }] }]',
      ),
      ap('istio-system', 'root-selected', '  selector: { matchLabels: { app: httpbin } }\n  rules: [{}]'),
      ap('istio-system', 'root-other', '  selector: { matchLabels: { app: other } }\n  rules: [{}]'),
      ap('foo', 'ns-allow', '  rules: [{ from: [{ source: { namespaces: ["foo"] } }] }]'),
      ap('foo', 'audit', '  action: AUDIT\n  rules: [{}]'),
      ap('foo', 'dry', '  action: DENY\n  rules: [{}]', ', annotations: { "istio.io/dry-run": "true" }'),
      ap('bar', 'elsewhere', '  rules: [{}]'),
      ap('foo', 'deny-all', '  {}'),
    ];
    const a = compilePlan(snapshotOf(docs.join('---')), wl).inbound.authorization;
    expect(a.deny.map((p) => [p.policy.name, p.dryRun])).toEqual([
      ['mesh-deny', false],
      ['dry', true],
    ]);
    expect(a.allow.map((p) => p.policy.name)).toEqual(['root-selected', 'ns-allow', 'deny-all']);
    expect(a.audit.map((p) => p.policy.name)).toEqual(['audit']);
    expect(a.allow.find((p) => p.policy.name === 'deny-all')?.rules).toBeNull();
  });

  it('concatenates the jwtRules of every RequestAuthentication that selects the workload', () => {
    const ra = (ns: string, name: string, issuer: string, selector = '') => `
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: ${name}, namespace: ${ns} }
spec:
${selector}
  jwtRules: [{ issuer: "${issuer}", jwksUri: "https://example.com/jwks" }]
`;
    const docs = [
      ra('istio-system', 'mesh', 'mesh-issuer'),
      ra('foo', 'w', 'wl-issuer', '  selector: { matchLabels: { app: httpbin } }'),
      ra('foo', 'x', 'x-issuer', '  selector: { matchLabels: { app: x } }'),
    ];
    const plan = compilePlan(snapshotOf(docs.join('---')), wl);
    expect(plan.inbound.jwtRules.map((j) => j.rule.issuer)).toEqual(['mesh-issuer', 'wl-issuer']);
  });

  it('selects local rate limit EnvoyFilters by workloadSelector, the root namespace applying to all', () => {
    // The local rate limit example of istio.io/latest/docs/tasks/policy-enforcement/rate-limit.
    const ef = (namespace: string, name: string, app: string | null) =>
      localRateLimitYaml({ name, namespace, selector: app === null ? null : { app }, responseHeader: null });
    const snap = snapshotOf(
      [
        ef('foo', 'httpbin-only', 'httpbin'),
        ef('foo', 'other', 'other'),
        ef('istio-system', 'mesh', null),
        ef('bar', 'elsewhere', null),
      ].join('---\n'),
    );
    const limits = compilePlan(snap, wl).inbound.rateLimits;
    // The root namespace's patch is applied first; each INSERT_BEFORE without a subFilter
    // puts its filter at the front (envoyfilter/listener_patch.go), so the chain runs the
    // workload's filter first.
    expect(limits.map((l) => l.envoyFilter.name)).toEqual(['httpbin-only', 'mesh']);
    expect(limits[0]!.config.tokenBucket).toEqual({ maxTokens: 4, tokensPerFill: 4, fillIntervalMs: 60000 });
  });
});
