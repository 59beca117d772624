#include "apps/kernel/churn_client.hh"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string_view>

namespace kernel_churn {
namespace {

constexpr std::int64_t kSecondNs = 1'000'000'000;
constexpr std::string_view kGetClose = "GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n";
constexpr std::string_view kGetKeep = "GET / HTTP/1.1\r\nHost: bench\r\n\r\n";

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

}  // namespace

Client::Client(const Options& o) : o_(o), conns_(static_cast<std::size_t>(o.inflight)) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  for (auto s = static_cast<std::uint32_t>(o.inflight); s-- > 0;) free_.push_back(s);
}

Client::~Client() {
  for (const Conn& c : conns_) {
    if (c.fd >= 0) close(c.fd);
  }
  if (epoll_fd_ >= 0) close(epoll_fd_);
}

void Client::run(const volatile std::sig_atomic_t& interrupted) {
  const std::int64_t t0 = now_ns();
  const std::int64_t measure_at = t0 + std::llround(o_.warmup_s * 1e9);
  const std::int64_t end = measure_at + std::llround(o_.duration_s * 1e9);
  std::int64_t next_tick = measure_at + kSecondNs;
  std::int64_t tick_start = 0;
  next_open_ = t0;
  std::array<epoll_event, 256> events;
  for (std::int64_t now = t0;; now = now_ns()) {
    now_ = now;
    if (!counting_ && now >= measure_at) {
      counting_ = true;
      measure_start_ = tick_start = now;
    }
    const bool last = now >= end || interrupted != 0;
    if (counting_ && (now >= next_tick || last)) {
      close_second(tick_start, now);
      tick_start = now;
      next_tick += kSecondNs;
    }
    if (last) {
      result_.measured_s = counting_ ? static_cast<double>(now - measure_start_) / 1e9 : 0.0;
      return drain(interrupted);
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

void Client::open_due(std::int64_t now, std::int64_t t0) {
  if (o_.rate == 0) {
    for (std::size_t tries = free_.size(); tries > 0 && !free_.empty(); --tries) open_one(now);
    return;
  }
  while (next_open_ <= now) {  // a fixed schedule: a late loop catches up, never drifts
    if (!free_.empty()) {
      open_one(now);
    } else if (counting_) {
      ++result_.missed;
    }
    next_open_ = t0 + std::llround(static_cast<double>(++scheduled_) * 1e9 / o_.rate);
  }
}

void Client::open_one(std::int64_t now) {
  now_ = now;
  if (counting_) ++result_.attempts;
  const Endpoint& to = o_.endpoints[opened_++ % o_.endpoints.size()];
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return count_failure(errno);
  const std::uint32_t slot = free_.back();
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
  ev.data.u32 = slot;
  const std::int64_t before = now_ns();
  const bool refused = connect(fd, as_sockaddr(to.addr), sizeof to.addr) != 0 && errno != EINPROGRESS;
  const int connect_errno = errno;
  if (counting_) record(&Latencies::connect_call, static_cast<std::uint64_t>(now_ns() - before));
  if (refused || epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    const int e = refused ? connect_errno : errno;
    close(fd);
    return count_failure(e);
  }
  free_.pop_back();
  conns_[slot] = Conn{.fd = fd, .started_ns = before};
}

// With --closer server the client reads on to the server's FIN, then closes.
void Client::on_event(const epoll_event& ev) {
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
    if (counting_) {
      ++result_.established;
      ++second_established_;
      record(&Latencies::connect, static_cast<std::uint64_t>(now_ns() - c.started_ns));
    }
  }
  for (;;) {
    const bool sending = c.phase == Phase::kSending;
    const std::string_view req = c.responses + 1 >= o_.requests_per_conn ? kGetClose : kGetKeep;
    const ssize_t n = sending ? send(c.fd, req.data() + c.sent, req.size() - c.sent, MSG_NOSIGNAL)
                              : recv(c.fd, scratch_.data(), scratch_.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n < 0) return fail(slot, errno);
    if (sending) {
      c.sent += static_cast<std::size_t>(n);
      if (c.sent == req.size()) c.phase = Phase::kReceiving;
    } else if (n == 0) {
      return c.complete() ? done(slot) : fail(slot, Failure::kShortResponse);
    } else if (!consume(c, static_cast<std::size_t>(n))) {
      return fail(slot, Failure::kBadResponse);
    } else if (c.complete() && next_response(c)) {
      continue;  // keep-alive: the next request
    } else if (c.complete() && o_.closer == Closer::kClient) {
      return done(slot);
    }
  }
}

// Takes n bytes from scratch_: into c.head up to its blank line, the rest counted as
// body. False if the header is bad or longer than c.head.
bool Client::consume(Conn& c, std::size_t n) {
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

// After a complete response: true (and c reset for the next request) if the
// connection has more requests to run.
bool Client::next_response(Conn& c) {
  if (c.responses == 0 && counting_) record(&Latencies::response, static_cast<std::uint64_t>(now_ns() - c.started_ns));
  if (++c.responses >= o_.requests_per_conn) return false;
  const std::uint32_t responses = c.responses;
  c = Conn{.fd = c.fd, .phase = Phase::kSending};
  c.responses = responses;
  return true;
}

void Client::record(twstack::app::LatencyHistogram Latencies::*which, std::uint64_t ns) {
  (result_.latency.*which).record(ns);
  (second_latency_.*which).record(ns);
}

void Client::done(std::uint32_t slot) {
  if (counting_) {
    ++result_.completed;
    ++second_completed_;
  }
  release(slot);
}

template <typename Why>
void Client::fail(std::uint32_t slot, Why why) {
  count_failure(why);
  release(slot);
}

template <typename Why>
void Client::count_failure(Why why) {
  if (!counting_) return;
  result_.errors.add(why);
  second_errors_.add(why);
  ++result_.failed;
  ++second_failed_;
  if (!result_.first_failure_s) {
    result_.first_failure_s = static_cast<double>(now_ - measure_start_) / 1e9;
    ErrorCounts one;
    one.add(why);
    result_.first_errno = one.named().front().first;
  }
}

void Client::release(std::uint32_t slot) {
  close(conns_[slot].fd);
  conns_[slot].fd = -1;
  free_.push_back(slot);
}

void Client::close_second(std::int64_t from, std::int64_t to) {
  using twstack::app::percentiles;
  const Second s{static_cast<double>(to - measure_start_) / 1e9,
                 static_cast<double>(to - from) / 1e9,
                 second_completed_,
                 second_failed_,
                 second_established_,
                 second_errors_.named(),
                 percentiles(second_latency_.connect_call),
                 percentiles(second_latency_.connect),
                 percentiles(second_latency_.response)};
  second_latency_.reset();
  if (on_second_) on_second_(s);
  result_.seconds.push_back(s);
  second_completed_ = second_failed_ = second_established_ = 0;
  second_errors_.reset();
  if (o_.json) return;
  std::printf("t=%6.2f s  cps %9.0f  failed %llu\n", s.t_s,
              s.elapsed_s > 0 ? static_cast<double>(s.completed) / s.elapsed_s : 0.0,
              static_cast<unsigned long long>(s.failed));
  std::fflush(stdout);
}

// No new attempts; the connections in progress run on for up to drain_s.
void Client::drain(const volatile std::sig_atomic_t& interrupted) {
  const std::int64_t end = now_ns() + std::llround(o_.drain_s * 1e9);
  std::array<epoll_event, 256> events;
  for (std::int64_t now = now_ns(); free_.size() < conns_.size() && now < end && interrupted == 0; now = now_ns()) {
    now_ = now;
    const int timeout_ms = static_cast<int>(std::min<std::int64_t>(50, (end - now + 999'999) / 1'000'000));
    const int n = epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), timeout_ms);
    for (int i = 0; i < n; ++i) on_event(events[static_cast<std::size_t>(i)]);
  }
}

}  // namespace kernel_churn
