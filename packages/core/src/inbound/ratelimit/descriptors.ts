import type { HeaderMatch, RateLimitAction, RateLimitEntry } from '../../config/schema/rate-limit-actions.js';
import type { RateLimitPolicyPlan } from '../../compile/inbound-types.js';
import { parseIp } from '../authz/ip.js';
import { forwardedClient } from '../authz/remote-ip.js';
import { ipText } from '../../outbound/ip-text.js';

/** One descriptor sent to a rate limit service: its entries in action order. */
export interface RateLimitDescriptor {
  readonly entries: readonly { readonly key: string; readonly value: string }[];
}

/** What the actions read of a request at the filter's place in the chain. */
export interface DescriptorRequest {
  readonly method: string;
  /** `:path`: the target as the filters see it, query included. */
  readonly url: string;
  readonly authority: string;
  readonly scheme: string;
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  /** The direct peer's address. */
  readonly sourceIp: string;
  /** The route's cluster (`destination_cluster`); null where meshlet does not know it yet. */
  readonly destinationCluster: string | null;
  /** This proxy's service cluster (`source_cluster`; pkg/bootstrap/config.go serviceClusterOrDefault). */
  readonly localCluster: string;
  readonly numTrustedProxies: number;
  readonly gateway: boolean;
}

/** Whether a patch restricted to `portNumber` (null: every port) applies on `port`. */
export const onPort = (p: { readonly portNumber: number | null }, port: number): boolean =>
  p.portNumber === null || p.portNumber === port;

/**
 * The `rate_limits` entries a rate limit filter reads on `port`: the route's, then the virtual
 * host's as `vh` says (envoy ratelimit.cc and local_ratelimit.cc populateDescriptors): OVERRIDE
 * (the default) when the route has none, INCLUDE always, IGNORE never; a route patch's
 * `include_vh_rate_limits: true` makes it INCLUDE.
 */
export function policyEntries(
  policies: readonly RateLimitPolicyPlan[],
  port: number,
  vh: 'OVERRIDE' | 'INCLUDE' | 'IGNORE',
): RateLimitEntry[] {
  const route: RateLimitEntry[] = [];
  const vhost: RateLimitEntry[] = [];
  let include = false;
  for (const p of policies) {
    if (!onPort(p, port)) continue;
    if (p.level === 'vhost') vhost.push(...p.entries);
    else {
      route.push(...p.entries);
      if (p.includeVhRateLimits !== null) include = p.includeVhRateLimits;
    }
  }
  const option = include ? 'INCLUDE' : vh;
  if (option === 'INCLUDE' || (option === 'OVERRIDE' && route.length === 0)) route.push(...vhost);
  return route;
}

/**
 * The descriptors of the `rate_limits` entries of one stage, as Envoy's router builds them
 * (envoy source/common/router/router_ratelimit.cc `populateDescriptors`): each entry is one
 * descriptor of its actions' entries, and an action that produces nothing drops the whole
 * descriptor; `request_headers` and `query_parameters` with `skip_if_absent` only leave
 * their own entry out.
 */
export function buildDescriptors(
  entries: readonly RateLimitEntry[],
  stage: number,
  req: DescriptorRequest,
): RateLimitDescriptor[] {
  const out: RateLimitDescriptor[] = [];
  for (const entry of entries) {
    if (entry.stage !== stage) continue;
    const items: { key: string; value: string }[] = [];
    let ok = true;
    for (const action of entry.actions) {
      if (!populate(action, req, items)) {
        ok = false;
        break;
      }
    }
    // Even with no entries: Envoy sends the descriptor (and so calls the service) when every
    // action skipped (router_ratelimit.cc populateDescriptors; ratelimit_config_test.cc
    // QueryParametersSkipIfAbsentTrue).
    if (ok) out.push({ entries: items });
  }
  return out;
}

function header(req: DescriptorRequest, name: string): string | undefined {
  switch (name) {
    case ':path':
      return req.url;
    case ':method':
      return req.method;
    case ':authority':
    case 'host':
      return req.authority;
    case ':scheme':
      return req.scheme;
    default: {
      const v = req.headers[name];
      // Envoy reads the first value (router_ratelimit.cc RequestHeadersAction).
      return v === undefined ? undefined : typeof v === 'string' ? v : v[0];
    }
  }
}

