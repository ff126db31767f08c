// The built kernel through Jupyter's own client: jupyter_kernel_test's protocol suite, and the
// stop button while a cell awaits a training run. Both start the kernel in an empty folder, where
// `import ... from "tunebook"` must still resolve. Skipped, saying which Debian package to install,
// where Debian's Jupyter packages are missing.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { BASE, kernelEnv, missing, python, ROOT } from "./helpers/jupyter.js";

describe("the tunebook kernel under Jupyter", () => {
  it("passes jupyter_kernel_test", async (ctx) => {
    const why = missing({ python: ["jupyter_kernel_test"] });
    if (why !== undefined) return ctx.skip(why);

    const tests = ["-m", "unittest", "discover", "-v", "-s", path.join(ROOT, "tests/kernel")];
    const { code, stderr } = await python(
      [...tests, "-p", "test_protocol.py"],
      kernelEnv(),
      emptyDir(),
    );

    // unittest reports on stderr: one line per test, then "OK (skipped=1)" for the pager test.
    expect(stderr).toMatch(/Ran 12 tests/);
    expect(stderr.match(/ \.\.\. ok$/gm)).toHaveLength(11);
    expect(code, stderr).toBe(0);
  });

  it("stops a run at the stop button, and the next cells go on", async (ctx) => {
    const why = missing({ python: ["jupyter_client"], base: BASE });
    if (why !== undefined) return ctx.skip(why);

    const script = path.join(ROOT, "tests/kernel/interrupt.py");
    const data = path.join(ROOT, "data/clinc150/train.jsonl");
    const { code, stdout, stderr } = await python([script, BASE, data], kernelEnv(), emptyDir());
    expect(code, stderr).toBe(0);
    const found = JSON.parse(stdout.trim().split("\n").at(-1)!);

    expect(found.setup).toBe("ok");
    expect(found.interrupted_reply).toBe("error");
    expect(found.interrupted_ename).toBe("Interrupted");
    expect(found.interrupt_latency_s).toBeLessThan(2);
    expect(found.after.status).toBe("stopped");
    expect(found.after.step).toBeGreaterThan(0);
    expect(found.after.step).toBeLessThan(found.after.total);
    expect(found.after.actions).toEqual(["stop"]);
    expect(found.after.lastHistory).toBe("end");
    expect(found.step_later).toBe(found.after.step);
    expect(found.resumed).toEqual({ status: "finished", steps: 3, evaluated: 4 });
    expect(found.interrupt_reply).toBe("ok");
    expect(found.stuck_reply).toBe("error");
    expect(found.stuck_latency_s).toBeLessThan(2);
    expect(found.alive).toBe(42);
  });
});

function emptyDir(): string {
  return mkdtempSync(path.join(tmpdir(), "tb-notebook-dir-"));
}
