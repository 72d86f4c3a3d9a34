// One connection, from its AUTH line to its close: the verbs of docs/protocol.md §3–§8.
#pragma once

#include "io/socket.h"
#include "server/admission.h"

namespace bv::server {

class Server;

// `ticket`: the connection's slot, told when the session authenticates.
void RunSession(Server* server, io::Socket* socket, Admission::Ticket* ticket);

}  // namespace bv::server
