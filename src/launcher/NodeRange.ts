/**
 * The Node.js versions the updater runs on, as the launcher checks them. package.json's
 * `engines.node` is the one place the range is written; at build time `semver` (which is not ES5
 * and so cannot run in the launcher) parses it into comparator sets, and the launcher evaluates
 * those with `satisfiesSets` (launcher/satisfies.ts), which old runtimes can run.
 */
import * as semver from "semver"
import type { ComparatorSets, Comparator } from "./satisfies.js"

/**
 * The comparator sets of `range` as `semver.Range` reads it (`^`, `~`, `x`, hyphen ranges and `||`
 * reduced to `<`, `<=`, `>`, `>=`, `=`). Throws on a range that is invalid or matches nothing.
 *
 * The launcher compares release numbers only, so a comparator's pre-release is folded in here,
 * exactly for release versions: semver writes `^18.17.0` as `>=18.17.0 <19.0.0-0`, and no release
 * lies between `19.0.0-0` and `19.0.0`, so `<19.0.0-0` is `<19.0.0` (and `<=` is `<`, `>` and `>=`
 * are `>=`). Only `=` a pre-release, which no release equals, is refused.
 */
export const comparatorSets = (range: string): ComparatorSets => {
  const parsed = new semver.Range(range)
  if (semver.minVersion(parsed) === null) throw new Error(`engines.node "${range}" matches no version`)
  return parsed.set.map((set) =>
    set.map((comparator): Comparator => {
      // semver's "any version" comparator (from "*", "x", "" …) has an empty value.
      if (comparator.value === "") return ["*"]
      const { semver: version } = comparator
      const operator = comparator.operator === "" ? "=" : comparator.operator
      if (version.prerelease.length === 0) return [operator, version.major, version.minor, version.patch]
      if (operator === "=") throw new Error(`engines.node "${range}": no release is ${version.version}`)
      return [operator.startsWith("<") ? "<" : ">=", version.major, version.minor, version.patch]
    })
  )
}

/** What the too-old message advises: "Node.js 18 or newer", "Node.js 18.17.0 or newer" for a floor, else the range. */
export const advice = (range: string): string => {
  const floor = semver.minVersion(range)
  if (floor === null) throw new Error(`engines.node "${range}" matches no version`)
  const onlyFloor = semver.satisfies("999999.0.0", range) && semver.validRange(range) === `>=${floor.version}`
  const named = floor.major > 0 && floor.minor === 0 && floor.patch === 0 ? `${floor.major}` : floor.version
  return onlyFloor ? `Node.js ${named} or newer` : `a Node.js that satisfies ${range}`
}
