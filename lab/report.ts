import type { Run, Violation } from "./run.js";

// The lab's report: faults by kind, checks made, violations with what replays them, and
// the takeover, re-protection and restart figures; the service group's failovers.

export interface Figures {
  readonly count: number;
  readonly p50: number | null;
  readonly p99: number | null;
  readonly max: number | null;
}

export function figures(samples: readonly number[]): Figures {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => (sorted.length === 0 ? null : round(sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number));
  return { count: sorted.length, p50: at(0.5), p99: at(0.99), max: at(1) };
}

const round = (ms: number) => Math.round(ms * 10) / 10;

export interface Report {
  readonly seed: number;
  readonly seconds: number;
  readonly steps: number;
  readonly faults: Record<string, number>;
  readonly quietMoments: number;
  readonly checks: number;
  readonly takeoverMs: Figures;
  readonly takeoverStartingMs: Figures;
  readonly reprotectMs: Figures;
  readonly restartMs: Figures;
  readonly restartDuringHamFaultMs: Figures;
  readonly hamDeaths: number;
  readonly guardianDeaths: number;
  readonly group: GroupFigures | null;
  readonly violations: ReadonlyArray<Violation & { readonly replay: string }>;
}

// The invariants about the group (their violations are among the report's violations too).
export const GROUP_INVARIANTS = ["at most one active", "active again in time", "one active per group", "group settled", "members agree with the HAM"];

export interface GroupFigures {
  readonly name: string;
  // Faults that took the active away and were followed by a member saying "active".
  readonly failoversSeen: number;
  // The HAM's own count (status groups[].failovers) at the last quiet moment.
  readonly hamFailovers: number | null;
  readonly switchovers: number | null;
  readonly activeAgainMs: Figures;
  readonly activeAgainDuringHamFaultMs: Figures;
  // Reports of a member serving, each judged against every other member process.
  readonly judged: number;
  readonly memberErrors: number;
  readonly violations: number;
}

export function makeReport(run: Run, replayArgs: readonly string[]): Report {
  return {
    seed: run.options.seed,
    seconds: round(run.now() / 1_000),
    steps: run.step,
    faults: Object.fromEntries([...run.faults].sort((a, b) => b[1] - a[1])),
    quietMoments: run.quietMoments,
    checks: run.checks,
    takeoverMs: figures(run.takeoverMs),
    takeoverStartingMs: figures(run.takeoverStartingMs),
    reprotectMs: figures(run.reprotectMs),
    restartMs: figures(run.restartMs),
    restartDuringHamFaultMs: figures(run.restartDuringHamFaultMs),
    hamDeaths: run.hamDeaths,
    guardianDeaths: run.guardianDeaths,
    group: run.group === null ? null : {
      name: run.group.name,
      failoversSeen: run.group.activeAgainMs.length + run.group.activeAgainDuringHamFaultMs.length,
      hamFailovers: run.lastGroupRow?.failovers ?? null,
      switchovers: run.lastGroupRow?.switchovers ?? null,
      activeAgainMs: figures(run.group.activeAgainMs),
      activeAgainDuringHamFaultMs: figures(run.group.activeAgainDuringHamFaultMs),
      judged: run.group.judged,
      memberErrors: run.group.errors.length,
      violations: run.violations.filter((violation) => GROUP_INVARIANTS.includes(violation.invariant)).length,
    },
    violations: run.violations.map((violation) => ({
      ...violation, replay: `ham-lab ${[...replayArgs, "--seed", String(run.options.seed), "--steps", String(violation.step)].join(" ")}`,
    })),
  };
}

const line = (label: string, value: Figures) =>
  `${label.padEnd(46)} ${value.count === 0 ? "none" : `p50 ${value.p50} ms, p99 ${value.p99} ms, max ${value.max} ms (n=${value.count})`}`;

export function formatReport(report: Report): string {
  const total = Object.values(report.faults).reduce((sum, n) => sum + n, 0);
  const rows = [
    `ham-lab: seed ${report.seed}, ${report.seconds} s, ${report.steps} steps`,
    `faults injected: ${total} (${Object.entries(report.faults).map(([kind, n]) => `${kind} ${n}`).join(", ")})`,
    `HAM deaths ${report.hamDeaths}, Guardian deaths ${report.guardianDeaths}`,
    `invariant checks: ${report.checks} at ${report.quietMoments} quiet moments`,
    line("takeover (HAM killed → a new HAM answers)", report.takeoverMs),
    line("  the same, its Guardian still starting", report.takeoverStartingMs),
    line("re-protection (answers → its Guardian ready)", report.reprotectMs),
    line("healthy entity restart, beside a crash loop", report.restartMs),
    line("entity restart spanning a HAM fault", report.restartDuringHamFaultMs),
  ];
  const group = report.group;
  if (group !== null) {
    rows.push(
      `group ${group.name}: ${group.failoversSeen} failovers seen (the HAM counted ${group.hamFailovers ?? "?"}, and ${group.switchovers ?? "?"} switchovers), ` +
        `${group.judged} serving reports judged, ${group.violations} violations`,
      line("  active again (active lost → a member active)", group.activeAgainMs),
      line("  the same, spanning a HAM fault", group.activeAgainDuringHamFaultMs),
    );
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
