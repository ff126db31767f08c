// Picks the TensorFlow.js backend once per process: node-gpu, node, wasm, then cpu.
// TUNEBOOK_BACKEND (tensorflow | wasm | cpu) overrides the order.
import * as os from "node:os";
import * as tf from "@tensorflow/tfjs";
import { TunebookError } from "../errors.js";
import { installWasmKernels, productKernels, productThreadCount } from "./wasm-kernels.js";
import { registerThreadedWasm } from "./wasm-threads.js";

export type BackendName = "tensorflow" | "wasm" | "cpu";

let chosen: Promise<BackendName> | undefined;

async function tryNative(pkg: string): Promise<boolean> {
  try {
    await import(pkg);
  } catch {
    return false;
  }
  // The danfojs override maps @tensorflow/tfjs-node to plain tfjs, so importing it proves nothing:
  // only a registered "tensorflow" factory means the native binding loaded.
  if (tf.findBackendFactory("tensorflow") === null) return false;
  return tf.setBackend("tensorflow");
}

let wasmThreadsInUse = 1;

async function tryWasm(): Promise<boolean> {
  const threads = wasmThreads();
  let wasm: typeof import("@tensorflow/tfjs-backend-wasm");
  let ok: boolean;
  try {
    wasm = await import("@tensorflow/tfjs-backend-wasm");
    if (threads > 1) registerThreadedWasm(wasm, threads);
    ok = await tf.setBackend("wasm");
    dropEmscriptenHandlers();
  } catch (err) {
    if (err instanceof TunebookError) throw err;
    return false;
  }
  if (!ok && threads > 1) {
    throw new TunebookError(
      `TUNEBOOK_WASM_THREADS=${threads}: the threaded wasm build did not start (see the line ` +
        `above); unset the variable to run on one thread`,
    );
  }
  if (ok) {
    // Outside the try: a failure here is tunebook's own and must not pass for a missing backend.
    installWasmKernels(tf.backend(), threads);
    wasmThreadsInUse = threads > 1 ? Math.max(productThreadCount(), wasm.getThreadsCount()) : 1;
  }
  return ok;
}

/** Threads for the wasm backend: TUNEBOOK_WASM_THREADS, else 1. */
function wasmThreads(): number {
  const raw = process.env.TUNEBOOK_WASM_THREADS?.trim();
  if (raw === undefined || raw === "") return 1;
  // The threaded build starts a pool of 8 workers; more threads than that are not possible.
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 8) {
    throw new TunebookError(`TUNEBOOK_WASM_THREADS=${raw} must be a whole number from 1 to 8`);
  }
  // Threads wait for work by watching for it, so more of them than cores take turns on a core
  // and every product waits for the slowest (8 on 2 cores: steps 24 times slower).
  const cores = os.availableParallelism();
  if (Number(raw) > cores) {
    process.stderr.write(
      `tunebook: TUNEBOOK_WASM_THREADS=${raw} is more than this machine's ${cores} ` +
        `core${cores === 1 ? "" : "s"}; using ${cores}\n`,
    );
    return cores;
  }
  return Number(raw);
}

/**
 * The wasm module's Emscripten glue installs process-wide handlers that rethrow every uncaught
 * error from inside its own minified source, so any failure anywhere prints a screen of wasm
 * glue. Errors are ours to report: remove them.
 */
function dropEmscriptenHandlers(): void {
  const isGlue = (f: unknown) => /ExitStatus|throw reason/.test(String(f));
  for (const f of process.listeners("uncaughtException")) {
    if (isGlue(f)) process.removeListener("uncaughtException", f);
  }
  for (const f of process.listeners("unhandledRejection")) {
    if (isGlue(f)) process.removeListener("unhandledRejection", f);
  }
}

async function pick(): Promise<BackendName> {
  const wanted = process.env.TUNEBOOK_BACKEND?.trim().toLowerCase();
  if (wanted !== undefined && wanted !== "") {
    const native = wanted === "tensorflow" || wanted === "node" || wanted === "node-gpu";
    if (!native && wanted !== "wasm" && wanted !== "cpu") {
      throw new TunebookError(`TUNEBOOK_BACKEND=${wanted} is not a backend; use tensorflow, wasm or cpu`);
    }
    const ok =
      native
        ? (await tryNative("@tensorflow/tfjs-node-gpu")) || (await tryNative("@tensorflow/tfjs-node"))
        : wanted === "wasm"
          ? await tryWasm()
          : wanted === "cpu"
            ? await tf.setBackend("cpu")
            : false;
    if (!ok) {
      throw new TunebookError(
        `TUNEBOOK_BACKEND=${wanted} could not be started here` +
          (native ? " (@tensorflow/tfjs-node-gpu or -node is not installed); use wasm or cpu" : ""),
      );
    }
  } else {
    const ok =
      (await tryNative("@tensorflow/tfjs-node-gpu")) ||
      (await tryNative("@tensorflow/tfjs-node")) ||
      (await tryWasm()) ||
      (await tf.setBackend("cpu"));
    if (!ok) throw new Error("no TensorFlow.js backend could be started");
  }
  await tf.ready();
  return tf.getBackend() as BackendName;
}

/** Starts the backend (once) and returns its name. */
export function initBackend(): Promise<BackendName> {
  chosen ??= pick();
  return chosen;
}

/** One line for log headers, e.g. "backend wasm (simd, 1 thread, fma products)". */
export function describeBackend(): string {
  const name = tf.getBackend();
  if (name === "wasm") {
    const simd = tf.env().getBool("WASM_HAS_SIMD_SUPPORT") ? "simd" : "no simd";
    const threads = wasmThreadsInUse > 1 ? `${wasmThreadsInUse} threads` : "1 thread";
    const kernels = productKernels();
    const products = kernels === "off" ? "" : `, ${kernels} products`;
    return `backend wasm (${simd}, ${threads}${products})`;
  }
  return `backend ${name}`;
}
