// Data quality before training: exact and near duplicates, contradictions, empty, too short and
// too long records, undecodable lines, label imbalance and overlap with another split.
import { clusters, nearPairs } from "./minhash.js";
import {
  type AuditData,
  type AuditRecord,
  normalizeText,
  type RecordRef,
  ref,
  type UnreadableLine,
  words,
} from "./records.js";

export interface QualityOptions {
  /** Counts tokens for the length checks; without one, words are counted. */
  tokenizer?: { encode(text: string): number[] };
  /** Records with fewer tokens (prompt + answer) are too short (default 3). */
  minTokens?: number;
  /** Records with more tokens are too long (default 512; pass the model's context length). */
  maxTokens?: number;
  /** Jaccard similarity of character shingles from which records are near duplicates (0.8). */
  nearThreshold?: number;
  /** Similarity of prompts from which different answers count as a contradiction (0.9). */
  contradictionThreshold?: number;
  /** The most/least frequent label ratio above which labels count as imbalanced (default 10). */
  imbalanceRatio?: number;
  /** Another split (validation, test) to check for records shared with this one. */
  against?: readonly AuditRecord[];
}

export interface DuplicateGroup {
  records: RecordRef[];
  text: string;
}

export interface NearGroup {
  records: RecordRef[];
  /** Least similarity among the pairs that joined the group. */
  similarity: number;
  texts: string[];
}

export interface Contradiction {
  kind: "exact" | "near";
  similarity: number;
  answers: { output: string; records: RecordRef[] }[];
}

export interface LengthFinding extends RecordRef {
  tokens: number;
}

export interface LabelBalance {
  /** Whether the answers look like labels (few distinct values), so balance applies. */
  applies: boolean;
  distinct: number;
  counts: { label: string; count: number }[];
  /** Most frequent / least frequent. */
  ratio: number;
  /** Entropy of the label distribution / log(distinct): 1 is perfectly balanced. */
  evenness: number;
  /** Labels with under a fifth of the mean count. */
  rare: string[];
  flagged: boolean;
}

export interface OverlapFinding {
  kind: "exact" | "near";
  record: RecordRef;
  other: RecordRef;
  similarity: number;
}

export interface QualityResult {
  counts: {
    records: number;
    exactDuplicates: number;
    nearDuplicates: number;
    contradictions: number;
    empty: number;
    tooShort: number;
    tooLong: number;
    undecodable: number;
    unparsable: number;
    overlap: number;
  };
  /** Groups of records with the same normalised prompt and answer. */
  exactDuplicates: DuplicateGroup[];
  nearDuplicates: NearGroup[];
  contradictions: Contradiction[];
  empty: (RecordRef & { field: "input" | "output" })[];
  tooShort: LengthFinding[];
  tooLong: LengthFinding[];
  undecodable: UnreadableLine[];
  unparsable: UnreadableLine[];
  labels: LabelBalance;
  /** Records also in `against` (null without it). */
  overlap: OverlapFinding[] | null;
  unit: "tokens" | "words";
  limits: { minTokens: number; maxTokens: number };
  charts: {
    lengths: { x: number[]; y: number[]; xLabel: string; yLabel: string };
    labels: { x: string[]; y: number[] };
  };
  summary: string;
}

