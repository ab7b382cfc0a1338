import { readFileSync } from 'node:fs';
import path from 'node:path';
import { localRateLimitYaml } from '../../../packages/core/test/helpers/local-rate-limit.js';

/** Istio's sample configuration, read in place (never copied into the repo). */
export const SAMPLES = path.resolve(import.meta.dirname, '../../../../shared/istio-samples');

function sample(relative: string): string {
  return readFileSync(path.join(SAMPLES, relative), 'utf8');
}

/** The workload the plans are compiled for, as in the istio.io security tasks. */
export const HTTPBIN = Object.freeze({
  name: 'httpbin',
  namespace: 'foo',
  serviceAccount: 'httpbin',
  labels: Object.freeze({ app: 'httpbin' }),
});

export type ScenarioName = 'admin-paths' | 'allow-nothing' | 'jwt' | 'jwt-two-tokens' | 'rate-limit';

export interface Scenario {
  readonly workload: {
    readonly name: string;
    readonly namespace: string;
    readonly serviceAccount: string;
    readonly labels: Readonly<Record<string, string>>;
  };
  readonly yaml: string;
}

/** The ISS/SUB of Istio's demo token (`jwt/demo.jwt`). */
export const DEMO_PRINCIPAL = 'testing@secure.istio.io/testing@secure.istio.io';
export const DEMO_TOKEN = sample('jwt/demo.jwt').trim();
/** The demo token with its signature replaced: well-formed, signed by nobody. */
export const FORGED_TOKEN = `${DEMO_TOKEN.slice(0, DEMO_TOKEN.lastIndexOf('.'))}.${Buffer.from('forged').toString('base64url')}`;
export const JWKS = sample('jwt/jwks.json');
/** Istio's other sample token (`jwt/groups-scope.jwt`): same key, issuer and subject, other claims. */
export const GROUPS_SCOPE_TOKEN = sample('jwt/groups-scope.jwt').trim();

const ADMIN_PATHS = `
# DENY on /admin unless the x-token header says admin (istio.io authz-deny, narrowed to paths),
# and ALLOW only the paths the app serves: everything else is denied by the ALLOW policy.
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: admin-needs-token, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  action: DENY
  rules:
  - to: [{ operation: { paths: ["/admin", "/admin/*"] } }]
    when: [{ key: "request.headers[x-token]", notValues: ["admin"] }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: allow-known-paths, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  action: ALLOW
  rules:
  - to: [{ operation: { paths: ["/public", "/public/*", "/admin", "/admin/*", "/headers", "/upload"] } }]
`;

// istio.io authz-jwt: the RequestAuthentication with the sample key set inlined (the
// task's jwksUri points at GitHub; tests make no internet calls), a claim copied to a
// header, and an ALLOW that requires the demo principal except on /public.
const JWT = `
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: jwt-example, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  jwtRules:
  - issuer: "testing@secure.istio.io"
    jwks: '${JWKS.replace(/\s+/g, ' ').trim()}'
    outputClaimToHeaders:
    - { header: x-jwt-sub, claim: sub }
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: require-jwt, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  action: ALLOW
  rules:
  - from: [{ source: { requestPrincipals: ["${DEMO_PRINCIPAL}"] } }]
  - to: [{ operation: { paths: ["/public"] } }]
`;

// One rule reading a token from two headers, each of its output headers written per token:
// two good tokens give two lines of each (jwt_authn authenticator.cc addCopy).
const JWT_TWO_TOKENS = `
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: jwt-two-locations, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  jwtRules:
  - issuer: "testing@secure.istio.io"
    jwks: '${JWKS.replace(/\s+/g, ' ').trim()}'
    fromHeaders: [{ name: x-a }, { name: x-b }]
    outputPayloadToHeader: x-jwt-payload
    outputClaimToHeaders:
    - { header: x-jwt-sub, claim: sub }
    - { header: user-agent, claim: sub }
`;

// The local rate limit example of istio.io/latest/docs/tasks/policy-enforcement/rate-limit.
const RATE_LIMIT = localRateLimitYaml();

export const SCENARIOS: Readonly<Record<ScenarioName, Scenario>> = Object.freeze({
  'admin-paths': { workload: HTTPBIN, yaml: ADMIN_PATHS },
  // istio.io authz-http step 1, verbatim: `spec: {}` in the workload's namespace.
  'allow-nothing': {
    workload: {
      name: 'productpage',
      namespace: 'default',
      serviceAccount: 'bookinfo-productpage',
      labels: { app: 'productpage' },
    },
    yaml: sample('tasks/authz-http/01-allow-nothing.yaml'),
  },
  jwt: { workload: HTTPBIN, yaml: JWT },
  'jwt-two-tokens': { workload: HTTPBIN, yaml: JWT_TWO_TOKENS },
  'rate-limit': { workload: HTTPBIN, yaml: RATE_LIMIT },
});
