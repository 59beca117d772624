// Writes frames to a classic libpcap file (LINKTYPE_ETHERNET, microsecond
// timestamps), readable by tcpdump -r and Wireshark. Timestamps are the
// caller's Instants: virtual time in simulations.
#pragma once

#include <cstdint>
#include <fstream>
#include <span>
#include <string>

#include "stack/base/time.hh"

namespace twstack::app {

class PcapWriter {
 public:
  // Opens (truncates) `path` and writes the file header; ok() says whether it worked.
  explicit PcapWriter(const std::string& path, std::uint32_t snaplen = 65535);
  bool ok() const { return static_cast<bool>(out_); }
  void write(std::span<const std::uint8_t> frame, Instant at);
  std::uint64_t frames() const { return frames_; }

 private:
  std::ofstream out_;
  std::uint32_t snaplen_;
  std::uint64_t frames_ = 0;
};

}  // namespace twstack::app
