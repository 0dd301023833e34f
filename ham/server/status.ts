import type { ActivityLog } from "../adapters/activity-log.js";
import { counts, type HamState } from "../core/state.js";
import { isReady } from "../core/readiness.js";
import type { HamOptions } from "../daemon/ham-options.js";
import { groupRows } from "./groups.js";
import type { TreeView } from "./render.js";
import type { ClusterView } from "./nodes.js";
import type { NodeRow } from "../../lib/wire/node-row.js";

// What the HAM says of itself: the /ham view's tree (render.ts draws its bytes) and `status`.
// Counting walks every entity: it is done once per state, however many files of the view ask.
export class HamFacts {
  private readonly counted = new WeakMap<HamState, ReturnType<typeof counts>>();

  private countsOf(state: HamState): ReturnType<typeof counts> {
    let found = this.counted.get(state);
    if (found === undefined) this.counted.set(state, (found = counts(state)));
    return found;
  }

  // How many entities with a process are ready, starting (not ready yet) and waiting for what they
  // require: counted once per state, as the counts above.
  private readonly readiness = new WeakMap<HamState, { ready: number; starting: number; waiting: number }>();

  private readinessOf(state: HamState): { ready: number; starting: number; waiting: number } {
    let found = this.readiness.get(state);
    if (found !== undefined) return found;
    found = { ready: 0, starting: 0, waiting: 0 };
    for (const entity of state.entities.values()) {
      if (entity.run.waiting) found.waiting += 1;
      else if (entity.run.pid > 0) found[isReady(entity) ? "ready" : "starting"] += 1;
    }
    this.readiness.set(state, found);
    return found;
  }

  private info(state: HamState, guardianPid: number): TreeView["info"] {
    const meta = state.meta;
    return { hamPid: process.pid, guardianPid, hamFailures: meta.hamFailures, guardianFailures: meta.guardianFailures };
  }

  view(state: HamState, guardianPid: number, nodes: readonly NodeRow[] | null = null): TreeView {
    return {
      info: this.info(state, guardianPid), entities: state.entities, global: state.global, groups: state.groups,
      counts: () => this.countsOf(state), verbosity: state.meta.verbosity, checkpoints: state.checkpoints, nodesKnown: state.meta,
      ...(nodes === null ? {} : { nodes }),
    };
  }

  status(state: HamState, now: {
    cluster: ClusterView | null; guardianPid: number; wallMs: number; monoMs: number; log: ActivityLog; options: HamOptions; clients: number;
  }, systemdNotifyFailures = 0): Record<string, unknown> {
    const memory = process.memoryUsage();
    return {
      ...this.info(state, now.guardianPid), ...this.countsOf(state), readiness: this.readinessOf(state), groups: groupRows(state, now.wallMs, now.monoMs),
      verbosity: now.log.verbosity, runDir: now.options.runDir, mount: now.options.mount, clients: now.clients,
      logWriteFailures: now.log.writeFailures, systemdNotifyFailures, cluster: now.cluster,
      rssBytes: memory.rss, heapUsedBytes: memory.heapUsed, heapTotalBytes: memory.heapTotal, externalBytes: memory.external,
    };
  }
}
