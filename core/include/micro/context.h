// The per-call context: metadata in both directions, the deadline, and the caller's name.
#pragma once

#include <string>

#include "micro/component.h"
#include "micro/metadata.h"

namespace micro {

/// Owned by the caller of a call (client side) or by the server for one request.
/// Not thread-safe: one call, one thread at a time.
struct Context {
  /// Client: sent as request headers. Server: every header the request carried.
  Metadata metadata;
  /// Client: headers of the reply. Server: extra headers to send with the reply.
  Metadata response_metadata;
  /// When the call must be over. Client: capped by the call timeout; sent as `Timeout`.
  /// Server: from the request's `Timeout` header.
  Deadline deadline = no_deadline;
  /// Server: the caller's service (Micro-From-Service), "" when unknown.
  std::string from_service;
};

}  // namespace micro
