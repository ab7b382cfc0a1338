import type { ReadableStream, ReadableStreamReadResult } from 'node:stream/web';
import type { Clock } from '../../runtime/clock.js';

/** What a JWKS or discovery GET needs. */
export interface JwksHttp {
  readonly clock: Clock;
  readonly fetch: typeof fetch;
  readonly maxBodyBytes: number;
  /** Aborted by `close`: every GET under way registers its controller here. */
  readonly controllers: Set<AbortController>;
}

/**
 * GET with a deadline on the injected clock and a cap on the body; any defect throws. The
 * deadline races the whole exchange, so even a fetch that ignores its signal cannot hang us.
 */
export async function getJson(http: JwksHttp, url: string, timeoutMs: number): Promise<unknown> {
  const controller = new AbortController();
  http.controllers.add(controller);
  const deadline = new Promise<never>((_, reject) => {
    controller.signal.addEventListener(
      'abort',
      () => {
        const reason: unknown = controller.signal.reason;
        reject(new Error(`${url}: ${reason instanceof Error ? reason.message : 'aborted'}`));
      },
      { once: true },
    );
  });
  const timer = http.clock.setTimeout(
    () => controller.abort(new Error(`timed out after ${timeoutMs} ms`)),
    timeoutMs,
  );
  const work = fetchJson(http, url, controller.signal);
  // Whichever loses the race must not surface later as an unhandled rejection.
  work.catch(() => undefined);
  deadline.catch(() => undefined);
  try {
    return await Promise.race([work, deadline]);
  } finally {
    http.clock.clearTimeout(timer);
    http.controllers.delete(controller);
  }
}

async function fetchJson(http: JwksHttp, url: string, signal: AbortSignal): Promise<unknown> {
  const res = await http.fetch(url, { signal, headers: { accept: 'application/json' } });
  if (res.status < 200 || res.status >= 300) {
    await res.body?.cancel().catch(() => undefined);
    throw new Error(`${url} answered HTTP ${res.status}`);
  }
  const text = await readCapped(res, http.maxBodyBytes, signal);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new Error(`${url} did not return JSON`);
  }
}

async function readCapped(res: Response, maxBytes: number, signal: AbortSignal): Promise<string> {
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await res.body?.cancel().catch(() => undefined);
    throw new Error(`body of ${declared} bytes is over the ${maxBytes} byte limit`);
  }
  if (res.body === null) return '';
  // undici's web stream, typed through node:stream/web (core has no DOM lib).
  const reader = (res.body as unknown as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('aborted');
    const chunk: ReadableStreamReadResult<Uint8Array> = await reader.read();
    if (chunk.done) break;
    const value = chunk.value;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new Error(`body is over the ${maxBytes} byte limit`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
