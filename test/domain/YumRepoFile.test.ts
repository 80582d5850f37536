import { describe, expect, it } from "vitest"
import { agentRepositoryKeys, definesAgentRepository, yumRepoProblem } from "../../src/domain/YumRepoFile.js"

const good = "[drivesrvr]\nname=Cloud Backup\nbaseurl=http://127.0.0.1/redhat/\ngpgcheck=1\n"

describe("yumRepoProblem", () => {
  it("accepts a repo file with a [drivesrvr] section and a baseurl", () => {
    expect(yumRepoProblem(good)).toBeUndefined()
    expect(yumRepoProblem(`# comment\n\n[other]\nbaseurl=x\n${good}`)).toBeUndefined()
  })

  it.each([
    ["", "the repo file is empty"],
    ["[other]\nbaseurl=http://x/\n", "no [drivesrvr] section"],
    ["[drivesrvr]\nname=x\n", "the [drivesrvr] section has no baseurl"],
    ["[drivesrvr]\nbaseurl=\n", "the [drivesrvr] section has no baseurl"],
    ["<html><body>404</body></html>", "line 1 is not a repo file line"],
    ["baseurl=http://x/\n[drivesrvr]\n", "line 1 is not a repo file line"]
  ])("rejects %j", (text, problem) => {
    expect(yumRepoProblem(text)).toBe(problem)
  })

  it("finds the agent repository in an installed repo file", () => {
    expect(definesAgentRepository(good)).toBe(true)
    expect(definesAgentRepository("[drivesrvr-testing]\nbaseurl=x\n")).toBe(false)
  })
})

describe("agentRepositoryKeys", () => {
  it("the gpgkey URLs of [drivesrvr] only, split by spaces or commas", () => {
    const text = [
      "[other]",
      "gpgkey=https://elsewhere.example/KEY",
      "[drivesrvr]",
      "baseurl=https://agentrepo.example/redhat/",
      "gpgkey=https://agentrepo.example/redhat/KEY-1 https://agentrepo.example/redhat/KEY-2,https://agentrepo.example/redhat/KEY-3"
    ].join("\n")
    expect(agentRepositoryKeys(text)).toEqual([
      "https://agentrepo.example/redhat/KEY-1",
      "https://agentrepo.example/redhat/KEY-2",
      "https://agentrepo.example/redhat/KEY-3"
    ])
    expect(agentRepositoryKeys("[drivesrvr]\nbaseurl=https://x/\n")).toEqual([])
  })
})
