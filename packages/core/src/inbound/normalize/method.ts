/**
 * istio.io "Authorization Policy Normalization", methods: a verb that is not all
 * upper case is refused with 400 before any policy runs, so `get` and `GeT` can never
 * slip past a `methods: ["GET"]` DENY rule. Returns the problem, or null.
 */
export function methodProblem(method: string): string | null {
  if (method === '') return 'empty method';
  for (let i = 0; i < method.length; i++) {
    const c = method.charCodeAt(i);
    if (c >= 0x61 && c <= 0x7a) return `method ${JSON.stringify(method)} is not upper case`;
  }
  return null;
}
