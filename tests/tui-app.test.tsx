// The dashboard app driven by keys over a real run on a tiny model: each key acts through the
// run handle (its changes list is the run history), and the frames show the result.
import { cleanup, render } from "ink-testing-library";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { initBackend } from "../lib/engine/backend.js";
import { TunebookError } from "../lib/errors.js";
import { App } from "../tui/components/app.js";
import { Workflow } from "../tui/workflow.js";
import { lines, type SessionCalls, TEST_CONFIG, tinySession, until } from "./helpers/tui.js";

beforeAll(async () => {
  await initBackend();
});

afterEach(() => cleanup());

function start(begin: boolean, config = TEST_CONFIG) {
  const calls: SessionCalls = { exported: [], evaluated: 0, checkpoints: [] };
  const workflow = new Workflow({ config, open: async (log) => tinySession(calls, log) });
  const app = render(<App workflow={workflow} fps={50} />);
  void workflow.begin(begin);
  const text = () => lines(app.lastFrame()).join("\n");
  return { calls, workflow, app, text };
}

describe("App", () => {
  it("steers a run: learning rate, pause, checkpoint, evaluate, resume, stop, stages", async () => {
    const { calls, workflow, app, text } = start(true);
    const close = vi.spyOn(workflow, "close");
    await until(() => expect(workflow.run?.step).toBeGreaterThanOrEqual(3));
    const run = workflow.run!;

    app.stdin.write("[");
    await until(() => expect(text()).toContain("set learning rate 1.0e-2 → 5.0e-3"));
    expect(run.settings.learningRate).toBe(5e-3);
    const set = run.changes.find((c) => c.action === "set");
    expect(set?.details.after).toEqual({ learningRate: 5e-3 });
    expect(text()).toContain("learning rate 5.0e-3");

    app.stdin.write("p");
    await until(() => expect(text()).toContain("‖ paused"));
    const pausedAt = run.step;
    await new Promise((r) => setTimeout(r, 300));
    expect(run.step).toBe(pausedAt);
    expect(text()).toContain(`step ${pausedAt}/${run.totalSteps}`);

    app.stdin.write("c");
    const written = `checkpoint written to /checkpoints/step-${pausedAt}`;
    await until(() => expect(text()).toContain(written));
    expect(calls.checkpoints).toEqual([pausedAt]);

    const evals = run.evals.length;
    app.stdin.write("e");
    await until(() => expect(run.evals.length).toBe(evals + 1));
    const evaluated = new RegExp(`${pausedAt} validation loss \\d\\.\\d{3}`);
    await until(() => expect(text()).toMatch(evaluated));

    app.stdin.write("p");
    await until(() => expect(run.step).toBeGreaterThan(pausedAt + 1));
    expect(run.changes.map((c) => c.action)).toEqual(["set", "pause", "checkpoint", "resume"]);

    app.stdin.write("?");
    await until(() => expect(text()).toContain("pause or resume training"));
    app.stdin.write("x");
    await until(() => expect(text()).not.toContain("pause or resume training"));

    app.stdin.write("q");
    await until(() => expect(lines(app.lastFrame()).at(-1)).toMatch(/^Quit\? \d+ trained steps/));
    app.stdin.write("n");
    await until(() => expect(lines(app.lastFrame()).at(-1)).toMatch(/^\] lr×2/));

    app.stdin.write("s");
    await until(() => expect(text()).toContain("■ stopped"));
    expect(run.status).toBe("stopped");

    app.stdin.write("n");
    await until(() => expect(text()).toMatch(/✔ checks +no overfitting/));
    app.stdin.write("n");
    await until(() => expect(text()).toMatch(/✔ audits +.*1 PII/));
    expect(text()).toContain("audits | Scanned 32 records");
    app.stdin.write("n");
    await until(() => expect(text()).toContain("✔ evaluate accuracy 0.625"));
    app.stdin.write("n");
    await until(() => expect(text()).toContain("export | /runs/tiny"));
    expect(text()).toContain("✔ export   tiny");
    expect(calls).toMatchObject({ evaluated: 1, exported: ["/runs/tiny"] });

    app.stdin.write("q");
    await until(() => expect(close).toHaveBeenCalled());
  });

  it("waits for n with --no-start, and asks before quitting a run with unsaved steps", async () => {
    const { workflow, app, text } = start(false);
    await until(() => expect(text()).toContain("ready: n starts training"));
    expect(text()).toContain("› train");

    app.stdin.write("]");
    await until(() => expect(text()).toContain("no run to change the learning rate: n starts"));
    app.stdin.write("n");
    await until(() => expect(workflow.run?.step).toBeGreaterThan(2));

    app.stdin.write("q");
    await until(() => expect(lines(app.lastFrame()).at(-1)).toMatch(/^Quit\? /));
    app.stdin.write("y");
    await until(() => expect(workflow.run?.status).toBe("stopped"));
  });

  it("shows a stage that fails with its message", async () => {
    const workflow = new Workflow({
      config: TEST_CONFIG,
      open: async () => {
        throw new TunebookError("/models/tiny: no config.json; pass a model folder");
      },
    });
    const app = render(<App workflow={workflow} fps={50} />);

    await workflow.begin(true);

    await until(() => expect(lines(app.lastFrame()).join("\n")).toContain("✘ goal"));
    expect(lines(app.lastFrame()).join("\n")).toContain("goal: /models/tiny: no config.json");
    expect(workflow.run).toBeUndefined();
  });
});
