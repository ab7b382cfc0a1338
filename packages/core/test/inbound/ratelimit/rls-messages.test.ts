import { describe, expect, it } from 'vitest';
import { ProtoDecodeError, ProtoWriter, readFields } from '../../../src/inbound/authz/proto-wire.js';
import {
  decodeRateLimitResponse,
  encodeRateLimitRequest,
} from '../../../src/inbound/ratelimit/rls-messages.js';
import { loadRlsService, type RateLimitResponseObject } from '../../helpers/rate-limit-grpc-server.js';

// proto-loader's (de)serializers for the fixture: an encoder and a decoder that are not meshlet's.
const { method } = loadRlsService();
const serialize = (r: RateLimitResponseObject): Buffer => method.responseSerialize(r);

describe('RateLimitRequest encoding, read back by @grpc/proto-loader', () => {
  it('writes domain, every descriptor and entry in order, and hits_addend', () => {
    const buf = encodeRateLimitRequest({
      domain: 'ratelimit-ü',
      descriptors: [
        { entries: [{ key: 'generic_key', value: 'default' }] },
        {
          entries: [
            { key: 'remote_address', value: '10.0.0.1' },
            { key: 'path', value: '/foo/😀' },
          ],
        },
      ],
      hitsAddend: 0xffff_ffff,
    });
    expect(method.requestDeserialize(buf)).toEqual({
      domain: 'ratelimit-ü',
      descriptors: [
        { entries: [{ key: 'generic_key', value: 'default' }], limit: null, hits_addend: null },
        {
          entries: [
            { key: 'remote_address', value: '10.0.0.1' },
            { key: 'path', value: '/foo/😀' },
          ],
          limit: null,
          hits_addend: null,
        },
      ],
      hits_addend: 0xffff_ffff,
    });
  });

  it('leaves hits_addend out when 0 or undefined, and keeps an empty descriptor and value', () => {
    for (const hitsAddend of [0, undefined]) {
      const buf = encodeRateLimitRequest({
        domain: 'd',
        descriptors: [{ entries: [] }, { entries: [{ key: 'k', value: '' }] }],
        ...(hitsAddend === undefined ? {} : { hitsAddend }),
      });
      // domain(1) "d", descriptors(2) empty, descriptors(2) {entries(1) {key(1) "k"}}: no field 3.
      expect([...buf]).toEqual([0x0a, 0x01, 0x64, 0x12, 0x00, 0x12, 0x05, 0x0a, 0x03, 0x0a, 0x01, 0x6b]);
      expect(method.requestDeserialize(buf)).toMatchObject({
        hits_addend: 0,
        descriptors: [{ entries: [] }, { entries: [{ key: 'k', value: '' }] }],
      });
    }
    expect(
      method.requestDeserialize(encodeRateLimitRequest({ domain: 'd', descriptors: [], hitsAddend: 3 })),
    ).toMatchObject({ hits_addend: 3 });
  });

  it.each([-1, 1.5, 2 ** 32])('refuses hits_addend %d, which is not a uint32', (hitsAddend) => {
    expect(() => encodeRateLimitRequest({ domain: 'd', descriptors: [], hitsAddend })).toThrow(RangeError);
  });
});

