// The 4-tuple allocator: ephemeral ports for connect(), bind() with its
// conflict rules, listeners, SO_REUSEADDR restarts (docs/linux-timewait.md
// §5, §7, §8).
//
// One PortAllocator per QueueEngine (shared nothing). Every table is sized
// at construction; no call allocates or reads a clock, and every call does
// bounded work: at most kMaxChecks calls of the uniqueness check, and word
// operations that do not grow as the range fills.
//
// The allocator's bitmaps say which ports are held for each destination; the
// uniqueness check, passed in as Linux passes check_established to
// __inet_hash_connect, has the final word on each candidate. The engine tells
// the allocator when a tuple stops holding its port (release()), so the
// bitmaps stay exact.
//
// How the engine drives it:
//   connect() without a port  -> connect(laddr, raddr, rport, now, check)
//       took_over: kill the TIME_WAIT entry (count TcpExtTWRecycled) and do
//       NOT release() its tuple: the new connection inherits the hold.
//   connection freed, TIME_WAIT expired or killed (not by takeover)
//                             -> release(tuple)
//   TIME_WAIT entry becomes (or stops being) a tcp_twsk_unique() candidate
//                             -> set_reusable(tuple, bool); optional, lets
//       a full range reuse TIME_WAIT tuples (Linux mode takes them in order)
//   bind(addr, port, opts)    -> bind(); port 0 picks one as inet_csk_get_port
//   listen()                  -> listen(id)
//   close of a listener       -> unlisten(id), then release(id)
//   accept() of a child       -> hold(id)   (inet_inherit_port)
//   bound socket connects     -> connect_bound(id, laddr, raddr, rport, check)
//   a holder of a bound port goes away (the socket closes, a child or a
//   TIME_WAIT of either is freed) -> release(id)
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "stack/base/config.hh"
#include "stack/base/errc.hh"
#include "stack/base/siphash.hh"
#include "stack/base/time.hh"
#include "stack/wire/four_tuple.hh"
#include "stack/ports/bits.hh"
#include "stack/ports/dest_table.hh"
#include "stack/ports/toeplitz.hh"

namespace twstack::ports {

// What the uniqueness check says about one candidate 4-tuple.
enum class TupleState : std::uint8_t {
  kFree,              // in no table
  kReusableTimeWait,  // a TIME_WAIT entry that may be taken over (tcp_twsk_unique)
  kReusableLater,     // a TIME_WAIT entry not reusable yet (tcp_tw_reuse_delay): taken
                      // now, and any reusable mark stays
  kTaken,             // anything else: a connection, or a TIME_WAIT never reusable
};

// Where the candidate's port came from; Linux tells the two apart by
// tcp_twsk_unique()'s twp: kBound (twp == NULL) skips tcp_tw_reuse and its
// delay and needs only the old connection's timestamps (docs/linux-timewait.md §5).
enum class PortOrigin : std::uint8_t { kEphemeral, kBound };

// A non-owning reference to the check: any callable
//   TupleState(const wire::FourTuple&, PortOrigin)
// It must outlive the call it is passed to (a lambda argument does).
class TupleCheck {
 public:
  template <class F>
    requires(!std::is_same_v<std::remove_cvref_t<F>, TupleCheck> &&
             std::is_invocable_r_v<TupleState, F&, const wire::FourTuple&, PortOrigin>)
  TupleCheck(F&& f)  // NOLINT(google-explicit-constructor): passed like a lambda
      : obj_(const_cast<void*>(static_cast<const void*>(&f))),
        call_([](void* o, const wire::FourTuple& t, PortOrigin p) {
          return (*static_cast<std::remove_reference_t<F>*>(o))(t, p);
        }) {}

  TupleState operator()(const wire::FourTuple& t, PortOrigin p) const { return call_(obj_, t, p); }

