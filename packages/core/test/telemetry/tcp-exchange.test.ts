import type { AddressInfo } from 'node:net';
import { connect, createServer, type TLSSocket } from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDevCa, issueWorkloadCertificate, type IssuedCertificate } from '../../src/identity/dev-ca.js';
import { localPeerHeaders, type PeerMetadata } from '../../src/telemetry/metadata-exchange/peer-metadata.js';
import { decodeAny, decodeStruct } from '../../src/telemetry/metadata-exchange/struct-wire.js';
import {
  exchangeTcpMetadata,
  MX_ALPN,
  tcpExchangeFrame,
  type ExchangeBytes,
} from '../../src/telemetry/metadata-exchange/tcp-exchange.js';

// Istio's TCP metadata exchange on the wire (istio/proxy metadata_exchange.cc,
// metadata_exchange_initial_header.h): a big-endian magic 0x3D230467 and length, then a
// google.protobuf.Any of a Struct with `x-envoy-peer-metadata` and `-id`. The peer's frame
// below is assembled byte by byte here, not with meshlet's encoder, and travels over real
// TLS with ALPN istio-peer-exchange.

/** A protobuf varint. */
function varint(n: number): Buffer {
  const out: number[] = [];
  let v = n;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return Buffer.from(out);
}
/** A length-delimited field. */
const ld = (field: number, bytes: Buffer): Buffer =>
  Buffer.concat([Buffer.from([(field << 3) | 2]), varint(bytes.length), bytes]);
const text = (s: string): Buffer => Buffer.from(s, 'utf8');
/** Value{string_value (3)} and Value{struct_value (5)}. */
const stringValue = (s: string): Buffer => ld(3, text(s));
const structValue = (fields: Buffer): Buffer => ld(5, fields);
/** One map entry of Struct.fields (field 1): key (1), value (2). */
const entry = (key: string, value: Buffer): Buffer => ld(1, Buffer.concat([ld(1, text(key)), ld(2, value)]));

const SLEEP_METADATA = Buffer.concat([
  entry(
    'LABELS',
    structValue(Buffer.concat([entry('app', stringValue('sleep')), entry('version', stringValue('v1'))])),
  ),
  entry('NAMESPACE', stringValue('foo')),
  entry('WORKLOAD_NAME', stringValue('sleep-v1')),
]);
const SLEEP_STRUCT = Buffer.concat([
  entry('x-envoy-peer-metadata', structValue(SLEEP_METADATA)),
  entry('x-envoy-peer-metadata-id', stringValue('sidecar~10.0.0.7~sleep-v1-abc.foo~foo.svc.cluster.local')),
]);
const SLEEP_ANY = Buffer.concat([
  ld(1, text('type.googleapis.com/google.protobuf.Struct')),
  ld(2, SLEEP_STRUCT),
]);

function frameOf(any: Buffer): Buffer {
  const header = Buffer.from([0x3d, 0x23, 0x04, 0x67, 0, 0, 0, 0]);
  header.writeUInt32BE(any.length, 4);
  return Buffer.concat([header, any]);
}

const LOCAL = localPeerHeaders(
  {
    name: 'tcp-echo-v1',
    namespace: 'foo',
    serviceAccount: 'tcp-echo',
    labels: { app: 'tcp-echo', version: 'v1' },
  },
  'Kubernetes',
  'sidecar~10.0.0.9~tcp-echo-v1-xyz.foo~foo.svc.cluster.local',
);

let cert: IssuedCertificate;
beforeAll(async () => {
  const ca = await createDevCa();
  cert = await issueWorkloadCertificate({ ca, namespace: 'foo', serviceAccount: 'tcp-echo' });
});

const closers: (() => void)[] = [];
afterEach(() => {
  for (const c of closers.splice(0)) c();
});

interface Seen {
  /** What the application read, once the client ended. */
  readonly app: Promise<Buffer>;
  readonly peer: Promise<PeerMetadata | null>;
  readonly bytes: ExchangeBytes;
}

/**
 * A TLS server selecting istio-peer-exchange that runs the exchange on its end, and a
 * client that sends `chunks` one TLS record each, then ends. Resolves with what the
 * server's application read and what the client received.
 */
