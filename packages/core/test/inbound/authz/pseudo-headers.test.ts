import { describe, expect, it } from 'vitest';
import { engineFor, planOf, request, verdict } from '../engine/support.js';

/**
 * `request.headers[<name>]` conditions become Envoy RBAC header matchers named as
 * written (istio pilot/pkg/security/authz/model/generator.go requestHeaderGenerator,
 * matcher/header.go HeaderMatcher). Envoy matches pseudo-headers against the request's
 * own values, and "Internally, Envoy always uses the HTTP/2 :authority header to
 * represent the HTTP/1 Host header. Thus, if attempting to match on Host, match on
 * :authority instead" (envoy route_components.proto HeaderMatcher).
 */
function policy(action: 'ALLOW' | 'DENY', key: string, values: string[]): string {
  return `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: p, namespace: foo }
spec:
  action: ${action}
  rules:
  - when: [{ key: "${key}", values: ${JSON.stringify(values)} }]
`;
}

const decide = async (yaml: string, over: Parameters<typeof request>[0] = {}): Promise<unknown> =>
  verdict(
    await engineFor(planOf(yaml)).decide(
      request({ url: '/x?a=1', ...over, headers: { host: 'httpbin.foo:8000', ...over.headers } }),
    ),
  );

describe('request.headers[] on pseudo-headers and Host', () => {
  it('a DENY on :authority denies the request to that authority', async () => {
    expect(await decide(policy('DENY', 'request.headers[:authority]', ['httpbin.foo:8000']))).toBe(403);
    expect(await decide(policy('DENY', 'request.headers[:authority]', ['other']))).toBe('allow');
  });

  it(':authority is matched as sent (case-sensitive exact match)', async () => {
    const yaml = policy('ALLOW', 'request.headers[:authority]', ['HttpBin.foo:8000']);
    expect(await decide(yaml, { authority: 'HttpBin.foo:8000' })).toBe('allow');
    expect(await decide(yaml)).toBe(403);
  });

  it(':method is the request method', async () => {
    expect(await decide(policy('ALLOW', 'request.headers[:method]', ['GET']))).toBe('allow');
    expect(await decide(policy('ALLOW', 'request.headers[:method]', ['POST']))).toBe(403);
  });

  it(':path is the normalized path with its query, without the fragment', async () => {
    expect(await decide(policy('ALLOW', 'request.headers[:path]', ['/x?a=1']))).toBe('allow');
    expect(await decide(policy('ALLOW', 'request.headers[:path]', ['/x']))).toBe(403);
    expect(
      await decide(policy('ALLOW', 'request.headers[:path]', ['/x?a=1']), { url: '/y/../x?a=1#f' }),
    ).toBe('allow');
    expect(await decide(policy('ALLOW', 'request.headers[:path]', ['/x']), { url: '/x#f' })).toBe('allow');
  });

  it(':scheme is the request scheme', async () => {
    expect(await decide(policy('ALLOW', 'request.headers[:scheme]', ['https']), { scheme: 'https' })).toBe(
      'allow',
    );
    expect(await decide(policy('ALLOW', 'request.headers[:scheme]', ['https']))).toBe(403);
  });

  it('Host is never present: Envoy keeps it only as :authority', async () => {
    expect(await decide(policy('ALLOW', 'request.headers[Host]', ['httpbin.foo:8000']))).toBe(403);
    expect(await decide(policy('DENY', 'request.headers[host]', ['*']))).toBe('allow');
  });

  it('raw pseudo-headers of an HTTP/2 request do not stand in for the request values', async () => {
    const yaml = policy('DENY', 'request.headers[:path]', ['/admin']);
    expect(await decide(yaml, { url: '/x/../admin', headers: { ':path': '/x/../admin' } })).toBe(403);
  });

  it('the decision memo keys on the pseudo-header values the policy reads', async () => {
    const engine = engineFor(planOf(policy('DENY', 'request.headers[:path]', ['/x?a=1'])));
    const got = [];
    for (const url of ['/x?a=1', '/x?a=2', '/x?a=1', '/x'])
      got.push(verdict(await engine.decide(request({ url }))));
    expect(got).toEqual([403, 'allow', 403, 'allow']);
    const byAuthority = engineFor(planOf(policy('DENY', 'request.headers[:authority]', ['a'])));
    const seen = [];
    for (const authority of ['a', 'b', 'a'])
      seen.push(verdict(await byAuthority.decide(request({ authority }))));
    expect(seen).toEqual([403, 'allow', 403]);
  });
});
