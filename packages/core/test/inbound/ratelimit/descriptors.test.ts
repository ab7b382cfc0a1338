import { parseDocument } from 'yaml';
import { describe, expect, it } from 'vitest';
import type { Reader } from '../../../src/config/schema/local-rate-limit-read.js';
import { readRateLimits, type RateLimitEntry } from '../../../src/config/schema/rate-limit-actions.js';
import {
  buildDescriptors,
  type DescriptorRequest,
  type RateLimitDescriptor,
} from '../../../src/inbound/ratelimit/descriptors.js';

// The descriptors a global rate limit filter sends, built from route / virtual host
// `rate_limits` actions as Envoy's router builds them (envoy
// source/common/router/router_ratelimit.cc; its unit tests are
// test/extensions/filters/common/ratelimit_config/ratelimit_config_test.cc and
// test/common/router/router_ratelimit_test.cc, whose cases several tests here follow).

/** `rate_limits` in Envoy's YAML, parsed as an EnvoyFilter patch carries it; no problem allowed. */
function limits(yaml: string): RateLimitEntry[] {
  const r: Reader = { errors: [], warnings: [] };
  const out = readRateLimits(r, parseDocument(yaml).toJS(), ['rate_limits']);
  expect(r.errors).toEqual([]);
  expect(r.warnings).toEqual([]);
  return out;
}

/** One rate limit entry (stage 0) with these actions. */
const actions = (yaml: string): RateLimitEntry[] => limits(`- actions:\n${indent(yaml, 4)}`);

function indent(text: string, n: number): string {
  return text
    .trim()
    .split('\n')
    .map((l) => ' '.repeat(n) + l)
    .join('\n');
}

const REQ: DescriptorRequest = {
  method: 'GET',
  url: '/productpage?user=jason&page=2',
  authority: 'productpage.default.svc.cluster.local:9080',
  scheme: 'http',
  headers: {},
  sourceIp: '10.0.0.1',
  destinationCluster: 'inbound|9080||',
  localCluster: 'productpage.default',
  numTrustedProxies: 0,
  gateway: false,
};

function req(over: Partial<DescriptorRequest> = {}): DescriptorRequest {
  return { ...REQ, ...over };
}

/** The descriptors as `[[key, value], ...]` lists, for compact expectations. */
function pairs(ds: readonly RateLimitDescriptor[]): [string, string][][] {
  return ds.map((d) => d.entries.map((e) => [e.key, e.value]));
}

const build = (yaml: string, r: Partial<DescriptorRequest> = {}): [string, string][][] =>
  pairs(buildDescriptors(actions(yaml), 0, req(r)));

describe('buildDescriptors: source_cluster and destination_cluster', () => {
  it('source_cluster sends the local service cluster', () => {
    expect(build('- source_cluster: {}')).toEqual([[['source_cluster', 'productpage.default']]]);
  });

  it("destination_cluster sends the route's cluster", () => {
    expect(build('- destination_cluster: {}')).toEqual([[['destination_cluster', 'inbound|9080||']]]);
  });

  it('destination_cluster without a known cluster drops the whole descriptor (DestinationClusterAction returns false)', () => {
    expect(
      build('- generic_key: { descriptor_value: x }\n- destination_cluster: {}', {
        destinationCluster: null,
      }),
    ).toEqual([]);
  });

  it('composes the entries in action order', () => {
    expect(build('- destination_cluster: {}\n- source_cluster: {}')).toEqual([
      [
        ['destination_cluster', 'inbound|9080||'],
        ['source_cluster', 'productpage.default'],
      ],
    ]);
  });
});

