// Per-rank model-state memory for DDP, ZeRO-1 and ZeRO-2: parameters counted on the meta device
// against counts worked out by hand from the shapes, bytes against the ZeRO paper's formulas
// (mixed precision: 2Ψ + 2Ψ + 12Ψ; ZeRO-1: 2Ψ + 2Ψ + 12Ψ/N; ZeRO-2: 2Ψ + 14Ψ/N).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { withDevice } from '../../src/torch/index.js';
import { LlamaForCausalLM, llamaConfig } from '../../src/models/index.js';
import { countParameters, formatEstimate, llavaV15Parameters, perRankBytes } from '../../src/distributed/index.js';
import { goldenRoot } from '../helpers/golden.js';

test('the golden tiny LLaMA counted on meta, and its bytes per rank of 2 under each option', () => {
  const config = llamaConfig(JSON.parse(readFileSync(join(goldenRoot, 'llama_tiny', 'config.json'), 'utf8')));
  const model = withDevice('meta', () => new LlamaForCausalLM(config));
  assert.ok(model.parameters().every((p) => p.device === 'meta'));
  // embed_tokens and lm_head 512·64 each; per layer q,k,v,o 4·64·64, gate,up,down 3·64·172, two norms 2·64; final norm 64
  const psi = 2 * 512 * 64 + 2 * (4 * 64 * 64 + 3 * 64 * 172 + 2 * 64) + 64;
  assert.equal(psi, 164672);
  const count = countParameters(model, () => true);
  assert.deepEqual(count, { trainable: psi, frozen: 0 });
  const bf16 = perRankBytes(count, 2, 'bf16');
  assert.deepEqual(bf16.ddp, { weights: 2 * psi, gradients: 2 * psi, optimizer: 12 * psi, total: 16 * psi });
  assert.deepEqual(bf16.zero1, { weights: 2 * psi, gradients: 2 * psi, optimizer: 6 * psi, total: 10 * psi });
  assert.deepEqual(bf16.zero2, { weights: 2 * psi, gradients: psi, optimizer: 6 * psi, total: 9 * psi });
  const fp32 = perRankBytes(count, 2, 'fp32');
  assert.deepEqual(fp32.zero2, { weights: 4 * psi, gradients: 2 * psi, optimizer: 4 * psi, total: 10 * psi });
});

test("the reference's v1.5 7B and 13B fine-tune recipes on 8 ranks: counted on meta, ZeRO-2 fits where DDP cannot", () => {
  // CLIP ViT-L/14-336: patch conv 3·14·14·1024, class embedding 1024, 577 positions · 1024, pre and post
  // layer norms 2·2048; 24 layers of q,k,v,o (1024² + 1024 each), fc1 1024·4096 + 4096, fc2 4096·1024 + 1024, 2 norms
  const layer = 4 * (1024 * 1024 + 1024) + (1024 * 4096 + 4096) + (4096 * 1024 + 1024) + 2 * 2048;
  const tower = 3 * 14 * 14 * 1024 + 1024 + 577 * 1024 + 2 * 2048 + 24 * layer;
  assert.equal(tower, 303507456);
  // LLaMA-2 7B (6,738,415,616) and 13B (13,015,864,320) plus the projector 1024→d→d with biases
  const projector = (d: number) => 1024 * d + d + d * d + d;
  const cases = [
    { size: '7b' as const, llm: 6738415616, d: 4096 },
    { size: '13b' as const, llm: 13015864320, d: 5120 },
  ];
  for (const { size, llm, d } of cases) {
    const count = llavaV15Parameters(size);
    assert.deepEqual(count, { trainable: llm + projector(d), frozen: tower }, size);
    const psi = count.trainable;
    const rows = perRankBytes(count, 8, 'bf16');
    assert.equal(rows.ddp.total, 2 * (psi + tower) + 2 * psi + 12 * psi);
    assert.equal(rows.zero1.total, 2 * (psi + tower) + 2 * psi + (12 * psi) / 8);
    assert.equal(rows.zero2.total, 2 * (psi + tower) + (14 * psi) / 8);
    const text = formatEstimate(`llava-v1.5-${size}`, count, 8, 'bf16');
    assert.match(
      text,
      new RegExp(`^llava-v1\\.5-${size}: ${psi} trainable \\+ ${tower} frozen parameters, bf16, per rank of 8`),
    );
    assert.match(text, /\n {2}zero2 /);
  }
  // 7B under ZeRO-2: 2·(6,759,395,328 + 303,507,456) + 14·6,759,395,328/8 = 25,954,747,392 bytes, 24.17 GiB: it fits
  // an 80 GB GPU, where DDP needs 108,757,340,160 bytes (101.29 GiB)
  const seven = perRankBytes(llavaV15Parameters('7b'), 8, 'bf16');
  assert.equal((seven.zero2.total / 1024 ** 3).toFixed(2), '24.17');
});
