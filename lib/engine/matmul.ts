// Matrix products shaped for the backend's fast paths. tunebook's own product kernel
// (wasm-kernels.ts) reads either operand transposed in place; without it (the threaded wasm
// build) only XNNPACK's plain 2-D products are fast, so transposed operands are transposed
// explicitly first and batched products are cut into plain ones (HEAD_PRODUCTS).
import * as tf from "@tensorflow/tfjs";
import {
  CAUSAL, CAUSAL_PRODUCTS, type CausalAttrs, HEAD_PRODUCTS, productKernels,
} from "./wasm-kernels.js";

/** Whether products with transposed operands run fast on the current backend. */
export function transposesAreFast(): boolean {
  return tf.getBackend() !== "wasm" || productKernels() !== "off";
}

/** x [..., r, c] with its last two axes swapped. */
function swapLast<T extends tf.Tensor>(x: T): T {
  const perm = [...x.shape.keys()];
  perm.push(perm.splice(-2, 1)[0]);
  return tf.transpose(x, perm) as T;
}

/** op(a) · op(b), op a transpose of the last two axes where its flag is set. */
export function product<T extends tf.Tensor>(a: T, b: T, transA = false, transB = false): T {
  if (transposesAreFast()) return tf.matMul(a, b, transA, transB) as T;
  return tf.matMul(transA ? swapLast(a) : a, transB ? swapLast(b) : b) as T;
}

/** a^T b for a [..., K, M] and b [..., K, N]. */
export function productTA<T extends tf.Tensor>(a: T, b: T): T {
  return product(a, b, true, false);
}

/** a [N, K] @ b [K, M], with gradients that are fast products too. */
export function matMul2d(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  // tfjs's own gradient of a product is two products with transposed operands.
  return transposesAreFast() ? tf.matMul(a, b) : matMul2dPlain(a, b);
}

const matMul2dPlain: (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D = tf.customGrad(
  // customGrad passes the inputs, then the save function, through one rest parameter.
  (...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [a, b, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    save([a, b]);
    return {
      value: tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sa, sb] = saved as tf.Tensor2D[];
        return [
          product(dy as tf.Tensor2D, sb, false, true), // [N, M] @ [M, K]
          product(sa, dy as tf.Tensor2D, true, false), // [K, N] @ [N, M]
        ];
      },
    };
  },
) as unknown as (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D;

/** x [N, in] @ W^T for W [out, in]: dx = dy W and dW = dy^T x, transposing explicitly. */
const linear2dPlain: (x: tf.Tensor2D, weight: tf.Tensor2D) => tf.Tensor2D = tf.customGrad(
  (...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, w, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
    save([x, w]);
    return {
      value: product(x, w, false, true),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sw] = saved as tf.Tensor2D[];
        return [tf.matMul(dy as tf.Tensor2D, sw), product(dy as tf.Tensor2D, sx, true, false)];
      },
    };
  },
) as unknown as (x: tf.Tensor2D, weight: tf.Tensor2D) => tf.Tensor2D;

/** x [..., in] times a weight stored as Hugging Face does, [out, in]: x @ W^T. */
export function linear(x: tf.Tensor, weight: tf.Tensor): tf.Tensor {
  const [outFeatures, inFeatures] = weight.shape;
  const lead = x.shape.slice(0, -1);
  const flat = tf.reshape(x, [-1, inFeatures]) as tf.Tensor2D;
  const y = transposesAreFast()
    ? tf.matMul(flat, weight as tf.Tensor2D, false, true)
    : linear2dPlain(flat, weight as tf.Tensor2D);
  return tf.reshape(y, [...lead, outFeatures]);
}

// Below this many rows a batched product beats cutting it into plain ones.
const PLAIN_MIN_ROWS = 8;

/** Which operand of an attention product is scores-shaped, and the mask's layout. */
export interface CausalProduct {
  /** "output": q kᵀ or dOut vᵀ; "rows": p v or dScores k; "columns": pᵀ dOut or dScoresᵀ q. */
  scores: keyof typeof CAUSAL;
  /** Query rows per group (grouped heads stack G groups of T queries). */
  period: number;
  /** Keys before the first query: query t sees keys 0 … t + offset. */
  offset: number;
}

/**
 * op(a) · op(b) for a batch of n matrices, a [n, r, k] and b [n, k, c] after op, with no
 * gradient of its own (callers that train write theirs). `causal` lets tunebook's kernel skip
 * what a causal mask zeroes (the result differs only where the mask discards it); elsewhere
 * the product is computed in full. Without tunebook's product kernel a batched product runs
 * on wasm's slow loop, so it is cut into n plain XNNPACK products in one kernel (HEAD_PRODUCTS).
 */
export function batchedProducts(
  a: tf.Tensor3D, b: tf.Tensor3D, transA = false, transB = false, causal?: CausalProduct,
): tf.Tensor3D {
  if (causal !== undefined && tf.getKernel(CAUSAL_PRODUCTS, tf.getBackend()) !== undefined) {
    const attrs: CausalAttrs & tf.BatchMatMulAttrs = {
      transposeA: transA, transposeB: transB, causal: CAUSAL[causal.scores],
      period: causal.period, offset: causal.offset,
    };
    return tf.engine().runKernel(
      CAUSAL_PRODUCTS, { a, b }, attrs as unknown as tf.NamedAttrMap,
    ) as tf.Tensor3D;
  }
  if (transposesAreFast()) return tf.matMul(a, b, transA, transB);
  if (transA) a = swapLast(a);
  if (transB) b = swapLast(b);
  if (a.shape[1] < PLAIN_MIN_ROWS || tf.getKernel(HEAD_PRODUCTS, tf.getBackend()) === undefined) {
    return tf.matMul(a, b);
  }
  const fits = a.shape[0] === b.shape[0] && a.shape[2] === b.shape[1];
  if (a.dtype !== "float32" || b.dtype !== "float32" || !fits) {
    throw new Error(`batchedProducts: cannot multiply [${a.shape}] by [${b.shape}]`);
  }
  return tf.engine().runKernel(HEAD_PRODUCTS, { a, b }) as tf.Tensor3D;
}
