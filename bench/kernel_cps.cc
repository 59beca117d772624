// kernel_cps: the Linux kernel's TCP connection churn (connections per second), the
// baseline twstack's own CPS figure is reported against (DESIGN.md, Benchmarks).
//
// One process, two pinned threads: an epoll HTTP/1.1 server and a client that keeps
// --inflight connections in progress (connect, GET, read the response, close). It uses
// nothing of twstack's on purpose: it measures the kernel, not us. Failures are counted
// by errno name and never end the run; only bad options (exit 2) or a failed set-up
// (exit 1) do. Run it through kernel_cps.sh, which gives it a namespace of its own.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace {

// The one global: SIGINT/SIGTERM end the measurement early, with a report.
volatile std::sig_atomic_t g_interrupted = 0;

void on_signal(int /*signo*/) { g_interrupted = 1; }

constexpr int kBacklog = 4096;
constexpr std::size_t kMaxBody = std::size_t{64} << 20;
constexpr std::uint32_t kMaxRequest = 8192;
constexpr std::int64_t kSecondNs = 1'000'000'000;
constexpr std::string_view kGet = "GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n";

constexpr const char* kUsage = R"(usage: kernel_cps [options]
Measures the kernel's TCP connection churn: a server thread and a client thread, each on
its own CPU, run connect / GET / response / close flat out (or at --rate).
  --listen ADDR:PORT      where the server listens, the client connects (127.0.0.1:8080)
  --server-cpu N          CPU of the server thread, -1 = not pinned (default 0)
  --client-cpu N          CPU of the client thread, -1 = not pinned (default 1)
  --inflight N            connections in progress at once (default 64)
  --rate R                open R connections/s on a fixed schedule (default 0: flat out);
                          an opening due while all --inflight are busy counts as missed
  --closer server|client  who closes first, i.e. which side keeps TIME_WAIT (server)
  --body-bytes N          response body size (default 100)
  --duration S            measured seconds (default 10), after
  --warmup S              unmeasured seconds (default 1)
  --json                  print one JSON object instead of text
Failures are counted by errno name, plus short_response and bad_response on the client
and short_request and long_request on the server.
)";

enum class Closer : std::uint8_t { kServer, kClient };

struct Endpoint {
  sockaddr_in addr{};
  std::string text;
};

struct Options {
  Endpoint listen;
  int server_cpu = 0;
  int client_cpu = 1;
  int inflight = 64;
  double rate = 0;
  Closer closer = Closer::kServer;
  std::size_t body_bytes = 100;
  double duration_s = 10;
  double warmup_s = 1;
  bool json = false;
};

std::int64_t now_ns() {
  using namespace std::chrono;
  return duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()).count();
}

// Failures without an errno: the peer broke the exchange.
enum class Failure : std::uint8_t { kShortResponse, kBadResponse, kShortRequest, kLongRequest };
constexpr std::array<const char*, 4> kFailureNames = {"short_response", "bad_response", "short_request",
                                                      "long_request"};

// A flat array: a failure storm (EADDRNOTAVAIL once ports run out comes at millions a
// second) must not cost a map lookup each.
class ErrorCounts {
 public:
  void add(int e) { ++counts_[e > 0 && static_cast<std::size_t>(e) < kErrnoSlots ? static_cast<std::size_t>(e) : 0]; }
  void add(Failure f) { ++counts_[kErrnoSlots + static_cast<std::size_t>(f)]; }

  std::vector<std::pair<std::string, std::uint64_t>> named() const {
    std::vector<std::pair<std::string, std::uint64_t>> out;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      if (counts_[i] == 0) continue;
      const char* n = i >= kErrnoSlots ? kFailureNames[i - kErrnoSlots]
                      : i == 0         ? "unknown_errno"
                                       : strerrorname_np(static_cast<int>(i));
      out.emplace_back(n != nullptr ? n : "errno_" + std::to_string(i), counts_[i]);
    }
    return out;
  }

 private:
  static constexpr std::size_t kErrnoSlots = 256;
  std::array<std::uint64_t, kErrnoSlots + kFailureNames.size()> counts_{};
};

