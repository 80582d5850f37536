/** Publishes a set of agent builds as a signed repository and points the server at it. */
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { execOk } from "./exec.js"
import type { Build, Fixtures } from "./fixtures.js"
import { SCRIPTS_DIR } from "./paths.js"
import type { RepoServer } from "./repoServer.js"

export class Publisher {
  private count = 0
  /** The tree being served, once something is published. */
  current: string | undefined

  constructor(
    private readonly fixtures: Fixtures,
    private readonly server: RepoServer,
    /** A scratch directory of the test's own; each publication gets a new subdirectory. */
    private readonly workDir: string
  ) {}

  /** Publishes `builds` (both formats) with `versionTxt` in version.txt, then serves them. */
  async publish(builds: ReadonlyArray<Build>, versionTxt: string): Promise<string> {
    const dir = path.join(this.workDir, `repo-${++this.count}`)
    await fs.mkdir(this.workDir, { recursive: true })
    const files = builds.flatMap((build) => [this.fixtures.builds[build].deb, this.fixtures.builds[build].rpm])
    await execOk(["sh", path.join(SCRIPTS_DIR, "publish-repo.sh"), this.fixtures.gnupgHome, dir, this.server.url, versionTxt, ...files])
    this.server.setRoot(dir)
    this.current = dir
    return dir
  }

  /** A file of the served tree (e.g. "debian/agentrepo.key"). */
  async read(relative: string): Promise<string> {
    if (this.current === undefined) throw new Error("nothing published yet")
    return fs.readFile(path.join(this.current, relative), "utf8")
  }
}
