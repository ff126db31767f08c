// Examples → token ids with a loss mask: the prompt (everything before the last assistant
// answer) is context with mask 0; the answer and its end-of-sequence token are targets, mask 1.
import { TunebookError } from "../errors.js";
import type { Tokenizer } from "../tokens/tokenizer.js";
import type { Example } from "./records.js";

export interface EncodedExample {
  ids: number[];
  /** lossMask[i] = 1 when ids[i] is a target (predicted from ids[..i-1]), 0 for context. */
  lossMask: number[];
  /** True when the row was cut to maxLength. */
  truncated: boolean;
}

export interface EncodedRow extends EncodedExample {
  source: Example["source"];
}

export type OverLength = "drop" | "truncate" | "error";

export interface EncodeReport {
  /** Examples given. */
  count: number;
  /** Examples longer than maxLength before any cut. */
  tooLong: number;
  /** Examples left out: too long with "drop", or nothing left to learn after "truncate". */
  dropped: number;
  /** Rows cut to maxLength and kept. */
  truncated: number;
  /** Token counts of all examples before any cut. */
  lengths: { min: number; mean: number; p50: number; p95: number; max: number };
}

/** Encode one example; rows longer than maxLength keep their first maxLength tokens. */
export function encodeExample(
  tokenizer: Tokenizer,
  example: Example,
  opts: { maxLength: number },
): EncodedExample {
  const { ids, promptLength } = tokenize(tokenizer, example);
  const lossMask = ids.map((_, i) => (i < promptLength ? 0 : 1));
  const truncated = ids.length > opts.maxLength;
  return truncated
    ? { ids: ids.slice(0, opts.maxLength), lossMask: lossMask.slice(0, opts.maxLength), truncated }
    : { ids, lossMask, truncated };
}

/** Encode all examples, handling those over maxLength as `overLength` says. */
export function encodeAll(
  tokenizer: Tokenizer,
  examples: readonly Example[],
  opts: { maxLength: number; overLength: OverLength },
): { rows: EncodedRow[]; report: EncodeReport } {
  const rows: EncodedRow[] = [];
  const lengths: number[] = [];
  let tooLong = 0;
  let dropped = 0;
  let truncated = 0;

  for (const example of examples) {
    const row = encodeExample(tokenizer, example, { maxLength: Number.MAX_SAFE_INTEGER });
    lengths.push(row.ids.length);
    if (row.ids.length <= opts.maxLength) {
      rows.push({ ...row, source: example.source });
      continue;
    }

    tooLong++;
    if (opts.overLength === "error") throw overLengthError(example, row.ids.length, opts.maxLength);
    const mask = row.lossMask.slice(0, opts.maxLength);
    if (opts.overLength === "drop" || !mask.includes(1)) {
      dropped++;
      continue;
    }
    truncated++;
    rows.push({ ids: row.ids.slice(0, opts.maxLength), lossMask: mask, truncated: true,
      source: example.source });
  }
  return { rows, report: { count: examples.length, tooLong, dropped, truncated,
    lengths: summarize(lengths) } };
}

/** Full token ids of the chat and how many of them form the prompt. */
function tokenize(tokenizer: Tokenizer, example: Example) {
  const where = `${example.source.file}:${example.source.line}`;
  const messages = example.messages;
  if (messages.length === 0 || messages[messages.length - 1].role !== "assistant") {
    throw new TunebookError(`${where}: the last message must be the assistant's answer`);
  }
  const full = tokenizer.applyChatTemplate(messages, { addGenerationPrompt: false });
  const prompt = tokenizer.applyChatTemplate(messages.slice(0, -1), { addGenerationPrompt: true });
  if (!full.startsWith(prompt)) {
    throw new TunebookError(
      "chat template: the prompt with add_generation_prompt is not a prefix of the full chat, " +
        "so the answer cannot be masked; use a template where it is (lib/tokens/template.ts)",
    );
  }

  // A merge across the prompt/answer boundary would break the prefix; encode the parts apart.
  const promptIds = tokenizer.encode(prompt);
  let ids = tokenizer.encode(full);
  if (!startsWith(ids, promptIds)) {
    ids = [...promptIds, ...tokenizer.encode(full.slice(prompt.length))];
  }

  // Every target ends with EOS, also under templates that close turns with something else.
  if (ids[ids.length - 1] !== tokenizer.eosId) ids.push(tokenizer.eosId);
  return { ids, promptLength: promptIds.length };
}

function startsWith(ids: number[], prefix: number[]): boolean {
  return prefix.length <= ids.length && prefix.every((id, i) => ids[i] === id);
}

function overLengthError(example: Example, length: number, maxLength: number) {
  return new TunebookError(
    `${example.source.file}:${example.source.line}: ${length} tokens, longer than maxLength ` +
      `${maxLength}; raise maxLength or pass overLength "truncate" or "drop"`,
  );
}

function summarize(lengths: number[]): EncodeReport["lengths"] {
  if (lengths.length === 0) return { min: 0, mean: 0, p50: 0, p95: 0, max: 0 };
  const s = [...lengths].sort((a, b) => a - b);
  // Nearest-rank percentile: the smallest length at or above the given share of examples.
  const pct = (p: number) => s[Math.max(0, Math.ceil((p / 100) * s.length) - 1)];
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  return { min: s[0], mean, p50: pct(50), p95: pct(95), max: s[s.length - 1] };
}
