// The error model: go-micro's error JSON (keys id, code, detail, status in that order, empty
// ones omitted as in v2+), errors.Parse of JSON and of plain text.
#include <catch2/catch.hpp>

#include "micro/errors.h"

using micro::Errc;
using micro::Error;

TEST_CASE("to_json writes go-micro's keys in go-micro's order") {
  Error e = micro::errors::timeout("go.micro.client", "context deadline exceeded");
  CHECK(
      e.to_json() ==
      R"({"id":"go.micro.client","code":408,"detail":"context deadline exceeded","status":"Request Timeout"})");
}

TEST_CASE("to_json omits empty fields as go-micro v2+ does") {
  CHECK(Error(Errc::internal, "boom").to_json() == R"({"detail":"boom"})");
  CHECK(Error(Errc::not_found, "", "svc", 404).to_json() ==
        R"({"id":"svc","code":404,"status":"Not Found"})");
}

TEST_CASE("what() is the go-micro JSON when an id or code is set, else the detail") {
  CHECK(std::string(micro::errors::bad_request("x", "bad").what()) ==
        micro::errors::bad_request("x", "bad").to_json());
  CHECK(std::string(Error(Errc::config, "cfg: a: wrong").what()) == "cfg: a: wrong");
}

TEST_CASE("to_json then parse gives back the same error") {
  for (const Error& e :
       {micro::errors::bad_request("a", "b"), micro::errors::unauthorized("a", "b"),
        micro::errors::forbidden("a", "b"), micro::errors::not_found("a", "b"),
        micro::errors::timeout("a", "b"), micro::errors::conflict("a", "b"),
        micro::errors::internal("a", "quote \" and \\ and \n newline"),
        micro::errors::unavailable("a", "b")}) {
    Error back = Error::parse(e.to_json());
    CHECK(back.id() == e.id());
    CHECK(back.code() == e.code());
    CHECK(back.detail() == e.detail());
    CHECK(back.status() == e.status());
    CHECK(back.errc() == e.errc());
    CHECK(back.to_json() == e.to_json());
  }
}

TEST_CASE("parse reads a go-micro error produced by Go") {
  Error e = Error::parse(
      R"({"id":"go.micro.srv.greeter","code":500,"detail":"oops","status":"Internal Server Error"})");
  CHECK(e.id() == "go.micro.srv.greeter");
  CHECK(e.code() == 500);
  CHECK(e.detail() == "oops");
  CHECK(e.errc() == Errc::internal);
  CHECK(Error::parse(R"({"id":"x","code":404,"detail":"gone"})").errc() == Errc::not_found);
}

TEST_CASE("parse of plain text keeps the whole text as the detail with code 0") {
  Error e = Error::parse("rpc: can't find service Greeter");
  CHECK(e.detail() == "rpc: can't find service Greeter");
  CHECK(e.code() == 0);
  CHECK(e.id().empty());
  CHECK(Error::parse("{not json").detail() == "{not json");
  CHECK(Error::parse("").code() == 0);
}

TEST_CASE("status text and code mapping follow Go's http.StatusText") {
  CHECK(micro::status_text(408) == "Request Timeout");
  CHECK(micro::status_text(503) == "Service Unavailable");
  CHECK(micro::status_text(999).empty());
  CHECK(micro::errc_from_code(404) == Errc::not_found);
  CHECK(micro::errc_from_code(418) == Errc::internal);
  CHECK(micro::code_from_errc(Errc::timeout) == 408);
  CHECK(micro::code_from_errc(Errc::config) == 0);
}

TEST_CASE("micro::Errc is a std::error_code enum in the micro category") {
  std::error_code ec = Errc::timeout;
  CHECK(ec.category().name() == std::string("micro"));
  CHECK(Error(Errc::closed, "x").error_code() == std::error_code(Errc::closed));
  CHECK(ec != std::error_code(Errc::internal));
}
