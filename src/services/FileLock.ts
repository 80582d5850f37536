/**
 * Dot-locks: a file created exclusively that holds its owner's pid. The agent
 * holds `/var/cache/driveclient/backup-running.lock` while it backs up; the
 * updater takes the same lock around an upgrade, and a lock of its own around
 * each update pass.
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"

export class LockHeld extends Data.TaggedError("LockHeld")<{
  readonly path: string
  readonly pid: number | undefined
}> {
  override get message(): string {
    return `${this.path} is held${this.pid === undefined ? "" : ` by pid ${this.pid}`}`
  }
}

export class LockError extends Data.TaggedError("LockError")<{
  readonly path: string
  readonly operation: string
  readonly detail: string
}> {
  override get message(): string {
    return `cannot ${this.operation} ${this.path}: ${this.detail}`
  }
}

export interface Holder {
  /** The pid named in the lock file, wherever in its content (see `pidInLock`); none when it names none. */
  readonly pid: number | undefined
  /**
   * Whether that pid is a live process on this host. A lock naming this process's own pid
   * that this process did not take is a dead process's: the pid was in use before.
   */
  readonly alive: boolean
  /** The live process's command line, when it can be read. */
  readonly command: ReadonlyArray<string> | undefined
  /** When the lock file was last modified (epoch ms). */
  readonly modifiedAt: number
  /** When the live process with that pid started (epoch ms), when it can be read. */
  readonly startedAt: number | undefined
}

export interface FileLockShape {
  /**
   * Creates the lock exclusively with this process's pid inside. A lock naming this process's
   * pid that it did not take itself is left from an earlier process: it is replaced, with a warning.
   */
  readonly tryAcquire: (path: string) => Effect.Effect<void, LockHeld | LockError>
  /** Removes the lock if it holds this process's pid; someone else's lock is left alone. */
  readonly release: (path: string) => Effect.Effect<void, LockError>
  /** Who holds the lock, if anyone. */
  readonly holder: (path: string) => Effect.Effect<Option.Option<Holder>, LockError>
  /**
   * Removes a stale lock: one whose holder fails `owns` — by default, whose
   * holder is dead (checked again just before removal). By default a lock
   * without a pid in it is not stale: its holder cannot be told. A lock this
   * process holds is never stale; one naming its pid that it did not take always is.
   */
  readonly breakStale: (path: string, owns?: (holder: Holder) => boolean) => Effect.Effect<boolean, LockError>
  /**
   * Returns when the lock file may have changed: at once when it does not exist,
   * else on a change in its directory or after `poll`, whichever is first.
   */
  readonly awaitChange: (path: string, poll: Duration.DurationInput) => Effect.Effect<void, LockError>
}

export class FileLock extends Context.Tag("cloudbackup-updater/FileLock")<FileLock, FileLockShape>() {}

/**
 * Holds `path` for the scope; waits while its holder `owns` it (by default: while the holder
 * lives), and reclaims it from one that does not. `onStillHeld` runs at each look at a lock
 * that is still owned: it may give up (fail), or remove the lock on grounds of its own.
 */
export const acquireScoped = <E = never, R = never>(
  path: string,
  options: {
    readonly poll: Duration.DurationInput
    readonly onWait: (pid: number | undefined) => Effect.Effect<void>
    readonly owns?: (holder: Holder) => boolean
    readonly onStillHeld?: (held: LockHeld) => Effect.Effect<void, E, R>
  }
): Effect.Effect<void, LockError | E, FileLock | Scope.Scope | R> =>
  Effect.gen(function*() {
    const locks = yield* FileLock
    let announced = false
    const attempt = locks.tryAcquire(path).pipe(
      Effect.as(true),
      Effect.catchTag("LockHeld", (held) =>
        Effect.gen(function*() {
          if (yield* locks.breakStale(path, options.owns)) {
            yield* Effect.logWarning(`removed the stale lock ${path}: pid ${held.pid ?? "(none)"} no longer holds it`)
            return false
          }
          if (options.onStillHeld !== undefined) yield* options.onStillHeld(held)
          if (!announced) {
            announced = true
            yield* options.onWait(held.pid)
          }
          // Paces the retries: returns at once if the lock is gone, else on a change to it or after `poll`.
          yield* locks.awaitChange(path, options.poll)
          return false
        }))
    )
    yield* Effect.repeat(attempt, Schedule.recurUntil((acquired: boolean) => acquired))
    yield* Effect.addFinalizer(() => locks.release(path).pipe(Effect.catchAll((e) => Effect.logWarning(e.message))))
  })
