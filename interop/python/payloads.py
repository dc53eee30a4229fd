"""Payloads shared by the `websockets` interop client and server."""


def compressible_text(length):
    """Exactly `length` bytes of text that compresses well: the lines
    ``I sockeye héllo wörld € 中文 𝄞`` for I = 0, 1, 2, ..., as many whole
    lines as fit, then dots."""
    lines = []
    size = 0
    i = 0
    while True:
        line = f"{i} sockeye héllo wörld € 中文 𝄞\n"
        line_size = len(line.encode())
        if size + line_size > length:
            break
        lines.append(line)
        size += line_size
        i += 1
    return "".join(lines) + "." * (length - size)
