/** The node:http(s) agents a request goes through: direct, or through one proxy, all trusting the same CAs. */
import type * as http from "node:http"
import * as https from "node:https"
import * as nodeHttp from "node:http"
import type * as net from "node:net"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { HttpProxyAgent } from "http-proxy-agent"
import { HttpsProxyAgent } from "https-proxy-agent"

/**
 * https-proxy-agent keeps its constructor's options for the proxy connection only, and the request's
 * options for the TLS session to the target; the target must trust the same CAs, so they are added here.
 */
type ConnectOptions = Parameters<HttpsProxyAgent<string>["connect"]>[1]

class TrustingHttpsProxyAgent extends HttpsProxyAgent<string> {
  constructor(proxy: string, private readonly ca: ReadonlyArray<string>) {
    super(proxy, { ca: [...ca] })
  }
  override connect(req: http.ClientRequest, opts: ConnectOptions): Promise<net.Socket> {
    return super.connect(req, opts.secureEndpoint ? { ...opts, ca: [...this.ca] } : opts)
  }
}

const agentPair = (ca: ReadonlyArray<string>, proxy: string | undefined): NodeHttpClient.HttpAgent => ({
  [NodeHttpClient.HttpAgentTypeId]: NodeHttpClient.HttpAgentTypeId,
  http: proxy === undefined ? new nodeHttp.Agent() : new HttpProxyAgent(proxy, { ca: [...ca] }),
  https: proxy === undefined ? new https.Agent({ ca: [...ca] }) : new TrustingHttpsProxyAgent(proxy, ca)
})

/** One agent pair per proxy (and one for direct connections), made on first use and destroyed with the scope. */
export const makeAgents = (
  ca: ReadonlyArray<string>
): Effect.Effect<(proxy: string | undefined) => NodeHttpClient.HttpAgent, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => new Map<string, NodeHttpClient.HttpAgent>()),
      (agents) =>
        Effect.sync(() => {
          for (const pair of agents.values()) {
            pair.http.destroy()
            pair.https.destroy()
          }
        })
    ),
    (agents) => (proxy) => {
      const key = proxy ?? ""
      const existing = agents.get(key)
      if (existing !== undefined) return existing
      const made = agentPair(ca, proxy)
      agents.set(key, made)
      return made
    }
  )
