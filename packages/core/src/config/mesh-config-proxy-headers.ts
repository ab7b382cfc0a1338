import { DIAGNOSTIC_CODES } from './diagnostic-codes.js';
import type { FieldPath } from './diagnostic.js';
import {
  DEFAULT_PROXY_HEADERS,
  FORWARD_CLIENT_CERT_MODES,
  type ClientCertDetails,
  type MetadataExchangeMode,
  type ProxyHeaders,
  type ServerHeaderNames,
} from './mesh-config.js';
import type { Finding } from './validate/context.js';
import { isRecord } from './validate/is-record.js';

/** ProxyHeaders fields (istio/api mesh/v1alpha1/proxy.proto) meshlet does not act on, and why. */
const NOT_USED: Readonly<Record<string, string>> = {
  preserveHttp1HeaderCase: 'header names keep the case Node gives them',
};

const DETAILS = ['subject', 'uri', 'dns', 'cert', 'chain'] as const;

type Err = (path: FieldPath, message: string) => void;

function bool(v: unknown, path: FieldPath, err: Err): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'boolean') return v;
  err(path, `expected true or false, got ${JSON.stringify(v)}`);
  return undefined;
}

/**
 * `{ disabled: bool }` (EnvoyDebugHeaders, AttemptCount, RequestId) or `{ enabled: bool }`
 * (XForwardedPort, XForwardedHost): undefined when not set.
 */
function flag(v: unknown, key: string, field: 'disabled' | 'enabled', err: Err): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isRecord(v)) {
    err([key], 'expected an object');
    return undefined;
  }
  return bool(v[field], [key, field], err);
}

/** `server: { disabled, value }` (proxy_headers.go GetProxyHeadersFromProxyConfig). */
function serverNames(v: unknown, err: Err): ServerHeaderNames | null | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isRecord(v)) {
    err(['server'], 'expected an object');
    return undefined;
  }
  if (bool(v['disabled'], ['server', 'disabled'], err) === true) return null;
  const value = v['value'];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') {
    err(['server', 'value'], `expected a string, got ${JSON.stringify(value)}`);
    return undefined;
  }
  return Object.freeze({ inbound: value, outbound: value });
}

/** `metadataExchangeHeaders: { mode: UNDEFINED | IN_MESH }`. */
function exchangeMode(v: unknown, err: Err): MetadataExchangeMode | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isRecord(v)) {
    err(['metadataExchangeHeaders'], 'expected an object');
    return undefined;
  }
  for (const key of Object.keys(v))
    if (key !== 'mode')
      err(['metadataExchangeHeaders', key], `unknown field ${JSON.stringify(key)}: expected mode`);
  const mode = v['mode'];
  if (mode === undefined || mode === null || mode === 'UNDEFINED') return 'PROPAGATE';
  if (mode === 'IN_MESH') return 'IN_MESH';
  err(
    ['metadataExchangeHeaders', 'mode'],
    `Unsupported value: ${JSON.stringify(mode)}: supported values: UNDEFINED, IN_MESH`,
  );
  return undefined;
}

function certDetails(v: unknown, err: Err): ClientCertDetails | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isRecord(v)) {
    err(['setCurrentClientCertDetails'], 'expected an object');
    return undefined;
  }
  const out: Record<(typeof DETAILS)[number], boolean> = { ...DEFAULT_PROXY_HEADERS.clientCertDetails };
  for (const key of Object.keys(v)) {
    const detail = DETAILS.find((d) => d === key);
    if (detail === undefined) {
      err(
        ['setCurrentClientCertDetails', key],
        `unknown field ${JSON.stringify(key)}: expected subject, cert, chain, dns or uri`,
      );
      continue;
    }
    const b = bool(v[key], ['setCurrentClientCertDetails', key], err);
    if (b !== undefined) out[detail] = b;
  }
  return Object.freeze(out);
}

/**
 * `defaultConfig.proxyHeaders`. Acted on: `envoyDebugHeaders`, `attemptCount`, `server`,
 * `requestId`, `forwardedClientCert`, `setCurrentClientCertDetails`,
 * `metadataExchangeHeaders`, `xForwardedPort` and `xForwardedHost`. The other fields
 * Istio documents are reported as not used, with why. A field not in that list is a
 * warning, not an error: ProxyHeaders grows with Istio releases, and a valid config must
 * still load.
 */
export function parseProxyHeaders(
  value: unknown,
  base: FieldPath,
): { proxyHeaders: ProxyHeaders | undefined; findings: Finding[] } {
  const findings: Finding[] = [];
  const err: Err = (path, message) =>
    findings.push({ level: 'Error', code: DIAGNOSTIC_CODES.schema, path: [...base, ...path], message });
  if (value === undefined || value === null) return { proxyHeaders: undefined, findings };
  if (!isRecord(value)) {
    err([], 'expected an object');
    return { proxyHeaders: undefined, findings };
  }
  const out: { -readonly [K in keyof ProxyHeaders]: ProxyHeaders[K] } = { ...DEFAULT_PROXY_HEADERS };
  for (const key of Object.keys(value)) {
    const v = value[key];
    switch (key) {
      case 'envoyDebugHeaders':
      case 'attemptCount':
      case 'requestId': {
        const disabled = flag(v, key, 'disabled', err);
        if (disabled !== undefined) out[key] = !disabled;
        break;
      }
      case 'xForwardedPort':
      case 'xForwardedHost': {
        const enabled = flag(v, key, 'enabled', err);
        if (enabled !== undefined) out[key] = enabled;
        break;
      }
      case 'server': {
        const names = serverNames(v, err);
        if (names !== undefined) out.server = names;
        break;
      }
      case 'forwardedClientCert': {
        // UNDEFINED is the proto's zero value: Istio's default applies.
        if (v === undefined || v === null || v === 'UNDEFINED') break;
        const mode = FORWARD_CLIENT_CERT_MODES.find((m) => m === v);
        if (mode === undefined)
          err(
            [key],
            `Unsupported value: ${JSON.stringify(v)}: supported values: ${FORWARD_CLIENT_CERT_MODES.join(', ')}`,
          );
        else out.forwardedClientCert = mode;
        break;
      }
      case 'metadataExchangeHeaders': {
        const mode = exchangeMode(v, err);
        if (mode !== undefined) out.metadataExchange = mode;
        break;
      }
      case 'setCurrentClientCertDetails': {
        const details = certDetails(v, err);
        if (details !== undefined) out.clientCertDetails = details;
        break;
      }
      default: {
        const why = NOT_USED[key];
        findings.push(
          why !== undefined
            ? {
                level: 'Info',
                code: DIAGNOSTIC_CODES.meshConfigUnused,
                path: [...base, key],
                message: `ProxyConfig proxyHeaders field ${JSON.stringify(key)} is not used by meshlet: ${why}`,
              }
            : {
                level: 'Warning',
                code: DIAGNOSTIC_CODES.meshConfigUnused,
                path: [...base, key],
                message: `ProxyConfig proxyHeaders field ${JSON.stringify(key)} is unknown to meshlet and has no effect`,
              },
        );
      }
    }
  }
  return { proxyHeaders: Object.freeze(out), findings };
}
