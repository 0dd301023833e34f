import { readFileSync } from "node:fs";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import * as ham from "../../dist/lib/index.js";
import { EtcdCluster } from "../../dist/lab/etcd-cluster.js";
import { Session } from "../../dist/lib/client/session.js";
import { describeWithEtcd } from "../helpers/etcd.js";
import { cleanup, entityPid, eventually, startHam, type HamInstance } from "../helpers/ham-instance.js";
import { attachSleeper, killHam } from "../helpers/takeover.js";

// A HAM that takes over while etcd has no quorum: it must not die of it. It serves, supervises its
// entities, joins again once the quorum is back.

async function nodes(instance: HamInstance): Promise<Array<{ name: string; state: string }>> {
  const session = await Session.open(instance.runDir);
  try {
    return (await session.request("nodes", {}, 2_000)) as Array<{ name: string; state: string }>;
  } finally {
    session.close();
  }
}

describeWithEtcd("a HAM takeover while etcd has lost its quorum", () => {
  let etcd: EtcdCluster;

  beforeAll(async () => {
    etcd = await EtcdCluster.start(3);
  }, 30_000);

  afterEach(async () => {
    await ham.ham_disconnect(0).catch(() => undefined);
    await cleanup();
  });

  afterAll(() => {
    etcd?.stop();
  });

  it("serves and restarts its entities at once, says it rejoins, and joins again when the quorum is back", async () => {
    const instance = await startHam(["--node", "n1", "--etcd", etcd.endpoints.join(",")]);
    process.env["HAM_RUN_DIR"] = instance.runDir;
    await attachSleeper("svc");
    await ham.ham_disconnect(0);
    const pid = await entityPid(instance, "svc");
    etcd.kill(1);
    etcd.kill(2);
    const { after } = await killHam(instance);
    // Local supervision goes on: a death is a restart, now.
    process.kill(pid, "SIGKILL");
    const next = await eventually(async () => {
      const now = await entityPid(instance, "svc").catch(() => 0);
      return now > 0 && now !== pid ? now : 0;
    }, 5_000, "svc restarted by the HAM that took over");
    expect(next).not.toBe(pid);
    await eventually(() => readFileSync(instance.logFile, "utf8").includes('"event":"rejoin-failed"'), 10_000, "a rejoin-failed line");
    etcd.restart(1);
    etcd.restart(2);
    await eventually(async () => (await nodes(instance).catch(() => [])).some((row) => row.name === "n1" && row.state === "up"), 30_000, "n1 joined again");
    expect(after.hamFailures).toBe(1);
  }, 60_000);
});
