import { describe, expect, it } from "@effect/vitest"
import { reasonsToLeaveAlone } from "../../src/domain/LeaveAlone.js"

const facts = { published: "1.2.0", held: false, failedVersion: undefined, serviceEnabled: true, running: true }
const codes = (f: Parameters<typeof reasonsToLeaveAlone>[0]) => reasonsToLeaveAlone(f).map(({ code }) => code)

describe("reasonsToLeaveAlone", () => {
  it("none for an enabled agent, not held, with no failed version", () => {
    expect(reasonsToLeaveAlone(facts)).toEqual([])
  })

  it("a held package", () => {
    expect(reasonsToLeaveAlone({ ...facts, held: true })).toEqual([
      { code: "held", text: "the driveclient package is held at its version by the administrator" }
    ])
  })

  it("a rolled-back version holds back that version and older ones, not a newer one", () => {
    const failedVersion = { version: "1.2.0", reason: "it did not start" }
    expect(codes({ ...facts, failedVersion })).toEqual(["rolled-back"])
    expect(codes({ ...facts, published: "1.1.9", failedVersion })).toEqual(["rolled-back"])
    expect(codes({ ...facts, published: "1.2.1", failedVersion })).toEqual([])
    expect(reasonsToLeaveAlone({ ...facts, failedVersion })[0]!.text).toBe(
      "1.2.0 failed and was rolled back (it did not start); waiting for a newer version"
    )
  })

  it("a disabled service whose agent is stopped; not one that runs anyway, nor an unknown state", () => {
    expect(codes({ ...facts, serviceEnabled: false, running: false })).toEqual(["disabled-and-stopped"])
    expect(codes({ ...facts, serviceEnabled: false, running: true })).toEqual([])
    expect(codes({ ...facts, serviceEnabled: false, running: undefined })).toEqual([])
    expect(codes({ ...facts, serviceEnabled: undefined, running: false })).toEqual([])
  })

  it("every reason that applies, held first", () => {
    expect(codes({ ...facts, held: true, failedVersion: { version: "1.2.0", reason: "x" }, serviceEnabled: false, running: false }))
      .toEqual(["held", "rolled-back", "disabled-and-stopped"])
  })
})
