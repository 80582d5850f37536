/**
 * The pid files rpm-based package managers hold while they work (dnf's and yum's by default). An updater killed in the middle of a
 * transaction leaves its dnf running on; the next run must wait for it before touching the agent.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import { type HostFileError, readTextIfExists, underRoot } from "../../internal/HostFiles.js"
import { isProcessAlive } from "../../internal/ProcessTable.js"

export const TRANSACTION_PID_FILES = [
  "/var/lib/dnf/rpmdb_lock.pid",
  "/var/cache/dnf/download_lock.pid",
  "/var/cache/dnf/metadata_lock.pid",
  "/run/yum.pid",
  "/var/run/yum.pid"
]

/** The live pid holding one of the package manager's locks, if any. */
export const transactionHolder = (
  root: string,
  pidFiles: ReadonlyArray<string> = TRANSACTION_PID_FILES
): Effect.Effect<Option.Option<number>, HostFileError> =>
  Effect.gen(function*() {
    for (const file of pidFiles) {
      const text = yield* readTextIfExists(underRoot(root, file))
      const pid = Option.map(text, (t) => Number.parseInt(t.trim(), 10))
      if (Option.isSome(pid) && Number.isInteger(pid.value) && pid.value > 0 && isProcessAlive(pid.value)) return pid
    }
    return Option.none<number>()
  })

/** Returns once no live process holds one of `pidFiles`, looking every `poll`. */
export const awaitNoTransaction = (
  root: string,
  pidFiles: ReadonlyArray<string> = TRANSACTION_PID_FILES,
  poll: Duration.DurationInput = Duration.seconds(1)
) =>
  Effect.gen(function*() {
    let announced = false
    yield* transactionHolder(root, pidFiles).pipe(
      Effect.tap((holder) =>
        Option.isSome(holder) && !announced
          ? Effect.zipRight(
            Effect.sync(() => void (announced = true)),
            Effect.logInfo(`waiting for the package manager transaction of pid ${holder.value} to end`)
          )
          : Effect.void
      ),
      Effect.repeat({ schedule: Schedule.spaced(poll), while: Option.isSome })
    )
  })
