import { createRequire } from 'node:module';

/**
 * The etcd client libraries, loaded by the first etcd gateway rather than at import. Why: the store's one
 * entry exports both backends, and an embedded node (SQLite) never talks to etcd; importing etcd3 pulls
 * in gRPC and protobufjs and parses etcd's protocol definitions, which cost the embedded node ~27 MB of
 * its idle RSS and a second of start-up on this machine (issue 14). Both packages are CommonJS, so a
 * synchronous `require` keeps the gateway's constructor synchronous.
 */
const require = createRequire(import.meta.url);

let etcd3Module: typeof import('etcd3') | undefined;
let cockatielModule: typeof import('cockatiel') | undefined;

export function etcd3(): typeof import('etcd3') {
  etcd3Module ??= require('etcd3') as typeof import('etcd3');
  return etcd3Module;
}

export function cockatiel(): typeof import('cockatiel') {
  cockatielModule ??= require('cockatiel') as typeof import('cockatiel');
  return cockatielModule;
}
