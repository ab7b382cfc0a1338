import { z } from 'zod';
import { duration, stringMap, uint } from '../validate/fields.js';
import {
  atMostOne,
  destination,
  headers,
  percent,
  plainPercent,
  stringMatch,
  stringMatchSchema,
} from './networking-common.js';

/** Shape of a VirtualService `spec` (istio/api networking/v1alpha3/virtual_service.proto). */

/** HTTPMatchRequest: every field of one `match` entry (fields AND'd, entries OR'd). */
export const httpMatchRequest = z.strictObject({
  name: z.string().optional(),
  uri: stringMatch.optional(),
  scheme: stringMatch.optional(),
  method: stringMatch.optional(),
  authority: stringMatch.optional(),
  headers: z.record(z.string(), stringMatch).optional(),
  port: uint().optional(),
  sourceLabels: stringMap().optional(),
  gateways: z.array(z.string()).optional(),
  queryParams: z.record(z.string(), stringMatch).optional(),
  ignoreUriCase: z.boolean().optional(),
  withoutHeaders: z.record(z.string(), stringMatchSchema({ allowStarRegex: true })).optional(),
  sourceNamespace: z.string().optional(),
  statPrefix: z.string().optional(),
});
export type HTTPMatchRequest = z.infer<typeof httpMatchRequest>;

/** HTTPRouteDestination `{ destination, weight, headers }`. */
export const httpRouteDestination = z.strictObject({
  destination,
  weight: z.number().int().optional(),
  headers: headers.optional(),
});
export type HTTPRouteDestination = z.infer<typeof httpRouteDestination>;

/** RouteDestination (tcp/tls) `{ destination, weight }`. */
export const routeDestination = z.strictObject({ destination, weight: z.number().int().optional() });
export type RouteDestination = z.infer<typeof routeDestination>;

/** HTTPRedirect; `port` and `derivePort` are a oneof. */
export const httpRedirect = z
  .strictObject({
    uri: z.string().optional(),
    authority: z.string().optional(),
    port: uint().optional(),
    derivePort: z.enum(['FROM_PROTOCOL_DEFAULT', 'FROM_REQUEST_PORT']).optional(),
    scheme: z.string().optional(),
    redirectCode: uint().optional(),
    prefixRewrite: z.string().optional(),
  })
  .superRefine(atMostOne(['port', 'derivePort']));
export type HTTPRedirect = z.infer<typeof httpRedirect>;

/** HTTPBody: one of `string`, `bytes` (base64). */
export const httpBody = z
  .strictObject({ string: z.string().optional(), bytes: z.base64().optional() })
  .superRefine(atMostOne(['string', 'bytes']));

/** HTTPDirectResponse `{ status, body }`. */
export const httpDirectResponse = z.strictObject({ status: uint(), body: httpBody.optional() });
export type HTTPDirectResponse = z.infer<typeof httpDirectResponse>;

/** Delegate `{ name, namespace }`. */
export const delegate = z.strictObject({ name: z.string().optional(), namespace: z.string().optional() });
export type Delegate = z.infer<typeof delegate>;

/** RegexRewrite `{ match, rewrite }`. */
export const regexRewrite = z.strictObject({ match: z.string().optional(), rewrite: z.string().optional() });

/** HTTPRewrite `{ uri, authority, uriRegexRewrite }`. */
export const httpRewrite = z.strictObject({
  uri: z.string().optional(),
  authority: z.string().optional(),
  uriRegexRewrite: regexRewrite.optional(),
});
export type HTTPRewrite = z.infer<typeof httpRewrite>;

/** HTTPRetry. `retryRemoteLocalities`/`retryIgnorePreviousHosts` are BoolValue wrappers. */
export const httpRetry = z.strictObject({
  attempts: z.number().int().optional(),
  perTryTimeout: duration().optional(),
  retryOn: z.string().optional(),
  retryRemoteLocalities: z.boolean().optional(),
  retryIgnorePreviousHosts: z.boolean().optional(),
  backoff: duration().optional(),
});
export type HTTPRetry = z.infer<typeof httpRetry>;

/** HTTPFaultInjection.Delay: one of `fixedDelay`, `exponentialDelay`; `percent` is the deprecated int. */
export const faultDelay = z
  .strictObject({
    fixedDelay: duration().optional(),
    exponentialDelay: duration().optional(),
    percent: z.number().int().optional(),
    percentage: percent.optional(),
  })
  .superRefine(atMostOne(['fixedDelay', 'exponentialDelay']));
export type HTTPFaultDelay = z.infer<typeof faultDelay>;

