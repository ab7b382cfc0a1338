import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runExplain } from '../../src/cli/explain.js';
import type { InboundExplanation } from '../../src/cli/explain-inbound.js';
import type { OutboundExplanation } from '../../src/cli/explain-outbound.js';
import { SAMPLES } from '../helpers/tmp.js';
import { captureIO, tempFiles } from './support.js';
import { twoTeamsGateways } from '../helpers/two-teams-gateways.js';
import {
  envoyFilterYaml,
  PATH_DESCRIPTOR,
  rateLimitFilterPatch,
  virtualHostRateLimitsPatch,
} from '../helpers/global-rate-limit.js';

const PRODUCTPAGE = ['--workload', 'default/productpage-v1:app=productpage,version=v1'];
const HTTPBIN = ['--workload', 'foo/httpbin:app=httpbin'];
const sample = (f: string) => path.join(SAMPLES, f);

async function explain(argv: string[]) {
  const io = captureIO();
  const code = await runExplain(argv, io);
  return { code, out: io.out(), err: io.err() };
}

async function explainJson<T>(argv: string[]): Promise<T> {
  const r = await explain([...argv, '-o', 'json']);
  expect(r.err).toBe('');
  return JSON.parse(r.out) as T;
}

const bookinfo = (vs: string) => [
  sample('bookinfo-platform/bookinfo.yaml'),
  sample('bookinfo-networking/destination-rule-all.yaml'),
  sample(`bookinfo-networking/${vs}`),
];

describe('meshlet explain (outbound)', () => {
  it('sends jason to reviews v2 through the first route', async () => {
    const r = await explain([
      ...bookinfo('virtual-service-reviews-jason-v2-v3.yaml'),
      ...PRODUCTPAGE,
      '--request',
      'GET http://reviews:9080/reviews/0',
      '-H',
      'end-user: jason',
    ]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^Result\s+reviews\.default\.svc\.cluster\.local:9080 subset v2$/m);
    expect(r.out).toMatch(/^Route\s+default\/reviews\/0 matched: header end-user exact "jason"$/m);
    expect(r.out).toContain('→ outbound|9080|v2|reviews.default.svc.cluster.local');
    expect(r.out).toMatch(/DestinationRule reviews\.default; LB LEAST_REQUEST/);
    expect(r.out).not.toContain('Skipped');
  });

  it('says why the jason route was skipped for another user and where the catch-all sends it', async () => {
    const e = await explainJson<OutboundExplanation>([
      ...bookinfo('virtual-service-reviews-jason-v2-v3.yaml'),
      ...PRODUCTPAGE,
      '--request',
      'GET http://reviews:9080/reviews/0',
      '-H',
      'end-user: mike',
    ]);
    expect(e.routes).toEqual([
      {
        id: 'default/reviews/0',
        virtualService: 'reviews.default',
        matched: false,
        matches: [
          {
            match: 'header end-user exact "jason"',
            matched: false,
            failed: ['header end-user exact "jason" (got "mike")'],
          },
        ],
      },
      { id: 'default/reviews/1', virtualService: 'reviews.default', matched: true, matches: [] },
    ]);
    expect(e.route?.matchedBy).toBe('catch-all (no match conditions)');
    expect(e.destinations.map((d) => [d.subset, d.weight])).toEqual([['v3', 100]]);
  });

  it('shows the weighted split with each subset, its labels and cluster', async () => {
    const e = await explainJson<OutboundExplanation>([
      ...bookinfo('virtual-service-reviews-80-20.yaml'),
      ...PRODUCTPAGE,
      '--request',
      'GET http://reviews:9080/',
    ]);
    expect(e.outcome).toBe(
      '80% reviews.default.svc.cluster.local:9080 subset v1, 20% reviews.default.svc.cluster.local:9080 subset v2',
    );
    expect(e.destinations.map((d) => [d.cluster, d.weight, d.subsetLabels])).toEqual([
      ['outbound|9080|v1|reviews.default.svc.cluster.local', 80, { version: 'v1' }],
      ['outbound|9080|v2|reviews.default.svc.cluster.local', 20, { version: 'v2' }],
    ]);
  });

  it('reports the delay fault, and ignores an application timeout header as the sidecar does', async () => {
    const e = await explainJson<OutboundExplanation>([
      ...bookinfo('virtual-service-ratings-test-delay.yaml'),
      ...PRODUCTPAGE,
      '--request',
      'GET http://ratings:9080/ratings/0',
      '-H',
      'end-user: jason',
      '-H',
      'x-envoy-upstream-rq-timeout-ms: 2500',
    ]);
    expect(e.fault).toBe('delay 7000ms for 100% of requests');
    // Envoy's connection manager strips x-envoy-upstream-rq-timeout-ms from an external
    // request (conn_manager_utility.cc cleanInternalHeaders; istio/istio#14923).
    expect(e.timeout).not.toContain('2500');
  });

  it('explains a host without route config as the passthrough', async () => {
    const e = await explainJson<OutboundExplanation>([
      ...bookinfo('virtual-service-reviews-v3.yaml'),
      ...PRODUCTPAGE,
      '--request',
      'GET http://example.com/',
    ]);
    expect(e.virtualHost).toBeNull();
    expect(e.outcome).toMatch(/^PassthroughCluster/);
  });
});

