// The core's timers, named by what they are for. A timer's firing is an event for that one
// thing: no queue and no other entity ever waits on it.
export type TimerFor =
  | { readonly kind: "restart"; readonly firing: number } // a restart's backoff ends
  | { readonly kind: "wait"; readonly firing: number } // a waitfor without a path ends
  | { readonly kind: "heartbeat"; readonly entity: string } // a heartbeat period ends
  | { readonly kind: "self-close"; readonly entity: string; readonly pid: number } // a closed connection's grace ends
  | { readonly kind: "unknown"; readonly id: string };

export const restartTimer = (firing: number): string => `restart:${firing}`;
export const waitTimer = (firing: number): string => `wait:${firing}`;
export const heartbeatTimer = (entity: string): string => `hb:${entity}`;
export const selfCloseTimer = (entity: string, pid: number): string => `close:${pid}:${entity}`;

export function timerFor(id: string): TimerFor {
  const colon = id.indexOf(":");
  const rest = id.slice(colon + 1);
  switch (id.slice(0, colon)) {
    case "restart":
      return { kind: "restart", firing: Number(rest) };
    case "wait":
      return { kind: "wait", firing: Number(rest) };
    case "hb":
      return { kind: "heartbeat", entity: rest };
    case "close": {
      const second = rest.indexOf(":");
      return { kind: "self-close", pid: Number(rest.slice(0, second)), entity: rest.slice(second + 1) };
    }
    default:
      return { kind: "unknown", id };
  }
}
