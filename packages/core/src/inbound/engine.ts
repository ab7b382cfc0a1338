import type { MeshPlan } from '../compile/plan-types.js';
import type { Clock } from '../runtime/clock.js';
import type { Random } from '../runtime/random.js';
import { checkExtAuthz, checkSendByFetch } from './authz/ext-authz-check.js';
import { checkSendThrough } from './authz/ext-authz-upstream.js';
import type { ClusterCaller } from '../outbound/cluster-call.js';
import { checkExtAuthzGrpc, ExtAuthzGrpcClients } from './authz/ext-authz-grpc.js';
import type { ExtAuthzTracer } from './authz/ext-authz-span.js';
import type { ExtAuthzProvider } from './authz/ext-authz-provider.js';
import type { ExtAuthzResult } from './authz/ext-authz-result.js';
import { rbacDeniedDetails, type ShadowResult } from './authz/evaluate.js';
import type { AuthzInput } from './authz/input.js';
import { RequestAuthzInput } from './authz/request-input.js';
import { compileInbound, type CompiledInbound } from './engine-compile.js';
import {
  denied,
  EMPTY,
  mergeHeaders,
  PAYLOAD_TOO_LARGE_BODY,
  RATE_LIMITED_BODY,
  RBAC_DENIED_BODY,
  withServerHeader,
} from './engine-decisions.js';
import { declaresBody, readBodyPrefix, type BodyPrefix } from './request-body.js';
import type { DenyReason, InboundDecision, InboundEngine, InboundRequest } from './engine-types.js';
import type { JwtAuthenticator, JwtResult } from './jwt/types.js';
import type { RateLimitOutcome } from './ratelimit/local-rate-limit.js';
import { ANONYMOUS, type MeshletRequestContext, type PeerIdentity } from './request-context.js';
import { methodProblem } from './normalize/method.js';
import { inboundExchange, withExchange, type InboundExchange } from './peer-exchange.js';
import { forwardedPortOf, forwardPortToApp, withForwardedPort } from './forwarded-port.js';
import type { LocalPeerHeaders } from '../telemetry/metadata-exchange/peer-metadata.js';
import { normalizeTarget } from './normalize/normalize-path.js';
import { withoutQueryParams } from './jwt/query-token.js';

export interface InboundEngineOptions {
  /** The current plan; read once per request, so a reload applies to the next request. */
  readonly getPlan: () => MeshPlan;
  readonly jwt: JwtAuthenticator;
  readonly clock: Clock;
  readonly random: Random;
  /**
   * How CUSTOM (ext_authz) checks reach their provider: through the mesh's outbound cluster
   * for the provider's service (DestinationRule TLS, auto mTLS), as the sidecar sends them.
   * A mesh passes its own; without one, HTTP checks go by `fetch` and gRPC checks straight
   * to `service:port`, both in plaintext.
   */
  readonly upstream?: ClusterCaller;
  /**
   * Starts each CUSTOM check's span under the request's span, as Envoy's ext_authz async
   * client does; a mesh passes its tracing. Without it, checks make no spans.
   */
  readonly extAuthzTracer?: ExtAuthzTracer;
  /** How CUSTOM checks to an HTTP provider are sent when there is no `upstream`; default the global `fetch`. */
  readonly fetch?: typeof fetch;
  /**
   * Answers CUSTOM checks instead of calling the provider, HTTP or gRPC (`meshlet explain`
   * assumes an allow this way).
   */
  readonly extAuthz?: (
    provider: ExtAuthzProvider,
    req: InboundRequest,
    url: string,
  ) => Promise<ExtAuthzResult>;
  /** Called with every decision; an exception thrown here is swallowed. */
  readonly onDecision?: (decision: InboundDecision, req: InboundRequest) => void;
  /**
   * This workload's metadata-exchange headers, answered to a caller that sent its own
   * (peer-exchange.ts). Without them the caller's are still removed, and none are answered.
   */
  readonly peerHeaders?: LocalPeerHeaders;
}

const NO_TOKEN: JwtResult = Object.freeze({ kind: 'none' });
const NO_STRINGS: readonly string[] = Object.freeze([]);

type JwtOk = Extract<JwtResult, { kind: 'ok' }>;
type CustomAllow = Extract<ExtAuthzResult, { kind: 'allow' }>;
type RateLimitPass = Extract<RateLimitOutcome, { kind: 'pass' }>;