 private:
  void* obj_;
  TupleState (*call_)(void*, const wire::FourTuple&, PortOrigin);
};

struct SocketOpts {
  bool reuseaddr = false;  // SO_REUSEADDR
  bool reuseport = false;  // SO_REUSEPORT (one user: every socket counts as the same uid)
};

// RSS as the driver reports it (STYLE idiom 8: capabilities are parameters).
struct RssSteering {
  std::vector<std::uint8_t> key;    // Toeplitz key; shorter than 16 bytes: unknown
  std::vector<std::uint16_t> reta;  // queue per entry; size a power of two
  std::uint16_t queue = 0;          // this engine's queue

  bool operator==(const RssSteering&) const = default;
};

enum class RssStatus : std::uint8_t {
  kOff,          // no RSS given: one queue, every port will do
  kSteering,     // replies of every port handed out hash to `queue`
  kUnsteerable,  // RSS given but unusable (key too short, RETA empty or not a
                 // power of two, queue absent from the RETA): ports are handed
                 // out unsteered and flagged (rss_fallback)
};

inline constexpr std::size_t kMaxLocalAddrs = 16;
inline constexpr std::uint32_t kMaxChecks = 32;       // check calls per connect()
inline constexpr std::uint32_t kFallbackProbes = 64;  // random candidates without a destination slot
inline constexpr std::uint32_t kPerturbSize = 1u << 16;  // CONFIG_INET_TABLE_PERTURB_ORDER = 16
inline constexpr Duration kShufflePeriod = Duration::seconds(10);  // EPHEMERAL_PORT_SHUFFLE_PERIOD

struct AllocatorConfig {
  // The knobs come from the configuration (they have no defaults here);
  // the rest is as below until the engine or a test fills it in.
  explicit AllocatorConfig(const StackConfig& c, std::vector<wire::Ipv4Addr> local_addrs = {});

  PortRange range;                  // net.ipv4.ip_local_port_range
  PortBitmap reserved;              // net.ipv4.ip_local_reserved_ports
  PortSelection mode;               // twstack.port_selection
  std::vector<wire::Ipv4Addr> local_addrs;       // at most kMaxLocalAddrs
  std::uint32_t max_destinations;   // twstack.max_destinations: slots of ~2 bitmaps of the range each
  std::uint32_t max_binds = 1024;        // bound sockets, listeners and what they leave behind
  SipKey secret{};                       // keyed port offset (Linux mode), as net_secret
  std::uint64_t seed = 1;                // perturbation table, random offsets and choices
  std::optional<RssSteering> rss;        // nullopt: no RSS
  // With RSS working, a destination with no steerable port left fails with
  // EADDRNOTAVAIL (true) or gets an unsteered port, flagged (false).
  bool rss_strict = true;

  bool operator==(const AllocatorConfig&) const = default;
};

struct BindId {
  std::uint32_t index = kNone;
  std::uint32_t generation = 0;
  bool operator==(const BindId&) const = default;
};

struct ConnectResult {
  Errc err = Errc::kOk;        // kAddrNotAvail when no tuple is free (or kInvalid, kBadHandle)
  wire::FourTuple tuple{};
  bool took_over = false;      // a reusable TIME_WAIT tuple was taken over
  bool steered = false;        // replies hash to this engine's queue (RSS working)
  bool rss_fallback = false;   // RSS was given but this port is not steered
  bool dest_fallback = false;  // no destination slot free: random probing (counted)
  std::uint32_t examined = 0;  // candidates passed to the check
};

struct BindResult {
  Errc err = Errc::kOk;  // kAddrInUse, kAddrNotAvail (address not ours), kNoBufs, kInvalid
  BindId id{};
  std::uint16_t port = 0;
};

// The allocator's own counters; the engine maps them to nstat names.
struct PortStats {
  std::uint64_t connects = 0;          // ephemeral tuples handed out
  std::uint64_t connect_fails = 0;     // EADDRNOTAVAIL from connect()
  std::uint64_t takeovers = 0;         // TIME_WAIT tuples taken over (TcpExtTWRecycled)
  std::uint64_t examined = 0;          // check calls, all connects
  std::uint64_t check_disagreed = 0;   // check said taken where the bitmaps said free
  std::uint64_t stale_reusable = 0;    // a reusable mark the check did not confirm
  std::uint64_t budget_exhausted = 0;  // gave up after kMaxChecks candidates
  std::uint64_t dest_pool_full = 0;    // connects without a destination slot
  std::uint64_t rss_unsteered = 0;     // ports handed out whose replies miss our queue
  std::uint64_t binds = 0;
  std::uint64_t bind_fails = 0;        // EADDRINUSE from bind()
  std::uint64_t listen_fails = 0;      // EADDRINUSE from listen()
  std::uint64_t release_unknown = 0;   // release() of something not held
};

class PortAllocator {
 public:
  explicit PortAllocator(const AllocatorConfig& cfg);
  PortAllocator(const PortAllocator&) = delete;
  PortAllocator& operator=(const PortAllocator&) = delete;

