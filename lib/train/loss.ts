// Next-token cross-entropy over the positions the loss mask keeps (response tokens only).
import * as tf from "@tensorflow/tfjs";
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
    // A one-hot the size of the logits (not of an embedding table) marks each trained target.
    const picks = tf.mul(tf.oneHot(tf.reshape(targets, [-1]), vocab), tf.reshape(mask, [-1, 1]));
    return crossEntropySum(tf.reshape(logits, [-1, vocab]) as tf.Tensor2D, picks as tf.Tensor2D);
  });
}

/**
 * sum over rows of -log softmax(logits)[target], with `picks` [N, V] the one-hot targets scaled
 * by each row's weight (0 for rows not trained). The gradient, (softmax - one-hot) per trained
 * row, reuses the forward pass's probabilities instead of exponentiating the logits again.
 */
const crossEntropySum: (logits: tf.Tensor2D, picks: tf.Tensor2D) => tf.Scalar = tf.customGrad(
  (...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [logits, picks, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
    const shifted = tf.sub(logits, tf.max(logits, -1, true));
    const exp = tf.exp(shifted);
    const total = tf.sum(exp, -1, true);
    const probs = tf.div(exp, total);
    const rowWeight = tf.sum(picks, -1, true);
    // -log p[target] = log(total) - shifted[target], weighted per row.
    const value = tf.sub(tf.sum(tf.mul(tf.log(total), rowWeight)), tf.sum(tf.mul(shifted, picks)));
    save([probs, picks, rowWeight]);
    return {
      value: value as tf.Scalar,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [p, pk, w] = saved;
        return [tf.mul(dy, tf.sub(tf.mul(p, w), pk)), tf.zerosLike(pk)];
      },
    };
  },
) as unknown as (logits: tf.Tensor2D, picks: tf.Tensor2D) => tf.Scalar;

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
