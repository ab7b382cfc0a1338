// Custom tags (literal, environment, header) on a span: which set applies to each span kind
// and each tag's value for a request.
import type { Span } from '@opentelemetry/api';
import type { CustomTag } from '../../config/schema/telemetry.js';
import type { ResolvedTracing } from '../config/tracing-config.js';
import type { HeaderRecord } from './propagation.js';
import { proxyConfigCustomTags } from './proxy-config-tracing.js';

export interface SpanCustomTags {
  readonly client: Readonly<Record<string, CustomTag>>;
  readonly server: Readonly<Record<string, CustomTag>>;
}

export type AddCustomTags = (
  span: Span,
  tags: Readonly<Record<string, CustomTag>>,
  headers: HeaderRecord,
) => void;

/**
 * The custom tags of each span kind: the Telemetry tracing's, else meshConfig
 * `defaultConfig.tracing.customTags` (`proxyConfigCustomTags`).
 */
export function spanCustomTags(
  config: ResolvedTracing,
  defaultConfig: Readonly<Record<string, unknown>>,
): SpanCustomTags {
  const proxyConfigTags = proxyConfigCustomTags(defaultConfig);
  const customTags = {
    client: Object.keys(config.client.customTags).length === 0 ? proxyConfigTags : config.client.customTags,
    server: Object.keys(config.server.customTags).length === 0 ? proxyConfigTags : config.server.customTags,
  };
  return customTags;
}

/** Sets `tags` on a recording span, environment tags read from `env`. */
export function createAddCustomTags(env: NodeJS.ProcessEnv): AddCustomTags {
  const addCustomTags = (span: Span, tags: Readonly<Record<string, CustomTag>>, headers: HeaderRecord) => {
    for (const [name, tag] of Object.entries(tags)) {
      const v = customTagValue(tag, headers, env);
      if (v !== null) span.setAttribute(name, v);
    }
  };
  return addCustomTags;
}

function customTagValue(tag: CustomTag, headers: HeaderRecord, env: NodeJS.ProcessEnv): string | null {
  if (tag.literal !== undefined) return tag.literal.value;
  if (tag.environment !== undefined) return env[tag.environment.name] ?? tag.environment.defaultValue ?? null;
  if (tag.header !== undefined) {
    const v = headers[tag.header.name.toLowerCase()];
    return v === undefined ? (tag.header.defaultValue ?? null) : typeof v === 'string' ? v : v.join(',');
  }
  return null;
}
