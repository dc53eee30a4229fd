// Echo server on uWebSockets (C++), the speed reference for benches/compare.sh.
//
// `uws-echo ADDR` listens on ADDR (e.g. 127.0.0.1:9305) and sends every text
// or binary message back with the same opcode, on any path: no
// permessage-deflate, messages up to 64 MiB. uWS runs one event loop on one
// thread and always sets TCP_NODELAY on accepted sockets.
//
// maxBackpressure is raised from its 64 KiB default to 64 MiB: with the
// default, uWS drops (does not send) a message while more than 64 KiB is
// still queued for the socket, which a 1 MiB echo would hit. Everything else
// is left at uWS's defaults. Built by build.sh beside this file.

#include "App.h"

#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

struct PerSocketData {};

constexpr unsigned int kMaxSize = 64u * 1024u * 1024u;

}  // namespace

int main(int argc, char **argv) {
    std::string addr = argc > 1 ? argv[1] : "";
    std::string::size_type colon = addr.rfind(':');
    if (colon == std::string::npos || colon + 1 == addr.size()) {
        std::fprintf(stderr, "usage: uws-echo ADDR   (e.g. 127.0.0.1:9305)\n");
        return 2;
    }
    std::string host = addr.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    int port = std::atoi(addr.c_str() + colon + 1);

    uWS::App()
        .ws<PerSocketData>("/*", {
            .compression = uWS::DISABLED,
            .maxPayloadLength = kMaxSize,
            .maxBackpressure = kMaxSize,
            .message = [](auto *ws, std::string_view message, uWS::OpCode opCode) {
                ws->send(message, opCode);
            },
        })
        .listen(host, port, [&addr](auto *listenSocket) {
            if (listenSocket) {
                std::fprintf(stderr, "uws-echo listening on ws://%s\n", addr.c_str());
            } else {
                std::fprintf(stderr, "uws-echo: cannot listen on %s\n", addr.c_str());
                std::exit(1);
            }
        })
        .run();
    return 0;
}
