import { LOG_LEVEL, type ActivityLog } from "../adapters/activity-log.js";
import { listenHttp, type HttpEndpoint } from "../adapters/http-endpoint.js";
import type { MetricsSource } from "../server/metrics.js";
import type { MetricsAddress } from "./ham-options.js";

// The Prometheus endpoint of a HAM started with --metrics: prom-client (server/metrics.ts) is
// loaded here by import(), only then. A port that cannot be bound when `ham` starts is the HAM's
// error (it does not start); after a takeover it is a warning, tried again every second for a
// minute (the killed HAM's socket may outlive its main thread by a moment), and the HAM goes on.

const PATH = "/metrics";
const RETRY_MS = 1_000;
const RETRIES = 60;

export const metricsUrl = (address: MetricsAddress): string =>
  `http://${address.host.includes(":") ? `[${address.host}]` : address.host}:${address.port}${PATH}`;

// A Guardian of a HAM with --metrics loads prom-client once it is ready (guardian/main.ts): a HAM
// that takes over would otherwise spend 60-90 ms of CPU on it (measured here) in its event loop
// right after it serves, while its entities' deaths and clients' reconnections wait.
export function preloadMetrics(address: MetricsAddress | null): void {
  if (address !== null) void import("../server/metrics.js").catch(() => undefined);
}

export class MetricsService {
  private endpoint: HttpEndpoint | null = null;
  private stopped = false;
  private retry: NodeJS.Timeout | null = null;

  constructor(private readonly address: MetricsAddress, private readonly source: MetricsSource, private readonly log: () => ActivityLog) {}

  // At a HAM's start; rejects with a one-line message when the endpoint cannot listen.
  async start(): Promise<void> {
    try {
      await this.listen();
    } catch (error) {
      throw new Error(`--metrics ${this.where()}: ${reason(error)}`);
    }
  }

  // After a takeover, in the background.
  resume(tries = RETRIES): void {
    this.listen().catch((error: unknown) => {
      if (this.stopped) return;
      if (tries === RETRIES) {
        this.log().write(LOG_LEVEL.events, "warn", { event: "metrics-unavailable", address: this.where(), error: reason(error) },
          `metrics endpoint ${this.where()}: ${reason(error)}; trying again every ${RETRY_MS / 1000} s for ${RETRIES} s`);
      }
      if (tries <= 1) {
        this.log().write(LOG_LEVEL.events, "warn", { event: "metrics-given-up", address: this.where() },
          `metrics endpoint ${this.where()}: given up; the HAM goes on without it`);
        return;
      }
      this.retry = setTimeout(() => this.resume(tries - 1), RETRY_MS);
    });
  }

  stop(): void {
    this.stopped = true;
    if (this.retry !== null) clearTimeout(this.retry);
    this.endpoint?.close();
    this.endpoint = null;
  }

  private where(): string {
    return this.address.host.includes(":") ? `[${this.address.host}]:${this.address.port}` : `${this.address.host}:${this.address.port}`;
  }

  private async listen(): Promise<void> {
    const { createMetrics } = await import("../server/metrics.js");
    if (this.stopped) return;
    const metrics = createMetrics(this.source);
    const endpoint = await listenHttp(this.address.host, this.address.port, PATH, {
      answer: async () => ({ contentType: metrics.contentType, body: await metrics.render() }),
      failed: (error) => this.log().write(LOG_LEVEL.events, "warn", { event: "metrics-failed", error: reason(error) }, `metrics endpoint: ${reason(error)}`),
    });
    // Stopped while it bound: not left listening.
    if (this.stopped) {
      endpoint.close();
      return;
    }
    this.endpoint = endpoint;
    this.log().write(LOG_LEVEL.events, "info", { event: "metrics", url: metricsUrl(this.address) }, `Prometheus metrics at ${metricsUrl(this.address)}`);
  }
}

function reason(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  if (code === "EADDRINUSE") return "address already in use";
  if (code === "EADDRNOTAVAIL") return "no such address on this machine";
  if (code === "EACCES") return "permission denied";
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return "unknown host";
  return String(error instanceof Error ? error.message : error).split("\n")[0] ?? "failed";
}
