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
inline constexpr std::uint32_t kNoChunk = 0xffffffff;  // all ones: ChunkRing() memsets 0xff
// Chunk numbers an index chunk holds, and what an indexed ring can hold:
// again one index chunk's worth spare, so the tail never wraps into the
// index chunk of the head.
inline constexpr std::uint32_t kIndexEntries = kChunkSize / sizeof(std::uint32_t);
inline constexpr std::uint32_t kMaxIndexedRingBytes =
    ((kMaxRingChunks - 1) * kIndexEntries - 1) * kChunkSize;

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
//
// Up to kMaxRingBytes the ring's 64 slots name its data chunks directly, so
// a short connection's few bytes take one chunk and no more. A ring allowed
// more (a send buffer that follows a large sk_sndbuf) switches, when its
// bytes first outgrow the direct slots, to indexed mode: each slot names an
// index chunk, taken from the same pool, that names kIndexEntries data
// chunks, for up to kMaxIndexedRingBytes. It switches back once empty. The
// ring's own size never changes, so a connection's fixed reservation does
// not grow with what its buffer may hold.
class ChunkRing {
 public:
  // Every slot kNoChunk (all ones): one memset, not a store per slot, since
  // a connection's reset pays for it (two rings per connection).
  ChunkRing() { std::memset(slots_.data(), 0xff, sizeof slots_); }
  ChunkRing(const ChunkRing&) = delete;
  ChunkRing& operator=(const ChunkRing&) = delete;

  void init(std::uint32_t capacity) {
    capacity_ = std::min(capacity, kMaxIndexedRingBytes);
    head_ = 0;
    len_ = 0;
  }
  // A new limit, at any time: the bytes held stay where they are (the ring's
  // layout does not depend on it), and space() is 0 while they exceed it.
  void set_capacity(std::uint32_t capacity) { capacity_ = std::min(capacity, kMaxIndexedRingBytes); }
  std::uint32_t capacity() const { return capacity_; }
  std::uint32_t size() const { return len_; }
  std::uint32_t space() const { return len_ < capacity_ ? capacity_ - len_ : 0; }
  bool indexed() const { return indexed_; }

  // Copies bytes to [off, off+n) past the head. Returns how many were stored
  // (fewer only when the pool runs dry). Does not change size().
  std::uint32_t write_at(ChunkPool& pool, std::uint32_t off, const std::uint8_t* src,
                         std::uint32_t n) {
    n = std::min(n, off < capacity_ ? capacity_ - off : 0u);
    if (off + n > kMaxRingBytes && !indexed_) [[unlikely]] n = grow(pool, off, n);
    std::uint32_t done = 0;
    while (done < n) {
      std::uint32_t pos = (head_ + off + done) & (ring_span() - 1);
      std::uint32_t in = pos % kChunkSize;
      std::uint32_t* slot = indexed_ ? index_slot(pool, pos / kChunkSize) : &slots_[pos / kChunkSize];
      if (slot == nullptr) break;
      if (*slot == kNoChunk) {
        *slot = pool.alloc();
        if (*slot == kNoChunk) break;
        ++held_;
      }
      std::uint32_t k = std::min(n - done, kChunkSize - in);
      std::memcpy(pool.data(*slot) + in, src + done, k);
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
      std::uint32_t pos = (head_ + off + done) & (ring_span() - 1);
      std::uint32_t in = pos % kChunkSize;
      std::uint32_t k = std::min(n - done, kChunkSize - in);
      std::memcpy(dst + done, pool.data(chunk_at(pool, pos / kChunkSize)) + in, k);
      done += k;
    }
  }

  // Drops n bytes from the head, returning emptied chunks to the pool.
  void consume(ChunkPool& pool, std::uint32_t n) {
    n = std::min(n, len_);
    std::uint32_t first = head_ / kChunkSize;
    head_ = (head_ + n) & (ring_span() - 1);
    len_ -= n;
    std::uint32_t last = head_ / kChunkSize;
    // Free every chunk the head moved past (and, indexed, every index chunk
    // it left). When the ring is empty the chunk under the head is freed too,
    // so an idle connection holds no memory.
    for (std::uint32_t s = first; s != last; s = (s + 1) & (slot_count() - 1)) free_slot(pool, s);
    // Empty with nothing held beyond the tail: only the head's chunk (and
    // its index chunk) can still be held.
    if (len_ == 0 && !holds_beyond_tail_) {
      if (indexed_) {
        free_all(pool);
      } else {
        free_slot(pool, last);
      }
    }
  }

  // Receive side: out-of-order bytes may sit past the tail; keep their chunks.
  void set_holds_beyond_tail(bool v) { holds_beyond_tail_ = v; }

