// The heartbeat on its own thread: it echoes the client's pings even while a training step holds
// the main thread for a second or two, so the kernel never looks dead while it trains.
import { parentPort, workerData } from "node:worker_threads";
import { Reply } from "zeromq";

const socket = new Reply();
parentPort?.once("message", () => {
  socket.close();
  parentPort?.close();
});

await socket.bind((workerData as { address: string }).address);
parentPort?.postMessage("bound");
try {
  for await (const frames of socket) await socket.send(frames);
} catch {
  // The socket was closed for shutdown.
}
