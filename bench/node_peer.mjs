// Serves gemini-balance-lite's fetch handler over node:http, for bench/field.py.
//
//   node --experimental-default-type=module bench/node_peer.mjs <checkout> <port> <upstream>
//
// gemini-balance-lite is an edge function (Vercel, Deno, Netlify, Cloudflare): each
// platform hands its `handleRequest(request)` a web Request and sends the Response it
// returns. This adapter does the same on a plain Node HTTP server, as small as it can
// be so that the figures measure the peer: the body is handed over as a stream, the
// answer's headers are copied and its body is written chunk by chunk as it comes.
// The peer calls https://generativelanguage.googleapis.com by a fixed address; the
// adapter's one other job is to send those calls to the bench's fake upstream instead
// (a wrapper around the global fetch rewriting the origin; it also marks a streamed
// request body `duplex: "half"`, which Node's fetch requires and the edge runtimes
// imply). The peer's package.json names no module type: the flag above loads its
// files as the ES modules they are without a failed CommonJS parse first. The peer's own code,
// console logging included, runs unchanged; its standard output goes to /dev/null.
import http from "node:http";
import { Readable } from "node:stream";
import { pathToFileURL } from "node:url";
import path from "node:path";

const [checkout, port, upstream] = process.argv.slice(2);
const GOOGLE = "https://generativelanguage.googleapis.com";

const realFetch = globalThis.fetch;
globalThis.fetch = (input, init) => {
  const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
  if (init?.body instanceof ReadableStream && !init.duplex) init = { ...init, duplex: "half" };
  return realFetch(url.startsWith(GOOGLE) ? upstream + url.slice(GOOGLE.length) : input, init);
};

const { handleRequest } = await import(pathToFileURL(path.join(checkout, "src", "handle_request.js")).href);

const server = http.createServer(async (req, res) => {
  try {
    const headers = new Headers();
    for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
    const hasBody = req.method !== "GET" && req.method !== "HEAD";
    const request = new Request(`http://${req.headers.host}${req.url}`, {
      method: req.method,
      headers,
      body: hasBody ? Readable.toWeb(req) : undefined,
      duplex: hasBody ? "half" : undefined,
    });
    const response = await handleRequest(request);
    const out = {};
    // Framing is the server's business, as on the edge runtimes: the peer's OpenAI route
    // copies the upstream's content-length onto its own, shorter, translated body.
    for (const [name, value] of response.headers) {
      if (name !== "content-length" && name !== "transfer-encoding") out[name] = value;
    }
    res.writeHead(response.status, out);
    if (response.body) {
      for await (const chunk of response.body) res.write(chunk);
    }
    res.end();
  } catch (error) {
    res.writeHead(500, { "content-type": "text/plain" });
    res.end(String(error));
  }
});
server.keepAliveTimeout = 5000;
server.listen(Number(port), "127.0.0.1");
