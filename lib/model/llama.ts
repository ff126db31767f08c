// The Llama decoder in TensorFlow.js: weights as tf.Variables under Hugging Face names, a forward
// pass with rotary embeddings, grouped-query attention, a KV cache and optional LoRA adapters.
import * as tf from "@tensorflow/tfjs";
import { linear } from "../engine/matmul.js";
import { attention } from "./attention.js";
import { mkdir } from "node:fs/promises";
import * as path from "node:path";

import { rmsNorm, rope, swiglu } from "../engine/fused.js";
import { embeddingLookup, frozenLinear } from "../engine/ops.js";
import { TunebookError } from "../errors.js";
import { type LlamaConfig, toHfConfig } from "./config.js";
import { KVCache } from "./kv-cache.js";
import {
  type LinearModule, type LoraConfig, linearName, linearShape, loraNames, loraScale,
  resolveTargets,
} from "./lora.js";
import { type NamedTensor, writeAtomically, writeSafetensors } from "./safetensors.js";
import { checkTensors, expectedTensors, loadModelFolder } from "./weights.js";

export { KVCache } from "./kv-cache.js";
export type { LoraConfig } from "./lora.js";

/** Options of one forward pass. */
export interface ForwardOptions {
  /** [B, T], 1 for real tokens and 0 for padding (left padding keeps positions right). */
  attentionMask?: tf.Tensor2D;
  /** Past keys/values; the forward appends this call's positions to it. */
  cache?: KVCache;
  /** Turns on LoRA dropout. */
  training?: boolean;
  /** Return logits for the last position only ([B, 1, V]); saves the head's matmul in decoding. */
  lastOnly?: boolean;
  /**
   * Return logits only at these flat positions (b * T + t), as [1, N, V]. Instruction tuning
   * trains a few answer tokens per example, so the vocabulary projection of every other
   * position would be wasted work.
   */
  positions?: tf.Tensor1D;
}

/** Which weights an optimizer should update. */
export interface TrainableOptions {
  /** lora: the adapters only; full: every weight; freeze: all but embeddings and early layers. */
  method: "lora" | "full" | "freeze";
  /** With "freeze": how many of the first decoder layers stay fixed (default 0). */
  freezeLayers?: number;
}

// Above this many bytes of weights, decoding keeps no transposed copies (they would double the
// memory) and uses the transposed-operand product instead, slower but copy-free.
const DECODE_COPY_LIMIT = 1 << 30;

// A large finite negative rather than -Infinity: a fully masked row (a padding query) then gets
// a harmless uniform softmax instead of NaN.
const MASKED = -1e9;

interface Adapter {
  a: tf.Variable;
  b: tf.Variable;
}

export class LlamaModel {
  readonly config: LlamaConfig;
  /** Base weights by Hugging Face name ([out, in] for linear layers). */
  readonly params: Map<string, tf.Variable>;
  /** LoRA matrices by PEFT name; empty until addLora or loadLora. */
  readonly lora = new Map<string, tf.Variable>();
  /** Settings of the attached adapters, or null. */
  loraConfig: LoraConfig | null = null;

  private adapters = new Map<string, Adapter>();
  private loraScaleValue = 1;
  // Rotary tables [n, headDim] and causal bias [n, n], grown on demand up to maxPositions.
  private cos: tf.Tensor2D | null = null;
  private sin: tf.Tensor2D | null = null;
  private causal: tf.Tensor2D | null = null;
  private tableSize = 0;
  // rotate_half(x) = x @ rotate: pairs dimension j with j + headDim/2 without slicing.
  private readonly rotate: tf.Tensor2D;
  private readonly rotateT: tf.Tensor2D;
  // Transposed copies [in, out] of frozen weights for decoding, each valid while its variable
  // holds the same data (assign() gives a variable new data, so training invalidates them).
  private readonly transposed = new Map<string, { data: object; t: tf.Tensor2D }>();

  private constructor(config: LlamaConfig, params: Map<string, tf.Variable>) {
    this.config = config;
    this.params = params;
    this.rotate = tf.keep(rotateHalfMatrix(config.headDim));
    this.rotateT = tf.keep(tf.transpose(this.rotate));
  }

  /** Builds a model from checked tensors (Hugging Face names); copies the values. */
  static fromTensors(config: LlamaConfig, tensors: Map<string, NamedTensor>): LlamaModel {
    const checked = checkTensors(config, tensors, () => "weights");
    const params = new Map<string, tf.Variable>();
    for (const [name, t] of checked) {
      params.set(name, tf.tidy(() => tf.variable(tf.tensor(t.values, t.shape, "float32"))));
    }
    return new LlamaModel(config, params);
  }

