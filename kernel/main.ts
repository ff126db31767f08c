// The tunebook Jupyter kernel, started by Jupyter as `node dist/kernel/main.js <connection file>`
// (the kernel spec `tunebook kernel install` writes). Cells run in the notebook's folder.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import * as tunebook from "../lib/index.js";
import * as api from "./api.js";
import { Cells } from "./cells.js";
import { Kernel } from "./kernel.js";
import { captureStreams, Outputs } from "./outputs.js";
import { type ConnectionInfo, Sockets } from "./server.js";
import type { Content } from "./wire.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

async function main(): Promise<void> {
  const file = process.argv[2];
  if (file === undefined) {
    process.stderr.write("usage: node dist/kernel/main.js <connection file>\n");
    process.exit(2);
  }
  const conn = JSON.parse(readFileSync(file, "utf8")) as ConnectionInfo;
  const version = (
    JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string }
  ).version;

  // From here on, what cells print goes to the notebook; the kernel's own log to the terminal.
  let sockets: Sockets | undefined;
  const outputs = new Outputs((type, content, parent) => sockets?.publish(type, content, parent));
  const terminal = captureStreams(outputs);
  const log = (line: string) => void terminal.stderr(`${line}\n`);
  sockets = new Sockets(conn, log);

  // tslab's own display API (import * as tslab from "tslab") sends through our outputs too.
  const tslabJupyter = createRequire(import.meta.url)("tslab/dist/jupyter.js") as {
    lastWriteDisplayData: ((content: Content, update: boolean) => void) | null;
  };
  tslabJupyter.lastWriteDisplayData = (content, update) => outputs.raw(content, update);

  const cells = new Cells(process.cwd(), "tunebook", ROOT, [
    { name: "tunebook", exports: tunebook },
    { name: "tunebook/kernel", exports: api },
  ]);
  // Closes the sockets (the heartbeat thread with them) before the process ends.
  const stop = () =>
    void sockets
      ?.close()
      .catch((err: Error) => log(`tunebook kernel: closing: ${err.message}`))
      .finally(() => {
        cells.close();
        process.exit(0);
      });
  // On shutdown_request the reply goes out first; Jupyter starts a new process for a restart.
  const kernel = new Kernel({ transport: sockets, cells, outputs, version, log, shutdown: stop });

  process.on("SIGINT", () => kernel.interrupt());
  // Jupyter gone (killed, crashed): end too, rather than live on as an orphan.
  const parent = process.ppid;
  setInterval(() => process.ppid !== parent && stop(), 2000).unref();
  // A failure outside any cell (a timer, an event handler) is shown, not fatal.
  process.on("uncaughtException", (err) =>
    outputs.stream("stderr", `Uncaught ${err.stack ?? err}\n`),
  );
  process.on("unhandledRejection", (reason) =>
    outputs.stream(
      "stderr",
      `Unhandled promise rejection: ${(reason as Error)?.stack ?? String(reason)}\n`,
    ),
  );
  await sockets.start((msg) => kernel.handle(msg));
}

await main();
