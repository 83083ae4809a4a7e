// Stage 0 of the demo from the world's files: the tokenizer learnt from the world's text (with `<image>` as a
// special token, which the llava-hf layout of the final checkpoint needs inside the vocabulary), CLIP trained on
// every (image, caption) pair of the train split, the LLaMA on the world's text, which includes the scenes'
// conversations in stage 2's template (texts.ts sceneConversations). Folders: tokenizer/, clip/, llm/.
import { join } from 'node:path';
import { CLIP, LLM, QUICK, WORLD } from './config.js';
import type { Curve } from './report.js';
import { trainClip, trainLlm } from './stage0.js';
import { sceneConversations, worldTexts } from './texts.js';
import { buildTokenizer } from './tokenizer.js';
import { sceneContext, type Scene } from './world.js';

/** What the cache marker keeps of stage 0; the folders come from stage0Folders, so a moved run folder finds them. */
export type Stage0 = { curves: Curve[]; summary: string[] };

export const stage0Folders = (dir: string) => ({
  tokenizer: join(dir, 'tokenizer'),
  clip: join(dir, 'clip'),
  llm: join(dir, 'llm'),
});

const curve = (name: string, losses: number[]): Curve => ({ name, points: losses.map((y, i) => ({ x: i + 1, y })) });

export async function trainStage0(
  dir: string,
  world: { images: string; scenes: { train: Scene[] } },
  o: { quick: boolean; log: (line: string) => void },
): Promise<Stage0> {
  const log = (line: string) => o.log(`   ${line}`);
  const train = world.scenes.train;
  const texts = [
    ...worldTexts(train),
    ...sceneConversations(train, WORLD.seed, LLM.conversations.copies, LLM.conversations.turns),
  ];
  const { tokenizer, clip: clipDir, llm: llmDir } = stage0Folders(dir);
  const built = buildTokenizer(texts, tokenizer, { specialTokens: ['<image>'] });
  log(`tokenizer: ${built.vocabSize} tokens learnt from ${texts.length} texts`);

  const pairs = train.flatMap((scene) => {
    const ctx = sceneContext(scene, WORLD.seed);
    return ctx.captions.map((caption) => ({ image: join(world.images, ctx.image), caption }));
  });
  const clip = await trainClip(pairs, tokenizer, clipDir, {
    ...CLIP,
    steps: o.quick ? QUICK.clipSteps : CLIP.steps,
    imageSize: WORLD.imageSize,
    log,
  });
  clip.model.dispose();
  const llm = trainLlm(texts, tokenizer, llmDir, {
    ...LLM,
    steps: o.quick ? QUICK.llmSteps : LLM.steps,
    log,
  });
  llm.model.dispose();
  const percent = (x: number) => `${(100 * x).toFixed(1)}%`;
  const summary = [
    `CLIP: image→caption retrieval on held-out images ${percent(clip.before.imageToText)} before, ${percent(clip.after.imageToText)} after training (chance ${percent(clip.after.chance)}), ${clip.seconds.toFixed(0)} s`,
    `LLaMA: held-out loss ${llm.heldOutLoss.before.toFixed(3)} before, ${llm.heldOutLoss.after.toFixed(3)} after training, ${llm.seconds.toFixed(0)} s`,
  ];
  for (const line of summary) log(line);
  return {
    curves: [curve('stage 0: CLIP contrastive loss', clip.losses), curve('stage 0: LLaMA loss', llm.losses)],
    summary,
  };
}
