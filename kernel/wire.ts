// The Jupyter wire protocol: turning ZeroMQ frames into signed messages and back.
// See "The Wire Protocol" in the Jupyter messaging documentation (protocol 5.3).
import { createHmac, randomUUID } from "node:crypto";

export const PROTOCOL_VERSION = "5.3";
const DELIMITER = "<IDS|MSG>";

export interface Header {
  msg_id: string;
  session: string;
  username: string;
  date: string;
  msg_type: string;
  version: string;
}

export type Content = Record<string, unknown>;

export interface Message<C = Content> {
  /** ZeroMQ routing prefix: who to answer on a ROUTER socket; a topic on IOPub. */
  identities: Buffer[];
  header: Header;
  /** The header of the request this answers; {} for a message that answers nothing. */
  parent_header: Header | Record<string, never>;
  metadata: Content;
  content: C;
  buffers: Buffer[];
}

/** Signs and checks messages with the connection file's key. */
export class Wire {
  /** This kernel's session id, in the header of every message it sends. */
  readonly session = randomUUID();

  constructor(
    private readonly key: string,
    private readonly scheme = "hmac-sha256",
  ) {}

  parse(frames: Buffer[]): Message {
    const at = frames.findIndex((f) => f.toString() === DELIMITER);
    if (at < 0 || frames.length < at + 6) throw new Error("message without <IDS|MSG> and 5 parts");
    const [signature, header, parent, metadata, content] = frames.slice(at + 1, at + 6);
    const expected = this.sign([header, parent, metadata, content]);
    if (expected !== signature.toString()) throw new Error("message signature does not match");
    return {
      identities: frames.slice(0, at),
      header: JSON.parse(header.toString()) as Header,
      parent_header: JSON.parse(parent.toString()) as Header,
      metadata: JSON.parse(metadata.toString()) as Content,
      content: JSON.parse(content.toString()) as Content,
      buffers: frames.slice(at + 6),
    };
  }

  serialize(msg: Message): Buffer[] {
    const parts = [msg.header, msg.parent_header, msg.metadata, msg.content].map((p) =>
      Buffer.from(JSON.stringify(p)),
    );
    return [
      ...msg.identities,
      Buffer.from(DELIMITER),
      Buffer.from(this.sign(parts)),
      ...parts,
      ...msg.buffers,
    ];
  }

  /** A new message; with a parent it answers that request (same routing, parent header). */
  message(msgType: string, content: Content, parent?: Message, identities?: Buffer[]): Message {
    return {
      identities: identities ?? parent?.identities ?? [],
      header: {
        msg_id: randomUUID(),
        session: this.session,
        username: "kernel",
        date: new Date().toISOString(),
        msg_type: msgType,
        version: PROTOCOL_VERSION,
      },
      parent_header: parent?.header ?? {},
      metadata: {},
      content,
      buffers: [],
    };
  }

  private sign(parts: Buffer[]): string {
    // An empty key switches signing off (the connection file says so).
    if (this.key === "") return "";
    const hmac = createHmac(this.scheme.replace(/^hmac-/, ""), this.key);
    for (const p of parts) hmac.update(p);
    return hmac.digest("hex");
  }
}
