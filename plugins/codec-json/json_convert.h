// The value encoding of application/json shared by codec-json and codec-jsonrpc: a payload
// (JSON text, raw bytes or a protobuf message) to one JSON value and back. Protobuf messages are
// written with proto field names, enums as numbers, 64-bit integers as JSON numbers and zero
// values omitted (go-micro's encoding/json on generated structs), and read from either original
// or lowerCamel names, 64-bit integers as numbers or strings.
#pragma once

#include <string>
#include <string_view>

#include "micro/codec.h"

namespace micro::json_convert {

/// Encodes in as JSON text into out (replacing it), without a trailing newline: JSON text is
/// validated and compacted (tokens kept byte for byte), bytes are copied unchanged, a protobuf
/// message is printed as described above. Thread-safe. Throws Error{bad_request} "<who>: ..."
/// when JSON text is invalid or a message cannot be printed.
void encode(const codec::Payload& in, std::string& out, std::string_view who);

/// Decodes data into out: bytes copied unchanged; JSON text validated (trailing whitespace
/// removed); a protobuf message parsed (empty or `null` gives the default message, unknown
/// keys ignored). Thread-safe. Throws Error{bad_request} "<who>: ..." on malformed data.
void decode(std::string_view data, const codec::Payload& out, std::string_view who);

/// Whether s is exactly one valid JSON value (surrounding whitespace allowed).
bool valid_json(std::string_view s);

/// s without insignificant whitespace; every token (numbers included) kept byte for byte.
/// Precondition: valid_json(s).
std::string compact(std::string_view s);

}  // namespace micro::json_convert