  // Returns every chunk to the pool; an indexed ring becomes direct again.
  void free_all(ChunkPool& pool) {
    if (!indexed_) {
      for (std::uint32_t i = 0; i < kMaxRingChunks && held_ > 0; ++i) release(pool, &slots_[i]);
      return;
    }
    for (std::uint32_t i = 0; i < kMaxRingChunks && held_ > 0; ++i) {
      if (slots_[i] == kNoChunk) continue;
      std::uint32_t* index = entries(pool, slots_[i]);
      for (std::uint32_t k = 0; k < kIndexEntries; ++k) release(pool, &index[k]);
      release(pool, &slots_[i]);
    }
    indexed_ = false;
    head_ = 0;
  }

  // Chunks taken from the pool: data chunks and, indexed, index chunks.
  std::uint32_t chunks_held() const { return held_; }

 private:
  // One more slot than the largest capacity needs: with len <= kMaxRingBytes
  // the last byte always lies in a chunk other than the head's, so freeing
  // chunks behind the head never frees live bytes. Fixed, so the capacity
  // can change under live bytes (and the modulo is a mask). Indexed, the
  // same holds of index chunks (kMaxIndexedRingBytes).
  std::uint32_t slot_count() const { return indexed_ ? kMaxRingChunks * kIndexEntries : kMaxRingChunks; }
  std::uint32_t ring_span() const { return slot_count() * kChunkSize; }

  static std::uint32_t* entries(ChunkPool& pool, std::uint32_t index_chunk) {
    return reinterpret_cast<std::uint32_t*>(pool.data(index_chunk));
  }
  void release(ChunkPool& pool, std::uint32_t* slot) {
    if (*slot != kNoChunk) {
      pool.release(*slot);
      *slot = kNoChunk;
      --held_;
    }
  }

  std::uint32_t chunk_at(ChunkPool& pool, std::uint32_t s) const {
    if (!indexed_) return slots_[s];
    return entries(pool, slots_[s / kIndexEntries])[s % kIndexEntries];
  }

  // Indexed: the slot naming data chunk s, its index chunk taken if need
  // be; nullptr when the pool has none.
  [[gnu::noinline]] std::uint32_t* index_slot(ChunkPool& pool, std::uint32_t s) {
    std::uint32_t& index = slots_[s / kIndexEntries];
    if (index == kNoChunk) {
      index = pool.alloc();
      if (index == kNoChunk) return nullptr;
      ++held_;
      std::fill_n(entries(pool, index), kIndexEntries, kNoChunk);
    }
    return &entries(pool, index)[s % kIndexEntries];
  }

  // A write past the direct slots: indexed from now on, or (no chunk for
  // the index) only what the direct slots hold.
  [[gnu::noinline]] std::uint32_t grow(ChunkPool& pool, std::uint32_t off, std::uint32_t n) {
    if (to_indexed(pool)) return n;
    return off < kMaxRingBytes ? std::min(n, kMaxRingBytes - off) : 0;
  }

  // Direct to indexed: the 64 direct slots, in order from the head's, go
  // to a first index chunk, so the head's chunk is slot 0. False when the
  // pool has no chunk for the index.
  bool to_indexed(ChunkPool& pool) {
    const std::uint32_t index = pool.alloc();
    if (index == kNoChunk) return false;
    ++held_;
    std::uint32_t* e = entries(pool, index);
    std::fill_n(e, kIndexEntries, kNoChunk);
    const std::uint32_t h = head_ / kChunkSize;
    for (std::uint32_t i = 0; i < kMaxRingChunks; ++i) e[i] = slots_[(h + i) % kMaxRingChunks];
    slots_.fill(kNoChunk);
    slots_[0] = index;
    head_ %= kChunkSize;
    indexed_ = true;
    return true;
  }

  // Frees data chunk s; indexed, also its index chunk once s was its last
  // entry (the head has left it, and the live bytes never wrap into it).
  void free_slot(ChunkPool& pool, std::uint32_t s) {
    if (!indexed_) {
      release(pool, &slots_[s]);
      return;
    }
    std::uint32_t& index = slots_[s / kIndexEntries];
    if (index == kNoChunk) return;
    release(pool, &entries(pool, index)[s % kIndexEntries]);
    if (s % kIndexEntries == kIndexEntries - 1) release(pool, &index);
  }

  std::array<std::uint32_t, kMaxRingChunks> slots_;
  std::uint32_t capacity_ = 0;
  std::uint32_t head_ = 0;
  std::uint32_t len_ = 0;
  std::uint32_t held_ = 0;  // chunks taken from the pool
  bool holds_beyond_tail_ = false;
  bool indexed_ = false;
};

}  // namespace twstack::tcp
