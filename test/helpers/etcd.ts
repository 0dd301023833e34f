import { beforeAll, describe } from "vitest";
import { etcdBinary } from "../../dist/lab/etcd-cluster.js";

// The cluster tests need Debian's etcd-server; without it they skip, saying so in one line.
export const ETCD: string | null = etcdBinary();
// HAMD_REQUIRE_ETCD=1 (set by .ci/run): a missing etcd fails the cluster tests instead.
export const REQUIRE_ETCD = process.env["HAMD_REQUIRE_ETCD"] === "1";

const skipLine = "skipped: no etcd here. Install: apt-get install etcd-server (HAMD_REQUIRE_ETCD=1 fails instead)";

export function describeWithEtcd(name: string, body: () => void): void {
  if (ETCD !== null) {
    describe(name, body);
  } else if (REQUIRE_ETCD) {
    describe(name, () => {
      beforeAll(() => {
        throw new Error("HAMD_REQUIRE_ETCD=1 but etcd is not installed: apt-get install etcd-server");
      });
      body();
    });
  } else {
    console.warn(`${name}: ${skipLine}`);
    describe.skip(`${name} (${skipLine})`, body);
  }
}
