#include "micro/errors.h"

#include <nlohmann/json.hpp>

namespace micro {
namespace {

class Category : public std::error_category {
 public:
  const char* name() const noexcept override { return "micro"; }
  std::string message(int ev) const override {
    switch (static_cast<Errc>(ev)) {
      case Errc::ok: return "ok";
      case Errc::bad_request: return "bad request";
      case Errc::unauthorized: return "unauthorized";
      case Errc::forbidden: return "forbidden";
      case Errc::not_found: return "not found";
      case Errc::timeout: return "timeout";
      case Errc::conflict: return "conflict";
      case Errc::too_large: return "too large";
      case Errc::internal: return "internal error";
      case Errc::unavailable: return "unavailable";
      case Errc::closed: return "closed";
      case Errc::config: return "bad configuration";
      case Errc::plugin: return "plugin error";
    }
    return "unknown error";
  }
};

std::string what_of(const std::string& id, int32_t code, const std::string& detail) {
  if (id.empty() && code == 0) return detail;
  nlohmann::ordered_json j;
  if (!id.empty()) j["id"] = id;
  if (code != 0) j["code"] = code;
  if (!detail.empty()) j["detail"] = detail;
  auto st = status_text(code);
  if (!st.empty()) j["status"] = std::string(st);
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

const std::error_category& error_category() noexcept {
  static const Category c;
  return c;
}

std::string_view status_text(int32_t code) noexcept {
  switch (code) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 412: return "Precondition Failed";
    case 413: return "Request Entity Too Large";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return {};
  }
}

Errc errc_from_code(int32_t code) noexcept {
  switch (code) {
    case 0: return Errc::internal;
    case 400: return Errc::bad_request;
    case 401: return Errc::unauthorized;
    case 403: return Errc::forbidden;
    case 404: return Errc::not_found;
    case 408: return Errc::timeout;
    case 409: return Errc::conflict;
    case 413: return Errc::too_large;
    case 503: return Errc::unavailable;
    default: return Errc::internal;
  }
}

int32_t code_from_errc(Errc e) noexcept {
  switch (e) {
    case Errc::bad_request: return 400;
    case Errc::unauthorized: return 401;
    case Errc::forbidden: return 403;
    case Errc::not_found: return 404;
    case Errc::timeout: return 408;
    case Errc::conflict: return 409;
    case Errc::too_large: return 413;
    case Errc::internal: return 500;
    case Errc::unavailable: return 503;
    default: return 0;
  }
}

Error::Error(Errc errc, std::string detail, std::string id, int32_t code)
    : std::runtime_error(what_of(id, code, detail)),
      errc_(errc),
      id_(std::move(id)),
      code_(code),
      detail_(std::move(detail)) {}

Error::~Error() = default;

std::string Error::to_json() const {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  if (!id_.empty()) j["id"] = id_;
  if (code_ != 0) j["code"] = code_;
  if (!detail_.empty()) j["detail"] = detail_;
  auto st = status_text(code_);
  if (!st.empty()) j["status"] = std::string(st);
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Error Error::parse(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_object() && (j.contains("id") || j.contains("code") || j.contains("detail"))) {
    std::string id = j.value("id", "");
    std::string detail = j.value("detail", "");
    int32_t code = 0;
    if (auto it = j.find("code"); it != j.end() && it->is_number_integer())
      code = it->get<int32_t>();
    return Error(errc_from_code(code), std::move(detail), std::move(id), code);
  }
  return Error(Errc::internal, std::string(text));
}

namespace errors {
Error bad_request(std::string id, std::string d) {
  return {Errc::bad_request, std::move(d), std::move(id), 400};
}
Error unauthorized(std::string id, std::string d) {
  return {Errc::unauthorized, std::move(d), std::move(id), 401};
}
Error forbidden(std::string id, std::string d) {
  return {Errc::forbidden, std::move(d), std::move(id), 403};
}
Error not_found(std::string id, std::string d) {
  return {Errc::not_found, std::move(d), std::move(id), 404};
}
Error timeout(std::string id, std::string d) {
  return {Errc::timeout, std::move(d), std::move(id), 408};
}
Error conflict(std::string id, std::string d) {
  return {Errc::conflict, std::move(d), std::move(id), 409};
}
Error internal(std::string id, std::string d) {
  return {Errc::internal, std::move(d), std::move(id), 500};
}
Error unavailable(std::string id, std::string d) {
  return {Errc::unavailable, std::move(d), std::move(id), 503};
}
}  // namespace errors

}  // namespace micro
