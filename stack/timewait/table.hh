// The TIME_WAIT table: compact timewait entries, a bucketized keyed-hash index
// on the 4-tuple, and a FIFO-per-slot expiry timer with bounded work per poll.
//
// Linux keeps a 248-byte tw_sock per TIME_WAIT connection (docs/linux-timewait.md §12); this
// table keeps 32 bytes, and at most 40 bytes per entry counting the index
// and the timer slots (memory_bytes() / capacity(), checked at 10M).
//
// Deliberate deviation from STYLE.md idiom 7 ("Boost.Intrusive hashing"):
// pointer hooks cost 8 bytes per link, and a chained hash costs a dependent
// cache miss per link. Entries live in one array preallocated at construction
// and are found through an index of 64-byte buckets (one cache line each): 12
// one-byte tags, an occupancy mask and overflow counts in the first 16 bytes,
// 12 entry indexes (26 bits, with 6 more tag bits above) after. A key's home
// bucket is chosen by the keyed hash (wire::mix_tuple with the engine's
// secret, so a peer cannot aim tuples at one bucket); a full bucket sends new
// keys on along their probe sequence (a second hashed bucket, then the ones
// after it) and counts them in one of 4 overflow classes, so a lookup reads on
// only while its class's count says a key went past (F14/Swiss-table style).
// The index is sized for 8.75 entries per 12-slot bucket at capacity (73%
// full): a miss is answered from one line, a hit from the bucket and the
// entry, and insert and expiry each touch one bucket line (one line rather
// than an adjacent pair of 24 slots: at 10 M entries the table is memory-bound
// on the lines in flight, and the pair cost a second line per operation).
// find_batch() issues the bucket loads of a whole burst before it reads any,
// then the entry loads of every candidate, so a burst costs about one memory
// latency instead of two per tuple; prefetch() lets a caller do the same ahead
// of insert(). Nothing allocates after construction.
// At 10 M entries under churn in bursts, an insert-plus-expire pair moves about
// three and a half lines from memory (the insert's home bucket and its buddy,
// the expired entry's bucket, half an entry line), all prefetched; the
// profile then shows about half of the time waiting on those lines with the
// memory system's parallelism used up, so fewer lines per pair, not fewer
// instructions, is what would make it cheaper still.
//
// Expiry. The TIME_WAIT length is constant per table (TCP_TIMEWAIT_LEN, §0),
// so entries expire in insertion order except after a re-arm (§2) or for a
// FIN_WAIT2 entry's shorter timeout (any expiry within len() has a slot). The timer
// is a ring of slots of `granularity()` ms, each a singly linked FIFO. An entry
// is linked into the slot of its expiry tick, and expires when that tick is
// processed: never before its expiry, at most one granularity after.
// - Re-arm only updates the expiry. When the old slot comes due, an entry whose
//   expiry is later is re-linked into the right slot (a "lazy move").
// - Kill unindexes at once and frees the entry for reuse. It stays
//   in the timer FIFO as a tombstone until its slot comes due. A new insert may
//   reuse a tombstone in place: its expiry is later than the slot it sits in,
//   so it is lazily moved like a re-armed entry. Tombstones therefore never
//   consume capacity, and live() counts live entries only.
// - expire() counts expiries, lazy moves, tombstones and slot advances against
//   its budget, so a million entries due at once spread over many polls. A
//   bitmap of non-empty slots lets it (and evict-oldest) skip empty slots a
//   word at a time, so an idle gap costs one step. While it drains a slot it
//   prefetches the next entries of the FIFO and their buckets.
// - Entries are reused most recently freed first, so under steady churn an
//   entry is rewritten while its line is still cached, and a slot's FIFO runs
//   through the array mostly in address order.
//
// Cap: tcp_max_tw_buckets (§4). insert() fails when live() >= max_live(), and
// counts an overflow; TwOverflowPolicy::kEvictOldest instead kills the live entry
// nearest to expiry to make room (not a Linux behaviour).
//
// Time is passed in as int64 milliseconds on the caller's clock and must not go
// backwards. Internally times are 28-bit ms relative to the table's epoch (the
// `epoch_ms` constructor argument), compared modulo 2^28 (74 hours): len() is at
// most 24 hours (twstack.tcp_timewait_len's bound) and expire() must be called
// at least every 13 hours.
//
// What the table does not do: segment verdicts (§3) and counters beyond
// overflow/eviction belong to the TIME_WAIT policy and the engine.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <span>

