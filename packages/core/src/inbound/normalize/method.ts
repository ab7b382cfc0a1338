/**
 * istio.io "Authorization Policy Normalization", methods: a verb that is not all
 * upper case is refused with 400 before any policy runs, so `get` and `GeT` can never
 * slip past a `methods: ["GET"]` DENY rule. Returns the problem, or null.
 */
export function methodProblem(method: string): string | null {
  if (method === '') return 'empty method';
  return /[a-z]/.test(method) ? `method ${JSON.stringify(method)} is not upper case` : null;
}
