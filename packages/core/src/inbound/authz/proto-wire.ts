/**
 * The protobuf wire format (protobuf.dev/programming-guides/encoding), as much of it as
 * the ext_authz Check call needs: varints, length-delimited fields (strings, bytes,
 * nested messages, map entries) and skipping what a reader does not know. Written here
 * rather than generated: two messages do not justify a code generator and Envoy's
 * whole proto tree.
 */

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

/** Builds one message; proto3 leaves out default values, and so does this writer. */
export class ProtoWriter {
  readonly #parts: Buffer[] = [];
  #length = 0;

  #push(b: Buffer): void {
    this.#parts.push(b);
    this.#length += b.length;
  }

  #varint(value: bigint): void {
    // Negative int64 values are their 64-bit two's complement: ten bytes on the wire.
    let v = BigInt.asUintN(64, value);
    const bytes: number[] = [];
    while (v > 0x7fn) {
      bytes.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    bytes.push(Number(v));
    this.#push(Buffer.from(bytes));
  }

  #tag(field: number, wire: number): void {
    this.#varint(BigInt((field << 3) | wire));
  }

  /** int32/int64/uint32/enum/bool; zero is left out. */
  int(field: number, value: number | bigint): this {
    if (value === 0 || value === 0n) return this;
    this.#tag(field, WIRE_VARINT);
    this.#varint(BigInt(value));
    return this;
  }

  string(field: number, value: string): this {
    if (value === '') return this;
    return this.bytes(field, Buffer.from(value, 'utf8'));
  }

  bytes(field: number, value: Buffer): this {
    if (value.length === 0) return this;
    this.#tag(field, WIRE_LEN);
    this.#varint(BigInt(value.length));
    this.#push(value);
    return this;
  }

  /** A nested message; an empty one is still written, so its presence is kept. */
  message(field: number, inner: ProtoWriter): this {
    const b = inner.finish();
    this.#tag(field, WIRE_LEN);
    this.#varint(BigInt(b.length));
    this.#push(b);
    return this;
  }

  /** A `map<string, string>`: one entry message (key 1, value 2) per pair. */
  stringMap(field: number, entries: Iterable<readonly [string, string]>): this {
    for (const [k, v] of entries) this.message(field, new ProtoWriter().string(1, k).string(2, v));
    return this;
  }

  finish(): Buffer {
    return Buffer.concat(this.#parts, this.#length);
  }
}

/** One field as read: a varint's value, or a length-delimited field's bytes. */
export type ProtoField =
  | { readonly field: number; readonly wire: 'varint'; readonly value: bigint }
  | { readonly field: number; readonly wire: 'len'; readonly value: Buffer };

/** Raised for bytes that are not a well-formed message. */
export class ProtoDecodeError extends Error {
  readonly code = 'PROTO_DECODE';
}

function readVarint(buf: Buffer, at: { pos: number }): bigint {
  let result = 0n;
  let shift = 0n;
  for (let i = 0; i < 10; i++) {
    if (at.pos >= buf.length) throw new ProtoDecodeError('truncated varint');
    const b = buf[at.pos++] as number;
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return BigInt.asUintN(64, result);
    shift += 7n;
  }
  throw new ProtoDecodeError('varint longer than 10 bytes');
}

/**
 * The fields of one message in wire order; fixed-width fields (which the ext_authz
 * response messages do not use) are skipped, as a reader skips unknown fields.
 */
export function readFields(buf: Buffer): ProtoField[] {
  const out: ProtoField[] = [];
  const at = { pos: 0 };
  while (at.pos < buf.length) {
    const tag = readVarint(buf, at);
    const field = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    if (field === 0) throw new ProtoDecodeError('field number 0');
    if (wire === WIRE_VARINT) out.push({ field, wire: 'varint', value: readVarint(buf, at) });
    else if (wire === WIRE_LEN) {
      const len = Number(readVarint(buf, at));
      if (at.pos + len > buf.length) throw new ProtoDecodeError('truncated length-delimited field');
      out.push({ field, wire: 'len', value: buf.subarray(at.pos, at.pos + len) });
      at.pos += len;
    } else if (wire === WIRE_I64) at.pos += 8;
    else if (wire === WIRE_I32) at.pos += 4;
    else throw new ProtoDecodeError(`unsupported wire type ${wire}`);
    if (at.pos > buf.length) throw new ProtoDecodeError('truncated fixed-width field');
  }
  return out;
}

/** A varint field read as a signed 32-bit integer (int32, enum). */
export function int32Of(v: bigint): number {
  return Number(BigInt.asIntN(32, v));
}
