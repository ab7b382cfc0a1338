import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';

/** A file to load, or why a source could not be read. */
export type SourceEntry =
  | { readonly kind: 'file'; readonly file: string; readonly text: string }
  | { readonly kind: 'problem'; readonly file: string; readonly message: string };

const CONFIG_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

function explain(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied (check the file mode and the mount)';
    case 'ELOOP':
      return 'symlink loop (a link points back at itself)';
    case 'EISDIR':
      return 'is a directory';
    default:
      return err instanceof Error ? err.message : String(err);
  }
}

/**
 * Expand files and directories into config files, recursively, in a stable order.
 * Names starting with `.` are skipped: Kubernetes' atomic writer keeps the real
 * files under `..data`/`..<timestamp>` and links them from the top level, so the
 * top-level links are the files to read (reading both would load each twice).
 * A directory reached twice through symlinks is read once and reported as a loop.
 */
export async function readSources(sources: readonly string[], cwd = process.cwd()): Promise<SourceEntry[]> {
  const out: SourceEntry[] = [];
  const seenDirs = new Set<string>();
  const seenFiles = new Set<string>();

  async function visitFile(file: string, display: string): Promise<void> {
    let real: string;
    try {
      real = await realpath(file);
    } catch (err) {
      out.push({ kind: 'problem', file: display, message: `cannot read ${display}: ${explain(err)}` });
      return;
    }
    if (seenFiles.has(real)) return;
    seenFiles.add(real);
    try {
      out.push({ kind: 'file', file: display, text: await readFile(file, 'utf8') });
    } catch (err) {
      out.push({ kind: 'problem', file: display, message: `cannot read ${display}: ${explain(err)}` });
    }
  }

  async function visitDir(dir: string, display: string, chain: readonly string[]): Promise<void> {
    let real: string;
    try {
      real = await realpath(dir);
    } catch (err) {
      out.push({ kind: 'problem', file: display, message: `cannot read ${display}: ${explain(err)}` });
      return;
    }
    if (chain.includes(real)) {
      out.push({
        kind: 'problem',
        file: display,
        message: `cannot read ${display}: symlink loop (it leads back to ${path.relative(cwd, real) || '.'})`,
      });
      return;
    }
    if (seenDirs.has(real)) return;
    seenDirs.add(real);
    let names: string[];
    try {
      names = (await readdir(dir)).sort();
    } catch (err) {
      out.push({
        kind: 'problem',
        file: display,
        message: `cannot read directory ${display}: ${explain(err)}`,
      });
      return;
    }
    for (const name of names) {
      if (name.startsWith('.')) continue;
      const full = path.join(dir, name);
      const shown = path.join(display, name);
      let st;
      try {
        st = await stat(full);
      } catch (err) {
        out.push({ kind: 'problem', file: shown, message: `cannot read ${shown}: ${explain(err)}` });
        continue;
      }
      if (st.isDirectory()) await visitDir(full, shown, [...chain, real]);
      else if (st.isFile() && CONFIG_EXTENSIONS.has(path.extname(name).toLowerCase()))
        await visitFile(full, shown);
    }
  }

  for (const source of sources) {
    const full = path.resolve(cwd, source);
    let st;
    try {
      st = await stat(full);
    } catch (err) {
      out.push({ kind: 'problem', file: source, message: `cannot read ${source}: ${explain(err)}` });
      continue;
    }
    if (st.isDirectory()) await visitDir(full, source, []);
    else await visitFile(full, source);
  }
  return out;
}
