import type { Condition, Operation, Rule, Source } from '../../config/schema/authorization-policy.js';
import { claimMatch, claimPath } from './claims.js';
import { headerValuesOf, type AuthzInput } from './input.js';
import { cidrContains, parseCidr } from './ip.js';
import { hostPattern, methodPattern, pathPattern, portMatch } from './operation-match.js';
import {
  namespaceMatch,
  principalMatch,
  requestPrincipalMatch,
  serviceAccountMatch,
  trustDomainMatch,
  type Match,
} from './source-match.js';
import { istioString } from './string-match.js';
import { AnyOfStrings, headerPattern, type StringPattern } from './string-set.js';
import { expandTrustDomains, replaceTrustDomainAliases } from './trust-domain.js';

/** What compiling a policy's rules needs besides the rules. */
export interface RuleContext {
  readonly policyNamespace: string;
  /** meshConfig `trustDomain` then `trustDomainAliases`. */
  readonly trustDomains: readonly string[];
  /**
   * ALLOW policies: a value that cannot be compiled drops its whole rule (a smaller
   * allow). DENY, AUDIT and CUSTOM: only that value is dropped (a wider match).
   * istio authz/model/model.go `checkError`.
   */
  readonly strict: boolean;
}

const NEVER: Match = () => false;

function all(tests: readonly Match[]): Match {
  if (tests.length === 0) return () => true;
  if (tests.length === 1) return tests[0] as Match;
  return (i) => {
    for (const t of tests) if (!t(i)) return false;
    return true;
  };
}

function any(tests: readonly Match[]): Match {
  if (tests.length === 1) return tests[0] as Match;
  return (i) => {
    for (const t of tests) if (t(i)) return true;
    return false;
  };
}

/** Compiles each value; a failure throws (strict) or drops the value. */
function compileEach<T>(values: readonly string[], make: (v: string) => T, ctx: RuleContext): T[] {
  const out: T[] = [];
  for (const v of values) {
    try {
      out.push(make(v));
    } catch (err) {
      if (ctx.strict) throw err;
    }
  }
  return out;
}

/**
 * A field's two sides ANDed: `yes` (any matches) and `no` (none matches), each made
 * into one test by `side`; nothing for a side with no values.
 */
function sides<T>(
  yes: readonly T[],
  no: readonly T[],
  side: (values: readonly T[], negate: boolean) => Match,
): Match[] {
  const out: Match[] = [];
  if (yes.length > 0) out.push(side(yes, false));
  if (no.length > 0) out.push(side(no, true));
  return out;
}

/** `values` (any matches) and `notValues` (none matches), ANDed; nothing for an unset field. */
function field(
  values: readonly string[] | undefined,
  notValues: readonly string[] | undefined,
  make: (v: string) => Match,
  ctx: RuleContext,
): Match[] {
  return sides(
    compileEach(values ?? [], make, ctx),
    compileEach(notValues ?? [], make, ctx),
    (tests, negate) => {
      const m = any(tests);
      return negate ? (i) => !m(i) : m;
    },
  );
}

/** `values` (any matches) and `notValues` (none does) of one string field, as one test each. */
function stringTests(
  yes: readonly StringPattern[],
  no: readonly StringPattern[],
  read: (set: AnyOfStrings, negate: boolean) => Match,
): Match[] {
  return sides(yes, no, (patterns, negate) => read(new AnyOfStrings(patterns), negate));
}

/**
 * A string field (`values` any matches, `notValues` none does), each side one
 * {@link AnyOfStrings} test of the value `read` takes from the request.
 */
function stringField(
  values: readonly string[] | undefined,
  notValues: readonly string[] | undefined,
  pattern: (v: string) => StringPattern,
  ctx: RuleContext,
  read: (set: AnyOfStrings, negate: boolean) => Match,
): Match[] {
  return stringTests(
    compileEach(values ?? [], pattern, ctx),
    compileEach(notValues ?? [], pattern, ctx),
    read,
  );
}

const readPath = (set: AnyOfStrings, negate: boolean): Match =>
  negate ? (i) => !set.matches(i.path) : (i) => set.matches(i.path);
