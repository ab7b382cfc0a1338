import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createMockMesh,
  type MockMesh,
  type MockRequest,
  type MockWorkload,
} from '../../src/testing/index.js';
import { SAMPLES } from '../helpers/tmp.js';

const AUTHN = path.join(SAMPLES, 'tasks/authn-policy');

const open: MockMesh[] = [];
afterEach(async () => {
  for (const mm of open.splice(0)) await mm.close();
});

async function mock(config?: string | readonly string[]): Promise<MockMesh> {
  const mm = await createMockMesh(config === undefined ? {} : { config });
  open.push(mm);
  return mm;
}

const sample = (file: string): Promise<string> => readFile(file, 'utf8');

/** An ES256 signing key of a test identity provider, its JWKS, and tokens it mints now. */
async function testIssuer() {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' }] };
  const mint = (issuer: string, subject: string, expires: string) =>
    new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer(issuer)
      .setSubject(subject)
      .setIssuedAt()
      .setNotBefore('0s')
      .setExpirationTime(expires)
      .sign(privateKey);
  return { jwks, mint };
}

/** What httpbin answers here: who called, as the sidecar verified it. */
function httpbin(req: MockRequest) {
  return {
    status: 200,
    body: {
      peer: req.peer?.principal ?? null,
      auth: req.auth?.principal ?? null,
      authorization: req.headers['authorization'] ?? null,
    },
  };
}

/** The authn-policy task's topology: sleep and httpbin in foo and bar (injected) and legacy (not). */
function authnTopology(mm: MockMesh): Record<string, MockWorkload> {
  const sleeps: Record<string, MockWorkload> = {};
  for (const ns of ['foo', 'bar', 'legacy']) {
    const mesh = ns !== 'legacy';
    mm.service('httpbin', { namespace: ns, serviceAccount: 'httpbin', port: 8000, mesh }, httpbin);
    sleeps[ns] = mm.workload({ namespace: ns, serviceAccount: 'sleep', mesh });
  }
  return sleeps;
}

/** `curl http://httpbin.<to>:8000/ip` from sleep in each namespace: the status, or the error code. */
async function reach(
  sleeps: Record<string, MockWorkload>,
  to: string,
): Promise<Record<string, number | string>> {
  const out: Record<string, number | string> = {};
  for (const [from, sleep] of Object.entries(sleeps)) {
    out[from] = await sleep
      .fetch(`http://httpbin.${to}:8000/ip`)
      .then((r) => r.status)
      .catch((e: { code?: string }) => e.code ?? 'error');
  }
  return out;
}

