// `llava eval answers`: model_vqa.py / model_vqa_loader.py's flags; batched; resumable.

import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { readQuestionFile } from '../../eval/questions.js';
import { intOption, numberOption, parseOptions, UsageError, withUsage, type OptionSpec } from './args.js';

const STRING_OPTIONS = [
  'model-path',
  'tokenizer',
  'image-processor',
  'image-aspect-ratio',
  'question-file',
  'image-folder',
  'answers-file',
  'conv-mode',
  'model-id',
  'batch-size',
  'max-new-tokens',
  'temperature',
  'top-p',
  'seed',
  'num-chunks',
  'chunk-idx',
  'dtype',
  'device',
];

const HELP = `usage: llava eval answers --model-path DIR --question-file Q --image-folder DIR --answers-file OUT [options]

Answers each question of Q with the model, as LLaVA's model_vqa.py writes them (question_id,
prompt, text, answer_id, model_id, metadata). A rerun skips the question ids already in OUT.

  --model-path DIR          a llava-hf or original LLaVA checkpoint folder
  --question-file Q         JSONL (model_vqa) or a JSON list of ScienceQA conversation records
                            (model_vqa_science: the prompt is written with "<image>\\n" in front)
  --single-pred-prompt      append "Answer with the option's letter from the given choices directly."
  --tokenizer DIR           tokenizer folder (default: the model folder)
  --image-processor FILE    preprocessor_config.json (default: the model folder's, else the vision
                            tower's image size with CLIP's mean and std)
  --image-aspect-ratio R    pad (LLaVA-1.5, default unless the config says otherwise) or square
  --conv-mode NAME          conversation template (default vicuna_v1, as the v1.5 scripts)
  --model-id NAME           model_id written per answer (default: the model folder's name)
  --batch-size N            questions per forward (default 8)
  --max-new-tokens N        default 128 (model_vqa_loader.py; model_vqa.py uses 1024)
  --temperature T           0 = greedy (default, the v1.5 scripts); > 0 samples
  --top-p P                 nucleus sampling with --temperature
  --seed N                  sampling and answer ids (default 0)
  --num-chunks K --chunk-idx I   answer only the I-th of K consecutive chunks (ceil(n / K) each)
  --dtype D                 float32 (default), bfloat16 or float16
  --device D                cpu (default), cuda, cuda:1, ... (a CUDA build of libtorch)
  --no-progress             no progress line on stderr`;

export function run(argv: string[]): Promise<number> {
  const command = 'llava eval answers';
  return withUsage(command, HELP, argv, async () => {
    const specs: Record<string, OptionSpec> = {
      'no-progress': { kind: 'boolean' },
      'single-pred-prompt': { kind: 'boolean' },
    };
    for (const name of STRING_OPTIONS) specs[name] = { kind: 'string' };
    const o = parseOptions(argv, specs, command);
    const s = (k: string) => o[k] as string | undefined;
    for (const k of ['model-path', 'question-file', 'image-folder', 'answers-file'])
      if (!s(k)) throw new UsageError(`--${k} is required`);
    const aspect = s('image-aspect-ratio');
    if (aspect !== undefined && aspect !== 'pad' && aspect !== 'square')
      throw new UsageError(`--image-aspect-ratio must be pad or square, got '${aspect}'`);
    const dtype = s('dtype') ?? 'float32';
    if (!['float32', 'bfloat16', 'float16'].includes(dtype)) throw new UsageError(`--dtype: unknown dtype '${dtype}'`);
    const chunks = intOption('num-chunks', s('num-chunks'), 1);
    const chunk = intOption('chunk-idx', s('chunk-idx'), 0, 0);
    if (chunk >= chunks) throw new UsageError(`--chunk-idx ${chunk} must be below --num-chunks ${chunks}`);
    const numbers = {
      batchSize: intOption('batch-size', s('batch-size'), 8),
      maxNewTokens: intOption('max-new-tokens', s('max-new-tokens'), 128),
      temperature: numberOption('temperature', s('temperature'), 0) ?? 0,
      topP: numberOption('top-p', s('top-p'), 0),
      seed: intOption('seed', s('seed'), 0, 0),
    };
    const { conversationTemplate } = await import('../../text/conversation.js');
    conversationTemplate(s('conv-mode') ?? 'vicuna_v1'); // an unknown name fails before the model loads

    // Tensors from here on: the addon loads only for this subcommand.
    const [{ LlavaForConditionalGeneration }, { TextTokenizer }, { ClipImageProcessor }, { runAnswers }] =
      await Promise.all([
        import('../../models/index.js'),
        import('../../text/tokenizer.js'),
        import('../../vision/clip-processor.js'),
        import('../../eval/answers.js'),
      ]);
    const modelPath = s('model-path')!;
    const all = readQuestionFile(s('question-file')!, { singlePredPrompt: o['single-pred-prompt'] === true });
    const size = Math.ceil(all.length / chunks);
    const questions = all.slice(chunk * size, (chunk + 1) * size);
    const model = LlavaForConditionalGeneration.fromPretrained(modelPath, { dtype: dtype as 'float32' });
    model.eval();
    if (s('device')) model.to(s('device')!);
    const tokenizer = TextTokenizer.fromDir(s('tokenizer') ?? modelPath);
    const processorPath = s('image-processor') ?? join(modelPath, 'preprocessor_config.json');
    const imageSize = model.config.vision_config.image_size;
    const processor = existsSync(processorPath)
      ? ClipImageProcessor.fromFile(processorPath)
      : new ClipImageProcessor({ size: { shortest_edge: imageSize }, crop_size: imageSize });
    const config = JSON.parse(readFileSync(join(modelPath, 'config.json'), 'utf8')) as { image_aspect_ratio?: string };
    const summary = await runAnswers({
      model,
      tokenizer,
      processor,
      aspectRatio: (aspect ?? (config.image_aspect_ratio === 'square' ? 'square' : 'pad')) as 'pad' | 'square',
      convMode: s('conv-mode') ?? 'vicuna_v1',
      questions,
      imageFolder: s('image-folder')!,
      output: s('answers-file')!,
      modelId: s('model-id') ?? basename(modelPath.replace(/\/+$/, '')),
      ...numbers,
      progress: o['no-progress'] ? null : process.stderr,
    });
    console.log(
      `answers: ${summary.written} written, ${summary.resumed} already in ${s('answers-file')} (${summary.questions} questions)`,
    );
    return 0;
  });
}
