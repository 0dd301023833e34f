import { LOG_LEVEL, type ActivityLog } from "../adapters/activity-log.js";
import { Election } from "../cluster/election.js";
import type { Membership } from "../cluster/membership.js";
import type { CoreEvent } from "../core/events.js";
import { mayServe } from "../core/groups/roles.js";
import type { HamState } from "../core/state.js";

// The daemon's side of cluster groups: the elections (cluster/election.ts) fed to the core as
// events, and leased roles. A serving member of a cluster group is told until when its role
// holds (`until`: the node's lease deadline on CLOCK_MONOTONIC, in ms, the clock every process
// of the machine shares), renewed after each acknowledged keepalive; the client library drops
// the role on its own when `until` passes (lib/client/groups.ts).

export interface ClusterRolesContext {
  state(): HamState;
  dispatch(event: CoreEvent): void;
  at(): CoreEvent["at"];
  // Sends an event to a client session (false: not connected).
  send(token: string, message: Record<string, unknown>): boolean;
  log(): ActivityLog;
}

// CLOCK_MONOTONIC in ms (performance.now() counts from this process's start: not shared).
export const monotonicMs = (): number => Number(process.hrtime.bigint()) / 1e6;

export class ClusterRoles {
  election: Election | null = null;

  constructor(private readonly context: ClusterRolesContext, private readonly membership: () => Membership | null) {}

  // After the join: this node to the core, then the elections' watch, then what etcd holds for the
  // groups the state already has (a HAM that took over).
  async start(): Promise<void> {
    const membership = this.membership();
    if (membership === null) return;
    const { context } = this;
    context.dispatch({ kind: "node-up", at: context.at(), node: membership.options.node, pid: process.pid, self: true, ttlMs: membership.options.ttlS * 1000 });
    context.dispatch({ kind: "lease", at: context.at(), state: "ok" });
    this.election = new Election(membership.etcd, membership.options.cluster, membership.options.node, {
      elected: (group, token) => context.dispatch({ kind: "elected", at: context.at(), group, token }),
      holder: (group, node, yielded) => context.dispatch({ kind: "holder", at: context.at(), group, node, ...(yielded === true ? { yielded } : {}) }),
      warn: (fields, message) => context.log().write(LOG_LEVEL.events, "warn", fields, message),
      lease: () => this.membership()?.lease ?? "",
      after: (ms, run) => {
        const timer = setTimeout(run, ms);
        return () => clearTimeout(timer);
      },
    });
    await this.election.start();
    await this.refresh();
    // A HAM that took over renews its members' leased roles at once (they may reconnect later:
    // renewSession).
    this.renewed(membership.deadline);
  }

  private async refresh(): Promise<void> {
    const groups = [...this.context.state().groups.values()].filter((group) => group.cluster !== undefined).map((group) => group.name);
    if (groups.length > 0) await this.election?.refresh(groups);
  }

  // The membership's node hooks (this node's own key is told by start()).
  nodeUp(node: string, pid: number | null): void {
    if (node !== this.membership()?.options.node) this.context.dispatch({ kind: "node-up", at: this.context.at(), node, pid });
  }

  nodeDown(node: string): void {
    this.context.dispatch({ kind: "node-down", at: this.context.at(), node });
  }

  // The membership's lease hooks.
  leaseState(state: "ok" | "expiring"): void {
    this.context.dispatch({ kind: "lease", at: this.context.at(), state });
    if (state === "ok") {
      this.refresh().catch((error: unknown) => this.context.log().write(LOG_LEVEL.events, "warn", { event: "election-refresh-failed" }, String(error)));
    }
  }

  // `deadline` on performance.now(): every serving member of a held cluster group hears its new
  // `until` (only those of client session `session`, if given).
  renewed(deadline: number, session: string | null = null): void {
    const until = this.until(deadline);
    const state = this.context.state();
    if (state.meta.leaseOk !== true) return;
    for (const group of state.groups.values()) {
      if (group.cluster === undefined || group.cluster.token === null) continue;
      for (const member of group.members) {
        const token = state.entities.get(member.name)?.run.roleToken ?? null;
        if (token !== null && (session === null || token === session) && mayServe(member)) this.context.send(token, { ev: "lease", group: group.name, entity: member.name, until });
      }
    }
  }

  // A client said hello (again, after a takeover): its leased roles are renewed now.
  renewSession(token: string): void {
    const membership = this.membership();
    if (membership !== null && performance.now() < membership.deadline) this.renewed(membership.deadline, token);
  }

  // The role `until` a leased assignment carries now.
  untilNow(): number {
    const membership = this.membership();
    return membership === null ? 0 : this.until(membership.deadline);
  }

  private until(deadline: number): number {
    return Math.floor(deadline - performance.now() + monotonicMs());
  }

  // Before each event: a HAM resumed after SIGSTOP demotes before it does anything else.
  preflight(): void {
    this.membership()?.checkNow();
  }

  stop(): void {
    this.election?.stop();
    this.election = null;
  }
}
