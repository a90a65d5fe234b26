// How a worker thread loads its module, the same way the calling module was loaded: a TypeScript
// source runs through tsx (its loader is not inherited by workers on Node 20, so the worker
// registers it first); the compiled build (dist/, see bin/leasekv.mjs and scripts/build.mjs) loads
// the emitted JavaScript directly, without a loader thread in the worker.

/**
 * Code for `new Worker(code, { eval: true })` that loads the module `rel` (written with its .ts name,
 * e.g. './persist_worker.ts') beside the module at `callerUrl` (the caller's import.meta.url).
 */
export function workerBootCode(callerUrl: string, rel: string): string {
  if (!rel.endsWith('.ts')) throw new Error(`workerBootCode: ${rel} is not a .ts module name`);
  if (callerUrl.endsWith('.ts')) {
    const api = import.meta.resolve('tsx/esm/api');
    const target = new URL(rel, callerUrl).href;
    return `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(target)}); })`;
  }
  const target = new URL(`${rel.slice(0, -'.ts'.length)}.js`, callerUrl).href;
  return `import(${JSON.stringify(target)})`;
}