  // ---- connect() of a socket without a port ----
  // A free local port for (laddr -> raddr:rport). Linux mode follows
  // __inet_hash_connect (RFC 6056 §3.3.4 Algorithm 4); uniform mode picks
  // uniformly among the free ports, then among reusable TIME_WAIT tuples.
  ConnectResult connect(wire::Ipv4Addr laddr, wire::Ipv4Addr raddr, std::uint16_t rport, Instant now,
                        TupleCheck check);
  // An ephemeral tuple stopped holding its port.
  void release(const wire::FourTuple& t);
  // A held ephemeral tuple in TIME_WAIT may (or may no longer) be taken over.
  bool set_reusable(const wire::FourTuple& t, bool reusable);
  // Records an ephemeral tuple that connect() did not choose (state restored,
  // simulation). Returns false if it was already held.
  bool occupy(const wire::FourTuple& t);

  // ---- bind(), listen() and bound sockets ----
  // addr 0 is INADDR_ANY. Port 0 picks a port as inet_csk_find_open_port:
  // random offset, odd ports first, lower half first with SO_REUSEADDR;
  // EADDRINUSE if none. The socket holds the port (one reference).
  BindResult bind(wire::Ipv4Addr addr, std::uint16_t port, SocketOpts opts);
  // inet_csk_listen_start re-checks the port: EADDRINUSE if another socket
  // on it now conflicts (two SO_REUSEADDR sockets cannot both listen).
  Errc listen(BindId id);
  Errc unlisten(BindId id);
  Errc hold(BindId id);     // one more holder (an accepted child)
  Errc release(BindId id);  // one holder less; the last frees the port
  ConnectResult connect_bound(BindId id, wire::Ipv4Addr laddr, wire::Ipv4Addr raddr, std::uint16_t rport,
                              TupleCheck check);

  // ---- introspection ----
  const PortStats& stats() const { return stats_; }
  RssStatus rss_status() const { return rss_; }
  PortRange range() const { return PortRange{low_, static_cast<std::uint16_t>(low_ + size_ - 1)}; }
  PortSelection mode() const { return mode_; }
  std::uint32_t destinations() const { return dest_.active(); }
  // Free (steerable) ports for a destination with a slot; nullopt without one.
  std::optional<std::uint32_t> free_ports(wire::Ipv4Addr laddr, wire::Ipv4Addr raddr, std::uint16_t rport) const;
  // Linux mode: the kernel's `offset` for the next connect() to this
  // destination at `now` (before the parity bit is cleared), for comparing
  // with the kernel loop. 0 in uniform mode.
  std::uint32_t linux_offset(wire::Ipv4Addr laddr, wire::Ipv4Addr raddr, std::uint16_t rport, Instant now) const;
  // Whether a reply to laddr:lport from raddr:rport hashes to our queue
  // (always true without RSS, false when unsteerable).
  bool steers_to_us(wire::Ipv4Addr laddr, wire::Ipv4Addr raddr, std::uint16_t rport, std::uint16_t lport) const;