function populate(
  action: RateLimitAction,
  req: DescriptorRequest,
  items: { key: string; value: string }[],
): boolean {
  switch (action.kind) {
    case 'source_cluster':
      items.push({ key: 'source_cluster', value: req.localCluster });
      return true;
    case 'destination_cluster':
      if (req.destinationCluster === null) return false;
      items.push({ key: 'destination_cluster', value: req.destinationCluster });
      return true;
    case 'request_headers': {
      const v = header(req, action.headerName);
      if (v === undefined) return action.skipIfAbsent;
      items.push({ key: action.descriptorKey, value: v });
      return true;
    }
    case 'query_parameters': {
      const v = queryParam(req.url, action.name);
      if (v === undefined) return action.skipIfAbsent;
      items.push({ key: action.descriptorKey, value: v });
      return true;
    }
    case 'remote_address': {
      const ip = remoteAddress(req);
      if (ip === null) return false;
      items.push({ key: 'remote_address', value: ip });
      return true;
    }
    case 'masked_remote_address': {
      const ip = remoteAddress(req);
      const masked = ip === null ? null : maskAddress(ip, action.v4, action.v6);
      if (masked === null) return false;
      items.push({ key: 'masked_remote_address', value: masked });
      return true;
    }
    case 'generic_key':
      items.push({ key: action.descriptorKey, value: action.descriptorValue });
      return true;
    case 'header_value_match':
      if (action.headers.every((h) => headerMatches(h, req)) !== action.expectMatch) return false;
      items.push({ key: action.descriptorKey, value: action.descriptorValue });
      return true;
  }
}

/** Envoy's downstream remote address, as `remote.ip` (authz/remote-ip.ts). */
function remoteAddress(req: DescriptorRequest): string | null {
  const forwarded = forwardedClient(req.headers['x-forwarded-for'], req.numTrustedProxies, req.gateway);
  return forwarded !== null ? ipText(forwarded) : ipText(mappedV4(req.sourceIp));
}

/**
 * A dual-stack socket's `::ffff:a.b.c.d`, as the IPv4 address Envoy makes of it
 * (envoy source/common/network/address_impl.cc addressFromSockAddr, IN6_IS_ADDR_V4MAPPED).
 */
function mappedV4(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

/** `<address>/<len>` with the host bits cleared (router_ratelimit.cc MaskedRemoteAddressAction). */
function maskAddress(ip: string, v4: number, v6: number): string | null {
  const parsed = parseIp(ip);
  if (parsed === null) return null;
  const bytes = Uint8Array.from(parsed.bytes);
  const len = bytes.length === 4 ? v4 : v6;
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, len - i * 8));
    bytes[i] = (bytes[i] ?? 0) & (0xff << (8 - keep)) & 0xff;
  }
  const text =
    bytes.length === 4
      ? bytes.join('.')
      : ipText(
          Array.from({ length: 8 }, (_, i) =>
            (((bytes[2 * i] ?? 0) << 8) | (bytes[2 * i + 1] ?? 0)).toString(16),
          ).join(':'),
        );
  return text === null ? null : `${text}/${len}`;
}

function queryParam(url: string, name: string): string | undefined {
  const q = url.indexOf('?');
  if (q < 0) return undefined;
  const v = new URLSearchParams(url.slice(q + 1)).get(name);
  return v ?? undefined;
}

/** envoy source/common/http/header_utility.cc `matchHeaders` for one matcher. */
function headerMatches(h: HeaderMatch, req: DescriptorRequest): boolean {
  // Every value of a repeated header, joined with "," (header_utility.cc getAllOfHeaderAsString).
  const raw = req.headers[h.name];
  let value = raw === undefined || typeof raw === 'string' ? header(req, h.name) : raw.join(',');
  if (value === undefined && h.missingAsEmpty) value = '';
  let matched: boolean;
  const m = h.match;
  if (m.kind === 'present') matched = (value !== undefined) === m.present;
  else if (value === undefined)
    return false; // A missing header matches nothing, inverted or not.
  else if (m.kind === 'regex') matched = m.matches(value);
  else {
    const v = m.ignoreCase ? value.toLowerCase() : value;
    matched =
      m.kind === 'exact'
        ? v === m.value
        : m.kind === 'prefix'
          ? v.startsWith(m.value)
          : m.kind === 'suffix'
            ? v.endsWith(m.value)
            : v.includes(m.value);
  }
  return matched !== h.invert;
}
