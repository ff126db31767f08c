// Matrix products on more than one thread, where the wasm backend's memory is shared (its
// threaded build): worker threads instantiate tunebook's kernels on that same memory, and for
// each large product every thread computes its part (gemmPart) while the calling thread computes
// the first. Operands and outputs stay where tfjs keeps them; only the arguments are posted.
import { Worker } from "node:worker_threads";
import type { SimdKernels } from "./simd.js";

// Slots of the control array shared with the workers.
const SEQUENCE = 0; // bumped once per product: the workers' signal to start
const DONE = 1; // workers that finished the current product
const FAILED = 2; // set by a worker whose kernel threw
const ARGS = 3; // gemmPart's arguments, with the parts' work buffers workBytes apart
const ARG_COUNT = 15;
// How long an idle thread keeps watching for the next product (a worker) or for the other parts
// (the caller) before it sleeps: waking from a wait can take a millisecond on a virtual machine,
// and a training step's products follow each other within a few.
const SPIN_MS = 10;

// The worker: waits for the sequence number to move, computes its part, counts itself done.
const WORKER_SOURCE = `
const { workerData } = require("node:worker_threads");
const { module, memory, control, part } = workerData;
const k = new WebAssembly.Instance(module, { env: { memory } }).exports;
const ctl = new Int32Array(control);
const arg = new Uint32Array(control, ${ARGS * 4}, ${ARG_COUNT});
let seen = 0;
for (;;) {
  // Products come in bursts: watch for the next one for a moment before sleeping, since waking
  // from a wait takes longer than a small product.
  const until = performance.now() + ${SPIN_MS};
  for (let i = 1; Atomics.load(ctl, ${SEQUENCE}) === seen; i++) {
    if ((i & 255) === 0 && performance.now() > until) {
      Atomics.wait(ctl, ${SEQUENCE}, seen);
      break;
    }
  }
  seen = Atomics.load(ctl, ${SEQUENCE});
  try {
    const [a, b, c, n, M, K, N, tA, tB, work, workBytes, causal, period, offset, parts] = arg;
    k.gemmPart(a, b, c, n, M, K, N, tA, tB, work + part * workBytes, causal, period,
      offset | 0, part, parts);
  } catch {
    Atomics.store(ctl, ${FAILED}, 1);
  }
  Atomics.add(ctl, ${DONE}, 1);
  Atomics.notify(ctl, ${DONE});
}
`;

// A product is split only when its multiply-adds outweigh waking the workers (tens of µs).
const SPLIT_MIN_MACS = 1 << 19;

/** The product arguments of gemmBatch, byte offsets into the shared memory. */
export interface ProductArgs {
  a: number;
  b: number;
  c: number;
  n: number;
  M: number;
  K: number;
  N: number;
  transA: boolean;
  transB: boolean;
  causal: number;
  period: number;
  offset: number;
}

export class ProductThreads {
  private readonly control = new SharedArrayBuffer((ARGS + ARG_COUNT) * 4);
  private readonly ctl = new Int32Array(this.control);
  private readonly arg = new Uint32Array(this.control, ARGS * 4, ARG_COUNT);

  /** `threads` in all: the calling thread and threads - 1 workers. */
  constructor(
    private readonly kernels: SimdKernels,
    memory: WebAssembly.Memory,
    readonly threads: number,
  ) {
    for (let part = 1; part < threads; part++) {
      const worker = new Worker(WORKER_SOURCE, {
        eval: true,
        execArgv: [],
        workerData: { module: kernels.module, memory, control: this.control, part },
      });
      // Idle workers wait on the control array for as long as the process lives; they must not
      // be what keeps it alive.
      worker.unref();
    }
  }

  /** Threads a product of this size is split across: 1 for small ones. */
  partsFor(p: Pick<ProductArgs, "n" | "M" | "K" | "N">): number {
    return p.n * p.M * p.K * p.N >= SPLIT_MIN_MACS ? this.threads : 1;
  }

  /**
   * Runs the product over `parts` (2 or more) threads; `work` holds parts × workBytes bytes of
   * scratch. Returns when every part is written.
   */
  run(p: ProductArgs, work: number, workBytes: number, parts: number): void {
    const values = [
      p.a, p.b, p.c, p.n, p.M, p.K, p.N, Number(p.transA), Number(p.transB), work, workBytes,
      p.causal, p.period, p.offset, parts,
    ];
    for (let i = 0; i < ARG_COUNT; i++) this.arg[i] = values[i] >>> 0;
    Atomics.store(this.ctl, DONE, 0);
    Atomics.add(this.ctl, SEQUENCE, 1);
    Atomics.notify(this.ctl, SEQUENCE);
    this.kernels.gemmPart(
      p.a, p.b, p.c, p.n, p.M, p.K, p.N, p.transA, p.transB, work, p.causal, p.period, p.offset,
      0, parts,
    );
    this.waitForWorkers(parts - 1);
    if (Atomics.exchange(this.ctl, FAILED, 0) !== 0) {
      throw new Error("a product thread failed; its part of the output is not written");
    }
  }

  private waitForWorkers(count: number): void {
    // Watch first: the other parts usually end within microseconds of ours, sooner than a
    // wait would wake.
    const until = performance.now() + SPIN_MS;
    for (let i = 1; Atomics.load(this.ctl, DONE) < count; i++) {
      if ((i & 255) === 0 && performance.now() > until) break;
    }
    let idle = 0;
    for (;;) {
      const done = Atomics.load(this.ctl, DONE);
      if (done >= count) return;
      if (Atomics.wait(this.ctl, DONE, done, 1000) === "timed-out" && ++idle >= 60) {
        throw new Error("product threads stopped answering (60 s without progress)");
      }
    }
  }
}