template <typename T>
std::optional<T> parse_number(std::string_view s) {
  T v{};
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  if constexpr (std::is_floating_point_v<T>) {
    if (!std::isfinite(v)) return std::nullopt;
  }
  return v;
}

template <typename T>
bool set_number(T& out, std::string_view v, T lo, T hi) {
  const auto n = parse_number<T>(v);
  if (!n || *n < lo || *n > hi) return false;
  out = *n;
  return true;
}

std::optional<Endpoint> parse_endpoint(std::string_view s) {
  const auto colon = s.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  const auto port = parse_number<std::uint16_t>(s.substr(colon + 1));
  Endpoint ep;
  ep.text = s;
  ep.addr.sin_family = AF_INET;
  const std::string host(s.substr(0, colon));
  if (!port || *port == 0 || inet_pton(AF_INET, host.c_str(), &ep.addr.sin_addr) != 1) return std::nullopt;
  ep.addr.sin_port = htons(*port);
  return ep;
}

bool may_run_on(int cpu) {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  return sched_getaffinity(0, sizeof allowed, &allowed) == 0 && CPU_ISSET(cpu, &allowed);
}

// Applies one option; returns an error message, empty on success.
std::string apply_option(Options& o, std::string_view name, std::string_view v) {
  bool ok = false;
  const char* want = "";
  if (name == "--listen") {
    auto ep = parse_endpoint(v);
    if ((ok = ep.has_value())) o.listen = std::move(*ep);
    want = "IPV4:PORT";
  } else if (name == "--server-cpu" || name == "--client-cpu") {
    int& cpu = name == "--server-cpu" ? o.server_cpu : o.client_cpu;
    ok = set_number(cpu, v, -1, CPU_SETSIZE - 1) && (cpu < 0 || may_run_on(cpu));
    want = "-1, or a CPU this process may run on";
  } else if (name == "--inflight") {
    ok = set_number(o.inflight, v, 1, 65535);
    want = "1..65535";
  } else if (name == "--rate") {
    ok = set_number(o.rate, v, 0.0, 1e8);
    want = "connections per second, 0 for flat out";
  } else if (name == "--closer") {
    ok = v == "server" || v == "client";
    o.closer = v == "client" ? Closer::kClient : Closer::kServer;
    want = "server or client";
  } else if (name == "--body-bytes") {
    ok = set_number(o.body_bytes, v, std::size_t{0}, kMaxBody);
    want = "0..67108864";
  } else if (name == "--duration" || name == "--warmup") {
    const bool duration = name == "--duration";
    ok = set_number(duration ? o.duration_s : o.warmup_s, v, duration ? 0.001 : 0.0, 86400.0);
    want = "seconds";
  } else {
    return "unknown option " + std::string(name);
  }
  return ok ? std::string{} : std::string(name) + " '" + std::string(v) + "': expected " + want;
}

// Returns the exit code to leave with, or nullopt to go on and run.
std::optional<int> parse_options(int argc, char** argv, Options& o) {
  o.listen = *parse_endpoint("127.0.0.1:8080");
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const auto eq = arg.find('=');
    std::string error;
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "--json") {
      o.json = true;
    } else if (!arg.starts_with("--")) {
      error = "unexpected argument '" + std::string(arg) + "'";
    } else if (eq != std::string_view::npos) {
      error = apply_option(o, arg.substr(0, eq), arg.substr(eq + 1));
    } else if (i + 1 < argc) {
      error = apply_option(o, arg, argv[++i]);
    } else if (Options scratch; !(error = apply_option(scratch, arg, "")).starts_with("unknown")) {
      error = std::string(arg) + " needs a value";
    }
    if (!error.empty()) {
      std::fprintf(stderr, "kernel_cps: %s (see --help)\n", error.c_str());
      return 2;
    }
  }
  return std::nullopt;
}

