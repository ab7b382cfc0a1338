import { z } from 'zod';
import type { FieldPath } from '../diagnostic.js';
import type { ValidationContext } from '../validate/context.js';
import { checkDuration } from '../validate/duration.js';

/**
 * Field types shared by the security, telemetry and extension kinds
 * (istio/api type/v1beta1/selector.proto and the CRD CEL rules generated from it).
 */

/** A string that must not be empty (CRD `minLength: 1`). */
export function nonEmpty() {
  return z.string().min(1);
}

/** A string matching a CRD `pattern`, reported with the apiserver's wording. */
export function patterned(re: RegExp) {
  return z.string().regex(re, { message: `in body should match '${re.source}'` });
}

/**
 * A duration checked by the CRD rule `duration(self) >= duration('1ms')` and the
 * webhook's `agent.ValidateDuration` (whole milliseconds).
 */
export function celDuration() {
  return z.string().superRefine((value, ctx) => {
    const problem = checkDuration(value);
    if (problem !== null) {
      ctx.addIssue({ code: 'custom', message: `must be a valid duration greater than 1ms: ${problem}` });
    }
  });
}

/**
 * `istio.type.v1beta1.WorkloadSelector` `{ matchLabels }` with the CRD's CEL rules:
 * no `*` in keys or values, no empty key, values at most 63 chars.
 */
export function labelSelector() {
  return z.strictObject({
    matchLabels: z
      .record(z.string(), z.string().max(63))
      .superRefine((labels, ctx) => {
        const keys = Object.keys(labels);
        if (keys.length > 4096)
          ctx.addIssue({ code: 'custom', message: 'in body should have at most 4096 properties' });
        if (keys.some((k) => k.includes('*'))) {
          ctx.addIssue({ code: 'custom', message: 'wildcard not allowed in label key match' });
        }
        if (keys.some((k) => k.length === 0))
          ctx.addIssue({ code: 'custom', message: 'key must not be empty' });
        for (const [k, v] of Object.entries(labels)) {
          if (v.includes('*')) {
            ctx.addIssue({ code: 'custom', path: [k], message: 'wildcard not allowed in label value match' });
          }
        }
      })
      .optional(),
  });
}
export type LabelSelector = z.infer<ReturnType<typeof labelSelector>>;

const GROUP_RE = /^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const KIND_RE = /^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/;

/** `istio.type.v1beta1.PolicyTargetReference` (`targetRef` / `targetRefs[]`). */
export function policyTargetReference() {
  return z.strictObject({
    group: patterned(GROUP_RE).max(253).optional(),
    kind: patterned(KIND_RE).min(1).max(63),
    name: z.string().min(1).max(253),
    namespace: z
      .string()
      .refine((ns) => ns.length === 0, { message: 'cross namespace referencing is not currently supported' })
      .optional(),
  });
}
export type PolicyTargetReference = z.infer<ReturnType<typeof policyTargetReference>>;

/** `targetRefs` as every policy CRD declares it (at most 16). */
export function policyTargetReferences() {
  return z.array(policyTargetReference()).max(16);
}

/** Kinds a policy may attach to (istio pkg/config/validation `allowedTargetRefs`). */
const ALLOWED_TARGETS: readonly { group: string; kind: string }[] = [
  { group: 'core', kind: 'Service' },
  { group: 'networking.istio.io', kind: 'ServiceEntry' },
  { group: 'gateway.networking.k8s.io', kind: 'Gateway' },
  { group: 'gateway.networking.k8s.io', kind: 'GatewayClass' },
];

export interface Targeting {
  readonly selector?: LabelSelector | undefined;
  readonly targetRef?: PolicyTargetReference | undefined;
  readonly targetRefs?: readonly PolicyTargetReference[] | undefined;
}

/**
 * The CRD CEL rule on every policy spec: at most one of selector, targetRef and
 * targetRefs. A schema-level check (the apiserver runs it with the schema), so it
 * is reported even when a field inside the spec is also wrong.
 */
export function oneTargetingRule(selectorName = 'selector') {
  return (spec: Targeting, ctx: z.core.$RefinementCtx): void => {
    const set = [spec.selector, spec.targetRef, spec.targetRefs].filter((v) => v !== undefined).length;
    if (set > 1)
      ctx.addIssue({ code: 'custom', message: `only one of targetRefs or ${selectorName} can be set` });
  };
}

/**
 * The webhook rules every policy kind shares (istio validation.go
 * `validateWorkloadSelector`, `validatePolicyTargetReference`): targets of an
 * allowed kind; a selector without labels selects everything (a warning).
 */
export function validateTargeting(spec: Targeting, ctx: ValidationContext): void {
  if (spec.selector !== undefined && Object.keys(spec.selector.matchLabels ?? {}).length === 0) {
    ctx.warn(['spec', 'selector'], 'workload selector specified without labels');
  }
  if (spec.targetRef !== undefined) checkTargetKind(spec.targetRef, ['spec', 'targetRef'], ctx);
  spec.targetRefs?.forEach((ref, i) => checkTargetKind(ref, ['spec', 'targetRefs', i], ctx));
}

function checkTargetKind(ref: PolicyTargetReference, path: FieldPath, ctx: ValidationContext): void {
  const group = ref.group === undefined || ref.group === '' ? 'core' : ref.group;
  if (!ALLOWED_TARGETS.some((t) => t.group === group && t.kind === ref.kind)) {
    const allowed = ALLOWED_TARGETS.map((t) => `${t.group}/${t.kind}`).join(', ');
    ctx.error(path, `targetRef must be to one of [${allowed}] but was ${ref.group ?? ''}/${ref.kind}`);
  }
}

/**
 * Go's `url.ParseRequestURI`, which the apiserver's CEL `url()`/`isURL()` use:
 * an absolute URI or an absolute path, no control characters, valid `%` escapes
 * and a well-formed authority. Returns the lower-cased scheme ('' for a bare path)
 * or null when Go would fail to parse.
 */
export function requestUriScheme(text: string): string | null {
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f ]/.test(text)) return null;
  let rest = text;
  let scheme = '';
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(text);
  if (m !== null) {
    scheme = (m[1] as string).toLowerCase();
    rest = text.slice(m[0].length);
    if (!rest.startsWith('/')) return scheme; // opaque, e.g. `mailto:x`
  } else if (!text.startsWith('/')) {
    return null;
  }
  if (rest.startsWith('//')) {
    const after = rest.slice(2);
    const slash = after.indexOf('/');
    const authority = slash < 0 ? after : after.slice(0, slash);
    if (!validAuthority(authority)) return null;
    rest = slash < 0 ? '' : after.slice(slash);
  }
  return validEscapes(rest) ? scheme : null;
}

function validEscapes(s: string): boolean {
  return !/%(?![0-9a-fA-F]{2})/.test(s);
}

function validAuthority(authority: string): boolean {
  const at = authority.lastIndexOf('@');
  if (at >= 0) {
    const userinfo = authority.slice(0, at);
    if (!/^[A-Za-z0-9\-._:~!$&'()*+,;=%@]*$/.test(userinfo) || !validEscapes(userinfo)) return false;
  }
  const host = at >= 0 ? authority.slice(at + 1) : authority;
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    if (close < 0) return false;
    return /^(:\d*)?$/.test(host.slice(close + 1));
  }
  const colon = host.lastIndexOf(':');
  if (colon >= 0 && !/^\d*$/.test(host.slice(colon + 1))) return false;
  const name = colon >= 0 ? host.slice(0, colon) : host;
  return /^[A-Za-z0-9\-._~!$&'()*+,;=%]*$/.test(name) && validEscapes(name);
}