  /** A freshly initialised model: normal(0, 0.02) weights, RMSNorm weights 1, as transformers. */
  static random(config: LlamaConfig, seed = 0): LlamaModel {
    const params = new Map<string, tf.Variable>();
    let k = 0;
    for (const [name, shape] of expectedTensors(config)) {
      k++;
      const init = name.endsWith("norm.weight")
        ? () => tf.ones(shape)
        : () => tf.randomNormal(shape, 0, 0.02, "float32", seed * 10007 + k);
      params.set(name, tf.tidy(() => tf.variable(init())));
    }
    return new LlamaModel(config, params);
  }

  /** Loads a Hugging Face model folder (see loadModelFolder). */
  static async load(dir: string): Promise<LlamaModel> {
    const { config, tensors } = await loadModelFolder(dir);
    return LlamaModel.fromTensors(config, tensors);
  }

  /** An empty KV cache for `batch` sequences. */
  createCache(batch: number): KVCache {
    return new KVCache(batch, this.config.numLayers);
  }

  /** Logits [B, T, V] (or [B, 1, V] with lastOnly) for int32 token ids [B, T]. */
  forward(ids: tf.Tensor2D, opts: ForwardOptions = {}): tf.Tensor3D {
    const cfg = this.config;
    if (ids.rank !== 2 || ids.dtype !== "int32") {
      throw new Error(
        `LlamaModel.forward: ids must be int32 [B, T], got ${ids.dtype} [${ids.shape}]`,
      );
    }
    const [B, T] = ids.shape;
    const { cache, attentionMask } = opts;
    const maskShape = attentionMask?.shape;
    if (maskShape !== undefined && (maskShape[0] !== B || maskShape[1] !== T)) {
      throw new Error(
        `LlamaModel.forward: attentionMask [${maskShape}] must match ids [${ids.shape}]`,
      );
    }
    if (cache !== undefined && cache.batch !== B) {
      throw new Error(`LlamaModel.forward: cache is for batch ${cache.batch}, ids have ${B} rows`);
    }
    if (cache !== undefined && opts.training === true) {
      throw new Error("LlamaModel.forward: a KV cache is for generation; do not train through it");
    }
    const past = cache?.length ?? 0;
    const S = past + T;
    if (S > cfg.maxPositions) {
      throw new TunebookError(
        `sequence of ${S} tokens is longer than the model's ${cfg.maxPositions} positions; ` +
          `use a shorter max length`,
      );
    }
    this.ensureTables(S);

    return tf.tidy(() => {
      // Positions count real tokens only, so left-padded rows start at 0 like unpadded ones.
      let fullMask: tf.Tensor2D | null = null;
      if (cache !== undefined || attentionMask !== undefined) {
        const newMask = attentionMask !== undefined
          ? tf.cast(attentionMask, "float32")
          : tf.ones([B, T], "float32");
        fullMask = (cache?.mask ? tf.concat([cache.mask, newMask], 1) : newMask) as tf.Tensor2D;
      }
      const { cos, sin } = this.rotary(fullMask, B, T, past);
      const bias = this.attentionBias(fullMask, B, T, past);

      // A frozen table needs no gradient, so plain gather (whose gradient wasm lacks) is fine.
      const table = this.p("model.embed_tokens.weight");
      const emb = table.trainable
        ? embeddingLookup(table as tf.Tensor2D, ids)
        : tf.gather(table, tf.reshape(ids, [B * T]));
      const h0 = tf.reshape(emb, [B * T, cfg.hiddenSize]);
      const decoding = cache !== undefined;
      let h: tf.Tensor = h0;
      for (let i = 0; i < cfg.numLayers; i++) {
        // One scope per layer: what the backward pass needs is kept by the tape, the rest of
        // the layer is freed before the next one runs.
        const input = h;
        h = tf.tidy(() => this.layer(i, input, B, T, cos, sin, bias, cache, opts.training === true));
      }
      if (cache !== undefined && fullMask !== null) cache.setMask(fullMask);

      let x = this.rmsNorm(h, this.p("model.norm.weight"));
      let rows = T;
      if (opts.lastOnly === true) {
        x = tf.reshape(tf.slice(tf.reshape(x, [B, T, cfg.hiddenSize]), [0, T - 1, 0], [B, 1, -1]), [
          B, cfg.hiddenSize,
        ]);
        rows = 1;
      } else if (opts.positions !== undefined) {
        const n = opts.positions.shape[0];
        const picked = embeddingLookup(x as tf.Tensor2D, tf.reshape(opts.positions, [1, n]) as tf.Tensor2D);
        x = tf.reshape(picked, [n, cfg.hiddenSize]);
        rows = n;
      }
      const head = cfg.tieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight";
      const logits = this.project(x, head, decoding);
      const outBatch = opts.positions !== undefined && opts.lastOnly !== true ? 1 : B;
      return tf.reshape(logits, [outBatch, rows, cfg.vocabSize]) as tf.Tensor3D;
    });
  }

