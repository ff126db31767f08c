// Replacements for wasm backend kernels whose stock versions cost far more than their work.
import * as tf from "@tensorflow/tfjs";

/** The parts of the wasm backend these kernels use. */
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): tf.TypedArray;
}

let installed = false;

/**
 * Slice: the stock kernel first copies the whole input out of the wasm heap, so cutting a
 * tensor into n pieces costs n full copies. A contiguous slice only needs its own elements,
 * read through a view of the heap; other slices keep the stock kernel.
 */
export function installWasmKernels(): void {
  if (installed) return;
  const stock = tf.getKernel(tf.Slice, "wasm");
  if (stock === undefined) return;
  installed = true;
  tf.unregisterKernel(tf.Slice, "wasm");
  tf.registerKernel({
    kernelName: tf.Slice,
    backendName: "wasm",
    kernelFunc: (args) => {
      const x = args.inputs.x as tf.TensorInfo;
      const attrs = args.attrs as unknown as tf.SliceAttrs;
      const [begin, size] = tf.slice_util.parseSliceParams(x as tf.Tensor, attrs.begin, attrs.size);
      if (x.dtype === "string" || !tf.slice_util.isSliceContinous(x.shape, begin, size)) {
        return stock.kernelFunc(args);
      }
      const backend = args.backend as unknown as WasmBackendLike;
      const out = backend.makeOutput(size, x.dtype);
      const offset = tf.slice_util.computeFlatOffset(begin, tf.util.computeStrides(x.shape));
      // Views are taken after makeOutput, which may grow (and so move) the heap.
      const src = backend.typedArrayFromHeap(x);
      backend.typedArrayFromHeap(out).set(src.subarray(offset, offset + tf.util.sizeFromShape(size)));
      return out;
    },
  });
}