void pin_self(int cpu, const char* who) {
  if (cpu < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (const int e = pthread_setaffinity_np(pthread_self(), sizeof set, &set); e != 0) {
    std::fprintf(stderr, "kernel_cps: warning: %s thread not on CPU %d: %s\n", who, cpu, std::strerror(e));
  }
}

// A connection holds an fd on either side; a soft limit of 1024 would cap --inflight
// near 500.
void raise_fd_limit(int inflight) {
  rlimit lim{};
  const auto need = static_cast<rlim_t>(2 * inflight + 64);
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur >= need) return;
  lim.rlim_cur = std::min(lim.rlim_max, need);
  setrlimit(RLIMIT_NOFILE, &lim);
  if (lim.rlim_cur < need) {
    std::fprintf(stderr, "kernel_cps: warning: RLIMIT_NOFILE %llu is below the %llu this run needs\n",
                 static_cast<unsigned long long>(lim.rlim_cur), static_cast<unsigned long long>(need));
  }
}

const sockaddr* as_sockaddr(const sockaddr_in& a) { return reinterpret_cast<const sockaddr*>(&a); }

int open_listener(const Endpoint& ep) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int one = 1;
  if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      bind(fd, as_sockaddr(ep.addr), sizeof ep.addr) != 0 || listen(fd, kBacklog) != 0) {
    const int e = errno;
    if (fd >= 0) close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

// The server: accept, read the request to its blank line, answer, then close, or await
// the client's FIN and close. A connection is driven at once after accept(): its request
// has usually arrived by then, and with --closer server it is then over without ever
// entering the epoll set.
class Server {
 public:
  Server(int listen_fd, const Options& o) : listen_fd_(listen_fd), closer_(o.closer) {
    response_ = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(o.body_bytes) +
                "\r\nConnection: close\r\n\r\n" + std::string(o.body_bytes, 'x');
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;  // level-triggered: after EMFILE the backlog is retried next wait
    ev.data.fd = listen_fd_;
    if (epoll_fd_ >= 0 && epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev) != 0) {
      close(epoll_fd_);
      epoll_fd_ = -1;
    }
  }
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  ~Server() {
    for (std::size_t fd = 0; fd < conns_.size(); ++fd) {
      if (conns_[fd].phase != Phase::kIdle) close(static_cast<int>(fd));
    }
    if (epoll_fd_ >= 0) close(epoll_fd_);
    close(listen_fd_);
  }

  bool ok() const { return epoll_fd_ >= 0; }
  const ErrorCounts& errors() const { return errors_; }
  std::uint64_t completed() const { return completed_; }

  void run(const std::atomic<bool>& stop) {
    std::array<epoll_event, 256> events;
    while (!stop.load(std::memory_order_acquire)) {
      const int n = epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), 50);
      if (n < 0 && errno != EINTR) errors_.add(errno);
      for (int i = 0; i < n; ++i) {
        const int fd = events[static_cast<std::size_t>(i)].data.fd;
        if (fd == listen_fd_) {
          accept_all();
        } else if (conn(fd).phase != Phase::kIdle) {
          drive(fd);  // a stale event for a reused fd only meets EAGAIN
        }
      }
    }
  }

 private:
  enum class Phase : std::uint8_t { kIdle, kRequest, kResponse, kAwaitFin };
  struct Conn {
    Phase phase = Phase::kIdle;
    std::uint8_t matched = 0;  // bytes of "\r\n\r\n" matched so far
    std::uint32_t request_bytes = 0;
    std::size_t sent = 0;
    std::uint32_t events = 0;  // registered with epoll; 0: not in the set
  };

  Conn& conn(int fd) { return conns_[static_cast<std::size_t>(fd)]; }

  void accept_all() {
    for (;;) {
      const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno != EAGAIN) errors_.add(errno);
        return;
      }
      const auto i = static_cast<std::size_t>(fd);
      if (i >= conns_.size()) conns_.resize(std::max(i + 1, 2 * conns_.size()));
      conns_[i] = Conn{};
      conns_[i].phase = Phase::kRequest;
      drive(fd);
    }
  }

  // Advances one connection as far as its socket allows.
  void drive(int fd) {
    Conn& c = conn(fd);
    for (;;) {
      const bool sending = c.phase == Phase::kResponse;
      const ssize_t n = sending ? send(fd, response_.data() + c.sent, response_.size() - c.sent, MSG_NOSIGNAL)
                                : recv(fd, scratch_.data(), scratch_.size(), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return wait_for(fd, c, sending ? EPOLLIN | EPOLLOUT : EPOLLIN);
      if (n < 0) return drop(fd, errno);
      if (sending) {
        c.sent += static_cast<std::size_t>(n);
        if (c.sent < response_.size()) continue;
        if (closer_ == Closer::kServer) return finish(fd);
        c.phase = Phase::kAwaitFin;
      } else if (n == 0) {
        return c.phase == Phase::kAwaitFin ? finish(fd) : drop(fd, Failure::kShortRequest);
      } else if (c.phase == Phase::kRequest && !scan_request(c, static_cast<std::size_t>(n))) {
        return drop(fd, Failure::kLongRequest);
      }  // bytes after the request, or before the FIN, are not expected and are dropped
    }
  }

  // Looks for the request's blank line; false once the request is too long.
  bool scan_request(Conn& c, std::size_t n) {
    static constexpr std::string_view kEnd = "\r\n\r\n";
    for (std::size_t i = 0; i < n; ++i) {
      c.matched = scratch_[i] == kEnd[c.matched] ? c.matched + 1 : (scratch_[i] == '\r' ? 1 : 0);
      if (c.matched == kEnd.size()) {
        c.phase = Phase::kResponse;
        return true;
      }
    }
    c.request_bytes += static_cast<std::uint32_t>(n);
    return c.request_bytes <= kMaxRequest;
  }

  // Edge-triggered, and only ever widened: each epoll_ctl is a syscall per connection.
  void wait_for(int fd, Conn& c, std::uint32_t events) {
    if ((c.events & events) == events) return;
    epoll_event ev{};
    ev.events = c.events | events | EPOLLET;
    ev.data.fd = fd;
    if (epoll_ctl(epoll_fd_, c.events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev) != 0) return drop(fd, errno);
    c.events |= events;
  }

  void finish(int fd) {
    ++completed_;
    close(fd);
    conn(fd) = Conn{};
  }

  template <typename Why>
  void drop(int fd, Why why) {
    errors_.add(why);
    close(fd);
    conn(fd) = Conn{};
  }

  int listen_fd_;
  int epoll_fd_ = -1;
  Closer closer_;
  std::string response_;
  std::vector<Conn> conns_ = std::vector<Conn>(1024);  // indexed by fd
  ErrorCounts errors_;  // the whole run, warm-up and teardown included
  std::uint64_t completed_ = 0;
  std::array<char, 16384> scratch_{};
};

