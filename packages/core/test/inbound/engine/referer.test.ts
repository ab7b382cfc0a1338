import { describe, expect, it } from 'vitest';
import type { InboundDecision } from '../../../src/inbound/engine-types.js';
import { engineFor, ingressGateway, planOf, request, verdict } from './support.js';

// Envoy's connection manager removes an invalid `referer` before any filter runs
// (envoy conn_manager_utility.cc mutateRequestHeaders; the validity rule is
// http/utility.cc isValidRefererValue, tested on its own in test/outbound/referer.test.ts). An
// AuthorizationPolicy on `request.headers[referer]` and the application see what is left.

/** Allows only requests whose referer is a page of the app (at the gateway with `gateway`). */
function allowFromApp(gateway = false): string {
  const selector = gateway ? 'selector: { matchLabels: { istio: ingressgateway } }\n  ' : '';
  return `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: from-app, namespace: foo }
spec:
  ${selector}action: ALLOW
  rules: [{ when: [{ key: "request.headers[referer]", values: ["https://app.example.com/*"] }] }]
`;
}

const removed = (d: InboundDecision): readonly string[] | null => (d.allow ? d.removeHeaders : null);

describe("the connection manager's referer sanitising, before every filter", () => {
  it('keeps a valid referer for authorization and the application', async () => {
    const engine = engineFor(planOf(allowFromApp()));
    const d = await engine.decide(request({ headers: { referer: 'https://app.example.com/cart' } }));
    expect(verdict(d)).toBe('allow');
    expect(removed(d)).toEqual([]);
  });

  it('takes off one with a fragment or userinfo, so a policy that asks for it does not see it', async () => {
    const engine = engineFor(planOf(allowFromApp()));
    for (const referer of ['https://app.example.com/cart#pay', 'https://me:pw@app.example.com/cart']) {
      const d = await engine.decide(request({ headers: { referer } }));
      expect({ referer, verdict: verdict(d) }).toEqual({ referer, verdict: 403 });
    }
  });

  it('judges a repeated referer by its values joined with `,`, the one value the policy and the application see', async () => {
    // Istio's proxy keeps referer as an inline header: its header map joins repeats as it reads
    // them (header_map_impl.cc insertByKey), so RBAC sees one value, not each in turn.
    const exact = allowFromApp().replace('"https://app.example.com/*"', '"https://app.example.com/a"');
    const referer = ['https://app.example.com/a', 'https://app.example.com/b'];
    expect(verdict(await engineFor(planOf(exact)).decide(request({ headers: { referer } })))).toBe(403);
    const d = await engineFor(planOf(allowFromApp())).decide(request({ headers: { referer } }));
    expect(verdict(d)).toBe('allow');
    expect(d.allow && d.setHeaders['referer']).toBe('https://app.example.com/a,https://app.example.com/b');
    const bad = await engineFor(planOf(allowFromApp())).decide(
      request({ headers: { referer: ['https://app.example.com/a#x', 'https://app.example.com/b'] } }),
    );
    expect(verdict(bad)).toBe(403);
  });

  it('hands the application the request without it', async () => {
    const engine = engineFor(planOf(''));
    const bad = await engine.decide(request({ headers: { referer: 'htp:/www.malformed.com', 'x-a': '1' } }));
    expect(removed(bad)).toEqual(['referer']);
    const twice = await engine.decide(request({ headers: { referer: ['a:b', '/c'] } }));
    expect(removed(twice)).toEqual(['referer']);
    const relative = await engine.decide(request({ headers: { referer: '/resource.html' } }));
    expect(removed(relative)).toEqual([]);
  });

  it('removes it with the control headers in one list', async () => {
    const engine = engineFor(planOf(''));
    const d = await engine.decide(
      request({ headers: { 'x-envoy-internal': 'true', referer: 'a:b', 'x-envoy-max-retries': '2' } }),
    );
    expect([...(removed(d) ?? [])].sort()).toEqual(['referer', 'x-envoy-internal', 'x-envoy-max-retries']);
  });

  it('does the same at a gateway', async () => {
    const plan = planOf(allowFromApp(true), { workload: ingressGateway });
    expect(plan.inbound.gateway).toBe(true);
    const engine = engineFor(plan);
    expect(verdict(await engine.decide(request({ headers: { referer: 'https://app.example.com/' } })))).toBe(
      'allow',
    );
    const d = await engine.decide(request({ headers: { referer: 'https://app.example.com/#x' } }));
    expect(verdict(d)).toBe(403);
  });
});
