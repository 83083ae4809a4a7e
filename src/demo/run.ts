// `llava demo` from start to end, each stage timed and its files left in the run folder:
//   world/    the procedural world: images, caps/boxes JSONL of the train and held-out splits
//   stage0/   tokenizer, CLIP and LLaMA trained here (cached: kept while the settings that made them are unchanged)
//   datagen/  the data engine's records, asked of the teacher (or --base-url), with its response cache
//   stage1/   projector only (mm_projector.bin); stage2/: projector + LLM (the reference's layout)
//   final/    stage 2 in the llava-hf layout, which `llava chat/run/serve` and transformers load
//   eval/     every model's answers, the reference answers, the judge's reviews
//   report.html, summary.md, summary.json
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { runDatagen } from '../datagen/run.js';
import { DEFAULT_PROMPTS_DIR, loadPromptSet, PROMPT_TYPES } from '../datagen/prompts.js';
import { DETAIL_INSTRUCTIONS } from '../datagen/instructions.js';
import { DEFAULT_PRICES } from '../datagen/pricing.js';
import { readCapsBoxesJsonl } from '../datagen/sources.js';
import type { ChatRunOptions } from '../eval/chat-run.js';
import { readJsonlObjects } from '../eval/jsonl.js';
import { LlavaForConditionalGeneration } from '../models/index.js';
import { conversationTemplate } from '../text/conversation.js';
import { conversationChatTemplate } from '../text/conversation-chat-template.js';
import { TextTokenizer } from '../text/tokenizer.js';
import { loadBaseModel } from '../train/base-model.js';
import { runTraining } from '../train/run.js';
import { convertToLlavaHf } from '../train/to-llava-hf.js';
import { ClipImageProcessor } from '../vision/clip-processor.js';
import { CLIP, LLM, QUICK, STAGE1, STAGE2, WORLD } from './config.js';
import {
  benchReference,
  evaluateModel,
  writeRules,
  type EvalFiles,
  type EvalModel,
  type ModelScores,
} from './evaluate.js';
import { finetuneRecipe, pretrainRecipe, writeRecipe, type StagePaths } from './recipes.js';
import { accuracyTable, markdownTable, writeDemoReport, type Curve } from './report.js';
import { writeBench } from './bench.js';
import { CHANCE } from './exact-match.js';
import { exactMatchQuestions, shortAnswerRecords, writeExactMatch } from './questions.js';
import { startTeacher, TEACHER_MODEL } from './teacher.js';
import { stage0Folders, trainStage0, type Stage0 } from './stage0-run.js';
import { makeWorld, writeWorld, type WorldSplits } from './world.js';

export type DemoOptions = {
  out: string;
  quick: boolean;
  /** A real OpenAI-compatible endpoint instead of the offline teacher. */
  endpoint?: { baseUrl: string; model: string; apiKey: string };
  log: (line: string) => void;
  signal?: AbortSignal;
};

type WorldFiles = { images: string; train: string; heldOut: string };
type World = WorldFiles & { scenes: WorldSplits };

type Stage0Files = Stage0 & ReturnType<typeof stage0Folders>;

type Counts = { train: number; heldOut: number; stage1: number; stage2: number; shortAnswers: number };

const countsOf = (quick: boolean): Counts =>
  quick
    ? {
        train: QUICK.trainImages,
        heldOut: QUICK.heldOutImages,
        stage1: QUICK.stage1Images,
        stage2: QUICK.stage2Images,
        shortAnswers: QUICK.stage2Images,
      }
    : {
        train: WORLD.trainImages,
        heldOut: WORLD.heldOutImages,
        stage1: STAGE1.images,
        stage2: STAGE2.images,
        shortAnswers: STAGE2.shortAnswerImages,
      };

