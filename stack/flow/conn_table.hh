// The connection table: full connections by 4-tuple.
//
// Boost.Intrusive hashing over a bucket array allocated once: insert, find
// and erase touch no allocator, and the Tcb carries its own hook.
#pragma once

#include <boost/intrusive/unordered_set.hpp>
#include <cstdint>
#include <memory>

#include "stack/wire/four_tuple.hh"
#include "stack/tcp/tcb.hh"

namespace twstack::flow {

class ConnTable {
  struct KeyOf {
    using type = wire::FourTuple;
    const type& operator()(const tcp::Tcb& c) const { return c.tuple; }
  };
  struct Hash {
    std::uint64_t seed;
    std::size_t operator()(const wire::FourTuple& t) const { return wire::mix_tuple(t, seed); }
  };
  using Set = boost::intrusive::unordered_set<
      tcp::Tcb,
      boost::intrusive::member_hook<tcp::Tcb, tcp::HashHook, &tcp::Tcb::hash_hook>,
      boost::intrusive::key_of_value<KeyOf>, boost::intrusive::hash<Hash>,
      boost::intrusive::power_2_buckets<true>, boost::intrusive::constant_time_size<true>>;

 public:
  ConnTable(std::size_t max_entries, std::uint64_t seed)
      : seed_(seed),
        nbuckets_(buckets_for(max_entries)),
        buckets_(std::make_unique<Set::bucket_type[]>(nbuckets_)),
        set_(Set::bucket_traits(buckets_.get(), nbuckets_), Hash{seed}) {}
  ~ConnTable() { set_.clear(); }

  tcp::Tcb* find(const wire::FourTuple& t) {
    auto it = set_.find(t);
    return it == set_.end() ? nullptr : &*it;
  }
  bool contains(const wire::FourTuple& t) const { return set_.find(t) != set_.end(); }
  bool insert(tcp::Tcb& c) { return set_.insert(c).second; }
  void erase(tcp::Tcb& c) { set_.erase(set_.iterator_to(c)); }
  std::size_t size() const { return set_.size(); }
  // Starts loading the bucket find(t) reads first, for a burst's first
  // pass: the bucket array is 8 bytes a slot of max_connections, so with
  // a few hundred connections in flight nearly every find() misses the
  // cache there. With power_2_buckets the bucket is the hash's low bits.
  void prefetch(const wire::FourTuple& t) const { __builtin_prefetch(&buckets_[bucket_index(t)]); }
  std::size_t bucket_index(const wire::FourTuple& t) const { return wire::mix_tuple(t, seed_) & (nbuckets_ - 1); }
  // Where boost puts t (for the test that bucket_index() agrees).
  std::size_t boost_bucket(const wire::FourTuple& t) const { return set_.bucket(t); }

 private:
  static std::size_t buckets_for(std::size_t n) {
    std::size_t b = 16;
    while (b < n) b <<= 1;
    return b;
  }
  std::uint64_t seed_;
  std::size_t nbuckets_;
  std::unique_ptr<Set::bucket_type[]> buckets_;
  Set set_;
};

}  // namespace twstack::flow
