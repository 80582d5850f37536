/** A throwaway CA and a server certificate it signed, made with openssl in a temporary directory. */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Effect from "effect/Effect"

export interface TestCa {
  readonly caCert: string
  readonly key: string
  readonly cert: string
}

/** Signed for `names` (DNS names) and 127.0.0.1. */
export const makeCa = (names: ReadonlyArray<string>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "test-ca-"))),
    (dir) =>
      Effect.sync((): TestCa => {
        const at = (file: string) => path.join(dir, file)
        const openssl = (...args: Array<string>) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" })
        const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        openssl("req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=Throwaway Test CA")
        openssl("req", ...ec, "-keyout", "server.key", "-out", "server.csr", "-subj", `/CN=${names[0] ?? "127.0.0.1"}`)
        const san = [...names.map((name) => `DNS:${name}`), "IP:127.0.0.1"].join(",")
        fs.writeFileSync(at("ext.cnf"), `subjectAltName=${san}\nbasicConstraints=CA:FALSE\n`)
        openssl(
          "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
          "-out", "server.crt", "-days", "2", "-extfile", "ext.cnf"
        )
        const read = (file: string) => fs.readFileSync(at(file), "utf8")
        return { caCert: read("ca.crt"), key: read("server.key"), cert: read("server.crt") }
      }),
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  )

/** A host root whose system CA bundle (at `relative`, Debian's path unless told) holds `pem`. */
export const systemRootWith = (pem: string, relative = "etc/ssl/certs/ca-certificates.crt") =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const root = fs.mkdtempSync(path.join(os.tmpdir(), "test-root-"))
      fs.mkdirSync(path.dirname(path.join(root, relative)), { recursive: true })
      fs.writeFileSync(path.join(root, relative), pem)
      return root
    }),
    (root) => Effect.sync(() => fs.rmSync(root, { recursive: true, force: true }))
  )