#include "stack/base/config.hh"
#include "stack/base/seq.hh"
#include "stack/base/time.hh"
#include "stack/wire/four_tuple.hh"
#include "stack/wire/ipv4.hh"

namespace twstack::tw {

using wire::FourTuple;

struct TwEntryInit {
  FourTuple tuple;
  Seq snd_nxt;
  Seq rcv_nxt;
  std::uint16_t window = 0;  // already shifted by rcv_wscale (tcp_v4_timewait_ack)
  std::uint32_t ts_recent = 0;
  bool has_ts = false;      // tw_ts_recent_stamp != 0: the peer's timestamps were seen
  bool fin_wait2 = false;   // tw_substate FIN_WAIT2 rather than TIME_WAIT (§1 c)
  bool wscale = false;      // window scaling was in use: `window` is shifted by the
                            // engine's rcv_wscale (one value per engine)
  bool active = false;      // opened by connect(): the tuple is held in the port allocator
  bool bound = false;       // its port came from an explicit bind with SO_REUSEADDR (§8)
};

// Refers to a live entry; valid until it is killed or expired.
struct Handle {
  static constexpr std::uint32_t kInvalid = 0xffffffffu;
  std::uint32_t index = kInvalid;

  explicit operator bool() const { return index != kInvalid; }
  bool operator==(const Handle&) const = default;
};

enum class InsertStatus : std::uint8_t {
  kOk,
  kEvictedOldest,      // inserted after evicting the oldest live entry
  kOverflow,           // refused: live() >= max_live() (counted)
  kExists,             // the 4-tuple is already in the table; nothing changed
  kUnknownLocalAddr,   // tuple.laddr is not one of the table's local addresses
};

struct InsertResult {
  InsertStatus status = InsertStatus::kOk;
  Handle handle;  // valid for kOk and kEvictedOldest; the existing entry for kExists
  FourTuple evicted;  // kEvictedOldest: the evicted entry's tuple (its port is free)
  bool evicted_active = false;  // kEvictedOldest: the evicted entry was `active`

  bool inserted() const {
    return status == InsertStatus::kOk || status == InsertStatus::kEvictedOldest;
  }
};

// The table's internal helpers are not interposable, so that the compiler
// inlines them on the hot paths even in position-independent code (-fPIC
// costs a third of the churn time otherwise). The library is linked statically.
#define TWSTACK_TW_LOCAL [[gnu::visibility("hidden")]]

// Called once on each of the table's large arrays before anything touches
// them, so the caller can give them huge pages (the DPDK runtime's madvise):
// a lookup at 10 M entries then misses the cache but not the TLB. stack/
// makes no OS call itself.
using AdviseLarge = void (*)(void* p, std::size_t bytes);

class TimeWaitTable {
 public:
  static constexpr std::size_t kMaxLocalAddrs = 16;
  static constexpr std::uint32_t kMaxCapacity = (1u << 26) - 2;
  static constexpr std::uint32_t kMaxSlots = 65536;
  static constexpr std::int64_t kMaxLenMs = 86'400'000;  // len() is clamped to 24 h
  static constexpr std::size_t kBatch = 32;  // find_batch() works in bursts of this size

  // local_addrs: at most 16; capacity: 1..kMaxCapacity; len: 1 ms..kMaxLenMs.
  TimeWaitTable(std::span<const wire::Ipv4Addr> local_addrs, std::uint32_t capacity,
                Duration len, std::uint64_t seed,
                TwOverflowPolicy policy, std::int64_t epoch_ms = 0, AdviseLarge advise = nullptr);
  TimeWaitTable(const TimeWaitTable&) = delete;
  TimeWaitTable& operator=(const TimeWaitTable&) = delete;