describe('RateLimitResponse decoding of what @grpc/proto-loader writes', () => {
  it('reads every field', () => {
    const buf = serialize({
      overall_code: 'OVER_LIMIT',
      statuses: [
        {
          code: 'OVER_LIMIT',
          current_limit: { name: 'per-ip', requests_per_unit: 0xffff_fffe, unit: 'MINUTE' },
          limit_remaining: 0,
          duration_until_reset: { seconds: 59, nanos: 250_000_000 },
        },
        {
          code: 'OK',
          current_limit: { requests_per_unit: 10, unit: 'WEEK' },
          limit_remaining: 0xffff_ffff,
          duration_until_reset: { seconds: 604_800 },
        },
        { code: 'OK' },
        {},
      ],
      response_headers_to_add: [
        { key: 'x-ratelimit-limit', value: '10' },
        { key: 'x-ratelimit-limit', value: '10, 10;w=60' },
      ],
      request_headers_to_add: [{ key: 'x-rl-checked', value: 'yes' }],
      raw_body: Buffer.from([0xff, 0x00, 0x7b]),
    });
    expect(decodeRateLimitResponse(buf)).toEqual({
      overallCode: 'OVER_LIMIT',
      statuses: [
        {
          code: 'OVER_LIMIT',
          currentLimit: { name: 'per-ip', requestsPerUnit: 0xffff_fffe, unit: 'MINUTE' },
          limitRemaining: 0,
          durationUntilResetMs: 59_250,
        },
        {
          code: 'OK',
          currentLimit: { name: '', requestsPerUnit: 10, unit: 'WEEK' },
          limitRemaining: 0xffff_ffff,
          durationUntilResetMs: 604_800_000,
        },
        { code: 'OK', currentLimit: null, limitRemaining: 0, durationUntilResetMs: null },
        { code: 'UNKNOWN', currentLimit: null, limitRemaining: 0, durationUntilResetMs: null },
      ],
      responseHeadersToAdd: [
        { key: 'x-ratelimit-limit', value: '10' },
        { key: 'x-ratelimit-limit', value: '10, 10;w=60' },
      ],
      requestHeadersToAdd: [{ key: 'x-rl-checked', value: 'yes' }],
      rawBody: Buffer.from([0xff, 0x00, 0x7b]),
    });
  });

  it.each([
    ['UNKNOWN', 'SECOND'],
    ['OK', 'HOUR'],
    ['OVER_LIMIT', 'DAY'],
    ['OK', 'MONTH'],
    ['OK', 'YEAR'],
    ['OK', 'UNKNOWN'],
  ] as const)('reads code %s and unit %s by their proto numbers', (code, unit) => {
    const r = decodeRateLimitResponse(
      serialize({ overall_code: code, statuses: [{ code, current_limit: { unit, requests_per_unit: 1 } }] }),
    );
    expect(r.overallCode).toBe(code);
    expect(r.statuses[0]?.code).toBe(code);
    expect(r.statuses[0]?.currentLimit?.unit).toBe(unit);
  });

  it('reads an empty message as UNKNOWN with nothing else, and no raw_body as null', () => {
    expect(decodeRateLimitResponse(Buffer.alloc(0))).toEqual({
      overallCode: 'UNKNOWN',
      statuses: [],
      responseHeadersToAdd: [],
      requestHeadersToAdd: [],
      rawBody: null,
    });
  });

  it('reads enum numbers it does not know (a newer server) as UNKNOWN', () => {
    const r = decodeRateLimitResponse(
      serialize({
        overall_code: 4,
        statuses: [{ code: 7, current_limit: { unit: 9, requests_per_unit: 5 } }, { code: -1 }],
      }),
    );
    expect(r.overallCode).toBe('UNKNOWN');
    expect(r.statuses.map((s) => s.code)).toEqual(['UNKNOWN', 'UNKNOWN']);
    expect(r.statuses[0]?.currentLimit).toEqual({ name: '', requestsPerUnit: 5, unit: 'UNKNOWN' });
  });

  it('skips dynamic_metadata, quota and fields it does not know, of every wire type', () => {
    const known: RateLimitResponseObject = {
      overall_code: 'OK',
      statuses: [{ code: 'OK', limit_remaining: 4 }],
      request_headers_to_add: [{ key: 'a', value: 'b' }],
    };
    const expected = decodeRateLimitResponse(serialize(known));
    expect(expected).toMatchObject({ overallCode: 'OK', statuses: [{ code: 'OK', limitRemaining: 4 }] });
    const withMetadata = serialize({
      ...known,
      dynamic_metadata: { fields: { hits: { number_value: 3 }, domain: { string_value: 'd' } } },
    });
    const quota = { requests: 10, valid_until: { seconds: 1_700_000_000 }, id: 'q' };
    const withQuota = serialize({
      ...known,
      statuses: [{ code: 'OK', limit_remaining: 4, quota }],
      quota,
    });
    // The skipped fields are on the wire: dynamic_metadata(6), quota(7), and the status's quota(5).
    expect(readFields(withMetadata).map((f) => f.field)).toContain(6);
    expect(readFields(withQuota).map((f) => f.field)).toContain(7);
    const statusField = readFields(withQuota).find((f) => f.field === 2);
    expect(statusField?.wire === 'len' && readFields(statusField.value).map((f) => f.field)).toContain(5);
    // Unknown fields: fixed64 (99), fixed32 (100), varint (101), length-delimited (102).
    const unknown = Buffer.from([
      0x99, 0x06, 1, 2, 3, 4, 5, 6, 7, 8, 0xa5, 0x06, 1, 2, 3, 4, 0xa8, 0x06, 0x96, 0x01, 0xb2, 0x06, 0x02,
      0x08, 0x01,
    ]);
    for (const buf of [withMetadata, withQuota, Buffer.concat([unknown, serialize(known), unknown])])
      expect(decodeRateLimitResponse(buf)).toEqual(expected);
  });

  it('throws ProtoDecodeError for a truncated buffer, whatever the cut inside a field', () => {
    const buf = serialize({
      overall_code: 'OVER_LIMIT',
      statuses: [
        { code: 'OVER_LIMIT', current_limit: { name: 'n', requests_per_unit: 300, unit: 'SECOND' } },
      ],
      raw_body: Buffer.from('over'),
    });
    expect(() => decodeRateLimitResponse(buf.subarray(0, buf.length - 1))).toThrow(ProtoDecodeError);
    // Cutting inside the statuses field (bytes 2 .. its end) always leaves a field short.
    const statusEnd = 2 + 2 + (buf[3] ?? 0);
    for (let cut = 3; cut < statusEnd; cut++)
      expect(() => decodeRateLimitResponse(buf.subarray(0, cut)), `cut at ${cut}`).toThrow(ProtoDecodeError);
  });

  it.each([
    ['overall_code as a message', new ProtoWriter().string(1, 'x')],
    ['statuses as a varint', new ProtoWriter().int(2, 1)],
    ['a header as a varint', new ProtoWriter().int(3, 1)],
    ['raw_body as a varint', new ProtoWriter().int(5, 1)],
    ['current_limit as a varint', new ProtoWriter().message(2, new ProtoWriter().int(2, 1))],
    ['limit_remaining as bytes', new ProtoWriter().message(2, new ProtoWriter().string(3, 'x'))],
  ])('rejects %s with a ProtoDecodeError', (_name, w) => {
    expect(() => decodeRateLimitResponse(w.finish())).toThrow(ProtoDecodeError);
  });
});
