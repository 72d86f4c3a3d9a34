// One connection, from its AUTH line to its close: the verbs of docs/protocol.md §3–§8.
#pragma once

#include "io/socket.h"

namespace bv::server {

class Server;

void RunSession(Server* server, io::Socket* socket);

}  // namespace bv::server
