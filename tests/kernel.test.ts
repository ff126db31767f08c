// The Jupyter kernel's parts, without Jupyter: rich display bundles, run charts and live
// redraws, history, is_complete, the shorthand work-around, the wire format, error outputs and
// the kernel spec. tests/kernel-jupyter.test.ts drives the built kernel through Jupyter itself.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { Dataset } from "../lib/data/dataset.js";
import { initBackend } from "../lib/engine/backend.js";
import { TunebookError } from "../lib/errors.js";
import type { EvalScores } from "../lib/eval/metrics.js";
import { TrainingRun } from "../lib/train/run.js";
import { isComplete, spellOutShorthand } from "../kernel/cells.js";
import { changeLabel, PLOTLY_MIME, runFigure } from "../kernel/chart.js";
import { MIME_METHOD, mimeBundle } from "../kernel/display.js";
import { chartsFigure } from "../kernel/results.js";
import { compileError, thrownError } from "../kernel/error-output.js";
import { History } from "../kernel/history.js";
import { kernelSpec, kernelSpecDir } from "../kernel/install.js";
import { LiveRuns } from "../kernel/live.js";
import { Wire } from "../kernel/wire.js";
import { loopOptions, tinyModel, tinyRows } from "./helpers/tiny.js";

const ROOT = path.resolve(import.meta.dirname, "..");

const scores = (accuracy: number): EvalScores => ({
  n: 10,
  accuracy,
  format_consistency: 1,
  hallucination_rate: 0,
  per_class: {},
  macro_f1: 0.5,
});

function tinyRun(): TrainingRun {
  const model = tinyModel();
  return new TrainingRun({
    model,
    params: model.trainableVariables({ method: "full" }),
    train: tinyRows(16),
    validation: tinyRows(4),
    options: loopOptions({ maxSteps: 4, evalEvery: 2 }),
  });
}

beforeAll(async () => {
  await initBackend();
});

describe("mimeBundle", () => {
  it.each([
    ["a number", 42, "42"],
    ["a string, quoted", "hi", "'hi'"],
    ["null", null, "null"],
  ])("shows %s as text/plain only", (_name, value, text) => {
    expect(mimeBundle(value)).toEqual({ "text/plain": text });
  });

  it.each([
    ["evaluation scores", scores(0.5), ["text/plain", "text/html"], "accuracy"],
    [
      "scores by name",
      { before: scores(0.1), after: scores(0.8) },
      ["text/plain", "text/html", PLOTLY_MIME],
      "after",
    ],
    ["a list of records", [{ intent: "weather", n: 3 }], ["text/plain", "text/html"], "weather"],
    [
      "a dataset",
      new Dataset([example("what time is it", "time")]),
      ["text/plain", "text/html"],
      "1 examples",
    ],
  ])("shows %s with HTML tables", (_name, value, types, text) => {
    const bundle = mimeBundle(value);

    expect(Object.keys(bundle).sort()).toEqual([...types].sort());
    expect(String(bundle["text/plain"])).toContain(text);
    expect(String(bundle["text/html"])).toContain("<table");
  });

  it("escapes HTML in data", () => {
    const html = String(mimeBundle([{ prompt: "<script>alert(1)</script>" }])["text/html"]);

    expect(html).toContain("&#60;script&#62;");
    expect(html).not.toContain("<script>alert");
  });

  it("lets an object choose its own bundle", () => {
    const audit = {
      [MIME_METHOD]: () => ({ "text/plain": "3 findings", "text/markdown": "**3**" }),
    };

    expect(mimeBundle(audit)).toEqual({ "text/plain": "3 findings", "text/markdown": "**3**" });
  });
});

describe("audit and check results", () => {
  const result = {
    summary: "1 of 3 records is a near duplicate.",
    counts: { records: 3, flagged: 1 },
    byGroup: { short: { n: 2, share: 0.5 }, long: { n: 1, share: 1 } },
    pairs: [{ record: { file: "data/train.jsonl", line: 4 }, other: { file: "v.jsonl", line: 9 } }],
    charts: {
      labels: { x: ["a", "b"], y: [2, 1], low: [1, 0], high: [3, 2] },
      loss: { x: [1, 2, 3], train: [3, 2, 1], validationX: [3], validation: [2] },
    },
  };

  it("show the summary, counts, groups and findings as tables", () => {
    const bundle = mimeBundle(result);
    const html = String(bundle["text/html"]);

    expect(String(bundle["text/plain"])).toMatch(
      /^1 of 3 records is a near duplicate\.\n {2}records/,
    );
    expect(html).toContain("<th>byGroup</th><th>n</th><th>share</th>");
    expect(html).toContain("train.jsonl:4");
    expect(bundle[PLOTLY_MIME]).toEqual(chartsFigure(result.charts));
  });

  it("chart each series, with its own x and error bars where given", () => {
    const fig = chartsFigure(result.charts)!;

    expect(fig.data.map((t) => [t.name, t.type, t.xaxis])).toEqual([
      ["labels: y", "bar", "x1"],
      ["loss: train", "scatter", "x2"],
      ["loss: validation", "scatter", "x2"],
    ]);
    expect(fig.data[0].error_y).toMatchObject({ array: [1, 1], arrayminus: [1, 1] });
    expect(fig.data[2].x).toEqual([3]);
  });
});

