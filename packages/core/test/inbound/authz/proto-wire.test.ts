import { describe, expect, it } from 'vitest';
import { decodeCheckResponse } from '../../../src/inbound/authz/ext-authz-messages.js';
import { ProtoDecodeError, ProtoWriter, readFields } from '../../../src/inbound/authz/proto-wire.js';

describe('protobuf wire format', () => {
  it('writes a negative int64 as ten bytes of two’s complement, as proto3 requires', () => {
    const b = new ProtoWriter().int(9, -1).finish();
    expect([...b]).toEqual([0x48, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    expect(readFields(b)).toEqual([{ field: 9, wire: 'varint', value: 2n ** 64n - 1n }]);
  });

  it('leaves default values out and keeps an empty nested message', () => {
    const b = new ProtoWriter().string(1, '').int(2, 0).message(3, new ProtoWriter()).finish();
    expect([...b]).toEqual([0x1a, 0x00]);
  });

  it('skips fixed-width fields it does not read', () => {
    // field 4 fixed64, field 5 fixed32, then field 1 varint 150
    const b = Buffer.from([0x21, 1, 2, 3, 4, 5, 6, 7, 8, 0x2d, 1, 2, 3, 4, 0x08, 0x96, 0x01]);
    expect(readFields(b)).toEqual([{ field: 1, wire: 'varint', value: 150n }]);
  });

  it.each([
    ['a truncated varint', [0x08, 0x96]],
    ['a length past the end', [0x0a, 0x05, 0x61]],
    ['an 11-byte varint', [0x08, ...new Array<number>(10).fill(0xff), 0x01]],
    ['field number 0', [0x00, 0x01]],
    ['a group wire type', [0x0b]],
    ['a truncated fixed64', [0x21, 1, 2]],
  ])('rejects %s with a ProtoDecodeError, never a crash', (_name, bytes) => {
    expect(() => readFields(Buffer.from(bytes))).toThrow(ProtoDecodeError);
  });

  it('rejects a CheckResponse whose fields have the wrong wire types', () => {
    // status (field 1) sent as a varint instead of a message
    expect(() => decodeCheckResponse(Buffer.from([0x08, 0x01]))).toThrow(ProtoDecodeError);
    // an unknown HeaderValueOption append_action
    const option = new ProtoWriter().message(1, new ProtoWriter().string(1, 'x-a').string(2, 'b')).int(3, 9);
    const ok = new ProtoWriter().message(2, option);
    expect(() => decodeCheckResponse(new ProtoWriter().message(3, ok).finish())).toThrow(/append_action 9/);
  });
});
