// Runs with node against the npm `cohere-ai` client installed under the folder named by
// OPENRERANK_NPM_CLIENTS (see the Makefile): reads a job as JSON on stdin, makes each
// call with the client's typed camelCase arguments, and prints the parsed responses.
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const { createRequire } = require("node:module");

const folder = process.env.OPENRERANK_NPM_CLIENTS;
const cohere = createRequire(path.join(folder, "package.json"))("cohere-ai");
const manifest = path.join(folder, "node_modules", "cohere-ai", "package.json");
const version = JSON.parse(fs.readFileSync(manifest, "utf8")).version;

async function call(job, request) {
  const options = { token: job.api_key, environment: job.base_url, maxRetries: 0 };
  try {
    if (request.api === "v1") {
      return { ok: await new cohere.CohereClient(options).rerank(request.body) };
    }
    return { ok: await new cohere.CohereClientV2(options).rerank(request.body) };
  } catch (error) {
    if (error instanceof cohere.CohereError) {
      return { error: { name: error.constructor.name, status: error.statusCode, body: error.body } };
    }
    throw error;
  }
}

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const job = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  const answers = [];
  for (const request of job.requests) answers.push(await call(job, request));
  process.stdout.write(JSON.stringify({ version, answers }));
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack ? error.stack : error));
  process.exit(1);
});
