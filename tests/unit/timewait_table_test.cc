// TimeWaitTable: insert/find/kill, exact expiry, re-arm, the tcp_max_tw_buckets
// cap and evict-oldest, budgeted expiry, a model test, and the byte budget.
#include "stack/timewait/table.hh"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <climits>
#include <iterator>
#include <cstdint>
#include <map>
#include <random>
#include <span>
#include <tuple>
#include <utility>
#include <vector>

#include "tests/support/timewait_keys.hh"

namespace twstack::tw {
namespace {

constexpr std::size_t kNoBudget = ~std::size_t{0};
using keys::init_n;
using keys::kLocal;
using keys::tuple_n;

struct TupleLess {
  bool operator()(const FourTuple& a, const FourTuple& b) const {
    return std::tie(a.laddr, a.raddr, a.lport, a.rport) <
           std::tie(b.laddr, b.raddr, b.lport, b.rport);
  }
};
using TupleMap = std::map<FourTuple, std::int64_t, TupleLess>;

std::vector<FourTuple> expire_all(TimeWaitTable& t, std::int64_t now) {
  std::vector<FourTuple> out;
  EXPECT_TRUE(t.expire(now, kNoBudget, [&](Handle h) { out.push_back(t.tuple(h)); }));
  return out;
}

TEST(TimeWaitTable, EntryIsCompact) {
  EXPECT_EQ(sizeof(TimeWaitTable::Entry), 32u);
  EXPECT_EQ(sizeof(TimeWaitTable::Bucket), 64u);
}

// What the advise hook was handed (a plain function pointer: no capture).
std::vector<std::pair<const void*, std::size_t>> g_advised;
void record_advice(void* p, std::size_t bytes) { g_advised.emplace_back(p, bytes); }

TEST(TimeWaitTable, TheAdviseHookSeesTheEntriesAndTheIndexOnce) {
  g_advised.clear();
  {
    TimeWaitTable t(kLocal, 100'000, Duration::seconds(60), 1, TwOverflowPolicy::kDrop, 0, &record_advice);
    ASSERT_EQ(g_advised.size(), 2u);
    EXPECT_EQ(g_advised[0].second, std::size_t{100'000} * sizeof(TimeWaitTable::Entry));
    EXPECT_EQ(g_advised[1].second, t.bucket_count() * sizeof(TimeWaitTable::Bucket));
    // The two arrays are most of the table's memory: what a huge page helps.
    EXPECT_GT(g_advised[0].second + g_advised[1].second, t.memory_bytes() * 3 / 4);
    t.insert(init_n(1), 0);  // the table works as before
    EXPECT_TRUE(t.find(tuple_n(1)));
  }
  TimeWaitTable quiet(kLocal, 1000, Duration::seconds(60), 1, TwOverflowPolicy::kDrop);
  EXPECT_EQ(g_advised.size(), 2u);  // none by default
}

TEST(TimeWaitTable, InsertFindKill) {
  TimeWaitTable t(kLocal, 100, Duration::seconds(60), 42, TwOverflowPolicy::kDrop);
  for (std::uint32_t n = 0; n < 50; ++n) {
    auto r = t.insert(init_n(n), 1000);
    ASSERT_EQ(r.status, InsertStatus::kOk);
  }
  EXPECT_EQ(t.live(), 50u);
  for (std::uint32_t n = 0; n < 50; ++n) {
    Handle h = t.find(tuple_n(n));
    ASSERT_TRUE(h);
    EXPECT_EQ(t.tuple(h), tuple_n(n));
    EXPECT_EQ(t.snd_nxt(h), Seq(1000 + n));
    EXPECT_EQ(t.rcv_nxt(h), Seq(5000 + n));
    EXPECT_EQ(t.window(h), static_cast<std::uint16_t>(n * 7));
    EXPECT_EQ(t.ts_recent(h), n * 3 + 1);
    EXPECT_EQ(t.has_ts(h), (n % 3) != 0);
    EXPECT_EQ(t.fin_wait2(h), (n % 5) == 0);
    EXPECT_EQ(t.entry_ms(h), 1000);
    EXPECT_EQ(t.expiry_ms(h), 61000);
  }
  EXPECT_FALSE(t.find(tuple_n(50)));
  EXPECT_EQ(t.insert(init_n(7), 1000).status, InsertStatus::kExists);
  FourTuple other = tuple_n(1);
  other.laddr = wire::Ipv4Addr::from_octets(10, 0, 0, 9);
  TwEntryInit bad = init_n(1);
  bad.tuple = other;
  EXPECT_EQ(t.insert(bad, 1000).status, InsertStatus::kUnknownLocalAddr);

  t.kill(t.find(tuple_n(7)));
  EXPECT_FALSE(t.find(tuple_n(7)));
  EXPECT_EQ(t.live(), 49u);
  // The killed entry's tombstone never reaches on_expire.
  auto out = expire_all(t, 61000);
  EXPECT_EQ(out.size(), 49u);
  EXPECT_EQ(t.live(), 0u);
}

TEST(TimeWaitTable, ExpiresExactlyAtLen) {
  TimeWaitTable t(kLocal, 10, Duration::seconds(60), 1, TwOverflowPolicy::kDrop);
  ASSERT_EQ(t.granularity_ms(), 1u);
  t.insert(init_n(1), 500);
  EXPECT_TRUE(expire_all(t, 60499).empty());
  EXPECT_EQ(t.live(), 1u);
  auto out = expire_all(t, 60500);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], tuple_n(1));
  EXPECT_FALSE(t.find(tuple_n(1)));
}

TEST(TimeWaitTable, CoarseGranularityIsNeverEarlyAndAtMostOneSlotLate) {
  TimeWaitTable t(kLocal, 1000, Duration::seconds(240), 1, TwOverflowPolicy::kDrop);  // 2MSL per RFC 9293
  const std::int64_t g = t.granularity_ms();
  ASSERT_GT(g, 1);
  ASSERT_LE(t.slot_count(), TimeWaitTable::kMaxSlots);
  for (std::uint32_t n = 0; n < 20; ++n) t.insert(init_n(n), 1000 + n);
  TupleMap when;
  for (std::int64_t now = 1000; now < 1000 + 240000 + 100; ++now) {
    t.expire(now, kNoBudget, [&](Handle h) { when[t.tuple(h)] = now; });
  }
  ASSERT_EQ(when.size(), 20u);
  for (std::uint32_t n = 0; n < 20; ++n) {
    const std::int64_t due = 1000 + n + 240000;
    EXPECT_GE(when[tuple_n(n)], due);
    EXPECT_LT(when[tuple_n(n)], due + g);
  }
}

TEST(TimeWaitTable, IdleGapsCostOneStep) {
  TimeWaitTable t(kLocal, 10, Duration::seconds(60), 1, TwOverflowPolicy::kDrop);
  t.insert(init_n(1), 0);
  std::size_t n = 0;
  EXPECT_TRUE(t.expire(59999, 1, [&](Handle) { ++n; }));  // skip 59999 empty slots
  EXPECT_EQ(n, 0u);
  // Ten hours later: one step to reach the slot, one expiry, one skip to now.
  EXPECT_TRUE(t.expire(36'000'000, 3, [&](Handle) { ++n; }));
  EXPECT_EQ(n, 1u);
  t.insert(init_n(2), 36'000'000);
  EXPECT_TRUE(expire_all(t, 36'059'999).empty());
  EXPECT_EQ(expire_all(t, 36'060'000).size(), 1u);
}

TEST(TimeWaitTable, NextWorkIsALowerBound) {
  TimeWaitTable t(kLocal, 10, Duration::seconds(60), 1, TwOverflowPolicy::kDrop, 5000);
  EXPECT_FALSE(t.next_work_ms());
  Handle a = t.insert(init_n(1), 5000).handle;
  t.insert(init_n(2), 7000);
  EXPECT_TRUE(expire_all(t, 7000).empty());  // the cursor keeps up with now
  EXPECT_EQ(t.next_work_ms(), 65000);
  t.kill(a);
  EXPECT_EQ(t.next_work_ms(), 65000);  // a tombstone still occupies the slot
  EXPECT_TRUE(expire_all(t, 65000).empty());
  EXPECT_EQ(t.next_work_ms(), 67000);
  EXPECT_EQ(expire_all(t, 67000).size(), 1u);
  EXPECT_FALSE(t.next_work_ms());
}

// The slot bitmap's summary (one bit per 64 slots) must never hide a slot in
// use: entries 1 ms to 50 s apart, spread over the ring and across its wrap,
// each found as the next work in order.
TEST(TimeWaitTable, NextWorkFindsEachSlotAcrossEmptyStretches) {
  TimeWaitTable t(kLocal, 64, Duration::seconds(60), 1, TwOverflowPolicy::kDrop);
  const std::int64_t starts[] = {0, 1, 63, 64, 4095, 4096, 4097, 20000, 50000};
  for (std::int64_t at : starts) {
    ASSERT_TRUE(expire_all(t, at).empty());  // the cursor keeps up with now
    t.insert(init_n(static_cast<std::uint32_t>(at) + 1), at);
  }
  for (std::int64_t at : starts) {
    ASSERT_EQ(t.next_work_ms(), at + 60000);
    ASSERT_EQ(expire_all(t, at + 60000).size(), 1u);
  }
  EXPECT_FALSE(t.next_work_ms());
  // Past the wrap: slots reused at their next turn of the ring.
  ASSERT_TRUE(expire_all(t, 110000).empty());
  t.insert(init_n(100), 110000);
  ASSERT_TRUE(expire_all(t, 150000).empty());
  t.insert(init_n(101), 150000);
  EXPECT_EQ(t.next_work_ms(), 170000);
  EXPECT_EQ(expire_all(t, 170000).size(), 1u);
  EXPECT_EQ(t.next_work_ms(), 210000);
}

TEST(TimeWaitTable, RearmExtends) {
  TimeWaitTable t(kLocal, 10, Duration::seconds(60), 1, TwOverflowPolicy::kDrop);
  Handle h = t.insert(init_n(1), 0).handle;
  t.insert(init_n(2), 0);
  EXPECT_TRUE(expire_all(t, 30000).empty());
  t.rearm(h, 30000);
  EXPECT_EQ(t.expiry_ms(h), 90000);
  EXPECT_EQ(t.entry_ms(h), 0);  // tw_entry_stamp unchanged by a plain re-arm
  auto out = expire_all(t, 60000);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], tuple_n(2));
  EXPECT_TRUE(expire_all(t, 89999).empty());
  ASSERT_TRUE(t.find(tuple_n(1)));
  out = expire_all(t, 90000);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], tuple_n(1));
}

