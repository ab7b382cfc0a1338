import type { RouteName } from './support/app.js';
import type { RawRequest } from './support/http.js';
import {
  DEMO_PRINCIPAL,
  DEMO_TOKEN,
  FORGED_TOKEN,
  GROUPS_SCOPE_TOKEN,
  type ScenarioName,
} from './support/scenarios.js';

/** What one request must lead to, whichever of core / Fastify / Express serves it. */
export interface ExpectedOutcome {
  readonly status: number;
  /** Exact response body, for refusals (the app's echo is checked through the fields below). */
  readonly body?: string;
  /** Response headers that must be present (a RegExp when part of the value depends on the port). */
  readonly headers?: Readonly<Record<string, string | RegExp>>;
  /** The handler that ran for this request, or null when none may run. */
  readonly handler: RouteName | null;
  /** The URL the handler routed on. */
  readonly url?: string;
  /** `request.meshlet` as the handler saw it (compared as a subset). */
  readonly meshlet?: {
    readonly peer: null;
    readonly auth: null | { readonly principal: string; readonly claims: Readonly<Record<string, unknown>> };
  };
  /** Request headers as the handler saw them; null = removed. */
  readonly seen?: Readonly<Record<string, string | null>>;
  /** Whether the request body was read by the app. */
  readonly bodyRead?: boolean;
}

export interface ConformanceCase {
  readonly name: string;
  readonly scenario: ScenarioName;
  /** Identical requests sent first, their outcomes unchecked (to drain a token bucket). */
  readonly warmup?: number;
  readonly request: RawRequest;
  readonly expect: ExpectedOutcome;
}

const RBAC = 'RBAC: access denied';
/** A token's payload segment, as `outputPayloadToHeader` forwards it. */
const payloadOf = (token: string): string => token.split('.')[1] ?? '';
/** What the workload under test answers with (support/handle.ts passes it to the engine). */
export const LOCAL_PEER = { id: 'sidecar~10.0.0.1~demo.foo~foo.svc.cluster.local', value: 'EgA=' } as const;
/** A meshed caller's metadata-exchange headers. */
const PEER_HEADERS = {
  'x-envoy-peer-metadata': 'CgA=',
  'x-envoy-peer-metadata-id': 'sidecar~10.0.0.2~caller.foo~foo.svc.cluster.local',
};
const TOKEN = { 'x-token': 'admin' };
const ANON = { peer: null, auth: null } as const;

/**
 * The one table of inbound cases. Each runs against the core engine directly, a real
 * Fastify server and a real Express server (core.test.ts, fastify.test.ts,
 * express.test.ts), so the adapters can only translate, never decide differently.
 */
