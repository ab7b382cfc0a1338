import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { TestCa } from './dev-ca.js';
import type { Closers } from './httpbin-mesh.js';
import { observedHttpbin, type ObservedHttpbin } from './observed-httpbin.js';

const STRICT = `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: strict, namespace: foo }
spec: { mtls: { mode: STRICT } }
`;

/** A 101 for `req` and a text frame, `text`, in one write. */
function switchAndGreet(req: IncomingMessage, text: string): Buffer {
  const accept = createHash('sha1')
    .update(`${String(req.headers['sec-websocket-key'])}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
    .digest('base64');
  const head = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head), Buffer.from([0x81, text.length]), Buffer.from(text)]);
}

/** The chat service and the upgrade requests it heard. */
export interface ChatService {
  readonly s: ObservedHttpbin;
  readonly seen: IncomingMessage[];
}

/**
 * httpbin in foo, STRICT mTLS, with an echoing `ws` server: `/refuse` is refused (401), `/hang`
 * never answered, `/greet` answered with its 101 and a first message in one write; a `drop`
 * message is answered by dropping the connection.
 */
export async function startChatService(
  tmp: () => Promise<string>,
  ca: TestCa,
  closers: Closers,
): Promise<ChatService> {
  const dir = await tmp();
  await writeFile(path.join(dir, 'strict.yaml'), STRICT);
  const s = await observedHttpbin('mesh.listen (Express)', dir, closers, {
    certs: await ca.certsFor('httpbin', 'foo'),
  });
  const seen: IncomingMessage[] = [];
  const wss = new WebSocketServer({
    noServer: true,
    verifyClient: (info, done) => {
      if (info.req.url === '/hang') return;
      done(info.req.url !== '/refuse', 401);
    },
  });
  // `drop` makes the service drop the connection, no close frame: it closes first, for sure.
  wss.on('connection', (ws) =>
    ws.on('message', (m, binary) => {
      if (Buffer.isBuffer(m) && m.toString() === 'drop') ws.terminate();
      else ws.send(m, { binary });
    }),
  );
  s.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    seen.push(req);
    if (req.url === '/greet') {
      socket.write(switchAndGreet(req, 'welcome'));
      socket.on('data', () => socket.end());
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });
  closers.push(() => {
    for (const c of wss.clients) c.terminate();
    return new Promise<void>((resolve) => wss.close(() => resolve()));
  });
  return { s, seen };
}