const JWKS = readFileSync(sample('jwt/jwks.json'), 'utf8').replace(/\s+/g, '');
const DEMO_JWT = readFileSync(sample('jwt/demo.jwt'), 'utf8').trim();
const jwtConfig = () =>
  tempFiles({
    'ra.yaml': `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: jwt-example, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  jwtRules:
  - issuer: "testing@secure.istio.io"
    jwks: '${JWKS}'
`,
    'authz.yaml': readFileSync(sample('tasks/authz-jwt/02-require-jwt.yaml'), 'utf8'),
  });

describe('meshlet explain (inbound)', () => {
  const denyFiles = [
    sample('tasks/authz-deny/02-deny-method-get-unless-admin.yaml'),
    sample('tasks/authz-deny/03-allow-path-ip.yaml'),
  ];

  it('names the DENY policy and rule that refused a GET without x-token: admin', async () => {
    const r = await explain([
      ...denyFiles,
      ...HTTPBIN,
      '--inbound',
      'GET /ip',
      '--peer',
      'spiffe://cluster.local/ns/foo/sa/sleep',
    ]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^Verdict\s+DENIED 403 by DENY policy foo\/deny-method-get rule\[0\]$/m);
    // What the sidecar's access log says for it, to find the same refusal in Istio's logs.
    expect(r.out).toMatch(
      /^Access log\s+403 - rbac_access_denied_matched_policy\[ns\[foo\]-policy\[deny-method-get\]-rule\[0\]\]$/m,
    );
    expect(r.out).toContain('mTLS peer cluster.local/ns/foo/sa/sleep');
    // The order istiod chains the filters in (listener_builder.go).
    expect(r.out).toMatch(/^Authorization\s+CUSTOM \(before the JWT check\), then DENY, then ALLOW/m);
  });

  it('allows the same GET with x-token: admin through the ALLOW rule for /ip, and says why the DENY rule missed', async () => {
    const e = await explainJson<InboundExplanation>([
      ...denyFiles,
      ...HTTPBIN,
      '--inbound',
      'GET /ip',
      '-H',
      'x-token: admin',
    ]);
    expect(e.decision.allow).toBe(true);
    expect(e.verdict).toBe('ALLOWED by ALLOW policy foo/allow-path-ip rule[0]');
    expect(e.decision.accessLog).toBeNull();
    expect(e.authorization.deny[0]?.rules?.[0]).toEqual({
      index: 0,
      matched: false,
      failed: ['when[0] request.headers[x-token] notValues ["admin"] (got header "admin")'],
    });
  });

  it('explains an ALLOW-stage denial rule by rule', async () => {
    const r = await explain([...denyFiles, ...HTTPBIN, '--inbound', 'POST /headers']);
    expect(r.out).toMatch(
      /^Verdict\s+DENIED 403: no rule of the 1 ALLOW policy \(foo\/allow-path-ip\) matched$/m,
    );
    expect(r.out).toMatch(/^Access log\s+403 - rbac_access_denied_matched_policy\[none\]$/m);
    expect(r.out).toContain('rule[0]: to[0].operation.paths ["/ip"] (got path /headers)');
  });

  it('normalizes the path before authorization, as Envoy does', async () => {
    const e = await explainJson<InboundExplanation>([
      ...denyFiles,
      ...HTTPBIN,
      '--inbound',
      'POST /foo/../ip',
    ]);
    expect(e.normalization).toEqual({ ok: true, path: '/ip', detail: 'normalized (BASE)' });
    expect(e.decision.allow).toBe(true);
  });

  it('refuses a tampered JWT with 401 from RequestAuthentication', async () => {
    const dir = jwtConfig();
    const [h, p, sig] = DEMO_JWT.split('.');
    const tampered = `${h}.${p}.${(sig ?? '').slice(0, -4)}AAAA`;
    const e = await explainJson<InboundExplanation>([
      dir,
      ...HTTPBIN,
      '--inbound',
      'GET /headers',
      '--token',
      tampered,
    ]);
    expect(e.decision).toMatchObject({ allow: false, status: 401, stage: 'jwt' });
    expect(e.requestAuthentication).toMatchObject({
      outcome: 'refused',
      detail: '401 Jwt verification fails',
    });
    expect(e.verdict).toBe('DENIED 401 by RequestAuthentication: Jwt verification fails');
  });

  it('accepts the demo token read from a file and allows through require-jwt', async () => {
    const dir = jwtConfig();
    const e = await explainJson<InboundExplanation>([
      dir,
      ...HTTPBIN,
      '--inbound',
      'GET /headers',
      '--token',
      sample('jwt/demo.jwt'),
    ]);
    expect(e.requestAuthentication).toMatchObject({
      outcome: 'verified',
      policies: ['foo/jwt-example'],
      detail:
        'issuer testing@secure.istio.io by foo/jwt-example; request principal testing@secure.istio.io/testing@secure.istio.io',
    });
    expect(e.verdict).toBe('ALLOWED by ALLOW policy foo/require-jwt rule[0]');
  });

  it('denies a request without a token under require-jwt, naming the missing request principal', async () => {
    const r = await explain([jwtConfig(), ...HTTPBIN, '--inbound', 'GET /headers']);
    expect(r.out).toMatch(/^JWT\s+no token: /m);
    expect(r.out).toContain(
      'rule[0]: from[0].source.requestPrincipals ["testing@secure.istio.io/testing@secure.istio.io"] (got no verified JWT)',
    );
  });

  it("shows a dry-run policy's verdict as the sidecar's access log and span tags read it", async () => {
    // istio.io's dry-run task: the policy is evaluated, never enforced (rbac_filter.cc shadow
    // rules, istiod's istio_dry_run_deny_ prefix).
    const dir = tempFiles({
      'dry-run.yaml': `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: deny-path-headers
  namespace: foo
  annotations: { "istio.io/dry-run": "true" }
spec:
  selector: { matchLabels: { app: httpbin } }
  action: DENY
  rules: [{ to: [{ operation: { paths: ["/headers"] } }] }]
`,
    });
    const r = await explain([dir, ...HTTPBIN, '--inbound', 'GET /headers']);
    expect(r.out).toMatch(/^Verdict\s+ALLOWED/m);
    expect(r.out).toMatch(
      /^RBAC metadata\s+envoy\.filters\.http\.rbac: istio_dry_run_deny_shadow_engine_result=denied istio_dry_run_deny_shadow_effective_policy_id=ns\[foo\]-policy\[deny-path-headers\]-rule\[0\]$/m,
    );
    const e = await explainJson<InboundExplanation>([dir, ...HTTPBIN, '--inbound', 'GET /ip']);
    expect(e.decision.rbacMetadata).toEqual([
      'envoy.filters.http.rbac: istio_dry_run_deny_shadow_engine_result=allowed',
    ]);
  });

  it('reports a plaintext caller as refused at the connection under STRICT mTLS', async () => {
    const dir = tempFiles({
      'pa.yaml': readFileSync(
        sample('tasks/authn-policy/03-peerauthentication-httpbin-bar-strict.yaml'),
        'utf8',
      ),
    });
    const e = await explainJson<InboundExplanation>([
      dir,
      '--workload',
      'bar/httpbin:app=httpbin',
      '--inbound',
      'GET /ip',
    ]);
    expect(e.peerAuthentication).toMatchObject({ mode: 'STRICT', accepted: false });
    expect(e.verdict).toMatch(
      /^REFUSED at the connection: STRICT mTLS \(PeerAuthentication bar\/httpbin \(workload\)\)/,
    );
  });

  it('says where a CUSTOM policy would send its check, what it carries and what a failure does', async () => {
    const policy = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ext-authz, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  action: CUSTOM
  provider: { name: orders }
  rules: [{ to: [{ operation: { paths: ["/orders"] } }] }]
---
`;
    const mesh = (provider: string) => `apiVersion: v1
kind: ConfigMap
metadata: { name: istio, namespace: istio-system }
data:
  mesh: |
    extensionProviders:
    - name: orders
      ${provider}
`;
    const grpc = tempFiles({
      'mesh.yaml': `${policy}${mesh('envoyExtAuthzGrpc: { service: authz.foo.svc.cluster.local, port: 9000, timeout: 0.5s, includeRequestBodyInCheck: { maxRequestBytes: 1024, allowPartialMessage: true } }')}`,
    });
    const r = await explain([grpc, ...HTTPBIN, '--inbound', 'POST /orders']);
    expect(r.out).toContain(
      '  provider orders: envoyExtAuthzGrpc authz.foo.svc.cluster.local:9000 (Check over gRPC) directly by DNS in plaintext (the service is not in the registry), timeout 500 ms, sends the first 1024 bytes of the body (a longer one cut), answers 403 if it fails',
    );
    // In the registry, with a DestinationRule: the check goes through the service's cluster.
    const http = tempFiles({
      'mesh.yaml': `${policy}${mesh('envoyExtAuthzHttp: { service: authz.foo.svc.cluster.local, port: 8000, pathPrefix: /check, failOpen: true }')}---
apiVersion: v1
kind: Service
metadata: { name: authz, namespace: foo }
spec: { selector: { app: authz }, ports: [{ name: http, port: 8000 }] }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: authz, namespace: foo }
spec: { host: authz.foo.svc.cluster.local, trafficPolicy: { tls: { mode: ISTIO_MUTUAL } } }
`,
    });
    const e = await explainJson<InboundExplanation>([http, ...HTTPBIN, '--inbound', 'POST /orders']);
    expect(e.customProvider).toBe(
      'orders: envoyExtAuthzHttp http://authz.foo.svc.cluster.local:8000/check via outbound|8000||authz.foo.svc.cluster.local, TLS ISTIO_MUTUAL, timeout 600000 ms, sends no body, allows if it fails (failOpen)',
    );
    const missing = tempFiles({ 'mesh.yaml': policy });
    const m = await explain([missing, ...HTTPBIN, '--inbound', 'POST /orders']);
    expect(m.out).toMatch(
      /provider orders: the CUSTOM policies fail closed \(403\): extension provider "orders" is not defined/,
    );
    expect(m.out).toMatch(/^Verdict\s+DENIED 403 by CUSTOM policy foo\/ext-authz/m);
  });

  it('exits 64 when neither --request nor --inbound is given', async () => {
    const r = await explain([...denyFiles, ...HTTPBIN]);
    expect(r.code).toBe(64);
    expect(r.err).toContain('give exactly one of --request');
  });
});

describe('meshlet explain --gateway (a request arriving at an ingress gateway)', () => {
  const GATEWAY = ['--workload', 'istio-system/istio-ingressgateway:istio=ingressgateway'];
  const files = [
    sample('bookinfo-platform/bookinfo.yaml'),
    sample('bookinfo-networking/bookinfo-gateway.yaml'),
  ];

  it("routes by the Gateway-bound VirtualService on the Gateway's only HTTP port", async () => {
    const r = await explain([
      ...files,
      ...GATEWAY,
      '--gateway',
      'GET http://bookinfo.example.com/productpage',
    ]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(
      /^Request\s+GET http:\/\/bookinfo\.example\.com\/productpage at istio-system\/istio-ingressgateway, Gateway port 8080$/m,
    );
    expect(r.out).toMatch(/^Result\s+productpage\.default\.svc\.cluster\.local:9080$/m);
    expect(r.out).toMatch(/^Virtual host\s+\*:8080 \(VirtualService bookinfo\.default\)$/m);
    expect(r.out).toMatch(/^Route\s+default\/bookinfo\/0 matched: uri exact "\/productpage"$/m);
  });

  it('says 404 NR for a path none of its routes match, with the conditions that failed', async () => {
    const e = await explainJson<OutboundExplanation>([
      ...files,
      ...GATEWAY,
      '--gateway',
      'GET http://bookinfo.example.com/admin',
    ]);
    expect(e.outcome).toBe('404 NR: no route matched');
    expect(e.gatewayPort).toBe(8080);
    expect(e.routes[0]?.matches[0]?.failed).toEqual(['uri exact "/productpage" (got "/admin")']);
  });

  it("says what the route's corsPolicy does: a preflight answered, another origin's forwarded", async () => {
    const dir = tempFiles({
      'cors.yaml': `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: api, namespace: default }
spec:
  hosts: [bookinfo.example.com]
  gateways: [bookinfo-gateway]
  http:
  - match: [{ uri: { prefix: /api/ } }]
    corsPolicy: { allowOrigins: [{ exact: "https://shop.example.com" }], allowMethods: [GET] }
    route: [{ destination: { host: productpage, port: { number: 9080 } } }]
`,
    });
    const ask = (origin: string) =>
      explain([
        ...files,
        dir,
        ...GATEWAY,
        '--gateway',
        'OPTIONS http://bookinfo.example.com/api/v1/products',
        '-H',
        `origin: ${origin}`,
        '-H',
        'access-control-request-method: GET',
      ]);
    const shop = await ask('https://shop.example.com');
    expect(shop.out).toMatch(
      /^Result\s+200 CORS preflight answered by the route \(origin "https:\/\/shop\.example\.com" allowed\); nothing goes upstream$/m,
    );
    const evil = await ask('https://evil.example');
    expect(evil.out).toMatch(/^Result\s+productpage\.default\.svc\.cluster\.local:9080$/m);
    expect(evil.out).toMatch(
      /^CORS\s+origin "https:\/\/evil\.example" not allowed: the preflight goes upstream \(unmatchedPreflights FORWARD\)/m,
    );
  });

  it("on an HTTPS port, routes in the route configuration of the server the SNI picks (istiod's per-server RDS)", async () => {
    // Two teams' Gateways on 443, each host with its own VirtualService.
    const dir = tempFiles({ 'teams.yaml': twoTeamsGateways({ rewrite: false }) });
    const own = await explain([dir, ...GATEWAY, '--gateway', 'GET https://a.example.com/']);
    expect(own.err).toBe('');
    expect(own.out).toMatch(
      /^TLS\s+SNI a\.example\.com: server route configuration https\.443\.https-a\.gw-a\.istio-system$/m,
    );
    expect(own.out).toMatch(/^Result\s+httpbin\.default\.svc\.cluster\.local:8000$/m);
    // Team b's connection (its SNI) carrying team a's Host: not in b's route configuration.
    const other = await explainJson<OutboundExplanation>([
      dir,
      ...GATEWAY,
      '--gateway',
      'GET https://a.example.com/',
      '--sni',
      'b.example.com',
    ]);
    expect(other.gatewayTls).toEqual({
      sni: 'b.example.com',
      routeName: 'https.443.https-b.gw-b.istio-system',
    });
    expect(other.outcome).toMatch(/^404 NR/);
    const none = await explain([dir, ...GATEWAY, '--gateway', 'GET https://c.example.com/']);
    expect(none.out).toMatch(
      /^Result\s+refused at the TLS handshake: no server on port 443 takes SNI c\.example\.com$/m,
    );
  });

  it('refuses a workload that is not a gateway, and a port without an HTTP server', async () => {
    const notGateway = await explain([
      ...files,
      ...PRODUCTPAGE,
      '--gateway',
      'GET http://bookinfo.example.com/',
    ]);
    expect(notGateway.code).toBe(64);
    expect(notGateway.err).toMatch(/default\/productpage-v1 is not a gateway/);
    const badPort = await explain([
      ...files,
      ...GATEWAY,
      '--gateway',
      'GET http://bookinfo.example.com/',
      '--port',
      '80',
    ]);
    expect(badPort.code).toBe(64);
    expect(badPort.err).toMatch(/no Gateway server serves HTTP on port 80 \(HTTP server ports: 8080\)/);
  });

  it("says a sidecar's cluster gets no TLS from a credentialName its DestinationRule cannot give it, and names the secret when it can", async () => {
    const rule = (selector: string) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: nginx, namespace: default }
spec:
  hosts: [my-nginx.mesh-external.svc.cluster.local]
  ports: [{ number: 80, name: http-port, protocol: HTTP, targetPort: 443 }]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: nginx, namespace: default }
spec:
${selector}  host: my-nginx.mesh-external.svc.cluster.local
  trafficPolicy:
    tls: { mode: MUTUAL, credentialName: client-credential }
`;
    const run = async (selector: string) =>
      (
        await explain([
          tempFiles({ 'mesh.yaml': rule(selector) }),
          '--workload',
          'default/curl:app=curl',
          '--request',
          'GET http://my-nginx.mesh-external.svc.cluster.local/',
        ])
      ).out;
    expect(await run('')).toContain(
      'TLS none: credentialName client-credential is read by gateways and by sidecars whose DestinationRule has a workloadSelector',
    );
    expect(await run('  workloadSelector: { matchLabels: { app: curl } }\n')).toContain(
      'TLS MUTUAL with secret client-credential',
    );
  });
});

