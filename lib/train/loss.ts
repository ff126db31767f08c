// Next-token cross-entropy over the positions the loss mask keeps (response tokens only).
import * as tf from "@tensorflow/tfjs";
import { crossEntropySum } from "../engine/fused.js";
import type { Batch } from "./batches.js";

/**
 * Sum of token losses over masked positions, not the mean: gradient accumulation adds sums
 * from several micro-batches and divides once by the total token count, so the logged loss
 * keeps its scale whatever the accumulation.
 */
export function maskedLossSum(
  logits: tf.Tensor3D, // [B, T, V]
  targets: tf.Tensor2D, // [B, T] int32, already shifted by one
  mask: tf.Tensor2D, // [B, T] float32, 1 where the target is trained
): tf.Scalar {
  return tf.tidy(() => {
    const vocab = logits.shape[2];
    return crossEntropySum(
      tf.reshape(logits, [-1, vocab]) as tf.Tensor2D,
      tf.reshape(targets, [-1]) as tf.Tensor1D,
      tf.reshape(tf.cast(mask, "float32"), [-1]) as tf.Tensor1D,
    );
  });
}

/** Summed loss of a batch: logits only where targets are trained, when the batch says where. */
export function batchLossSum(
  model: {
    forward(
      ids: tf.Tensor2D,
      opts?: { attentionMask?: tf.Tensor2D; training?: boolean; positions?: tf.Tensor1D },
    ): tf.Tensor3D;
  },
  batch: Batch,
  training: boolean,
): tf.Scalar {
  const opts = { attentionMask: batch.attentionMask, training };
  if (batch.trained === null) {
    return maskedLossSum(model.forward(batch.inputs, opts), batch.targets, batch.targetMask);
  }
  const { positions, targets } = batch.trained;
  const logits = model.forward(batch.inputs, { ...opts, positions }); // [1, N, V]
  return tf.tidy(() => maskedLossSum(logits, targets, tf.onesLike(targets).toFloat() as tf.Tensor2D));
}