// Our own server's header: status 200 and a Content-Length, spelt as it sends them.
std::optional<std::size_t> content_length(std::string_view head) {
  constexpr std::string_view kName = "\r\nContent-Length:";
  const auto at = head.find(kName);
  if (!head.starts_with("HTTP/1.1 200 ") || at == std::string_view::npos) return std::nullopt;
  std::string_view value = head.substr(at + kName.size());
  value = value.substr(0, value.find("\r\n"));
  while (value.starts_with(' ')) value.remove_prefix(1);
  return parse_number<std::size_t>(value);
}

struct Second {
  double t_s;
  double elapsed_s;
  std::uint64_t completed;
  std::uint64_t failed;
};

struct ClientResult {
  std::uint64_t completed = 0;
  std::uint64_t failed = 0;
  std::uint64_t missed = 0;  // --rate openings due while every slot was busy
  double measured_s = 0;
  ErrorCounts errors;  // the measured period only
  std::vector<Second> seconds;
};

// The client: --inflight slots, each holding one connection from connect() to close().
// A socket is registered once, edge-triggered for both directions, so a connection costs
// socket, connect, epoll_ctl, getsockopt, send, recv and close, and no epoll_ctl MOD.
class Client {
 public:
  explicit Client(const Options& o) : o_(o), conns_(static_cast<std::size_t>(o.inflight)) {
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    for (auto s = static_cast<std::uint32_t>(o.inflight); s-- > 0;) free_.push_back(s);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client() {
    for (const Conn& c : conns_) {
      if (c.fd >= 0) close(c.fd);
    }
    if (epoll_fd_ >= 0) close(epoll_fd_);
  }

  bool ok() const { return epoll_fd_ >= 0; }
  const ClientResult& result() const { return result_; }

  void run() {
    const std::int64_t t0 = now_ns();
    const std::int64_t measure_at = t0 + std::llround(o_.warmup_s * 1e9);
    const std::int64_t end = measure_at + std::llround(o_.duration_s * 1e9);
    std::int64_t next_tick = measure_at + kSecondNs;
    std::int64_t tick_start = 0;
    next_open_ = t0;
    std::array<epoll_event, 256> events;
    for (std::int64_t now = t0;; now = now_ns()) {
      if (!counting_ && now >= measure_at) {
        counting_ = true;
        measure_start_ = tick_start = now;
      }
      const bool last = now >= end || g_interrupted != 0;
      if (counting_ && (now >= next_tick || last)) {
        close_second(tick_start, now);
        tick_start = now;
        next_tick += kSecondNs;
      }
      if (last) {
        result_.measured_s = counting_ ? static_cast<double>(now - measure_start_) / 1e9 : 0.0;
        return;
      }
      open_due(now, t0);
      std::int64_t wake = std::min(counting_ ? next_tick : measure_at, end);
      if (o_.rate > 0) wake = std::min(wake, next_open_);
      int timeout_ms = static_cast<int>(std::max<std::int64_t>(0, wake - now + 999'999) / 1'000'000);
      // Free slots after open_due() mean opens failed (EADDRNOTAVAIL, EMFILE): retry in
      // 1 ms rather than spin on the failure.
      if (o_.rate == 0 && !free_.empty()) timeout_ms = std::min(timeout_ms, 1);
      const int n = epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), timeout_ms);
      for (int i = 0; i < n; ++i) on_event(events[static_cast<std::size_t>(i)]);
    }
  }

 private:
  enum class Phase : std::uint8_t { kConnecting, kSending, kReceiving };
  struct Conn {
    int fd = -1;
    Phase phase = Phase::kConnecting;
    bool head_done = false;
    std::uint32_t head_len = 0;
    std::size_t sent = 0;
    std::size_t body_expected = 0;
    std::size_t body_got = 0;
    std::array<char, 1024> head{};
    bool complete() const { return head_done && body_got >= body_expected; }
  };

  void open_due(std::int64_t now, std::int64_t t0) {
    if (o_.rate == 0) {
      for (std::size_t tries = free_.size(); tries > 0 && !free_.empty(); --tries) open_one();
      return;
    }
    while (next_open_ <= now) {  // a fixed schedule: a late loop catches up, never drifts
      if (!free_.empty()) {
        open_one();
      } else if (counting_) {
        ++result_.missed;
      }
      next_open_ = t0 + std::llround(static_cast<double>(++scheduled_) * 1e9 / o_.rate);
    }
  }

  void open_one() {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return count_failure(errno);
    const std::uint32_t slot = free_.back();
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
    ev.data.u32 = slot;
    if ((connect(fd, as_sockaddr(o_.listen.addr), sizeof o_.listen.addr) != 0 && errno != EINPROGRESS) ||
        epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      const int e = errno;
      close(fd);
      return count_failure(e);
    }
    free_.pop_back();
    conns_[slot] = Conn{.fd = fd};
  }

  // With --closer server the client reads on to the server's FIN, then closes.
  void on_event(const epoll_event& ev) {
    const std::uint32_t slot = ev.data.u32;
    Conn& c = conns_[slot];
    if (c.fd < 0) return;  // finished earlier in this batch
    if (c.phase == Phase::kConnecting) {
      if ((ev.events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) return;
      int err = 0;
      socklen_t len = sizeof err;
      if (getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      if (err != 0) return fail(slot, err);
      c.phase = Phase::kSending;
    }
    for (;;) {
      const bool sending = c.phase == Phase::kSending;
      const ssize_t n = sending ? send(c.fd, kGet.data() + c.sent, kGet.size() - c.sent, MSG_NOSIGNAL)
                                : recv(c.fd, scratch_.data(), scratch_.size(), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return;
      if (n < 0) return fail(slot, errno);
      if (sending) {
        c.sent += static_cast<std::size_t>(n);
        if (c.sent == kGet.size()) c.phase = Phase::kReceiving;
      } else if (n == 0) {
        return c.complete() ? done(slot) : fail(slot, Failure::kShortResponse);
      } else if (!consume(c, static_cast<std::size_t>(n))) {
        return fail(slot, Failure::kBadResponse);
      } else if (c.complete() && o_.closer == Closer::kClient) {
        return done(slot);
      }
    }
  }

  // Takes n bytes from scratch_: into c.head up to its blank line, the rest counted as
  // body. False if the header is bad or longer than c.head.
  bool consume(Conn& c, std::size_t n) {
    if (c.head_done) {
      c.body_got += n;
      return true;
    }
    const std::size_t before = c.head_len;
    const std::size_t take = std::min(n, c.head.size() - before);
    std::memcpy(c.head.data() + before, scratch_.data(), take);
    c.head_len = static_cast<std::uint32_t>(before + take);
    const std::string_view head(c.head.data(), c.head_len);
    const auto blank = head.find("\r\n\r\n", before >= 3 ? before - 3 : 0);
    if (blank == std::string_view::npos) return c.head_len < c.head.size();
    const auto length = content_length(head.substr(0, blank + 4));
    if (!length) return false;
    c.head_done = true;
    c.body_expected = *length;
    c.body_got = n - (blank + 4 - before);
    return true;
  }

  void done(std::uint32_t slot) {
    if (counting_) {
      ++result_.completed;
      ++second_completed_;
    }
    release(slot);
  }

  template <typename Why>
  void fail(std::uint32_t slot, Why why) {
    count_failure(why);
    release(slot);
  }

  template <typename Why>
  void count_failure(Why why) {
    if (!counting_) return;
    result_.errors.add(why);
    ++result_.failed;
    ++second_failed_;
  }

  void release(std::uint32_t slot) {
    close(conns_[slot].fd);
    conns_[slot].fd = -1;
    free_.push_back(slot);
  }

  void close_second(std::int64_t from, std::int64_t to) {
    const Second s{static_cast<double>(to - measure_start_) / 1e9, static_cast<double>(to - from) / 1e9,
                   second_completed_, second_failed_};
    result_.seconds.push_back(s);
    second_completed_ = second_failed_ = 0;
    if (o_.json) return;
    std::printf("t=%6.2f s  cps %9.0f  failed %llu\n", s.t_s,
                s.elapsed_s > 0 ? static_cast<double>(s.completed) / s.elapsed_s : 0.0,
                static_cast<unsigned long long>(s.failed));
    std::fflush(stdout);
  }

  const Options& o_;
  int epoll_fd_ = -1;
  std::vector<Conn> conns_;
  std::vector<std::uint32_t> free_;
  bool counting_ = false;
  std::int64_t measure_start_ = 0;
  std::int64_t next_open_ = 0;
  std::uint64_t scheduled_ = 0;
  std::uint64_t second_completed_ = 0;
  std::uint64_t second_failed_ = 0;
  ClientResult result_;
  std::array<char, 65536> scratch_{};
};

using ull = unsigned long long;

double per_second(std::uint64_t n, double seconds) {
  return seconds > 0 ? static_cast<double>(n) / seconds : 0.0;
}

const char* closer_name(Closer c) { return c == Closer::kServer ? "server" : "client"; }

void print_errors(const char* label, const ErrorCounts& errors, bool json) {
  std::printf(json ? "\"%s\":{" : "%s:", label);
  const auto named = errors.named();
  if (!json && named.empty()) std::printf(" none");
  for (std::size_t i = 0; i < named.size(); ++i) {
    const auto& [name, n] = named[i];
    std::printf(json ? "%s\"%s\":%llu" : "%s %s=%llu", json && i > 0 ? "," : "", name.c_str(), static_cast<ull>(n));
  }
  std::printf(json ? "}" : "\n");
}

void report_text(const Options& o, const ClientResult& r, const Server& s) {
  const std::string rate = o.rate > 0 ? std::to_string(std::llround(o.rate)) + "/s" : "flat-out";
  std::printf("kernel_cps listen=%s closer=%s inflight=%d body=%zu B rate=%s cpus=%d/%d\n", o.listen.text.c_str(),
              closer_name(o.closer), o.inflight, o.body_bytes, rate.c_str(), o.server_cpu, o.client_cpu);
  std::printf("cps %.0f  completed %llu  failed %llu  missed %llu  in %.2f s after %.1f s warm-up\n",
              per_second(r.completed, r.measured_s), static_cast<ull>(r.completed), static_cast<ull>(r.failed),
              static_cast<ull>(r.missed), r.measured_s, o.warmup_s);
  print_errors("client errors", r.errors, false);
  print_errors("server errors (whole run, teardown included)", s.errors(), false);
}

void report_json(const Options& o, const ClientResult& r, const Server& s) {
  std::printf("{\"cps\":%.1f,\"completed\":%llu,\"failed\":%llu,", per_second(r.completed, r.measured_s),
              static_cast<ull>(r.completed), static_cast<ull>(r.failed));
  print_errors("errors", r.errors, true);
  std::printf(",");
  print_errors("server_errors", s.errors(), true);
  std::printf(",\"server_completed\":%llu,\"missed\":%llu,\"per_second\":[", static_cast<ull>(s.completed()),
              static_cast<ull>(r.missed));
  for (std::size_t i = 0; i < r.seconds.size(); ++i) {
    const Second& x = r.seconds[i];
    std::printf("%s{\"t\":%.3f,\"cps\":%.1f,\"completed\":%llu,\"failed\":%llu}", i == 0 ? "" : ",", x.t_s,
                per_second(x.completed, x.elapsed_s), static_cast<ull>(x.completed), static_cast<ull>(x.failed));
  }
  std::printf("],\"duration_s\":%.3f,\"warmup_s\":%.3f,\"inflight\":%d,\"closer\":\"%s\",\"body_bytes\":%zu,"
              "\"rate\":%.1f,\"listen\":\"%s\",\"server_cpu\":%d,\"client_cpu\":%d}\n",
              r.measured_s, o.warmup_s, o.inflight, closer_name(o.closer), o.body_bytes, o.rate,
              o.listen.text.c_str(), o.server_cpu, o.client_cpu);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (const auto code = parse_options(argc, argv, o)) return *code;
  raise_fd_limit(o.inflight);
  struct sigaction sa{};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  const int listen_fd = open_listener(o.listen);
  if (listen_fd < 0) {
    std::fprintf(stderr, "kernel_cps: cannot listen on %s: %s\n", o.listen.text.c_str(), std::strerror(errno));
    return 1;
  }
  Server server(listen_fd, o);
  Client client(o);
  if (!server.ok() || !client.ok()) {
    std::fprintf(stderr, "kernel_cps: epoll: %s\n", std::strerror(errno));
    return 1;
  }
  std::atomic<bool> stop{false};
  std::thread server_thread([&] {
    pin_self(o.server_cpu, "server");
    server.run(stop);
  });
  std::thread client_thread([&] {
    pin_self(o.client_cpu, "client");
    client.run();
  });
  client_thread.join();
  stop.store(true, std::memory_order_release);
  server_thread.join();
  if (o.json) {
    report_json(o, client.result(), server);
  } else {
    report_text(o, client.result(), server);
  }
  return 0;
}
