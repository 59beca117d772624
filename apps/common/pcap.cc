// pcap file format: https://www.tcpdump.org/manpages/pcap-savefile.5.html
#include "apps/common/pcap.hh"

#include <algorithm>
#include <array>

namespace twstack::app {

namespace {

// Little-endian, as the magic number announces.
template <std::size_t N>
void put32(std::array<std::uint8_t, N>& b, std::size_t at, std::uint32_t v) {
  for (std::size_t i = 0; i < 4; ++i) b[at + i] = static_cast<std::uint8_t>(v >> (8 * i));
}

}  // namespace

PcapWriter::PcapWriter(const std::string& path, std::uint32_t snaplen)
    : out_(path, std::ios::binary | std::ios::trunc), snaplen_(snaplen) {
  std::array<std::uint8_t, 24> h{};
  put32(h, 0, 0xa1b2c3d4);  // microsecond timestamps
  h[4] = 2;                 // version 2.4
  h[6] = 4;
  put32(h, 16, snaplen_);
  put32(h, 20, 1);  // LINKTYPE_ETHERNET
  out_.write(reinterpret_cast<const char*>(h.data()), h.size());
}

void PcapWriter::write(std::span<const std::uint8_t> frame, Instant at) {
  auto caplen = static_cast<std::uint32_t>(std::min<std::size_t>(frame.size(), snaplen_));
  std::array<std::uint8_t, 16> r{};
  std::int64_t us = std::max<std::int64_t>(at.us, 0);
  put32(r, 0, static_cast<std::uint32_t>(us / 1000000));
  put32(r, 4, static_cast<std::uint32_t>(us % 1000000));
  put32(r, 8, caplen);
  put32(r, 12, static_cast<std::uint32_t>(frame.size()));
  out_.write(reinterpret_cast<const char*>(r.data()), r.size());
  out_.write(reinterpret_cast<const char*>(frame.data()), caplen);
  ++frames_;
}

}  // namespace twstack::app
