// Every course notebook in notebooks/ runs top to bottom on the tunebook kernel (nbclient), on the
// shipped base model, without an error output. Skipped, saying why, without Debian's nbclient or
// the base model.
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { kernelEnv, missing, python, ROOT, SHIPPED_BASE } from "./helpers/jupyter.js";

const NOTEBOOKS = readdirSync(path.join(ROOT, "notebooks"))
  .filter((f) => f.endsWith(".ipynb"))
  .sort();

describe("notebooks", () => {
  it("are all there, saved without outputs", () => {
    const outputs = NOTEBOOKS.map((f) => {
      const nb = JSON.parse(readFileSync(path.join(ROOT, "notebooks", f), "utf8"));
      return nb.cells.reduce(
        (n: number, c: { outputs?: unknown[] }) => n + (c.outputs?.length ?? 0),
        0,
      );
    });

    expect(NOTEBOOKS.map((f) => f.slice(0, 3))).toEqual([
      "01-",
      "02-",
      "03-",
      "04-",
      "05-",
      "06-",
      "07-",
    ]);
    expect(outputs).toEqual(NOTEBOOKS.map(() => 0));
  });

  it.for(NOTEBOOKS)("%s runs without errors", { timeout: 240_000 }, async (file, ctx) => {
    const why = missing({ python: ["nbclient"], base: SHIPPED_BASE });
    if (why !== undefined) return ctx.skip(why);

    const script = path.join(ROOT, "tests/kernel/run_notebooks.py");
    const { code, stdout, stderr } = await python(
      [script, path.join(ROOT, "notebooks", file)],
      kernelEnv(),
    );
    const result = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}");

    expect(result.errors, stderr.slice(-2000)).toEqual([]);
    expect(code).toBe(0);
  });
});
