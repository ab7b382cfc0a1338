import type { Duplex } from 'node:stream';

/**
 * What Istio's tcp-echo server (tcp-echo-server:1.3) does with a connection: answers each
 * line with `<prefix> <line>`, and ends when the client does. A socket error ends it.
 */
export function lineEcho(socket: Duplex, prefix: string): void {
  let buffered = '';
  socket.on('data', (d: Buffer) => {
    buffered += d.toString();
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      socket.write(`${prefix} ${buffered.slice(0, nl)}\n`);
      buffered = buffered.slice(nl + 1);
    }
  });
  socket.on('end', () => socket.end());
  socket.on('error', () => socket.destroy());
}
