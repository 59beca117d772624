#include "apps/forward/echo.hh"

#include <algorithm>
#include <optional>
#include <span>

namespace twstack::forward {

using engine::AppEvent;
using engine::ConnId;

Errc EchoServer::listen(std::uint16_t port, std::uint32_t backlog) {
  Errc e = eng_.listen(port, backlog);
  if (e == Errc::kOk) port_ = port;
  return e;
}

void EchoServer::on_event(const AppEvent& ev) {
  if (ev.kind == AppEvent::Kind::kAcceptReady) {
    if (ev.port != port_) return;
    while (std::optional<ConnId> id = eng_.accept(ev.port)) {
      ++stats_.accepted;
      serve(*id, 0);  // data may have come with the handshake's last ACK
    }
    return;
  }
  serve(ev.conn, ev.events);
}

void EchoServer::serve(ConnId id, std::uint8_t events) {
  if ((events & tcp::kEvClosed) != 0) {
    // Over without our close (reset, retransmission timeout): close()
    // releases the handle the engine keeps for us.
    ++stats_.failed;
    eng_.close(id);
    return;
  }
  // The client's FIN is in (CLOSE_WAIT) and every byte before it echoed:
  // our FIN follows the echo out.
  if (pump(id) && eng_.state(id) == tcp::State::kCloseWait) {
    ++stats_.closed;
    eng_.close(id);
  }
}

// Moves received bytes back out while the send buffer has room. True when
// nothing received is left unechoed.
bool EchoServer::pump(ConnId id) {
  for (;;) {
    const tcp::Tcb* c = eng_.tcb(id);
    if (c == nullptr || c->orphaned) return true;
    const std::uint32_t room = std::min<std::uint32_t>(c->snd.space(), static_cast<std::uint32_t>(buf_.size()));
    Errc err = Errc::kOk;
    if (room == 0) {
      if (c->rcv.size() == 0) return true;
      // A refused send() (nothing is copied: there is no room) is what asks
      // the engine for kEvWritable once the client has acknowledged half
      // the buffer (Linux sk_stream_write_space); we resume from there.
      eng_.send(id, std::span<const std::uint8_t>(buf_).first(1), &err);
      ++stats_.waits;
      return false;
    }
    const std::uint32_t n = eng_.recv(id, std::span<std::uint8_t>(buf_).first(room));
    if (n == 0) return true;
    const std::uint32_t sent = eng_.send(id, std::span<const std::uint8_t>(buf_).first(n), &err);
    stats_.bytes += sent;
    if (sent < n) {
      // Room was there but send() took less: the shared chunk pool ran dry
      // (TwstackBufPoolExhausted) or the connection can no longer send. An
      // echo must not lose bytes silently, so the connection ends instead.
      ++stats_.failed;
      eng_.abort(id);
      return true;
    }
  }
}

}  // namespace twstack::forward
