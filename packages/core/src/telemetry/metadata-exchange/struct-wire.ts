/**
 * `google.protobuf.Struct` on the wire: what Istio's metadata exchange base64-encodes into
 * `x-envoy-peer-metadata`. Only the protobuf wire format, no schema library: a Struct is a
 * map<string, Value> (field 1), a Value one of null (1, varint), number (2, double), string
 * (3), bool (4, varint), struct (5) or list (6, ListValue: repeated Value, field 1)
 * (google/protobuf/struct.proto).
 *
 * Encoding is deterministic as Envoy's `serializeToStringDeterministic` is (istio/proxy
 * extensions/common/metadata_object.cc): map entries sorted by key, both the key and the
 * value written for every entry.
 */

/** A Struct's value. Objects are Structs; arrays are ListValues. */
export type StructValue = null | number | string | boolean | StructFields | readonly StructValue[];

/** A Struct: its fields by name. */
export interface StructFields {
  readonly [key: string]: StructValue;
}

/** Thrown for bytes that are not a Struct (or nest deeper than `MAX_DEPTH`). */
export class StructWireError extends Error {
  override readonly name = 'StructWireError';
}

/** Structs inside Values inside Structs: the peer metadata needs two levels (LABELS). */
const MAX_DEPTH = 16;

const VARINT = 0;
const FIXED64 = 1;
const LEN = 2;
const FIXED32 = 5;

// ---- encoding -------------------------------------------------------------------------

/** Appends protobuf pieces to a list of buffers. */
class Writer {
  readonly parts: Buffer[] = [];
  length = 0;

  push(b: Buffer): void {
    this.parts.push(b);
    this.length += b.length;
  }

  varint(n: number): void {
    const bytes: number[] = [];
    let v = n;
    while (v > 0x7f) {
      bytes.push((v & 0x7f) | 0x80);
      v = Math.floor(v / 128);
    }
    bytes.push(v);
    this.push(Buffer.from(bytes));
  }

  tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  /** A length-delimited field. */
  bytes(field: number, b: Buffer): void {
    this.tag(field, LEN);
    this.varint(b.length);
    this.push(b);
  }

  done(): Buffer {
    return Buffer.concat(this.parts, this.length);
  }
}

function encodeValue(v: StructValue, depth: number): Buffer {
  const w = new Writer();
  if (v === null) {
    w.tag(1, VARINT);
    w.varint(0);
  } else if (typeof v === 'number') {
    w.tag(2, FIXED64);
    const b = Buffer.allocUnsafe(8);
    b.writeDoubleLE(v);
    w.push(b);
  } else if (typeof v === 'string') {
    w.bytes(3, Buffer.from(v, 'utf8'));
  } else if (typeof v === 'boolean') {
    w.tag(4, VARINT);
    w.varint(v ? 1 : 0);
  } else if (isList(v)) {
    const list = new Writer();
    for (const item of v) list.bytes(1, encodeValue(item, depth + 1));
    w.bytes(6, list.done());
  } else {
    w.bytes(5, encodeFields(v, depth + 1));
  }
  return w.done();
}

function isList(v: StructFields | readonly StructValue[]): v is readonly StructValue[] {
  return Array.isArray(v);
}

function encodeFields(fields: StructFields, depth: number): Buffer {
  if (depth > MAX_DEPTH) throw new StructWireError(`Struct nests deeper than ${MAX_DEPTH}`);
  const w = new Writer();
  // Deterministic: entries in key order, compared as UTF-8 bytes as protobuf's C++ map sorter does.
  const keys = Object.keys(fields).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  for (const key of keys) {
    const entry = new Writer();
    entry.bytes(1, Buffer.from(key, 'utf8'));
    entry.bytes(2, encodeValue(fields[key] as StructValue, depth));
    w.bytes(1, entry.done());
  }
  return w.done();
}

/** The Struct's wire bytes, deterministic (keys sorted). */
export function encodeStruct(fields: StructFields): Buffer {
  return encodeFields(fields, 0);
}

// ---- decoding -------------------------------------------------------------------------

/** Reads protobuf pieces from `buf[pos, end)`. */
class Reader {
  pos: number;

