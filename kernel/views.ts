// The views of tunebook's own objects: a training run (chart and tables), a session, a data set,
// a danfojs frame, evaluation reports and comparisons. display.ts picks the view for a value.
import type { DataFrame } from "danfojs-node";
import type {
  Dataset,
  EvalReport,
  EvalScores,
  RunResult,
  Session,
  TrainingRun,
} from "../lib/index.js";
import { comparisonFigure, figureHtml, PLOTLY_MIME, runFigure, type Figure } from "./chart.js";
import { type Cell, cellOf, clip, fields, num, pct, table, textFields, textTable } from "./html.js";

/** MIME type → content, as in display_data and execute_result messages. */
export type Bundle = Record<string, unknown>;

// ---- training runs -------------------------------------------------------------------------

export function runBundle(run: TrainingRun): Bundle {
  const last = run.steps.at(-1);
  const val = run.evals.at(-1);
  const summary: [string, Cell][] = [
    ["status", run.status],
    ["step", `${run.step} / ${run.totalSteps}`],
    ["epoch", last === undefined ? "0" : num(last.epoch)],
    ["loss", last?.loss ?? null],
    ["validation loss", val?.validationLoss ?? null],
    ["learning rate", last?.learningRate ?? run.settings.learningRate],
    ["tokens/s", last === undefined ? null : Math.round(last.tokensPerSecond)],
    [
      "ETA",
      last === undefined || run.status !== "running" ? "" : `${Math.round(last.etaSeconds)} s`,
    ],
  ];
  const changes = run.changes.map((c) => [c.step, c.action, describeChange(c.details)]);
  const fig = runFigure(run);
  const text = [
    `TrainingRun: ${run.status}, step ${run.step}/${run.totalSteps}` +
      (last === undefined ? "" : `, loss ${num(last.loss)}`) +
      (val === undefined ? "" : `, validation loss ${num(val.validationLoss)}`) +
      (last === undefined ? "" : `, learning rate ${num(last.learningRate)}`),
    ...run.changes.map((c) =>
      `  step ${c.step}: ${c.action} ${describeChange(c.details)}`.trimEnd(),
    ),
  ].join("\n");
  const html =
    figureHtml(fig) +
    `<div style="display:flex;gap:2em;flex-wrap:wrap;align-items:flex-start">` +
    fields(summary, "training run") +
    (changes.length === 0 ? "" : table(["step", "change", "details"], changes, "changes")) +
    `</div>`;
  return { "text/plain": text, "text/html": html, [PLOTLY_MIME]: fig };
}

export function runResultBundle(r: RunResult): Bundle {
  const pairs: [string, Cell][] = [
    ["status", r.status],
    ["steps", r.steps],
    ["final loss", r.finalLoss],
    ["validation loss", r.validationLoss],
    ["seconds", r.seconds],
    ["tokens", r.tokens],
  ];
  return bundleOf("run result", pairs);
}

// ---- sessions and data ---------------------------------------------------------------------

export function sessionBundle(s: Session): Bundle {
  const pairs: [string, Cell][] = [
    ["base model", s.baseModel],
    ["parameters", s.model.numParameters()],
    [
      "goal",
      s.goal === undefined ? "not set" : `${s.goal.description} (answers: ${s.goal.answer})`,
    ],
    [
      "data",
      s.data === undefined
        ? "not loaded"
        : `${s.data.train.size} training, ${s.data.validation.size} validation examples`,
    ],
    [
      "tokens",
      s.tokenReport === undefined ? "not tokenized" : tokenSummary(s.tokenReport.train.lengths),
    ],
    ["method", s.method === undefined ? "not chosen" : methodSummary(s.method)],
    [
      "run",
      s.run === undefined ? "none" : `${s.run.status}, step ${s.run.step}/${s.run.totalSteps}`,
    ],
    [
      "evaluations",
      s.evaluations.map((e) => `${e.label}: accuracy ${pct(e.accuracy)}`).join("; ") || "none",
    ],
    ["baseline", s.baseline === undefined ? "none" : `accuracy ${pct(s.baseline.accuracy)}`],
  ];
  const recent = s.history
    .slice(-12)
    .map((h) => [h.time.slice(11, 19), h.stage, h.action, clip(compact(h.details), 90)]);
  const text = textFields("Session", [...pairs, ["history", `${s.history.length} entries`]]);
  const html =
    fields(pairs, "session") +
    table(
      ["time", "stage", "action", "details"],
      recent,
      `history (last ${recent.length} of ${s.history.length})`,
    );
  return { "text/plain": text, "text/html": html };
}

