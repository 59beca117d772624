// Connection byte buffers over a shared, preallocated chunk pool.
//
// Every connection's send and receive buffer is a ring of `capacity` bytes
// split into fixed-size chunks that are taken from the engine's pool only
// while they hold bytes. An idle or TIME_WAIT-bound connection holds none, so
// buffer memory follows the bytes in flight, not the connection count, and
// nothing is allocated after start-up (DESIGN.md rule 4).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>

namespace twstack::tcp {

inline constexpr std::uint32_t kChunkSize = 2048;
inline constexpr std::uint32_t kMaxRingChunks = 64;
// One slot is spare so the tail never wraps into the head's chunk.
inline constexpr std::uint32_t kMaxRingBytes = (kMaxRingChunks - 1) * kChunkSize;
inline constexpr std::uint32_t kNoChunk = 0xffffffff;

class ChunkPool {
 public:
  explicit ChunkPool(std::uint32_t chunks)
      : mem_(std::make_unique_for_overwrite<std::uint8_t[]>(std::size_t{chunks} * kChunkSize)),
        free_(std::make_unique_for_overwrite<std::uint32_t[]>(chunks)),
        total_(chunks),
        nfree_(chunks) {
    for (std::uint32_t i = 0; i < chunks; ++i) free_[i] = chunks - 1 - i;
  }

  std::uint32_t alloc() { return nfree_ == 0 ? kNoChunk : free_[--nfree_]; }
  void release(std::uint32_t c) { free_[nfree_++] = c; }
  std::uint8_t* data(std::uint32_t c) { return mem_.get() + std::size_t{c} * kChunkSize; }
  std::uint32_t free_chunks() const { return nfree_; }
  std::uint32_t total_chunks() const { return total_; }

 private:
  std::unique_ptr<std::uint8_t[]> mem_;
  std::unique_ptr<std::uint32_t[]> free_;
  std::uint32_t total_;
  std::uint32_t nfree_;
};

// A ring of bytes addressed by offset from its head. The owner keeps the
// sequence-number mapping (send: head = snd_una; receive: head = first
// unread byte). `len` counts contiguous bytes from the head; bytes written
// beyond it (out-of-order receive data) are tracked by the caller.
class ChunkRing {
 public:
  ChunkRing() { slots_.fill(kNoChunk); }
  ChunkRing(const ChunkRing&) = delete;
  ChunkRing& operator=(const ChunkRing&) = delete;

  void init(std::uint32_t capacity) {
    capacity_ = std::min(capacity, kMaxRingBytes);
    head_ = 0;
    len_ = 0;
  }
  // A new limit, at any time: the bytes held stay where they are (the ring's
  // layout does not depend on it), and space() is 0 while they exceed it.
  void set_capacity(std::uint32_t capacity) { capacity_ = std::min(capacity, kMaxRingBytes); }
  std::uint32_t capacity() const { return capacity_; }
  std::uint32_t size() const { return len_; }
  std::uint32_t space() const { return len_ < capacity_ ? capacity_ - len_ : 0; }

  // Copies bytes to [off, off+n) past the head. Returns how many were stored
  // (fewer only when the pool runs dry). Does not change size().
  std::uint32_t write_at(ChunkPool& pool, std::uint32_t off, const std::uint8_t* src,
                         std::uint32_t n) {
    n = std::min(n, off < capacity_ ? capacity_ - off : 0u);
    std::uint32_t done = 0;
    while (done < n) {
      std::uint32_t pos = (head_ + off + done) % ring_span();
      std::uint32_t slot = pos / kChunkSize;
      std::uint32_t in = pos % kChunkSize;
      if (slots_[slot] == kNoChunk) {
        slots_[slot] = pool.alloc();
        if (slots_[slot] == kNoChunk) break;
        ++held_;
      }
      std::uint32_t k = std::min(n - done, kChunkSize - in);
      std::memcpy(pool.data(slots_[slot]) + in, src + done, k);
      done += k;
    }
    return done;
  }

  // Appends at the tail and grows size(). Returns bytes appended.
  std::uint32_t append(ChunkPool& pool, const std::uint8_t* src, std::uint32_t n) {
    std::uint32_t k = write_at(pool, len_, src, std::min(n, space()));
    len_ += k;
    return k;
  }

  // Marks n bytes past the current tail as present (they were written with
  // write_at earlier, as out-of-order data).
  void extend(std::uint32_t n) { len_ = std::min(len_ + n, capacity_); }

  void read_at(ChunkPool& pool, std::uint32_t off, std::uint8_t* dst, std::uint32_t n) const {
    std::uint32_t done = 0;
    while (done < n) {
      std::uint32_t pos = (head_ + off + done) % ring_span();
      std::uint32_t slot = pos / kChunkSize;
      std::uint32_t in = pos % kChunkSize;
      std::uint32_t k = std::min(n - done, kChunkSize - in);
      std::memcpy(dst + done, pool.data(slots_[slot]) + in, k);
      done += k;
    }
  }

  // Drops n bytes from the head, returning emptied chunks to the pool.
  void consume(ChunkPool& pool, std::uint32_t n) {
    n = std::min(n, len_);
    std::uint32_t span = ring_span();
    std::uint32_t first = head_ / kChunkSize;
    head_ = (head_ + n) % span;
    len_ -= n;
    std::uint32_t last = head_ / kChunkSize;
    // Free every chunk the head moved past. When the ring is empty the chunk
    // under the head is freed too, so an idle connection holds no memory.
    for (std::uint32_t s = first; s != last; s = (s + 1) % slot_count()) free_slot(pool, s);
    // Empty with nothing held beyond the tail: only the head's chunk can
    // still be held.
    if (len_ == 0 && !holds_beyond_tail_) free_slot(pool, last);
  }

  // Receive side: out-of-order bytes may sit past the tail; keep their chunks.
  void set_holds_beyond_tail(bool v) { holds_beyond_tail_ = v; }

  void free_all(ChunkPool& pool) {
    for (std::uint32_t s = 0; s < kMaxRingChunks && held_ > 0; ++s) free_slot(pool, s);
  }

  std::uint32_t chunks_held() const { return held_; }

 private:
  // One more slot than the largest capacity needs: with len <= kMaxRingBytes
  // the last byte always lies in a chunk other than the head's, so freeing
  // chunks behind the head never frees live bytes. Fixed, so the capacity
  // can change under live bytes (and the modulo is a mask).
  static constexpr std::uint32_t slot_count() { return kMaxRingChunks; }
  static constexpr std::uint32_t ring_span() { return kMaxRingChunks * kChunkSize; }
  void free_slot(ChunkPool& pool, std::uint32_t s) {
    if (slots_[s] != kNoChunk) {
      pool.release(slots_[s]);
      slots_[s] = kNoChunk;
      --held_;
    }
  }

  std::array<std::uint32_t, kMaxRingChunks> slots_;
  std::uint32_t capacity_ = 0;
  std::uint32_t head_ = 0;
  std::uint32_t len_ = 0;
  std::uint32_t held_ = 0;  // chunks taken from the pool
  bool holds_beyond_tail_ = false;
};

}  // namespace twstack::tcp
