import type { FieldPath } from '../diagnostic.js';
import type { ValidationContext } from '../validate/context.js';
import { isIpAddress, isIPv4, isIPv6 } from '../validate/names.js';
import type { AuthorizationPolicySpec, Condition, Operation, Source } from './authorization-policy.js';
import { validateTargeting } from './security-common.js';

/**
 * Webhook rules of istio pkg/config/validation/validation.go `ValidateAuthorizationPolicy`
 * and pkg/config/security/security.go, each reported at the offending field.
 */
export function validateAuthorizationPolicy(spec: AuthorizationPolicySpec, ctx: ValidationContext): void {
  validateTargeting(spec, ctx);
  const action = spec.action ?? 'ALLOW';
  const noRules = spec.rules === undefined || spec.rules.length === 0;
  const never =
    'is meaningless as it will never be triggered, add an empty rule `{}` if you want it be triggered for every request';
  if (action === 'CUSTOM') {
    if (noRules) ctx.error(['spec', 'rules'], `CUSTOM action without \`rules\` ${never}`);
    else if ((spec.provider?.name ?? '') === '')
      ctx.error(['spec', 'provider', 'name'], '`provider.name` must not be empty');
  }
  if (spec.provider !== undefined && action !== 'CUSTOM') {
    ctx.error(['spec', 'provider'], `\`provider\` must not be with non CUSTOM action, found ${action}`);
  }
  if (action === 'DENY' && noRules) ctx.error(['spec', 'rules'], `DENY action without \`rules\` ${never}`);

  spec.rules?.forEach((rule, i) => {
    const rulePath: FieldPath = ['spec', 'rules', i];
    let fromExists = false;
    let tcpInFrom = false;
    let toExists = false;
    let tcpInTo = false;
    if (rule.from?.length === 0)
      ctx.error([...rulePath, 'from'], `\`from\` must not be empty, found at rule ${i}`);
    rule.from?.forEach((from, j) => {
      const path: FieldPath = [...rulePath, 'from', j, 'source'];
      if (from.source === undefined) {
        ctx.error(path, `\`from.source\` must not be nil, found at rule ${i}`);
        return;
      }
      fromExists = true;
      tcpInFrom ||= checkSource(from.source, path, i, ctx);
      if (action === 'CUSTOM') checkCustomSource(from.source, path, ctx);
    });
    if (rule.to?.length === 0) ctx.error([...rulePath, 'to'], `\`to\` must not be empty, found at rule ${i}`);
    rule.to?.forEach((to, j) => {
      const path: FieldPath = [...rulePath, 'to', j, 'operation'];
      if (to.operation === undefined) {
        ctx.error(path, `\`to.operation\` must not be nil, found at rule ${i}`);
        return;
      }
      toExists = true;
      tcpInTo ||= checkOperation(to.operation, path, i, ctx);
    });
    rule.when?.forEach((cond, k) => checkCondition(cond, [...rulePath, 'when', k], action === 'CUSTOM', ctx));
    if (action === 'DENY' && ((fromExists && !toExists && !tcpInFrom) || (toExists && !tcpInTo))) {
      ctx.warn(
        rulePath,
        'configured AuthorizationPolicy will deny all traffic to TCP ports under its scope due to the use of only HTTP attributes in a DENY rule; it is recommended to explicitly specify the port',
      );
    }
  });
}

const SOURCE_FIELDS = [
  'principals',
  'requestPrincipals',
  'namespaces',
  'ipBlocks',
  'remoteIpBlocks',
  'notPrincipals',
  'notRequestPrincipals',
  'notNamespaces',
  'notIpBlocks',
  'notRemoteIpBlocks',
  'serviceAccounts',
  'notServiceAccounts',
  'trustDomains',
  'notTrustDomains',
] as const satisfies readonly (keyof Source)[];

/** Returns whether the source uses a field that also applies to TCP traffic. */
function checkSource(src: Source, path: FieldPath, rule: number, ctx: ValidationContext): boolean {
  if (SOURCE_FIELDS.every((f) => (src[f]?.length ?? 0) === 0)) {
    ctx.error(path, `\`from.source\` must not be empty, found at rule ${rule}`);
  }
  for (const field of ['ipBlocks', 'notIpBlocks', 'remoteIpBlocks', 'notRemoteIpBlocks'] as const) {
    eachValue(src[field], [...path, field], ctx, (v) => checkIp(v));
  }
  for (const field of [
    'principals',
    'requestPrincipals',
    'namespaces',
    'notPrincipals',
    'notRequestPrincipals',
    'notNamespaces',
  ] as const) {
    eachValue(src[field], [...path, field], ctx, () => null);
  }
  for (const field of ['serviceAccounts', 'notServiceAccounts'] as const) {
    eachValue(src[field], [...path, field], ctx, (v) => checkServiceAccount(v));
  }
  for (const field of ['trustDomains', 'notTrustDomains'] as const) {
    eachValue(
      src[field],
      [...path, field],
      ctx,
      (v) => checkWildcard(v) ?? (v.includes('/') ? "trust domain must not contain '/'" : null),
    );
  }
  const tcpFields = [
    'principals',
    'notPrincipals',
    'ipBlocks',
    'notIpBlocks',
    'namespaces',
    'notNamespaces',
    'remoteIpBlocks',
    'notRemoteIpBlocks',
    'serviceAccounts',
    'notServiceAccounts',
  ] as const;
  return tcpFields.some((f) => src[f] !== undefined);
}

