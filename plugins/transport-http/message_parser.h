// transport-http: a Beast parser that writes an HTTP request or response straight into a
// transport::Message (no intermediate fields container). Header names are stored in Go's
// canonical form, the first value of a repeated header wins (as go-micro copies v[0]).
#pragma once

#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <string>

#include "micro/metadata.h"
#include "micro/transport.h"

namespace micro::plugins::http {

namespace bhttp = boost::beast::http;

template <bool isRequest>
class MessageParser final : public bhttp::basic_parser<isRequest> {
  using sv = boost::beast::string_view;
  using ec_t = boost::beast::error_code;

 public:
  MessageParser(transport::Message& m, std::size_t max_fields) : m_(m), max_fields_(max_fields) {}

  /// Response status code and "<code> <reason>" (responses only).
  int status() const noexcept { return status_; }
  const std::string& status_line() const noexcept { return status_line_; }

 private:
  void on_request_impl(bhttp::verb, sv, sv, int, ec_t&) override {}  // any method and target
  void on_response_impl(int code, sv reason, int, ec_t&) override {
    status_ = code;
    status_line_ = std::to_string(code);
    status_line_ += ' ';
    status_line_.append(reason.data(), reason.size());
  }
  void on_field_impl(bhttp::field f, sv name, sv value, ec_t& ec) override {
    if (++fields_ > max_fields_) {
      ec = bhttp::error::header_limit;
      return;
    }
    // Go moves Host out of the header map and consumes Transfer-Encoding.
    if ((isRequest && f == bhttp::field::host) || f == bhttp::field::transfer_encoding) return;
    // Go and micro-cpp both write headers sorted by name, so the end of the map is the right
    // hint and the insert is O(1).
    m_.header.try_emplace(m_.header.end(), canonical_header({name.data(), name.size()}),
                          value.data(), value.size());
  }
  void on_header_impl(ec_t&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& len, ec_t&) override {
    if (len) m_.body.reserve(static_cast<std::size_t>(*len));
  }
  std::size_t on_body_impl(sv body, ec_t&) override {
    m_.body.append(body.data(), body.size());
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, sv, ec_t&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, sv body, ec_t&) override {
    m_.body.append(body.data(), body.size());
    return body.size();
  }
  void on_finish_impl(ec_t&) override {}

  transport::Message& m_;
  std::size_t max_fields_;
  std::size_t fields_ = 0;
  int status_ = 0;
  std::string status_line_;
};

}  // namespace micro::plugins::http