/** What an accepted token contributes to every request carrying it, built once per verified result. */
interface JwtView {
  readonly overlay: Readonly<Record<string, string | undefined>> | null;
  readonly auth: MeshletRequestContext['auth'];
  /** The request context of this token on a connection without an mTLS peer. */
  readonly noPeer: MeshletRequestContext;
}

/**
 * The authenticator hands back the same frozen result for a cached token, so its header
 * overlay and request context are derived once, not per request.
 */
const jwtViews = new WeakMap<JwtOk, JwtView>();

function jwtView(jwt: JwtOk): JwtView {
  let v = jwtViews.get(jwt);
  if (v === undefined) {
    const auth = Object.freeze({ principal: jwt.principal ?? '', claims: jwt.claims });
    v = Object.freeze({
      overlay: overlayOf(null, jwt),
      auth,
      noPeer: Object.freeze({ peer: null, auth }),
    });
    jwtViews.set(jwt, v);
  }
  return v;
}

/** The request headers jwt_authn removed: a token not forwarded, and the rules' output headers. */
function jwtRemovals(jwt: JwtResult): readonly string[] {
  if (jwt.kind === 'ok') return jwt.removeHeaders;
  return jwt.kind === 'none' ? (jwt.removeHeaders ?? NO_STRINGS) : NO_STRINGS;
}

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/** `request.meshlet`: shared for a request without an mTLS peer, else made for this one. */
function contextOf(peer: PeerIdentity | null, view: JwtView | null): MeshletRequestContext {
  if (peer === null) return view === null ? ANONYMOUS : view.noPeer;
  return Object.freeze({ peer, auth: view?.auth ?? null });
}

function jwtSets(jwt: JwtResult): Readonly<Record<string, string>> {
  return jwt.kind === 'ok' ? jwt.setHeaders : NO_HEADERS;
}

function overlayOf(
  rateLimitHeaders: Readonly<Record<string, string>> | null,
  jwt: JwtResult,
): Readonly<Record<string, string | undefined>> | null {
  const removed = jwtRemovals(jwt);
  const set = jwtSets(jwt);
  const edits = removed.length > 0 || Object.keys(set).length > 0;
  if (rateLimitHeaders === null && !edits) return null;
  const out: Record<string, string | undefined> = { ...rateLimitHeaders };
  for (const h of removed) out[h.toLowerCase()] = undefined;
  for (const [k, v] of Object.entries(set)) out[k.toLowerCase()] = v;
  return Object.freeze(out);
}

/**
 * The request as the ext_authz filter sees it: after jwt_authn, which runs first in
 * Istio's inbound chain and has already dropped a token it does not forward and added
 * `outputPayloadToHeader`/`outputClaimToHeaders` headers.
 */
function afterJwtFilter(req: InboundRequest, jwt: JwtResult): InboundRequest {
  const removed = jwtRemovals(jwt);
  const set = jwtSets(jwt);
  if (removed.length === 0 && Object.keys(set).length === 0) return req;
  const headers: Record<string, string | readonly string[] | undefined> = { ...req.headers };
  for (const h of removed) delete headers[h.toLowerCase()];
  for (const [k, v] of Object.entries(set)) headers[k.toLowerCase()] = v;
  return { ...req, headers };
}

/**
 * The framework-free inbound decision point. `decide` runs Envoy's inbound HTTP
 * filter order (DESIGN.md data flow): method and path normalization per meshConfig
 * `pathNormalization` → local rate limit (EnvoyFilter `envoy.filters.http.local_ratelimit`)
 * → RequestAuthentication (`jwt`) → AuthorizationPolicy CUSTOM (ext_authz) → DENY
 * → ALLOW, with AUDIT and `istio.io/dry-run` policies reported in `shadow`.
 * Matchers are compiled once per plan object. `decide` never throws: an internal
 * failure is a 500 deny naming the stage, never an allow.
 */