TEST(TimeWaitTable, FinWait2ToTimeWaitRefreshesEntryStamp) {
  TimeWaitTable t(kLocal, 10, Duration::seconds(60), 1, TwOverflowPolicy::kDrop);
  TwEntryInit in = init_n(5);
  ASSERT_TRUE(in.fin_wait2);
  Handle h = t.insert(in, 100).handle;
  t.set_rcv_nxt(h, t.rcv_nxt(h) + 1);
  t.set_ts_recent(h, 777);
  t.set_time_wait(h);
  t.rearm(h, 2100, true);
  EXPECT_FALSE(t.fin_wait2(h));
  EXPECT_TRUE(t.has_ts(h));
  EXPECT_EQ(t.ts_recent(h), 777u);
  EXPECT_EQ(t.rcv_nxt(h), Seq(5006));
  EXPECT_EQ(t.entry_ms(h), 2100);
  EXPECT_EQ(t.expiry_ms(h), 62100);
}

TEST(TimeWaitTable, EntryStampSaturatesAfterLongRearms) {
  TimeWaitTable t(kLocal, 10, Duration::seconds(60), 1, TwOverflowPolicy::kDrop);
  Handle h = t.insert(init_n(1), 0).handle;
  for (std::int64_t now = 50000; now <= 500000; now += 50000) {
    ASSERT_TRUE(expire_all(t, now).empty());
    t.rearm(h, now);
  }
  EXPECT_EQ(t.expiry_ms(h), 560000);
  EXPECT_EQ(t.entry_ms(h), 500000 - 65535);  // at least 65.535 s old, as documented
}