/** CUSTOM policies are evaluated before any identity is known to the ext_authz call. */
function checkCustomSource(src: Source, path: FieldPath, ctx: ValidationContext): void {
  const unsupported = [
    'namespaces',
    'notNamespaces',
    'serviceAccounts',
    'notServiceAccounts',
    'trustDomains',
    'notTrustDomains',
    'principals',
    'notPrincipals',
    'requestPrincipals',
    'notRequestPrincipals',
  ] as const;
  for (const field of unsupported) {
    if ((src[field]?.length ?? 0) > 0) {
      const name = `From.${field.charAt(0).toUpperCase()}${field.slice(1)}`;
      ctx.error([...path, field], `${name} is currently not supported with CUSTOM action`);
    }
  }
}

/** Returns whether the operation uses a field that also applies to TCP traffic (ports). */
function checkOperation(op: Operation, path: FieldPath, rule: number, ctx: ValidationContext): boolean {
  const fields = [
    'ports',
    'methods',
    'paths',
    'hosts',
    'notPorts',
    'notMethods',
    'notPaths',
    'notHosts',
  ] as const;
  if (fields.every((f) => (op[f]?.length ?? 0) === 0)) {
    ctx.error(path, `\`to.operation\` must not be empty, found at rule ${rule}`);
  }
  for (const field of ['ports', 'notPorts'] as const) eachValue(op[field], [...path, field], ctx, checkPort);
  for (const field of ['methods', 'hosts', 'notMethods', 'notHosts'] as const)
    eachValue(op[field], [...path, field], ctx, () => null);
  for (const field of ['paths', 'notPaths'] as const)
    eachValue(op[field], [...path, field], ctx, checkPathTemplate);
  return op.ports !== undefined || op.notPorts !== undefined;
}

function checkCondition(cond: Condition, path: FieldPath, custom: boolean, ctx: ValidationContext): void {
  const key = cond.key;
  if (key === '') {
    ctx.error([...path, 'key'], '`key` must not be empty');
    return;
  }
  if ((cond.values?.length ?? 0) === 0 && (cond.notValues?.length ?? 0) === 0) {
    ctx.error(path, `at least one of \`values\` or \`notValues\` must be set for key ${key}`);
    return;
  }
  const attribute = attributeOf(key);
  if (typeof attribute === 'string') {
    ctx.error([...path, 'key'], `invalid \`value\` for \`key\` ${key}: ${attribute}`);
    return;
  }
  if (custom && (CUSTOM_UNSUPPORTED_KEYS.has(key) || key.startsWith('request.auth.'))) {
    ctx.error([...path, 'key'], `${key} is currently not supported with CUSTOM action`);
  }
  for (const field of ['values', 'notValues'] as const) {
    const label = field === 'values' ? 'value' : 'notValue';
    cond[field]?.forEach((v, m) => {
      const problem = v === '' ? `empty value not allowed, found in ${key}` : attribute.check(v);
      if (problem !== null)
        ctx.error([...path, field, m], `invalid \`${label}\` for \`key\` ${key}: ${problem}`);
    });
  }
}

const CUSTOM_UNSUPPORTED_KEYS = new Set([
  'source.namespace',
  'source.serviceAccount',
  'source.trustDomain',
  'source.principal',
]);

type ValueCheck = (value: string) => string | null;

const NONE: ValueCheck = () => null;

/** The `when` keys Istio accepts (pkg/config/security/security.go `ValidateAttribute`). */
const EXACT_KEYS: Readonly<Record<string, ValueCheck>> = {
  'source.ip': checkIp,
  'remote.ip': checkIp,
  'source.namespace': NONE,
  'source.serviceAccount': checkServiceAccount,
  'source.principal': NONE,
  'source.trustDomain': checkWildcard,
  'request.auth.principal': NONE,
  'request.auth.audiences': NONE,
  'request.auth.presenter': NONE,
  'destination.ip': checkIp,
  'destination.port': checkPort,
  'connection.sni': NONE,
};