export function createInboundEngine(options: InboundEngineOptions): InboundEngine {
  const compiled = new WeakMap<MeshPlan, CompiledInbound>();
  const checkSend =
    options.upstream === undefined
      ? checkSendByFetch(options.fetch ?? globalThis.fetch)
      : checkSendThrough(options.upstream);
  const grpcClients = new ExtAuthzGrpcClients();
  const tracer = options.extAuthzTracer ?? null;

  const compiledFor = (plan: MeshPlan): CompiledInbound => {
    let c = compiled.get(plan);
    if (c === undefined) {
      c = compileInbound(plan, options.clock, options.random);
      compiled.set(plan, c);
    }
    return c;
  };

  // A refusal that came from an unreadable plan still goes out, without a server name.
  const meshConfigOrNull = (): MeshPlan['meshConfig'] | null => {
    try {
      return options.getPlan().meshConfig;
    } catch {
      return null;
    }
  };

  const peerHeaders = options.peerHeaders ?? null;
  const finish = (
    decision: InboundDecision,
    req: InboundRequest,
    exchange: InboundExchange | null,
    at: Stage,
  ): InboundDecision => {
    let d = decision.allow ? decision : withServerHeader(decision, meshConfigOrNull());
    if (exchange !== null) d = withExchange(d, exchange, peerHeaders);
    if (at.forwardedPort !== undefined) d = forwardPortToApp(d, at.forwardedPort);
    if (options.onDecision !== undefined) {
      try {
        options.onDecision(d, req);
      } catch {
        // Telemetry never throws into the request (STYLE.md practice 9).
      }
    }
    return d;
  };

  /** How far a request got (for an internal error's reason), and what the connection manager set on it. */
  type Stage = { stage: DenyReason['stage']; forwardedPort?: string };
  type Pending = InboundDecision | Promise<InboundDecision>;

  // Synchronous until a stage really waits (a JWT check, a CUSTOM provider): every promise
  // costs the request a microtask, and more while telemetry's async context tracking is on.
  const run = (request: InboundRequest, at: Stage): Pending => {
    const plan = options.getPlan();
    const c = compiledFor(plan);
    // The connection manager's own edits come before every filter.
    let req = request;
    const forwardedPort = forwardedPortOf(req, plan);
    if (forwardedPort !== null) {
      req = withForwardedPort(req, forwardedPort);
      at.forwardedPort = forwardedPort;
    }

    const badMethod = methodProblem(req.method);
    if (badMethod !== null)
      return denied(400, '', EMPTY, [], { stage: 'normalize', policy: null, detail: badMethod });
    const target = normalizeTarget(req.url, plan.meshConfig.pathNormalization);
    if (!target.ok)
      return denied(400, '', EMPTY, [], { stage: 'normalize', policy: null, detail: target.detail });
    const url = target.path + target.query;

    at.stage = 'ratelimit';
    const rl = c.rateLimiter.check(req);
    if (rl.kind === 'limited')
      return denied(rl.status, RATE_LIMITED_BODY, rl.headers, ['RL'], {
        stage: 'ratelimit',
        policy: rl.filter,
        detail: 'local rate limit token bucket is empty',
      });

    at.stage = 'jwt';
    const normalizedReq = url === req.url ? req : { ...req, url };
    if (plan.inbound.jwtRules.length === 0)
      return afterJwt(req, normalizedReq, at, plan, c, target.path, url, rl, NO_TOKEN);
    const jwt = options.jwt.authenticateNow
      ? options.jwt.authenticateNow(plan.inbound.jwtRules, normalizedReq)
      : options.jwt.authenticate(plan.inbound.jwtRules, normalizedReq);
    if (jwt instanceof Promise)
      return jwt.then((j) => afterJwt(req, normalizedReq, at, plan, c, target.path, url, rl, j));
    return afterJwt(req, normalizedReq, at, plan, c, target.path, url, rl, jwt);
  };

  const afterJwt = (
    req: InboundRequest,
    normalizedReq: InboundRequest,
    at: Stage,
    plan: MeshPlan,
    c: CompiledInbound,
    path: string,
    url: string,
    rl: RateLimitPass,
    jwt: JwtResult,
  ): Pending => {
    if (jwt.kind === 'deny')
      return denied(jwt.status, jwt.body, jwt.headers, [], {
        stage: 'jwt',
        policy: null,
        detail: `RequestAuthentication refused the token: ${jwt.body}`,
        // jwt_authn filter.cc generateRcDetails: the status text, whitespace as `_`.
        responseCodeDetails: `jwt_authn_access_denied{${jwt.body.replace(/\s/g, '_')}}`,
      });

    if (jwt.kind === 'ok' && jwt.removeParams !== undefined) {
      // A query-parameter token jwt_authn does not forward leaves the URL the checks and app see.
      url = withoutQueryParams(url, jwt.removeParams);
      normalizedReq = { ...normalizedReq, url };
    }
    const view = jwt.kind === 'ok' ? jwtView(jwt) : null;
    // The headers authorization reads are the ones jwt_authn left: a token's output headers,
    // or, without a token, the forged ones it stripped (view.overlay covers a token's).
    const stripped = jwt.kind === 'none' && jwt.removeHeaders !== undefined;
    const input = new RequestAuthzInput(
      req,
      path,
      rl.requestHeaders === null && !stripped ? (view?.overlay ?? null) : overlayOf(rl.requestHeaders, jwt),
      jwt.kind === 'ok' ? jwt.claims : null,
      plan.meshConfig.numTrustedProxies,
      plan.inbound.gateway,
    );

    at.stage = 'custom';
    if (c.custom.length === 0) return authorize(req, at, c, input, url, rl, jwt, view, [], null);
    return custom(req, normalizedReq, at, c, input, url, rl, jwt, view);
  };

  /** AuthorizationPolicy CUSTOM: at most one ext_authz check per request. */
  const custom = async (
    req: InboundRequest,
    normalizedReq: InboundRequest,
    at: Stage,
    c: CompiledInbound,
    input: RequestAuthzInput,
    url: string,
    rl: RateLimitPass,
    jwt: JwtResult,
    view: JwtView | null,
  ): Promise<InboundDecision> => {
    const shadow: ShadowResult[] = [];
    let allowed: CustomAllow | null = null;
    let authzInput: AuthzInput = input;
    for (const { policy, provider } of c.custom) {
      if (policy.match(input) < 0) continue;
      if (policy.dryRun) {
        shadow.push({ policy: policy.name, action: 'CUSTOM', result: 'audit' });
        continue;
      }
      if ('problem' in provider)
        return denied(403, RBAC_DENIED_BODY, EMPTY, [], {
          stage: 'custom',
          policy: policy.name,
          detail: `CUSTOM policy fails closed: ${provider.problem}`,
          // istiod turns the policy into an RBAC deny whose policies carry this suffix
          // (authz/builder builder.go getBadCustomDenyRules, extauthz.go).
          responseCodeDetails: rbacDeniedDetails(
            `istio-ext-authz-${policy.provider ?? ''}-${policy.envoyName(policy.match(input))}-deny-due-to-bad-CUSTOM-action`,
          ),
        });
      if (allowed !== null) continue;
      const checked = afterJwtFilter(normalizedReq, jwt);
      let body: BodyPrefix | null = null;
      // Envoy buffers a body for ext_authz only when the headers did not end the stream.
      if (provider.body !== null && checked.bodyStream !== undefined && declaresBody(checked.headers)) {
        body = await readBodyPrefix(checked.bodyStream, provider.body.maxRequestBytes);
        // Envoy's buffer limit answers before any check, failOpen or not (istio/api
        // EnvoyExternalAuthorizationRequestBody.max_request_bytes).
        if (body.truncated && !provider.body.allowPartialMessage)
          return denied(413, PAYLOAD_TOO_LARGE_BODY, EMPTY, [], {
            stage: 'custom',
            policy: policy.name,
            detail: `the request body is larger than includeRequestBodyInCheck.maxRequestBytes (${provider.body.maxRequestBytes}) and allowPartialMessage is false`,
            // The connection manager's buffer limit answers (ext_authz setDecoderBufferLimit).
            responseCodeDetails: 'request_payload_too_large',
          });
      }
      const r = options.extAuthz
        ? await options.extAuthz(provider, checked, url)
        : provider.kind === 'grpc'
          ? await checkExtAuthzGrpc(provider, checked, url, body, {
              clients: grpcClients,
              upstream: options.upstream ?? null,
              clock: options.clock,
              localPrincipal: c.localPrincipal,
              tracer,
            })
          : await checkExtAuthz(provider, checked, url, body, {
              send: checkSend,
              clock: options.clock,
              tracer,
            });
      if (r.kind === 'deny')
        return denied(r.status, r.body, r.headers, ['UAEX'], {
          stage: 'custom',
          policy: policy.name,
          detail: r.detail,
          responseCodeDetails: r.failed === true ? 'ext_authz_error' : 'ext_authz_denied',
        });
      allowed = r;
      if (r.removeHeaders.length > 0 || Object.keys(r.setHeaders).length > 0) {
        const edits: Record<string, string | undefined> = {};
        for (const h of r.removeHeaders) edits[h] = undefined;
        Object.assign(edits, r.setHeaders);
        authzInput = input.withOverlay(edits);
      }
    }
    return authorize(req, at, c, authzInput, url, rl, jwt, view, shadow, allowed);
  };

  /** DENY, then ALLOW; an allow carries the header edits of every earlier stage. */
  const authorize = (
    req: InboundRequest,
    at: Stage,
    c: CompiledInbound,
    input: AuthzInput,
    url: string,
    rl: RateLimitPass,
    jwt: JwtResult,
    view: JwtView | null,
    shadow: readonly ShadowResult[],
    ext: CustomAllow | null,
  ): InboundDecision => {
    at.stage = 'deny';
    const rbac = c.rbac(input);
    if (!rbac.allow)
      return denied(403, RBAC_DENIED_BODY, EMPTY, [], {
        stage: rbac.stage,
        policy: rbac.policy,
        detail: rbac.detail,
        responseCodeDetails: rbac.responseCodeDetails,
      });

    // A local rate limit placed before the router runs only now (compile/inbound.ts).
    at.stage = 'ratelimit';
    const late = c.rateLimiter.check(req, true);
    if (late.kind === 'limited')
      return denied(late.status, RATE_LIMITED_BODY, late.headers, ['RL'], {
        stage: 'ratelimit',
        policy: late.filter,
        detail: 'local rate limit token bucket is empty',
      });
    const lateRequest = late.requestHeaders;
    const lateResponse = late.responseHeaders;

    const jwtRemoved = jwtRemovals(jwt);
    // A fresh decision per request, typed readonly and not frozen: freezing two objects on
    // every request cost more than the rest of this function. The context the app sees
    // is shared (and frozen) when it carries no mTLS peer.
    return {
      allow: true,
      url: ext?.url ?? url,
      context: contextOf(req.peer, view),
      removeHeaders:
        ext === null || ext.removeHeaders.length === 0 ? jwtRemoved : [...jwtRemoved, ...ext.removeHeaders],
      setHeaders: mergeHeaders(
        rl.requestHeaders,
        jwt.kind === 'ok' ? jwt.setHeaders : null,
        ext?.setHeaders,
        lateRequest,
      ),
      responseHeaders: mergeHeaders(rl.responseHeaders, ext?.responseHeaders, lateResponse),
      shadow: shadow.length === 0 ? rbac.shadow : [...shadow, ...rbac.shadow],
    };
  };

  const decideNow = (req: InboundRequest): Pending => {
    const at: Stage = { stage: 'normalize' };
    const failed = (err: unknown): InboundDecision =>
      denied(500, 'internal error', EMPTY, [], {
        stage: at.stage,
        policy: null,
        detail: `internal error: ${err instanceof Error ? err.message : String(err)}`,
      });
    let d: Pending;
    let exchange: InboundExchange | null = null;
    try {
      // Metadata exchange first: no later stage sees the caller's headers. A gateway has
      // only the outbound exchange filter (listener_builder.go appendMxFilter), so it neither
      // reads nor answers a downstream's.
      exchange = inboundExchange(req);
      if (exchange !== null && options.getPlan().inbound.gateway) exchange = null;
      d = run(exchange === null ? req : exchange.request, at);
    } catch (err) {
      d = failed(err);
    }
    const x = exchange;
    if (d instanceof Promise)
      return d.then(
        (r) => finish(r, req, x, at),
        (err: unknown) => finish(failed(err), req, x, at),
      );
    return finish(d, req, x, at);
  };

  return {
    decideNow,
    decide(req) {
      const d = decideNow(req);
      return d instanceof Promise ? d : Promise.resolve(d);
    },
    close() {
      // The JWT authenticator and the fetch are the caller's; the gRPC channels are ours.
      grpcClients.close();
      return Promise.resolve();
    },
  };
}
