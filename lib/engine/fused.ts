// The Llama block's elementwise steps, and the loss, as single differentiable ops. On wasm with
// tunebook's SIMD kernels each is one kernel forward and one backward (FUSED in
// wasm-kernels.ts), their gradients registered with tfjs so the tape records them like stock
// ops; elsewhere, or for shapes the kernels do not take, each is the same formula op by op.
import * as tf from "@tensorflow/tfjs";
import { FUSED } from "./wasm-kernels.js";

function fusedOn(name: string): boolean {
  return tf.getKernel(name, tf.getBackend()) !== undefined;
}

function run(name: string, inputs: Record<string, tf.Tensor>, attrs: object = {}): tf.Tensor[] {
  const out = tf.engine().runKernel(
    name, inputs as unknown as tf.NamedTensorMap, attrs as unknown as tf.NamedAttrMap,
  );
  return Array.isArray(out) ? (out as tf.Tensor[]) : [out as tf.Tensor];
}

const isFloat = (...ts: tf.Tensor[]): boolean => ts.every((t) => t.dtype === "float32");

// Gradients of the fused kernels. tfjs asks only for the inputs on the path to the trained
// variables, so the tables and targets, which never are, have none.
const noGradient = (): tf.Tensor => {
  throw new Error("fused kernels give no gradient to tables, targets or weights");
};
const GRADIENTS: tf.GradConfig[] = [
  {
    kernelName: FUSED.swiglu,
    inputsToSave: ["gate", "up"],
    gradFunc: (dy, saved) => {
      const [dGate, dUp] = run(FUSED.swigluGrad, { gate: saved[0], up: saved[1], dy: dy as tf.Tensor });
      return { gate: () => dGate, up: () => dUp };
    },
  },
  {
    kernelName: FUSED.rmsNorm,
    inputsToSave: ["x", "weight"],
    outputsToSave: [false, true],
    gradFunc: (dys, saved) => {
      const [x, weight, r] = saved;
      const dy = (dys as tf.Tensor[])[0];
      const [dx, dWeight] = run(FUSED.rmsNormGrad, { x, weight, r, dy });
      return { x: () => dx, weight: () => dWeight };
    },
  },
  {
    kernelName: FUSED.rope,
    inputsToSave: ["cos", "sin"],
    gradFunc: (dy, saved) => ({
      x: () => run(FUSED.rope, { x: dy as tf.Tensor, cos: saved[0], sin: saved[1] }, { backward: true })[0],
      cos: noGradient,
      sin: noGradient,
    }),
  },
  {
    kernelName: FUSED.crossEntropy,
    outputsToSave: [false, true],
    gradFunc: (dys, saved) => ({
      // d loss_i / d logits_i = grad_i, scaled by each row's incoming gradient.
      logits: () => tf.mul(saved[0], tf.reshape((dys as tf.Tensor[])[0], [-1, 1])),
      targets: noGradient,
      weights: noGradient,
    }),
  },
];
let registered = false;

function registerGradients(): void {
  if (registered) return;
  registered = true;
  for (const config of GRADIENTS) tf.registerGradient(config);
}

/** Whether fused kernel `name` runs here; registers the fused gradients on first use. */
function fused(name: string): boolean {
  if (!fusedOn(name)) return false;
  registerGradients();
  return true;
}

/** SwiGLU's gated product silu(gate) · up, for gate and up of one shape. */
export function swiglu(gate: tf.Tensor, up: tf.Tensor): tf.Tensor {
  if (!fused(FUSED.swiglu) || !isFloat(gate, up) || !tf.util.arraysEqual(gate.shape, up.shape)) {
    return tf.mul(tf.mul(gate, tf.sigmoid(gate)), up);
  }
  return run(FUSED.swiglu, { gate, up })[0];
}

/** RMSNorm of x [N, D] with gain w [D]: x / sqrt(mean(x²) + eps) · w. */
export function rmsNorm(x: tf.Tensor, w: tf.Tensor, eps: number): tf.Tensor {
  const D = w.shape[0];
  if (!fused(FUSED.rmsNorm) || !isFloat(x, w) || x.rank !== 2 || D % 4 !== 0 || x.shape[1] !== D) {
    const ms = tf.mean(tf.square(x), -1, true);
    return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, eps))), w);
  }
  const [y, r] = run(FUSED.rmsNorm, { x, weight: w }, { eps });
  r.dispose();
  return y;
}