  // The entry expires `timeout_ms` from now, at most len(): a TIME_WAIT entry
  // gets len(), an orphaned FIN_WAIT2 entry tcp_fin_timeout (§1 c).
  InsertResult insert(const TwEntryInit& init, std::int64_t now_ms);
  InsertResult insert(const TwEntryInit& init, std::int64_t now_ms, std::int64_t timeout_ms);
  // insert() for a tuple the caller knows is not in the table: a connection
  // held it until now (Linux's inet_twsk_hashdance adds the timewait sock to
  // the hash without a lookup, the established hash having kept the tuple
  // unique). Skips the lookup's walk past the home bucket, which is a cache
  // miss on a tenth of inserts at capacity; never returns kExists. A tuple
  // that is in the table is the caller's bug (checked by assert).
  InsertResult insert_new(const TwEntryInit& init, std::int64_t now_ms) { return insert_new(init, now_ms, len_ms_); }
  InsertResult insert_new(const TwEntryInit& init, std::int64_t now_ms, std::int64_t timeout_ms);
  Handle find(const FourTuple& t) const;
  // Batched lookups: out[k] = find(ts[k]) (out.size() >= ts.size()). Each burst of
  // up to kBatch tuples issues all its bucket loads, then all its candidate entry
  // loads, before it compares any key. Answers exactly as find(). A burst rx
  // path calls it once per burst with the tuples of the segments the
  // connection table did not claim (QueueEngine::rx takes one frame at a time
  // today and calls find()).
  void find_batch(std::span<const FourTuple> ts, std::span<Handle> out) const;
  // Start loading the home bucket of t, for a caller that looks t up a little
  // later (a burst path: for the SYNs of a burst, before it reads any).
  void prefetch(const FourTuple& t) const;
  // The same and the home's buddy (the other half of its 128-byte pair), for
  // a caller that will insert t a little later (a burst path: for the
  // connections its segments will move to TIME_WAIT, before the first
  // insert_new()). The buddy is where an insert goes when the home is full,
  // which at capacity under churn is about one insert in five: loading it with
  // the home costs bandwidth rather than another memory latency. A lookup
  // needs the buddy less often (a miss reads on only when its overflow class
  // says a key went past), so prefetch() leaves it.
  void prefetch_insert(const FourTuple& t) const;
  // Unhash at once (RST, SYN takeover, tw_reuse); the slot is free for reuse.
  void kill(Handle h);
  // Restart the TIME_WAIT timer: expiry = now + len (inet_twsk_reschedule).
  // refresh_entry_stamp also sets the entry time to now (the FIN_WAIT2 -> TIME_WAIT
  // path with a timestamp, §1).
  void rearm(Handle h, std::int64_t now_ms, bool refresh_entry_stamp = false);

  // Expire entries due at now_ms, calling on_expire(Handle) for each before it is
  // freed (the entry's fields are readable; on_expire must not modify the table).
  // Does at most `budget` units of work; returns true when nothing due remains.
  template <typename F>
  bool expire(std::int64_t now_ms, std::size_t budget, F&& on_expire);

  // Earliest time at which expire() may have work (ratas ticks_to_next_event):
  // a lower bound, since the slot may hold only tombstones or re-armed entries.
  // nullopt when the timer is empty. Exact to the slot while expire() keeps up
  // with now; if it lags by more than len, slots of a later lap alias earlier.
  // With a horizon (ms, the caller's clock), looks no further than it
  // (nullopt beyond), so an idle loop's question costs a few bitmap words.
  std::optional<std::int64_t> next_work_ms() const;
  std::optional<std::int64_t> next_work_ms(std::int64_t horizon_ms) const;

  // Entry fields.
  FourTuple tuple(Handle h) const {
    const Entry& x = e(h);
    return FourTuple{laddrs_[addr_index(x)], wire::Ipv4Addr{x.raddr}, x.lport, x.rport};
  }
  Seq snd_nxt(Handle h) const { return Seq(e(h).snd_nxt); }
  Seq rcv_nxt(Handle h) const { return Seq(e(h).rcv_nxt); }
  std::uint16_t window(Handle h) const { return e(h).window; }
  std::uint32_t ts_recent(Handle h) const { return e(h).ts_recent; }
  bool has_ts(Handle h) const { return (e(h).tnext & kHasTs) != 0; }
  bool fin_wait2(Handle h) const { return (e(h).tnext & kFinWait2) != 0; }
  bool wscale(Handle h) const { return (e(h).tnext & kWscale) != 0; }
  bool active(Handle h) const { return (e(h).tnext & kActive) != 0; }
  bool bound(Handle h) const { return (e(h).tnext & kBound) != 0; }
  std::int64_t expiry_ms(Handle h) const { return abs_ms(e(h).expiry); }

