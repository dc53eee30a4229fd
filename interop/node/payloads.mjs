// Payloads and frame arithmetic shared by the `ws` interop client and server.

/**
 * Exactly `length` bytes of text that compresses well: the lines
 * `I sockeye héllo wörld € 中文 𝄞` for I = 0, 1, 2, ..., as many whole
 * lines as fit, then dots.
 */
export function compressibleText(length) {
  const lines = [];
  let size = 0;
  for (let i = 0; ; i++) {
    const line = `${i} sockeye héllo wörld € 中文 𝄞\n`;
    const lineSize = Buffer.byteLength(line);
    if (size + lineSize > length) break;
    lines.push(line);
    size += lineSize;
  }
  return lines.join('') + '.'.repeat(length - size);
}

/**
 * The payload length of a frame this client sent in `wire` bytes: a
 * client's header takes 6, 8 or 14 bytes, masking key included (RFC 6455
 * §5.2).
 */
export function clientFramePayload(wire) {
  if (wire - 6 < 126) return wire - 6;
  if (wire - 8 < 65536) return wire - 8;
  return wire - 14;
}

/**
 * The payload length of a frame this server sent in `wire` bytes: a server's
 * header takes 2, 4 or 10 bytes (RFC 6455 §5.2).
 */
export function serverFramePayload(wire) {
  if (wire - 2 < 126) return wire - 2;
  if (wire - 4 < 65536) return wire - 4;
  return wire - 10;
}
