// meshConfig `defaultConfig.tracing` (ProxyConfig `Tracing`) as istiod applies it to the
// proxy's spans: the custom tags and the `http.url` length limit.
import type { CustomTag } from '../../config/schema/telemetry.js';
import { DEFAULT_MAX_PATH_TAG_LENGTH } from './envoy-tags.js';

/**
 * meshConfig `defaultConfig.tracing.customTags` (ProxyConfig `Tracing.CustomTag`: literal,
 * environment, header), which istiod applies when the Telemetry tracing in force names no
 * custom tags (pilot/pkg/networking/core/tracing.go configureCustomTags).
 */
export function proxyConfigCustomTags(
  defaultConfig: Readonly<Record<string, unknown>>,
): Readonly<Record<string, CustomTag>> {
  const tracing = defaultConfig['tracing'];
  if (typeof tracing !== 'object' || tracing === null) return {};
  const raw =
    (tracing as Record<string, unknown>)['customTags'] ?? (tracing as Record<string, unknown>)['custom_tags'];
  if (typeof raw !== 'object' || raw === null) return {};
  const out: Record<string, CustomTag> = {};
  for (const [name, tag] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof tag !== 'object' || tag === null) continue;
    const t = tag as Record<string, Record<string, unknown> | undefined>;
    const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
    const dflt = (o: Record<string, unknown>) => str(o['defaultValue'] ?? o['default_value']);
    if (t['literal'] !== undefined) {
      const value = str(t['literal']['value']);
      if (value !== undefined) out[name] = { literal: { value } };
    } else if (t['environment'] !== undefined) {
      const envName = str(t['environment']['name']);
      const d = dflt(t['environment']);
      if (envName !== undefined)
        out[name] = { environment: { name: envName, ...(d === undefined ? {} : { defaultValue: d }) } };
    } else if (t['header'] !== undefined) {
      const header = str(t['header']['name']);
      const d = dflt(t['header']);
      if (header !== undefined)
        out[name] = { header: { name: header, ...(d === undefined ? {} : { defaultValue: d }) } };
    }
  }
  return Object.freeze(out);
}

/** meshConfig `defaultConfig.tracing.maxPathTagLength` (istio tracing.go), else Envoy's 256. */
export function maxPathTagLength(defaultConfig: Readonly<Record<string, unknown>>): number {
  const tracing = defaultConfig['tracing'];
  const n =
    typeof tracing === 'object' && tracing !== null
      ? (tracing as Record<string, unknown>)['maxPathTagLength']
      : undefined;
  return typeof n === 'number' && n > 0 ? n : DEFAULT_MAX_PATH_TAG_LENGTH;
}