  constructor(
    readonly buf: Buffer,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  more(): boolean {
    return this.pos < this.end;
  }

  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new StructWireError('truncated varint');
      const b = this.buf[this.pos++] as number;
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 128;
    }
    throw new StructWireError('varint longer than 10 bytes');
  }

  /** A length-delimited field's bounds, checked against the enclosing message. */
  span(): { start: number; end: number } {
    const length = this.varint();
    const start = this.pos;
    const end = start + length;
    if (end > this.end) throw new StructWireError('length runs past the end of its message');
    this.pos = end;
    return { start, end };
  }

  skip(wire: number): void {
    if (wire === VARINT) this.varint();
    else if (wire === FIXED64) this.advance(8);
    else if (wire === LEN) this.span();
    else if (wire === FIXED32) this.advance(4);
    else throw new StructWireError(`unsupported wire type ${wire}`);
  }

  advance(n: number): void {
    if (this.pos + n > this.end) throw new StructWireError('truncated field');
    this.pos += n;
  }
}

function decodeValue(buf: Buffer, start: number, end: number, depth: number): StructValue {
  const r = new Reader(buf, start, end);
  // A Value with no kind set is null, as protobuf's JSON mapping reads it.
  let value: StructValue = null;
  while (r.more()) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 1 && wire === VARINT) {
      r.varint();
      value = null;
    } else if (field === 2 && wire === FIXED64) {
      r.advance(8);
      value = buf.readDoubleLE(r.pos - 8);
    } else if (field === 3 && wire === LEN) {
      const s = r.span();
      value = buf.toString('utf8', s.start, s.end);
    } else if (field === 4 && wire === VARINT) {
      value = r.varint() !== 0;
    } else if (field === 5 && wire === LEN) {
      const s = r.span();
      value = decodeFields(buf, s.start, s.end, depth + 1);
    } else if (field === 6 && wire === LEN) {
      const s = r.span();
      value = decodeList(buf, s.start, s.end, depth + 1);
    } else r.skip(wire);
  }
  return value;
}

function decodeList(buf: Buffer, start: number, end: number, depth: number): StructValue[] {
  if (depth > MAX_DEPTH) throw new StructWireError(`Struct nests deeper than ${MAX_DEPTH}`);
  const r = new Reader(buf, start, end);
  const out: StructValue[] = [];
  while (r.more()) {
    const tag = r.varint();
    if (tag === 1 * 8 + LEN) {
      const s = r.span();
      out.push(decodeValue(buf, s.start, s.end, depth));
    } else r.skip(tag & 7);
  }
  return out;
}

function decodeFields(buf: Buffer, start: number, end: number, depth: number): StructFields {
  if (depth > MAX_DEPTH) throw new StructWireError(`Struct nests deeper than ${MAX_DEPTH}`);
  const r = new Reader(buf, start, end);
  // No prototype: a key such as `__proto__` is an ordinary field.
  const out = Object.create(null) as Record<string, StructValue>;
  while (r.more()) {
    const tag = r.varint();
    if (tag !== 1 * 8 + LEN) {
      r.skip(tag & 7);
      continue;
    }
    const entry = r.span();
    const e = new Reader(buf, entry.start, entry.end);
    let key = '';
    let value: StructValue = null;
    while (e.more()) {
      const t = e.varint();
      if (t === 1 * 8 + LEN) {
        const s = e.span();
        key = buf.toString('utf8', s.start, s.end);
      } else if (t === 2 * 8 + LEN) {
        const s = e.span();
        value = decodeValue(buf, s.start, s.end, depth);
      } else e.skip(t & 7);
    }
    out[key] = value;
  }
  return out;
}

/** A Struct from its wire bytes. Throws `StructWireError` for bytes that are not one. */
export function decodeStruct(bytes: Buffer): StructFields {
  return decodeFields(bytes, 0, bytes.length, 0);
}

// ---- google.protobuf.Any ---------------------------------------------------------------

/** A `google.protobuf.Any`: `type_url` (field 1) and the message's bytes (`value`, field 2). */
export interface AnyMessage {
  readonly typeUrl: string;
  readonly value: Buffer;
}

/** The Any's wire bytes. */
export function encodeAny(any: AnyMessage): Buffer {
  const w = new Writer();
  w.bytes(1, Buffer.from(any.typeUrl, 'utf8'));
  w.bytes(2, any.value);
  return w.done();
}

/** An Any from its wire bytes (unknown fields skipped). Throws `StructWireError` for bytes that are not one. */
export function decodeAny(bytes: Buffer): AnyMessage {
  const r = new Reader(bytes, 0, bytes.length);
  let typeUrl = '';
  let value: Buffer = Buffer.alloc(0);
  while (r.more()) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if ((field === 1 || field === 2) && wire === LEN) {
      const { start, end } = r.span();
      if (field === 1) typeUrl = bytes.toString('utf8', start, end);
      else value = bytes.subarray(start, end);
    } else r.skip(wire);
  }
  return { typeUrl, value };
}
