import { DIAGNOSTIC_CODES } from './diagnostic-codes.js';
import type { FieldPath } from './diagnostic.js';
import { DEFAULT_MESH_CONFIG, type ProxyHeaders } from './mesh-config.js';
import type { Finding } from './validate/context.js';
import { isRecord } from './validate/is-record.js';

/** ProxyHeaders fields (istio/api mesh/v1alpha1/proxy.proto) meshlet does not act on. */
const NOT_USED = [
  'forwardedClientCert',
  'setCurrentClientCertDetails',
  'requestId',
  'server',
  'metadataExchangeHeaders',
  'preserveHttp1HeaderCase',
] as const;

/**
 * `defaultConfig.proxyHeaders`: `envoyDebugHeaders.disabled` and `attemptCount.disabled`
 * are acted on; the other fields Istio documents are reported as not used. A field not in
 * that list is a warning, not an error: ProxyHeaders grows with Istio releases, and a
 * valid config must still load.
 */
export function parseProxyHeaders(
  value: unknown,
  base: FieldPath,
): { proxyHeaders: ProxyHeaders | undefined; findings: Finding[] } {
  const findings: Finding[] = [];
  const err = (path: FieldPath, message: string) =>
    findings.push({ level: 'Error', code: DIAGNOSTIC_CODES.schema, path: [...base, ...path], message });
  if (value === undefined || value === null) return { proxyHeaders: undefined, findings };
  if (!isRecord(value)) {
    err([], 'expected an object');
    return { proxyHeaders: undefined, findings };
  }
  const out = { ...DEFAULT_MESH_CONFIG.proxyHeaders };
  const disabled = (key: 'envoyDebugHeaders' | 'attemptCount'): void => {
    const v = value[key];
    if (v === undefined || v === null) return;
    if (!isRecord(v)) {
      err([key], 'expected an object');
      return;
    }
    const d = v['disabled'];
    if (d === undefined || d === null) return;
    if (typeof d !== 'boolean') err([key, 'disabled'], `expected true or false, got ${JSON.stringify(d)}`);
    else out[key] = !d;
  };
  for (const key of Object.keys(value)) {
    if (key === 'envoyDebugHeaders' || key === 'attemptCount') disabled(key);
    else if ((NOT_USED as readonly string[]).includes(key))
      findings.push({
        level: 'Info',
        code: DIAGNOSTIC_CODES.meshConfigUnused,
        path: [...base, key],
        message: `ProxyConfig proxyHeaders field ${JSON.stringify(key)} is not used by meshlet`,
      });
    else
      findings.push({
        level: 'Warning',
        code: DIAGNOSTIC_CODES.meshConfigUnused,
        path: [...base, key],
        message: `ProxyConfig proxyHeaders field ${JSON.stringify(key)} is unknown to meshlet and has no effect`,
      });
  }
  return { proxyHeaders: Object.freeze(out), findings };
}
