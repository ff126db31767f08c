// AdamW with decoupled weight decay, written against tf.Variable so its state can be checkpointed.
import * as tf from "@tensorflow/tfjs";
import { ADAMW_UPDATE, type AdamWUpdateAttrs } from "../engine/wasm-kernels.js";

export interface AdamWOptions {
  beta1: number;
  beta2: number;
  epsilon: number;
  weightDecay: number;
}

export const DEFAULT_ADAMW: AdamWOptions = {
  beta1: 0.9,
  beta2: 0.999,
  epsilon: 1e-8,
  weightDecay: 0.01,
};

/** Plain arrays of the optimizer's moments, for checkpoints. */
export interface AdamWState {
  step: number;
  moments: Map<string, { shape: number[]; m: Float32Array; v: Float32Array }>;
}

export class AdamW {
  step = 0;
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();

  constructor(
    private readonly params: Map<string, tf.Variable>,
    readonly options: AdamWOptions = DEFAULT_ADAMW,
  ) {
    for (const [name, p] of params) {
      // Variables outlive tidy; the zero tensors they were made from do not.
      this.m.set(name, tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
      this.v.set(name, tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
    }
  }

  /** One update with the given learning rate; `grads` are keyed like the parameters. */
  apply(grads: Map<string, tf.Tensor>, learningRate: number): void {
    const { beta1, beta2, epsilon, weightDecay } = this.options;
    this.step += 1;
    const correction1 = 1 - beta1 ** this.step;
    const correction2 = 1 - beta2 ** this.step;
    const stepSize = learningRate / correction1;
    // One kernel per parameter where the backend has it (wasm with tunebook's kernels).
    const fused = tf.getKernel(ADAMW_UPDATE, tf.getBackend()) !== undefined;

    for (const [name, p] of this.params) {
      const g = grads.get(name);
      if (g === undefined) continue;
      const m = this.m.get(name)!;
      const v = this.v.get(name)!;
      // Norm gains and other vectors are not decayed: shrinking them only fights the loss.
      const decay = p.rank >= 2 ? weightDecay : 0;
      if (fused) {
        const attrs: AdamWUpdateAttrs = {
          beta1, beta2, epsilon, stepSize, correction2, decay: learningRate * decay,
        };
        const inputs = { p, g, m, v } as unknown as tf.NamedTensorMap;
        const [pNew, mNew, vNew] = tf.engine().runKernel(
          ADAMW_UPDATE, inputs, attrs as unknown as tf.NamedAttrMap,
        ) as tf.Tensor[];
        m.assign(mNew);
        v.assign(vNew);
        p.assign(pNew);
        tf.dispose([pNew, mNew, vNew]);
        continue;
      }
      tf.tidy(() => {
        const mNew = m.mul(beta1).add(g.mul(1 - beta1));
        const vNew = v.mul(beta2).add(g.square().mul(1 - beta2));
        const denom = vNew.div(correction2).sqrt().add(epsilon);
        let pNew = p.sub(mNew.div(denom).mul(stepSize));
        if (decay > 0) pNew = pNew.sub(p.mul(learningRate * decay));
        m.assign(mNew);
        v.assign(vNew);
        p.assign(pNew);
      });
    }
  }

  state(): AdamWState {
    const moments = new Map<string, { shape: number[]; m: Float32Array; v: Float32Array }>();
    for (const [name, m] of this.m) {
      moments.set(name, {
        shape: m.shape,
        m: m.dataSync() as Float32Array,
        v: this.v.get(name)!.dataSync() as Float32Array,
      });
    }
    return { step: this.step, moments };
  }

  load(state: AdamWState): void {
    this.step = state.step;
    for (const [name, m] of this.m) {
      const saved = state.moments.get(name);
      if (saved === undefined) continue;
      tf.tidy(() => {
        m.assign(tf.tensor(saved.m, m.shape));
        this.v.get(name)!.assign(tf.tensor(saved.v, m.shape));
      });
    }
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
    this.m.clear();
    this.v.clear();
  }
}
