// Every hyperparameter of `llava demo` in one place: the procedural world, the stage-0 encoders that stand in for
// CLIP and Vicuna (nothing pretrained can be downloaded here), stages 1 and 2, and the evaluation. `--quick`
// (the test suite's run) shrinks only the counts, never the shapes, so both runs exercise the same code.

export const WORLD = {
  imageSize: 64, // px, square; the CLIP tower sees it unresized
  shapes: ['circle', 'square', 'triangle', 'cross'] as const,
  colours: ['red', 'green', 'blue', 'yellow', 'purple', 'orange'] as const,
  sizes: { small: 14, large: 22 } as const, // px, the side of an object's box
  maxObjects: 4, // 1..maxObjects objects, each shape at most once so "the circle" names one object
  trainImages: 3000,
  heldOutImages: 200,
  benchImages: 100, // held-out images with LLaVA-Bench questions (three each); all get the exact-match ones
  seed: 0,
};

export const CLIP = {
  // CLIPVisionConfig / CLIPTextConfig fields, as transformers names them
  vision: { hidden_size: 64, intermediate_size: 256, num_hidden_layers: 4, num_attention_heads: 4, patch_size: 8 },
  text: { hidden_size: 64, intermediate_size: 256, num_hidden_layers: 2, num_attention_heads: 4, max_position: 32 },
  projection_dim: 64,
  // ~0.15 s a step on 2 cores. 5e-4 rather than 2e-3: held-out retrieval 55% instead of 64% (top-1 in a batch of
  // 64, chance 1.6%), but the patch features of layer -2 keep more of which shape is where (bench/demo-probe.ts:
  // a shape's colour 82% against 61%, its side 89% against 76%), and those are what stage 2 reads.
  steps: 400,
  batchSize: 64,
  learningRate: 5e-4,
  seed: 0,
};

export const LLM = {
  // LlamaConfig fields; vocab_size comes from the tokenizer built over the world's text
  hidden_size: 128,
  intermediate_size: 344,
  num_hidden_layers: 4,
  num_attention_heads: 4,
  max_position_embeddings: 256,
  blockSize: 256, // the texts, each <s> … </s>, packed into rows of this many tokens (a conversation fits one)
  conversations: { copies: 2, turns: 10 }, // texts.ts sceneConversations: per train scene, questions per copy
  // 300 steps of 8 rows of 256 tokens (~0.17 s a step on 2 cores) fit the minute stage 0's LLM has.
  steps: 300,
  batchSize: 8,
  learningRate: 2e-3,
  seed: 0,
};

// Stage 1 and 2 recipes (recipes.ts writes them with the reference's flag names).
export const STAGE1 = { images: 3000, batchSize: 32, learningRate: 2e-3, epochs: 1, modelMaxLength: 64, seed: 0 };
export const STAGE2 = {
  images: 200, // images sent through the data engine (three records each)
  shortAnswerImages: 3000, // images of the short-answer mix (LLaVA-1.5's academic VQA share)
  shortAnswerTurns: 10, // questions per image, at most (each kind's questions about the image)
  batchSize: 16,
  learningRate: 1e-3,
  projectorLearningRate: 2e-3,
  epochs: 2,
  modelMaxLength: 256,
  seed: 0,
};

/** The test suite's shortened run: the same pipeline with small counts (minutes become seconds). */
export const QUICK = {
  trainImages: 48,
  heldOutImages: 12,
  clipSteps: 6,
  llmSteps: 6,
  stage1Images: 32,
  stage2Images: 16,
};
