// Verbosity of activity-log lines (QNX: ham -v): 1 events, 2 details, 3 every request.
export const LOG_LEVEL = { events: 1, detail: 2, trace: 3 } as const;
export type LogLevelName = "info" | "warn" | "error";
