// A TCP proxy on loopback for fault tests against the real apiserver: it can cut every
// connection (like a dropped network) or stop forwarding bytes while keeping the sockets open
// (a half-open connection, which only stall detection notices). The apiserver's certificate
// is issued for 127.0.0.1, so TLS through the proxy still verifies.
import net from "node:net";

export class TcpProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private stalled = false;
  readonly targetHost: string;
  readonly targetPort: number;
  port = 0;
  connections = 0;

  constructor(targetHost: string, targetPort: number) {
    this.targetHost = targetHost;
    this.targetPort = targetPort;
  }

  async start(): Promise<void> {
    this.server = net.createServer((client) => this.pipe(client));
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  /** Destroys every open connection at once (RST-like for the client). */
  cutAll(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  /** Stops (true) or resumes (false) forwarding bytes on every connection, old and new. */
  stall(on: boolean): void {
    this.stalled = on;
    for (const s of this.sockets) {
      if (on) s.pause();
      else s.resume();
    }
  }

  async stop(): Promise<void> {
    this.cutAll();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private pipe(client: net.Socket): void {
    this.connections++;
    const upstream = net.connect(this.targetPort, this.targetHost);
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
      s.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
      if (this.stalled) s.pause();
    }
    client.on("data", (d) => upstream.write(d));
    upstream.on("data", (d) => client.write(d));
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  }
}
