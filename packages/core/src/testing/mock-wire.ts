import { createServer, Socket, type AddressInfo, type Server } from 'node:net';

/**
 * The mock mesh's TCP wire: each connection between two mock pods is a real socket pair
 * on loopback (one private server, listening on first use), so both ends are real
 * `net.Socket`s with Node's own stream semantics (half-close, backpressure, `destroy`).
 * Where a connection goes, its identities and its policy are decided by the mock network
 * before the pair is made; the loopback addresses carry no meaning.
 */
export class MockWire {
  #server: Server | null = null;
  #listening: Promise<number> | null = null;
  /** Server ends that arrived before their client saw `connect`, by the client's port. */
  readonly #arrived = new Map<number, Socket>();
  /** Clients connected whose server end has not arrived yet, by their port. */
  readonly #waiting = new Map<number, (serverEnd: Socket) => void>();
  readonly #open = new Set<Socket>();

  #listen(): Promise<number> {
    this.#listening ??= new Promise<number>((resolve, reject) => {
      const server = createServer({ allowHalfOpen: true }, (s) => this.#accepted(s));
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
      // An idle wire does not keep a test process alive.
      server.unref();
      this.#server = server;
    });
    return this.#listening;
  }

  #track(s: Socket): void {
    this.#open.add(s);
    s.once('close', () => this.#open.delete(s));
  }

  #accepted(s: Socket): void {
    this.#track(s);
    const key = s.remotePort ?? -1;
    const waiting = this.#waiting.get(key);
    if (waiting === undefined) {
      this.#arrived.set(key, s);
      s.once('close', () => {
        if (this.#arrived.get(key) === s) this.#arrived.delete(key);
      });
      return;
    }
    this.#waiting.delete(key);
    waiting(s);
  }

  /**
   * A client socket, not yet connecting: `connect(onServerEnd)` makes the pair, and hands
   * the server's end to `onServerEnd` once both ends are up. Until then the client
   * buffers nothing: write once it has emitted `connect`, as with any socket.
   */
  socket(): {
    readonly client: Socket;
    readonly connect: (onServerEnd: (serverEnd: Socket) => void) => void;
  } {
    // As net.connect and tls.connect make it: an end from the server closes the client too.
    const client = new Socket();
    return {
      client,
      connect: (onServerEnd) => {
        this.#listen().then(
          (port) => {
            if (client.destroyed) return;
            this.#track(client);
            client.once('connect', () => {
              const key = client.localPort ?? -1;
              const arrived = this.#arrived.get(key);
              if (arrived === undefined) {
                this.#waiting.set(key, onServerEnd);
                client.once('close', () => this.#waiting.delete(key));
                return;
              }
              this.#arrived.delete(key);
              onServerEnd(arrived);
            });
            client.connect(port, '127.0.0.1');
          },
          (err: unknown) => client.destroy(err instanceof Error ? err : new Error(String(err))),
        );
      },
    };
  }

  /** Close the wire and every connection on it. */
  close(): Promise<void> {
    for (const s of this.#open) s.destroy();
    const server = this.#server;
    if (server === null) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }
}
