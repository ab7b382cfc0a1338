import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type ServerOptions } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';

export interface Loopback {
  readonly server: Server;
  readonly port: number;
  /** Every connection the server accepted. */
  readonly sockets: Socket[];
  /** Connections open right now. */
  open(): number;
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

async function listen(server: Server): Promise<Loopback> {
  const sockets: Socket[] = [];
  const live = new Set<Socket>();
  const track = (s: Socket): void => {
    sockets.push(s);
    live.add(s);
    s.once('close', () => live.delete(s));
  };
  server.on('connection', track);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    sockets,
    open: () => live.size,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of live) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A `node:http` server on 127.0.0.1, port 0. */
export function httpServer(handler: Handler): Promise<Loopback> {
  return listen(createServer(handler));
}

/** A `node:https` server on 127.0.0.1, port 0. */
export function httpsServer(tls: ServerOptions, handler: Handler): Promise<Loopback> {
  return listen(createHttpsServer(tls, handler));
}

/** Read a request body fully. */
export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

/** A port nothing listens on (bound, then closed). */
export async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** Wait (polling on the event loop, bounded) until `check` holds. */
export async function until(check: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
