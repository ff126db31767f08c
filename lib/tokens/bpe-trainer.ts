// Byte-level BPE trainer producing a Hugging Face tokenizer.json object (no maintained trainer
// exists on npm). Counts pre-token words once, then merges with incremental pair-count updates.
import { TunebookError } from "../errors.js";
import { BYTE_TO_CHAR, GPT2_SPLIT } from "./byte-level.js";

export interface BpeTrainOptions {
  /** Final vocabulary size, special tokens and the 256 byte symbols included. */
  vocabSize: number;
  /** A pair seen fewer times than this is never merged (default 2). */
  minFrequency?: number;
  /** Special tokens, given ids 0..k-1 in this order (see SPECIAL_TOKENS in template.ts). */
  specialTokens: string[];
  /** Token that encode() puts in front when special tokens are requested (default "<s>"). */
  bosToken?: string;
}

/** A tokenizer.json object as @huggingface/tokenizers and the Rust library read it. */
export type TokenizerJson = Record<string, unknown>;

// Pair keys pack two ids into one number; ids stay below 2^20, so keys stay exact doubles.
const SHIFT = 1 << 20;
const pairKey = (a: number, b: number) => a * SHIFT + b;

/** Train a byte-level BPE tokenizer on `texts`; deterministic for the same inputs. */
export function trainBpe(texts: Iterable<string>, opts: BpeTrainOptions): TokenizerJson {
  const specials = opts.specialTokens;
  const minFrequency = opts.minFrequency ?? 2;
  const bosToken = opts.bosToken ?? "<s>";
  checkOptions(opts, bosToken);

  // Vocabulary: specials, then the 256 byte symbols in byte order.
  const idToToken: string[] = [...specials, ...BYTE_TO_CHAR];
  const tokenToId = new Map(idToToken.map((t, i) => [t, i]));
  const byteBase = specials.length;

  // Words: each distinct pre-token once, as byte-symbol ids, with its frequency.
  const { words, freqs } = countWords(texts, byteBase);

  // Pair counts and, per pair, the words that may contain it.
  const counts = new Map<number, number>();
  const where = new Map<number, Set<number>>();
  for (let w = 0; w < words.length; w++) {
    const s = words[w];
    for (let i = 0; i + 1 < s.length; i++) {
      const k = pairKey(s[i], s[i + 1]);
      counts.set(k, (counts.get(k) ?? 0) + freqs[w]);
      let set = where.get(k);
      if (!set) where.set(k, (set = new Set()));
      set.add(w);
    }
  }
  const heap = new PairHeap();
  for (const [k, c] of counts) heap.push(c, k);

  // Merge the most frequent pair until the vocabulary is full.
  const merges: [string, string][] = [];
  while (idToToken.length < opts.vocabSize) {
    const best = popBest(heap, counts);
    if (best === undefined || best.count < minFrequency) break;
    const a = Math.floor(best.key / SHIFT);
    const b = best.key % SHIFT;
    const merged = idToToken[a] + idToToken[b];
    let c = tokenToId.get(merged);
    if (c === undefined) {
      c = idToToken.length;
      idToToken.push(merged);
      tokenToId.set(merged, c);
    }
    merges.push([idToToken[a], idToToken[b]]);
    applyMerge(a, b, c, words, freqs, counts, where, heap);
  }

  const vocab: Record<string, number> = {};
  idToToken.forEach((t, i) => (vocab[t] = i));
  return tokenizerJson(specials, vocab, merges, bosToken);
}

function checkOptions(opts: BpeTrainOptions, bosToken: string): void {
  const min = opts.specialTokens.length + 256;
  if (!Number.isInteger(opts.vocabSize) || opts.vocabSize < min) {
    throw new TunebookError(
      `trainBpe: vocabSize ${opts.vocabSize} is too small; use at least ${min} ` +
        `(${opts.specialTokens.length} special tokens + 256 bytes)`,
    );
  }
  if (opts.vocabSize >= SHIFT) {
    throw new TunebookError(`trainBpe: vocabSize ${opts.vocabSize} is too large; use < ${SHIFT}`);
  }
  if (new Set(opts.specialTokens).size !== opts.specialTokens.length) {
    throw new TunebookError("trainBpe: specialTokens has duplicates; list each token once");
  }
  if (!opts.specialTokens.includes(bosToken)) {
    throw new TunebookError(`trainBpe: bosToken "${bosToken}" is not among specialTokens; add it`);
  }
}

