import { COMMON_METADATA, RBAC_METADATA } from '../inbound/authz/rbac-metadata.js';
import type { DynamicMetadata } from '../inbound/dynamic-metadata.js';
import { gatewayRouteTargetIn } from '../gateway/gateway-route-target.js';
import type { MeshPlan } from '../compile/plan-types.js';
import { clusterKey } from '../compile/clusters.js';
import type { MtlsMode } from '../compile/inbound-types.js';
import { parseSpiffeId } from '../identity/spiffe.js';
import type { AuthzInput } from '../inbound/authz/input.js';
import { parseIp } from '../inbound/authz/ip.js';
import { remoteIp } from '../inbound/authz/remote-ip.js';
import { resolveExtAuthzProvider } from '../inbound/authz/ext-authz-provider.js';
import { PLAIN_ALLOW } from '../inbound/authz/ext-authz-result.js';
import { createInboundEngine } from '../inbound/engine.js';
import type { InboundRequest } from '../inbound/engine-types.js';
import { createJwtAuthenticator } from '../inbound/jwt/authenticator.js';
import type { JwtResult } from '../inbound/jwt/types.js';
import { normalizeTarget } from '../inbound/normalize/normalize-path.js';
import type { PeerIdentity } from '../inbound/request-context.js';
import { createManualClock, systemClock } from '../runtime/clock.js';
import { seededRandom } from '../runtime/random.js';
import { walkAuthorization, type AuthzWalk } from './explain-authz.js';
import { summarizePolicy } from './explain-policy.js';
import { RateLimitRecorder, rateLimitLines } from './explain-rate-limits.js';

/** The inbound request to explain, as given on the command line. */
export interface InboundInput {
  readonly method: string;
  /** Path (`/admin`) or absolute URL (`http://httpbin:8000/ip`, which also gives authority and port). */
  readonly target: string;
  readonly headers: Readonly<Record<string, string | readonly string[]>>;
  /** `spiffe://td/ns/x/sa/y`, or null for a caller without mTLS. */
  readonly peer: string | null;
  /** A JWT sent as `Authorization: Bearer`; null for none. */
  readonly token: string | null;
  readonly sourceIp: string;
  /** The workload port the request arrives on (default: the URL's port, else 80). */
  readonly port: number | null;
}

export interface InboundExplanation {
  readonly kind: 'inbound';
  readonly workload: string;
  readonly request: {
    readonly method: string;
    readonly url: string;
    readonly authority: string;
    readonly port: number;
    readonly sourceIp: string;
    readonly peer: string | null;
  };
  readonly peerAuthentication: {
    readonly mode: MtlsMode;
    /** The PeerAuthentication that set the mode, or how the default applied. */
    readonly decidedBy: string;
    readonly note: string;
    /** false when the connection itself would be refused (STRICT without a client certificate). */
    readonly accepted: boolean;
  };
  readonly normalization: { readonly ok: boolean; readonly path: string; readonly detail: string };
  readonly requestAuthentication: {
    readonly policies: readonly string[];
    readonly outcome: 'not configured' | 'no token' | 'verified' | 'refused';
    readonly detail: string;
  };
  readonly authorization: AuthzWalk;
  /**
   * The ext_authz provider the workload's CUSTOM policies use (Istio allows one), as
   * meshlet would call it, or why those policies fail closed; null without CUSTOM policies.
   */
  readonly customProvider: string | null;
  /**
   * The rate limit filters on the port: local buckets, and what each global filter would send
   * its service (explain answers for the service: OK).
   */
  readonly rateLimits: readonly string[];
  readonly decision: {
    readonly allow: boolean;
    readonly status: number;
    readonly stage: string;
    readonly policy: string | null;
    readonly rule: number | null;
    readonly detail: string;
    readonly shadow: readonly string[];
    /**
     * What the RBAC filters wrote to the request's dynamic metadata, as the access log's
     * `%DYNAMIC_METADATA(...)%` and Istio's dry-run span tags read it: one
     * `<namespace>: key=value ...` line per namespace.
     */
    readonly rbacMetadata: readonly string[];
    /** The refusal as the sidecar's access log shows it: `%RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS%`; null when allowed. */
    readonly accessLog: string | null;
  };
  /** One line: the answer to "why was this allowed/denied?". */
  readonly verdict: string;
}

