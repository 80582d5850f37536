/**
 * The daemon's footprint while it waits between checks, which is nearly all of its life: its work
 * is waiting on the repository and the package manager, so V8's optimizing compilers (whose code
 * pages in the node binary and whose output are a large part of an idle process's memory) buy it
 * nothing, and the young generation it grows during a pass is of no use until the next one.
 *
 * Imported first by main, so that the flags hold before the program's modules are evaluated:
 * code optimized by then would stay. Only for the daemon: a one-shot pass exits anyway.
 */
import * as v8 from "node:v8"
import * as vm from "node:vm"

/**
 * Whether `argv` (`node script …`) runs the daemon, as Cli.runsDaemon says, without loading the
 * command line's modules. A `-d` that only the options file gives is seen at the daemon's start.
 */
export const runsDaemon = (argv: ReadonlyArray<string>): boolean =>
  argv[2] !== "status" && argv[2] !== "simulate" && argv.slice(2).some((arg) => arg === "-d" || arg === "--daemon")

/** The V8 flags for the daemon on a runtime whose V8 has `v8Version` (an unknown flag prints an error). */
export const flagsFor = (v8Version: string): ReadonlyArray<string> => [
  // New space stays at its initial size instead of growing to 16-32 MiB after the first busy pass.
  "--semi-space-growth-factor=1",
  "--no-opt",
  // Maglev (V8 11 and later, on by default since Node.js 22).
  ...(Number.parseInt(v8Version, 10) >= 11 ? ["--no-maglev"] : [])
]

let limited = false

/** Sets the daemon's V8 flags (once). */
export const limitFootprint = (): void => {
  if (limited) return
  limited = true
  for (const flag of flagsFor(process.versions.v8)) v8.setFlagsFromString(flag)
}

let collect: ((options?: object) => void) | undefined

/**
 * A full garbage collection that gives memory back: on V8 12 and later the "last resort" one,
 * which also shrinks the young generation and releases pooled pages; older V8 ignores the flavor
 * and does a full collection. `gc` is taken from a fresh context, the only one that sees
 * --expose-gc set at run time.
 */
export const reduceMemory = (): void => {
  if (collect === undefined) {
    v8.setFlagsFromString("--expose-gc")
    collect = vm.runInNewContext("gc") as (options?: object) => void
    v8.setFlagsFromString("--no-expose-gc")
  }
  collect({ type: "major", execution: "sync", flavor: "last-resort" })
}

if (runsDaemon(process.argv)) limitFootprint()
