// Whether llava demo's stage-0 LLaMA can look a fact up in its context, in text alone: the lookup stage 2 needs
// from the image ("what colour is the circle?": find the circle, read its colour), measured in minutes rather than
// a whole demo. Trains the tokenizer and the LLaMA as stage 0 does (src/demo/config.ts's LLM), then optionally
// `--sft-steps` more steps on the scene conversations with the loss on the answers only (as stage 2 masks), and
// asks every turn of held-out conversations: the greedy first answer token against the truth, per kind, and for
// colour how often the answer is at least a colour the caption names (copying without binding).
//   node dist/bench/demo-lookup.js [--llm-steps 300] [--sft-steps 0] [--sft-lr 2e-3] [--sft-batch 16]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LLM, WORLD } from '../src/demo/config.js';
import { trainLlm } from '../src/demo/stage0.js';
import { sceneConversations, sceneConversationTurns, worldTexts } from '../src/demo/texts.js';
import { buildTokenizer } from '../src/demo/tokenizer.js';
import { batchOrder, optimise } from '../src/demo/train-loop.js';
import { makeWorld } from '../src/demo/world.js';
import type { LlamaForCausalLM } from '../src/models/index.js';
import { conversationTemplate } from '../src/text/conversation.js';
import { collate } from '../src/data/collate.js';
import { preprocess } from '../src/text/preprocess.js';
import { TextTokenizer } from '../src/text/tokenizer.js';
import { noGrad, tensor } from '../src/torch/index.js';

const { values } = parseArgs({
  options: {
    'llm-steps': { type: 'string', default: String(LLM.steps) },
    'sft-steps': { type: 'string', default: '0' },
    'sft-lr': { type: 'string', default: '2e-3' },
    'sft-batch': { type: 'string', default: '16' },
  },
});
const template = conversationTemplate('vicuna_v1');
const world = makeWorld({ seed: WORLD.seed, trainImages: WORLD.trainImages, heldOutImages: WORLD.heldOutImages });
const { copies, turns } = LLM.conversations;

/** Answer-only steps on the scene conversations: stage 2's rows (preprocess_v1's masking) without the image. */
function answerOnly(model: LlamaForCausalLM, tokenizer: TextTokenizer, steps: number, lr: number, B: number): void {
  const rows = sceneConversationTurns(world.train, WORLD.seed, copies, turns).map((conversation) =>
    preprocess(tokenizer, template, conversation, { hasImage: false, modelMaxLength: LLM.blockSize }),
  );
  const order = batchOrder(rows.length, B, LLM.seed);
  const options = { steps, batchSize: B, learningRate: lr, seed: LLM.seed, log: console.log };
  optimise('answer-only', model.parameters(), options, (s) => {
    const batch = collate(
      order(s).rows.map((k) => rows[k]!),
      { padTokenId: tokenizer.unkId ?? 0, maxLength: LLM.blockSize },
    );
    const labels = tensor(batch.labels, batch.shape);
    return model.forward({ inputIds: tensor(batch.inputIds, batch.shape), labels }).loss!;
  });
}

const kindOf = (question: string) =>
  question.includes('What colour')
    ? 'colour'
    : question.includes('How many')
      ? 'count'
      : question.includes('left or the right')
        ? 'position'
        : 'existence';

/** Per kind [right, asked]; 'colour named' counts colour answers that are a colour word of the caption. */
function lookupAccuracy(model: LlamaForCausalLM, tokenizer: TextTokenizer): Map<string, [number, number]> {
  const scores = new Map<string, [number, number]>();
  const add = (kind: string, right: boolean) => {
    const s = scores.get(kind) ?? [0, 0];
    scores.set(kind, [s[0] + (right ? 1 : 0), s[1] + 1]);
  };
  const encode = (text: string) => tokenizer.encode(text, { addSpecialTokens: false });
  model.eval();
  noGrad(() => {
    for (const conversation of sceneConversations(world.heldOut, WORLD.seed, 1, turns)) {
      const [first, ...answered] = conversation.split(' ASSISTANT: ');
      let prefix = first!;
      for (const part of answered) {
        const answer = part.split('</s>')[0]!;
        const kind = kindOf(prefix.slice(prefix.lastIndexOf('USER: ')));
        const ids = [1, ...encode(`${prefix} ASSISTANT:`)];
        const want = encode(`${prefix} ASSISTANT: ${answer}`)[ids.length - 1];
        const logits = model.forward({ inputIds: tensor(BigInt64Array.from(ids, BigInt), [1, ids.length]) }).logits;
        const next = Number(
          (
            logits
              .select(1, ids.length - 1)
              .argmax(-1)
              .toTypedArray() as BigInt64Array
          )[0],
        );
        add(kind, next === want);
        if (kind === 'colour') {
          const word = tokenizer.decode([next]).trim();
          add('colour named', (WORLD.colours as readonly string[]).includes(word) && first!.includes(` ${word} `));
        }
        prefix = `${prefix} ASSISTANT: ${part}`;
      }
    }
  });
  return scores;
}

const dir = mkdtempSync(join(tmpdir(), 'llava-demo-lookup-'));
try {
  const texts = [...worldTexts(world.train), ...sceneConversations(world.train, WORLD.seed, copies, turns)];
  buildTokenizer(texts, join(dir, 'tokenizer'), { specialTokens: ['<image>'] });
  const tokenizer = TextTokenizer.fromDir(join(dir, 'tokenizer'));
  const llm = trainLlm(texts, join(dir, 'tokenizer'), join(dir, 'llm'), {
    ...LLM,
    steps: Number(values['llm-steps']),
    log: console.log,
  });
  const sftSteps = Number(values['sft-steps']);
  if (sftSteps > 0) answerOnly(llm.model, tokenizer, sftSteps, Number(values['sft-lr']), Number(values['sft-batch']));
  for (const [kind, [right, asked]] of lookupAccuracy(llm.model, tokenizer))
    console.log(`${kind.padEnd(14)} ${((100 * right) / asked).toFixed(1).padStart(5)}%  of ${asked}`);
  llm.model.dispose();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
