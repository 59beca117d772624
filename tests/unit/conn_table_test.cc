// The connection table: Tcbs by 4-tuple over an intrusive hash with a keyed
// mix (wire::mix_tuple), so remote peers cannot aim tuples at one bucket
// (the concern behind Linux inet_ehashfn's secret).
#include "stack/flow/conn_table.hh"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <set>

namespace twstack::flow {

using wire::FourTuple;
using wire::mix_tuple;
namespace {

FourTuple tuple(std::uint16_t lport, std::uint16_t rport) {
  FourTuple t;
  t.laddr = wire::Ipv4Addr::from_octets(10, 0, 0, 1);
  t.raddr = wire::Ipv4Addr::from_octets(10, 0, 0, 2);
  t.lport = lport;
  t.rport = rport;
  return t;
}

// prefetch() loads the bucket find() reads: the index it computes is
// boost's, for any table size.
TEST(ConnTable, PrefetchIndexIsTheBucketFindReads) {
  for (std::size_t n : {1u, 64u, 1000u, 65536u}) {
    ConnTable table(n, 0x9abcdef012345678ULL);
    for (std::uint16_t p = 1; p < 2000; p += 7) {
      EXPECT_EQ(table.bucket_index(tuple(p, 80)), table.boost_bucket(tuple(p, 80))) << n << " " << p;
    }
  }
}

TEST(ConnTable, InsertFindContainsEraseSize) {
  ConnTable table(64, 0x1234);
  tcp::Tcb a, b;
  a.tuple = tuple(40000, 80);
  b.tuple = tuple(40001, 80);
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(table.find(a.tuple), nullptr);
  EXPECT_FALSE(table.contains(a.tuple));

  EXPECT_TRUE(table.insert(a));
  EXPECT_TRUE(table.insert(b));
  EXPECT_EQ(table.size(), 2u);
  EXPECT_EQ(table.find(a.tuple), &a);
  EXPECT_EQ(table.find(b.tuple), &b);
  EXPECT_TRUE(table.contains(b.tuple));
  EXPECT_TRUE(a.hash_hook.is_linked());

  table.erase(a);
  EXPECT_EQ(table.size(), 1u);
  EXPECT_EQ(table.find(a.tuple), nullptr);
  EXPECT_FALSE(table.contains(a.tuple));
  EXPECT_FALSE(a.hash_hook.is_linked());
  EXPECT_EQ(table.find(b.tuple), &b);

  // An erased Tcb can be inserted again (the engine recycles them).
  EXPECT_TRUE(table.insert(a));
  EXPECT_EQ(table.find(a.tuple), &a);
  table.erase(a);
  table.erase(b);
  EXPECT_EQ(table.size(), 0u);
}

// One connection per 4-tuple (RFC 9293 §3.3: the pair of sockets names
// the connection): a second Tcb with the same tuple is refused and the
// first stays.
TEST(ConnTable, DuplicateTupleIsRefused) {
  ConnTable table(16, 7);
  tcp::Tcb first, second;
  first.tuple = tuple(40000, 443);
  second.tuple = first.tuple;
  ASSERT_TRUE(table.insert(first));
  EXPECT_FALSE(table.insert(second));
  EXPECT_FALSE(second.hash_hook.is_linked());
  EXPECT_EQ(table.size(), 1u);
  EXPECT_EQ(table.find(first.tuple), &first);
  table.erase(first);
}

// Tuples that differ in a single field are different connections: each
// is found as itself, and the hash depends on every field.
TEST(ConnTable, TuplesDifferingInOneFieldEach) {
  const FourTuple base = tuple(40000, 80);
  FourTuple v[9];
  for (FourTuple& t : v) t = base;
  v[1].laddr.v += 1;
  v[2].raddr.v += 1;
  v[3].lport += 1;
  v[4].rport += 1;
  v[5].laddr.v ^= 0x80000000;  // high bits count too
  v[6].raddr.v ^= 0x80000000;
  v[7].lport ^= 0x8000;
  v[8].rport ^= 0x8000;
  // The reverse direction is another connection, not the same one.
  FourTuple swapped{base.raddr, base.laddr, base.rport, base.lport};

  ConnTable table(64, 0xfeedface);
  tcp::Tcb tcbs[10];
  for (int i = 0; i < 9; ++i) {
    tcbs[i].tuple = v[i];
    ASSERT_TRUE(table.insert(tcbs[i])) << i;
  }
  tcbs[9].tuple = swapped;
  ASSERT_TRUE(table.insert(tcbs[9]));
  EXPECT_EQ(table.size(), 10u);
  for (int i = 0; i < 9; ++i) EXPECT_EQ(table.find(v[i]), &tcbs[i]) << i;
  EXPECT_EQ(table.find(swapped), &tcbs[9]);

  std::set<std::uint64_t> hashes;
  for (const FourTuple& t : v) hashes.insert(mix_tuple(t, 0xfeedface));
  hashes.insert(mix_tuple(swapped, 0xfeedface));
  EXPECT_EQ(hashes.size(), 10u);

  for (tcp::Tcb& c : tcbs) table.erase(c);
}

// Many connections, more than the table was sized for (chains grow; the
// table never rehashes): every one found, none confused, erase of half
// leaves the other half.
TEST(ConnTable, ManyTuples) {
  constexpr int kN = 4096;
  ConnTable table(256, 99);
  auto tcbs = std::make_unique<tcp::Tcb[]>(kN);
  for (int i = 0; i < kN; ++i) {
    tcbs[i].tuple = tuple(static_cast<std::uint16_t>(32768 + i), 80);
    ASSERT_TRUE(table.insert(tcbs[i]));
  }
  EXPECT_EQ(table.size(), static_cast<std::size_t>(kN));
  for (int i = 0; i < kN; ++i) ASSERT_EQ(table.find(tcbs[i].tuple), &tcbs[i]);
  for (int i = 0; i < kN; i += 2) table.erase(tcbs[i]);
  EXPECT_EQ(table.size(), static_cast<std::size_t>(kN / 2));
  for (int i = 0; i < kN; ++i) {
    ASSERT_EQ(table.find(tcbs[i].tuple), i % 2 == 0 ? nullptr : &tcbs[i]) << i;
  }
  for (int i = 1; i < kN; i += 2) table.erase(tcbs[i]);
  EXPECT_EQ(table.size(), 0u);
}

// The hash is keyed: another seed gives other values for the same tuple,
// so bucket placement cannot be predicted without the engine's secret.
TEST(ConnTable, KeyedHashDiffersBySeed) {
  int same = 0;
  for (std::uint16_t p = 1; p <= 1000; ++p) {
    FourTuple t = tuple(p, 80);
    EXPECT_EQ(mix_tuple(t, 1), mix_tuple(t, 1));  // deterministic
    if (mix_tuple(t, 1) == mix_tuple(t, 2)) ++same;
  }
  EXPECT_EQ(same, 0);
  int same_bucket = 0;
  for (std::uint16_t p = 1; p <= 1000; ++p) {
    FourTuple t = tuple(p, 80);
    if ((mix_tuple(t, 0x1111) & 255) == (mix_tuple(t, 0x2222) & 255)) ++same_bucket;
  }
  // Independent placements into 256 buckets agree about 1000/256 ~ 4 times.
  EXPECT_LT(same_bucket, 20);
  // Tables with different seeds both work.
  ConnTable ta(16, 1), tb(16, 2);
  tcp::Tcb a, b;
  a.tuple = b.tuple = tuple(5000, 6000);
  ASSERT_TRUE(ta.insert(a));
  ASSERT_TRUE(tb.insert(b));
  EXPECT_EQ(ta.find(a.tuple), &a);
  EXPECT_EQ(tb.find(b.tuple), &b);
  ta.erase(a);
  tb.erase(b);
}

// Destroying the table unlinks what it still holds, so the Tcbs (with
// safe-mode hooks) can be destroyed afterwards.
TEST(ConnTable, DestructorUnlinksEntries) {
  tcp::Tcb a;
  a.tuple = tuple(1, 2);
  {
    ConnTable table(16, 3);
    ASSERT_TRUE(table.insert(a));
    ASSERT_TRUE(a.hash_hook.is_linked());
  }
  EXPECT_FALSE(a.hash_hook.is_linked());
}

}  // namespace
}  // namespace twstack::flow
