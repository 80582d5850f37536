import { describe, expect, it } from "vitest"
import { showholdListsAgent } from "../../src/domain/AptMarkHolds.js"

describe("AptMarkHolds", () => {
  it("showholdListsAgent: the agent's own line, with or without an architecture", () => {
    expect(showholdListsAgent("driveclient\n")).toBe(true)
    expect(showholdListsAgent("linux-image-amd64\ndriveclient:amd64\n")).toBe(true)
    expect(showholdListsAgent("driveclient-tools\nlinux-image-amd64\n")).toBe(false)
    expect(showholdListsAgent("")).toBe(false)
  })
})
