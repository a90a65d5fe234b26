// The transport layer's public surface: peer messaging, its wire codec, and the fault proxy.
export { PeerTransport, TransportConfigError, type TransportStats } from './peer-transport.ts';
export type {
  PeerAddress,
  PeerStats,
  PeerTransportOptions,
  TransportLogger,
  MessageHandler,
  SnapshotHandler,
} from './peer-transport.ts';
export { DecodeError, encodeFrame, decodeFrameBody, PROTOCOL_VERSION, type Frame } from './codec.ts';
export { FrameDecoder } from './frame-decoder.ts';
export { startProxy, type ProxyHandle, type ProxyOptions } from './proxy.ts';
