import { DIAGNOSTIC_CODES } from './diagnostic-codes.js';
import type { FieldPath } from './diagnostic.js';
import type { MeshConfig } from './mesh-config.js';
import {
  EXTENSION_PROVIDER_FIELDS,
  protoJsonName,
  unknownFieldMessage,
} from './extension-provider-fields.js';
import { parseGoDuration } from './validate/duration.js';
import type { Finding } from './validate/context.js';
import { isRecord } from './validate/is-record.js';

export type ExtAuthzProviderType = 'envoyExtAuthzHttp' | 'envoyExtAuthzGrpc';

const HEADER_LISTS = [
  'includeHeadersInCheck',
  'includeRequestHeadersInCheck',
  'headersToUpstreamOnAllow',
  'headersToDownstreamOnDeny',
  'headersToDownstreamOnAllow',
];

/**
 * envoy/type/v3/http_status.proto `StatusCode`: the values istio's
 * `validateExtensionProviderEnvoyExtAuthzStatusOnError` accepts (0, `Empty`, is
 * refused by Envoy's own `not_in: [0]` rule, so it is refused here too).
 */
const ENVOY_STATUS_CODES = new Set([
  100, 200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 307, 308, 400, 401,
  402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 421, 422, 423, 424, 426,
  428, 429, 431, 500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511,
]);

export function isExtAuthzProviderType(type: string): type is ExtAuthzProviderType {
  return type === 'envoyExtAuthzHttp' || type === 'envoyExtAuthzGrpc';
}

const BODY_FIELDS = ['maxRequestBytes', 'allowPartialMessage', 'packAsBytes'];

/** `includeRequestBodyInCheck` as read: Envoy's BufferSettings that istiod builds from it. */
export interface RequestBodySettings {
  readonly maxRequestBytes: number;
  readonly allowPartialMessage: boolean;
  readonly packAsBytes: boolean;
}

/**
 * `EnvoyExternalAuthorizationRequestBody`. Envoy's BufferSettings requires
 * `max_request_bytes > 0` (its proto validation), so a zero or missing value would be a
 * filter Envoy rejects: an error here. `packAsBytes` only applies to the gRPC provider
 * (istio/api says so), so it is Info on an HTTP provider.
 */
function readRequestBody(
  type: ExtAuthzProviderType,
  raw: unknown,
): { readonly value: RequestBodySettings | null; readonly findings: readonly Finding[] } {
  const findings: Finding[] = [];
  const error = (path: FieldPath, message: string) =>
    findings.push({ level: 'Error', code: DIAGNOSTIC_CODES.schema, path, message });
  if (!isRecord(raw)) {
    error([], 'expected an object { maxRequestBytes, allowPartialMessage, packAsBytes }');
    return { value: null, findings };
  }
  const v: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    const name = protoJsonName(key);
    if (BODY_FIELDS.includes(name)) v[name] = value;
    else error([key], unknownFieldMessage(key, 'includeRequestBodyInCheck', BODY_FIELDS));
  }
  const max = typeof v['maxRequestBytes'] === 'string' ? Number(v['maxRequestBytes']) : v['maxRequestBytes'];
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > 0xffffffff)
    error(
      ['maxRequestBytes'],
      `maxRequestBytes must be a whole number of bytes greater than 0 (Envoy's BufferSettings rule), got ${JSON.stringify(v['maxRequestBytes'] ?? 0)}`,
    );
  for (const flag of ['allowPartialMessage', 'packAsBytes'])
    if (v[flag] !== undefined && typeof v[flag] !== 'boolean')
      error([flag], `expected true or false, got ${JSON.stringify(v[flag])}`);
  if (type === 'envoyExtAuthzHttp' && v['packAsBytes'] === true)
    findings.push({
      level: 'Info',
      code: DIAGNOSTIC_CODES.unsupported,
      path: ['packAsBytes'],
      message:
        'packAsBytes only applies to envoyExtAuthzGrpc providers; an HTTP check carries the body as is',
    });
  if (findings.some((f) => f.level === 'Error')) return { value: null, findings };
  return {
    value: Object.freeze({
      maxRequestBytes: max as number,
      allowPartialMessage: v['allowPartialMessage'] === true,
      packAsBytes: v['packAsBytes'] === true,
    }),
    findings,
  };
}

/**
 * Reads an ext_authz provider's config as istiod does: snake_case or camelCase names
 * (proto JSON), then Istio's validation (pilot agent/extensionprovider.go and
 * authz/builder/extauthz.go): a port in 1-65535, a service, `statusOnError` an Envoy
 * status code, `pathPrefix` starting with `/`, no lone `*` in a header list, a Go
 * duration for `timeout`. Unknown fields are errors (istiod's proto parse rejects the
 * mesh config). `includeRequestBodyInCheck` is read into `RequestBodySettings`; the
 * deprecated `includeHeadersInCheck` is a warning (honoured when
 * `includeRequestHeadersInCheck` is unset, as istiod does). Paths are relative to the provider's config object.
 */
