// The recipe's data as the trainer's micro-batches: LLaVA's supervised dataset (in-process or on worker threads),
// the seeded, resumable loader, and collated batches as tensors. Text-only rows of a multimodal batch carry the
// reference's zero image, whose features the reference computes and drops; here those rows are left out of
// pixel_values (one image per placeholder), which changes no number.
import { DataLoader, type LoaderReport } from '../data/loader.js';
import { SupervisedDataset } from '../data/supervised-dataset.js';
import { toTensors } from '../data/to-tensors.js';
import { WorkerPool } from '../data/worker-pool.js';
import { tensor, type DType } from '../torch/index.js';
import type { Recipe } from './recipe.js';
import type { MicroBatch, MicroBatchSource } from './trainer.js';

export type RecipeData = MicroBatchSource & {
  size: number;
  report: LoaderReport;
  /** Ids of the samples read so far with no supervised label (the first few are shown when the run stops). */
  fullyMasked: string[];
  close(): Promise<void>;
};

/** This process's place in a data parallel run: its share of every global batch. */
export type Shard = { rank: number; worldSize: number };

/**
 * `pixelDtype`: the vision tower's dtype, which the images are cast to. On `shard`'s rank, micro-batch s is the
 * loader's global micro-batch s · world + rank (the rank sharding of src/data), so the world's micro-batches of a
 * step are the ones one process would run.
 */
export async function openRecipeData(
  recipe: Recipe,
  imageTokenId: number,
  pixelDtype: DType,
  shard: Shard = { rank: 0, worldSize: 1 },
): Promise<RecipeData> {
  const dataset = await SupervisedDataset.open({
    dataPath: recipe.data_path,
    imageFolder: recipe.image_folder,
    tokenizerDir: recipe.tokenizer_dir ?? recipe.model_name_or_path,
    version: recipe.version,
    preprocessorConfig: recipe.preprocessor_config,
    imageAspectRatio: recipe.image_aspect_ratio,
    placement: recipe.image_placement,
    seed: recipe.seed,
    modelMaxLength: recipe.model_max_length,
    onBadRecord: recipe.on_bad_sample,
    imageTokenId,
  });
  if (dataset.size === 0) throw new Error(`${recipe.data_path}: the dataset is empty (no usable sample)`);
  const pool = recipe.dataloader_num_workers > 0 ? new WorkerPool(dataset, recipe.dataloader_num_workers) : undefined;
  const loader = new DataLoader(pool ?? dataset, {
    batchSize: recipe.per_device_train_batch_size,
    seed: recipe.seed,
    groupByModalityLength: recipe.group_by_modality_length,
    gradientAccumulationSteps: recipe.gradient_accumulation_steps / shard.worldSize,
    worldSize: shard.worldSize,
    rank: shard.rank,
    onBadSample: recipe.on_bad_sample,
  });
  const fullyMasked: string[] = [];
  return {
    size: dataset.size,
    fullyMasked,
    // One process's micro-batches per epoch, split over the world; floor so that every rank has all of its own.
    perEpoch: Math.floor(Math.ceil(dataset.size / recipe.per_device_train_batch_size) / shard.worldSize),
    report: loader.report,
    async *epoch(epoch: number, start: number): AsyncGenerator<MicroBatch> {
      for await (const loaded of loader.epoch(epoch, start)) {
        const { labels, shape } = loaded.batch;
        loaded.ids.forEach((id, row) => {
          if (labels.subarray(row * shape[1], (row + 1) * shape[1]).every((l) => l === -100n)) fullyMasked.push(id);
        });
        const t = toTensors(loaded.batch);
        let pixelValues = t.pixelValues ?? undefined;
        if (pixelValues && loaded.hasImage.some((h) => h === 0)) {
          const rows = [...loaded.hasImage.keys()].filter((i) => loaded.hasImage[i] === 1).map(BigInt);
          const kept = rows.length
            ? pixelValues.indexSelect(0, tensor(BigInt64Array.from(rows), [rows.length]))
            : undefined;
          pixelValues.dispose();
          pixelValues = kept;
        }
        if (pixelValues && pixelValues.dtype !== pixelDtype) {
          const cast = pixelValues.to(pixelDtype);
          pixelValues.dispose();
          pixelValues = cast;
        }
        yield { inputIds: t.inputIds, attentionMask: t.attentionMask, labels: t.labels, pixelValues };
      }
    },
    async close() {
      await pool?.close();
      dataset.close();
    },
  };
}