/** Runs `make` unless `dir` holds the result of the same `settings` (a marker written last, so a kill redoes it). */
async function cached<T>(dir: string, settings: unknown, make: () => Promise<T>): Promise<{ value: T; hit: boolean }> {
  const marker = join(dir, 'done.json');
  const key = createHash('sha256').update(JSON.stringify(settings)).digest('hex');
  if (existsSync(marker)) {
    const done = JSON.parse(readFileSync(marker, 'utf8')) as { key: string; value: T };
    if (done.key === key) return { value: done.value, hit: true };
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const value = await make();
  writeFileSync(marker, JSON.stringify({ key, value }));
  return { value, hit: false };
}

function writeJson(path: string, value: unknown): void {
  writeFileSync(path, JSON.stringify(value, null, 1) + '\n');
}

function lossCurve(name: string, metrics: string): Curve {
  const points = readJsonlObjects(metrics).map(({ record }) => ({ x: Number(record.step), y: Number(record.loss) }));
  return { name, points };
}

export async function runDemo(o: DemoOptions): Promise<'done' | 'interrupted'> {
  const counts = countsOf(o.quick);
  const started = performance.now();
  const timings: { stage: string; seconds: number }[] = [];
  const timed = async <T>(stage: string, body: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    o.log(`\n== ${stage}`);
    const value = await body();
    const seconds = (performance.now() - t0) / 1000;
    timings.push({ stage, seconds });
    o.log(`   ${stage}: ${seconds.toFixed(1)} s (${((performance.now() - started) / 1000).toFixed(0)} s so far)`);
    return value;
  };
  mkdirSync(o.out, { recursive: true });
  const teacher = o.endpoint ? undefined : await startTeacher();
  const endpoint: ChatRunOptions = {
    client: {
      baseURL: o.endpoint?.baseUrl ?? teacher!.baseUrl,
      apiKey: o.endpoint?.apiKey ?? 'none',
      model: o.endpoint?.model ?? TEACHER_MODEL,
      temperature: 0.2,
      maxTokens: 1024,
      timeoutMs: 120_000,
      maxRetries: 4,
    },
    concurrency: 8,
    cacheDir: null,
    prices: DEFAULT_PRICES,
    progress: null,
    signal: o.signal,
  };
  try {
    const world = await timed('world', async () => {
      const dir = join(o.out, 'world');
      const options = { seed: WORLD.seed, trainImages: counts.train, heldOutImages: counts.heldOut };
      const { hit } = await cached(dir, { WORLD, options }, async () => void (await writeWorld(dir, options)));
      o.log(`   ${counts.train} train and ${counts.heldOut} held-out images in ${dir}${hit ? ' (kept)' : ''}`);
      const files: WorldFiles = {
        images: join(dir, 'images'),
        train: join(dir, 'train.jsonl'),
        heldOut: join(dir, 'heldout.jsonl'),
      };
      return { ...files, scenes: makeWorld(options) };
    });
    const train = await readCapsBoxesJsonl(world.train);

    const stage0 = await timed('stage 0: tokenizer, CLIP and LLaMA trained here', async () => {
      const dir = join(o.out, 'stage0');
      // Only what stage 0 reads: the world, its train split and the encoders' settings (not stages 1 and 2's).
      const settings = { WORLD, CLIP, LLM, train: counts.train, quick: o.quick };
      const { value, hit } = await cached(dir, settings, () => trainStage0(dir, world, { quick: o.quick, log: o.log }));
      if (hit) o.log(`   kept from an earlier run: ${dir} (delete it to train again)`);
      return { ...value, ...stage0Folders(dir) };
    });

    const records = await timed('data engine', async () => {
      const dir = join(o.out, 'datagen');
      const prompts = await Promise.all(PROMPT_TYPES.map((t) => loadPromptSet(DEFAULT_PROMPTS_DIR, t)));
      const summary = await runDatagen({
        contexts: train.slice(0, counts.stage2),
        prompts,
        instructions: DETAIL_INSTRUCTIONS,
        outDir: dir,
        client: endpoint.client,
        concurrency: endpoint.concurrency,
        seed: 0,
        placement: 'random',
        cacheDir: join(dir, 'cache'),
        prices: DEFAULT_PRICES,
        maxConsecutiveFailures: 10,
        progress: null,
        signal: o.signal,
      });
      if (summary.stopped !== null) throw new Error(`the data engine stopped: ${summary.stopped}`);
      const all = PROMPT_TYPES.flatMap((t) => readJsonlObjects(join(dir, `${t}.jsonl`)).map((r) => r.record));
      o.log(`   ${all.length} instruction records (${PROMPT_TYPES.join(', ')}) from ${counts.stage2} images`);
      return all;
    });
    if (o.signal?.aborted) return 'interrupted';

    const paths = (stage: string, data: string): StagePaths => ({
      llm: stage0.llm,
      clip: stage0.clip,
      imageFolder: world.images,
      data,
      output: join(o.out, stage),
    });
    mkdirSync(join(o.out, 'recipes'), { recursive: true });
    const progress = (stage: string) => (m: { step: number; loss: number }, total: number) => {
      if (m.step === 1 || m.step === total || m.step % Math.max(1, Math.round(total / 10)) === 0)
        o.log(`   ${stage} step ${m.step}/${total}  loss ${m.loss.toFixed(4)}`);
    };
    const stage1Data = join(o.out, 'stage1.json');
    writeJson(
      stage1Data,
      train.slice(0, counts.stage1).map((c, i) => ({
        id: c.id,
        image: c.image,
        conversations: [
          { from: 'human', value: '<image>\nGive a short description of the image.' },
          { from: 'gpt', value: c.captions[i % c.captions.length] },
        ],
      })),
    );
    const stage1 = await timed('stage 1: projector only, captions', async () => {
      const recipe = writeRecipe(join(o.out, 'recipes', 'pretrain.yaml'), pretrainRecipe(paths('stage1', stage1Data)));
      return runTraining(recipe, { log: (l) => o.log(`   ${l}`), progress: progress('stage 1'), signal: o.signal });
    });
    if (stage1 === 'interrupted') return 'interrupted';

    const stage2Data = join(o.out, 'stage2.json');
    writeJson(stage2Data, [
      ...records,
      ...shortAnswerRecords(world.scenes.train.slice(0, counts.shortAnswers), 0, STAGE2.shortAnswerTurns),
    ]);
    const stage2 = await timed('stage 2: projector + LLM, instructions', async () => {
      const projector = join(o.out, 'stage1', 'mm_projector.bin');
      const recipe = writeRecipe(
        join(o.out, 'recipes', 'finetune.yaml'),
        finetuneRecipe(paths('stage2', stage2Data), projector),
      );
      return runTraining(recipe, { log: (l) => o.log(`   ${l}`), progress: progress('stage 2'), signal: o.signal });
    });
    if (stage2 === 'interrupted') return 'interrupted';

    const final = join(o.out, 'final');
    convertToLlavaHf(join(o.out, 'stage2'), final, {
      visionTower: stage0.clip,
      chatTemplate: conversationChatTemplate(conversationTemplate('vicuna_v1')),
    });
    o.log(`\nfinal checkpoint (llava-hf layout): ${final}`);

    const scores = await timed('evaluation on the held-out split', () => evaluate(o, world, stage0, final, endpoint));
    const curves: Curve[] = [
      ...stage0.curves,
      lossCurve('stage 1 loss', join(o.out, 'stage1', 'metrics.jsonl')),
      lossCurve('stage 2 loss', join(o.out, 'stage2', 'metrics.jsonl')),
    ];
    const table = accuracyTable(scores.models, CHANCE);
    writeFileSync(join(o.out, 'summary.md'), markdownTable(table) + '\n');
    writeJson(join(o.out, 'summary.json'), {
      table,
      timings,
      cores: cpus().length,
      models: scores.models.map((m) => ({ name: m.name, accuracy: m.accuracy, bench: m.bench })),
    });
    writeDemoReport(join(o.out, 'report.html'), {
      title: 'llava demo: LLaVA on a procedural world of shapes',
      models: scores.models,
      chance: CHANCE,
      samples: scores.samples,
      imageFolder: world.images,
      curves,
      timings,
      notes: [
        ...stage0.summary,
        `${counts.train} training images, ${counts.heldOut} held out; stage 2 saw ${records.length} data-engine records and the short-answer mix of ${counts.shortAnswers} images.`,
        'no image: the stage-2 model asked the same questions with the image withheld (the text prior alone).',
        'LLaVA-Bench: relative score = judge score of the model / judge score of the text-only reference answer × 100.',
        o.endpoint
          ? `teacher and judge: ${o.endpoint.model} at ${o.endpoint.baseUrl}`
          : 'teacher and judge: the offline teacher (src/demo/teacher.ts), which reads the captions and boxes.',
      ],
    });
    o.log(`\n${markdownTable(table)}\n\nreport: ${join(o.out, 'report.html')}`);
    o.log(`total: ${((performance.now() - started) / 1000).toFixed(0)} s`);
    return 'done';
  } finally {
    await teacher?.close();
  }
}

async function evaluate(o: DemoOptions, world: World, stage0: Stage0Files, final: string, endpoint: ChatRunOptions) {
  const dir = join(o.out, 'eval');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const heldOut = world.scenes.heldOut;
  const exactLines = exactMatchQuestions(heldOut, 0);
  for (const sub of ['exact', 'bench']) mkdirSync(join(dir, sub));
  const bench = writeBench(join(dir, 'bench'), heldOut.slice(0, WORLD.benchImages), 0);
  const files: EvalFiles = {
    exactQuestions: writeExactMatch(join(dir, 'exact'), exactLines).questions,
    exactLines,
    benchQuestions: bench.questions,
    benchContext: bench.context,
    rules: join(dir, 'rule.json'),
    imageFolder: world.images,
    outDir: dir,
  };
  writeRules(files.rules);
  const reference = await benchReference(files, endpoint);
  const tokenizer = TextTokenizer.fromDir(final);
  const imageProcessor = ClipImageProcessor.fromFile(join(final, 'preprocessor_config.json'));
  const finalModel = LlavaForConditionalGeneration.fromPretrained(final);
  finalModel.eval();
  const stage1 = loadBaseModel({
    dir: stage0.llm,
    visionTower: stage0.clip,
    projectorType: 'mlp2x_gelu',
    selectLayer: -2,
    selectFeature: 'patch',
  }).model;
  stage1.loadProjector(join(o.out, 'stage1', 'mm_projector.safetensors'));
  stage1.eval();
  const models: EvalModel[] = [
    { name: 'no image', model: finalModel, tokenizer, imageProcessor, withImage: false },
    { name: 'stage 1', model: stage1, tokenizer, imageProcessor, withImage: true },
    { name: 'stage 2', model: finalModel, tokenizer, imageProcessor, withImage: true },
  ];
  const results: ModelScores[] = [];
  for (const m of models) {
    o.log(`   answering as '${m.name}'`);
    results.push(await evaluateModel(m, files, reference, endpoint));
  }
  stage1.dispose();
  finalModel.dispose();
  const shown = new Set(heldOut.slice(0, 6).map((s) => `${s.id}.png`));
  return { models: results, samples: exactLines.filter((l) => shown.has(l.image)) };
}