export function peerSection(
  plan: MeshPlan,
  port: number,
  peer: PeerIdentity | null,
): InboundExplanation['peerAuthentication'] {
  const pa = plan.inbound.peerAuthentication;
  const mode = pa.modeFor(port);
  const src = pa.sources.workload ?? pa.sources.namespace ?? pa.sources.mesh;
  const level =
    pa.sources.workload !== null ? 'workload' : pa.sources.namespace !== null ? 'namespace' : 'mesh';
  const portLevel = Object.hasOwn(pa.portLevel, String(port)) ? ` (port-level setting for ${port})` : '';
  const decidedBy =
    src === null
      ? "Istio's default (no PeerAuthentication applies)"
      : `PeerAuthentication ${src.namespace}/${src.name} (${level})${portLevel}`;
  if (mode === 'STRICT' && peer === null)
    return {
      mode,
      decidedBy,
      accepted: false,
      note: 'STRICT needs a client certificate: a plaintext connection is refused before any HTTP',
    };
  if (mode === 'DISABLE' && peer !== null)
    return {
      mode,
      decidedBy,
      accepted: true,
      note: 'mTLS is off here: the peer identity is not known to policies',
    };
  return {
    mode,
    decidedBy,
    accepted: true,
    note: peer === null ? 'plaintext accepted (no peer identity)' : `mTLS peer ${peer.principal}`,
  };
}

function jwtSection(plan: MeshPlan, jwt: JwtResult): InboundExplanation['requestAuthentication'] {
  const policies = plan.inbound.requestAuthentications.map((k) => `${k.namespace}/${k.name}`);
  if (plan.inbound.jwtRules.length === 0)
    return { policies, outcome: 'not configured', detail: 'no RequestAuthentication selects this workload' };
  if (jwt.kind === 'none')
    return {
      policies,
      outcome: 'no token',
      detail: 'no token in any location a rule reads: passes without a request principal',
    };
  if (jwt.kind === 'deny') return { policies, outcome: 'refused', detail: `${jwt.status} ${jwt.body}` };
  const rule = plan.inbound.jwtRules.find((r) => r.rule.issuer === jwt.issuer);
  const by = rule === undefined ? '' : ` by ${rule.policy.namespace}/${rule.policy.name}`;
  return {
    policies,
    outcome: 'verified',
    detail: `issuer ${jwt.issuer}${by}; request principal ${jwt.principal ?? '(none: no sub claim)'}`,
  };
}

function targetOf(input: InboundInput, plan: MeshPlan): { url: string; authority: string; port: number } {
  if (/^https?:\/\//i.test(input.target)) {
    const u = new URL(input.target);
    const port = input.port ?? (u.port === '' ? (u.protocol === 'https:' ? 443 : 80) : Number(u.port));
    return { url: u.pathname + u.search, authority: u.host, port };
  }
  const host = input.headers['host'];
  return {
    url: input.target,
    authority: typeof host === 'string' ? host : plan.workload.name,
    port: input.port ?? 80,
  };
}

/**
 * Runs one inbound request through the real inbound engine (manual clock, so rate-limit
 * buckets start full) and explains each stage: the effective PeerAuthentication mode, path
 * normalization, RequestAuthentication, and every AuthorizationPolicy rule by rule, ending
 * with the stage, policy and rule that decided. CUSTOM providers and rate limit services are
 * not called: the engine is given an "allow" and an OK, and the output says so.
 */