async function exchange(chunks: readonly Buffer[]): Promise<{ server: Seen; client: Promise<Buffer> }> {
  let resolveServer: (s: Seen) => void = () => undefined;
  const seen = new Promise<Seen>((r) => (resolveServer = r));
  const server = createServer(
    {
      key: cert.keyPem,
      cert: cert.certChainPem,
      ALPNProtocols: [MX_ALPN, 'h2', 'http/1.1'],
      allowHalfOpen: true,
    },
    (s: TLSSocket) => {
      let peerOf: (p: PeerMetadata | null) => void = () => undefined;
      const peer = new Promise<PeerMetadata | null>((r) => (peerOf = r));
      expect(s.alpnProtocol).toBe(MX_ALPN);
      const bytes = exchangeTcpMetadata(s, tcpExchangeFrame(LOCAL), peerOf);
      const parts: Buffer[] = [];
      const app = new Promise<Buffer>((r) => {
        s.on('data', (d: Buffer) => parts.push(d));
        s.on('end', () => {
          r(Buffer.concat(parts));
          s.end();
        });
      });
      resolveServer({ app, peer, bytes });
    },
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => server.close());
  const socket = connect({
    port: (server.address() as AddressInfo).port,
    host: '127.0.0.1',
    rejectUnauthorized: false,
    ALPNProtocols: [MX_ALPN, 'istio'],
  });
  closers.push(() => socket.destroy());
  const received: Buffer[] = [];
  const client = new Promise<Buffer>((r) => {
    socket.on('data', (d: Buffer) => received.push(d));
    socket.on('close', () => r(Buffer.concat(received)));
  });
  await new Promise<void>((r) => socket.once('secureConnect', () => r()));
  for (const c of chunks) {
    socket.write(c);
    await new Promise<void>((r) => setTimeout(r, 2));
  }
  socket.end();
  return { server: await seen, client };
}

/** One byte per chunk: the frame split as badly as a network can split it. */
const bytewise = (b: Buffer): Buffer[] => [...b].map((x) => Buffer.from([x]));

describe('TCP metadata exchange (istio-peer-exchange)', () => {
  it("takes a sidecar's frame off the front, however it is split, and hands the rest to the application", async () => {
    const frame = frameOf(SLEEP_ANY);
    const { server, client } = await exchange([
      ...bytewise(frame.subarray(0, 20)),
      frame.subarray(20),
      text('hello\n'),
    ]);
    expect((await server.app).toString()).toBe('hello\n');
    expect(await server.peer).toEqual(
      expect.objectContaining({ workload: 'sleep-v1', namespace: 'foo', app: 'sleep', version: 'v1' }),
    );
    expect(server.bytes).toEqual({ sent: tcpExchangeFrame(LOCAL).length, received: frame.length });

    // The client got the server's frame first, in the same format.
    const got = await client;
    expect(got.readUInt32BE(0)).toBe(0x3d230467);
    const size = got.readUInt32BE(4);
    expect(got.length).toBe(8 + size);
    const any = decodeAny(got.subarray(8));
    expect(any.typeUrl).toBe('type.googleapis.com/google.protobuf.Struct');
    const struct = decodeStruct(any.value);
    expect(struct['x-envoy-peer-metadata-id']).toBe(
      'sidecar~10.0.0.9~tcp-echo-v1-xyz.foo~foo.svc.cluster.local',
    );
    expect(struct['x-envoy-peer-metadata']).toMatchObject({
      WORKLOAD_NAME: 'tcp-echo-v1',
      NAMESPACE: 'foo',
      LABELS: { app: 'tcp-echo', version: 'v1' },
    });
  });

  it('passes bytes that do not start with the magic through untouched', async () => {
    const { server } = await exchange([text('hello world\n')]);
    expect((await server.app).toString()).toBe('hello world\n');
    expect(await server.peer).toBeNull();
    expect(server.bytes.received).toBe(0);
    // Even when what stands where the length would be is a small one.
    const lookalike = Buffer.concat([text('ABCD'), Buffer.from([0, 0, 0, 2]), text('xyz')]);
    const second = await exchange([lookalike]);
    expect(await second.server.app).toEqual(lookalike);
  });

  it('leaves a frame cut short by the end of the stream to the application', async () => {
    const partial = frameOf(SLEEP_ANY).subarray(0, 6);
    const { server } = await exchange([partial]);
    expect(await server.app).toEqual(partial);
    expect(await server.peer).toBeNull();
  });

  it('drains only the header of a frame whose Any does not parse', async () => {
    const garbage = Buffer.from([0x0a, 0x7f, 0x01]);
    const { server } = await exchange([frameOf(garbage), text('tail')]);
    expect(await server.app).toEqual(Buffer.concat([garbage, text('tail')]));
    expect(await server.peer).toBeNull();
  });
});
