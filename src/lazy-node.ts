/**
 * Node built-ins tack needs only on some paths (sealing a secret, inflating a patch, checking a
 * host a stranger named), loaded on first use: each one pulls in Node's stream machinery, which
 * costs start-up time that most runs never need back.
 */
let crypto: typeof import("node:crypto") | undefined;
let zlib: typeof import("node:zlib") | undefined;
let net: typeof import("node:net") | undefined;
let dns: typeof import("node:dns/promises") | undefined;

export function nodeCrypto(): typeof import("node:crypto") {
  crypto ??= require("node:crypto") as typeof import("node:crypto");
  return crypto;
}

export function nodeZlib(): typeof import("node:zlib") {
  zlib ??= require("node:zlib") as typeof import("node:zlib");
  return zlib;
}

export function nodeNet(): typeof import("node:net") {
  net ??= require("node:net") as typeof import("node:net");
  return net;
}

export function nodeDns(): typeof import("node:dns/promises") {
  dns ??= require("node:dns/promises") as typeof import("node:dns/promises");
  return dns;
}
