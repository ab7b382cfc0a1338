import type { AuthorizationPlan, AuthorizationPolicyPlan } from '../compile/inbound-types.js';
import type { Condition, Operation, Rule, Source } from '../config/schema/authorization-policy.js';
import { compileRule, type RuleContext } from '../inbound/authz/compile-rule.js';
import { headerOf, type AuthzInput } from '../inbound/authz/input.js';
import { httpOnlyFieldsOf, tcpRule } from '../inbound/authz/tcp-rules.js';

/** One rule of a policy checked against the request. */
export interface RuleCheck {
  readonly index: number;
  readonly matched: boolean;
  /** Why it did not match: each failing clause with the value the request had. */
  readonly failed: readonly string[];
  /** On a TCP connection, the HTTP-only fields the rule's DENY, AUDIT or CUSTOM policy dropped. */
  readonly dropped?: readonly string[];
}

/** One AuthorizationPolicy checked rule by rule. */
export interface PolicyCheck {
  /** `ns/name` */
  readonly policy: string;
  readonly action: AuthorizationPolicyPlan['action'];
  readonly dryRun: boolean;
  readonly provider: string | null;
  /** Index of the first matching rule, or -1. */
  readonly matchedRule: number;
  /** null when the policy has no `rules` (an ALLOW without rules matches nothing). */
  readonly rules: readonly RuleCheck[] | null;
}

export interface AuthzWalk {
  readonly custom: readonly PolicyCheck[];
  readonly deny: readonly PolicyCheck[];
  readonly allow: readonly PolicyCheck[];
  readonly audit: readonly PolicyCheck[];
}

/** `tcp`: check the rules as a TCP chain's network RBAC filter has them (tcp-rules.ts). */
type Ctx = Omit<RuleContext, 'policyNamespace' | 'strict'> & { readonly tcp?: boolean };

function ipText(ip: AuthzInput['sourceIp']): string {
  if (ip === null) return 'none';
  if (ip.bytes.length === 4) return ip.bytes.join('.');
  const groups: string[] = [];
  for (let k = 0; k < ip.bytes.length; k += 2)
    groups.push((((ip.bytes[k] ?? 0) << 8) | (ip.bytes[k + 1] ?? 0)).toString(16));
  return groups.join(':');
}

/** What the request had for a Source/Operation field, for "wanted X, got Y". */
function actual(field: string, i: AuthzInput): string {
  switch (field.replace(/^not/, '').toLowerCase()) {
    case 'principals':
      return i.peer === null ? 'no mTLS peer' : `peer ${i.peer.principal}`;
    case 'requestprincipals': {
      const iss = i.claims?.['iss'];
      const sub = i.claims?.['sub'];
      return i.claims === null ? 'no verified JWT' : `request principal ${String(iss)}/${String(sub)}`;
    }
    case 'namespaces':
      return i.peer === null ? 'no mTLS peer' : `peer namespace ${i.peer.namespace}`;
    case 'serviceaccounts':
      return i.peer === null ? 'no mTLS peer' : `peer ${i.peer.namespace}/${i.peer.serviceAccount}`;
    case 'trustdomains':
      return i.peer === null ? 'no mTLS peer' : `peer trust domain ${i.peer.trustDomain}`;
    case 'ipblocks':
      return `source ip ${ipText(i.sourceIp)}`;
    case 'remoteipblocks':
      return `remote ip ${ipText(i.remoteIp)}`;
    case 'hosts':
      return `host ${JSON.stringify(i.host)}`;
    case 'methods':
      return `method ${i.method}`;
    case 'paths':
      return `path ${i.path}`;
    case 'ports':
      return `port ${i.port}`;
    default:
      return '';
  }
}

function conditionActual(key: string, i: AuthzInput): string {
  if (key.startsWith('request.headers[')) {
    const v = headerOf(i, key.slice('request.headers['.length, -1).toLowerCase());
    return v === undefined ? 'header absent' : `header ${JSON.stringify(v)}`;
  }
  if (key.startsWith('request.auth.'))
    return i.claims === null ? 'no verified JWT' : 'JWT claims did not match';
  return actual(key.split('.').pop() ?? key, i);
}

