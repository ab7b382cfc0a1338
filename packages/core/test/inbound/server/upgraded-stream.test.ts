import { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { watchUpgradedStream, type UpgradedStream } from '../../../src/inbound/server/upgraded-stream.js';

// The watcher of a connection handed to the upgrade listeners, on an in-memory duplex: what
// the application wrote (its head parsed), what the client pushed, and who closed first. The
// real sockets are in test/e2e/websocket-telemetry.test.ts.

/** A duplex whose writes vanish and whose reads are what the test pushes, read as they come. */
function connection(): Duplex {
  return new Duplex({
    read() {},
    write(_chunk, _encoding, callback) {
      callback();
    },
  }).resume();
}

function watched(socket: Duplex, head = Buffer.alloc(0)): Promise<UpgradedStream> {
  let t = 0;
  return new Promise((resolve) => watchUpgradedStream(socket, head, () => ++t, resolve));
}

const HEAD = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n';

describe('watchUpgradedStream', () => {
  it('parses the head the application wrote over several writes, and counts both ways', async () => {
    const socket = connection();
    const done = watched(socket, Buffer.from('ab'));
    socket.write(HEAD.slice(0, 20));
    socket.write(Buffer.from(HEAD.slice(20) + 'xyz', 'latin1'));
    socket.push('client');
    socket.end('bye');
    socket.push(null);
    const u = await done;
    expect(u).toEqual({
      status: 101,
      headers: { upgrade: 'echo', connection: 'Upgrade' },
      headBytes: HEAD.length,
      sentBytes: HEAD.length + 3 + 3,
      receivedBytes: 2 + 6,
      firstSentAt: 1,
      closedBy: 'application',
    });
  });

  it('is the client’s close when the client ended first, and the application ended after', async () => {
    const socket = connection();
    const done = watched(socket);
    socket.write(HEAD);
    socket.push(null);
    // The readable side ends on a later tick; then the application answers the FIN.
    await new Promise((resolve) => socket.once('end', resolve));
    socket.end();
    expect((await done).closedBy).toBe('downstream');
  });

  it('is the client’s close when node destroys the socket with an error (a reset)', async () => {
    const socket = connection();
    socket.on('error', () => {});
    const done = watched(socket);
    socket.write(HEAD);
    socket.destroy(new Error('read ECONNRESET'));
    expect(await done).toMatchObject({ status: 101, closedBy: 'downstream' });
  });

  it('is the application’s close when it destroys the socket itself', async () => {
    const socket = connection();
    const done = watched(socket);
    socket.destroy();
    expect(await done).toMatchObject({ status: 0, headBytes: 0, sentBytes: 0, closedBy: 'application' });
  });

  it('reports a connection already closed when it is handed over: nothing went either way', async () => {
    const socket = connection();
    socket.destroy();
    await new Promise((resolve) => socket.once('close', resolve));
    expect(await watched(socket, Buffer.from('x'))).toMatchObject({
      status: 0,
      sentBytes: 0,
      receivedBytes: 1,
      closedBy: 'downstream',
    });
  });

  it('reads no status from bytes that are not an HTTP head', async () => {
    const socket = connection();
    const done = watched(socket);
    socket.write('garbage\r\n\r\n');
    socket.destroy();
    expect(await done).toMatchObject({ status: 0, headBytes: 11, sentBytes: 11 });
  });
});