describe('meshlet explain (inbound rate limits)', () => {
  const filter = rateLimitFilterPatch({
    cluster: 'outbound|8081||ratelimit.default.svc.cluster.local',
    failureModeDeny: true,
  });
  const filters = envoyFilterYaml({
    namespace: 'foo',
    app: 'httpbin',
    patches: [filter, virtualHostRateLimitsPatch(PATH_DESCRIPTOR)],
  });

  it('says what a global rate limit filter would send its service, without calling it', async () => {
    const dir = tempFiles({ 'ratelimit.yaml': filters });
    const r = await explain([dir, ...HTTPBIN, '--inbound', 'GET /productpage?x=1']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^Verdict\s+ALLOWED/m);
    expect(r.out).toMatch(
      /^Rate limit\s+global foo\/filter-ratelimit domain ratelimit via outbound\|8081\|\|ratelimit\.default\.svc\.cluster\.local: sends \[PATH=\/productpage\?x=1\]; a failure answers 500; not called by explain \(assumed OK\)$/m,
    );
  });

  it("at a gateway, sends the route's cluster, and nothing for a request no route takes", async () => {
    // Istio's sample (bookinfo-policy/productpage_envoy_ratelimit.yaml) with its commented-out
    // destination_cluster action on, at the ingress gateway of Bookinfo's Gateway.
    const ratelimit = readFileSync(sample('bookinfo-policy/productpage_envoy_ratelimit.yaml'), 'utf8')
      .replace(
        '            rate_limit_service:\n',
        '            rate_limit_service:\n              transport_api_version: V3\n',
      )
      .replace('                  # - destination_cluster: {}', '              - destination_cluster: {}');
    const dir = tempFiles({ 'ratelimit.yaml': ratelimit });
    const args = [
      sample('bookinfo-platform/bookinfo.yaml'),
      sample('bookinfo-networking/bookinfo-gateway.yaml'),
      dir,
      '--workload',
      'istio-system/istio-ingressgateway:istio=ingressgateway',
      '--port',
      '8080',
    ];
    const routed = await explainJson<InboundExplanation>([...args, '--inbound', 'GET /productpage']);
    expect(routed.rateLimits).toEqual([
      expect.stringMatching(
        /^global istio-system\/filter-ratelimit domain productpage-ratelimit via .*: sends \[PATH=\/productpage, destination_cluster=outbound\|9080\|\|productpage\.default\.svc\.cluster\.local\];/,
      ),
    ]);
    const unrouted = await explainJson<InboundExplanation>([...args, '--inbound', 'GET /admin']);
    expect(unrouted.rateLimits).toEqual([expect.stringMatching(/: sends nothing for this request/)]);
  });

  it('says when a global filter sends nothing for the request', async () => {
    const noLimits = envoyFilterYaml({ namespace: 'foo', app: 'httpbin', patches: [filter] });
    const e = await explainJson<InboundExplanation>([
      tempFiles({ 'ratelimit.yaml': noLimits }),
      ...HTTPBIN,
      '--inbound',
      'GET /ip',
    ]);
    expect(e.rateLimits).toEqual([
      'global foo/filter-ratelimit domain ratelimit via outbound|8081||ratelimit.default.svc.cluster.local: sends nothing for this request (no rate_limits descriptor of its stage); a failure answers 500; not called by explain (assumed OK)',
    ]);
  });
});
