import type { HeaderToAdd } from '../../config/schema/local-rate-limit.js';

/**
 * Applies Envoy `HeaderValueOption`s to a header set: `existing` is what the
 * message already carries (lower-case names). Returns the values to set.
 */
export function applyHeadersToAdd(
  options: readonly HeaderToAdd[],
  existing: (name: string) => string | undefined,
  into: Record<string, string>,
): void {
  for (const h of options) {
    if (h.value === '' && !h.keepEmptyValue) continue;
    const current = into[h.key] ?? existing(h.key);
    switch (h.appendAction) {
      case 'APPEND_IF_EXISTS_OR_ADD':
        into[h.key] = current === undefined ? h.value : `${current},${h.value}`;
        break;
      case 'ADD_IF_ABSENT':
        if (current === undefined) into[h.key] = h.value;
        break;
      case 'OVERWRITE_IF_EXISTS_OR_ADD':
        into[h.key] = h.value;
        break;
      case 'OVERWRITE_IF_EXISTS':
        if (current !== undefined) into[h.key] = h.value;
        break;
    }
  }
}
