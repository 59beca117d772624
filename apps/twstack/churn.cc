// The churn's application logic: the schedule of connects, what each side
// does on each event, and the per-second bookkeeping.
#include "apps/twstack/churn.hh"

#include <algorithm>
#include <array>
#include <chrono>
#include <deque>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>

#include "stack/engine/options.hh"

namespace twstack::app {

namespace {

using engine::AppEvent;
using engine::ConnId;
using engine::QueueEngine;

constexpr std::uint32_t kListenBacklog = 4096;  // capped by net.core.somaxconn
constexpr std::size_t kReadBuf = 4096;
// With rate 0, a connect() refused at once (no free port, no free
// connection) is tried again this much later: retrying at the same instant
// would spin without the clock ever moving.
constexpr Duration kRetryDelay = Duration::millis(1);

// Both sides on one link with no gateway, so every destination is on-link
// whatever the addresses (127.0.0.1 and 127.0.0.2 included).
engine::Interface interface_for(wire::Ipv4Addr ip, int side) {
  engine::Interface ifc;
  ifc.mac = memory::sim_mac(side);
  ifc.add_addr(ip);
  ifc.prefix_len = 24;
  return ifc;
}

struct ClientConn {
  std::uint32_t gen = 0;
  bool live = false;  // ours until we close() it
  bool established = false;
  std::uint32_t responses = 0;   // read in full
  std::uint32_t resp_bytes = 0;  // of the response being read
  std::uint32_t req_unsent = 0;  // request bytes send() has not taken yet
};

struct ServerConn {
  std::uint32_t gen = 0;
  bool live = false;
  bool peer_closed = false;
  std::uint32_t req_bytes = 0;    // of the request being read
  std::uint32_t answered = 0;     // responses queued
  std::uint32_t resp_unsent = 0;  // response bytes send() has not taken yet
};

class Churn {
 public:
  explicit Churn(const ChurnSettings& s);
  ChurnResult run();

 private:
  void on_event(int side, const AppEvent& ev);
  void on_client(const AppEvent& ev);
  void on_server(const AppEvent& ev);
  void accept_all(std::uint16_t port);
  void attempt();
  void fail(Errc e);
  void client_read(ClientConn& c, ConnId id);
  bool client_send(ClientConn& c, ConnId id);
  void client_end(ClientConn& c, ConnId id, Errc why, bool closed);
  void server_close(ServerConn& s, ConnId id);
  void connection_ended();
  void sample();
  Instant attempt_at(std::uint64_t k) const {
    return start_ + Duration::micros(static_cast<std::int64_t>(k * 1000000 / s_.rate));
  }
  ChurnSecond& second();
  // The app state for an event's connection, or nullptr when it is not
  // (or no longer) ours: an event for a handle already closed.
  template <class T>
  static T* conn_of(std::vector<T>& v, ConnId id) {
    if (id.index >= v.size()) return nullptr;
    T& c = v[id.index];
    return c.live && c.gen == id.gen ? &c : nullptr;
  }

