// Preloaded into the Agents Playground by tests/playground_driver.py (node --require).
// Keeps the Playground on loopback: its server listens on 127.0.0.1 only, and any
// outbound TCP connection to another host (telemetry, for one) is refused before DNS.
"use strict";
const net = require("net");

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|::1|::ffff:127(\.\d{1,3}){3})$/i;

function isLoopback(host) {
  return host === undefined || host === null || LOOPBACK.test(String(host).replace(/^\[|\]$/g, ""));
}

const originalListen = net.Server.prototype.listen;
net.Server.prototype.listen = function listenOnLoopback(...args) {
  // listen(port[, cb]) and listen({port}) without a host would bind every interface.
  if (typeof args[0] === "number" || (typeof args[0] === "string" && /^\d+$/.test(args[0]))) {
    if (typeof args[1] !== "string") {
      args.splice(1, 0, "127.0.0.1");
    }
  } else if (args[0] && typeof args[0] === "object" && !("path" in args[0]) && !args[0].host) {
    args[0] = { ...args[0], host: "127.0.0.1" };
  }
  return originalListen.apply(this, args);
};

const originalConnect = net.Socket.prototype.connect;

/** The host a Socket#connect call targets, or null for a Unix socket path. */
function targetHost(args) {
  // net.createConnection passes its already normalised [options, callback] as args[0].
  const first = Array.isArray(args[0]) ? args[0][0] : args[0];
  if (first && typeof first === "object") {
    return first.path ? null : (first.host ?? "localhost");
  }
  if (typeof first === "string" && !/^\d+$/.test(first)) {
    return null;
  }
  return typeof args[1] === "string" ? args[1] : "localhost";
}

net.Socket.prototype.connect = function connectToLoopbackOnly(...args) {
  const host = targetHost(args);
  if (host !== null && !isLoopback(host)) {
    process.stderr.write(`loopback-only: refused a connection to ${host}\n`);
    const error = Object.assign(new Error(`connection to ${host} refused: loopback only`), {
      code: "ECONNREFUSED",
    });
    process.nextTick(() => this.destroy(error));
    return this;
  }
  return originalConnect.apply(this, args);
};
