// A stage-1 projector file (mm_projector.bin or .safetensors, keys containing mm_projector.*),
// loaded into a LLaVA model's projector as the reference's --pretrain_mm_mlp_adapter does.
import type { Tensor } from '../torch/index.js';
import type { MultiModalProjector } from './projector.js';
import { projectorKey } from './original-layout.js';
import { withWeights } from './weights.js';

export function loadProjectorFile(projector: MultiModalProjector, path: string): void {
  const state = withWeights((open) => {
    const source = open(path);
    const found = new Map<string, Tensor>();
    for (const key of source.names()) {
      const at = key.indexOf('mm_projector.');
      if (at >= 0) found.set(projectorKey(key.slice(at + 'mm_projector.'.length)), source.readTensor(key));
    }
    return found;
  });
  if (state.size === 0) throw new Error(`${path}: no mm_projector.* tensors in this file`);
  try {
    projector.loadStateDict(state);
  } finally {
    for (const t of state.values()) t.dispose();
  }
}
