// CLIPModel and its text tower: gradients by finite differences (float64), the causal mask and the pooled position
// as transformers 4.40 picks it, the contrastive loss against hand-computed values, and a saved CLIPModel folder that
// reloads with equal outputs and from which CLIPVisionModel and loadBaseModel (llm + tower) read the vision tower.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CLIPModel, clipConfig, clipLoss } from '../../src/models/clip-model.js';
import {
  CLIPVisionModel,
  LlamaForCausalLM,
  LlavaForConditionalGeneration,
  llamaConfig,
} from '../../src/models/index.js';
import { loadBaseModel, saveModelFolder } from '../../src/train/base-model.js';
import { cat, manualSeed, noGrad, randn, scope, tensor, type Tensor } from '../../src/torch/index.js';
import { assertArrayClose } from '../helpers/close.js';
import { gradcheck, randomInput } from '../helpers/gradcheck.js';

const TINY = {
  projection_dim: 6,
  text_config: { vocab_size: 11, hidden_size: 8, intermediate_size: 12, num_hidden_layers: 2, num_attention_heads: 2 },
  vision_config: { image_size: 8, patch_size: 4, hidden_size: 8, intermediate_size: 12, num_hidden_layers: 2 },
};
const tiny = (eos: number) => {
  manualSeed(0);
  const json = { ...TINY, text_config: { ...TINY.text_config, max_position_embeddings: 6, eos_token_id: eos } };
  return new CLIPModel(clipConfig({ ...json, vision_config: { ...json.vision_config, num_attention_heads: 2 } }));
};
const ids = (rows: number[][]) => tensor(BigInt64Array.from(rows.flat(), BigInt), [rows.length, rows[0]!.length]);
const values = (t: Tensor) => Array.from(t.toTypedArray() as ArrayLike<number>, Number);

test('text tower: gradients match central finite differences in float64 (causal mask, norms, MLP, pooling)', () => {
  const model = tiny(3).initWeights().to('float64');
  const inputIds = ids([
    [1, 5, 3, 0, 0],
    [1, 7, 9, 4, 3],
  ]);
  const embeds = randomInput([2, 5, 8], 1);
  gradcheck(
    (xs) => {
      const out = model.text.forward({ inputIds, inputsEmbeds: xs[0] });
      return cat([out.lastHiddenState.flatten(), out.poolerOutput.flatten()]);
    },
    [embeds],
  );
  gradcheck((xs) => model.textEmbeds(inputIds, xs[0]), [embeds]);
});

test('text tower: causal (a later token changes nothing before it); pooled at the first eos, or argmax(ids) when eos is 2', () => {
  scope(() => {
    const model = tiny(3);
    const a = model.text.forward({ inputIds: ids([[1, 5, 3, 6, 8]]) });
    const b = model.text.forward({ inputIds: ids([[1, 5, 3, 9, 2]]) });
    assertArrayClose(values(a.lastHiddenState.narrow(1, 0, 3)), values(b.lastHiddenState.narrow(1, 0, 3)));
    assert.notDeepEqual(values(a.lastHiddenState.select(1, 3)), values(b.lastHiddenState.select(1, 3)));
    assertArrayClose(values(a.poolerOutput), values(a.lastHiddenState.select(1, 2))); // first 3
    const legacy = tiny(2).text.forward({ inputIds: ids([[1, 9, 2, 4, 3]]) });
    assertArrayClose(values(legacy.poolerOutput), values(legacy.lastHiddenState.select(1, 1))); // the largest id, 9
  });
});

test('clipLoss is the mean of the row-wise and column-wise cross-entropies against the diagonal', () => {
  const logits = [
    [2, 0, -1],
    [1, 3, 0.5],
    [0, -2, 1],
  ];
  const ce = (rows: number[][]) =>
    rows.reduce((s, r, i) => s + Math.log(r.reduce((z, v) => z + Math.exp(v), 0)) - r[i]!, 0) / rows.length;
  const columns = logits.map((_, j) => logits.map((r) => r[j]!));
  const expected = (ce(logits) + ce(columns)) / 2;
  assertArrayClose([clipLoss(tensor(logits.flat(), [3, 3])).item()], [expected]);
});