  /** One decoder layer on the residual stream h [B*T, D]. */
  private layer(
    i: number, h: tf.Tensor, B: number, T: number, cos: tf.Tensor, sin: tf.Tensor,
    bias: tf.Tensor, cache: KVCache | undefined, training: boolean,
  ): tf.Tensor {
    const cfg = this.config;
    const H = cfg.numHeads;
    const KV = cfg.numKvHeads;
    const G = H / KV;
    const hd = cfg.headDim;
    const pre = `model.layers.${i}`;
    const lin = (x: tf.Tensor, m: LinearModule): tf.Tensor =>
      this.linear(x, i, m, training, cache !== undefined);

    // Attention: queries grouped by the key/value head they share, so no head is repeated.
    const xn = this.rmsNorm(h, this.p(`${pre}.input_layernorm.weight`));
    const q = this.applyRope(tf.reshape(lin(xn, "q_proj"), [B, T, H, hd]), cos, sin);
    const kNew = this.applyRope(tf.reshape(lin(xn, "k_proj"), [B, T, KV, hd]), cos, sin);
    const vNew = tf.reshape(lin(xn, "v_proj"), [B, T, KV, hd]);
    let k = tf.transpose(kNew, [0, 2, 1, 3]); // [B, KV, T, hd]
    let v = tf.transpose(vNew, [0, 2, 1, 3]); // [B, KV, T, hd]
    if (cache !== undefined) {
      const pk = cache.key(i);
      const pv = cache.value(i);
      if (pk !== null && pv !== null) {
        k = tf.concat([pk, k], 2);
        v = tf.concat([pv, v], 2);
      }
      cache.setLayer(i, k, v);
    }
    const qg = tf.reshape(tf.transpose(q, [0, 2, 1, 3]), [B, KV, G * T, hd]) as tf.Tensor4D;
    const att = attention(qg, k as tf.Tensor4D, v as tf.Tensor4D, bias, G, 1 / Math.sqrt(hd), true);
    const merged = tf.reshape(tf.transpose(tf.reshape(att, [B, H, T, hd]), [0, 2, 1, 3]), [
      B * T, H * hd,
    ]);
    const h1 = tf.add(h, lin(merged, "o_proj"));

    // SwiGLU MLP.
    const xm = this.rmsNorm(h1, this.p(`${pre}.post_attention_layernorm.weight`));
    const gate = lin(xm, "gate_proj");
    const up = lin(xm, "up_proj");
    const act = swiglu(gate, up);
    return tf.add(h1, lin(act, "down_proj"));
  }

  /** x [N, in] @ W^T, plus the adapter's dropout(x) @ A^T @ B^T * scale when there is one. */
  private linear(
    x: tf.Tensor, layer: number, m: LinearModule, training: boolean, decoding: boolean,
  ): tf.Tensor {
    const y = this.project(x, linearName(layer, m), decoding);
    const ad = this.adapters.get(linearName(layer, m));
    if (ad === undefined) return y;
    const rate = this.loraConfig?.dropout ?? 0;
    const xd = training && rate > 0 ? tf.dropout(x, rate) : x;
    const low = linear(linear(xd, ad.a), ad.b);
    return tf.add(y, tf.mul(low, this.loraScaleValue));
  }

  /**
   * x [N, in] @ W^T for a base weight W [out, in]. Frozen weights skip their gradient; while
   * decoding they use a kept transposed copy, since transposing per token costs more than the
   * product itself.
   */
  private project(x: tf.Tensor, name: string, decoding: boolean): tf.Tensor {
    const w = this.p(name);
    if (w.trainable && !decoding) return linear(x, w);
    if (decoding && this.numParameters() * 4 > DECODE_COPY_LIMIT) {
      return tf.matMul(x, w, false, true);
    }
    const wT = decoding ? this.transposedWeight(name, w) : undefined;
    return frozenLinear(x as tf.Tensor2D, w as tf.Tensor2D, wT);
  }