const readMethod = (set: AnyOfStrings, negate: boolean): Match =>
  negate ? (i) => !set.matches(i.method) : (i) => set.matches(i.method);
const readHost = (set: AnyOfStrings, negate: boolean): Match =>
  negate ? (i) => !set.matches(i.host) : (i) => set.matches(i.host);

function ipMatch(pick: (i: AuthzInput) => AuthzInput['sourceIp']): (v: string) => Match {
  return (v) => {
    const cidr = parseCidr(v);
    return (i) => cidrContains(cidr, pick(i));
  };
}

const sourceIp = ipMatch((i) => i.sourceIp);
const remoteIp = ipMatch((i) => i.remoteIp);
const destinationIp = ipMatch((i) => i.destinationIp);

function principals(values: readonly string[] | undefined, ctx: RuleContext): string[] | undefined {
  return values === undefined ? undefined : replaceTrustDomainAliases(values, ctx.trustDomains);
}

function trustDomains(values: readonly string[] | undefined, ctx: RuleContext): string[] | undefined {
  return values === undefined ? undefined : expandTrustDomains(values, ctx.trustDomains);
}

/** `Source`: every set field must match. */
function compileSource(s: Source, ctx: RuleContext): Match {
  const sa = (v: string) => serviceAccountMatch(v, ctx.policyNamespace);
  return all([
    ...field(principals(s.principals, ctx), principals(s.notPrincipals, ctx), principalMatch, ctx),
    ...field(s.requestPrincipals, s.notRequestPrincipals, requestPrincipalMatch, ctx),
    ...field(s.namespaces, s.notNamespaces, namespaceMatch, ctx),
    ...field(s.serviceAccounts, s.notServiceAccounts, sa, ctx),
    ...field(trustDomains(s.trustDomains, ctx), trustDomains(s.notTrustDomains, ctx), trustDomainMatch, ctx),
    ...field(s.remoteIpBlocks, s.notRemoteIpBlocks, remoteIp, ctx),
    ...field(s.ipBlocks, s.notIpBlocks, sourceIp, ctx),
  ]);
}

/** A compiled `Operation`, with the `paths` values it requires (null when it has none). */
interface CompiledOperation {
  readonly match: Match;
  readonly paths: readonly StringPattern[] | null;
}

/**
 * `Operation`: every set field must match. Paths are tested first, as the field that
 * most often rules a request out; the order of an AND changes no answer.
 */
function compileOperation(o: Operation, ctx: RuleContext): CompiledOperation {
  const paths = compileEach(o.paths ?? [], pathPattern, ctx);
  return {
    match: all([
      ...stringTests(paths, compileEach(o.notPaths ?? [], pathPattern, ctx), readPath),
      ...stringField(o.methods, o.notMethods, methodPattern, ctx, readMethod),
      ...stringField(o.hosts, o.notHosts, hostPattern, ctx, readHost),
      ...field(o.ports, o.notPorts, portMatch, ctx),
    ]),
    paths: paths.length > 0 ? paths : null,
  };
}

/** The compile function for one value of a `when` key (spec/security.md §3 `when` keys). */
function conditionValue(key: string, ctx: RuleContext): (v: string) => Match {
  switch (key) {
    case 'source.ip':
      return sourceIp;
    case 'remote.ip':
      return remoteIp;
    case 'destination.ip':
      return destinationIp;
    case 'destination.port':
      return portMatch;
    case 'source.namespace':
      return namespaceMatch;
    case 'source.principal':
      return principalMatch;
    case 'source.serviceAccount':
      return (v) => serviceAccountMatch(v, ctx.policyNamespace);
    case 'source.trustDomain':
      return trustDomainMatch;
    case 'request.auth.principal':
      return requestPrincipalMatch;
    case 'request.auth.audiences':
      return (v) => claimMatch(['aud'], [istioString(v)]);
    case 'request.auth.presenter':
      return (v) => claimMatch(['azp'], [istioString(v)]);
    case 'connection.sni':
      return (v) => {
        const t = istioString(v);
        return (i) => i.sni !== null && t(i.sni);
      };
  }
  if (key.startsWith('request.auth.claims')) {
    const path = claimPath(key.slice('request.auth.claims'.length));
    if (path === null) throw new Error(`bad key (${key}): should have format a[b]`);
    return (v) => claimMatch(path, [istioString(v)]);
  }
  // Envoy dynamic metadata written by other Envoy filters: there are none in-process,
  // so a value never matches (and a notValue always holds).
  if (key.startsWith('experimental.envoy.filters.')) return () => NEVER;
  throw new Error(`unknown attribute ${key}`);
}

