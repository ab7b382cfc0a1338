import { expect } from 'vitest';
import type { ConformanceCase } from '../cases.js';
import type { Echo, Observed } from './app.js';

/** What one run of a case produced, in any of the three runners. */
export interface Outcome {
  readonly status: number;
  readonly body: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The handler's echo, when the final request reached one. */
  readonly echo: Echo | null;
  readonly observed: Observed;
}

function parseEcho(status: number, body: string): Echo | null {
  if (status !== 200) return null;
  return JSON.parse(body) as Echo;
}

/** Builds the outcome of a real HTTP response from a test app. */
export function httpOutcome(
  res: { status: number; body: string; headers: Outcome['headers'] },
  observed: Observed,
): Outcome {
  return {
    status: res.status,
    body: res.body,
    headers: res.headers,
    echo: parseEcho(res.status, res.body),
    observed,
  };
}

/** The one assertion every runner applies to every case. */
export function expectOutcome(c: ConformanceCase, out: Outcome): void {
  const e = c.expect;
  expect(out.status, `status of ${c.request.method} ${c.request.path}`).toBe(e.status);
  if (e.body !== undefined) expect(out.body).toBe(e.body);
  for (const [name, want] of Object.entries(e.headers ?? {})) {
    const got = out.headers[name];
    expect(typeof got, `response header ${name}`).toBe('string');
    if (want instanceof RegExp) expect(got).toMatch(want);
    else expect(got).toBe(want);
  }
  const warmup = c.warmup ?? 0;
  // Exactly the warm-up requests plus (maybe) this one ran a handler: a refusal ran none.
  expect(out.observed.handlers.length).toBe(warmup + (e.handler === null ? 0 : 1));
  if (e.handler === null) {
    expect(out.echo).toBeNull();
  } else {
    expect(out.observed.handlers.at(-1)).toBe(e.handler);
    expect(out.echo?.handler).toBe(e.handler);
    if (e.url !== undefined) expect(out.echo?.url).toBe(e.url);
    if (e.meshlet !== undefined) expect(out.echo?.meshlet).toMatchObject(e.meshlet);
    for (const [name, want] of Object.entries(e.seen ?? {})) {
      expect(out.echo?.headers[name] ?? null, `request header ${name} as the app saw it`).toBe(want);
    }
    if (c.request.body !== undefined && e.bodyRead === true) expect(out.echo?.body).toBe(c.request.body);
  }
  if (e.bodyRead !== undefined) expect(out.observed.bodiesRead).toBe(e.bodyRead ? 1 : 0);
}