  private transposedWeight(name: string, w: tf.Variable): tf.Tensor2D {
    const hit = this.transposed.get(name);
    if (hit !== undefined && hit.data === w.dataId) return hit.t;
    hit?.t.dispose();
    const t = tf.keep(tf.transpose(w as tf.Tensor2D));
    this.transposed.set(name, { data: w.dataId, t });
    return t;
  }

  /** Frees the transposed weight copies kept for decoding (they return on the next generate). */
  releaseDecodingCopies(): void {
    for (const { t } of this.transposed.values()) t.dispose();
    this.transposed.clear();
  }

  private rmsNorm(x: tf.Tensor, w: tf.Tensor): tf.Tensor {
    return rmsNorm(x, w, this.config.rmsNormEps);
  }

  /** x [B, T, heads, hd] rotated by position: x * cos + rotate_half(x) * sin. */
  private applyRope(x: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor): tf.Tensor {
    const hd = this.config.headDim;
    return rope(x, cos, sin, (t) => {
      const flat = tf.reshape(t, [-1, hd]) as tf.Tensor2D;
      return tf.reshape(frozenLinear(flat, this.rotateT, this.rotate), t.shape);
    });
  }

  /** cos/sin [B or 1, T, 1, hd] for this call's positions. */
  private rotary(
    fullMask: tf.Tensor2D | null, B: number, T: number, past: number,
  ): { cos: tf.Tensor; sin: tf.Tensor } {
    const hd = this.config.headDim;
    if (fullMask === null) {
      const cos = tf.reshape(tf.slice(this.cos!, [past, 0], [T, hd]), [1, T, 1, hd]);
      const sin = tf.reshape(tf.slice(this.sin!, [past, 0], [T, hd]), [1, T, 1, hd]);
      return { cos, sin };
    }
    const S = fullMask.shape[1];
    const counted = tf.slice(tf.cumsum(fullMask, 1), [0, S - T], [B, T]);
    const pos = tf.cast(tf.maximum(tf.sub(counted, 1), 0), "int32");
    const flat = tf.reshape(pos, [B * T]);
    const cos = tf.reshape(tf.gather(this.cos!, flat), [B, T, 1, hd]);
    const sin = tf.reshape(tf.gather(this.sin!, flat), [B, T, 1, hd]);
    return { cos, sin };
  }

  /** Additive bias [B or 1, 1, 1, T, S]: causal, plus padding keys masked out. */
  private attentionBias(
    fullMask: tf.Tensor2D | null, B: number, T: number, past: number,
  ): tf.Tensor {
    const S = past + T;
    const causal = tf.reshape(tf.slice(this.causal!, [past, 0], [T, S]), [1, 1, 1, T, S]);
    if (fullMask === null) return causal;
    const pad = tf.reshape(tf.mul(tf.sub(1, fullMask), MASKED), [B, 1, 1, 1, S]);
    return tf.add(causal, pad);
  }

  /** Makes sure the rotary and causal tables cover n positions (grown by doubling). */
  private ensureTables(n: number): void {
    if (n <= this.tableSize) return;
    const size = Math.min(this.config.maxPositions, Math.max(64, 2 ** Math.ceil(Math.log2(n))));
    const { cos, sin } = rotaryTables(size, this.config.headDim, this.config.ropeTheta);
    const causal = new Float32Array(size * size);
    for (let i = 0; i < size; i++) causal.fill(MASKED, i * size + i + 1, (i + 1) * size);
    this.cos?.dispose();
    this.sin?.dispose();
    this.causal?.dispose();
    // Kept: the first call may come from inside a tidy or a gradient scope.
    this.cos = tf.keep(tf.tensor2d(cos, [size, this.config.headDim]));
    this.sin = tf.keep(tf.tensor2d(sin, [size, this.config.headDim]));
    this.causal = tf.keep(tf.tensor2d(causal, [size, size]));
    this.tableSize = size;
  }

  private p(name: string): tf.Variable {
    const v = this.params.get(name);
    if (v === undefined) throw new Error(`LlamaModel: weight "${name}" is missing`);
    return v;
  }

