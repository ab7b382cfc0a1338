/**
 * The subset of Go's `fmt` verbs Istio's message templates use (%s %v %q %d),
 * so messages read exactly as istioctl prints them.
 */
export type TemplateArg = string | number | readonly (string | number)[];

/** Go's `strconv.Quote` for the characters that occur in config values. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

function plain(arg: TemplateArg): string {
  // Go prints a slice with %v as `[a b c]`.
  return typeof arg === 'object' ? `[${arg.map(String).join(' ')}]` : String(arg);
}

export function goSprintf(template: string, args: readonly TemplateArg[]): string {
  let i = 0;
  return template.replace(/%([svqd%])/g, (_m, verb: string) => {
    if (verb === '%') return '%';
    const arg = args[i++];
    if (arg === undefined) return `%!${verb}(MISSING)`;
    if (verb === 'q')
      return typeof arg === 'object'
        ? `[${arg.map((a) => goQuote(String(a))).join(' ')}]`
        : goQuote(String(arg));
    return plain(arg);
  });
}
