/**
 * Freezes plain objects and arrays recursively (functions are frozen as
 * values; what their closures capture is compile-time state nobody else holds).
 */
export function deepFreeze<T>(value: T, seen: WeakSet<object> = new WeakSet()): T {
  if (typeof value !== 'object' || value === null) {
    if (typeof value === 'function') Object.freeze(value);
    return value;
  }
  if (seen.has(value)) return value;
  seen.add(value);
  for (const k of Reflect.ownKeys(value)) {
    deepFreeze((value as Record<string | symbol, unknown>)[k], seen);
  }
  return Object.freeze(value);
}
