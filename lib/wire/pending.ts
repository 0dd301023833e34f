import { HamError } from "../errors.js";

// Requests sent and not yet answered, by id: each is settled once, by its reply, its error,
// its deadline, or the loss of its connection. One copy for the ham_* session and for the
// cover library's MsgSend.
interface Waiter {
  resolve(value: unknown): void;
  reject(error: HamError): void;
  timer: NodeJS.Timeout;
}

export class PendingRequests {
  private readonly waiting = new Map<number, Waiter>();

  // Registers request `id` (before it is sent); it fails with ETIMEDOUT after `timeoutMs`.
  wait(id: number, timeoutMs: number, what: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new HamError("ETIMEDOUT", `no reply to ${what} in time`));
      }, Math.max(0, timeoutMs));
      this.waiting.set(id, { resolve, reject, timer });
    });
  }

  resolve(id: number, value: unknown): void {
    this.take(id)?.resolve(value);
  }

  reject(id: number, error: HamError): void {
    this.take(id)?.reject(error);
  }

  // The connection is gone: every request still waiting fails with `error`.
  rejectAll(error: () => HamError): void {
    for (const id of [...this.waiting.keys()]) this.reject(id, error());
  }

  get size(): number {
    return this.waiting.size;
  }

  private take(id: number): Waiter | undefined {
    const waiter = this.waiting.get(id);
    if (waiter === undefined) return undefined;
    this.waiting.delete(id);
    clearTimeout(waiter.timer);
    return waiter;
  }
}
