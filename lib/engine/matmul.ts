// Matrix products routed to the wasm backend's fast path. Its XNNPACK kernel only serves plain
// 2-D (or batch-1) products: with a transpose flag or a batch > 1 it falls back to a loop that
// is about ten times slower. Explicit transposes are cheap next to that, so every product here,
// gradients included, is a plain one.
import * as tf from "@tensorflow/tfjs";

/** a [N, K] @ b [K, M], with gradients that are plain products too. */
export const matMul2d: (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D = tf.customGrad(
  // customGrad passes the inputs, then the save function, through one rest parameter.
  (...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [a, b, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    save([a, b]);
    return {
      value: tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sa, sb] = saved as tf.Tensor2D[];
        return [
          tf.matMul(dy as tf.Tensor2D, tf.transpose(sb)), // [N, M] @ [M, K]
          tf.matMul(tf.transpose(sa), dy as tf.Tensor2D), // [K, N] @ [N, M]
        ];
      },
    };
  },
) as unknown as (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D;

/**
 * x [..., in] times a weight stored as Hugging Face does, [out, in]: x @ W^T, computed as a
 * plain product with the transposed weight.
 */
export function linear(x: tf.Tensor, weight: tf.Tensor): tf.Tensor {
  const [outFeatures, inFeatures] = weight.shape;
  const lead = x.shape.slice(0, -1);
  const flat = tf.reshape(x, [-1, inFeatures]) as tf.Tensor2D;
  const y = matMul2d(flat, tf.transpose(weight as tf.Tensor2D));
  return tf.reshape(y, [...lead, outFeatures]);
}

/** The n matrices of x [n, r, c], each [r, c]. */
function unstack3d(x: tf.Tensor): tf.Tensor2D[] {
  const [n, r, c] = x.shape;
  return Array.from({ length: n }, (_, i) =>
    tf.reshape(tf.slice(x, [i, 0, 0], [1, r, c]), [r, c]) as tf.Tensor2D,
  );
}

// Below this many rows a batched product beats cutting it into plain ones.
const PLAIN_MIN_ROWS = 8;

/**
 * a [n, r, k] @ b [n, k, c], with no gradient of its own (callers that train write theirs).
 * tfjs runs a batched product on wasm's slow loop at about 2 GFLOP/s; cut into n plain products,
 * each contiguous piece a cheap slice, it takes XNNPACK's path. A few rows (a decoding step)
 * stay batched, where cutting would cost more than it saves.
 */
export function batchedProducts(a: tf.Tensor3D, b: tf.Tensor3D): tf.Tensor3D {
  if (a.shape[1] < PLAIN_MIN_ROWS) return tf.matMul(a, b);
  const bs = unstack3d(b);
  return tf.stack(unstack3d(a).map((x, i) => tf.matMul(x, bs[i]))) as tf.Tensor3D;
}
