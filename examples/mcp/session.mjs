#!/usr/bin/env node
// A short MCP session against a running Switchyard, with the official MCP SDK client — the same
// calls an agent makes. Prints a transcript (each tool call and its result).
//
//   SWITCHYARD_URL=http://127.0.0.1:3000 SWITCHYARD_TOKEN=<admin or operator key> \
//     node examples/mcp/session.mjs
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const url = process.env.SWITCHYARD_URL ?? 'http://127.0.0.1:3000';
const token = process.env.SWITCHYARD_TOKEN;
if (!token) {
  console.error('set SWITCHYARD_TOKEN');
  process.exit(2);
}

const client = new Client({ name: 'transcript', version: '1.0.0' });
await client.connect(
  new StreamableHTTPClientTransport(new URL(`${url}/mcp`), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  }),
);
const server = client.getServerVersion();
console.log(`# connected to ${server.name} ${server.version} at ${url}/mcp`);
const { tools } = await client.listTools();
console.log(`> tools/list\n< ${tools.map((t) => t.name).join(', ')}\n`);

async function call(name, args) {
  console.log(`> ${name} ${JSON.stringify(args)}`);
  const t0 = performance.now();
  const res = await client.callTool({ name, arguments: args }, undefined, {
    onprogress: (p) =>
      console.log(`  (progress ${p.progress}${p.total ? `/${p.total}` : ''}: ${p.message ?? ''})`),
  });
  const ms = Math.round(performance.now() - t0);
  const text = res.content?.[0]?.text ?? '';
  console.log(`< ${res.isError ? 'ERROR ' : ''}${text}  [${ms} ms]\n`);
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

await call('list_capabilities', {});
await call('find_agents', { capability: 'code-review', limit: 2 });
const done = await call('delegate', {
  capability: 'echo',
  prompt: 'say hello',
  payload: { from: 'transcript' },
});
await call('delegate_many', {
  tasks: [
    { capability: 'echo', payload: { n: 1 } },
    { capability: 'code-review', payload: { path: 'src/mcp' } },
  ],
});
await call('get_task', { taskId: done.taskId });
const key = `notes/mcp-transcript-${Date.now()}`;
await call('state_put', { key, value: { topic: 'mcp' }, ifMatch: 0 });
await call('state_put', { key, value: { topic: 'stale write' }, ifMatch: 0 });
await call('state_patch', { key, patch: { reviewed: true }, ifMatch: 1 });
await call('state_get', { key });
await call('delegate', { capability: 'no-such-capability', wait: false, priority: 42 });
await client.close();
