import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createMockMesh, type MockMesh, type MockRequest } from '../../src/testing/index.js';
import { SAMPLES } from '../helpers/tmp.js';

// The istio.io tasks go through the ingress gateway (`curl -H "Host: ..." $GATEWAY_URL/...`);
// mm.gateway() runs one on the mock mesh with the samples' Gateway and VirtualService YAML.

const open: MockMesh[] = [];
afterEach(async () => {
  for (const mm of open.splice(0)) await mm.close();
});
async function mock(config: readonly string[]): Promise<MockMesh> {
  const mm = await createMockMesh({ config, seed: 1 });
  open.push(mm);
  return mm;
}
const sample = (rel: string): Promise<string> => readFile(path.join(SAMPLES, rel), 'utf8');

/** What productpage answers here: who called and what the gateway sent on. */
const productpage = (req: MockRequest) => ({
  status: 200,
  body: {
    path: req.url,
    peer: req.peer?.principal ?? null,
    host: req.headers['host'],
    xff: req.headers['x-forwarded-for'] ?? null,
    proto: req.headers['x-forwarded-proto'] ?? null,
  },
});

describe('mm.gateway(): Bookinfo through the ingress gateway', () => {
  it('routes /productpage to productpage over mTLS with the gateway identity; / is 404; both are logged', async () => {
    const mm = await mock([
      path.join(SAMPLES, 'bookinfo-platform/bookinfo.yaml'),
      path.join(SAMPLES, 'bookinfo-networking/bookinfo-gateway.yaml'),
    ]);
    mm.service(
      'productpage',
      { serviceAccount: 'bookinfo-productpage', labels: { version: 'v1' }, port: 9080 },
      productpage,
    );
    const gw = mm.gateway();
    expect(gw.port).toBe(8080);
    const res = await gw.fetch('http://bookinfo.example.com/productpage?u=normal');
    expect(res.status).toBe(200);
    expect(res.headers.get('server')).toBe('istio-envoy');
    expect(await res.json()).toEqual({
      path: '/productpage?u=normal',
      peer: 'cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account',
      host: 'bookinfo.example.com',
      xff: '203.0.113.10',
      proto: 'http',
    });
    const missing = await gw.fetch('http://bookinfo.example.com/');
    expect(missing.status).toBe(404);
    const hops = mm.log.map((h) => [h.source, h.destination?.workload ?? null, h.status, h.flags.join(',')]);
    expect(hops).toEqual([
      ['istio-system/istio-ingressgateway', 'default/productpage-v1', 200, ''],
      ['external', 'istio-system/istio-ingressgateway', 200, ''],
      ['istio-system/istio-ingressgateway', null, 404, 'NR'],
      ['external', 'istio-system/istio-ingressgateway', 404, ''],
    ]);
    // Measured once at the gateway, as a client; and once at productpage, as its destination.
    expect(
      await mm.metric('istio_requests_total', {
        reporter: 'source',
        source_workload: 'istio-ingressgateway',
      }),
    ).toBe(2);
    expect(
      await mm.metric('istio_requests_total', {
        reporter: 'destination',
        source_workload: 'istio-ingressgateway',
        destination_workload: 'productpage-v1',
        connection_security_policy: 'mutual_tls',
      }),
    ).toBe(1);
  });

  it("a gateway-bound VirtualService's fault delay passes in virtual time, and its timeout answers 504 UT", async () => {
    const mm = await mock([
      path.join(SAMPLES, 'bookinfo-platform/bookinfo.yaml'),
      (await sample('bookinfo-networking/bookinfo-gateway.yaml')).replace(
        '    route:\n    - destination:\n        host: productpage',
        '    fault: { delay: { fixedDelay: 7s, percentage: { value: 100 } } }\n    route:\n    - destination:\n        host: productpage',
      ),
    ]);
    mm.service('productpage', { labels: { version: 'v1' }, port: 9080 }, productpage);
    const gw = mm.gateway();
    const wall = Date.now();
    const res = await gw.fetch('http://bookinfo.example.com/productpage');
    expect(res.status).toBe(200);
    expect(mm.clock.now()).toBe(7000);
    expect(Date.now() - wall).toBeLessThan(2000);
    expect(mm.log[0]).toMatchObject({
      source: 'istio-system/istio-ingressgateway',
      flags: ['DI'],
      duration: 7000,
    });

    await mm.apply(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: bookinfo, namespace: default }
spec:
  hosts: ["*"]
  gateways: [bookinfo-gateway]
  http:
  - timeout: 1s
    route: [{ destination: { host: productpage, port: { number: 9080 } } }]
`);
    mm.service(
      'productpage',
      { labels: { version: 'v1' }, port: 9080, name: 'productpage-slow' },
      async (req) => {
        await mm.clock.sleep(5000);
        return productpage(req);
      },
    );
    const slow = [];
    for (let i = 0; i < 6; i++) slow.push((await gw.fetch('http://bookinfo.example.com/productpage')).status);
    // Round robin over the two pods: the slow one times out at the gateway after 1 virtual second.
    expect(slow.filter((s) => s === 504).length).toBeGreaterThan(0);
    expect(slow.filter((s) => s === 200).length).toBeGreaterThan(0);
    expect(
      mm.log
        .filter((h) => h.source === 'istio-system/istio-ingressgateway' && h.status === 504)
        .every((h) => h.flags.includes('UT') && h.duration === 1000),
    ).toBe(true);
  });

  it('end-user authentication at the ingress (authn-policy 06, 07): the JWKS comes from the issuer host, served by a mock pod', async () => {
    const jwks = await sample('jwt/jwks.json');
    const token = (await sample('jwt/demo.jwt')).trim();
    const mm = await mock([
      path.join(SAMPLES, 'httpbin/httpbin.yaml'),
      path.join(SAMPLES, 'httpbin/httpbin-gateway.yaml'),
      path.join(SAMPLES, 'tasks/authn-policy/06-requestauthentication-ingress-jwt-example.yaml'),
      path.join(SAMPLES, 'tasks/authn-policy/07-authorizationpolicy-frontend-ingress-require-token.yaml'),
    ]);
    // The task's jwksUri, https://raw.githubusercontent.com/.../jwks.json, as a pod serving TLS.
    mm.service('raw.githubusercontent.com', { tls: true, port: 443, mesh: false }, () => ({
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: jwks,
    }));
    mm.service('httpbin', { port: 8000, labels: { version: 'v1' } }, (req) => ({
      status: 200,
      body: { authorization: req.headers['authorization'] ?? null },
    }));
    const gw = mm.gateway();
    expect(gw.port).toBe(80);
    const none = await gw.fetch('http://httpbin.example.com/headers');
    expect([none.status, await none.text()]).toEqual([403, 'RBAC: access denied']);
    const bad = await gw.fetch('http://httpbin.example.com/headers', {
      headers: { authorization: 'Bearer deadbeef' },
    });
    expect(bad.status).toBe(401);
    const ok = await gw.fetch('http://httpbin.example.com/headers', {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ authorization: null });
    expect(
      await mm.metric('istio_requests_total', {
        reporter: 'source',
        response_code: '403',
        source_workload: 'istio-ingressgateway',
      }),
    ).toBe(1);
  });

  it('under mesh-wide STRICT mTLS the internet still reaches the gateway, which reaches the services', async () => {
    const mm = await mock([
      path.join(SAMPLES, 'bookinfo-platform/bookinfo.yaml'),
      path.join(SAMPLES, 'bookinfo-networking/bookinfo-gateway.yaml'),
      path.join(SAMPLES, 'tasks/authn-policy/01-peerauthentication-mesh-strict.yaml'),
    ]);
    mm.service('productpage', { labels: { version: 'v1' }, port: 9080 }, productpage);
    const outside = mm.workload({ name: 'curl', mesh: false });
    await expect(outside.fetch('http://productpage:9080/productpage')).rejects.toMatchObject({
      code: 'ECONNRESET',
    });
    expect((await mm.gateway().fetch('http://bookinfo.example.com/productpage')).status).toBe(200);
  });

  it('refuses a gateway no Gateway selects, or a port its Gateways do not serve, saying what to fix', async () => {
    const mm = await mock([path.join(SAMPLES, 'bookinfo-networking/bookinfo-gateway.yaml')]);
    expect(() => mm.gateway('edge', { labels: { istio: 'egressgateway' } })).toThrow(
      /no Gateway selecting istio-system\/edge has an HTTP server \(Gateways: none\)/,
    );
    expect(() => mm.gateway('istio-ingressgateway', { port: 443, address: '10.9.9.9' })).toThrow(
      /no Gateway server serves HTTP on port 443 \(HTTP server ports: 8080\)/,
    );
    const empty = await mock([]);
    expect(() => empty.gateway('router', { labels: { istio: 'router' } })).toThrow(
      /istio-system\/router is not a gateway/,
    );
    await expect(mm.gateway().fetch('https://bookinfo.example.com/')).rejects.toThrow(
      /port 8080 serves plain HTTP: there is no TLS/,
    );
  });
});

describe('mm.gateway(): an egress gateway (istio.io egress-gateway task, HTTP)', () => {
  // The task's YAML (tasks/traffic-management/egress/egress-gateway): sidecars send
  // edition.cnn.com to the egress gateway, which sends it out.
  const TASK = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: cnn }
spec:
  hosts: [edition.cnn.com]
  ports:
  - { number: 80, name: http-port, protocol: HTTP }
  - { number: 443, name: https, protocol: HTTPS }
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: istio-egressgateway }
spec:
  selector: { istio: egressgateway }
  servers:
  - port: { number: 80, name: http, protocol: HTTP }
    hosts: [edition.cnn.com]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: egressgateway-for-cnn }
spec:
  host: istio-egressgateway.istio-system.svc.cluster.local
  subsets: [{ name: cnn }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: direct-cnn-through-egress-gateway }
spec:
  hosts: [edition.cnn.com]
  gateways: [istio-egressgateway, mesh]
  http:
  - match: [{ gateways: [mesh], port: 80 }]
    route:
    - destination: { host: istio-egressgateway.istio-system.svc.cluster.local, subset: cnn, port: { number: 80 } }
      weight: 100
  - match: [{ gateways: [istio-egressgateway], port: 80 }]
    route:
    - destination: { host: edition.cnn.com, port: { number: 80 } }
      weight: 100
`;

  it('sleep -> egress gateway -> edition.cnn.com, in plaintext to the gateway (its pods carry no tlsMode label)', async () => {
    const mm = await mock([TASK]);
    mm.service('edition.cnn.com', { mesh: false, port: 80 }, (req) => ({
      status: 200,
      body: { path: req.url, xff: req.headers['x-forwarded-for'] ?? null },
    }));
    const egress = mm.gateway('istio-egressgateway', { labels: { istio: 'egressgateway' } });
    expect(egress.port).toBe(80);
    const sleep = mm.workload({ name: 'sleep', serviceAccount: 'sleep' });
    const res = await sleep.fetch('http://edition.cnn.com/politics');
    expect(res.status).toBe(200);
    // The egress gateway appends its caller (sleep's pod) to x-forwarded-for.
    expect(await res.json()).toEqual({ path: '/politics', xff: expect.stringMatching(/^10\.0\.0\.\d+$/) });
    expect(
      mm.log.map((h) => [h.source, h.destination?.host ?? null, h.destination?.workload ?? null, h.status]),
    ).toEqual([
      ['istio-system/istio-egressgateway', 'edition.cnn.com', 'default/edition.cnn.com', 200],
      [
        'default/sleep',
        'istio-egressgateway.istio-system.svc.cluster.local',
        'istio-system/istio-egressgateway',
        200,
      ],
    ]);
    expect(
      await mm.metric('istio_requests_total', {
        reporter: 'source',
        source_workload: 'istio-egressgateway',
        destination_service: 'edition.cnn.com',
      }),
    ).toBe(1);
    expect(
      await mm.metric('istio_requests_total', {
        reporter: 'source',
        source_workload: 'sleep',
        connection_security_policy: 'unknown',
        destination_service: 'istio-egressgateway.istio-system.svc.cluster.local',
      }),
    ).toBe(1);
  });
});

describe('mm.gateway(): JWT claim based routing (istio.io task security/authentication/jwt-route)', () => {
  // The task's YAML: RequestAuthentication on the ingress gateway, and a gateway-bound
  // VirtualService matching `@request.auth.claims.groups`, which only a verified token sets.
  const TASK = `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: ingress-jwt, namespace: istio-system }
spec:
  selector: { matchLabels: { istio: ingressgateway } }
  jwtRules:
  - issuer: "testing@secure.istio.io"
    jwksUri: "https://raw.githubusercontent.com/istio/istio/master/security/tools/jwt/samples/jwks.json"
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: httpbin, namespace: foo }
spec:
  hosts: ["*"]
  gateways: [istio-system/httpbin-gateway]
  http:
  - match:
    - uri: { prefix: /headers }
      headers:
        "@request.auth.claims.groups": { exact: group1 }
    route:
    - destination: { port: { number: 8000 }, host: httpbin }
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: httpbin-gateway, namespace: istio-system }
spec:
  selector: { istio: ingressgateway }
  servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: ["*"] }]
---
apiVersion: v1
kind: Service
metadata: { name: httpbin, namespace: foo }
spec: { selector: { app: httpbin }, ports: [{ name: http, port: 8000, targetPort: 8080 }] }
`;

  it('routes a token whose groups claim has group1; 404 without a token or for a token without it', async () => {
    const jwks = await sample('jwt/jwks.json');
    const mm = await mock([TASK]);
    mm.service('raw.githubusercontent.com', { tls: true, port: 443, mesh: false }, () => ({
      status: 200,
      body: jwks,
    }));
    mm.service('httpbin', { namespace: 'foo', port: 8080 }, () => ({ status: 200, body: 'headers' }));
    const gw = mm.gateway();
    const as = async (token?: string) =>
      (
        await gw.fetch('http://httpbin.example.com/headers', {
          headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
        })
      ).status;
    expect(await as((await sample('jwt/groups-scope.jwt')).trim())).toBe(200);
    expect(await as()).toBe(404);
    expect(await as((await sample('jwt/demo.jwt')).trim())).toBe(404);
  });
});

describe('mm.gateway(): a corsPolicy tested before it ships', () => {
  it('answers the preflight at the gateway, lets the allowed origin read the response, and logs both', async () => {
    const mm = await mock([
      path.join(SAMPLES, 'bookinfo-platform/bookinfo.yaml'),
      path.join(SAMPLES, 'bookinfo-networking/bookinfo-gateway.yaml'),
      `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: api, namespace: default }
spec:
  hosts: [bookinfo.example.com]
  gateways: [bookinfo-gateway]
  http:
  - match: [{ uri: { prefix: /api/v1/products } }]
    corsPolicy:
      allowOrigins: [{ regex: "https://[a-z]+\\\\.shop\\\\.example" }]
      allowMethods: [GET]
    route: [{ destination: { host: productpage, port: { number: 9080 } } }]
`,
    ]);
    mm.service('productpage', { serviceAccount: 'bookinfo-productpage', port: 9080 }, productpage);
    const gw = mm.gateway();
    const origin = 'https://eu.shop.example';
    const pre = await gw.fetch('http://bookinfo.example.com/api/v1/products', {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'GET' },
    });
    expect([
      pre.status,
      pre.headers.get('access-control-allow-origin'),
      pre.headers.get('access-control-allow-methods'),
    ]).toEqual([200, origin, 'GET']);
    const get = await gw.fetch('http://bookinfo.example.com/api/v1/products', { headers: { origin } });
    expect([get.status, get.headers.get('access-control-allow-origin')]).toEqual([200, origin]);
    // The preflight never left the gateway; the GET reached productpage.
    expect(mm.log.map((h) => [h.source, h.destination?.workload ?? null, h.method, h.status])).toEqual([
      ['istio-system/istio-ingressgateway', null, 'OPTIONS', 200],
      ['external', 'istio-system/istio-ingressgateway', 'OPTIONS', 200],
      ['istio-system/istio-ingressgateway', 'default/productpage', 'GET', 200],
      ['external', 'istio-system/istio-ingressgateway', 'GET', 200],
    ]);
  });
});

describe('mm.gateway(): HTTPS servers (istio.io tasks/traffic-management/ingress/secure-ingress)', () => {
  // The task's Gateway with two SIMPLE servers on 443 (httpbin and helloworld, each with its
  // own credentialName) and a MUTUAL one; the mock takes the credentials as present.
  const SECURE = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: mygateway }
spec:
  selector: { istio: ingressgateway }
  servers:
  - port: { number: 443, name: https-httpbin, protocol: HTTPS }
    tls: { mode: SIMPLE, credentialName: httpbin-credential }
    hosts: [httpbin.example.com]
  - port: { number: 443, name: https-helloworld, protocol: HTTPS }
    tls: { mode: SIMPLE, credentialName: helloworld-credential }
    hosts: [helloworld.example.com]
  - port: { number: 443, name: https-mutual, protocol: HTTPS }
    tls: { mode: MUTUAL, credentialName: mutual-credential }
    hosts: [mutual.example.com]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: httpbin }
spec:
  hosts: [httpbin.example.com]
  gateways: [mygateway]
  http:
  - match: [{ uri: { prefix: /status } }]
    route: [{ destination: { port: { number: 8000 }, host: httpbin } }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: helloworld }
spec:
  hosts: [helloworld.example.com]
  gateways: [mygateway]
  http:
  - match: [{ uri: { exact: /hello } }]
    route: [{ destination: { port: { number: 5000 }, host: helloworld } }]
`;
  const answer = (name: string) => (req: MockRequest) => ({
    status: 200,
    body: { name, proto: req.headers['x-forwarded-proto'] ?? null, host: req.headers['host'] },
  });

  it("routes each SNI in its server's route configuration, as the task's curl --resolve does", async () => {
    const mm = await mock([SECURE]);
    mm.service('httpbin', { port: 8000 }, answer('httpbin'));
    mm.service('helloworld', { port: 5000 }, answer('helloworld'));
    const gw = mm.gateway();
    expect(gw.port).toBe(443);

    const httpbin = await gw.fetch('https://httpbin.example.com/status/418');
    expect(httpbin.status).toBe(200);
    expect(await httpbin.json()).toEqual({ name: 'httpbin', proto: 'https', host: 'httpbin.example.com' });
    const hello = await gw.fetch('https://helloworld.example.com/hello');
    expect(await hello.json()).toMatchObject({ name: 'helloworld', proto: 'https' });

    // httpbin's Host over helloworld's connection: helloworld's server has no route for it.
    const crossed = await gw.fetch('https://helloworld.example.com/status/200', {
      headers: { host: 'httpbin.example.com' },
    });
    expect(crossed.status).toBe(404);
    const gatewayHops = mm.log.filter((h) => h.source === 'istio-system/istio-ingressgateway');
    expect(gatewayHops.map((h) => [h.destination?.workload ?? null, h.status, h.flags])).toEqual([
      ['default/httpbin', 200, []],
      ['default/helloworld', 200, []],
      [null, 404, ['NR']],
    ]);
  });

  it('refuses a name no server takes, plaintext to the TLS port, and a MUTUAL server without a client certificate', async () => {
    const mm = await mock([SECURE]);
    mm.service('httpbin', { port: 8000 }, answer('httpbin'));
    const gw = mm.gateway();
    await expect(gw.fetch('https://unknown.example.com/status/200')).rejects.toMatchObject({
      code: 'EPROTO',
      message: expect.stringMatching(/no server on port 443 takes SNI unknown\.example\.com/),
    });
    await expect(gw.fetch('http://httpbin.example.com:443/status/200')).rejects.toMatchObject({
      code: 'ECONNRESET',
    });
    await expect(gw.fetch('https://mutual.example.com/status/200')).rejects.toThrow(
      /MUTUAL.*client certificate/,
    );
    // The refused attempts reached no service.
    expect(mm.log.filter((h) => h.source !== 'external')).toEqual([]);
  });
});
