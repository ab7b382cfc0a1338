import type { IncomingMessage } from 'node:http';
import { expect } from 'vitest';
import { WebSocket } from 'ws';

/** What the client's socket wrote (request head and frames) and read (response head and frames). */
export interface Conversation {
  readonly written: number;
  readonly read: number;
}

/**
 * Opens a WebSocket to `path`, sends `text`, waits for its echo, then closes as `close` says:
 * `close` sends a close frame, `terminate` drops the connection. Resolves with the client
 * socket's counters once it closed: everything that went each way.
 */
export function converse(
  port: number,
  close: 'close' | 'terminate',
  path = '/ws',
  text = 'hello',
  headers: Record<string, string> = {},
): Promise<Conversation> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, { perMessageDeflate: false, headers });
    let socket: { bytesWritten: number; bytesRead: number } | null = null;
    ws.on('upgrade', (res) => (socket = res.socket));
    ws.on('open', () => ws.send(text));
    ws.on('message', (m: Buffer) => {
      expect(m.toString()).toBe(text);
      if (close === 'close') ws.close(1000);
      else ws.terminate();
    });
    ws.on('close', () =>
      setImmediate(() => resolve({ written: socket!.bytesWritten, read: socket!.bytesRead })),
    );
    ws.on('error', reject);
  });
}

/** Opens a WebSocket to `path` with `headers`, closes it once open; resolves with the 101 once closed. */
export async function opened(
  port: number,
  path = '/ws',
  headers: Record<string, string> = {},
): Promise<IncomingMessage> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, { headers });
  let res: IncomingMessage | null = null;
  ws.on('upgrade', (r) => (res = r));
  // ws checks the handshake (its accept key) before it opens.
  await new Promise((resolve, reject) => {
    ws.on('open', resolve);
    ws.on('error', reject);
  });
  ws.close();
  await new Promise((resolve) => ws.on('close', resolve));
  return res!;
}

/** Opens a WebSocket the server refuses; resolves with the status and `connection` header it answered. */
export function refusedWith(
  port: number,
  path = '/ws',
  headers: Record<string, string> = {},
): Promise<{ status: number; connection: string | undefined }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, { headers });
  // ws reports the refusal as an error too once the connection is dropped.
  ws.on('error', () => {});
  return new Promise<{ status: number; connection: string | undefined }>((resolve) =>
    ws.on('unexpected-response', (_req, res) =>
      resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }),
    ),
  ).finally(() => ws.terminate());
}
