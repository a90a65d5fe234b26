// The linearizability checker's public surface (issue 3). Callers: src/sim (synchronous, per
// seed), src/server integration tests and the `leasekv check` command.
export type { HistoryOp, OpKind, Outcome, GetOutput, CasOutput } from './history.ts';
export { HistoryParseError, parseHistoryJsonl, formatHistoryJsonl, formatHistoryOp, validateOp } from './history.ts';
export type { CheckOptions, CheckResult, PartReport, Unplaced, Verdict } from './checker.ts';
export { checkHistorySync } from './checker.ts';
export type { AsyncCheckOptions } from './parallel.ts';
export { checkHistory } from './parallel.ts';
export type { ModelName, Value } from './models.ts';
export { parseJepsenKv, parseJepsenRegister } from './jepsen.ts';
export { formatResult, describeOp } from './report.ts';
export { renderHtml } from './html.ts';