function fieldChecks<T extends Source | Operation>(
  kind: 'from' | 'to',
  index: number,
  part: T | undefined,
  ctx: RuleContext,
  input: AuthzInput,
): string[] {
  if (part === undefined) return [];
  const failed: string[] = [];
  for (const [field, values] of Object.entries(part) as [string, readonly string[] | undefined][]) {
    if (values === undefined) continue;
    const one: Rule =
      kind === 'from'
        ? { from: [{ source: { [field]: values } }] }
        : { to: [{ operation: { [field]: values } }] };
    if (!compileRule(one, ctx)(input)) {
      const label = kind === 'from' ? `from[${index}].source` : `to[${index}].operation`;
      failed.push(`${label}.${field} ${JSON.stringify(values)} (got ${actual(field, input)})`);
    }
  }
  return failed;
}

function conditionCheck(c: Condition, k: number, ctx: RuleContext, input: AuthzInput): string | null {
  if (compileRule({ when: [c] }, ctx)(input)) return null;
  const want = [
    c.values === undefined ? '' : `values ${JSON.stringify(c.values)}`,
    c.notValues === undefined ? '' : `notValues ${JSON.stringify(c.notValues)}`,
  ]
    .filter((s) => s !== '')
    .join(' ');
  return `when[${k}] ${c.key} ${want} (got ${conditionActual(c.key, input)})`;
}

/** Checks one rule; when it fails, names each `from`/`to` clause and `when` condition that failed. */
function checkRule(rule: Rule, index: number, ctx: RuleContext, input: AuthzInput): RuleCheck {
  if (compileRule(rule, ctx)(input)) return { index, matched: true, failed: [] };
  const failed: string[] = [];
  const from = rule.from ?? [];
  const fromOk = from.length === 0 || from.some((f) => compileRule({ from: [f] }, ctx)(input));
  if (!fromOk) from.forEach((f, i) => failed.push(...fieldChecks('from', i, f.source, ctx, input)));
  const to = rule.to ?? [];
  const toOk = to.length === 0 || to.some((t) => compileRule({ to: [t] }, ctx)(input));
  if (!toOk) to.forEach((t, i) => failed.push(...fieldChecks('to', i, t.operation, ctx, input)));
  (rule.when ?? []).forEach((c, k) => {
    const f = conditionCheck(c, k, ctx, input);
    if (f !== null) failed.push(f);
  });
  // A value that cannot be compiled makes a strict (ALLOW) rule match nothing as a whole.
  if (failed.length === 0) failed.push('the rule has a value Istio cannot use, so it matches nothing');
  return { index, matched: false, failed };
}

/** One rule on a TCP connection: left out of an ALLOW, or checked without its HTTP-only fields. */
function checkTcpRule(
  rule: Rule,
  index: number,
  action: string,
  ctx: RuleContext,
  input: AuthzInput,
): RuleCheck {
  const fields = httpOnlyFieldsOf(rule);
  const t = tcpRule(rule, action as AuthorizationPolicyPlan['action']);
  if (t === null)
    return {
      index,
      matched: false,
      failed: [
        `left out on TCP: an ALLOW rule with an HTTP-only field (${fields.join(', ')}) matches no connection`,
      ],
    };
  const check = checkRule(t, index, ctx, input);
  return fields.length === 0 ? check : { ...check, dropped: fields };
}

function checkPolicy(p: AuthorizationPolicyPlan, base: Ctx, input: AuthzInput): PolicyCheck {
  const { tcp, ...rest } = base;
  const ctx: RuleContext = { ...rest, policyNamespace: p.policy.namespace, strict: p.action === 'ALLOW' };
  const rules =
    p.rules === null
      ? null
      : p.rules.map((r, k) =>
          tcp === true ? checkTcpRule(r, k, p.action, ctx, input) : checkRule(r, k, ctx, input),
        );
  return {
    policy: `${p.policy.namespace}/${p.policy.name}`,
    action: p.action,
    dryRun: p.dryRun,
    provider: p.provider,
    matchedRule: rules?.find((r) => r.matched)?.index ?? -1,
    rules,
  };
}

/**
 * Checks every AuthorizationPolicy of the workload against the request, rule by rule,
 * with the same matchers the engine compiles (`compileRule`), applied to one clause at a
 * time so a failing rule names the clause that failed and what the request had.
 */
export function walkAuthorization(plan: AuthorizationPlan, ctx: Ctx, input: AuthzInput): AuthzWalk {
  const each = (list: readonly AuthorizationPolicyPlan[]) => list.map((p) => checkPolicy(p, ctx, input));
  return {
    custom: each(plan.custom),
    deny: each(plan.deny),
    allow: each(plan.allow),
    audit: each(plan.audit),
  };
}
