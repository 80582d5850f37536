/** The vendor's remote repository as the package-manager layers ask it for their configuration: files served from memory. */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Http from "../../src/services/Http.js"
import * as Repository from "../../src/services/Repository.js"
import * as UpdaterConfig from "../../src/services/UpdaterConfig.js"

export const BASE = "https://agentrepo.example.test"

/** Serves `files` (full URL → body), 404 for anything else. */
export const serveFiles = (files: Readonly<Record<string, string>>): Http.Transport => (url) =>
  Effect.succeed(url in files ? { status: 200, body: files[url]! } : { status: 404, body: "<html>Not Found</html>" })

/** `Repository` and `UpdaterConfig` for a repository under `base` serving `files` (paths under the base). */
export const remoteRepository = (
  files: Readonly<Record<string, string>>,
  base: string = BASE
): Layer.Layer<Repository.Repository | UpdaterConfig.UpdaterConfig> => {
  const served = Object.fromEntries(Object.entries(files).map(([path, body]) => [`${base}/${path}`, body]))
  const config = UpdaterConfig.layer({ repository: base })
  const http = Layer.succeed(Http.Http, Http.make(serveFiles(served), Http.defaultOptions))
  return Layer.merge(config, Repository.layer.pipe(Layer.provide(Layer.merge(http, config))))
}
