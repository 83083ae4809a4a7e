// `llava eval <subcommand>`: LLaVA-Bench (answers, judge, summarize, reference, chart) and the
// exact-match benchmarks (sqa, pope, mme, vqa). Each subcommand lives in src/cli/eval/ and is
// imported when used, so the judge and the scorers never load the native addon.

type Sub = { summary: string; load: () => Promise<{ run(argv: string[]): Promise<number> }> };

const subcommands: Record<string, Sub> = {
  answers: {
    summary: 'run a model over a question file (model_vqa answer format)',
    load: () => import('./eval/answers.js'),
  },
  judge: { summary: 'LLaVA-Bench reviews by any OpenAI-compatible judge', load: () => import('./eval/judge.js') },
  summarize: {
    summary: 'relative scores exactly as summarize_gpt_review.py prints them',
    load: () => import('./eval/summarize.js'),
  },
  reference: {
    summary: 'rebuild the text-only reference answers with any model',
    load: () => import('./eval/reference.js'),
  },
  chart: {
    summary: 'review files side by side: a table and a self-contained HTML chart',
    load: () => import('./eval/chart.js'),
  },
  sqa: { summary: 'ScienceQA accuracy as eval_science_qa.py', load: () => import('./eval/sqa.js') },
  pope: {
    summary: 'POPE accuracy, precision, recall, F1, yes-ratio as eval_pope.py',
    load: () => import('./eval/pope.js'),
  },
  mme: { summary: 'MME accuracy, accuracy+ and score per task', load: () => import('./eval/mme.js') },
  vqa: { summary: 'VQA soft accuracy (EvalAI normalisation) as eval_textvqa.py', load: () => import('./eval/vqa.js') },
};

function usage(): string {
  const rows = Object.entries(subcommands).map(([name, s]) => `  ${name.padEnd(10)} ${s.summary}`);
  return [
    'usage: llava eval <subcommand> [options]',
    '',
    'subcommands:',
    ...rows,
    '',
    "run 'llava eval <subcommand> --help' for its options",
  ].join('\n');
}

export async function run(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h') {
    console.log(usage());
    return name === undefined ? 1 : 0;
  }
  const sub = subcommands[name];
  if (!sub) {
    console.error(`llava eval: unknown subcommand '${name}'\n\n${usage()}`);
    return 2;
  }
  return (await sub.load()).run(rest);
}
