// libFuzzer target for the HTTP/1.x head reader (apps/workloads/http_head),
// differential: the same bytes fed whole and in pieces (sizes taken from the
// input's first bytes, as recv() might return them) must give the same
// verdict, the same figures and the same count of head bytes consumed.
#include <cstddef>
#include <cstdint>
#include <span>

#include "apps/workloads/http_head.hh"
#include "tests/fuzz/fuzz_check.hh"

using twstack::app::HttpHead;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 4) return 0;
  const std::uint8_t* cuts = data;  // piece sizes, cycled
  const std::span<const std::uint8_t> in(data + 4, size - 4);

  HttpHead whole;
  const std::size_t used_whole = whole.feed(in);
  FUZZ_CHECK(used_whole <= in.size(), "consumed %zu of %zu", used_whole, in.size());
  FUZZ_CHECK(whole.feed(in.subspan(used_whole)) == 0 || (!whole.done() && !whole.failed()),
             "took bytes after its verdict");
  FUZZ_CHECK(!(whole.done() && whole.failed()), "both done and failed");

  HttpHead parts;
  std::size_t used = 0, off = 0;
  for (std::size_t k = 0; off < in.size() && !parts.done() && !parts.failed(); ++k) {
    const std::size_t n = std::min<std::size_t>(in.size() - off, 1 + cuts[k % 4] % 64);
    const std::size_t took = parts.feed(in.subspan(off, n));
    FUZZ_CHECK(took <= n, "took %zu of a %zu-byte piece", took, n);
    used += took;
    off += n;
  }
  FUZZ_CHECK(parts.done() == whole.done() && parts.failed() == whole.failed(),
             "verdicts differ: whole done %d failed %d, pieces done %d failed %d", whole.done(), whole.failed(),
             parts.done(), parts.failed());
  if (whole.done()) {
    FUZZ_CHECK(used == used_whole, "head length %zu whole, %zu in pieces", used_whole, used);
    FUZZ_CHECK(parts.is_response() == whole.is_response() && parts.status() == whole.status() &&
                   parts.http10() == whole.http10() && parts.content_length() == whole.content_length() &&
                   parts.has_content_length() == whole.has_content_length() &&
                   parts.keep_alive() == whole.keep_alive() && parts.connection_close() == whole.connection_close(),
               "figures differ");
  }
  whole.reset();
  FUZZ_CHECK(!whole.done() && !whole.failed(), "reset");
  return 0;
}
