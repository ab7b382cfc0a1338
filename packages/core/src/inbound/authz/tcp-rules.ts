import type { Condition, Operation, Rule, Source } from '../../config/schema/authorization-policy.js';

/**
 * The rule fields a TCP connection has no value for: istiod's generators refuse them
 * `forTCP` ("%q is HTTP only", pilot/pkg/security/authz/model/generator.go).
 */
const HTTP_ONLY_SOURCE = ['requestPrincipals', 'notRequestPrincipals'] as const;
const HTTP_ONLY_OPERATION = ['hosts', 'notHosts', 'paths', 'notPaths', 'methods', 'notMethods'] as const;

function isHttpOnlyKey(key: string): boolean {
  return key.startsWith('request.headers[') || key.startsWith('request.auth.');
}

/** A field counts only with values: istiod skips an empty list (model.go insertFront). */
const set = (v: readonly string[] | undefined): boolean => v !== undefined && v.length > 0;

function sourceHasHttp(s: Source): boolean {
  return HTTP_ONLY_SOURCE.some((k) => set(s[k]));
}

function operationHasHttp(o: Operation): boolean {
  return HTTP_ONLY_OPERATION.some((k) => set(o[k]));
}

function conditionHasHttp(c: Condition): boolean {
  return isHttpOnlyKey(c.key) && (set(c.values) || set(c.notValues));
}

/** Whether the rule reads anything only an HTTP request has. */
export function ruleHasHttpOnlyField(rule: Rule): boolean {
  return (
    (rule.from ?? []).some((f) => f.source !== undefined && sourceHasHttp(f.source)) ||
    (rule.to ?? []).some((t) => t.operation !== undefined && operationHasHttp(t.operation)) ||
    (rule.when ?? []).some(conditionHasHttp)
  );
}

/** The rule's HTTP-only fields by path (`to[0].operation.methods`, `when[1] request.headers[x]`). */
export function httpOnlyFieldsOf(rule: Rule): string[] {
  const out: string[] = [];
  (rule.from ?? []).forEach((f, i) => {
    for (const k of HTTP_ONLY_SOURCE)
      if (f.source !== undefined && set(f.source[k])) out.push(`from[${i}].source.${k}`);
  });
  (rule.to ?? []).forEach((t, i) => {
    for (const k of HTTP_ONLY_OPERATION)
      if (t.operation !== undefined && set(t.operation[k])) out.push(`to[${i}].operation.${k}`);
  });
  (rule.when ?? []).forEach((c, i) => {
    if (conditionHasHttp(c)) out.push(`when[${i}] ${c.key}`);
  });
  return out;
}

function without<T extends object>(o: T, keys: readonly string[]): T {
  const out = { ...o } as Record<string, unknown>;
  for (const k of keys) delete out[k];
  return out as T;
}

/**
 * A rule as the network RBAC filter of a TCP filter chain has it (istiod builds one
 * `forTCP`; model.go `checkError`): in an ALLOW policy a rule with an HTTP-only field is
 * left out whole (null: a smaller allow), in DENY, AUDIT and CUSTOM only those fields are
 * (a wider match; a rule left with nothing matches every connection). The istio.io TCP
 * authorization task shows both: an ALLOW of `methods: [GET]` on port 9000 admits nothing,
 * a DENY of it refuses every connection to 9000.
 */
export function tcpRule(rule: Rule, action: 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM'): Rule | null {
  if (!ruleHasHttpOnlyField(rule)) return rule;
  if (action === 'ALLOW') return null;
  const out: Rule = {
    ...rule,
    ...(rule.from === undefined
      ? {}
      : {
          from: rule.from.map((f) =>
            f.source === undefined ? f : { source: without(f.source, HTTP_ONLY_SOURCE) },
          ),
        }),
    ...(rule.to === undefined
      ? {}
      : {
          to: rule.to.map((t) =>
            t.operation === undefined ? t : { operation: without(t.operation, HTTP_ONLY_OPERATION) },
          ),
        }),
    ...(rule.when === undefined ? {} : { when: rule.when.filter((c) => !conditionHasHttp(c)) }),
  };
  return out;
}
