// GPU check: the engine and the models on CUDA, from the same TypeScript (built dist/), against
// the transformers golden fixtures. Needs a CUDA libtorch or PyTorch (native/build.mjs finds it).
// Usage: node scripts/gpu-check.mjs [golden dir, default ../shared/golden]
const golden = process.argv[2] ?? new URL('../../shared/golden', import.meta.url).pathname;
const T = await import('../dist/src/torch/index.js');
const { runtimeReport, measureGemmGflops } = await import('../dist/src/torch/runtime.js');
const { LlamaForCausalLM, LlavaForConditionalGeneration } = await import('../dist/src/models/index.js');
const { openSafetensors } = await import('../dist/src/io/tensors.js');
const r = runtimeReport();
console.log('torch', r.torchVersion, 'cuda', r.cudaAvailable, r.cudaDeviceCount);
const diff = (a, b) => a.to('cpu').to('float64').sub(b.to('cpu').to('float64')).abs().max().item();
T.manualSeed(0);
const a = T.randn([256, 128]),
  b = T.randn([128, 64]);
const ga = a.to('cuda').requiresGrad_(),
  gb = b.to('cuda');
const y = ga.matmul(gb);
console.log('matmul device', y.device, 'diff vs cpu', diff(y, a.matmul(b)));
y.pow(2).sum().backward();
const ca = a.clone().requiresGrad_();
ca.matmul(b).pow(2).sum().backward();
console.log('grad device', ga.grad.device, 'grad diff', diff(ga.grad, ca.grad));
const bf = T.randn([2048, 2048], { device: 'cuda', dtype: 'bfloat16' });
for (let i = 0; i < 3; i++) bf.matmul(bf);
let t0 = performance.now();
let out;
for (let i = 0; i < 20; i++) out = bf.matmul(bf);
out.sum().item();
console.log(
  'bf16 2048^3 TFLOP/s (synchronised at the end)',
  ((20 * 2 * 2048 ** 3) / ((performance.now() - t0) / 1e3) / 1e12).toFixed(1),
);
for (const name of ['llama_tiny_gqa']) {
  const fx = openSafetensors(`${golden}/${name}/fixtures.safetensors`);
  const f = (k) => fx.readTensor(k);
  const m = LlamaForCausalLM.fromPretrained(`${golden}/${name}`).to('cuda');
  const o = m.forward({
    inputIds: f('input_ids').to('cuda'),
    attentionMask: f('attention_mask').to('cuda'),
    labels: f('labels').to('cuda'),
  });
  console.log(
    name,
    'logits row0 diff',
    diff(o.logits.select(0, 0), f('logits').select(0, 0)),
    'loss',
    o.loss.item(),
    'vs',
    f('loss').item(),
  );
  o.loss.backward();
  const g = m.stateDict().get('model.layers.0.self_attn.k_proj.weight').grad;
  console.log(
    '  grad device',
    g.device,
    'rel diff',
    diff(g, f('grad.model.layers.0.self_attn.k_proj.weight')) /
      f('grad.model.layers.0.self_attn.k_proj.weight').abs().max().item(),
  );
  const seq = await m.generate({
    inputIds: f('gen_leftpad.prompt_ids').to('cuda'),
    attentionMask: f('gen_leftpad.prompt_attention_mask').to('cuda'),
    maxNewTokens: 8,
    eosTokenId: null,
  });
  console.log(
    '  greedy left-pad tokens equal:',
    JSON.stringify(Array.from(seq.narrow(1, 6, 8).to('cpu').toTypedArray(), Number)) ===
      JSON.stringify(Array.from(f('gen_leftpad.new_tokens').toTypedArray(), Number)),
  );
}
{
  const fx = openSafetensors(`${golden}/llava_tiny/fixtures.safetensors`);
  const f = (k) => fx.readTensor(k);
  const m = LlavaForConditionalGeneration.fromPretrained(`${golden}/llava_tiny`).to('cuda');
  const o = m.forward({
    inputIds: f('input_ids').to('cuda'),
    attentionMask: f('attention_mask').to('cuda'),
    pixelValues: f('pixel_values').to('cuda'),
    labels: f('labels').to('cuda'),
  });
  console.log('llava logits diff', diff(o.logits, f('logits')), 'loss', o.loss.item(), 'vs', f('loss').item());
  const seq = await m.generate({
    inputIds: f('input_ids').to('cuda'),
    attentionMask: f('attention_mask').to('cuda'),
    pixelValues: f('pixel_values').to('cuda'),
    maxNewTokens: 8,
    eosTokenId: null,
  });
  console.log(
    '  llava greedy tokens equal:',
    JSON.stringify(Array.from(seq.narrow(1, 10, 8).to('cpu').toTypedArray(), Number)) ===
      JSON.stringify(Array.from(f('gen.new_tokens').toTypedArray(), Number)),
  );
}
console.log('GPU CHECK DONE');