describe('mock mesh: the authn-policy task (PeerAuthentication)', () => {
  it('lets everyone in under PERMISSIVE, with the peer identity only on mTLS calls', async () => {
    const mm = await mock();
    const sleeps = authnTopology(mm);
    for (const to of ['foo', 'bar', 'legacy']) {
      expect(await reach(sleeps, to)).toEqual({ foo: 200, bar: 200, legacy: 200 });
    }
    const fromFoo = await (await (sleeps['foo'] as MockWorkload).fetch('http://httpbin.bar:8000/')).json();
    expect(fromFoo).toMatchObject({ peer: 'cluster.local/ns/foo/sa/sleep' });
    // A pod without a sidecar has no identity; auto mTLS sends plaintext to a pod without one.
    const fromLegacy = await (
      await (sleeps['legacy'] as MockWorkload).fetch('http://httpbin.bar:8000/')
    ).json();
    expect(fromLegacy).toMatchObject({ peer: null });
    const toLegacy = await (
      await (sleeps['foo'] as MockWorkload).fetch('http://httpbin.legacy:8000/')
    ).json();
    expect(toLegacy).toMatchObject({ peer: null });
  });

  it('closes plaintext connections under mesh-wide STRICT: legacy clients get a connection reset, not a status', async () => {
    const mm = await mock();
    const sleeps = authnTopology(mm);
    await mm.apply(await sample(path.join(AUTHN, '01-peerauthentication-mesh-strict.yaml')));
    expect(await reach(sleeps, 'foo')).toEqual({ foo: 200, bar: 200, legacy: 'ECONNRESET' });
    expect(await reach(sleeps, 'bar')).toEqual({ foo: 200, bar: 200, legacy: 'ECONNRESET' });
    expect(await reach(sleeps, 'legacy')).toEqual({ foo: 200, bar: 200, legacy: 200 });
    const refused = mm.log.filter((h) => h.error !== null);
    expect(refused.map((h) => h.source)).toEqual(['legacy/sleep', 'legacy/sleep']);
  });

  it('applies namespace STRICT to its namespace only, and portLevelMtls DISABLE to its port', async () => {
    const mm = await mock();
    const sleeps = authnTopology(mm);
    await mm.apply(await sample(path.join(AUTHN, '02-peerauthentication-namespace-foo-strict.yaml')));
    expect(await reach(sleeps, 'foo')).toEqual({ foo: 200, bar: 200, legacy: 'ECONNRESET' });
    expect(await reach(sleeps, 'bar')).toEqual({ foo: 200, bar: 200, legacy: 200 });
    // httpbin.bar on 8080: workload STRICT with that port DISABLE lets legacy in; STRICT alone does not.
    mm.service('httpbin', { namespace: 'bar', serviceAccount: 'httpbin', port: 8080 }, httpbin);
    const legacy = sleeps['legacy'] as MockWorkload;
    const call = () =>
      legacy.fetch('http://httpbin.bar:8080/').then(
        (r) => r.status,
        (e: { code?: string }) => e.code,
      );
    await mm.apply(await sample(path.join(AUTHN, '03-peerauthentication-httpbin-bar-strict.yaml')));
    expect(await call()).toBe('ECONNRESET');
    await mm.apply(
      await sample(path.join(AUTHN, '04-peerauthentication-httpbin-bar-port-8080-disable.yaml')),
    );
    expect(await call()).toBe(200);
  });

  it("never takes identity from X-Forwarded-Client-Cert: a plaintext caller's forged header is dropped, an mTLS caller's gets the sidecar's element", async () => {
    const mm = await mock();
    const sleeps = authnTopology(mm);
    mm.service('echo', { namespace: 'foo', serviceAccount: 'echo', port: 8080 }, (req) => ({
      status: 200,
      body: { xfcc: req.headers['x-forwarded-client-cert'] ?? null, peer: req.peer?.principal ?? null },
    }));
    const forged = { 'x-forwarded-client-cert': 'URI=spiffe://cluster.local/ns/foo/sa/admin' };
    const legacy = await (
      await (sleeps['legacy'] as MockWorkload).fetch('http://echo.foo:8080/', { headers: forged })
    ).json();
    expect(legacy).toEqual({ xfcc: null, peer: null });
    const meshed = (await (
      await (sleeps['bar'] as MockWorkload).fetch('http://echo.foo:8080/', { headers: forged })
    ).json()) as {
      xfcc: string;
    };
    // APPEND_FORWARD (Istio's sidecar default): the caller's header, then this connection's element.
    expect(meshed.xfcc).toMatch(
      /^URI=spiffe:\/\/cluster\.local\/ns\/foo\/sa\/admin,By=spiffe:\/\/cluster\.local\/ns\/foo\/sa\/echo;Hash=[0-9a-f]{64};Subject="";URI=spiffe:\/\/cluster\.local\/ns\/bar\/sa\/sleep$/,
    );
  });

  it('counts the inbound request on the destination with the caller Istio would name', async () => {
    const mm = await mock();
    const sleeps = authnTopology(mm);
    const target = mm.service(
      'productpage',
      { namespace: 'foo', serviceAccount: 'bookinfo-productpage', labels: { version: 'v1' }, port: 9080 },
      () => ({ status: 204 }),
    );
    await (sleeps['bar'] as MockWorkload).fetch('http://productpage.foo:9080/');
    const metrics = (await target.mesh()).metrics;
    const text = (await metrics?.getSingleMetricAsString('istio_requests_total')) ?? '';
    const line = text.split('\n').find((l) => l.includes('reporter="destination"')) ?? '';
    expect(line).toContain('source_workload="sleep"');
    expect(line).toContain('source_workload_namespace="bar"');
    expect(line).toContain('source_principal="spiffe://cluster.local/ns/bar/sa/sleep"');
    expect(line).toContain('destination_workload="productpage-v1"');
    expect(line).toContain('connection_security_policy="mutual_tls"');
    expect(line).toContain('response_code="204"');
    expect(line).toMatch(/ 1$/);
  });
});

