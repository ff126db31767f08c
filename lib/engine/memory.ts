// Measured tensor memory: the peak of the bytes tfjs holds in live data buffers while a function
// runs.
import * as tf from "@tensorflow/tfjs";

interface EngineInternals {
  runKernelFunc: (...args: unknown[]) => unknown;
  trackTensor: (t: tf.Tensor, backend: unknown) => void;
  removeDataId: (dataId: tf.DataId, backend: unknown) => void;
  state: { numBytes: number; tensorInfo: WeakMap<tf.DataId, { bytes: number }> };
}

/**
 * Runs f and reports the most bytes tfjs held in data buffers at any kernel boundary while it
 * ran (weights and optimizer state included). tfjs's own numBytes counts every tensor, so a
 * reshape or clone that shares its data counts it again; here a buffer counts once, from when
 * its first tensor appears to when its data is freed. Kernels are where memory changes, so
 * sampling after each one sees the peak.
 */
export function measurePeakBytes<T>(f: () => T): { result: T; peakBytes: number } {
  const engine = tf.engine() as unknown as EngineInternals;
  const saved = {
    runKernelFunc: engine.runKernelFunc,
    trackTensor: engine.trackTensor,
    removeDataId: engine.removeDataId,
  };
  // Buffers alive at the start are taken as tfjs counts them (at rest little is shared).
  let live = engine.state.numBytes;
  let peak = live;
  engine.trackTensor = function (this: EngineInternals, t, backend) {
    const fresh = !engine.state.tensorInfo.has(t.dataId);
    saved.trackTensor.call(this, t, backend);
    const info = engine.state.tensorInfo.get(t.dataId);
    if (fresh && info !== undefined) live += info.bytes;
  };
  engine.removeDataId = function (this: EngineInternals, dataId, backend) {
    const info = engine.state.tensorInfo.get(dataId);
    saved.removeDataId.call(this, dataId, backend);
    if (info !== undefined && !engine.state.tensorInfo.has(dataId)) live -= info.bytes;
  };
  engine.runKernelFunc = function (this: EngineInternals, ...args: unknown[]) {
    const out = saved.runKernelFunc.apply(this, args);
    peak = Math.max(peak, live);
    return out;
  };
  try {
    const result = f();
    return { result, peakBytes: Math.max(peak, live) };
  } finally {
    // The engine's own methods live on its prototype; removing the wrappers restores them.
    const own = engine as Partial<EngineInternals>;
    delete own.runKernelFunc;
    delete own.trackTensor;
    delete own.removeDataId;
  }
}
