// Tensor ops the wasm backend lacks or does badly, written so their gradients run on wasm.
import * as tf from "@tensorflow/tfjs";
import { transposesAreFast } from "./matmul.js";

/**
 * Looks up rows of `table` [V, D] for `ids` [B, T] (int32) → [B, T, D].
 * tf.gather's gradient needs UnsortedSegmentSum, which wasm lacks; ScatterNd exists there and
 * sums repeated ids, so the table's gradient is a scatter of dy. No one-hot over the vocabulary.
 */
export function embeddingLookup(table: tf.Tensor2D, ids: tf.Tensor2D): tf.Tensor3D {
  if (table.rank !== 2 || ids.rank !== 2) {
    throw new Error(
      `embeddingLookup: table must be [V, D] and ids [B, T], ` +
        `got [${table.shape}] and [${ids.shape}]`,
    );
  }
  if (ids.dtype !== "int32") {
    throw new Error(`embeddingLookup: ids must be int32, got ${ids.dtype}`);
  }
  return lookup(table, ids) as tf.Tensor3D;
}

const lookup = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [table, ids, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  const [B, T] = ids.shape;
  const [V, D] = table.shape;
  const flat = tf.reshape(ids, [B * T]);
  const value = tf.reshape(tf.gather(table, flat), [B, T, D]);
  save([ids]);
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const idx = tf.reshape(saved[0], [B * T, 1]);
      const dTable = tf.scatterND(idx, tf.reshape(dy, [B * T, D]), [V, D]);
      return [dTable, tf.zerosLike(saved[0])];
    },
  };
});

/**
 * x [N, in] @ w^T for a weight w [out, in] that is not being trained: the gradient flows to x
 * only, saving the weight-gradient product (a third of a linear layer's backward cost) in
 * LoRA or partly frozen training. `wT` [in, out] may be passed when the caller keeps one, e.g.
 * for decoding.
 */
export function frozenLinear(x: tf.Tensor2D, w: tf.Tensor2D, wT?: tf.Tensor2D): tf.Tensor2D {
  if (wT !== undefined) return tf.matMul(x, wT);
  // A frozen weight is off the tape's path to the trained variables, so tfjs's own gradient
  // of the product computes dx alone; the plain form is for backends without fast transposes.
  if (transposesAreFast()) return tf.matMul(x, w, false, true);
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const input = args[0] as tf.Tensor2D;
    return {
      value: tf.matMul(input, tf.transpose(w)),
      gradFunc: (dy: tf.Tensor) => [tf.matMul(dy as tf.Tensor2D, w)],
    };
  });
  return f(x) as tf.Tensor2D;
}
