import type { AccessLogEntry } from './entry.js';
import type { OperatorResult, OperatorValue } from './operators.js';
import { FILLED_METADATA } from '../filled-metadata.js';

/** A metadata value as Envoy's MetadataFormatter prints it: strings as they are, anything else as JSON. */
function printed(v: unknown): OperatorValue {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return v;
  // A bool (access_log_hint) prints as its JSON text.
  return JSON.stringify(v);
}

function lookup(root: unknown, path: readonly string[]): unknown {
  let v = root;
  for (const key of path) {
    if (typeof v !== 'object' || v === null || Array.isArray(v) || !Object.hasOwn(v, key)) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

/**
 * `%DYNAMIC_METADATA(NAMESPACE:KEY*)%` (envoy stream_info_formatter.cc
 * DynamicMetadataFormatter), and `%METADATA(DYNAMIC:NAMESPACE:KEY*)%` (the built-in
 * metadata formatter): the namespace's struct as JSON, or the value at the key path; `-`
 * when the namespace or a key is absent. Namespaces meshlet does not fill (ext_authz's,
 * ...) are reported.
 */
export function metadataOperator(name: string, arg: string | null): OperatorResult {
  if (arg === null || arg === '') return { problem: `Envoy refuses %${name}% without a namespace` };
  const parts = arg.split(':');
  if (name === 'METADATA') {
    const type = parts.shift();
    if (type !== 'DYNAMIC') return null;
  }
  const [namespace = '', ...path] = parts;
  if (!FILLED_METADATA.has(namespace)) return null;
  return (e: AccessLogEntry) => {
    const ns = e.dynamicMetadata?.[namespace];
    if (ns === undefined) return null;
    return printed(path.length === 0 ? ns : lookup(ns, path));
  };
}
