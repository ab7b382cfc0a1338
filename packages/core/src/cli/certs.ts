import { access } from 'node:fs/promises';
import path from 'node:path';
import { isMeshletError } from '../errors/meshlet-error.js';
import { CA_FILES, readCa, writeCa, writeWorkloadCertificates } from '../identity/cert-files.js';
import { createDevCa, issueWorkloadCertificate, type CertificateAuthority } from '../identity/dev-ca.js';
import { CERT_LAYOUTS, type CertLayout } from '../identity/types.js';
import { hasFlag, lastValue, parseArgs, type OptionSpec, type ParsedArgs, usage } from './args.js';
import { CERTS_CA_HELP, CERTS_HELP, CERTS_ISSUE_HELP } from './certs-help.js';
import { EXIT } from './exit-codes.js';
import type { CliCommand, CliIO } from './io.js';

const CA_OPTIONS: readonly OptionSpec[] = [
  { name: 'out', value: true },
  { name: 'common-name', value: true },
  { name: 'days', value: true },
  { name: 'force', value: false },
  { name: 'help', short: 'h', value: false },
];

const ISSUE_OPTIONS: readonly OptionSpec[] = [
  { name: 'ca', value: true },
  { name: 'namespace', short: 'n', value: true },
  { name: 'service-account', value: true },
  { name: 'out', value: true },
  { name: 'trust-domain', value: true },
  { name: 'ttl', value: true },
  { name: 'layout', value: true },
  { name: 'dns', value: true },
  { name: 'help', short: 'h', value: false },
];

function required(args: ParsedArgs, name: string): string {
  const v = lastValue(args, name);
  if (v === undefined || v === '') throw usage(`--${name} is required`);
  return v;
}

function usageExit(io: CliIO, err: unknown, help: string): number {
  if (!isMeshletError(err)) throw err;
  io.stderr(`Error: ${err.message}\n\n${help}`);
  return EXIT.usage;
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

async function runCa(argv: readonly string[], io: CliIO): Promise<number> {
  let out: string;
  let days: number | undefined;
  let commonName: string | undefined;
  let force: boolean;
  try {
    const args = parseArgs(argv, CA_OPTIONS);
    if (hasFlag(args, 'help')) {
      io.stdout(CERTS_CA_HELP);
      return EXIT.ok;
    }
    if (args.positionals.length > 0)
      throw usage(`unexpected argument ${JSON.stringify(args.positionals[0])}`);
    out = path.resolve(io.cwd, required(args, 'out'));
    const d = lastValue(args, 'days');
    if (d !== undefined) {
      days = Number(d);
      if (!/^\d+$/.test(d) || days <= 0)
        throw usage(`--days must be a positive whole number, got ${JSON.stringify(d)}`);
    }
    commonName = lastValue(args, 'common-name');
    force = hasFlag(args, 'force');
  } catch (err) {
    return usageExit(io, err, CERTS_CA_HELP);
  }
  if (!force && (await exists(path.join(out, CA_FILES.key)))) {
    io.stderr(`Error: ${path.join(out, CA_FILES.key)} already exists; use --force to replace the CA\n`);
    return EXIT.failure;
  }
  const ca = await createDevCa({
    ...(commonName === undefined ? {} : { commonName }),
    ...(days === undefined ? {} : { ttlDays: days }),
  });
  const files = await writeCa(out, ca);
  io.stdout(`Created a development CA:\n${files.map((f) => `  ${f}\n`).join('')}`);
  return EXIT.ok;
}

async function runIssue(argv: readonly string[], io: CliIO): Promise<number> {
  let caDir: string;
  let out: string;
  let layout: CertLayout['name'];
  let request: {
    namespace: string;
    serviceAccount: string;
    trustDomain: string;
    ttl: string;
    dnsNames: readonly string[];
  };
  try {
    const args = parseArgs(argv, ISSUE_OPTIONS);
    if (hasFlag(args, 'help')) {
      io.stdout(CERTS_ISSUE_HELP);
      return EXIT.ok;
    }
    if (args.positionals.length > 0)
      throw usage(`unexpected argument ${JSON.stringify(args.positionals[0])}`);
    caDir = path.resolve(io.cwd, required(args, 'ca'));
    out = path.resolve(io.cwd, required(args, 'out'));
    const l = lastValue(args, 'layout') ?? 'k8s';
    const known = CERT_LAYOUTS.find((x) => x.name === l);
    if (known === undefined) {
      throw usage(
        `--layout must be one of ${CERT_LAYOUTS.map((x) => x.name).join(', ')}, got ${JSON.stringify(l)}`,
      );
    }
    layout = known.name;
    request = {
      namespace: required(args, 'namespace'),
      serviceAccount: required(args, 'service-account'),
      trustDomain: lastValue(args, 'trust-domain') ?? 'cluster.local',
      ttl: lastValue(args, 'ttl') ?? '24h',
      dnsNames: args.options.get('dns') ?? [],
    };
  } catch (err) {
    return usageExit(io, err, CERTS_ISSUE_HELP);
  }
  let ca: CertificateAuthority;
  try {
    ca = await readCa(caDir);
  } catch (err) {
    if (!isMeshletError(err)) throw err;
    io.stderr(`Error: ${err.message}\n`);
    return EXIT.dataError;
  }
  let issued;
  try {
    issued = await issueWorkloadCertificate({ ca, ...request });
  } catch (err) {
    if (!isMeshletError(err)) throw err;
    if (err.details['ca'] === true) {
      io.stderr(`Error: ${caDir}: ${err.message}\n`);
      return EXIT.dataError;
    }
    return usageExit(io, err, CERTS_ISSUE_HELP);
  }
  const files = await writeWorkloadCertificates(out, issued, layout);
  io.stdout(
    `Issued ${issued.spiffeId}, valid until ${issued.notAfter.toISOString()}:\n${files.map((f) => `  ${f}\n`).join('')}`,
  );
  return EXIT.ok;
}

/**
 * `meshlet certs ca|issue`: a development CA and workload certificates with SPIFFE
 * identities (DESIGN.md "Identity is SPIFFE"). Exit 64 on usage errors, 65 when the CA
 * directory cannot be read or holds no usable CA.
 */
export const runCerts: CliCommand = async (argv, io) => {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '-h' || sub === '--help' || sub === 'help') {
    (sub === undefined ? io.stderr : io.stdout)(CERTS_HELP);
    return sub === undefined ? EXIT.usage : EXIT.ok;
  }
  if (sub === 'ca') return runCa(rest, io);
  if (sub === 'issue') return runIssue(rest, io);
  io.stderr(`Error: unknown command ${JSON.stringify(sub)} for "meshlet certs"\n\n${CERTS_HELP}`);
  return EXIT.usage;
};
