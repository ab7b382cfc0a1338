import { request as httpRequest } from 'node:http';

/**
 * Sends a request body as separate writes `gapMs` apart: with Content-Length when it is
 * one part, chunked otherwise (or when `chunked`), so a server sees the body arrive over
 * time. Resolves with the status and the response body.
 */
export function sendInParts(
  port: number,
  parts: readonly Buffer[],
  options: { path?: string; method?: string; gapMs?: number; chunked?: boolean } = {},
): Promise<{ status: number; body: string }> {
  const chunked = options.chunked === true || parts.length !== 1;
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        port,
        path: options.path ?? '/',
        method: options.method ?? 'POST',
        headers: chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': parts[0]!.length },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    const next = (i: number): void => {
      if (i === parts.length) {
        req.end();
        return;
      }
      req.write(parts[i]);
      setTimeout(() => next(i + 1), options.gapMs ?? 10);
    };
    next(0);
  });
}
