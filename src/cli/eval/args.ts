// Options of the `llava eval` subcommands. node:util parseArgs has no argparse-style `nargs='*'`
// (`-f a.jsonl b.jsonl`, as the reference's scripts take their file lists), so this parser reads
// a list option's values up to the next option; a value like "-1" is a value, not an option.

/** A bad command line: printed with a pointer to --help, exit code 2. */
export class UsageError extends Error {}

export type OptionKind = 'string' | 'list' | 'boolean';
export interface OptionSpec {
  kind: OptionKind;
  short?: string;
}
export type ParsedOptions = Record<string, string | string[] | boolean | undefined>;

export function parseOptions(argv: string[], specs: Record<string, OptionSpec>, command: string): ParsedOptions {
  const byShort = new Map(Object.entries(specs).flatMap(([name, s]) => (s.short ? [[s.short, name]] : [])));
  const isOption = (token: string) => token.startsWith('-') && !/^-\d/.test(token) && token !== '-';
  const out: ParsedOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (!isOption(token)) throw new UsageError(`${command}: unexpected argument '${token}'`);
    const [flag, inline] = token.startsWith('--') && token.includes('=') ? token.split(/=(.*)/s) : [token, undefined];
    const name = flag!.startsWith('--') ? flag!.slice(2) : byShort.get(flag!.slice(1));
    const spec = name === undefined ? undefined : specs[name];
    if (!spec || name === undefined) throw new UsageError(`${command}: unknown option '${flag}'`);
    if (spec.kind === 'boolean') {
      out[name] = true;
      continue;
    }
    if (spec.kind === 'string') {
      const value = inline ?? argv[++i];
      if (value === undefined || (inline === undefined && isOption(value)))
        throw new UsageError(`${command}: ${flag} needs a value`);
      out[name] = value;
      continue;
    }
    const values = inline !== undefined ? [inline] : [];
    while (i + 1 < argv.length && !isOption(argv[i + 1]!)) values.push(argv[++i]!);
    out[name] = [...((out[name] as string[] | undefined) ?? []), ...values];
  }
  return out;
}

export function intOption(name: string, text: string | undefined, fallback: number, min = 1): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < min)
    throw new UsageError(`--${name} must be an integer >= ${min}, got '${text}'`);
  return n;
}

export function numberOption(name: string, text: string | undefined, min: number): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < min)
    throw new UsageError(`--${name} must be a number >= ${min}, got '${text}'`);
  return n;
}

/** Runs a subcommand body; usage errors print the message and exit code 2. */
export async function withUsage(
  command: string,
  help: string,
  argv: string[],
  body: () => Promise<number>,
): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(help);
    return 0;
  }
  try {
    return await body();
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`${command}: ${err.message}\nrun '${command} --help' for the options`);
    return 2;
  }
}
