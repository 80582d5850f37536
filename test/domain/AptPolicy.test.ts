import { describe, expect, it } from "vitest"
import * as Option from "effect/Option"
import { parsePolicyCandidate } from "../../src/domain/AptPolicy.js"

describe("AptPolicy", () => {
  it("parsePolicyCandidate reads `Candidate:`, (none) being none", () => {
    expect(parsePolicyCandidate("driveclient:\n  Installed: (none)\n  Candidate: 2:1.2.0-1\n"))
      .toEqual(Option.some("2:1.2.0-1"))
    expect(parsePolicyCandidate("driveclient:\n  Installed: (none)\n  Candidate: (none)\n"))
      .toEqual(Option.none())
    expect(parsePolicyCandidate("")).toEqual(Option.none())
  })
})
