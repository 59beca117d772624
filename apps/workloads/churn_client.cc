#include "apps/workloads/churn_client.hh"

#include <algorithm>

namespace twstack::app {

using engine::AppEvent;
using engine::ConnId;

namespace {

constexpr Duration kRetryDelay = Duration::millis(1);
constexpr Duration kLate = Duration::millis(1);

std::string http_request(bool close) {
  return std::string("GET / HTTP/1.1\r\nHost: twstack\r\nUser-Agent: twstack-churn\r\nConnection: ") +
         (close ? "close" : "keep-alive") + "\r\n\r\n";
}

}  // namespace

ChurnClient::ChurnClient(engine::QueueEngine& eng, const ChurnClientSettings& s, std::uint32_t max_connections)
    : eng_(eng),
      s_(s),
      conns_(max_connections),
      req_keep_(http_request(false)),
      req_close_(http_request(true)),
      echo_req_(s.request_bytes, 'x') {}

void ChurnClient::start(Instant now) {
  start_ = now;
  running_ = true;
  next_k_ = 0;
  if (s_.rate == 0) {
    for (std::uint32_t i = 0; i < s_.inflight; ++i) attempt(now);
  }
}

Instant ChurnClient::due(std::uint64_t k) const {
  const std::uint64_t global = k * s_.stride + s_.offset;
  return start_ + Duration::micros(static_cast<std::int64_t>(global * 1000000 / s_.rate));
}

std::optional<Instant> ChurnClient::next_due() const {
  if (!running_) return std::nullopt;
  if (s_.rate > 0) return due(next_k_);
  if (!retries_.empty()) return retries_.front();
  return std::nullopt;
}

void ChurnClient::tick(Instant now) {
  if (!running_) return;
  std::uint32_t made = 0;
  const bool bounded = s_.window.us > 0;
  while (s_.rate > 0 && made < kMaxBurst && due(next_k_) <= now && (!bounded || due(next_k_) < start_ + s_.window)) {
    if (now - due(next_k_) > kLate) ++n_.late;
    attempt(now);
    ++next_k_;
    ++made;
  }
  if (s_.rate == 0 && bounded && now >= start_ + s_.window) {
    retries_.clear();
    running_ = false;  // flat out: the window is over, open no more
  }
  while (!retries_.empty() && retries_.front() <= now && made < kMaxBurst) {
    retries_.pop_front();
    attempt(now);
    ++made;
  }
}

void ChurnClient::stop(bool close_all) {
  running_ = false;
  retries_.clear();
  if (!close_all) return;
  for (std::uint32_t i = 0; i < conns_.size(); ++i) {
    if (conns_[i].live) {
      conns_[i].live = false;
      --live_;
      eng_.close(ConnId{i, conns_[i].gen});
    }
  }
}

ChurnClient::Conn* ChurnClient::conn_of(ConnId id) {
  if (id.index >= conns_.size()) return nullptr;
  Conn& c = conns_[id.index];
  return c.live && c.gen == id.gen ? &c : nullptr;
}

void ChurnClient::fail(Errc e, Instant now) {
  ++n_.failed;
  ++n_.errors[static_cast<std::uint8_t>(e)];
  if (!first_failure_) {
    first_failure_ = now - start_;
    first_errno_ = e;
  }
}

void ChurnClient::attempt(Instant now) {
  const std::uint64_t k = n_.attempts++;
  const std::uint64_t global = k * s_.stride + s_.offset;
  const ChurnTarget& t = s_.targets[global % s_.targets.size()];
  // Every target from one source, then every target from the next: each
  // 4-tuple space (source x target) is used evenly.
  const wire::Ipv4Addr src =
      s_.sources.empty() ? wire::Ipv4Addr{} : s_.sources[(global / s_.targets.size()) % s_.sources.size()];
  ConnId id;
  if (Errc e = eng_.connect(t.ip, t.port, &id, src); e != Errc::kOk) {
    fail(e, now);
    if (s_.rate == 0) retries_.push_back(now + kRetryDelay);
    return;
  }
  conns_[id.index] = Conn{};
  conns_[id.index].gen = id.gen;
  conns_[id.index].live = true;
  conns_[id.index].opened = now;
  ++live_;
  // Requests are whole messages written at once (HTTP clients set TCP_NODELAY too).
  eng_.set_nodelay(id, true);
}

void ChurnClient::on_event(const AppEvent& ev) {
  if (ev.kind != AppEvent::Kind::kConnection) return;
  Conn* c = conn_of(ev.conn);
  if (c == nullptr) return;
  if ((ev.events & tcp::kEvEstablished) != 0 && !c->established) {
    c->established = true;
    ++n_.ok;
    connect_us_.record(static_cast<std::uint64_t>((eng_.now() - c->opened).us));
  }
  read(*c, ev.conn);
  if (!c->live) return;
  if ((ev.events & tcp::kEvClosed) != 0) return end(*c, ev.conn, ev.error);
  if (c->established && !send_request(*c, ev.conn)) return;
  const bool done = c->responses >= s_.requests_per_conn;
  if ((done && s_.closer == Closer::kClient) || (ev.events & tcp::kEvPeerClosed) != 0) {
    end(*c, ev.conn, Errc::kOk);
  }
}

const std::string& ChurnClient::request_for(const Conn& c) const {
  if (s_.proto == ChurnProto::kEcho) return echo_req_;
  const bool last = c.requests_sent + 1 >= s_.requests_per_conn;
  return last && s_.closer == Closer::kServer ? req_close_ : req_keep_;
}

// One request at a time: the next goes out when the previous response is in.
bool ChurnClient::send_request(Conn& c, ConnId id) {
  while (c.requests_sent < s_.requests_per_conn && c.requests_sent == c.responses) {
    const std::string& r = request_for(c);
    Errc err = Errc::kOk;
    const auto* p = reinterpret_cast<const std::uint8_t*>(r.data()) + c.req_offset;
    const std::uint32_t n = eng_.send(id, std::span(p, r.size() - c.req_offset), &err);
    if (err != Errc::kOk) {
      eng_.abort(id);
      end(c, id, err);
      return false;
    }
    c.req_offset += n;
    if (c.req_offset < r.size()) return true;  // kEvWritable brings us back
    c.req_offset = 0;
    ++c.requests_sent;
    if (s_.proto == ChurnProto::kEcho) c.echo_left = s_.request_bytes;
  }
  return true;
}

void ChurnClient::read(Conn& c, ConnId id) {
  while (std::uint32_t n = eng_.recv(id, buf_)) {
    std::span<const std::uint8_t> bytes(buf_.data(), n);
    if (s_.proto == ChurnProto::kHttp) {
      consume_http(c, bytes);
      continue;
    }
    const std::uint32_t take = std::min(n, c.echo_left);
    c.echo_left -= take;
    if (take > 0 && c.echo_left == 0) response_done(c);
  }
}

void ChurnClient::consume_http(Conn& c, std::span<const std::uint8_t> bytes) {
  while (!bytes.empty()) {
    if (!c.in_body) {
      bytes = bytes.subspan(c.head.feed(bytes));
      if (c.head.failed()) {
        ++n_.bad_responses;
        c.head.reset();
        return;  // the rest of the stream cannot be framed; EOF or the close ends it
      }
      if (!c.head.done()) return;
      if (c.head.status() < 200 || c.head.status() > 299) ++n_.bad_responses;
      c.body_left = c.head.content_length();
      c.in_body = true;
    }
    const std::uint64_t take = std::min<std::uint64_t>(c.body_left, bytes.size());
    c.body_left -= take;
    bytes = bytes.subspan(take);
    if (c.body_left == 0) {
      c.in_body = false;
      c.head.reset();
      response_done(c);
    }
  }
}

void ChurnClient::response_done(Conn& c) {
  if (c.responses == 0) response_us_.record(static_cast<std::uint64_t>((eng_.now() - c.opened).us));
  ++c.responses;
  ++n_.requests;
}

// The client is done with a connection: closed by us (`why` kOk), or
// ended by the stack with `why` (kEvClosed). close() also releases the handle of a
// connection the stack already closed.
void ChurnClient::end(Conn& c, ConnId id, Errc why) {
  c.live = false;
  --live_;
  eng_.close(id);
  if (!c.established) {
    fail(why == Errc::kOk ? Errc::kConnReset : why, eng_.now());
  } else if (why != Errc::kOk) {
    ++n_.broken;
    ++n_.errors[static_cast<std::uint8_t>(why)];
  } else if (c.responses >= s_.requests_per_conn) {
    ++n_.completed;
  } else {
    ++n_.broken;  // closed cleanly before every response came: a short answer
  }
  if (s_.rate == 0 && running_) attempt(eng_.now());
}

}  // namespace twstack::app
