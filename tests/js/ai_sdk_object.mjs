// The AI SDK's generateObject through its Anthropic provider, against the proxy
// (tests/anthropic/test_structured_output.py). Usage: node ai_sdk_object.mjs <proxy url> <key> [model]
// Prints {"object": ..., "request": <the body the provider sent>} as one JSON line.
import { createAnthropic } from "@ai-sdk/anthropic";
import { generateObject, jsonSchema } from "ai";

const [url, key, model = "claude-sonnet-4-5"] = process.argv.slice(2);
let sent = null;
const anthropic = createAnthropic({
  baseURL: `${url}/v1`,
  apiKey: key,
  fetch: async (input, init) => {
    sent = JSON.parse(init.body);
    return fetch(input, init);
  },
});
const schema = jsonSchema({
  type: "object",
  properties: { city: { type: "string" }, population: { type: "integer" } },
  required: ["city", "population"],
  additionalProperties: false,
});
const { object } = await generateObject({ model: anthropic(model), schema, prompt: "The largest city of France?" });
console.log(JSON.stringify({ object, request: sent }));
