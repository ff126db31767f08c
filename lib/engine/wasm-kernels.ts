// Replacements for wasm backend kernels whose stock versions cost far more than their work:
// each handles the common case itself and hands every other case to the stock kernel.
import * as tf from "@tensorflow/tfjs";
import { ProductThreads } from "./product-threads.js";
import { loadSimdKernels, type SimdKernels } from "./simd.js";

/** The parts of the wasm backend these kernels use. */
interface WasmBackendLike {
  incRef(dataId: tf.DataId): void;
  disposeData(dataId: tf.DataId): boolean;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): tf.TypedArray;
  dataIdMap: { get(dataId: tf.DataId): { memoryOffset: number } };
  dataIdNextNumber: number;
  wasm: {
    asm: { memory?: WebAssembly.Memory };
    /** The threaded build's shared memory, which it imports instead of exporting. */
    wasmMemory?: WebAssembly.Memory;
    cwrap(name: string, ret: null, args: string[]): (...args: unknown[]) => void;
    tfjs: {
      registerTensor(id: number, size: number, offset: number): void;
      disposeData(id: number): void;
    };
  };
}

/** One AdamW update of a parameter: inputs p, g, m, v; outputs the new p, m and v. */
export const ADAMW_UPDATE = "TunebookAdamW";

/** The attributes of ADAMW_UPDATE: the optimizer's settings and this step's factors. */
export interface AdamWUpdateAttrs {
  beta1: number;
  beta2: number;
  epsilon: number;
  /** Learning rate / (1 - beta1^t). */
  stepSize: number;
  /** 1 - beta2^t. */
  correction2: number;
  /** Learning rate × weight decay. */
  decay: number;
}

/**
 * Names of the fused kernels registered on wasm with tunebook's SIMD kernels (fused.ts holds the
 * differentiable ops on top of them and their op-by-op forms for other backends).
 */
export const FUSED = {
  /** {gate, up} → silu(gate) · up. */
  swiglu: "TunebookSwiGLU",
  /** {gate, up, dy} → [d gate, d up]. */
  swigluGrad: "TunebookSwiGLUGrad",
  /** {x [N, D], weight [D]}, attrs {eps} → [y [N, D], r [N]] with r = 1 / rms(x). */
  rmsNorm: "TunebookRMSNorm",
  /** {x, weight, r, dy} → [dx, d weight]. */
  rmsNormGrad: "TunebookRMSNormGrad",
  /** {x [B, T, H, hd], cos, sin [B or 1, T, 1, hd]}, attrs {backward} → rotated x. */
  rope: "TunebookRope",
  /** {x [B, H, T, S], bias [B or 1, T, S]} → softmax(x + bias) over S. */
  softmaxBias: "TunebookSoftmaxBias",
  /** {p, dp} [rows, S] → p · (dp - Σ p · dp). */
  softmaxGrad: "TunebookSoftmaxGrad",
  /**
   * {logits [N, V], targets [N] int32, weights [N]} → [loss [N], grad [N, V]]: each row's
   * weighted -log softmax(logits)[target] and its gradient w · (softmax - onehot).
   */
  crossEntropy: "TunebookCrossEntropy",
} as const;

/**
 * Causal attention's products (CAUSAL_PRODUCTS), as the kernels number them: which operand is
 * scores-shaped [queries, keys] and so which part of the product the causal mask zeroes.
 */
export const CAUSAL = {
  /** The output is scores (q kᵀ, dOut vᵀ): tiles past every row's last key stay zero. */
  output: 1,
  /** The left operand is probabilities or their gradient (p v, dScores k). */
  rows: 2,
  /** The left operand is probabilities read transposed (pᵀ dOut, dScoresᵀ q). */
  columns: 3,
} as const;

/**
 * {a, b} [n, ., .], attrs {transA, transB, causal, period, offset}: a batched product that skips
 * what a causal mask zeroes, for query groups of `period` rows seeing keys up to their position
 * + `offset`.
 */
export const CAUSAL_PRODUCTS = "TunebookCausalProducts";

