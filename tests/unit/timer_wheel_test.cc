// TimerWheel: exact expiry against a reference model, budgets, re-entrant
// callbacks, schedule_in_range, ticks_to_next_event, hook lifetime.
#include "stack/timer/timer_wheel.hh"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <utility>
#include <vector>

namespace twstack::timer {
namespace {

constexpr Tick kMax = TimerWheel::kMaxTick;

// Deltas that land on and next to every level boundary.
const std::vector<Tick> kEdgeDeltas = {
    0, 1, 2, 255, 256, 257, 511, 65535, 65536, 65537,
    (Tick{1} << 24) - 1, Tick{1} << 24, (Tick{1} << 24) + 3,
    (Tick{1} << 32) - 1, (Tick{1} << 32) + 5, (Tick{1} << 40) + 7,
};

Tick saturating_add(Tick a, Tick b) { return b > kMax - a ? kMax : a + b; }

// The wheel next to a multimap-free model: hook index -> due tick.
class Harness {
 public:
  Harness(Tick start, std::size_t n, std::uint32_t seed)
      : wheel_(start), hooks_(std::make_unique<TimerHook[]>(n)), n_(n), rng_(seed) {
    for (std::size_t i = 0; i < n; ++i) hooks_[i].tag = static_cast<std::uint32_t>(i);
  }

  Tick random_delta() {
    switch (pick(4)) {
      case 0: return kEdgeDeltas[pick(kEdgeDeltas.size())];
      case 1: return pick(600);
      case 2: return pick(1u << 20);
      default: return std::uniform_int_distribution<Tick>(0, Tick{1} << 34)(rng_);
    }
  }

  void schedule(std::size_t i, Tick delta) {
    wheel_.schedule(hooks_[i], delta);
    due_[i] = saturating_add(wheel_.now(), std::max<Tick>(delta, 1));
    ASSERT_EQ(hooks_[i].expiry(), due_[i]);
  }

  void cancel(std::size_t i) {
    wheel_.cancel(hooks_[i]);
    due_.erase(i);
  }

  void schedule_in_range(std::size_t i, Tick start, Tick end) {
    auto it = due_.find(i);
    Tick now = wheel_.now();
    bool keep = it != due_.end() && it->second - now >= start && it->second - now <= end;
    wheel_.schedule_in_range(hooks_[i], start, end);
    if (!keep) due_[i] = saturating_add(now, std::max<Tick>(end, 1));
    ASSERT_EQ(hooks_[i].expiry(), due_[i]);
  }

  // One call with `budget`, checking every expiry. A stopped call leaves
  // the wheel mid-tick; the caller may then schedule and cancel before the
  // next call resumes it.
  bool advance_once(Tick target, std::size_t budget) {
    target = std::max(target, wheel_.now());  // an earlier target means now()
    std::size_t ran = 0;
    bool done = wheel_.advance_to(target, budget, [&](TimerHook& h) {
      ++ran;
      on_expire(h);
    });
    EXPECT_LE(ran, budget);
    if (done) {
      EXPECT_EQ(wheel_.now(), target);
      check_quiet();
    } else {
      ++stops_;
      EXPECT_LE(wheel_.now(), target);
      EXPECT_EQ(wheel_.ticks_to_next_event(), 0u);
      EXPECT_EQ(wheel_.size(), due_.size());
      for (auto [i, due] : due_) EXPECT_GE(due, wheel_.now()) << "hook " << i << " was not run";
    }
    return done;
  }

  void advance_to(Tick target, std::size_t budget) {
    for (int calls = 0; !advance_once(target, budget); ++calls) {
      ASSERT_LT(calls, 1'000'000);
      if (::testing::Test::HasFailure()) return;
    }
  }

  // Nothing due is left behind; size and next-event bound agree with the model.
  void check_quiet() {
    ASSERT_EQ(wheel_.size(), due_.size());
    Tick first = kMax;
    for (auto [i, due] : due_) {
      ASSERT_GT(due, wheel_.now()) << "hook " << i << " was not run";
      ASSERT_TRUE(hooks_[i].active());
      first = std::min(first, due);
    }
    Tick bound = wheel_.ticks_to_next_event();
    if (due_.empty()) {
      ASSERT_EQ(bound, kMax);
    } else {
      ASSERT_GE(bound, 1u);
      ASSERT_LE(bound, first - wheel_.now());
      if (first - wheel_.now() > 1000) {
        ASSERT_EQ(wheel_.ticks_to_next_event(1000), std::min<Tick>(bound, 1000));
      }
      // Exact when the earliest is in the current 256-tick block.
      if ((first >> 8) == (wheel_.now() >> 8)) {
        ASSERT_EQ(bound, first - wheel_.now());
      }
    }
  }

