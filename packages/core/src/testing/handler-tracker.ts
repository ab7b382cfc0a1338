import { AsyncLocalStorage } from 'node:async_hooks';
import type { RequestListener } from './app-listener.js';

/** One application handler serving one request. */
interface HandlerRun {
  /** Calls it waits on that the mock mesh runs: `ctx.fetch`, `mm.clock.sleep`. */
  waits: number;
}

/**
 * Which pods are serving a request (sidecar and application), and whether each is
 * waiting on the mock mesh (a request it sent: an onward call, a JWKS or ext_authz
 * fetch; a virtual sleep) or working on its own (a real timer, a file, a database, the
 * WebCrypto work of verifying a token). The virtual clock moves on only when every such
 * pod waits on the mesh: virtual time must not pass while one works, or a route timeout
 * would fire before a handler that takes 10 real milliseconds answers.
 */
export class HandlerTracker {
  readonly #scope = new AsyncLocalStorage<HandlerRun>();
  readonly #running = new Set<HandlerRun>();
  readonly #onChange: () => void;

  constructor(onChange: () => void) {
    this.#onChange = onChange;
  }

  /** `listener`, counted as running from the request until its response ends or its connection closes. */
  serve(listener: RequestListener): RequestListener {
    return (req, res) => {
      const run: HandlerRun = { waits: 0 };
      this.#running.add(run);
      this.#onChange();
      const done = (): void => {
        if (this.#running.delete(run)) this.#onChange();
      };
      res.once('finish', done);
      res.once('close', done);
      this.#scope.run(run, () => listener(req, res));
    };
  }

  /** Run `work`; a handler that calls it counts as waiting on the mesh until it settles. */
  async waiting<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#scope.getStore();
    if (run === undefined || !this.#running.has(run)) return work();
    run.waits++;
    this.#onChange();
    try {
      return await work();
    } finally {
      run.waits--;
      this.#onChange();
    }
  }

  /** Whether every running handler waits on the mesh (true with none running). */
  settled(): boolean {
    for (const run of this.#running) if (run.waits === 0) return false;
    return true;
  }
}
