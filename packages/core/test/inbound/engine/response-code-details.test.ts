import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { InboundDecision } from '../../../src/inbound/engine-types.js';
import { engineFor, fakeJwt, planOf, request, REQUEST_AUTHENTICATION } from './support.js';

// What Envoy writes as %RESPONSE_CODE_DETAILS% for each refusal, so access logs and the
// dashboards built on them read as the sidecar's:
// - RBAC (filters/common/rbac/utility.cc responseDetail) names istiod's policy id for the
//   matching rule, `ns[<ns>]-policy[<name>]-rule[<k>]` (authz/builder/builder.go policyName),
//   or `none` when no ALLOW policy matched;
// - jwt_authn (filter.cc generateRcDetails): `jwt_authn_access_denied{<status, spaces as _>}`;
// - ext_authz (ext_authz.cc): `ext_authz_denied`, or `ext_authz_error` for a failed check;
//   a body over maxRequestBytes is the connection manager's `request_payload_too_large`.
const details = (d: InboundDecision) => (d.allow ? null : d.reason.responseCodeDetails);

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise<void>((r) => s.close(() => r()));
});

const DENY_AND_ALLOW = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-admin, namespace: foo }
spec:
  action: DENY
  rules:
  - to: [{ operation: { paths: ["/private"] } }]
  - to: [{ operation: { paths: ["/admin"] } }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: allow-get, namespace: foo }
spec:
  action: ALLOW
  rules:
  - to: [{ operation: { methods: ["GET"] } }]
`;

describe("inbound refusals carry Envoy's response code details", () => {
  it('RBAC: the matching DENY rule by its istiod policy id, or none when no ALLOW matched', async () => {
    const engine = engineFor(planOf(DENY_AND_ALLOW));
    expect(details(await engine.decide(request({ url: '/admin' })))).toBe(
      'rbac_access_denied_matched_policy[ns[foo]-policy[deny-admin]-rule[1]]',
    );
    expect(details(await engine.decide(request({ url: '/private' })))).toBe(
      'rbac_access_denied_matched_policy[ns[foo]-policy[deny-admin]-rule[0]]',
    );
    expect(details(await engine.decide(request({ method: 'POST', url: '/x' })))).toBe(
      'rbac_access_denied_matched_policy[none]',
    );
  });

  it('jwt_authn: the verification status, spaces as underscores', async () => {
    const engine = engineFor(planOf(REQUEST_AUTHENTICATION), { jwt: fakeJwt() });
    const d = await engine.decide(request({ headers: { authorization: 'Bearer forged' } }));
    expect(d.allow ? null : d.status).toBe(401);
    expect(details(d)).toBe('jwt_authn_access_denied{Jwt_verification_fails}');
  });

  it('ext_authz: a denial, a failed check, a body over maxRequestBytes, a provider istiod rejects', async () => {
    const server = createServer((req, res) => {
      if (req.headers['x-ext-authz'] === 'fail') res.statusCode = 500;
      else res.statusCode = 403;
      res.end();
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const custom = (provider: string) => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ext-authz, namespace: foo }
spec:
  action: CUSTOM
  provider: { name: ${provider} }
  rules:
  - to: [{ operation: { paths: ["/other"] } }]
  - to: [{ operation: { paths: ["/headers"] } }]
`;
    const extensionProviders = [
      {
        name: 'http',
        type: 'envoyExtAuthzHttp',
        config: {
          service: '127.0.0.1',
          port: (server.address() as AddressInfo).port,
          includeRequestHeadersInCheck: ['x-ext-authz'],
          includeRequestBodyInCheck: { maxRequestBytes: 4 },
        },
      },
    ];
    const engine = engineFor(planOf(custom('http'), { meshConfig: { extensionProviders } }));
    expect(details(await engine.decide(request({ url: '/headers' })))).toBe('ext_authz_denied');
    expect(
      details(await engine.decide(request({ url: '/headers', headers: { 'x-ext-authz': 'fail' } }))),
    ).toBe('ext_authz_error');
    const big = await engine.decide(
      request({
        method: 'POST',
        url: '/headers',
        headers: { 'content-length': '10' },
        bodyStream: Object.assign(Readable.from([Buffer.from('0123456789')]), { complete: false }),
      }),
    );
    expect(big.allow ? null : big.status).toBe(413);
    expect(details(big)).toBe('request_payload_too_large');

    // A provider meshConfig does not define: istiod builds an RBAC deny of the policy's rules.
    const missing = engineFor(planOf(custom('nowhere'), { meshConfig: { extensionProviders } }));
    expect(details(await missing.decide(request({ url: '/headers' })))).toBe(
      'rbac_access_denied_matched_policy[istio-ext-authz-nowhere-ns[foo]-policy[ext-authz]-rule[1]-deny-due-to-bad-CUSTOM-action]',
    );

    // Two such policies match: Envoy's engine keeps them in a std::map and names the least
    // id (engine_impl.cc checkPolicyMatch), not the older policy.
    const older = custom('nowhere')
      .replace('name: ext-authz,', 'name: zz-ext-authz, creationTimestamp: "2020-01-01T00:00:00Z",')
      .replace('  - to: [{ operation: { paths: ["/other"] } }]\n', '');
    const twice = engineFor(
      planOf(`${older}---\n${custom('nowhere')}`, { meshConfig: { extensionProviders } }),
    );
    expect(details(await twice.decide(request({ url: '/headers' })))).toBe(
      'rbac_access_denied_matched_policy[istio-ext-authz-nowhere-ns[foo]-policy[ext-authz]-rule[1]-deny-due-to-bad-CUSTOM-action]',
    );
  });
});