describe('buildDescriptors: request_headers', () => {
  const header = (name: string, r: Partial<DescriptorRequest> = {}) =>
    build(`- request_headers: { header_name: "${name}", descriptor_key: k }`, r);

  it('reads :path with its query string, :method and :authority', () => {
    expect(header(':path')).toEqual([[['k', '/productpage?user=jason&page=2']]]);
    expect(header(':method', { method: 'POST' })).toEqual([[['k', 'POST']]]);
    expect(header(':authority')).toEqual([[['k', 'productpage.default.svc.cluster.local:9080']]]);
  });

  it('reads a regular header; the configured name is matched case-insensitively', () => {
    expect(header('X-User', { headers: { 'x-user': 'jason' } })).toEqual([[['k', 'jason']]]);
  });

  it('sends the first value of a repeated header (RequestHeadersAction: header_value[0])', () => {
    expect(header('x-user', { headers: { 'x-user': ['first', 'second'] } })).toEqual([[['k', 'first']]]);
  });

  it('drops the whole descriptor when the header is missing (skip_if_absent false)', () => {
    expect(
      build(
        '- generic_key: { descriptor_value: v }\n- request_headers: { header_name: x-user, descriptor_key: k }',
      ),
    ).toEqual([]);
  });

  it('with skip_if_absent, leaves just that entry out of the descriptor', () => {
    const yaml = `- request_headers: { header_name: x-a, descriptor_key: a }
- request_headers: { header_name: x-b, descriptor_key: b, skip_if_absent: true }
- generic_key: { descriptor_value: v }`;
    expect(build(yaml, { headers: { 'x-a': '1' } })).toEqual([
      [
        ['a', '1'],
        ['generic_key', 'v'],
      ],
    ]);
    expect(build(yaml, { headers: { 'x-a': '1', 'x-b': '2' } })).toEqual([
      [
        ['a', '1'],
        ['b', '2'],
        ['generic_key', 'v'],
      ],
    ]);
  });
});

describe('buildDescriptors: query_parameters', () => {
  const param = (r: Partial<DescriptorRequest>, skip = false) =>
    build(
      `- query_parameters: { query_parameter_name: user, descriptor_key: u${skip ? ', skip_if_absent: true' : ''} }\n- generic_key: { descriptor_value: v }`,
      r,
    );

  it('sends the first value of the parameter, URL-decoded', () => {
    expect(param({})).toEqual([
      [
        ['u', 'jason'],
        ['generic_key', 'v'],
      ],
    ]);
    expect(param({ url: '/p?user=value1&user=value2' })[0]?.[0]).toEqual(['u', 'value1']);
    expect(param({ url: '/p?user=hello%20world' })[0]?.[0]).toEqual(['u', 'hello world']);
  });

  it('drops the descriptor when the parameter is absent, unless skip_if_absent', () => {
    expect(param({ url: '/p?other=1' })).toEqual([]);
    expect(param({ url: '/p' })).toEqual([]);
    expect(param({ url: '/p?other=1' }, true)).toEqual([[['generic_key', 'v']]]);
  });
});

describe('buildDescriptors: remote_address', () => {
  const remote = (r: Partial<DescriptorRequest>) => build('- remote_address: {}', r);

  it('on a sidecar, sends the rightmost X-Forwarded-For address, else the peer', () => {
    expect(remote({ headers: { 'x-forwarded-for': '1.1.1.1, 2.2.2.2' } })).toEqual([
      [['remote_address', '2.2.2.2']],
    ]);
    expect(remote({})).toEqual([[['remote_address', '10.0.0.1']]]);
    expect(remote({ headers: { 'x-forwarded-for': 'unknown' } })).toEqual([[['remote_address', '10.0.0.1']]]);
  });

  it('on a gateway, trusts numTrustedProxies hops of X-Forwarded-For (xff_num_trusted_hops)', () => {
    const xff = { 'x-forwarded-for': '1.1.1.1, 2.2.2.2' };
    const at = (n: number) => remote({ gateway: true, numTrustedProxies: n, headers: xff })[0]?.[0]?.[1];
    expect(at(0)).toBe('10.0.0.1');
    expect(at(1)).toBe('2.2.2.2');
    expect(at(2)).toBe('1.1.1.1');
    expect(at(3)).toBe('10.0.0.1');
  });

  it('prints an IPv4 peer seen on a dual-stack socket (::ffff:a.b.c.d) as the IPv4 address', () => {
    expect(remote({ sourceIp: '::ffff:1.2.3.4' })).toEqual([[['remote_address', '1.2.3.4']]]);
  });

  it('prints an IPv6 peer as Envoy does (compressed, lower case)', () => {
    expect(remote({ sourceIp: '2001:DB8:0:0:0:0:0:1' })).toEqual([[['remote_address', '2001:db8::1']]]);
  });
});

