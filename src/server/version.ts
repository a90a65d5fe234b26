// The leasekv version this build is (package.json's; the bin test checks they agree): told to peers
// in the handshake, shown by Status and `leasekv --version`, recorded in the data dir it writes.
export const VERSION = '0.2.0';