describe("run charts", () => {
  it("plot loss, validation loss and learning rate, and mark each change", async () => {
    const run = tinyRun();
    run.set({ learningRate: 1e-3 });
    await run;

    const fig = runFigure(run);
    const bundle = mimeBundle(run);

    expect(fig.data.map((t) => t.name)).toEqual(["loss", "validation loss", "learning rate"]);
    expect(fig.data[0].x).toEqual([1, 2, 3, 4]);
    expect(fig.data[1].x).toEqual([2, 4]);
    expect(fig.layout.shapes).toHaveLength(1);
    expect((fig.layout.annotations as { text: string }[])[0].text).toBe(
      "learningRate 0.01 → 0.001",
    );
    expect(bundle[PLOTLY_MIME]).toEqual(fig);
    expect(String(bundle["text/plain"])).toMatch(/^TrainingRun: finished, step 4\/4/);
    expect(String(bundle["text/html"])).toContain("window.Plotly");
  });

  it.each([
    [
      {
        step: 3,
        action: "set" as const,
        details: { before: { learningRate: 0.002 }, after: { learningRate: 0.0005 } },
      },
      "learningRate 0.002 → 5.00e-4",
    ],
    [{ step: 5, action: "pause" as const, details: {} }, "pause"],
    [{ step: 9, action: "stop" as const, details: {} }, "stop"],
  ])("label change %#", (change, label) => {
    expect(changeLabel(change)).toBe(label);
  });

  it("redraw a watched run on each change and at its end", async () => {
    const drawn: string[] = [];
    const live = new LiveRuns((_id, r) => drawn.push(`${r.status} ${r.changes.length}`), 60_000);
    const run = tinyRun();

    const id = live.watch(run);
    run.pause();
    run.resume();
    await run;

    expect(live.watch(run)).toBe(id);
    expect(drawn).toContain("paused 1");
    expect(drawn).toContain("running 2");
    expect(drawn.at(-1)).toBe("finished 2");
    expect(live.active()).toEqual([]);
  });
});

describe("History", () => {
  const history = new History();
  for (const [line, input] of [
    [1, "6 * 7"],
    [2, "let a = 1"],
    [3, "6 * 7"],
    [4, "a + 1"],
  ] as const) {
    history.add(line, input, `out ${line}`);
  }

  it.each([
    [
      "tail 2",
      { hist_access_type: "tail" as const, n: 2 },
      [
        [1, 3, "6 * 7"],
        [1, 4, "a + 1"],
      ],
    ],
    [
      "range 2..4",
      { hist_access_type: "range" as const, session: 0, start: 2, stop: 4 },
      [
        [1, 2, "let a = 1"],
        [1, 3, "6 * 7"],
      ],
    ],
    [
      "search",
      { hist_access_type: "search" as const, pattern: "6 ? 7" },
      [
        [1, 1, "6 * 7"],
        [1, 3, "6 * 7"],
      ],
    ],
    [
      "search unique",
      { hist_access_type: "search" as const, pattern: "6*", unique: true },
      [[1, 3, "6 * 7"]],
    ],
    ["search n", { hist_access_type: "search" as const, pattern: "*", n: 1 }, [[1, 4, "a + 1"]]],
    [
      "with output",
      { hist_access_type: "tail" as const, n: 1, output: true },
      [[1, 4, ["a + 1", "out 4"]]],
    ],
  ])("answers %s", (_name, request, expected) => {
    expect(history.query(request)).toEqual(expected);
  });
});

describe("isComplete", () => {
  it.each([
    ["1 + 1", "complete"],
    ["const x = 1;", "complete"],
    ["function f() {", "incomplete"],
    ["[1, 2,", "incomplete"],
    ["let = ;", "invalid"],
    ["}}", "invalid"],
  ])("%j is %s", (code, status) => {
    expect(isComplete(code).status).toBe(status);
  });
});