describe('buildDescriptors: masked_remote_address', () => {
  const masked = (spec: string, sourceIp: string) =>
    build(`- masked_remote_address: ${spec}`, { sourceIp })[0]?.[0]?.[1];

  it('defaults to /32 and /128', () => {
    expect(masked('{}', '10.0.0.1')).toBe('10.0.0.1/32');
    expect(masked('{}', '2001:abcd:ef01:2345:6789:abcd:ef01:234')).toBe(
      '2001:abcd:ef01:2345:6789:abcd:ef01:234/128',
    );
  });

  it('clears the host bits of a v4 address and formats the CIDR', () => {
    expect(masked('{ v4_prefix_mask_len: 24 }', '10.1.2.3')).toBe('10.1.2.0/24');
    expect(masked('{ v4_prefix_mask_len: 16 }', '10.0.0.1')).toBe('10.0.0.0/16');
    expect(masked('{ v4_prefix_mask_len: 0 }', '10.1.2.3')).toBe('0.0.0.0/0');
  });

  it('clears the host bits of a v6 address and prints it compressed', () => {
    expect(masked('{ v6_prefix_mask_len: 64 }', '2001:abcd:ef01:2345:6789:abcd:ef01:234')).toBe(
      '2001:abcd:ef01:2345::/64',
    );
  });

  it('masks the same address remote_address reads (X-Forwarded-For on a sidecar)', () => {
    expect(
      build('- masked_remote_address: { v4_prefix_mask_len: 24 }', {
        headers: { 'x-forwarded-for': '192.0.2.77' },
      }),
    ).toEqual([[['masked_remote_address', '192.0.2.0/24']]]);
  });

  it('masks an IPv4 peer seen as ::ffff:a.b.c.d with the v4 length', () => {
    expect(masked('{ v4_prefix_mask_len: 24, v6_prefix_mask_len: 64 }', '::ffff:1.2.3.4')).toBe('1.2.3.0/24');
  });
});

describe('buildDescriptors: generic_key', () => {
  it('sends descriptor_value under the key generic_key by default', () => {
    expect(build('- generic_key: { descriptor_value: fake_key }')).toEqual([[['generic_key', 'fake_key']]]);
  });

  it('uses descriptor_key when set', () => {
    expect(build('- generic_key: { descriptor_key: fake_key, descriptor_value: fake_value }')).toEqual([
      [['fake_key', 'fake_value']],
    ]);
  });
});

