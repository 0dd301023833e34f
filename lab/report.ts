import type { Run, Violation } from "./run.js";

// The lab's report: faults by kind, checks made, violations with what replays them, and
// the takeover, re-protection and restart figures.

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
  readonly violations: ReadonlyArray<Violation & { readonly replay: string }>;
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
