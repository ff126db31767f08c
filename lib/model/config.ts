// The Llama architecture settings, read from and written to Hugging Face's config.json.
import { TunebookError } from "../errors.js";

/** Shape and numeric settings of a Llama-family model. */
export interface LlamaConfig {
  /** Width of the residual stream (hidden_size). */
  hiddenSize: number;
  /** Width of the SwiGLU MLP (intermediate_size). */
  intermediateSize: number;
  /** Number of decoder layers (num_hidden_layers). */
  numLayers: number;
  /** Query heads (num_attention_heads). */
  numHeads: number;
  /** Key/value heads, fewer than numHeads for grouped-query attention (num_key_value_heads). */
  numKvHeads: number;
  /** Width of one head (head_dim, default hiddenSize / numHeads). */
  headDim: number;
  /** Vocabulary size: rows of the embedding table (vocab_size). */
  vocabSize: number;
  /** Longest sequence the rotary tables cover (max_position_embeddings). */
  maxPositions: number;
  /** Epsilon inside RMSNorm (rms_norm_eps). */
  rmsNormEps: number;
  /** Base of the rotary frequencies (rope_theta). */
  ropeTheta: number;
  /** Whether the output head reuses the embedding table (tie_word_embeddings). */
  tieWordEmbeddings: boolean;
  /** Beginning-of-sequence token id, or null when the model has none. */
  bosTokenId: number | null;
  /** End-of-sequence token id (the first one when config.json lists several), or null. */
  eosTokenId: number | null;
  /** Every end-of-sequence id config.json lists (Llama 3 lists several). */
  eosTokenIds?: number[];
}

/** Checks a parsed config.json and converts it; `file` names it in error messages. */
export function parseLlamaConfig(json: unknown, file: string): LlamaConfig {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new TunebookError(`${file}: expected a JSON object`);
  }
  const c = json as Record<string, unknown>;
  const fail = (field: string, msg: string): never => {
    throw new TunebookError(`${file}: field "${field}" ${msg}`);
  };

  if (c.model_type !== "llama") {
    fail(
      "model_type",
      `is ${JSON.stringify(c.model_type)}; only "llama" models (Llama, TinyLlama, SmolLM, ` +
        `Mistral-style Llama checkpoints) are supported`,
    );
  }
  if (c.architectures !== undefined) {
    const a = c.architectures;
    if (!Array.isArray(a) || !a.includes("LlamaForCausalLM")) {
      fail("architectures", `is ${JSON.stringify(a)}; expected ["LlamaForCausalLM"]`);
    }
  }
  const act = c.hidden_act ?? "silu";
  if (act !== "silu") fail("hidden_act", `is ${JSON.stringify(act)}; only "silu" is supported`);
  if (c.rope_scaling !== undefined && c.rope_scaling !== null) {
    fail("rope_scaling", "is set; rotary scaling is not supported, use a model without it");
  }
  for (const f of ["attention_bias", "mlp_bias"]) {
    if (c[f] === true) fail(f, "is true; Llama layers with biases are not supported");
  }

  const int = (field: string, min: number, fallback?: number): number => {
    const v = c[field] ?? fallback;
    if (v === undefined) fail(field, "is missing");
    if (!Number.isSafeInteger(v) || (v as number) < min) {
      fail(field, `is ${JSON.stringify(v)}; expected an integer >= ${min}`);
    }
    return v as number;
  };
  const positive = (field: string, fallback: number): number => {
    const v = c[field] ?? fallback;
    if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) {
      fail(field, `is ${JSON.stringify(v)}; expected a positive number`);
    }
    return v as number;
  };
  const tokenId = (field: string): number | null => {
    const v = c[field];
    if (v === undefined || v === null) return null;
    if (!Number.isSafeInteger(v) || (v as number) < 0) {
      fail(field, `is ${JSON.stringify(v)}; expected a token id`);
    }
    return v as number;
  };

  const hiddenSize = int("hidden_size", 1);
  const numHeads = int("num_attention_heads", 1);
  const numKvHeads = int("num_key_value_heads", 1, numHeads);
  if (numHeads % numKvHeads !== 0) {
    fail("num_key_value_heads", `(${numKvHeads}) must divide num_attention_heads (${numHeads})`);
  }
  if (c.head_dim === undefined && hiddenSize % numHeads !== 0) {
    fail("num_attention_heads", `(${numHeads}) must divide hidden_size (${hiddenSize})`);
  }
  const headDim = int("head_dim", 2, hiddenSize / numHeads);
  if (headDim % 2 !== 0) fail("head_dim", `is ${headDim}; rotary embeddings need an even width`);
  const tie = c.tie_word_embeddings ?? false;
  if (typeof tie !== "boolean") fail("tie_word_embeddings", "must be true or false");

  let eosTokenIds: number[] = [];
  if (Array.isArray(c.eos_token_id)) {
    if (!c.eos_token_id.every((v) => Number.isSafeInteger(v) && v >= 0)) {
      fail("eos_token_id", `is ${JSON.stringify(c.eos_token_id)}; expected token ids`);
    }
    eosTokenIds = c.eos_token_id as number[];
  } else {
    const eos = tokenId("eos_token_id");
    if (eos !== null) eosTokenIds = [eos];
  }

  return {
    hiddenSize,
    intermediateSize: int("intermediate_size", 1),
    numLayers: int("num_hidden_layers", 1),
    numHeads,
    numKvHeads,
    headDim,
    vocabSize: int("vocab_size", 1),
    maxPositions: int("max_position_embeddings", 1, 2048),
    rmsNormEps: positive("rms_norm_eps", 1e-6),
    ropeTheta: positive("rope_theta", 10000),
    tieWordEmbeddings: tie as boolean,
    bosTokenId: tokenId("bos_token_id"),
    eosTokenId: eosTokenIds[0] ?? null,
    eosTokenIds,
  };
}

/** The config.json object Hugging Face transformers reads for this model (float32 weights). */
export function toHfConfig(cfg: LlamaConfig): Record<string, unknown> {
  const eos = cfg.eosTokenIds !== undefined && cfg.eosTokenIds.length > 1
    ? cfg.eosTokenIds
    : cfg.eosTokenId;
  return {
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    hidden_size: cfg.hiddenSize,
    intermediate_size: cfg.intermediateSize,
    num_hidden_layers: cfg.numLayers,
    num_attention_heads: cfg.numHeads,
    num_key_value_heads: cfg.numKvHeads,
    head_dim: cfg.headDim,
    vocab_size: cfg.vocabSize,
    max_position_embeddings: cfg.maxPositions,
    rms_norm_eps: cfg.rmsNormEps,
    rope_theta: cfg.ropeTheta,
    rope_scaling: null,
    tie_word_embeddings: cfg.tieWordEmbeddings,
    hidden_act: "silu",
    attention_bias: false,
    mlp_bias: false,
    bos_token_id: cfg.bosTokenId,
    eos_token_id: eos,
    torch_dtype: "float32",
  };
}
