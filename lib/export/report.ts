// Renders report.md for a run folder: goal, data, hyperparameters, metrics before and after
// training next to the baseline, and the ten weakest classes.
import type { ClassScores } from "../eval/metrics.js";

/**
 * The run.json fields the report reads; all optional, other fields are ignored.
 * `data` holds example counts per split, `hyperparameters` flat settings.
 */
export interface RunSummary {
  /** A sentence, or an object whose `description` is one. */
  goal?: string | { description?: string };
  base_model?: string;
  data?: Record<string, number>;
  hyperparameters?: Record<string, unknown>;
}

/** One column of the metrics table: EvalScores fields plus losses, all optional. */
export interface StageMetrics {
  n?: number;
  accuracy?: number;
  macro_f1?: number | null;
  format_consistency?: number | null;
  hallucination_rate?: number | null;
  validation_loss?: number;
  perplexity?: number;
  per_class?: Record<string, ClassScores>;
}

/** The metrics.json fields the report reads: one StageMetrics per stage. */
export interface RunMetrics {
  baseline?: StageMetrics;
  before?: StageMetrics;
  after?: StageMetrics;
}

const STAGES = [
  ["baseline", "Baseline"],
  ["before", "Before training"],
  ["after", "After training"],
] as const;

const ROWS: [keyof StageMetrics, string, number][] = [
  ["accuracy", "Accuracy", 3],
  ["macro_f1", "Macro F1", 3],
  ["format_consistency", "Format consistency", 3],
  ["hallucination_rate", "Hallucination rate", 3],
  ["validation_loss", "Validation loss", 4],
  ["perplexity", "Perplexity", 2],
  ["n", "Examples scored", 0],
];

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function num(v: unknown, digits: number): string {
  return typeof v === "number" && Number.isFinite(v) ? v.toFixed(digits) : "–";
}

function cell(v: unknown): string {
  const text = typeof v === "string" ? v : JSON.stringify(v) ?? "–";
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

function table(header: string[], rows: string[][]): string[] {
  return [
    `| ${header.join(" | ")} |`,
    `|${header.map(() => "---").join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ];
}

/** One sentence: did fine-tuning beat the retrieval baseline on accuracy? */
function baselineVerdict(after?: StageMetrics, baseline?: StageMetrics): string | null {
  if (typeof after?.accuracy !== "number" || typeof baseline?.accuracy !== "number") return null;
  const gap = after.accuracy - baseline.accuracy;
  const a = num(after.accuracy, 3);
  const b = num(baseline.accuracy, 3);
  return gap >= 0
    ? `Fine-tuning beats the retrieval baseline: accuracy ${a} against ${b}.`
    : `The retrieval baseline is still ahead: accuracy ${b} against ${a} after fine-tuning; ` +
        `a larger base model, more epochs or cleaner data may close the gap.`;
}

/** Markdown for report.md. Sections without data are left out. */
export function renderReport(runJson: object, metrics: object): string {
  const run = runJson as RunSummary;
  const m = metrics as Record<string, unknown>;
  const stage = (key: string) => (isRecord(m[key]) ? (m[key] as StageMetrics) : undefined);
  const out: string[] = ["# Fine-tuning report", ""];

  // Goal and base model.
  const goal = isRecord(run.goal) ? run.goal.description : run.goal;
  if (typeof goal === "string" && goal !== "") out.push("## Goal", "", goal, "");
  if (typeof run.base_model === "string") out.push(`Base model: \`${run.base_model}\``, "");

  // Data counts and hyperparameters.
  if (isRecord(run.data) && Object.keys(run.data).length > 0) {
    const rows = Object.entries(run.data).map(([k, v]) => [cell(k), cell(v)]);
    out.push("## Data", "", ...table(["Split", "Examples"], rows), "");
  }
  if (isRecord(run.hyperparameters) && Object.keys(run.hyperparameters).length > 0) {
    const rows = Object.entries(run.hyperparameters).map(([k, v]) => [cell(k), cell(v)]);
    out.push("## Hyperparameters", "", ...table(["Setting", "Value"], rows), "");
  }

  // Metrics: one column per stage present, plus the change from before to after.
  const stages = STAGES.filter(([key]) => stage(key) !== undefined);
  const get = (key: string) => stage(key) as StageMetrics;
  if (stages.length > 0) {
    const withDelta = stage("before") !== undefined && stage("after") !== undefined;
    const rows = ROWS.filter(([field]) => stages.some(([key]) => get(key)[field] != null)).map(
      ([field, label, digits]) => {
        const row = [label, ...stages.map(([key]) => num(get(key)[field], digits))];
        if (withDelta) {
          const a = get("after")[field];
          const b = get("before")[field];
          const comparable = field !== "n" && typeof a === "number" && typeof b === "number";
          const d = comparable ? (a as number) - (b as number) : undefined;
          row.push(d === undefined ? "–" : `${d >= 0 ? "+" : ""}${num(d, digits)}`);
        }
        return row;
      },
    );
    const header = ["Metric", ...stages.map(([, title]) => title)];
    if (withDelta) header.push("Change");
    out.push("## Metrics", "", ...table(header, rows), "");
    const verdict = baselineVerdict(stage("after"), stage("baseline"));
    if (verdict !== null) out.push(verdict, "");
  }

  // The ten classes with the lowest F1 in the last stage that has per-class scores.
  const last = [...stages].reverse().find(([key]) => isRecord(get(key).per_class));
  if (last) {
    const perClass = get(last[0]).per_class as Record<string, ClassScores>;
    const worst = Object.entries(perClass)
      .filter(([, s]) => s.n > 0)
      .sort(([a, x], [b, y]) => x.f1 - y.f1 || y.n - x.n || (a < b ? -1 : 1))
      .slice(0, 10);
    if (worst.length > 0) {
      const rows = worst.map(([name, s]) => [
        cell(name), String(s.n), String(s.correct),
        num(s.precision, 3), num(s.recall, 3), num(s.f1, 3),
      ]);
      const header = ["Class", "n", "Correct", "Precision", "Recall", "F1"];
      out.push(`## Weakest classes (${last[1].toLowerCase()})`, "", ...table(header, rows), "");
    }
  }
  return out.join("\n");
}
