import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatPath } from '../../../src/config/diagnostic.js';
import type { Finding } from '../../../src/config/validate/context.js';
import { SAMPLES, docsOf, validate, yamlFiles } from './samples.js';

const validDocs = yamlFiles(SAMPLES)
  .filter((f) => !f.endsWith('-invalid.yaml'))
  .flatMap(docsOf);

const INVALID_FILES = ['authz', 'peerauth', 'reqauth', 'telemetry', 'envoyfilter', 'wasm', 'proxyconfig'].map(
  (n) => path.join(SAMPLES, 'validation', `${n}-invalid.yaml`),
);
const invalidDocs = INVALID_FILES.flatMap(docsOf);

/**
 * Splits an `_err` text (apiserver or webhook wording) into the field it names
 * and the substance of the message, in the words meshlet uses for the same thing.
 */
function expectation(err: string): { path: string | null; text: string } {
  let path: string | null = null;
  let text = err;
  const m = /^((?:spec)?[A-Za-z_.[\]0-9]*?)(?: in body |: )(.*)$/.exec(err);
  if (m !== null && /^[A-Za-z]/.test(m[1] as string)) {
    path = m[1] as string;
    text = m[2] as string;
  }
  text = text.replace(/^Invalid value: "[a-z]+": /, '');
  // Kubernetes says "must be of type object: \"null\""; zod-issues says "expected an object, got null".
  text = text
    .replace(
      /^must be of type (object|string)(: "null")?$/,
      (_, t: string, n?: string) =>
        `expected ${t === 'object' ? 'an object' : 'a string'}${n === undefined ? '' : ', got null'}`,
    )
    .replace(/^Unsupported value: /, 'Unsupported value: ');
  return { path, text };
}

function matches(f: Finding, exp: { path: string | null; text: string }): boolean {
  const p = formatPath(f.path);
  const pathOk = exp.path === null || p === exp.path || p.endsWith(`.${exp.path}`) || p.endsWith(exp.path);
  return f.level === 'Error' && pathOk && f.message.toLowerCase().includes(exp.text.toLowerCase());
}

describe('istio samples (security, telemetry, extension kinds)', () => {
  it('finds the sample documents of every kind', () => {
    const kinds = new Set(validDocs.map((d) => d.kind));
    expect([...kinds].sort()).toEqual([
      'AuthorizationPolicy',
      'EnvoyFilter',
      'PeerAuthentication',
      'ProxyConfig',
      'RequestAuthentication',
      'Telemetry',
      'WasmPlugin',
    ]);
    expect(invalidDocs.every((d) => d.err !== undefined)).toBe(true);
  });

  it.each(validDocs.map((d) => [`${d.file}#${d.index} ${d.kind}/${d.name}`, d] as const))(
    'accepts %s with no error',
    (_, doc) => {
      const errors = validate(doc.kind, doc.spec, doc.namespace).filter((f) => f.level === 'Error');
      expect(errors).toEqual([]);
    },
  );

  it.each(invalidDocs.map((d) => [`${d.file}#${d.index} ${d.kind}/${d.name}: ${d.err ?? ''}`, d] as const))(
    'rejects %s',
    (_, doc) => {
      const findings = validate(doc.kind, doc.spec, doc.namespace);
      const exp = expectation(doc.err ?? '');
      const shown = findings.map((f) => `${f.level} ${formatPath(f.path)}: ${f.message}`);
      expect(
        findings.some((f) => matches(f, exp)),
        `expected ${JSON.stringify(exp)} in\n${shown.join('\n')}`,
      ).toBe(true);
    },
  );

  it('warns that RequestAuthentication presence is not enforced, instead of ignoring it', () => {
    const doc = validDocs.find((d) => d.kind === 'RequestAuthentication' && d.name === 'full');
    expect(doc).toBeDefined();
    const warnings = validate(doc!.kind, doc!.spec, doc!.namespace).filter((f) => f.level === 'Warning');
    expect(warnings.map((f) => [f.code, formatPath(f.path)])).toEqual([
      ['MESHLET0004', 'spec.jwtRules[0].presence'],
    ]);
    expect(warnings[0]?.message).toMatch(/requestPrincipals: \["\*"\]/);
  });
});
