import { STATUS_CODES } from 'node:http';
import { Readable } from 'node:stream';
import type { MeshletInfo } from './meshlet-info.js';

/** What `mesh.fetch` resolves with: a fetch-like response plus `meshlet`. */
export interface MeshResponse {
  readonly status: number;
  readonly statusText: string;
  /** `status` in 200–299. */
  readonly ok: boolean;
  readonly headers: Headers;
  /** The body; read it once (`text`, `json`, `arrayBuffer` or the stream itself). */
  readonly body: Readable;
  readonly bodyUsed: boolean;
  text(): Promise<string>;
  json(): Promise<unknown>;
  arrayBuffer(): Promise<ArrayBuffer>;
  /** What the mesh did: response flags, attempts, upstream, matched route. */
  readonly meshlet: MeshletInfo;
}

function toHeaders(raw: Readonly<Record<string, string | readonly string[]>>): Headers {
  const h = new Headers();
  for (const name of Object.keys(raw)) {
    const v = raw[name];
    if (v === undefined) continue;
    if (typeof v === 'string') h.append(name, v);
    else for (const one of v) h.append(name, one);
  }
  return h;
}

const EMPTY = Buffer.alloc(0);
const noop = (): void => {};

function prematureClose(): Error {
  return Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
}

/**
 * Reads a body to the end, as `for await` over the stream would (same results and
 * errors: the stream's error, or `ERR_STREAM_PREMATURE_CLOSE` when it closes before
 * its end) with plain listeners: the async iterator costs about a microsecond a call.
 */
function collect(stream: Readable): Promise<Buffer> {
  if (stream.readableEnded) return Promise.resolve(EMPTY);
  if (stream.destroyed) {
    // Its 'error' may still be on its way (destroy emits it on the next tick).
    stream.on('error', noop);
    return Promise.reject(stream.errored ?? prematureClose());
  }
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    const onData = (chunk: Buffer | string): void => {
      chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    };
    const done = (err: Error | null): void => {
      stream.removeListener('data', onData);
      stream.removeListener('end', onEnd);
      stream.removeListener('error', done);
      stream.removeListener('close', onClose);
      if (err !== null) reject(err);
    };
    const onEnd = (): void => {
      done(null);
      // As the iterator does once done; an auto-destroying stream would do it right after 'end'.
      stream.destroy();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks));
    };
    const onClose = (): void => done(stream.errored ?? prematureClose());
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', done);
    stream.on('close', onClose);
  });
}

/**
 * A response over an upstream body stream or a local reply buffer. A class (not a
 * closure bag) because one is made per call: prototype methods allocate nothing.
 * Headers and the stream of a local reply are built only when read — most callers
 * only call `text()` or `json()`.
 */
class MeshletResponse implements MeshResponse {
  readonly status: number;
  readonly meshlet: MeshletInfo;
  readonly #raw: Readonly<Record<string, string | readonly string[]>>;
  readonly #source: Readable | Buffer;
  #headers: Headers | null = null;
  #stream: Readable | null;
  #used = false;

  constructor(
    status: number,
    raw: Readonly<Record<string, string | readonly string[]>>,
    source: Readable | Buffer,
    meshlet: MeshletInfo,
  ) {
    this.status = status;
    this.meshlet = meshlet;
    this.#raw = raw;
    this.#source = source;
    this.#stream = Buffer.isBuffer(source) ? null : source;
  }

  get statusText(): string {
    return STATUS_CODES[this.status] ?? '';
  }

  get ok(): boolean {
    return this.status >= 200 && this.status < 300;
  }

  get headers(): Headers {
    this.#headers ??= toHeaders(this.#raw);
    return this.#headers;
  }

  get body(): Readable {
    this.#stream ??= Readable.from([this.#source as Buffer]);
    this.#used = true;
    return this.#stream;
  }

  get bodyUsed(): boolean {
    return this.#used;
  }

  #take(): Promise<Buffer> {
    if (this.#used) return Promise.reject(new TypeError('Body is unusable: Body has already been read'));
    this.#used = true;
    return Buffer.isBuffer(this.#source) ? Promise.resolve(this.#source) : collect(this.#source);
  }

  async text(): Promise<string> {
    return (await this.#take()).toString('utf8');
  }

  async json(): Promise<unknown> {
    return JSON.parse((await this.#take()).toString('utf8')) as unknown;
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const b = await this.#take();
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
  }
}

/** Builds the `MeshResponse` for a call's status, headers, body and `res.meshlet`. */
export function createMeshResponse(
  status: number,
  rawHeaders: Readonly<Record<string, string | readonly string[]>>,
  body: Readable | Buffer,
  meshlet: MeshletInfo,
): MeshResponse {
  return new MeshletResponse(status, rawHeaders, body, meshlet);
}
