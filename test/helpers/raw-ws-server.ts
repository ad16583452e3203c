/**
 * A WebSocket server written at the byte level (RFC 6455 handshake and unmasked server
 * frames) over node:net, so a test can misbehave where a real server library will not let it:
 * cut a frame in half, send bytes that are not a frame, stall after the handshake.
 */
import { createHash } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

export class RawConnection {
  constructor(
    readonly url: URL,
    private readonly socket: Socket,
  ) {}

  sendText(text: string): void {
    this.socket.write(frame(Buffer.from(text)));
  }

  /** Writes the first `fraction` of a text frame's bytes, then drops the TCP connection. */
  sendHalfThenDrop(text: string, fraction = 0.5): void {
    const bytes = frame(Buffer.from(text));
    this.socket.end(bytes.subarray(0, Math.floor(bytes.length * fraction)));
    this.socket.destroySoon();
  }

  sendRawBytes(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  drop(): void {
    this.socket.destroy();
  }
}

export class RawWsServer {
  readonly connections: RawConnection[] = [];

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(
    onConnection: (connection: RawConnection, index: number) => void,
  ): Promise<RawWsServer> {
    let self: RawWsServer | undefined;
    const server = createServer((socket) => {
      let head = "";
      const onData = (chunk: Buffer) => {
        head += chunk.toString("latin1");
        const end = head.indexOf("\r\n\r\n");
        if (end < 0) return;
        socket.off("data", onData);
        socket.on("data", () => {}); // client frames (pongs, close) are read and ignored
        const [requestLine = "", ...headers] = head.slice(0, end).split("\r\n");
        const key =
          headers
            .find((h) => h.toLowerCase().startsWith("sec-websocket-key:"))
            ?.split(":")[1]
            ?.trim() ?? "";
        const accept = createHash("sha1")
          .update(key + GUID)
          .digest("base64");
        socket.write(
          `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
        );
        const url = new URL(requestLine.split(" ")[1] ?? "/", "ws://127.0.0.1");
        const connection = new RawConnection(url, socket);
        self?.connections.push(connection);
        onConnection(connection, (self?.connections.length ?? 1) - 1);
      };
      socket.on("data", onData);
      socket.on("error", () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    const port = typeof address === "object" && address ? address.port : 0;
    self = new RawWsServer(server, port);
    return self;
  }

  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  stop(): void {
    this.server.close();
  }
}

/** One unmasked FIN text frame, as a server sends it. */
function frame(payload: Buffer): Buffer {
  const length = payload.length;
  const header =
    length < 126
      ? Buffer.from([0x81, length])
      : length < 65_536
        ? Buffer.from([0x81, 126, length >> 8, length & 0xff])
        : Buffer.concat([Buffer.from([0x81, 127]), bigLength(length)]);
  return Buffer.concat([header, payload]);
}

function bigLength(length: number): Buffer {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64BE(BigInt(length));
  return bytes;
}