describe('buildDescriptors: header_value_match', () => {
  /** The descriptor of one header_value_match action with these matchers, or null when none is sent. */
  function hvm(
    matchers: string,
    headers: DescriptorRequest['headers'],
    extra = '',
  ): [string, string][] | null {
    const yaml = `- header_value_match:
    descriptor_value: fake_value${extra}
    headers:
${indent(matchers, 4)}`;
    const out = build(yaml, { headers });
    return out.length === 0 ? null : (out[0] ?? null);
  }
  const MATCH = [['header_match', 'fake_value']];

  it('sends header_match: descriptor_value when the headers match (expect_match defaults to true)', () => {
    const m = '- { name: x-header-name, string_match: { exact: test_value } }';
    expect(hvm(m, { 'x-header-name': 'test_value' })).toEqual(MATCH);
    expect(hvm(m, { 'x-header-name': 'not_same_value' })).toBeNull();
  });

  it('uses descriptor_key when set', () => {
    const m = '- { name: x-header-name, string_match: { exact: test_value } }';
    expect(hvm(m, { 'x-header-name': 'test_value' }, '\n    descriptor_key: fake_key')).toEqual([
      ['fake_key', 'fake_value'],
    ]);
  });

  it('with expect_match false, sends the entry only when the headers do not match', () => {
    const m = '- { name: x-header-name, string_match: { exact: test_value } }';
    const off = '\n    expect_match: false';
    expect(hvm(m, { 'x-header-name': 'not_same_value' }, off)).toEqual(MATCH);
    expect(hvm(m, { 'x-header-name': 'test_value' }, off)).toBeNull();
  });

  it('requires every matcher to match', () => {
    const m = `- { name: x-a, string_match: { exact: "1" } }
- { name: x-b, string_match: { exact: "2" } }`;
    expect(hvm(m, { 'x-a': '1', 'x-b': '2' })).toEqual(MATCH);
    expect(hvm(m, { 'x-a': '1', 'x-b': '3' })).toBeNull();
  });

  it.each([
    ['string_match prefix', '{ name: x-h, string_match: { prefix: abc } }', 'abcdef', 'xabc'],
    ['string_match suffix', '{ name: x-h, string_match: { suffix: def } }', 'abcdef', 'defx'],
    ['string_match contains', '{ name: x-h, string_match: { contains: cd } }', 'abcdef', 'acbd'],
    [
      'string_match exact ignore_case',
      '{ name: x-h, string_match: { exact: AbC, ignore_case: true } }',
      'aBc',
      'abcd',
    ],
    [
      'string_match prefix ignore_case',
      '{ name: x-h, string_match: { prefix: AB, ignore_case: true } }',
      'abc',
      'bab',
    ],
    [
      'string_match safe_regex (whole value)',
      '{ name: x-h, string_match: { safe_regex: { regex: "v[0-9]+" } } }',
      'v12',
      'xv12',
    ],
    ['safe_regex_match (whole value)', '{ name: x-h, safe_regex_match: { regex: "a.c" } }', 'abc', 'abcd'],
    ['legacy exact_match', '{ name: x-h, exact_match: abc }', 'abc', 'ABC'],
    ['legacy prefix_match', '{ name: x-h, prefix_match: ab }', 'abc', 'bc'],
    ['legacy suffix_match', '{ name: x-h, suffix_match: bc }', 'abc', 'ab'],
    ['legacy contains_match', '{ name: x-h, contains_match: b }', 'abc', 'ac'],
    ['a matcher with no specifier (presence)', '{ name: x-h }', 'anything', null],
    ['present_match true', '{ name: x-h, present_match: true }', '', null],
  ])('%s: %s matches %j, not %j', (_kind, matcher, yes, no) => {
    expect(hvm(`- ${matcher}`, { 'x-h': yes })).toEqual(MATCH);
    expect(hvm(`- ${matcher}`, no === null ? {} : { 'x-h': no })).toBeNull();
  });

  it('present_match false matches a missing header only', () => {
    const m = '- { name: x-h, present_match: false }';
    expect(hvm(m, {})).toEqual(MATCH);
    expect(hvm(m, { 'x-h': 'v' })).toBeNull();
  });

  it('a value matcher never matches a missing header, inverted or not (header_utility.cc matchHeaders)', () => {
    expect(hvm('- { name: x-h, string_match: { exact: v } }', {})).toBeNull();
    expect(hvm('- { name: x-h, string_match: { exact: v }, invert_match: true }', {})).toBeNull();
  });

  it('invert_match inverts a present header’s match, and present_match on a missing one', () => {
    const m = '- { name: x-h, string_match: { exact: v }, invert_match: true }';
    expect(hvm(m, { 'x-h': 'w' })).toEqual(MATCH);
    expect(hvm(m, { 'x-h': 'v' })).toBeNull();
    const p = '- { name: x-h, present_match: true, invert_match: true }';
    expect(hvm(p, {})).toEqual(MATCH);
    expect(hvm(p, { 'x-h': 'v' })).toBeNull();
  });

  it('treat_missing_header_as_empty matches a missing header as ""', () => {
    const m = '- { name: x-h, string_match: { exact: "" }, treat_missing_header_as_empty: true }';
    expect(hvm(m, {})).toEqual(MATCH);
  });

  it('matches pseudo-headers (:method, :path)', () => {
    expect(
      build(
        `- header_value_match:
    descriptor_value: post
    headers: [{ name: ":method", string_match: { exact: POST } }]`,
        { method: 'POST' },
      ),
    ).toEqual([[['header_match', 'post']]]);
    expect(
      build(
        `- header_value_match:
    descriptor_value: api
    headers: [{ name: ":path", string_match: { prefix: /api/ } }]`,
        { url: '/productpage' },
      ),
    ).toEqual([]);
  });

  it('matches a repeated header against its values joined with "," (getAllOfHeaderAsString)', () => {
    expect(hvm('- { name: x-h, string_match: { exact: "a,b" } }', { 'x-h': ['a', 'b'] })).toEqual(MATCH);
    expect(hvm('- { name: x-h, string_match: { suffix: b } }', { 'x-h': ['a', 'b'] })).toEqual(MATCH);
  });

  it('legacy exact_match "" matches any present value (HeaderMatchType::Value: value_.empty() ||)', () => {
    expect(hvm('- { name: x-h, exact_match: "" }', { 'x-h': 'anything' })).toEqual(MATCH);
  });
});

