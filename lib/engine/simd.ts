// Loads tunebook's own wasm kernels (lib/engine/simd/kernels.ts, built into dist/wasm/ by
// `npm run build:simd`) on top of the tfjs wasm backend's memory, so they read and write its
// tensors in place. The build with relaxed SIMD (fused multiply-add) is preferred; Node 20 has
// it behind a V8 flag, which is switched on only if the module does not validate without it.
import fs from "node:fs";
import path from "node:path";
import v8 from "node:v8";

export interface SimdKernels {
  /** c = a · b (a stored [K, M] and read transposed when transA), all byte offsets. */
  gemm(a: number, b: number, c: number, M: number, K: number, N: number, transA: boolean): void;
  gemmBatch(
    a: number, b: number, c: number, n: number, M: number, K: number, N: number, transA: boolean,
  ): void;
  /** dst [n, C, R] = src [n, R, C], 4-byte elements. */
  transpose(src: number, dst: number, n: number, R: number, C: number): void;
  adamw(
    p: number, g: number, m: number, v: number, pOut: number, mOut: number, vOut: number,
    n: number, beta1: number, beta2: number, eps: number, stepSize: number,
    correction2: number, decay: number,
  ): void;
  /** True where the products use fused multiply-add (relaxed SIMD). */
  fma: boolean;
}

const WASM_DIR = path.resolve(
  path.dirname(new URL(import.meta.url).pathname),
  import.meta.url.includes("/dist/") ? "../../wasm" : "../../dist/wasm",
);

/** The kernels on `memory`, or null where they cannot run (not built, or a shared memory). */
export function loadSimdKernels(memory: WebAssembly.Memory): SimdKernels | null {
  // The threaded build's memory is shared; the kernels are built for a plain one.
  if (typeof SharedArrayBuffer !== "undefined" && memory.buffer instanceof SharedArrayBuffer) {
    return null;
  }
  const relaxed = readWasm("kernels-relaxed.wasm");
  const plain = readWasm("kernels.wasm");
  const fma = relaxed !== null && relaxedSimdValidates(relaxed);
  const bytes = fma ? relaxed : plain;
  if (bytes === null || !WebAssembly.validate(bytes)) return null;
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
  const e = instance.exports as unknown as Omit<SimdKernels, "fma">;
  return { gemm: e.gemm, gemmBatch: e.gemmBatch, transpose: e.transpose, adamw: e.adamw, fma };
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
