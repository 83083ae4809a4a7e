// GPU check: the engine and the models on CUDA, from the same TypeScript (built dist/), against
// the transformers golden fixtures. Needs a CUDA libtorch or PyTorch (native/build.mjs finds it).
// Usage: node scripts/gpu-check.mjs [golden dir, default ../shared/golden]. Exits 1 when any check fails.
// CHECK_DEVICE=cpu runs the same checks on the CPU (the test suite does, so this script cannot rot).
// Tolerances: CUDA kernels sum in other orders than the CPU ones (and may use TF32 unless disabled),
// so logits and gradients are held to 1e-4 here instead of the CPU suite's 1e-5; tokens must be equal.
const device = process.env.CHECK_DEVICE ?? 'cuda';
const golden = process.argv[2] ?? new URL('../../shared/golden', import.meta.url).pathname;
const T = await import('../dist/src/torch/index.js');
const { runtimeReport, measureGemmGflops } = await import('../dist/src/torch/runtime.js');
const { LlamaForCausalLM, LlavaForConditionalGeneration } = await import('../dist/src/models/index.js');
const { openSafetensors } = await import('../dist/src/io/tensors.js');
const failures = [];
function check(name, ok, detail) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail === undefined ? '' : ` (${detail})`}`);
  if (!ok) failures.push(name);
}
const r = runtimeReport();
console.log('torch', r.torchVersion, 'cuda', r.cudaAvailable, r.cudaDeviceCount);
if (device === 'cuda') check('a CUDA device is available', r.cudaAvailable && r.cudaDeviceCount > 0);
if (failures.length) process.exit(1);
const sameTokens = (a, b) =>
  JSON.stringify(Array.from(a.to('cpu').toTypedArray(), Number)) ===
  JSON.stringify(Array.from(b.toTypedArray(), Number));
const diff = (a, b) => a.to('cpu').to('float64').sub(b.to('cpu').to('float64')).abs().max().item();
T.manualSeed(0);
const a = T.randn([256, 128]),
  b = T.randn([128, 64]);
const ga = a.clone().to(device).requiresGrad_(),
  gb = b.to(device);
const y = ga.matmul(gb);
check(
  'matmul runs on the device and equals cpu',
  y.device.startsWith(device) && diff(y, a.matmul(b)) <= 1e-3,
  diff(y, a.matmul(b)),
);
y.pow(2).sum().backward();
const ca = a.clone().requiresGrad_();
ca.matmul(b).pow(2).sum().backward();
check(
  'matmul backward on the device equals cpu',
  ga.grad.device.startsWith(device) && diff(ga.grad, ca.grad) <= 1e-2,
  diff(ga.grad, ca.grad),
);
if (device === 'cuda') {
  const bf = T.randn([2048, 2048], { device, dtype: 'bfloat16' });
  for (let i = 0; i < 3; i++) bf.matmul(bf);
  let t0 = performance.now();
  let out;
  for (let i = 0; i < 20; i++) out = bf.matmul(bf);
  out.sum().item();
  console.log(
    'bf16 2048^3 TFLOP/s (synchronised at the end)',
    ((20 * 2 * 2048 ** 3) / ((performance.now() - t0) / 1e3) / 1e12).toFixed(1),
  );
}
for (const name of ['llama_tiny_gqa']) {
  const fx = openSafetensors(`${golden}/${name}/fixtures.safetensors`);
  const f = (k) => fx.readTensor(k);
  const m = LlamaForCausalLM.fromPretrained(`${golden}/${name}`).to(device);
  const o = m.forward({
    inputIds: f('input_ids').to(device),
    attentionMask: f('attention_mask').to(device),
    labels: f('labels').to(device),
  });
  const logitsDiff = diff(o.logits.select(0, 0), f('logits').select(0, 0));
  check(`${name} logits (row 0, unpadded) within 1e-4`, logitsDiff <= 1e-4, logitsDiff);
  const lossDiff = Math.abs(o.loss.item() - f('loss').item());
  check(`${name} loss within 1e-5`, lossDiff <= 1e-5, lossDiff);
  o.loss.backward();
  const g = m.stateDict().get('model.layers.0.self_attn.k_proj.weight').grad;
  const expectedGrad = f('grad.model.layers.0.self_attn.k_proj.weight');
  const gradRel = diff(g, expectedGrad) / expectedGrad.abs().max().item();
  check(
    `${name} k_proj gradient on the device within 1e-4 of its largest value`,
    g.device.startsWith(device) && gradRel <= 1e-4,
    gradRel,
  );
  const seq = await m.generate({
    inputIds: f('gen_leftpad.prompt_ids').to(device),
    attentionMask: f('gen_leftpad.prompt_attention_mask').to(device),
    maxNewTokens: 8,
    eosTokenId: null,
  });
  check(`${name} greedy left-padded tokens equal`, sameTokens(seq.narrow(1, 6, 8), f('gen_leftpad.new_tokens')));
}
{
  const fx = openSafetensors(`${golden}/llava_tiny/fixtures.safetensors`);
  const f = (k) => fx.readTensor(k);
  const m = LlavaForConditionalGeneration.fromPretrained(`${golden}/llava_tiny`).to(device);
  const o = m.forward({
    inputIds: f('input_ids').to(device),
    attentionMask: f('attention_mask').to(device),
    pixelValues: f('pixel_values').to(device),
    labels: f('labels').to(device),
  });
  const logitsDiff = diff(o.logits, f('logits'));
  check('llava_tiny logits within 1e-4', logitsDiff <= 1e-4, logitsDiff);
  const lossDiff = Math.abs(o.loss.item() - f('loss').item());
  check('llava_tiny loss within 1e-5', lossDiff <= 1e-5, lossDiff);
  const seq = await m.generate({
    inputIds: f('input_ids').to(device),
    attentionMask: f('attention_mask').to(device),
    pixelValues: f('pixel_values').to(device),
    maxNewTokens: 8,
    eosTokenId: null,
  });
  check('llava_tiny greedy tokens equal', sameTokens(seq.narrow(1, 10, 8), f('gen.new_tokens')));
}
if (failures.length) {
  console.error(`GPU CHECK FAILED: ${failures.join('; ')}`);
  process.exit(1);
}
console.log('GPU CHECK PASSED');
