// Matrix products routed to the wasm backend's fast path. Its XNNPACK kernel only serves plain
// 2-D (or batch-1) products: with a transpose flag or a batch > 1 it falls back to a loop that
// is about ten times slower. Explicit transposes are cheap next to that, so every product here,
// gradients included, is a plain one.
import * as tf from "@tensorflow/tfjs";
import { HEAD_PRODUCTS } from "./wasm-kernels.js";

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

// Below this many rows a batched product beats cutting it into plain ones.
const PLAIN_MIN_ROWS = 8;

/**
 * a [n, r, k] @ b [n, k, c], with no gradient of its own (callers that train write theirs).
 * tfjs runs a batched product on wasm's slow loop at about 2 GFLOP/s; as n plain products
 * (one kernel, HEAD_PRODUCTS) it takes XNNPACK's path. A few rows (a decoding step) stay
 * batched, as do other backends, whose batched products are fast.
 */
export function batchedProducts(a: tf.Tensor3D, b: tf.Tensor3D): tf.Tensor3D {
  if (a.shape[1] < PLAIN_MIN_ROWS || tf.getKernel(HEAD_PRODUCTS, tf.getBackend()) === undefined) {
    return tf.matMul(a, b);
  }
  const fits = a.shape[0] === b.shape[0] && a.shape[2] === b.shape[1];
  if (a.dtype !== "float32" || b.dtype !== "float32" || !fits) {
    throw new Error(`batchedProducts: cannot multiply [${a.shape}] by [${b.shape}]`);
  }
  return tf.engine().runKernel(HEAD_PRODUCTS, { a, b }) as tf.Tensor3D;
}
