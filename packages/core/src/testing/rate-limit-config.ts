import { isAlias, isMap, isScalar, isSeq, parseAllDocuments } from 'yaml';
import type { Document } from 'yaml';
import { MeshletError } from '../errors/meshlet-error.js';
import type { RlsUnit } from '../inbound/ratelimit/rls-messages.js';

/**
 * envoyproxy/ratelimit's configuration files, read as src/config/config_impl.go reads them
 * (through gopkg.in/yaml.v2) into a tree of descriptors per domain, refusing what it refuses
 * (MESHLET_ERR_RATELIMIT_CONFIG). The service that answers from them is rate-limit-service.ts.
 */

/** One descriptor of an envoyproxy/ratelimit configuration file (README "The configuration format"). */
export interface RateLimitDescriptorConfig {
  readonly key: string;
  readonly value?: string;
  readonly rate_limit?: {
    /** second, minute, hour, day, week, month or year, any case; none when unlimited. */
    readonly unit?: string;
    readonly requests_per_unit?: number;
    readonly unlimited?: boolean;
    readonly name?: string;
    readonly replaces?: readonly { readonly name: string }[];
  };
  readonly shadow_mode?: boolean;
  readonly quota_mode?: boolean;
  /** Wildcard values only: every value the wildcard matches shares one counter. */
  readonly share_threshold?: boolean;
  /** Accepted and ignored: they only change stats names or dynamic metadata. */
  readonly detailed_metric?: boolean;
  readonly value_to_metric?: boolean;
  readonly metadata?: Readonly<Record<string, unknown>>;
  readonly descriptors?: readonly RateLimitDescriptorConfig[];
}

/** One envoyproxy/ratelimit configuration file (README "The configuration format"). */
export interface RateLimitServiceConfig {
  readonly domain: string;
  readonly descriptors?: readonly RateLimitDescriptorConfig[];
}

/**
 * YAML text (each `---` document one configuration file, read as YAML 1.1 like yaml.v2) or
 * objects; several for several domains.
 */
export type RateLimitConfigInput =
  string | RateLimitServiceConfig | readonly (string | RateLimitServiceConfig)[];

// ---- reading a configuration (src/config/config_impl.go, as yaml.v2 reads it) ----

/** Seconds per unit (utilities.go UnitToDivider). */
export const UNIT_SECONDS: Readonly<Record<string, number>> = {
  SECOND: 1,
  MINUTE: 60,
  HOUR: 3600,
  DAY: 86_400,
  WEEK: 7 * 86_400,
  MONTH: 30 * 86_400,
  YEAR: 365 * 86_400,
};

export const MAX_UINT32 = 0xffff_ffff;

const VALID_KEYS = new Set([
  'domain',
  'key',
  'value',
  'descriptors',
  'rate_limit',
  'unit',
  'requests_per_unit',
  'unlimited',
  'shadow_mode',
  'quota_mode',
  'name',
  'replaces',
  'detailed_metric',
  'value_to_metric',
  'share_threshold',
  'metadata',
]);

/** Deeper than any configuration; stops a YAML alias that holds itself. */
const MAX_DEPTH = 200;

/** A problem in one configuration document; parseConfigs makes it a MeshletError. */
class ConfigProblem extends Error {}

/** A YAML int, float or bool, with its text: yaml.v2 reads a scalar's text into a string field. */
class Leaf {
  constructor(
    readonly value: number | boolean,
    readonly text: string,
    readonly tag: '!!int' | '!!float' | '!!bool',
  ) {}
}

/** A value yaml.v2 would not read as a string, int, bool, list or map (binary, a function, ...). */
class Odd {
  constructor(readonly text: string) {}
}

type Raw = string | null | Leaf | Odd | readonly Raw[] | RawMap;
type RawMap = ReadonlyMap<string, Raw>;

const isRawMap = (v: Raw): v is RawMap => v instanceof Map;

