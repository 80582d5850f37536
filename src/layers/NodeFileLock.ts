/** FileLock on the local file system: `open(O_CREAT|O_EXCL)` with the pid inside, and `fs.watch` to wait. */
import * as fs from "node:fs"
import * as path from "node:path"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { pidInLock } from "../domain/LockContent.js"
import { FileLock, type FileLockShape, type Holder, LockError, LockHeld } from "../services/FileLock.js"
import { isProcessAlive, processCommandLine, processStartTime } from "./internal/ProcessTable.js"

/** A lock file as read once: the pid it names, and which file it was. */
interface LockFile {
  readonly pid: number | undefined
  readonly ino: number
  readonly modifiedAt: number
}

const readLock = (file: string): LockFile => {
  const fd = fs.openSync(file, "r")
  try {
    const stats = fs.fstatSync(fd)
    const pid = Option.getOrUndefined(pidInLock(fs.readFileSync(fd, "utf8")))
    return { pid, ino: stats.ino, modifiedAt: Math.floor(stats.mtimeMs) }
  } finally {
    fs.closeSync(fd)
  }
}

const sameLock = (a: LockFile, b: LockFile): boolean => a.ino === b.ino && a.modifiedAt === b.modifiedAt && a.pid === b.pid

const attempt = <A>(file: string, operation: string, f: () => A): Effect.Effect<A, LockError> =>
  Effect.try({
    try: f,
    catch: (error) => new LockError({ path: file, operation, detail: (error as NodeJS.ErrnoException).code ?? String(error) })
  })

const isMissing = (error: unknown) => (error as NodeJS.ErrnoException).code === "ENOENT"

const readLockIfExists = (file: string): LockFile | undefined => {
  try {
    return readLock(file)
  } catch (error) {
    if (isMissing(error)) return undefined
    throw error
  }
}

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

/**
 * The inode of each lock taken in this process, by owner pid and path. Process-wide, as the
 * fact it records is: a lock naming our pid that is not one of these was left by an earlier
 * process that had the same pid (after a crash, typically in a container), and nobody holds it.
 */
const takenHere = new Map<string, number>()
const takenKey = (ownPid: number, file: string) => `${ownPid}:${path.resolve(file)}`

export const make = (ownPid: number = process.pid): FileLockShape => {
  const isTakenHere = (file: string, lock: LockFile) =>
    lock.pid === ownPid && takenHere.get(takenKey(ownPid, file)) === lock.ino
  const isLeftover = (file: string, lock: LockFile) => lock.pid === ownPid && !isTakenHere(file, lock)

  const describe = (file: string, lock: LockFile): Holder => {
    const alive = lock.pid === undefined || (!isLeftover(file, lock) && isProcessAlive(lock.pid))
    const live = alive ? lock.pid : undefined
    return {
      pid: lock.pid,
      alive,
      command: live === undefined ? undefined : processCommandLine(live),
      modifiedAt: lock.modifiedAt,
      startedAt: live === undefined ? undefined : processStartTime(live)
    }
  }

  const holder = (file: string) =>
    attempt(file, "read", () => Option.map(Option.fromNullable(readLockIfExists(file)), (lock) => describe(file, lock)))

  const create = (file: string): boolean => {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 })
    removeLeftovers(file)
    // Written aside and linked into place, so the lock never exists without its pid.
    const staging = `${file}.${ownPid}.new`
    fs.writeFileSync(staging, `${ownPid}\n`, { mode: 0o644 })
    try {
      fs.linkSync(staging, file)
      takenHere.set(takenKey(ownPid, file), fs.statSync(staging).ino)
      return true
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") return false
      throw error
    } finally {
      fs.unlinkSync(staging)
    }
  }

  /** Removes the lock as `seen` read it. Moved aside first, so that a lock taken meanwhile can be put back. */
  const removeUnlessReplaced = (file: string, seen: LockFile): boolean => {
    const aside = `${file}.stale.${ownPid}`
    try {
      fs.renameSync(file, aside)
    } catch (error) {
      if (isMissing(error)) return false
      throw error
    }
    if (!sameLock(readLock(aside), seen)) {
      try {
        fs.linkSync(aside, file)
      } catch { /* a newer lock is already in place */ }
      fs.unlinkSync(aside)
      return false
    }
    fs.unlinkSync(aside)
    return true
  }

  return {
    tryAcquire: (file) =>
      Effect.gen(function*() {
        if (yield* attempt(file, "create", () => create(file))) return
        const replaced = yield* attempt(file, "replace", () => {
          const lock = readLockIfExists(file)
          return lock !== undefined && isLeftover(file, lock) && removeUnlessReplaced(file, lock)
        })
        if (replaced) {
          yield* Effect.logWarning(
            `removed the stale lock ${file}: it named this process's own pid ${ownPid}, left by an earlier process with that pid`
          )
          if (yield* attempt(file, "create", () => create(file))) return
        }
        const held = yield* holder(file)
        return yield* new LockHeld({ path: file, pid: Option.isSome(held) ? held.value.pid : undefined })
      }),

    release: (file) =>
      attempt(file, "release", () => {
        takenHere.delete(takenKey(ownPid, file))
        if (readLockIfExists(file)?.pid === ownPid) fs.unlinkSync(file)
      }),

    holder,

    breakStale: (file, owns = (holder) => holder.alive) =>
      attempt(file, "remove the stale lock", () => {
        const lock = readLockIfExists(file)
        if (lock === undefined || isTakenHere(file, lock)) return false
        if (!isLeftover(file, lock) && owns(describe(file, lock))) return false
        return removeUnlessReplaced(file, lock)
      }),

    awaitChange: (file, poll) => awaitChange(file, Duration.toMillis(Duration.decode(poll)))
  }
}

/** Whether the entry itself exists, not what it points to: a dangling symlink in the lock's place counts. */
const entryExists = (file: string): boolean => {
  try {
    fs.lstatSync(file)
    return true
  } catch {
    return false
  }
}

/**
 * Completes at once when the lock file is gone, else on the next change to the lock file itself
 * (other files in its directory, such as a lock being staged, do not count) or after `pollMillis`,
 * whichever is first; never fails: a failed watch just waits for the poll. The directory is
 * watched before the lock is looked at, so that a release between the look and the watch is not
 * missed (it would cost a whole poll period). Interruptible: the watch and the timer are closed
 * as soon as it completes or is interrupted, so that none outlives its wait.
 */
const awaitChange = (file: string, pollMillis: number): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    const name = path.basename(file)
    let watcher: fs.FSWatcher | undefined
    let timer: ReturnType<typeof setTimeout> | undefined
    let done = false
    const finish = () => {
      if (done) return
      done = true
      watcher?.close()
      if (timer !== undefined) clearTimeout(timer)
      resume(Effect.void)
    }
    try {
      watcher = fs.watch(path.dirname(file), { persistent: false }, (_event, changed) => {
        if (changed !== null && changed !== name) return
        finish()
      })
      watcher.on("error", () => watcher?.close())
    } catch {
      watcher = undefined
    }
    if (!entryExists(file)) {
      finish()
      return
    }
    timer = setTimeout(finish, pollMillis)
    return Effect.sync(() => {
      done = true
      watcher?.close()
      if (timer !== undefined) clearTimeout(timer)
    })
  })

export const layer: Layer.Layer<FileLock> = Layer.sync(FileLock, () => make())
