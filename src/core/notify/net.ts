import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * Outgoing HTTP to addresses people configure (webhook subscriptions): a URL must not reach
 * AutoDevHub's own network (loopback, private ranges, link-local cloud metadata, …) unless an
 * operator allowed that range. The check runs on the address actually connected to: the
 * hostname is resolved by our own lookup, which refuses forbidden answers, so a name that
 * resolves to 127.0.0.1 (or changes its answer between check and connect) cannot get through.
 */

export class RefusedAddress extends Error {
  override name = 'RefusedAddress';
}

export function parseCidrs(cidrs: string[]): Array<[ipaddr.IPv4 | ipaddr.IPv6, number]> {
  return cidrs.map((c) => ipaddr.parseCIDR(c));
}

/** Why an address may not be reached, or undefined when it may. */
export function forbiddenAddress(address: string, allowed: Array<[ipaddr.IPv4 | ipaddr.IPv6, number]>): string | undefined {
  let ip = ipaddr.parse(address);
  if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress()) ip = (ip as ipaddr.IPv6).toIPv4Address();
  const range = ip.range();
  if (range === 'unicast') return undefined;
  if (allowed.some(([net, bits]) => net.kind() === ip.kind() && ip.match([net, bits] as never))) return undefined;
  return `${address} is a ${range} address`;
}

function guardedLookup(allowed: Array<[ipaddr.IPv4 | ipaddr.IPv6, number]>): LookupFunction {
  return ((hostname: string, options: object, callback: (err: Error | null, address: string | LookupAddress[], family?: number) => void) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const list = addresses as LookupAddress[];
      const bad = list.map((a) => forbiddenAddress(a.address, allowed)).find(Boolean);
      if (bad) return callback(new RefusedAddress(`${hostname} resolves to ${bad}`), '', 0);
      if ((options as { all?: boolean }).all) return callback(null, list);
      callback(null, list[0]!.address, list[0]!.family);
    });
  }) as LookupFunction;
}

export interface PostResult {
  status: number;
  body: string;
}

/** POSTs `body` to `url`, refusing forbidden addresses; resolves with the status and the start of the answer. */
export function guardedPost(url: string, body: string, headers: Record<string, string>, opts: { timeoutMs: number; allowedCidrs: string[] }): Promise<PostResult> {
  return guardedRequest('POST', url, body, { ...headers, 'content-length': String(Buffer.byteLength(body)) }, opts).then(({ status, body: answer }) => ({ status, body: answer }));
}

export interface GetResult extends PostResult {
  statusText: string;
}

/** GETs `url` (no redirects followed), refusing forbidden addresses like guardedPost. */
export function guardedGet(url: string, headers: Record<string, string>, opts: { timeoutMs: number; allowedCidrs: string[] }): Promise<GetResult> {
  return guardedRequest('GET', url, undefined, headers, opts);
}

function guardedRequest(method: string, url: string, body: string | undefined, headers: Record<string, string>, opts: { timeoutMs: number; allowedCidrs: string[] }): Promise<GetResult> {
  const allowed = parseCidrs(opts.allowedCidrs);
  const target = new URL(url);
  if (target.protocol !== 'http:' && target.protocol !== 'https:') return Promise.reject(new RefusedAddress(`${target.protocol} is not http(s)`));
  const host = target.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) {
    const bad = forbiddenAddress(host, allowed);
    if (bad) return Promise.reject(new RefusedAddress(bad));
  }
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<GetResult>((resolve, reject) => {
    const req = send(target, { method, headers, lookup: guardedLookup(allowed), timeout: opts.timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        // Only the start of the answer is kept for the record.
        if (size < 4096) chunks.push(c);
        size += c.length;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', body: Buffer.concat(chunks).toString('utf8').slice(0, 2000) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${opts.timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}
