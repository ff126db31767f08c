// Turns encoded rows into padded batches; shuffles with a seeded generator and buckets by length
// so that little padding is trained.
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../data/random.js";

export { Rng };

export interface EncodedRow {
  ids: number[];
  lossMask: number[];
}

export interface Batch {
  inputs: tf.Tensor2D; // [B, T] int32
  targets: tf.Tensor2D; // [B, T] int32, inputs shifted left by one
  targetMask: tf.Tensor2D; // [B, T] float32
  attentionMask: tf.Tensor2D; // [B, T] float32, 1 on real tokens
  tokens: number; // real input tokens in the batch
  trainedTokens: number; // targets that count in the loss
  /** Flat positions (b * T + t) of the trained targets, and those targets; null when all are. */
  trained: { positions: tf.Tensor1D; targets: tf.Tensor2D } | null;
}

/**
 * One epoch's batches as lists of row indices: shuffled, then sorted by length inside windows
 * of `bucketWindow` batches, then the batches themselves shuffled.
 */
export function epochOrder(
  rows: EncodedRow[],
  batchSize: number,
  rng: Rng,
  bucketWindow = 16,
): number[][] {
  const shuffled = rng.shuffle(rows.map((_, i) => i));
  const window = batchSize * bucketWindow;
  const batches: number[][] = [];
  for (let start = 0; start < shuffled.length; start += window) {
    const chunk = shuffled
      .slice(start, start + window)
      .sort((a, b) => rows[a].ids.length - rows[b].ids.length);
    for (let i = 0; i < chunk.length; i += batchSize) batches.push(chunk.slice(i, i + batchSize));
  }
  return rng.shuffle(batches);
}

/** Right-padded tensors for a list of rows. */
export function makeBatch(rows: EncodedRow[], padId: number): Batch {
  const length = Math.max(...rows.map((r) => r.ids.length)) - 1;
  const B = rows.length;
  const inputs = new Int32Array(B * length).fill(padId);
  const targets = new Int32Array(B * length).fill(padId);
  const targetMask = new Float32Array(B * length);
  const attention = new Float32Array(B * length);
  let tokens = 0;
  let trainedTokens = 0;
  rows.forEach((row, b) => {
    for (let t = 0; t < row.ids.length - 1; t++) {
      const at = b * length + t;
      inputs[at] = row.ids[t];
      targets[at] = row.ids[t + 1];
      targetMask[at] = row.lossMask[t + 1];
      attention[at] = 1;
      tokens += 1;
      trainedTokens += row.lossMask[t + 1];
    }
  });
  // When only some targets are trained (instruction tuning), the model projects just those.
  let trained: Batch["trained"] = null;
  if (trainedTokens < B * length) {
    const positions = new Int32Array(trainedTokens);
    const picked = new Int32Array(trainedTokens);
    let k = 0;
    for (let i = 0; i < B * length; i++) {
      if (targetMask[i] > 0) {
        positions[k] = i;
        picked[k] = targets[i];
        k += 1;
      }
    }
    trained = {
      positions: tf.tensor1d(positions, "int32"),
      targets: tf.tensor2d(picked, [1, trainedTokens], "int32"),
    };
  }
  return {
    trained,
    inputs: tf.tensor2d(inputs, [B, length], "int32"),
    targets: tf.tensor2d(targets, [B, length], "int32"),
    targetMask: tf.tensor2d(targetMask, [B, length]),
    attentionMask: tf.tensor2d(attention, [B, length]),
    tokens,
    trainedTokens,
  };
}

export function disposeBatch(batch: Batch): void {
  tf.dispose([batch.inputs, batch.targets, batch.targetMask, batch.attentionMask]);
  if (batch.trained !== null) tf.dispose([batch.trained.positions, batch.trained.targets]);
}
