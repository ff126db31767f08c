// tfjs's threaded wasm build under Node. tfjs starts it only in browsers: its loader hands
// Emscripten blob: URLs, which Node's worker threads cannot open. Here the same build is started
// with real file paths on a shared memory created here, so that tunebook's kernels and their
// product threads (product-threads.ts) can run on it; its own pool is sized on purpose.
import * as tf from "@tensorflow/tfjs";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import * as os from "node:os";
import * as path from "node:path";
import { Worker, type WorkerOptions } from "node:worker_threads";
import { sharedKernelsBuilt } from "./simd.js";

const require = createRequire(import.meta.url);

/** What the threaded Emscripten module exposes that the backend needs. */
interface EmscriptenModule {
  cwrap(name: string, ret: string | null, args: string[]): (...a: number[]) => number;
  tfjs?: Record<string, (...a: number[]) => number>;
  PThread?: { runningWorkers: { unref(): void }[] };
}

type WasmPackage = typeof import("@tensorflow/tfjs-backend-wasm");
type BackendModule = ConstructorParameters<WasmPackage["BackendWasm"]>[0];

/**
 * Registers "wasm" as the threaded build with `threads` threads, in place of tfjs's own loader.
 * Call before the backend is first set.
 */
export function registerThreadedWasm(wasm: WasmPackage, threads: number): void {
  const root = path.dirname(require.resolve("@tensorflow/tfjs-backend-wasm/package.json"));
  const factory = require(path.join(root, "wasm-out/tfjs-backend-wasm-threaded-simd.js")) as (
    config: object,
  ) => Promise<EmscriptenModule>;
  const { wasmWorkerContents } = require(
    path.join(root, "wasm-out/tfjs-backend-wasm-threaded-simd.worker.js"),
  ) as { wasmWorkerContents: string };

  tf.removeBackend("wasm");
  tf.registerBackend(
    "wasm",
    async () => {
      if (!(await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT"))) {
        throw new Error("the threaded wasm build needs WebAssembly SIMD, which this Node lacks");
      }
      tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", true);
      // The worker script ships as a string whose newlines inside string literals were
      // unescaped; written back escaped it is the script Emscripten expects.
      const workerFile = writeWorkerScript(wasmWorkerContents.replace(/\n/g, "\\n"));
      // The build sizes its pool from half the logical cores (for hyper-threaded machines) and
      // reads that count through os.cpus(); it is shown the count that yields `threads`.
      const nodeOs = require("node:os") as { cpus: typeof os.cpus };
      const cpus = nodeOs.cpus;
      nodeOs.cpus = () => {
        const real = cpus();
        return Array.from({ length: 2 * threads }, (_, i) => real[i % real.length]);
      };
      // Its workers would inherit this process's Node flags (a loader, --input-type), which
      // are not theirs: they start with none.
      const threadsModule = require("node:worker_threads") as { Worker: typeof Worker };
      const NodeWorker = threadsModule.Worker;
      threadsModule.Worker = class extends NodeWorker {
        constructor(file: string | URL, options?: WorkerOptions) {
          super(file, { ...options, execArgv: [] });
        }
      };
      try {
        const module = await factory({
          // The build's own size (16 MiB, growing to 4 GiB), created here so that tunebook's
          // kernels can be instantiated on it.
          wasmMemory: new WebAssembly.Memory({ initial: 256, maximum: 65536, shared: true }),
          locateFile: (file: string) =>
            file.endsWith(".wasm")
              ? path.join(root, "dist", "tfjs-backend-wasm-threaded-simd.wasm")
              : file.endsWith(".worker.js")
                ? workerFile
                : file,
          mainScriptUrlOrBlob: path.join(root, "wasm-out/tfjs-backend-wasm-threaded-simd.js"),
        });
        module.tfjs = {
          init: module.cwrap("init", null, []),
          initWithThreadsCount: module.cwrap("init_with_threads_count", null, ["number"]),
          getThreadsCount: module.cwrap("get_threads_count", "number", []),
          registerTensor: module.cwrap("register_tensor", null, ["number", "number", "number"]),
          disposeData: module.cwrap("dispose_data", null, ["number"]),
          dispose: module.cwrap("dispose", null, []),
        };
        // With tunebook's kernels every product runs on its own threads (product-threads.ts),
        // and tfjs's pool would only add a hand-off to each small stock kernel.
        wasm.setThreadsCount(sharedKernelsBuilt() ? 1 : threads);
        const backend = new wasm.BackendWasm(module as unknown as BackendModule);
        // The pool's threads wait for work for as long as the process lives; they must not be
        // what keeps it alive once everything else is done.
        for (const worker of module.PThread?.runningWorkers ?? []) worker.unref();
        return backend;
      } finally {
        nodeOs.cpus = cpus;
        threadsModule.Worker = NodeWorker;
      }
    },
    2,
  );
}

/** The worker script as a file (one per script content, shared by processes). */
function writeWorkerScript(text: string): string {
  let hash = 0;
  for (let i = 0; i < text.length; i++) hash = (hash * 31 + text.charCodeAt(i)) >>> 0;
  const dir = path.join(os.tmpdir(), "tunebook-wasm");
  const file = path.join(dir, `worker-${hash.toString(16)}.cjs`);
  if (existsSync(file) && readFileSync(file, "utf8") === text) return file;
  mkdirSync(dir, { recursive: true });
  const partial = `${file}.${process.pid}.partial`;
  writeFileSync(partial, text);
  renameSync(partial, file);
  return file;
}