  std::optional<Tick> first_due() const {
    if (due_.empty()) return std::nullopt;
    Tick first = kMax;
    for (auto [i, due] : due_) first = std::min(first, due);
    return first;
  }

  std::size_t pick(std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_);
  }

  TimerWheel wheel_;
  std::unique_ptr<TimerHook[]> hooks_;
  std::size_t n_;
  std::mt19937 rng_;
  std::map<std::size_t, Tick> due_;
  std::size_t fired_ = 0;
  std::size_t stops_ = 0;  // budget stops, after which ops run mid-tick

 private:
  // Each run must be the model's, at exactly its tick, once; sometimes the
  // callback reschedules itself or cancels/schedules another hook.
  void on_expire(TimerHook& h) {
    std::size_t i = h.tag;
    ASSERT_FALSE(h.active());
    auto it = due_.find(i);
    ASSERT_NE(it, due_.end()) << "cancelled or double run, hook " << i;
    ASSERT_EQ(it->second, wheel_.now()) << "hook " << i << " ran off its tick";
    due_.erase(it);
    ++fired_;
    switch (pick(8)) {
      case 0: schedule(i, random_delta()); break;
      case 1: cancel(pick(n_)); break;
      case 2: schedule(pick(n_), pick(3)); break;
      case 3: schedule_in_range(pick(n_), pick(100), 100 + pick(1000)); break;
      default: break;
    }
  }
};

void run_random(Tick start, std::uint32_t seed) {
  constexpr std::size_t kHooks = 4000;
  Harness t(start, kHooks, seed);
  for (std::size_t i = 0; i < kHooks; ++i) {
    t.schedule(i, t.random_delta());
    if (::testing::Test::HasFatalFailure()) return;
  }
  for (int step = 0; step < 50000; ++step) {
    std::size_t i = t.pick(kHooks);
    switch (t.pick(10)) {
      case 0: case 1: case 2: t.schedule(i, t.random_delta()); break;
      case 3: t.cancel(i); break;
      case 4: t.schedule_in_range(i, t.pick(300), 300 + t.pick(70000)); break;
      case 5: {  // exactly onto, or just before, the next due tick
        auto first = t.first_due();
        if (first) t.advance_once(*first - t.pick(2), 1 + t.pick(4));
        break;
      }
      default: {
        static const Tick kSteps[] = {1, 7, 255, 300, 70000, Tick{1} << 25, Tick{1} << 33};
        Tick step_len = t.pick(kSteps[t.pick(7)]) + 1;
        std::size_t budget = t.pick(3) == 0 ? 1 + t.pick(8) : ~std::size_t{0};
        t.advance_once(saturating_add(t.wheel_.now(), step_len), budget);
      }
    }
    if (::testing::Test::HasFailure()) return;
  }
  // Drain: every remaining timer runs, exactly on its tick (callbacks may
  // keep rescheduling, so go round until the wheel is empty).
  for (int round = 0; !t.due_.empty(); ++round) {
    ASSERT_LT(round, 100);
    Tick last = t.wheel_.now();
    for (auto [i, due] : t.due_) last = std::max(last, due);
    t.advance_to(last, ~std::size_t{0});
    if (::testing::Test::HasFatalFailure()) return;
  }
  EXPECT_EQ(t.wheel_.size(), 0u);
  EXPECT_GT(t.fired_, 10000u);
  EXPECT_GT(t.stops_, 1000u);
}

TEST(TimerWheel, RandomAgainstModel) { run_random(0, 1); }
TEST(TimerWheel, RandomAgainstModelMidWord) { run_random(0x0123'4567'89ab'cdefULL, 2); }
TEST(TimerWheel, RandomAgainstModelBeforeCarries) { run_random(0x00ff'ffff'ffff'ff00ULL, 3); }
TEST(TimerWheel, RandomAgainstModelNearEnd) { run_random(kMax - (Tick{1} << 35), 4); }

TEST(TimerWheel, EdgeDeltasFireOnTheirTick) {
  for (Tick start : {Tick{0}, Tick{0xfe}, Tick{0xffff'ff00}, Tick{0x1234'5678'9abc}}) {
    TimerWheel w(start);
    std::vector<std::unique_ptr<TimerHook>> hooks;
    for (Tick d : kEdgeDeltas) {
      hooks.push_back(std::make_unique<TimerHook>());
      w.schedule(*hooks.back(), d);
    }
    std::vector<Tick> seen;
    ASSERT_TRUE(w.advance_to(start + (Tick{1} << 41), ~std::size_t{0}, [&](TimerHook& h) {
      EXPECT_EQ(h.expiry(), w.now());
      seen.push_back(w.now() - start);
    }));
    std::vector<Tick> want(kEdgeDeltas);
    want[0] = 1;  // delta 0 means next tick
    std::sort(want.begin(), want.end());
    EXPECT_EQ(seen, want);
  }
}

TEST(TimerWheel, SaturatesAtTheLastTick) {
  TimerWheel w(kMax - 10);
  TimerHook a, b, c;
  w.schedule(a, 5);
  w.schedule(b, kMax);
  w.schedule_at(c, 3);  // in the past: next tick
  EXPECT_EQ(a.expiry(), kMax - 5);
  EXPECT_EQ(b.expiry(), kMax);
  EXPECT_EQ(c.expiry(), kMax - 9);
  std::vector<Tick> seen;
  EXPECT_TRUE(w.advance(100, 10, [&](TimerHook& h) { seen.push_back(h.expiry()); }));
  EXPECT_EQ(w.now(), kMax);
  EXPECT_EQ(seen, (std::vector<Tick>{kMax - 9, kMax - 5, kMax}));
}

TEST(TimerWheel, BudgetStopsWithinTheTick) {
  TimerWheel w(1000);
  std::vector<TimerHook> hooks(1000);
  for (auto& h : hooks) w.schedule(h, 5);
  std::size_t total = 0;
  int calls = 0;
  for (;;) {
    std::size_t ran = 0;
    bool done = w.advance(100, 10, [&](TimerHook& h) {
      EXPECT_EQ(w.now(), 1005u);
      EXPECT_FALSE(h.active());
      ++ran;
    });
    ++calls;
    EXPECT_LE(ran, 10u);
    total += ran;
    if (done) break;
    EXPECT_EQ(w.now(), 1005u);  // does not pass the tick while work is left
    EXPECT_EQ(w.ticks_to_next_event(), 0u);
    EXPECT_EQ(w.size(), 1000 - total);
  }
  EXPECT_EQ(calls, 100);
  EXPECT_EQ(total, 1000u);
  EXPECT_EQ(w.size(), 0u);
  EXPECT_EQ(w.now(), 1005u + 100);  // the last call went on to its own target
}

TEST(TimerWheel, BudgetCoversCascades) {
  TimerWheel w;
  std::vector<TimerHook> hooks(1000);
  for (auto& h : hooks) w.schedule(h, 1000);  // level 1: cascaded at tick 768
  std::size_t total = 0;
  int calls = 0;
  bool done = false;
  while (!done) {
    std::size_t ran = 0;
    done = w.advance_to(2000, 10, [&](TimerHook&) {
      EXPECT_EQ(w.now(), 1000u);
      ++ran;
    });
    ++calls;
    EXPECT_LE(ran, 10u);
    total += ran;
    if (!done) {
      EXPECT_EQ(w.ticks_to_next_event(), 0u);
    }
    EXPECT_LE(w.now(), 1000u + (done ? 1000 : 0));
  }
  EXPECT_EQ(total, 1000u);
  EXPECT_EQ(calls, 200);  // 1000 moves down a level, then 1000 callbacks
  EXPECT_EQ(w.now(), 2000u);
}

TEST(TimerWheel, ScheduleAndCancelDuringAStoppedCascade) {
  TimerWheel w;
  std::vector<TimerHook> hooks(6);
  for (std::size_t i = 0; i < hooks.size(); ++i) {
    hooks[i].tag = static_cast<std::uint32_t>(i);
    w.schedule(hooks[i], 512 + i);  // level 1, slot 2: cascaded at tick 512
  }
  EXPECT_FALSE(w.advance_to(600, 3, [](TimerHook&) { ADD_FAILURE(); }));
  EXPECT_EQ(w.now(), 512u);  // three moved down, three still in the slot
  w.cancel(hooks[0]);            // due at the tick being processed
  w.cancel(hooks[5]);
  w.schedule(hooks[1], 0);       // 513
  w.schedule_at(hooks[2], 100);  // in the past: 513
  EXPECT_EQ(w.size(), 4u);
  std::vector<std::pair<Tick, std::uint32_t>> seen;
  EXPECT_TRUE(w.advance_to(600, 100, [&](TimerHook& h) {
    EXPECT_EQ(h.expiry(), w.now());
    seen.emplace_back(w.now(), h.tag);
  }));
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<std::pair<Tick, std::uint32_t>>{
                      {513, 1}, {513, 2}, {515, 3}, {516, 4}}));
  EXPECT_EQ(w.size(), 0u);
}

TEST(TimerWheel, ZeroBudgetStillAdvancesAnIdleWheel) {
  TimerWheel w;
  TimerHook h;
  EXPECT_TRUE(w.advance(50, 0, [](TimerHook&) {}));
  w.schedule(h, 10);
  EXPECT_FALSE(w.advance(50, 0, [](TimerHook&) {}));
  EXPECT_EQ(w.now(), 60u);
  EXPECT_TRUE(h.active());
}

TEST(TimerWheel, CallbackReschedulesItselfAndCancelsASibling) {
  TimerWheel w;
  TimerHook a, b, c;
  a.tag = 1;
  b.tag = 2;
  c.tag = 3;
  w.schedule(a, 10);
  w.schedule(b, 10);
  w.schedule(c, 10);
  std::vector<std::uint32_t> ran;
  bool first = true;
  auto cb = [&](TimerHook& h) {
    ran.push_back(h.tag);
    if (first) {
      first = false;
      w.schedule(h, 0);  // itself, next tick
      TimerHook& other = h.tag == 1 ? b : a;
      w.cancel(other);  // due this same tick, not run yet
    }
  };
  EXPECT_TRUE(w.advance_to(10, 100, cb));
  ASSERT_EQ(ran.size(), 2u);  // the first one and c
  std::uint32_t again = ran[0];
  EXPECT_EQ(w.size(), 1u);
  EXPECT_TRUE(w.advance_to(11, 100, cb));
  ASSERT_EQ(ran.size(), 3u);
  EXPECT_EQ(ran[2], again);
  EXPECT_TRUE(w.advance_to(1000, 100, cb));
  EXPECT_EQ(ran.size(), 3u);
  EXPECT_EQ(w.size(), 0u);
}

TEST(TimerWheel, CallbackSchedulingInThePastRunsNextTick) {
  TimerWheel w;
  TimerHook h;
  int runs = 0;
  w.schedule(h, 1);
  // Rescheduling at "now" every time must not spin inside one advance.
  EXPECT_TRUE(w.advance(5, 1000, [&](TimerHook& x) {
    ++runs;
    w.schedule_at(x, w.now());
  }));
  EXPECT_EQ(runs, 5);
  EXPECT_EQ(h.expiry(), 6u);
}

TEST(TimerWheel, ScheduleInRange) {
  TimerWheel w(100);
  TimerHook h;
  w.schedule_in_range(h, 50, 200);  // inactive: at now + end
  EXPECT_EQ(h.expiry(), 300u);
  EXPECT_TRUE(w.advance(60, 10, [](TimerHook&) {}));
  w.schedule_in_range(h, 50, 200);  // due in 140: inside, left alone
  EXPECT_EQ(h.expiry(), 300u);
  w.schedule_in_range(h, 150, 200);  // due in 140: too soon, moved
  EXPECT_EQ(h.expiry(), 360u);
  w.schedule_in_range(h, 10, 100);  // due in 200: too late, moved
  EXPECT_EQ(h.expiry(), 260u);
  w.schedule_in_range(h, 100, 100);
  EXPECT_EQ(h.expiry(), 260u);
  w.schedule_in_range(h, 0, 0);  // end 0 still means the next tick
  EXPECT_EQ(h.expiry(), 161u);
  EXPECT_EQ(w.size(), 1u);
}

TEST(TimerWheel, TicksToNextEvent) {
  TimerWheel w(1'000'000);
  EXPECT_EQ(w.ticks_to_next_event(), kMax);
  EXPECT_EQ(w.ticks_to_next_event(77), 77u);
  TimerHook far, near;
  w.schedule(far, 5'000'000);
  Tick bound = w.ticks_to_next_event();
  EXPECT_GE(bound, 1u);
  EXPECT_LE(bound, 5'000'000u);
  EXPECT_EQ(w.ticks_to_next_event(1000), 1000u);
  // Sleeping for the bound and advancing converges on the exact tick.
  int wakeups = 0;
  bool fired = false;
  while (!fired) {
    ASSERT_LT(++wakeups, 10);
    Tick t = w.ticks_to_next_event();
    ASSERT_LE(w.now() + t, 6'000'000u);
    w.advance(t, 100, [&](TimerHook&) { fired = true; });
  }
  EXPECT_EQ(w.now(), 6'000'000u);
  w.schedule(near, 10);
  w.schedule(far, 100'000);
  EXPECT_EQ(w.ticks_to_next_event(), 10u);
  EXPECT_EQ(w.ticks_to_next_event(4), 4u);
  w.cancel(near);
  EXPECT_LE(w.ticks_to_next_event(), 100'000u);
  w.cancel(far);
  EXPECT_EQ(w.ticks_to_next_event(), kMax);
}

TEST(TimerWheel, TicksToNextEventAfterBudgetStop) {
  TimerWheel w;
  TimerHook a, b;
  w.schedule(a, 3);
  w.schedule(b, 3);
  EXPECT_FALSE(w.advance(10, 1, [](TimerHook&) {}));
  EXPECT_EQ(w.now(), 3u);
  EXPECT_EQ(w.ticks_to_next_event(), 0u);
  EXPECT_TRUE(w.advance(10, 1, [](TimerHook&) {}));
  EXPECT_EQ(w.ticks_to_next_event(), kMax);
}

TEST(TimerWheel, CancelAndSize) {
  TimerWheel w;
  TimerHook a, b;
  EXPECT_EQ(w.size(), 0u);
  w.cancel(a);  // inactive: no-op
  w.schedule(a, 10);
  w.schedule(b, 70000);
  w.schedule(a, 20);  // reschedule: still one
  EXPECT_EQ(w.size(), 2u);
  EXPECT_TRUE(a.active());
  w.cancel(b);
  w.cancel(b);
  EXPECT_FALSE(b.active());
  EXPECT_EQ(w.size(), 1u);
  int runs = 0;
  EXPECT_TRUE(w.advance(100000, 10, [&](TimerHook& h) {
    EXPECT_EQ(&h, &a);
    ++runs;
  }));
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(w.size(), 0u);
}

TEST(TimerWheel, DestroyingAnActiveHookCancelsIt) {
  TimerWheel w;
  TimerHook keep;
  w.schedule(keep, 300);
  {
    TimerHook gone;
    w.schedule(gone, 300);  // same slot as `keep`
    EXPECT_EQ(w.size(), 2u);
  }
  EXPECT_EQ(w.size(), 1u);
  int runs = 0;
  EXPECT_TRUE(w.advance(1000, 10, [&](TimerHook& h) {
    EXPECT_EQ(&h, &keep);
    ++runs;
  }));
  EXPECT_EQ(runs, 1);
  {
    TimerHook alone;
    w.schedule(alone, 5);
  }
  EXPECT_EQ(w.ticks_to_next_event(), kMax);  // its slot's bit went with it
}

TEST(TimerWheel, DestroyingTheWheelReleasesItsHooks) {
  TimerHook a, b;
  {
    TimerWheel w;
    w.schedule(a, 1);
    w.schedule(b, Tick{1} << 40);
  }
  EXPECT_FALSE(a.active());
  EXPECT_FALSE(b.active());
  TimerWheel w2;
  w2.schedule(a, 4);  // usable again
  EXPECT_EQ(w2.size(), 1u);
}

TEST(TimerWheel, HookMovesBetweenWheels) {
  TimerWheel w1, w2;
  TimerHook h;
  w1.schedule(h, 10);
  w2.schedule(h, 20);
  EXPECT_EQ(w1.size(), 0u);
  EXPECT_EQ(w2.size(), 1u);
  EXPECT_EQ(w1.ticks_to_next_event(), kMax);
  w1.cancel(h);  // cancels wherever it is
  EXPECT_EQ(w2.size(), 0u);
}

TEST(TimerWheel, SparseLongJumpIsCheap) {
  TimerWheel w;
  TimerHook h;
  w.schedule(h, 999'999'999);
  // Each call may do one unit of work: the jump needs at most one per level.
  int calls = 0;
  bool fired = false;
  while (!fired) {
    ASSERT_LT(++calls, 10);
    w.advance_to(1'000'000'000, 1, [&](TimerHook&) { fired = true; });
  }
  EXPECT_EQ(w.now(), 1'000'000'000u);  // the firing call went on to its target
  EXPECT_TRUE(w.advance(Tick{1} << 60, 1, [](TimerHook&) {}));
}

TEST(TimerWheel, HookIsSmall) {
  EXPECT_LE(sizeof(TimerHook), 40u);
}

}  // namespace
}  // namespace twstack::timer