/** a [n, r, k] @ b [n, k, c] as n plain products, in one kernel call (see installHeadProducts). */
export const HEAD_PRODUCTS = "TunebookHeadProducts";

let installed = false;
let simd: SimdKernels | null = null;
/** Where the memory is shared and there is more than one thread: the product threads. */
let threads: ProductThreads | null = null;
/**
 * Installs the kernels below in place of the wasm backend's own (once per process). Matrix
 * products go to tunebook's own SIMD kernels where they load; otherwise attention's per-head
 * products at least take XNNPACK's plain path (HEAD_PRODUCTS).
 */
export function installWasmKernels(backend: tf.KernelBackend, productThreads = 1): void {
  if (installed || tf.getKernel(tf.Slice, "wasm") === undefined) return;
  installed = true;
  override(tf.Slice, slice);
  override(tf.Transpose, transpose);
  override(tf.Identity, identity);
  override(tf.Cast, cast);
  const { wasm } = backend as unknown as WasmBackendLike;
  const memory = wasm.asm.memory ?? wasm.wasmMemory;
  simd = loadSimdKernels(memory);
  const shared = memory !== undefined && memory.buffer instanceof SharedArrayBuffer;
  if (simd !== null && shared && productThreads > 1) {
    threads = new ProductThreads(simd, memory, productThreads);
  }
  if (simd !== null) {
    override(tf.GatherV2, gather);
    tf.registerKernel({
      kernelName: CAUSAL_PRODUCTS, backendName: "wasm", kernelFunc: (args) => batchMatMul(args),
    });
    override(tf.BatchMatMul, batchMatMul);
    tf.registerKernel({ kernelName: ADAMW_UPDATE, backendName: "wasm", kernelFunc: adamwUpdate });
    registerFused(simd);
  } else {
    installHeadProducts();
  }
}

/** Threads tunebook's products run on: more than one only on the threaded build. */
export function productThreadCount(): number {
  return threads?.threads ?? 1;
}

/** "fma" or "simd" for tunebook's own product kernels, "off" where they did not load. */
export function productKernels(): "fma" | "simd" | "off" {
  return simd === null ? "off" : simd.fma ? "fma" : "simd";
}

/**
 * BatchMatMul: XNNPACK, the stock kernel's fast path, takes only plain 2-D products and repacks
 * the right operand on every call; transposed or batched products fall to a loop about ten
 * times slower. Ours packs the operands into panels and multiplies 4×8 blocks with SIMD (fused
 * multiply-add where relaxed SIMD is on), batched or not, transposed or not. Broadcast batches
 * and other dtypes keep the stock kernel.
 */
function batchMatMul(args: KernelArgs, stock?: tf.KernelFunc): tf.TensorInfo | tf.TensorInfo[] {
  const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  const attrs = args.attrs as unknown as tf.BatchMatMulAttrs & Partial<CausalAttrs>;
  const { transposeA, transposeB } = attrs;
  const ra = a.shape.length;
  const rb = b.shape.length;
  const batch = a.shape.slice(0, -2);
  const sameBatch = ra === rb && batch.every((d, i) => d === b.shape[i]);
  const [M, K] = transposeA ? [a.shape[ra - 1], a.shape[ra - 2]] : [a.shape[ra - 2], a.shape[ra - 1]];
  const [Kb, N] = transposeB ? [b.shape[rb - 1], b.shape[rb - 2]] : [b.shape[rb - 2], b.shape[rb - 1]];
  const fits = sameBatch && a.dtype === "float32" && b.dtype === "float32" && Kb === K;
  if (stock !== undefined && (!fits || M === 0 || N === 0)) return stock(args);
  if (!fits) {
    throw new Error(`${CAUSAL_PRODUCTS}: cannot multiply [${a.shape}] by [${b.shape}]`);
  }
  const backend = args.backend as unknown as WasmBackendLike;
  const n = tf.util.sizeFromShape(batch);
  const parts = threads?.partsFor({ n, M, K, N }) ?? 1;
  // Each part's scratch starts on a cache line of its own.
  const workFloats = (simd!.gemmWorkFloats(M, K, N) + 15) & ~15;
  const out = backend.makeOutput([...batch, M, N], "float32");
  const work = backend.makeOutput([parts * workFloats], "float32");
  const [pa, pb, pc, pw] = [a, b, out, work].map((t) => backend.dataIdMap.get(t.dataId).memoryOffset);
  const { causal = 0, period = 1, offset = 0 } = attrs;
  if (parts > 1) {
    const product = {
      a: pa, b: pb, c: pc, n, M, K, N, transA: transposeA, transB: transposeB, causal, period,
      offset,
    };
    threads!.run(product, pw, workFloats * 4, parts);
  } else {
    simd!.gemmBatch(pa, pb, pc, n, M, K, N, transposeA, transposeB, pw, causal, period, offset);
  }
  backend.disposeData(work.dataId);
  return out;
}

