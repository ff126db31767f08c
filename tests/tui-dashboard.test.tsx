// The dashboard's panels rendered with ink-testing-library: what each shows, and that the whole
// screen fits the terminal (one row short of it) at every size, in every mode.
import { cleanup, render } from "ink-testing-library";
import { afterEach, describe, expect, it } from "vitest";
import { Dashboard, type Mode } from "../tui/components/dashboard.js";
import { EventLog } from "../tui/components/event-log.js";
import { LossChart } from "../tui/components/loss-chart.js";
import { Stages } from "../tui/components/stages.js";
import { KEYS } from "../tui/keys.js";
import type { StageState } from "../tui/snapshot.js";
import { evals, lines, snapshotOf, steps } from "./helpers/tui.js";

afterEach(() => cleanup());

const notStarted = { status: "not started" as const, steps: [] };

function withTrain(state: StageState) {
  return snapshotOf().stages.map((s) => (s.name === "train" ? { ...s, state } : s));
}

describe("Dashboard", () => {
  it.each([
    [80, 24, "main"],
    [80, 24, "help"],
    [80, 24, "quit"],
    [120, 40, "main"],
    [64, 19, "main"],
    [60, 16, "main"],
    [50, 10, "quit"],
  ] as const)("fits %ix%i in mode %s", (columns, rows, mode: Mode) => {
    const { lastFrame } = render(
      <Dashboard snapshot={snapshotOf()} columns={columns} rows={rows} mode={mode} />,
    );

    const frame = lines(lastFrame());

    expect(frame).toHaveLength(rows - 1);
    for (const line of frame) expect(line.length).toBeLessThanOrEqual(columns);
    expect(frame[0]).toContain("tunebook · Route support");
    expect(frame.join("\n")).toContain("step 50/100");
  });

  it("shows every panel at 80x24", () => {
    const { lastFrame } = render(
      <Dashboard snapshot={snapshotOf()} columns={80} rows={24} mode="main" />,
    );

    const text = lines(lastFrame()).join("\n");

    for (const title of ["loss", "stages", "hyperparameters", "events"]) {
      expect(text).toContain(`╭─ ${title} `);
    }
    expect(text).toContain("● running");
    expect(text).toMatch(/step 50\/100 · epoch 5\.00 · 1,234 tok\/s · ETA 1m15s/);
    expect(text).toMatch(/learning rate 2\.0e-3/);
    expect(text).toContain("✔ data     15k train 3k val");
    expect(text).toContain("45 set learning rate 4.0e-3 → 2.0e-3");
    expect(text).toContain("─ validation 2.100");
    expect(lines(lastFrame()).at(-1)).toBe(KEYS.map((k) => `${k.key} ${k.short}`).join("  "));
  });

  it("shows the keys on ? and asks before quitting with unsaved steps", () => {
    const help = render(<Dashboard snapshot={snapshotOf()} columns={80} rows={24} mode="help" />);
    const quit = render(<Dashboard snapshot={snapshotOf()} columns={80} rows={24} mode="quit" />);

    const helpText = lines(help.lastFrame()).join("\n");
    const quitLine = lines(quit.lastFrame()).at(-1);

    for (const k of KEYS) expect(helpText).toContain(k.help);
    expect(quitLine).toBe("Quit? 50 trained steps are not saved (c checkpoints). y quit · n stay");
  });

  it.each([
    [{ status: "paused" as const }, "‖ paused", "ETA paused"],
    [{ busy: "evaluating" }, "… evaluating", "ETA 1m15s"],
    [{ pendingLearningRate: 1e-3 }, "next step   → 1.0e-3", "● running"],
    [{ ...notStarted, current: "tokens" as const }, "○ not started", "preparing: tokens"],
    [{ ...notStarted, stages: withTrain("ready") }, "› train", "not started: n starts training"],
    [{ ...notStarted, stages: withTrain("failed") }, "✘ train", "not started: see the events"],
  ])("shows %o", (over, first, second) => {
    const { lastFrame } = render(
      <Dashboard snapshot={snapshotOf(over)} columns={80} rows={24} mode="main" />,
    );

    const text = lines(lastFrame()).join("\n");

    expect(text).toContain(first);
    expect(text).toContain(second);
  });
});

describe("Stages", () => {
  it("marks each stage with its state", () => {
    const s = snapshotOf();
    const { lastFrame } = render(<Stages stages={s.stages} current="train" width={26} />);

    const frame = lines(lastFrame());

    expect(frame.map((l) => l.slice(0, 11).trimEnd())).toEqual([
      "✔ goal", "✔ data", "✔ tokens", "▶ train",
      "· checks", "· audits", "· evaluate", "· export",
    ]);
    expect(frame[3]).toContain("50/100");
  });
});

describe("EventLog", () => {
  it("keeps the newest entries, wrapping long ones under their text", () => {
    const events = [
      { id: 1, step: 1, kind: "info" as const, text: "first" },
      { id: 2, step: 2, kind: "info" as const, text: "second" },
      { id: 3, step: 30, kind: "warning" as const, text: "validation loss rose twice: lower it" },
    ];
    const { lastFrame } = render(<EventLog events={events} rows={3} width={26} />);

    expect(lines(lastFrame())).toEqual([
      "    2 second",
      "   30 validation loss rose",
      "      twice: lower it",
    ]);
  });
});

describe("LossChart", () => {
  it("draws the loss falling, a validation line and the learning rate", () => {
    const { lastFrame } = render(
      <LossChart steps={steps(36, 100)} evals={evals([10, 36], [2.6, 1.4])} width={46} rows={10} />,
    );

    const frame = lines(lastFrame());

    expect(frame).toHaveLength(10);
    expect(frame[0]).toMatch(/^ {4}3\.00 ┼/);
    expect(frame[5]).toMatch(/^ {4}1\.00 ┤/);
    expect(frame[6]).toBe("─ train 1.000 ─ validation 1.400 ─ lr 2.0e-3");
    expect(frame[7]).toMatch(/^ {2}2\.0e-3 ┤/);
    for (const line of frame) expect(line.length).toBeLessThanOrEqual(46);
  });

  it("waits for the first step", () => {
    const { lastFrame } = render(<LossChart steps={[]} evals={[]} width={46} rows={10} />);

    expect(lastFrame()).toBe("the loss appears here after the first step");
  });
});
