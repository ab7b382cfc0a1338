import { readFileSync } from 'node:fs';
import path from 'node:path';
import { compilePlan, type CompilePlanOptions } from '../../../src/compile/compile-plan.js';
import type { MeshPlan } from '../../../src/compile/plan-types.js';
import type { WorkloadIdentity } from '../../../src/compile/workload.js';
import { loadConfigText } from '../../../src/config/load.js';
import type { MeshConfig } from '../../../src/config/mesh-config.js';
import { createInboundEngine, type InboundEngineOptions } from '../../../src/inbound/engine.js';
import type { InboundDecision, InboundEngine, InboundRequest } from '../../../src/inbound/engine-types.js';
import type { JwtAuthenticator, JwtResult } from '../../../src/inbound/jwt/types.js';
import type { PeerIdentity } from '../../../src/inbound/request-context.js';
import { createManualClock } from '../../../src/runtime/clock.js';
import { seededRandom } from '../../../src/runtime/random.js';
import { SAMPLES } from '../../helpers/tmp.js';

export { SAMPLES };

export function sample(rel: string): string {
  return readFileSync(path.join(SAMPLES, rel), 'utf8');
}

/** The workload Istio's authz builder tests use. */
export const httpbin: WorkloadIdentity = {
  name: 'httpbin-1',
  namespace: 'foo',
  serviceAccount: 'httpbin',
  labels: { app: 'httpbin', version: 'v1' },
};

/** An ingress gateway pod in `foo`, beside `httpbin`: EnvoyFilters and policies of `foo` select it. */
export const ingressGateway: WorkloadIdentity = {
  name: 'istio-ingressgateway-1',
  namespace: 'foo',
  serviceAccount: 'istio-ingressgateway-service-account',
  labels: { app: 'istio-ingressgateway', istio: 'ingressgateway' },
};

/** Loads YAML, fails on load errors, compiles the plan for `workload`. */
export function planOf(
  yaml: string,
  opts: {
    meshConfig?: Partial<MeshConfig>;
    workload?: WorkloadIdentity;
    istiodFeatures?: CompilePlanOptions['istiodFeatures'];
    proxyEnv?: CompilePlanOptions['proxyEnv'];
  } = {},
): MeshPlan {
  const snap = loadConfigText(yaml, opts.meshConfig === undefined ? {} : { meshConfig: opts.meshConfig });
  const errors = snap.diagnostics.filter((d) => d.level === 'Error');
  if (errors.length > 0) throw new Error(errors.map((d) => d.message).join('\n'));
  return compilePlan(snap, opts.workload ?? httpbin, {
    ...(opts.istiodFeatures === undefined ? {} : { istiodFeatures: opts.istiodFeatures }),
    ...(opts.proxyEnv === undefined ? {} : { proxyEnv: opts.proxyEnv }),
  });
}

/** `cluster.local/ns/foo/sa/bar` → a verified peer. */
export function peer(principal: string): PeerIdentity {
  const [trustDomain = '', , namespace = '', , serviceAccount = ''] = principal.split('/');
  return { principal, trustDomain, namespace, serviceAccount };
}

export function request(partial: Partial<InboundRequest> = {}): InboundRequest {
  return {
    method: 'GET',
    url: '/',
    authority: 'httpbin.foo:8000',
    headers: {},
    scheme: 'http',
    port: 8000,
    peer: null,
    sourceIp: '10.0.0.9',
    destinationIp: '10.0.0.1',
    sni: null,
    ...partial,
  };
}

/** A JWT result carrying `claims` (principal `iss/sub` when both are present). */
export function token(claims: Record<string, unknown>): Extract<JwtResult, { kind: 'ok' }> {
  const iss = claims['iss'];
  const sub = claims['sub'];
  return {
    kind: 'ok',
    principal: typeof iss === 'string' && typeof sub === 'string' ? `${iss}/${sub}` : null,
    claims,
    issuer: typeof iss === 'string' ? iss : '',
    removeHeaders: ['authorization'],
    setHeaders: {},
  };
}

/**
 * A small JwtAuthenticator: `Authorization: Bearer <name>` looks `<name>` up in
 * `tokens`; no header → `none`; an unknown name → 401. Records every call.
 */
export function fakeJwt(tokens: Record<string, JwtResult> = {}): JwtAuthenticator & { calls: number } {
  const fake = {
    calls: 0,
    authenticate(_rules: unknown, req: InboundRequest): Promise<JwtResult> {
      fake.calls++;
      const h = req.headers['authorization'];
      if (typeof h !== 'string') return Promise.resolve({ kind: 'none' } as const);
      const found = tokens[h.replace(/^Bearer /, '')];
      return Promise.resolve(
        found ?? {
          kind: 'deny',
          status: 401,
          body: 'Jwt verification fails',
          headers: { 'www-authenticate': 'Bearer realm="http://httpbin.foo:8000/", error="invalid_token"' },
        },
      );
    },
    close() {},
  };
  return fake;
}

/** An engine on one fixed plan, a manual clock and a seeded random. */
export function engineFor(plan: MeshPlan, opts: Partial<InboundEngineOptions> = {}): InboundEngine {
  return createInboundEngine({
    getPlan: () => plan,
    jwt: fakeJwt(),
    clock: createManualClock(),
    random: seededRandom(7),
    ...opts,
  });
}

/** `allow`, or the deny status. */
export function verdict(d: InboundDecision): 'allow' | number {
  return d.allow ? 'allow' : d.status;
}

/** A RequestAuthentication for `httpbin`, so the engine asks the (fake) JWT authenticator. */
export const REQUEST_AUTHENTICATION = `
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: jwt, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  jwtRules:
  - issuer: https://issuer.example
    jwksUri: https://issuer.example/jwks
---
`;