/** The attributes of CAUSAL_PRODUCTS beyond BatchMatMul's. */
export interface CausalAttrs {
  causal: (typeof CAUSAL)[keyof typeof CAUSAL];
  /** Query rows per group: the rows of a scores matrix repeat their positions every period. */
  period: number;
  /** Keys before the first query (cached positions): query t sees keys 0 … t + offset. */
  offset: number;
}

/**
 * AdamW in one pass over each parameter instead of some fifteen kernels (and as many scalar
 * tensors for the constants) per parameter and step.
 */
function adamwUpdate(args: KernelArgs): tf.TensorInfo[] {
  const backend = args.backend as unknown as WasmBackendLike;
  const { p, g, m, v } = args.inputs as Record<string, tf.TensorInfo>;
  const a = args.attrs as unknown as AdamWUpdateAttrs;
  const outs = [p, m, v].map((t) => backend.makeOutput(t.shape, "float32"));
  const ptr = [p, g, m, v, ...outs].map((t) => backend.dataIdMap.get(t.dataId).memoryOffset);
  const n = tf.util.sizeFromShape(p.shape);
  simd!.adamw(
    ptr[0], ptr[1], ptr[2], ptr[3], ptr[4], ptr[5], ptr[6], n,
    a.beta1, a.beta2, a.epsilon, a.stepSize, a.correction2, a.decay,
  );
  return outs;
}

/** Registers the FUSED kernels, each one pass of `kernels` over the wasm heap. */
function registerFused(kernels: SimdKernels): void {
  const register = (name: string, run: (io: FusedCall) => void, outputs: OutputSpec): void => {
    tf.registerKernel({
      kernelName: name,
      backendName: "wasm",
      kernelFunc: (args) => {
        const backend = args.backend as unknown as WasmBackendLike;
        const inputs = args.inputs as Record<string, tf.TensorInfo>;
        const outs = outputs(inputs).map((shape) => backend.makeOutput(shape, "float32"));
        // Offsets are read after every makeOutput, which may grow the heap.
        const at = (t: tf.TensorInfo): number => backend.dataIdMap.get(t.dataId).memoryOffset;
        const ptr = Object.fromEntries(Object.entries(inputs).map(([k, t]) => [k, at(t)]));
        run({ inputs, ptr, out: outs.map(at), attrs: args.attrs as Record<string, unknown> });
        return outs.length === 1 ? outs[0] : outs;
      },
    });
  };
  const size = (t: tf.TensorInfo): number => tf.util.sizeFromShape(t.shape);
  register(FUSED.swiglu, ({ inputs, ptr, out }) => {
    kernels.swiglu(ptr.gate, ptr.up, out[0], size(inputs.gate));
  }, (i) => [i.gate.shape]);
  register(FUSED.swigluGrad, ({ inputs, ptr, out }) => {
    kernels.swigluGrad(ptr.gate, ptr.up, ptr.dy, out[0], out[1], size(inputs.gate));
  }, (i) => [i.gate.shape, i.up.shape]);
  register(FUSED.rmsNorm, ({ inputs, ptr, out, attrs }) => {
    const [rows, D] = inputs.x.shape;
    kernels.rmsNorm(ptr.x, ptr.weight, out[0], out[1], rows, D, attrs.eps as number);
  }, (i) => [i.x.shape, [i.x.shape[0]]]);
  register(FUSED.rmsNormGrad, ({ inputs, ptr, out }) => {
    const [rows, D] = inputs.x.shape;
    kernels.rmsNormGrad(ptr.x, ptr.weight, ptr.r, ptr.dy, out[0], out[1], rows, D);
  }, (i) => [i.x.shape, i.weight.shape]);
  register(FUSED.rope, ({ inputs, ptr, out, attrs }) => {
    const [B, T, H, hd] = inputs.x.shape;
    const tableBatch = inputs.cos.shape[0] !== 1;
    kernels.rope(ptr.x, ptr.cos, ptr.sin, out[0], B, T, H, hd, tableBatch, attrs.backward === true);
  }, (i) => [i.x.shape]);
  register(FUSED.softmaxBias, ({ inputs, ptr, out }) => {
    const [B, H, T, S] = inputs.x.shape;
    const biasBatch = inputs.bias.shape[0] !== 1;
    kernels.softmaxBias(ptr.x, ptr.bias, out[0], B, H, T, S, biasBatch);
  }, (i) => [i.x.shape]);
  register(FUSED.softmaxGrad, ({ inputs, ptr, out }) => {
    const S = inputs.p.shape[inputs.p.shape.length - 1];
    kernels.softmaxGrad(ptr.p, ptr.dp, out[0], size(inputs.p) / S, S);
  }, (i) => [i.p.shape]);
  register(FUSED.crossEntropy, ({ inputs, ptr, out }) => {
    const [N, V] = inputs.logits.shape;
    kernels.crossEntropy(ptr.logits, ptr.targets, ptr.weights, out[0], out[1], N, V);
  }, (i) => [[i.logits.shape[0]], i.logits.shape]);
}

