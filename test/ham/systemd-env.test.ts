import { describe, expect, it } from "vitest";
import { takeSystemdEnv } from "../../dist/ham/adapters/systemd-notify.js";

// What `ham` takes from the environment systemd gave it (sd_notify(3), sd_watchdog_enabled(3)).
describe("the systemd unit's environment", () => {
  it("is taken out of the environment, so that no process the HAM starts inherits it", () => {
    const env: NodeJS.ProcessEnv = { NOTIFY_SOCKET: "/run/systemd/notify", WATCHDOG_USEC: "30000000", WATCHDOG_PID: "42", PATH: "/usr/bin" };
    expect(takeSystemdEnv(env, 42)).toEqual({ notifySocket: "/run/systemd/notify", watchdogUsec: 30_000_000 });
    expect(env).toEqual({ PATH: "/usr/bin" });
  });

  it("keeps no watchdog meant for another process (WATCHDOG_PID), and one meant for any when WATCHDOG_PID is unset", () => {
    expect(takeSystemdEnv({ NOTIFY_SOCKET: "@notify", WATCHDOG_USEC: "1000000", WATCHDOG_PID: "7" }, 42)).toEqual({ notifySocket: "@notify", watchdogUsec: null });
    expect(takeSystemdEnv({ NOTIFY_SOCKET: "@notify", WATCHDOG_USEC: "1000000" }, 42)).toEqual({ notifySocket: "@notify", watchdogUsec: 1_000_000 });
    expect(takeSystemdEnv({ NOTIFY_SOCKET: "@notify", WATCHDOG_USEC: "zero" }, 42)).toEqual({ notifySocket: "@notify", watchdogUsec: null });
  });

  it("is nothing outside a notify unit, even with a watchdog's variables", () => {
    const env: NodeJS.ProcessEnv = { WATCHDOG_USEC: "1000000", WATCHDOG_PID: "42" };
    expect(takeSystemdEnv(env, 42)).toBeNull();
    expect(env).toEqual({});
  });
});
