// Loads tunebook's own wasm kernels (lib/engine/simd/kernels.ts, built into dist/wasm/ by
// `npm run build:simd`) on top of the tfjs wasm backend's memory, so they read and write its
// tensors in place (the threaded build's memory is shared and takes kernels built for that). The
// build with relaxed SIMD (fused multiply-add) is preferred; Node 20 has it behind a V8 flag,
// which is switched on only if the module does not validate without it.
import fs from "node:fs";
import path from "node:path";
import v8 from "node:v8";

export interface SimdKernels {
  /**
   * c = op(a) · op(b), all byte offsets: a stored [M, K] ([K, M] when transA), b stored [K, N]
   * ([N, K] when transB); `work` holds gemmWorkFloats(M, K, N) floats of scratch. `causal` is
   * 0 for a full product or a causal attention mode (CAUSAL in wasm-kernels.ts) with the query
   * group `period` and key `offset`.
   */
  gemm(
    a: number, b: number, c: number, M: number, K: number, N: number, transA: boolean,
    transB: boolean, work: number, causal: number, period: number, offset: number,
  ): void;
  gemmBatch(
    a: number, b: number, c: number, n: number, M: number, K: number, N: number, transA: boolean,
    transB: boolean, work: number, causal: number, period: number, offset: number,
  ): void;
  /** Part `part` of `parts` of gemmBatch's products, for threads on one shared memory. */
  gemmPart(
    a: number, b: number, c: number, n: number, M: number, K: number, N: number, transA: boolean,
    transB: boolean, work: number, causal: number, period: number, offset: number, part: number,
    parts: number,
  ): void;
  gemmWorkFloats(M: number, K: number, N: number): number;
  /** dst [n, C, R] = src [n, R, C], 4-byte elements. */
  transpose(src: number, dst: number, n: number, R: number, C: number): void;
  adamw(
    p: number, g: number, m: number, v: number, pOut: number, mOut: number, vOut: number,
    n: number, beta1: number, beta2: number, eps: number, stepSize: number,
    correction2: number, decay: number,
  ): void;
  swiglu(g: number, u: number, y: number, n: number): void;
  swigluGrad(g: number, u: number, dy: number, dg: number, du: number, n: number): void;
  rmsNorm(x: number, w: number, y: number, r: number, rows: number, D: number, eps: number): void;
  rmsNormGrad(
    x: number, w: number, r: number, dy: number, dx: number, dw: number, rows: number, D: number,
  ): void;
  rope(
    x: number, cos: number, sin: number, y: number, B: number, T: number, H: number, hd: number,
    tableBatch: boolean, backward: boolean,
  ): void;
  softmaxBias(
    x: number, bias: number, y: number, B: number, H: number, T: number, S: number,
    biasBatch: boolean,
  ): void;
  softmaxGrad(p: number, dp: number, dx: number, rows: number, S: number): void;
  /** dst [A, C, R, inner] = src [A, R, C, inner], 4-byte elements. */
  swapMiddle(src: number, dst: number, A: number, R: number, C: number, inner: number): void;
  /** dst [n, row] = src rows idx [n]. */
  gatherRows(src: number, idx: number, dst: number, n: number, rowBytes: number): void;
  /** loss [rows] and grad [rows, V] of weighted cross-entropy against int32 targets. */
  crossEntropy(
    x: number, targets: number, w: number, loss: number, grad: number, rows: number, V: number,
  ): void;
  /** True where the products use fused multiply-add (relaxed SIMD). */
  fma: boolean;
  /** The compiled kernels, for worker threads to instantiate on the same shared memory. */
  module: WebAssembly.Module;
}

const WASM_DIR = path.resolve(
  path.dirname(new URL(import.meta.url).pathname),
  import.meta.url.includes("/dist/") ? "../../wasm" : "../../dist/wasm",
);

/**
 * The kernels on `memory`, or null where they cannot run (not built, or no memory). The threaded
 * build's memory is shared, and takes the kernels built for a shared memory.
 */
export function loadSimdKernels(memory: WebAssembly.Memory | undefined): SimdKernels | null {
  if (memory === undefined) return null;
  const module = compileKernels(memory);
  if (module === null) return null;
  const instance = new WebAssembly.Instance(module.module, { env: { memory } });
  return { ...(instance.exports as unknown as Omit<SimdKernels, "fma" | "module">), ...module };
}

/** The compiled kernels for `memory`'s kind, and whether they multiply-add. */
function compileKernels(
  memory: WebAssembly.Memory,
): { module: WebAssembly.Module; fma: boolean } | null {
  const shared =
    typeof SharedArrayBuffer !== "undefined" && memory.buffer instanceof SharedArrayBuffer;
  const kind = shared ? "kernels-shared" : "kernels";
  const relaxed = readWasm(`${kind}-relaxed.wasm`);
  const plain = readWasm(`${kind}.wasm`);
  const fma = relaxed !== null && relaxedSimdValidates(relaxed);
  const bytes = fma ? relaxed : plain;
  if (bytes === null || !WebAssembly.validate(bytes)) return null;
  return { module: new WebAssembly.Module(bytes), fma };
}

/** Whether the kernels for the threaded build's shared memory were built. */
export function sharedKernelsBuilt(): boolean {
  return ["kernels-shared.wasm", "kernels-shared-relaxed.wasm"].some((f) =>
    fs.existsSync(path.join(WASM_DIR, f)),
  );
}

function readWasm(name: string): Uint8Array | null {
  try {
    return fs.readFileSync(path.join(WASM_DIR, name));
  } catch {
    return null;
  }
}

function relaxedSimdValidates(bytes: Uint8Array): boolean {
  if (WebAssembly.validate(bytes)) return true;
  v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
  return WebAssembly.validate(bytes);
}