interface FusedCall {
  inputs: Record<string, tf.TensorInfo>;
  ptr: Record<string, number>;
  out: number[];
  attrs: Record<string, unknown>;
}
type OutputSpec = (inputs: Record<string, tf.TensorInfo>) => number[][];

/**
 * GatherV2 along the first axis (embedding and rotary-table lookups): the stock kernel computes
 * every element's source index through strides, 3.5 ms for 1 024 rows of 64 floats; a row at a
 * time is one copy. Indices are checked as the stock kernel checks them; other axes, batch
 * dimensions and dtypes keep the stock kernel.
 */
function gather(args: KernelArgs, stock: tf.KernelFunc): tf.TensorInfo | tf.TensorInfo[] {
  const { x, indices } = args.inputs as { x: tf.TensorInfo; indices: tf.TensorInfo };
  const { axis, batchDims } = args.attrs as unknown as tf.GatherV2Attrs;
  const first = tf.util.parseAxisParam(axis, x.shape)[0] === 0;
  const plain = x.dtype === "float32" || x.dtype === "int32";
  if (!first || batchDims !== 0 || !plain || indices.dtype !== "int32" || x.shape.length === 0) {
    return stock(args);
  }
  const backend = args.backend as unknown as WasmBackendLike;
  const rows = x.shape[0];
  const ids = backend.typedArrayFromHeap(indices);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (!(id >= 0 && id < rows)) {
      throw new Error(`GatherV2: the index value ${id} is not in [0, ${rows - 1}]`);
    }
  }
  const out = backend.makeOutput([...indices.shape, ...x.shape.slice(1)], x.dtype);
  const [src, idx, dst] = [x, indices, out].map((t) => backend.dataIdMap.get(t.dataId).memoryOffset);
  const rowBytes = 4 * tf.util.sizeFromShape(x.shape.slice(1));
  simd!.gatherRows(src, idx, dst, ids.length, rowBytes);
  return out;
}

/**
 * Cast: tfjs casts to float32 inside many gradients (every product's, every multiply's) even
 * when the tensor already is one, and the stock kernel copies it. A cast to the same dtype shares
 * the data, as Identity does.
 */