/** A configuration object as yaml.v2 would have read its YAML. */
function fromObject(v: unknown, depth: number): Raw {
  if (depth > MAX_DEPTH) throw new ConfigProblem('error loading config file: nested too deeply');
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return new Leaf(v, String(v), '!!bool');
  if (typeof v === 'number') return new Leaf(v, String(v), Number.isInteger(v) ? '!!int' : '!!float');
  if (Array.isArray(v)) return (v as unknown[]).map((e) => fromObject(e, depth + 1));
  const proto: unknown = typeof v === 'object' ? Object.getPrototypeOf(v) : undefined;
  if (proto === Object.prototype || proto === null) {
    const out = new Map<string, Raw>();
    for (const [k, e] of Object.entries(v as Record<string, unknown>))
      if (e !== undefined) out.set(k, fromObject(e, depth + 1));
    return out;
  }
  return new Odd(typeof v);
}

/**
 * A parsed YAML document's node as yaml.v2 reads it into `map[interface{}]interface{}`:
 * ints, floats and bools keep their text, a timestamp stays a string, a map key must be a
 * string, merge keys (`<<`) add the keys the map does not have.
 */
function fromYaml(node: unknown, doc: Document, depth: number): Raw {
  if (depth > MAX_DEPTH) throw new ConfigProblem('error loading config file: nested too deeply');
  if (isAlias(node)) return fromYaml(node.resolve(doc), doc, depth + 1);
  if (isMap(node)) {
    const out = new Map<string, Raw>();
    const merged: Raw[] = [];
    for (const pair of node.items) {
      const key: unknown = pair.key;
      if (isScalar(key) && typeof key.value === 'string') {
        out.set(key.value, fromYaml(pair.value, doc, depth + 1));
        continue;
      }
      if (isScalar(key) && typeof key.value === 'symbol') {
        merged.push(fromYaml(pair.value, doc, depth + 1));
        continue;
      }
      const text = isScalar(key) ? (key.source ?? String(key.value)) : isSeq(key) ? '[...]' : '{...}';
      throw new ConfigProblem(`config error, key is not of type string: ${text}`);
    }
    for (const m of merged.flatMap((r): readonly Raw[] => (Array.isArray(r) ? (r as readonly Raw[]) : [r])))
      if (m !== null && isRawMap(m)) for (const [k, v] of m) if (!out.has(k)) out.set(k, v);
    return out;
  }
  if (isSeq(node)) return node.items.map((e) => fromYaml(e, doc, depth + 1));
  if (isScalar(node)) {
    const v: unknown = node.value;
    const text = node.source ?? String(v);
    if (v === null || v === undefined) return null;
    if (typeof v === 'string') return v;
    if (typeof v === 'boolean') return new Leaf(v, text, '!!bool');
    if (v instanceof Date) return text;
    if (typeof v === 'number' || typeof v === 'bigint') {
      const n = Number(v);
      // yaml.v2 reads 0x1F, 010 and 1_000 as ints, 1.0, 1e3, .inf and .nan as floats.
      const float = !Number.isInteger(n) || (!/^[-+]?0[xob]/i.test(text) && /[.eE]/.test(text));
      return new Leaf(n, text, float ? '!!float' : '!!int');
    }
    return new Odd(text);
  }
  return new Odd(String(node));
}

const describe = (v: Raw): string =>
  v === null
    ? '!!null'
    : typeof v === 'string'
      ? `!!str \`${v}\``
      : v instanceof Leaf
        ? `${v.tag} \`${v.text}\``
        : v instanceof Odd
          ? `\`${v.text}\``
          : isRawMap(v)
            ? '!!map'
            : '!!seq';

const unmarshalError = (v: Raw, into: string): ConfigProblem =>
  new ConfigProblem(`error loading config file: cannot unmarshal ${describe(v)} into ${into}`);

/** validateYamlKeys: every key anywhere must be a known one, lists hold maps only, leaves are strings, ints or bools. */
function validateKeys(m: RawMap): void {
  for (const [k, v] of m) {
    if (!VALID_KEYS.has(k)) throw new ConfigProblem(`config error, unknown key '${k}'`);
    if (k === 'metadata') continue;
    if (Array.isArray(v)) {
      for (const e of v as readonly Raw[]) {
        if (e === null || !isRawMap(e))
          throw new ConfigProblem(
            `config error, yaml file contains list of type other than map: ${e === null ? '<nil>' : describe(e)}`,
          );
        validateKeys(e);
      }
    } else if (v !== null && isRawMap(v)) validateKeys(v);
    else if (v instanceof Odd || (v instanceof Leaf && v.tag === '!!float'))
      throw new ConfigProblem('error checking config');
  }
}

