// The dashboard without a terminal: the same workflow driven to the end as plain lines.
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../lib/engine/backend.js";
import { TunebookError } from "../lib/errors.js";
import { runPlain } from "../tui/plain.js";
import { Workflow } from "../tui/workflow.js";
import { type SessionCalls, TEST_CONFIG, tinySession } from "./helpers/tui.js";

beforeAll(async () => {
  await initBackend();
});

function sink() {
  const text: string[] = [];
  const stream = { isTTY: false, write: (s: string) => text.push(s) === 0 };
  return { stream: stream as unknown as NodeJS.WriteStream, output: () => text.join("") };
}

describe("runPlain", () => {
  it("trains, evaluates and exports, one line per event and every few steps", async () => {
    const calls: SessionCalls = { exported: [], evaluated: 0, checkpoints: [] };
    const config = { ...TEST_CONFIG, train: { ...TEST_CONFIG.train, epochs: 2 } };
    const warning = "validation loss rose 3 evaluations in a row";
    const open = async (log: (line: string) => void) => tinySession(calls, log, warning);
    const workflow = new Workflow({ config, open });
    const { stream, output } = sink();

    await runPlain(workflow, true, stream);

    const lines = output().trim().split("\n");
    expect(lines).toContain("stage | training: 16 steps");
    expect(lines.filter((l) => l.startsWith("train step ")).length).toBe(16);
    const evaluation = /^eval \| step 8 \| validation loss \d\.\d{3}/;
    const evaluated = lines.findIndex((l) => evaluation.test(l));
    expect(lines[evaluated + 1]).toBe(`warning | step 8 | ${warning}`);
    expect(lines).toContainEqual(expect.stringMatching(/^stage \| step 16 \| training finished/));
    const line = (pattern: RegExp) => expect.stringMatching(pattern);
    expect(lines).toContainEqual(line(/^info \| step 16 \| checks \| After epoch 2 /));
    expect(lines).toContainEqual(line(/^warning \| step 16 \| audits \| Scanned 32 /));
    expect(lines).toContain(
      "info | step 16 | evaluate after | n 8 | accuracy 0.625 | val loss 1.500",
    );
    expect(lines.at(-1)).toBe("info | step 16 | export | /runs/tiny");
    expect(calls.exported).toEqual(["/runs/tiny"]);
  });

  it("stops after the data with --no-start", async () => {
    const calls: SessionCalls = { exported: [], evaluated: 0, checkpoints: [] };
    const workflow = new Workflow({ config: TEST_CONFIG, open: async () => tinySession(calls) });
    const { stream, output } = sink();

    await runPlain(workflow, false, stream);

    expect(output()).toBe("stage | --no-start: stopping before training\n");
    expect(workflow.run).toBeUndefined();
  });

  it("rethrows a stage's failure, so the command prints it on one line", async () => {
    const workflow = new Workflow({
      config: TEST_CONFIG,
      open: async () => {
        throw new TunebookError("/models/tiny: no config.json; pass a model folder");
      },
    });
    const { stream, output } = sink();

    await expect(runPlain(workflow, true, stream)).rejects.toThrow("no config.json");
    expect(output()).toBe("error | goal: /models/tiny: no config.json; pass a model folder\n");
  });
});