  // Calls f(Handle) for every live entry, in array order (statistics, tests;
  // reads the whole array). f must not modify the table.
  template <typename F>
  void for_each(F&& f) const;
  // tw_entry_stamp. Exact while the entry was (re)armed less than 65.535 s after it
  // entered; beyond that it reads as 65.535 s before the last arming, which keeps
  // every "entered at least d ago" test with d <= 65.535 s exact (tcp_tw_reuse_delay
  // is at most 60 s). A FIN_WAIT2 entry (timeout below len()) reads as entered
  // len() before its expiry, i.e. too early: nothing consults the stamp in that
  // substate, and the move to TIME_WAIT refreshes it.
  std::int64_t entry_ms(Handle h) const;

  // Field updates for the TIME_WAIT policy's verdicts (§3).
  void set_rcv_nxt(Handle h, Seq v) { e(h).rcv_nxt = v.raw(); }
  void set_ts_recent(Handle h, std::uint32_t v);
  void set_time_wait(Handle h) { e(h).tnext &= ~kFinWait2; }

  std::size_t live() const { return live_; }
  std::size_t capacity() const { return capacity_; }
  std::size_t max_live() const { return max_live_; }
  // Lowering the cap below live() kills nothing: inserts fail (even under
  // kEvictOldest) until expiry brings live() down to the cap.
  void set_max_live(std::size_t n) { max_live_ = n < capacity_ ? n : capacity_; }
  std::uint64_t overflows() const { return overflows_; }
  std::uint64_t evictions() const { return evictions_; }
  // FIN_WAIT2 entries that had to reuse a tombstone due after their expiry, and
  // so expire up to len() late (only when no other entry is free).
  std::uint64_t late_expiries() const { return late_expiries_; }
  // Everything allocated at construction for capacity() entries.
  std::size_t memory_bytes() const;
  // What of that has been written: the index and the timer slots (zeroed at
  // construction), and the entries ever handed out (they are handed out in
  // order, and freed ones are reused before a new one, so entries beyond the
  // population's peak are never touched and cost no resident memory).
  std::size_t touched_bytes() const;
  std::size_t bucket_count() const { return nbuckets_; }
  static constexpr std::size_t kBucketSlots = 12;
  // Buckets whose overflow count is non-zero (keys probed past them); reads the index.
  std::size_t overflowed_buckets() const;
  std::size_t slot_count() const { return nslots_; }
  std::uint32_t granularity_ms() const { return gran_ms_; }
  Duration len() const { return Duration::millis(len_ms_); }

  // 32 bytes, aligned: an entry never straddles two cache lines.
  struct alignas(32) Entry {
    std::uint32_t raddr;       // a free entry: the free list link
    std::uint16_t lport;
    std::uint16_t rport;
    std::uint32_t snd_nxt;
    std::uint32_t rcv_nxt;
    std::uint32_t ts_recent;
    std::uint32_t expiry;      // bits 0..27: ms since the epoch, mod 2^28;
                               // 28..31: local address index
    std::uint16_t window;
    std::uint16_t entry_age;   // (expiry - len) - entry time, ms, saturating
    std::uint32_t tnext;       // timer FIFO; bits 26..31: flags
  };
  static_assert(sizeof(Entry) == 32, "TIME_WAIT entry must stay at 32 bytes");

  // One cache line of the index: the first 16 bytes hold every tag and the
  // counters, so a miss compares them in one vector load.
  struct alignas(64) Bucket {
    std::uint8_t tag[kBucketSlots];
    std::uint16_t occupied;    // bit s: slot s holds an entry
    std::uint16_t overflow;    // 4 four-bit counts, one per overflow class (2 bits
                               // of the hash): keys whose probe passed this bucket
                               // and went on (a count saturates at 15 and stays)
    std::uint32_t slot[kBucketSlots];  // bits 0..25: entry index, 26..31: tag bits
  };
  static_assert(sizeof(Bucket) == 64, "an index bucket is one cache line");

