// One real browser: Debian's classic Jupyter Notebook with headless Chromium (playwright-core)
// runs a notebook that trains on the tunebook kernel and changes the learning rate mid-run; the
// page must show the live Plotly chart, finished and with the change marked. The screenshot is
// kept in artifacts/ (or $TUNEBOOK_ARTIFACTS) for CI.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { chromium } from "playwright-core";
import { afterAll, describe, expect, it } from "vitest";
import { BASE, kernelEnv, missing, ROOT } from "./helpers/jupyter.js";

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = process.env.TUNEBOOK_ARTIFACTS ?? path.join(ROOT, "artifacts");

const CELLS = [
  `import { Session, loadRecords } from "tunebook";
const session = await Session.open({ baseModel: ${JSON.stringify(BASE)} });
const records = loadRecords(${JSON.stringify(path.join(ROOT, "data/clinc150/train.jsonl"))});
session.loadData({ train: records.filter((_, i) => i % 100 === 0), validationFraction: 0.2 });
const run = session.train({ maxSteps: 12, batchSize: 8, evalEvery: 4 });
run`,
  `await new Promise<void>((resolve) => run.on("step", (s) => { if (s.step === 5) resolve(); }));
run.set({ learningRate: 5e-4 });`,
  "await run; run.status",
];

let server: ChildProcess | undefined;

afterAll(async () => {
  // Jupyter shuts its kernels down on SIGTERM; give it a few seconds before insisting.
  if (server === undefined || server.exitCode !== null) return;
  const exited = new Promise((resolve) => server?.once("exit", resolve));
  server.kill("SIGTERM");
  const timer = setTimeout(() => server?.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
});

describe("the kernel in Jupyter Notebook, in Chromium", () => {
  it(
    "draws a live training chart with the learning-rate change marked",
    { timeout: 180_000 },
    async (ctx) => {
      const why = missing({ python: ["notebook"], executable: CHROMIUM, base: BASE });
      if (why !== undefined) return ctx.skip(why);

      const dir = mkdtempSync(path.join(tmpdir(), "tb-browser-"));
      writeFileSync(path.join(dir, "chart.ipynb"), JSON.stringify(notebook(CELLS)));
      const port = await freePort();
      server = spawn(
        "/usr/bin/jupyter",
        [
          "notebook",
          "--no-browser",
          "--allow-root",
          `--port=${port}`,
          "--ip=127.0.0.1",
          `--notebook-dir=${dir}`,
          "--NotebookApp.token=",
          "--NotebookApp.password=",
        ],
        { env: kernelEnv(), stdio: "ignore" },
      );
      await waitForServer(`http://127.0.0.1:${port}/api`);

      const browser = await chromium.launchPersistentContext(path.join(dir, "chromium-profile"), {
        executablePath: CHROMIUM,
        headless: true,
        viewport: { width: 1200, height: 1100 },
        args: [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
          "--no-first-run",
        ],
      });
      try {
        const page = await browser.newPage();
        await page.goto(`http://127.0.0.1:${port}/notebooks/chart.ipynb`);
        await page.waitForFunction(
          () => (window as any).Jupyter?.notebook?.kernel?.is_connected?.(),
          null,
          { timeout: 60_000 },
        );
        await page.evaluate(() => (window as any).Jupyter.notebook.execute_all_cells());
        await page.waitForFunction(
          () =>
            [...document.querySelectorAll(".js-plotly-plot .gtitle")].some((t) =>
              t.textContent?.includes("finished"),
            ),
          null,
          { timeout: 120_000 },
        );
        const chart = await page.evaluate(() => ({
          plots: document.querySelectorAll(".output_area .js-plotly-plot").length,
          traces: document.querySelectorAll(".js-plotly-plot .scatterlayer .trace").length,
          title: document.querySelector(".js-plotly-plot .gtitle")?.textContent,
          marks: [...document.querySelectorAll(".js-plotly-plot .annotation-text")].map(
            (a) => a.textContent,
          ),
        }));
        mkdirSync(ARTIFACTS, { recursive: true });
        await page.screenshot({ path: path.join(ARTIFACTS, "kernel-browser.png"), fullPage: true });

        expect(chart.plots).toBe(1);
        expect(chart.traces).toBe(3);
        expect(chart.title).toBe("training run: finished, step 12/12");
        expect(chart.marks).toEqual([expect.stringMatching(/^learningRate .* → 5\.00e-4$/)]);
      } finally {
        await browser.close();
      }
    },
  );
});

function notebook(cells: string[]) {
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {
      kernelspec: {
        name: "tunebook",
        display_name: "TypeScript (tunebook)",
        language: "typescript",
      },
    },
    cells: cells.map((source, i) => ({
      cell_type: "code",
      id: `cell-${i}`,
      metadata: {},
      execution_count: null,
      outputs: [],
      source,
    })),
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function waitForServer(url: string): Promise<void> {
  for (let i = 0; i < 120; i++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`Jupyter Notebook did not answer at ${url}`);
}
