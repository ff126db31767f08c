// Scaled dot-product attention as one differentiable step with a hand-written backward pass.
// Recorded op by op, tfjs's tape would keep the raw, scaled and reshaped scores of every layer
// alive until the backward pass (a reshape keeps its input just to know its shape); here it
// keeps q, k, v and the probabilities, and every product takes a fast path (batchedProducts).
import * as tf from "@tensorflow/tfjs";
import { batchedProducts } from "../engine/matmul.js";

/** x [..., r, c] with its last two axes swapped. */
function swapLast(x: tf.Tensor): tf.Tensor3D {
  return tf.transpose(x, [0, 2, 1]) as tf.Tensor3D;
}

/**
 * softmax(q k^T * scale + bias) v for queries grouped by the key/value head they share.
 * q [B, KV, G*T, hd], k and v [B, KV, S, hd]; bias broadcasts against [B, KV, G, T, S] (causal
 * and padding masks) and gets no gradient. Returns [B, KV, G*T, hd].
 */
export function attention(
  q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, bias: tf.Tensor, groups: number, scale: number,
): tf.Tensor4D {
  const [B, KV, R, hd] = q.shape;
  const S = k.shape[2];
  const n = B * KV;
  const T = R / groups;
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [q3, k3, v3, save] = args as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D, tf.GradSaveFunc];
    const scores = tf.mul(batchedProducts(q3, swapLast(k3)), scale); // [n, R, S]
    const masked = tf.add(tf.reshape(scores, [B, KV, groups, T, S]), bias);
    const probs = tf.reshape(tf.softmax(masked), [n, R, S]) as tf.Tensor3D;
    save([q3, k3, v3, probs]);
    return {
      value: batchedProducts(probs, v3), // [n, R, hd]
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sq, sk, sv, p] = saved as tf.Tensor3D[];
        const dOut = dy as tf.Tensor3D;
        const dProbs = batchedProducts(dOut, swapLast(sv)); // [n, R, S]
        const dV = batchedProducts(p, dOut, true); // p^T dOut: [n, S, hd]
        // Softmax backward: p * (dp - sum(dp * p)), then the scale of the scores.
        const rowDot = tf.sum(tf.mul(dProbs, p), -1, true);
        const dScores = tf.mul(tf.mul(p, tf.sub(dProbs, rowDot)), scale) as tf.Tensor3D;
        const dQ = batchedProducts(dScores, sk); // [n, R, hd]
        const dK = batchedProducts(dScores, sq, true); // dScores^T q: [n, S, hd]
        return [dQ, dK, dV];
      },
    };
  });
  const out = f(
    tf.reshape(q, [n, R, hd]) as tf.Tensor3D,
    tf.reshape(k, [n, S, hd]) as tf.Tensor3D,
    tf.reshape(v, [n, S, hd]) as tf.Tensor3D,
  ) as tf.Tensor3D;
  return tf.reshape(out, [B, KV, R, hd]) as tf.Tensor4D;
}