 private:
  static constexpr std::uint32_t kIdx = 0x03ffffffu;   // index bits of a link word
  static constexpr std::uint32_t kNil = kIdx;          // null link (index field)
  static constexpr std::uint32_t kNone = kNil;         // null slot head
  // expiry word: 28 bits of time, the local address index above
  static constexpr std::uint32_t kTimeMask = 0x0fffffffu;
  static constexpr int kAddrShift = 28;
  // tnext flags. A live entry is always in a timer FIFO; a free one is in a FIFO
  // (a tombstone) when kTombInFifo, which shares a bit with a live-only flag.
  static constexpr std::uint32_t kLive = 1u << 26;
  static constexpr std::uint32_t kFinWait2 = 1u << 27;
  static constexpr std::uint32_t kHasTs = 1u << 28;
  static constexpr std::uint32_t kWscale = 1u << 29;
  static constexpr std::uint32_t kActive = 1u << 30;
  static constexpr std::uint32_t kBound = 1u << 31;
  static constexpr std::uint32_t kTombInFifo = kFinWait2;
  static constexpr std::uint32_t kEntryFlags = kFinWait2 | kHasTs | kWscale | kActive | kBound;

  std::uint32_t addr_index(const Entry& x) const { return x.expiry >> kAddrShift; }
  bool in_fifo(const Entry& x) const {
    return (x.tnext & kLive) != 0 || (x.tnext & kTombInFifo) != 0;
  }

  struct Slot {
    std::uint32_t head;
    std::uint32_t tail;
  };

