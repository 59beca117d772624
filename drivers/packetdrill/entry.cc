// packetdrill_interface_init: the one symbol packetdrill's --so_filename
// loader looks up. Each member of the interface is a trampoline into Host.
#include <dlfcn.h>
#include <fcntl.h>

#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <vector>

#include "drivers/packetdrill/abi.hh"
#include "drivers/packetdrill/host.hh"

namespace twstack::pd {
namespace {

// packetdrill's `%{ ... }%` code events read TCP_INFO, TCP_CC_INFO and
// SO_MEMINFO with libc's getsockopt() on the socket's descriptor, not
// through the interface. Loaded with LD_PRELOAD as well (run.py does), this
// library's getsockopt() below takes those calls for its own descriptors:
// the one Host packetdrill made, process-wide by nature of the hook.
std::atomic<Host*> g_host{nullptr};

Host& H(void* u) { return *static_cast<Host*>(u); }

ssize_t recv_one(void* u, int fd, void* buf, size_t len, int flags) {
  iovec v{buf, len};
  return H(u).recv(fd, &v, 1, flags);
}

ssize_t send_one(void* u, int fd, const void* buf, size_t len, int flags) {
  iovec v{const_cast<void*>(buf), len};
  return H(u).send(fd, &v, 1, flags);
}

int do_fcntl(void* u, int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  long arg = (cmd == F_SETFL) ? va_arg(ap, long) : 0;
  va_end(ap);
  return H(u).fcntl(fd, cmd, arg);
}

int do_ioctl(void* u, int fd, unsigned long req, ...) {
  va_list ap;
  va_start(ap, req);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  return H(u).ioctl(fd, req, arg);
}

void fill(packetdrill_interface* ifc) {
  ifc->free = [](void* u) {
    g_host.store(nullptr);
    delete static_cast<Host*>(u);
  };
  ifc->socket = [](void* u, int d, int t, int p) { return H(u).socket(d, t, p); };
  ifc->bind = [](void* u, int fd, const sockaddr* a, socklen_t l) { return H(u).bind(fd, a, l); };
  ifc->listen = [](void* u, int fd, int b) { return H(u).listen(fd, b); };
  ifc->accept = [](void* u, int fd, sockaddr* a, socklen_t* l) { return H(u).accept(fd, a, l); };
  ifc->connect = [](void* u, int fd, const sockaddr* a, socklen_t l) { return H(u).connect(fd, a, l); };
  ifc->read = [](void* u, int fd, void* b, size_t n) { return recv_one(u, fd, b, n, 0); };
  ifc->readv = [](void* u, int fd, const iovec* v, int n) { return H(u).recv(fd, v, n, 0); };
  ifc->recv = [](void* u, int fd, void* b, size_t n, int f) { return recv_one(u, fd, b, n, f); };
  ifc->recvfrom = [](void* u, int fd, void* b, size_t n, int f, sockaddr*, socklen_t* l) {
    if (l != nullptr) *l = 0;
    return recv_one(u, fd, b, n, f);
  };
  ifc->recvmsg = [](void* u, int fd, msghdr* m, int f) { return H(u).recvmsg(fd, m, f); };
  ifc->write = [](void* u, int fd, const void* b, size_t n) { return send_one(u, fd, b, n, 0); };
  ifc->writev = [](void* u, int fd, const iovec* v, int n) { return H(u).send(fd, v, n, 0); };
  ifc->send = [](void* u, int fd, const void* b, size_t n, int f) { return send_one(u, fd, b, n, f); };
  ifc->sendto = [](void* u, int fd, const void* b, size_t n, int f, const sockaddr*, socklen_t) {
    return send_one(u, fd, b, n, f);
  };
  ifc->sendmsg = [](void* u, int fd, const msghdr* m, int f) {
    return H(u).send(fd, m->msg_iov, static_cast<int>(m->msg_iovlen), f);
  };
  ifc->fcntl = do_fcntl;
  ifc->ioctl = do_ioctl;
  ifc->close = [](void* u, int fd) { return H(u).close(fd); };
  ifc->shutdown = [](void* u, int fd, int how) { return H(u).shutdown(fd, how); };
  ifc->getsockopt = [](void* u, int fd, int lv, int n, void* v, socklen_t* l) {
    return H(u).getsockopt(fd, lv, n, v, l);
  };
  ifc->setsockopt = [](void* u, int fd, int lv, int n, const void* v, socklen_t l) {
    return H(u).setsockopt(fd, lv, n, v, l);
  };
  ifc->poll = [](void* u, pollfd* f, nfds_t n, int t) { return H(u).poll(f, n, t); };
  ifc->netdev_send = [](void* u, const void* b, size_t n) { return H(u).netdev_send(b, n); };
  ifc->netdev_receive = [](void* u, void* b, size_t* n, long long* t) {
    return H(u).netdev_receive(b, n, t);
  };
  ifc->usleep = [](void*, useconds_t us) { return ::usleep(us); };
  ifc->gettimeofday = [](void*, timeval* tv, struct timezone* tz) { return ::gettimeofday(tv, tz); };
  ifc->epoll_create = [](void* u, int) { return H(u).epoll_create(); };
  ifc->epoll_ctl = [](void* u, int ep, int op, int fd, epoll_event* e) { return H(u).epoll_ctl(ep, op, fd, e); };
  ifc->epoll_wait = [](void* u, int ep, epoll_event* e, int m, int t) { return H(u).epoll_wait(ep, e, m, t); };
  ifc->pipe = [](void*, int fds[2]) { return ::pipe(fds); };
  ifc->splice = [](void*, int, loff_t*, int, loff_t*, size_t, unsigned) -> int {
    errno = EOPNOTSUPP;  // twstack has no splice
    return -1;
  };
}

}  // namespace
}  // namespace twstack::pd

extern "C" __attribute__((visibility("default"))) void packetdrill_interface_init(
    const char* flags, packetdrill_interface* ifc) {
  using namespace twstack::pd;
  HostOptions o;
  if (auto err = parse_flags(flags == nullptr ? "" : flags, &o)) {
    std::fprintf(stderr, "libtwstack_packetdrill: --so_flags: %s\n", err->c_str());
    std::exit(2);
  }
  fill(ifc);
  auto* h = new Host(o);
  ifc->userdata = h;
  g_host.store(h);
}

extern "C" __attribute__((visibility("default"))) int getsockopt(int fd, int level, int name, void* val,
                                                                 socklen_t* len) noexcept {
  using namespace twstack::pd;
  Host* h = g_host.load();
  if (h != nullptr && h->owns(fd)) return h->getsockopt(fd, level, name, val, len);
  using Real = int (*)(int, int, int, void*, socklen_t*);
  static const Real real = reinterpret_cast<Real>(::dlsym(RTLD_NEXT, "getsockopt"));
  if (real == nullptr) {
    errno = ENOSYS;
    return -1;
  }
  return real(fd, level, name, val, len);
}