function countWords(texts: Iterable<string>, byteBase: number) {
  const wordCounts = new Map<string, number>();
  for (const text of texts) {
    for (const m of text.matchAll(GPT2_SPLIT)) {
      wordCounts.set(m[0], (wordCounts.get(m[0]) ?? 0) + 1);
    }
  }

  // Sorted so that word order, and with it every later step, is independent of input order.
  const encoder = new TextEncoder();
  const entries = [...wordCounts].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  const words: number[][] = [];
  const freqs: number[] = [];
  for (const [word, freq] of entries) {
    words.push(Array.from(encoder.encode(word), (byte) => byteBase + byte));
    freqs.push(freq);
  }
  return { words, freqs };
}

/** Replace pair (a, b) by c in every word holding it, updating counts and the heap. */
function applyMerge(
  a: number,
  b: number,
  c: number,
  words: number[][],
  freqs: number[],
  counts: Map<number, number>,
  where: Map<number, Set<number>>,
  heap: PairHeap,
): void {
  const delta = new Map<number, number>();
  const add = (k: number, d: number) => delta.set(k, (delta.get(k) ?? 0) + d);

  for (const w of where.get(pairKey(a, b)) ?? []) {
    const s = words[w];
    const merged: number[] = [];
    for (let i = 0; i < s.length; i++) {
      if (i + 1 < s.length && s[i] === a && s[i + 1] === b) {
        merged.push(c);
        i++;
      } else {
        merged.push(s[i]);
      }
    }
    if (merged.length === s.length) continue; // stale entry: an earlier merge took the pair

    // Word pairs are few, so recount the word's pairs rather than patch around each hit.
    const f = freqs[w];
    for (let i = 0; i + 1 < s.length; i++) add(pairKey(s[i], s[i + 1]), -f);
    for (let i = 0; i + 1 < merged.length; i++) {
      const k = pairKey(merged[i], merged[i + 1]);
      add(k, f);
      let set = where.get(k);
      if (!set) where.set(k, (set = new Set()));
      set.add(w);
    }
    words[w] = merged;
  }

  where.delete(pairKey(a, b));
  for (const [k, d] of delta) {
    if (d === 0) continue;
    const n = (counts.get(k) ?? 0) + d;
    if (n > 0) {
      counts.set(k, n);
      heap.push(n, k);
    } else {
      counts.delete(k);
    }
  }
}

/** Pop until an entry matches the pair's current count (older entries are stale). */
function popBest(heap: PairHeap, counts: Map<number, number>) {
  for (let e = heap.pop(); e !== undefined; e = heap.pop()) {
    if (counts.get(e.key) === e.count) return e;
  }
  return undefined;
}

/** Max-heap on count; ties go to the smaller pair key (lower ids first), for determinism. */
class PairHeap {
  private countsH: number[] = [];
  private keysH: number[] = [];

  push(count: number, key: number): void {
    this.countsH.push(count);
    this.keysH.push(key);
    let i = this.countsH.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  pop(): { count: number; key: number } | undefined {
    const n = this.countsH.length;
    if (n === 0) return undefined;
    const top = { count: this.countsH[0], key: this.keysH[0] };
    this.swap(0, n - 1);
    this.countsH.pop();
    this.keysH.pop();
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n - 1 && this.before(l, m)) m = l;
      if (r < n - 1 && this.before(r, m)) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
    return top;
  }

  private before(i: number, j: number): boolean {
    const ci = this.countsH[i];
    const cj = this.countsH[j];
    return ci > cj || (ci === cj && this.keysH[i] < this.keysH[j]);
  }

  private swap(i: number, j: number): void {
    [this.countsH[i], this.countsH[j]] = [this.countsH[j], this.countsH[i]];
    [this.keysH[i], this.keysH[j]] = [this.keysH[j], this.keysH[i]];
  }
}

function tokenizerJson(
  specials: string[],
  vocab: Record<string, number>,
  merges: [string, string][],
  bosToken: string,
): TokenizerJson {
  const unk = specials.includes("<unk>") ? "<unk>" : null;
  const bosId = vocab[bosToken];
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: specials.map((content, id) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: {
      type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true,
    },
    // Llama style: BOS in front when special tokens are requested, nothing at the end.
    post_processor: {
      type: "TemplateProcessing",
      single: [
        { SpecialToken: { id: bosToken, type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: bosToken, type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: bosToken, type_id: 1 } },
        { Sequence: { id: "B", type_id: 1 } },
      ],
      special_tokens: { [bosToken]: { id: bosToken, ids: [bosId], tokens: [bosToken] } },
    },
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: unk,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges,
    },
  };
}
