/** What a CLI command writes to; tests pass a capturing implementation. */
export interface CliIO {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Colour only on a terminal and when NO_COLOR is unset. */
  readonly color: boolean;
  readonly cwd: string;
}

/** A CLI command: parses its own arguments, returns the process exit code. */
export type CliCommand = (argv: readonly string[], io: CliIO) => Promise<number>;

export function processIO(): CliIO {
  const color =
    process.stdout.isTTY === true && process.env['NO_COLOR'] === undefined && process.env['TERM'] !== 'dumb';
  return {
    stdout: (t) => void process.stdout.write(t),
    stderr: (t) => void process.stderr.write(t),
    color,
    cwd: process.cwd(),
  };
}

const CODES = { red: 31, yellow: 33, green: 32, cyan: 36, dim: 2, bold: 1 } as const;

export function paint(io: CliIO, style: keyof typeof CODES, text: string): string {
  return io.color ? `\u001b[${CODES[style]}m${text}\u001b[0m` : text;
}
