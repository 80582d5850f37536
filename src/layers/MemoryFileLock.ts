/**
 * Dot-locks held in memory, for the simulated host and the tests. Other
 * processes are simulated by holding a lock under their pid with `holdAs`.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import { FileLock, type FileLockService, type Holder, LockHeld } from "../services/FileLock.js"

const defaultCommand = () => ["node", "/usr/bin/cloudbackup-updater"]

export interface MemoryFileLock extends FileLockService {
  /** Makes another (simulated) process hold `path`. */
  readonly holdAs: (path: string, pid: number) => Effect.Effect<void>
  readonly drop: (path: string) => Effect.Effect<void>
  readonly held: Effect.Effect<ReadonlyMap<string, number>>
}

export interface MemoryFileLockOptions {
  readonly ownPid: number
  readonly livePids: (pid: number) => boolean
  /** The command line of a live pid; the updater's own name by default. */
  readonly commandOf?: (pid: number) => ReadonlyArray<string>
}

export const make = (options: MemoryFileLockOptions) =>
  Effect.gen(function*() {
    const locks = yield* Ref.make(new Map<string, number>())
    const update = (f: (map: Map<string, number>) => void) =>
      Ref.update(locks, (map) => {
        const next = new Map(map)
        f(next)
        return next
      })
    const describe = (pid: number): Holder => {
      const alive = options.livePids(pid)
      return { pid, alive, command: alive ? (options.commandOf ?? defaultCommand)(pid) : undefined }
    }
    const service: MemoryFileLock = {
      tryAcquire: (path) =>
        Effect.flatten(Ref.modify(locks, (map): readonly [Effect.Effect<void, LockHeld>, Map<string, number>] => {
          const pid = map.get(path)
          if (pid !== undefined) return [Effect.fail(new LockHeld({ path, pid })), map]
          return [Effect.void, new Map(map).set(path, options.ownPid)]
        })),
      release: (path) =>
        update((map) => {
          if (map.get(path) === options.ownPid) map.delete(path)
        }),
      holder: (path) =>
        Ref.get(locks).pipe(
          Effect.map((map) => Option.fromNullable(map.get(path)).pipe(Option.map(describe)))
        ),
      breakStale: (path, owns = (holder) => holder.alive) =>
        Ref.modify(locks, (map) => {
          const pid = map.get(path)
          if (pid === undefined || owns(describe(pid))) return [false, map]
          const next = new Map(map)
          next.delete(path)
          return [true, next]
        }),
      awaitChange: (path, poll) =>
        Effect.flatMap(Ref.get(locks), (map) => (map.has(path) ? Effect.sleep(Duration.decode(poll)) : Effect.void)),
      holdAs: (path, pid) => update((map) => void map.set(path, pid)),
      drop: (path) => update((map) => void map.delete(path)),
      held: Ref.get(locks)
    }
    return service
  })

export const layer = (options: MemoryFileLockOptions): Layer.Layer<FileLock> =>
  Layer.effect(FileLock, make(options))
