/** Facts for the metrics tests. */
import type { MetricsFacts } from "../../src/domain/Metrics.js"

/** 2026-12-01T22:00:00.000Z. */
export const T = 1_796_162_400_000

/** A host after a failed upgrade that was rolled back, with a newer plan: every family has a sample. */
export const EVERY_METRIC: MetricsFacts = {
  installed: "1.1.0-1",
  published: "1.2.0",
  agentRunning: true,
  checkedAt: T + 1_500,
  lastSuccessAt: T - 3_600_000,
  failure: "the upgrade to 1.2.0-1 failed (1.2.0-1 did not stay running for 10s); rolled back to 1.1.0-1, which is running again",
  plannedUpgrade: { version: "1.2.0", at: T + 7_200_000 },
  rollbacks: 3,
  failedVersion: "1.2.0"
}

/** An agent that is up to date after a successful pass, never rolled back, nothing planned. */
export const UP_TO_DATE: MetricsFacts = {
  installed: "1.2.0-1",
  published: "1.2.0",
  agentRunning: true,
  checkedAt: T,
  lastSuccessAt: T,
  failure: undefined,
  plannedUpgrade: undefined,
  rollbacks: 0,
  failedVersion: undefined
}
