/** What one update pass is configured with: the remote repository, host paths, and its patience. */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"

export interface UpdaterConfigShape {
  /** Base URI of the remote agent repository, without a trailing slash. */
  readonly repository: string
  /** The agent's own lock, held while it backs up, restores or cleans up. */
  readonly agentLock: string
  /** The updater's lock that serializes update passes across processes. */
  readonly passLock: string
  /** How often a held lock is looked at again when no change event arrives. */
  readonly lockPoll: Duration.Duration
  /** How long to wait for a busy agent before giving up; none: as long as it takes. */
  readonly maxBusyWait: Option.Option<Duration.Duration>
  /** A backup lock held while the agent has not been running for this long is stale. */
  readonly staleLockGrace: Duration.Duration
  /** How long a started agent must stay running before the upgrade counts as good. */
  readonly healthGrace: Duration.Duration
  /** This process's pid, as written in the locks and the journal. */
  readonly pid: number
  /** Upgrade a running agent even when no package of its version can be secured for a rollback. */
  readonly upgradeWithoutRollback: boolean
}

export const DEFAULT_REPOSITORY = "https://agentrepo.drivesrvr.com"
export const STATE_DIR = "/var/lib/cloudbackup-updater"

export const defaults: UpdaterConfigShape = {
  repository: DEFAULT_REPOSITORY,
  agentLock: "/var/cache/driveclient/backup-running.lock",
  passLock: `${STATE_DIR}/update.lock`,
  lockPoll: Duration.seconds(5),
  maxBusyWait: Option.none(),
  staleLockGrace: Duration.minutes(10),
  healthGrace: Duration.seconds(30),
  pid: process.pid,
  upgradeWithoutRollback: false
}

export class UpdaterConfig extends Context.Tag("cloudbackup-updater/UpdaterConfig")<UpdaterConfig, UpdaterConfigShape>() {}

export const layer = (overrides: Partial<UpdaterConfigShape> = {}): Layer.Layer<UpdaterConfig> =>
  Layer.succeed(UpdaterConfig, { ...defaults, ...overrides })
