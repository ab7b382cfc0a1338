/**
 * Defensive readers over resource specs. The analyzers run over whatever the
 * loader kept (and, in tests, over documents that would fail validation, as
 * Istio's own analyzer tests do), so no field is trusted to have its schema type.
 */
export type Obj = Readonly<Record<string, unknown>>;

const EMPTY: Obj = Object.freeze({});

export function obj(value: unknown): Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Obj) : EMPTY;
}

export function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function arr(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}

export function str(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

export function num(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

export function strList(value: unknown): readonly string[] {
  return arr(value).filter((v): v is string => typeof v === 'string');
}

/** A `map<string,string>` field (labels, selectors); non-string values are dropped. */
export function strMap(value: unknown): Readonly<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj(value))) if (typeof v === 'string') out[k] = v;
  return out;
}
