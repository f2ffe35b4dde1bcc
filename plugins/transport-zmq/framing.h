// The wire framing of transport-zmq (see README.md, "Framing"): every message is a multipart
// ZeroMQ message [channel id][header][body] (data) or [channel id][op] (control); the ROUTER
// side sees the peer's routing id in front. These helpers encode and validate the frames.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "micro/metadata.h"

namespace micro::plugins::zmqt {

/// Control opcodes (the single byte of a control frame).
inline constexpr unsigned char kOpClose = 0x01;

/// The channel id as 8 bytes, big-endian.
std::string encode_channel(uint64_t id);
/// The channel id of an 8-byte frame; nullopt for any other size.
std::optional<uint64_t> decode_channel(std::string_view frame);

/// Header map as: u32 count, then count x (u32 key length, key, u32 value length, value),
/// all integers big-endian.
std::string encode_header(const Metadata& h);
/// Decodes a header frame into h. Returns false (h unspecified) when the frame is malformed:
/// truncated, trailing bytes, more than 4096 entries or an empty key.
bool decode_header(std::string_view frame, Metadata& h);

/// "host:port" -> "tcp://host:port"; "tcp://..." and "ipc://..." unchanged. An empty host is
/// "*" when binding and 127.0.0.1 when connecting. Throws Error{unavailable} for anything
/// else (the message names the address).
std::string to_endpoint(std::string_view addr, bool bind);
/// The address form a caller sees: "tcp://h:p" -> "h:p", "ipc://p" unchanged.
std::string from_endpoint(std::string_view endpoint);

}  // namespace micro::plugins::zmqt
