// Keys and values of past positions, per layer, so generation feeds one new token per step.
import * as tf from "@tensorflow/tfjs";

/** Past keys/values [B, kvHeads, S, headDim] per layer, plus which past positions are real. */
export class KVCache {
  /** Batch size the cache was made for; every forward through it must use this batch. */
  readonly batch: number;
  /** Positions held so far (S). */
  length = 0;
  private readonly keys: (tf.Tensor | null)[];
  private readonly values: (tf.Tensor | null)[];
  private maskTensor: tf.Tensor2D | null = null;

  constructor(batch: number, numLayers: number) {
    this.batch = batch;
    this.keys = new Array<tf.Tensor | null>(numLayers).fill(null);
    this.values = new Array<tf.Tensor | null>(numLayers).fill(null);
  }

  /** Keys of a layer [B, kvHeads, S, headDim], or null before the first forward. */
  key(layer: number): tf.Tensor | null {
    return this.keys[layer];
  }

  value(layer: number): tf.Tensor | null {
    return this.values[layer];
  }

  /** 1 for real past positions and 0 for padding, [B, S] float32; null before the first forward. */
  get mask(): tf.Tensor2D | null {
    return this.maskTensor;
  }

  /** Replaces a layer's keys and values, keeping the new ones past tf.tidy and freeing the old. */
  setLayer(layer: number, k: tf.Tensor, v: tf.Tensor): void {
    this.keys[layer]?.dispose();
    this.values[layer]?.dispose();
    this.keys[layer] = tf.keep(k);
    this.values[layer] = tf.keep(v);
  }

  setMask(mask: tf.Tensor2D): void {
    this.maskTensor?.dispose();
    this.maskTensor = tf.keep(mask);
    this.length = mask.shape[1];
  }

  /** Frees every tensor; the cache is empty afterwards and may be reused. */
  dispose(): void {
    for (let i = 0; i < this.keys.length; i++) {
      this.keys[i]?.dispose();
      this.values[i]?.dispose();
      this.keys[i] = null;
      this.values[i] = null;
    }
    this.maskTensor?.dispose();
    this.maskTensor = null;
    this.length = 0;
  }
}
