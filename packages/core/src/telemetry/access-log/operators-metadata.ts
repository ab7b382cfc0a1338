import type { AccessLogEntry } from './entry.js';
import type { OperatorResult, OperatorValue } from './operators.js';
import { FILLED_METADATA } from '../filled-metadata.js';
import type { XdsMetadata } from './xds-facts.js';

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

type MetadataOf = (e: AccessLogEntry) => XdsMetadata | null | undefined;

/**
 * The metadata of the xDS resources a request went through (envoy
 * source/extensions/formatter/metadata/metadata.cc, stream_info_formatter.cc
 * ClusterMetadataFormatter, UpstreamHostMetadataFormatter): null when Envoy has none.
 */
const XDS_METADATA: Readonly<Record<string, MetadataOf>> = {
  CLUSTER: (e) => e.xds?.().clusterMetadata,
  ROUTE: (e) => e.xds?.().routeMetadata,
  UPSTREAM_HOST: (e) => e.xds?.().upstreamHostMetadata,
  LISTENER: (e) => e.xds?.().listenerMetadata,
  VIRTUAL_HOST: (e) => e.xds?.().virtualHostMetadata,
};

/** `%CLUSTER_METADATA(...)%` and `%UPSTREAM_METADATA(...)%`: the same as their METADATA types. */
const SHORT_FORMS: Readonly<Record<string, string>> = {
  CLUSTER_METADATA: 'CLUSTER',
  UPSTREAM_METADATA: 'UPSTREAM_HOST',
};

function xdsMetadataOperator(of: MetadataOf, namespace: string, path: readonly string[]): OperatorResult {
  return (e: AccessLogEntry) => {
    const ns = of(e)?.[namespace];
    if (ns === undefined) return null;
    return printed(path.length === 0 ? ns : lookup(ns, path));
  };
}

/**
 * `%DYNAMIC_METADATA(NAMESPACE:KEY*)%` (envoy stream_info_formatter.cc
 * DynamicMetadataFormatter), `%METADATA(TYPE:NAMESPACE:KEY*)%` (the built-in metadata
 * formatter), `%CLUSTER_METADATA(NAMESPACE:KEY*)%` and `%UPSTREAM_METADATA(NAMESPACE:KEY*)%`:
 * the namespace's struct as JSON, or the value at the key path; `-` when the resource,
 * the namespace or a key is absent. Dynamic metadata namespaces meshlet does not fill
 * (ext_authz's, ...) are reported.
 */
export function metadataOperator(name: string, arg: string | null): OperatorResult {
  if (arg === null || arg === '') return { problem: `Envoy refuses %${name}% without a namespace` };
  const parts = arg.split(':');
  let type = SHORT_FORMS[name] ?? 'DYNAMIC';
  if (name === 'METADATA') type = parts.shift() ?? '';
  const [namespace = '', ...path] = parts;
  if (type !== 'DYNAMIC') {
    const of = XDS_METADATA[type];
    if (of === undefined) return { problem: `Envoy refuses it: ${type} is not supported type of metadata` };
    return xdsMetadataOperator(of, namespace, path);
  }
  if (!FILLED_METADATA.has(namespace)) return null;
  return (e: AccessLogEntry) => {
    const ns = e.dynamicMetadata?.[namespace];
    if (ns === undefined) return null;
    return printed(path.length === 0 ? ns : lookup(ns, path));
  };
}
