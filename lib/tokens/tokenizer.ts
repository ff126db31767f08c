// Tokenizer: a Hugging Face tokenizer folder (tokenizer.json + tokenizer_config.json) loaded
// with @huggingface/tokenizers, plus the chat template rendered with @huggingface/jinja.
import { readFile, writeFile, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";
import { Template } from "@huggingface/jinja";
import { TunebookError } from "../errors.js";
import { BOS_TOKEN, EOS_TOKEN, PAD_TOKEN, UNK_TOKEN } from "./template.js";

export interface ChatMessage {
  role: string;
  content: string;
}

type Json = Record<string, unknown>;

export class Tokenizer {
  /** Number of ids the model's embedding must hold (vocab and added tokens). */
  readonly vocabSize: number;
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;
  /** Jinja chat template from tokenizer_config.json, if any. */
  readonly chatTemplate: string | undefined;

  private readonly hf: HfTokenizer;
  private template: Template | undefined;

  private constructor(
    private readonly tokenizerJson: Json,
    private readonly configJson: Json,
  ) {
    // Round trips must be exact, so never "clean up" spaces before punctuation on decode.
    const config = { clean_up_tokenization_spaces: false, ...configJson };
    this.hf = new HfTokenizer(tokenizerJson, config);
    let maxId = -1;
    for (const id of this.hf.get_vocab(true).values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
    this.bosId = this.specialId(configJson.bos_token, BOS_TOKEN, "bos_token");
    this.eosId = this.specialId(configJson.eos_token, EOS_TOKEN, "eos_token");
    this.padId = this.specialId(configJson.pad_token, PAD_TOKEN, "pad_token");
    const t = configJson.chat_template;
    this.chatTemplate = typeof t === "string" ? t : undefined;
  }

  /** Read `dir`/tokenizer.json and `dir`/tokenizer_config.json. */
  static async load(dir: string): Promise<Tokenizer> {
    const tokenizerJson = await readJson(join(dir, "tokenizer.json"));
    const configJson = await readJson(join(dir, "tokenizer_config.json"));
    return Tokenizer.fromJSON(tokenizerJson, configJson, dir);
  }

  /** Build from the parsed tokenizer.json and tokenizer_config.json objects. */
  static fromJSON(tokenizerJson: object, configJson: object = {}, where = "tokenizer"): Tokenizer {
    const tj = tokenizerJson as Json;
    const model = tj.model as Json | undefined;
    if (typeof model !== "object" || model === null || typeof model.vocab !== "object") {
      throw new TunebookError(
        `${where}: tokenizer.json has no model.vocab; pass a Hugging Face tokenizer.json`,
      );
    }
    // The reader indexes these unconditionally; older files may leave them out.
    const filled = { added_tokens: [], normalizer: null, pre_tokenizer: null, post_processor: null,
      decoder: null, ...tj };
    try {
      return new Tokenizer(filled, configJson as Json);
    } catch (e) {
      if (e instanceof TunebookError) throw e;
      throw new TunebookError(`${where}: cannot build the tokenizer (${(e as Error).message})`);
    }
  }

  /** Token ids of `text`; with addSpecialTokens (default false) BOS goes in front. */
  encode(text: string, opts: { addSpecialTokens?: boolean } = {}): number[] {
    return this.hf.encode(text, { add_special_tokens: opts.addSpecialTokens ?? false }).ids;
  }

  decode(ids: number[], opts: { skipSpecialTokens?: boolean } = {}): string {
    if (ids.length === 0) return "";
    return this.hf.decode(ids, {
      skip_special_tokens: opts.skipSpecialTokens ?? false,
      clean_up_tokenization_spaces: false,
    });
  }

  /** Id of a token (special or not), or undefined when the vocabulary lacks it. */
  tokenToId(token: string): number | undefined {
    return this.hf.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.hf.id_to_token(id);
  }

  /** Render `messages` with the chat template; BOS included when the template writes it. */
  applyChatTemplate(messages: ChatMessage[], opts: { addGenerationPrompt: boolean }): string {
    if (this.chatTemplate === undefined) {
      throw new TunebookError(
        "tokenizer_config.json has no chat_template; set one (see lib/tokens/template.ts)",
      );
    }
    this.template ??= new Template(this.chatTemplate);
    return this.template.render({
      messages,
      add_generation_prompt: opts.addGenerationPrompt,
      bos_token: this.idToToken(this.bosId),
      eos_token: this.idToToken(this.eosId),
      pad_token: this.idToToken(this.padId),
    });
  }

  /** Write tokenizer.json and tokenizer_config.json into `dir` (created if missing). */
  async save(dir: string, opts: { modelMaxLength?: number } = {}): Promise<void> {
    await mkdir(dir, { recursive: true });
    const config = {
      ...this.configJson,
      tokenizer_class: "PreTrainedTokenizerFast",
      bos_token: this.idToToken(this.bosId),
      eos_token: this.idToToken(this.eosId),
      pad_token: this.idToToken(this.padId),
      unk_token: this.configJson.unk_token ?? this.unkTokenOrNull(),
      model_max_length: opts.modelMaxLength ?? this.configJson.model_max_length ?? 2048,
      clean_up_tokenization_spaces: false,
      add_bos_token: this.configJson.add_bos_token ?? true,
      add_eos_token: this.configJson.add_eos_token ?? false,
      ...(this.chatTemplate !== undefined ? { chat_template: this.chatTemplate } : {}),
    };
    await writeFile(join(dir, "tokenizer.json"), JSON.stringify(this.tokenizerJson, null, 2));
    await writeFile(join(dir, "tokenizer_config.json"), JSON.stringify(config, null, 2) + "\n");
  }

  private unkTokenOrNull(): string | null {
    return this.tokenToId(UNK_TOKEN) !== undefined ? UNK_TOKEN : null;
  }

  private specialId(configured: unknown, fallback: string, field: string): number {
    // tokenizer_config.json may hold the token as a string or as {content: "..."}.
    const name =
      typeof configured === "string"
        ? configured
        : typeof configured === "object" && configured !== null && "content" in configured
          ? String((configured as { content: unknown }).content)
          : fallback;
    const id = this.hf.token_to_id(name);
    if (id === undefined) {
      throw new TunebookError(
        `tokenizer_config.json: ${field} "${name}" is not in the vocabulary; fix ${field}`,
      );
    }
    return id;
  }
}

async function readJson(path: string): Promise<Json> {
  let text: string;
  try {
    text = await readFile(path, "utf-8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "file not found" : `cannot read (${code ?? String(e)})`;
    throw new TunebookError(`${path}: ${why}; a tokenizer folder needs tokenizer.json and ` +
      "tokenizer_config.json");
  }
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new Error("expected a JSON object");
    }
    return value as Json;
  } catch (e) {
    throw new TunebookError(`${path}: not valid JSON (${(e as Error).message}); re-save the file`);
  }
}

/** tokenizer_config.json for a freshly trained tokenizer with the project's template. */
export function defaultTokenizerConfig(chatTemplate: string, modelMaxLength = 2048): Json {
  return {
    tokenizer_class: "PreTrainedTokenizerFast",
    bos_token: BOS_TOKEN,
    eos_token: EOS_TOKEN,
    pad_token: PAD_TOKEN,
    unk_token: UNK_TOKEN,
    model_max_length: modelMaxLength,
    clean_up_tokenization_spaces: false,
    chat_template: chatTemplate,
  };
}