function cast(args: KernelArgs, stock: tf.KernelFunc): tf.TensorInfo | tf.TensorInfo[] {
  const x = args.inputs.x as tf.TensorInfo;
  const { dtype } = args.attrs as unknown as tf.CastAttrs;
  if (x.dtype !== dtype || dtype === "string") return stock(args);
  return identity(args, stock);
}

type KernelArgs = Parameters<tf.KernelFunc>[0];
type Replacement = (args: KernelArgs, stock: tf.KernelFunc) => tf.TensorInfo | tf.TensorInfo[];

/** Puts `replacement` in place of the stock wasm kernel, which it calls for cases it leaves. */
function override(name: string, replacement: Replacement): void {
  const stock = tf.getKernel(name, "wasm")!;
  tf.unregisterKernel(name, "wasm");
  tf.registerKernel({
    kernelName: name,
    backendName: "wasm",
    kernelFunc: (args) => replacement(args, stock.kernelFunc),
  });
}

/**
 * Slice: the stock kernel first copies the whole input out of the wasm heap, so cutting a
 * tensor into n pieces costs n full copies. A contiguous slice only needs its own elements,
 * read through a view of the heap; other slices keep the stock kernel.
 */
function slice(args: KernelArgs, stock: tf.KernelFunc): tf.TensorInfo | tf.TensorInfo[] {
  const x = args.inputs.x as tf.TensorInfo;
  const attrs = args.attrs as unknown as tf.SliceAttrs;
  const [begin, size] = tf.slice_util.parseSliceParams(x as tf.Tensor, attrs.begin, attrs.size);
  if (x.dtype === "string" || !tf.slice_util.isSliceContinous(x.shape, begin, size)) {
    return stock(args);
  }
  const backend = args.backend as unknown as WasmBackendLike;
  const out = backend.makeOutput(size, x.dtype);
  const offset = tf.slice_util.computeFlatOffset(begin, tf.util.computeStrides(x.shape));
  // Views are taken after makeOutput, which may grow (and so move) the heap.
  const src = backend.typedArrayFromHeap(x);
  backend.typedArrayFromHeap(out).set(src.subarray(offset, offset + tf.util.sizeFromShape(size)));
  return out;
}

/**
 * Identity: tfjs clones every tensor it saves for the backward pass, and the stock kernel
 * copies the data (a toy training step made 423 such copies). Tensors are immutable, so a clone
 * can share its data and count one more reference, as the cpu backend's clone does.
 */
