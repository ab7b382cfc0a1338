import type { FieldPath } from '../diagnostic.js';

/**
 * Readers for Envoy proto-JSON values inside an EnvoyFilter patch (snake_case, as
 * Envoy's docs and Istio's tasks write them; lowerCamelCase is accepted too,
 * as protojson does). Each reader records a problem at its path and returns a
 * fallback instead of throwing.
 */

export interface Problem {
  readonly path: FieldPath;
  readonly message: string;
}

export interface Reader {
  readonly errors: Problem[];
  readonly warnings: Problem[];
}

export type JsonObject = Readonly<Record<string, unknown>>;

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** protojson accepts both the proto name and its lowerCamelCase JSON name. */
export function snake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/**
 * Reads an object's fields by proto name. Unknown fields are warnings: Istio
 * converts patches leniently and only warns about them (envoyfilter.go), so Envoy
 * never sees them.
 */
export function fields(
  r: Reader,
  obj: JsonObject,
  path: FieldPath,
  known: readonly string[],
): Map<string, [unknown, FieldPath]> {
  const out = new Map<string, [unknown, FieldPath]>();
  for (const [key, value] of Object.entries(obj)) {
    const name = snake(key);
    if (!known.includes(name)) {
      r.warnings.push({
        path: [...path, key],
        message: `unknown field ${JSON.stringify(key)} is ignored (Istio drops it before Envoy sees it)`,
      });
      continue;
    }
    if (value !== null) out.set(name, [value, [...path, key]]);
  }
  return out;
}

export function readString(r: Reader, v: unknown, path: FieldPath, required = false): string {
  if (typeof v !== 'string') {
    r.errors.push({
      path,
      message:
        v === undefined ? 'Required value: a string is required' : `expected a string, got ${typeof v}`,
    });
    return '';
  }
  if (required && v === '') r.errors.push({ path, message: 'value length must be at least 1 characters' });
  return v;
}

/** A uint32 (proto JSON allows a number or a decimal string). */
export function readUint32(r: Reader, v: unknown, path: FieldPath): number {
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 0xffffffff) {
    r.errors.push({ path, message: `expected an unsigned 32-bit integer, got ${JSON.stringify(v)}` });
    return 0;
  }
  return n;
}

export function readBool(r: Reader, v: unknown, path: FieldPath): boolean {
  if (typeof v !== 'boolean') {
    r.errors.push({ path, message: `expected a boolean (true or false), got ${JSON.stringify(v)}` });
    return false;
  }
  return v;
}

/** An enum by name, or by number as protojson also allows. */
export function readEnum<T extends string>(
  r: Reader,
  v: unknown,
  path: FieldPath,
  names: readonly T[],
): T | null {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < names.length) return names[v] as T;
  if (typeof v === 'string' && (names as readonly string[]).includes(v)) return v as T;
  r.errors.push({
    path,
    message: `Unsupported value: ${JSON.stringify(v)}: supported values: ${names.map((n) => JSON.stringify(n)).join(', ')}`,
  });
  return null;
}

/**
 * A `google.protobuf.Duration` in proto JSON: decimal seconds with an `s` suffix
 * (`"60s"`, `"0.25s"`). Go-style `1m` is not accepted by protojson, so not here either.
 * Returns milliseconds.
 */
export function readDuration(r: Reader, v: unknown, path: FieldPath): number | null {
  if (typeof v !== 'string' || !/^-?\d+(\.\d{1,9})?s$/.test(v)) {
    r.errors.push({
      path,
      message: `${JSON.stringify(v)} is not a google.protobuf.Duration (proto JSON wants seconds, e.g. "60s" or "0.5s")`,
    });
    return null;
  }
  return Number(v.slice(0, -1)) * 1000;
}

export function readObject(r: Reader, v: unknown, path: FieldPath): JsonObject | null {
  if (!isObject(v)) {
    r.errors.push({
      path,
      message:
        v === undefined
          ? 'Required value: an object is required'
          : `expected an object, got ${JSON.stringify(v)}`,
    });
    return null;
  }
  return v;
}

export function readList(r: Reader, v: unknown, path: FieldPath, max?: number): readonly unknown[] {
  if (!Array.isArray(v)) {
    r.errors.push({ path, message: `expected a list, got ${JSON.stringify(v)}` });
    return [];
  }
  if (max !== undefined && v.length > max)
    r.errors.push({ path, message: `value must contain no more than ${max} item(s)` });
  return v as readonly unknown[];
}

const TYPED_STRUCT_URLS = [
  'type.googleapis.com/udpa.type.v1.TypedStruct',
  'type.googleapis.com/xds.type.v3.TypedStruct',
];

/**
 * Where the message of `typeUrl` sits inside a filter's `typed_config`: the object itself
 * (`@type: typeUrl`), or a TypedStruct's `value` whose `type_url` is `typeUrl`; null otherwise.
 */
export function typedConfigBody(
  typedConfig: unknown,
  path: FieldPath,
  typeUrl: string,
): { body: unknown; path: FieldPath } | null {
  if (!isObject(typedConfig)) return null;
  const type = typedConfig['@type'];
  if (type === typeUrl) return { body: typedConfig, path };
  const inner = typedConfig['type_url'] ?? typedConfig['typeUrl'];
  if (typeof type === 'string' && TYPED_STRUCT_URLS.includes(type) && inner === typeUrl)
    return { body: typedConfig['value'] ?? {}, path: [...path, 'value'] };
  return null;
}
