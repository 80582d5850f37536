/**
 * The daemon's pidfile, created exclusively with its pid. One that names a live
 * cloudbackup-updater means another daemon runs; one that names a dead process,
 * a pid now used by another program, or this process's own pid (an earlier
 * process had it: FileLock's `tryAcquire` replaces such a file), is stale and reclaimed.
 */
import * as path from "node:path"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { FileLock, type Holder } from "../services/FileLock.js"
import { AlreadyRunning } from "./ExitCode.js"

export const isUpdater = (holder: Holder): boolean =>
  holder.alive && (holder.command ?? []).some((arg) => path.basename(arg).startsWith("cloudbackup-updater"))

export const claim = (pidfile: string) =>
  Effect.gen(function*() {
    const locks = yield* FileLock
    const takeOver = Effect.gen(function*() {
      const holder = yield* locks.holder(pidfile)
      if (Option.isSome(holder) && isUpdater(holder.value)) {
        return yield* Effect.fail(new AlreadyRunning({ pid: holder.value.pid! }))
      }
      if (yield* locks.breakStale(pidfile, isUpdater)) {
        const pid = Option.flatMap(holder, (h) => Option.fromNullable(h.pid))
        yield* Effect.logWarning(
          `reclaimed the stale pidfile ${pidfile} (${Option.match(pid, { onNone: () => "no pid in it", onSome: (p) => `pid ${p} is not a cloudbackup-updater` })})`
        )
      }
      yield* locks.tryAcquire(pidfile)
    })
    yield* locks.tryAcquire(pidfile).pipe(
      Effect.catchTag("LockHeld", () => takeOver),
      Effect.catchTag("LockHeld", (held) => Effect.fail(new AlreadyRunning({ pid: held.pid ?? 0 })))
    )
    yield* Effect.addFinalizer(() => Effect.ignore(locks.release(pidfile)))
  })
