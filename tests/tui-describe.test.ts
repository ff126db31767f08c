// The event log's sentences and the number formats.
import { describe, expect, it } from "vitest";
import { describeChange, describeEnd } from "../tui/describe.js";
import { formatCount, formatRate, formatSetting, wrap } from "../tui/format.js";

describe("describeChange", () => {
  it.each([
    [
      { learningRate: 2e-3 },
      { learningRate: 1e-3 },
      "set learning rate 2.0e-3 → 1.0e-3",
    ],
    [
      { evalEvery: 0, weightDecay: 0 },
      { evalEvery: 10, weightDecay: 0.01 },
      "set eval every 0 → 10, weight decay 0 → 1.0e-2",
    ],
  ])("set %j -> %j", (before, after, text) => {
    expect(describeChange({ step: 3, action: "set", details: { before, after } })).toEqual({
      kind: "change",
      text,
    });
  });

  it("reports a checkpoint with its folder", () => {
    const c = describeChange({ step: 9, action: "checkpoint", details: { dir: "ck/step-9" } });

    expect(c).toEqual({ kind: "checkpoint", text: "checkpoint written to ck/step-9" });
  });
});

describe("describeEnd", () => {
  it("says how a failed run failed", () => {
    const r = {
      status: "failed" as const,
      steps: 3,
      finalLoss: 1,
      validationLoss: null,
      seconds: 1,
      tokens: 9,
    };

    expect(describeEnd(r, new Error("out of memory"))).toEqual({
      kind: "error",
      text: "training failed: out of memory",
    });
  });
});

describe("formats", () => {
  it.each([
    [formatRate(0.002), "2.0e-3"],
    [formatRate(0), "0"],
    [formatSetting(1), "1"],
    [formatSetting(0.05), "0.05"],
    [formatSetting(1e-5), "1.0e-5"],
    [formatCount(940), "940"],
    [formatCount(1500), "1.5k"],
    [formatCount(15000), "15k"],
    [formatCount(2_500_000), "2.5M"],
  ])("%s is %s", (got, expected) => {
    expect(got).toBe(expected);
  });

  it("wraps at spaces and cuts words longer than the width", () => {
    expect(wrap("checkpoint written to /tmp/abcdefghij", 12)).toEqual([
      "checkpoint",
      "written to",
      "/tmp/abcdefg",
      "hij",
    ]);
  });
});
