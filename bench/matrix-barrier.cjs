// bench/matrix.py's barrier inside a node job (NODE_OPTIONS=--require this file):
// the process starts, loads and runs as usual, and its first outgoing connection
// waits until the benchmark releases every job at once. Each job says it has
// arrived by writing one byte to fd 4, then blocks reading fd 3 (a pipe whose
// write end the benchmark closes). Nothing else in the process is touched.
"use strict";
const fs = require("fs");
const net = require("net");

const connect = net.Socket.prototype.connect;
let released = false;

function waitForRelease() {
  released = true;
  const byte = Buffer.alloc(1);
  try {
    fs.writeSync(4, "r");
    fs.closeSync(4);
    for (;;) {
      try {
        fs.readSync(3, byte, 0, 1, null); // 0 bytes: EOF, the barrier is open
        break;
      } catch (e) {
        if (e.code !== "EAGAIN") throw e;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
      }
    }
    fs.closeSync(3);
  } catch (e) {
    // Not started by bench/matrix.py, or its pipes are gone: no measurement.
    process.stderr.write(`matrix-barrier: ${e.message}\n`);
    process.exit(125);
  }
}

net.Socket.prototype.connect = function (...args) {
  if (!released) waitForRelease();
  return connect.apply(this, args);
};
