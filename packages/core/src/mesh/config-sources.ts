import path from 'node:path';

/**
 * The config sources to watch: `config` as given, else the `MESHLET_CONFIG` environment
 * variable (one path, or several joined with the platform's path delimiter), else none
 * (pass-through: no Istio config, every call goes straight to its host).
 */
export function configSources(
  config: string | readonly string[] | undefined,
  env: Readonly<Record<string, string | undefined>> = process.env,
): readonly string[] {
  if (typeof config === 'string') return config === '' ? [] : [config];
  if (config !== undefined) return config.filter((c) => c !== '');
  const fromEnv = env['MESHLET_CONFIG'];
  if (fromEnv === undefined || fromEnv === '') return [];
  return fromEnv.split(path.delimiter).filter((c) => c !== '');
}
