// Drives `kiln mcp` with the official MCP TypeScript SDK client over stdio.
// Env: KILN_BIN (the kiln binary). Prints "N passed, N failed" as its last line.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const KILN = process.env.KILN_BIN || path.resolve(here, '..', '..', 'kiln');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-mcp-'));
fs.chmodSync(tmp, 0o711); // the sandbox user reaches scratch dirs by path
const scratchDir = path.join(tmp, 'scratch');
const env = {
  PATH: process.env.PATH || '/usr/bin:/bin',
  KILN_STORE_DIR: path.join(tmp, 'store'),
  KILN_SCRATCH_DIR: scratchDir,
  XDG_CONFIG_HOME: path.join(tmp, 'config'),
  KILN_MCP_WORKERS: '3',
};
for (const k of ['ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS'])
  if (process.env[k]) env[k] = process.env[k];

let stderrText = '';
const transport = new StdioClientTransport({ command: KILN, args: ['mcp'], env, stderr: 'pipe' });
transport.stderr?.on('data', d => { stderrText += d.toString(); });
const client = new Client({ name: 'kiln-test', version: '1.0.0' });

let passed = 0, failed = 0;
async function test(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok   ${name}`);
  } catch (e) {
    failed++;
    console.error(`FAIL ${name}: ${e && e.stack ? e.stack : e}`);
  }
}

// Every process whose parent chain leads to root (root excluded).
function alive(pid) {
  try {
    const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return st.slice(st.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch { return false; }
}

function descendants(root) {
  const parent = new Map();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const rest = st.slice(st.lastIndexOf(')') + 2).split(' ');
      parent.set(Number(d), { ppid: Number(rest[1]), state: rest[0] });
    } catch { /* gone */ }
  }
  const out = [];
  for (const [pid, p] of parent) {
    let q = p.ppid, hops = 0;
    while (q > 1 && q !== root && hops++ < 64) q = parent.get(q)?.ppid ?? 0;
    if (q === root && pid !== root) out.push(`${pid}(${p.state})`);
  }
  return out;
}

const sleep = ms => new Promise(r => setTimeout(r, ms));
// A warm server's standby worker (and its sandbox) is named kiln-spare; the
// process it forks its workers from, kiln-zygote. Both are the server's own.
const isSpare = d => {
  try {
    const comm = fs.readFileSync(`/proc/${parseInt(d, 10)}/comm`, 'utf8').trim();
    return comm === 'kiln-spare' || comm === 'kiln-zygote';
  } catch { return false; }
};
async function waitNoDescendants(pid, ms) {
  const until = Date.now() + ms;
  let d = descendants(pid).filter(x => !isSpare(x));
  while (d.length && Date.now() < until) {
    await sleep(100);
    d = descendants(pid).filter(x => !isSpare(x));
  }
  return d;
}

function textOf(res) {
  const t = res.content.find(c => c.type === 'text');
  assert.ok(t, 'no text content');
  return JSON.parse(t.text);
}

const CSV = 'city,temp,rain\nOslo,3.5,12\nRome,15.2,3\nCairo,28.1,0\nLima,19.0,1\n';
const b64 = s => Buffer.from(s).toString('base64');
let outputUri = null;

try {
  await test('initialize: negotiated revision, server info, instructions', async () => {
    await client.connect(transport);
    const info = client.getServerVersion();
    assert.equal(info.name, 'kiln');
    assert.match(info.version, /^\d+\.\d+\.\d+/);
    const caps = client.getServerCapabilities();
    assert.ok(caps.tools && caps.resources, JSON.stringify(caps));
    assert.match(client.getInstructions() || '', /executeCode/);
    assert.ok(transport.pid > 0);
  });

  await test('tools/list: both tools with schemas and annotations', async () => {
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map(t => t.name).sort(), ['executeCode', 'processFile']);
    for (const t of tools) {
      assert.equal(t.inputSchema.type, 'object');
      assert.equal(t.outputSchema.type, 'object');
      assert.equal(t.annotations.readOnlyHint, false);
      assert.equal(t.annotations.openWorldHint, true);
    }
    const ex = tools.find(t => t.name === 'executeCode');
    assert.deepEqual(ex.inputSchema.required, ['code']);
    const pf = tools.find(t => t.name === 'processFile');
    assert.deepEqual([...pf.inputSchema.properties.operation.enum].sort(),
                     ['analyze', 'parse_excel', 'transform']);
  });

  await test('processFile analyze on a base64 CSV: result, resource links', async () => {
    const res = await client.callTool({ name: 'processFile', arguments: {
      operation: 'analyze', fileBase64: b64(CSV), fileName: 'weather.csv' } });
    assert.equal(res.isError, false, JSON.stringify(res).slice(0, 500));
    const env = res.structuredContent;
    assert.equal(env.ok, true);
    assert.equal(env.action, 'processFile');
    assert.deepEqual(textOf(res), env);
    assert.ok(JSON.stringify(env.result).includes('temp'));
    const links = res.content.filter(c => c.type === 'resource_link');
    assert.equal(links.length, env.files.length);
    assert.ok(links.length >= 1, 'analyze wrote no report');
    for (const l of links) assert.match(l.uri, /^kiln:\/\/files\/f_[0-9a-f]+$/);
    outputUri = (links.find(l => /html/.test(l.mimeType || '')) || links[0]).uri;
  });

  await test('resources/read of an output, list and templates', async () => {
    assert.ok(outputUri, 'no output from the analyze call');
    const r = await client.readResource({ uri: outputUri });
    assert.equal(r.contents.length, 1);
    const c = r.contents[0];
    assert.equal(c.uri, outputUri);
    assert.ok((c.text && c.text.length > 0) || (c.blob && c.blob.length > 0));
    if (/html/.test(c.mimeType)) assert.match(c.text, /<html|<!DOCTYPE/i);
    const l = await client.listResources();
    assert.ok(l.resources.some(x => x.uri === outputUri));
    const t = await client.listResourceTemplates();
    assert.equal(t.resourceTemplates[0].uriTemplate, 'kiln://files/{id}');
  });

  await test('resources/read of an unknown id: -32002', async () => {
    await assert.rejects(client.readResource({ uri: 'kiln://files/f_00000000000000000000000000000000' }),
      e => e instanceof McpError && e.code === -32002);
  });

  await test('executeCode: stdout and a matplotlib PNG as an image block', async () => {
    const code = [
      'import matplotlib.pyplot as plt',
      'print("hello from kiln")',
      'plt.plot([1, 2, 3], [3, 1, 2])',
      'plt.savefig("chart.png")',
    ].join('\n');
    const res = await client.callTool({ name: 'executeCode', arguments: { code } });
    assert.equal(res.isError, false, JSON.stringify(res).slice(0, 800));
    assert.equal(res.structuredContent.result.stdout, 'hello from kiln\n');
    const img = res.content.find(c => c.type === 'image');
    assert.ok(img, 'no image block');
    assert.equal(img.mimeType, 'image/png');
    const bytes = Buffer.from(img.data, 'base64');
    assert.equal(bytes.subarray(1, 4).toString(), 'PNG');
    const link = res.content.find(c => c.type === 'resource_link');
    assert.equal(link.name, 'chart.png');
    const r = await client.readResource({ uri: link.uri });
    assert.ok(Buffer.from(r.contents[0].blob, 'base64').equals(bytes));
  });

  await test('failing code: isError with a valid error envelope', async () => {
    const res = await client.callTool({ name: 'executeCode', arguments: {
      code: 'print("before")\nraise ValueError("boom")' } });
    assert.equal(res.isError, true);
    const env = res.structuredContent;
    assert.equal(env.ok, false);
    assert.equal(env.error.code, 'CODE_ERROR');
    assert.match(env.error.message + (env.error.traceback || ''), /boom/);
  });

  await test('missing argument: isError INVALID_REQUEST', async () => {
    const res = await client.callTool({ name: 'executeCode', arguments: {} });
    assert.equal(res.isError, true);
    assert.equal(res.structuredContent.error.code, 'INVALID_REQUEST');
    assert.match(res.structuredContent.error.message, /code/);
  });

  await test('unknown tool: JSON-RPC error -32602', async () => {
    await assert.rejects(client.callTool({ name: 'noSuchTool', arguments: {} }),
      e => e instanceof McpError && e.code === -32602);
  });

  await test('progress notifications: start and end, increasing', async () => {
    const seen = [];
    const res = await client.callTool({ name: 'executeCode', arguments: {
      code: 'import time\ntime.sleep(1.5)\nprint("slept")' } }, undefined,
      { onprogress: p => seen.push(p) });
    assert.equal(res.isError, false);
    assert.ok(seen.length >= 2, `only ${seen.length} progress notifications`);
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i].progress > seen[i - 1].progress);
  });

  await test('parallel calls overlap in time', async () => {
    const code = 'import time, json\nt0 = time.time()\ntime.sleep(1.5)\nprint(json.dumps([t0, time.time()]))';
    const [a, b] = await Promise.all([
      client.callTool({ name: 'executeCode', arguments: { code } }),
      client.callTool({ name: 'executeCode', arguments: { code } }),
    ]);
    const [a0, a1] = JSON.parse(a.structuredContent.result.stdout);
    const [b0, b1] = JSON.parse(b.structuredContent.result.stdout);
    assert.ok(a0 < b1 && b0 < a1, `no overlap: ${[a0, a1, b0, b1]}`);
  });

  await test('cancellation kills the work; no process left; server keeps working', async () => {
    const pid = transport.pid;
    const ac = new AbortController();
    let started;
    const running = new Promise(r => { started = r; });
    const call = client.callTool({ name: 'executeCode', arguments: { code: 'while True: pass' } },
      undefined, { signal: ac.signal, onprogress: () => started(), timeout: 60000 });
    await Promise.race([running, sleep(20000)]);
    await sleep(800); // let the sandbox come up under the worker
    const tree = descendants(pid).filter(d => !isSpare(d)).map(d => parseInt(d, 10));
    assert.ok(tree.length >= 2, `the call did not start a worker and a sandbox: ${tree}`);
    ac.abort('test cancels');
    await assert.rejects(call);
    const left = await waitNoDescendants(pid, 5000);
    assert.deepEqual(left, [], `processes left under kiln mcp: ${left}`);
    // Also those that might have escaped the tree (reparented elsewhere).
    const escaped = tree.filter(alive);
    assert.deepEqual(escaped, [], `worker tree processes still alive: ${escaped}`);
    // a standby's own scratch dir is named after its pid: run-<pid>-...
    const spares = descendants(pid).filter(isSpare).map(d => parseInt(d, 10));
    const scratch = () => (fs.existsSync(scratchDir) ? fs.readdirSync(scratchDir) : [])
      .filter(n => !spares.some(p => n.startsWith(`run-${p}-`)));
    for (let i = 0; i < 20 && scratch().length; i++) await sleep(100);
    const dirs = scratch();
    assert.deepEqual(dirs, [], `scratch dirs left: ${dirs}`);
    await client.ping();
    const res = await client.callTool({ name: 'executeCode', arguments: { code: 'print(6*7)' } });
    assert.equal(res.structuredContent.result.stdout, '42\n');
  });

  await test('close: the server exits and leaves no process', async () => {
    const pid = transport.pid;
    await client.close();
    const until = Date.now() + 5000;
    while (fs.existsSync(`/proc/${pid}`) && Date.now() < until) await sleep(50);
    let state = '';
    try { state = fs.readFileSync(`/proc/${pid}/stat`, 'utf8'); } catch { /* gone */ }
    assert.ok(!state || / Z /.test(state), `kiln mcp still running: ${state}`);
    assert.deepEqual(descendants(pid), []);
  });
} catch (e) {
  failed++;
  console.error(`FAIL harness: ${e && e.stack ? e.stack : e}`);
} finally {
  try { await client.close(); } catch { /* closed */ }
  if (failed) console.error(`kiln mcp stderr:\n${stderrText.slice(-4000)}`);
  fs.rmSync(tmp, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
