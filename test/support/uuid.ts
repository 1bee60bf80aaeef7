/**
 * UUIDv5 computed here, independently of the `uuid` package the code uses: RFC 4122 §4.3 — SHA-1 of
 * the namespace's 16 bytes followed by the name's UTF-8 bytes, first 16 bytes of the digest, version
 * 5 in the high nibble of byte 6, variant 10 in the two high bits of byte 8.
 */
import { createHash } from 'node:crypto';

/** The DNS namespace (RFC 4122 appendix C), what `uuidgen -n @dns` uses. */
export const DNS_NAMESPACE = '6ba7b810-9dad-11d1-80b4-00c04fd430c8';

export function uuidV5(name: string, namespace: string): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  if (ns.length !== 16) throw new Error(`not a UUID: ${namespace}`);
  const bytes = createHash('sha1').update(ns).update(name, 'utf8').digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