  Entry& e(Handle h) { return entries_[h.index]; }
  const Entry& e(Handle h) const { return entries_[h.index]; }
  std::uint32_t rel_ms(std::int64_t ms) const {
    return static_cast<std::uint32_t>(ms - epoch_ms_);
  }
  TWSTACK_TW_LOCAL std::int64_t abs_ms(std::uint32_t rel) const;  // rel: an expiry word (its time bits)
  // Tick of the slot an expiry belongs to: ceil(expiry / granularity), as a tick
  // relative to the cursor (wraparound-safe).
  TWSTACK_TW_LOCAL std::int64_t expiry_tick(std::uint32_t expiry) const;
  // pairs_[b >> 1].half[b & 1], addressed as b * 64 bytes from the start
  // (the pairs have no padding): one shift and add, where the member access
  // costs a shift, a mask and two adds on every use.
  Bucket& bucket(std::uint32_t b) {
    return *std::launder(reinterpret_cast<Bucket*>(reinterpret_cast<char*>(pairs_.get()) + std::size_t{b} * sizeof(Bucket)));
  }
  const Bucket& bucket(std::uint32_t b) const {
    return *std::launder(
        reinterpret_cast<const Bucket*>(reinterpret_cast<const char*>(pairs_.get()) + std::size_t{b} * sizeof(Bucket)));
  }
  std::uint64_t hash(const FourTuple& t) const { return wire::mix_tuple(t, seed_); }
  std::uint32_t home_of(std::uint64_t h) const {
    // Lemire's multiply-shift range reduction: nbuckets_ need not be a power of two.
    return static_cast<std::uint32_t>(((h >> 32) * nbuckets_) >> 32);
  }
  // A key's probe sequence: its home bucket, the home's buddy (the other half
  // of its 128-byte pair, which the adjacent-line prefetcher may have brought
  // in with it), then a pair chosen by
  // another function of the hash, and the buckets after that. Going on to an
  // independent pair rather than the next keeps full buckets from growing into
  // clusters under churn (linear probing from the home bucket left a quarter
  // of all buckets overflowed after one lap of a full table). nbuckets_ is even.
  std::uint32_t next_bucket(std::uint64_t h, std::uint32_t b, std::uint32_t step) const {
    if (step == 0) return b ^ 1;
    if (step == 1) {
      std::uint32_t c = home_of(h * 0x9e3779b97f4a7c15ULL) & ~1u;
      if (c == (b & ~1u)) c += 2;
      return c >= nbuckets_ ? 0 : c;
    }
    return b + 1 == nbuckets_ ? 0 : b + 1;
  }
  TWSTACK_TW_LOCAL static std::uint32_t tag_mask(const Bucket& b, std::uint8_t tag);
  TWSTACK_TW_LOCAL void prefetch_bucket(std::uint32_t b) const;
  TWSTACK_TW_LOCAL bool matches(const Entry& x, const FourTuple& t) const;
  // Index operations; h is hash(tuple).
  InsertResult insert_impl(const TwEntryInit& init, std::int64_t now_ms, std::int64_t timeout_ms, bool lookup);
  TWSTACK_TW_LOCAL Handle probe(const FourTuple& t, std::uint64_t h) const;
  // find_batch()'s per-bucket step; kMiss and kProbe besides an entry index.
  static constexpr std::uint32_t kMiss = kNil;
  static constexpr std::uint32_t kProbe = kNil - 1;
  TWSTACK_TW_LOCAL std::uint32_t scan_bucket(std::uint32_t b, std::uint64_t h) const;
  TWSTACK_TW_LOCAL Handle probe_for_insert(const FourTuple& t, std::uint64_t h, std::uint32_t* place,
                                           std::uint32_t* passed) const;
  // The walk both share; kPlace: also note the first bucket with a free slot.
  template <bool kPlace>
  TWSTACK_TW_LOCAL Handle walk(const FourTuple& t, std::uint64_t h, std::uint32_t* place,
                               std::uint32_t* passed) const;
  TWSTACK_TW_LOCAL void index_add(std::uint32_t i, std::uint64_t h);
  TWSTACK_TW_LOCAL void index_add_at(std::uint32_t i, std::uint64_t h, std::uint32_t place, std::uint32_t passed);
  TWSTACK_TW_LOCAL void unhash(std::uint32_t i);
  TWSTACK_TW_LOCAL void unhash(std::uint32_t i, std::uint64_t h);
  TWSTACK_TW_LOCAL void free_entry(std::uint32_t i, bool tombstone);
  TWSTACK_TW_LOCAL std::uint32_t alloc_entry(bool full_length, std::uint32_t expiry);
  TWSTACK_TW_LOCAL void link_timer(std::uint32_t i);
  TWSTACK_TW_LOCAL void append(Slot& s, std::uint32_t i);
  TWSTACK_TW_LOCAL std::uint32_t pop(Slot& s);
  TWSTACK_TW_LOCAL std::uint32_t pop_slot(std::uint32_t k);  // pop from slots_[k], keeping nonempty_
  TWSTACK_TW_LOCAL void mark_nonempty(std::uint32_t k);
  TWSTACK_TW_LOCAL void mark_empty(std::uint32_t k);
  TWSTACK_TW_LOCAL std::uint32_t next_nonempty_word(std::uint32_t w) const;
  std::uint32_t slot_of(std::int64_t tick) const { return static_cast<std::uint32_t>(tick) & (nslots_ - 1); }
  std::uint32_t nonempty_words() const { return (nslots_ + 63) / 64; }
  std::uint32_t summary_words() const { return (nonempty_words() + 63) / 64; }
  // First tick in [from, limit] whose slot is non-empty, or limit + 1.
  std::int64_t next_nonempty(std::int64_t from, std::int64_t limit) const;
  bool evict_oldest(std::int64_t now_ms, FourTuple* evicted, bool* evicted_active);
  // One unit of expire() work; kExpired hands back an entry due for on_expire.
  enum class Step : std::uint8_t { kIdle, kWork, kExpired };
  TWSTACK_TW_LOCAL Step step(std::int64_t now_tick, std::uint32_t* expired);
  static constexpr std::uint32_t kAhead = 8;
  TWSTACK_TW_LOCAL void prefetch_ahead();
  TWSTACK_TW_LOCAL void release_expired(std::uint32_t i);
  // expire() in batches: runs steps until kBatch entries are due (handed back
  // in due[], still live, for on_expire), nothing due is left (*idle), or the
  // budget is spent; then release_due() frees them. One call per batch rather
  // than two per entry, and the batch's buckets are unhashed together.
  std::size_t collect_due(std::int64_t now_tick, std::size_t* budget, std::uint32_t* due, bool* idle);
  void release_due(const std::uint32_t* due, std::size_t n);

