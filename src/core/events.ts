import type { RunKind, RunStatus } from './db/entities.js';

/** A run event as stored and broadcast (DESIGN.md, "Run events"). */
export interface RunEventMessage {
  runId: number;
  ref: string;
  projectKey: string | null;
  kind: RunKind;
  seq: number;
  stage: string | null;
  status: RunStatus;
  progress: number;
  message: string;
  at: string;
  data: Record<string, unknown> | null;
}

/**
 * Where stored events go next. Workers publish through Redis (not by holding a Socket.IO
 * server), so any web process can deliver any run's events.
 */
export interface EventPublisher {
  publish(event: RunEventMessage): Promise<void>;
  /** Several events in one round trip, in order. */
  publishMany(events: RunEventMessage[]): Promise<void>;
}

export function runRef(number: number): string {
  return `R-${number}`;
}