TEST(TimeWaitTable, FlagsRoundTrip) {
  TimeWaitTable t(kLocal, 8, Duration::seconds(60), 1, TwOverflowPolicy::kDrop);
  TwEntryInit in = init_n(1);
  in.active = true;
  in.bound = false;
  in.wscale = true;
  Handle a = t.insert(in, 0).handle;
  in = init_n(2);
  in.active = false;
  in.bound = true;
  in.wscale = false;
  Handle b = t.insert(in, 0).handle;
  EXPECT_TRUE(t.active(a));
  EXPECT_FALSE(t.bound(a));
  EXPECT_TRUE(t.wscale(a));
  EXPECT_FALSE(t.active(b));
  EXPECT_TRUE(t.bound(b));
  EXPECT_FALSE(t.wscale(b));
  EXPECT_EQ(t.tuple(a), tuple_n(1));
  EXPECT_EQ(t.tuple(b), tuple_n(2));
  t.kill(a);
  EXPECT_TRUE(t.find(tuple_n(2)));
  EXPECT_FALSE(t.find(tuple_n(1)));
}

// A FIN_WAIT2 entry's timeout (tcp_fin_timeout) is shorter than len(): it
// expires on time even when the only free entry is a tombstone due later.
TEST(TimeWaitTable, ShortTimeoutExpiresOnTime) {
  TimeWaitTable t(kLocal, 2, Duration::seconds(60), 1, TwOverflowPolicy::kDrop);
  Handle a = t.insert(init_n(1), 0).handle;
  t.insert(init_n(2), 0);
  t.kill(a);  // a tombstone due at 60 s
  TwEntryInit fw2 = init_n(3);
  fw2.fin_wait2 = true;
  Handle c = t.insert(fw2, 1000, 5000).handle;
  ASSERT_TRUE(c);
  EXPECT_EQ(t.expiry_ms(c), 6000);
  EXPECT_EQ(t.late_expiries(), 1u) << "the only free entry was the tombstone";
  // With an entry out of the timer available, no lateness.
  TimeWaitTable u(kLocal, 4, Duration::seconds(60), 1, TwOverflowPolicy::kDrop);
  Handle d = u.insert(init_n(1), 0).handle;
  u.kill(d);
  Handle e = u.insert(fw2, 1000, 5000).handle;
  EXPECT_EQ(u.late_expiries(), 0u);
  std::vector<FourTuple> gone;
  EXPECT_TRUE(u.expire(5999, kNoBudget, [&](Handle h) { gone.push_back(u.tuple(h)); }));
  EXPECT_TRUE(gone.empty());
  EXPECT_TRUE(u.expire(6000, kNoBudget, [&](Handle h) { gone.push_back(u.tuple(h)); }));
  EXPECT_EQ(gone, std::vector<FourTuple>{tuple_n(3)});
  EXPECT_FALSE(u.find(tuple_n(3)));
  (void)e;
}

