import { suggest } from './validate/zod-issues.js';

/**
 * The `oneof provider` of istio/api mesh/v1alpha1/config.proto `ExtensionProvider`, as
 * YAML names each type, with the top-level fields of its message (proto JSON names).
 * Istio parses mesh config from its proto, so any other field is an error there.
 */
export const EXTENSION_PROVIDER_FIELDS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  envoyExtAuthzHttp: [
    'service',
    'port',
    'timeout',
    'pathPrefix',
    'failOpen',
    'clearRouteCache',
    'statusOnError',
    'includeHeadersInCheck',
    'includeRequestHeadersInCheck',
    'includeAdditionalHeadersInCheck',
    'includeRequestBodyInCheck',
    'headersToUpstreamOnAllow',
    'headersToDownstreamOnDeny',
    'headersToDownstreamOnAllow',
  ],
  envoyExtAuthzGrpc: [
    'service',
    'port',
    'timeout',
    'failOpen',
    'clearRouteCache',
    'statusOnError',
    'includeRequestBodyInCheck',
  ],
  zipkin: [
    'service',
    'port',
    'maxTagLength',
    'enable64bitTraceId',
    'path',
    'traceContextOption',
    'timeout',
    'headers',
  ],
  lightstep: ['service', 'port', 'accessToken', 'maxTagLength'],
  datadog: ['service', 'port', 'maxTagLength'],
  stackdriver: [
    'debug',
    'maxNumberOfAttributes',
    'maxNumberOfAnnotations',
    'maxNumberOfMessageEvents',
    'maxTagLength',
    'logging',
  ],
  opencensus: ['service', 'port', 'context', 'maxTagLength'],
  skywalking: ['service', 'port', 'accessToken'],
  opentelemetry: [
    'service',
    'port',
    'maxTagLength',
    'http',
    'grpc',
    'resourceDetectors',
    'serviceAttributeEnrichment',
    'dynatraceSampler',
  ],
  prometheus: [],
  envoyFileAccessLog: ['path', 'logFormat', 'omitEmptyValues'],
  envoyHttpAls: [
    'service',
    'port',
    'logName',
    'filterStateObjectsToLog',
    'additionalRequestHeadersToLog',
    'additionalResponseHeadersToLog',
    'additionalResponseTrailersToLog',
  ],
  envoyTcpAls: ['service', 'port', 'logName', 'filterStateObjectsToLog'],
  envoyOtelAls: ['service', 'port', 'logName', 'logFormat'],
  sds: ['name', 'service', 'port'],
});

/** A proto field name (`status_on_error`) as its JSON name (`statusOnError`). */
export function protoJsonName(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** `unknown field "x" in <where>`, with the closest known name as a suggestion. */
export function unknownFieldMessage(name: string, where: string, known: readonly string[]): string {
  const hint = suggest(name, known);
  return `unknown field ${JSON.stringify(name)} in ${where}${hint === null ? '' : ` (did you mean ${JSON.stringify(hint)}?)`}`;
}
