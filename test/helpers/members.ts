import { join } from "node:path";
import { FIXTURES } from "./ham-instance.js";

// A service group member for a config file: test/fixtures/member.mjs (it logs each role it
// acknowledges to $MEMBER_LOG), restarted at once by its death condition.
export function memberEntity(name: string): Record<string, unknown> {
  return {
    name, command: `${process.execPath} ${join(FIXTURES, "member.mjs")}`, policy: { minUptimeMs: 0 },
    conditions: [{ name: "death", type: "CONDDEATH", flags: ["HREARMAFTERRESTART"], actions: [{ name: "restart", kind: "restart", flags: ["HREARMAFTERRESTART"] }] }],
  };
}
