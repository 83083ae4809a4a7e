// Image URLs in requests: data: URLs always; http(s) URLs only when the server allows remote images, and then never
// to private, loopback, link-local or other non-public addresses (the server must not become a way to reach internal
// hosts). The host is resolved once, every address checked, and the connection made to the checked address (no
// second lookup that DNS rebinding could answer differently); no redirects; size and time limits.
import { lookup } from 'node:dns/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockList, isIP } from 'node:net';
import { dataUrlBytes } from './image-input.js';
import { invalid } from './api-error.js';

export interface RemoteImagePolicy {
  allow: boolean;
  maxBytes: number;
  timeoutMs: number;
}

const blocked = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local (cloud metadata services live here)
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 3], // multicast and reserved, up to 255.255.255.255
] as const)
  blocked.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
  ['64:ff9b::', 96], // NAT64 of IPv4 addresses
] as const)
  blocked.addSubnet(net, bits, 'ipv6');

/** Whether an address is one the server refuses to connect to (IPv4-mapped IPv6 is judged as its IPv4). */
export function isNonPublicAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return blocked.check(mapped[1]!, 'ipv4');
  const family = isIP(address);
  if (family === 0) return true;
  return blocked.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/** The encoded bytes an image URL names; `param` names the field in errors. */
export async function fetchImageUrl(url: string, policy: RemoteImagePolicy, param: string): Promise<Buffer> {
  if (url.startsWith('data:')) {
    try {
      return dataUrlBytes(url);
    } catch (err) {
      throw invalid((err as Error).message, param, 'invalid_image_url');
    }
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalid(`image URL is neither a data: URL nor a valid URL`, param, 'invalid_image_url');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw invalid(`image URL scheme '${parsed.protocol}' is not supported (data:, http:, https:)`, param);
  if (!policy.allow)
    throw invalid(
      'remote image URLs are disabled on this server (start it with --allow-remote-images); send the image as a data: URL',
      param,
      'remote_images_disabled',
    );
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  let addresses: { address: string; family: number }[];
  try {
    addresses = isIP(host) ? [{ address: host, family: isIP(host) }] : await lookup(host, { all: true });
  } catch {
    throw invalid(`image URL host '${host}' does not resolve`, param, 'invalid_image_url');
  }
  const refused = addresses.find((a) => isNonPublicAddress(a.address));
  if (refused || addresses.length === 0)
    throw invalid(
      `image URL host '${host}' resolves to ${refused?.address ?? 'nothing'}, a private, loopback or link-local address; refused`,
      param,
      'image_url_refused',
    );
  return download(parsed, addresses[0]!, policy, param);
}

/** GET `url` from the already checked `target` address, under the policy's size and time limits. */
export function download(
  url: URL,
  target: { address: string; family: number },
  policy: RemoteImagePolicy,
  param: string,
): Promise<Buffer> {
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const fail = (message: string) => reject(invalid(`image URL: ${message}`, param, 'image_url_unavailable'));
    const req = request(
      url,
      {
        timeout: policy.timeoutMs,
        // Connect to the address that was checked, whatever a new lookup would say.
        lookup: (_host, options, callback) =>
          // Node asks for all addresses when it races IPv4 and IPv6 (autoSelectFamily).
          options.all
            ? (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [target])
            : callback(null, target.address, target.family),
      },
      (res: IncomingMessage) => {
        if (res.statusCode !== 200) {
          res.resume();
          return fail(`the server answered ${res.statusCode} (redirects are not followed)`);
        }
        const declared = Number(res.headers['content-length'] ?? 0);
        if (declared > policy.maxBytes) {
          req.destroy();
          return fail(`${declared} bytes is over the limit of ${policy.maxBytes}`);
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > policy.maxBytes) {
            req.destroy();
            fail(`more than the limit of ${policy.maxBytes} bytes`);
          } else chunks.push(chunk);
        });
        res.on('end', () => resolve(Buffer.concat(chunks)));
        res.on('error', (err) => fail(err.message));
      },
    );
    req.on('timeout', () => {
      req.destroy();
      fail(`no complete answer within ${policy.timeoutMs} ms`);
    });
    req.on('error', (err) => fail(err.message));
    req.end();
  });
}