export function readExtAuthzConfig(
  type: ExtAuthzProviderType,
  raw: Readonly<Record<string, unknown>>,
): { readonly config: Readonly<Record<string, unknown>>; readonly findings: readonly Finding[] } {
  const findings: Finding[] = [];
  const error = (path: FieldPath, message: string) =>
    findings.push({ level: 'Error', code: DIAGNOSTIC_CODES.schema, path, message });
  const config: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    const name = protoJsonName(key);
    const fields = EXTENSION_PROVIDER_FIELDS[type] ?? [];
    if (!fields.includes(name)) {
      error([key], unknownFieldMessage(key, type, fields));
      continue;
    }
    config[name] = value;
  }

  const service = config['service'];
  if (typeof service !== 'string' || service === '') error(['service'], 'service must not be empty');
  const port = config['port'];
  const portNumber = typeof port === 'string' && /^\d+$/.test(port) ? Number(port) : port;
  if (typeof portNumber !== 'number' || !Number.isInteger(portNumber) || portNumber < 1 || portNumber > 65535)
    error(['port'], `port must be in the range [1, 65535], found: ${JSON.stringify(port ?? 0)}`);

  const soe = config['statusOnError'];
  if (soe !== undefined && soe !== '') {
    const code = typeof soe === 'string' && /^\d+$/.test(soe) ? Number(soe) : soe;
    if (typeof code !== 'number' || !ENVOY_STATUS_CODES.has(code))
      error(
        ['statusOnError'],
        `unsupported statusOnError value ${JSON.stringify(soe)}: use an HTTP status Envoy knows, e.g. "403" or "503"`,
      );
  }
  const timeout = config['timeout'];
  if (timeout !== undefined) {
    const ms = typeof timeout === 'string' ? parseGoDuration(timeout) : null;
    if (ms === null || ms <= 0)
      error(['timeout'], `timeout ${JSON.stringify(timeout)} is not a positive duration (use e.g. "0.5s")`);
  }
  const pathPrefix = config['pathPrefix'];
  if (pathPrefix !== undefined && (typeof pathPrefix !== 'string' || !pathPrefix.startsWith('/')))
    error(['pathPrefix'], `pathPrefix should begin with \`/\` but found ${JSON.stringify(pathPrefix)}`);
  for (const list of HEADER_LISTS) {
    const v = config[list];
    if (v === undefined) continue;
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
      error([list], 'expected a list of header names');
      continue;
    }
    v.forEach((h: string, i) => {
      if (h === '*')
        error(
          [list, i],
          `a single wildcard ("*") is not supported, change it to either prefix or suffix match: ${list}`,
        );
    });
  }
  const extra = config['includeAdditionalHeadersInCheck'];
  if (extra !== undefined && !isRecord(extra))
    error(['includeAdditionalHeadersInCheck'], 'expected a map of header names to values');
  for (const flag of ['failOpen', 'clearRouteCache']) {
    const v = config[flag];
    if (v !== undefined && typeof v !== 'boolean')
      error([flag], `expected true or false, got ${JSON.stringify(v)}`);
  }

  if (config['includeHeadersInCheck'] !== undefined)
    findings.push({
      level: 'Warning',
      code: DIAGNOSTIC_CODES.deprecated,
      path: ['includeHeadersInCheck'],
      message:
        config['includeRequestHeadersInCheck'] === undefined
          ? 'includeHeadersInCheck is deprecated: use includeRequestHeadersInCheck (it is honoured until then, as istiod does)'
          : 'includeHeadersInCheck is deprecated and ignored: includeRequestHeadersInCheck is set',
    });
  const body = config['includeRequestBodyInCheck'];
  if (body !== undefined) {
    const read = readRequestBody(type, body);
    for (const f of read.findings) findings.push({ ...f, path: ['includeRequestBodyInCheck', ...f.path] });
    if (read.value !== null) config['includeRequestBodyInCheck'] = read.value;
  }
  if (config['clearRouteCache'] === true)
    findings.push({
      level: 'Info',
      code: DIAGNOSTIC_CODES.unsupported,
      path: ['clearRouteCache'],
      message: 'clearRouteCache has no effect in meshlet: an inbound request has no route to recompute',
    });
  return { config, findings };
}

/**
 * Why istiod cannot build ext_authz for a CUSTOM policy naming `name`, or null when it can
 * (authz/builder extauthz.go getExtAuthz): no name, no such provider, a provider of another
 * type, or a config with errors. The policy then fails closed as an RBAC deny.
 */
export function extAuthzProviderProblem(
  meshConfig: Pick<MeshConfig, 'extensionProviders'>,
  name: string | null,
): string | null {
  if (name === null || name === '') return 'the CUSTOM policy names no provider';
  const p = meshConfig.extensionProviders.find((x) => x.name === name);
  if (p === undefined) return `extension provider ${JSON.stringify(name)} is not defined in meshConfig`;
  if (!isExtAuthzProviderType(p.type))
    return `extension provider ${JSON.stringify(name)} is ${p.type}, not envoyExtAuthzHttp or envoyExtAuthzGrpc`;
  const errors = readExtAuthzConfig(p.type, p.config)
    .findings.filter((f) => f.level === 'Error')
    .map((f) => f.message);
  return errors.length > 0 ? `extension provider ${JSON.stringify(name)}: ${errors.join('; ')}` : null;
}
