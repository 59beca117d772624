// A streaming reader of HTTP/1.x message heads (RFC 9112 §2): the start
// line and the header fields, fed in pieces as recv() returns them, up to
// the empty line. It keeps what `twstack serve --mode http` and `twstack
// churn` need -- the method or status code, the version, Content-Length and
// the Connection tokens -- and no copy of the head: per line it holds at
// most kLineKeep bytes, so every connection's parser is a fixed size and
// nothing is allocated on the packet path.
//
//   HttpHead h;
//   std::size_t used = h.feed(bytes);   // bytes of `bytes` that belong to the head
//   if (h.done()) { ... h.keep_alive() ...; h.reset(); }   // the body starts at bytes[used]
//   if (h.failed()) { ... answer 400 / count, close ... }
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace twstack::app {

class HttpHead {
 public:
  // Longest start line or header line kept for inspection; longer ones are
  // read past (their tail ignored), so a long User-Agent is harmless.
  static constexpr std::size_t kLineKeep = 96;
  // A head longer than this fails (nginx's default large_client_header_buffers is 8 KiB).
  static constexpr std::size_t kMaxHead = 8192;

  // Consumes bytes up to the end of the head (or all of them); returns how
  // many it took. After done() or failed() it takes nothing.
  std::size_t feed(std::span<const std::uint8_t> bytes);
  void reset() { *this = HttpHead{}; }

  bool done() const { return state_ == State::kDone; }
  bool failed() const { return state_ == State::kFailed; }

  // Start line: a request ("GET / HTTP/1.1") or a response ("HTTP/1.1 200 OK").
  bool is_response() const { return response_; }
  std::uint16_t status() const { return status_; }  // responses only
  bool http10() const { return minor_ == 0; }
  // Content-Length, or 0 when absent (a request without a body; twstack's
  // responses always carry one).
  std::uint64_t content_length() const { return content_length_; }
  bool has_content_length() const { return has_length_; }
  // RFC 9112 §9.3: HTTP/1.1 persists unless "Connection: close"; HTTP/1.0
  // only with "Connection: keep-alive".
  bool keep_alive() const { return http10() ? conn_keep_alive_ : !conn_close_; }
  bool connection_close() const { return conn_close_; }

 private:
  enum class State : std::uint8_t { kLine, kDone, kFailed };
  void keep(const std::uint8_t* p, std::size_t n);
  void end_line(std::string_view line, bool empty);
  bool start_line(std::string_view line);
  void header_line(std::string_view line);

  State state_ = State::kLine;
  bool first_line_ = true;
  bool response_ = false;
  bool has_length_ = false;
  bool conn_close_ = false;
  bool conn_keep_alive_ = false;
  std::uint8_t minor_ = 1;
  std::uint16_t status_ = 0;
  std::uint16_t line_len_ = 0;  // bytes of the current line (capped at kLineKeep)
  std::uint32_t total_ = 0;     // bytes of the head so far
  std::uint64_t content_length_ = 0;
  char line_[kLineKeep] = {};
};

}  // namespace twstack::app
