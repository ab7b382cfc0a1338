import * as grpc from '@grpc/grpc-js';

/** A field of a protobuf message as read off the wire. */
type WireField =
  | { readonly field: number; readonly kind: 'varint' | 'i64' | 'i32'; readonly value: bigint }
  | { readonly field: number; readonly kind: 'len'; readonly value: Buffer };

/**
 * A protobuf wire reader (protobuf.dev/programming-guides/encoding) written for this test,
 * fixed-width fields included (`time_unix_nano` is fixed64), so what meshlet sends is read
 * by a decoder that is not the exporter's.
 */
function fields(buf: Buffer): WireField[] {
  const out: WireField[] = [];
  let pos = 0;
  const varint = (): bigint => {
    let v = 0n;
    for (let shift = 0n; ; shift += 7n) {
      const b = buf[pos++];
      if (b === undefined) throw new Error('truncated varint');
      v |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return v;
    }
  };
  while (pos < buf.length) {
    const tag = varint();
    const field = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    if (wire === 0) out.push({ field, kind: 'varint', value: varint() });
    else if (wire === 1) {
      out.push({ field, kind: 'i64', value: buf.readBigUInt64LE(pos) });
      pos += 8;
    } else if (wire === 5) {
      out.push({ field, kind: 'i32', value: BigInt(buf.readUInt32LE(pos)) });
      pos += 4;
    } else if (wire === 2) {
      const len = Number(varint());
      out.push({ field, kind: 'len', value: buf.subarray(pos, pos + len) });
      pos += len;
    } else throw new Error(`wire type ${wire}`);
  }
  return out;
}

const lens = (fs: WireField[], n: number): Buffer[] =>
  fs.filter((f) => f.field === n && f.kind === 'len').map((f) => f.value as Buffer);
const num = (fs: WireField[], n: number): bigint | undefined => {
  const f = fs.find((x) => x.field === n && x.kind !== 'len');
  return f === undefined ? undefined : (f.value as bigint);
};

/** opentelemetry.proto.common.v1.AnyValue, as far as these tests need (string_value = 1). */
function anyValue(buf: Buffer): string | { readonly other: number } {
  const f = fields(buf)[0];
  if (f === undefined) return { other: 0 };
  return f.field === 1 && f.kind === 'len' ? f.value.toString('utf8') : { other: f.field };
}

/** KeyValue list (key = 1, value = 2) in wire order. */
function keyValues(bufs: Buffer[]): [string, string | { readonly other: number }][] {
  return bufs.map((b) => {
    const f = fields(b);
    return [lens(f, 1)[0]?.toString('utf8') ?? '', anyValue(lens(f, 2)[0] ?? Buffer.alloc(0))];
  });
}

export interface DecodedLogRecord {
  readonly timeUnixNano: bigint | undefined;
  readonly observedTimeUnixNano: bigint | undefined;
  readonly severityNumber: bigint | undefined;
  readonly body: string | { readonly other: number } | undefined;
  readonly attributes: [string, string | { readonly other: number }][];
  readonly flags: bigint | undefined;
  readonly traceId: string | undefined;
  readonly spanId: string | undefined;
}

export interface DecodedResourceLogs {
  readonly resourceAttributes: [string, string | { readonly other: number }][];
  readonly scopes: { readonly scopeName: string; readonly records: DecodedLogRecord[] }[];
}

/** opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest (logs/v1/logs.proto field numbers). */
export function decodeExportLogs(buf: Buffer): DecodedResourceLogs[] {
  return lens(fields(buf), 1).map((rl) => {
    const rlf = fields(rl);
    const resource = lens(rlf, 1)[0];
    return {
      resourceAttributes: resource === undefined ? [] : keyValues(lens(fields(resource), 1)),
      scopes: lens(rlf, 2).map((sl) => {
        const slf = fields(sl);
        const scope = lens(slf, 1)[0];
        return {
          scopeName: scope === undefined ? '' : (lens(fields(scope), 1)[0]?.toString('utf8') ?? ''),
          records: lens(slf, 2).map((lr) => {
            const f = fields(lr);
            const body = lens(f, 5)[0];
            const trace = lens(f, 9)[0];
            const span = lens(f, 10)[0];
            return {
              timeUnixNano: num(f, 1),
              observedTimeUnixNano: num(f, 11),
              severityNumber: num(f, 2),
              body: body === undefined ? undefined : anyValue(body),
              attributes: keyValues(lens(f, 6)),
              flags: num(f, 8),
              traceId: trace === undefined || trace.length === 0 ? undefined : trace.toString('hex'),
              spanId: span === undefined || span.length === 0 ? undefined : span.toString('hex'),
            };
          }),
        };
      }),
    };
  });
}

export interface OtlpLogsReceiver {
  readonly port: number;
  /** Every Export call's request, decoded, in arrival order. */
  readonly requests: DecodedResourceLogs[][];
  /** All records received so far. */
  records(): DecodedLogRecord[];
  close(): Promise<void>;
}

const EXPORT = '/opentelemetry.proto.collector.logs.v1.LogsService/Export';

/**
 * A real OTLP/gRPC logs receiver on loopback: a @grpc/grpc-js server implementing
 * `opentelemetry.proto.collector.logs.v1.LogsService/Export` on raw bytes, answering an
 * empty ExportLogsServiceResponse.
 */
export async function startOtlpLogsReceiver(): Promise<OtlpLogsReceiver> {
  const server = new grpc.Server();
  const requests: DecodedResourceLogs[][] = [];
  const identity = (b: Buffer) => b;
  server.addService(
    {
      Export: {
        path: EXPORT,
        requestStream: false,
        responseStream: false,
        requestSerialize: identity,
        requestDeserialize: identity,
        responseSerialize: identity,
        responseDeserialize: identity,
      },
    },
    {
      Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
        requests.push(decodeExportLogs(call.request));
        callback(null, Buffer.alloc(0));
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err === null ? resolve(p) : reject(err),
    ),
  );
  return {
    port,
    requests,
    records: () => requests.flatMap((r) => r.flatMap((rl) => rl.scopes.flatMap((s) => s.records))),
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}