/** A `{ check }` for a known key, or the reason the key is rejected. */
function attributeOf(key: string): { check: ValueCheck } | string {
  const exact = EXACT_KEYS[key];
  if (exact !== undefined) return { check: exact };
  for (const prefix of ['request.headers', 'request.auth.claims', 'experimental.envoy.filters.']) {
    if (key.startsWith(prefix))
      return validMapKey(key) ? { check: NONE } : `bad key (${key}): should have format a[b]`;
  }
  if (key === 'destination.namespace') return `attribute ${key} is replaced by the metadata.namespace`;
  if (key.startsWith('destination.labels')) return `attribute ${key} is replaced by the workload selector`;
  if (key === 'destination.name' || key === 'destination.user')
    return `deprecated attribute ${key}: only supported in v1alpha1`;
  return `unknown attribute: ${key}`;
}

function validMapKey(key: string): boolean {
  const open = key.indexOf('[');
  return key.endsWith(']') && open > 0 && open < key.length - 2;
}

function eachValue(
  values: readonly string[] | undefined,
  path: FieldPath,
  ctx: ValidationContext,
  check: ValueCheck,
): void {
  values?.forEach((v, i) => {
    const field = String(path.at(-1));
    const name = field.charAt(0).toUpperCase() + field.slice(1);
    const problem = v === '' ? `empty value not allowed, found in ${name}` : check(v);
    if (problem !== null) ctx.error([...path, i], problem);
  });
}

/** `ValidateIPs`: an IP (netip.ParseAddr) or a CIDR (netip.ParsePrefix). */
function checkIp(v: string): string | null {
  const slash = v.indexOf('/');
  if (slash < 0) return isIpAddress(v) ? null : `bad IP address (${v})`;
  const ip = v.slice(0, slash);
  const bits = v.slice(slash + 1);
  const max = isIPv4(ip) ? 32 : isIPv6(ip) ? 128 : -1;
  if (max < 0) return `bad CIDR range (${v}): bad IP address`;
  // Go's ParsePrefix wants a plain decimal without leading zeros.
  if (!/^(0|[1-9]\d{0,2})$/.test(bits) || Number(bits) > max)
    return `bad CIDR range (${v}): bad bits after slash`;
  return null;
}

/** `ValidatePorts`: a decimal uint32 no greater than 65535 (0 is accepted, as in Istio). */
function checkPort(v: string): string | null {
  return /^\d+$/.test(v) && Number(v) <= 65535 ? null : `bad port (${v})`;
}

function checkServiceAccount(v: string): string | null {
  const format = "expected format 'serviceAccount' or 'namespace/serviceAccount'";
  if (v.includes('*')) return `wildcard not allowed, found ${JSON.stringify(v)}`;
  const slashes = v.split('/').length - 1;
  if (slashes > 1) return `${format}, found ${JSON.stringify(v)}`;
  if (v.length > 320) return `value cannot exceed 320 characters, found ${JSON.stringify(v)}`;
  const [ns, sa] = v.split('/');
  if (slashes === 1 && ns === '') return `${format}, found empty namespace ${JSON.stringify(v)}`;
  if (slashes === 1 && sa === '') return `${format}, found empty serviceAccount ${JSON.stringify(v)}`;
  return null;
}

function checkWildcard(v: string): string | null {
  const count = v.split('*').length - 1;
  if (count > 1) return `at most one wildcard is allowed, found ${JSON.stringify(v)}`;
  if (count === 1 && v !== '*' && !v.startsWith('*') && !v.endsWith('*')) {
    return `wildcard is only allowed at the start or end, found ${JSON.stringify(v)}`;
  }
  return null;
}

const VALID_LITERAL = /^[a-zA-Z0-9-._~%!$&'()+,;:@=]+$/;

/** `CheckValidPathTemplate`: `{*}` one segment, `{**}` only last, no stray braces. */
function checkPathTemplate(path: string): string | null {
  const hasTemplate = path.includes('{*}') || path.includes('{**}');
  let sawAny = false;
  for (const glob of path.replace(/^\/+|\/+$/g, '').split('/')) {
    if (glob === '{*}' || glob === '{**}') {
      if (sawAny) return `invalid or unsupported path ${path}: {**} is not the last operator`;
      if (glob === '{**}') sawAny = true;
      continue;
    }
    if (/[{}]/.test(glob))
      return `invalid or unsupported path ${path}: contains '{' or '}' beyond a supported path template`;
    if (hasTemplate && !VALID_LITERAL.test(glob)) {
      return `invalid or unsupported path ${path}: contains segment ${glob} with invalid string literal`;
    }
  }
  return null;
}
