/**
 * The launcher's version check: comparator sets made by semver at build time (NodeRange.ts),
 * evaluated by the ES5 `satisfiesSets` at start-up, agree with `semver.satisfies` itself.
 */
import fc from "fast-check"
import * as semver from "semver"
import { describe, expect, it } from "vitest"
import { advice, comparatorSets } from "../../src/launcher/NodeRange.js"
import { satisfiesSets } from "../../src/launcher/satisfies.js"

const RANGES = [
  ">=18",
  ">=18.17.0",
  ">=18.0.0-0",
  ">18.0.0-rc.1 <=20.0.0-rc.2",
  "^18.17.0 || >=20.5.0",
  "18.x || 20.x || >=22",
  ">=16 <17",
  "~20.1",
  "1.2.3 - 2.3.4",
  "<=12.22.12",
  ">12 <=20.1 || =0.10.48",
  "*",
  ""
]

describe("satisfiesSets over semver's comparator sets", () => {
  it("agrees with semver.satisfies on release versions", () => {
    const version = fc
      .tuple(fc.nat({ max: 30 }), fc.nat({ max: 30 }), fc.nat({ max: 30 }))
      .map(([major, minor, patch]) => `${major}.${minor}.${patch}`)
    for (const range of RANGES) {
      const sets = comparatorSets(range)
      fc.assert(
        fc.property(version, (v) => satisfiesSets(v, sets) === semver.satisfies(v, range)),
        { numRuns: 2000 }
      )
    }
  })

  it("judges the runtimes in question against >=18", () => {
    const sets = comparatorSets(">=18")
    expect(sets).toEqual([[[">=", 18, 0, 0]]])
    expect(comparatorSets("^18.17.0")).toEqual([[[">=", 18, 17, 0], ["<", 19, 0, 0]]])
    for (const old of ["0.10.48", "10.24.0", "12.22.12", "16.20.2", "17.9.1"]) expect(satisfiesSets(old, sets), old).toBe(false)
    for (const good of ["18.0.0", "18.19.0", "20.20.2", "24.22.3", "100.0.0"]) expect(satisfiesSets(good, sets), good).toBe(true)
  })

  it("reads a pre-release or build suffix as its release, a leading v too, and garbage as unsatisfied", () => {
    const sets = comparatorSets(">=18")
    expect(satisfiesSets("24.0.0-rc.1", sets)).toBe(true)
    expect(satisfiesSets("18.0.0-nightly20220419abcdef", sets)).toBe(true)
    expect(satisfiesSets("v18.1.0", sets)).toBe(true)
    for (const garbage of ["", "18", "eighteen", "18.x.0"]) expect(satisfiesSets(garbage, sets), garbage).toBe(false)
  })

  it("refuses, at build time, a range it cannot check: invalid, exactly a pre-release, matching nothing", () => {
    expect(() => comparatorSets("not a range")).toThrow()
    expect(() => comparatorSets("=18.0.0-rc.1")).toThrow(/no release is 18\.0\.0-rc\.1/)
    expect(() => comparatorSets("<0.0.0")).toThrow(/matches no version/)
  })

  it("advises a floor as 'Node.js N or newer', anything else by the range", () => {
    expect(advice(">=18")).toBe("Node.js 18 or newer")
    expect(advice(">=18.17.0")).toBe("Node.js 18.17.0 or newer")
    expect(advice(">=18.0")).toBe("Node.js 18 or newer")
    expect(advice("^18.17.0 || >=20.5.0")).toBe("a Node.js that satisfies ^18.17.0 || >=20.5.0")
  })
})