/** HTTPFaultInjection.Abort: one of `httpStatus`, `grpcStatus`, `http2Error`. */
export const faultAbort = z
  .strictObject({
    httpStatus: z.number().int().optional(),
    grpcStatus: z.string().optional(),
    http2Error: z.string().optional(),
    percentage: percent.optional(),
  })
  .superRefine(atMostOne(['httpStatus', 'grpcStatus', 'http2Error']));
export type HTTPFaultAbort = z.infer<typeof faultAbort>;

/** HTTPFaultInjection `{ delay, abort }`. */
export const httpFaultInjection = z.strictObject({
  delay: faultDelay.optional(),
  abort: faultAbort.optional(),
});
export type HTTPFaultInjection = z.infer<typeof httpFaultInjection>;

/** HTTPMirrorPolicy `{ destination, percentage }`. */
export const httpMirrorPolicy = z.strictObject({ destination, percentage: plainPercent.optional() });
export type HTTPMirrorPolicy = z.infer<typeof httpMirrorPolicy>;

/** CorsPolicy; `allowOrigin` is the deprecated exact-string list. */
export const corsPolicy = z.strictObject({
  allowOrigin: z.array(z.string()).optional(),
  allowOrigins: z.array(stringMatch).optional(),
  allowMethods: z.array(z.string()).optional(),
  allowHeaders: z.array(z.string()).optional(),
  exposeHeaders: z.array(z.string()).optional(),
  maxAge: duration().optional(),
  allowCredentials: z.boolean().optional(),
  unmatchedPreflights: z.enum(['UNSPECIFIED', 'FORWARD', 'IGNORE']).optional(),
});
export type CorsPolicy = z.infer<typeof corsPolicy>;

/** HTTPRoute: one rule of `spec.http`. */
export const httpRoute = z.strictObject({
  name: z.string().optional(),
  match: z.array(httpMatchRequest).optional(),
  route: z.array(httpRouteDestination).optional(),
  redirect: httpRedirect.optional(),
  directResponse: httpDirectResponse.optional(),
  delegate: delegate.optional(),
  rewrite: httpRewrite.optional(),
  timeout: duration().optional(),
  retries: httpRetry.optional(),
  fault: httpFaultInjection.optional(),
  mirror: destination.optional(),
  mirrors: z.array(httpMirrorPolicy).optional(),
  /** Deprecated UInt32Value; `mirror_percent` is the proto name the CRD also accepts. */
  mirrorPercent: uint().optional(),
  mirror_percent: uint().optional(),
  mirrorPercentage: plainPercent.optional(),
  corsPolicy: corsPolicy.optional(),
  headers: headers.optional(),
});
export type HTTPRoute = z.infer<typeof httpRoute>;

/** L4MatchAttributes: a `tcp[].match` entry. */
export const l4MatchAttributes = z.strictObject({
  destinationSubnets: z.array(z.string()).optional(),
  port: uint().optional(),
  sourceSubnet: z.string().optional(),
  sourceLabels: stringMap().optional(),
  gateways: z.array(z.string()).optional(),
  sourceNamespace: z.string().optional(),
});
export type L4MatchAttributes = z.infer<typeof l4MatchAttributes>;

/** TLSMatchAttributes: a `tls[].match` entry; `sniHosts` is required. */
export const tlsMatchAttributes = z.strictObject({
  sniHosts: z.array(z.string()),
  destinationSubnets: z.array(z.string()).optional(),
  port: uint().optional(),
  sourceLabels: stringMap().optional(),
  gateways: z.array(z.string()).optional(),
  sourceNamespace: z.string().optional(),
});
export type TLSMatchAttributes = z.infer<typeof tlsMatchAttributes>;

/** TCPRoute. */
export const tcpRoute = z.strictObject({
  match: z.array(l4MatchAttributes).optional(),
  route: z.array(routeDestination).optional(),
});
export type TCPRoute = z.infer<typeof tcpRoute>;

/** TLSRoute; `match` is required. */
export const tlsRoute = z.strictObject({
  match: z.array(tlsMatchAttributes),
  route: z.array(routeDestination).optional(),
});
export type TLSRoute = z.infer<typeof tlsRoute>;

/** VirtualService `spec`. */
export const virtualServiceSpec = z.strictObject({
  hosts: z.array(z.string()).optional(),
  gateways: z.array(z.string()).optional(),
  http: z.array(httpRoute).optional(),
  tls: z.array(tlsRoute).optional(),
  tcp: z.array(tcpRoute).optional(),
  exportTo: z.array(z.string()).optional(),
});
export type VirtualServiceSpec = z.infer<typeof virtualServiceSpec>;
