import { createServer, IncomingMessage, ServerResponse, type Server } from 'node:http';
import { connect, Socket, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { watchResponse, type ResponseWatcher } from '../../src/inbound/response-done.js';

/** A watcher that records what it was told, once. */
function recorder(
  res: ServerResponse,
  seen: Map<string, number | null>,
  name: string,
  finished?: Map<string, boolean>,
): ResponseWatcher {
  return {
    response: res,
    responseDone(bytes, done) {
      expect(seen.has(name), `${name} told twice`).toBe(false);
      seen.set(name, bytes);
      finished?.set(name, done);
    },
  };
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<number> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

/**
 * Writes `raw` on one connection and resolves with everything the server sent back once
 * it closed; with `closeWhen`, the client closes the connection when that settles.
 */
function exchange(port: number, raw: string, closeWhen?: Promise<void>): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(raw));
    let got = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (got += d));
    socket.on('error', reject);
    socket.on('close', () => resolve(got));
    void closeWhen?.then(() => socket.destroy());
  });
}

/** The wire length of each response in `wire` (fixed-length bodies). */
function responseLengths(wire: string): number[] {
  const out: number[] = [];
  let at = 0;
  while (at < wire.length) {
    const head = wire.indexOf('\r\n\r\n', at) + 4;
    const length = Number(/content-length: (\d+)/i.exec(wire.slice(at, head))![1]);
    out.push(head + length - at);
    at = head + length;
  }
  return out;
}

describe('watchResponse on a node http server', () => {
  it('tells each pipelined response its own wire bytes, in order, even when the first answers last', async () => {
    const seen = new Map<string, number | null>();
    let answerSlow!: () => void;
    const fastAnswered = new Promise<void>((r) => (answerSlow = r));
    const port = await listen((req, res) => {
      const name = req.url!;
      watchResponse(req, recorder(res, seen, name));
      if (name === '/slow') {
        // Answered only after the second request has been: node holds that response
        // until this one has finished.
        void fastAnswered.then(() => res.end('slow answer, longer body'));
      } else {
        res.end('ok');
        answerSlow();
      }
    });
    const wire = await exchange(
      port,
      'GET /slow HTTP/1.1\r\nHost: a\r\n\r\nGET /fast HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n',
    );
    const [slow, fast] = responseLengths(wire);
    expect(seen.get('/slow')).toBe(slow);
    expect(seen.get('/fast')).toBe(fast);
    expect(slow).not.toBe(fast);
  });

  it('tells a response whose connection closed first null and not finished, once', async () => {
    const seen = new Map<string, number | null>();
    const finished = new Map<string, boolean>();
    let closed!: () => void;
    const done = new Promise<void>((r) => (closed = r));
    let received!: () => void;
    const arrived = new Promise<void>((r) => (received = r));
    const port = await listen((req, res) => {
      watchResponse(req, recorder(res, seen, 'never', finished));
      req.socket.on('close', () => setImmediate(closed));
      received();
    });
    await exchange(port, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', arrived);
    await done;
    expect(seen.get('never')).toBeNull();
    expect(finished.get('never')).toBe(false);
  });
});

describe('watchResponse without a server connection (inject, the mock mesh)', () => {
  /** A response whose socket keeps what is written (writableFinished stays false), as an in-memory one may. */
  function response(): ServerResponse {
    const socket = new Socket();
    // No http server serves it (a net.Socket starts with `server: null`; node's server sets it).
    (socket as { server?: unknown }).server = undefined;
    return new ServerResponse(new IncomingMessage(socket));
  }

  it('tells a finished response finished, once, though its socket still holds the bytes', () => {
    const res = response();
    const seen = new Map<string, number | null>();
    const finished = new Map<string, boolean>();
    watchResponse(res.req, recorder(res, seen, 'r', finished));
    res.emit('finish');
    res.emit('close');
    expect([seen.get('r'), finished.get('r')]).toEqual([null, true]);
  });

  it('tells a response that closed before finishing not finished (DC)', () => {
    const res = response();
    const seen = new Map<string, number | null>();
    const finished = new Map<string, boolean>();
    watchResponse(res.req, recorder(res, seen, 'r', finished));
    res.emit('close');
    res.emit('finish');
    expect([seen.get('r'), finished.get('r')]).toEqual([null, false]);
  });
});
