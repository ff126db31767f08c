// Plotly charts for runs and evaluations: a figure for application/vnd.plotly.v1+json, and an
// offline HTML fallback that draws it with plotly.js-dist from the installed package (no CDN).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { ChangeEvent, EvalEvent, StepEvent } from "../lib/index.js";
import { num } from "./html.js";

export const PLOTLY_MIME = "application/vnd.plotly.v1+json";

export interface Figure {
  data: Record<string, unknown>[];
  layout: Record<string, unknown>;
  config: Record<string, unknown>;
}

/** What a run chart reads from a TrainingRun. */
export interface RunHistory {
  status: string;
  step: number;
  totalSteps: number;
  steps: readonly StepEvent[];
  evals: readonly EvalEvent[];
  changes: readonly ChangeEvent[];
}

const CONFIG = { displaylogo: false, responsive: true };

/** Loss and validation loss on the left axis, learning rate on the right, changes marked. */
export function runFigure(run: RunHistory): Figure {
  const steps = run.steps;
  const data = [
    line(
      "loss",
      steps.map((s) => s.step),
      steps.map((s) => s.loss),
      { color: "#1f77b4" },
    ),
    {
      ...line(
        "validation loss",
        run.evals.map((e) => e.step),
        run.evals.map((e) => e.validationLoss),
        {
          color: "#d62728",
        },
      ),
      mode: "lines+markers",
    },
    {
      ...line(
        "learning rate",
        steps.map((s) => s.step),
        steps.map((s) => s.learningRate),
        {
          color: "#2ca02c",
          dash: "dot",
        },
      ),
      yaxis: "y2",
    },
  ];
  const marks = run.changes.map((c) => ({ step: c.step, text: changeLabel(c) }));
  return {
    data,
    layout: {
      title: { text: `training run: ${run.status}, step ${run.step}/${run.totalSteps}` },
      height: 340,
      margin: { l: 60, r: 70, t: 50, b: 45 },
      legend: { orientation: "h", y: -0.2 },
      xaxis: { title: { text: "step" }, range: [0, Math.max(1, run.totalSteps)] },
      yaxis: { title: { text: "loss" } },
      yaxis2: {
        title: { text: "learning rate" },
        overlaying: "y",
        side: "right",
        tickformat: ".1e",
        showgrid: false,
      },
      shapes: marks.map((m) => ({
        type: "line",
        xref: "x",
        yref: "paper",
        x0: m.step,
        x1: m.step,
        y0: 0,
        y1: 1,
        line: { color: "#7f7f7f", width: 1, dash: "dash" },
      })),
      annotations: marks.map((m) => ({
        x: m.step,
        y: 1,
        xref: "x",
        yref: "paper",
        text: m.text,
        showarrow: false,
        xanchor: "left",
        yanchor: "top",
        font: { size: 10, color: "#555" },
      })),
    },
    config: CONFIG,
  };
}

/** One bar group per metric, one bar per evaluation (e.g. before, after, baseline). */
export function comparisonFigure(
  rows: { label: string; values: Record<string, number | null> }[],
): Figure {
  const metrics = [...new Set(rows.flatMap((r) => Object.keys(r.values)))];
  return {
    data: rows.map((r) => ({
      type: "bar",
      name: r.label,
      x: metrics,
      y: metrics.map((m) => r.values[m] ?? null),
    })),
    layout: {
      barmode: "group",
      height: 320,
      margin: { l: 50, r: 20, t: 40, b: 60 },
      yaxis: { range: [0, 1], tickformat: ".0%" },
      title: { text: "evaluations compared" },
    },
    config: CONFIG,
  };
}

/** How a change reads on the chart: "learningRate 0.002 → 0.0005", "pause", "stop". */
export function changeLabel(c: ChangeEvent): string {
  if (c.action !== "set") return c.action;
  const before = (c.details.before ?? {}) as Record<string, number>;
  const after = (c.details.after ?? {}) as Record<string, number>;
  return Object.keys(after)
    .map((k) => `${k} ${num(before[k])} → ${num(after[k])}`)
    .join(", ");
}

let chartCount = 0;

/**
 * The HTML fallback: a div and a script that draws the figure when plotly.js is on the page
 * (see plotlyLoaderHtml), and says what to do when it is not.
 */
export function figureHtml(fig: Figure): string {
  const id = `tunebook-chart-${process.pid}-${++chartCount}`;
  const json = JSON.stringify(fig).replace(/</g, "\\u003c");
  const height = typeof fig.layout.height === "number" ? fig.layout.height : 340;
  return (
    `<div id="${id}" class="tunebook-chart" style="width:100%;height:${height}px"></div>` +
    `<script type="text/javascript">(function () {` +
    `var el = document.getElementById("${id}"); if (!el) return; var fig = ${json};` +
    `if (window.Plotly) { window.Plotly.react(el, fig.data, fig.layout, fig.config); }` +
    ` else { el.style.height = "auto"; el.textContent = "(chart: plotly.js is not loaded on ` +
    `this page; run the cell again to draw it)"; }` +
    `})();</script>`
  );
}

let loader: string | undefined;

/**
 * plotly.js-dist inlined in one script, sent once per kernel before the first chart: the
 * library is 10 MB, too much to repeat in every chart and every live update.
 */
export function plotlyLoaderHtml(): string {
  if (loader === undefined) {
    const require = createRequire(import.meta.url);
    const file = require.resolve("plotly.js-dist");
    const version = (require("plotly.js-dist/package.json") as { version: string }).version;
    const lib = readFileSync(file, "utf8").replace(/<\/script/gi, "<\\/script");
    loader =
      `<script type="text/javascript">/* plotly.js-dist ${version} (MIT) for tunebook charts */\n` +
      `if (!window.Plotly) {\n${lib}\n}</script>`;
  }
  return loader;
}

function line(
  name: string,
  x: number[],
  y: number[],
  style: { color: string; dash?: string },
): Record<string, unknown> {
  return { type: "scatter", mode: "lines", name, x, y, line: { width: 2, ...style } };
}
