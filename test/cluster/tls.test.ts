import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { EtcdCluster } from "../../dist/lab/etcd-cluster.js";
import { pidsWithEnv } from "../../dist/lib/proc.js";
import { describeWithEtcd } from "../helpers/etcd.js";
import { cleanup, eventually, HAM_BIN, startHam, tempDir } from "../helpers/ham-instance.js";
import { status } from "../helpers/takeover.js";

// etcd with client TLS (--client-cert-auth): a HAM with a certificate of the cluster's CA joins;
// one signed by another CA, or none, is refused by etcd: one line, exit 1, nothing left running.
// The CAs and certificates are made here with openssl (EC P-256, valid one day).

function openssl(...args: string[]): void {
  const run = spawnSync("openssl", args, { encoding: "utf8" });
  if (run.status !== 0) throw new Error(`openssl ${args[0]}: ${run.stderr}`);
}

interface Pki {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

// A CA in dir/NAME-ca.pem, and a certificate signed by it for each of `leaves` (server and client use).
function makePki(dir: string, name: string, leaves: readonly string[]): Record<string, Pki> {
  const ca = join(dir, `${name}-ca.pem`);
  const caKey = join(dir, `${name}-ca.key`);
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl("req", "-x509", ...ec, "-keyout", caKey, "-out", ca, "-days", "1", "-subj", `/CN=${name} test CA`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n");
  const made: Record<string, Pki> = {};
  for (const leaf of leaves) {
    const key = join(dir, `${name}-${leaf}.key`);
    const csr = join(dir, `${name}-${leaf}.csr`);
    const cert = join(dir, `${name}-${leaf}.pem`);
    openssl("req", ...ec, "-keyout", key, "-out", csr, "-subj", `/CN=${leaf}`);
    openssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", caKey, "-CAcreateserial", "-out", cert, "-days", "1", "-extfile", ext);
    made[leaf] = { ca, cert, key };
  }
  return made;
}

describeWithEtcd("an etcd that requires client certificates", () => {
  let etcd: EtcdCluster;
  let dir: string;
  let right: Pki;
  let wrong: Pki;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "hamd-tls-"));
    const ours = makePki(dir, "cluster", ["server", "hamd"]);
    const server = ours["server"] as Pki;
    right = ours["hamd"] as Pki;
    wrong = makePki(dir, "other", ["hamd"])["hamd"] as Pki;
    etcd = await EtcdCluster.start(1, undefined, { ca: server.ca, cert: server.cert, key: server.key, clientCert: right.cert, clientKey: right.key });
  }, 30_000);

  afterAll(() => {
    etcd?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });
  afterEach(cleanup);

  const refused = async (runDir: string, certArgs: string[]) => {
    const run = spawnSync(process.execPath, [HAM_BIN, "--run-dir", runDir, "--no-mount", "--node", "t1", "--etcd", etcd.endpoints.join(","), "--etcd-ca", right.ca, ...certArgs],
      { encoding: "utf8", timeout: 15_000 });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/^ham: etcd at https:\/\/127\.0\.0\.1:\d+: [^\n]+\n$/);
    await eventually(() => pidsWithEnv(`HAM_RUN_DIR=${runDir}`).length === 0, 3_000, "no process of the HAM that could not join");
  };

  it("a certificate of another CA ends ham with one line, exit 1", async () => {
    await refused(tempDir("tls-wrong"), ["--etcd-cert", wrong.cert, "--etcd-key", wrong.key]);
  });

  it("no client certificate at all: the same", async () => {
    await refused(tempDir("tls-none"), []);
  });

  it("the cluster CA's certificate joins", async () => {
    const ham = await startHam(["--node", "t1", "--etcd", etcd.endpoints.join(","), "--etcd-ca", right.ca, "--etcd-cert", right.cert, "--etcd-key", right.key]);
    try {
      const joined = (await status(ham.runDir)) as unknown as { cluster: { node: string; etcd: string } | null };
      expect(joined.cluster).toMatchObject({ node: "t1", etcd: "ok" });
    } finally {
      await ham.stop();
    }
  });
});