describe("spellOutShorthand", () => {
  it.each([
    ["({ a })", "({ a: a })"],
    ["({ a, b: 1, c })", "({ a: a, b: 1, c: c })"],
    ["const { a } = o;", "const { a } = o;"],
    ["({ a = 1 } = o);", "({ a: a = 1 } = o);"],
  ])("%s -> %s", (code, expected) => {
    expect(spellOutShorthand(code)).toBe(expected);
  });
});

describe("Wire", () => {
  it("signs, and reads back what it wrote", () => {
    const wire = new Wire("secret");
    const msg = wire.message("execute_request", { code: "1 + 1" }, undefined, [
      Buffer.from("client"),
    ]);

    const back = wire.parse(wire.serialize(msg));

    expect(back.header).toEqual(msg.header);
    expect(back.content).toEqual({ code: "1 + 1" });
    expect(back.identities.map(String)).toEqual(["client"]);
  });

  it("refuses a message whose signature does not match", () => {
    const wire = new Wire("secret");
    const frames = wire.serialize(wire.message("execute_request", { code: "1" }));
    frames[frames.length - 1] = Buffer.from(JSON.stringify({ code: "2" }));

    expect(() => wire.parse(frames)).toThrow(/signature/);
  });

  it("leaves the signature empty when the key is empty", () => {
    const frames = new Wire("").serialize(new Wire("").message("status", {}));

    expect(frames[1].toString()).toBe("");
  });
});

describe("error outputs", () => {
  it("give a user mistake one line, without a stack", () => {
    const e = thrownError(new TunebookError('train.jsonl:3: field "output" is missing'));

    expect(e.ename).toBe("TunebookError");
    expect(e.traceback).toHaveLength(1);
  });

  it("keep the stack of other errors, and list compile errors", () => {
    expect(thrownError(new RangeError("bad")).traceback.length).toBeGreaterThan(1);
    expect(thrownError("plain").evalue).toBe("plain");
    expect(compileError(["1:5 - Cannot find name 'x'."]).evalue).toBe(
      "1:5 - Cannot find name 'x'.",
    );
  });
});

describe("kernel spec", () => {
  it("starts this Node on the built kernel with the connection file", () => {
    const spec = kernelSpec("/opt/tunebook/dist/kernel/main.js");

    expect(spec.argv).toEqual([
      process.execPath,
      "/opt/tunebook/dist/kernel/main.js",
      "{connection_file}",
    ]);
    expect(spec.display_name).toBe("TypeScript (tunebook)");
    expect(spec.language).toBe("typescript");
  });

  it.each([
    [{ prefix: "/venv" }, "/venv/share/jupyter/kernels/tunebook"],
    [{ user: true }, "/data/jupyter/kernels/tunebook"],
    [{}, "/data/jupyter/kernels/tunebook"],
  ])("goes in %j", (opts, dir) => {
    const saved = process.env.JUPYTER_DATA_DIR;
    process.env.JUPYTER_DATA_DIR = "/data/jupyter";
    try {
      expect(kernelSpecDir(opts)).toBe(dir);
    } finally {
      if (saved === undefined) delete process.env.JUPYTER_DATA_DIR;
      else process.env.JUPYTER_DATA_DIR = saved;
    }
  });

  it("refuses --user with --prefix", () => {
    expect(() => kernelSpecDir({ user: true, prefix: "/venv" })).toThrow(TunebookError);
  });

  it("is installed and removed by `tunebook kernel`", () => {
    const prefix = mkdtempSync(path.join(tmpdir(), "tb-kernelspec-"));
    const cli = (...args: string[]) =>
      execFileSync(
        process.execPath,
        ["--import", "tsx", path.join(ROOT, "lib/cli/main.ts"), "kernel", ...args],
        {
          encoding: "utf8",
        },
      );
    const file = path.join(prefix, "share/jupyter/kernels/tunebook/kernel.json");

    if (!existsSync(path.join(ROOT, "dist/kernel/main.js"))) {
      expect(() => cli("install", "--prefix", prefix)).toThrow(/npm run build/);
      return;
    }
    expect(cli("install", "--prefix", prefix)).toContain("installed");
    expect(JSON.parse(readFileSync(file, "utf8")).argv[1]).toBe(
      path.join(ROOT, "dist/kernel/main.js"),
    );
    expect(cli("uninstall", "--prefix", prefix)).toContain("removed");
    expect(existsSync(file)).toBe(false);
  });
});

function example(prompt: string, answer: string) {
  return {
    messages: [
      { role: "user" as const, content: prompt },
      { role: "assistant" as const, content: answer },
    ],
    source: { file: "t.jsonl", line: 1 },
  };
}