export const CASES: readonly ConformanceCase[] = [
  // allowed / denied by DENY / denied by ALLOW
  {
    name: 'serves an allowed path',
    scenario: 'admin-paths',
    request: { method: 'GET', path: '/public' },
    expect: { status: 200, handler: '/public', url: '/public', meshlet: ANON },
  },
  {
    name: 'keeps the query on the URL the app sees',
    scenario: 'admin-paths',
    request: { method: 'GET', path: '/public?x=1&y=2' },
    expect: { status: 200, handler: '/public', url: '/public?x=1&y=2' },
  },
  {
    name: 'serves /admin when the DENY rule does not match',
    scenario: 'admin-paths',
    request: { method: 'GET', path: '/admin', headers: TOKEN },
    expect: { status: 200, handler: '/admin', url: '/admin' },
  },
  {
    name: 'denies /admin with 403 when the DENY rule matches',
    scenario: 'admin-paths',
    request: { method: 'GET', path: '/admin' },
    expect: { status: 403, body: RBAC, handler: null, headers: { 'content-type': /^text\/plain/ } },
  },
  {
    name: 'denies a path no ALLOW rule matches',
    scenario: 'admin-paths',
    request: { method: 'GET', path: '/other' },
    expect: { status: 403, body: RBAC, handler: null },
  },
  // traversal: authorization checks the path the app routes on (CVE-2019-9901, CVE-2021-31920)
  {
    name: 'denies /public/../admin as /admin and never runs the /admin handler',
    scenario: 'admin-paths',
    request: { method: 'GET', path: '/public/../admin' },
    expect: { status: 403, body: RBAC, handler: null },
  },
  {
    name: 'routes /public/../admin to /admin, the path authorization allowed',
    scenario: 'admin-paths',
    request: { method: 'GET', path: '/public/../admin', headers: TOKEN },
    expect: { status: 200, handler: '/admin', url: '/admin' },
  },
  {
    name: 'routes /admin/../public to the /public handler',
    scenario: 'admin-paths',
    request: { method: 'GET', path: '/admin/../public' },
    expect: { status: 200, handler: '/public', url: '/public' },
  },
  {
    name: 'denies //admin (BASE keeps the double slash; no ALLOW rule matches it)',
    scenario: 'admin-paths',
    request: { method: 'GET', path: '//admin', headers: TOKEN },
    expect: { status: 403, body: RBAC, handler: null },
  },
  {
    name: 'denies /%2e%2e/admin as /admin',
    scenario: 'admin-paths',
    request: { method: 'GET', path: '/%2e%2e/admin' },
    expect: { status: 403, body: RBAC, handler: null },
  },
  {
    name: 'routes /public/%2E%2E/admin to /admin when allowed',
    scenario: 'admin-paths',
    request: { method: 'GET', path: '/public/%2E%2E/admin', headers: TOKEN },
    expect: { status: 200, handler: '/admin', url: '/admin' },
  },
  {
    name: 'denies /%61dmin as /admin',
    scenario: 'admin-paths',
    request: { method: 'GET', path: '/%61dmin' },
    expect: { status: 403, body: RBAC, handler: null },
  },
  // a refused request never runs a handler nor reads its body
  {
    name: 'never reads the body of a denied POST',
    scenario: 'admin-paths',
    request: { method: 'POST', path: '/admin', body: 'secret payload' },
    expect: { status: 403, body: RBAC, handler: null, bodyRead: false },
  },
  {
    name: 'reads the body of an allowed POST',
    scenario: 'admin-paths',
    request: { method: 'POST', path: '/upload', body: 'hello' },
    expect: { status: 200, handler: '/upload', bodyRead: true },
  },
  // spec: {} (istio.io authz-http allow-nothing)
  {
    name: 'denies everything under spec: {}',
    scenario: 'allow-nothing',
    request: { method: 'GET', path: '/public' },
    expect: { status: 403, body: RBAC, handler: null },
  },
  {
    name: 'reads no body under spec: {}',
    scenario: 'allow-nothing',
    request: { method: 'POST', path: '/upload', body: 'x'.repeat(4096) },
    expect: { status: 403, body: RBAC, handler: null, bodyRead: false },
  },
  // RequestAuthentication (istio.io authz-jwt, Istio's demo token)
  {
    name: 'passes a request without a token with no principal',
    scenario: 'jwt',
    request: { method: 'GET', path: '/public' },
    expect: { status: 200, handler: '/public', meshlet: ANON },
  },
  {
    name: 'denies a missing token where the policy requires a principal',
    scenario: 'jwt',
    request: { method: 'GET', path: '/headers' },
    expect: { status: 403, body: RBAC, handler: null },
  },
  {
    name: 'refuses a forged token with 401 and WWW-Authenticate',
    scenario: 'jwt',
    request: { method: 'GET', path: '/headers', headers: { authorization: `Bearer ${FORGED_TOKEN}` } },
    expect: {
      status: 401,
      body: 'Jwt verification fails',
      handler: null,
      headers: { 'www-authenticate': /^Bearer realm="http:\/\/[^"]+", error="invalid_token"$/ },
    },
  },
  {
    name: 'never reads the body of a request with a bad token',
    scenario: 'jwt',
    request: {
      method: 'POST',
      path: '/upload',
      body: 'data',
      headers: { authorization: `Bearer ${FORGED_TOKEN}` },
    },
    expect: { status: 401, body: 'Jwt verification fails', handler: null, bodyRead: false },
  },
  {
    name: 'gives the handler the principal and claims, without the token, with the claim header',
    scenario: 'jwt',
    request: {
      method: 'GET',
      path: '/headers',
      headers: { authorization: `Bearer ${DEMO_TOKEN}`, 'x-jwt-sub': 'spoofed' },
    },
    expect: {
      status: 200,
      handler: '/headers',
      meshlet: {
        peer: null,
        auth: { principal: DEMO_PRINCIPAL, claims: { iss: 'testing@secure.istio.io', foo: 'bar' } },
      },
      seen: { authorization: null, 'x-jwt-sub': 'testing@secure.istio.io' },
    },
  },
  {
    // Envoy's jwt_authn removes a verified token it does not forward from the query too
    // (extractor.cc JwtParamLocation::removeJwt, since 1.31), keeping the other parameters.
    name: 'takes a verified token out of the query string when it is not forwarded',
    scenario: 'jwt',
    request: { method: 'GET', path: `/headers?x=1&access_token=${DEMO_TOKEN}&y=2` },
    expect: { status: 200, handler: '/headers', url: '/headers?x=1&y=2' },
  },
  {
    // Envoy's jwt_authn strips every rule's output headers from each request before it
    // looks for a token (verifier.cc ProviderVerifierImpl::verify → sanitizeHeaders), so
    // a caller cannot forge the claim header by sending no token.
    name: 'strips a forged claim header from a request without a token',
    scenario: 'jwt',
    request: { method: 'GET', path: '/public', headers: { 'x-jwt-sub': 'admin' } },
    expect: { status: 200, handler: '/public', meshlet: ANON, seen: { 'x-jwt-sub': null } },
  },
  {
    // Each good token adds its output header lines (authenticator.cc addCopy), the last
    // location's first; the app reads them as Node joins repeated lines: `, ` for most
    // names, the first line only for User-Agent and the others Node keeps once.
    name: 'gives the handler every output header line of two good tokens, joined as Node joins them',
    scenario: 'jwt-two-tokens',
    request: {
      method: 'GET',
      path: '/headers',
      headers: { 'x-a': DEMO_TOKEN, 'x-b': GROUPS_SCOPE_TOKEN, 'user-agent': 'curl/8.5' },
    },
    expect: {
      status: 200,
      handler: '/headers',
      seen: {
        'x-jwt-payload': `${payloadOf(GROUPS_SCOPE_TOKEN)}, ${payloadOf(DEMO_TOKEN)}`,
        'x-jwt-sub': 'testing@secure.istio.io, testing@secure.istio.io',
        'user-agent': 'testing@secure.istio.io',
        'x-a': null,
        'x-b': null,
      },
    },
  },
  // local rate limit (istio.io rate-limit task: 4 tokens per 60 s)
  {
    name: 'serves while the token bucket has tokens',
    scenario: 'rate-limit',
    warmup: 3,
    request: { method: 'GET', path: '/public' },
    expect: { status: 200, handler: '/public' },
  },
  {
    name: 'answers 429 local_rate_limited once the bucket is empty',
    scenario: 'rate-limit',
    warmup: 4,
    request: { method: 'GET', path: '/public' },
    expect: {
      status: 429,
      body: 'local_rate_limited',
      handler: null,
      headers: { 'x-local-rate-limit': 'true' },
    },
  },
  // metadata exchange (istio/proxy peer_metadata filter, first in the inbound chain)
  {
    name: "takes the caller's metadata-exchange headers off and answers with its own",
    scenario: 'admin-paths',
    request: { method: 'GET', path: '/public', headers: PEER_HEADERS },
    expect: {
      status: 200,
      handler: '/public',
      seen: { 'x-envoy-peer-metadata': null, 'x-envoy-peer-metadata-id': null },
      headers: { 'x-envoy-peer-metadata-id': LOCAL_PEER.id, 'x-envoy-peer-metadata': LOCAL_PEER.value },
    },
  },
  {
    name: 'answers a refusal with its metadata-exchange headers too',
    scenario: 'admin-paths',
    request: { method: 'GET', path: '/admin', headers: PEER_HEADERS },
    expect: {
      status: 403,
      body: RBAC,
      handler: null,
      headers: { 'x-envoy-peer-metadata-id': LOCAL_PEER.id, 'x-envoy-peer-metadata': LOCAL_PEER.value },
    },
  },
];
