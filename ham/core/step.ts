import { HamError } from "../../lib/errors.js";
import { Args } from "./specs.js";
import { applyConfig } from "./config.js";
import type { CoreEvent } from "./events.js";
import { beat, graceHeartbeat } from "./heartbeats.js";
import { actionDone } from "./firings.js";
import { connectionLost, died, spawned, spawnFailed, timer, takeOver } from "./lifecycle.js";
import { assertNever } from "./describe.js";
import { applyRequest, DEFERRED } from "./requests.js";
import type { HamState } from "./state.js";
import { Tx, type StepResult } from "./tx.js";
import { resend } from "./groups/roles.js";
import { nodeDown, nodeUp } from "./nodes/node-facts.js";
import { elected, holder, leaseState, nodeUp as groupsNodeUp } from "./groups/cluster-groups.js";
import { acrossNodeDown } from "./groups/cross-switchover.js";
import { entityReady } from "./readiness.js";
import { probeResults } from "./probes.js";

export type { StepResult } from "./tx.js";

// The HAM's one transition function: (state, event) → { state, effects, changes }. Pure: it
// reads no clock (events carry their time), touches no process, file or socket, and never
// changes `state`. A request or an apply that fails leaves the state exactly as it was and
// answers with the error.
export function step(state: HamState, event: CoreEvent): StepResult {
  const tx = new Tx(state, event.at);
  switch (event.kind) {
    case "died":
      died(tx, event.entity, event.pid, event.abnormal, event.reason, event.clean === true);
      break;
    case "connection-lost":
      connectionLost(tx, event.entity, event.pid);
      break;
    case "beat":
      beat(tx, event.pid, event.entities);
      break;
    case "timer":
      timer(tx, event.id);
      break;
    case "entity-ready":
      entityReady(tx, event.entity, event.pid ?? null, event.pid === undefined ? "readiness probe" : "notification fd");
      break;
    case "action-done":
      actionDone(tx, event.firing, event.ok);
      break;
    case "spawned":
      spawned(tx, event.entity, event.pid, event.startTime, event.cause);
      break;
    case "spawn-failed":
      spawnFailed(tx, event.entity, event.code, event.error, event.cause);
      break;
    case "request":
      return request(state, event, tx);
    case "rebound":
      rebound(tx, event.entities);
      resend(tx, event.token);
      break;
    case "serving":
      for (const name of [...tx.entities.keys()]) graceHeartbeat(tx, name);
      break;
    case "guardian-failed":
      tx.setMeta({ guardianFailures: tx.meta.guardianFailures + 1 });
      break;
    case "takeover":
      takeOver(tx, event.facts, event.firings);
      break;
    case "apply":
      try {
        tx.emit({ kind: "reply", ref: event.ref, to: event.replyTo ?? null, result: applyConfig(tx, event.plan, event.source) });
      } catch (error) {
        return failed(state, event, error);
      }
      break;
    // A cluster (ham/cluster/): the nodes' facts (node entities' conditions fire on them), this
    // node's lease and its groups' elections.
    case "node-up":
      // The groups' first: at this node's own node-up they set its name with the lease ok.
      groupsNodeUp(tx, event.node, event.self === true, event.ttlMs ?? null);
      nodeUp(tx, event.node, event.pid, event.self === true);
      break;
    case "node-down":
      nodeDown(tx, event.node);
      acrossNodeDown(tx, event.node);
      break;
    case "lease":
      leaseState(tx, event.state);
      break;
    case "elected":
      elected(tx, event.group, event.token);
      break;
    case "holder":
      holder(tx, event.group, event.node, event.yielded === true);
      break;
    case "probe-results":
      probeResults(tx, event.results);
      break;
    default:
      return assertNever(event);
  }
  return tx.result();
}

function request(state: HamState, event: Extract<CoreEvent, { kind: "request" }>, tx: Tx): StepResult {
  try {
    const replyTo = event.replyTo ?? null;
    const result = applyRequest(tx, event.op, { ref: event.ref, caller: event.caller, replyTo, args: new Args(event.args), pidStart: event.pidStart });
    if (result !== DEFERRED) tx.emit({ kind: "reply", ref: event.ref, to: replyTo, result: result ?? 0 });
    return tx.result();
  } catch (error) {
    return failed(state, event, error);
  }
}

// The transition is dropped: only the error answer remains (recorded, as any answer, for a
// request sent again). An error that is not a HamError is a broken invariant of the core: it is not hidden.
function failed(state: HamState, event: Extract<CoreEvent, { ref: number }>, error: unknown): StepResult {
  if (!(error instanceof HamError)) throw error;
  const message = error.message.replace(/^[A-Z]+: /, "");
  const effects = [{ kind: "reply-error", ref: event.ref, to: event.replyTo ?? null, code: error.code, message } as const];
  return { state, effects, changes: new Set() };
}

// A client's hello after a takeover: its self-attached entities have their connection as
// their lifeline again (no more polling).
function rebound(tx: Tx, names: readonly string[]): void {
  for (const name of names) {
    const entity = tx.entity(name);
    if (entity !== undefined && !entity.run.ownChild && entity.run.pid > 0) tx.emit({ kind: "unwatch-pid", pid: entity.run.pid });
  }
}
