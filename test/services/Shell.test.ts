import { describe, expect, it } from "vitest"
import { lastLine } from "../../src/services/Shell.js"

const failed = (stdout: string, stderr: string) => ({ exitCode: 100, stdout, stderr })

describe("lastLine", () => {
  it("names apt's E: line, not its closing summary", () => {
    const stdout = [
      "Setting up driveclient (1.1.0-1) ...",
      "dpkg: error processing package driveclient (--configure):",
      " installed driveclient package post-installation script subprocess returned error exit status 1",
      "Errors were encountered while processing:",
      " driveclient"
    ].join("\n")
    expect(lastLine(failed(stdout, "E: Sub-process /usr/bin/dpkg returned an error code (1)\n"))).toBe(
      "E: Sub-process /usr/bin/dpkg returned an error code (1)"
    )
  })

  it("names dnf's and rpm's Error: lines", () => {
    expect(lastLine(failed("", "Error: An rpm exception occurred: package not installed\n"))).toBe(
      "Error: An rpm exception occurred: package not installed"
    )
    expect(lastLine(failed("Running transaction\n", "error: %prein(driveclient-1.1.0-1.el9.x86_64) scriptlet failed, exit status 1\n")))
      .toBe("error: %prein(driveclient-1.1.0-1.el9.x86_64) scriptlet failed, exit status 1")
  })

  it("falls back to any Error line, then to the last line, then to the exit status", () => {
    expect(lastLine(failed("Error in POSTIN scriptlet in rpm package driveclient\nComplete!\n", ""))).toBe(
      "Error in POSTIN scriptlet in rpm package driveclient"
    )
    expect(lastLine(failed("Errors were encountered while processing:\n driveclient\n", ""))).toBe("driveclient")
    expect(lastLine(failed("", ""))).toBe("exit status 100")
  })
})
