/** FileLock on the local file system: `open(O_CREAT|O_EXCL)` with the pid inside, and `fs.watch` to wait. */
import * as fs from "node:fs"
import * as path from "node:path"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { FileLock, type FileLockService, type Holder, LockError, LockHeld } from "../services/FileLock.js"
import { isProcessAlive, processCommandLine } from "./ProcessTable.js"

const readPid = (file: string): number | undefined => {
  const pid = Number.parseInt(fs.readFileSync(file, "utf8").trim(), 10)
  return Number.isInteger(pid) && pid > 0 ? pid : undefined
}

const attempt = <A>(file: string, operation: string, f: () => A): Effect.Effect<A, LockError> =>
  Effect.try({
    try: f,
    catch: (error) => new LockError({ path: file, operation, detail: (error as NodeJS.ErrnoException).code ?? String(error) })
  })

const isMissing = (error: unknown) => (error as NodeJS.ErrnoException).code === "ENOENT"

/** Files a killed process left beside the lock while taking or breaking it (`x.lock.<pid>.new`, `x.lock.stale.<pid>`). */
const removeLeftovers = (file: string) => {
  const prefix = `${path.basename(file)}.`
  for (const entry of fs.readdirSync(path.dirname(file))) {
    if (!entry.startsWith(prefix)) continue
    const match = /^(\d+)\.new$|^stale\.(\d+)$/.exec(entry.slice(prefix.length))
    if (match !== null && !isProcessAlive(Number(match[1] ?? match[2]))) {
      fs.rmSync(path.join(path.dirname(file), entry), { force: true })
    }
  }
}

const describeHolder = (pid: number | undefined): Holder => {
  const alive = pid === undefined || isProcessAlive(pid)
  return { pid, alive, command: pid !== undefined && alive ? processCommandLine(pid) : undefined }
}

export const make = (ownPid: number = process.pid): FileLockService => {
  const holder = (file: string) =>
    attempt(file, "read", () => {
      try {
        const pid = readPid(file)
        return Option.some(describeHolder(pid))
      } catch (error) {
        if (isMissing(error)) return Option.none()
        throw error
      }
    })

  return {
    tryAcquire: (file) =>
      Effect.flatMap(
        attempt(file, "create", () => {
          fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 })
          removeLeftovers(file)
          // Written aside and linked into place, so the lock never exists without its pid.
          const staging = `${file}.${ownPid}.new`
          fs.writeFileSync(staging, `${ownPid}\n`, { mode: 0o644 })
          try {
            fs.linkSync(staging, file)
            return true
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code === "EEXIST") return false
            throw error
          } finally {
            fs.unlinkSync(staging)
          }
        }),
        (created) =>
          created ? Effect.void : Effect.flatMap(holder(file), (held) =>
            Effect.fail(new LockHeld({ path: file, pid: Option.isSome(held) ? held.value.pid : undefined })))
      ),

    release: (file) =>
      attempt(file, "release", () => {
        try {
          if (readPid(file) === ownPid) fs.unlinkSync(file)
        } catch (error) {
          if (!isMissing(error)) throw error
        }
      }),

    holder,

    breakStale: (file, owns = (holder) => holder.alive) =>
      attempt(file, "remove the stale lock", () => {
        let stalePid: number | undefined
        try {
          stalePid = readPid(file)
        } catch (error) {
          if (isMissing(error)) return false
          throw error
        }
        if (owns(describeHolder(stalePid))) return false
        // Moved aside first, so that a lock taken meanwhile by a live process can be put back.
        const aside = `${file}.stale.${ownPid}`
        try {
          fs.renameSync(file, aside)
        } catch (error) {
          if (isMissing(error)) return false
          throw error
        }
        if (readPid(aside) !== stalePid) {
          try {
            fs.linkSync(aside, file)
          } catch { /* a newer lock is already in place */ }
          fs.unlinkSync(aside)
          return false
        }
        fs.unlinkSync(aside)
        return true
      }),

    awaitChange: (file, poll) =>
      fs.existsSync(file)
        ? Effect.race(watchDirectory(file), Effect.sleep(Duration.decode(poll)))
        : Effect.void
  }
}

/**
 * Completes on the next change to the lock file itself (other files in its directory, such as a
 * lock being staged, do not count); never fails: a failed watch just waits for the poll. The
 * watch is closed as soon as it fires, so that no watcher outlives its wait.
 */
const watchDirectory = (file: string): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    const name = path.basename(file)
    let watcher: fs.FSWatcher | undefined
    try {
      watcher = fs.watch(path.dirname(file), { persistent: false }, (_event, changed) => {
        if (changed !== null && changed !== name) return
        watcher?.close()
        resume(Effect.void)
      })
      watcher.on("error", () => watcher?.close())
    } catch {
      return
    }
    return Effect.sync(() => watcher?.close())
  })

export const layer: Layer.Layer<FileLock> = Layer.sync(FileLock, () => make())