describe('buildDescriptors: entries, stages and order', () => {
  it('builds only the entries of the filter’s stage', () => {
    const entries = limits(`
- actions: [{ generic_key: { descriptor_value: zero } }]
- stage: 1
  actions: [{ generic_key: { descriptor_value: one } }]
- stage: 0
  actions: [{ generic_key: { descriptor_value: zero-again } }]
`);
    expect(pairs(buildDescriptors(entries, 0, req()))).toEqual([
      [['generic_key', 'zero']],
      [['generic_key', 'zero-again']],
    ]);
    expect(pairs(buildDescriptors(entries, 1, req()))).toEqual([[['generic_key', 'one']]]);
    expect(buildDescriptors(entries, 2, req())).toEqual([]);
  });

  it('sends one descriptor per entry, in order, leaving out the entries whose actions fail', () => {
    const entries = limits(`
- actions: [{ request_headers: { header_name: ":path", descriptor_key: PATH } }]
- actions: [{ request_headers: { header_name: x-missing, descriptor_key: m } }]
- actions: [{ remote_address: {} }, { generic_key: { descriptor_value: g } }]
`);
    expect(pairs(buildDescriptors(entries, 0, req()))).toEqual([
      [['PATH', '/productpage?user=jason&page=2']],
      [
        ['remote_address', '10.0.0.1'],
        ['generic_key', 'g'],
      ],
    ]);
  });

  // Envoy source/common/router/router_ratelimit.cc RateLimitPolicyEntryImpl::populateDescriptors
  // appends the descriptor whenever every action returned true (`if (result)
  // descriptors.emplace_back(descriptor)`), entries or not; ratelimit_config_test.cc
  // QueryParametersSkipIfAbsentTrue expects a descriptor for a lone skipped action
  // (`EXPECT_FALSE(descriptors_.empty())`), and the filter calls the service whenever the
  // list is not empty (ratelimit.cc initiateCall).
  it('sends an entry whose actions all skip (skip_if_absent) as a descriptor with no entries, as Envoy does', () => {
    const entries = limits(`
- actions:
  - request_headers: { header_name: x-a, descriptor_key: a, skip_if_absent: true }
  - query_parameters: { query_parameter_name: q, descriptor_key: q, skip_if_absent: true }
`);
    expect(buildDescriptors(entries, 0, req({ url: '/p' }))).toEqual([{ entries: [] }]);
  });
});
