import { MeshletError } from '../errors/meshlet-error.js';

/** One option a command accepts. */
export interface OptionSpec {
  /** Long name without dashes: `output` for `--output`. */
  readonly name: string;
  /** One-letter alias without the dash: `o` for `-o`. */
  readonly short?: string;
  /** Whether the option takes a value (`-o json`, `--output=json`). */
  readonly value: boolean;
}

export interface ParsedArgs {
  readonly positionals: readonly string[];
  /** Every value given per option, in order (a boolean flag records 'true'). */
  readonly options: ReadonlyMap<string, readonly string[]>;
}

/** A command-line mistake: exit 64 with this message. */
export function usage(message: string): MeshletError {
  return new MeshletError('MESHLET_ERR_CLI_USAGE', message);
}

/**
 * Parse `argv` against `specs`: `--name value`, `--name=value`, `-x value`,
 * `-xvalue`, boolean flags, `--` ending options. Throws a MESHLET_ERR_CLI_USAGE
 * MeshletError naming the bad option.
 */
export function parseArgs(argv: readonly string[], specs: readonly OptionSpec[]): ParsedArgs {
  const positionals: string[] = [];
  const options = new Map<string, string[]>();
  const add = (name: string, v: string) => {
    const list = options.get(name);
    if (list === undefined) options.set(name, [v]);
    else list.push(v);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg === '-' || !arg.startsWith('-')) {
      positionals.push(arg);
      continue;
    }
    const long = arg.startsWith('--');
    const body = long ? arg.slice(2) : arg.slice(1, 2);
    const eq = long ? body.indexOf('=') : -1;
    const key = eq >= 0 ? body.slice(0, eq) : body;
    const spec = specs.find((s) => (long ? s.name === key : s.short === key));
    if (spec === undefined) throw usage(`unknown option ${long ? `--${key}` : `-${key}`}`);
    let inline: string | undefined;
    if (long && eq >= 0) inline = body.slice(eq + 1);
    else if (!long && arg.length > 2) inline = arg.slice(2).replace(/^=/, '');
    if (!spec.value) {
      if (inline !== undefined && inline !== 'true' && inline !== 'false')
        throw usage(`option --${spec.name} takes no value`);
      add(spec.name, inline ?? 'true');
      continue;
    }
    if (inline !== undefined) {
      add(spec.name, inline);
      continue;
    }
    const next = argv[i + 1];
    if (next === undefined) throw usage(`option --${spec.name} needs a value`);
    add(spec.name, next);
    i++;
  }
  return { positionals, options };
}

/** The last value given for an option, or undefined. */
export function lastValue(args: ParsedArgs, name: string): string | undefined {
  const list = args.options.get(name);
  return list === undefined ? undefined : list[list.length - 1];
}

export function hasFlag(args: ParsedArgs, name: string): boolean {
  return lastValue(args, name) === 'true';
}

/** `-o json` and `--timeout <ms>` as the admin-reading commands take them. */
export function jsonAndTimeout(args: ParsedArgs): { json: boolean; timeoutMs: number } {
  const output = lastValue(args, 'output') ?? '';
  if (output !== '' && output !== 'json')
    throw usage(`unsupported output format ${JSON.stringify(output)} (use "json")`);
  const t = lastValue(args, 'timeout') ?? '5000';
  const timeoutMs = Number(t);
  if (!/^\d+$/.test(t) || timeoutMs === 0) throw usage(`--timeout must be a positive number of ms, got ${t}`);
  return { json: output === 'json', timeoutMs };
}
