// The kernel's ZeroMQ sockets, from the connection file Jupyter writes: requests come in on
// shell and control, output goes out on IOPub, and the heartbeat answers from its own thread.
import { Worker } from "node:worker_threads";
import { Publisher, Router, type Writable } from "zeromq";
import { type Content, type Message, Wire } from "./wire.js";

export interface ConnectionInfo {
  transport: string;
  ip: string;
  shell_port: number;
  iopub_port: number;
  stdin_port: number;
  control_port: number;
  hb_port: number;
  key: string;
  signature_scheme?: string;
}

export type Channel = "shell" | "control";

export class Sockets {
  readonly wire: Wire;
  private readonly iopub = new Publisher();
  private readonly shell = new Router();
  private readonly control = new Router();
  private readonly stdin = new Router();
  private heartbeat: Worker | undefined;
  private readonly origin = new WeakMap<Message, Router>();
  private readonly pending = new Map<Writable, Promise<void>>();

  constructor(
    private readonly conn: ConnectionInfo,
    /** Where the kernel's own problems go (the Jupyter server's log), never a cell. */
    private readonly log: (line: string) => void,
  ) {
    this.wire = new Wire(conn.key, conn.signature_scheme);
  }

  async start(onRequest: (msg: Message, channel: Channel) => void): Promise<void> {
    const address = (port: number) => `${this.conn.transport}://${this.conn.ip}:${port}`;
    await Promise.all([
      this.iopub.bind(address(this.conn.iopub_port)),
      this.shell.bind(address(this.conn.shell_port)),
      this.control.bind(address(this.conn.control_port)),
      this.stdin.bind(address(this.conn.stdin_port)),
      this.startHeartbeat(address(this.conn.hb_port)),
    ]);
    void this.listen(this.shell, "shell", onRequest);
    void this.listen(this.control, "control", onRequest);
  }

  /** Answers a request on the socket it came in on. */
  reply(request: Message, msgType: string, content: Content): void {
    const socket = this.origin.get(request) ?? this.shell;
    this.send(socket, this.wire.message(msgType, content, request));
  }

  publish(msgType: string, content: Content, parent: Message | undefined): void {
    const topic = [Buffer.from(`kernel.${this.wire.session}.${msgType}`)];
    this.send(this.iopub, this.wire.message(msgType, content, parent, topic));
  }

  async close(): Promise<void> {
    await Promise.all(this.pending.values());
    const stopped = new Promise((resolve) => this.heartbeat?.once("exit", resolve) ?? resolve(0));
    this.heartbeat?.postMessage("close");
    await stopped;
    for (const s of [this.iopub, this.shell, this.control, this.stdin]) s.close();
  }

  private async listen(
    socket: Router,
    channel: Channel,
    onRequest: (msg: Message, channel: Channel) => void,
  ): Promise<void> {
    for await (const frames of socket) {
      let msg: Message;
      try {
        msg = this.wire.parse(frames);
      } catch (err) {
        this.log(`tunebook kernel: dropped a ${channel} message: ${(err as Error).message}`);
        continue;
      }
      this.origin.set(msg, socket);
      onRequest(msg, channel);
    }
  }

  /** One send at a time per socket, in order: ZeroMQ refuses overlapping sends. */
  private send(socket: Writable, msg: Message): void {
    const frames = this.wire.serialize(msg);
    const before = this.pending.get(socket) ?? Promise.resolve();
    const next = before
      .then(() => socket.send(frames))
      .catch((err: Error) => this.log(`tunebook kernel: send failed: ${err.message}`));
    this.pending.set(socket, next);
  }

  private startHeartbeat(address: string): Promise<void> {
    const worker = new Worker(new URL("./heartbeat.js", import.meta.url), {
      workerData: { address },
    });
    this.heartbeat = worker;
    return new Promise((resolve, reject) => {
      worker.once("message", () => resolve());
      worker.once("error", reject);
    });
  }
}
