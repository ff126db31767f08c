// Notebook cells run by tslab: its converter type-checks and transpiles each cell (top-level
// await, completion, inspection) and its executor runs it. What tslab would print, the value of
// the last expression and the errors, is captured here so the kernel can send proper messages.
import { createRequire } from "node:module";
import * as path from "node:path";
import { format } from "node:util";
import { createConverter, isCompleteCode, type Converter } from "tslab/dist/converter.js";
import { createExecutor, type Executor } from "tslab/dist/executor.js";
import { printQuickInfo } from "tslab/dist/inspect.js";

export type Outcome =
  | { status: "ok"; hasValue: boolean; value: unknown; warnings: string[] }
  | { status: "error"; thrown: unknown[]; diagnostics: string[] };

export interface Completion {
  start: number;
  end: number;
  matches: string[];
}

/** A package that cells may import, whatever folder the notebook is in. */
export interface KnownModule {
  /** Its name in import statements, e.g. "tunebook" or "tunebook/kernel". */
  name: string;
  /** The loaded module: what `require(name)` returns inside a cell. */
  exports: object;
}

// tslab's own TypeScript, so that parsing here agrees with its converter.
const tslabRequire = createRequire(createRequire(import.meta.url).resolve("tslab/package.json"));
const ts = tslabRequire("@tslab/typescript-for-tslab") as typeof import("typescript");

/** The TypeScript version that checks and compiles cells (tslab's own). */
export const typescriptVersion: string = ts.version;

export class Cells {
  private readonly executor: Executor;
  private captured = fresh();

  /**
   * @param cwd the notebook's folder: relative paths and imports resolve from here.
   * @param packageRoot the folder of the package that `packageName` imports resolve to.
   */
  constructor(cwd: string, packageName: string, packageRoot: string, modules: KnownModule[]) {
    forwardTypes(path.join(cwd, "node_modules", packageName), packageRoot);
    let converter: Converter | undefined;
    const node = () => (converter ??= createConverter({ isJS: false, isBrowser: false }));
    const convs = {
      get node() {
        return node();
      },
      get browser() {
        return node();
      },
      close: () => converter?.close(),
    };
    this.executor = createExecutor(cwd, convs, {
      log: (value: unknown) => {
        this.captured.value = value;
        this.captured.hasValue = true;
      },
      error: (first: unknown, ...rest: unknown[]) => {
        // tslab prints compile errors as "%s%d:%d - %s" and thrown values as they are.
        if (typeof first === "string" && first.startsWith("%s%d:%d")) {
          this.captured.diagnostics.push(format(first, ...rest));
        } else {
          this.captured.thrown.push(first);
        }
      },
    });
    hookRequire(new Map(modules.map((m) => [m.name, m.exports])));
    node(); // Warm the converter: the first cell should not wait for it.
  }

  /** The notebook's top-level variables. */
  get locals(): Record<string, unknown> {
    return this.executor.locals;
  }

  async run(code: string): Promise<Outcome> {
    this.captured = fresh();
    let ok: boolean;
    try {
      ok = await this.executor.execute(spellOutShorthand(code));
    } catch (err) {
      this.captured.thrown.push(err);
      ok = false;
    }
    const c = this.captured;
    if (ok) return { status: "ok", hasValue: c.hasValue, value: c.value, warnings: c.diagnostics };
    return { status: "error", thrown: c.thrown, diagnostics: c.diagnostics };
  }

  /** Makes the cell awaiting a promise return at once (with an "Interrupted" error). */
  interrupt(): void {
    this.executor.interrupt();
  }

  complete(code: string, cursor: number): Completion {
    const info = this.executor.complete(code, cursor);
    return { start: info.start, end: info.end, matches: info.candidates };
  }

  /** The type and documentation of what is at the cursor, or undefined. */
  inspect(code: string, cursor: number): string | undefined {
    const info = this.executor.inspect(code, cursor);
    return info === undefined ? undefined : printQuickInfo(info);
  }

  close(): void {
    this.executor.close();
  }
}

/** "incomplete" wants another line, "invalid" is a syntax error no more lines can fix. */
export function isComplete(code: string): {
  status: "complete" | "incomplete" | "invalid";
  indent?: string;
} {
  const r = isCompleteCode(code);
  if (!r.completed) return { status: "incomplete", indent: r.indent ?? "" };
  const file = ts.createSourceFile(
    "cell.ts",
    code,
    ts.ScriptTarget.Latest,
    false,
    ts.ScriptKind.TS,
  );
  const diagnostics = (file as unknown as { parseDiagnostics?: unknown[] }).parseDiagnostics ?? [];
  return { status: diagnostics.length > 0 ? "invalid" : "complete" };
}

/**
 * `{ a }` → `{ a: a }`. tslab rewrites names declared in earlier cells to `exports.a`, but not
 * in shorthand properties, which then fail with "a is not defined" (tslab 1.0.22).
 */
export function spellOutShorthand(code: string): string {
  const file = ts.createSourceFile("cell.ts", code, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const at: { pos: number; name: string }[] = [];
  const visit = (node: import("typescript").Node): void => {
    if (ts.isShorthandPropertyAssignment(node))
      at.push({ pos: node.name.getStart(file), name: node.name.text });
    ts.forEachChild(node, visit);
  };
  visit(file);
  let out = code;
  for (const { pos, name } of at.reverse()) out = `${out.slice(0, pos)}${name}: ${out.slice(pos)}`;
  return out;
}

/** An error thrown when the executor stops waiting for an interrupted cell. */
export function isInterruption(e: unknown): boolean {
  return (
    e instanceof Error &&
    (e.message === "Interrupted asynchronously" ||
      e.message.startsWith("Script execution was interrupted"))
  );
}

function fresh() {
  return {
    hasValue: false,
    value: undefined as unknown,
    thrown: [] as unknown[],
    diagnostics: [] as string[],
  };
}

/**
 * Lets the type checker find `from` (the notebook folder's node_modules/<package>) in `to`, the
 * way tslab itself makes `import "tslab"` work from any folder: files under `from` are read
 * from `to`. tslab's converter reads files through this shared ts.sys.
 */
function forwardTypes(from: string, to: string): void {
  const sys = ts.sys as unknown as Record<string, (...args: unknown[]) => unknown>;
  const map = (p: unknown) =>
    typeof p === "string" && (p === from || p.startsWith(from + path.sep))
      ? to + p.slice(from.length)
      : p;
  for (const name of [
    "readFile",
    "fileExists",
    "directoryExists",
    "getDirectories",
    "readDirectory",
  ]) {
    const original = sys[name];
    if (typeof original !== "function") continue;
    sys[name] = (p: unknown, ...rest: unknown[]) => original.call(ts.sys, map(p), ...rest);
  }
}

/** Serves the known modules to cells' `require`, before Node looks in node_modules. */
function hookRequire(modules: Map<string, object>): void {
  const box = (globalThis as unknown as { __tslab__: { require: NodeJS.Require } }).__tslab__;
  const original = box.require;
  box.require = new Proxy(original, {
    apply(target, thisArg, args: unknown[]) {
      if (args.length === 1 && typeof args[0] === "string" && modules.has(args[0])) {
        return modules.get(args[0]);
      }
      return Reflect.apply(target, thisArg, args);
    },
  });
}
