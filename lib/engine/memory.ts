// Measured tensor memory: the peak of the bytes tfjs holds in live tensors while a function runs.
import * as tf from "@tensorflow/tfjs";

interface EngineInternals {
  runKernelFunc: (...args: unknown[]) => unknown;
  state: { numBytes: number };
}

/**
 * Runs f and reports the most bytes tfjs held in tensors at any kernel boundary while it ran
 * (weights and optimizer state included). Kernels are where memory changes, so sampling after
 * each one sees the peak.
 */
export function measurePeakBytes<T>(f: () => T): { result: T; peakBytes: number } {
  const engine = tf.engine() as unknown as EngineInternals;
  const own = Object.prototype.hasOwnProperty.call(engine, "runKernelFunc");
  const original = engine.runKernelFunc;
  let peak = engine.state.numBytes;
  engine.runKernelFunc = function (this: EngineInternals, ...args: unknown[]) {
    const out = original.apply(this, args);
    if (engine.state.numBytes > peak) peak = engine.state.numBytes;
    return out;
  };
  try {
    const result = f();
    return { result, peakBytes: Math.max(peak, engine.state.numBytes) };
  } finally {
    if (own) engine.runKernelFunc = original;
    else delete (engine as Partial<EngineInternals>).runKernelFunc;
  }
}
