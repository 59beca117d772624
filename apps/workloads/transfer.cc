// The transfer's application logic: what each side does on each event.
#include "apps/workloads/transfer.hh"

#include "stack/engine/options.hh"

#include <algorithm>
#include <cstring>

namespace twstack::app {

namespace {

constexpr std::size_t kChunk = 64 * 1024;  // payload generated per piece
constexpr std::size_t kReadBuf = 64 * 1024;

engine::EngineOptions engine_options(const TransferSettings& s) {
  const StackConfig defaults;
  // A simulation: the secret comes from --seed, so that a run repeats.
  engine::EngineOptions o = engine::options_from(s.config, Secret{s.seed});
  if (s.config.max_connections == defaults.max_connections) o.max_connections = 16;
  if (s.config.buffer_chunks == defaults.buffer_chunks) {
    // Both buffers of one connection, with room to spare.
    o.buffer_chunks = 2 * ((o.tcp.sndbuf + o.tcp.rcvbuf) / tcp::kChunkSize + 2) + 64;
  }
  return o;
}

std::uint64_t stream_seed(std::uint64_t seed, int direction) {
  return seed * 0x9e3779b97f4a7c15ULL + 0x7061796c6f6164ULL + static_cast<std::uint64_t>(direction);
}

}  // namespace

void PayloadStream::fill(std::uint8_t* out, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    if (left_ == 0) {
      word_ = rng_.next();
      left_ = 8;
    }
    out[i] = static_cast<std::uint8_t>(word_);
    word_ >>= 8;
    --left_;
  }
}

Transfer::Transfer(const TransferSettings& s)
    : s_(s),
      pair_(std::make_unique<memory::SimPair>(memory::sim_interface(0), engine_options(s),
                                              memory::sim_interface(1), engine_options(s), s.faults,
                                              s.seed)),
      fwd_(s.bytes, stream_seed(s.seed, 0)),
      rev_(s.both ? s.bytes : 0, stream_seed(s.seed, 1)),
      rx_buf_(kReadBuf),
      expect_buf_(kReadBuf) {}

bool Transfer::run() {
  start_ = pair_->now();
  if (pair_->b().listen(kPort, 16) != Errc::kOk) fail("listen failed");
  Errc e = pair_->a().connect(memory::sim_addr(1), kPort, &ep_[0].conn);
  if (e != Errc::kOk) {
    fail(std::string("connect failed: ") + errno_name(e));
  } else {
    ep_[0].open = true;
  }
  bool ended = pair_->run_until([this] { return finished(); }, s_.limit,
                                [this](int side, const engine::AppEvent& ev) { on_event(side, ev); });
  if (!ended) {
    fail("stalled: not finished after " + std::to_string(s_.limit.us / 1000000) + " virtual seconds");
  }
  return ended;
}

bool Transfer::ok() const {
  return errors_.empty() && fwd_.intact() && rev_.intact() && ep_[0].closed_by_app && ep_[1].closed_by_app;
}

void Transfer::fail(std::string msg) { errors_.push_back(std::move(msg)); }

bool Transfer::finished() const {
  if (!errors_.empty()) return true;
  if (!ep_[0].closed_by_app || !ep_[1].closed_by_app) return false;
  for (int s = 0; s < 2; ++s) {
    std::optional<tcp::State> st = pair_->side(s).state(ep_[s].conn);
    if (st && *st != tcp::State::kClosed && *st != tcp::State::kTimeWait) return false;
  }
  return true;
}

std::string Transfer::state_name(int side) const {
  if (!ep_[side].open) return "NONE";
  std::optional<tcp::State> st = pair_->side(side).state(ep_[side].conn);
  return st ? tcp::to_string(*st) : "CLOSED";
}

void Transfer::on_event(int side, const engine::AppEvent& ev) {
  engine::QueueEngine& eng = pair_->side(side);
  Endpoint& ep = ep_[side];
  if (ev.kind == engine::AppEvent::Kind::kAcceptReady) {
    while (std::optional<engine::ConnId> id = eng.accept(ev.port)) {
      if (ep.open) {
        fail("server: unexpected second connection");
        eng.abort(*id);
        continue;
      }
      ep.conn = *id;
      ep.open = true;
    }
    return;
  }
  if (!ep.open || ev.conn != ep.conn) return;
  if (ev.events & tcp::kEvEstablished) ep.established = true;
  if (ev.events & (tcp::kEvReadable | tcp::kEvPeerClosed)) pump_recv(side);
  if (ev.events & tcp::kEvPeerClosed) ep.peer_closed = true;
  if (ev.events & tcp::kEvClosed) {
    ep.closed_with = ev.error;
    fail(std::string(side == 0 ? "client" : "server") + ": connection closed before the transfer ended (" +
         errno_name(ev.error) + ")");
    return;
  }
  if (ev.events & (tcp::kEvEstablished | tcp::kEvWritable)) pump_send(side);
  maybe_close(side);
}

// Offers the stream to send() until it refuses (kEvWritable will follow).
void Transfer::pump_send(int side) {
  Flow& f = sending(side);
  Endpoint& ep = ep_[side];
  engine::QueueEngine& eng = pair_->side(side);
  while (f.sent < f.total && !ep.closed_by_app) {
    if (f.chunk_off == f.chunk.size()) {
      std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, f.total - f.sent));
      f.chunk.resize(n);
      f.tx_stream.fill(f.chunk.data(), n);
      f.chunk_off = 0;
    }
    std::span<const std::uint8_t> rest(f.chunk.data() + f.chunk_off, f.chunk.size() - f.chunk_off);
    Errc err = Errc::kOk;
    std::uint32_t n = eng.send(ep.conn, rest, &err);
    if (err != Errc::kOk) {
      fail(std::string(side == 0 ? "client" : "server") + ": send failed: " + errno_name(err));
      return;
    }
    f.chunk_off += n;
    f.sent += n;
    if (n < rest.size()) return;
  }
}

// Reads everything available, checking it against the stream byte by byte.
void Transfer::pump_recv(int side) {
  Flow& f = receiving(side);
  engine::QueueEngine& eng = pair_->side(side);
  while (std::uint32_t n = eng.recv(ep_[side].conn, rx_buf_)) {
    if (f.received + n > f.total) {
      fail(std::string(side == 0 ? "client" : "server") + ": received more bytes than were sent");
      return;
    }
    f.rx_expect.fill(expect_buf_.data(), n);
    if (!f.first_mismatch && std::memcmp(rx_buf_.data(), expect_buf_.data(), n) != 0) {
      std::size_t i = 0;
      while (rx_buf_[i] == expect_buf_[i]) ++i;
      f.first_mismatch = f.received + i;
    }
    f.received += n;
    if (f.received == f.total) f.completed_at = pair_->now();
  }
}

// The client closes once its data is queued (and, with --both, once every
// byte from the server has been read); the server once the client's FIN
// has arrived and its own data is queued. close() with unread data would
// reset the connection (RFC 2525 §2.17), so reads come first.
void Transfer::maybe_close(int side) {
  Endpoint& ep = ep_[side];
  if (!ep.open || ep.closed_by_app || !ep.established) return;
  const Flow& out = sending(side);
  const Flow& in = receiving(side);
  bool ready = side == 0 ? out.sent == out.total && in.received == in.total
                         : ep.peer_closed && out.sent == out.total;
  if (!ready) return;
  ep.closed_by_app = true;
  Errc e = pair_->side(side).close(ep.conn);
  if (e != Errc::kOk) fail(std::string(side == 0 ? "client" : "server") + ": close failed: " + errno_name(e));
}

}  // namespace twstack::app