/** Whether any value of a header (input.ts headerValuesOf) is in `set`; absent matches none. */
function anyValue(h: string | readonly string[] | undefined, set: AnyOfStrings): boolean {
  if (h === undefined) return false;
  if (typeof h === 'string') return set.matches(h);
  return h.some((v) => set.matches(v));
}

/**
 * `request.headers[<name>]`: each value of a repeated header is matched on its own
 * (input.ts headerValuesOf); notValues holds only when no value matches.
 */
function headerCondition(c: Condition, name: string, ctx: RuleContext): Match[] {
  return stringField(c.values, c.notValues, headerPattern, ctx, (set, negate) =>
    negate ? (i) => !anyValue(headerValuesOf(i, name), set) : (i) => anyValue(headerValuesOf(i, name), set),
  );
}

function compileCondition(c: Condition, ctx: RuleContext): Match[] {
  if (c.key.startsWith('request.headers[') && c.key.endsWith(']'))
    return headerCondition(c, c.key.slice('request.headers['.length, -1).toLowerCase(), ctx);
  let make: (v: string) => Match;
  try {
    make = conditionValue(c.key, ctx);
  } catch (err) {
    if (ctx.strict) throw err;
    return [];
  }
  let values = c.values;
  let notValues = c.notValues;
  if (c.key === 'source.principal') {
    values = principals(values, ctx);
    notValues = principals(notValues, ctx);
  } else if (c.key === 'source.trustDomain') {
    values = trustDomains(values, ctx);
    notValues = trustDomains(notValues, ctx);
  }
  return field(values, notValues, make, ctx);
}

/**
 * A compiled `Rule`, with the `paths` values a request must match for it to: every
 * `to` operation of the rule requires one of them (null when some does not, or the
 * rule has no `to`). A policy tests them first (compile-policies.ts).
 */
export interface GatedRule {
  readonly match: Match;
  readonly paths: readonly StringPattern[] | null;
}

/**
 * One `Rule`: (any `from`) AND (any `to`) AND (every `when`); a missing part
 * matches anything, so `rules: [{}]` matches every request
 * (istio authz/model/model.go). In strict (ALLOW) mode a rule with a value that
 * cannot be compiled never matches.
 */
export function compileGatedRule(rule: Rule, ctx: RuleContext): GatedRule {
  try {
    const parts: Match[] = [];
    const from = rule.from ?? [];
    if (from.length > 0)
      parts.push(any(from.map((f) => (f.source === undefined ? () => true : compileSource(f.source, ctx)))));
    const to = rule.to ?? [];
    let paths: StringPattern[] | null = null;
    if (to.length > 0) {
      const ops = to.map((t) => (t.operation === undefined ? null : compileOperation(t.operation, ctx)));
      parts.push(any(ops.map((op) => (op === null ? () => true : op.match))));
      if (ops.every((op) => op !== null && op.paths !== null)) paths = ops.flatMap((op) => op!.paths!);
    }
    for (const c of rule.when ?? []) parts.push(...compileCondition(c, ctx));
    return { match: all(parts), paths };
  } catch {
    // Only strict (ALLOW) compiling throws by design; anything else is a bug, and a
    // DENY that cannot be built must fail closed rather than vanish.
    return { match: ctx.strict ? NEVER : () => true, paths: null };
  }
}

/** {@link compileGatedRule}'s test alone. */
export function compileRule(rule: Rule, ctx: RuleContext): Match {
  return compileGatedRule(rule, ctx).match;
}