TEST(TimeWaitTable, CapRefusesExactlyAndCounts) {
  TimeWaitTable t(kLocal, 8, Duration::seconds(60), 1, TwOverflowPolicy::kDrop);
  t.set_max_live(5);
  for (std::uint32_t n = 0; n < 10; ++n) {
    auto r = t.insert(init_n(n), 0);
    EXPECT_EQ(r.status, n < 5 ? InsertStatus::kOk : InsertStatus::kOverflow) << n;
  }
  EXPECT_EQ(t.live(), 5u);
  EXPECT_EQ(t.overflows(), 5u);
  t.kill(t.find(tuple_n(0)));
  EXPECT_EQ(t.insert(init_n(20), 0).status, InsertStatus::kOk);
  EXPECT_EQ(t.insert(init_n(21), 0).status, InsertStatus::kOverflow);
  EXPECT_EQ(t.overflows(), 6u);
}

TEST(TimeWaitTable, TombstonesNeverExhaustTheArray) {
  // Kill-and-reinsert far more often than the capacity, all within one TIME_WAIT
  // length: tombstones are reused in place.
  TimeWaitTable t(kLocal, 4, Duration::seconds(60), 1, TwOverflowPolicy::kDrop);
  for (std::uint32_t n = 0; n < 1000; ++n) {
    auto r = t.insert(init_n(n), n);
    ASSERT_EQ(r.status, InsertStatus::kOk) << n;
    if (n < 997) t.kill(r.handle);
  }
  EXPECT_EQ(t.live(), 3u);
  EXPECT_EQ(expire_all(t, 61000).size(), 3u);
}

