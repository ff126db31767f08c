// `tunebook tui` in a real terminal (tmux, 80x24) on a throwaway base model: a key halves the
// learning rate in the run, pause holds the step counter, resume moves it on, and quitting
// gives the terminal back as it was. Needs the Debian package tmux (installed by .ci/run).
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "..");
const HAS_TMUX = spawnSync("tmux", ["-V"]).status === 0;
const TITLE = HAS_TMUX
  ? "tunebook tui in tmux"
  : "tunebook tui in tmux: SKIPPED, tmux is not installed (apt-get install -y tmux)";

const INTENTS: Record<string, string[]> = {
  lights_on: ["turn on the lights", "switch the light on", "lights on please", "make it bright"],
  weather: ["what is the weather", "will it rain tomorrow", "how hot is it", "is it sunny out"],
  timer: ["set a timer for ten minutes", "start a timer", "timer for one hour", "count down"],
  music: ["play some jazz", "put on my playlist", "play the next song", "music please"],
  alarm: ["wake me up at seven", "set an alarm for six", "alarm at noon", "cancel my alarm"],
};

/** 40 records: each utterance twice, once with "now" after it. */
function records(): string {
  return Object.entries(INTENTS)
    .flatMap(([intent, inputs]) =>
      inputs.flatMap((input) => [input, `${input} now`].map((i) => ({ input: i, output: intent }))),
    )
    .map((r) => JSON.stringify(r))
    .join("\n");
}

if (!HAS_TMUX) console.warn(`tests/tui-terminal.test.ts: ${TITLE}`);

describe.skipIf(!HAS_TMUX)(TITLE, () => {
  let dir = "";
  const socket = `tunebook-test-${process.pid}`;
  const tmux = (...args: string[]) =>
    execFileSync("tmux", ["-L", socket, "-f", "/dev/null", ...args], { encoding: "utf8" });
  const screen = () => tmux("capture-pane", "-p", "-t", "tui");
  const stepOf = (text: string) => Number(/step (\d+)\/\d+/.exec(text)?.[1] ?? -1);

  async function until(ok: (text: string) => boolean, what: string, ms = 60_000): Promise<string> {
    const end = Date.now() + ms;
    for (;;) {
      const text = screen();
      if (ok(text)) return text;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}; the screen:\n${text}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), "tb-tui-"));
    const base = path.join(dir, "base");
    execFileSync(
      process.execPath,
      ["--import", "tsx", "lib/cli/main.ts", "pretrain", "--steps", "2", "--out", base],
      { cwd: ROOT, stdio: "ignore" },
    );
    writeFileSync(path.join(dir, "data.jsonl"), records() + "\n");
    const config = {
      goal: "Route home assistant requests to one of five intents.",
      answer: "label",
      baseModel: base,
      data: { train: "data.jsonl", validationFraction: 0.2, maxLength: 32 },
      train: {
        method: "lora",
        lora: { r: 4, alpha: 8, targetModules: ["q_proj", "v_proj"] },
        epochs: 200,
        batchSize: 4,
        learningRate: 0.002,
        warmupRatio: 0,
        checkpointDir: path.join(dir, "checkpoints"),
      },
      eval: { before: 0, after: 8, baseline: false },
      out: "run",
    };
    writeFileSync(path.join(dir, "config.json"), JSON.stringify(config, null, 2));

    // A plain shell in an 80x24 terminal; Ink draws nothing live when it thinks it runs in CI.
    tmux(
      "new-session", "-d", "-s", "tui", "-x", "80", "-y", "24", "-c", ROOT,
      "env -u CI -u CONTINUOUS_INTEGRATION PS1='tb$ ' sh",
    );
  });

  afterAll(() => {
    spawnSync("tmux", ["-L", socket, "kill-server"]);
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
  });

  it("halves the learning rate, pauses, resumes and quits cleanly", async () => {
    const cfg = path.join(dir, "config.json");
    tmux(
      "send-keys", "-t", "tui",
      `stty -g > ${dir}/stty-before; node --import tsx lib/cli/main.ts tui --config ${cfg}; ` +
        `echo tui-exit=$?; stty -g > ${dir}/stty-after`,
      "Enter",
    );
    const started = await until((t) => stepOf(t) >= 2, "the first steps");
    expect(started).toContain("● running");
    expect(started.split("\n")[0]).toMatch(/^tunebook · Route home assistant requests/);

    tmux("send-keys", "-t", "tui", "[");
    const change = "set learning rate 2.0e-3 → 1.0e-3";
    const lowered = await until((t) => t.includes(change), "the change in the event log");
    expect(lowered).toMatch(/learning rate 1\.0e-3/);

    tmux("send-keys", "-t", "tui", "p");
    const paused = await until((t) => t.includes("‖ paused"), "the pause");
    const pausedAt = stepOf(paused);
    await new Promise((r) => setTimeout(r, 1500));
    expect(stepOf(screen())).toBe(pausedAt);

    tmux("send-keys", "-t", "tui", "p");
    await until((t) => stepOf(t) > pausedAt + 1, "steps after resuming", 30_000);

    tmux("send-keys", "-t", "tui", "q");
    await until((t) => /Quit\? \d+ trained steps are not saved/.test(t), "the quit prompt");
    tmux("send-keys", "-t", "tui", "y");
    const after = await until((t) => t.includes("tui-exit=0"), "the shell prompt");

    expect(after).not.toContain("╭─");
    expect(after).toMatch(/tunebook tui: stopped at step \d+\/\d+, loss \d\.\d{3}, /);
    expect(after).toContain("learning rate 1.0e-3\nrun changes: set, pause, resume, stop; ");
    expect(after).toMatch(/resume, stop; \d+ steps not saved/);
    expect(tmux("display-message", "-p", "-t", "tui", "#{alternate_on} #{cursor_flag}").trim())
      .toBe("0 1");
    const stty = (name: string) =>
      existsSync(path.join(dir, name)) ? readFileSync(path.join(dir, name), "utf8") : "";
    await until(() => stty("stty-after") !== "", "the terminal settings", 5_000);
    expect(stty("stty-after")).toBe(stty("stty-before"));
  });
});
