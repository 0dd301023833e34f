import { readProcUsage, type ProcUsage } from "../proc.js";
import type { GroupRow, PsRow } from "../wire/ps-row.js";

// `hamctl ps`: the HAM's rows, each live process's CPU and memory from /proc, as a table lined
// up for a terminal or as JSON rows with stable names.

// A row as the HAM sent it (its start time only served to check the pid), with its process's use.
export interface PsLine extends Omit<PsRow, "startTime"> {
  // Lifetime average, as ps's %CPU (CPU time / time since the process started), one decimal.
  readonly cpuPercent: number | null;
  readonly rssBytes: number | null;
}

export function psLines(rows: readonly PsRow[], read: (pid: number, startTime: number | null) => ProcUsage | null = readProcUsage): PsLine[] {
  return rows.map((row) => {
    // The start time guards against a pid another process now holds.
    const usage = row.pid > 0 ? read(row.pid, row.startTime) : null;
    const { startTime: _startTime, ...rest } = row;
    return {
      ...rest,
      cpuPercent: usage === null ? null : Math.round(usage.cpuPercent * 10) / 10,
      rssBytes: usage?.rssBytes ?? null,
    };
  });
}

const COLUMNS: ReadonlyArray<{ title: string; right: boolean; cell: (line: PsLine) => string }> = [
  { title: "NAME", right: false, cell: (line) => line.name },
  { title: "PID", right: true, cell: (line) => (line.pid > 0 ? String(line.pid) : "-") },
  { title: "STATE", right: false, cell: (line) => (line.state === "waiting" && line.waitingFor.length > 0 ? `waiting for ${line.waitingFor.join(",")}` : line.state) },
  { title: "ROLE", right: false, cell: (line) => (line.group === null ? "-" : `${line.group}:${line.role ?? "none"}`) },
  { title: "UPTIME", right: true, cell: (line) => (line.uptimeMs === null ? "-" : formatDuration(line.uptimeMs)) },
  { title: "RESTARTS", right: true, cell: (line) => String(line.restarts) },
  { title: "DEATHS", right: true, cell: (line) => String(line.deaths) },
  { title: "LAST EXIT", right: false, cell: (line) => line.lastExit ?? "-" },
  { title: "PROBES", right: false, cell: (line) => line.probe ?? "-" },
  { title: "AVAIL %", right: true, cell: (line) => (line.availabilityPercent === null ? "-" : line.availabilityPercent.toFixed(3)) },
  { title: "CPU %", right: true, cell: (line) => (line.cpuPercent === null ? "-" : line.cpuPercent.toFixed(1)) },
  { title: "RSS", right: true, cell: (line) => (line.rssBytes === null ? "-" : formatBytes(line.rssBytes)) },
];

type Column<T> = { readonly title: string; readonly right: boolean; readonly cell: (line: T) => string };

// Columns as wide as their widest cell, two spaces apart; numbers to the right.
function table<T>(columns: ReadonlyArray<Column<T>>, lines: readonly T[]): string {
  const cells = [columns.map((column) => column.title), ...lines.map((line) => columns.map((column) => column.cell(line)))];
  const widths = columns.map((_, index) => Math.max(...cells.map((row) => row[index]?.length ?? 0)));
  return cells.map((row) => row.map((cell, index) => {
    const width = widths[index] ?? 0;
    return columns[index]?.right === true ? cell.padStart(width) : cell.padEnd(width);
  }).join("  ").trimEnd()).join("\n") + "\n";
}

// PROBES only when some entity has probes.
export function psTable(lines: readonly PsLine[]): string {
  const probes = lines.some((line) => line.probe !== undefined);
  return table(probes ? COLUMNS : COLUMNS.filter((column) => column.title !== "PROBES"), lines);
}

const ms = (value: number | null) => (value === null ? "-" : `${value} ms`);
const names = (list: readonly string[]) => (list.length === 0 ? "-" : list.join(","));

const GROUP_COLUMNS: ReadonlyArray<Column<GroupRow>> = [
  { title: "GROUP", right: false, cell: (group) => group.name },
  { title: "MODEL", right: false, cell: (group) => group.model },
  { title: "ACTIVE", right: false, cell: (group) => names(group.active) },
  { title: "STANDBY", right: false, cell: (group) => names(group.standby) },
  { title: "FAILOVERS", right: true, cell: (group) => String(group.failovers) },
  { title: "LAST FAILOVER", right: true, cell: (group) => ms(group.lastFailoverMs) },
  { title: "SWITCHOVERS", right: true, cell: (group) => String(group.switchovers) },
  { title: "AVAIL %", right: true, cell: (group) => (group.availabilityPercent === null ? "-" : group.availabilityPercent.toFixed(3)) },
];

// The groups under `hamctl ps`'s entities.
export function groupTable(groups: readonly GroupRow[]): string {
  return table(GROUP_COLUMNS, groups);
}

// One group in a line (`hamctl status`).
export function groupSummary(group: GroupRow): string {
  const cluster = group.cluster === undefined ? "" : `, held by ${group.cluster.holder ?? "nobody"}${group.cluster.waiting.length === 0 ? "" : `, waiting for ${group.cluster.waiting.join(",")}`}`;
  return `${group.name} (${group.model}: active ${names(group.active)}, standby ${names(group.standby)}${cluster})`;
}

// 3s, 5m12s, 2h03m, 4d01h.
export function formatDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  const two = (n: number) => String(n).padStart(2, "0");
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${two(seconds % 60)}s`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h${two(Math.floor(seconds / 60) % 60)}m`;
  return `${Math.floor(seconds / 86_400)}d${two(Math.floor(seconds / 3600) % 24)}h`;
}

// 812 KB, 41.2 MB, 1.3 GB (powers of 1024, as ps and top count).
export function formatBytes(bytes: number): string {
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
  return `${(bytes / 1024 ** 3).toFixed(1)} GB`;
}