TEST(TimeWaitTable, EvictOldest) {
  TimeWaitTable t(kLocal, 4, Duration::seconds(60), 1, TwOverflowPolicy::kEvictOldest);
  for (std::uint32_t n = 0; n < 4; ++n) t.insert(init_n(n), 10 * n);
  t.rearm(t.find(tuple_n(0)), 100);  // now the newest
  auto r = t.insert(init_n(4), 200);
  EXPECT_EQ(r.status, InsertStatus::kEvictedOldest);
  EXPECT_EQ(r.evicted, tuple_n(1));
  EXPECT_FALSE(t.find(tuple_n(1)));
  EXPECT_TRUE(t.find(tuple_n(4)));
  r = t.insert(init_n(5), 300);
  EXPECT_EQ(r.evicted, tuple_n(2));
  r = t.insert(init_n(6), 300);
  EXPECT_EQ(r.evicted, tuple_n(3));
  r = t.insert(init_n(7), 300);
  EXPECT_EQ(r.evicted, tuple_n(0));
  EXPECT_EQ(t.live(), 4u);
  EXPECT_EQ(t.evictions(), 4u);
  EXPECT_EQ(t.overflows(), 0u);
  EXPECT_EQ(expire_all(t, 60300).size(), 4u);
}

TEST(TimeWaitTable, LoweredCapDrainsByExpiry) {
  TimeWaitTable t(kLocal, 8, Duration::seconds(60), 1, TwOverflowPolicy::kEvictOldest);
  for (std::uint32_t n = 0; n < 6; ++n) t.insert(init_n(n), n);
  t.set_max_live(3);
  EXPECT_EQ(t.insert(init_n(10), 10).status, InsertStatus::kOverflow);
  EXPECT_EQ(t.live(), 6u);
  EXPECT_EQ(expire_all(t, 60002).size(), 3u);
  auto r = t.insert(init_n(11), 60002);
  EXPECT_EQ(r.status, InsertStatus::kEvictedOldest);
  EXPECT_EQ(r.evicted, tuple_n(3));
  EXPECT_EQ(t.live(), 3u);
}

TEST(TimeWaitTable, EvictOldestAfterABurst) {
  // A full table entered in one burst, expire() far behind: the scan for the
  // oldest entry skips empty slots via the bitmap and stays exact.
  constexpr std::uint32_t kN = 1000;
  TimeWaitTable t(kLocal, kN, Duration::seconds(60), 3, TwOverflowPolicy::kEvictOldest);
  for (std::uint32_t n = 0; n < kN; ++n) t.insert(init_n(n), 40000 + n / 10);
  t.rearm(t.find(tuple_n(0)), 40200);
  for (std::uint32_t n = kN; n < kN + 20; ++n) {
    auto r = t.insert(init_n(n), 40200);
    ASSERT_EQ(r.status, InsertStatus::kEvictedOldest);
    EXPECT_EQ(r.evicted, tuple_n(n - kN + 1));
  }
  EXPECT_EQ(t.live(), kN);
  EXPECT_TRUE(t.find(tuple_n(0)));
}

