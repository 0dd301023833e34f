// A config file as the requests that make it (server/config-file.ts builds it): checked whole
// before the apply transition (config.ts) sees it.
export interface PlannedRequest {
  readonly op: string;
  readonly args: Record<string, unknown>;
}

export interface PlannedEntity {
  readonly name: string;
  // A digest of the entity's section: an equal digest is an unchanged entity.
  readonly fingerprint: string;
  readonly create: PlannedRequest;
  readonly setup: readonly PlannedRequest[];
}

export interface ConfigPlan {
  readonly entities: readonly PlannedEntity[];
  readonly global: readonly PlannedRequest[];
}
