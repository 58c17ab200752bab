// The JS Gemini SDK as a client of the proxy: a file upload in several chunks, then
// generate calls with the file and a cached content made from it, then an interaction,
// a follow-up, a GET and a streamed follow-up. Prints one JSON line.
// Run by tests/test_affinity.py with PROXY_URL, GEMINI_KEYS and UPLOAD_BYTES set.
import { GoogleGenAI, createPartFromUri } from "@google/genai";

const ai = new GoogleGenAI({ apiKey: process.env.GEMINI_KEYS, httpOptions: { baseUrl: process.env.PROXY_URL } });
const size = Number(process.env.UPLOAD_BYTES);
const blob = new Blob([new Uint8Array(size).fill(97)], { type: "text/plain" });
const file = await ai.files.upload({ file: blob, config: { mimeType: "text/plain", displayName: "big" } });
const answers = [];
for (let i = 0; i < 3; i++) {
  const r = await ai.models.generateContent({
    model: "gemini-2.5-flash",
    contents: [createPartFromUri(file.uri, file.mimeType), `question ${i}`],
  });
  answers.push(r.text);
}
const cache = await ai.caches.create({ model: "gemini-2.5-flash", config: { contents: [createPartFromUri(file.uri, file.mimeType)] } });
const cached = await ai.models.generateContent({ model: "gemini-2.5-flash", contents: "hi", config: { cachedContent: cache.name } });
const got = await ai.files.get({ name: file.name });
const first = await ai.interactions.create({ model: "gemini-2.5-flash", input: "hello" });
const second = await ai.interactions.create({ model: "gemini-2.5-flash", input: "more", previous_interaction_id: first.id });
const polled = await ai.interactions.get(second.id);
const events = [];
const stream = await ai.interactions.create({ model: "gemini-2.5-flash", input: "go on", stream: true, previous_interaction_id: second.id });
for await (const event of stream) events.push(event.event_type);
const interactions = { first: first.id, previous: second.previous_interaction_id, polled: polled.status, events };
console.log(JSON.stringify({ file: file.name, uri: file.uri, size: file.sizeBytes, got: got.name, cache: cache.name, answers, cached: cached.text, interactions }));