TEST(TimeWaitTable, BudgetedExpiryOfManyDueAtOnce) {
  constexpr std::uint32_t kN = 100'000;
  TimeWaitTable t(kLocal, kN, Duration::seconds(60), 9, TwOverflowPolicy::kDrop);
  for (std::uint32_t n = 0; n < kN; ++n) ASSERT_TRUE(t.insert(init_n(n), 0).inserted());
  std::vector<bool> seen(kN);
  std::size_t calls = 0, total = 0;
  const std::size_t budget = 1000;
  bool done = false;
  while (!done) {
    std::size_t this_call = 0;
    done = t.expire(60000, budget, [&](Handle h) {
      const FourTuple f = t.tuple(h);
      const std::uint32_t n = ((f.raddr.v - 0xc0a80000u) << 16) | ((f.rport - 80u) << 15) |
                              (f.lport - 32768u);
      ASSERT_LT(n, kN);
      EXPECT_FALSE(seen[n]);
      seen[n] = true;
      ++this_call;
    });
    EXPECT_LE(this_call, budget);
    total += this_call;
    ++calls;
    ASSERT_LT(calls, 10'000u);
  }
  EXPECT_EQ(total, kN);
  EXPECT_GE(calls, kN / budget);
  EXPECT_EQ(t.live(), 0u);
}

// Randomized against a std::map model: insert, kill, rearm, advance.
// len_ms > 65534 gives a granularity above 1 ms; lazy_expire skips most expire()
// calls so that the cursor lags behind now.
void run_model(TwOverflowPolicy policy, std::uint32_t seed, std::int64_t len_ms = 2000,
               bool lazy_expire = false) {
  constexpr std::uint32_t kCap = 60;
  const std::int64_t kLen = len_ms;
  TimeWaitTable t(kLocal, kCap, Duration::millis(kLen), seed, policy);
  const std::int64_t g = t.granularity_ms();
  const std::int64_t max_step = std::max<std::int64_t>(50, kLen / 40);
  auto tick = [g](std::int64_t ms) { return (ms + g - 1) / g; };
  std::mt19937 rng(seed);
  TupleMap model;  // tuple -> expiry
  std::int64_t now = 0;
  for (int step = 0; step < 200'000; ++step) {
    const unsigned op = rng() % 100;
    if (op < 50) {
      const std::uint32_t n = rng() % 1000;
      const FourTuple f = tuple_n(n);
      auto r = t.insert(init_n(n), now);
      if (model.count(f)) {
        ASSERT_EQ(r.status, InsertStatus::kExists);
      } else if (model.size() >= kCap && policy == TwOverflowPolicy::kDrop) {
        ASSERT_EQ(r.status, InsertStatus::kOverflow);
      } else if (model.size() >= kCap) {
        ASSERT_EQ(r.status, InsertStatus::kEvictedOldest);
        std::int64_t oldest = INT64_MAX;
        for (auto& [k, v] : model) oldest = std::min(oldest, v);
        ASSERT_EQ(tick(model.at(r.evicted)), tick(oldest));
        model.erase(r.evicted);
        model[f] = now + kLen;
      } else {
        ASSERT_EQ(r.status, InsertStatus::kOk);
        model[f] = now + kLen;
      }
    } else if (op < 65 && !model.empty()) {
      auto it = std::next(model.begin(), static_cast<long>(rng() % model.size()));
      Handle h = t.find(it->first);
      ASSERT_TRUE(h);
      t.kill(h);
      model.erase(it);
    } else if (op < 80 && !model.empty()) {
      auto it = std::next(model.begin(), static_cast<long>(rng() % model.size()));
      Handle h = t.find(it->first);
      ASSERT_TRUE(h);
      t.rearm(h, now);
      it->second = now + kLen;
    } else {
      now += static_cast<std::int64_t>(rng() % static_cast<std::uint32_t>(max_step));
      if (lazy_expire && rng() % 8 != 0) continue;
      const std::size_t budget = 1 + rng() % 64;
      bool done = false;
      while (!done) {
        done = t.expire(now, budget, [&](Handle h) {
          auto it = model.find(t.tuple(h));
          ASSERT_NE(it, model.end());
          ASSERT_LE(it->second, now);
          model.erase(it);
        });
      }
      for (auto& [k, v] : model) ASSERT_GT(v, now / g * g);
    }
    ASSERT_EQ(t.live(), model.size());
    if (step % 1000 == 0) {
      for (auto& [k, v] : model) {
        Handle h = t.find(k);
        ASSERT_TRUE(h);
        ASSERT_EQ(t.expiry_ms(h), v);
      }
    }
  }
  // The cap was reached: the overflow or eviction path ran.
  EXPECT_GT(policy == TwOverflowPolicy::kDrop ? t.overflows() : t.evictions(), 100u);
}

TEST(TimeWaitTable, ModelDrop) { run_model(TwOverflowPolicy::kDrop, 1234); }
TEST(TimeWaitTable, ModelEvictOldest) { run_model(TwOverflowPolicy::kEvictOldest, 99); }
TEST(TimeWaitTable, ModelCoarseLagging) {
  run_model(TwOverflowPolicy::kDrop, 7, 200'000, true);
  run_model(TwOverflowPolicy::kEvictOldest, 8, 200'000, true);
  run_model(TwOverflowPolicy::kEvictOldest, 9, 2000, true);
}

// Entries due in one slot expire in the order they entered, and entries out
// of the timer are reused in the order they were freed (the free queue that
// keeps the FIFOs in address order under churn).
TEST(TimeWaitTable, ExpiryOrderAndReuseOrder) {
  TimeWaitTable t(kLocal, 8, Duration::seconds(60), 1, TwOverflowPolicy::kDrop);
  std::vector<Handle> in;
  for (std::uint32_t n = 0; n < 8; ++n) in.push_back(t.insert(init_n(n), 0).handle);
  std::vector<Handle> gone;
  EXPECT_TRUE(t.expire(60000, kNoBudget, [&](Handle h) { gone.push_back(h); }));
  EXPECT_EQ(gone, in);
  for (std::uint32_t n = 0; n < 8; ++n) {
    EXPECT_EQ(t.insert(init_n(100 + n), 60000).handle, in[n]) << n;
  }
}

// Times are kept in 28 bits: exact far from the epoch and across the wrap,
// with expire() called as the engine calls it; len() is clamped to 24 hours.
TEST(TimeWaitTable, TimesExactAcrossTheWrap) {
  const std::int64_t wrap = std::int64_t{1} << 28;
  TimeWaitTable t(kLocal, 10, Duration::seconds(60), 1, TwOverflowPolicy::kDrop);
  std::int64_t now = 0;
  for (const std::int64_t at : {wrap - 30000, 2 * wrap - 1, 3 * wrap + 12345}) {
    for (; now < at; now += 3'600'000) ASSERT_TRUE(expire_all(t, now).empty());
    ASSERT_TRUE(expire_all(t, at).empty());
    Handle h = t.insert(init_n(1), at).handle;
    ASSERT_TRUE(h);
    EXPECT_EQ(t.expiry_ms(h), at + 60000);
    EXPECT_EQ(t.entry_ms(h), at);
    t.rearm(h, at + 20000);
    EXPECT_EQ(t.expiry_ms(h), at + 80000);
    EXPECT_TRUE(expire_all(t, at + 79999).empty());
    EXPECT_EQ(expire_all(t, at + 80000).size(), 1u);
    now = at + 80000;
  }
  TimeWaitTable longest(kLocal, 10, Duration::seconds(100 * 3600), 1, TwOverflowPolicy::kDrop);
  EXPECT_EQ(longest.len().ms(), TimeWaitTable::kMaxLenMs);
  Handle h = longest.insert(init_n(1), 5).handle;
  EXPECT_EQ(longest.expiry_ms(h), 5 + TimeWaitTable::kMaxLenMs);
}

TEST(TimeWaitTable, ForEachVisitsLiveEntries) {
  TimeWaitTable t(kLocal, 16, Duration::seconds(60), 1, TwOverflowPolicy::kDrop);
  for (std::uint32_t n = 0; n < 10; ++n) t.insert(init_n(n), 0);
  t.kill(t.find(tuple_n(4)));
  std::vector<FourTuple> seen;
  t.for_each([&](Handle h) { seen.push_back(t.tuple(h)); });
  ASSERT_EQ(seen.size(), 9u);
  EXPECT_EQ(std::count(seen.begin(), seen.end(), tuple_n(4)), 0);
}

TEST(TimeWaitTable, AtMost40BytesPerEntryAt10M) {
  TimeWaitTable t(kLocal, 10'000'000, Duration::seconds(60), 7, TwOverflowPolicy::kDrop);
  const double per_entry = static_cast<double>(t.memory_bytes()) / static_cast<double>(t.capacity());
  EXPECT_LE(per_entry, 40.0) << per_entry;
  TimeWaitTable m(kLocal, 1'000'000, Duration::seconds(60), 7, TwOverflowPolicy::kDrop);
  EXPECT_LE(static_cast<double>(m.memory_bytes()) / static_cast<double>(m.capacity()), 40.0);
  // Still usable at that size.
  ASSERT_EQ(t.insert(init_n(3), 0).status, InsertStatus::kOk);
  EXPECT_TRUE(t.find(tuple_n(3)));
}

TEST(TimeWaitTable, TouchedBytesGrowWithThePeakNotTheCapacity) {
  TimeWaitTable t(kLocal, 100'000, Duration::seconds(60), 7, TwOverflowPolicy::kDrop);
  const std::size_t empty = t.touched_bytes();
  EXPECT_LT(empty, t.memory_bytes());
  for (std::uint32_t n = 0; n < 1000; ++n) ASSERT_EQ(t.insert(init_n(n), 0).status, InsertStatus::kOk);
  EXPECT_EQ(t.touched_bytes(), empty + 1000 * 32);
  // Freed entries are reused before new ones: the peak, not the inserts, counts.
  for (std::uint32_t n = 0; n < 1000; ++n) t.kill(t.find(tuple_n(n)));
  for (std::uint32_t n = 1000; n < 1500; ++n) ASSERT_EQ(t.insert(init_n(n), 0).status, InsertStatus::kOk);
  EXPECT_EQ(t.touched_bytes(), empty + 1000 * 32);
}

}  // namespace
}  // namespace twstack::tw
