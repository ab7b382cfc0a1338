import { DIAGNOSTIC_CODES } from './diagnostic-codes.js';
import type { FieldPath } from './diagnostic.js';
import { isExtAuthzProviderType, readExtAuthzConfig } from './ext-authz-provider-config.js';
import {
  EXTENSION_PROVIDER_FIELDS,
  protoJsonName,
  unknownFieldMessage,
} from './extension-provider-fields.js';
import type { ExtensionProvider } from './mesh-config.js';
import type { Finding } from './validate/context.js';
import { suggest } from './validate/zod-issues.js';
import { isRecord } from './validate/is-record.js';

/**
 * Tracing provider fields meshlet reads but does not apply, and what happens instead:
 * spans are exported by the OpenTelemetry SDK, and trace headers follow OTEL_PROPAGATORS.
 */
const NOT_APPLIED: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  zipkin: {
    maxTagLength: 'span attributes are exported whole',
    enable64bitTraceId: 'trace ids are 128-bit',
    traceContextOption:
      'trace headers follow OTEL_PROPAGATORS (default W3C traceparent and B3 multi-header), whatever the provider',
  },
  opentelemetry: {
    maxTagLength: 'span attributes are exported whole',
    resourceDetectors: 'the span resource carries the service name only',
    dynatraceSampler: "sampling is Telemetry's randomSamplingPercentage, as without a sampler",
    serviceAttributeEnrichment: 'the span resource carries the service name only',
  },
};

/**
 * meshConfig `extensionProviders`: a unique name and exactly one provider type each, the
 * type and its top-level fields known to istio/api's proto (proto or JSON names, stored
 * under JSON names), and Istio's validation of ext_authz providers. Paths are relative
 * to the mesh config.
 */
export function parseExtensionProviders(value: unknown): {
  readonly providers: readonly ExtensionProvider[];
  readonly findings: readonly Finding[];
} {
  const findings: Finding[] = [];
  const err = (path: FieldPath, message: string) =>
    findings.push({
      level: 'Error',
      code: DIAGNOSTIC_CODES.schema,
      path: ['extensionProviders', ...path],
      message,
    });
  if (!Array.isArray(value)) {
    err([], 'expected a list');
    return { providers: Object.freeze([]), findings };
  }
  const out: ExtensionProvider[] = [];
  const seen = new Set<string>();
  value.forEach((p: unknown, i) => {
    if (!isRecord(p) || typeof p['name'] !== 'string' || p['name'] === '') {
      err([i, 'name'], 'Required value: every extension provider needs a name');
      return;
    }
    const name = p['name'];
    const kinds = Object.keys(p).filter((k) => k !== 'name');
    if (kinds.length !== 1) {
      err(
        [i],
        `extension provider ${JSON.stringify(name)} must set exactly one provider type, got ${kinds.length}`,
      );
      return;
    }
    if (seen.has(name)) err([i, 'name'], `duplicate extension provider name ${JSON.stringify(name)}`);
    seen.add(name);
    const key = kinds[0] as string;
    const type = protoJsonName(key);
    const config = p[key];
    const known = EXTENSION_PROVIDER_FIELDS[type];
    if (known === undefined) {
      const hint = suggest(type, Object.keys(EXTENSION_PROVIDER_FIELDS));
      err(
        [i, key],
        `unknown extension provider type ${JSON.stringify(key)}${hint === null ? '' : ` (did you mean ${JSON.stringify(hint)}?)`}`,
      );
      return;
    }
    if (config !== undefined && config !== null && !isRecord(config)) {
      err([i, key], `expected an object, got ${JSON.stringify(config)}`);
      return;
    }
    const raw = isRecord(config) ? config : {};
    let fields: Readonly<Record<string, unknown>>;
    if (isExtAuthzProviderType(type)) {
      const read = readExtAuthzConfig(type, raw);
      for (const f of read.findings) findings.push({ ...f, path: ['extensionProviders', i, key, ...f.path] });
      fields = read.config;
    } else {
      const kept: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(raw)) {
        const field = protoJsonName(k);
        if (!known.includes(field)) {
          err([i, key, k], unknownFieldMessage(k, type, known));
          continue;
        }
        kept[field] = v;
        const instead = NOT_APPLIED[type]?.[field];
        if (instead !== undefined)
          findings.push({
            level: 'Info',
            code: DIAGNOSTIC_CODES.unsupported,
            path: ['extensionProviders', i, key, k],
            message: `${type} ${field} is not applied by meshlet: ${instead}`,
          });
      }
      fields = kept;
    }
    out.push(Object.freeze({ name, type, config: Object.freeze({ ...fields }) }));
  });
  return { providers: Object.freeze(out), findings };
}