describe('mock mesh: authorization and JWT', () => {
  it("denies GET to httpbin in foo (authz-deny task) with Envoy's 403 body", async () => {
    const mm = await mock(path.join(SAMPLES, 'tasks/authz-deny/01-deny-method-get.yaml'));
    mm.service('httpbin', { namespace: 'foo', serviceAccount: 'httpbin', port: 8000 }, httpbin);
    const sleep = mm.workload({ namespace: 'foo', serviceAccount: 'sleep' });
    const get = await sleep.fetch('http://httpbin:8000/get');
    expect([get.status, await get.text()]).toEqual([403, 'RBAC: access denied']);
    const post = await sleep.fetch('http://httpbin:8000/post', { method: 'POST', body: 'x' });
    expect(post.status).toBe(200);
  });

  it('requires a JWT (authz-jwt task): none is 403, a bad one 401, the demo token passes with its principal and is removed', async () => {
    const jwks = (await sample(path.join(SAMPLES, 'jwt/jwks.json'))).trim();
    const token = (await sample(path.join(SAMPLES, 'jwt/demo.jwt'))).trim();
    // The task's RequestAuthentication with the key set inline (the sample's jwksUri is on the internet).
    const requestAuthn = (
      await sample(path.join(SAMPLES, 'tasks/authz-jwt/01-requestauthentication-jwt-example.yaml'))
    ).replace(/jwksUri: .*/, `jwks: '${jwks}'`);
    const mm = await mock([
      requestAuthn,
      await sample(path.join(SAMPLES, 'tasks/authz-jwt/02-require-jwt.yaml')),
    ]);
    mm.service('httpbin', { namespace: 'foo', serviceAccount: 'httpbin', port: 8000 }, httpbin);
    const sleep = mm.workload({ namespace: 'foo', serviceAccount: 'sleep' });
    const none = await sleep.fetch('http://httpbin:8000/headers');
    expect([none.status, await none.text()]).toEqual([403, 'RBAC: access denied']);
    const bad = await sleep.fetch('http://httpbin:8000/headers', {
      headers: { authorization: 'Bearer invalidToken' },
    });
    expect(bad.status).toBe(401);
    expect(await bad.text()).toBe(
      'Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections',
    );
    const good = await sleep.fetch('http://httpbin:8000/headers', {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(good.status).toBe(200);
    expect(await good.json()).toEqual({
      peer: 'cluster.local/ns/foo/sa/sleep',
      auth: 'testing@secure.istio.io/testing@secure.istio.io',
      authorization: null,
    });
  });

  it('checks a fresh token against the wall clock of virtual time: valid now, expired once virtual time passes exp and the 60 s skew', async () => {
    const { jwks, mint } = await testIssuer();
    const mm = await mock(`
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: jwt, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  jwtRules: [{ issuer: https://issuer.example, jwks: '${JSON.stringify(jwks)}' }]
`);
    mm.service('httpbin', { namespace: 'foo', serviceAccount: 'httpbin', port: 8000 }, httpbin);
    const sleep = mm.workload({ namespace: 'foo', serviceAccount: 'sleep' });
    // Issued now, valid from now, for 10 minutes: as a test's identity provider would mint it.
    const token = await mint('https://issuer.example', 'alice', '10m');
    const call = () => sleep.fetch('http://httpbin:8000/', { headers: { authorization: `Bearer ${token}` } });
    const now = await call();
    expect(await now.json()).toMatchObject({ auth: 'https://issuer.example/alice' });
    await mm.clock.advance(10 * 60_000 + 30_000);
    expect((await call()).status).toBe(200); // inside Envoy's 60 s clock skew
    await mm.clock.advance(31_000);
    const late = await call();
    expect([late.status, await late.text()]).toEqual([401, 'Jwt is expired']);
  });

  it("fetches a jwksUri, or the issuer's OIDC discovery, from a mock identity provider pod, as istiod would", async () => {
    const { jwks, mint } = await testIssuer();
    const mm = await mock(`
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: jwt, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  jwtRules:
  - issuer: https://idp.example
    jwksUri: https://idp.example/keys
  - issuer: http://keycloak.auth.svc.cluster.local/realms/mesh
`);
    const fetched: string[] = [];
    // An identity provider outside the cluster, on 443, and Keycloak in the cluster.
    mm.service('idp.example', { port: 443, mesh: false, tls: true }, (req) => {
      fetched.push(`idp.example${req.path}`);
      return { status: 200, body: jwks };
    });
    mm.service('keycloak', { namespace: 'auth', port: 80, mesh: false }, (req) => {
      fetched.push(`keycloak${req.path}`);
      return req.path.endsWith('/.well-known/openid-configuration')
        ? {
            status: 200,
            body: {
              issuer: 'http://keycloak.auth.svc.cluster.local/realms/mesh',
              jwks_uri: 'http://keycloak.auth.svc.cluster.local/realms/mesh/certs',
            },
          }
        : { status: 200, body: jwks };
    });
    mm.service('httpbin', { namespace: 'foo', serviceAccount: 'httpbin', port: 8000 }, httpbin);
    const sleep = mm.workload({ namespace: 'foo', serviceAccount: 'sleep' });
    for (const issuer of ['https://idp.example', 'http://keycloak.auth.svc.cluster.local/realms/mesh']) {
      const token = await mint(issuer, 'bob', '5m');
      const res = await sleep.fetch('http://httpbin:8000/', {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(await res.json()).toMatchObject({ auth: `${issuer}/bob` });
    }
    // Fetching and importing the keys took real time, not virtual time (no refresh timer fired).
    expect(mm.clock.now()).toBe(0);
    expect(fetched).toEqual([
      'idp.example/keys',
      'keycloak/realms/mesh/.well-known/openid-configuration',
      'keycloak/realms/mesh/certs',
    ]);
  });

  it('asks a CUSTOM provider that is itself a mock pod, as in the ext-authz task, and refuses when it says no', async () => {
    const mm = await mock([
      `
apiVersion: v1
kind: ConfigMap
metadata: { name: istio, namespace: istio-system }
data:
  mesh: |-
    extensionProviders:
    - name: sample-ext-authz-http
      envoyExtAuthzHttp:
        service: ext-authz.foo.svc.cluster.local
        port: "8000"
        includeRequestHeadersInCheck: ["x-ext-authz"]
`,
      // The istio.io ext-authz task's policy.
      `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ext-authz, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  action: CUSTOM
  provider: { name: sample-ext-authz-http }
  rules: [{ to: [{ operation: { paths: [/headers] } }] }]
`,
    ]);
    const checks: string[] = [];
    // Istio's sample ext-authz server: allow when `x-ext-authz: allow`, else 403 with its body.
    mm.service('ext-authz', { namespace: 'foo', serviceAccount: 'ext-authz', port: 8000 }, (req) => {
      checks.push(`${req.method} ${req.path}`);
      return req.headers['x-ext-authz'] === 'allow'
        ? { status: 200 }
        : {
            status: 403,
            body: 'denied by ext_authz for not found header `x-ext-authz: allow` in the request',
          };
    });
    mm.service('httpbin', { namespace: 'foo', serviceAccount: 'httpbin', port: 8000 }, httpbin);
    const sleep = mm.workload({ namespace: 'foo', serviceAccount: 'sleep' });
    const denied = await sleep.fetch('http://httpbin:8000/headers', { headers: { 'x-ext-authz': 'deny' } });
    expect([denied.status, await denied.text()]).toEqual([
      403,
      'denied by ext_authz for not found header `x-ext-authz: allow` in the request',
    ]);
    const allowed = await sleep.fetch('http://httpbin:8000/headers', { headers: { 'x-ext-authz': 'allow' } });
    expect(allowed.status).toBe(200);
    expect(checks).toEqual(['GET /headers', 'GET /headers']);
  });
});
