import type { CompiledAuthorization } from './compile-policies.js';
import { evaluateRbac, type RbacOutcome } from './evaluate.js';
import type { Attribute } from './footprint.js';
import { headerValuesOf, type AuthzInput } from './input.js';
import type { Ip } from './ip.js';

/** A value not kept as a key: the request is decided without the memo. */
const UNCACHEABLE = Symbol('uncacheable');
/** Longer strings (a long path, a big header) are not kept: the memo's memory stays bounded. */
export const MAX_KEY_LENGTH = 512;
/** Decisions (and inner tables) kept before the memo starts over. */
export const MAX_MEMO_ENTRIES = 1024;

/**
 * The order attributes are looked up in: the ones with few values first (methods,
 * callers, ports), the path and addresses last, so a request on a path not seen yet
 * walks tables that exist and adds one entry, not a chain of new tables.
 */
const ORDER: Readonly<Record<Attribute['kind'], number>> = {
  method: 0,
  port: 1,
  peerPrincipal: 2,
  peerUri: 3,
  peerTrustDomain: 4,
  sni: 5,
  host: 6,
  claims: 7,
  header: 8,
  destinationIp: 9,
  sourceIp: 10,
  remoteIp: 11,
  path: 12,
};

type Read = (input: AuthzInput) => unknown;

const text = (v: string | null | undefined): unknown =>
  v !== null && v !== undefined && v.length > MAX_KEY_LENGTH ? UNCACHEABLE : v;

/** An address as a key: its bytes (IPv4 and IPv6 differ in length, so never collide). */
function ipKey(ip: Ip | null): string | null {
  if (ip === null) return null;
  let s = '';
  for (let i = 0; i < ip.bytes.length; i++) s += String.fromCharCode(ip.bytes[i] as number);
  return s;
}

/**
 * A header as a key: repeated values are matched one by one (input.ts headerValuesOf),
 * so `['a', 'b']` and `'a,b'` must not share a key; the prefix keeps them apart.
 */
function headerKey(v: string | readonly string[] | undefined): unknown {
  if (v === undefined) return undefined;
  return text(typeof v === 'string' ? `s${v}` : `a${JSON.stringify(v)}`);
}

/**
 * The peer certificate's names as a key, when the input has them (`peerNames`); the NUL
 * prefix keeps it apart from any one principal, trust domain or URI.
 */
function namesKey(i: AuthzInput): unknown {
  const names = i.peerNames;
  return names === undefined ? undefined : text(`\0${JSON.stringify(names)}`);
}

/** Reads the value of `a` the matchers see, as a Map key (`undefined` and `null` are keys too). */
function reader(a: Attribute): Read {
  switch (a.kind) {
    case 'path':
      return (i) => text(i.path);
    case 'method':
      return (i) => text(i.method);
    case 'host':
      return (i) => text(i.host);
    case 'port':
      return (i) => i.port;
    case 'sni':
      return (i) => text(i.sni);
    // A certificate with more names than the peer's SPIFFE ID is matched on all of them
    // (source-match.ts), so they all make the key.
    case 'peerPrincipal':
      return (i) => (i.peer === null ? null : (namesKey(i) ?? text(i.peer.principal)));
    case 'peerTrustDomain':
      return (i) => (i.peer === null ? null : (namesKey(i) ?? text(i.peer.trustDomain)));
    case 'peerUri':
      return (i) => (i.peer === null ? text(i.peerUri) : (namesKey(i) ?? text(i.peerUri)));
    case 'sourceIp':
      return (i) => ipKey(i.sourceIp);
    case 'remoteIp':
      return (i) => ipKey(i.remoteIp);
    case 'destinationIp':
      return (i) => ipKey(i.destinationIp);
    // The verified payload is deep-frozen (jwt/parse-token.ts) and a cached token hands
    // back the same object, so its identity stands for its content; a claims object that
    // could still change is never a key.
    case 'claims':
      return (i) => (i.claims === null ? null : Object.isFrozen(i.claims) ? i.claims : UNCACHEABLE);
    case 'header': {
      const name = a.name;
      return (i) => headerKey(headerValuesOf(i, name));
    }
  }
}

function frozen(outcome: RbacOutcome): RbacOutcome {
  Object.freeze(outcome.shadow);
  return Object.freeze(outcome);
}

/**
 * `evaluateRbac` for `authz`, with each decision kept for the values of `footprint`
 * it was made on: the RBAC decision is a function of exactly those request attributes
 * (footprint.ts), so a request repeating them (the same route, method, caller and
 * headers the policies read) reuses it instead of running every policy again. Envoy
 * evaluates each request; the decisions are the same, only cheaper. Without a
 * footprint (null) every request is evaluated. Bounded: values longer than
 * MAX_KEY_LENGTH are not kept, and the memo starts over at MAX_MEMO_ENTRIES (after
 * deciding the next 4 × MAX_MEMO_ENTRIES requests directly when fewer than a quarter
 * as many requests found their decision kept).
 */
export function memoizeRbac(
  authz: CompiledAuthorization,
  footprint: readonly Attribute[] | null,
  maxEntries = MAX_MEMO_ENTRIES,
  evaluate: (authz: CompiledAuthorization, input: AuthzInput) => RbacOutcome = evaluateRbac,
): (input: AuthzInput) => RbacOutcome {
  if (footprint === null) return (input) => evaluate(authz, input);
  if (footprint.length === 0) {
    let only: RbacOutcome | null = null;
    return (input) => (only ??= frozen(evaluate(authz, input)));
  }
  const reads = [...footprint].sort((a, b) => ORDER[a.kind] - ORDER[b.kind]).map(reader);
  const last = reads.length - 1;
  let root = new Map<unknown, unknown>();
  let entries = 0;
  let hits = 0;
  /** Requests still to decide without the memo after it kept requests that rarely came back. */
  let bypass = 0;
  const startOver = (): void => {
    // Requests that do not repeat (a fresh id in every path) would pay for keys and
    // entries on every request: after a memo that filled up with few hits, decide the next
    // ones directly for a while, then try again.
    if (hits < maxEntries / 4) bypass = maxEntries * 4;
    root = new Map();
    entries = 0;
    hits = 0;
  };
  return (input) => {
    if (bypass > 0) {
      bypass--;
      return evaluate(authz, input);
    }
    let table = root;
    for (let d = 0; d < last; d++) {
      const k = (reads[d] as Read)(input);
      if (k === UNCACHEABLE) return evaluate(authz, input);
      let next = table.get(k) as Map<unknown, unknown> | undefined;
      if (next === undefined) {
        if (entries >= maxEntries) {
          startOver();
          return evaluate(authz, input);
        }
        next = new Map();
        table.set(k, next);
        entries++;
      }
      table = next;
    }
    const k = (reads[last] as Read)(input);
    if (k === UNCACHEABLE) return evaluate(authz, input);
    const kept = table.get(k) as RbacOutcome | undefined;
    if (kept !== undefined) {
      hits++;
      return kept;
    }
    const outcome = evaluate(authz, input);
    if (entries >= maxEntries) {
      startOver();
      return outcome;
    }
    table.set(k, frozen(outcome));
    entries++;
    return outcome;
  };
}
