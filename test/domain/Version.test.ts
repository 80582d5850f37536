import { describe, expect, it } from "vitest"
import * as Either from "effect/Either"
import { compareUpstream, isUpToDate, parseVersionTxt, upstreamOf } from "../../src/domain/Version.js"

describe("parseVersionTxt", () => {
  it.each([
    ["1.2.0", "1.2.0"],
    ["1.2.0\n", "1.2.0"],
    ["1.2.0\r\n", "1.2.0"],
    ["10", "10"],
    ["1.32.0.27", "1.32.0.27"]
  ])("accepts %j", (body, version) => {
    expect(parseVersionTxt(body)).toEqual(Either.right(version))
  })

  it.each([
    ["", "body is empty"],
    ["\n", "body is empty"],
    ["<html><body>Not Found</body></html>", "body is HTML, not a version"],
    ["<!DOCTYPE html>", "body is HTML, not a version"],
    ["garbage", "\"garbage\" is not a version (digits and dots)"],
    ["1.2.0\n\n", "\"1.2.0\n\" is not a version".replace("\n", "?") + " (digits and dots)"],
    ["v1.2.0", "\"v1.2.0\" is not a version (digits and dots)"],
    ["1..2", "\"1..2\" is not a version (digits and dots)"],
    ["1.2.0 ", "\"1.2.0 \" is not a version (digits and dots)"],
    ["-1.2", "\"-1.2\" is not a version (digits and dots)"],
    ["1".repeat(65), "body is 65 bytes, a version is at most 64"]
  ])("rejects %j", (body, reason) => {
    expect(parseVersionTxt(body)).toEqual(Either.left(reason))
  })
})

describe("upstreamOf", () => {
  it.each([
    ["1.1.0-1", "1.1.0"],
    ["1.1.0-1.el9", "1.1.0"],
    ["2:1.1.0-1", "1.1.0"],
    ["1.1.0", "1.1.0"],
    ["1.1.0-rc-3", "1.1.0-rc"]
  ])("%s → %s", (version, upstream) => {
    expect(upstreamOf(version)).toBe(upstream)
  })
})

describe("compareUpstream", () => {
  it.each([
    ["1.2.0", "1.2.0", 0],
    // dpkg and rpm both: a version with one more part is the newer one.
    ["1.2", "1.2.0", -1],
    ["1.2.0", "1.2.0.0", -1],
    ["1.02", "1.2", 0],
    ["1.9", "1.10", -1],
    ["1.2.0~rc1", "1.2.0~rc2", -1],
    ["1.2.0~~", "1.2.0~", -1],
    ["1.2.0a", "1.2.0", 1],
    ["1.2.0a", "1.2.0.1", -1],
    ["1.2.0+b1", "1.2.0.1", -1],
    ["1.10.0", "1.9.0", 1],
    ["1.2.0", "1.10.0", -1],
    ["2", "1.99.99", 1],
    ["1.2.0~rc1", "1.2.0", -1],
    ["1.2.0+b1", "1.2.0", 1],
    ["12345678901234567890.1", "12345678901234567890.0", 1]
  ] as const)("%s vs %s → %d", (a, b, expected) => {
    expect(compareUpstream(a, b)).toBe(expected)
    expect(compareUpstream(b, a)).toBe(-expected || 0)
  })
})

describe("isUpToDate", () => {
  it("compares the upstream part of a package version with version.txt", () => {
    expect(isUpToDate("1.2.0-1", "1.2.0")).toBe(true)
    expect(isUpToDate("1.2.0-1.el9", "1.2.0")).toBe(true)
    expect(isUpToDate("1.1.0-7", "1.2.0")).toBe(false)
    expect(isUpToDate("1.3.0-1", "1.2.0")).toBe(true)
  })
})
