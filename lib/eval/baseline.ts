// A retrieval baseline a fine-tuned model must beat: TF-IDF over the training set with a
// nearest-neighbour (cosine, k = 1) or a class-centroid predictor. No model, no tensors.
import { TunebookError } from "../errors.js";
import { scorePredictions, type AnswerSpec, type EvalScores } from "./metrics.js";

/**
 * "nearest": output of the most similar training input. "centroid": output whose mean training
 * vector is closest; when every output is unique this is the same as "nearest".
 */
export type BaselineMethod = "nearest" | "centroid";

export interface BaselineExample {
  input: string;
  output: string;
}

export interface BaselineOptions {
  /** Predictor used by predict() and evaluate() when none is named. Default "centroid". */
  method?: BaselineMethod;
  /** Terms seen in fewer training inputs are dropped. Default 1 (keep all). */
  minDf?: number;
}

/** A sparse vector: term ids in ascending order and their weights. */
interface SparseVector {
  ids: Int32Array;
  weights: Float64Array;
}

/** Postings of many vectors, by term: rows of `owner` / `weight` from start[t] to start[t+1]. */
interface InvertedIndex {
  start: Int32Array;
  owner: Int32Array;
  weight: Float64Array;
  size: number;
}

/** Lower-cased words (letters, digits, inner apostrophes) and adjacent word pairs. */
export function tfidfTerms(text: string): string[] {
  const words = text.toLowerCase().match(/[\p{L}\p{N}]+(?:'[\p{L}\p{N}]+)*/gu) ?? [];
  const terms = words.slice();
  for (let i = 1; i < words.length; i++) terms.push(`${words[i - 1]} ${words[i]}`);
  return terms;
}

function buildIndex(vectors: SparseVector[], vocabSize: number): InvertedIndex {
  const start = new Int32Array(vocabSize + 1);
  for (const v of vectors) for (const id of v.ids) start[id + 1]++;
  for (let t = 0; t < vocabSize; t++) start[t + 1] += start[t];

  const fill = start.slice(0, vocabSize);
  const owner = new Int32Array(start[vocabSize]);
  const weight = new Float64Array(start[vocabSize]);
  vectors.forEach((v, row) => {
    for (let j = 0; j < v.ids.length; j++) {
      const at = fill[v.ids[j]]++;
      owner[at] = row;
      weight[at] = v.weights[j];
    }
  });
  return { start, owner, weight, size: vectors.length };
}

export class TfidfBaseline {
  /** Distinct training outputs in first-seen order: the label set of a classification task. */
  readonly labels: string[];
  readonly method: BaselineMethod;

  private readonly vocab: Map<string, number>;
  private readonly idf: Float64Array;
  private readonly outputs: string[];
  private readonly docs: InvertedIndex;
  private readonly centroids: InvertedIndex;
  private readonly majority: string;
  private readonly scratch: Float64Array;

  private constructor(train: BaselineExample[], opts: BaselineOptions) {
    this.method = opts.method ?? "centroid";
    const minDf = opts.minDf ?? 1;
    this.outputs = train.map((ex) => ex.output);

    // Vocabulary and inverse document frequency (smoothed: ln((1 + N) / (1 + df)) + 1).
    const termLists = train.map((ex) => tfidfTerms(ex.input));
    const df = new Map<string, number>();
    for (const terms of termLists) for (const t of new Set(terms)) df.set(t, (df.get(t) ?? 0) + 1);
    this.vocab = new Map();
    const idf: number[] = [];
    for (const [term, count] of df) {
      if (count < minDf) continue;
      this.vocab.set(term, idf.length);
      idf.push(Math.log((1 + train.length) / (1 + count)) + 1);
    }
    this.idf = Float64Array.from(idf);

    // Training vectors, then one l2-normalised mean vector per class.
    const vectors = termLists.map((terms) => this.vectorize(terms));
    this.docs = buildIndex(vectors, this.idf.length);
    this.labels = [...new Set(this.outputs)];
    const centroids = this.labels.map(() => new Map<number, number>());
    const classOf = new Map(this.labels.map((label, c) => [label, c]));
    const counts = new Array<number>(this.labels.length).fill(0);
    vectors.forEach((v, row) => {
      const c = classOf.get(this.outputs[row]) as number;
      counts[c]++;
      const sum = centroids[c];
      for (let j = 0; j < v.ids.length; j++) {
        sum.set(v.ids[j], (sum.get(v.ids[j]) ?? 0) + v.weights[j]);
      }
    });
    this.centroids = buildIndex(centroids.map(toUnitVector), this.idf.length);
    this.majority = this.labels[counts.indexOf(Math.max(...counts))];
    this.scratch = new Float64Array(Math.max(train.length, this.labels.length));
  }

  /** Builds the index. `train` must be non-empty; outputs are returned verbatim by predict(). */
  static fit(train: BaselineExample[], opts: BaselineOptions = {}): TfidfBaseline {
    if (train.length === 0) {
      throw new TunebookError("TfidfBaseline.fit: the training set is empty; pass examples");
    }
    train.forEach((ex, i) => {
      if (typeof ex?.input !== "string" || typeof ex?.output !== "string") {
        throw new TunebookError(
          `TfidfBaseline.fit: example ${i} needs string fields "input" and "output"`,
        );
      }
    });
    checkMethod(opts.method, "TfidfBaseline.fit");
    return new TfidfBaseline(train, opts);
  }

  /** The training output closest to `input`; the most frequent output if no term is known. */
  predict(input: string, method: BaselineMethod = this.method): string {
    checkMethod(method, "TfidfBaseline.predict");
    const query = this.vectorize(tfidfTerms(input));
    if (method === "centroid") {
      const c = this.best(this.centroids, query);
      return c < 0 ? this.majority : this.labels[c];
    }
    const row = this.best(this.docs, query);
    return row < 0 ? this.majority : this.outputs[row];
  }

  /**
   * Predicts every item and scores it. The default spec is a label task over the training
   * outputs; pass another spec when outputs are JSON or free text.
   */
  evaluate(
    items: BaselineExample[],
    opts: { method?: BaselineMethod; spec?: AnswerSpec } = {},
  ): EvalScores {
    const spec = opts.spec ?? { kind: "label", labels: this.labels };
    const scored = items.map((it) => ({
      input: it.input,
      prediction: this.predict(it.input, opts.method),
      reference: it.output,
    }));
    return scorePredictions(scored, spec);
  }

  /** Sublinear tf (1 + ln tf) times idf, l2-normalised; unknown terms are dropped. */
  private vectorize(terms: string[]): SparseVector {
    const tf = new Map<number, number>();
    for (const t of terms) {
      const id = this.vocab.get(t);
      if (id !== undefined) tf.set(id, (tf.get(id) ?? 0) + 1);
    }
    const weighted = new Map<number, number>();
    for (const [id, count] of tf) weighted.set(id, (1 + Math.log(count)) * this.idf[id]);
    return toUnitVector(weighted);
  }

  /** Row with the highest cosine to `query` (ties: lowest row), or -1 when nothing overlaps. */
  private best(index: InvertedIndex, query: SparseVector): number {
    const scores = this.scratch;
    const touched: number[] = [];
    for (let j = 0; j < query.ids.length; j++) {
      const t = query.ids[j];
      const w = query.weights[j];
      for (let at = index.start[t]; at < index.start[t + 1]; at++) {
        const row = index.owner[at];
        if (scores[row] === 0) touched.push(row);
        scores[row] += w * index.weight[at];
      }
    }

    let bestRow = -1;
    let bestScore = 0;
    for (const row of touched) {
      const s = scores[row];
      if (s > bestScore || (s === bestScore && row < bestRow)) {
        bestScore = s;
        bestRow = row;
      }
      scores[row] = 0;
    }
    return bestRow;
  }
}

function checkMethod(method: unknown, where: string): void {
  if (method !== undefined && method !== "nearest" && method !== "centroid") {
    throw new TunebookError(`${where}: unknown method "${method}"; use "nearest" or "centroid"`);
  }
}

function toUnitVector(weights: Map<number, number>): SparseVector {
  const ids = Int32Array.from([...weights.keys()].sort((a, b) => a - b));
  const values = Float64Array.from(ids, (id) => weights.get(id) as number);
  let norm = 0;
  for (const v of values) norm += v * v;
  norm = Math.sqrt(norm);
  if (norm > 0) for (let j = 0; j < values.length; j++) values[j] /= norm;
  return { ids, weights: values };
}