  /** Attaches fresh adapters: A uniform in ±1/sqrt(in) (PEFT's kaiming init), B zero. */
  addLora(cfg: LoraConfig): void {
    const targets = this.startLora(cfg);
    const seed = cfg.seed ?? 0;
    let k = 0;
    for (let i = 0; i < this.config.numLayers; i++) {
      for (const m of targets) {
        const [out, inp] = linearShape(this.config, m);
        const bound = 1 / Math.sqrt(inp);
        const a = tf.tidy(() =>
          tf.variable(tf.randomUniform([cfg.r, inp], -bound, bound, "float32", seed * 7919 + ++k)),
        );
        const b = tf.tidy(() => tf.variable(tf.zeros([out, cfg.r])));
        this.attach(i, m, a, b);
      }
    }
  }

  /** Attaches a saved adapter (PEFT names, A [r, in], B [out, r]). */
  loadLora(tensors: Map<string, NamedTensor>, cfg: LoraConfig): void {
    const targets = resolveTargets(cfg);
    const wanted = new Set<string>();
    for (let i = 0; i < this.config.numLayers; i++) {
      for (const m of targets) {
        const { a, b } = loraNames(i, m);
        const [out, inp] = linearShape(this.config, m);
        checkShape(tensors, a, [cfg.r, inp]);
        checkShape(tensors, b, [out, cfg.r]);
        wanted.add(a).add(b);
      }
    }
    for (const name of tensors.keys()) {
      if (!wanted.has(name)) {
        throw new TunebookError(
          `adapter tensor "${name}" is not a LoRA weight of the target modules ` +
            `${targets.join(", ")}; check target_modules in adapter_config.json`,
        );
      }
    }

    this.startLora(cfg);
    for (let i = 0; i < this.config.numLayers; i++) {
      for (const m of targets) {
        const { a, b } = loraNames(i, m);
        const ta = tensors.get(a)!;
        const tb = tensors.get(b)!;
        this.attach(
          i, m,
          tf.tidy(() => tf.variable(tf.tensor(ta.values, ta.shape, "float32"))),
          tf.tidy(() => tf.variable(tf.tensor(tb.values, tb.shape, "float32"))),
        );
      }
    }
  }

  /** Folds every adapter into its base weight (W += B @ A * scale) and removes the adapters. */
  mergeLora(): void {
    for (const [name, ad] of this.adapters) {
      const w = this.p(name);
      tf.tidy(() => w.assign(tf.add(w, tf.mul(tf.matMul(ad.b, ad.a), this.loraScaleValue))));
    }
    this.removeLora();
  }

  /** Drops the adapters without merging them. */
  removeLora(): void {
    for (const v of this.lora.values()) v.dispose();
    this.lora.clear();
    this.adapters.clear();
    this.loraConfig = null;
  }

  private startLora(cfg: LoraConfig): LinearModule[] {
    const targets = resolveTargets(cfg);
    if (this.loraConfig !== null) {
      throw new TunebookError("the model already has LoRA adapters; merge or remove them first");
    }
    this.loraConfig = { ...cfg, targetModules: targets };
    this.loraScaleValue = loraScale(cfg);
    return targets;
  }

  private attach(layer: number, m: LinearModule, a: tf.Variable, b: tf.Variable): void {
    const names = loraNames(layer, m);
    this.lora.set(names.a, a);
    this.lora.set(names.b, b);
    this.adapters.set(linearName(layer, m), { a, b });
  }

  /**
   * The variables an optimizer should update for a fine-tuning method. Every other variable of
   * the model is marked `trainable = false`, which makes the forward pass skip its gradient
   * (a third of a frozen linear layer's backward cost): differentiate only the returned ones.
   */
  trainableVariables(opts: TrainableOptions): Map<string, tf.Variable> {
    const chosen = this.chooseTrainable(opts);
    for (const v of [...this.params.values(), ...this.lora.values()]) v.trainable = false;
    for (const v of chosen.values()) v.trainable = true;
    return chosen;
  }

  private chooseTrainable(opts: TrainableOptions): Map<string, tf.Variable> {
    if (opts.method === "lora") {
      if (this.lora.size === 0) {
        throw new TunebookError('method "lora" needs adapters; call addLora first');
      }
      return new Map(this.lora);
    }
    if (opts.method === "full") return new Map(this.params);
    const k = opts.freezeLayers ?? 0;
    if (!Number.isSafeInteger(k) || k < 0 || k > this.config.numLayers) {
      throw new TunebookError(
        `freezeLayers is ${k}; use a whole number from 0 to ${this.config.numLayers}`,
      );
    }
    const out = new Map<string, tf.Variable>();
    for (const [name, v] of this.params) {
      if (name === "model.embed_tokens.weight") continue;
      const m = /^model\.layers\.(\d+)\./.exec(name);
      if (m !== null && Number(m[1]) < k) continue;
      out.set(name, v);
    }
    return out;
  }

