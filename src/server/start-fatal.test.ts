import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import { holdEarlyFatal } from './start-fatal.ts';

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

test("a 'fatal' emitted while starting reaches the listener that subscribes once serving, once", async () => {
  const events = new EventEmitter();
  const early = holdEarlyFatal(events);
  const first = new Error('ENOSPC: no space left on device, write');
  events.emit('fatal', first);
  events.emit('fatal', new Error('a second one'));
  const heard: unknown[] = [];
  events.on('fatal', (e: unknown) => heard.push(e));
  early.serving();
  await turn();
  assert.deepEqual(heard, [first]);
  // After serving, fatals go straight to the listener, and nothing is held or repeated.
  const later = new Error('later');
  events.emit('fatal', later);
  await turn();
  assert.deepEqual(heard, [first, later]);
});

test("no 'fatal' while starting: nothing is emitted once serving", async () => {
  const events = new EventEmitter();
  const early = holdEarlyFatal(events);
  const heard: unknown[] = [];
  events.on('fatal', (e: unknown) => heard.push(e));
  early.serving();
  await turn();
  assert.deepEqual(heard, []);
});
