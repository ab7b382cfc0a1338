import { Duplex } from 'node:stream';

/**
 * One end of an in-process connection: what is written on it is read on the other end;
 * `end`, or `destroy`, is the other end's end of input (which then ends its output, as a
 * TCP socket's does), and `destroy` with an error resets the other end. It has
 * the socket methods node's HTTP client and server call on a connection (timeouts, Nagle,
 * keep-alive, ref/unref), which have nothing to do in memory but time out idle ends.
 */
export class PairedEnd extends Duplex {
  #peer: PairedEnd | null = null;
  #timer: NodeJS.Timeout | null = null;
  #timeoutMs = 0;
  readonly remoteAddress = '127.0.0.1';
  readonly remotePort = 0;
  readonly localAddress = '127.0.0.1';
  readonly localPort = 0;
  readonly remoteFamily = 'IPv4';
  readonly connecting = false;

  constructor() {
    // As a TCP socket: the other end's end of input ends this end's output too.
    super({ allowHalfOpen: false });
  }

  /** @internal */
  pairWith(peer: PairedEnd): void {
    this.#peer = peer;
  }

  override _read(): void {
    // Data is pushed by the peer's writes.
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#touch();
    const peer = this.#peer;
    if (peer === null || peer.destroyed) {
      callback(Object.assign(new Error('the other end is closed'), { code: 'EPIPE' }));
      return;
    }
    peer.#touch();
    peer.push(chunk);
    callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#peer?.push(null);
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#clearTimer();
    const peer = this.#peer;
    if (peer !== null && !peer.destroyed) {
      // The other end sees a reset when this one went with an error, else the end of input.
      if (error !== null) peer.destroy(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
      else peer.push(null);
    }
    callback(error);
  }

  setTimeout(ms: number, callback?: () => void): this {
    this.#timeoutMs = ms;
    if (callback !== undefined) this.once('timeout', callback);
    this.#touch();
    return this;
  }

  setNoDelay(): this {
    return this;
  }

  setKeepAlive(): this {
    return this;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }

  #touch(): void {
    this.#clearTimer();
    if (this.#timeoutMs > 0 && !this.destroyed) {
      this.#timer = setTimeout(() => this.emit('timeout'), this.#timeoutMs);
      this.#timer.unref();
    }
  }

  #clearTimer(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }
}

/** Two ends of an in-process connection (node 22's `stream.duplexPair`, with socket methods). */
export function duplexPair(): [PairedEnd, PairedEnd] {
  const a = new PairedEnd();
  const b = new PairedEnd();
  a.pairWith(b);
  b.pairWith(a);
  return [a, b];
}
