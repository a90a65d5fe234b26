// The watch hub lives beside the state machine that feeds it (src/kv/watch-hub.ts), so the
// simulator runs it too; the server's modules import it from here.
export * from '../../kv/watch-hub.ts';