  /** Base weights by Hugging Face name, copied out of the backend (for saving). */
  namedTensors(): Map<string, NamedTensor> {
    return copyOut(this.params);
  }

  /**
   * Hugging Face weights with every adapter folded in (W + B @ A * scale), copied out; the model
   * keeps its adapters. For exporting merged weights.
   */
  mergedTensors(): Map<string, NamedTensor> {
    const out = this.namedTensors();
    for (const [name, ad] of this.adapters) {
      const merged = tf.tidy(() =>
        tf.add(this.p(name), tf.mul(tf.matMul(ad.b, ad.a), this.loraScaleValue)),
      );
      out.set(name, { shape: merged.shape, values: merged.dataSync() as Float32Array });
      merged.dispose();
    }
    return out;
  }

  /** Adapter weights by PEFT name, copied out of the backend (for saving an adapter). */
  loraTensors(): Map<string, NamedTensor> {
    return copyOut(this.lora);
  }

  /** Writes config.json and model.safetensors (each file atomically). */
  async save(dir: string): Promise<void> {
    if (this.lora.size > 0) {
      throw new TunebookError(
        "the model has LoRA adapters; call mergeLora() before saving the full model, " +
          "or save the adapter on its own",
      );
    }
    await mkdir(dir, { recursive: true });
    await writeSafetensors(path.join(dir, "model.safetensors"), this.namedTensors(), {
      format: "pt",
    });
    const json = JSON.stringify(toHfConfig(this.config), null, 2) + "\n";
    await writeAtomically(path.join(dir, "config.json"), async (fh) => {
      await fh.writeFile(json, "utf8");
    });
  }

  /** Number of weights held: base model plus any adapters. */
  numParameters(): number {
    let n = 0;
    for (const v of this.params.values()) n += v.size;
    for (const v of this.lora.values()) n += v.size;
    return n;
  }

  /** Frees every tensor the model holds. */
  dispose(): void {
    this.removeLora();
    for (const v of this.params.values()) v.dispose();
    this.params.clear();
    this.cos?.dispose();
    this.sin?.dispose();
    this.causal?.dispose();
    this.rotate.dispose();
    this.rotateT.dispose();
    this.releaseDecodingCopies();
    this.tableSize = 0;
  }
}

function checkShape(tensors: Map<string, NamedTensor>, name: string, shape: number[]): void {
  const t = tensors.get(name);
  if (t === undefined) {
    throw new TunebookError(
      `adapter tensor "${name}" is missing; the adapter does not match its config`,
    );
  }
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new TunebookError(
      `adapter tensor "${name}" has shape [${t.shape.join(", ")}], ` +
        `expected [${shape.join(", ")}]; ` +
        `the adapter was made for another base model or rank`,
    );
  }
}

function copyOut(vars: Map<string, tf.Variable>): Map<string, NamedTensor> {
  const out = new Map<string, NamedTensor>();
  for (const [name, v] of vars) {
    out.set(name, { shape: v.shape.slice(), values: v.dataSync() as Float32Array });
  }
  return out;
}

/** cos/sin [n, hd] in Hugging Face's layout (frequencies repeated over both halves). */
function rotaryTables(
  n: number, hd: number, theta: number,
): { cos: Float32Array; sin: Float32Array } {
  // float64 here, rounded once to float32, so long positions lose no accuracy.
  const half = hd / 2;
  const cos = new Float32Array(n * hd);
  const sin = new Float32Array(n * hd);
  for (let j = 0; j < half; j++) {
    const invFreq = 1 / theta ** ((2 * j) / hd);
    for (let p = 0; p < n; p++) {
      const a = p * invFreq;
      cos[p * hd + j] = cos[p * hd + j + half] = Math.cos(a);
      sin[p * hd + j] = sin[p * hd + j + half] = Math.sin(a);
    }
  }
  return { cos, sin };
}

/** R with x @ R = concat(-x[half:], x[:half]). */
function rotateHalfMatrix(hd: number): tf.Tensor2D {
  const half = hd / 2;
  const r = new Float32Array(hd * hd);
  for (let j = 0; j < half; j++) {
    r[(j + half) * hd + j] = -1;
    r[j * hd + j + half] = 1;
  }
  return tf.tensor2d(r, [hd, hd]);
}
