#include "apps/workloads/serve_app.hh"

#include <algorithm>

namespace twstack::app {

using engine::AppEvent;
using engine::ConnId;

const char* serve_mode_name(ServeMode m) {
  switch (m) {
    case ServeMode::kDiscard: return "discard";
    case ServeMode::kEcho: return "echo";
    case ServeMode::kHttp: return "http";
  }
  return "?";
}

namespace {

std::string http_response(std::uint32_t body_bytes, bool close) {
  std::string r = "HTTP/1.1 200 OK\r\nServer: twstack\r\nContent-Type: text/plain\r\nContent-Length: " +
                  std::to_string(body_bytes) + "\r\nConnection: " + (close ? "close" : "keep-alive") + "\r\n\r\n";
  // A body a person can check by eye: lines of the alphabet, ending in a newline.
  for (std::uint32_t i = 0; i < body_bytes; ++i) {
    r += (i + 1 == body_bytes || i % 64 == 63) ? '\n' : static_cast<char>('a' + i % 64 % 26);
  }
  return r;
}

}  // namespace

ServeApp::ServeApp(engine::QueueEngine& eng, const ServeSettings& s, std::uint32_t max_connections)
    : eng_(eng),
      s_(s),
      conns_(max_connections),
      ok_keep_(http_response(s.body_bytes, false)),
      ok_close_(http_response(s.body_bytes, true)),
      bad_("HTTP/1.1 400 Bad Request\r\nServer: twstack\r\nContent-Length: 0\r\nConnection: close\r\n\r\n") {}

Errc ServeApp::start() {
  for (std::uint16_t p : s_.ports) {
    if (Errc e = eng_.listen(p, s_.backlog); e != Errc::kOk) return e;
  }
  return Errc::kOk;
}

Errc ServeApp::restart(bool reuseaddr) {
  Errc first = Errc::kOk;
  for (std::uint16_t p : s_.ports) {
    eng_.unlisten(p);
    engine::Bound b;
    Errc e = eng_.bind({}, p, reuseaddr, &b);
    if (e != Errc::kOk && !reuseaddr) {
      first = first == Errc::kOk ? e : first;
      e = eng_.bind({}, p, true, &b);  // as the restarted server would, told to set SO_REUSEADDR
      if (stats_.restart_rebind == Errc::kOk) stats_.restart_rebind = e;
    }
    if (e == Errc::kOk) {
      e = eng_.listen(b, s_.backlog);
      if (e != Errc::kOk) eng_.unbind(b);
    }
    first = first == Errc::kOk ? e : first;
  }
  ++stats_.restarts;
  if (stats_.restart_bind == Errc::kOk) stats_.restart_bind = first;
  return first;
}

void ServeApp::stop() {
  stopping_ = true;
  for (std::uint16_t p : s_.ports) eng_.unlisten(p);
  for (std::uint32_t i = 0; i < conns_.size(); ++i) {
    if (conns_[i].live) finish(conns_[i], ConnId{i, conns_[i].gen}, true);
  }
}

ServeApp::Conn* ServeApp::conn_of(ConnId id) {
  if (id.index >= conns_.size()) return nullptr;
  Conn& c = conns_[id.index];
  return c.live && c.gen == id.gen ? &c : nullptr;
}

void ServeApp::accept_all(std::uint16_t port) {
  while (std::optional<ConnId> id = eng_.accept(port)) {
    if (stopping_) {
      eng_.close(*id);
      continue;
    }
    conns_[id->index] = Conn{};
    conns_[id->index].gen = id->gen;
    conns_[id->index].live = true;
    conns_[id->index].last = eng_.now();
    ++stats_.accepted;
    if (!first_accept_) first_accept_ = eng_.now();
    ++live_;
    // Responses are whole messages written at once: Nagle would only delay them.
    eng_.set_nodelay(*id, true);
  }
}

void ServeApp::on_event(const AppEvent& ev) {
  if (ev.kind == AppEvent::Kind::kAcceptReady) return accept_all(ev.port);
  Conn* c = conn_of(ev.conn);
  if (c == nullptr) return;
  c->last = eng_.now();
  if ((ev.events & tcp::kEvClosed) != 0) {
    if (ev.error != Errc::kOk) ++stats_.aborted;
    return finish(*c, ev.conn, false);
  }
  read_all(*c, ev.conn);
  if (!c->live) return;
  if ((ev.events & tcp::kEvPeerClosed) != 0) c->peer_closed = true;
  if (!flush(*c, ev.conn)) return;
  // Echo reads only what it can send at once (below): more may be waiting.
  if (s_.mode == ServeMode::kEcho) {
    read_all(*c, ev.conn);
    if (!c->live || !flush(*c, ev.conn)) return;
  }
  const bool all_out = c->pending == 0;
  bool done = false;
  if (s_.mode == ServeMode::kHttp) {
    done = all_out && c->close_after;
  } else if (s_.closer == Closer::kServer) {
    done = all_out && c->read >= std::uint64_t{s_.request_bytes} * s_.requests_per_conn;
  }
  // The peer's FIN: answer with ours, unless holding (CLOSE_WAIT until idle_timeout or stop()).
  if (all_out && c->peer_closed && !s_.hold) done = true;
  if (done) finish(*c, ev.conn, !c->peer_closed);
}

void ServeApp::tick(Instant now) {
  if (s_.restart_after.us > 0 && stats_.restarts == 0 && first_accept_ && now - *first_accept_ >= s_.restart_after &&
      !stopping_) {
    restart(s_.restart_reuseaddr);
  }
  const Duration idle = s_.idle_timeout;
  if (idle.us <= 0 || now < next_scan_) return;
  next_scan_ = now + Duration::micros(std::min<std::int64_t>(idle.us / 16, 1000000));
  for (std::uint32_t i = 0; i < conns_.size(); ++i) {
    Conn& c = conns_[i];
    if (!c.live || now - c.last < idle) continue;
    c.live = false;
    --live_;
    ++stats_.closed;
    ++stats_.server_closed;
    ++stats_.idle_closed;
    eng_.abort(ConnId{i, c.gen});
  }
}

void ServeApp::read_all(Conn& c, ConnId id) {
  for (;;) {
    std::span<std::uint8_t> into(buf_);
    if (s_.mode == ServeMode::kEcho) {
      // Read no more than the send buffer takes, so nothing read is ever
      // held here: the peer is flow-controlled by our receive window.
      const tcp::Tcb* t = eng_.tcb(id);
      const std::uint32_t room = t == nullptr ? 0 : t->snd.space();
      if (room <= c.pending) return;
      into = into.first(std::min<std::size_t>(into.size(), room - c.pending));
    }
    const std::uint32_t n = eng_.recv(id, into);
    if (n == 0) return;
    stats_.bytes_in += n;
    c.read += n;
    if (s_.mode == ServeMode::kEcho) {
      Errc err = Errc::kOk;
      const std::uint32_t sent = eng_.send(id, into.first(n), &err);
      stats_.bytes_out += sent;
      if (sent != n) {
        // The buffer pool ran dry: what was read cannot be echoed. Abort
        // rather than silently drop part of the stream.
        ++stats_.aborted;
        eng_.abort(id);
        return finish(c, id, false);
      }
    } else if (s_.mode == ServeMode::kHttp) {
      consume_http(c, into.first(n));
    }
  }
}

// Requests may arrive in pieces or pipelined: each complete head queues
// one response. Request bodies (Content-Length) are read past.
void ServeApp::consume_http(Conn& c, std::span<const std::uint8_t> bytes) {
  while (!bytes.empty() && !c.close_after) {
    const std::size_t used = c.head.feed(bytes);
    bytes = bytes.subspan(used);
    if (c.head.failed()) {
      ++stats_.bad_requests;
      ++c.pending;
      c.close_after = true;
      return;
    }
    if (!c.head.done()) return;
    ++stats_.requests;
    ++c.pending;
    const bool wants_close = !c.head.keep_alive();
    if (wants_close && s_.closer == Closer::kServer) c.close_after = true;
    // Bodies are not expected from churn or curl GETs; skip what fits here.
    const std::size_t skip = std::min<std::uint64_t>(c.head.content_length(), bytes.size());
    bytes = bytes.subspan(skip);
    c.pending_close = c.pending_close || wants_close;
    c.head.reset();
  }
}

bool ServeApp::flush(Conn& c, ConnId id) {
  if (s_.mode == ServeMode::kHttp) return flush_http(c, id);
  return true;  // echo sends as it reads; discard sends nothing
}

bool ServeApp::flush_http(Conn& c, ConnId id) {
  while (c.pending > 0) {
    // The last response of a closing connection says so; a failed parse gets 400.
    const bool last = c.pending == 1;
    const std::string& r = (last && c.head.failed()) ? bad_ : (last && c.pending_close) ? ok_close_ : ok_keep_;
    Errc err = Errc::kOk;
    const auto* p = reinterpret_cast<const std::uint8_t*>(r.data()) + c.offset;
    const std::uint32_t n = eng_.send(id, std::span(p, r.size() - c.offset), &err);
    if (err != Errc::kOk) {
      ++stats_.aborted;
      eng_.abort(id);
      finish(c, id, false);
      return false;
    }
    stats_.bytes_out += n;
    c.offset += n;
    if (c.offset < r.size()) return true;  // kEvWritable brings us back
    c.offset = 0;
    --c.pending;
  }
  return true;
}

void ServeApp::finish(Conn& c, ConnId id, bool by_us) {
  c.live = false;
  --live_;
  ++stats_.closed;
  if (by_us) ++stats_.server_closed;
  eng_.close(id);
}

}  // namespace twstack::app