/**
 * Rotary embedding of x [B, T, heads, hd] by cos and sin [B or 1, T, 1, hd]:
 * x · cos + rotate_half(x) · sin, with rotate_half(x) = [-x₂, x₁] for the two halves of a head.
 * The tables get no gradient. `rotateHalf` computes rotate_half where the kernel does not run.
 */
export function rope(
  x: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor, rotateHalf: (x: tf.Tensor) => tf.Tensor = halves,
): tf.Tensor {
  const hd = x.shape[3] ?? 0;
  const tablesFit = cos.rank === 4 && cos.shape[1] === x.shape[1] && cos.shape[2] === 1 &&
    (cos.shape[0] === 1 || cos.shape[0] === x.shape[0]) && tf.util.arraysEqual(cos.shape, sin.shape);
  if (!fused(FUSED.rope) || !isFloat(x, cos, sin) || x.rank !== 4 || hd % 8 !== 0 || !tablesFit) {
    return tf.add(tf.mul(x, cos), tf.mul(rotateHalf(x), sin));
  }
  return run(FUSED.rope, { x, cos, sin }, { backward: false })[0];
}

function halves(x: tf.Tensor): tf.Tensor {
  const [x1, x2] = tf.split(x, 2, -1);
  return tf.concat([tf.neg(x2), x1], -1);
}

/**
 * softmax(x + bias) over the last axis for attention scores x [B, H, T, S] and a bias of causal
 * and padding masks [B or 1, 1, 1, T, S] shared by the heads. No gradient of its own: attention
 * writes its backward pass with softmaxGrad.
 */
export function softmaxWithBias(x: tf.Tensor4D, bias: tf.Tensor): tf.Tensor4D {
  const [B, H, T, S] = x.shape;
  const b = bias.shape;
  const fits = bias.rank === 5 && (b[0] === 1 || b[0] === B) && b[1] === 1 && b[2] === 1 &&
    b[3] === T && b[4] === S;
  if (!fusedOn(FUSED.softmaxBias) || !isFloat(x, bias) || !fits) {
    const heads = tf.reshape(x, [B, 1, H, T, S]);
    return tf.reshape(tf.softmax(tf.add(heads, bias)), [B, H, T, S]) as tf.Tensor4D;
  }
  const bias3 = tf.reshape(bias, [b[0], T, S]);
  return run(FUSED.softmaxBias, { x, bias: bias3 })[0] as tf.Tensor4D;
}

/** Softmax's backward over the last axis: p · (dp - Σ p · dp), from the probabilities p. */
export function softmaxGrad(p: tf.Tensor, dp: tf.Tensor): tf.Tensor {
  if (!fusedOn(FUSED.softmaxGrad) || !isFloat(p, dp) || !tf.util.arraysEqual(p.shape, dp.shape)) {
    return tf.mul(p, tf.sub(dp, tf.sum(tf.mul(dp, p), -1, true)));
  }
  return run(FUSED.softmaxGrad, { p, dp })[0];
}

/**
 * Σ over rows of w · -log softmax(logits)[target] for logits [N, V], int32 targets [N] and row
 * weights [N] (0 for rows not trained). The gradient, w · (softmax - onehot) per row, comes out
 * of the same pass (fused) or reuses the forward pass's probabilities (op by op).
 */
export function crossEntropySum(
  logits: tf.Tensor2D, targets: tf.Tensor1D, weights: tf.Tensor1D,
): tf.Scalar {
  const [N, V] = logits.shape;
  if (targets.shape[0] !== N || weights.shape[0] !== N) {
    throw new Error(
      `crossEntropySum: targets [${targets.shape}] and weights [${weights.shape}] must have ` +
        `the ${N} rows of the logits`,
    );
  }
  const ids = targets.dataSync();
  for (const id of ids) {
    if (!(id >= 0 && id < V)) throw new Error(`crossEntropySum: target ${id} is not in [0, ${V - 1}]`);
  }
  if (!fused(FUSED.crossEntropy) || !isFloat(logits, weights) || targets.dtype !== "int32") {
    return tf.tidy(() => {
      const picks = tf.mul(tf.oneHot(targets, V), tf.reshape(weights, [-1, 1]));
      return crossEntropyByOps(logits, picks as tf.Tensor2D);
    });
  }
  const [losses, grad] = run(FUSED.crossEntropy, { logits, targets, weights });
  grad.dispose();
  const value = tf.sum(losses) as tf.Scalar;
  losses.dispose();
  return value;
}

const crossEntropyByOps: (logits: tf.Tensor2D, picks: tf.Tensor2D) => tf.Scalar = tf.customGrad(
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
