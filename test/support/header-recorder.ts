import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A plain HTTP upstream on loopback answering `ok`, with the headers of every request it got. */
export interface HeaderRecorder {
  readonly port: number;
  readonly seen: IncomingHttpHeaders[];
}

/** Starts a `HeaderRecorder`; its close goes on `closers`. */
export async function headerRecorder(closers: (() => Promise<unknown>)[]): Promise<HeaderRecorder> {
  const seen: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers);
    res.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise((resolve) => server.close(resolve)));
  return { port: (server.address() as AddressInfo).port, seen };
}