  wire::Ipv4Addr laddrs_[kMaxLocalAddrs]{};
  std::size_t nladdrs_ = 0;
  std::uint32_t capacity_ = 0;
  std::size_t max_live_ = 0;
  std::uint32_t len_ms_ = 0;
  std::uint32_t gran_ms_ = 1;
  std::uint64_t seed_ = 0;
  TwOverflowPolicy policy_;
  std::int64_t epoch_ms_ = 0;

  std::unique_ptr<Entry[]> entries_;
  // Buckets in 128-byte aligned pairs: a bucket's buddy (b ^ 1) is the first
  // place its overflow goes.
  struct alignas(128) BucketPair {
    Bucket half[2];
  };
  static_assert(sizeof(BucketPair) == 2 * sizeof(Bucket), "bucket(b) addresses the pairs as one array of buckets");
  std::unique_ptr<BucketPair[]> pairs_;
  std::unique_ptr<Slot[]> slots_;
  // One bit per slot (head != kNone), then one summary bit per word of those
  // (the word is not zero): next_nonempty() skips empty stretches 4,096 slots
  // at a time.
  std::unique_ptr<std::uint64_t[]> nonempty_;
  std::uint32_t nbuckets_ = 0;
  std::uint32_t nslots_ = 0;

  // Free entries, through raddr: killed ones (tombstones while still in a timer
  // FIFO) and expired or evicted ones (out of the timer).
  std::uint32_t free_tomb_ = kNil;
  std::uint32_t free_plain_ = kNil;       // head of the queue
  std::uint32_t free_plain_tail_ = kNil;
  std::uint64_t late_expiries_ = 0;
  std::uint32_t unused_ = 0;        // entries [unused_, capacity_) never used yet
  std::size_t live_ = 0;
  std::uint64_t overflows_ = 0;
  std::uint64_t evictions_ = 0;

  std::int64_t cursor_ = 0;  // tick being drained (relative to the epoch)
  Slot drain_{kNone, kNone};  // what is left of the cursor's slot
  std::uint32_t ahead_ = kNil;     // next entry of drain_ to prefetch (a hint)
  std::uint32_t ahead_dist_ = 0;   // entries prefetched ahead of drain_.head
  // The hashes prefetch_ahead() computed, by entry index, so that expiring the
  // entry does not hash its tuple again (checked by index; insert() drops an
  // entry's memo when it reuses the entry).
  struct HashMemo {
    std::uint32_t index = kNil;
    std::uint64_t hash = 0;
  };
  static constexpr std::uint32_t kMemo = 64;
  HashMemo memo_[kMemo];
};

template <typename F>
void TimeWaitTable::for_each(F&& f) const {
  for (std::uint32_t i = 0; i < unused_; ++i) {
    if ((entries_[i].tnext & kLive) != 0) f(Handle{i});
  }
}

template <typename F>
bool TimeWaitTable::expire(std::int64_t now_ms, std::size_t budget, F&& on_expire) {
  // Called on every frame: with the cursor's slot drained and its next tick
  // not reached, a compare answers without the division or a step().
  if (drain_.head == kNone && now_ms - epoch_ms_ < (cursor_ + 1) * gran_ms_) return true;
  const std::int64_t now_tick = (now_ms - epoch_ms_) / gran_ms_;
  std::uint32_t due[kBatch];
  for (;;) {
    bool idle = false;
    const std::size_t n = collect_due(now_tick, &budget, due, &idle);
    for (std::size_t k = 0; k < n; ++k) on_expire(Handle{due[k]});
    release_due(due, n);
    if (idle) return true;
    // Out of budget: done only if nothing due is left.
    if (budget == 0) return drain_.head == kNone && cursor_ >= now_tick;
  }
}

#undef TWSTACK_TW_LOCAL

}  // namespace twstack::tw
