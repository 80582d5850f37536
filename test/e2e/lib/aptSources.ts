/** Reads every apt sources file in a root, to count the entries for one repository. */
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { expect } from "vitest"
import { ROOT_ENV, type Root } from "./root.js"
import { describeResult } from "./exec.js"

export interface SourceEntry {
  readonly file: string
  /** The one-line entry, or the deb822 stanza joined with "; ". */
  readonly text: string
}

const SOURCES = "/etc/apt/sources.list"
const SOURCES_D = "/etc/apt/sources.list.d"

const sourceFiles = async (root: Root): Promise<string[]> => {
  const names = await fs.readdir(root.path(SOURCES_D)).catch(() => [] as string[])
  return [SOURCES, ...names.filter((n) => n.endsWith(".list") || n.endsWith(".sources")).sort().map((n) => path.posix.join(SOURCES_D, n))]
}

/** Entries (one-line or deb822) in any sources file whose URI starts with `uriPrefix`. */
export const aptEntriesFor = async (root: Root, uriPrefix: string): Promise<SourceEntry[]> => {
  const found: SourceEntry[] = []
  for (const file of await sourceFiles(root)) {
    const text = await root.readFileOr(file, "")
    if (file.endsWith(".sources")) {
      for (const stanza of text.split(/\n\s*\n/)) {
        const lines = stanza.split("\n").filter((l) => l.trim() !== "" && !l.trim().startsWith("#"))
        const uris = lines.find((l) => /^URIs:/i.test(l))?.replace(/^URIs:\s*/i, "").split(/\s+/) ?? []
        const enabled = !lines.some((l) => /^Enabled:\s*no/i.test(l))
        if (enabled && uris.some((u) => u.startsWith(uriPrefix))) found.push({ file, text: lines.join("; ") })
      }
    } else {
      for (const line of text.split("\n").map((l) => l.trim())) {
        if (/^deb\s/.test(line) && line.includes(uriPrefix)) found.push({ file, text: line })
      }
    }
  }
  return found
}

/** `apt-get update` inside the root succeeds without errors (e.g. conflicting Signed-By values). */
export const expectAptUpdateClean = async (root: Root): Promise<void> => {
  const result = await root.exec(["apt-get", "-q", "update"], { env: { ...ROOT_ENV, DEBIAN_FRONTEND: "noninteractive" } })
  expect(result.code, describeResult(result)).toBe(0)
  expect(`${result.stdout}\n${result.stderr}`, describeResult(result)).not.toMatch(/^E:/m)
}