export async function explainInbound(plan: MeshPlan, input: InboundInput): Promise<InboundExplanation> {
  const { url, authority, port } = targetOf(input, plan);
  const peerId = input.peer === null ? null : parseSpiffeId(input.peer);
  const peerSec = peerSection(plan, port, peerId);
  const peer = peerSec.mode === 'DISABLE' ? null : peerId;
  const headers: Record<string, string | readonly string[]> = {};
  for (const [k, v] of Object.entries(input.headers)) headers[k.toLowerCase()] = v;
  if (input.token !== null && headers['authorization'] === undefined)
    headers['authorization'] = `Bearer ${input.token}`;
  const req: InboundRequest = {
    method: input.method,
    url,
    authority,
    headers,
    scheme: 'http',
    port,
    peer,
    sourceIp: input.sourceIp,
    destinationIp: '127.0.0.1',
    sni: null,
    // At a gateway the filters see the route the request takes (a plaintext request: the
    // port's `http.<port>` route configuration).
    ...(plan.inbound.gateway
      ? { gatewayRoute: (r) => gatewayRouteTargetIn(plan, null, port, false, r) }
      : {}),
  };
  // Real time for token exp/nbf and JWKS fetch deadlines; the engine's own clock is virtual.
  const jwt = createJwtAuthenticator({ clock: systemClock, now: Date.now });
  const recorder = new RateLimitRecorder();
  const engine = createInboundEngine({
    getPlan: () => plan,
    jwt,
    clock: createManualClock(),
    random: seededRandom(1),
    extAuthz: () => Promise.resolve(PLAIN_ALLOW),
    rateLimitAnswer: recorder.answer,
  });
  try {
    const decision = await engine.decide(req);
    const target = normalizeTarget(url, plan.meshConfig.pathNormalization);
    const normalizedUrl = target.ok ? target.path + target.query : url;
    const jwtResult =
      plan.inbound.jwtRules.length === 0
        ? ({ kind: 'none' } as const)
        : await jwt.authenticate(plan.inbound.jwtRules, { ...req, url: normalizedUrl });
    const overlay: Record<string, string | undefined> = {};
    if (jwtResult.kind === 'ok') {
      for (const h of jwtResult.removeHeaders) overlay[h.toLowerCase()] = undefined;
      for (const [k, v] of Object.entries(jwtResult.setHeaders)) overlay[k.toLowerCase()] = v;
    }
    const src = parseIp(input.sourceIp);
    const authzInput: AuthzInput = {
      method: input.method,
      path: target.ok ? target.path : url,
      host: authority.toLowerCase(),
      port,
      headers,
      overlay,
      peer,
      peerUri: peer === null ? null : `spiffe://${peer.principal}`,
      claims: jwtResult.kind === 'ok' ? jwtResult.claims : null,
      sourceIp: src,
      remoteIp: remoteIp(
        headers['x-forwarded-for'],
        src,
        plan.meshConfig.numTrustedProxies,
        plan.inbound.gateway,
      ),
      destinationIp: parseIp('127.0.0.1'),
      sni: null,
    };
    const walk = walkAuthorization(
      plan.inbound.authorization,
      {
        trustDomains: [plan.meshConfig.trustDomain, ...plan.meshConfig.trustDomainAliases],
      },
      authzInput,
    );
    const decisionPart = decisionOf(decision, walk);
    const w = plan.workload;
    const explanation: InboundExplanation = {
      kind: 'inbound',
      workload: `${w.namespace}/${w.name}`,
      request: {
        method: input.method,
        url,
        authority,
        port,
        sourceIp: input.sourceIp,
        peer: peer === null ? null : `spiffe://${peer.principal}`,
      },
      peerAuthentication: peerSec,
      normalization: target.ok
        ? {
            ok: true,
            path: target.path,
            detail:
              target.path === url.split('?')[0]
                ? 'unchanged'
                : `normalized (${plan.meshConfig.pathNormalization})`,
          }
        : { ok: false, path: url, detail: target.detail },
      requestAuthentication: jwtSection(plan, jwtResult),
      authorization: walk,
      customProvider: describeCustomProvider(plan),
      rateLimits: rateLimitLines(plan, port, recorder),
      decision: decisionPart,
      verdict: verdictOf(peerSec, decisionPart, walk),
    };
    return explanation;
  } finally {
    await engine.close();
    jwt.close();
  }
}

