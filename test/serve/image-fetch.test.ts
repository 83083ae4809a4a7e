// Remote image URLs: which addresses are refused, and the download's limits (size, time, status) against a local
// HTTP server, reached through download() with its address given (fetchImageUrl itself refuses loopback).
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { download, fetchImageUrl, isNonPublicAddress } from '../../src/serve/image-fetch.js';
import { ApiError } from '../../src/serve/api-error.js';

test('private, loopback, link-local and reserved addresses are non-public; public ones are not', () => {
  for (const a of [
    '127.0.0.1',
    '10.0.0.8',
    '172.16.5.4',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '224.0.0.1',
    '255.255.255.255',
    '::1',
    '::',
    'fe80::1',
    'fd00::1',
    '::ffff:10.0.0.1',
    '::ffff:127.0.0.1',
    'not an ip',
  ])
    assert.equal(isNonPublicAddress(a), true, a);
  for (const a of ['8.8.8.8', '1.1.1.1', '172.32.0.1', '93.184.216.34', '2606:4700:4700::1111', '::ffff:8.8.8.8'])
    assert.equal(isNonPublicAddress(a), false, a);
});

let server: Server;
let port: number;
const PNG = Buffer.from('89504e470d0a1a0a', 'hex');
before(async () => {
  server = createServer((req, res) => {
    if (req.url === '/image.png') res.end(Buffer.concat([PNG, Buffer.alloc(100)]));
    else if (req.url === '/big') res.end(Buffer.alloc(5000));
    else if (req.url === '/redirect') res.writeHead(302, { Location: 'http://169.254.169.254/' }).end();
    else if (req.url === '/slow') setTimeout(() => res.end('late'), 2000).unref();
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

const policy = { allow: true, maxBytes: 1000, timeoutMs: 300 };
const target = { address: '127.0.0.1', family: 4 };
const get = (path: string) => download(new URL(`http://images.example:${port}${path}`), target, policy, 'image_url');

test('download: the bytes, under the size and time limits, no redirects', async () => {
  const bytes = await get('/image.png');
  assert.deepEqual(bytes.subarray(0, 8), PNG);
  assert.equal(bytes.length, 108);
  const refused = (pattern: RegExp) => (err: unknown) =>
    err instanceof ApiError && err.status === 400 && pattern.test(err.message);
  await assert.rejects(get('/big'), refused(/5000 bytes is over the limit of 1000/));
  await assert.rejects(get('/redirect'), refused(/answered 302 \(redirects are not followed\)/));
  await assert.rejects(get('/missing'), refused(/answered 404/));
  await assert.rejects(get('/slow'), refused(/no complete answer within 300 ms/));
});

test('fetchImageUrl refuses without the flag, and refuses hosts that resolve to loopback', async () => {
  await assert.rejects(
    fetchImageUrl(`http://127.0.0.1:${port}/image.png`, { ...policy, allow: false }, 'p'),
    /disabled/,
  );
  await assert.rejects(
    fetchImageUrl(`http://localhost:${port}/image.png`, policy, 'p'),
    /loopback or link-local address; refused/,
  );
});