test('forward: logits are exp(logit_scale) × cosine similarities of the projected, normalised embeddings', () => {
  scope(() => {
    const model = tiny(3).initWeights();
    const pixelValues = randn([3, 3, 8, 8]);
    const inputIds = ids([
      [1, 5, 3, 0, 0],
      [1, 6, 6, 3, 0],
      [1, 9, 3, 0, 0],
    ]);
    const out = model.forward({ inputIds, pixelValues, returnLoss: true });
    const t = values(out.textEmbeds);
    const im = values(out.imageEmbeds);
    const P = 6;
    for (let r = 0; r < 3; r++) assertArrayClose([t.slice(r * P, r * P + P).reduce((s, v) => s + v * v, 0)], [1]);
    const scale = Math.exp(2.6592);
    const expected = [0, 1, 2].flatMap((i) =>
      [0, 1, 2].map((j) => scale * [...Array(P).keys()].reduce((s, k) => s + t[i * P + k]! * im[j * P + k]!, 0)),
    );
    assertArrayClose(values(out.logitsPerText), expected, { atol: 1e-5 });
    assertArrayClose(values(out.logitsPerImage.contiguous()), values(out.logitsPerText.transpose(0, 1).contiguous()));
    assertArrayClose([out.loss!.item()], [clipLoss(out.logitsPerText).item()]);
  });
});

test('a saved CLIPModel reloads with equal outputs; CLIPVisionModel, loadBaseModel and a stage output read its vision tower', () => {
  const root = mkdtempSync(join(tmpdir(), 'llava-clip-model-'));
  try {
    scope(() => {
      const model = tiny(3).initWeights();
      noGrad(() => model.logit_scale.fill_(1.5));
      const clipDir = join(root, 'clip');
      model.savePretrained(clipDir);
      const config = JSON.parse(readFileSync(join(clipDir, 'config.json'), 'utf8'));
      assert.deepEqual(config.architectures, ['CLIPModel']);
      assert.equal(config.model_type, 'clip');
      assert.equal(config.logit_scale_init_value, 2.6592);
      assert.equal(config.text_config.model_type, 'clip_text_model');
      assert.equal(config.vision_config.model_type, 'clip_vision_model');
      const pixelValues = randn([2, 3, 8, 8]);
      const inputIds = ids([
        [1, 5, 3, 0, 0],
        [1, 9, 3, 0, 0],
      ]);
      const before = model.forward({ inputIds, pixelValues, returnLoss: true });
      const reloaded = CLIPModel.fromPretrained(clipDir);
      const after = reloaded.forward({ inputIds, pixelValues, returnLoss: true });
      assert.deepEqual(values(after.logitsPerText), values(before.logitsPerText));
      assert.equal(reloaded.logit_scale.item(), 1.5);

      const hidden = model.vision.hiddenState(pixelValues, 1);
      const vision = CLIPVisionModel.fromPretrained(clipDir);
      assert.deepEqual(values(vision.hiddenState(pixelValues, 1)), values(hidden));

      const llmDir = join(root, 'llm');
      new LlamaForCausalLM(
        llamaConfig({
          vocab_size: 16,
          hidden_size: 8,
          intermediate_size: 12,
          num_hidden_layers: 1,
          num_attention_heads: 2,
        }),
      ).savePretrained(llmDir);
      const base = loadBaseModel({
        dir: llmDir,
        visionTower: clipDir,
        projectorType: 'mlp2x_gelu',
        selectLayer: -2,
        selectFeature: 'patch',
      });
      assert.deepEqual(values(base.model.vision_tower.hiddenState(pixelValues, 1)), values(hidden));
      assert.equal(base.model.config.image_seq_length, 4);
      // A stage output in the original layout names the CLIPModel folder as mm_vision_tower and reloads its tower.
      const stageDir = join(root, 'stage1');
      saveModelFolder(stageDir, base);
      const stage = LlavaForConditionalGeneration.fromPretrained(stageDir);
      assert.deepEqual(values(stage.vision_tower.hiddenState(pixelValues, 1)), values(hidden));
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
