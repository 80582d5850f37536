/** What one update pass is configured with: the remote repository and the host paths it uses. */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Layer from "effect/Layer"

export interface UpdaterConfigShape {
  /** Base URI of the remote agent repository, without a trailing slash. */
  readonly repository: string
  /** The agent's own lock, held while it backs up, restores or cleans up. */
  readonly agentLock: string
  /** The updater's lock that serializes update passes across processes. */
  readonly passLock: string
  /** How often a held lock is looked at again when no change event arrives. */
  readonly lockPoll: Duration.Duration
}

export const DEFAULT_REPOSITORY = "https://agentrepo.drivesrvr.com"
export const STATE_DIR = "/var/lib/cloudbackup-updater"

export const defaults: UpdaterConfigShape = {
  repository: DEFAULT_REPOSITORY,
  agentLock: "/var/cache/driveclient/backup-running.lock",
  passLock: `${STATE_DIR}/update.lock`,
  lockPoll: Duration.seconds(5)
}

export class UpdaterConfig extends Context.Tag("cloudbackup-updater/UpdaterConfig")<UpdaterConfig, UpdaterConfigShape>() {}

export const layer = (overrides: Partial<UpdaterConfigShape> = {}): Layer.Layer<UpdaterConfig> =>
  Layer.succeed(UpdaterConfig, { ...defaults, ...overrides })
