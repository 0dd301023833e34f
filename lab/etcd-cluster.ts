import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:https";
import { createServer } from "node:net";
import { join } from "node:path";

// A real etcd cluster on loopback ports for the tests, the fault lab and the benchmarks: Debian's
// etcd-server, each member its own process (ended by its pid, never by name), data on tmpfs.

export interface EtcdMember {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  process: ChildProcess | null;
}

// Where etcd is, or null when it is not installed (the cluster tests then skip, saying so).
export function etcdBinary(): string | null {
  for (const candidate of ["/usr/bin/etcd", "/usr/local/bin/etcd"]) {
    if (spawnSync(candidate, ["--version"], { stdio: "ignore" }).status === 0) return candidate;
  }
  return null;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0));
    });
  });
}

// Client TLS (files in PEM): etcd serves https with `cert`/`key` and requires a client certificate
// signed by `ca` (--client-cert-auth); `clientCert`/`clientKey`: the one the health checks use.
export interface EtcdTls {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
  readonly clientCert: string;
  readonly clientKey: string;
}

export class EtcdCluster {
  private constructor(readonly binary: string, readonly root: string, readonly members: EtcdMember[], readonly tls: EtcdTls | null) {}

  // Starts `size` members and waits until the cluster answers (has a leader).
  static async start(size = 3, binary = etcdBinary(), tls: EtcdTls | null = null): Promise<EtcdCluster> {
    if (binary === null) throw new Error("etcd is not installed (apt-get install etcd-server)");
    const root = mkdtempSync(join("/dev/shm", "hamd-etcd-"));
    const members: EtcdMember[] = [];
    for (let index = 1; index <= size; index += 1) {
      members.push({
        name: `m${index}`, clientUrl: `${tls === null ? "http" : "https"}://127.0.0.1:${await freePort()}`, peerUrl: `http://127.0.0.1:${await freePort()}`,
        dataDir: join(root, `m${index}`), process: null,
      });
    }
    const cluster = new EtcdCluster(binary, root, members, tls);
    try {
      for (const member of members) cluster.launch(member, "new");
      await cluster.healthy(15_000);
    } catch (error) {
      cluster.stop();
      throw error;
    }
    return cluster;
  }

  get endpoints(): string[] {
    return this.members.map((member) => member.clientUrl);
  }

  private launch(member: EtcdMember, state: "new" | "existing"): void {
    const initialCluster = this.members.map((other) => `${other.name}=${other.peerUrl}`).join(",");
    member.process = spawn(this.binary, [
      "--name", member.name, "--data-dir", member.dataDir,
      "--listen-client-urls", member.clientUrl, "--advertise-client-urls", member.clientUrl,
      "--listen-peer-urls", member.peerUrl, "--initial-advertise-peer-urls", member.peerUrl,
      "--initial-cluster", initialCluster, "--initial-cluster-state", state, "--initial-cluster-token", `hamd-${this.root}`,
      "--log-level", "error",
      ...(this.tls === null ? [] : ["--cert-file", this.tls.cert, "--key-file", this.tls.key, "--trusted-ca-file", this.tls.ca, "--client-cert-auth"]),
    ], { stdio: ["ignore", "ignore", "ignore"] });
    member.process.on("error", () => undefined);
  }

  // Every member that runs answers /health with true (a leader exists and it is in the quorum).
  async healthy(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const running = this.members.filter((member) => member.process !== null && member.process.exitCode === null && member.process.signalCode === null);
      const answers = await Promise.all(running.map((member) => memberHealthy(member.clientUrl, this.tls)));
      if (running.length > 0 && answers.every(Boolean)) return;
      if (Date.now() > deadline) throw new Error(`etcd not healthy within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  // SIGKILL of one member (it keeps its data; restart() brings it back).
  kill(index: number): void {
    const member = this.members[index];
    if (member?.process?.pid !== undefined && member.process.exitCode === null) member.process.kill("SIGKILL");
  }

  restart(index: number): void {
    const member = this.members[index];
    if (member !== undefined) this.launch(member, "existing");
  }

  // Ends every member by its pid and removes the data.
  stop(): void {
    for (const member of this.members) {
      if (member.process !== null && member.process.exitCode === null) {
        try {
          member.process.kill("SIGKILL");
        } catch {
          // gone already
        }
      }
    }
    rmSync(this.root, { recursive: true, force: true });
  }
}

async function memberHealthy(url: string, tls: EtcdTls | null): Promise<boolean> {
  if (tls !== null) return memberHealthyTls(url, tls);
  try {
    const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(500) });
    const body = (await response.json()) as { health?: string };
    return body.health === "true";
  } catch {
    return false;
  }
}

// fetch() takes no client certificate: https.request does.
function memberHealthyTls(url: string, tls: EtcdTls): Promise<boolean> {
  return new Promise((resolve) => {
    const asked = request(`${url}/health`, {
      ca: readFileSync(tls.ca), cert: readFileSync(tls.clientCert), key: readFileSync(tls.clientKey), timeout: 500,
    }, (response) => {
      let body = "";
      response.on("data", (chunk: Buffer) => (body += chunk.toString()));
      response.on("end", () => {
        try {
          resolve((JSON.parse(body) as { health?: string }).health === "true");
        } catch {
          resolve(false);
        }
      });
      response.on("error", () => resolve(false));
    });
    asked.on("timeout", () => asked.destroy());
    asked.on("error", () => resolve(false));
    asked.end();
  });
}
