// A pool of fixed-size frame buffers, allocated once at start-up. alloc() and
// release() are a stack push and pop: no allocator on the packet path. An
// empty pool returns nullptr; the caller counts it (TwstackTxPoolExhausted)
// and recovers as from any loss.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace twstack {

class FramePool {
 public:
  FramePool(std::uint32_t frames, std::uint32_t frame_size)
      : size_(frame_size),
        total_(frames),
        nfree_(frames),
        mem_(std::make_unique_for_overwrite<std::uint8_t[]>(std::size_t{frames} * frame_size)),
        free_(std::make_unique<std::uint32_t[]>(frames)) {
    for (std::uint32_t i = 0; i < frames; ++i) free_[i] = frames - 1 - i;
  }

  std::uint8_t* alloc() { return nfree_ == 0 ? nullptr : at(free_[--nfree_]); }
  // `p` is any pointer into a frame this pool handed out.
  void release(const std::uint8_t* p) { free_[nfree_++] = index_of(p); }

  std::uint8_t* at(std::uint32_t idx) const { return mem_.get() + std::size_t{idx} * size_; }
  std::uint32_t index_of(const std::uint8_t* p) const {
    return static_cast<std::uint32_t>(static_cast<std::size_t>(p - mem_.get()) / size_);
  }
  std::uint32_t frame_size() const { return size_; }
  std::uint32_t available() const { return nfree_; }
  std::uint32_t total() const { return total_; }

 private:
  std::uint32_t size_;
  std::uint32_t total_;
  std::uint32_t nfree_;
  std::unique_ptr<std::uint8_t[]> mem_;
  std::unique_ptr<std::uint32_t[]> free_;
};

}  // namespace twstack