/** Audits the records of one data set. `data` may be read with readAuditData or fromExamples. */
export function auditQuality(
  data: AuditData | readonly AuditRecord[],
  opts: QualityOptions = {},
): QualityResult {
  const { records, undecodable, unparsable } =
    "records" in data ? data : { records: data, undecodable: [], unparsable: [] };
  const minTokens = opts.minTokens ?? 3;
  const maxTokens = opts.maxTokens ?? 512;
  const count = opts.tokenizer
    ? (t: string) => (t === "" ? 0 : opts.tokenizer!.encode(t).length)
    : (t: string) => words(t).length;

  const exact = exactDuplicates(records);
  const near = nearDuplicates(records, opts.nearThreshold ?? 0.8);
  const contradictions = findContradictions(records, opts.contradictionThreshold ?? 0.9);
  const empty: QualityResult["empty"] = [];
  for (const r of records) {
    if (r.input.trim() === "") empty.push({ ...ref(r), field: "input" });
    if (r.output.trim() === "") empty.push({ ...ref(r), field: "output" });
  }
  const lengths = records.map((r) => count(r.input) + count(r.output));
  const tooShort = records
    .map((r, i) => ({ ...ref(r), tokens: lengths[i] }))
    .filter((f) => f.tokens < minTokens);
  const tooLong = records
    .map((r, i) => ({ ...ref(r), tokens: lengths[i] }))
    .filter((f) => f.tokens > maxTokens);
  const labels = labelBalance(records, opts.imbalanceRatio ?? 10);
  const overlap = opts.against
    ? findOverlap(records, opts.against, opts.nearThreshold ?? 0.8)
    : null;

  const result: Omit<QualityResult, "summary"> = {
    counts: {
      records: records.length,
      exactDuplicates: exact.reduce((s, g) => s + g.records.length - 1, 0),
      nearDuplicates: near.reduce((s, g) => s + g.records.length - 1, 0),
      contradictions: contradictions.length,
      empty: empty.length,
      tooShort: tooShort.length,
      tooLong: tooLong.length,
      undecodable: undecodable.length,
      unparsable: unparsable.length,
      overlap: overlap?.length ?? 0,
    },
    exactDuplicates: exact,
    nearDuplicates: near,
    contradictions,
    empty,
    tooShort,
    tooLong,
    undecodable,
    unparsable,
    labels,
    overlap,
    unit: opts.tokenizer ? "tokens" : "words",
    limits: { minTokens, maxTokens },
    charts: {
      lengths: {
        ...histogram(lengths),
        xLabel: opts.tokenizer ? "tokens" : "words",
        yLabel: "records",
      },
      labels: { x: labels.counts.map((c) => c.label), y: labels.counts.map((c) => c.count) },
    },
  };
  return { ...result, summary: qualitySummary(result) };
}

function key(r: AuditRecord): string {
  return `${normalizeText(r.input)}\u0001${normalizeText(r.output)}`;
}

function exactDuplicates(records: readonly AuditRecord[]): DuplicateGroup[] {
  const groups = groupBy(records, key);
  return [...groups.values()]
    .filter((g) => g.length > 1)
    .map((g) => ({ records: g.map(ref), text: `${g[0].input} → ${g[0].output}` }));
}

/** Near duplicates among records that are not exact copies of each other. */
function nearDuplicates(records: readonly AuditRecord[], threshold: number): NearGroup[] {
  const groups = [...groupBy(records, key).values()];
  const texts = groups.map((g) => normalizeText(`${g[0].input} ${g[0].output}`));
  const pairs = nearPairs(texts, { threshold });
  const least = new Map<number, number>();
  for (const p of pairs) {
    for (const i of [p.a, p.b]) least.set(i, Math.min(least.get(i) ?? 1, p.similarity));
  }
  return clusters(texts.length, pairs).map((members) => ({
    records: members.flatMap((i) => groups[i].map(ref)),
    similarity: Math.min(...members.map((i) => least.get(i) ?? 1)),
    texts: members.map((i) => `${groups[i][0].input} → ${groups[i][0].output}`),
  }));
}

/** The same (or nearly the same) prompt with different answers. */
function findContradictions(records: readonly AuditRecord[], threshold: number): Contradiction[] {
  const byInput = [...groupBy(records, (r) => normalizeText(r.input)).entries()].filter(
    ([input]) => input !== "",
  );
  const answersOf = (g: AuditRecord[]) => {
    const byOutput = groupBy(g, (r) => normalizeText(r.output));
    return [...byOutput.values()].map((rs) => ({ output: rs[0].output, records: rs.map(ref) }));
  };
  const out: Contradiction[] = [];
  for (const [, g] of byInput) {
    const answers = answersOf(g);
    if (answers.length > 1) out.push({ kind: "exact", similarity: 1, answers });
  }
  const pairs = nearPairs(
    byInput.map(([input]) => input),
    { threshold },
  );
  for (const { a, b, similarity } of pairs) {
    const ga = byInput[a][1];
    const gb = byInput[b][1];
    const outA = new Set(ga.map((r) => normalizeText(r.output)));
    if (gb.every((r) => outA.has(normalizeText(r.output)))) continue;
    out.push({ kind: "near", similarity, answers: answersOf([...ga, ...gb]) });
  }
  return out;
}

