// One bulk transfer between a client and a server engine over a SimPair:
// the engine behind `twstack sim transfer`.
//
// Side 0 (10.0.0.1) is the client, side 1 (10.0.0.2) the server. The client
// connects; `bytes` flow client -> server and, with `both`, server -> client
// at the same time. Payloads are pseudorandom streams from the seed: the
// sender sends the stream, and the receiver regenerates it and compares
// every byte recv() returns with it, so a lost, repeated or altered byte
// shows as the offset of the first difference (or a short count).
// After its data, the client closes first (in `both` mode once it also has
// every byte from the server); the server closes once it has seen the
// client's FIN and sent all of its own. The run is over when both are
// CLOSED or in TIME_WAIT, or when something failed (a reset, a timeout, a
// refused send).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "drivers/memory/sim.hh"
#include "stack/base/config.hh"

namespace twstack::app {

struct TransferSettings {
  std::uint64_t bytes = 1000000;
  bool both = false;
  memory::FaultSpec faults{};
  std::uint64_t seed = 1;
  // Both engines' knobs. twstack.max_connections and twstack.buffer_chunks,
  // left at their defaults, are sized down to what one connection needs.
  StackConfig config{};
  Duration limit = Duration::seconds(600);  // virtual time
};

// A pseudorandom byte stream: the same bytes for the same seed, however it
// is cut into pieces.
class PayloadStream {
 public:
  explicit PayloadStream(std::uint64_t seed) : rng_(seed) {}
  void fill(std::uint8_t* out, std::size_t n);

 private:
  memory::Rng rng_;
  std::uint64_t word_ = 0;
  unsigned left_ = 0;  // unused bytes in word_
};

// One direction of the transfer.
struct Flow {
  Flow(std::uint64_t bytes, std::uint64_t seed) : total(bytes), tx_stream(seed), rx_expect(seed) {}

  std::uint64_t total;
  // sender
  PayloadStream tx_stream;
  std::vector<std::uint8_t> chunk;  // generated, not yet all accepted by send()
  std::size_t chunk_off = 0;
  std::uint64_t sent = 0;
  // receiver
  PayloadStream rx_expect;  // the sender's stream, regenerated
  std::uint64_t received = 0;
  std::optional<std::uint64_t> first_mismatch;
  std::optional<Instant> completed_at;  // when the last byte was read

  // Every byte sent, and every byte received equal to the stream's.
  bool intact() const { return sent == total && received == total && !first_mismatch; }
};

struct Endpoint {
  engine::ConnId conn{};
  bool open = false;         // connect() succeeded / accept() returned it
  bool established = false;
  bool peer_closed = false;  // the peer's FIN arrived
  bool closed_by_app = false;
  std::optional<Errc> closed_with;  // kEvClosed arrived before our close()
};

class Transfer {
 public:
  static constexpr std::uint16_t kPort = 5001;

  explicit Transfer(const TransferSettings& s);

  // Runs to the end or the virtual-time limit; returns whether it ended.
  bool run();
  // Every direction arrived intact and complete, and nothing failed.
  bool ok() const;

  const TransferSettings& settings() const { return s_; }
  memory::SimPair& pair() { return *pair_; }
  const memory::SimPair& pair() const { return *pair_; }
  const Flow& forward() const { return fwd_; }
  const Flow& reverse() const { return rev_; }
  const Endpoint& endpoint(int side) const { return ep_[side]; }
  // "TIME_WAIT", "CLOSED" (also once the engine released it), ...
  std::string state_name(int side) const;
  const std::vector<std::string>& errors() const { return errors_; }
  Duration elapsed() const { return pair_->now() - start_; }
  Instant start() const { return start_; }

 private:
  void on_event(int side, const engine::AppEvent& ev);
  void pump_send(int side);
  void pump_recv(int side);
  void maybe_close(int side);
  bool finished() const;
  Flow& sending(int side) { return side == 0 ? fwd_ : rev_; }
  Flow& receiving(int side) { return side == 0 ? rev_ : fwd_; }
  void fail(std::string msg);

  TransferSettings s_;
  std::unique_ptr<memory::SimPair> pair_;
  Flow fwd_;  // client -> server
  Flow rev_;  // server -> client
  Endpoint ep_[2];
  Instant start_{};
  std::vector<std::string> errors_;
  std::vector<std::uint8_t> rx_buf_;
  std::vector<std::uint8_t> expect_buf_;
};

}  // namespace twstack::app
