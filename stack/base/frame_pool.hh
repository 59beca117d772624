// A pool of fixed-size frame buffers, sized once at start-up. alloc() and
// release() are a stack push and pop: no allocator on the packet path. An
// empty pool returns nullptr; the caller counts it (TwstackTxPoolExhausted)
// and recovers as from any loss.
//
// The buffers are the pool's own memory, or a driver's (FrameSource): then a
// frame is written once, straight into the buffer the NIC sends (a DPDK
// mbuf's data room), instead of being built here and copied there. Either
// way at most `frames` buffers are out of the pool at once.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace twstack {

// Buffers a driver lends the pool. Two plain function pointers called once
// per batch of kBatch buffers, never once per frame (no virtual call on the
// packet path). take() writes up to `n` buffers of at least the pool's frame
// size to `out` and returns how many (0: none now, a counted drop); give()
// takes back buffers that were never sent. A buffer handed to the consumer
// of the transmit queue (FramePool::sent) is the driver's again: it sends
// and frees it itself.
struct FrameSource {
  std::uint32_t (*take)(void* ctx, std::uint8_t** out, std::uint32_t n) = nullptr;
  void (*give)(void* ctx, std::uint8_t* const* bufs, std::uint32_t n) = nullptr;
  void* ctx = nullptr;

  explicit operator bool() const { return take != nullptr; }
  bool operator==(const FrameSource&) const = default;
};

class FramePool {
 public:
  // Buffers taken from or given back to a source at a time; the pool keeps
  // at most 2 * kBatch of them idle.
  static constexpr std::uint32_t kBatch = 32;

  // `frames` buffers of `frame_size` bytes of the pool's own.
  FramePool(std::uint32_t frames, std::uint32_t frame_size) : FramePool(frames, frame_size, FrameSource{}) {}
  // With a source: at most `frames` of its buffers out at once, none owned.
  FramePool(std::uint32_t frames, std::uint32_t frame_size, const FrameSource& src)
      : size_(frame_size),
        total_(frames),
        src_(src),
        cap_(src ? 2 * kBatch : frames),
        free_(std::make_unique<std::uint8_t*[]>(cap_)) {
    if (src_) return;
    mem_ = std::make_unique_for_overwrite<std::uint8_t[]>(std::size_t{frames} * frame_size);
    for (std::uint32_t i = 0; i < frames; ++i) free_[i] = mem_.get() + std::size_t{frames - 1 - i} * size_;
    nfree_ = frames;
  }
  ~FramePool() {
    if (src_ && nfree_ != 0) src_.give(src_.ctx, free_.get(), nfree_);
  }
  FramePool(const FramePool&) = delete;
  FramePool& operator=(const FramePool&) = delete;

  std::uint8_t* alloc() {
    if (out_ == total_ || (nfree_ == 0 && !refill())) return nullptr;
    ++out_;
    return free_[--nfree_];
  }
  // `p` is what alloc() returned; the frame was not sent.
  void release(const std::uint8_t* p) {
    --out_;
    if (nfree_ == cap_) spill();
    free_[nfree_++] = const_cast<std::uint8_t*>(p);
  }
  // `p` went to the transmit queue's consumer: with a source, the driver
  // owns it from now on; with the pool's own memory, it is free again.
  void sent(const std::uint8_t* p) {
    if (src_) {
      --out_;
    } else {
      release(p);
    }
  }

  std::uint32_t frame_size() const { return size_; }
  // How many more buffers alloc() may hand out (a source may still run dry).
  std::uint32_t available() const { return total_ - out_; }
  std::uint32_t total() const { return total_; }
  const FrameSource& source() const { return src_; }

 private:
  bool refill() {
    if (!src_) return false;
    nfree_ = src_.take(src_.ctx, free_.get(), std::min(kBatch, total_ - out_));
    return nfree_ != 0;
  }
  // Only with a source (the own pool's array holds every frame): half the
  // idle buffers go back to the driver.
  void spill() {
    nfree_ -= kBatch;
    src_.give(src_.ctx, free_.get() + nfree_, kBatch);
  }

  std::uint32_t size_;
  std::uint32_t total_;
  FrameSource src_;
  std::uint32_t cap_;
  std::uint32_t nfree_ = 0;
  std::uint32_t out_ = 0;
  std::unique_ptr<std::uint8_t[]> mem_;
  std::unique_ptr<std::uint8_t*[]> free_;
};

}  // namespace twstack