function labelBalance(records: readonly AuditRecord[], maxRatio: number): LabelBalance {
  const counts = [...groupBy(records, (r) => r.output.trim()).entries()]
    .map(([label, rs]) => ({ label, count: rs.length }))
    .sort((a, b) => b.count - a.count || (a.label < b.label ? -1 : 1));
  const n = records.length;
  const distinct = counts.length;
  // Answers are labels when they repeat: on average five or more records per distinct answer.
  const applies = distinct >= 2 && distinct * 5 <= n;
  const ratio = distinct === 0 ? 0 : counts[0].count / counts[distinct - 1].count;
  let entropy = 0;
  for (const c of counts) entropy -= (c.count / n) * Math.log(c.count / n);
  const evenness = distinct > 1 ? entropy / Math.log(distinct) : 1;
  const mean = n / Math.max(1, distinct);
  const rare = applies ? counts.filter((c) => c.count < mean / 5).map((c) => c.label) : [];
  return {
    applies,
    distinct,
    counts: applies ? counts : counts.slice(0, 20),
    ratio,
    evenness,
    rare,
    flagged: applies && (ratio > maxRatio || rare.length > 0),
  };
}

function findOverlap(
  records: readonly AuditRecord[],
  against: readonly AuditRecord[],
  threshold: number,
): OverlapFinding[] {
  const out: OverlapFinding[] = [];
  const theirs = groupBy(against, (r) => normalizeText(r.input));
  for (const r of records) {
    const same = theirs.get(normalizeText(r.input));
    if (same) out.push({ kind: "exact", record: ref(r), other: ref(same[0]), similarity: 1 });
  }

  // Near: pairs between distinct prompts of the two sets that are not exact matches.
  const mine = [...groupBy(records, (r) => normalizeText(r.input)).entries()].filter(
    ([t]) => t !== "" && !theirs.has(t),
  );
  const other = [...theirs.entries()].filter(([t]) => t !== "");
  const texts = [...mine.map(([t]) => t), ...other.map(([t]) => t)];
  for (const { a, b, similarity } of nearPairs(texts, { threshold })) {
    const [i, j] = a < b ? [a, b] : [b, a];
    if (i >= mine.length || j < mine.length) continue;
    for (const r of mine[i][1]) {
      out.push({
        kind: "near",
        record: ref(r),
        other: ref(other[j - mine.length][1][0]),
        similarity,
      });
    }
  }
  return out;
}

function groupBy<T>(items: readonly T[], keyOf: (t: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = keyOf(item);
    const g = groups.get(k);
    if (g === undefined) groups.set(k, [item]);
    else g.push(item);
  }
  return groups;
}

/** Counts per bin of width chosen to give about 20 bins; x is each bin's lower edge. */
function histogram(values: number[]): { x: number[]; y: number[] } {
  if (values.length === 0) return { x: [], y: [] };
  const max = Math.max(...values);
  const width = Math.max(1, Math.ceil((max + 1) / 20));
  const y = new Array(Math.ceil((max + 1) / width)).fill(0);
  for (const v of values) y[Math.floor(v / width)]++;
  return { x: y.map((_, i) => i * width), y };
}

function qualitySummary(r: Omit<QualityResult, "summary">): string {
  const c = r.counts;
  const problems: string[] = [];
  const say = (n: number, what: string) => n > 0 && problems.push(`${n} ${what}`);
  say(c.exactDuplicates, "exact duplicate records (copies beyond the first)");
  say(c.nearDuplicates, "near duplicates");
  say(
    c.contradictions,
    "contradictions (the same or nearly the same prompt with different answers)",
  );
  say(c.empty, "empty prompts or answers");
  say(c.tooShort, `records under ${r.limits.minTokens} ${r.unit}`);
  say(c.tooLong, `records over ${r.limits.maxTokens} ${r.unit}`);
  say(c.undecodable, "lines that are not valid UTF-8");
  say(c.unparsable, "lines that are not JSON records");
  say(c.overlap, "records whose prompt also appears in the other split");
  let text = `Checked ${c.records} records. `;
  text +=
    problems.length === 0
      ? "No duplicates, contradictions, length or encoding problems were found."
      : `Found ${problems.join("; ")}.`;
  if (r.labels.applies) {
    text +=
      ` The answers look like ${r.labels.distinct} labels; the most frequent occurs ` +
      `${r.labels.ratio.toFixed(1)} times as often as the least (evenness ` +
      `${r.labels.evenness.toFixed(2)}, 1 = balanced)` +
      (r.labels.flagged
        ? `, which is imbalanced: consider more examples of ${
            r.labels.rare.slice(0, 5).join(", ") || "the rarest labels"
          }.`
        : ".");
  }
  if (problems.length > 0) {
    text +=
      " Fix them with dataset.fix({...}) (or session.fixData) before training; " +
      "duplicates overweight some examples, and overlap with validation inflates its scores.";
  }
  return text;
}
