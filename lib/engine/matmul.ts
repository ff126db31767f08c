// Matrix products shaped for the wasm backend's fast paths. tunebook's own product kernel
// (wasm-kernels.ts) serves plain, batched and left-transposed products; without it (the
// threaded build) only XNNPACK's plain 2-D products are fast, so every product here is either
// plain or has a transposed left operand, which is transposed explicitly where it must be.
import * as tf from "@tensorflow/tfjs";
import { HEAD_PRODUCTS, productKernels } from "./wasm-kernels.js";

/** Whether a product with a transposed left operand runs fast on the current backend. */
function transposedLeftIsFast(): boolean {
  return tf.getBackend() !== "wasm" || productKernels() !== "off";
}

/** a^T b for a [..., K, M] and b [..., K, N]. */
export function productTA<T extends tf.Tensor>(a: T, b: T): T {
  if (transposedLeftIsFast()) return tf.matMul(a, b, true, false) as T;
  const perm = [...a.shape.keys()];
  perm.push(perm.splice(-2, 1)[0]);
  return tf.matMul(tf.transpose(a, perm), b) as T;
}

/** a [N, K] @ b [K, M], with gradients that are fast products too. */
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
          productTA(sa, dy as tf.Tensor2D), // [K, N] @ [N, M]
        ];
      },
    };
  },
) as unknown as (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D;

/** x [N, in] @ W^T for W [out, in]: dx = dy W and dW = dy^T x need no transposes at all. */
const linear2d: (x: tf.Tensor2D, weight: tf.Tensor2D) => tf.Tensor2D = tf.customGrad(
  (...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, w, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
    save([x, w]);
    return {
      value: tf.matMul(x, tf.transpose(w)),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sw] = saved as tf.Tensor2D[];
        return [tf.matMul(dy as tf.Tensor2D, sw), productTA(dy as tf.Tensor2D, sx)];
      },
    };
  },
) as unknown as (x: tf.Tensor2D, weight: tf.Tensor2D) => tf.Tensor2D;

/** x [..., in] times a weight stored as Hugging Face does, [out, in]: x @ W^T. */
export function linear(x: tf.Tensor, weight: tf.Tensor): tf.Tensor {
  const [outFeatures, inFeatures] = weight.shape;
  const lead = x.shape.slice(0, -1);
  const flat = tf.reshape(x, [-1, inFeatures]) as tf.Tensor2D;
  const y = linear2d(flat, weight as tf.Tensor2D);
  return tf.reshape(y, [...lead, outFeatures]);
}

// Below this many rows a batched product beats cutting it into plain ones.
const PLAIN_MIN_ROWS = 8;

/**
 * a [n, r, k] @ b [n, k, c] (a stored [n, k, r] when `transposeA`), with no gradient of its own
 * (callers that train write theirs). Without tunebook's product kernel a batched product runs
 * on wasm's slow loop, so it is cut into n plain XNNPACK products in one kernel (HEAD_PRODUCTS).
 */
export function batchedProducts(a: tf.Tensor3D, b: tf.Tensor3D, transposeA = false): tf.Tensor3D {
  if (transposeA) a = transposedLeftIsFast() ? a : (tf.transpose(a, [0, 2, 1]) as tf.Tensor3D);
  const flagged = transposeA && transposedLeftIsFast();
  const rows = flagged ? a.shape[2] : a.shape[1];
  if (flagged || rows < PLAIN_MIN_ROWS || tf.getKernel(HEAD_PRODUCTS, tf.getBackend()) === undefined) {
    return tf.matMul(a, b, flagged, false);
  }
  const fits = a.shape[0] === b.shape[0] && a.shape[2] === b.shape[1];
  if (a.dtype !== "float32" || b.dtype !== "float32" || !fits) {
    throw new Error(`batchedProducts: cannot multiply [${a.shape}] by [${b.shape}]`);
  }
  return tf.engine().runKernel(HEAD_PRODUCTS, { a, b }) as tf.Tensor3D;
}