 private:
  struct Attempt;
  enum class Verdict : std::uint8_t { kAccept, kReject, kStop };
  struct BindSlot {
    wire::Ipv4Addr addr{};
    std::uint32_t addr_index = kNone;  // kNone: INADDR_ANY
    std::uint16_t port = 0;
    SocketOpts opts{};
    bool listening = false;
    bool in_use = false;
    std::uint32_t refs = 0;
    std::uint32_t generation = 0;
    std::uint32_t next = kNone;  // next slot on the same port
  };

  // allocator.cc
  std::uint32_t addr_index(wire::Ipv4Addr a) const;
  std::uint32_t rss_row(wire::Ipv4Addr laddr, wire::Ipv4Addr raddr, std::uint16_t rport) const;
  bool in_range(std::uint16_t port) const { return port >= low_ && std::uint32_t{port} - low_ < size_; }
  Verdict try_port(Attempt& at, std::uint32_t pos);
  std::uint32_t scan_start(const wire::FourTuple& t, Instant now, std::uint32_t* index) const;
  bool linux_connect(Attempt& at, Instant now);
  bool uniform_connect(Attempt& at);
  std::uint32_t nearest_avail(std::uint32_t slot, std::uint32_t start) const;
  bool probe(Attempt& at, bool steer);
  void finish_connect(Attempt& at, bool ok, ConnectResult* r);
  void eph_add(std::uint32_t a, std::uint32_t pos);
  void eph_sub(std::uint32_t a, std::uint32_t pos);
  // Whether any local address has an ephemeral tuple on pos.
  bool eph_any(std::uint32_t pos) const {
    if (naddrs_ == 1) return eph_[pos] != 0;
    return naddrs_ > 1 && eph_addrs_[pos] != 0;
  }
  void setup_rss(const RssSteering& rss);
  // Map `m` of bind_maps_ (a local address index, or naddrs_ for INADDR_ANY).
  UsedMap& bind_map(std::uint32_t m) { return bind_maps_[naddrs_ == 1 ? 0 : m]; }

  // bind.cc
  BindSlot* slot_of(BindId id);
  bool bind_conflict(wire::Ipv4Addr addr, std::uint16_t port, SocketOpts opts, std::uint32_t self) const;
  std::uint16_t pick_bind_port(std::uint32_t map, SocketOpts opts);
  void refresh_bind_maps(std::uint16_t port);
  void refresh_bind_map(std::uint16_t port, std::uint32_t map);
  bool bind_map_used(std::uint16_t port, std::uint32_t map) const;
  void unlink_bind(std::uint32_t index);

  std::uint16_t low_;
  std::uint32_t size_;
  PortSelection mode_;
  bool rss_strict_;
  RssStatus rss_;
  std::uint32_t naddrs_ = 0;
  std::array<wire::Ipv4Addr, kMaxLocalAddrs> addrs_{};
  SipKey secret_;
  Rng rng_;
  PortBitmap reserved_;
  DestTable dest_;
  std::unique_ptr<ToeplitzIpv4Tcp> toeplitz_;  // kSteering only
  std::vector<std::uint16_t> reta_;
  std::uint16_t queue_ = 0;
  std::vector<std::uint32_t> perturb_;  // table_perturb (Linux mode)
  // Ephemeral tuples per (local address, position), and how many addresses
  // use each position: what bind() must not collide with. With one address
  // the second is eph_ != 0 and is not kept (one line less per connect and release).
  std::vector<std::uint32_t> eph_;
  std::vector<std::uint8_t> eph_addrs_;  // empty unless naddrs_ > 1
  // bind(port 0) search space per local address, then INADDR_ANY (one map
  // for both with one address).
  std::vector<UsedMap> bind_maps_;
  std::vector<BindSlot> binds_;
  std::vector<std::uint32_t> bind_free_;
  std::vector<std::uint32_t> port_head_;  // 65536: first bind slot per port
  PortStats stats_;
};

}  // namespace twstack::ports
