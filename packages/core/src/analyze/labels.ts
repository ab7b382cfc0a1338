/** Kubernetes equality-based label selectors as `labels.SelectorFromSet` builds them. */
export type Labels = Readonly<Record<string, string>>;

/** Every key of `selector` present in `labels` with the same value; an empty selector matches all. */
export function selectorMatches(selector: Labels, labels: Labels): boolean {
  for (const [k, v] of Object.entries(selector)) if (labels[k] !== v) return false;
  return true;
}

/** `Selector.String()`: `k1=v1,k2=v2`, keys sorted; '' for an empty selector. */
export function selectorString(selector: Labels): string {
  return Object.keys(selector)
    .sort()
    .map((k) => `${k}=${selector[k] ?? ''}`)
    .join(',');
}
