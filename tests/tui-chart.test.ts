// The chart's data and drawing: steps into columns, validation lines, and rows of text runs.
import { describe, expect, it } from "vitest";
import { chartSeries } from "../tui/chart-data.js";
import { AXIS_WIDTH, plotRows } from "../tui/plot.js";
import { evals, steps } from "./helpers/tui.js";

describe("chartSeries", () => {
  it.each([
    // steps, width -> columns of mean loss (loss falls linearly from 3 to 1)
    [3, 10, [3, 2, 1]],
    [4, 2, [2.5 + 1 / 6, 1.5 - 1 / 6]],
    [5, 1, [2]],
  ])("%i steps into %i columns", (n, width, expected) => {
    const s = chartSeries(steps(n, 100), [], width);

    expect(s.loss).toHaveLength(expected.length);
    s.loss.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 6));
  });

  it("keeps the line whole over steps whose loss is not a number", () => {
    const run = steps(4, 4);
    run[1].loss = Number.NaN;
    run[2].loss = Number.NaN;

    const s = chartSeries(run, [], 4);

    expect(s.loss).toEqual([3, 3, 3, 1]);
  });

  it("joins validation losses with straight lines from the first evaluation to the last", () => {
    const s = chartSeries(steps(10, 10), evals([3, 7, 7, 9], [2, 4, 6, 1]), 10);

    expect(s.validation.start).toBe(2);
    expect(s.validation.values).toEqual([2, 2.75, 3.5, 4.25, 5, 3, 1]);
    expect(s.learningRate).toEqual(steps(10, 10).map((e) => e.learningRate));
  });
});

describe("plotRows", () => {
  it.each([2, 3, 6, 9])("gives exactly %i rows", (height) => {
    const rows = plotRows([{ values: [5, 4, 3, 2, 1, 1.5], color: "cyan" }], {
      height,
      format: (x) => x.toFixed(1),
    });

    expect(rows).toHaveLength(height);
  });

  it("draws a later line over the first, from its own start column", () => {
    const rows = plotRows(
      [
        { values: [3, 3, 3, 3, 3], color: "cyan" },
        { values: [1, 1, 1], start: 2, color: "yellow" },
      ],
      { height: 3, format: (x) => x.toFixed(0) },
    );

    const text = rows.map((runs) => runs.map((r) => r.text).join(""));
    const yellow = rows.map((runs) => runs.filter((r) => r.color === "yellow").map((r) => r.text));

    expect(text[0]).toBe("       3 ┼──── ");
    expect(text[2]).toBe("       1 ┤  ── ");
    expect(yellow[2]).toEqual(["──"]);
    expect(rows[0][0]).toEqual({ text: "       3 ┼", dim: true });
    expect(text[0].length).toBe(AXIS_WIDTH + 5);
  });

  it("marks a line of one value with a point", () => {
    const rows = plotRows(
      [
        { values: [3, 2, 1, 1], color: "cyan" },
        { values: [2], start: 2, color: "yellow" },
      ],
      { height: 3, format: (x) => x.toFixed(0) },
    );

    expect(rows[1].find((r) => r.color === "yellow")?.text).toBe("◆");
  });
});