/** One line on the CUSTOM provider: where checks go, what they carry, and what a failure does. */
function describeCustomProvider(plan: MeshPlan): string | null {
  const name = plan.inbound.authorization.custom[0]?.provider ?? null;
  if (name === null) return null;
  const p = resolveExtAuthzProvider(plan.meshConfig, name);
  if (typeof p === 'string') return `${name}: the CUSTOM policies fail closed (403): ${p}`;
  const where =
    p.kind === 'grpc'
      ? `envoyExtAuthzGrpc ${p.target} (Check over gRPC)`
      : `envoyExtAuthzHttp ${p.origin}${p.pathPrefix}`;
  const body =
    p.body === null
      ? 'no body'
      : `the first ${p.body.maxRequestBytes} bytes of the body (${p.body.allowPartialMessage ? 'a longer one cut' : 'a longer one refused 413'})`;
  const onError = p.failOpen ? 'allows if it fails (failOpen)' : `answers ${p.statusOnError} if it fails`;
  // How the mesh reaches it (outbound/cluster-call.ts): its service's cluster, else directly.
  const cluster = plan.outbound.cluster(clusterKey(p.host, p.port, null));
  const via =
    cluster === null
      ? 'directly by DNS in plaintext (the service is not in the registry)'
      : `via ${cluster.key}, TLS ${summarizePolicy(cluster, plan).tls}`;
  return `${name}: ${where} ${via}, timeout ${p.timeoutMs} ms, sends ${body}, ${onError}`;
}

/** The RBAC filters' namespaces of a decision's dynamic metadata, a line each. */
function rbacMetadataLines(metadata: DynamicMetadata | null | undefined): string[] {
  const out: string[] = [];
  for (const ns of [RBAC_METADATA, COMMON_METADATA]) {
    const fields = metadata?.[ns];
    if (fields === undefined) continue;
    out.push(
      `${ns}: ${Object.entries(fields)
        .map(([k, v]) => `${k}=${String(v)}`)
        .join(' ')}`,
    );
  }
  return out;
}

function decisionOf(
  d: Awaited<ReturnType<ReturnType<typeof createInboundEngine>['decide']>>,
  walk: AuthzWalk,
): InboundExplanation['decision'] {
  if (d.allow) {
    return {
      allow: true,
      status: 200,
      stage: 'allow',
      policy: null,
      rule: null,
      detail: 'allowed',
      shadow: d.shadow.map((s) => `${s.action} ${s.policy}: ${s.result}`),
      rbacMetadata: rbacMetadataLines(d.metadata),
      accessLog: null,
    };
  }
  const r = d.reason;
  const check = [...walk.custom, ...walk.deny].find((p) => p.policy === r.policy);
  return {
    allow: false,
    status: d.status,
    stage: r.stage,
    policy: r.policy,
    rule: check === undefined || check.matchedRule < 0 ? null : check.matchedRule,
    detail: r.detail,
    shadow: d.shadow.map((s) => `${s.action} ${s.policy}: ${s.result}`),
    rbacMetadata: rbacMetadataLines(d.metadata),
    accessLog: `${d.status} ${d.flags.length === 0 ? '-' : d.flags.join(',')} ${r.responseCodeDetails ?? '-'}`,
  };
}

function verdictOf(
  peer: InboundExplanation['peerAuthentication'],
  d: InboundExplanation['decision'],
  walk: AuthzWalk,
): string {
  if (!peer.accepted)
    return `REFUSED at the connection: ${peer.mode} mTLS (${peer.decidedBy}) and the caller has no client certificate`;
  if (d.allow) {
    const enforced = walk.allow.filter((p) => !p.dryRun);
    const by = enforced.find((p) => p.matchedRule >= 0);
    if (by !== undefined) return `ALLOWED by ALLOW policy ${by.policy} rule[${by.matchedRule}]`;
    return 'ALLOWED: no ALLOW policy selects this workload, and no DENY policy matched';
  }
  switch (d.stage) {
    case 'deny':
      return `DENIED ${d.status} by DENY policy ${d.policy ?? ''} rule[${d.rule ?? '?'}]`;
    case 'allow':
      return `DENIED ${d.status}: no rule of the ${walk.allow.filter((p) => !p.dryRun).length} ALLOW ${walk.allow.length === 1 ? 'policy' : 'policies'} (${walk.allow
        .filter((p) => !p.dryRun)
        .map((p) => p.policy)
        .join(', ')}) matched`;
    case 'jwt':
      return `DENIED ${d.status} by RequestAuthentication: ${d.detail.replace(/^RequestAuthentication refused the token: /, '')}`;
    case 'custom':
      return `DENIED ${d.status} by CUSTOM policy ${d.policy ?? ''}: ${d.detail}`;
    default:
      return `DENIED ${d.status} at ${d.stage}: ${d.detail}`;
  }
}
