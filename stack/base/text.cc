#include "stack/base/text.hh"

#include <algorithm>
#include <vector>

namespace twstack {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      const std::size_t subst = diag + (a[i - 1] == b[j - 1] ? 0 : 1);
      row[j] = std::min({up + 1, row[j - 1] + 1, subst});
      diag = up;
    }
  }
  return row[b.size()];
}

std::size_t edit_distance(std::string_view a, std::string_view b, std::size_t limit) {
  const std::size_t over = limit + 1;
  const std::size_t gap = a.size() > b.size() ? a.size() - b.size() : b.size() - a.size();
  if (gap > limit) return over;  // at least one edit per character of difference
  // row[j]: the distance between a[0, i) and b[0, j), capped at `over`.
  // Cells more than `limit` from the diagonal are over it; they keep `over`
  // (to the right, from the first row; to the left, set as the band moves).
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = std::min(j, over);
  for (std::size_t i = 1; i <= a.size(); ++i) {
    const std::size_t lo = i > limit ? i - limit : 1;
    const std::size_t hi = std::min(b.size(), i + limit);
    std::size_t diag = row[lo - 1];
    row[lo - 1] = lo == 1 ? std::min(i, over) : over;
    std::size_t best = row[lo - 1];
    for (std::size_t j = lo; j <= hi; ++j) {
      const std::size_t up = row[j];
      const std::size_t subst = diag + (a[i - 1] == b[j - 1] ? 0 : 1);
      row[j] = std::min({up + 1, row[j - 1] + 1, subst, over});
      best = std::min(best, row[j]);
      diag = up;
    }
    if (best > limit) return over;  // every later row is at least this row's minimum
  }
  return row[b.size()];
}

EditDistanceFrom::EditDistanceFrom(std::string_view word) : word_(word) {
  if (word_.size() > 64) return;
  for (std::size_t i = 0; i < word_.size(); ++i) {
    peq_[static_cast<unsigned char>(word_[i])] |= std::uint64_t{1} << i;
  }
}

std::size_t EditDistanceFrom::to(std::string_view other, std::size_t limit) const {
  const std::size_t m = word_.size();
  const std::size_t gap = m > other.size() ? m - other.size() : other.size() - m;
  if (gap > limit) return limit + 1;
  if (m > 64) return edit_distance(word_, other, limit);
  if (m == 0) return std::min(other.size(), limit + 1);
  // Column j of the table as vertical deltas (pv: +1, mv: -1) down word_;
  // score is the bottom cell. The top row grows by one per character
  // (D[0][j] = j), hence the 1 shifted into ph.
  const std::uint64_t top = std::uint64_t{1} << (m - 1);
  std::uint64_t pv = m == 64 ? ~std::uint64_t{0} : (top << 1) - 1;
  std::uint64_t mv = 0;
  std::size_t score = m;
  for (const char c : other) {
    const std::uint64_t eq = peq_[static_cast<unsigned char>(c)];
    const std::uint64_t xv = eq | mv;
    const std::uint64_t xh = (((eq & pv) + pv) ^ pv) | eq;
    std::uint64_t ph = mv | ~(xh | pv);
    std::uint64_t mh = pv & xh;
    if (ph & top) ++score;
    if (mh & top) --score;
    ph = (ph << 1) | 1;
    mh <<= 1;
    pv = mh | ~(xv | ph);
    mv = ph & xv;
  }
  return std::min(score, limit + 1);
}

std::string_view trim(std::string_view s, std::string_view chars) {
  while (!s.empty() && chars.find(s.front()) != std::string_view::npos) s.remove_prefix(1);
  while (!s.empty() && chars.find(s.back()) != std::string_view::npos) s.remove_suffix(1);
  return s;
}

}  // namespace twstack
