// What the socket calls report in each state, as Linux (net/ipv4/tcp.c
// tcp_sendmsg_locked, tcp_recvmsg_locked; net/core/stream.c
// sk_stream_wait_connect, sk_stream_error; tcp_input.c tcp_reset): the
// connection's error is given once, by whichever call comes first, and then
// EPIPE for writes and end of stream for reads.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "tests/support/lone_tcb.hh"

namespace twstack::test {
namespace {

using tcp::State;
constexpr Seq kNext = LoneTcb::kIrs + 1;

struct Result {
  std::uint32_t n;
  Errc err;
};

Result write(LoneTcb& c, std::size_t len = 100) {
  const std::vector<std::uint8_t> data(len, 0x42);
  Errc err;
  const std::uint32_t n = tcp::user_send(c.env(), c.tcb, data, &err);
  c.flush();
  return {n, err};
}

Result read(LoneTcb& c) {
  std::vector<std::uint8_t> buf(4096);
  Errc err;
  const std::uint32_t n = tcp::user_recv(c.env(), c.tcb, buf, &err);
  c.flush();
  return {n, err};
}

tcp::TcpParams params() {
  tcp::TcpParams p(StackConfig{});
  p.timestamps = 0;
  return p;
}

TEST(TcbErrno, ReadWithNothingQueuedIsEagain) {
  LoneTcb c(params());
  c.in_state(State::kEstablished);
  const Result r = read(c);
  EXPECT_EQ(r.n, 0u);
  EXPECT_EQ(r.err, Errc::kAgain);
}

// A reset in ESTABLISHED: the first write gets ECONNRESET, the next EPIPE;
// a read then sees the end of the stream.
TEST(TcbErrno, WriteAfterResetGivesTheErrorOnceThenEpipe) {
  LoneTcb c(params());
  c.in_state(State::kEstablished);
  c.receive(kNext, {}, wire::kRst);
  ASSERT_EQ(c.tcb.state, State::kClosed);
  EXPECT_EQ(write(c).err, Errc::kConnReset);
  EXPECT_EQ(write(c).err, Errc::kPipe);
  const Result r = read(c);
  EXPECT_EQ(r.n, 0u);
  EXPECT_EQ(r.err, Errc::kOk) << "end of stream";
}

// The same reset, read first: ECONNRESET, then end of stream; a write
// after that gets EPIPE.
TEST(TcbErrno, ReadAfterResetGivesTheErrorOnceThenEndOfStream) {
  LoneTcb c(params());
  c.in_state(State::kEstablished);
  c.receive(kNext, {}, wire::kRst);
  EXPECT_EQ(read(c).err, Errc::kConnReset);
  const Result r = read(c);
  EXPECT_EQ(r.n, 0u);
  EXPECT_EQ(r.err, Errc::kOk);
  EXPECT_EQ(write(c).err, Errc::kPipe);
}

// Data that arrived before the reset is still read first.
TEST(TcbErrno, QueuedDataIsReadBeforeTheError) {
  LoneTcb c(params());
  c.in_state(State::kEstablished);
  const std::vector<std::uint8_t> data(50, 0x42);
  c.receive(kNext, data);
  c.receive(kNext + 50, {}, wire::kRst);
  const Result first = read(c);
  EXPECT_EQ(first.n, 50u);
  EXPECT_EQ(first.err, Errc::kOk);
  EXPECT_EQ(read(c).err, Errc::kConnReset);
}

// tcp_reset in CLOSE_WAIT sets EPIPE ("the right error as BSD sees it");
// the read side had its FIN, so reads see the end of the stream.
TEST(TcbErrno, ResetInCloseWaitGivesEpipe) {
  LoneTcb c(params());
  c.in_state(State::kCloseWait);
  c.receive(kNext + 1, {}, wire::kRst);
  ASSERT_EQ(c.tcb.state, State::kClosed);
  EXPECT_EQ(c.tcb.error, Errc::kPipe);
  const Result r = read(c);
  EXPECT_EQ(r.n, 0u);
  EXPECT_EQ(r.err, Errc::kOk);
  EXPECT_EQ(write(c).err, Errc::kPipe);
  EXPECT_EQ(write(c).err, Errc::kPipe);
}

// After shutdown(SHUT_WR): EPIPE (SEND_SHUTDOWN).
TEST(TcbErrno, WriteAfterShutdownIsEpipe) {
  LoneTcb c(params());
  c.in_state(State::kEstablished);
  ASSERT_EQ(tcp::user_shutdown(c.env(), c.tcb), Errc::kOk);
  EXPECT_EQ(write(c).err, Errc::kPipe);
  EXPECT_EQ(read(c).err, Errc::kAgain) << "the read side is still open";
}

// Retransmissions exhausted: ETIMEDOUT once (SO_ERROR takes it here), then
// EPIPE and end of stream.
TEST(TcbErrno, TimeoutIsReportedOnceBySoError) {
  tcp::TcpParams p = params();
  p.retries2 = 1;
  LoneTcb c(p);
  c.in_state(State::kEstablished);
  ASSERT_EQ(write(c).err, Errc::kOk);
  c.sent();
  c.fire_due(tcp::kTimerRetransmit);
  c.fire_due(tcp::kTimerRetransmit);
  ASSERT_EQ(c.tcb.state, State::kClosed);
  EXPECT_EQ(tcp::user_so_error(c.tcb), Errc::kTimedOut);
  EXPECT_EQ(tcp::user_so_error(c.tcb), Errc::kOk);
  EXPECT_EQ(write(c).err, Errc::kPipe);
  EXPECT_EQ(read(c).err, Errc::kOk);
}

}  // namespace
}  // namespace twstack::test
