#!/usr/bin/env node
// `llava` command: one subcommand per module, each imported lazily so that commands which
// need no tensors (datagen) never load the native libtorch addon.

type Command = { summary: string; load: () => Promise<{ run(argv: string[]): Promise<number> }> };

const commands: Record<string, Command> = {
  doctor: {
    summary: 'libtorch version, BLAS in use, threads, devices; warns where GEMM is slow',
    load: () => import('./doctor.js'),
  },
  demo: {
    summary: 'the whole method on a CPU in minutes: world, stage 0, data engine, stages 1-2, eval, report',
    load: () => import('./demo.js'),
  },
  datagen: { summary: 'GPT-assisted instruction data from captions and boxes', load: () => import('./datagen.js') },
  eval: { summary: 'LLaVA-Bench with any judge; ScienceQA, POPE, MME, VQA', load: () => import('./eval.js') },
  train: { summary: 'two-stage visual instruction tuning from a recipe', load: () => import('./train.js') },
  'merge-lora': {
    summary: 'merge a LoRA adapter into its base model',
    load: () => import('./train.js').then((m) => ({ run: m.runMergeLora })),
  },
  chat: { summary: 'a conversation with a model in the terminal, about an image', load: () => import('./chat.js') },
  run: { summary: 'one answer to one question about an image, for scripts', load: () => import('./run.js') },
  serve: { summary: 'OpenAI and Ollama APIs and a web chat page for one model', load: () => import('./serve.js') },
};

function usage(): string {
  const rows = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return [
    'usage: llava <command> [options]',
    '',
    'commands:',
    ...rows,
    '',
    "run 'llava <command> --help' for a command's options",
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h') {
    console.log(usage());
    return name === undefined ? 1 : 0;
  }
  const command = commands[name];
  if (!command) {
    console.error(`llava: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  return (await command.load()).run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`llava: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
