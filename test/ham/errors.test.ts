import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import * as ham from "../../dist/lib/index.js";
import { tempDir, useHamPerTest, type HamInstance } from "../helpers/ham-instance.js";

const currentHam = useHamPerTest(() => ham.ham_disconnect(0));
let instance: HamInstance;
beforeEach(() => {
  instance = currentHam();
});

const code = (promise: Promise<unknown>) => promise.then(() => "resolved", (error: { code?: string }) => error.code);

describe("error codes of the ham_* calls", () => {
  it("EBADF without ham_connect for calls that need it, and from an auto-connecting call when no HAM runs", async () => {
    const entity = await ham.ham_entity("e", 0, 0);
    expect(await code(ham.ham_condition(entity, ham.CONDDEATH, "d", 0))).toBe("EBADF");
    expect(await code(ham.ham_entity_handle(0, "e", 0))).toBe("EBADF");
    process.env["HAM_RUN_DIR"] = "/nonexistent/hamd-run-dir";
    expect(await code(ham.ham_attach("x", 0, -1, "/bin/true", 0))).toBe("EBADF");
  });

  it("ham_connect fails with open()'s ENOENT when no HAM runs: no socket, or a socket nobody listens on", async () => {
    process.env["HAM_RUN_DIR"] = "/nonexistent/hamd-run-dir";
    expect(await code(ham.ham_connect(0))).toBe("ENOENT");
    const stale = tempDir("stale");
    // A process that listened on the socket and died leaves the file behind.
    spawnSync(process.execPath, ["-e", `require("net").createServer().listen(${JSON.stringify(join(stale, "ham.sock"))}, () => process.exit(0))`]);
    expect(existsSync(join(stale, "ham.sock"))).toBe(true);
    process.env["HAM_RUN_DIR"] = stale;
    expect(await code(ham.ham_connect(0))).toBe("ENOENT");
    expect(await code(ham.ham_disconnect(0))).toBe("EINVAL");
  });

  it("EINVAL for bad names, flags, types, delays, handles and nodes; ENAMETOOLONG; EEXIST; ENOENT", async () => {
    await ham.ham_connect(0);
    expect(await code(ham.ham_attach("a/b", 0, -1, "/bin/true", 0))).toBe("EINVAL");
    expect(await code(ham.ham_attach(".dot", 0, -1, "/bin/true", 0))).toBe("EINVAL");
    expect(await code(ham.ham_attach("x".repeat(256), 0, -1, "/bin/true", 0))).toBe("ENAMETOOLONG");
    expect(await code(ham.ham_attach("nothing", 0, -1, null, 0))).toBe("EINVAL");
    expect(await code(ham.ham_attach("gone", 0, 999_999, null, 0))).toBe("ESRCH");
    expect(await code(ham.ham_attach("bad", 0, -1, "/nonexistent/binary", 0))).toBe("ENOENT");
    expect(await code(ham.ham_attach("flags", 0, -1, "/bin/sleep 100", 0x40))).toBe("EINVAL");
    expect(await code(ham.ham_attach("remote", 3, -1, "/bin/sleep 100", 0))).toBe("EINVAL");
    expect(await code(ham.ham_attach_node("remote", "othermachine", -1, "/bin/sleep 100", 0))).toBe("EINVAL");
    const entity = await ham.ham_entity("e", 0, 0);
    expect(await code(ham.ham_condition(entity, 42, "c", 0))).toBe("EINVAL");
    expect(await code(ham.ham_condition(entity, ham.CONDSTATE, "c", 0))).toBe("EINVAL");
    expect(await code(ham.ham_condition(entity, ham.CONDDEATH, "c", 0x800000))).toBe("EINVAL");
    const nowait = await ham.ham_condition(entity, ham.CONDDEATH, "nowait", ham.HCONDNOWAIT);
    expect(await code(ham.ham_condition(entity, ham.CONDDEATH, "nowait", 0))).toBe("EEXIST");
    expect(await code(ham.ham_action_waitfor(nowait, "w", null, 100, 0))).toBe("EINVAL");
    const other = await ham.ham_condition(entity, ham.CONDDETACH, "other", 0);
    expect(await code(ham.ham_action_waitfor(other, "w", null, 0, 0))).toBe("EINVAL");
    expect(await code(ham.ham_action_waitfor(other, "w", "relative/path", 100, 0))).toBe("EINVAL");
    expect(await code(ham.ham_action_restart(other, "r", "/bin/true", 0))).toBe("EINVAL");
    expect(await code(ham.ham_action_execute(other, "x", `/bin/echo "unterminated`, 0))).toBe("EINVAL");
    expect(await code(ham.ham_action_notify_signal(other, "s", 0, 1, "SIGNOPE", 0, 0, 0))).toBe("EINVAL");
    expect(await code(ham.ham_action_notify_pulse(other, "p", 0, 0, 1, 1, 1, 0))).toBe("EINVAL");
    await ham.ham_action_restart(nowait, "r", "/bin/true", 0);
    const second = await ham.ham_condition(entity, ham.CONDABNORMALDEATH, "abnormal", 0);
    expect(await code(ham.ham_action_restart(second, "r2", "/bin/true", 0))).toBe("EEXIST");
    const global = await ham.ham_entity_handle(0, null, 0);
    const globalDeath = await ham.ham_condition(global, ham.CONDDEATH, "any-death", 0);
    expect(await code(ham.ham_action_restart(globalDeath, "r", "/bin/true", 0))).toBe("EINVAL");
    expect(await code(ham.ham_entity_handle(0, "missing", 0))).toBe("ENOENT");
    expect(await code(ham.ham_condition_handle(0, "e", "missing", 0))).toBe("ENOENT");
    expect(await code(ham.ham_action_handle(0, "e", "nowait", "missing", 0))).toBe("ENOENT");
    expect(await code(ham.ham_detach_name(0, "missing", 0))).toBe("ENOENT");
    expect(await code(ham.ham_detach(global, 0))).toBe("EINVAL");
    const action = await ham.ham_action_handle(0, "e", "nowait", "r", 0);
    expect(await code(ham.ham_action_fail_remove(action, "none", 0))).toBe("ENOENT");
    await ham.ham_action_fail_log(action, "note", "restart failed", 1, 0, 0);
    expect(await code(ham.ham_action_fail_log(action, "note", "again", 1, 0, 0))).toBe("EEXIST");
    expect(await code(ham.ham_action_control(action, ham.HADDFLAGS, ham.HACTIONDONOW))).toBe("EINVAL");
    expect(await code(ham.ham_action_control(action, 99, 0))).toBe("EINVAL");
    expect(await code(ham.ham_verbose(null, 99, 0))).toBe("EINVAL");
    expect(await code(ham.ham_verbose(null, ham.VERBOSE_SET, -1))).toBe("EINVAL");
    expect(await code(ham.ham_attach_self("self", 1_000_000, 1, 1, 0))).toBe("EINVAL");
    expect(await code(ham.ham_attach_self("self", 100_000_000, 5, 2, 0))).toBe("EINVAL");
    await ham.ham_entity_handle_free(entity);
    expect(await code(ham.ham_condition(entity, ham.CONDDEATH, "after-free", 0))).toBe("EINVAL");
    expect(await code(ham.ham_entity_policy(global, { minUptimeMs: 1 }))).toBe("EINVAL");
    const handle = await ham.ham_entity_handle(0, "e", 0);
    expect(await code(ham.ham_entity_policy(handle, { budget: { restarts: 0, windowMs: 5 } }))).toBe("EINVAL");
    await ham.ham_disconnect(0);
    expect(await code(ham.ham_disconnect(0))).toBe("EINVAL");
  });

  it("control: flags round-trip, NOWAIT refused on a condition holding waitfors, enable/disable", async () => {
    await ham.ham_connect(0);
    const entity = await ham.ham_entity("e", 0, 0);
    const condition = await ham.ham_condition(entity, ham.CONDDEATH, "d", 0);
    await ham.ham_action_waitfor(condition, "w", null, 100, 0);
    expect(await ham.ham_condition_control(condition, ham.HADDFLAGS, ham.HREARMAFTERRESTART)).toBe(0);
    expect(await ham.ham_condition_control(condition, ham.HGETFLAGS, 0)).toBe(ham.HREARMAFTERRESTART);
    expect(await code(ham.ham_condition_control(condition, ham.HADDFLAGS, ham.HCONDNOWAIT))).toBe("EINVAL");
    await ham.ham_entity_control(entity, ham.HDISABLE, ham.HRECURSE);
    expect(await instance.field("/e/d/.info", "Enabled")).toBe("NO");
    expect(await instance.field("/e/d/w", "Enabled")).toBe("NO");
    await ham.ham_entity_control(entity, ham.HENABLE, 0);
    expect(await instance.field("/e/.info", "Enabled")).toBe("YES");
    expect(await instance.field("/e/d/.info", "Enabled")).toBe("NO");
  });

  it("verbosity: increment, decrement, set, get", async () => {
    expect(await ham.ham_verbose(null, ham.VERBOSE_SET, 2)).toBe(0);
    await ham.ham_verbose(null, ham.VERBOSE_SET_INCR, 0);
    expect(await ham.ham_verbose(null, ham.VERBOSE_GET, 0)).toBe(3);
    await ham.ham_verbose(null, ham.VERBOSE_SET_DECR, 5);
    expect(await ham.ham_verbose(null, ham.VERBOSE_GET, 0)).toBe(0);
  });

  it("ham_stop stops the HAM and leaves its processes running", async () => {
    await ham.ham_attach("survivor", 0, -1, "/bin/sleep 1000", 0);
    const pid = Number(await instance.field("/survivor/.info", "Entity Pid"));
    expect(await ham.ham_stop()).toBe(0);
    await new Promise((resolve) => instance.process.once("exit", resolve));
    expect(() => process.kill(pid, 0)).not.toThrow();
    process.kill(pid, "SIGKILL");
  });
});