function identity(args: KernelArgs, stock: tf.KernelFunc): tf.TensorInfo | tf.TensorInfo[] {
  const x = args.inputs.x as tf.TensorInfo;
  if (x.dtype === "string") return stock(args);
  (args.backend as unknown as WasmBackendLike).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

// Edge of the square tiles the transpose copies: small enough that a tile's rows and columns
// stay in the first-level cache (measured best among 8, 16 and 32 for the shapes training uses).
const TILE = 8;

/**
 * Transpose: swapping the last two axes (every weight gradient and attention's key transpose
 * does) runs in the stock kernel as a plain double loop whose writes stride by whole rows,
 * which misses the cache on tall matrices: [1024, 256] took 2.2 ms. Copied tile by tile it
 * takes 0.34 ms. Other permutations keep the stock kernel.
 */
function transpose(args: KernelArgs, stock: tf.KernelFunc): tf.TensorInfo | tf.TensorInfo[] {
  const x = args.inputs.x as tf.TensorInfo;
  const { perm } = args.attrs as unknown as tf.TransposeAttrs;
  const rank = x.shape.length;
  if (rank < 2 || (x.dtype !== "float32" && x.dtype !== "int32")) return stock(args);
  const middle = swappedPair(perm);
  if (simd !== null && middle >= 0 && middle < rank - 2) {
    // [A, R, C, inner] → [A, C, R, inner]: heads in and out of [B, T, heads, head_dim].
    const shape = x.shape;
    const backend = args.backend as unknown as WasmBackendLike;
    const out = backend.makeOutput(perm.map((p) => shape[p]), x.dtype);
    const [src, dst] = [x, out].map((t) => backend.dataIdMap.get(t.dataId).memoryOffset);
    const A = tf.util.sizeFromShape(shape.slice(0, middle));
    const inner = tf.util.sizeFromShape(shape.slice(middle + 2));
    simd.swapMiddle(src, dst, A, shape[middle], shape[middle + 1], inner);
    return out;
  }
  if (middle !== rank - 2) return stock(args);
  const R = x.shape[rank - 2];
  const C = x.shape[rank - 1];
  const backend = args.backend as unknown as WasmBackendLike;
  const out = backend.makeOutput([...x.shape.slice(0, -2), C, R], x.dtype);
  if (simd !== null) {
    const [src, dst] = [x, out].map((t) => backend.dataIdMap.get(t.dataId).memoryOffset);
    simd.transpose(src, dst, tf.util.sizeFromShape(x.shape) / (R * C), R, C);
    return out;
  }
  transposeTiles(backend.typedArrayFromHeap(x), backend.typedArrayFromHeap(out), R, C);
  return out;
}

/** i where perm swaps axes i and i + 1 and keeps every other axis, else -1. */
function swappedPair(perm: number[]): number {
  const i = perm.findIndex((p, k) => p !== k);
  if (i < 0 || i + 1 >= perm.length || perm[i] !== i + 1 || perm[i + 1] !== i) return -1;
  for (let k = i + 2; k < perm.length; k++) if (perm[k] !== k) return -1;
  return i;
}

/** dst[b][j][i] = src[b][i][j] for every [R, C] matrix b in src. */
function transposeTiles(src: tf.TypedArray, dst: tf.TypedArray, R: number, C: number): void {
  const size = R * C;
  for (let base = 0; base < src.length; base += size) {
    for (let i0 = 0; i0 < R; i0 += TILE) {
      const i1 = Math.min(R, i0 + TILE);
      for (let j0 = 0; j0 < C; j0 += TILE) {
        const j1 = Math.min(C, j0 + TILE);
        for (let i = i0; i < i1; i++) {
          const row = base + i * C;
          let o = base + j0 * R + i;
          for (let j = j0; j < j1; j++, o += R) dst[o] = src[row + j];
        }
      }
    }
  }
}

/**
 * n plain products in one kernel. XNNPACK, wasm's fast matrix product, takes only plain 2-D
 * operands, and cutting a batched product into n tensors costs n slices, products and bookkeeping
 * steps in tfjs (about 40 µs each, more than a 128×128 product). Here each piece is registered
 * with the backend as a view at its offset inside the operands and the output, multiplied by the
 * backend's own product, and unregistered; no data moves.
 */
function installHeadProducts(): void {
  let product: ((...args: unknown[]) => void) | undefined;
  tf.registerKernel({
    kernelName: HEAD_PRODUCTS,
    backendName: "wasm",
    kernelFunc: (args) => {
      const backend = args.backend as unknown as WasmBackendLike;
      const a = args.inputs.a as tf.TensorInfo;
      const b = args.inputs.b as tf.TensorInfo;
      const [n, r, k] = a.shape;
      const c = b.shape[2];
      product ??= backend.wasm.cwrap("BatchMatMul", null, [
        "number", "array", "number", "number", "array", "number", "number", "number", "number",
      ]);
      const out = backend.makeOutput([n, r, c], "float32");
      const bases = [a, b, out].map((t) => backend.dataIdMap.get(t.dataId).memoryOffset);
      const sizes = [r * k, k * c, r * c];
      const aShape = new Uint8Array(new Int32Array([1, r, k]).buffer);
      const bShape = new Uint8Array(new Int32Array([1, k, c]).buffer);
      const { registerTensor, disposeData } = backend.wasm.tfjs;
      for (let i = 0; i < n; i++) {
        const ids = sizes.map((size, j) => {
          const id = backend.dataIdNextNumber++;
          registerTensor(id, size, bases[j] + 4 * i * size);
          return id;
        });
        product(ids[0], aShape, 3, ids[1], bShape, 3, false, false, ids[2]);
        for (const id of ids) disposeData(id);
      }
      return out;
    },
  });
}