/** A Go string field: a scalar's text; none is "". */
function str(m: RawMap, k: string): string {
  const v = m.get(k) ?? null;
  if (v === null) return '';
  if (typeof v === 'string') return v;
  if (v instanceof Leaf) return v.text;
  throw unmarshalError(v, 'string');
}

function bool(m: RawMap, k: string): boolean {
  const v = m.get(k) ?? null;
  if (v === null) return false;
  if (v instanceof Leaf && typeof v.value === 'boolean') return v.value;
  throw unmarshalError(v, 'bool');
}

function uint32(m: RawMap, k: string): number {
  const v = m.get(k) ?? null;
  if (v === null) return 0;
  if (v instanceof Leaf && v.tag === '!!int' && Number(v.value) >= 0 && Number(v.value) <= MAX_UINT32)
    return Number(v.value);
  throw unmarshalError(v, 'uint32');
}

function maps(m: RawMap, k: string, into: string): RawMap[] {
  const v = m.get(k) ?? null;
  if (v === null) return [];
  if (!Array.isArray(v)) throw unmarshalError(v, into);
  return (v as readonly Raw[]).map((e) => {
    if (e === null || !isRawMap(e)) throw unmarshalError(e, into.slice(2));
    return e;
  });
}

function map(m: RawMap, k: string, into: string): RawMap | null {
  const v = m.get(k) ?? null;
  if (v === null) return null;
  if (!isRawMap(v)) throw unmarshalError(v, into);
  return v;
}

export interface Limit {
  readonly requestsPerUnit: number;
  readonly unit: RlsUnit;
  readonly unlimited: boolean;
  readonly shadowMode: boolean;
  readonly quotaMode: boolean;
  readonly name: string;
  readonly replaces: readonly string[];
}

export interface ConfigNode {
  /** By `key` or `key_value`, as config_impl.go keys its map. */
  readonly children: Map<string, ConfigNode>;
  /** The children whose value holds `*`, in file order: the first that matches wins. */
  readonly wildcards: { readonly key: string; readonly parts: readonly string[] }[];
  readonly limit: Limit | null;
  /** `share_threshold`: the `key_value*` pattern the counter is keyed on. */
  readonly sharedPattern: string | null;
}

function readLimit(raw: RawMap, d: RawMap): Limit {
  // The fields as yaml.v2 fills the struct, then loadDescriptors' checks.
  const unlimited = bool(raw, 'unlimited');
  const unit = str(raw, 'unit');
  const requestsPerUnit = uint32(raw, 'requests_per_unit');
  const name = str(raw, 'name');
  const replaces = maps(raw, 'replaces', '[]config.yamlReplaces').map((r) => str(r, 'name'));
  const unitName = unit.toUpperCase();
  const validUnit = unitName in UNIT_SECONDS;
  if (unlimited && validUnit) throw new ConfigProblem('should not specify rate limit unit when unlimited');
  if (!unlimited && !validUnit) throw new ConfigProblem(`invalid rate limit unit '${unit}'`);
  for (const r of replaces) {
    if (r === '') throw new ConfigProblem('should not have an empty replaces entry');
    if (r === name) throw new ConfigProblem('replaces should not contain name of same descriptor');
  }
  return {
    requestsPerUnit,
    unit: validUnit ? (unitName as RlsUnit) : 'UNKNOWN',
    unlimited,
    shadowMode: bool(d, 'shadow_mode'),
    quotaMode: bool(d, 'quota_mode'),
    name,
    replaces,
  };
}

