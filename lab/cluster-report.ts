import type { ClusterRun } from "./cluster-run.js";
import { figures, makeReport, type Figures, type Report } from "./report.js";
import type { Violation } from "./run.js";

// The cluster lab's report: what it did (faults by kind, across nodes), each node's figures
// (its current life, as today's report), the cross-node group's failovers as its members told
// them, and every violation with the command that replays it.

export interface ClusterReport {
  readonly seed: number;
  readonly seconds: number;
  readonly steps: number;
  readonly faults: Record<string, number>;
  readonly quietMoments: number;
  readonly checks: number;
  readonly nodes: Record<string, Report & { readonly lives: number }>;
  readonly cross: {
    readonly name: string;
    readonly nodeLosses: number;
    readonly failoversSeen: number;
    readonly activeAgainMs: Figures;
    readonly activeAgainDuringHamFaultMs: Figures;
    readonly judged: number;
    readonly memberErrors: readonly string[];
    // The members' counter in the group's checkpoint: writes acknowledged, reads on becoming
    // active (each judged), and the writes that failed, by code.
    readonly checkpoint: { readonly acknowledged: number; readonly reads: number; readonly errors: Record<string, number> };
  } | null;
  readonly violations: ReadonlyArray<Violation & { readonly replay: string }>;
}

const round = (ms: number) => Math.round(ms * 10) / 10;

export function makeClusterReport(run: ClusterRun, replayArgs: readonly string[]): ClusterReport {
  const nodes: ClusterReport["nodes"] = {};
  for (const [name, life] of run.incarnations) nodes[name] = { ...makeReport(life.run, []), lives: run.lives.get(name) ?? 1 };
  const cross = run.cross;
  const nodeChecks = [...run.incarnations.values()].reduce((sum, life) => sum + life.run.checks, 0);
  return {
    seed: run.options.seed,
    seconds: round(run.now() / 1_000),
    steps: run.step,
    faults: Object.fromEntries([...run.faults].sort((a, b) => b[1] - a[1])),
    quietMoments: run.quietMoments,
    checks: run.checks + nodeChecks,
    nodes,
    cross: cross === null ? null : {
      name: cross.name,
      nodeLosses: run.nodeLosses,
      failoversSeen: cross.activeAgainMs.length + cross.activeAgainDuringHamFaultMs.length,
      activeAgainMs: figures(cross.activeAgainMs),
      activeAgainDuringHamFaultMs: figures(cross.activeAgainDuringHamFaultMs),
      judged: cross.judged,
      memberErrors: cross.errors.slice(0, 10),
      checkpoint: { acknowledged: cross.checkpoints.acknowledged, reads: cross.checkpoints.reads, errors: Object.fromEntries(cross.checkpoints.errors) },
    },
    violations: run.allViolations().map((violation) => ({
      ...violation, replay: `ham-lab ${[...replayArgs, "--seed", String(run.options.seed), "--steps", String(violation.step)].join(" ")}`,
    })),
  };
}

const line = (label: string, value: Figures) =>
  `${label.padEnd(46)} ${value.count === 0 ? "none" : `p50 ${value.p50} ms, p99 ${value.p99} ms, max ${value.max} ms (n=${value.count})`}`;

export function formatClusterReport(report: ClusterReport): string {
  const total = Object.values(report.faults).reduce((sum, n) => sum + n, 0);
  const rows = [
    `ham-lab --nodes ${Object.keys(report.nodes).length}: seed ${report.seed}, ${report.seconds} s, ${report.steps} steps`,
    `faults injected: ${total} (${Object.entries(report.faults).map(([kind, n]) => `${kind} ${n}`).join(", ")})`,
    `invariant checks: ${report.checks} at ${report.quietMoments} quiet moments`,
  ];
  for (const [name, node] of Object.entries(report.nodes)) {
    rows.push(`node ${name}${node.lives > 1 ? ` (life ${node.lives}: killed ${node.lives - 1} times)` : ""}: HAM deaths ${node.hamDeaths}, Guardian deaths ${node.guardianDeaths}, ` +
      `takeover p50 ${node.takeoverMs.p50 ?? "-"} ms, restart p50 ${node.restartMs.p50 ?? "-"} ms, ` +
      `${node.group === null ? "" : `${node.group.name} failovers ${node.group.failoversSeen} (active again p50 ${node.group.activeAgainMs.p50 ?? "-"} ms)`}`);
  }
  const cross = report.cross;
  if (cross !== null) {
    rows.push(`cross-node group ${cross.name}: ${cross.failoversSeen} failovers seen, ${cross.nodeLosses} of them after its active's node was lost, ` +
      `${cross.judged} serving reports judged${cross.memberErrors.length > 0 ? `, member errors: ${cross.memberErrors.join("; ")}` : ""}`,
    `  checkpoint: ${cross.checkpoint.acknowledged} counter writes acknowledged, ${cross.checkpoint.reads} reads on becoming active judged` +
      `${Object.keys(cross.checkpoint.errors).length > 0 ? `, errors reported (at most 1 a second per member) ${Object.entries(cross.checkpoint.errors).map(([code, n]) => `${code} ${n}`).join(", ")}` : ""}`,
    line("  active again (active or its node lost → active)", cross.activeAgainMs),
    line("  the same, spanning a HAM fault", cross.activeAgainDuringHamFaultMs));
  }
  if (report.violations.length === 0) rows.push("violations: none");
  else {
    rows.push(`violations: ${report.violations.length}`);
    for (const violation of report.violations) {
      rows.push(`  step ${violation.step} at ${(violation.atMs / 1_000).toFixed(1)} s [${violation.invariant}] ${violation.detail}`);
      rows.push(`    replay: ${violation.replay}`);
    }
  }
  return `${rows.join("\n")}\n`;
}
