import { copyFile } from 'node:fs/promises';
import path from 'node:path';
import { SAMPLES } from '../helpers/tmp.js';
import { httpServer, type Loopback } from '../outbound/transports/support/servers.js';

/** Copy Istio sample files into `dir` (a temp dir: samples are never copied into the repo). */
export async function copySamples(dir: string, files: Record<string, string>): Promise<void> {
  for (const [to, from] of Object.entries(files)) {
    await copyFile(path.join(SAMPLES, from), path.join(dir, to));
  }
}

/** A loopback reviews server answering `{ version, path, user }`; `hold` delays the answer until released. */
export interface ReviewsServer extends Loopback {
  readonly version: string;
  /** Requests served so far. */
  readonly hits: number;
  /** Hold the next responses until `release()`. */
  hold(): void;
  release(): void;
  /** Resolves when a request arrives while held. */
  arrived(): Promise<void>;
}

export async function reviewsServer(version: string): Promise<ReviewsServer> {
  let held = false;
  let waiting: (() => void)[] = [];
  let onArrive: (() => void) | null = null;
  const state = { hits: 0 };
  const lb = await httpServer((req, res) => {
    state.hits++;
    const answer = (): void => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ version, path: req.url, user: req.headers['end-user'] ?? null }));
    };
    if (!held) return answer();
    waiting.push(answer);
    onArrive?.();
  });
  // defineProperty, not Object.assign: assign would copy the getter's value once.
  Object.defineProperty(lb, 'hits', { get: () => state.hits, enumerable: true });
  return Object.assign(lb as Loopback & { readonly hits: number }, {
    version,
    hold: () => {
      held = true;
    },
    release: () => {
      held = false;
      const all = waiting;
      waiting = [];
      for (const a of all) a();
    },
    arrived: () => new Promise<void>((r) => (onArrive = r)),
  });
}
