import { afterEach, describe, expect, it } from "vitest";
import { RoleDelivery } from "../../dist/lib/client/role-delivery.js";
import { monotonicMs } from "../../dist/lib/client/role-lease.js";
import { eventually } from "../helpers/ham-instance.js";

// What a member's callback is handed, and what the HAM hears back, when a leased role (a cluster
// group's) reaches the member late: it is never handed once its lease has passed (the cluster lab
// saw a starved node's member handed `active` after its node's deadline, beside another node's).

describe("role delivery to a member", () => {
  const handed: string[] = [];
  const answers: string[] = [];
  let delivery: RoleDelivery | undefined;
  const make = (callback: (role: string) => Promise<void> | void = () => undefined) =>
    new RoleDelivery("m", async (assignment) => {
      handed.push(`${assignment.role}${assignment.leaseExpired === true ? " (lease expired)" : ""} ${assignment.seq}`);
      await callback(assignment.role);
    }, (_group, seq, answer) => answers.push(`${seq} ${answer.ok ? "ok" : "refused"}`));

  afterEach(() => {
    delivery?.close();
    handed.length = 0;
    answers.length = 0;
  });

  it("hands a leased active role while its lease holds, and quiesced when it passes", async () => {
    delivery = make();
    delivery.role({ group: "g", entity: "m", role: "active", seq: 1, until: monotonicMs() + 300 });
    await eventually(() => answers.length === 1, 2_000, "the acknowledgement");
    expect(handed).toEqual(["active 1"]);
    expect(answers).toEqual(["1 ok"]);
    await eventually(() => handed.length === 2, 2_000, "the lease to pass");
    expect(handed).toEqual(["active 1", "quiesced (lease expired) 1"]);
  });

  it("holds an active role that arrives after its lease passed until a renewal comes (a HAM that took over), then hands it", async () => {
    delivery = make();
    delivery.role({ group: "g", entity: "m", role: "active", seq: 2, until: monotonicMs() - 1 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(handed).toEqual([]);
    expect(answers).toEqual([]);
    delivery.renew("g", monotonicMs() + 5_000);
    await eventually(() => answers.length === 1, 2_000, "the acknowledgement");
    expect(handed).toEqual(["active 2"]);
    expect(answers).toEqual(["2 ok"]);
  });

  it("never hands an active role whose lease passed before it arrived when no renewal comes; a later role refuses it", async () => {
    delivery = make();
    delivery.role({ group: "g", entity: "m", role: "active", seq: 2, until: monotonicMs() - 1 });
    delivery.renew("g", monotonicMs() - 1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(handed).toEqual([]);
    delivery.role({ group: "g", entity: "m", role: "standby", seq: 3 });
    await eventually(() => answers.length === 2, 2_000, "both answers");
    expect(handed).toEqual(["standby 3"]);
    expect(answers).toEqual(["2 refused", "3 ok"]);
  });

  it("never hands an active role whose lease passed while an earlier role was being handed (refused at close)", async () => {
    let release: () => void = () => undefined;
    const slow = new Promise<void>((resolve) => {
      release = resolve;
    });
    delivery = make((role) => (role === "standby" ? slow : undefined));
    delivery.role({ group: "g", entity: "m", role: "standby", seq: 3 });
    const until = monotonicMs() + 50;
    delivery.role({ group: "g", entity: "m", role: "active", seq: 4, until });
    await eventually(() => monotonicMs() > until + 20, 2_000, "the lease to pass behind the slow standby");
    expect(handed).toEqual(["standby 3"]);
    release();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(handed).toEqual(["standby 3"]);
    delivery.close();
    await eventually(() => answers.length === 2, 2_000, "both answers");
    expect(handed).toEqual(["standby 3"]);
    expect(answers).toEqual(["3 ok", "4 refused"]);
  });

  it("acknowledges a role sent again without handing it twice", async () => {
    delivery = make();
    delivery.role({ group: "g", entity: "m", role: "standby", seq: 5 });
    delivery.role({ group: "g", entity: "m", role: "standby", seq: 5 });
    await eventually(() => answers.length === 2, 2_000, "two acknowledgements");
    expect(handed).toEqual(["standby 5"]);
    expect(answers).toEqual(["5 ok", "5 ok"]);
  });
});
