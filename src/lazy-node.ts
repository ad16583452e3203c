/**
 * Node built-ins tack needs only on some paths (sealing a secret, inflating a patch), loaded on
 * first use: each one pulls in Node's stream machinery, which costs start-up time that most
 * runs never need back.
 */
let crypto: typeof import("node:crypto") | undefined;
let zlib: typeof import("node:zlib") | undefined;

export function nodeCrypto(): typeof import("node:crypto") {
  crypto ??= require("node:crypto") as typeof import("node:crypto");
  return crypto;
}

export function nodeZlib(): typeof import("node:zlib") {
  zlib ??= require("node:zlib") as typeof import("node:zlib");
  return zlib;
}
