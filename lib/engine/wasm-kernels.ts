// Replacements for wasm backend kernels whose stock versions cost far more than their work:
// each handles the common case itself and hands every other case to the stock kernel.
import * as tf from "@tensorflow/tfjs";
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
    asm: { memory: WebAssembly.Memory };
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

/** a [n, r, k] @ b [n, k, c] as n plain products, in one kernel call (see installHeadProducts). */
export const HEAD_PRODUCTS = "TunebookHeadProducts";

let installed = false;
let simd: SimdKernels | null = null;

/**
 * Installs the kernels below in place of the wasm backend's own (once per process). Matrix
 * products go to tunebook's own SIMD kernels where they load; otherwise attention's per-head
 * products at least take XNNPACK's plain path (HEAD_PRODUCTS).
 */
export function installWasmKernels(backend: tf.KernelBackend): void {
  if (installed || tf.getKernel(tf.Slice, "wasm") === undefined) return;
  installed = true;
  override(tf.Slice, slice);
  override(tf.Transpose, transpose);
  override(tf.Identity, identity);
  override(tf.Cast, cast);
  simd = loadSimdKernels((backend as unknown as WasmBackendLike).wasm.asm.memory);
  if (simd !== null) {
    override(tf.BatchMatMul, batchMatMul);
    tf.registerKernel({ kernelName: ADAMW_UPDATE, backendName: "wasm", kernelFunc: adamwUpdate });
  } else {
    installHeadProducts();
  }
}

/** "fma" or "simd" for tunebook's own product kernels, "off" where they did not load. */
export function productKernels(): "fma" | "simd" | "off" {
  return simd === null ? "off" : simd.fma ? "fma" : "simd";
}

/**
 * BatchMatMul: XNNPACK, the stock kernel's fast path, takes only plain 2-D products and repacks
 * the right operand on every call; transposed or batched products fall to a loop about ten
 * times slower. Ours multiplies 4×8 blocks with SIMD (fused multiply-add where relaxed SIMD is
 * on), batched or not, and reads a transposed left operand in place. A transposed right
 * operand, broadcast batches and other dtypes keep the stock kernel.
 */
function batchMatMul(args: KernelArgs, stock: tf.KernelFunc): tf.TensorInfo | tf.TensorInfo[] {
  const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  const { transposeA, transposeB } = args.attrs as unknown as tf.BatchMatMulAttrs;
  const ra = a.shape.length;
  const rb = b.shape.length;
  const batch = a.shape.slice(0, -2);
  const sameBatch = ra === rb && batch.every((d, i) => d === b.shape[i]);
  if (transposeB || !sameBatch || a.dtype !== "float32" || b.dtype !== "float32") {
    return stock(args);
  }
  const [M, K] = transposeA ? [a.shape[ra - 1], a.shape[ra - 2]] : [a.shape[ra - 2], a.shape[ra - 1]];
  const N = b.shape[rb - 1];
  if (b.shape[rb - 2] !== K || M === 0 || N === 0) return stock(args);
  const backend = args.backend as unknown as WasmBackendLike;
  const out = backend.makeOutput([...batch, M, N], "float32");
  const n = tf.util.sizeFromShape(batch);
  // Read in place, a transposed operand's rows lie M floats apart; past a few hundred floats
  // those reads keep evicting each other from the cache, and transposing it first is faster.
  const copy = transposeA && M > TRANSPOSED_READ_MAX ? backend.makeOutput([n, M, K], "float32") : null;
  const [pa, pb, pc] = [copy ?? a, b, out].map((t) => backend.dataIdMap.get(t.dataId).memoryOffset);
  if (copy !== null) simd!.transpose(backend.dataIdMap.get(a.dataId).memoryOffset, pa, n, K, M);
  const readTransposed = transposeA && copy === null;
  if (n === 1) simd!.gemm(pa, pb, pc, M, K, N, readTransposed);
  else simd!.gemmBatch(pa, pb, pc, n, M, K, N, readTransposed);
  if (copy !== null) backend.disposeData(copy.dataId);
  return out;
}

// Widest transposed left operand (in floats per row) that the product reads in place.
const TRANSPOSED_READ_MAX = 256;

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
  if (rank < 2 || (x.dtype !== "float32" && x.dtype !== "int32") || !swapsLastTwo(perm)) {
    return stock(args);
  }
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

function swapsLastTwo(perm: number[]): boolean {
  const n = perm.length;
  for (let i = 0; i < n - 2; i++) if (perm[i] !== i) return false;
  return perm[n - 2] === n - 1 && perm[n - 1] === n - 2;
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
