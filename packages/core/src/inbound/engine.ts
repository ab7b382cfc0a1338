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
import { rbacDeniedDetails, type RbacOutcome, type ShadowResult } from './authz/evaluate.js';
import type { AuthzInput } from './authz/input.js';
import { RequestAuthzInput } from './authz/request-input.js';
import { compileInbound, type CompiledInbound, type CustomPolicy } from './engine-compile.js';
import type { DescriptorRequest } from './ratelimit/descriptors.js';
import type { RateLimitAnswer } from './ratelimit/global-rate-limit.js';
import type { CompiledPolicy } from './authz/compile-policies.js';
import { customMatchId, customShadowMetadata } from './authz/custom-shadow.js';
import { jwtMetadata, mergeMetadata, type DynamicMetadata } from './dynamic-metadata.js';
import type { RbacStatsSink } from './authz/rbac-stats-sink.js';
import {
  denied,
  type DeniedDecision,
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
import type { RateLimitPosition } from '../compile/inbound-filter-chain.js';
import { ANONYMOUS, type MeshletRequestContext, type PeerIdentity } from './request-context.js';
import { methodProblem } from './normalize/method.js';
import { CLOSE_CONNECTION, headerCountProblem, TOO_MANY_HEADERS_BODY } from './normalize/header-count.js';
import { headerSizeProblem } from './normalize/header-size.js';
import { upgradeProblem } from './normalize/upgrade-check.js';
import { NOT_IMPLEMENTED_BODY, transferEncodingProblem } from './normalize/transfer-encoding.js';
import { inboundExchange, withExchange, type InboundExchange } from './peer-exchange.js';
import { FORWARDED_PORT, forwardedPortOf } from './forwarded-port.js';
import { cleanedHeadersOf, joinedRefererOf, removeCleaned, withoutCleaned } from './cleaned-headers.js';
import { FORWARDED_PROTO, forwardedProtoOf, withForwardedProto } from './forwarded-proto.js';
import { setForApp, withRequestHeader, type ConnectionManagerSets } from './connection-manager-sets.js';
import { REFERER } from '../outbound/referer.js';
import type { LocalPeerHeaders } from '../telemetry/metadata-exchange/peer-metadata.js';
import { normalizeTarget } from './normalize/normalize-path.js';
import { withoutQueryParams } from './jwt/query-token.js';
import { groupLines } from './jwt/output-headers.js';

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
  /**
   * Answers global rate limit filters instead of their rate limit service (`meshlet explain`
   * records what would be sent and assumes OK).
   */
  readonly rateLimitAnswer?: RateLimitAnswer;
  /** Counts the RBAC filters each request passes, as Envoy's RBAC stats (a mesh's telemetry). */
  readonly rbacStats?: RbacStatsSink;
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

/** What an accepted token contributes to every request carrying it, built once per verified result. */
interface JwtView {
  readonly overlay: AuthzInput['overlay'];
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
      overlay: jwtOverlay(jwt),
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

/** Request header edits in filter order: a value sets the header, undefined removes it. */
type HeaderEdits = Record<string, string | undefined>;

/** The request header edits of every stage so far, jwt_authn's between the ones before and after it. */
function netEdits(before: HeaderEdits | null, jwt: JwtResult, after: HeaderEdits | null): HeaderEdits {
  const out: HeaderEdits = { ...before };
  for (const h of jwtRemovals(jwt)) out[h.toLowerCase()] = undefined;
  const set = jwtSets(jwt);
  for (const k in set) out[k.toLowerCase()] = set[k];
  if (after !== null) Object.assign(out, after);
  return out;
}

/** jwt_authn's own edits, or null when it made none. */
function jwtOverlay(jwt: JwtResult): AuthzInput['overlay'] {
  if (jwtRemovals(jwt).length === 0 && Object.keys(jwtSets(jwt)).length === 0) return null;
  return Object.freeze(authzOverlay(netEdits(null, jwt, null), jwt));
}

/**
 * The header edits as authorization reads them: an output header jwt_authn added several
 * lines of (several good tokens; authenticator.cc addCopy) as those lines, which Envoy's
 * RBAC matches one by one (Envoy 1.37.1, `rbac_match_headers_individually`), where the
 * application reads them joined. A later stage's edit of the same header wins.
 */
function authzOverlay(edits: HeaderEdits, jwt: JwtResult): AuthzInput['overlay'] {
  if (jwt.kind !== 'ok' || jwt.outputLines === undefined) return edits;
  const out: Record<string, string | readonly string[] | undefined> = { ...edits };
  for (const [name, values] of groupLines(jwt.outputLines))
    if (values.length > 1 && edits[name] === jwt.setHeaders[name]) out[name] = Object.freeze(values);
  return out;
}

/** `req` as a later filter sees it, after the edits earlier filters made to its headers. */
function withEdits(req: InboundRequest, edits: Readonly<HeaderEdits>, url: string): InboundRequest {
  const headers: Record<string, string | readonly string[] | undefined> = { ...req.headers };
  for (const k in edits) {
    const v = edits[k];
    if (v === undefined) delete headers[k];
    else headers[k] = v;
  }
  return { ...req, url, headers };
}

/**
 * The framework-free inbound decision point. `decide` runs the inbound HTTP filters in
 * the order istiod chains them (listener_builder.go buildHTTPConnectionManager): method and
 * path normalization per meshConfig `pathNormalization` → AuthorizationPolicy CUSTOM
 * (ext_authz) → RequestAuthentication (`jwt`) → DENY → ALLOW, with AUDIT and
 * `istio.io/dry-run` policies reported in `shadow`. DESIGN.md's data flow puts JWT before
 * CUSTOM; Istio runs CUSTOM first (istio/istio#51173), and Istio is the spec. Local rate
 * limits (EnvoyFilter `envoy.filters.http.local_ratelimit`) run where their patch put them.
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
      c = compileInbound(plan, options.clock, options.random, {
        clock: options.clock,
        upstream: options.upstream ?? null,
        channels: grpcClients,
        tracer,
        ...(options.rateLimitAnswer === undefined ? {} : { answer: options.rateLimitAnswer }),
      });
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
    if (at.cleaned !== undefined) d = removeCleaned(d, at.cleaned);
    // A request the codec or the connection manager refused never reached the exchange
    // filter: nothing is answered.
    if (exchange !== null && (d.allow || (d.reason.stage !== 'codec' && d.reason.stage !== 'connection')))
      d = withExchange(d, exchange, peerHeaders);
    if (at.set !== undefined) d = setForApp(d, at.set);
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
  type Stage = {
    stage: DenyReason['stage'];
    set?: ConnectionManagerSets;
    cleaned?: readonly string[];
  };
  type Pending = InboundDecision | Promise<InboundDecision>;

  /** One request on its way through the chain, carried past the stages that may wait. */
  interface Flow {
    /** The request after the connection manager's edits. */
    readonly req: InboundRequest;
    readonly at: Stage;
    readonly plan: MeshPlan;
    readonly c: CompiledInbound;
    /** The normalized path authorization checks. */
    readonly path: string;
    /** The request with its normalized target, as the filters see it. */
    readonly normalizedReq: InboundRequest;
    /** The target the app gets: normalized, then ext_authz's and jwt_authn's query edits. */
    url: string;
    /** Header edits before jwt_authn (local rate limits, ext_authz); null while none. */
    edits: HeaderEdits | null;
    /** Header edits after jwt_authn (local rate limits); null while none. */
    lateEdits: HeaderEdits | null;
    /** jwt_authn's result, once it ran. */
    jwt: JwtResult | null;
    /** Response headers the local rate limits add (`x-ratelimit-*`), to any response. */
    responseHeaders: Record<string, string> | null;
    ext: CustomAllow | null;
    /** AUDIT and dry-run results of the filters passed so far; null while none. */
    shadow: readonly ShadowResult[] | null;
    /** The dynamic metadata the filters passed so far wrote; null while none. */
    metadata: DynamicMetadata | null;
  }

  /**
   * A refusal by a later filter: the `x-ratelimit-*` headers of a local rate limit it passed
   * go out too (that filter's encodeHeaders), and it carries the AUDIT and dry-run results
   * of the authorization filters it passed.
   */
  const refuse = (f: Flow, d: DeniedDecision): InboundDecision =>
    f.responseHeaders === null && f.shadow === null && f.metadata === null && f.jwt?.kind !== 'ok'
      ? d
      : denied(
          d.status,
          d.body,
          { ...f.responseHeaders, ...d.headers },
          d.flags,
          d.reason,
          f.shadow ?? d.shadow,
          refusedMetadata(f) ?? d.metadata,
        );

  /**
   * The dynamic metadata of a request refused after `f`'s filters: jwt_authn's payload once
   * it verified a token (the filter runs before the RBAC filters and the later rate limits,
   * and writes the payload as it passes the request on), and what the RBAC filters wrote.
   */
  const refusedMetadata = (f: Flow): DynamicMetadata | null =>
    f.jwt !== null && f.jwt.kind === 'ok' ? mergeMetadata(jwtMetadata(f.jwt.claims), f.metadata) : f.metadata;

  /** The local rate limit filters at `position`: a 429, or null with their edits kept. */
  const limit = (f: Flow, position: RateLimitPosition): InboundDecision | null => {
    if (!f.c.rateLimited || !f.c.rateLimiter.has(position)) return null;
    const stage = f.at.stage;
    f.at.stage = 'ratelimit';
    const rl = f.c.rateLimiter.check(f.req, position, () => descriptorRequest(f));
    if (rl.kind === 'limited')
      return denied(
        rl.status,
        RATE_LIMITED_BODY,
        { ...f.responseHeaders, ...rl.headers },
        ['RL'],
        { stage: 'ratelimit', policy: rl.filter, detail: 'local rate limit token bucket is empty' },
        f.shadow ?? undefined,
        refusedMetadata(f),
      );
    if (rl.requestHeaders !== null) {
      const added: HeaderEdits = {};
      for (const k in rl.requestHeaders) added[k.toLowerCase()] = rl.requestHeaders[k];
      if (f.jwt === null) f.edits = { ...f.edits, ...added };
      else f.lateEdits = { ...f.lateEdits, ...added };
    }
    if (rl.responseHeaders !== null) f.responseHeaders = { ...f.responseHeaders, ...rl.responseHeaders };
    f.at.stage = stage;
    return null;
  };

  /**
   * The request as a rate limit filter at this point of the chain reads it; null when it has
   * no route entry, where Envoy's filters build no descriptor (ratelimit.cc initiateCall and
   * local_ratelimit.cc populateDescriptors return early). A sidecar's inbound route always
   * goes to `inbound|<port>||`; a gateway's is the one its routes pick for the request as it
   * is here (the connection manager picks it before the filters, conn_manager_impl.cc).
   */
  const descriptorRequest = (f: Flow): (DescriptorRequest & { port: number }) | null => {
    const edits =
      f.edits === null && f.lateEdits === null && f.jwt === null
        ? null
        : netEdits(f.edits, f.jwt ?? NO_TOKEN, f.lateEdits);
    const headers = edits === null ? f.req.headers : withEdits(f.req, edits, f.url).headers;
    let destinationCluster: string | null = `inbound|${f.req.port}||`;
    if (f.plan.inbound.gateway) {
      const route = f.req.gatewayRoute;
      const target =
        route === undefined
          ? { cluster: null }
          : route({
              method: f.req.method,
              scheme: f.req.scheme,
              authority: f.req.authority,
              path: f.url,
              headers,
              claims: f.jwt !== null && f.jwt.kind === 'ok' ? f.jwt.claims : null,
            });
      if (target === null) return null;
      destinationCluster = target.cluster;
    }
    return {
      method: f.req.method,
      url: f.url,
      authority: f.req.authority,
      scheme: f.req.scheme,
      headers,
      sourceIp: f.req.sourceIp,
      destinationCluster,
      localCluster: f.c.serviceCluster,
      numTrustedProxies: f.plan.meshConfig.numTrustedProxies,
      gateway: f.plan.inbound.gateway,
      port: f.req.port,
    };
  };

  /**
   * The global rate limit filters at `position` (ratelimit/global-rate-limit.ts): null when
   * none sends a descriptor; else the refusal, or null with their edits kept, once the
   * service answered. Between two of meshlet's stages the local filters run first, then the
   * global ones: a global filter patched in before a local one at the same place is asked
   * after it (each kind keeps its own chain order).
   */
  const globalLimit = (f: Flow, position: RateLimitPosition): Promise<InboundDecision | null> | null => {
    const g = f.c.globalLimiter;
    if (g === null || !g.has(position)) return null;
    const described = descriptorRequest(f);
    if (described === null) return null;
    const pending = g.check(described, position);
    if (pending === null) return null;
    const stage = f.at.stage;
    f.at.stage = 'ratelimit';
    return pending.then((out) => {
      if (out.kind === 'limited')
        return denied(
          out.status,
          out.body,
          { ...f.responseHeaders, ...out.headers },
          [out.flag],
          {
            stage: 'ratelimit',
            policy: out.filter,
            detail: out.detail,
            responseCodeDetails: out.responseCodeDetails,
          },
          f.shadow ?? undefined,
          refusedMetadata(f),
        );
      if (out.requestHeaders !== null) {
        const added: HeaderEdits = {};
        for (const k in out.requestHeaders) added[k.toLowerCase()] = out.requestHeaders[k];
        if (f.jwt === null) f.edits = { ...f.edits, ...added };
        else f.lateEdits = { ...f.lateEdits, ...added };
      }
      if (out.responseHeaders !== null) f.responseHeaders = { ...f.responseHeaders, ...out.responseHeaders };
      f.at.stage = stage;
      return null;
    });
  };

  // Synchronous until a stage really waits (a JWT check, a CUSTOM provider): every promise
  // costs the request a microtask, and more while telemetry's async context tracking is on.
  // The order is the chain istiod builds (listener_builder.go): CUSTOM (ext_authz), then
  // jwt_authn, then the AUDIT, DENY and ALLOW RBAC filters; local rate limits wherever their
  // EnvoyFilter put them (compile/inbound-filter-chain.ts).
  const run = (request: InboundRequest, at: Stage): Pending => {
    // The codec refuses a request with too large or too many headers before the connection
    // manager. (It checks the size as each header arrives and the count as each completes,
    // so a request over both limits may be refused for either; this says its size.)
    const tooLarge = headerSizeProblem(request);
    if (tooLarge !== null)
      return denied(431, TOO_MANY_HEADERS_BODY, CLOSE_CONNECTION, ['DPE'], {
        stage: 'codec',
        policy: null,
        detail: tooLarge,
        responseCodeDetails: 'http1.headers_too_large',
      });
    const tooMany = headerCountProblem(request);
    if (tooMany !== null)
      return denied(431, TOO_MANY_HEADERS_BODY, CLOSE_CONNECTION, ['DPE'], {
        stage: 'codec',
        policy: null,
        detail: tooMany,
        responseCodeDetails: 'http1.too_many_headers',
      });
    const badCoding = transferEncodingProblem(request);
    if (badCoding !== null)
      return denied(501, NOT_IMPLEMENTED_BODY, CLOSE_CONNECTION, ['DPE'], {
        stage: 'codec',
        policy: null,
        detail: badCoding,
        responseCodeDetails: 'http1.invalid_transfer_encoding',
      });
    const plan = options.getPlan();
    // The connection manager answers HTTP/1.0 before anything else it does with the headers,
    // unless istiod set accept_http_10 (conn_manager_impl.cc decodeHeaders; compile/http10.ts).
    if (request.httpVersion === '1.0' && plan.inbound.acceptHttp10 === false)
      return denied(426, '', EMPTY, [], {
        stage: 'connection',
        policy: null,
        detail: 'HTTP/1.0, which the listener does not accept (PILOT_HTTP10, ISTIO_META_HTTP10)',
        responseCodeDetails: 'low_version',
      });
    const badUpgrade = upgradeProblem(request);
    if (badUpgrade !== null)
      return denied(403, '', EMPTY, [], {
        stage: 'connection',
        policy: null,
        detail: badUpgrade,
        responseCodeDetails: 'upgrade_failed',
      });
    const c = compiledFor(plan);
    // The connection manager's own edits come before every filter.
    let req = request;
    const cleaned = cleanedHeadersOf(req.headers, plan.inbound.gateway);
    if (cleaned !== null) {
      req = withoutCleaned(req, cleaned);
      at.cleaned = cleaned;
    }
    const proto = forwardedProtoOf(req, plan);
    req = withForwardedProto(req, proto);
    if (proto.set !== null) (at.set ??= {})[FORWARDED_PROTO] = proto.set;
    const forwardedPort = forwardedPortOf(req, plan);
    if (forwardedPort !== null) {
      req = withRequestHeader(req, FORWARDED_PORT, forwardedPort);
      (at.set ??= {})[FORWARDED_PORT] = forwardedPort;
    }
    const referer = joinedRefererOf(req.headers);
    if (referer !== null) {
      req = withRequestHeader(req, REFERER, referer);
      (at.set ??= {})[REFERER] = referer;
    }

    const badMethod = methodProblem(req.method);
    if (badMethod !== null)
      return denied(400, '', EMPTY, [], { stage: 'normalize', policy: null, detail: badMethod });
    const target = normalizeTarget(req.url, plan.meshConfig.pathNormalization);
    if (!target.ok)
      return denied(target.status, '', EMPTY, [], {
        stage: 'connection',
        policy: null,
        detail: target.detail,
        responseCodeDetails: target.details,
      });
    const url = target.path + target.query;
    const f: Flow = {
      req,
      at,
      plan,
      c,
      path: target.path,
      normalizedReq: url === req.url ? req : { ...req, url },
      url,
      edits: null,
      lateEdits: null,
      jwt: null,
      responseHeaders: null,
      ext: null,
      shadow: null,
      metadata: null,
    };
    const limited = limit(f, 'beforeCustom');
    if (limited !== null) return limited;
    const global = globalLimit(f, 'beforeCustom');
    if (global !== null) return global.then((d) => d ?? customStage(f));
    return customStage(f);
  };

  const customStage = (f: Flow): Pending => {
    f.at.stage = 'custom';
    if (f.c.custom.length === 0) return afterCustom(f);
    return custom(f).then((d) => d ?? afterCustom(f));
  };

  /**
   * AuthorizationPolicy CUSTOM: at most one ext_authz check per provider and request, in
   * provider-name order, each on the request as the earlier checks left it; null when every
   * check asked allowed (several providers: istio authz/builder builder.go buildHTTP).
   */
  const custom = async (f: Flow): Promise<InboundDecision | null> => {
    const { c } = f;
    const input = new RequestAuthzInput(
      f.req,
      f.path,
      f.edits,
      null,
      f.plan.meshConfig.numTrustedProxies,
      f.plan.inbound.gateway,
    );
    const shadow: ShadowResult[] = [];
    let allowed: CustomAllow | null = null;
    /** The provider `allowed` came from: the next provider's policies are asked again. */
    let allowedBy: string | null = null;
    let authzInput: AuthzInput = input;
    const list = c.custom;
    /** The CUSTOM policies of the provider whose filters the request is at. */
    let group: readonly CompiledPolicy[] = [];
    for (let i = 0; i < list.length; i++) {
      const custom = list[i] as CustomPolicy;
      const { policy, provider } = custom;
      const providerName = policy.provider ?? '';
      // A provider's policies start: its shadow RBAC filter runs, on the request as the
      // providers before it left it.
      if (custom.group !== null) group = custom.group;
      if (custom.group !== null && !('problem' in provider)) {
        const matched = customMatchId(providerName, group, authzInput);
        f.metadata = mergeMetadata(f.metadata, customShadowMetadata(matched));
        options.rbacStats?.custom(f.req.port, matched !== null);
      } else if (custom.group !== null && options.rbacStats !== undefined) {
        // The provider istiod cannot use: its RBAC deny filter runs here instead, and counts.
        options.rbacStats.badCustom(f.req.port, customMatchId(providerName, group, authzInput) !== null);
      }
      if (policy.match(authzInput) < 0) continue;
      // istiod's webhook refuses istio.io/dry-run on a CUSTOM policy (validation.go
      // checkDryRunAnnotation), and so does config load; a plan built otherwise has it reported,
      // never enforced or checked. (istiod's 1.30 builder would put it in the enforcing `rules`
      // of a DENY RBAC filter, authz/builder builder.go buildHTTP: not followed here.)
      if (policy.dryRun) {
        shadow.push({ policy: policy.name, action: 'CUSTOM', result: 'audit' });
        f.shadow = shadow;
        continue;
      }
      if ('problem' in provider)
        return refuse(
          f,
          denied(403, RBAC_DENIED_BODY, EMPTY, [], {
            stage: 'custom',
            policy: policy.name,
            detail: `CUSTOM policy fails closed: ${provider.problem}`,
            // istiod turns the provider's policies into an RBAC deny whose policies carry this
            // suffix (authz/builder builder.go getBadCustomDenyRules, extauthz.go); Envoy
            // names the least matching one.
            responseCodeDetails: rbacDeniedDetails(
              `${customMatchId(providerName, group, authzInput) ?? ''}-deny-due-to-bad-CUSTOM-action`,
            ),
          }),
        );
      if (allowedBy === providerName) continue;
      // ext_authz runs before jwt_authn (listener_builder.go): the check carries the token as
      // sent and none of RequestAuthentication's output headers (istio/istio#35941).
      const checked = f.edits === null ? f.normalizedReq : withEdits(f.normalizedReq, f.edits, f.url);
      let body: BodyPrefix | null = null;
      // Envoy buffers a body for ext_authz only when the headers did not end the stream.
      if (provider.body !== null && checked.bodyStream !== undefined && declaresBody(checked.headers)) {
        body = await readBodyPrefix(checked.bodyStream, provider.body.maxRequestBytes);
        // Envoy's buffer limit answers before any check, failOpen or not (istio/api
        // EnvoyExternalAuthorizationRequestBody.max_request_bytes).
        if (body.truncated && !provider.body.allowPartialMessage)
          return refuse(
            f,
            denied(413, PAYLOAD_TOO_LARGE_BODY, EMPTY, [], {
              stage: 'custom',
              policy: policy.name,
              detail: `the request body is larger than includeRequestBodyInCheck.maxRequestBytes (${provider.body.maxRequestBytes}) and allowPartialMessage is false`,
              // The connection manager's buffer limit answers (ext_authz setDecoderBufferLimit).
              responseCodeDetails: 'request_payload_too_large',
            }),
          );
      }
      const r = options.extAuthz
        ? await options.extAuthz(provider, checked, f.url)
        : provider.kind === 'grpc'
          ? await checkExtAuthzGrpc(provider, checked, f.url, body, {
              clients: grpcClients,
              upstream: options.upstream ?? null,
              clock: options.clock,
              localPrincipal: c.localPrincipal,
              tracer,
            })
          : await checkExtAuthz(provider, checked, f.url, body, {
              send: checkSend,
              clock: options.clock,
              tracer,
            });
      if (r.kind === 'deny')
        return refuse(
          f,
          denied(r.status, r.body, r.headers, ['UAEX'], {
            stage: 'custom',
            policy: policy.name,
            detail: r.detail,
            responseCodeDetails: r.failed === true ? 'ext_authz_error' : 'ext_authz_denied',
          }),
        );
      allowed =
        allowed === null
          ? r
          : { ...r, responseHeaders: mergeHeaders(allowed.responseHeaders, r.responseHeaders) };
      allowedBy = providerName;
      if (r.removeHeaders.length > 0 || Object.keys(r.setHeaders).length > 0) {
        const edits: HeaderEdits = {};
        for (const h of r.removeHeaders) edits[h.toLowerCase()] = undefined;
        for (const k in r.setHeaders) edits[k.toLowerCase()] = r.setHeaders[k];
        authzInput = input.withOverlay(edits);
        f.edits = { ...f.edits, ...edits };
      }
      if (r.url !== null) f.url = r.url;
    }
    f.ext = allowed;
    return null;
  };

  /** RequestAuthentication, on the request as CUSTOM left it (its header and query edits). */
  const afterCustom = (f: Flow): Pending => {
    const limited = limit(f, 'beforeJwt');
    if (limited !== null) return limited;
    const global = globalLimit(f, 'beforeJwt');
    if (global !== null) return global.then((d) => d ?? jwtStage(f));
    return jwtStage(f);
  };

  const jwtStage = (f: Flow): Pending => {
    f.at.stage = 'jwt';
    const rules = f.plan.inbound.jwtRules;
    if (rules.length === 0) return afterJwt(f, NO_TOKEN);
    const req =
      f.edits === null
        ? f.url === f.normalizedReq.url
          ? f.normalizedReq
          : { ...f.normalizedReq, url: f.url }
        : withEdits(f.normalizedReq, f.edits, f.url);
    const jwt = options.jwt.authenticateNow
      ? options.jwt.authenticateNow(rules, req)
      : options.jwt.authenticate(rules, req);
    if (jwt instanceof Promise) return jwt.then((j) => afterJwt(f, j));
    return afterJwt(f, jwt);
  };

  const afterJwt = (f: Flow, jwt: JwtResult): Pending => {
    if (jwt.kind === 'deny')
      return refuse(
        f,
        denied(jwt.status, jwt.body, jwt.headers, [], {
          stage: 'jwt',
          policy: null,
          detail: `RequestAuthentication refused the token: ${jwt.body}`,
          // jwt_authn filter.cc generateRcDetails: the status text, whitespace as `_`.
          responseCodeDetails: `jwt_authn_access_denied{${jwt.body.replace(/\s/g, '_')}}`,
        }),
      );
    f.jwt = jwt;
    // A query-parameter token jwt_authn does not forward leaves the URL the checks and app see.
    if (jwt.kind === 'ok' && jwt.removeParams !== undefined)
      f.url = withoutQueryParams(f.url, jwt.removeParams);
    const limited = limit(f, 'beforeRbac');
    if (limited !== null) return limited;
    const global = globalLimit(f, 'beforeRbac');
    if (global !== null) return global.then((d) => d ?? rbacStage(f, jwt));
    return rbacStage(f, jwt);
  };

  const rbacStage = (f: Flow, jwt: JwtResult): Pending => {
    const view = jwt.kind === 'ok' ? jwtView(jwt) : null;
    // The headers authorization reads are the ones the filters before it left: a token's
    // output headers, the forged ones jwt_authn stripped, ext_authz's and rate limits' edits.
    const stripped = jwt.kind === 'none' && jwt.removeHeaders !== undefined;
    const input = new RequestAuthzInput(
      // `:path` as RBAC sees it: with the query edits of ext_authz and jwt_authn (a token
      // taken from a query parameter and not forwarded is gone; envoy 1.31
      // jwt_authn_remove_jwt_from_query_params).
      f.url === f.req.url ? f.req : { ...f.req, url: f.url },
      f.path,
      f.edits === null && f.lateEdits === null && !stripped
        ? (view?.overlay ?? null)
        : authzOverlay(netEdits(f.edits, jwt, f.lateEdits), jwt),
      jwt.kind === 'ok' ? jwt.claims : null,
      f.plan.meshConfig.numTrustedProxies,
      f.plan.inbound.gateway,
    );
    return authorize(f, input, jwt, view);
  };

  /** AUDIT, DENY, then ALLOW; an allow carries the header edits of every earlier stage. */
  const authorize = (f: Flow, input: AuthzInput, jwt: JwtResult, view: JwtView | null): Pending => {
    f.at.stage = 'deny';
    const rbac = f.c.rbac(input);
    options.rbacStats?.rbac(f.req.port, f.c.authz, rbac);
    // The RBAC filters report as a request passes them, whether or not one refuses it.
    if (rbac.shadow.length > 0) f.shadow = f.shadow === null ? rbac.shadow : [...f.shadow, ...rbac.shadow];
    if (rbac.metadata !== null) f.metadata = mergeMetadata(f.metadata, rbac.metadata);
    if (!rbac.allow) {
      const refusal = (): InboundDecision =>
        refuse(
          f,
          denied(403, RBAC_DENIED_BODY, EMPTY, [], {
            stage: rbac.stage,
            policy: rbac.policy,
            detail: rbac.detail,
            responseCodeDetails: rbac.responseCodeDetails,
          }),
        );
      if (rbac.stage !== 'allow') return refusal();
      // A rate limit between the DENY and ALLOW filters runs before ALLOW refuses.
      const limited = limit(f, 'beforeAllow');
      if (limited !== null) return limited;
      const global = globalLimit(f, 'beforeAllow');
      return global === null ? refusal() : global.then((d) => d ?? refusal());
    }
    const limited = limit(f, 'beforeAllow');
    if (limited !== null) return limited;
    const global = globalLimit(f, 'beforeAllow');
    if (global !== null) return global.then((d) => d ?? routerStage(f, jwt, view, rbac));
    return routerStage(f, jwt, view, rbac);
  };

  const routerStage = (f: Flow, jwt: JwtResult, view: JwtView | null, rbac: RbacOutcome): Pending => {
    const limited = limit(f, 'beforeRouter');
    if (limited !== null) return limited;
    const global = globalLimit(f, 'beforeRouter');
    if (global !== null) return global.then((d) => d ?? allowed(f, jwt, view, rbac));
    return allowed(f, jwt, view, rbac);
  };

  /** The allow: it carries the header edits of every stage. */
  const allowed = (f: Flow, jwt: JwtResult, view: JwtView | null, rbac: RbacOutcome): InboundDecision => {
    const ext = f.ext;
    let removeHeaders: readonly string[];
    let setHeaders: Readonly<Record<string, string>>;
    if (f.edits === null && f.lateEdits === null) {
      removeHeaders = jwtRemovals(jwt);
      setHeaders = jwtSets(jwt);
    } else {
      const net = netEdits(f.edits, jwt, f.lateEdits);
      const removed: string[] = [];
      const set: Record<string, string> = {};
      for (const k in net) {
        const v = net[k];
        if (v === undefined) removed.push(k);
        else set[k] = v;
      }
      removeHeaders = removed;
      setHeaders = set;
    }
    // A fresh decision per request, typed readonly and not frozen: freezing two objects on
    // every request cost more than the rest of this function. The context the app sees
    // is shared (and frozen) when it carries no mTLS peer.
    return {
      allow: true,
      url: f.url,
      context: contextOf(f.req.peer, view),
      removeHeaders,
      setHeaders,
      responseHeaders: mergeHeaders(f.responseHeaders, ext?.responseHeaders),
      shadow: f.shadow ?? rbac.shadow,
      metadata: f.metadata,
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