  const ChurnSettings& s_;
  memory::SimPair pair_;
  std::vector<ClientConn> client_;  // by ConnId::index on the client engine
  std::vector<ServerConn> server_;  // by ConnId::index on the server engine
  ChurnResult r_;
  Instant start_{};
  Instant end_{};
  Instant next_sample_{};
  std::uint64_t next_k_ = 0;        // the next scheduled attempt (rate > 0)
  std::deque<Instant> retries_;     // rate 0: slots waiting after a refused connect()
  std::array<std::uint8_t, kReadBuf> rx_buf_{};
  std::array<std::uint8_t, ChurnSettings::kResponseBytes> payload_{};
};

Churn::Churn(const ChurnSettings& s)
    : s_(s),
      pair_(interface_for(s.client_ip, 0), churn_engine_options(s, 0), interface_for(s.server_ip, 1),
            churn_engine_options(s, 1), s.faults, s.seed),
      client_(s.client_config.max_connections),
      server_(s.server_config.max_connections) {
  payload_.fill('x');
}

ChurnResult Churn::run() {
  pair_.preload_arp();
  if (Errc e = pair_.b().listen(s_.server_port, kListenBacklog, s_.server_ip); e != Errc::kOk) {
    throw std::runtime_error(std::string("server: listen failed: ") + errno_name(e));
  }
  start_ = pair_.now();
  end_ = start_ + Duration::seconds(s_.duration_s);
  next_sample_ = start_ + Duration::seconds(1);
  r_.per_second.resize(s_.duration_s);
  for (std::uint32_t i = 0; i < s_.duration_s; ++i) r_.per_second[i].t = i + 1;
  auto on_event = [this](int side, const AppEvent& ev) { this->on_event(side, ev); };
  if (s_.rate == 0) {
    for (std::uint32_t i = 0; i < s_.inflight; ++i) attempt();
  }
  // Each pass stands at one instant: the attempts due now, everything they
  // set off at this instant, the sample at a second's end; then the clock
  // runs to exactly the next instant that matters (run_until stops on its
  // limit and settles there), so attempt k is made at t_k to the
  // microsecond and a sample sees everything up to its second's end.
  for (;;) {
    const Instant now = pair_.now();
    const std::uint64_t attempts = r_.attempts;
    while (s_.rate > 0 && attempt_at(next_k_) <= now && attempt_at(next_k_) < end_) {
      attempt();
      ++next_k_;
    }
    while (!retries_.empty() && retries_.front() <= now) {
      retries_.pop_front();
      attempt();
    }
    if (r_.attempts != attempts) pair_.settle(on_event);
    if (now >= next_sample_) {
      sample();
      next_sample_ += Duration::seconds(1);
    }
    if (now >= end_) break;
    Instant target = std::min(end_, next_sample_);
    if (s_.rate > 0) target = std::min(target, attempt_at(next_k_));
    if (!retries_.empty()) target = std::min(target, retries_.front());
    pair_.run_until([] { return false; }, target - now, on_event);
  }
  for (int side = 0; side < 2; ++side) {
    ChurnSide& out = side == 0 ? r_.client : r_.server;
    out.counters = pair_.side(side).counters();
    out.gauges = pair_.side(side).gauges();
  }
  r_.virtual_time = pair_.now() - start_;
  r_.rounds = pair_.rounds();
  return r_;
}

ChurnSecond& Churn::second() {
  const std::int64_t us = (pair_.now() - start_).us;
  const std::int64_t i = us <= 0 ? 0 : (us - 1) / 1000000;  // (s-1, s] is second s
  return r_.per_second[static_cast<std::size_t>(std::min<std::int64_t>(i, s_.duration_s - 1))];
}

void Churn::sample() {
  ChurnSecond& sec = second();
  sec.client_timewait = pair_.a().gauges().timewait;  // walks every slot: once a second only
  sec.server_timewait = pair_.b().gauges().timewait;
}

void Churn::fail(Errc e) {
  ++r_.failed;
  ++second().failed;
  ++r_.errors[static_cast<std::uint8_t>(e)];
  if (!r_.first_failure) {
    r_.first_failure = pair_.now() - start_;
    r_.first_errno = e;
  }
}

void Churn::attempt() {
  if (pair_.now() >= end_) return;
  ++r_.attempts;
  ConnId id;
  Errc e = pair_.a().connect(s_.server_ip, s_.server_port, &id);
  if (e != Errc::kOk) {
    fail(e);
    if (s_.rate == 0) retries_.push_back(pair_.now() + kRetryDelay);
    return;
  }
  client_[id.index] = ClientConn{.gen = id.gen, .live = true};
  // Requests and responses are whole messages, written once: Nagle would
  // only hold them back (HTTP servers and clients set TCP_NODELAY too).
  pair_.a().set_nodelay(id, true);
}

// With rate 0 every connection that ends, however, makes room for the next.
void Churn::connection_ended() {
  if (s_.rate == 0) attempt();
}

void Churn::on_event(int side, const AppEvent& ev) {
  if (side == 0) {
    on_client(ev);
  } else if (ev.kind == AppEvent::Kind::kAcceptReady) {
    accept_all(ev.port);
  } else {
    on_server(ev);
  }
}

void Churn::on_client(const AppEvent& ev) {
  ClientConn* c = conn_of(client_, ev.conn);
  if (c == nullptr) return;
  if ((ev.events & tcp::kEvEstablished) != 0 && !c->established) {
    c->established = true;
    ++r_.ok;
    ++second().ok;
    c->req_unsent = ChurnSettings::kRequestBytes;
  }
  client_read(*c, ev.conn);
  if ((ev.events & tcp::kEvClosed) != 0) return client_end(*c, ev.conn, ev.error, true);
  if (!client_send(*c, ev.conn)) return;
  // Everything readable has been read, so close() sends a FIN, not a reset
  // (RFC 2525 §2.17). The closer closes after the last response; the other
  // side when it reads EOF.
  bool done = c->responses >= s_.requests_per_conn;
  if ((done && s_.closer == Closer::kClient) || (ev.events & tcp::kEvPeerClosed) != 0) {
    client_end(*c, ev.conn, Errc::kOk, false);
  }
}

void Churn::client_read(ClientConn& c, ConnId id) {
  while (std::uint32_t n = pair_.a().recv(id, rx_buf_)) {
    c.resp_bytes += n;
    while (c.resp_bytes >= ChurnSettings::kResponseBytes) {
      c.resp_bytes -= ChurnSettings::kResponseBytes;
      ++c.responses;
      ++r_.requests_completed;
      if (c.responses < s_.requests_per_conn) c.req_unsent += ChurnSettings::kRequestBytes;
    }
  }
}

// Offers the pending request bytes; false if the connection had to be
// given up (send() refused with an error).
bool Churn::client_send(ClientConn& c, ConnId id) {
  while (c.req_unsent > 0) {
    const std::uint32_t want = std::min<std::uint32_t>(c.req_unsent, ChurnSettings::kRequestBytes);
    Errc err = Errc::kOk;
    const std::uint32_t n = pair_.a().send(id, std::span(payload_.data(), want), &err);
    if (err != Errc::kOk) {
      pair_.a().abort(id);
      c.live = false;
      ++r_.broken;
      ++r_.errors[static_cast<std::uint8_t>(err)];
      connection_ended();
      return false;
    }
    if (n == 0) break;  // kEvWritable follows
    c.req_unsent -= n;
  }
  return true;
}

// The client is done with a connection: closed by us (`closed` false) or
// ended by the stack with `why` (kEvClosed). close() also releases the
// handle of a connection the stack already closed.
void Churn::client_end(ClientConn& c, ConnId id, Errc why, bool closed) {
  c.live = false;
  pair_.a().close(id);
  if (closed && !c.established) {
    fail(why);
  } else if (closed && why != Errc::kOk) {
    ++r_.broken;
    ++r_.errors[static_cast<std::uint8_t>(why)];
  } else if (c.responses >= s_.requests_per_conn) {
    ++r_.completed;
  }
  connection_ended();
}

void Churn::accept_all(std::uint16_t port) {
  QueueEngine& eng = pair_.b();
  while (std::optional<ConnId> id = eng.accept(port)) {
    server_[id->index] = ServerConn{.gen = id->gen, .live = true};
    eng.set_nodelay(*id, true);
  }
}

// Answers every complete request; closes after the last response (closer
// server) or once the client's FIN has arrived and every response is queued.
void Churn::on_server(const AppEvent& ev) {
  ServerConn* s = conn_of(server_, ev.conn);
  if (s == nullptr) return;
  QueueEngine& eng = pair_.b();
  while (std::uint32_t n = eng.recv(ev.conn, rx_buf_)) {
    s->req_bytes += n;
    while (s->req_bytes >= ChurnSettings::kRequestBytes) {
      s->req_bytes -= ChurnSettings::kRequestBytes;
      ++s->answered;
      s->resp_unsent += ChurnSettings::kResponseBytes;
    }
  }
  if ((ev.events & tcp::kEvClosed) != 0) return server_close(*s, ev.conn);
  if ((ev.events & tcp::kEvPeerClosed) != 0) s->peer_closed = true;
  while (s->resp_unsent > 0) {
    const std::uint32_t want = std::min<std::uint32_t>(s->resp_unsent, ChurnSettings::kResponseBytes);
    Errc err = Errc::kOk;
    const std::uint32_t n = eng.send(ev.conn, std::span(payload_.data(), want), &err);
    if (err != Errc::kOk) {
      s->live = false;
      eng.abort(ev.conn);
      return;
    }
    if (n == 0) return;  // kEvWritable follows
    s->resp_unsent -= n;
  }
  bool last = s->answered >= s_.requests_per_conn && s_.closer == Closer::kServer;
  if (s->peer_closed || last) server_close(*s, ev.conn);
}

void Churn::server_close(ServerConn& s, ConnId id) {
  s.live = false;
  pair_.b().close(id);
}

}  // namespace

const char* closer_name(Closer c) { return c == Closer::kServer ? "server" : "client"; }

ChurnResult run_churn(const ChurnSettings& s) {
  // Wall time includes building and tearing down both engines: with large
  // pools that is a good part of a short run.
  const auto wall_start = std::chrono::steady_clock::now();
  ChurnResult r = Churn(s).run();
  r.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  return r;
}

engine::EngineOptions churn_engine_options(const ChurnSettings& s, int side) {
  // Two different secrets from one seed: ISNs, timestamp offsets and port
  // choices must not match between the sides.
  memory::Rng rng(s.seed);
  std::uint64_t secret = rng.next();
  if (side != 0) secret = rng.next();
  return engine::options_from(side == 0 ? s.client_config : s.server_config, Secret{secret});
}

}  // namespace twstack::app
