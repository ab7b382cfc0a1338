import { DIAGNOSTIC_CODES } from './diagnostic-codes.js';
import { parseExtensionProviders } from './mesh-config-providers.js';
import type { FieldPath } from './diagnostic.js';
import {
  DEFAULT_MESH_CONFIG,
  FORWARD_CLIENT_CERT_MODES,
  type MeshConfig,
  type PathNormalization,
} from './mesh-config.js';
import { MESH_CONFIG_FIELDS } from './mesh-config-fields.js';
import { parseGoDuration } from './validate/duration.js';
import { parseMeshTls } from './mesh-config-tls.js';
import { parseProxyHeaders } from './mesh-config-proxy-headers.js';
import type { Finding } from './validate/context.js';
import { suggest } from './validate/zod-issues.js';
import { isRecord } from './validate/is-record.js';

type Mutable<T> = { -readonly [K in keyof T]?: T[K] };
export type MeshConfigPatch = Mutable<MeshConfig>;

const USED_FIELDS = new Set([
  'rootNamespace',
  'localityLbSetting',
  'zoneAwareLbSetting',
  'trustDomain',
  'trustDomainAliases',
  'pathNormalization',
  'outboundTrafficPolicy',
  'accessLogFile',
  'accessLogFormat',
  'accessLogEncoding',
  'defaultConfig',
  'extensionProviders',
  'defaultProviders',
  'enableTracing',
  'enableAutoMtls',
  'protocolDetectionTimeout',
  'meshMTLS',
  'tlsDefaults',
  'caCertificates',
]);

const NORMALIZATIONS: readonly PathNormalization[] = [
  'DEFAULT',
  'NONE',
  'BASE',
  'MERGE_SLASHES',
  'DECODE_AND_MERGE_SLASHES',
];

/**
 * Read the MeshConfig fields meshlet uses from a parsed document (the `mesh` key of
 * the `istio` ConfigMap, or a standalone MeshConfig). Fields meshlet does not act on
 * are reported as Info; misspelt ones as Errors, with a suggestion.
 */
