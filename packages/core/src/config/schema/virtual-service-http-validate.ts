import type { FieldPath } from '../diagnostic.js';
import type { ValidationContext } from '../validate/context.js';
import { parseGoDuration } from '../validate/duration.js';
import { checkRe2 } from '../validate/regex.js';
import {
  checkPort,
  deprecatedReplaced,
  isAuthorityHeader,
  isIstioDnsLabel,
  validateDestination,
  validateGatewayNames,
  validateHeaderOperations,
  validateLabels,
} from './networking-common-rules.js';
import type { StringMatch } from './networking-common.js';
import { GRPC_STATUS_CODES } from './virtual-service-grpc-status.js';
import { validateRetry } from './virtual-service-retry.js';
import type {
  CorsPolicy,
  HTTPDirectResponse,
  HTTPFaultInjection,
  HTTPMatchRequest,
  HTTPRedirect,
  HTTPRewrite,
  HTTPRoute,
  HTTPRouteDestination,
} from './virtual-service.js';

/**
 * Webhook rules for one `spec.http[i]` rule, after istio
 * pkg/config/validation/virtualservice.go `validateHTTPRoute` and validation.go.
 */

const CORS_METHODS: ReadonlySet<string> = new Set([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'PATCH',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  '*',
]);

const TOKEN_HEADER = /^[!#$%&'*+\-.^_`|~A-Za-z0-9]+$/;
const PSEUDO_HEADERS: ReadonlySet<string> = new Set([':method', ':scheme', ':authority', ':path', ':status']);

/** `@request.auth.claims.x` / `@request.auth.claims[x]` (istio pkg/jwt ToRoutingClaim). */
export function isJwtClaimRoute(name: string): boolean {
  return name.startsWith('@request.auth.claims.') || name.startsWith('@request.auth.claims[');
}

function checkMatchHeaderName(name: string): string | null {
  if (name === '') return 'header name cannot be empty';
  if (isJwtClaimRoute(name) || PSEUDO_HEADERS.has(name)) return null;
  return TOKEN_HEADER.test(name) ? null : `header name ${name} is not a valid header name`;
}

function checkNonEmptyPrefix(sm: StringMatch | undefined, where: string): string | null {
  return sm?.prefix === '' ? `${JSON.stringify(where)}: prefix string match should not be empty` : null;
}

function validateMatch(m: HTTPMatchRequest, path: FieldPath, ctx: ValidationContext): void {
  for (const [key, where] of [
    ['headers', 'headers'],
    ['withoutHeaders', 'withoutHeaders'],
    ['queryParams', 'queryParams'],
  ] as const) {
    for (const [name, sm] of Object.entries(m[key] ?? {})) {
      if (key !== 'queryParams') {
        const problem = checkMatchHeaderName(name);
        if (problem !== null) ctx.error([...path, key, name], problem);
      }
      const prefix = checkNonEmptyPrefix(sm, where);
      if (prefix !== null) ctx.error([...path, key, name, 'prefix'], prefix);
    }
  }
  // uri allows an empty prefix (Envoy's route prefix); scheme/method/authority do not.
  for (const key of ['scheme', 'method', 'authority'] as const) {
    const problem = checkNonEmptyPrefix(m[key], key);
    if (problem !== null) ctx.error([...path, key, 'prefix'], problem);
  }
  if (m.port !== undefined && m.port !== 0) {
    const problem = checkPort(m.port);
    if (problem !== null) ctx.error([...path, 'port'], problem);
  }
  validateLabels(m.sourceLabels, [...path, 'sourceLabels'], ctx);
  validateGatewayNames(m.gateways, [...path, 'gateways'], ctx);
  if (m.sourceNamespace !== undefined && m.sourceNamespace !== '' && !isIstioDnsLabel(m.sourceNamespace)) {
    ctx.error([...path, 'sourceNamespace'], `sourceNamespace match ${m.sourceNamespace} is invalid`);
  }
}

function validateConflicts(r: HTTPRoute, path: FieldPath, ctx: ValidationContext, inDelegate: boolean): void {
  const at = (field: string): FieldPath => [...path, field];
  if (!inDelegate && r.delegate !== undefined) {
    if (r.redirect !== undefined)
      ctx.error(at('redirect'), `root HTTP route ${r.name ?? ''} must not specify redirect`);
    if (r.route !== undefined)
      ctx.error(at('route'), `root HTTP route ${r.name ?? ''} must not specify route`);
    return;
  }
  if (inDelegate && r.delegate !== undefined)
    ctx.error(at('delegate'), 'delegate HTTP route cannot contain delegate');
  const hasRoute = (r.route?.length ?? 0) > 0;
  if (r.redirect !== undefined) {
    if (hasRoute) ctx.error(at('redirect'), 'HTTP route cannot contain both route and redirect');
    if (r.fault !== undefined) ctx.error(at('fault'), 'HTTP route cannot contain both fault and redirect');
    if (r.rewrite !== undefined)
      ctx.error(at('rewrite'), 'HTTP route rule cannot contain both rewrite and redirect');
    if (r.directResponse !== undefined) {
      ctx.error(at('directResponse'), 'HTTP route rule cannot contain both direct_response and redirect');
    }
  } else if (r.directResponse !== undefined) {
    if (hasRoute) ctx.error(at('directResponse'), 'HTTP route cannot contain both route and direct_response');
    if (r.fault !== undefined)
      ctx.error(at('fault'), 'HTTP route cannot contain both fault and direct_response');
    if (r.rewrite !== undefined) {
      ctx.error(at('rewrite'), 'HTTP route rule cannot contain both rewrite and direct_response');
    }
  } else if (!hasRoute) {
    ctx.error(path, 'HTTP route, redirect or direct_response is required');
  }
  if (r.mirror !== undefined && (r.mirrors?.length ?? 0) > 0) {
    ctx.error(at('mirrors'), 'HTTP route cannot contain both mirror and mirrors');
  }
}

function validateCors(cors: CorsPolicy | undefined, path: FieldPath, ctx: ValidationContext): void {
  if (cors === undefined) return;
  for (const [i, o] of (cors.allowOrigins ?? []).entries()) {
    const value = o.exact ?? o.prefix ?? o.regex ?? '';
    if (value === '')
      ctx.error([...path, 'allowOrigins', i], `'' is not a valid match type for CORS allow origins`);
  }
  for (const [i, m] of (cors.allowMethods ?? []).entries()) {
    if (!CORS_METHODS.has(m))
      ctx.error([...path, 'allowMethods', i], `${JSON.stringify(m)} is not a supported HTTP method`);
  }
  for (const key of ['allowHeaders', 'exposeHeaders'] as const) {
    for (const [i, name] of (cors[key] ?? []).entries()) {
      if (name === '') ctx.error([...path, key, i], 'header name cannot be empty');
      else if (name !== '*' && !TOKEN_HEADER.test(name)) {
        ctx.error([...path, key, i], `header name ${name} is not a valid header name`);
      }
    }
  }
  const maxAge = cors.maxAge === undefined ? null : parseGoDuration(cors.maxAge);
  if (maxAge !== null && maxAge % 1000 !== 0) {
    ctx.error([...path, 'maxAge'], 'max_age duration is accurate only to seconds precision');
  }
  if (cors.allowOrigin !== undefined) {
    ctx.warn(
      [...path, 'allowOrigin'],
      deprecatedReplaced('CorsPolicy.allowOrigin', 'CorsPolicy.allowOrigins'),
      'IST0002',
    );
  }
}

function validateFault(fault: HTTPFaultInjection | undefined, path: FieldPath, ctx: ValidationContext): void {
  if (fault === undefined) return;
  if (fault.abort === undefined && fault.delay === undefined) {
    ctx.error(path, 'HTTP fault injection must have an abort and/or a delay');
  }
  const abort = fault.abort;
  if (abort !== undefined) {
    const at: FieldPath = [...path, 'abort'];
    if (abort.grpcStatus !== undefined) {
      if (GRPC_STATUS_CODES[abort.grpcStatus] === undefined) {
        ctx.error(
          [...at, 'grpcStatus'],
          `gRPC status ${JSON.stringify(abort.grpcStatus)} is not supported. See https://github.com/grpc/grpc/blob/master/doc/statuscodes.md for a list of supported codes, for example 'NOT_FOUND'`,
        );
      }
    } else if (abort.http2Error !== undefined) {
      ctx.error([...at, 'http2Error'], 'HTTP/2 abort fault injection not supported yet');
    } else if (abort.httpStatus !== undefined) {
      // Istio tests `< 200 || > 600`, so 600 itself passes (validation.go validateHTTPStatus).
      if (abort.httpStatus < 200 || abort.httpStatus > 600) {
        ctx.error([...at, 'httpStatus'], `HTTP status ${abort.httpStatus} is not in range 200-599`);
      }
    } else {
      ctx.warn(at, 'abort configured, but error type not set');
    }
  }
  const delay = fault.delay;
  if (delay !== undefined) {
    if (delay.exponentialDelay !== undefined) {
      ctx.error([...path, 'delay', 'exponentialDelay'], 'exponentialDelay not supported yet');
    }
    if (delay.percent !== undefined) {
      ctx.warn(
        [...path, 'delay', 'percent'],
        deprecatedReplaced('HTTPRoute.fault.delay.percent', 'HTTPRoute.fault.delay.percentage'),
        'IST0002',
      );
    }
  }
}

function validateMirrors(r: HTTPRoute, path: FieldPath, ctx: ValidationContext): void {
  for (const key of ['mirrorPercent', 'mirror_percent'] as const) {
    const value = r[key];
    if (value === undefined) continue;
    if (value > 100)
      ctx.error([...path, key], `mirror_percent must have a max value of 100 (it has ${value})`);
    ctx.warn(
      [...path, key],
      deprecatedReplaced('HTTPRoute.mirrorPercent', 'HTTPRoute.mirrorPercentage'),
      'IST0002',
    );
  }
  const mp = r.mirrorPercentage?.value;
  if (mp !== undefined && mp > 100) {
    ctx.error(
      [...path, 'mirrorPercentage', 'value'],
      `mirror_percentage must have a max value of 100 (it has ${mp})`,
    );
  }
  if (mp !== undefined && mp < 0) {
    ctx.error(
      [...path, 'mirrorPercentage', 'value'],
      `mirror_percentage must have a min value of 0 (it has ${mp})`,
    );
  }
  validateDestination(r.mirror, [...path, 'mirror'], ctx);
  for (const [i, m] of (r.mirrors ?? []).entries()) {
    validateDestination(m.destination, [...path, 'mirrors', i, 'destination'], ctx);
    const v = m.percentage?.value;
    if (v !== undefined && v > 100) {
      ctx.error(
        [...path, 'mirrors', i, 'percentage', 'value'],
        `mirror percentage must have a max value of 100 (it has ${v})`,
      );
    }
    if (v !== undefined && v < 0) {
      ctx.error(
        [...path, 'mirrors', i, 'percentage', 'value'],
        `mirror percentage must have a min value of 0 (it has ${v})`,
      );
    }
  }
}

function validateRedirect(
  redirect: HTTPRedirect | undefined,
  matches: readonly HTTPMatchRequest[] | undefined,
  path: FieldPath,
  ctx: ValidationContext,
): void {
  if (redirect === undefined) return;
  // Istio returns the first problem only (validateHTTPRedirect).
  const first = ((): [FieldPath, string] | null => {
    const uri = redirect.uri ?? '';
    const prefixRewrite = redirect.prefixRewrite ?? '';
    if (uri !== '' && prefixRewrite !== '')
      return [path, 'redirect may only specify one of uri or prefix_rewrite'];
    if (
      prefixRewrite !== '' &&
      (matches ?? []).some((m) => m.uri !== undefined && m.uri.prefix === undefined)
    ) {
      return [
        [...path, 'prefixRewrite'],
        'redirect prefix_rewrite requires all URI matches to use prefix match type',
      ];
    }
    const hasPort = redirect.port !== undefined || redirect.derivePort !== undefined;
    if (
      uri === '' &&
      prefixRewrite === '' &&
      (redirect.authority ?? '') === '' &&
      !hasPort &&
      (redirect.scheme ?? '') === ''
    ) {
      return [path, 'redirect must specify URI, authority, scheme, or port'];
    }
    const code = redirect.redirectCode ?? 0;
    if (code !== 0 && (code < 300 || code > 399)) {
      return [[...path, 'redirectCode'], `${code} is not a valid redirect code, must be 3xx`];
    }
    const scheme = redirect.scheme ?? '';
    if (scheme !== '' && scheme !== 'http' && scheme !== 'https') {
      return [[...path, 'scheme'], 'invalid redirect scheme, must be "http" or "https"'];
    }
    if ((redirect.port ?? 0) > 0) {
      const problem = checkPort(redirect.port ?? 0);
      if (problem !== null) return [[...path, 'port'], problem];
    }
    return null;
  })();
  if (first !== null) ctx.error(first[0], first[1]);
}

function validateDirectResponse(
  dr: HTTPDirectResponse | undefined,
  path: FieldPath,
  ctx: ValidationContext,
): void {
  if (dr === undefined) return;
  const body = dr.body;
  if (body !== undefined) {
    const size =
      body.string !== undefined
        ? Buffer.byteLength(body.string)
        : body.bytes !== undefined
          ? Buffer.from(body.bytes, 'base64').length
          : 0;
    if (size > 1024 * 1024) {
      ctx.error(
        [...path, 'body'],
        'large direct_responses may impact control plane performance, must be less than 1MB',
      );
    } else if (size > 100 * 1024) {
      ctx.warn([...path, 'body'], 'large direct_responses may impact control plane performance');
    }
  }
  if (dr.status < 200 || dr.status > 600)
    ctx.error([...path, 'status'], `HTTP status ${dr.status} is not in range 200-599`);
}

function validateRewrite(rewrite: HTTPRewrite | undefined, path: FieldPath, ctx: ValidationContext): void {
  if (rewrite === undefined) return;
  const uri = rewrite.uri ?? '';
  const rr = rewrite.uriRegexRewrite;
  if (uri !== '' && rr !== undefined) {
    ctx.error(path, 'rewrite may only contain one of URI or UriRegexRewrite');
    return;
  }
  if (uri === '' && rr === undefined && (rewrite.authority ?? '') === '') {
    ctx.error(
      path,
      'rewrite must specify at least one of URI, UriRegexRewrite, or authority. Only one of URI or UriRegexRewrite may be specified',
    );
    return;
  }
  if (rr !== undefined) {
    if ((rr.match ?? '') === '' || (rr.rewrite ?? '') === '') {
      ctx.error(
        [...path, 'uriRegexRewrite'],
        'UriRegexRewrite requires both Rewrite and Match fields to be specified',
      );
    } else {
      const problem = checkRe2(rr.match ?? '');
      if (problem !== null)
        ctx.error([...path, 'uriRegexRewrite', 'match'], `UriRegexRewrite has errors: ${problem}`);
    }
  }
}

function validateAuthorityRewrite(r: HTTPRoute, path: FieldPath, ctx: ValidationContext): void {
  let current = r.rewrite?.authority ?? '';
  for (const op of ['set', 'add'] as const) {
    for (const [k, v] of Object.entries(r.headers?.request?.[op] ?? {})) {
      if (!isAuthorityHeader(k)) continue;
      if (current !== '') {
        ctx.error(
          [...path, 'headers', 'request', op, k],
          `authority header cannot be set multiple times: have ${JSON.stringify(current)}, attempting to set ${JSON.stringify(v)}`,
        );
        return;
      }
      current = v;
    }
  }
}

/** `validateHTTPRouteDestinations`: header ops, destination, weight >= 0, total > 0 with several. */
export function validateHttpDestinations(
  dests: readonly HTTPRouteDestination[] | undefined,
  path: FieldPath,
  ctx: ValidationContext,
): void {
  let total = 0;
  for (const [i, d] of (dests ?? []).entries()) {
    validateHeaderOperations(d.headers, [...path, i, 'headers'], ctx);
    validateDestination(d.destination, [...path, i, 'destination'], ctx);
    const w = d.weight ?? 0;
    if (w < 0) ctx.error([...path, i, 'weight'], `weight ${w} < 0`);
    total += w;
  }
  if ((dests?.length ?? 0) > 1 && total === 0) ctx.error(path, 'total destination weight = 0');
}

/** Every webhook rule of one HTTP route. `inDelegate` is true for a VirtualService without hosts. */
export function validateHttpRoute(
  r: HTTPRoute,
  path: FieldPath,
  ctx: ValidationContext,
  inDelegate: boolean,
): void {
  validateConflicts(r, path, ctx, inDelegate);
  for (const [i, m] of (r.match ?? []).entries()) validateMatch(m, [...path, 'match', i], ctx);
  validateHeaderOperations(r.headers, [...path, 'headers'], ctx);
  validateCors(r.corsPolicy, [...path, 'corsPolicy'], ctx);
  validateFault(r.fault, [...path, 'fault'], ctx);
  validateMirrors(r, path, ctx);
  validateRedirect(r.redirect, r.match, [...path, 'redirect'], ctx);
  validateDirectResponse(r.directResponse, [...path, 'directResponse'], ctx);
  validateRetry(r.retries, [...path, 'retries'], ctx);
  validateRewrite(r.rewrite, [...path, 'rewrite'], ctx);
  validateAuthorityRewrite(r, path, ctx);
  validateHttpDestinations(r.route, [...path, 'route'], ctx);
}
