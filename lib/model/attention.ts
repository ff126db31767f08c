// Scaled dot-product attention as one differentiable step with a hand-written backward pass.
// Recorded op by op, tfjs's tape would keep the raw, scaled and reshaped scores of every layer
// alive until the backward pass (a reshape keeps its input just to know its shape); here it
// keeps q, k, v and the probabilities, and every product takes a fast path (batchedProducts).
import * as tf from "@tensorflow/tfjs";
import { softmaxGrad, softmaxWithBias } from "../engine/fused.js";
import { batchedProducts, type CausalProduct } from "../engine/matmul.js";

/**
 * softmax(q k^T * scale + bias) v for queries grouped by the key/value head they share.
 * q [B, KV, G*T, hd], k and v [B, KV, S, hd]; bias broadcasts against [B, KV, G, T, S] (causal
 * and padding masks) and gets no gradient. `causal` says the bias holds the causal mask (query t
 * sees keys up to t + S - T), so the products may skip what it zeroes. Returns [B, KV, G*T, hd].
 */
export function attention(
  q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, bias: tf.Tensor, groups: number, scale: number,
  causal = false,
): tf.Tensor4D {
  const [B, KV, R, hd] = q.shape;
  const S = k.shape[2];
  const n = B * KV;
  const T = R / groups;
  // With a causal bias, query t sees keys up to t + S - T: products may skip the rest.
  const mask = (scores: CausalProduct["scores"]): CausalProduct | undefined =>
    causal ? { scores, period: T, offset: S - T } : undefined;
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [q3, k3, v3, save] = args as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D, tf.GradSaveFunc];
    // The scale goes on q, a head_dim-th the size of the scores.
    const qs = tf.mul(q3, scale) as tf.Tensor3D;
    const scores = batchedProducts(qs, k3, false, true, mask("output")); // [n, R, S]
    const heads = tf.reshape(scores, [B, KV * groups, T, S]) as tf.Tensor4D;
    const probs = tf.reshape(softmaxWithBias(heads, bias), [n, R, S]) as tf.Tensor3D;
    save([qs, k3, v3, probs]);
    return {
      value: batchedProducts(probs, v3, false, false, mask("rows")), // [n, R, hd]
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sq, sk, sv, p] = saved as tf.Tensor3D[];
        const dOut = dy as tf.Tensor3D;
        const dProbs = batchedProducts(dOut, sv, false, true, mask("output")); // [n, R, S]
        const dV = batchedProducts(p, dOut, true, false, mask("columns")); // p^T dOut: [n, S, hd]
        const dScores = softmaxGrad(p, dProbs) as tf.Tensor3D;
        // dQ = dScores k · scale: [n, R, hd]; dK = dScoresᵀ (q · scale): [n, S, hd].
        const dQ = tf.mul(batchedProducts(dScores, sk, false, false, mask("rows")), scale);
        const dK = batchedProducts(dScores, sq, true, false, mask("columns"));
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