export function parseMeshConfig(
  value: unknown,
  base: FieldPath = [],
): { patch: MeshConfigPatch; findings: Finding[] } {
  const findings: Finding[] = [];
  const patch: MeshConfigPatch = {};
  const err = (path: FieldPath, message: string) =>
    findings.push({ level: 'Error', code: DIAGNOSTIC_CODES.schema, path: [...base, ...path], message });
  if (value === null || value === undefined) return { patch, findings };
  if (!isRecord(value)) {
    err([], 'mesh config must be an object');
    return { patch, findings };
  }
  const str = (key: string): string | undefined => {
    const v = value[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'string') {
      err([key], `expected a string, got ${JSON.stringify(v)}`);
      return undefined;
    }
    return v;
  };

  for (const key of Object.keys(value)) {
    if (key === 'apiVersion' || key === 'kind' || key === 'metadata') continue;
    if (USED_FIELDS.has(key)) continue;
    if (MESH_CONFIG_FIELDS.includes(key)) {
      findings.push({
        level: 'Info',
        code: DIAGNOSTIC_CODES.meshConfigUnused,
        path: [...base, key],
        message: `MeshConfig field ${JSON.stringify(key)} is not used by meshlet`,
      });
    } else {
      const hint = suggest(key, MESH_CONFIG_FIELDS);
      err(
        [key],
        `unknown MeshConfig field ${JSON.stringify(key)}${hint === null ? '' : ` (did you mean ${JSON.stringify(hint)}?)`}`,
      );
    }
  }

  const rootNamespace = str('rootNamespace');
  if (rootNamespace !== undefined) patch.rootNamespace = rootNamespace;
  const locality = value['localityLbSetting'];
  if (locality !== undefined) {
    if (isRecord(locality)) patch.localityLbSetting = Object.freeze({ ...locality });
    else err(['localityLbSetting'], 'expected an object (LocalityLoadBalancerSetting)');
  }
  const zoneAware = value['zoneAwareLbSetting'];
  if (zoneAware !== undefined && zoneAware !== null) {
    if (isRecord(zoneAware)) patch.zoneAwareLbSetting = Object.freeze({ ...zoneAware });
    else err(['zoneAwareLbSetting'], 'expected an object (ZoneAwareLoadBalancerSetting)');
  }
  const trustDomain = str('trustDomain');
  if (trustDomain !== undefined) patch.trustDomain = trustDomain;
  const aliases = value['trustDomainAliases'];
  if (aliases !== undefined) {
    if (Array.isArray(aliases) && aliases.every((a) => typeof a === 'string'))
      patch.trustDomainAliases = Object.freeze([...aliases]);
    else err(['trustDomainAliases'], 'expected a list of strings');
  }
  const pn = value['pathNormalization'];
  if (pn !== undefined) {
    const n = isRecord(pn) ? pn['normalization'] : undefined;
    if (n === undefined) patch.pathNormalization = 'BASE';
    else if (typeof n === 'string' && (NORMALIZATIONS as readonly string[]).includes(n)) {
      // DEFAULT means BASE (istio/api mesh config.proto ProxyPathNormalization).
      patch.pathNormalization = n === 'DEFAULT' ? 'BASE' : (n as PathNormalization);
    } else
      err(
        ['pathNormalization', 'normalization'],
        `Unsupported value: ${JSON.stringify(n)}: supported values: ${NORMALIZATIONS.join(', ')}`,
      );
  }
  const otp = value['outboundTrafficPolicy'];
  if (otp !== undefined) {
    const mode = isRecord(otp) ? otp['mode'] : undefined;
    if (mode === 'ALLOW_ANY' || mode === 'REGISTRY_ONLY') patch.outboundTrafficPolicy = mode;
    else if (mode !== undefined)
      err(
        ['outboundTrafficPolicy', 'mode'],
        `Unsupported value: ${JSON.stringify(mode)}: supported values: ALLOW_ANY, REGISTRY_ONLY`,
      );
  }
  parseMeshTls(value, patch, err, findings, base);
  const detection = str('protocolDetectionTimeout');
  if (detection !== undefined) {
    const ms = parseGoDuration(detection);
    // istio pkg/config/validation/agent ValidateProtocolDetectionTimeout: 0s disables it;
    // otherwise a whole number of milliseconds.
    if (ms === null || ms < 0)
      err(
        ['protocolDetectionTimeout'],
        `${JSON.stringify(detection)} is not a duration (e.g. "5s", "100ms")`,
      );
    else if (ms !== 0 && !Number.isInteger(ms))
      err(['protocolDetectionTimeout'], 'only durations to ms precision are supported');
    else patch.protocolDetectionTimeoutMs = ms;
  }
  const enableAutoMtls = value['enableAutoMtls'];
  if (enableAutoMtls !== undefined) {
    if (typeof enableAutoMtls === 'boolean') patch.enableAutoMtls = enableAutoMtls;
    else err(['enableAutoMtls'], `expected true or false, got ${JSON.stringify(enableAutoMtls)}`);
  }
  const enableTracing = value['enableTracing'];
  if (enableTracing !== undefined) {
    if (typeof enableTracing === 'boolean') patch.enableTracing = enableTracing;
    else err(['enableTracing'], `expected true or false, got ${JSON.stringify(enableTracing)}`);
  }
  const logFile = str('accessLogFile');
  if (logFile !== undefined) patch.accessLogFile = logFile;
  const logFormat = str('accessLogFormat');
  if (logFormat !== undefined) patch.accessLogFormat = logFormat;
  const enc = value['accessLogEncoding'];
  if (enc !== undefined) {
    if (enc === 'TEXT' || enc === 'JSON') patch.accessLogEncoding = enc;
    else
      err(['accessLogEncoding'], `Unsupported value: ${JSON.stringify(enc)}: supported values: TEXT, JSON`);
  }

  const dc = value['defaultConfig'];
  if (dc !== undefined) {
    if (!isRecord(dc)) err(['defaultConfig'], 'expected an object');
    else {
      patch.defaultConfig = Object.freeze({ ...dc });
      const tracing = dc['tracing'];
      if (isRecord(tracing) && tracing['sampling'] !== undefined) {
        const s = tracing['sampling'];
        // istio networking/core/tracing.go proxyConfigSamplingValue: 0 is unset (the
        // PILOT_TRACE_SAMPLING default, 1 %), and over 100 is 1 %.
        if (typeof s === 'number' && s >= 0) patch.tracingSampling = s === 0 || s > 100 ? 1 : s;
        else
          err(
            ['defaultConfig', 'tracing', 'sampling'],
            `sampling must be a percentage (a number from 0), got ${JSON.stringify(s)}`,
          );
      }
      const ph = parseProxyHeaders(dc['proxyHeaders'], [...base, 'defaultConfig', 'proxyHeaders']);
      findings.push(...ph.findings);
      if (ph.proxyHeaders !== undefined) patch.proxyHeaders = ph.proxyHeaders;
      const gt = dc['gatewayTopology'];
      if (isRecord(gt) && gt['numTrustedProxies'] !== undefined) {
        const n = gt['numTrustedProxies'];
        if (typeof n === 'number' && Number.isInteger(n) && n >= 0) patch.numTrustedProxies = n;
        else
          err(
            ['defaultConfig', 'gatewayTopology', 'numTrustedProxies'],
            `expected a non-negative integer, got ${JSON.stringify(n)}`,
          );
      }
      // A gateway's XFCC mode (istio pilot/pkg/networking/core/gateway.go): UNDEFINED, the
      // proto's zero value, keeps the default SANITIZE_SET.
      const fcc = isRecord(gt) ? gt['forwardClientCertDetails'] : undefined;
      if (fcc !== undefined && fcc !== null && fcc !== 'UNDEFINED') {
        const mode = FORWARD_CLIENT_CERT_MODES.find((m) => m === fcc);
        if (mode !== undefined) patch.gatewayForwardClientCert = mode;
        else
          err(
            ['defaultConfig', 'gatewayTopology', 'forwardClientCertDetails'],
            `Unsupported value: ${JSON.stringify(fcc)}: supported values: ${FORWARD_CLIENT_CERT_MODES.join(', ')}`,
          );
      }
    }
  }

  const providers = value['extensionProviders'];
  if (providers !== undefined) {
    const read = parseExtensionProviders(providers);
    for (const f of read.findings) findings.push({ ...f, path: [...base, ...f.path] });
    patch.extensionProviders = read.providers;
  }
  const dp = value['defaultProviders'];
  if (dp !== undefined && dp !== null) {
    if (!isRecord(dp)) err(['defaultProviders'], 'expected an object');
    else {
      const lists: Record<string, readonly string[]> = { ...DEFAULT_MESH_CONFIG.defaultProviders };
      for (const [key, list] of Object.entries(dp)) {
        if (!(key in lists)) {
          const hint = suggest(key, Object.keys(lists));
          err(
            ['defaultProviders', key],
            `unknown field ${JSON.stringify(key)}: expected tracing, metrics or accessLogging${hint === null ? '' : ` (did you mean ${JSON.stringify(hint)}?)`}`,
          );
        } else if (list === null) lists[key] = Object.freeze([]);
        else if (Array.isArray(list) && list.every((n) => typeof n === 'string'))
          lists[key] = Object.freeze([...list]);
        else err(['defaultProviders', key], 'expected a list of extension provider names');
      }
      // istiod's own default is empty (pkg/config/mesh/mesh.go); an install's `istio`
      // ConfigMap adds `metrics: [prometheus]` only when the user set no defaultProviders
      // (istio-discovery templates/_helpers.tpl "default-prometheus").
      if (!('metrics' in dp)) {
        lists['metrics'] = Object.freeze([]);
        findings.push({
          level: 'Warning',
          code: DIAGNOSTIC_CODES.surprising,
          path: [...base, 'defaultProviders'],
          message:
            'defaultProviders names no metrics provider, so, as on an Istio install whose meshConfig sets defaultProviders, no istio_* metrics are recorded unless a Telemetry names one; add `metrics: [prometheus]` to keep them',
        });
      }
      patch.defaultProviders = Object.freeze({
        tracing: lists['tracing'] ?? [],
        metrics: lists['metrics'] ?? [],
        accessLogging: lists['accessLogging'] ?? [],
      });
    }
  }
  return { patch, findings };
}

/** Later patches win, field by field, over Istio's defaults. */
export function resolveMeshConfig(patches: readonly MeshConfigPatch[]): MeshConfig {
  const merged: Record<string, unknown> = { ...DEFAULT_MESH_CONFIG };
  for (const p of patches) {
    for (const [k, v] of Object.entries(p)) if (v !== undefined) merged[k] = v;
  }
  return Object.freeze(merged) as unknown as MeshConfig;
}
