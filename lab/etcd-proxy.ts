import { connect, createServer, type Server, type Socket } from "node:net";

// A TCP proxy between one node and the etcd cluster: one listening port on loopback per etcd
// member, each forwarding to that member. `cut()` is a network partition of that node: nothing
// is forwarded either way, but every connection stays open (as a partition does: no RST, no FIN,
// so gRPC sees no error, only silence, and its calls stall until their deadlines); a connection
// opened meanwhile is accepted and held, its upstream not dialled. `restore()` heals it: what
// was held back flows on in order (TCP would have retransmitted it) and held connections dial.

interface Pair {
  readonly client: Socket;
  upstream: Socket | null;
  // The etcd member ended the upstream while cut: the client's side ends at restore.
  upstreamEnded: boolean;
  // Bytes received while cut, in order, per direction.
  readonly toUpstream: Buffer[];
  readonly toClient: Buffer[];
}

export class EtcdProxy {
  private readonly servers: Server[] = [];
  private readonly pairs = new Set<Pair>();
  private cutNow = false;
  private readonly target = new Map<Pair, { host: string; port: number }>();
  // 127.0.0.1:PORT per etcd member, in the order of the targets.
  readonly endpoints: string[] = [];

  private constructor(private readonly targets: ReadonlyArray<{ host: string; port: number }>) {}

  // Listens for each of `urls` (http://HOST:PORT) on a free loopback port.
  static async start(urls: readonly string[]): Promise<EtcdProxy> {
    const proxy = new EtcdProxy(urls.map((url) => {
      const parsed = new URL(url);
      return { host: parsed.hostname, port: Number(parsed.port) };
    }));
    for (const target of proxy.targets) {
      const server = createServer((client) => proxy.accept(client, target));
      proxy.servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => resolve());
      });
      const address = server.address();
      proxy.endpoints.push(`http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`);
    }
    return proxy;
  }

  get isCut(): boolean {
    return this.cutNow;
  }

  // Open connections through the proxy (held or forwarding).
  get connections(): number {
    return this.pairs.size;
  }

  cut(): void {
    this.cutNow = true;
  }

  restore(): void {
    if (!this.cutNow) return;
    this.cutNow = false;
    for (const pair of this.pairs) {
      if (pair.upstream === null) this.dial(pair);
      else this.flush(pair);
    }
  }

  // Ends every connection and stops listening.
  close(): void {
    for (const server of this.servers) server.close();
    for (const pair of this.pairs) {
      pair.client.destroy();
      pair.upstream?.destroy();
    }
    this.pairs.clear();
  }

  private accept(client: Socket, target: { host: string; port: number }): void {
    const pair: Pair = { client, upstream: null, upstreamEnded: false, toUpstream: [], toClient: [] };
    this.pairs.add(pair);
    this.target.set(pair, target);
    client.setNoDelay(true);
    client.on("data", (chunk: Buffer) => {
      if (this.cutNow || pair.upstream === null || !pair.upstream.writable) pair.toUpstream.push(chunk);
      else pair.upstream.write(chunk);
    });
    client.on("error", () => undefined);
    client.on("close", () => this.drop(pair));
    if (!this.cutNow) this.dial(pair);
  }

  private dial(pair: Pair): void {
    const target = this.target.get(pair);
    if (target === undefined) return;
    const upstream = connect(target.port, target.host);
    pair.upstream = upstream;
    upstream.setNoDelay(true);
    upstream.on("connect", () => this.flush(pair));
    upstream.on("data", (chunk: Buffer) => {
      if (this.cutNow) pair.toClient.push(chunk);
      else pair.client.write(chunk);
    });
    upstream.on("error", () => undefined);
    // The etcd member went away (killed): the node sees its connection end, as it would.
    upstream.on("close", () => {
      if (this.cutNow) pair.upstreamEnded = true;
      else this.drop(pair);
    });
  }

  private flush(pair: Pair): void {
    if (pair.upstreamEnded) {
      for (const chunk of pair.toClient.splice(0)) pair.client.write(chunk);
      this.drop(pair);
      return;
    }
    const upstream = pair.upstream;
    if (upstream === null || upstream.connecting || this.cutNow) return;
    for (const chunk of pair.toUpstream.splice(0)) upstream.write(chunk);
    for (const chunk of pair.toClient.splice(0)) pair.client.write(chunk);
  }

  private drop(pair: Pair): void {
    if (!this.pairs.delete(pair)) return;
    this.target.delete(pair);
    pair.upstream?.destroy();
    // Ended, not destroyed: what was written to it still goes out.
    pair.client.end();
  }
}
