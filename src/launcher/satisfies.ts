/**
 * Whether a Node.js version satisfies comparator sets made at build time (NodeRange.ts). Runs in
 * the launcher, on whatever /usr/bin/node is: ES5 only, in syntax (esbuild builds the launcher for
 * target es5 and refuses let/const/class) and in library (no String#startsWith, Array#includes…),
 * so that Node.js 0.10 still gets as far as saying what it needs.
 */

/** `["*"]` (any version) or `[operator, major, minor, patch]`. */
export type Comparator = readonly ["*"] | readonly ["=" | "<" | "<=" | ">" | ">=", number, number, number]
/** Satisfied when every comparator of some set is. */
export type ComparatorSets = ReadonlyArray<ReadonlyArray<Comparator>>

/**
 * `version` (`process.versions.node`, e.g. `12.22.12`) against `sets`. A pre-release or build
 * suffix is ignored: a Node.js `24.0.0-rc.1` counts as `24.0.0`. Not a version at all: false.
 */
export function satisfiesSets(version: string, sets: ComparatorSets): boolean {
  var match = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version)
  if (match === null) return false
  var have = [parseInt(match[1]!, 10), parseInt(match[2]!, 10), parseInt(match[3]!, 10)]
  for (var s = 0; s < sets.length; s++) {
    var set = sets[s]!
    var all = true
    for (var c = 0; c < set.length && all; c++) all = holds(have, set[c]!)
    if (all) return true
  }
  return false
}

function holds(have: ReadonlyArray<number>, comparator: Comparator): boolean {
  if (comparator[0] === "*") return true
  var order = 0
  for (var i = 0; i < 3 && order === 0; i++) {
    var want = comparator[i + 1] as number
    order = have[i]! < want ? -1 : have[i]! > want ? 1 : 0
  }
  switch (comparator[0]) {
    case "=":
      return order === 0
    case "<":
      return order < 0
    case "<=":
      return order <= 0
    case ">":
      return order > 0
    default:
      return order >= 0
  }
}