function loadDescriptors(parent: ConfigNode, parentKey: string, descriptors: readonly RawMap[]): void {
  for (const d of descriptors) {
    // The fields as yaml.v2 fills the struct (detailed_metric, value_to_metric and metadata
    // change only stats and dynamic metadata), then loadDescriptors' checks.
    const key = str(d, 'key');
    const value = str(d, 'value');
    const rl = map(d, 'rate_limit', 'config.YamlRateLimit');
    const shared = bool(d, 'share_threshold');
    const children = maps(d, 'descriptors', '[]config.YamlDescriptor');
    bool(d, 'shadow_mode');
    bool(d, 'quota_mode');
    bool(d, 'detailed_metric');
    bool(d, 'value_to_metric');
    map(d, 'metadata', 'map[string]interface {}');
    if (key === '') throw new ConfigProblem('descriptor has empty key');
    const finalKey = value === '' ? key : `${key}_${value}`;
    const path = parentKey + finalKey;
    if (parent.children.has(finalKey))
      throw new ConfigProblem(`duplicate descriptor composite key '${path}'`);
    const limit = rl === null ? null : readLimit(rl, d);
    if (shared && !finalKey.includes('*'))
      throw new ConfigProblem(
        `share_threshold can only be used with wildcard values (containing '*'), but found key '${finalKey}'`,
      );
    if (finalKey.includes('*')) parent.wildcards.push({ key: finalKey, parts: finalKey.split('*') });
    const node: ConfigNode = {
      children: new Map(),
      wildcards: [],
      limit,
      sharedPattern: shared ? finalKey : null,
    };
    loadDescriptors(node, `${path}.`, children);
    parent.children.set(finalKey, node);
  }
}

/** One configuration document: its domain and descriptor tree (ConfigFileContentToYaml, loadConfig). */
function loadDocument(root: Raw, domains: ReadonlyMap<string, ConfigNode>): [string, ConfigNode] {
  // An empty document is an empty map to yaml.v2.
  const m = root ?? new Map<string, Raw>();
  if (!isRawMap(m)) throw unmarshalError(m, 'map[interface {}]interface {}');
  validateKeys(m);
  const domain = str(m, 'domain');
  const descriptors = maps(m, 'descriptors', '[]config.YamlDescriptor');
  if (domain === '') throw new ConfigProblem('config file cannot have empty domain');
  if (domains.has(domain)) throw new ConfigProblem(`duplicate domain '${domain}' in config file`);
  const node: ConfigNode = { children: new Map(), wildcards: [], limit: null, sharedPattern: null };
  loadDescriptors(node, `${domain}.`, descriptors);
  return [domain, node];
}

/** The documents of one input item, each read or the problem it has. */
function documentsOf(item: string | RateLimitServiceConfig): (() => Raw)[] {
  if (typeof item !== 'string') return [() => fromObject(item, 0)];
  const docs = parseAllDocuments(item, { version: '1.1', uniqueKeys: true });
  // No document at all is an empty file, an empty map to yaml.v2.
  if (docs.length === 0) return [() => null];
  return docs.map((doc) => () => {
    const [error] = doc.errors;
    if (error !== undefined)
      throw new ConfigProblem(
        `error loading config file: ${(error.message.split('\n')[0] ?? '').replace(/:$/, '')}`,
      );
    try {
      // Refuses an alias bomb before it is walked.
      doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      throw new ConfigProblem(
        `error loading config file: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    return fromYaml(doc.contents, doc, 0);
  });
}

/**
 * Reads every configuration document; throws MeshletError MESHLET_ERR_RATELIMIT_CONFIG with
 * `details.document`, the index of the document at fault among all of them in order.
 */
export function parseConfigs(input: RateLimitConfigInput): Map<string, ConfigNode> {
  const items: readonly (string | RateLimitServiceConfig)[] = Array.isArray(input)
    ? (input as readonly (string | RateLimitServiceConfig)[])
    : [input as string | RateLimitServiceConfig];
  const domains = new Map<string, ConfigNode>();
  let document = 0;
  for (const item of items) {
    if (typeof item !== 'string' && (typeof item !== 'object' || item === null))
      throw new MeshletError(
        'MESHLET_ERR_RATELIMIT_CONFIG',
        `rate limit config document ${document}: expected YAML text or a configuration object, got ${item === null ? 'null' : typeof item}`,
        { document },
      );
    for (const read of documentsOf(item)) {
      try {
        const [domain, node] = loadDocument(read(), domains);
        domains.set(domain, node);
      } catch (err) {
        if (!(err instanceof ConfigProblem)) throw err;
        throw new MeshletError(
          'MESHLET_ERR_RATELIMIT_CONFIG',
          `rate limit config document ${document}: ${err.message}`,
          { document },
        );
      }
      document++;
    }
  }
  return domains;
}
