// micro-cpp: the one error model. Every failure the framework reports is a micro::Error:
// a code from micro::Errc (what kind of failure) plus go-micro's error payload
// {"id","code","detail","status"} so errors cross the wire unchanged (spec/gomicro-wire.md §2.4).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

namespace micro {

/// What went wrong, independent of the HTTP-like status carried on the wire.
enum class Errc {
  ok = 0,
  bad_request,   ///< malformed input from a peer or a caller (400)
  unauthorized,  ///< 401
  forbidden,     ///< 403
  not_found,     ///< unknown service, endpoint or key (404)
  timeout,       ///< deadline exceeded (408)
  conflict,      ///< 409
  too_large,     ///< a size limit was exceeded (413)
  internal,      ///< a bug or an unexpected failure (500)
  unavailable,   ///< no node, connection refused, peer gone (503)
  closed,        ///< the socket, listener or component was closed
  config,        ///< invalid configuration: the message names the key path
  plugin,        ///< a plugin could not be loaded: see micro::PluginError::stage()
};

/// The std::error_category of micro::Errc ("micro").
const std::error_category& error_category() noexcept;
inline std::error_code make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

/// go-micro's status text for an HTTP-like code (Go's http.StatusText), "" if unknown.
std::string_view status_text(int32_t code) noexcept;

/// An error as go-micro models it, thrown by every micro-cpp API on failure.
/// what() is the go-micro JSON form when an id or code is set, else the detail.
class Error : public std::runtime_error {
 public:
  Error(Errc errc, std::string detail, std::string id = {}, int32_t code = 0);
  Error(const Error&) = default;
  Error& operator=(const Error&) = default;
  /// Out of line: the vtable lives in libmicro_core, so an Error thrown by a plugin stays valid
  /// after that plugin is unloaded.
  ~Error() override;

  Errc errc() const noexcept { return errc_; }
  std::error_code error_code() const noexcept { return make_error_code(errc_); }
  const std::string& id() const noexcept { return id_; }
  int32_t code() const noexcept { return code_; }
  const std::string& detail() const noexcept { return detail_; }
  std::string status() const { return std::string(status_text(code_)); }

  /// go-micro's JSON: {"id":..,"code":..,"detail":..,"status":..}, empty fields omitted (v2+).
  std::string to_json() const;
  /// Parses go-micro's error string (errors.Parse): JSON when it decodes, else the whole text
  /// becomes the detail with code 0. Never throws.
  static Error parse(std::string_view text);

 private:
  Errc errc_;
  std::string id_;
  int32_t code_;
  std::string detail_;
};

/// Maps a wire code (400, 404, 408, 500, ...) to an Errc; unknown codes map to internal.
Errc errc_from_code(int32_t code) noexcept;
/// The wire code for an Errc (0 for ok/closed/config/plugin where no HTTP analogue is meant).
int32_t code_from_errc(Errc e) noexcept;

/// go-micro's helpers: errors.BadRequest(id, detail) etc.
namespace errors {
Error bad_request(std::string id, std::string detail);
Error unauthorized(std::string id, std::string detail);
Error forbidden(std::string id, std::string detail);
Error not_found(std::string id, std::string detail);
Error timeout(std::string id, std::string detail);
Error conflict(std::string id, std::string detail);
Error internal(std::string id, std::string detail);
Error unavailable(std::string id, std::string detail);
}  // namespace errors

}  // namespace micro

template <>
struct std::is_error_code_enum<micro::Errc> : std::true_type {};