export function datasetBundle(d: Dataset): Bundle {
  const labels = d.labels();
  const shown = d.examples.slice(0, 8).map((ex, i) => [
    i,
    clip(
      ex.messages
        .slice(0, -1)
        .map((m) => m.content)
        .join(" / "),
      70,
    ),
    clip(ex.messages[ex.messages.length - 1].content, 40),
    `${ex.source.file.split("/").pop()}:${ex.source.line}`,
  ]);
  const top = labels
    .slice(0, 12)
    .map((l) => [l.label, l.count, pct(l.count / Math.max(1, d.size))]);
  const text =
    `Dataset: ${d.size} examples, ${labels.length} distinct answers\n` +
    textTable(["answer", "count", "share"], top.slice(0, 6));
  const html =
    `<p><b>Dataset</b>: ${d.size} examples, ${labels.length} distinct answers</p>` +
    `<div style="display:flex;gap:2em;flex-wrap:wrap;align-items:flex-start">` +
    table(["#", "prompt", "answer", "source"], shown, `first ${shown.length} examples`) +
    table(
      ["answer", "count", "share"],
      top,
      `most common answers (${top.length} of ${labels.length})`,
    ) +
    `</div>`;
  return { "text/plain": text, "text/html": html };
}

export function frameBundle(df: DataFrame): Bundle {
  const columns = df.columns.map(String);
  const values = (df.values as unknown[][]).slice(0, 20).map((r) => r.map(cellOf));
  const index = (df.index as unknown[]).slice(0, 20).map(cellOf);
  const rows = values.map((r, i) => [index[i], ...r]);
  const more = df.shape[0] > rows.length ? `, first ${rows.length} shown` : "";
  const title = `DataFrame ${df.shape[0]} × ${df.shape[1]}${more}`;
  return {
    "text/plain": `${title}\n${textTable(["", ...columns], rows)}`,
    "text/html": table(["", ...columns], rows, title),
  };
}

// ---- evaluations ---------------------------------------------------------------------------

export function reportBundle(r: EvalReport): Bundle {
  const pairs = scorePairs(r);
  pairs.push(
    ["validation loss", r.validation_loss],
    ["perplexity", r.perplexity],
    ["seconds", r.seconds],
  );
  const samples = r.samples.map((s) => [
    clip(s.input, 60),
    s.reference,
    clip(s.prediction, 40),
    s.prediction.trim() === s.reference.trim() ? "✓" : "✗",
  ]);
  const text = textFields(`EvalReport "${r.label}"`, pairs);
  const html =
    `<div style="display:flex;gap:2em;flex-wrap:wrap;align-items:flex-start">` +
    fields(pairs, `evaluation "${r.label}"`) +
    table(["input", "reference", "prediction", ""], samples, "samples") +
    `</div>`;
  return { "text/plain": text, "text/html": html };
}

export function scoresBundle(label: string, s: EvalScores): Bundle {
  return bundleOf(label, scorePairs(s));
}

export function comparisonBundle(entries: [string, EvalScores][]): Bundle {
  const headers = [
    "",
    "n",
    "accuracy",
    "format consistency",
    "hallucination rate",
    "macro F1",
    "validation loss",
  ];
  const rows = entries.map(([label, s]) => [
    label,
    s.n,
    pct(s.accuracy),
    pct(s.format_consistency),
    pct(s.hallucination_rate),
    s.macro_f1 === null ? "n/a" : num(s.macro_f1),
    "validation_loss" in s ? num((s as EvalReport).validation_loss) : "",
  ]);
  const fig: Figure = comparisonFigure(
    entries.map(([label, s]) => ({
      label,
      values: {
        accuracy: s.accuracy,
        "format consistency": s.format_consistency,
        "hallucination rate": s.hallucination_rate,
      },
    })),
  );
  return {
    "text/plain": textTable(headers, rows),
    "text/html": table(headers, rows, "evaluations") + figureHtml(fig),
    [PLOTLY_MIME]: fig,
  };
}

function scorePairs(s: EvalScores): [string, Cell][] {
  return [
    ["examples", s.n],
    ["accuracy", pct(s.accuracy)],
    ["format consistency", pct(s.format_consistency)],
    ["hallucination rate", pct(s.hallucination_rate)],
    ["macro F1", s.macro_f1 === null ? "n/a" : num(s.macro_f1)],
  ];
}

function bundleOf(caption: string, pairs: [string, Cell][]): Bundle {
  return {
    "text/plain": textFields(caption, pairs),
    "text/html": fields(pairs, caption),
  };
}

function describeChange(details: Record<string, unknown>): string {
  const before = details.before as Record<string, unknown> | undefined;
  const after = details.after as Record<string, unknown> | undefined;
  if (before !== undefined && after !== undefined) {
    return Object.keys(after)
      .map((k) => `${k} ${num(before[k] as number)} → ${num(after[k] as number)}`)
      .join(", ");
  }
  return Object.keys(details).length === 0 ? "" : compact(details);
}

function tokenSummary(l: { min: number; mean: number; max: number }): string {
  return `training examples: mean ${num(l.mean)}, min ${l.min}, max ${l.max} tokens`;
}

function methodSummary(m: NonNullable<Session["method"]>): string {
  if (m.method === "lora" && m.lora !== undefined) {
    return `LoRA (rank ${m.lora.r}, alpha ${m.lora.alpha}, ${m.lora.targetModules.join(", ")})`;
  }
  if (m.method === "freeze") return `full fine-tuning, first ${m.freezeLayers ?? 0} layers frozen`;
  return "full fine-tuning";
}

function compact(v: unknown): string {
  const round = (_k: string, x: unknown) =>
    typeof x === "number" && !Number.isInteger(x) ? Number(x.toPrecision(4)) : x;
  return JSON.stringify(v, round) ?? "";
}
